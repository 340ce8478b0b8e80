"""Small pieces of the executor: the shared bandwidth limiter and the words of its problem messages."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from gsdesktop.datamanager.errors import InvalidRequestError
from gsdesktop.sync.planner import Op


class Throttle:
    """A shared byte-rate limiter driven from progress callbacks (sleeps the transferring thread).

    A virtual clock ``_due`` advances by ``bytes / rate``; a transfer sleeps while it is ahead of real
    time. Idle time earns at most ``burst`` seconds of credit.
    """

    def __init__(self, rate: int | None, burst: float = 0.5) -> None:
        self.rate = rate
        self.burst = burst
        self._lock = threading.Lock()
        self._due = time.monotonic()

    def progress(
        self, inner: Callable[[int, int], None] | None, start: int = 0
    ) -> Callable[[int, int], None]:
        """Wrap a progress callback; ``start`` = bytes already done before this call (a resumed
        transfer), which are not charged again."""
        last = [start]

        def cb(done: int, total: int) -> None:
            delta, last[0] = done - last[0], done
            if inner is not None:
                inner(done, total)
            rate = self.rate
            if not rate or delta <= 0:
                return
            with self._lock:
                now = time.monotonic()
                self._due = max(self._due, now - self.burst) + delta / rate
                wait = self._due - now
            if wait > 0:
                time.sleep(min(wait, 5.0))

        return cb


RENAME_HINT = "Rename it to sync it; it is not tried again until then"


NAME_WORDS = re.compile(r"\b(name|path|segment|backslash|control character|NUL|'\.')", re.IGNORECASE)


def about_name(exc: InvalidRequestError) -> bool:
    """Whether the request was refused for the name or path itself (not e.g. for the file's size)."""
    return NAME_WORDS.search(exc.message) is not None


def refusal_reason(exc: InvalidRequestError) -> str:
    """Why a name was refused, without the remote path (the problem is listed under its local path)."""
    text = re.sub(r"^Cannot [a-z ]+: ", "", exc.message)
    return (text[:1].lower() + text[1:]).rstrip(".") or "the server refused it"


def verb(op: Op) -> str:
    return {
        Op.UPLOAD: "Upload",
        Op.DOWNLOAD: "Download",
        Op.CONFLICT: "Download",
        Op.MKDIR_LOCAL: "Creating the folder",
        Op.MKDIR_REMOTE: "Creating the folder",
        Op.DELETE_LOCAL: "Deleting",
        Op.DELETE_REMOTE: "Deleting",
        Op.MOVE_LOCAL: "Renaming",
        Op.MOVE_REMOTE: "Renaming",
        Op.ASIDE_LOCAL: "Renaming",
        Op.ASIDE_REMOTE: "Renaming",
    }.get(op, op.value)
