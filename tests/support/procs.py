"""Long-running ``gsdesktop`` subprocesses for end-to-end tests: start with a log, wait, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def start_gsdesktop(
    args: Sequence[str], env: Mapping[str, str], log: Path, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``python -m gsdesktop ARGS`` with stdout and stderr written to ``log``.

    Args:
        args: the command line after ``gsdesktop``.
        env: the whole environment of the child.
        log: file that receives the child's output (truncated first).
        new_session: run the child in its own process group (see :func:`stop_process`).
    """
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gsdesktop", *args],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )


def wait_for(
    cond: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes],
    log: Path | None = None,
) -> None:
    """Poll ``cond`` until true; fail early (with the log's tail) if ``proc`` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"app exited early ({proc.returncode}) while waiting for {what}:\n{tail}")
        if cond():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def stop_process(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60, *, group: bool = False
) -> int:
    """Send ``sig`` (to the process group with ``group``) and return the exit code.

    A process still running after ``timeout`` seconds is killed, so its exit code shows the failure.
    """
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        return proc.wait(10)


def assert_clean_exit(code: int, log: Path) -> None:
    """Exit code 0 and no traceback in ``log`` (its text is the failure message)."""
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert "Traceback" not in output, output
