"""Building blocks of the parallel ranged download: memory blocks, a direct-I/O writer, an in-order hasher.

A large download fetches fixed-size blocks in parallel. Each block is received into a page-aligned
memory buffer (:class:`BufferPool`), written to its place in the file straight from that buffer
(:class:`BlockWriter`, ``O_DIRECT`` where the file system allows it) and, at the same time, hashed by
:class:`InOrderHasher`, which takes the blocks in file order from memory; the buffer goes back to the
pool when both are done. So the data is never read back, and with direct I/O it never goes through
the page cache: filling the page cache cost about 1.9 s of CPU per GiB on the build machine (a VM),
more than the MD5. The pool bounds memory (``count * block`` bytes) and how far blocks run ahead of the hash.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mmap
import os
import queue
import threading
from collections.abc import Callable

from gsdesktop.datamanager.transfer import pread_blocks, start_writeback

ALIGN = 4096  # direct I/O: offsets, lengths and buffer addresses are multiples of this
FLUSH_EVERY = 256 * 1024 * 1024  # direct writes: ask the device to flush its cache after this many bytes


class Aborted(Exception):
    """The download is being abandoned (another block failed, or it was cancelled)."""


class BufferPool:
    """``count`` page-aligned (anonymous ``mmap``) buffers of ``size`` bytes, reused for every block."""

    def __init__(self, count: int, size: int, abort: threading.Event) -> None:
        self.size = size
        self.count = max(1, count)
        self._abort = abort
        self._all = [mmap.mmap(-1, size) for _ in range(self.count)]
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}
        for buf in self._all:
            self._free.put(buf)

    def get(self) -> mmap.mmap:
        """A free buffer; waits while every buffer holds a block not hashed yet (raises :class:`Aborted`)."""
        while True:
            if self._abort.is_set():
                raise Aborted
            try:
                return self._free.get(timeout=0.2)
            except queue.Empty:
                continue

    def put(self, buf: mmap.mmap) -> None:
        self._free.put(buf)

    def share(self, buf: mmap.mmap, users: int) -> None:
        """``buf`` goes back to the pool after ``users`` calls of :meth:`release`."""
        with self._lock:
            self._users[id(buf)] = users

    def release(self, buf: mmap.mmap) -> None:
        """One user is done with ``buf`` (a buffer never shared is freed at once)."""
        with self._lock:
            left = self._users.pop(id(buf), 1) - 1
            if left > 0:
                self._users[id(buf)] = left
                return
        self._free.put(buf)

    def close(self) -> None:
        """Unmap every buffer (only once no thread uses them any more)."""
        for buf in self._all:
            with contextlib.suppress(BufferError, ValueError):
                buf.close()


class BlockWriter:
    """Positioned writes of whole blocks into ``path``: ``O_DIRECT`` when possible, else buffered.

    A direct write of the file's last, partial block is padded to :data:`ALIGN`; :meth:`finish` cuts
    the file to its real size and makes it durable.
    """

    def __init__(self, path: os.PathLike[str] | str, *, direct: bool = True) -> None:
        self.path = path
        self._buffered = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        self._direct: int | None = None
        flag = getattr(os, "O_DIRECT", 0)
        if direct and flag:
            try:
                self._direct = os.open(path, os.O_WRONLY | flag)
            except OSError:  # tmpfs and some FUSE file systems refuse O_DIRECT
                self._direct = None
        self._lock = threading.Lock()
        self._unflushed = 0
        self._flusher: threading.Thread | None = None

    @property
    def direct(self) -> bool:
        return self._direct is not None

    @property
    def fd(self) -> int:
        """A buffered descriptor of the file (size, truncation, reading back)."""
        return self._buffered

    def write(self, buf: mmap.mmap, length: int, offset: int) -> None:
        """Write the first ``length`` bytes of ``buf`` at ``offset``."""
        fd = self._direct
        if fd is not None and offset % ALIGN == 0:
            padded = min(-(-length // ALIGN) * ALIGN, len(buf))
            try:
                with memoryview(buf) as view:
                    n = os.pwrite(fd, view[:padded], offset)
                if n >= length:
                    self._flush_now_and_then(n)
                    return
                length, offset, start = length - n, offset + n, n  # a short write: finish buffered
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._give_up_direct()  # this file system takes no direct writes after all
                start = 0
        else:
            start = 0
        with memoryview(buf) as view:
            part = view[start : start + length]
            first = offset
            while part:
                n = os.pwrite(self._buffered, part, offset)
                part, offset = part[n:], offset + n
        start_writeback(self._buffered, first, offset - first)  # so the final fsync finds little to do

    def _flush_now_and_then(self, written: int) -> None:
        """Direct writes sit in the device's cache until a flush: flush every :data:`FLUSH_EVERY`
        bytes on a helper thread, so the final fsync does not pay for the whole file at once."""
        with self._lock:
            self._unflushed += written
            if self._unflushed < FLUSH_EVERY or (self._flusher is not None and self._flusher.is_alive()):
                return
            self._unflushed = 0
            self._flusher = threading.Thread(target=self._flush, name="gs-flush", daemon=True)
            self._flusher.start()

    def _flush(self) -> None:
        with contextlib.suppress(OSError):  # the final fsync reports any error
            getattr(os, "fdatasync", os.fsync)(self._buffered)

    def _join_flusher(self) -> None:
        flusher = self._flusher
        if flusher is not None:
            flusher.join()

    def _give_up_direct(self) -> None:
        with self._lock:
            fd, self._direct = self._direct, None
        if fd is not None:
            os.close(fd)

    def finish(self, size: int) -> None:
        """The file is ``size`` bytes long and on disk."""
        self._join_flusher()
        os.ftruncate(self._buffered, size)
        os.fsync(self._buffered)

    def close(self) -> None:
        self._join_flusher()
        self._give_up_direct()
        os.close(self._buffered)


class InOrderHasher:
    """MD5 of blocks that arrive in any order, hashed in file order on its own thread.

    ``submit(index, buf, length)`` hands over a block that is in memory; blocks already on disk (a
    resumed download) are read back from ``read_fd``. ``release(buf)`` is called once a block is hashed.
    """

    def __init__(
        self,
        blocks: int,
        block_size: int,
        size: int,
        on_disk: set[int],
        read_fd: int,
        release: Callable[[mmap.mmap], None],
        abort: threading.Event,
    ) -> None:
        self._blocks = blocks
        self._block = block_size
        self._size = size
        self._on_disk = on_disk
        self._fd = read_fd
        self._release = release
        self._abort = abort
        self._ready: dict[int, tuple[mmap.mmap, int]] = {}
        self._next = 0  # the block hashed next
        self._cond = threading.Condition()
        self._digest = hashlib.md5(usedforsecurity=False)
        self._error: BaseException | None = None
        self._complete = False
        self._thread = threading.Thread(target=self._run, name="gs-md5-blocks", daemon=True)
        self._thread.start()

    def submit(self, index: int, buf: mmap.mmap, length: int) -> None:
        with self._cond:
            self._ready[index] = (buf, length)
            self._cond.notify_all()

    def wait_for_turn(self, index: int, window: int) -> None:
        """Wait until block ``index`` is less than ``window`` blocks ahead of the block hashed next.

        With ``window`` = the number of buffers, only blocks the hash is about to reach hold buffers,
        so the block it waits for always finds one free (raises :class:`Aborted`)."""
        with self._cond:
            while index >= self._next + window:
                if self._abort.is_set():
                    raise Aborted
                self._cond.wait(0.2)

    def _advance(self, index: int) -> None:
        with self._cond:
            self._next = index + 1
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            for index in range(self._blocks):
                if index in self._on_disk:
                    offset = index * self._block
                    for data in pread_blocks(self._fd, offset, min(self._block, self._size - offset)):
                        self._digest.update(data)
                    self._advance(index)
                    continue
                with self._cond:
                    while index not in self._ready:
                        if self._abort.is_set():
                            return
                        self._cond.wait(0.2)
                    buf, length = self._ready.pop(index)
                try:
                    with memoryview(buf) as view:
                        self._digest.update(view[:length])
                finally:
                    self._release(buf)
                self._advance(index)
            self._complete = True
        except BaseException as exc:
            self._error = exc
            self._abort.set()

    def result(self) -> str:
        """The whole file's MD5 (waits for the last block)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if not self._complete:
            raise Aborted
        return self._digest.hexdigest()

    def close(self) -> None:
        self._abort.set()
        self._thread.join(timeout=60)
