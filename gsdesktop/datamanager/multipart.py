"""Large files: resumable multipart uploads and resumable parallel ranged downloads.

Uploads use the server's multipart extension (``/datamanager/multipart``): the file is read once, in
order, to compute every part's MD5 and the whole-file MD5 (:mod:`.parthash`); parts go to storage in
parallel through presigned URLs that bind each part's Content-MD5, streamed from disk in 1 MiB blocks
(memory stays bounded whatever the part size). When the server takes the whole-file MD5 at *complete*
(``md5AtComplete``), parts are sent while the rest of the file is still being hashed; otherwise the
hashing pass comes first. The upload id and every finished part are recorded in the transfer
journal (:mod:`.journal`), so after a crash, ``kill -9``, reboot or network loss only the missing parts
are sent. A local file that changed meanwhile is never stitched from two versions: the old upload is
aborted and the file is uploaded again.

Downloads of large files (:mod:`.ranged`, re-exported here) fetch ranges in parallel into a stable
temporary file beside the target; the finished ranges are journaled, so an interrupted download
continues where it stopped, and the whole file is checked against its MD5 before it replaces the target.

``DataManagerClient.upload`` calls :func:`multipart_upload` for files of at least the configured
``multipart_threshold``; :func:`multipart_upload` raises :class:`UnsupportedError` (the client then
falls back to one PUT) when the server lacks the extension, except for files over the single-PUT
limit, which fail at once with a clear message before any byte is sent.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import mimetypes
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import requests

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.errors import (
    CancelledError,
    GSError,
    IntegrityError,
    InvalidRequestError,
    LocalFileError,
    NetworkError,
    PreconditionFailed,
    ServerError,
    TransferError,
    UnsupportedError,
)
from gsdesktop.datamanager.http import error_for_exception, error_for_status
from gsdesktop.datamanager.journal import (
    FileIdentity,
    TransferJournal,
    UploadRecord,
    shared_journal,
    upload_key,
)
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.parthash import (
    FileChangedError,
    FixedDigests,
    PartHasher,
    hash_parts,
    part_count,
)
from gsdesktop.datamanager.ranged import ParallelDownloader, parallel_download  # large downloads
from gsdesktop.datamanager.transfer import (
    CHUNK,
    CancelToken,
    ProgressCallback,
    ThrottledProgress,
    note_kept,
)
from gsdesktop.datamanager.transport import TransferRequest, Transport

log = logging.getLogger(__name__)

MIB = 1024 * 1024
SINGLE_PUT_LIMIT = 5 * 1024**3  # the largest object one S3 PUT may create
MIN_PART_SIZE = 5 * MIB
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 16 * MIB
DEFAULT_WORKERS = 4
URL_BATCH = 64
HASH_LEAD = 512 * MIB  # how far the hashing reader may run ahead of the parts being sent
PART_ATTEMPTS = 6
API = "/datamanager/multipart"


@dataclass(frozen=True, slots=True)
class MultipartOffer:
    """The server's multipart limits (from ``GET /datamanager/multipart``)."""

    min_part_size: int = MIN_PART_SIZE
    default_part_size: int = DEFAULT_PART_SIZE
    max_parts: int = MAX_PARTS
    max_size: int = 5 * 1024**4
    max_url_batch: int = 1000
    md5_at_complete: bool = False  # the whole-file MD5 may come with complete (send while hashing)


@dataclass
class UploadStats:
    """What one :meth:`MultipartUploader.upload` call did (for progress displays and tests)."""

    parts_total: int = 0
    parts_sent: int = 0
    parts_skipped: int = 0
    bytes_sent: int = 0
    resumed: bool = False
    restarted_because_changed: bool = False
    retries: int = 0
    url_batches: int = 0


def server_offer(transport: Transport) -> MultipartOffer | None:
    """The server's multipart limits, or ``None`` when it does not offer the extension (asked once per
    transport)."""
    offer = transport.remember("multipart-offer", lambda: _ask_offer(transport))
    return offer if isinstance(offer, MultipartOffer) else None


def _ask_offer(transport: Transport) -> MultipartOffer | None:
    resp = transport.request("GET", API, ok=(404, 405, 501))
    offer: MultipartOffer | None = None
    if resp.ok and not resp.is_redirect:
        try:
            data = resp.json()
            offer = MultipartOffer(
                min_part_size=max(MIN_PART_SIZE, int(data.get("minPartSize", MIN_PART_SIZE))),
                default_part_size=int(data.get("defaultPartSize", DEFAULT_PART_SIZE)),
                max_parts=int(data.get("maxParts", MAX_PARTS)),
                max_size=int(data.get("maxSize", 5 * 1024**4)),
                max_url_batch=int(data.get("maxUrlBatch", 1000)),
                md5_at_complete=data.get("md5AtComplete") is True,
            )
        except (ValueError, TypeError, AttributeError):
            offer = None
    resp.close()
    return offer


