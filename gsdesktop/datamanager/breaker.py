"""Per-file transfer budget and the store breaker: bounded failure when storage answers only errors.

A replicated SeaweedFS with a volume server down answers every write with a 5xx after a long wait.
Two limits keep a run from retrying for many minutes:

- every file's transfer gets a TOTAL time budget (``GSDESKTOP_TRANSFER_TIMEOUT`` seconds, default 300):
  retries stop once it is spent, and a backoff never sleeps past it;
- a :class:`StoreBreaker` shared by one client: after :data:`TRIP_AFTER` different files failed with
  the same storage 5xx and nothing succeeded in between, further transfers fail at once with one
  :class:`StoreFailingError` naming the store's answer. Any success closes it again; after
  :data:`COOLDOWN` seconds one transfer may try again (a long-running sync recovers on its own).
"""

from __future__ import annotations

import threading
import time

from gsdesktop.datamanager.errors import GSError, StoreFailingError

TRANSFER_TIMEOUT = "GSDESKTOP_TRANSFER_TIMEOUT"
DEFAULT_TRANSFER_TIMEOUT = 300
TRIP_AFTER = 3
COOLDOWN = 60.0


class StoreBreaker:
    """Counts files whose transfer failed with the same storage 5xx; see the module text."""

    def __init__(self, trip_after: int = TRIP_AFTER, cooldown: float = COOLDOWN) -> None:
        self.trip_after = trip_after
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._answer: tuple[int, str] | None = None
        self._files: set[str] = set()
        self._opened_at: float | None = None

    def failed(self, path: str, failure: GSError) -> None:
        """A transfer of ``path`` failed for good with ``failure``."""
        status = failure.status
        if status is None or not 500 <= status < 600 or isinstance(failure, StoreFailingError):
            return  # not the store answering an error: neither counts nor resets
        with self._lock:
            if self._answer is None or status != self._answer[0]:
                self._files, self._opened_at = set(), None
            self._answer = (status, failure.message)  # the same status; the latest words for the message
            self._files.add(path)
            if len(self._files) >= self.trip_after:
                self._opened_at = time.monotonic()

    def succeeded(self) -> None:
        with self._lock:
            self._answer, self._files, self._opened_at = None, set(), None

    def check(self, path: str) -> None:
        """Raise :class:`StoreFailingError` while the breaker is open (before transferring ``path``)."""
        with self._lock:
            if self._opened_at is None or self._answer is None:
                return
            if time.monotonic() - self._opened_at >= self.cooldown:
                self._opened_at = time.monotonic()  # one more try now; a failure keeps it open
                return
            status, message = self._answer
            count = len(self._files)
        raise StoreFailingError(
            f"Storage fails every transfer (HTTP {status}), stopped after {count} files failed in a row "
            f"and nothing succeeded; its answer: {message}",
            status=status,
        )
