"""The engine's fast tier (issue 17): the randomized two-folder convergence scenarios of
``tests/integration/test_sync_e2e.py`` against the in-memory :class:`FakeRemote`, hundreds of seeds in
seconds. Two real engines (folders A and B, real files, real threads, real state databases) sync one fake
remote while random operations hit A, B and the remote (create, edit, delete, rename file and folder,
identical edits, empty folders, growing files); cycles meet injected faults (server errors, an
unreachable server), concurrent writers in the middle of a cycle (a remote or local write between the
engine's listing and its step: the 412 races), and crashes (an engine dies at a random request and
restarts from its state database).

After quiescence: all three trees hold the same paths and bytes, every version ever written is the final
content or a conflicted copy, or was itself replaced or deleted by a user (a trash may hold it only where
a user deleted it), and one more cycle plans nothing. The real-server runs stay in test_sync_e2e.py.

Replay one seed with ``GSDESKTOP_FAST_SEED=<seed> pytest tests/unit/test_sync_fast_tier.py``; run 500
other seeds with ``GSDESKTOP_FAST_SEED_BASE=<n>``.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from send2trash import plat_other

from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.errors import GSError, NetworkError, ServerError
from gsdesktop.sync import SyncConfig, SyncEngine, SyncReport, moves
from tests.integration.test_sync_e2e import World
from tests.support.fakeremote import FakeRemote

SEEDS = 500
CHUNKS = 10  # tests; each runs SEEDS // CHUNKS seeds
BASE_SEED = 17_000
# A concurrent writer in the middle of a cycle takes a random step: on the server (another user) or into a
# syncing folder itself, e.g. a save landing between a download's last check of the local file and its
# placement, or right after it (issue 16: such a save was lost in about 1 seed of 3,000; now 0 of 12,000).
# GSDESKTOP_FAST_LOCAL_RACES=0: the writer only writes on the server (as before).
LOCAL_RACES = os.environ.get("GSDESKTOP_FAST_LOCAL_RACES", "1") != "0"


class Crash(BaseException):
    """The engine's process dies here (not an Exception: nothing in the engine handles it)."""


class FastWorld(World):
    """The e2e scenario's world with the fake as the server (read and written in memory, no temp
    folders per request)."""

    def read(self, side: str, rel: str) -> bytes | None:
        if side != "S":
            return super().read(side, rel)
        try:
            return self.client.read(f"{self.root}/{rel}")  # type: ignore[attr-defined,no-any-return]
        except KeyError:
            return None

    def put(self, side: str, rel: str, data: bytes, old: bytes | None = None) -> None:
        if side != "S":
            return super().put(side, rel, data, old)
        src = self.a.parent / "upload.tmp"  # a user's own file, outside both sync folders
        src.write_bytes(data)
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        self.client.mkdir(f"{self.root}/{parent}".rstrip("/"), parents=True)
        cond = UploadCondition(if_match=hashlib.md5(old).hexdigest()) if old is not None else (
            UploadCondition(if_none_match=True))  # fmt: skip
        self.client.upload(src, f"{self.root}/{rel}", condition=cond)
        self.written.add(data)

    def _between_writes(self) -> None:
        """No pause between the writes of one save: the fake remote needs none."""


def trashed_from(roots: list[Path]) -> dict[bytes, set[str]]:
    """Content of each trashed file -> the paths (relative to a sync root) it was trashed from."""
    trash = Path(plat_other.HOMETRASH)
    found: dict[bytes, set[str]] = {}
    for info in (trash / "info").glob("*.trashinfo"):
        origin = ""
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("Path="):
                origin = urllib.parse.unquote(line[5:])
        rels = {os.path.relpath(origin, r) for r in roots if origin.startswith(str(r) + os.sep)}
        if not rels:
            continue  # another seed's
        item = trash / "files" / info.name[: -len(".trashinfo")]
        paths = [item] if item.is_file() else [p for p in item.rglob("*") if p.is_file()]
        for p in paths:
            sub = os.path.relpath(p, item) if p != item else ""
            for rel in rels:
                found.setdefault(p.read_bytes(), set()).add(f"{rel}/{sub}".rstrip("/") if sub else rel)
    return found


class Pair:
    """One side's engine, restarted from its state database after a crash."""

    def __init__(self, fake: FakeRemote, local: Path, remote: str, state: Path, host: str) -> None:
        self.args = (fake, local, remote)
        self.cfg = SyncConfig(allow_mass_delete=True, retry_base=0.05, min_file_age=0.0, host_name=host,
                              transfers=3)  # fmt: skip
        self.state = state
        self.engine = SyncEngine(*self.args, self.cfg, state_dir=state)
        self.crashes = 0

    def sync(self, force_retry: bool = False) -> SyncReport | None:
        try:
            return self.engine.sync_once(force_retry=force_retry)
        except Crash:
            self.crashes += 1
            self.engine.close()
            self.engine = SyncEngine(*self.args, self.cfg, state_dir=self.state)
            return None

    def close(self) -> None:
        self.engine.close()