def choose_part_size(size: int, offer: MultipartOffer, preferred: int | None = None) -> int:
    """The same rule as the server: >= the minimum, whole MiB, at most ``max_parts`` parts."""
    part = max(offer.min_part_size, int(preferred or offer.default_part_size))
    needed = math.ceil(size / offer.max_parts)
    if part < needed:
        part = math.ceil(needed / MIB) * MIB
    return part


def part_span(size: int, part_size: int, number: int) -> tuple[int, int]:
    """(offset, length) of part ``number`` (1-based)."""
    offset = (number - 1) * part_size
    return offset, min(part_size, size - offset)


def md5_range(path: Path, offset: int, length: int) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        fh.seek(offset)
        left = length
        while left > 0:
            data = fh.read(min(CHUNK, left))
            if not data:
                break
            digest.update(data)
            left -= len(data)
    return digest.hexdigest()


class PartBody:
    """A sized upload body for ``length`` bytes of a file at ``offset``; read in blocks, never whole."""

    def __init__(
        self,
        fh: Any,
        length: int,
        on_bytes: Callable[[int], None],
        cancel: CancelToken | None,
    ) -> None:
        self._fh = fh
        self._left = length
        self._length = length
        self._on_bytes = on_bytes
        self._cancel = cancel

    def __len__(self) -> int:
        return self._length

    def read(self, amt: int = -1) -> bytes:
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()
        if self._left <= 0:
            return b""
        want = self._left if amt is None or amt < 0 else min(amt, self._left)
        data: bytes = self._fh.read(max(want, 1))
        if not data:
            raise FileChangedError("The file became shorter while it was being uploaded")
        self._left -= len(data)
        self._on_bytes(len(data))
        return data


class PartAnswer(NamedTuple):
    """Storage's answer to one part: status, ETag (unquoted, lower case), and for a refusal its text
    and the (closed, read) response."""

    status: int
    etag: str
    text: str = ""
    refusal: requests.Response | None = None


PartDigests = FixedDigests | PartHasher  # every part's MD5: known in advance, or as the hasher passes it


