"""The progress tracker behind SyncProgress: what counts, what drops out, how often it publishes."""

from __future__ import annotations

import time

from gsdesktop.sync.events import ActionDone, ActionKind, Direction, FileProgress, SyncProgress
from gsdesktop.sync.planner import DIR, Action, Entry, Op, Phase
from gsdesktop.sync.progress import ProgressTracker, describe


def _tracker() -> tuple[ProgressTracker, list[SyncProgress], list[SyncProgress]]:
    published: list[SyncProgress] = []
    stored: list[SyncProgress] = []
    return ProgressTracker(published.append, stored.append), published, stored


def test_counts_files_and_bytes_and_a_failed_file_drops_out() -> None:
    t, published, stored = _tracker()
    t.add([
        Action(Op.UPLOAD, "a.bin", Entry(False, "m1", 1000)),
        Action(Op.DOWNLOAD, "b.bin", Entry(False, "m2", 3000)),
        Action(Op.DELETE_REMOTE, "old.txt", Entry(False, "m3", 50), phase=Phase.DELETE),
        Action(Op.MKDIR_LOCAL, "dir", DIR, phase=Phase.MKDIR),  # folders are not counted
        Action(Op.RECORD, "same.txt", Entry(False, "m4", 10)),  # nothing moves
    ])  # fmt: skip
    first = published[-1]
    assert (first.files_done, first.files_total, first.bytes_done, first.bytes_total) == (0, 3, 0, 4000)
    assert stored[-1] == first  # the first snapshot is stored at once
    t.on_event(FileProgress("b.bin", Direction.DOWN, 1500, 3000))
    t.on_event(ActionDone(ActionKind.UPLOADED, "a.bin", 1000))
    t.on_event(ActionDone(ActionKind.DELETED_REMOTE, "old.txt", 50))
    snap = t.snapshot()
    assert (snap.files_done, snap.bytes_done, snap.current) == (2, 2500, ("b.bin",))
    t.end_round()  # b.bin failed: it leaves the totals, with its partial bytes
    last = published[-1]
    assert (last.files_done, last.files_total, last.bytes_done, last.bytes_total) == (2, 2, 1000, 1000)
    assert last.current == () and last.to_json() == stored[-1].to_json()
    # a later round of the same cycle adds to the totals
    t.add([Action(Op.UPLOAD, "c.bin", Entry(False, "m5", 500))])
    assert (published[-1].files_done, published[-1].files_total) == (2, 3)


def test_publishes_a_few_times_a_second_not_per_chunk() -> None:
    t, published, stored = _tracker()
    t.add([Action(Op.UPLOAD, f"f{i}", Entry(False, "m", 1 << 20)) for i in range(200)])
    started = time.monotonic()
    for i in range(200):
        for k in range(1, 5):
            t.on_event(FileProgress(f"f{i}", Direction.UP, k << 18, 1 << 20))
        t.on_event(ActionDone(ActionKind.UPLOADED, f"f{i}", 1 << 20))
    elapsed = time.monotonic() - started
    assert len(published) <= 2 + elapsed / t.interval + 1, (len(published), elapsed)
    assert len(stored) <= 2 + elapsed / t.store_interval + 1
    t.end_round()
    assert (published[-1].files_done, published[-1].bytes_done) == (200, 200 << 20)


def test_describe_reads_like_a_sentence() -> None:
    p = SyncProgress(36, 400, 100 << 20, (100 << 20) + (1200 << 20), bytes_per_second=10 << 20)
    assert describe(p) == "Syncing 37 of 400 files, 1.2 GiB left, about 2 min"
    assert describe(SyncProgress(0, 1, 0, 0)) == "Syncing 1 of 1 file"