def run_seed(seed: int, tmp: Path) -> str:
    rng = random.Random(seed)
    fake = FakeRemote()
    remote = f"{fake.home}/fast"
    a, b = tmp / "A", tmp / "B"
    a.mkdir(parents=True)
    b.mkdir()
    world = FastWorld(rng, fake, remote, a, b)  # type: ignore[arg-type]
    sides = {
        "A": Pair(fake, a, remote, tmp / "stateA", "hostA"),
        "B": Pair(fake, b, remote, tmp / "stateB", "hostB"),
    }
    log: list[str] = []
    lock = threading.Lock()

    def remote_race() -> str:
        """Another user writes on the server while the engine works (its uploads then lose: 412)."""
        files = world.files("S")
        try:
            if files and rng.random() < 0.6:
                rel = rng.choice(files)
                old = world.read("S", rel)
                if old is not None:
                    world.discarded.add(old)
                world.put("S", rel, world.content(), old)
                return f"S edit {rel}"
            rel = f"f{world.counter}.txt"
            world.put("S", rel, world.content())
            return f"S create {rel}"
        except GSError as exc:
            return f"S write skipped ({type(exc).__name__})"

    def arm() -> None:
        """Maybe break the next cycle: a fault, a concurrent writer or a crash at a random request."""
        r = rng.random()
        if r < 0.45:
            fake.before = None
            return
        at = fake.calls + rng.randint(1, 8)
        what = rng.choice(("server", "server", "network", "race", "race", "crash"))
        times = rng.randint(1, 3)

        def hook(op: str, path: str) -> None:
            nonlocal times
            with lock:  # (called from the executor's threads)
                if fake.calls < at or times <= 0:
                    return
                times -= 1
                if what == "race":
                    fake.before = None  # the concurrent writer's own requests go through
                    try:
                        change = world.step() if LOCAL_RACES else remote_race()
                        log.append(f"  during {op} {path}: {change}")
                    finally:
                        fake.before = hook
                    return
            log.append(f"  {what} fault at {op} {path}")
            if what == "server":
                raise ServerError("injected 500", paths=[path])
            if what == "network":
                raise NetworkError("injected connection reset", paths=[path])
            raise Crash(f"{op} {path}")

        fake.before = hook

    try:
        for _ in range(rng.randint(4, 12)):
            log.append(world.step())
            r = rng.random()
            if r < 0.75:
                name = rng.choice("AB")
                arm()
                rep = sides[name].sync()
                fake.before = None
                log.append(f"{name} cycle: " + ("crashed" if rep is None else f"planned {rep.planned}"))
        ra = rb = None
        for _ in range(8):  # quiescence: alternate cycles until both sides plan nothing
            ra, rb = sides["A"].sync(force_retry=True), sides["B"].sync(force_retry=True)
            assert ra is not None and rb is not None
            if ra.planned == rb.planned == 0 and ra.converged and rb.converged:
                break
            if ra.waiting or rb.waiting:  # a server move seen half done: left alone for a while
                time.sleep(moves.COPY_WAIT)
        else:
            raise AssertionError(f"no quiescence: A={ra} B={rb}")
        ta = world.agreed_tree()
        final = {v for v in ta.values() if v is not None}
        trashed, gone = trashed_from([a, b]), world.deleted
        by_delete = {v for v, origins in trashed.items()
                     if any(o == d or o.startswith(d + "/") for o in origins for d in gone)}  # fmt: skip
        lost = [v[:12] for v in world.written if v not in final | world.discarded | by_delete]
        assert not lost, f"lost versions: {lost}"
        for pair in sides.values():  # a further cycle transfers nothing
            again = pair.sync()
            assert again is not None and again.planned == 0 and again.bytes_up == again.bytes_down == 0
    except BaseException:
        print(f"seed={seed} (replay: GSDESKTOP_FAST_SEED={seed})\n" + "\n".join(log))
        raise
    finally:
        for pair in sides.values():
            pair.close()
    return "\n".join(log)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_randomized_convergence_against_the_fake_remote(
    chunk: int, tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moves, "COPY_WAIT", 0.2)  # (30 s against a real server)
    replay = os.environ.get("GSDESKTOP_FAST_SEED")
    if replay:
        if chunk:
            pytest.skip("replaying one seed")
        seeds = [int(replay)]
    else:
        per = SEEDS // CHUNKS
        base = int(os.environ.get("GSDESKTOP_FAST_SEED_BASE") or BASE_SEED)  # other seeds: explore
        seeds = [base + chunk * per + i for i in range(per)]
    started = time.monotonic()
    for seed in seeds:
        run_seed(seed, tmp_path / str(seed))
    took = time.monotonic() - started
    print(f"{len(seeds)} seeds in {took:.1f} s")


def test_a_folder_move_seen_half_done_is_waited_for_not_converged(
    tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fast tier (seed 101294): a new remote folder that looks like a server move under way
    (a strict subset of a synced folder) is left alone for a while; the cycle that leaves it must not
    say "converged" (the other side's quiescence ended with the trees apart)."""
    monkeypatch.setattr(moves, "COPY_WAIT", 0.5)
    fake = FakeRemote()
    root = f"{fake.home}/moving"
    fake.mkdir(f"{root}/X", parents=True)
    for name in ("a.txt", "b.txt"):
        src = tmp_path / name
        src.write_text(f"content of {name}")
        fake.upload(src, f"{root}/X/{name}")
    local = tmp_path / "L"
    cfg = SyncConfig(min_file_age=0.0, host_name="h")
    eng = SyncEngine(fake, local, root, cfg, state_dir=tmp_path / "state")
    try:
        assert eng.sync_once().converged
        fake.mkdir(f"{root}/Y")  # the server copies X to Y object by object: one file so far
        fake.upload(tmp_path / "a.txt", f"{root}/Y/a.txt")
        r = eng.sync_once()
        assert r.planned == 0 and r.waiting == ["Y"] and not r.converged, r
        assert r.to_json()["waiting"] == ["Y"] and r.to_json()["converged"] is False
        time.sleep(0.6)  # the wait is over: the folder is what it is
        r = eng.sync_once()
        assert r.converged and r.waiting == [] and (local / "Y" / "a.txt").read_text() == "content of a.txt"
    finally:
        eng.close()
