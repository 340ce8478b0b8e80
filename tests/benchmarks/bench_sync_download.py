"""First download of many small files by the sync engine, against ``rclone copy`` of the same tree.

The tree (2,000 x 10 KiB in 20 folders; ``--quick``: 400) is uploaded once through the Data Manager.
Then, best of 3 rounds each (order alternating, dirty pages flushed before every run): rclone copies
the tree from the store straight to a fresh local folder, and a fresh engine (fresh folder, fresh state)
runs its first ``sync_once`` of the same remote folder. ``GSBENCH_DOWNLOAD_FILES`` overrides the file
count (e.g. 20000 for README's figure).
"""

from __future__ import annotations

import os
import shutil
import time

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import SyncConfig, SyncEngine
from tests.benchmarks.bench_sync import make_tree
from tests.benchmarks.harness import BenchContext, BenchResult


def run(ctx: BenchContext) -> list[BenchResult]:
    n_files = int(os.environ.get("GSBENCH_DOWNLOAD_FILES") or (400 if ctx.quick else 2000))
    size = 10 * 1024 if n_files <= 5000 else 4 * 1024
    user, pw = ctx.make_account("syncd")
    src = ctx.workdir / "dl-src"
    make_tree(src, n_files, max(20, n_files // 100), size)
    os.environ.setdefault("XDG_DATA_HOME", str(ctx.workdir / "xdg"))
    client = DataManagerClient(ctx.server.url, user, pw, pool_size=32)
    client.login()
    remote = f"/users/{user}/dl-tree"
    up = SyncEngine(client, src, remote, SyncConfig(min_file_age=0.0, transfers=16),
                    state_dir=ctx.workdir / "dl-up-state")  # fmt: skip
    first = up.sync_once()
    assert first.converged and first.uploaded == n_files, first
    up.close()
    load_before = os.getloadavg()[0]  # the machine may be shared: the ratio moves with its load
    ours_runs: list[float] = []
    rclone_runs: list[float] = []

    def rclone_copy(r: int) -> None:
        dst = ctx.workdir / f"dl-rclone{r}"
        ctx.settle()
        rclone_runs.append(ctx.rclone("copy", ctx.rclone_path(remote.lstrip("/")), str(dst)))
        got = sum(len(f) for _, _, f in os.walk(dst))
        assert got == n_files, got
        shutil.rmtree(dst)

    def ours(r: int) -> None:
        dst = ctx.workdir / f"dl-ours{r}"
        engine = SyncEngine(client, dst, remote, SyncConfig(min_file_age=0.0, transfers=16),
                            state_dir=ctx.workdir / f"dl-state{r}")  # fmt: skip
        ctx.settle()
        t0 = time.perf_counter()
        rep = engine.sync_once()
        ours_runs.append(time.perf_counter() - t0)
        engine.close()
        assert rep.converged and rep.downloaded == n_files, rep
        shutil.rmtree(dst)

    for r in range(1 if ctx.quick else 3):
        for step in ([rclone_copy, ours] if r % 2 == 0 else [ours, rclone_copy]):
            step(r)
    client.close()
    t_ours, t_rclone = min(ours_runs), min(rclone_runs)
    runs = "ours " + "/".join(f"{x:.2f}" for x in ours_runs)
    runs += ", rclone " + "/".join(f"{x:.2f}" for x in rclone_runs)
    note = f"{n_files / t_ours:.0f} files/s ours, {n_files / t_rclone:.0f} rclone; best of: {runs}"
    note += f"; load average {load_before:.1f}-{os.getloadavg()[0]:.1f}"
    label = f"{n_files} x {size // 1024} KiB in {max(20, n_files // 100)} folders"
    return [BenchResult(f"sync first download {label}", t_ours, "s", t_rclone, goal_ratio=0.8, note=note)]
