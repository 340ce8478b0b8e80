"""A one-line terminal progress bar: bytes done/total, rate, ETA and file count."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

from gsdesktop.datamanager.transfer import human_bytes


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """Renders on ``stream`` (stderr) only when it is a terminal; otherwise does nothing."""

    def __init__(
        self, label: str, total_files: int, stream: TextIO | None = None, enabled: bool | None = None
    ):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.total_files = total_files
        self.files_done = 0
        self._done = 0
        self._total = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._rate = 0.0
        self._last_t = self._start
        self._last_done = 0

    def update(self, done: int, total: int) -> None:
        """Progress callback (bytes done, total) - already throttled by the aggregator."""
        with self._lock:
            self._done, self._total = done, total
            now = time.monotonic()
            dt = now - self._last_t
            if dt >= 0.5:
                inst = (done - self._last_done) / dt
                self._rate = inst if self._rate == 0 else 0.7 * self._rate + 0.3 * inst
                self._last_t, self._last_done = now, done
            self._render()

    def file_done(self) -> None:
        with self._lock:
            self.files_done += 1
            self._render()

    def _render(self) -> None:
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self._start, 1e-6)
        rate = self._rate or self._done / elapsed
        pct = 100.0 * self._done / self._total if self._total else 100.0
        eta = (self._total - self._done) / rate if rate > 0 and self._total else 0.0
        width = shutil.get_terminal_size((80, 20)).columns
        text = (
            f"{self.label} {pct:5.1f}% {human_bytes(self._done)}/{human_bytes(self._total)} "
            f"{human_bytes(rate)}/s ETA {human_duration(eta)} "
            f"{self.files_done}/{self.total_files} files"
        )
        bar_room = width - len(text) - 4
        if bar_room >= 10:
            filled = int(bar_room * pct / 100)
            text = f"[{'#' * filled}{'.' * (bar_room - filled)}] " + text
        self.stream.write("\r" + text[: width - 1])
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            with self._lock:
                self._render()
                self.stream.write("\n")
                self.stream.flush()