@dataclass
class _UrlCache:
    urls: dict[int, tuple[str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class MultipartUploader:
    """Resumable parallel multipart upload of one file through the server extension.

    Args:
        transport: A signed-in :class:`~gsdesktop.datamanager.transport.Transport`.
        journal: Where progress is persisted (default: the shared journal in the state directory).
        workers: Parts in flight at once.
        part_size: Preferred part size (the server may raise it; never below 5 MiB).
        url_expires: Lifetime asked for part URLs, in seconds (``None``: the server's default).
        url_margin: Seconds before its expiry a cached part URL is renewed (``None``: automatic).
        url_batch: Part URLs asked for per request.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        journal: TransferJournal | None = None,
        workers: int = DEFAULT_WORKERS,
        part_size: int | None = None,
        url_expires: int | None = None,
        url_margin: float | None = None,
        url_batch: int = URL_BATCH,
    ) -> None:
        self.transport = transport
        self.url_batch = max(1, url_batch)
        self.url_margin = url_margin
        self.journal = journal if journal is not None else shared_journal()
        self.workers = max(1, workers)
        self.part_size = part_size
        self.url_expires = url_expires
        self.stats = UploadStats()
        #: the running upload's retry policy: every part starts from it (one time budget per file)
        self.policy = transport.transfer_policy(PART_ATTEMPTS - 1)
        self.cancel: CancelToken | None = None  # the running upload's

    # -- API calls ----------------------------------------------------------------------------------------
    def _call(self, method: str, route: str, remote: str, body: Any = None, ok: tuple[int, ...] = ()) -> Any:
        """An API call; POSTs are retried here on network failures (they are idempotent by design)."""
        t = self.transport
        policy = t.transfer_policy(t.retries, timed=False)
        while True:
            try:
                resp = t.request(method, API + route, json=body, paths=[remote], ok=ok)
            except GSError as exc:
                if not exc.retryable or t.retries <= 0:
                    raise
                policy = t.next_attempt(policy, method, API + route, exc, self.cancel)
                continue
            try:
                if resp.status_code in ok or resp.status_code == 204:
                    return resp.status_code
                try:
                    return resp.json()
                except ValueError as exc:
                    raise ServerError("The server sent an answer that is not JSON", paths=[remote]) from exc
            finally:
                resp.close()

    def abort(self, upload_id: str, remote: str) -> None:
        """Abort an upload on the server (a missing upload is fine)."""
        self._call("DELETE", f"/uploads/{upload_id}", remote, ok=(404,))

    # -- the upload ---------------------------------------------------------------------------------------
    def upload(self, req: TransferRequest, *, condition: UploadCondition | None = None) -> GSFileMetadata:
        """Upload ``req.local`` to ``req.remote``, resuming a journaled upload of the same file version.

        ``condition``: sent at create and enforced by the server again at complete; a lost one aborts
        the upload (nothing is replaced) and raises :class:`PreconditionFailed`.
        """
        local = Path(req.local).absolute()
        remote = P.canonical(req.remote)
        progress, cancel, content_type = req.progress, req.cancel, req.content_type
        self.transport.store_breaker.check(remote)
        self.policy = self.transport.transfer_policy(PART_ATTEMPTS - 1)  # the budget starts now
        self.cancel = cancel
        offer = server_offer(self.transport)
        if offer is None:
            raise UnsupportedError("This server does not offer multipart uploads", paths=[remote])
        ctype = content_type or mimetypes.guess_type(local.name)[0] or "application/octet-stream"
        try:  # a file that changes meanwhile is uploaded again from its start (three times at most)
            for _round in range(3):
                try:
                    return self._upload_once(local, remote, offer, ctype, progress, cancel, condition)
                except FileChangedError as exc:
                    log.info("%s changed during the upload; starting again: %s", local, exc)
                    self.stats.restarted_because_changed = True
                    key = upload_key(self.transport.server_url, self.transport.username, remote)
                    stale = self.journal.get_upload(key)
                    if stale is not None and stale.upload_id:
                        self.abort(stale.upload_id, remote)  # never stitch parts of two versions
                    self.journal.drop_upload(key)
                    if cancel is not None:
                        cancel.raise_if_cancelled()
            raise LocalFileError(
                "The file keeps changing while it is uploaded; try again when it is complete",
                paths=[str(local)],
            )
        except GSError as exc:
            key = upload_key(self.transport.server_url, self.transport.username, remote)
            rec = self.journal.get_upload(key)
            if rec is not None and rec.upload_id:
                total = part_count(rec.identity.size, rec.part_size)
                note_kept(exc, len(self.journal.done_parts(key)), total, "parts are stored", "upload")
            raise

    def _identity(self, local: Path) -> FileIdentity:
        try:
            return FileIdentity.of(local)
        except OSError as exc:
            raise LocalFileError(
                f"Cannot read local file: {exc.strerror or exc}", paths=[str(local)]
            ) from exc

    def _upload_once(
        self,
        local: Path,
        remote: str,
        offer: MultipartOffer,
        ctype: str,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        condition: UploadCondition | None = None,
    ) -> GSFileMetadata:
        key = upload_key(self.transport.server_url, self.transport.username, remote)
        ident = self._identity(local)
        rec = self.journal.get_upload(key)
        if rec is not None and (rec.local != str(local) or rec.identity != ident):
            if rec.upload_id:
                log.info("local file changed since the interrupted upload; aborting it")
                self.abort(rec.upload_id, remote)
                self.stats.restarted_because_changed = True
            self.journal.drop_upload(key)
            rec = None
        if rec is not None and (not rec.md5 or len(rec.part_md5s) != part_count(ident.size, rec.part_size)):
            # an upload interrupted while its file was still being hashed: hash it now, then resume
            md5, part_md5s, _size = hash_parts(local, rec.part_size, cancel, ident.size)
            rec = UploadRecord(key, str(local), ident, md5, rec.part_size, part_md5s, rec.upload_id)
            self.journal.put_upload(rec)
        hasher: PartHasher | None = None
        try:
            if rec is None:
                part_size = choose_part_size(ident.size, offer, self.part_size)
                md5, part_md5s = "", []
                if offer.md5_at_complete:  # hash while sending; read at most `lead` ahead of the parts
                    lead = max(HASH_LEAD, (self.workers + 2) * part_size)
                    hasher = PartHasher(local, part_size, ident.size, cancel=cancel, lead=lead).start()
                else:  # the server wants the MD5 first
                    md5, part_md5s, _size = hash_parts(local, part_size, cancel, ident.size)
                rec = UploadRecord(key, str(local), ident, md5, part_size, part_md5s, None)
                self.journal.put_upload(rec)
            try:
                return self._send_and_complete(
                    local, remote, rec, ident, hasher, ctype, progress, cancel, condition
                )
            except PreconditionFailed:
                # the server's version changed: never complete this upload later (resumed)
                stale = self.journal.get_upload(key)
                if stale is not None and stale.upload_id:
                    self.abort(stale.upload_id, remote)
                self.journal.drop_upload(key)
                raise
        finally:
            if hasher is not None:
                hasher.close()

    def _server_state(self, rec: UploadRecord, ident: FileIdentity, remote: str) -> dict[str, Any] | None:
        """The server's record of the journaled upload, when it is still there and the same upload."""
        if not rec.upload_id:
            return None
        got = self._call("GET", f"/uploads/{rec.upload_id}", remote, ok=(404,))
        if (
            isinstance(got, dict)
            and got.get("md5") in ("", rec.md5)
            and got.get("size") == ident.size
            and got.get("partSize") == rec.part_size
        ):
            self.stats.resumed = True
            return got
        if isinstance(got, dict):
            self.abort(rec.upload_id, remote)
        self.journal.set_upload_id(rec.key, None)
        return None

    def _send_and_complete(
        self,
        local: Path,
        remote: str,
        rec: UploadRecord,
        ident: FileIdentity,
        hasher: PartHasher | None,
        ctype: str,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        condition: UploadCondition | None = None,
    ) -> GSFileMetadata:
        state = self._server_state(rec, ident, remote)
        if state is None:
            start: dict[str, Any] = {
                "path": remote,
                "size": ident.size,
                "contentType": ctype,
                "partSize": rec.part_size,
            }
            if rec.md5:
                start["md5"] = rec.md5
            if condition is not None:
                start.update(condition.fields())
            state = self._call("POST", "/uploads", remote, start)
            assert isinstance(state, dict)
            if int(state.get("partSize", 0)) != rec.part_size:
                # the server chose another part size: hash again with its size
                self.abort(str(state["uploadId"]), remote)
                self.journal.drop_upload(rec.key)
                self.part_size = int(state["partSize"])
                raise FileChangedError("part size renegotiated")
            self.journal.set_upload_id(rec.key, str(state["uploadId"]))
        upload_id = str(state["uploadId"])
        digests = hasher if hasher is not None else FixedDigests(rec.part_md5s)
        count = part_count(ident.size, rec.part_size)
        stored = {
            int(p["partNumber"])
            for p in state.get("parts", [])
            if hasher is None
            and 1 <= int(p["partNumber"]) <= count
            and str(p.get("etag", "")).lower() == rec.part_md5s[int(p["partNumber"]) - 1]
            and int(p.get("size", -1)) == part_span(ident.size, rec.part_size, int(p["partNumber"]))[1]
        }
        pending = [n for n in range(1, count + 1) if n not in stored]
        self.stats.parts_total = count
        self.stats.parts_skipped = len(stored)
        tracker = ThrottledProgress(progress, ident.size)
        tracker.set(sum(part_span(ident.size, rec.part_size, n)[1] for n in stored))
        self._send_parts(local, remote, upload_id, rec, digests, ident, pending, tracker, cancel)
        md5, part_md5s = hasher.result(cancel) if hasher is not None else (rec.md5, rec.part_md5s)
        if self._identity(local) != ident:
            self.abort(upload_id, remote)
            self.journal.drop_upload(rec.key)
            raise FileChangedError("The file changed while it was being uploaded", paths=[str(local)])
        parts = [{"partNumber": n, "etag": part_md5s[n - 1]} for n in range(1, count + 1)]
        body = {"parts": parts, "md5": md5}
        result = self._call("POST", f"/uploads/{upload_id}/complete", remote, body, ok=(404,))
        if result == 404:
            # a retried complete whose first attempt succeeded: accept only the same content
            meta = self.transport.metadata(remote)
            if meta.md5 != md5 or meta.size != ident.size:
                self.journal.drop_upload(rec.key)
                raise TransferError(
                    "The upload expired on the server before it was completed", paths=[remote]
                )
        else:
            assert isinstance(result, dict)
            if isinstance(result.get("metadata"), dict):
                meta = GSFileMetadata.from_json(result["metadata"])
            else:
                meta = self.transport.metadata(remote)
        self.journal.drop_upload(rec.key)
        tracker.finish()
        if meta.md5 and meta.md5 != md5:
            raise IntegrityError("The server reports a different checksum after upload", paths=[remote])
        from dataclasses import replace

        return replace(meta, path=P.from_dialect(meta.path))

    # -- parts --------------------------------------------------------------------------------------------
    def _url_for(
        self,
        cache: _UrlCache,
        upload_id: str,
        remote: str,
        digests: PartDigests,
        number: int,
        pending: list[int],
        cancel: CancelToken,
    ) -> str:
        margin = 30.0 if not self.url_expires else min(30.0, self.url_expires / 4)
        if self.url_margin is not None:
            margin = self.url_margin
        with cache.lock:
            hit = cache.urls.get(number)
            if hit is not None and hit[1] - margin > time.time():
                return hit[0]
            batch = [number]
            for n in pending:
                if len(batch) >= self.url_batch or not digests.known(n):
                    break
                cached = cache.urls.get(n)
                if n != number and (cached is None or cached[1] - margin <= time.time()):
                    batch.append(n)
            md5s = [{"partNumber": n, "md5": digests.part(n, cancel)} for n in batch]
            body: dict[str, Any] = {"parts": md5s}
            if self.url_expires:
                body["expiresIn"] = int(self.url_expires)
            got = self._call("POST", f"/uploads/{upload_id}/urls", remote, body)
            self.stats.url_batches += 1
            for item in got.get("urls", []):
                cache.urls[int(item["partNumber"])] = (str(item["url"]), float(item.get("expiresAt", 0)))
            return cache.urls[number][0]

    def _send_parts(
        self,
        local: Path,
        remote: str,
        upload_id: str,
        rec: UploadRecord,
        digests: PartDigests,
        ident: FileIdentity,
        pending: list[int],
        tracker: ThrottledProgress,
        cancel: CancelToken | None,
    ) -> None:
        if not pending:
            return
        cache = _UrlCache()
        stop = threading.Event()
        inner_cancel = CancelToken()

        def watch() -> None:
            while not stop.is_set():
                if cancel is not None and cancel.cancelled:
                    inner_cancel.cancel()
                    return
                stop.wait(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        work: queue.Queue[int] = queue.Queue()
        for n in pending:
            work.put(n)
        remaining = list(pending)
        lock = threading.Lock()

        def worker() -> None:
            while not inner_cancel.cancelled:
                try:
                    number = work.get_nowait()
                except queue.Empty:
                    return
                with lock:
                    ahead = list(remaining)
                self._send_one(
                    local, remote, upload_id, rec, digests, ident, number, ahead, cache, tracker, inner_cancel
                )
                with lock:
                    remaining.remove(number)

        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="gs-part") as pool:
                futures: list[Future[None]] = [pool.submit(worker) for _ in range(self.workers)]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    inner_cancel.cancel()
                    wait(futures)
                    exc = failed[0].exception()
                    assert exc is not None
                    if isinstance(exc, CancelledError) and cancel is not None and cancel.cancelled:
                        raise CancelledError("Transfer cancelled", paths=[remote])
                    raise exc
        finally:
            stop.set()
        if cancel is not None:
            cancel.raise_if_cancelled()

    def _transmit(
        self,
        url: str,
        local: Path,
        size: int,
        span: tuple[int, int],
        headers: dict[str, str],
        on_bytes: Callable[[int], None],
        cancel: CancelToken,
    ) -> PartAnswer:
        """Send the part at ``span`` (offset, length) of ``local``: with ``sendfile`` over a pooled
        socket when storage speaks plain HTTP, else (TLS, a proxy, or any answer but 2xx, which is
        then repeated so that it can be reported in full) through ``requests``. A hook for tests."""
        offset, length = span
        lean = self.transport.lean.put(
            url, local, size, headers, on_bytes, cancel, offset=offset, length=length
        )
        if lean is not None:
            return PartAnswer(200, lean.etag)
        with open(local, "rb") as fh:
            fh.seek(offset)
            return self._put(url, PartBody(fh, length, on_bytes, cancel), headers)

    def _put(self, url: str, body: Any, headers: dict[str, str]) -> PartAnswer:
        """One PUT of a part through ``requests`` (its errors propagate)."""
        resp = self.transport.storage_put(url, body, headers)
        try:
            etag = str(resp.headers.get("ETag", "")).strip('"').lower()
            if resp.ok:
                return PartAnswer(resp.status_code, etag)
            return PartAnswer(resp.status_code, etag, resp.text, resp)
        finally:
            resp.close()

    def _send_one(
        self,
        local: Path,
        remote: str,
        upload_id: str,
        rec: UploadRecord,
        digests: PartDigests,
        ident: FileIdentity,
        number: int,
        ahead: list[int],
        cache: _UrlCache,
        tracker: ThrottledProgress,
        cancel: CancelToken,
    ) -> None:
        offset, length = part_span(ident.size, rec.part_size, number)
        md5_hex = digests.part(number, cancel)
        headers = {
            "Content-MD5": base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii"),
            "Content-Length": str(length),
            "Content-Type": "application/octet-stream",
        }
        policy = self.policy
        refreshed = False
        while True:
            cancel.raise_if_cancelled()
            url = self._url_for(cache, upload_id, remote, digests, number, ahead, cancel)
            sent = [0]

            def on_bytes(n: int, sent: list[int] = sent) -> None:
                sent[0] += n
                tracker.add(n)

            try:
                answer = self._transmit(url, local, ident.size, (offset, length), headers, on_bytes, cancel)
            except GSError:
                tracker.add(-sent[0])
                raise
            except requests.RequestException as exc:
                tracker.add(-sent[0])
                failure = error_for_exception(exc, url, [remote])
                if isinstance(failure, NetworkError):
                    # the store does not answer at the signed address (it may have come back
                    # elsewhere after a restart): fresh URLs for every part, the first time at once
                    with cache.lock:
                        if cache.urls.get(number, ("", 0.0))[0] == url:
                            cache.urls.clear()  # (unless another part did so already)
                    if not refreshed:
                        refreshed = True
                        continue
            except OSError as exc:
                raise LocalFileError(
                    f"Cannot read local file: {exc.strerror or exc}", paths=[str(local)]
                ) from exc
            else:
                if answer.refusal is None:
                    if answer.etag and answer.etag != md5_hex:
                        raise IntegrityError(f"Storage stored part {number} with a different checksum")
                    self.journal.part_done(rec.key, number, md5_hex)
                    digests.sent(number)
                    self.stats.parts_sent += 1
                    self.stats.bytes_sent += length
                    self.transport.store_breaker.succeeded()
                    return
                tracker.add(-sent[0])
                failure = error_for_status(answer.refusal, [remote], f"Storage rejected part {number}")
                if answer.status == 400 and "BadDigest" in answer.text:
                    # corrupted on the way, or the file changed: which one?
                    if md5_range(local, offset, length) != md5_hex:
                        raise FileChangedError(
                            "The file changed while it was being uploaded", paths=[str(local)]
                        )
                    log.info("part %d was corrupted in transit; sending it again", number)
                elif answer.status == 403:
                    with cache.lock:
                        cache.urls.pop(number, None)  # expired or refused signature: get a fresh URL
                elif not failure.retryable:
                    raise failure
            self.stats.retries += 1
            # back off on the cancel token; raises the failure once the tries or the file's time
            # budget are spent, or the store breaker is open
            policy = self.transport.next_attempt(policy, "PUT", remote, failure, cancel)


def multipart_upload(
    transport: Transport, req: TransferRequest, *, condition: UploadCondition | None = None
) -> GSFileMetadata:
    """The hook :meth:`DataManagerClient.upload` calls for large files (with the configured workers).

    Raises:
        UnsupportedError: the server lacks the extension and the file fits in one PUT (fall back).
        InvalidRequestError: the server lacks the extension and the file is over 5 GiB.
    """
    local, remote = Path(req.local), req.remote
    try:
        size = local.stat().st_size
    except OSError as exc:
        raise LocalFileError(f"Cannot read local file: {exc.strerror or exc}", paths=[str(local)]) from exc
    if server_offer(transport) is None:
        if size > SINGLE_PUT_LIMIT:
            raise InvalidRequestError(
                f"{local.name} is {size / 1024**3:.1f} GiB; this server accepts at most 5 GiB in "
                "one upload and does not offer multipart uploads, so the file cannot be uploaded there",
                paths=[str(local)],
            )
        raise UnsupportedError("This server does not offer multipart uploads", paths=[remote])
    return MultipartUploader(transport, workers=transport.config.upload_workers).upload(
        req, condition=condition
    )


__all__ = [
    "FileChangedError",
    "MultipartOffer",
    "MultipartUploader",
    "ParallelDownloader",
    "UploadStats",
    "hash_parts",
    "multipart_upload",
    "parallel_download",
    "server_offer",
]
