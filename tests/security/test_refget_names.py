"""Hostile: refget names cannot be hijacked (issue 15 item 12).

Names are shared by everyone who reads refget, so they are owned: a name belongs to the user who first
loads a sequence under it, and only the user who first loaded a sequence gives it names. Bob can
neither block Alice's ``chr1`` (junk under her name used to make it ambiguous: 409 for everyone) nor
alias her sequence (add his names to it). A refused load answers 409 and stores nothing.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

import requests

from gsdesktop.refget.digests import compute
from tests.conftest import Account
from tests.support.fasta import fasta_bytes, random_seq
from tests.support.servers import ServerProcess


def load(
    account: Account, fasta: bytes, server_url: str | None = None, circular: str | None = None
) -> requests.Response:
    return requests.post(
        f"{server_url or account.server_url}/refget/load",
        params={"name": "x.fa", **({"circular": circular} if circular else {})},
        data=fasta,
        auth=(account.username, account.password),
        timeout=60,
    )


def test_bob_can_neither_block_nor_alias_alices_names(make_account: Any) -> None:
    alice, bob = make_account("alice"), make_account("bob")
    chr1 = "chr1_" + secrets.token_hex(3)
    mine, junk = random_seq(2000, secrets.randbits(32)), random_seq(1500, secrets.randbits(32))
    url = alice.server_url
    r = load(alice, fasta_bytes({chr1: mine}))
    assert r.status_code == 200, r.text

    # junk under her name: refused, stored nowhere, her name still hers
    r = load(bob, fasta_bytes({chr1: junk, "bobs_" + chr1: junk}))
    assert r.status_code == 409, r.text
    assert chr1 in r.json()["message"] and "another user" in r.json()["message"]
    assert requests.get(f"{url}/sequence/{compute(junk).md5}", timeout=10).status_code == 404
    assert requests.get(f"{url}/sequence/bobs_{chr1}", timeout=10).status_code == 404
    got = requests.get(f"{url}/sequence/{chr1}", timeout=10)
    assert got.status_code == 200 and got.content == mine

    # her sequence under his own new name: refused (only its first loader names it)
    alias = "myref_" + secrets.token_hex(3)
    r = load(bob, fasta_bytes({alias: mine}))
    assert r.status_code == 409, r.text
    assert alias in r.json()["message"]
    assert requests.get(f"{url}/sequence/{alias}", timeout=10).status_code == 404
    meta = requests.get(f"{url}/sequence/{compute(mine).md5}/metadata", timeout=10).json()["metadata"]
    assert [a["alias"] for a in meta["aliases"]] == [chr1]

    # the same sequence under the same name changes nothing and is fine for anyone
    r = load(bob, fasta_bytes({chr1: mine}))
    assert r.status_code == 200, r.text
    assert r.json()["objects_written"] == 0
    # ... but he cannot mark her sequence circular
    assert load(bob, fasta_bytes({chr1: mine}), circular=chr1).status_code == 409
    wrap = requests.get(f"{url}/sequence/{chr1}", params={"start": 1990, "end": 5}, timeout=10)
    assert wrap.status_code == 416, wrap.status_code  # still linear: start > end is out of range

    # bob's own sequences and names work; alice keeps naming hers
    own = "bobchr_" + secrets.token_hex(3)
    assert load(bob, fasta_bytes({own: junk})).status_code == 200
    assert requests.get(f"{url}/sequence/{own}", timeout=10).content == junk
    assert load(alice, fasta_bytes({"NC_" + chr1: mine})).status_code == 200
    assert requests.get(f"{url}/sequence/NC_{chr1}", timeout=10).content == mine
    assert load(alice, fasta_bytes({own: mine})).status_code == 409  # his name is his


def race_once(alice: Account, bob: Account, urls: tuple[str, str]) -> None:
    name = "race_" + secrets.token_hex(4)
    seqs = {"a": random_seq(800, secrets.randbits(32)), "b": random_seq(800, secrets.randbits(32))}
    who = {"a": alice, "b": bob}
    answers: dict[str, int] = {}
    go = threading.Barrier(2)

    def run(key: str, url: str) -> None:
        go.wait()
        answers[key] = load(who[key], fasta_bytes({name: seqs[key]}), url).status_code

    threads = [threading.Thread(target=run, args=(k, u)) for k, u in zip("ab", urls, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers.values()) == [200, 409], answers
    winner = "a" if answers["a"] == 200 else "b"
    got = requests.get(f"{urls[0]}/sequence/{name}", timeout=10)
    assert got.status_code == 200 and got.content == seqs[winner], (answers, got.status_code)
    loser = "b" if winner == "a" else "a"
    assert requests.get(f"{urls[1]}/sequence/{compute(seqs[loser]).md5}", timeout=10).status_code == 404


def test_racing_loads_of_one_new_name_through_two_replicas(
    make_account: Any, dm_server: ServerProcess, seaweed: Any, tmp_path: Any
) -> None:
    """Two users load different sequences under one new name at once, on two replicas: exactly one
    owns it afterwards and the name resolves to that user's sequence (10 rounds)."""
    alice, bob = make_account("alice"), make_account("bob")
    second = ServerProcess(tmp_path / "replica", seaweed).start()
    try:
        for _ in range(10):
            race_once(alice, bob, (dm_server.url, second.url))
    finally:
        second.stop()
