"""Resumable parallel ranged downloads of large files (journaled; verified by MD5 at the end).

Blocks (8 MiB by default) are fetched in parallel, several consecutive ones per request (32 MiB by
default), into memory buffers, written from there into a stable temporary file beside the target,
``.<name>.gsdownload`` (with direct I/O where the file system allows it), and hashed in file order
from memory (:mod:`.blocks`); each finished block is recorded in the transfer journal, so a download
interrupted by a crash, ``kill -9`` or a network loss continues where it stopped. The whole file is
checked against the server's MD5 before it atomically replaces the target.
:func:`~gsdesktop.datamanager.download.download_file` calls :func:`parallel_download` for large files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import mmap
import os
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import requests

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.blocks import Aborted, BlockWriter, BufferPool, InOrderHasher
from gsdesktop.datamanager.errors import (
    ConflictError,
    GSError,
    IntegrityError,
    InvalidRequestError,
    LocalFileError,
    TransferError,
)
from gsdesktop.datamanager.http import error_for_exception, error_for_status, read_into, single_part_etag
from gsdesktop.datamanager.journal import DownloadRecord, TransferJournal, shared_journal
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.transfer import (
    CancelToken,
    ThrottledProgress,
    ensure_space,
    fsync_dir,
    note_kept,
)
from gsdesktop.datamanager.transport import TransferRequest, Transport

log = logging.getLogger(__name__)

MIB = 1024 * 1024
DEFAULT_WORKERS = 4
DOWNLOAD_CHUNK = 8 * MIB
# Bytes asked for in one ranged GET (consecutive blocks). Storage pays per request, and SeaweedFS's
# cost per request grows with the object's size (it reads the object's chunk list every time): for
# 5 GiB, 8 MiB requests cost it 7.4-9.1 s of CPU, 32 MiB requests 5.2-6.4 s (measured).
DOWNLOAD_SPAN = 32 * MIB
ATTEMPTS = 6
BROKEN = "The connection broke during the download"
WRITERS = 2  # blocks being written at once (direct I/O keeps the device busy with two)


@dataclass
class DownloadStats:
    chunks_total: int = 0
    chunks_fetched: int = 0
    chunks_skipped: int = 0
    resumed: bool = False


class _Cursor:
    """Where a span's download stands: the block being received (index in the span), its bytes in
    ``buf`` so far, and that buffer (``None`` until one is taken from the pool)."""

    def __init__(self, tracker: ThrottledProgress) -> None:
        self.index = 0
        self.done = 0
        self.buf: mmap.mmap | None = None
        self._tracker = tracker

    def landed(self, now: int) -> None:
        self._tracker.add(now - self.done)
        self.done = now


class ParallelDownloader:
    """Resumable download of one file in parallel ranges (journaled), verified by MD5 at the end."""

    def __init__(
        self,
        transport: Transport,
        *,
        journal: TransferJournal | None = None,
        workers: int = DEFAULT_WORKERS,
        chunk_size: int = DOWNLOAD_CHUNK,
        span: int = DOWNLOAD_SPAN,
    ) -> None:
        self.transport = transport
        self.journal = journal if journal is not None else shared_journal()
        self.workers = max(1, workers)
        self.chunk_size = max(MIB, chunk_size // MIB * MIB)  # whole MiB: aligned for direct I/O
        self.span_blocks = max(1, span // self.chunk_size)  # blocks asked for in one request
        self.stats = DownloadStats()

    def download(self, req: TransferRequest, *, meta: GSFileMetadata | None = None) -> Path:
        """Download ``req.remote`` to ``req.local`` (a file path, or an existing folder to download into),
        resuming a journaled download of the same file version; returns the file's path."""
        remote = P.canonical(req.remote)
        local = Path(req.local).absolute()
        progress, cancel = req.progress, req.cancel
        if local.is_dir():
            local = local / P.basename(remote)
        meta = meta or self.transport.metadata(remote)
        if meta.is_directory or meta.size is None:
            raise InvalidRequestError("Only files of known size can be downloaded in ranges", paths=[remote])
        size = meta.size
        block = self.chunk_size
        version = json.dumps([meta.md5, size, meta.last_modified.isoformat() if meta.last_modified else None])
        key = json.dumps([self.transport.server_url, self.transport.username, remote, str(local)])
        temp = local.parent / f".{local.name}.gsdownload"
        if not local.parent.is_dir():
            raise LocalFileError("The destination folder does not exist", paths=[str(local.parent)])
        rec = self.journal.get_download(key)
        chunks = max(1, math.ceil(size / block))
        done: set[int] = set()
        if rec is not None and rec.etag == version and rec.size == size and rec.chunk == block:
            with contextlib.suppress(OSError):
                have = temp.stat().st_size  # journaled blocks the file really holds
                done = {c for c in self.journal.done_chunks(key) if c * block + self._length(c, size) <= have}
                self.stats.resumed = bool(done)
        ensure_space(local.parent, size - sum(self._length(c, size) for c in done))
        if not done:
            self.journal.put_download(DownloadRecord(key, str(temp), size, version, block))
        try:
            writer = BlockWriter(temp)
        except OSError as exc:
            raise LocalFileError(f"Cannot write the file: {exc.strerror}", paths=[str(temp)]) from exc
        abort = threading.Event()
        # A block gets a buffer only when it is fewer than `count` blocks ahead of the hash
        # (InOrderHasher.wait_for_turn), so the block the hash waits for always finds one free; a
        # span per connection, plus one, keeps every connection busy.
        pool = BufferPool(self.workers * self.span_blocks + 1, block, abort)
        try:
            if not done:
                os.ftruncate(writer.fd, 0)
            self.stats.chunks_total = chunks
            self.stats.chunks_skipped = len(done)
            tracker = ThrottledProgress(progress, size)
            tracker.set(sum(self._length(c, size) for c in done))
            hasher = InOrderHasher(chunks, block, size, done, writer.fd, pool.release, abort)
            try:
                todo = iter(runs([c for c in range(chunks) if c not in done], self.span_blocks))
                etag = self._fetch(remote, writer, size, key, todo, tracker, hasher, pool, abort, cancel)
                writer.finish(size)  # the flush runs while the hash catches up with the last block
                digest = hasher.result()
            except ConflictError:  # the file was replaced: what we have is of no use for a resume
                self.journal.drop_download(key)
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise
            except GSError as exc:
                note_kept(exc, len(self.journal.done_chunks(key)), chunks, "blocks are on disk", "download")
                raise
            except OSError as exc:
                raise LocalFileError(
                    f"Cannot write the file: {exc.strerror or exc}", paths=[str(temp)]
                ) from exc
            finally:
                hasher.close()
            expected = meta.md5 or single_part_etag(etag)  # no MD5 recorded: a single-part ETag is one
            if expected and digest != expected:
                self.journal.drop_download(key)
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise IntegrityError(
                    f"Downloaded data does not match its checksum (expected {expected}, got {digest}); "
                    f"{local} was not changed",
                    paths=[remote],
                )
        finally:
            writer.close()
            pool.close()
        try:
            os.replace(temp, local)
        except OSError as exc:
            raise LocalFileError(f"Cannot replace the file: {exc.strerror}", paths=[str(local)]) from exc
        fsync_dir(local.parent)
        self.journal.drop_download(key)
        tracker.finish()
        return local

    def _length(self, chunk: int, size: int) -> int:
        return min(self.chunk_size, size - chunk * self.chunk_size)

    def _fetch(
        self,
        remote: str,
        writer: BlockWriter,
        size: int,
        key: str,
        todo: Iterator[list[int]],
        tracker: ThrottledProgress,
        hasher: InOrderHasher,
        pool: BufferPool,
        abort: threading.Event,
        cancel: CancelToken | None,
    ) -> str | None:
        url_lock = threading.Lock()
        url: list[str] = []
        etag: list[str] = []  # the version every range must come from (the first answer's ETag)

        def signed(stale: str | None) -> str:
            with url_lock:
                if not url or url[0] == stale:
                    url[:] = [self.transport.download_url(remote)]
                return url[0]

        def check() -> None:
            if abort.is_set():
                raise Aborted
            if cancel is not None:
                cancel.raise_if_cancelled()

        take = threading.Lock()

        def store(chunk: int, buf: mmap.mmap) -> None:  # on a writer thread: receiving goes on meanwhile
            length = self._length(chunk, size)
            try:
                writer.write(buf, length, chunk * self.chunk_size)
            except BaseException:
                abort.set()
                raise
            pool.release(buf)
            self.journal.chunk_done(key, chunk)
            with take:
                self.stats.chunks_fetched += 1

        writes: list[Future[None]] = []
        write_threads = ThreadPoolExecutor(WRITERS, thread_name_prefix="gs-write")

        def hand_over(chunk: int, buf: mmap.mmap) -> None:
            pool.share(buf, 2)  # written and hashed at the same time; free again when both are done
            hasher.submit(chunk, buf, self._length(chunk, size))
            with take:
                writes.append(write_threads.submit(store, chunk, buf))

        def receive(resp: requests.Response, span: list[int], at: _Cursor) -> None:
            """Read the response into pool buffers, block by block, handing each one over when full."""
            while at.index < len(span):
                length = self._length(span[at.index], size)
                if at.buf is None:
                    hasher.wait_for_turn(span[at.index], pool.count)  # no block runs too far ahead
                    at.buf = pool.get()
                with memoryview(at.buf) as view:
                    got = read_into(resp, view, at.done, length, check, at.landed, [remote])
                if got != length:
                    raise TransferError(BROKEN, paths=[remote])
                hand_over(span[at.index], at.buf)
                at.buf, at.index, at.done = None, at.index + 1, 0

        def fetch(span: list[int]) -> None:
            """Blocks ``span`` (consecutive) with one ranged GET; a retry asks for the rest from the
            first byte not received (nothing is fetched twice)."""
            end = span[-1] * self.chunk_size + self._length(span[-1], size) - 1
            at = _Cursor(tracker)
            # one try and ATTEMPTS - 1 retries, backing off on the cancel token (no time budget: a
            # large file's spans may take long, and every span starts its own count)
            policy = self.transport.transfer_policy(ATTEMPTS - 1, timed=False)
            renewals = 0
            current: str | None = None
            try:
                while True:
                    check()
                    current = signed(current if current else None)
                    first = span[at.index] * self.chunk_size + at.done
                    headers = {"Range": f"bytes={first}-{end}"}
                    if etag:
                        headers["If-Match"] = etag[0]  # a replaced object answers 412, never mixed bytes
                    failure: GSError
                    try:
                        with self.transport.storage_get(current, headers) as resp:
                            if resp.status_code in (400, 401, 403) and renewals < ATTEMPTS:
                                renewals += 1
                                log.info(
                                    "range at %d: storage answered %d; asking for a fresh URL",
                                    first,
                                    resp.status_code,
                                )
                                continue  # expired URL: a fresh one next time round
                            check_answer(resp, first)
                            receive(resp, span, at)
                        return
                    except requests.RequestException as exc:
                        failure = error_for_exception(exc, current, [remote])
                    except TransferError as exc:
                        failure = exc
                    log.info("range at %d failed after %d bytes (%s); retrying", first, at.done, failure)
                    gave_up = TransferError(
                        f"Could not download bytes {span[at.index] * self.chunk_size}-{end} after several "
                        "attempts",
                        paths=[remote],
                    )
                    gave_up.__cause__ = failure
                    policy = self.transport.next_attempt(policy, "GET", remote, gave_up, cancel)
            finally:
                if at.buf is not None:
                    pool.put(at.buf)

        def check_answer(resp: requests.Response, first: int) -> None:
            if resp.status_code == 412:
                raise ConflictError("The file was replaced on the server during the download", paths=[remote])
            if resp.status_code != 206 or not resp.headers.get("Content-Range", "").startswith(
                f"bytes {first}-"
            ):
                raise error_for_status(resp, [remote], "Download failed")
            if not etag and resp.headers.get("ETag"):
                with url_lock:
                    etag[:] = etag or [resp.headers["ETag"]]

        def worker() -> None:
            while True:
                with take:
                    span = next(todo, None)
                if span is None:
                    return
                fetch(span)

        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="gs-range") as fetch_threads:
                futures = [fetch_threads.submit(worker) for _ in range(self.workers)]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                if any(f.exception() is not None for f in done):
                    abort.set()
                    wait(futures)
        finally:
            write_threads.shutdown(wait=True)  # no write may outlive the download
        errors = [e for f in [*futures, *writes] if (e := f.exception()) is not None]
        if errors:
            abort.set()
            raise next((e for e in errors if not isinstance(e, Aborted)), errors[0])
        return etag[0] if etag else None


def runs(blocks: list[int], longest: int) -> list[list[int]]:
    """``blocks`` (ascending) cut into runs of consecutive numbers, each at most ``longest`` long."""
    out: list[list[int]] = []
    for b in blocks:
        if out and b == out[-1][-1] + 1 and len(out[-1]) < longest:
            out[-1].append(b)
        else:
            out.append([b])
    return out


def parallel_download(
    transport: Transport,
    req: TransferRequest,
    *,
    meta: GSFileMetadata | None = None,
    block: int | None = None,
) -> Path:
    """A resumable download of ``req.remote`` with the transport's configured workers, block and span
    (no format conversion). ``block`` overrides the block size (an interrupted download resumes only
    with the block size it was journaled with)."""
    config = transport.config
    return ParallelDownloader(
        transport,
        workers=config.download_workers,
        chunk_size=block or config.download_block,
        span=config.download_span,
    ).download(req, meta=meta)
