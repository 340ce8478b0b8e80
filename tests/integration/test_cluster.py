"""README's cluster recipe, run: SeaweedFS master + 2 volume servers + filer + S3, two Data Manager replicas
behind a round-robin proxy, and the real CLI uploading, listing and downloading through the proxy."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
from gsdesktop.server.users import UserStore
from tests.support.cli import cli_env, run_cli
from tests.support.cluster import SeaweedCluster
from tests.support.faultproxy import FaultProxy
from tests.support.servers import ServerProcess


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[SeaweedCluster, S3Config]]:
    c = SeaweedCluster(tmp_path / "cluster")
    try:
        yield c, c.start()
    finally:
        c.stop()


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }  # fmt: skip


def test_two_replicas_on_a_seaweedfs_cluster_behind_a_proxy(
    cluster: tuple[SeaweedCluster, S3Config], tmp_path: Path
) -> None:
    c, cfg = cluster
    UserStore(S3Store(cfg)).add("labuser", "lab-password-1")
    replicas = [ServerProcess(tmp_path / f"replica{i}", cfg, extra_args=["--access-log"]) for i in (1, 2)]
    for r in replicas:
        r.start()
    proxy = FaultProxy(replicas[0].url, more_upstreams=[replicas[1].url]).start()
    try:
        src = tmp_path / "run42"
        for i in range(40):
            sub = src / f"lane{i % 4}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"reads{i}.fastq").write_bytes(os.urandom(1000 + 997 * i))
        env = cli_env(tmp_path / "home", proxy.url, "labuser", "lab-password-1")
        run_cli(["put", "-r", str(src), "/users/labuser/run42"], env, timeout=300).ok()
        listing = run_cli(["tree", "/users/labuser/run42"], env).ok().out
        assert listing.count("reads") == 40
        out = tmp_path / "back"
        run_cli(["get", "-r", "/users/labuser/run42", str(out)], env, timeout=300).ok()
        assert _digest(out) == _digest(src)
        # all went through the proxy, alternately to both replicas (a token from one works on the other)
        assert len(proxy.seen) >= 10
        served = [r.log_tail(1_000_000).count("gsdesktop.access:") for r in replicas]
        assert all(n >= len(proxy.seen) // 2 - 1 for n in served), (served, len(proxy.seen))
    finally:
        proxy.stop()
        for r in replicas:
            r.stop()
    # the store kept two copies of every volume (replication 001): both volume servers hold data
    sizes = [sum(f.stat().st_size for f in (c.root / v).rglob("*.dat")) for v in ("v1", "v2")]
    assert all(s > 500_000 for s in sizes), sizes
