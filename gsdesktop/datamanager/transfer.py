"""Transfer plumbing: cancellation, throttled/aggregated progress, streamed hashing, upload bodies.

``ProgressCallback`` is ``Callable[[int, int], None]`` called with (bytes done, total bytes).
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from gsdesktop.datamanager.errors import CancelledError, GSError, LocalFileError

ProgressCallback = Callable[[int, int], None]

CHUNK = 1024 * 1024  # 1 MiB: read/write/hash unit for every transfer


class CancelToken:
    """A thread-safe cancellation flag shared by a caller and the transfers it started."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`CancelledError` once :meth:`cancel` was called."""
        if self._event.is_set():
            raise CancelledError("Transfer cancelled")

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; returns True (early) if cancelled meanwhile."""
        return self._event.wait(timeout)


class ThrottledProgress:
    """Forward (done, total) to ``callback`` at most every ``interval`` seconds, plus the final call."""

    def __init__(self, callback: ProgressCallback | None, total: int, interval: float = 0.1) -> None:
        self._callback = callback
        self.total = total
        self.done = 0
        self._interval = interval
        self._last = 0.0
        self._sent = (-1, -1)
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            self._emit(force=self.done >= self.total)

    def set(self, done: int) -> None:
        with self._lock:
            self.done = done
            self._emit(force=done >= self.total)

    def finish(self) -> None:
        with self._lock:
            self.done = max(self.done, self.total)
            self._emit(force=True)

    def _emit(self, force: bool) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if (force and self._sent != (self.done, self.total)) or now - self._last >= self._interval:
            self._last = now
            self._sent = (self.done, self.total)
            self._callback(self.done, self.total)


class ProgressAggregator:
    """Sum the progress of many concurrent transfers into one throttled callback.

    Each transfer gets its own :meth:`child` callback; the aggregator turns their (done, total) calls
    into increments, so a retried transfer that restarts from zero is not counted twice.
    """

    def __init__(self, callback: ProgressCallback | None, total: int, interval: float = 0.1) -> None:
        self._throttle = ThrottledProgress(callback, total, interval)
        self._lock = threading.Lock()

    @property
    def done(self) -> int:
        return self._throttle.done

    @property
    def total(self) -> int:
        return self._throttle.total

    def child(self) -> ProgressCallback:
        last = [0]

        def report(done: int, _total: int) -> None:
            with self._lock:
                delta = done - last[0]
                last[0] = done
            if delta:
                self._throttle.add(delta)

        return report

    def finish(self) -> None:
        self._throttle.finish()


def note_kept(exc: GSError, kept: int, total: int, what: str, transfer: str) -> None:
    """Tell whoever reads ``exc`` what a journaled transfer keeps for its next attempt, when ``exc`` is
    a failure that may pass or a cancel: ``"212 of 320 parts are stored and kept: the upload
    continues from there next time."``"""
    if kept and (exc.retryable or isinstance(exc, CancelledError)):
        exc.add_note(f"{kept} of {total} {what} and kept: the {transfer} continues from there next time.")


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def ensure_space(folder: Path, need: int) -> None:
    """Refuse a download that cannot fit before any of it is written (a 50 GB file that fails at
    40 GB has cost an hour); where the free space cannot be read, the writes themselves decide."""
    if need <= 0:
        return
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < need:
        raise LocalFileError(
            f"Not enough disk space: the download needs {human_bytes(need)} more, "
            f"{human_bytes(free)} is free",
            paths=[str(folder)],
        )


def md5_file(path: Path, cancel: CancelToken | None = None) -> tuple[str, str, int]:
    """One streamed pass over ``path``: (hex MD5, base64 MD5, size in bytes).

    Raises:
        LocalFileError: the file cannot be read.
        CancelledError: ``cancel`` was triggered.
    """
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with open(path, "rb", buffering=0) as fh:
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                n = fh.readinto(buf)
                if not n:
                    break
                digest.update(view[:n])
                size += n
    except OSError as exc:
        raise LocalFileError(f"Cannot read local file: {exc.strerror or exc}", paths=[str(path)]) from exc
    return digest.hexdigest(), base64.b64encode(digest.digest()).decode("ascii"), size


class FileBody:
    """A sized, readable upload body over an open file that reports progress and honours cancel.

    ``requests`` reads ``len()`` for Content-Length and then calls :meth:`read` in blocks.
    """

    def __init__(
        self,
        fh: BinaryIO,
        size: int,
        progress: ThrottledProgress | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self._fh = fh
        self._size = size
        self._sent = 0
        self._progress = progress
        self._cancel = cancel

    def __len__(self) -> int:
        return self._size

    @property
    def sent(self) -> int:
        return self._sent

    def read(self, amt: int = -1) -> bytes:
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()
        remaining = self._size - self._sent
        if remaining <= 0:
            return b""
        want = remaining if amt is None or amt < 0 else min(amt, remaining)
        data = self._fh.read(max(want, 1))
        self._sent += len(data)
        if self._progress is not None and data:
            self._progress.add(len(data))
        return data


class HashPipe:
    """MD5 computed in a helper thread so hashing overlaps network reads and disk writes.

    ``hashlib`` releases the GIL on large buffers, so on two cores this hides the hash cost.
    """

    _STOP = b""

    def __init__(self) -> None:
        self._digest = hashlib.md5(usedforsecurity=False)
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=32)
        self._thread = threading.Thread(target=self._run, name="gs-md5", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if not data:
                return
            self._digest.update(data)

    def feed(self, data: bytes) -> None:
        if data:
            self._queue.put(data)

    def hexdigest(self) -> str:
        self.close()
        return self._digest.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join()


def hash_prefix(path: Path, length: int, pipe: HashPipe) -> None:
    """Feed the first ``length`` bytes of an existing partial file into ``pipe`` (resume)."""
    with open(path, "rb") as fh:
        left = length
        while left > 0:
            data = fh.read(min(CHUNK, left))
            if not data:
                break
            pipe.feed(data)
            left -= len(data)


def _sync_range_fn() -> Callable[[int, int, int], None]:
    """``sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE)``: start write-back early (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.sync_file_range
    except Exception:  # no libc / no such call (macOS, Windows)
        return lambda fd, off, n: None
    fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]

    def start_writeback(fd: int, off: int, n: int) -> None:
        fn(fd, off, n, 2)

    return start_writeback


start_writeback = _sync_range_fn()
"""Ask the OS to start writing ``fd``'s bytes ``[off, off + n)`` to disk now (no-op off Linux)."""


_SEEK_LOCK = threading.Lock()  # positioned I/O where the OS has no pread/pwrite (Windows)


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (``os.pwrite``; a locked seek + write where it is missing)."""
    view = memoryview(data)
    while view:
        if hasattr(os, "pwrite"):
            n = os.pwrite(fd, view, offset)
        else:
            with _SEEK_LOCK:
                os.lseek(fd, offset, os.SEEK_SET)
                n = os.write(fd, view)
        view = view[n:]
        offset += n


def pread_blocks(fd: int, offset: int, length: int, block: int = 4 * CHUNK) -> Iterator[bytes]:
    """``length`` bytes of ``fd`` from ``offset``, in blocks (raises OSError if the file is shorter)."""
    while length > 0:
        want = min(block, length)
        if hasattr(os, "pread"):
            data = os.pread(fd, want, offset)
        else:
            with _SEEK_LOCK:
                os.lseek(fd, offset, os.SEEK_SET)
                data = os.read(fd, want)
        if not data:
            raise OSError("the file is shorter than expected")
        yield data
        offset += len(data)
        length -= len(data)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort; not every platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
