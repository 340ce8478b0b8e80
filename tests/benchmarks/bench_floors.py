"""Floors: what this machine and store allow, whatever the client does (so a missed goal can be read).

1. **Durable disk write.** A verified download ends with ``fsync`` (the file is on disk before it
   replaces the target), so it can be no faster than writing the file durably. Measured for 1 GiB of
   8 MiB blocks: ``O_DIRECT`` with two writers, and buffered; each then ``fsync``. Also measured:
   how many bytes rclone's timed 1 GiB download wrote to the disk (``/proc/diskstats``, Linux): rclone
   does not ``fsync``, its download ends in the page cache.
2. **Upload with free part hashing.** Our 1 GiB multipart upload with every part's MD5 handed over
   precomputed (cost zero) and only the whole-file MD5 computed while the parts go out, against rclone
   in the same run: the best ratio any client could reach here with the MD5 included.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import threading
import time
from functools import partial
from pathlib import Path

from tests.benchmarks.harness import BenchContext, BenchResult, timed

MIB = 1024 * 1024
BLOCK = 8 * MIB


def _disk_written() -> int | None:
    """Bytes written so far to the disk that holds the current directory (Linux), else ``None``."""
    try:
        dev = os.stat(".").st_dev
        name = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}").resolve().name
        with open("/proc/diskstats") as fh:
            for line in fh:
                f = line.split()
                if f[2] == name or name.startswith(f[2]):
                    return int(f[9]) * 512
    except OSError:
        pass
    return None


def durable_write(path: Path, size: int, direct: bool) -> float:
    """Seconds to write ``size`` bytes in 8 MiB blocks (two writer threads) and ``fsync``."""
    buf = mmap.mmap(-1, BLOCK)
    buf.write(os.urandom(BLOCK))
    path.unlink(missing_ok=True)
    os.sync()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    wfd = fd
    if direct and hasattr(os, "O_DIRECT"):
        try:
            wfd = os.open(path, os.O_WRONLY | os.O_DIRECT)
        except OSError:
            wfd = fd
    blocks = iter(range(size // BLOCK))
    lock = threading.Lock()

    def writer() -> None:
        while True:
            with lock:
                i = next(blocks, None)
            if i is None:
                return
            os.pwrite(wfd, buf, i * BLOCK)

    start = time.perf_counter()
    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.fsync(fd)
    elapsed = time.perf_counter() - start
    if wfd != fd:
        os.close(wfd)
    os.close(fd)
    path.unlink()
    return elapsed


class _PrecomputedParts:
    """Stands in for PartHasher: part MD5s known in advance; only the whole-file MD5 is computed."""

    def __init__(self, parts: list[str], path: Path) -> None:
        self._parts = parts
        self._whole = hashlib.md5()
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)

    def _run(self, path: Path) -> None:
        with open(path, "rb", buffering=0) as fh:
            while data := fh.read(4 * MIB):
                self._whole.update(data)

    def start(self) -> _PrecomputedParts:
        self._thread.start()
        return self

    def known(self, number: int) -> bool:
        return True

    def part(self, number: int, cancel: object = None) -> str:
        return self._parts[number - 1]

    def sent(self, number: int) -> None:
        pass

    def result(self, cancel: object = None) -> tuple[str, list[str]]:
        self._thread.join()
        return self._whole.hexdigest(), list(self._parts)

    def close(self) -> None:
        self._thread.join()


def run(ctx: BenchContext) -> list[BenchResult]:
    from gsdesktop.datamanager import multipart
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.parthash import hash_parts
    from tests.benchmarks.bench_large import make_file

    size = (128 if ctx.quick else 1024) * MIB
    label = "128 MiB" if ctx.quick else "1 GiB"
    results: list[BenchResult] = []
    scratch = ctx.workdir / "floor-disk.bin"
    for direct in (True, False):
        best = min(durable_write(scratch, size, direct) for _ in range(2))
        kind = "O_DIRECT, 2 writers" if direct else "buffered, 2 writers"
        results.append(
            BenchResult(f"floor: durable write {label} ({kind}) + fsync", best, "s",
                        note=f"{size / best / 1e6:.0f} MB/s; a verified, fsynced download cannot beat this")
        )  # fmt: skip

    src = ctx.workdir / "floor-src.bin"
    make_file(src, size)
    user, password = ctx.make_account("floor")
    client = DataManagerClient(ctx.server.url, user, password)
    offer = multipart.server_offer(client.transport)
    try:
        if offer is None or not offer.md5_at_complete:
            raise RuntimeError("the benchmark server must take the MD5 at complete")
        part_size = multipart.choose_part_size(size, offer)
        _whole, parts, _ = hash_parts(src, part_size)
        original = vars(multipart)["PartHasher"]  # the name multipart's upload looks up

        def precomputed(path: Path, *args: object, **kwargs: object) -> _PrecomputedParts:
            return _PrecomputedParts(parts, path)

        ours, theirs, rclone_disk = [], [], []
        for rep in range(1 if ctx.quick else 3):
            ctx.settle()
            theirs.append(ctx.rclone("copyto", str(src), ctx.rclone_path(f"floor/{user}/r{rep}.bin")))
            ctx.settle()
            vars(multipart)["PartHasher"] = precomputed
            try:
                target = f"{client.home}/floor{rep}.bin"
                ours.append(timed(partial(client.upload, src, target)))
            finally:
                vars(multipart)["PartHasher"] = original
            ctx.settle()
            before = _disk_written()
            rfile = ctx.workdir / "floor-r.bin"
            ctx.rclone("copyto", ctx.rclone_path(f"floor/{user}/r{rep}.bin"), str(rfile))
            after = _disk_written()
            rfile.unlink()
            if before is not None and after is not None:
                rclone_disk.append((after - before) / MIB)
        runs = f"ours {'/'.join(f'{x:.2f}' for x in ours)}, rclone {'/'.join(f'{x:.2f}' for x in theirs)}"
        results.append(
            BenchResult(f"floor: upload {label}, part MD5s free, whole MD5 while sending", min(ours), "s",
                        min(theirs), note=f"the best any client could reach here with the MD5; {runs}")
        )  # fmt: skip
        if rclone_disk:
            results.append(
                BenchResult(f"floor: bytes rclone's {label} download wrote to disk while timed",
                            max(rclone_disk), "MB", note="rclone does not fsync: it ends in the page cache")
            )  # fmt: skip
    finally:
        src.unlink(missing_ok=True)
        client.close()
    return results
