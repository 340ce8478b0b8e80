"""Sync pairs on folders shared with the user (issue 19): /users/alice/proj synced by bob.

With Write, two users converge like two machines of one user. With Read, nothing is ever uploaded: local
edits and new files stay local, listed under Problems as "read-only share", never retried in a loop.
Losing access (revoked mid-sync, or the owner deletes the share) never deletes a local file: the pair
stops with a clear message and keeps everything."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.sharing import Sharing
from gsdesktop.sync import ActionDone, ActionKind, ProblemKind, SyncConfig, SyncEngine, SyncEvent
from gsdesktop.sync.shares import READ_ONLY_NOTICE
from tests.integration.test_sync_engine import remote_tree, tree, write
from tests.support.faultproxy import FaultProxy

FAST = SyncConfig(min_file_age=0.0, host_name="ws1", retry_base=0.5)


@dataclass
class Pair:
    alice: DataManagerClient
    bob: DataManagerClient
    proxy: FaultProxy  # bob's requests to the Data Manager go through it (counted)
    proj: str

    @property
    def sharing(self) -> Sharing:
        return Sharing(self.alice)


@pytest.fixture
def pair(make_account: Any, tmp_home: Path) -> Iterator[Pair]:
    a, b = make_account("alice"), make_account("bob")
    proxy = FaultProxy(b.server_url).start()
    alice = DataManagerClient(a.server_url, a.username, a.password)
    bob = DataManagerClient(proxy.url, b.username, b.password)
    proj = f"{alice.home}/proj"
    alice.mkdir(proj)
    yield Pair(alice, bob, proxy, proj)
    alice.close()
    bob.close()
    proxy.stop()


def engine(client: DataManagerClient, local: Path, remote: str, state: Path, **cfg: Any) -> SyncEngine:
    config = SyncConfig(**{**FAST.__dict__, **cfg})
    return SyncEngine(client, local, remote, config, state_dir=state)


def put(client: DataManagerClient, tmp: Path, remote: str, data: bytes) -> None:
    src = tmp / ("up-" + os.urandom(4).hex())
    src.write_bytes(data)
    client.mkdir(remote.rsplit("/", 1)[0], parents=True)
    client.upload(src, remote)


def trash(home: Path) -> list[str]:
    files = home / ".local/share/Trash/files"
    return sorted(os.listdir(files)) if files.exists() else []


def test_two_users_on_a_write_share_converge_like_two_machines(pair: Pair, tmp_path: Path) -> None:
    put(pair.alice, tmp_path, f"{pair.proj}/docs/readme.txt", b"hello")
    put(pair.alice, tmp_path, f"{pair.proj}/data/x.bin", os.urandom(3000))
    pair.sharing.grant(pair.proj, "user", pair.bob.username, "write")
    a, b = tmp_path / "A", tmp_path / "B"
    ea = engine(pair.alice, a, pair.proj, tmp_path / "sa")
    eb = engine(pair.bob, b, pair.proj, tmp_path / "sb", host_name="ws2")
    try:
        assert ea.sync_once().converged
        rb = eb.sync_once()
        assert rb.converged and rb.downloaded == 2
        assert tree(a) == tree(b)

        # both edit one file (conflict, as between two machines), bob adds and deletes, alice deletes
        write(a / "docs/readme.txt", "from alice")
        write(b / "docs/readme.txt", "from bob")
        write(b / "bob/new.txt", "bob's new file")
        (b / "data/x.bin").unlink()
        write(a / "alice.txt", "alice's new file")
        assert ea.sync_once().converged
        rb = eb.sync_once()
        assert rb.converged and rb.conflicts == 1 and rb.deleted_remote == 1 and rb.uploaded >= 1
        assert ea.sync_once().converged
        ta, tb = tree(a), tree(b)
        assert ta == tb and ta["docs/readme.txt"] == b"from alice" and ta["bob/new.txt"] == b"bob's new file"
        assert "data/x.bin" not in ta and ta["alice.txt"] == b"alice's new file"
        copies = [p for p in ta if "conflicted copy ws2" in p]
        assert len(copies) == 1 and ta[copies[0]] == b"from bob"
        assert remote_tree(pair.alice, pair.proj) == ta
        for e in (ea, eb):  # and stays put
            r = e.sync_once()
            assert r.converged and r.planned == 0
    finally:
        ea.close()
        eb.close()


def test_a_read_share_never_uploads_and_loses_nothing(pair: Pair, tmp_path: Path, tmp_home: Path) -> None:
    put(pair.alice, tmp_path, f"{pair.proj}/a.txt", b"alice's a")
    put(pair.alice, tmp_path, f"{pair.proj}/sub/b.txt", b"alice's b")
    pair.sharing.grant(pair.proj, "user", pair.bob.username, "read")
    b = tmp_path / "B"
    eb = engine(pair.bob, b, pair.proj, tmp_path / "sb", host_name="ws2")
    try:
        r = eb.sync_once()
        assert r.converged and r.downloaded == 2
        # bob edits, adds files and a folder, deletes a file
        write(b / "a.txt", "bob's edit")
        write(b / "new.txt", "bob's new file")
        write(b / "mine/c.txt", "bob's c")
        (b / "sub/b.txt").unlink()
        pair.proxy.clear()
        counts = []
        for _ in range(3):
            before = len(pair.proxy.seen)
            r = eb.sync_once()
            counts.append(len(pair.proxy.seen) - before)
            assert r.blocked is None, r.blocked
            ro = {p.path: p for p in r.problems if p.kind is ProblemKind.READ_ONLY}
            assert sorted(ro) == ["a.txt", "mine/c.txt", "new.txt"], r.problems
            assert all("read-only share" in p.message and p.retry_at is None for p in ro.values())
            assert r.uploaded == 0 and r.deleted_remote == 0
        # nothing but reads went to the server, and the cycles do not retry anything
        assert {s.method for s in pair.proxy.seen} == {"GET"}, [(s.method, s.target) for s in pair.proxy.seen]
        assert counts[1] == counts[2] <= 6, counts
        # bob's versions stay; a file he deleted comes back (the share's copy cannot be deleted by him)
        tb = tree(b)
        assert tb["a.txt"] == b"bob's edit" and tb["new.txt"] == b"bob's new file"
        assert tb["mine/c.txt"] == b"bob's c" and tb["sub/b.txt"] == b"alice's b"
        assert remote_tree(pair.alice, pair.proj) == {
            "a.txt": b"alice's a",
            "sub": None,
            "sub/b.txt": b"alice's b",
        }
        assert {p.path for p in eb.problems() if p.kind is ProblemKind.READ_ONLY} == set(ro)

        # alice changes the file bob edited: his version is kept as a conflicted copy (listed too)
        put(pair.alice, tmp_path, f"{pair.proj}/a.txt", b"alice's a, v2")
        r = eb.sync_once()
        tb = tree(b)
        assert tb["a.txt"] == b"alice's a, v2" and r.conflicts == 1
        copies = [p for p in tb if "conflicted copy ws2" in p]
        assert len(copies) == 1 and tb[copies[0]] == b"bob's edit"
        assert {p.path for p in r.problems if p.kind is ProblemKind.READ_ONLY} == {
            copies[0],
            "mine/c.txt",
            "new.txt",
        }
        assert trash(tmp_home) == []

        # Write granted: what waited goes up, the problems go away
        pair.sharing.grant(pair.proj, "user", pair.bob.username, "write")
        r = eb.sync_once()
        assert r.converged and r.uploaded == 3, r.problems
        assert not [p for p in eb.problems() if p.kind is ProblemKind.READ_ONLY]
        assert remote_tree(pair.alice, pair.proj) == tree(b)
    finally:
        eb.close()


def test_read_share_in_watch_mode_does_not_loop(pair: Pair, tmp_path: Path) -> None:
    """A local file that cannot go up is told once; watch mode does not keep trying (request count)."""
    import time

    pair.sharing.grant(pair.proj, "user", pair.bob.username, "read")
    b = tmp_path / "B"
    eb = engine(pair.bob, b, pair.proj, tmp_path / "sb", poll_interval=60.0, quiet_period=0.1)
    try:
        assert eb.sync_once().converged
        eb.start()
        time.sleep(0.5)
        write(b / "local-only.txt", "stays here")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [
            p for p in eb.problems() if p.kind is ProblemKind.READ_ONLY
        ]:
            time.sleep(0.1)
        assert [p.path for p in eb.problems() if p.kind is ProblemKind.READ_ONLY] == ["local-only.txt"]
        time.sleep(0.5)
        settled = len(pair.proxy.seen)
        time.sleep(3.0)
        assert len(pair.proxy.seen) == settled, [(s.method, s.target) for s in pair.proxy.seen[settled:]]
        assert (b / "local-only.txt").read_text() == "stays here"
    finally:
        eb.close()


def _revoke_on_first_download(pair: Pair, eb: SyncEngine) -> tuple[list[str], list[bool]]:
    """(the file whose download revoked the share, [armed]): while armed, the first download revokes."""
    revoked: list[str] = []
    armed = [False]

    def on(ev: SyncEvent) -> None:
        if isinstance(ev, ActionDone) and ev.kind is ActionKind.DOWNLOADED and armed[0] and not revoked:
            revoked.append(ev.path)
            pair.sharing.revoke(pair.proj, "user", pair.bob.username)

    eb.subscribe(on)
    return revoked, armed


def test_revocation_mid_sync_deletes_nothing_locally(pair: Pair, tmp_path: Path, tmp_home: Path) -> None:
    """Ten rounds: the share is revoked while bob's cycle downloads; the pair stops with a clear message,
    every local file stays (his own new one, the versions not yet replaced); granted again, it goes on."""
    b = tmp_path / "B"
    eb = engine(pair.bob, b, pair.proj, tmp_path / "sb", transfers=1)
    names = [f"f{i}.txt" for i in range(4)]
    for n in names:
        put(pair.alice, tmp_path, f"{pair.proj}/{n}", b"v0 " + n.encode())
    revoked, armed = _revoke_on_first_download(pair, eb)
    try:
        for rnd in range(1, 11):
            pair.sharing.grant(pair.proj, "user", pair.bob.username, "write")
            r = eb.sync_once()
            assert r.converged, (rnd, r.blocked, r.problems)
            for n in names:  # alice changes every file; bob writes one of his own
                put(pair.alice, tmp_path, f"{pair.proj}/{n}", f"v{rnd} {n}".encode())
            write(b / f"bob{rnd}.txt", f"bob's round {rnd}")
            before = tree(b)
            revoked.clear()
            armed[0] = True
            r = eb.sync_once()
            armed[0] = False
            assert revoked, rnd
            assert r.blocked is not None and r.blocked.kind is ProblemKind.NO_ACCESS, (
                rnd,
                r.blocked,
                r.problems,
            )
            assert "no longer" in r.blocked.message and pair.proj in r.blocked.message
            assert "nothing was deleted" in r.blocked.message.lower()
            after = tree(b)
            assert set(after) == set(before), rnd  # nothing deleted, nothing renamed
            changed = [p for p in before if after[p] != before[p]]
            assert changed == [revoked[0]], (rnd, changed)  # only the one download that went through
            # again while revoked: stopped at once, nothing touched
            r = eb.sync_once()
            assert r.blocked is not None and r.blocked.kind is ProblemKind.NO_ACCESS
            assert tree(b) == after
            assert [p.kind for p in eb.problems() if not p.path] == [ProblemKind.NO_ACCESS]
        assert trash(tmp_home) == []
    finally:
        eb.close()


def test_the_owner_deleting_the_share_deletes_nothing_locally(
    pair: Pair, tmp_path: Path, tmp_home: Path
) -> None:
    put(pair.alice, tmp_path, f"{pair.proj}/a.txt", b"a")
    put(pair.alice, tmp_path, f"{pair.proj}/sub/b.txt", b"b")
    pair.sharing.grant(pair.proj, "user", pair.bob.username, "write")
    b = tmp_path / "B"
    eb = engine(pair.bob, b, pair.proj, tmp_path / "sb")
    try:
        assert eb.sync_once().converged
        write(b / "mine.txt", "bob's")
        pair.alice.delete(pair.proj, recursive=True)
        for _ in range(2):
            r = eb.sync_once()
            assert r.blocked is not None and r.blocked.kind is ProblemKind.NO_ACCESS, (r.blocked, r.problems)
            assert "no longer" in r.blocked.message and "nothing was deleted" in r.blocked.message.lower()
        assert tree(b) == {"a.txt": b"a", "sub": None, "sub/b.txt": b"b", "mine.txt": b"bob's"}
        assert trash(tmp_home) == []
    finally:
        eb.close()


def test_sync_cli_on_a_read_share_then_revoked(make_account: Any, tmp_path: Path) -> None:
    """`gsdesktop sync --once` on another user's folder: read-only files listed, exit 0; revoked: exit 3."""
    from tests.support.cli import cli_env, run_cli

    a, b = make_account("alice"), make_account("bob")
    alice = DataManagerClient(a.server_url, a.username, a.password)
    try:
        proj = f"{alice.home}/proj"
        put(alice, tmp_path, f"{proj}/a.txt", b"alice's a")
        Sharing(alice).grant(proj, "user", b.username, "read")
        env = cli_env(tmp_path / "home", b.server_url, b.username, b.password)
        local = tmp_path / "B"
        write(local / "mine.txt", "bob's")
        res = run_cli(["sync", str(local), proj, "--once"], env).ok()
        assert f"problem\tread_only\tmine.txt\t{READ_ONLY_NOTICE}" in res.out
        assert (local / "a.txt").read_bytes() == b"alice's a"
        Sharing(alice).revoke(proj, "user", b.username)
        res = run_cli(["sync", str(local), proj, "--once"], env)
        assert res.code == 3, res.out + res.err
        assert "blocked\tno_access\tYou no longer have access to " + proj in res.out
        assert tree(local) == {"a.txt": b"alice's a", "mine.txt": b"bob's"}
    finally:
        alice.close()


