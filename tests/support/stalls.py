"""Measuring how long a thread was kept from running: the stall tests' shared clock facts (Linux)."""

from __future__ import annotations

import os


def run_queue_wait() -> float:
    """Seconds the calling thread has spent runnable but not running (0 where not available).

    Subtracted from a gap between a thread's ticks, what is left is what this process made the thread
    wait (the GIL, a lock), not the time the OS gave the CPUs to other processes.
    """
    try:
        with open("/proc/thread-self/schedstat", "rb") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def oversubscribed() -> bool:
    """More runnable work than CPUs (other test suites running): wall-clock gaps say little then."""
    return os.getloadavg()[0] > (os.cpu_count() or 1)
