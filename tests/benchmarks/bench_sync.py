"""Sync engine benchmarks, against ``rclone sync`` on the same SeaweedFS in the same run.

- initial upload of 2,000 x 10 KiB files in 20 folders (``--quick``: 400 files);
- no-op re-sync of that tree (nothing changed on either side);
- 100,000-file tree (``--quick``: 20,000): no-op local rescan + plan, and the process's peak RSS.
  The remote side of this one is the recorded base (a real server listing of 100k objects would
  measure the server, not the engine); measured in a child process so RSS is the engine's alone;
- watch mode: median time from saving a 1 KiB file to it being listed on the server.

Our side goes through the Data Manager (signed URL + PUT + metadata per file); rclone writes to S3
directly with its defaults (4 transfers, 8 checkers).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import SyncConfig, SyncEngine
from tests.benchmarks.harness import BenchContext, BenchResult

ROOT = Path(__file__).resolve().parents[2]

RESCAN_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from gsdesktop.sync.planner import plan
    from gsdesktop.sync.scanner import Ignore, scan_local
    from gsdesktop.sync.state import StateDB
    root, dbpath, prime = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "prime"
    t0 = time.perf_counter()
    db = StateDB(dbpath)
    hashes = db.load_hashes()
    base = db.load_base()
    scan = scan_local(root, Ignore(root), hashes)
    if prime:
        db.put_hashes(scan.new_hashes.items())
        db.record_many(scan.tree.items())
        base = dict(scan.tree)
    p = plan(base, scan.tree, base)
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "rss_mb": rss, "actions": len(p.actions),
                      "hashed": len(scan.new_hashes), "entries": len(scan.tree)}))
    """
)


def make_tree(root: Path, files: int, folders: int, size: int) -> None:
    per = files // folders
    for d in range(folders):
        folder = root / f"dir{d:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(per):
            (folder / f"file{f:05d}.dat").write_bytes(os.urandom(size))


