"""1 GiB upload (MD5 included) and download through the Data Manager vs rclone on the same SeaweedFS.

Measured against the same rclone runs: the default paths (``DataManagerClient.upload``/``download``,
which hand files of at least ``multipart_threshold`` to the multipart upload and large downloads to the
journaled parallel ranged downloader, the only ranged downloader) and the single signed PUT. Each figure
is the best of 3 interleaved rounds; every timed step starts after ``ctx.settle()`` (dirty pages
flushed) for both tools alike, and the downloads take turns at running first after the uploads."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
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

        # Every figure is the best of `reps` interleaved rounds, for both tools alike: the machine is
        # shared by other work, so single runs vary by 2x and more.
        reps = 1 if ctx.quick else 3
        times: dict[str, list[float]] = {k: [] for k in ("rup", "up", "single", "down", "rdown")}
        down = ctx.workdir / "bench-down.bin"
        rdown = ctx.workdir / "bench-rclone-down.bin"
        default_threshold = client.multipart_threshold

        def download(target: Path) -> None:
            client.download(remote, target)
            assert target.stat().st_size == size
            target.unlink()

        def use(default: bool) -> None:
            big = 1 << 62  # the single signed PUT
            client.multipart_threshold = default_threshold if default else big

        def measure(key: str, fn: Callable[[], object]) -> None:
            ctx.settle()
            times[key].append(timed(fn))

        def rclone_down(rkey: str) -> None:
            ctx.settle()
            times["rdown"].append(ctx.rclone("copyto", rkey, str(rdown)))
            rdown.unlink()

        def ours_default() -> None:
            use(default=True)
            measure("down", lambda: download(down))

        for rep in range(reps):
            rkey = ctx.rclone_path(f"rclone-bench/{user}/up{rep}.bin")  # a new key: rclone skips copies
            ctx.settle()
            times["rup"].append(ctx.rclone("copyto", str(src), rkey))
            use(default=True)
            measure("up", lambda: client.upload(src, remote))
            use(default=False)
            measure("single", lambda: client.upload(src, remote + ".single"))
            # A download right after an upload is slower for any tool (the store is still busy with
            # what it just took in), so the downloads take turns at being first.
            steps: list[Callable[[], None]] = [ours_default, partial(rclone_down, rkey)]
            for step in steps[rep % 2 :] + steps[: rep % 2]:
                step()
        best = {k: min(v) for k, v in times.items()}
        spread = "; ".join(f"{k} {'/'.join(f'{x:.1f}' for x in v)}" for k, v in times.items())
        note = f"best of {reps}; {_load()}"
        results += [
            BenchResult(f"upload {label} (MD5 included), default path", best["up"], "s", best["rup"], 0.75,
                        note=f"multipart module when offered (>= {default_threshold >> 20} MiB); {note}"),
            BenchResult(f"download {label}, default path", best["down"], "s", best["rdown"], 0.95,
                        note=f"MD5 verified, fsync, atomic rename; {note}"),
            BenchResult(f"upload {label} (MD5 included), single signed PUT", best["single"], "s", best["rup"],
                        0.75, note=f"{note}; all runs (s): {spread}"),
        ]  # fmt: skip
    finally:
        src.unlink(missing_ok=True)
        client.close()
    return results
