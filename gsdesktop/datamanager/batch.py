"""Many small uploads, fast: signed URLs fetched ahead, many per request (the server's
``uploadurls-batch`` extension), and a lean PUT path (:class:`LeanPut`).

:class:`UrlPrefetcher` is only an optimisation: a URL it could not get (the server lacks the
extension, an item was refused, the request failed) is simply absent, and the upload then asks for
its own URL through ``uploadurls`` - which also produces the proper per-file error.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import os
import socket
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import requests

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager import rawput
from gsdesktop.datamanager.errors import GSError, PreconditionFailed
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.transfer import CHUNK as SENDFILE_PIECE
from gsdesktop.datamanager.transfer import CancelToken

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

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
    client: DataManagerClient, chunk: Sequence[tuple[str, UploadSpec, UploadCondition | None]]
) -> list[SignResult] | None:
    """Sign ``(remote path, spec, condition)`` items in one ``uploadurls-batch`` request.

    Returns one result per item (a URL, a lost precondition, or ``None`` for an item refused otherwise
    - its own upload then asks ``uploadurls`` and gets the proper error), or ``None`` when the server
    lacks the extension. Raises :class:`GSError` when the request itself fails.
    """
    dialect = client.dialect
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
    resp = client.request("POST", BATCH_ROUTES[dialect], json={"files": files}, ok=(404, 405, 501))
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
    """Signs uploads in batches in the background; ``take`` hands a matching URL to one upload."""

    def __init__(self, client: DataManagerClient) -> None:
        self.client = client
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
                results = sign_request(self.client, [(r, s, c) for r, s, c, _f in chunk])
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


class LeanAnswer(NamedTuple):
    """What a lean PUT's 2xx answer said: its Date ("" if none) and ETag (unquoted, lower case)."""

    date: str
    etag: str


class LeanPut:
    """One PUT over a pooled keep-alive socket (:mod:`gsdesktop.datamanager.rawput`), without the
    ``requests``, ``urllib3`` and ``http.client`` layers: a presigned URL's long query string is sent
    as it is instead of being parsed and re-encoded character by character, the request head is one
    string, a small file goes out with it in one ``sendall``, and the answer's head is split on CRLF.
    This roughly halves the client CPU per small file, which bounds how many files per second one
    process can upload; a large file or a multipart part goes out with ``sendfile``. Plain-HTTP
    storage without a proxy only; anything but a 2xx answer (or a transport error on a fresh
    connection) returns ``None`` and the caller takes its full path (error mapping, retries, URL
    renewal, TLS)."""

    IN_MEMORY = 1 << 20  # files up to this size are read once and sent with the request head
    IDLE_PER_HOST = 64

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self.session = session
        self.timeout = timeout
        self._direct: dict[str, bool] = {}  # netloc -> no proxy applies
        self._idle: dict[str, list[socket.socket]] = {}
        self._lock = threading.Lock()
        self.reconnects = 0  # idle connections found closed (sent again on a fresh one)
        self.fallbacks = 0  # transport failures handed to the full path
        self.stored = 0  # PUTs answered 2xx

    def _is_direct(self, parts: urllib.parse.SplitResult, url: str) -> bool:
        direct = self._direct.get(parts.netloc)
        if direct is None:
            env = requests.utils.get_environ_proxies(url) if self.session.trust_env else {}
            direct = self._direct[parts.netloc] = not env and not self.session.proxies
        return direct

    def _take(self, parts: urllib.parse.SplitResult) -> tuple[socket.socket, bool]:
        """An idle connection to the host (and True), else a new one (and False)."""
        with self._lock:
            idle = self._idle.get(parts.netloc)
            if idle:
                return idle.pop(), True
        return rawput.connect(parts.hostname or "", parts.port or 80, self.timeout), False

    def _give(self, netloc: str, sock: socket.socket) -> None:
        with self._lock:
            idle = self._idle.setdefault(netloc, [])
            if len(idle) < self.IDLE_PER_HOST:
                idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            socks = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for sock in socks:
            sock.close()

    def put(
        self,
        url: str,
        local: Path,
        size: int,
        headers: dict[str, str],
        progress: Callable[[int], None],
        cancel: CancelToken | None,
        *,
        offset: int = 0,
        length: int | None = None,
    ) -> LeanAnswer | None:
        """PUT ``length`` bytes of ``local`` from ``offset`` (default: the whole file, which must still
        be ``size`` bytes long); ``progress`` gets the bytes sent (negative after a connection that
        had to be replaced). The answer after a 2xx, else ``None``."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not self._is_direct(parts, url):
            return None
        count = size - offset if length is None else length
        target = parts.path + ("?" + parts.query if parts.query else "")
        send = {"User-Agent": str(self.session.headers.get("User-Agent", "")), **headers}
        try:
            head = rawput.request_head("PUT", target, parts.netloc, send)
        except rawput.RawHTTPError:
            return None
        try:
            with open(local, "rb") as fh:
                if os.fstat(fh.fileno()).st_size != size:
                    return None
                data: bytes | None = None
                if count <= self.IN_MEMORY:
                    fh.seek(offset)
                    data = fh.read(count + 1 if offset + count == size else count)
                    if len(data) != count:
                        return None  # changed since it was hashed: the full path reports it
                for _attempt in range(2):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    try:
                        sock, reused = self._take(parts)
                    except OSError:
                        self.fallbacks += 1
                        return None
                    sent = [0]
                    try:
                        if data is not None:
                            sock.sendall(head + data)
                        else:
                            sock.sendall(head)
                            send_region(sock, fh, offset, count, progress, sent, cancel)
                        resp = rawput.read_response(sock)
                    except OSError:  # RawHTTPError included
                        sock.close()
                        progress(-sent[0])
                        if reused:
                            self.reconnects += 1
                            continue  # the idle connection had been closed by the server: once more
                        self.fallbacks += 1
                        return None
                    except BaseException:
                        sock.close()  # cancelled mid-body: the connection is unusable
                        progress(-sent[0])
                        raise
                    break
                else:
                    return None
        except OSError:
            return None
        if resp.reusable:
            self._give(parts.netloc, sock)
        else:
            sock.close()
        if 200 <= resp.status < 300:
            with self._lock:
                self.stored += 1
        else:
            if data is None:
                progress(-sent[0])
            return None
        if data is not None:
            progress(count)
        return LeanAnswer(resp.date, resp.etag.strip('"').lower())


def send_region(
    sock: socket.socket,
    fh: BinaryIO,
    offset: int,
    count: int,
    progress: Callable[[int], None],
    sent: list[int],
    cancel: CancelToken | None,
) -> None:
    """``count`` bytes of ``fh`` from ``offset`` with ``sendfile`` (the kernel copies from the page
    cache to the socket: no reading into Python, about 0.3 s less CPU per GiB on the build machine);
    ``sent[0]`` counts what went out. A file that ends early raises :class:`rawput.RawHTTPError`."""
    end = offset + count
    while offset < end:
        if cancel is not None:
            cancel.raise_if_cancelled()
        n = sock.sendfile(fh, offset, min(SENDFILE_PIECE, end - offset))
        if n <= 0:
            raise rawput.RawHTTPError("the file shrank while it was being sent")
        offset += n
        sent[0] += n
        progress(n)
