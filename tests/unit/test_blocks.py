"""Parallel download blocks: direct-I/O writer, in-order hasher, buffer pool (real files, real threads)."""

from __future__ import annotations

import hashlib
import os
import random
import threading
from pathlib import Path

import pytest

from gsdesktop.datamanager.blocks import ALIGN, Aborted, BlockWriter, BufferPool, InOrderHasher

BLOCK = 1 << 20


def _data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("size", [3 * BLOCK + 12345, 2 * BLOCK, 777])
def test_blocks_written_in_any_order_make_the_exact_file(tmp_path: Path, direct: bool, size: int) -> None:
    data = _data(size)
    target = tmp_path / "out.bin"
    writer = BlockWriter(target, direct=direct)
    abort = threading.Event()
    pool = BufferPool(2, BLOCK, abort)
    blocks = list(range(-(-size // BLOCK)))
    random.Random(3).shuffle(blocks)
    try:
        for b in blocks:
            buf = pool.get()
            piece = data[b * BLOCK : (b + 1) * BLOCK]
            buf[: len(piece)] = piece
            buf[len(piece) :] = b"\xff" * (len(buf) - len(piece))  # stale bytes past the end
            writer.write(buf, len(piece), b * BLOCK)
            pool.put(buf)
        writer.finish(size)
    finally:
        writer.close()
        pool.close()
    assert target.read_bytes() == data  # padding of a direct last block was cut off


def test_direct_io_is_used_where_the_file_system_allows_it(tmp_path: Path) -> None:
    writer = BlockWriter(tmp_path / "d.bin")
    try:
        if not hasattr(os, "O_DIRECT"):
            assert not writer.direct
        else:
            # either direct I/O, or a file system that refuses O_DIRECT (tmpfs): then buffered
            probe = -1
            try:
                probe = os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
            except OSError:
                assert not writer.direct
            else:
                assert writer.direct
            finally:
                if probe >= 0:
                    os.close(probe)
    finally:
        writer.close()


def test_unaligned_offsets_go_through_the_buffered_descriptor(tmp_path: Path) -> None:
    target = tmp_path / "u.bin"
    writer = BlockWriter(target)
    pool = BufferPool(1, BLOCK, threading.Event())
    try:
        buf = pool.get()
        buf[:5] = b"hello"
        writer.write(buf, 5, ALIGN + 3)  # not aligned: direct I/O would refuse it
        writer.finish(ALIGN + 8)
    finally:
        writer.close()
        pool.close()
    assert target.read_bytes() == b"\0" * (ALIGN + 3) + b"hello"


def test_hasher_hashes_in_file_order_whatever_the_arrival_order(tmp_path: Path) -> None:
    size = 9 * BLOCK + 4321
    data = _data(size, seed=7)
    count = -(-size // BLOCK)
    on_disk = {0, 4}  # a resumed download: these blocks are read back from the file
    path = tmp_path / "partial.bin"
    path.write_bytes(bytes(b if i // BLOCK in on_disk else 0 for i, b in enumerate(data[: 5 * BLOCK])))
    fd = os.open(path, os.O_RDONLY)
    abort = threading.Event()
    pool = BufferPool(4, BLOCK, abort)
    hasher = InOrderHasher(count, BLOCK, size, on_disk, fd, pool.release, abort)
    todo = [b for b in range(count) if b not in on_disk]
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        while True:
            with lock:
                if not todo:
                    return
                b = todo.pop(rnd.randrange(min(3, len(todo))))  # slightly out of order
            # as the downloader does: a block takes a buffer only once it is within the pool's count
            # of the block hashed next (taking one first could leave every buffer with blocks the hash
            # cannot reach yet, while the block it waits for has none: this test hung that way once)
            hasher.wait_for_turn(b, pool.count)
            buf = pool.get()
            piece = data[b * BLOCK : (b + 1) * BLOCK]
            buf[: len(piece)] = piece
            hasher.submit(b, buf, len(piece))

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    hung = [t for t in threads if t.is_alive()]
    if hung:
        abort.set()  # frees the threads; the assertion below reports the hang
    try:
        assert not hung, "the workers hung"
        assert hasher.result() == hashlib.md5(data).hexdigest()
    finally:
        hasher.close()
        os.close(fd)
        pool.close()


def test_pool_wait_ends_when_the_download_is_abandoned() -> None:
    abort = threading.Event()
    pool = BufferPool(1, BLOCK, abort)
    held = pool.get()
    threading.Timer(0.3, abort.set).start()
    with pytest.raises(Aborted):
        pool.get()  # would wait for ever without the abort
    pool.put(held)
    pool.close()


def test_hasher_of_an_abandoned_download_gives_no_digest(tmp_path: Path) -> None:
    abort = threading.Event()
    pool = BufferPool(1, BLOCK, abort)
    fd = os.open(tmp_path, os.O_RDONLY)
    hasher = InOrderHasher(3, BLOCK, 3 * BLOCK, set(), fd, pool.release, abort)
    abort.set()
    with pytest.raises(Aborted):
        hasher.result()  # never the digest of a prefix
    hasher.close()
    os.close(fd)
    pool.close()


def test_runs_cut_missing_blocks_into_consecutive_requests() -> None:
    from gsdesktop.datamanager.ranged import runs

    assert runs([], 4) == []
    assert runs([0, 1, 2, 3, 4, 5], 4) == [[0, 1, 2, 3], [4, 5]]
    assert runs([0, 2, 3, 7, 8, 9, 10, 11], 3) == [[0], [2, 3], [7, 8, 9], [10, 11]]  # gaps: blocks on disk
    assert runs([5, 6], 1) == [[5], [6]]
