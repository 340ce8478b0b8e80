"""The suite passes however it is started: under ``nohup`` from a script, SIGINT arrives ignored.

A shell script's ``cmd &`` starts ``cmd`` with SIGINT ignored, and every child inherits that; the CLI tests
that press Ctrl-C (SIGINT) on a ``gsdesktop`` child then failed. This runs those tests exactly so.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

from tests.support.cli import ROOT


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_tests_pass_when_the_run_starts_with_sigint_ignored() -> None:
    nohup = shutil.which("nohup")
    assert nohup, "coreutils' nohup is missing"
    proc = subprocess.run(
        [nohup, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/integration/test_client_faults.py", "-k", "ctrl_c"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, preexec_fn=_ignore_sigint,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout, proc.stdout[-2000:]