@pytest.fixture(scope="module")
def replica_b(seaweed: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second Data Manager replica on the same store (ACL caches of its own, ≤ 2 s behind)."""
    from tests.support.servers import ServerProcess

    server = ServerProcess(tmp_path_factory.mktemp("share-replica-b"), seaweed).start()
    yield server.url
    server.stop()


def test_revocation_on_one_replica_while_syncing_through_the_other(
    make_account: Any, replica_b: str, tmp_path: Path, tmp_home: Path
) -> None:
    """Ten rounds: alice revokes on replica A while bob's pair syncs through replica B (which may still
    allow him for up to 2 s): his cycles then stop with NO_ACCESS within 4 s, and no local file is lost."""
    import time

    a, b = make_account("alice"), make_account("bob")
    alice = DataManagerClient(a.server_url, a.username, a.password)
    bob = DataManagerClient(replica_b, b.username, b.password)
    proj = f"{alice.home}/proj"
    put(alice, tmp_path, f"{proj}/f.txt", b"v0")
    local = tmp_path / "B"
    eb = engine(bob, local, proj, tmp_path / "sb")
    try:
        for rnd in range(1, 11):
            Sharing(alice).grant(proj, "user", bob.username, "write")
            deadline = time.monotonic() + 4
            while not (r := eb.sync_once()).converged:  # replica B learns of the grant within 2 s
                assert time.monotonic() < deadline, (rnd, r.blocked, r.problems)
                time.sleep(0.1)
            put(alice, tmp_path, f"{proj}/f.txt", f"v{rnd}".encode())
            write(local / f"bob{rnd}.txt", f"bob's round {rnd}")
            before = set(tree(local))
            Sharing(alice).revoke(proj, "user", bob.username)
            started = time.monotonic()
            while (r := eb.sync_once()).blocked is None or r.blocked.kind is not ProblemKind.NO_ACCESS:
                assert time.monotonic() - started < 4, (rnd, r.blocked, r.problems)
                time.sleep(0.1)
            after = tree(local)
            assert before <= set(after), (rnd, before - set(after))
            assert all(after[f"bob{i}.txt"] == f"bob's round {i}".encode() for i in range(1, rnd + 1))
        assert trash(tmp_home) == []
    finally:
        eb.close()
        alice.close()
        bob.close()
