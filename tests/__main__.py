"""The project's test command: lint (ruff), type-check (mypy) and the test suite (pytest).

    python -m tests [pytest args...]

Extra arguments go to pytest (e.g. ``--runslow`` for the long soaks and large-file tests,
``-k sync``). Every stage runs even when an earlier one fails; the exit code is non-zero if any failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stage(name: str, cmd: list[str]) -> bool:
    print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    code = subprocess.call(cmd, cwd=ROOT)
    print(
        f"=== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.monotonic() - start:.0f} s",
        flush=True,
    )
    return code == 0


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    py = sys.executable
    results = {
        "ruff": _stage("ruff", [py, "-m", "ruff", "check", "gsdesktop", "tests", "packaging"]),
        "mypy": _stage("mypy", [py, "-m", "mypy"]),
        "pytest": _stage("pytest", [py, "-m", "pytest", *argv]),
    }
    failed = [name for name, ok in results.items() if not ok]
    print(f"\n=== summary: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
