"""Extension: signed GET URLs for many files in one request (``POST .../downloadurls-batch``).

``POST /datamanager/downloadurls-batch`` (beta paths) and ``POST /datamanager/v1.0/downloadurls-batch``
(v1.0 paths), JSON body ``{"paths": ["/users/<user>/dir/file", ...]}`` (at most :data:`MAX_ITEMS`).
The answer keeps the request's order: ``{"results": [{"path", "url"} | {"path", "status", "message"}]}``.

For clients that already know what they fetch (a sync engine whose recursive listing gave every file's
size and MD5): the URLs are signed without looking at the objects, so a whole folder costs one request
instead of one per file; the client checks size and MD5 of what it gets, and a missing file answers 404
from storage. Every path must lie in the caller's tree (any other path fails the whole request with 403,
revealing nothing); an invalid path is that item's error only. URLs live as long as ``downloadurls``'.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gsdesktop.server.access import Level, item_path
from gsdesktop.server.auth import APIError, require_user, store_of
from gsdesktop.server.common import read_body
from gsdesktop.server.paths import DMPath
from gsdesktop.server.presign import FastGetSigner
from gsdesktop.server.storage import S3Store
from gsdesktop.server.wire import DownloadBatch, DownloadBatchAnswer, answer, json_body

log = logging.getLogger(__name__)

MAX_ITEMS = 1000
MAX_BODY = 1024 * 1024

router = APIRouter(tags=["extensions"])


_signers: dict[int, FastGetSigner] = {}


def _signer(store: S3Store) -> FastGetSigner:
    signer = _signers.get(id(store))
    if signer is None or signer.presigner is not store.presigner:
        signer = _signers[id(store)] = FastGetSigner(store.presigner, store.bucket)
    return signer


def _parse_body(body: bytes) -> list[Any]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, f"malformed JSON body: {exc}") from exc
    paths = data.get("paths") if isinstance(data, dict) else None
    if not isinstance(paths, list):
        raise APIError(400, 'the body must be {"paths": ["/users/<user>/<dir>/<file>", ...]}')
    if len(paths) > MAX_ITEMS:
        raise APIError(400, f"at most {MAX_ITEMS} paths per request")
    return paths


def sign_downloads(request: Request, user: str, paths: list[Any]) -> list[dict[str, Any]]:
    """Sign a GET URL per path; raises 403 when the caller may not read any one of them."""
    store = store_of(request)
    ttl = request.app.state.settings.download_ttl
    signer = _signer(store)
    results: list[dict[str, Any]] = []
    parsed: list[tuple[str, DMPath | None, str | None]] = []
    for raw in paths:
        # the owner's files and files shared with the caller (Read): else 403 for the whole request
        dm, err = item_path(request, raw, user, Level.READ)
        if err is None and (dm is None or dm.is_home):
            dm, err = None, "name a file: /users/<user>/<dir>/<file>"
        parsed.append((str(raw), dm, err))
    for raw, dm, err in parsed:
        if dm is None:
            results.append({"path": raw, "status": 400, "message": err or "invalid path"})
        else:
            store.note_signed("download", None)  # the server's metrics count it (size unknown here)
            results.append({"path": raw, "url": signer.presign(dm.key, ttl)})
    return results


async def _handle(request: Request, user: str) -> Response:
    paths = _parse_body(await read_body(request, MAX_BODY))
    results = await run_in_threadpool(sign_downloads, request, user, paths)
    return JSONResponse({"results": results})


@router.post(
    "/datamanager/downloadurls-batch",
    openapi_extra=json_body(DownloadBatch),
    responses=answer(DownloadBatchAnswer),
)
async def beta_downloadurls_batch(request: Request, user: str = Depends(require_user)) -> Response:
    """Signed GET URLs for many files (beta paths ``/users/<user>/...``); per-item errors."""
    return await _handle(request, user)


@router.post(
    "/datamanager/v1.0/downloadurls-batch",
    openapi_extra=json_body(DownloadBatch),
    responses=answer(DownloadBatchAnswer),
)
async def v1_downloadurls_batch(request: Request, user: str = Depends(require_user)) -> Response:
    """Signed GET URLs for many files (v1.0 paths ``/Home/<user>/...``); per-item errors."""
    return await _handle(request, user)
