"""Extension: signed PUT URLs for many files in one request (``POST .../uploadurls-batch``).

``POST /datamanager/uploadurls-batch`` (beta paths) and ``POST /datamanager/v1.0/uploadurls-batch``
(v1.0 paths), JSON body ``{"files": [{"path", "size", "md5", "contentType"}, ...]}`` (at most
:data:`MAX_ITEMS`; ``md5`` is the hex MD5, required in beta like ``Content-MD5`` of ``uploadurls``).
The answer keeps the request's order: ``{"results": [{"path", "url"} | {"path", "status", "message"}]}``.

An item may carry one precondition, ``"ifMatch": "<hex md5>"`` or ``"ifNoneMatch": true``
(:mod:`gsdesktop.server.preconditions`): checked here (a 412 item when it fails) and bound into the URL,
whose result then has ``"headers"`` the client must send with its PUT (S3 answers 412 on a lost race).

Same rules as ``uploadurls``: every path must lie in the caller's tree (any other path fails the whole
request with 403, revealing nothing), the parent folder must exist (checked once per distinct parent:
one listing answers both "does the parent exist" and "is the target a folder"). Problems of one item
(an invalid name, a missing parent, a folder in the way, a bad size) are that item's error only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gsdesktop.server import preconditions
from gsdesktop.server.access import Level, item_path
from gsdesktop.server.auth import APIError, require_user, store_of
from gsdesktop.server.common import BETA, V1, parse_json, read_body
from gsdesktop.server.paths import DMPath
from gsdesktop.server.storage import ObjectInfo, S3Store
from gsdesktop.server.wire import UploadBatch, UploadBatchAnswer, answer, json_body

MAX_ITEMS = 1000
MAX_BODY = 2 * 1024 * 1024
MAX_SINGLE_PUT = 5 * 1024**3
#: A parent folder with more entries than this is not listed whole; its items are checked one by one.
MAX_LISTED = 3000
_HEX_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")

router = APIRouter(tags=["extensions"])


@dataclass
class _Folder:
    """What one listing of a parent folder told us."""

    error: tuple[int, str] | None  # the parent is missing / a file
    subdirs: set[str] | None  # names of sub-folders (None: too big to list, check per item)
    files: dict[str, ObjectInfo] | None = None  # files in it by name (None when subdirs is None)


def _folder(store: S3Store, parent: DMPath) -> _Folder:
    subdirs: set[str] = set()
    files: dict[str, ObjectInfo] = {}
    token: str | None = None
    seen = 0
    while True:
        page = store.list_page(parent.dir_key, delimiter="/", token=token)
        seen += len(page.objects) + len(page.prefixes)
        subdirs.update(p[len(parent.dir_key) :].rstrip("/") for p in page.prefixes)
        files.update((o.key[len(parent.dir_key) :], o) for o in page.objects if o.key != parent.dir_key)
        token = page.next_token
        if not token:
            break
        if seen >= MAX_LISTED:
            return _Folder(None, None)
    if seen or parent.is_home:
        return _Folder(None, subdirs, files)
    if store.head(parent.key) is not None:
        return _Folder((409, f"parent {parent.display()} is a file, not a directory"), None)
    return _Folder((404, f"parent directory {parent.display()} does not exist (create it first)"), None)


def _item_error(path: str, status: int, message: str) -> dict[str, Any]:
    return {"path": path, "status": status, "message": message}


def _parse_body(body: bytes) -> list[Any]:
    payload = parse_json(body)
    files = payload.get("files") if isinstance(payload, dict) else payload
    if not isinstance(files, list):
        raise APIError(400, 'the body must be {"files": [{"path", "size", "md5", "contentType"}, ...]}')
    if len(files) > MAX_ITEMS:
        raise APIError(400, f"at most {MAX_ITEMS} files per request (got {len(files)})")
    return files


def _check_item(item: Any, dialect: str) -> tuple[int, str | None, str] | str:
    """``(size, md5_hex, content_type)`` or an error message."""
    if not isinstance(item, dict):
        return "each entry must be an object with path, size, md5 and contentType"
    size, md5, ctype = item.get("size"), item.get("md5"), item.get("contentType")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SINGLE_PUT:
        return f"size must be a whole number of bytes between 0 and {MAX_SINGLE_PUT} (use multipart above)"
    if md5 is None and dialect == BETA:
        return "md5 (hex) is required"
    if md5 is not None and (not isinstance(md5, str) or not _HEX_MD5.match(md5)):
        return "md5 must be the hex MD5 digest (32 characters)"
    if not isinstance(ctype, str) or not ctype.strip() or any(c in ctype for c in "\r\n\x00"):
        return "contentType is missing or invalid"
    return size, md5.lower() if md5 else None, ctype


def sign_batch(request: Request, user: str, dialect: str, files: list[Any]) -> list[dict[str, Any]]:
    """Validate and sign every entry; raises 403 when any path is outside ``user``'s tree."""
    import base64

    store = store_of(request)
    ttl = request.app.state.settings.upload_ttl
    parsed: list[tuple[str, DMPath | None, str | None]] = []  # (raw, path, error)
    for item in files:
        raw = item.get("path") if isinstance(item, dict) else None
        dm, err = item_path(request, raw, user, Level.WRITE)
        if err is None and dm is None:
            err = "name the file: /users/<user>/<dir>/<file>"
        parsed.append((str(raw), dm, err))
    folders: dict[str, _Folder] = {}
    results: list[dict[str, Any]] = []
    for item, (raw, dm, err) in zip(files, parsed, strict=True):
        if dm is None or err is not None:
            results.append(_item_error(raw, 400, err or "invalid path"))
            continue
        parent = dm.parent
        if dm.is_home or parent is None:
            results.append(_item_error(raw, 400, "name the file to upload: /users/<user>/<dir>/<file>"))
            continue
        checked = _check_item(item, dialect)
        if isinstance(checked, str):
            results.append(_item_error(raw, 400, checked))
            continue
        size, md5_hex, ctype = checked
        folder = folders.get(parent.key)
        if folder is None:
            folder = folders[parent.key] = _folder(store, parent)
        if folder.error is not None:
            results.append(_item_error(raw, *folder.error))
            continue
        is_dir = dm.name in folder.subdirs if folder.subdirs is not None else store.any_under(dm.dir_key)
        try:
            cond = preconditions.parse(item)
            resolved = (
                preconditions.resolve(
                    store,
                    dm,
                    cond,
                    dm.display(dialect),
                    info=folder.files.get(dm.name) if folder.files is not None else None,
                    known=folder.files is not None,
                    is_dir=is_dir,
                )
                if cond is not None
                else preconditions.Resolved()
            )
        except preconditions.PreconditionError as exc:
            results.append(_item_error(raw, exc.status, exc.message))
            continue
        if is_dir:
            results.append(_item_error(raw, 409, f"{dm.display(dialect)} is a directory"))
            continue
        url = store.presign_put(
            dm.key,
            content_length=size,
            content_md5=base64.b64encode(bytes.fromhex(md5_hex)).decode() if md5_hex else None,
            content_type=ctype,
            md5_hex=md5_hex if dialect == BETA else None,
            expires=ttl,
            if_match=resolved.if_match_etag,
            if_none_match=resolved.if_none_match,
        )
        signed: dict[str, Any] = {"path": raw, "url": url}
        if resolved.headers():
            signed["headers"] = resolved.headers()
        results.append(signed)
    return results


async def _handle(request: Request, user: str, dialect: str) -> Response:
    files = _parse_body(await read_body(request, MAX_BODY))
    results = await run_in_threadpool(sign_batch, request, user, dialect, files)
    return JSONResponse({"results": results})


@router.post(
    "/datamanager/uploadurls-batch", openapi_extra=json_body(UploadBatch), responses=answer(UploadBatchAnswer)
)
async def beta_uploadurls_batch(request: Request, user: str = Depends(require_user)) -> Response:
    """Signed PUT URLs for many files (beta paths ``/users/<user>/...``); per-item errors."""
    return await _handle(request, user, BETA)


@router.post(
    "/datamanager/v1.0/uploadurls-batch",
    openapi_extra=json_body(UploadBatch),
    responses=answer(UploadBatchAnswer),
)
async def v1_uploadurls_batch(request: Request, user: str = Depends(require_user)) -> Response:
    """Signed PUT URLs for many files (v1.0 paths ``/Home/<user>/...``); per-item errors."""
    return await _handle(request, user, V1)