def rescan_child(root: Path, db: Path, mode: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", RESCAN_CHILD, str(root), str(db), mode],
                          capture_output=True, text=True, cwd=ROOT, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run(ctx: BenchContext) -> list[BenchResult]:
    n_files = 400 if ctx.quick else 2000
    results: list[BenchResult] = []
    user, pw = ctx.make_account("syncb")
    src = ctx.workdir / "sync-src"
    make_tree(src, n_files, 20, 10 * 1024)
    os.environ.setdefault("XDG_DATA_HOME", str(ctx.workdir / "xdg"))

    # warm the store first (SeaweedFS grows volumes on the first writes): otherwise whoever runs first
    # pays for it, which made rclone's figure swing between 2.5 and 7 s
    warm = ctx.workdir / "sync-warm"
    make_tree(warm, 200, 4, 10 * 1024)
    ctx.rclone("copy", str(warm), ctx.rclone_path(f"users/{user}/warm-up"))
    # Initial upload: best of 3 rounds for each tool, each into a fresh folder (ours with a fresh state
    # database, so it hashes every file again), the order alternating and dirty pages flushed before
    # every run, so neither tool inherits the other's write-back.
    client = DataManagerClient(ctx.server.url, user, pw, pool_size=32)
    client.login()
    engines: list[SyncEngine] = []
    rclone_runs: list[float] = []
    ours_runs: list[float] = []

    def rclone_initial(r: int) -> None:
        ctx.settle()
        rclone_runs.append(ctx.rclone("sync", str(src), ctx.rclone_path(f"users/{user}/rclone-sync{r}")))

    def ours_initial(r: int) -> None:
        engine = SyncEngine(client, src, f"/users/{user}/sync{r}", SyncConfig(min_file_age=0.0, transfers=16),
                            state_dir=ctx.workdir / f"sync-state{r}")  # fmt: skip
        engines.append(engine)
        ctx.settle()
        t0 = time.perf_counter()
        first = engine.sync_once()
        ours_runs.append(time.perf_counter() - t0)
        assert first.converged and first.uploaded == n_files, first

    for r in range(1 if ctx.quick else 3):
        steps = [rclone_initial, ours_initial] if r % 2 == 0 else [ours_initial, rclone_initial]
        for step in steps:
            step(r)
    rclone_init, ours_init = min(rclone_runs), min(ours_runs)

    ctx.settle()
    rclone_noop = statistics.median(
        ctx.rclone("sync", str(src), ctx.rclone_path(f"users/{user}/rclone-sync0")) for _ in range(3)
    )
    noops = []
    for _ in range(3):  # median of three, like rclone's
        t0 = time.perf_counter()
        again = engines[0].sync_once()
        noops.append(time.perf_counter() - t0)
        assert again.planned == 0 and again.transfers == 0, again
    ours_noop = statistics.median(noops)
    for engine in engines:
        engine.close()
    label = f"{n_files} x 10 KiB in 20 folders"
    runs = (
        f"ours {'/'.join(f'{x:.2f}' for x in ours_runs)}, rclone {'/'.join(f'{x:.2f}' for x in rclone_runs)}"
    )
    rates = f"{n_files / ours_init:.0f} files/s ours, {n_files / rclone_init:.0f} rclone; best of: {runs}"
    results.append(BenchResult(f"sync initial upload {label}", ours_init, "s", rclone_init, goal_ratio=0.8,
                               note=rates))  # fmt: skip
    noop_note = "median of 3 each; ours: local scan (hash cache) + recursive remote listing + plan"
    results.append(BenchResult(f"sync no-op re-sync {label}", ours_noop, "s", rclone_noop, goal_ratio=0.7,
                               note=noop_note))  # fmt: skip

    if os.environ.get("GSBENCH_SYNC_INITIAL_ONLY"):  # knob: only the initial upload + no-op figures
        client.close()
        return results

    # large tree: no-op rescan time and peak RSS (child process)
    n_big = 20_000 if ctx.quick else 100_000
    big = ctx.workdir / "big-tree"
    t0 = time.perf_counter()
    make_tree(big, n_big, n_big // 100, 16)
    made = time.perf_counter() - t0
    db = ctx.workdir / "big-state.sqlite3"
    prime = rescan_child(big, db, "prime")
    noop = rescan_child(big, db, "noop")
    assert noop["actions"] == 0 and noop["hashed"] == 0, noop
    results.append(BenchResult(f"no-op rescan + plan, {n_big:,} files", noop["seconds"], "s", None,
                               note=f"goal < 3 s; first (hashing) scan {prime['seconds']:.1f} s; "
                               f"tree built in {made:.0f} s"))  # fmt: skip
    results.append(BenchResult(f"peak RSS, no-op rescan of {n_big:,} files", noop["rss_mb"], "MB", None,
                               note="goal < 250 MB"))  # fmt: skip

    # watch mode latency
    wdir = ctx.workdir / "watch"
    wdir.mkdir()
    wclient = DataManagerClient(ctx.server.url, user, pw)
    weng = SyncEngine(wclient, wdir, f"/users/{user}/watch", SyncConfig(poll_interval=30.0),
                      state_dir=ctx.workdir / "watch-state")  # fmt: skip
    weng.start()
    try:
        deadline = time.monotonic() + 30
        while not wclient.exists(f"/users/{user}/watch") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        lat = []
        for i in range(5 if ctx.quick else 15):
            t0 = time.perf_counter()
            (wdir / f"saved{i}.txt").write_bytes(os.urandom(1024))
            while not wclient.exists(f"/users/{user}/watch/saved{i}.txt"):
                if time.perf_counter() - t0 > 30:
                    raise TimeoutError("watch mode did not upload")
                time.sleep(0.01)
            lat.append(time.perf_counter() - t0)
            time.sleep(0.3)
    finally:
        weng.close()
        wclient.close()
        client.close()
    results.append(BenchResult("watch: save 1 KiB -> on server (median)", statistics.median(lat), "s", None,
                               note=f"goal < 1 s; max {max(lat):.2f} s over {len(lat)} saves"))  # fmt: skip
    return results
