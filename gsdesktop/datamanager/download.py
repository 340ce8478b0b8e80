"""Verified, atomic downloads in one stream; large files go to the resumable ranged downloader.

The bytes go to a temporary file beside the target; size and MD5 are checked (against the ``md5``
metadata, else a single-part S3 ETag), the file is fsynced and renamed over the target. A broken
connection resumes with ``Range``; an expired signed URL is replaced by asking the Data Manager again.
Files of at least the configured ``resumable_download_threshold`` are fetched in parallel ranges by
:mod:`.ranged` (journaled, so an interrupted download continues where it stopped).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path
from urllib.parse import urljoin

import requests
import urllib3

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.errors import (
    AuthenticationError,
    GSError,
    IntegrityError,
    InvalidRequestError,
    LocalFileError,
    NotFoundError,
    ServerError,
    TransferError,
)
from gsdesktop.datamanager.http import error_for_exception, error_for_status, single_part_etag
from gsdesktop.datamanager.models import GSDataFormat, GSFileMetadata
from gsdesktop.datamanager.ranged import parallel_download
from gsdesktop.datamanager.transfer import (
    CHUNK,
    CancelToken,
    HashPipe,
    ThrottledProgress,
    ensure_space,
    fsync_dir,
    pwrite_all,
)
from gsdesktop.datamanager.transport import TransferRequest, Transport

_DISK_FULL = (28, 27, 122)  # ENOSPC, EFBIG, EDQUOT


def _local_error(exc: OSError, where: Path) -> LocalFileError:
    reason = "the disk is full" if exc.errno in _DISK_FULL else (exc.strerror or str(exc))
    return LocalFileError(f"Cannot write the downloaded file: {reason}", paths=[str(where)])


def format_url(meta: GSFileMetadata, data_format: str | GSDataFormat | None) -> str | None:
    """The format URL for ``data_format`` (a GSDataFormat, a URL or a name the file offers)."""
    if data_format is None:
        return None
    if isinstance(data_format, GSDataFormat):
        return data_format.url
    if "://" in data_format:
        return data_format
    for fmt in meta.available_data_formats:
        if fmt.name.lower() == data_format.lower():
            return fmt.url
    names = ", ".join(f.name for f in meta.available_data_formats) or "none"
    raise InvalidRequestError(
        f"Format {data_format!r} is not available (available: {names})", paths=[meta.path]
    )


class Download:
    """One download of ``remote`` into ``fd`` (see :func:`download_file`)."""

    def __init__(
        self,
        transport: Transport,
        remote: str,
        meta: GSFileMetadata,
        fmt_url: str | None,
        fd: int,
        tmp: Path,
        tracker: ThrottledProgress,
        cancel: CancelToken | None,
    ) -> None:
        self.transport = transport
        self.remote = remote
        self.meta = meta
        self.policy = transport.transfer_policy()  # every part starts from it: one time budget per file
        self.fmt_url = fmt_url
        self.fd = fd
        self.tmp = tmp
        self.tracker = tracker
        self.cancel = cancel
        self.etag: str | None = None
        self._url: str | None = None  # current signed storage URL
        self._url_lock = threading.Lock()
        self._renewals = 0
        self._pos = 0  # sequential mode: bytes safely written so far

    # --- locating the bytes ---------------------------------------------------------------------------

    def _dm_get(self, offset: int) -> requests.Response:
        """GET the file from the Data Manager; follows its redirects to storage (remembering the URL)."""
        c = self.transport
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        params = {c.endpoint("format_param"): self.fmt_url} if self.fmt_url else None
        resp = c.request(
            "GET",
            c.route("files", self.remote),
            params=params,
            headers=headers,
            stream=True,
            paths=[self.remote],
        )
        for _ in range(5):
            if not resp.is_redirect:
                return resp
            location = urljoin(resp.url, resp.headers["Location"])
            resp.close()
            if location.startswith(c.server_url + "/datamanager/"):
                resp = c.request("GET", location, headers=headers, stream=True, paths=[self.remote])
                continue
            with self._url_lock:
                self._url = location
            return self._storage_get(location, headers)
        raise ServerError("Too many redirects while downloading", paths=[self.remote])

    def _storage_get(self, url: str, headers: dict[str, str]) -> requests.Response:
        try:
            return self.transport.storage_get(url, headers)
        except requests.RequestException as exc:
            raise error_for_exception(exc, url, [self.remote]) from exc

    def _open(self, start: int) -> requests.Response:
        """A response for the bytes from ``start`` on."""
        headers = {"Range": f"bytes={start}-"} if start else {}
        with self._url_lock:
            url = self._url
        if url is not None:
            resp = self._storage_get(url, headers)
            if resp.status_code not in (400, 401, 403):
                return resp
            resp.close()
            with self._url_lock:
                if self._url == url:
                    self._url = None  # expired signed URL: ask the Data Manager again
        return self._dm_get(start)

    # --- sequential ----------------------------------------------------------------------------------

    def _attempt_open(self, start: int) -> requests.Response | GSError:
        """Open a range; a retryable failure is returned (for the caller's retry policy), others raise."""
        try:
            return self._open(start)
        except (NotFoundError, AuthenticationError, InvalidRequestError):
            raise
        except GSError as exc:
            if not exc.retryable:
                raise
            return exc

    def sequential(self) -> tuple[str, int]:
        """One stream (resumed with Range after breaks), hashed on the fly; returns (md5, bytes)."""
        c = self.transport
        policy = self.policy
        pipe = HashPipe()
        written = 0
        try:
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.ftruncate(self.fd, 0)
            while True:
                self._check_cancel()
                failure: GSError
                opened = self._attempt_open(written)
                if isinstance(opened, GSError):
                    failure = opened
                else:
                    resp = opened
                    size = self.meta.size
                    if resp.status_code == 416 and size is not None and written == size:
                        resp.close()
                        break
                    if not resp.ok:
                        refused = self._refused(resp)
                        if refused is None:
                            continue
                        failure = refused
                    else:
                        if resp.status_code != 206 and written:  # Range ignored: start over
                            os.lseek(self.fd, 0, os.SEEK_SET)
                            os.ftruncate(self.fd, 0)
                            pipe.close()
                            pipe = HashPipe()
                            written = 0
                            self.tracker.set(0)
                        self.etag = resp.headers.get("ETag") or self.etag
                        self._pos = written
                        try:
                            self._copy(resp, pipe)
                            written = self._pos
                            break
                        except TransferError as exc:
                            failure = exc
                            written = self._pos  # resume from here with Range
                        finally:
                            resp.close()
                policy = c.next_attempt(policy, "GET", self.remote, failure, self.cancel)
            return pipe.hexdigest(), written
        finally:
            pipe.close()

    def _copy(self, resp: requests.Response, pipe: HashPipe) -> None:
        """Append the body at ``self._pos`` (advanced as bytes land, so a break keeps the progress)."""
        raw = resp.raw
        while True:
            self._check_cancel()
            try:
                chunk = raw.read(CHUNK, decode_content=False)
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                raise TransferError("The connection broke during the download", paths=[self.remote]) from exc
            if not chunk:
                return
            try:
                pwrite_all(self.fd, chunk, self._pos)
            except OSError as exc:
                raise _local_error(exc, self.tmp.parent) from exc
            pipe.feed(chunk)
            self._pos += len(chunk)
            self.tracker.add(len(chunk))

    def _refused(self, resp: requests.Response) -> GSError | None:
        """Storage answered with an error: ``None`` when the signed URL was dropped for a fresh one
        (try again at once), else the retryable failure (for the caller's retry policy); any other
        failure is raised."""
        failure = error_for_status(resp, [self.remote], "Download failed")
        resp.close()
        if self._renew(resp.status_code):
            return None
        if not failure.retryable:
            raise failure
        return failure

    def _renew(self, status: int) -> bool:
        """After storage refused a signed URL (expired): forget it so the next attempt asks the Data
        Manager for a fresh one. False once a few renewals did not help."""
        if status not in (400, 401, 403):
            return False
        with self._url_lock:
            if self._renewals >= 3:
                return False
            self._renewals += 1
            self._url = None
        return True

    def _check_cancel(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def run(self) -> tuple[str, int]:
        return self.sequential()


def download_file(
    transport: Transport, req: TransferRequest, *, data_format: str | GSDataFormat | None = None
) -> Path:
    """Implementation of :meth:`DataManagerClient.download` (``req.local``: a file path, or an existing
    folder to download into). Files of at least the configured ``resumable_download_threshold`` go to
    the journaled parallel downloader (:mod:`.ranged`)."""
    remote, cancel, progress = P.canonical(req.remote), req.cancel, req.progress
    local = Path(req.local)
    if local.is_dir():
        local = local / P.basename(remote)
    transport.store_breaker.check(remote)
    meta = transport.metadata(remote)
    if meta.is_directory:
        raise InvalidRequestError("This is a folder; download its files one by one (get -r)", paths=[remote])
    fmt_url = format_url(meta, data_format)
    if (
        fmt_url is None
        and meta.size is not None
        and meta.size >= transport.config.resumable_download_threshold
    ):
        # resumable across runs (journaled)
        return parallel_download(transport, TransferRequest(local, remote, progress, cancel), meta=meta)
    folder = local.parent
    if not folder.is_dir():
        raise LocalFileError("The destination folder does not exist", paths=[str(folder)])
    if fmt_url is None and meta.size:
        ensure_space(folder, meta.size)
    tmp = folder / f".gsdownload-{secrets.token_hex(6)}.part"
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    except OSError as exc:
        raise LocalFileError(
            f"Cannot write to the destination folder: {exc.strerror}", paths=[str(folder)]
        ) from exc
    ok = False
    try:
        job = Download(
            transport, remote, meta, fmt_url, fd, tmp, ThrottledProgress(progress, meta.size or 0), cancel
        )
        digest, written = job.run()
        transport.store_breaker.succeeded()
        expected_size = None if fmt_url else meta.size
        if expected_size is not None and written != expected_size:
            raise IntegrityError(
                f"Downloaded {written} bytes but the file has {expected_size}; {local} was not changed",
                paths=[remote],
            )
        expected = None if fmt_url else (meta.md5 or single_part_etag(job.etag))
        if expected and expected != digest:
            raise IntegrityError(
                f"Downloaded data does not match its checksum (expected {expected}, got {digest}); "
                f"{local} was not changed",
                paths=[remote],
            )
        try:
            os.fsync(fd)
        except OSError as exc:
            raise _local_error(exc, folder) from exc
        os.close(fd)
        fd = -1
        try:
            os.replace(tmp, local)
        except OSError as exc:
            raise LocalFileError(f"Cannot replace the file: {exc.strerror}", paths=[str(local)]) from exc
        fsync_dir(folder)
        job.tracker.finish()
        ok = True
    finally:
        if fd >= 0:
            os.close(fd)
        if not ok:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return local
