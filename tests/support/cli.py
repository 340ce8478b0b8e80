"""Run the real ``gsdesktop`` command line in a subprocess with an isolated HOME and GSDESKTOP_* env."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CLIResult:
    code: int
    out: str
    err: str

    def ok(self) -> CLIResult:
        assert self.code == 0, f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        return self

    def assert_clean_failure(self, code: int | None = None) -> CLIResult:
        """Non-zero exit, one-line errors, no traceback."""
        assert self.code != 0, f"expected a failure\nstdout:\n{self.out}"
        if code is not None:
            assert self.code == code, f"exit {self.code} != {code}\nstderr:\n{self.err}"
        assert "Traceback" not in self.err and "Traceback" not in self.out, self.err
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        assert lines and all(ln.startswith("gsdesktop:") for ln in lines), self.err
        return self


def cli_env(home: Path, server: str | None = None, user: str | None = None, password: str | None = None,
            **extra: str) -> dict[str, str]:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSDESKTOP_")}
    env["HOME"] = str(home)
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):  # fmt: skip
        env[var] = str(home / sub)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHON_KEYRING_BACKEND"] = env.get("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    if server:
        env["GSDESKTOP_SERVER"] = server
    if user:
        env["GSDESKTOP_USERNAME"] = user
    if password:
        env["GSDESKTOP_PASSWORD"] = password
    env.update(extra)
    return env


def run_cli(args: Sequence[str], env: Mapping[str, str], *, stdin: str | None = None, timeout: float = 120,
            cwd: Path | None = None) -> CLIResult:  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "gsdesktop", *args],
        env=dict(env), input=stdin, capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT,
    )  # fmt: skip
    return CLIResult(proc.returncode, proc.stdout, proc.stderr)


def as_from_a_terminal(then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: the child takes Ctrl-C as a user's command on a terminal would.

    A test run started with SIGINT ignored (``nohup``, ``&`` from a script) passes the ignored signal on to
    every child, and a CLI child would then shrug off the tests' SIGINT: the child gets the default back.
    """

    def preexec() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if then is not None:
            then()

    return preexec


def start_cli(args: Sequence[str], env: Mapping[str, str],
              preexec: Callable[[], None] | None = None) -> subprocess.Popen[str]:  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "gsdesktop", *args], env=dict(env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=as_from_a_terminal(preexec),
    )  # fmt: skip
