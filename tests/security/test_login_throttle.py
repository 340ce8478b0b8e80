"""Issue 15 item 6: password guessing is throttled before any scrypt, per account and per address,
without locking other accounts (or the victim's signed-in clients) out. Two replicas on one store:
the throttle is per replica (in memory), so N replicas allow at most N times one replica's budget."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.throttle import ACCOUNT_BURST, ACCOUNT_REFILL, ADDRESS_BURST, ADDRESS_REFILL
from gsdesktop.server.users import SCRYPT_N, SCRYPT_P, SCRYPT_R
from tests.support.servers import ServerProcess


@pytest.fixture
def replicas(seaweed: S3Config, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    a = ServerProcess(tmp_path / "a", seaweed).start()
    b = ServerProcess(tmp_path / "b", seaweed).start()
    yield a, b
    a.stop()
    b.stop()


def _login(url: str, user: str, password: str) -> requests.Response:
    return requests.get(f"{url}/identityServer/basic", auth=(user, password), timeout=30)


def _refilled(since: float) -> bool:
    """Whether an account's bucket may have earned a guess back since ``since``."""
    return time.monotonic() - since >= ACCOUNT_REFILL


def _scrypt_seconds() -> float:
    start = time.perf_counter()
    hashlib.scrypt(b"x", salt=b"s" * 16, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 << 20, dklen=32)
    return time.perf_counter() - start


def test_guessing_one_account_is_throttled_on_every_replica(
    replicas: tuple[ServerProcess, ServerProcess], make_account: Any
) -> None:
    alice, bob = make_account("victim"), make_account("other")
    # alice's own client signed in before the attack (by token and by Basic) keeps working
    # (on replica 1 only: replica 0 has never checked her password)
    token = _login(replicas[1].url, alice.username, alice.password).text
    # a flood: 64 connections at once, half to each replica
    t0 = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        flood = list(
            pool.map(lambda i: (i % 2, _login(replicas[i % 2].url, alice.username, f"g{i}")), range(64))
        )
    accepted = {0: 0, 1: 0}
    for which, r in flood:
        assert r.status_code in (401, 429), r.text
        accepted[which] += r.status_code == 401
    throttled: list[float] = []
    for i in range(20):
        start = time.perf_counter()
        r = _login(replicas[i % 2].url, alice.username, f"guess-{i}")
        throttled.append(time.perf_counter() - start)
        if r.status_code == 401 and _refilled(t0):
            continue  # a very slow machine: the bucket earned a guess back meanwhile
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) >= 1
        assert "too many" in r.json()["message"]
    # every replica stops after its own budget: at most 2 x ACCOUNT_BURST guesses got a password check
    assert all(n <= ACCOUNT_BURST for n in accepted.values()), accepted
    # refused before any scrypt: faster than one scrypt, and the right password is refused too
    assert statistics.median(throttled) < _scrypt_seconds(), statistics.median(throttled)
    for server in replicas:
        # replica 0 refuses even the right password unchecked; replica 1 verified it before the attack
        expected = 429 if server is replicas[0] and not _refilled(t0) else 200
        assert _login(server.url, alice.username, alice.password).status_code == expected
        # other accounts are not locked out
        assert _login(server.url, bob.username, bob.password).status_code == 200
    # alice's token still works on both replicas
    for server in replicas:
        r = requests.get(
            f"{server.url}/datamanager/v1.0/file/Home/{alice.username}",
            cookies={"gs-token": token},
            timeout=30,
        )
        assert r.status_code == 200, r.text


def test_guessing_from_one_address_is_throttled(
    replicas: tuple[ServerProcess, ServerProcess], make_account: Any
) -> None:
    server = replicas[0]
    carol = make_account("carol")
    start = time.monotonic()
    statuses: list[int] = []
    while 429 not in statuses and len(statuses) < 10 * ADDRESS_BURST:
        statuses.append(_login(server.url, f"nosuchuser{len(statuses)}", "pw").status_code)
    refilled = (time.monotonic() - start) / ADDRESS_REFILL
    assert statuses[-1] == 429, statuses
    assert statuses.count(401) <= ADDRESS_BURST + refilled + 1, (statuses, refilled)
    # every account from this address, and Basic on a data route too: refused before any password check
    # (but for the one attempt per ADDRESS_REFILL seconds that the bucket earns back meanwhile)
    start = time.monotonic()
    more = [_login(server.url, carol.username, "wrong") for _ in range(5)]
    more += [
        requests.get(f"{server.url}/datamanager/v1.0/file/Home/x", auth=(f"spray{i}", "pw"), timeout=30)
        for i in range(5)
    ]
    earned = (time.monotonic() - start) / ADDRESS_REFILL + 1
    assert sum(r.status_code == 401 for r in more) <= earned, [r.status_code for r in more]
    for r in more:
        assert r.status_code in (401, 429)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
    # the other replica has its own budget: carol signs in there
    assert _login(replicas[1].url, carol.username, carol.password).status_code == 200
