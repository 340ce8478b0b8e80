"""Resumable parallel ranged downloads of large files (journaled; verified by MD5 at the end).

Ranges (64 MiB by default) are fetched in parallel into a stable temporary file beside the target,
``.<name>.gsdownload``; each finished range is recorded in the transfer journal, so a download
interrupted by a crash, ``kill -9`` or a network loss continues where it stopped. The whole file is
hashed in order as its prefix completes and checked against the server's MD5 before it atomically
replaces the target. ``DataManagerClient.download`` calls :func:`parallel_download` for large files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.download import copy_body
from gsdesktop.datamanager.errors import (
    ConflictError,
    IntegrityError,
    InvalidRequestError,
    LocalFileError,
    TransferError,
)
from gsdesktop.datamanager.http import error_for_status
from gsdesktop.datamanager.journal import DownloadRecord, TransferJournal, shared_journal
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.transfer import (
    CancelToken,
    OrderedHasher,
    ProgressCallback,
    ThrottledProgress,
    fsync_dir,
    start_writeback,
)

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

log = logging.getLogger(__name__)

MIB = 1024 * 1024
DEFAULT_WORKERS = 4
DOWNLOAD_CHUNK = 64 * MIB
ATTEMPTS = 6


@dataclass
class DownloadStats:
    chunks_total: int = 0
    chunks_fetched: int = 0
    chunks_skipped: int = 0
    resumed: bool = False


class ParallelDownloader:
    """Resumable download of one file in parallel ranges (journaled), verified by MD5 at the end."""

    def __init__(
        self,
        client: DataManagerClient,
        *,
        journal: TransferJournal | None = None,
        workers: int = DEFAULT_WORKERS,
        chunk_size: int = DOWNLOAD_CHUNK,
    ) -> None:
        self.client = client
        self.journal = journal if journal is not None else shared_journal()
        self.workers = max(1, workers)
        self.chunk_size = max(MIB, chunk_size)
        self.stats = DownloadStats()

    def download(
        self,
        remote: str,
        local: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        meta: GSFileMetadata | None = None,
    ) -> Path:
        remote = P.canonical(remote)
        local = Path(local).absolute()
        if local.is_dir():
            local = local / P.basename(remote)
        meta = meta or self.client.metadata(remote)
        if meta.is_directory or meta.size is None:
            raise InvalidRequestError("Only files of known size can be downloaded in ranges", paths=[remote])
        size = meta.size
        version = json.dumps([meta.md5, size, meta.last_modified.isoformat() if meta.last_modified else None])
        key = json.dumps([self.client.server_url, self.client.username, remote, str(local)])
        temp = local.parent / f".{local.name}.gsdownload"
        if not local.parent.is_dir():
            raise LocalFileError("The destination folder does not exist", paths=[str(local.parent)])
        rec = self.journal.get_download(key)
        chunks = max(1, math.ceil(size / self.chunk_size))
        done: set[int] = set()
        if rec is not None and rec.etag == version and rec.size == size and rec.chunk == self.chunk_size:
            with contextlib.suppress(OSError):
                if temp.stat().st_size == size:
                    done = self.journal.done_chunks(key)
                    self.stats.resumed = bool(done)
        if not done:
            self.journal.put_download(DownloadRecord(key, str(temp), size, version, self.chunk_size))
        try:
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            raise LocalFileError(f"Cannot write the file: {exc.strerror}", paths=[str(temp)]) from exc
        try:
            if not done:
                os.ftruncate(fd, 0)
            os.ftruncate(fd, size)
            self.stats.chunks_total = chunks
            self.stats.chunks_skipped = len(done)
            tracker = ThrottledProgress(progress, size)
            tracker.set(sum(min(self.chunk_size, size - c * self.chunk_size) for c in done))
            hasher = OrderedHasher(fd, size, self.chunk_size, done)
            try:
                self._fetch(
                    remote,
                    fd,
                    size,
                    key,
                    [c for c in range(chunks) if c not in done],
                    tracker,
                    hasher,
                    cancel,
                )
                os.fsync(fd)  # while the hash catches up with the last bytes
                digest = hasher.result()
            except ConflictError:  # the file was replaced: what we have is of no use for a resume
                self.journal.drop_download(key)
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise
            finally:
                hasher.close()
            if meta.md5 and digest != meta.md5:
                self.journal.drop_download(key)
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise IntegrityError(
                    f"Downloaded data does not match its checksum (expected {meta.md5}, got {digest}); "
                    f"{local} was not changed",
                    paths=[remote],
                )
        finally:
            os.close(fd)
        try:
            os.replace(temp, local)
        except OSError as exc:
            raise LocalFileError(f"Cannot replace the file: {exc.strerror}", paths=[str(local)]) from exc
        fsync_dir(local.parent)
        self.journal.drop_download(key)
        tracker.finish()
        return local

    def _fetch(
        self,
        remote: str,
        fd: int,
        size: int,
        key: str,
        todo: list[int],
        tracker: ThrottledProgress,
        hasher: OrderedHasher,
        cancel: CancelToken | None,
    ) -> None:
        url_lock = threading.Lock()
        url: list[str] = []
        etag: list[str] = []  # the version every range must come from (the first answer's ETag)

        def signed(stale: str | None) -> str:
            with url_lock:
                if not url or url[0] == stale:
                    url[:] = [self.client.download_url(remote)]
                return url[0]

        def check() -> None:
            if cancel is not None:
                cancel.raise_if_cancelled()

        def fetch(chunk: int) -> None:
            start = chunk * self.chunk_size
            end = min(size, start + self.chunk_size) - 1
            at = [start]  # bytes before at[0] have landed; a retry resumes there (nothing is written twice)

            def landed(now: int) -> None:
                tracker.add(now - at[0])
                at[0] = now
                hasher.advance(chunk, now - start)

            delay = 0.3
            current: str | None = None
            for _attempt in range(ATTEMPTS):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                current = signed(current if current else None)
                headers = {"Range": f"bytes={at[0]}-{end}"}
                if etag:
                    headers["If-Match"] = etag[0]  # a replaced object answers 412, never mixed bytes
                try:
                    with self.client._session.get(
                        current, headers=headers, stream=True, timeout=self.client.timeout
                    ) as resp:
                        if resp.status_code in (400, 401, 403):
                            continue  # expired URL: a fresh one next time round
                        if resp.status_code == 412:
                            raise ConflictError(
                                "The file was replaced on the server during the download", paths=[remote]
                            )
                        if resp.status_code != 206 or not resp.headers.get("Content-Range", "").startswith(
                            f"bytes {at[0]}-"
                        ):
                            raise error_for_status(resp, [remote], "Download failed")
                        if not etag and resp.headers.get("ETag"):
                            with url_lock:
                                etag[:] = etag or [resp.headers["ETag"]]
                        if copy_body(resp, fd, at[0], end + 1, check, landed, [remote]) != end + 1:
                            raise TransferError("The connection broke during the download", paths=[remote])
                    start_writeback(fd, start, end + 1 - start)  # so the final fsync finds little to do
                    self.journal.chunk_done(key, chunk)
                    self.stats.chunks_fetched += 1
                    hasher.mark(chunk)
                    return
                except (requests.RequestException, TransferError) as exc:
                    log.info("range %d-%d failed at %d (%s); retrying", start, end, at[0], exc)
                except OSError as exc:
                    raise LocalFileError(
                        f"Cannot write the file: {exc.strerror}", paths=[str(remote)]
                    ) from exc
                time.sleep(delay + random.random() * 0.2)
                delay = min(delay * 2, 8.0)
            raise TransferError(
                f"Could not download bytes {start}-{end} after several attempts", paths=[remote]
            )

        with ThreadPoolExecutor(self.workers, thread_name_prefix="gs-range") as pool:
            futures = [pool.submit(fetch, c) for c in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in done:
                exc = f.exception()
                if exc is not None:
                    for other in futures:
                        other.cancel()
                    raise exc


def parallel_download(
    client: DataManagerClient,
    remote: str,
    local: Path,
    *,
    meta: GSFileMetadata | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """The hook :meth:`DataManagerClient.download` may call for large files (no format conversion)."""
    workers = int(os.environ.get("GSDESKTOP_DOWNLOAD_WORKERS", DEFAULT_WORKERS))
    return ParallelDownloader(client, workers=workers).download(
        remote, local, progress=progress, cancel=cancel, meta=meta
    )
