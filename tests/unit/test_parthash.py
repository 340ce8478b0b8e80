"""PartHasher: every part's MD5 and the whole file's, from one read pass on its own thread.

Real files and a real FIFO (so the test decides when the reader may go on), real threads.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from gsdesktop.datamanager.errors import CancelledError
from gsdesktop.datamanager.parthash import FileChangedError, FixedDigests, PartHasher, hash_parts
from gsdesktop.datamanager.transfer import CancelToken

PART = 64 * 1024


def expected(data: bytes, part: int) -> tuple[str, list[str]]:
    parts = [hashlib.md5(data[i : i + part]).hexdigest() for i in range(0, len(data), part)]
    return hashlib.md5(data).hexdigest(), parts or [hashlib.md5(b"").hexdigest()]


@pytest.mark.parametrize("size", [1, PART - 1, PART, PART + 1, 3 * PART + 7, 5 * 1024 * 1024 + 3])
def test_digests_match_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    whole, parts, got_size = hash_parts(path, PART)
    assert (whole, parts) == expected(data, PART) and got_size == size


def test_parts_are_published_while_the_rest_is_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = os.urandom(3 * PART + 100)
    hasher = PartHasher(fifo, PART, len(data)).start()
    with open(fifo, "wb") as fh:
        fh.write(data[: PART + 10])
        fh.flush()
        # part 1 is known although the writer has not sent the rest (and the reader cannot have it)
        assert hasher.part(1) == hashlib.md5(data[:PART]).hexdigest()
        assert not hasher.known(2)
        fh.write(data[PART + 10 :])
    assert hasher.result() == expected(data, PART)
    assert hasher.part(4) == expected(data, PART)[1][3]


def test_a_grown_file_publishes_nothing_past_its_size(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = os.urandom(2 * PART + 5)
    path.write_bytes(data + b"grew meanwhile")
    hasher = PartHasher(path, PART, len(data)).start()
    with pytest.raises(FileChangedError):
        hasher.part(3)  # the short last part would hold bytes that were not there: never published
    with pytest.raises(FileChangedError):
        hasher.result()
    assert hasher.part(2) == hashlib.md5(data[PART : 2 * PART]).hexdigest()


def test_a_shorter_file_fails_every_waiter(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(PART + 10))
    hasher = PartHasher(path, PART, 3 * PART).start()
    with pytest.raises(FileChangedError):
        hasher.part(3)
    with pytest.raises(FileChangedError):
        hasher.result()


def test_cancel_reaches_the_waiter_and_close_stops_the_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    cancel = CancelToken()
    hasher = PartHasher(fifo, PART, 4 * PART, cancel=cancel).start()
    writer = open(fifo, "wb")  # noqa: SIM115 - closed below, after the reader is stopped
    try:
        writer.write(os.urandom(PART))
        writer.flush()
        assert hasher.part(1)
        threading.Timer(0.2, cancel.cancel).start()
        with pytest.raises(CancelledError):
            hasher.part(2, cancel)  # waits for bytes that never come, until the cancel
        writer.write(b"x")  # wake the reader so it sees the cancel
        writer.flush()
        hasher.close()
        assert not hasher._thread.is_alive()
    finally:
        writer.close()


def test_fixed_digests_answer_like_the_hasher(tmp_path: Path) -> None:
    data = os.urandom(2 * PART + 1)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    hasher = PartHasher(path, PART, len(data)).start()
    whole, parts = hasher.result()
    fixed = FixedDigests(parts)
    assert whole == hashlib.md5(data).hexdigest()
    assert all(fixed.known(n) and fixed.part(n) == hasher.part(n) for n in (1, 2, 3))


def test_unreadable_file_is_a_clear_local_error(tmp_path: Path) -> None:
    from gsdesktop.datamanager.errors import LocalFileError

    with pytest.raises(LocalFileError, match="Cannot read local file"):
        hash_parts(tmp_path / "missing.bin", PART)
    hasher = PartHasher(tmp_path / "missing.bin", PART, 10).start()
    with pytest.raises(LocalFileError, match="Cannot read local file"):
        hasher.part(1)


def test_a_lead_keeps_the_reader_close_to_the_parts_being_sent(tmp_path: Path) -> None:
    data = os.urandom(10 * PART)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    hasher = PartHasher(path, PART, len(data), lead=3 * PART).start()
    try:
        assert hasher.part(3) == expected(data, PART)[1][2]
        time.sleep(0.3)
        assert not hasher.known(4)  # three parts ahead of the first unsent one: it waits
        hasher.sent(2)
        time.sleep(0.2)
        assert not hasher.known(4)  # part 1 is still unsent
        hasher.sent(1)  # now 1 and 2 are sent: two more parts may be read
        assert hasher.part(5) == expected(data, PART)[1][4]
        time.sleep(0.2)
        assert not hasher.known(6)
        for n in range(3, 11):
            hasher.sent(n)
        assert hasher.result() == expected(data, PART)
    finally:
        hasher.close()
