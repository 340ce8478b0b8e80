"""Signing uploads: one by one (``uploadurls``), or many per request and ahead of the uploads (the
server's ``uploadurls-batch`` extension, which also carries upload preconditions).

:class:`UrlPrefetcher` is only an optimisation: a URL it could not get (the server lacks the
extension, an item was refused, the request failed) is simply absent, and the upload then asks for
its own URL through ``uploadurls`` - which also produces the proper per-file error.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.errors import GSError, PreconditionFailed, ServerError
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.transport import Transport

log = logging.getLogger(__name__)

BATCH_ROUTES = {
    Dialect.BETA2: "/datamanager/uploadurls-batch",
    Dialect.V1: "/datamanager/v1.0/uploadurls-batch",
}
#: Files per request: a small first batch so transfers start at once, then larger ones.
FIRST_CHUNK = 32
CHUNK = 250
MAX_PENDING = 20_000


class UploadSpec(NamedTuple):
    """What a signed PUT URL binds: size, base64 MD5 and content type."""

    size: int
    md5_b64: str
    content_type: str


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def spec_for(name: str, size: int, md5_hex: str, content_type: str | None = None) -> UploadSpec:
    b64 = base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii")
    return UploadSpec(size, b64, content_type or guess_type(name))


class UploadCondition(NamedTuple):
    """A precondition for an upload (our ``uploadurls-batch`` / multipart extension).

    ``if_match``: the hex MD5 of the server version the upload may replace (the one the caller last
    saw there); ``if_none_match``: the name must not exist yet. The server checks it when it signs
    and binds it into the signed PUT (``If-Match`` / ``If-None-Match`` headers), so storage refuses a
    PUT that would replace a version written meanwhile: :class:`PreconditionFailed`.
    """

    if_match: str | None = None
    if_none_match: bool = False

    def fields(self) -> dict[str, Any]:
        if self.if_match:
            return {"ifMatch": self.if_match}
        return {"ifNoneMatch": True} if self.if_none_match else {}


class Signed(NamedTuple):
    """A signed PUT URL and the headers its signature binds (they must go with the PUT)."""

    url: str
    headers: dict[str, str]


SignResult = Signed | PreconditionFailed | None


def sign_request(
    transport: Transport, chunk: Sequence[tuple[str, UploadSpec, UploadCondition | None]]
) -> list[SignResult] | None:
    """Sign ``(remote path, spec, condition)`` items in one ``uploadurls-batch`` request.

    Returns one result per item (a URL, a lost precondition, or ``None`` for an item refused otherwise
    - its own upload then asks ``uploadurls`` and gets the proper error), or ``None`` when the server
    lacks the extension. Raises :class:`GSError` when the request itself fails.
    """
    dialect = transport.dialect
    files: list[dict[str, Any]] = []
    for remote, spec, cond in chunk:
        item: dict[str, Any] = {
            "path": P.to_dialect(remote, dialect),
            "size": spec.size,
            "md5": base64.b64decode(spec.md5_b64).hex(),
            "contentType": spec.content_type,
        }
        if cond is not None:
            item.update(cond.fields())
        files.append(item)
    resp = transport.request("POST", BATCH_ROUTES[dialect], json={"files": files}, ok=(404, 405, 501))
    try:
        if resp.status_code in (404, 405, 501) or resp.is_redirect:
            return None
        data = resp.json()
    except ValueError:
        return [None] * len(chunk)
    finally:
        resp.close()
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != len(chunk):
        return [None] * len(chunk)
    out: list[SignResult] = []
    for (remote, _spec, _cond), res in zip(chunk, results, strict=True):
        if not isinstance(res, dict):
            out.append(None)
            continue
        url, headers = res.get("url"), res.get("headers")
        if res.get("status") == 412:
            message = str(res.get("message") or f"{remote} changed on the server")
            out.append(PreconditionFailed(message, paths=[remote], status=412))
        elif isinstance(url, str) and url.startswith(("http://", "https://")):
            sent = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
            out.append(Signed(url, sent))
        else:
            out.append(None)
    return out


class UrlPrefetcher:
    """Signs uploads: in batches in the background (``prefetch``; ``take`` hands a matching URL to one
    upload), or one at a time (:meth:`sign`)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.supported: bool | None = None  # None: not tried yet
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[UploadSpec, UploadCondition | None, Future[SignResult]]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            for _spec, _cond, fut in self._pending.values():
                if not fut.done():
                    fut.set_result(None)
            self._pending.clear()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def prefetch(
        self,
        items: Sequence[tuple[str, UploadSpec]],
        conditions: Mapping[str, UploadCondition] | None = None,
    ) -> None:
        """Start signing ``(remote path, spec)`` pairs (remote paths in canonical beta form);
        ``conditions``: a precondition per remote path, where the upload has one."""
        if self.supported is False or not items:
            return
        conds = conditions or {}
        with self._lock:
            if len(self._pending) + len(items) > MAX_PENDING:
                self._pending.clear()  # stale entries of uploads that never happened
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gs-sign")
            pool = self._pool
            chunks: list[list[tuple[str, UploadSpec, UploadCondition | None, Future[SignResult]]]] = [[]]
            for remote, spec in items:
                fut: Future[SignResult] = Future()
                cond = conds.get(remote)
                self._pending[remote] = (spec, cond, fut)
                limit = FIRST_CHUNK if len(chunks) == 1 else CHUNK
                if len(chunks[-1]) >= limit:
                    chunks.append([])
                chunks[-1].append((remote, spec, cond, fut))
        for chunk in chunks:
            pool.submit(self._sign, chunk)

    def take(
        self, remote: str, spec: UploadSpec, condition: UploadCondition | None = None, timeout: float = 60.0
    ) -> Signed | None:
        """The prefetched URL for exactly this upload (same content and precondition), or ``None``
        (then ask for one). Raises :class:`PreconditionFailed` when the server refused the
        precondition while signing."""
        with self._lock:
            hit = self._pending.pop(remote, None)
        if hit is None or hit[0] != spec or hit[1] != condition:
            return None
        try:
            got = hit[2].result(timeout=timeout)
        except Exception:
            return None
        if isinstance(got, PreconditionFailed):
            raise got
        return got

    def _sign(self, chunk: list[tuple[str, UploadSpec, UploadCondition | None, Future[SignResult]]]) -> None:
        results: list[SignResult] | None = None
        try:
            if self.supported is not False:
                results = sign_request(self.transport, [(r, s, c) for r, s, c, _f in chunk])
                if results is None:
                    self.supported = False
                    log.info("the server has no uploadurls-batch; signing uploads one by one")
                else:
                    self.supported = True
        except GSError as exc:
            log.info("batch upload signing failed (%s); signing files one by one", exc)
        except Exception:
            log.exception("batch upload signing failed")
        for i, (_remote, _spec, _cond, fut) in enumerate(chunk):
            if not fut.done():
                fut.set_result(results[i] if results is not None else None)

    def upload_url(self, remote: str, size: int, md5_b64: str, content_type: str) -> str:
        """Ask the Data Manager for a signed PUT URL for ``remote``."""
        t = self.transport
        params = {"Content-Length": str(size), "Content-MD5": md5_b64, "Content-Type": content_type}
        resp = t.request(
            "GET", t.route("upload", remote), params=params, paths=[remote], action="Cannot upload"
        )
        text = resp.text.strip()
        if text.startswith("{"):
            data = t.json(resp, [remote])
            text = str(data.get("url", "")) if isinstance(data, dict) else ""
        if not text.startswith(("http://", "https://")):
            raise ServerError("The server did not return an upload URL", paths=[remote])
        return text

    def sign(self, remote: str, spec: UploadSpec, condition: UploadCondition | None) -> Signed:
        """A signed PUT URL for ``remote`` and the headers to send with it; with a ``condition`` it is
        asked for through ``uploadurls-batch`` (the server checks and binds the precondition there).

        Raises:
            PreconditionFailed: the server's version is not the one the condition names.
        """
        wanted = condition is not None and (condition.if_match or condition.if_none_match)
        if condition is not None and wanted and self.supported is not False:
            got = sign_request(self.transport, [(remote, spec, condition)])
            if got is None:
                self.supported = False
                log.info("the server has no uploadurls-batch: uploads carry no precondition")
            elif isinstance(got[0], Exception):
                raise got[0]
            elif got[0] is not None:
                return got[0]
        return Signed(self.upload_url(remote, spec.size, spec.md5_b64, spec.content_type), {})
