"""Progress of a running sync cycle: files and bytes done and to go (the engine's :class:`SyncProgress`).

:class:`ProgressTracker` counts what each round of a cycle plans (transfers, deletions and moves of
files) and follows the executor's :class:`FileProgress` / :class:`ActionDone` events from any thread.
It publishes a :class:`SyncProgress` event at most every ``interval`` seconds and stores a snapshot
(for ``gsdesktop status`` in another process) at most every ``store_interval`` seconds, so a cycle of
thousands of small files costs a handful of events per second, not one per chunk.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from gsdesktop.datamanager.transfer import human_bytes
from gsdesktop.sync.events import ActionDone, ActionKind, FileProgress, SyncEvent, SyncProgress
from gsdesktop.sync.planner import Action, Op
from gsdesktop.sync.state import StateDB

TRANSFER_OPS = frozenset({Op.UPLOAD, Op.DOWNLOAD, Op.CONFLICT})
COUNTED_OPS = TRANSFER_OPS | {Op.DELETE_LOCAL, Op.DELETE_REMOTE, Op.MOVE_LOCAL, Op.MOVE_REMOTE}
RATE_WINDOW = 5.0  # seconds of history behind the transfer rate
PROGRESS_KEY = "progress"  # state-database meta key: the running cycle's SyncProgress.to_json()


class ProgressTracker:
    """Counts one cycle's progress. Thread-safe; ``publish`` and ``store`` run on the calling thread.

    Args:
        publish: receives each :class:`SyncProgress` event (throttled to ``interval``).
        store: receives a snapshot to keep for other processes (throttled to ``store_interval``).
    """

    def __init__(
        self,
        publish: Callable[[SyncProgress], None],
        store: Callable[[SyncProgress], None],
        interval: float = 0.25,
        store_interval: float = 0.5,
    ) -> None:
        self._publish = publish
        self._store = store
        self.interval = interval
        self.store_interval = store_interval
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}  # key of a planned file step -> its bytes (0 if no transfer)
        self._partial: dict[str, int] = {}  # path -> bytes moved so far of a running transfer
        self._current: dict[str, None] = {}  # files transferring now, in start order
        self.files_done = self.files_total = 0
        self._bytes_finished = 0
        self.bytes_total = 0
        self._samples: deque[tuple[float, int]] = deque()
        self._last_publish = self._last_store = 0.0

    @classmethod
    def stored(cls, db: StateDB, publish: Callable[[SyncProgress], None]) -> ProgressTracker:
        """A tracker (one per cycle) that keeps its snapshots in ``db`` (meta :data:`PROGRESS_KEY`),
        where ``gsdesktop status`` reads them while the pair's state is syncing."""
        db.set_meta(PROGRESS_KEY, "")  # nothing of an earlier cycle
        return cls(publish, lambda snap: db.set_meta_json(PROGRESS_KEY, snap.to_json()))

    def follow(self, emit: Callable[[SyncEvent], None]) -> Callable[[SyncEvent], None]:
        """``emit``, and this tracker following each event (wraps an executor's event channel)."""

        def both(ev: SyncEvent) -> None:
            emit(ev)
            self.on_event(ev)

        return both

    def add(self, actions: Iterable[Action]) -> None:
        """Count the file steps of a round that is about to run (and publish at once)."""
        with self._lock:
            for a in actions:
                if a.op not in COUNTED_OPS or a.entry is None or a.entry.is_dir:
                    continue
                key = a.dest if a.op in (Op.MOVE_LOCAL, Op.MOVE_REMOTE) and a.dest else a.path
                size = max(a.entry.size or 0, 0) if a.op in TRANSFER_OPS else 0
                if key in self._pending:
                    continue
                self._pending[key] = size
                self.files_total += 1
                self.bytes_total += size
        self._tick(force=True)

    def on_event(self, ev: SyncEvent) -> None:
        """Follow the executor's events (any thread)."""
        if isinstance(ev, FileProgress):
            with self._lock:
                size = self._pending.get(ev.path)
                if size is None:
                    return
                self._partial[ev.path] = min(max(ev.done, 0), size)
                self._current.setdefault(ev.path, None)
            self._tick()
        elif isinstance(ev, ActionDone) and ev.kind is not ActionKind.CONFLICT_COPY:
            with self._lock:
                size = self._pending.pop(ev.path, None)
                if size is None:
                    return
                self._partial.pop(ev.path, None)
                self._current.pop(ev.path, None)
                self.files_done += 1
                self._bytes_finished += size
            self._tick()

    def end_round(self) -> None:
        """The round ran: steps that did not finish (failed, skipped, cancelled) drop out of the totals."""
        with self._lock:
            self.files_total -= len(self._pending)
            self.bytes_total -= sum(self._pending.values())
            self._pending.clear()
            self._partial.clear()
            self._current.clear()
        self._tick(force=True)

    def snapshot(self) -> SyncProgress:
        with self._lock:
            return self._snapshot_locked(time.monotonic())

    def _snapshot_locked(self, now: float) -> SyncProgress:
        done = self._bytes_finished + sum(self._partial.values())
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW:
            samples.popleft()
        t0, d0 = samples[0]
        rate = (done - d0) / (now - t0) if now - t0 >= 0.5 and done > d0 else 0.0
        return SyncProgress(
            self.files_done, self.files_total, done, self.bytes_total, tuple(self._current), rate
        )

    def _tick(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            publish = force or now - self._last_publish >= self.interval
            store = force or now - self._last_store >= self.store_interval
            if not (publish or store):
                return
            snap = self._snapshot_locked(now)
            if publish:
                self._last_publish = now
            if store:
                self._last_store = now
        if store:
            self._store(snap)
        if publish:
            self._publish(snap)


def describe(p: SyncProgress) -> str:
    """The one-line summary a user reads: ``Syncing 37 of 400 files, 1.2 GiB left, about 2 min``."""
    text = f"Syncing {min(p.files_done + 1, p.files_total)} of {p.files_total} file" + (
        "s" if p.files_total != 1 else ""
    )
    left = p.bytes_total - p.bytes_done
    if left > 0:
        text += f", {human_bytes(left)} left"
    text += about(p.seconds_left)
    return text


def about(seconds: float | None) -> str:
    """``", about 2 min"`` (empty while unknown or under 3 s)."""
    if seconds is None or seconds < 3:
        return ""
    if seconds < 60:
        return f", about {int(seconds)} s"
    if seconds < 3600:
        return f", about {round(seconds / 60)} min"
    return f", about {seconds / 3600:.1f} h"


__all__ = ["PROGRESS_KEY", "ProgressTracker", "about", "describe"]
