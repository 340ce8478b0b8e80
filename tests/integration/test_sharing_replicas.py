"""Sharing across two replicas on one store: changes hold everywhere within 2 s; racing grants all land."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import pytest
import requests

from gsdesktop.server.access import AccessStore
from gsdesktop.server.paths import DMPath
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
from tests.integration.test_server_helpers import DM
from tests.integration.test_server_replicas import CliResult
from tests.integration.test_server_replicas import cli as cli  # the CLI fixture
from tests.integration.test_sharing_api import SHARING, get, grant, revoke
from tests.support.servers import ServerProcess

PROPAGATION = 2.0


@pytest.fixture(scope="module")
def replica(
    seaweed: S3Config, dm_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("replica-b"), seaweed).start()
    yield server.url
    server.stop()


def _until_status(dm: DM, path: str, status: int, started: float) -> float:
    """Seconds from ``started`` until ``dm`` sees ``status`` on ``path`` (fails after 4 s)."""
    while True:
        code = get(dm, path, "filemetadata").status_code
        elapsed = time.monotonic() - started
        if code == status:
            return elapsed
        assert elapsed < 4.0, f"still {code} after {elapsed:.2f}s (wanted {status})"
        time.sleep(0.05)


def test_grant_revoke_and_group_membership_reach_the_other_replica_within_2s(
    make_account: Any, replica: str
) -> None:
    a_alice, a_bob, a_carol = (make_account(p) for p in ("alice", "bob", "carol"))
    alice = DM(a_alice.server_url, a_alice.username, a_alice.password)  # replica A
    bob = DM(replica, a_bob.username, a_bob.password)  # replica B
    carol = DM(replica, a_carol.username, a_carol.password)  # replica B
    alice.mkdir("proj")
    alice.mkdir("proj/deep")
    alice.upload("proj/deep/f.txt", b"f")
    target = alice.p("proj/deep/f.txt")
    group = f"rg-{alice.user}"
    assert alice.s.post(f"{alice.base}{SHARING}/groups", json={"name": group}, timeout=30).status_code == 201
    assert grant(alice, alice.p("proj"), "group", group).status_code == 200
    members = f"{alice.base}{SHARING}/groups/{group}/members"
    worst = 0.0
    for round_no in range(10):
        # at once: a user grant on the folder (inherited by the file) and a group member added
        started = time.monotonic()
        assert grant(alice, alice.p("proj"), "user", bob.user).status_code == 200
        add = {"group": group, "user": carol.user}
        assert alice.s.post(f"{alice.base}{SHARING}/groups/members", json=add, timeout=30).status_code == 200
        worst = max(
            worst, _until_status(bob, target, 200, started), _until_status(carol, target, 200, started)
        )
        # then the revoke and the member removed
        started = time.monotonic()
        assert revoke(alice, alice.p("proj"), "user", bob.user).status_code == 200
        assert alice.s.delete(f"{members}/{carol.user}", timeout=30).status_code == 200
        worst = max(
            worst, _until_status(bob, target, 403, started), _until_status(carol, target, 403, started)
        )
        assert worst <= PROPAGATION, f"round {round_no}: a change took {worst:.2f}s to reach replica B"
    print(f"worst propagation to the other replica: {worst:.2f}s")


def _eventually(read: Callable[[], Any], want: Any, timeout: float = PROPAGATION) -> Any:
    """``read()`` until it returns ``want`` (every replica converges within ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _at_once(calls: Sequence[Callable[[], requests.Response]]) -> list[str]:
    """Run ``calls`` in threads released together; the texts of the answers that were not 200."""
    barrier = threading.Barrier(len(calls))
    errors: list[str] = []

    def run(call: Callable[[], requests.Response]) -> None:
        barrier.wait()
        r = call()
        if r.status_code != 200:
            errors.append(f"{r.status_code} {r.text}")

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_racing_grants_revokes_and_member_adds_through_two_replicas_all_land(
    make_account: Any, replica: str, seaweed: S3Config
) -> None:
    """No racing change is lost: checked in the store by a fresh reader (no replica cache) every round."""
    owner = make_account("owner")
    grantees = [make_account("g").username for _ in range(6)]
    on_a = DM(owner.server_url, owner.username, owner.password)
    on_b = DM(replica, owner.username, owner.password)
    on_a.upload("race.txt", b"r")
    path = on_a.p("race.txt")
    dm_path = DMPath(owner.username, "race.txt")
    store = S3Store(seaweed)
    groups = f"{SHARING}/groups"
    group = f"race-{owner.username}"
    assert on_a.s.post(f"{on_a.base}{groups}", json={"name": group}, timeout=30).status_code == 201

    def both(i: int) -> DM:
        return (on_a, on_b)[i % 2]

    for round_no in range(10):
        level = ("read", "write")[round_no % 2]
        assert (
            _at_once([partial(grant, both(i), path, "user", g, level) for i, g in enumerate(grantees)]) == []
        )
        got = {(e.name, e.level.label) for e in AccessStore(store).entries(dm_path)}
        assert got == {(g, level) for g in grantees}, round_no
        assert _at_once([partial(revoke, both(i), path, "user", g) for i, g in enumerate(grantees)]) == []
        assert AccessStore(store).entries(dm_path) == [], round_no
        # racing member adds (then removes) on one group through both replicas
        members = [f"{both(i).base}{groups}/{group}/members" for i in range(len(grantees))]
        calls = [
            partial(
                both(i).s.post,
                f"{both(i).base}{groups}/members",
                json={"group": group, "user": g},
                timeout=30,
            )
            for i, g in enumerate(grantees)
        ]
        assert _at_once(calls) == []
        fresh = AccessStore(store).group(group)
        assert fresh is not None and fresh.members == tuple(sorted([owner.username, *grantees])), round_no
        calls = [partial(both(i).s.delete, f"{members[i]}/{g}", timeout=30) for i, g in enumerate(grantees)]
        assert _at_once(calls) == []
        fresh = AccessStore(store).group(group)
        assert fresh is not None and fresh.members == (owner.username,), round_no
    # and the replicas agree within the propagation bound
    for dm in (on_a, on_b):

        def members_seen(dm: DM = dm) -> Any:
            return dm.s.get(f"{dm.base}{groups}/{group}", timeout=30).json()["members"]

        view = _eventually(members_seen, [owner.username])
        assert view == [owner.username]


def test_admin_cli_lists_groups_and_an_items_acl(
    make_account: Any, seaweed: S3Config, cli: Callable[..., CliResult]
) -> None:
    alice_acc, bob_acc = make_account("alice"), make_account("bob")
    alice = DM(alice_acc.server_url, alice_acc.username, alice_acc.password)
    alice.mkdir("d")
    alice.upload("d/cli.txt", b"c")
    group = f"cli-{alice.user}"
    groups = f"{alice.base}{SHARING}/groups"
    assert alice.s.post(groups, json={"name": group}, timeout=30).status_code == 201
    assert alice.s.post(f"{groups}/members", json={"group": group, "user": bob_acc.username}, timeout=30).ok
    assert grant(alice, alice.p("d"), "user", bob_acc.username, "write").status_code == 200
    assert grant(alice, alice.p("d/cli.txt"), "group", group).status_code == 200

    r = cli(["groups", "--json"], seaweed)
    assert r.returncode == 0, r.stderr
    mine = [g for g in json.loads(r.stdout) if g["name"] == group]
    assert mine == [
        {
            "name": group,
            "admins": [alice.user],
            "members": [alice.user, bob_acc.username],
            "createdBy": alice.user,
        }
    ]
    r = cli(["groups"], seaweed)
    assert (
        f"{group}\tadmins: {alice.user}\tmembers: {alice.user}, {bob_acc.username}" in r.stdout.splitlines()
    )

    r = cli(["acl", f"/Home/{alice.user}/d/cli.txt", "--json"], seaweed)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["entries"] == [
        {
            "type": "user",
            "name": bob_acc.username,
            "level": "write",
            "inherited": True,
            "grantedOn": alice.p("d"),
        },
        {
            "type": "group",
            "name": group,
            "level": "read",
            "inherited": False,
            "grantedOn": alice.p("d/cli.txt"),
        },
    ]
    r = cli(["acl", alice.p("d/cli.txt")], seaweed)
    assert f"  user {bob_acc.username}: write (inherited from {alice.p('d')})" in r.stdout
    assert f"  group {group}: read" in r.stdout
    r = cli(["acl", "/nowhere/x"], seaweed)
    assert r.returncode != 0 and "unknown root folder" in r.stderr
