"""MD5 of every part of a file and of the whole file, in one read pass, on a thread of its own.

A multipart upload needs each part's MD5 before that part is sent (its URL binds Content-MD5) and the
whole file's MD5 for the server's record. :class:`PartHasher` reads the file once, in order, and
publishes each part's MD5 the moment the reader has passed it, so parts can go out while the rest of
the file is still being hashed; ``result()`` waits for the end. The whole-file MD5 runs on a helper
thread fed with the same buffers, so the two digests use two cores and the file is read once.

With a ``lead``, the reader stays at most that many bytes ahead of the first part not yet sent (the
uploader reports each sent part): the parts are then still in the page cache when they are sent, so a
file larger than memory is read from disk once, not twice.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from gsdesktop.datamanager.errors import CancelledError, LocalFileError
from gsdesktop.datamanager.transfer import CancelToken

READ_SIZE = 4 * 1024 * 1024


def part_count(size: int, part_size: int) -> int:
    """How many parts of ``part_size`` bytes hold ``size`` bytes (an empty file is one empty part)."""
    return max(1, -(-size // part_size))


class FileChangedError(LocalFileError):
    """The local file changed while it was being hashed or uploaded."""


class FixedDigests:
    """Part MD5s known in advance (a resumed upload): the same interface as :class:`PartHasher`."""

    def __init__(self, md5s: list[str]) -> None:
        self._md5s = md5s

    def known(self, number: int) -> bool:
        return True

    def sent(self, number: int) -> None:
        """Part ``number`` is stored (nothing to pace here)."""

    def part(self, number: int, cancel: CancelToken | None = None) -> str:
        return self._md5s[number - 1]


class PartHasher:
    """Hash ``path`` in parts of ``part_size`` bytes and as a whole.

    The file must still be ``size`` bytes long when the reader reaches its end, else every waiter gets
    :class:`FileChangedError`. Errors and cancellation reach whoever waits in :meth:`part`/:meth:`result`.
    """

    def __init__(
        self,
        path: Path,
        part_size: int,
        size: int,
        *,
        cancel: CancelToken | None = None,
        lead: int | None = None,
    ) -> None:
        if part_size <= 0:
            raise ValueError("part_size must be positive")
        self.path = Path(path)
        self.part_size = part_size
        self.size = size
        self._cancel = cancel
        self._lead = lead
        self._sent: set[int] = set()
        self._first_unsent = 1
        self._parts: list[str] = []
        self._whole = ""
        self._error: BaseException | None = None
        self._done = False
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="gs-md5-parts", daemon=True)

    # -- the reader thread ------------------------------------------------------------------------------
    def start(self) -> PartHasher:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            whole, parts = self._read()
        except BaseException as exc:  # handed to the waiters
            with self._cond:
                self._error = exc
                self._done = True
                self._cond.notify_all()
            return
        with self._cond:
            self._whole = whole
            self._parts = parts
            self._done = True
            self._cond.notify_all()

    def _read(self) -> tuple[str, list[str]]:
        feed: queue.Queue[memoryview | None] = queue.Queue(maxsize=8)
        whole = hashlib.md5(usedforsecurity=False)

        def whole_worker() -> None:
            while (item := feed.get()) is not None:
                whole.update(item)

        helper = threading.Thread(target=whole_worker, name="gs-md5-whole", daemon=True)
        helper.start()
        total = 0
        try:
            with open(self.path, "rb", buffering=0) as fh:
                current, in_part = hashlib.md5(usedforsecurity=False), 0
                while True:
                    self._check_stop()
                    self._wait_for_room(total)
                    buf = fh.read(min(READ_SIZE, self.part_size - in_part))
                    if not buf:
                        break
                    view = memoryview(buf)
                    feed.put(view)
                    current.update(view)
                    in_part += len(buf)
                    total += len(buf)
                    if total > self.size:
                        break  # the file grew: nothing past this point is published
                    if in_part == self.part_size:
                        self._publish(current.hexdigest())
                        current, in_part = hashlib.md5(usedforsecurity=False), 0
                if total == self.size and (in_part or total == 0):
                    self._publish(current.hexdigest())
        except OSError as exc:
            raise LocalFileError(
                f"Cannot read local file: {exc.strerror or exc}", paths=[str(self.path)]
            ) from exc
        finally:
            feed.put(None)
            helper.join()
        if total != self.size:
            raise FileChangedError("The file changed while its checksum was computed", paths=[str(self.path)])
        with self._cond:
            parts = list(self._parts)
        return whole.hexdigest(), parts

    def _publish(self, md5_hex: str) -> None:
        with self._cond:
            self._parts.append(md5_hex)
            self._cond.notify_all()

    def _wait_for_room(self, position: int) -> None:
        """With a lead: wait until ``position`` is within the lead of the first part not yet sent."""
        if self._lead is None:
            return
        with self._cond:
            while position >= (self._first_unsent - 1) * self.part_size + self._lead:
                self._check_stop()
                self._cond.wait(0.1)

    def sent(self, number: int) -> None:
        """Part ``number`` is stored: the reader may move on."""
        with self._cond:
            self._sent.add(number)
            while self._first_unsent in self._sent:
                self._sent.discard(self._first_unsent)
                self._first_unsent += 1
            self._cond.notify_all()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise CancelledError("Hashing stopped")
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()

    # -- waiting ------------------------------------------------------------------------------------------
    def _wait_for(self, ready: Callable[[], bool], cancel: CancelToken | None) -> None:
        with self._cond:
            while not ready():
                if self._error is not None:
                    raise self._error
                if self._done:
                    raise FileChangedError(
                        "The file changed while its checksum was computed", paths=[str(self.path)]
                    )
                if cancel is not None and cancel.cancelled:
                    raise CancelledError("Transfer cancelled")
                self._cond.wait(0.1)

    def known(self, number: int) -> bool:
        with self._cond:
            return len(self._parts) >= number

    def part(self, number: int, cancel: CancelToken | None = None) -> str:
        """MD5 (hex) of part ``number`` (1-based), waiting until the reader has passed it."""
        self._wait_for(lambda: len(self._parts) >= number, cancel)
        return self._parts[number - 1]

    def result(self, cancel: CancelToken | None = None) -> tuple[str, list[str]]:
        """(whole-file MD5, every part's MD5), waiting for the end of the file."""
        self._wait_for(lambda: self._done and self._error is None, cancel)
        return self._whole, list(self._parts)

    def close(self) -> None:
        """Stop reading (an upload that failed or was cancelled) and wait for the threads."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def hash_parts(
    path: Path, part_size: int, cancel: CancelToken | None = None, size: int | None = None
) -> tuple[str, list[str], int]:
    """One read pass: (whole-file MD5, every part's MD5, size), before anything is sent.

    With ``size``, a file of any other length raises :class:`FileChangedError`.
    """
    if size is None:
        try:
            size = Path(path).stat().st_size
        except OSError as exc:
            raise LocalFileError(f"Cannot read local file: {exc.strerror or exc}", paths=[str(path)]) from exc
    hasher = PartHasher(Path(path), part_size, size, cancel=cancel).start()
    try:
        whole, parts = hasher.result()
    finally:
        hasher.close()
    return whole, parts, size


__all__ = ["FileChangedError", "FixedDigests", "PartHasher", "hash_parts", "part_count"]
