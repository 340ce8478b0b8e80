"""Randomized fault soak (``--runslow``): many transfers while both proxies fail at random."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from tests.integration.test_client_faults import Stack, stack, user  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [1234, 99, 7])
def test_random_faults_soak(
    seed: int,
    stack: Stack,  # noqa: F811
    user: tuple[str, str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(seed)
    src = tmp_path / "src"
    src.mkdir()
    files = {}
    for i in range(60):
        p = src / f"soak {i:02d} #%.bin"
        p.write_bytes(os.urandom(rng.choice([0, 1, 5000, 300_000, 1_500_000, 3_000_000])))
        files[p.name] = hashlib.md5(p.read_bytes()).hexdigest()

    def sometimes(p: float) -> Callable[[str, str], bool]:
        return lambda m, t: rng.random() < p

    stack.dm.add(sometimes(0.08), "status", status=503, times=-1)
    stack.dm.add(sometimes(0.04), "reset", times=-1)
    stack.s3.add(
        lambda m, t: m == "PUT" and rng.random() < 0.1, "reset_upload", after_bytes=100_000, times=-1
    )
    stack.s3.add(lambda m, t: m == "GET" and rng.random() < 0.1, "cut", after_bytes=200_000, times=-1)
    stack.s3.add(lambda m, t: rng.random() < 0.05, "status", status=500, times=-1)

    client = DataManagerClient(stack.dm.url, user[0], user[1], retries=8)
    # exercise the ranged path too (1 MiB blocks)
    client.config = dataclasses.replace(
        client.config, resumable_download_threshold=2 << 20, download_block=1 << 20, download_span=1 << 20
    )
    remote = f"{client.home}/soak"
    client.mkdir(remote)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: client.upload(src / n, f"{remote}/{n}"), files))
    out = tmp_path / "out"
    out.mkdir()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: client.download(f"{remote}/{n}", out / n), files))
    assert {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in out.iterdir()} == files
    assert sum(1 for s in stack.dm.seen if s.fault) > 5 and sum(1 for s in stack.s3.seen if s.fault) > 5
