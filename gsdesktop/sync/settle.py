"""When a local file has settled: unchanged for the settle time, longer for a file that keeps changing.

A file is uploaded only once it has been seen unchanged (same inode, size and mtime) for the settle
time. The time a file's mtime says it was last written counts too, unless it lies in the future. A
file that changes again soon after it had settled (an instrument appending, a slow save, a log) waits
four times longer from then on, up to ``max_hold``; a change while it still waits keeps the wait; a
quiet spell of twice its next wait starts it over. So a file that keeps growing is uploaded about
once or twice while it grows and once when it stops (one wait after its last write), instead of at
every append.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

Ident = tuple[int, int, int]  # (inode, size, mtime_ns)
BACKOFF = 4.0  # each change within the episode multiplies the wait
RESET = 2.0  # a quiet gap of RESET x the next wait ends the episode


@dataclass(slots=True)
class _Seen:
    ident: Ident
    since: float  # monotonic time from which the file is known unchanged
    level: int  # changes in this episode (the wait is settle x BACKOFF**level)
    changed: float  # monotonic time of the last change seen


class Settle:
    """Per-path settle tracking of one engine (in memory; a restart starts every file afresh)."""

    def __init__(self, settle_time: float, max_hold: float = 60.0) -> None:
        self.settle_time = max(0.0, settle_time)
        self.max_hold = max(self.settle_time, max_hold)
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()  # the cycle updates, the watch thread asks when to look again

    def wait_for(self, level: int) -> float:
        return float(min(self.settle_time * BACKOFF**level, self.max_hold))

    def hold(self, rel: str, ident: Ident, now: float | None = None, wall: float | None = None) -> bool:
        """Whether ``rel`` (with identity ``ident``, not hashed yet) must wait before it is used."""
        if self.settle_time <= 0:
            return False
        with self._lock:
            return self._hold(rel, ident, now, wall)

    def _hold(self, rel: str, ident: Ident, now: float | None, wall: float | None) -> bool:
        now = time.monotonic() if now is None else now
        wall = time.time() if wall is None else wall
        age = wall - ident[2] / 1e9  # how long ago its mtime says it was written (< 0: future)
        prev = self._seen.get(rel)
        if prev is None:
            if age >= self.settle_time:
                return False  # written long enough ago: nothing to wait for
            since = now - max(0.0, age)
            self._seen[rel] = _Seen(ident, since, 0, since)
            return now - since < self.wait_for(0)
        if prev.ident == ident:
            return now - prev.since < self.wait_for(prev.level)
        # changed since we last looked: not earlier than that look, not later than now
        since = now - max(0.0, min(age, now - prev.since))
        if since - prev.since < self.wait_for(prev.level):
            level = prev.level  # changed while it waited: the wait did its job, keep it
        elif since - prev.changed < RESET * self.wait_for(prev.level + 1):
            level = prev.level + 1  # changed soon after it settled: wait longer from now on
        else:
            level = 0  # a long quiet spell: a new episode
        self._seen[rel] = _Seen(ident, since, level, since)
        return now - since < self.wait_for(level)

    def due(self) -> float | None:
        """Monotonic time at which the next held file may have settled (None: none is held)."""
        now = time.monotonic()
        with self._lock:
            dues = [s.since + self.wait_for(s.level) for s in self._seen.values()]
        future = [d for d in dues if d > now]
        return min(future) if future else None

    def prune(self, now: float | None = None) -> None:
        """Forget files whose episode ended (quiet for RESET x their next wait)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._seen = {
                p: s
                for p, s in self._seen.items()
                if now - s.changed < RESET * self.wait_for(s.level + 1) + 1.0
            }
