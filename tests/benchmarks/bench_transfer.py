"""1 GiB upload (MD5 included) and download through the Data Manager vs rclone on the same SeaweedFS.

Rows with a goal measure the default client path (``DataManagerClient.upload``/``download``, which use
the multipart/parallel modules for large files when present). Extra rows without a goal measure the
single signed PUT and the built-in parallel ranged download, for comparison.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.benchmarks.harness import BenchContext, BenchResult, timed

GIB = 1024**3


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(16 * 1024 * 1024)
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(left, len(block))
            fh.write(block[:n] if n < len(block) else block)
            left -= n
            block = block[1:] + block[:1]  # vary the blocks a little (no dedup games)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load avg {one:.1f}/{five:.1f} (2 cores)"


def run(ctx: BenchContext) -> list[BenchResult]:
    from gsdesktop.datamanager.client import DataManagerClient

    size = 128 * 1024 * 1024 if ctx.quick else GIB
    label = "128 MiB" if ctx.quick else "1 GiB"
    src = ctx.workdir / "bench-transfer.bin"
    _make_file(src, size)
    user, password = ctx.make_account("xfer")
    client = DataManagerClient(ctx.server.url, user, password)
    remote = f"{client.home}/bench-transfer.bin"
    results: list[BenchResult] = []
    try:
        # warm the page cache and the connection pool equally for both tools
        with open(src, "rb") as fh:
            while fh.read(16 << 20):
                pass
        client.metadata(client.home)

        # each figure is the best of `reps` interleaved runs, for both tools alike (the machine is shared)
        reps = 1 if ctx.quick else 2
        up: list[float] = []
        rup: list[float] = []
        downs: list[float] = []
        rdowns: list[float] = []
        down = ctx.workdir / "bench-down.bin"
        rdown = ctx.workdir / "bench-rclone-down.bin"
        for rep in range(reps):
            rkey = ctx.rclone_path(
                f"rclone-bench/{user}/up{rep}.bin"
            )  # a new key: rclone skips identical copies
            rup.append(ctx.rclone("copyto", str(src), rkey))
            up.append(timed(lambda: client.upload(src, remote)))
            downs.append(timed(lambda: client.download(remote, down)))
            assert down.stat().st_size == size
            down.unlink()
            rdowns.append(ctx.rclone("copyto", rkey, str(rdown)))
            rdown.unlink()
        t_rclone_up, t_rclone_down = min(rup), min(rdowns)
        note_up = f"default path (multipart when offered); best of {reps}; {_load()}"
        results.append(
            BenchResult(f"upload {label} (MD5 included)", min(up), "s", t_rclone_up, 0.75, note=note_up)
        )
        note_down = f"verified MD5 + fsync + atomic rename; best of {reps}; {_load()}"
        results.append(BenchResult(f"download {label}", min(downs), "s", t_rclone_down, 0.95, note=note_down))

        # the single-PUT path and the built-in parallel download, for comparison (no goal)
        client.multipart_threshold = 1 << 62
        t_single = timed(lambda: client.upload(src, remote + ".single"))
        results.append(
            BenchResult(f"upload {label} single signed PUT", t_single, "s", t_rclone_up, note=_load())
        )
        builtin = []
        for _ in range(reps):
            start = time.perf_counter()
            client.download(remote, down)
            builtin.append(time.perf_counter() - start)
            down.unlink()
        t_builtin = min(builtin)
        results.append(
            BenchResult(f"download {label} built-in 4x ranged", t_builtin, "s", t_rclone_down, note=_load())
        )
    finally:
        src.unlink(missing_ok=True)
        client.close()
    return results
