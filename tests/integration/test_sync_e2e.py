"""Seeded end-to-end randomized runs: two local folders and the server, with injected faults.

Folder A is synced by a real ``gsdesktop sync --watch`` subprocess that is killed with SIGKILL at random
moments and restarted; folder B by an in-process engine whose Data Manager traffic goes through a
fault-injecting proxy (503s and connection resets). Random operations hit A, B and the server
(create, edit, delete, rename file, rename folder, identical edits, empty folders) and, in the race runs,
the shapes of issue 16 (a save during its own upload, edits 0-100 ms apart on both machines, a file
replaced by a folder while another side edits it). After quiescence: all three trees hold the same paths
and bytes, every version ever written is the final content or a conflicted copy, or was itself
overwritten/deleted by a user (a trash may hold it only where a user deleted it), and one more cycle
plans nothing.

Replay a failure with ``GSDESKTOP_SYNC_SEED=<seed> pytest tests/integration/test_sync_e2e.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import GSError
from gsdesktop.sync import SyncConfig, SyncEngine
from tests.integration.test_sync_engine import tree
from tests.support.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, account) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSDESKTOP_")}
    env["HOME"] = str(home)
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):  # fmt: skip
        env[var] = str(home / sub)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env.update(GSDESKTOP_SERVER=account.server_url, GSDESKTOP_USERNAME=account.username,
               GSDESKTOP_PASSWORD=account.password)  # fmt: skip
    return env


@dataclass
class World:
    rng: random.Random
    client: DataManagerClient
    root: str
    a: Path
    b: Path
    written: set[bytes] = field(default_factory=set)
    discarded: set[bytes] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)  # paths a user deleted (their versions may be in a trash)
    counter: int = 0
    engine_b: SyncEngine | None = None  # B's in-process engine (the race shapes sync B at a chosen moment)

    def content(self, big: bool = False) -> bytes:
        self.counter += 1
        size = self.rng.choice((300_000, 1_500_000)) if big else self.rng.choice((0, 10, 200, 5000))
        return f"v{self.counter}:".encode() + self.rng.randbytes(size)

    # -- per-side views -------------------------------------------------------------------------
    def files(self, side: str) -> list[str]:
        return sorted(p for p, v in self.view(side).items() if v is not None)

    def dirs(self, side: str) -> list[str]:
        return sorted(p for p, v in self.view(side).items() if v is None)

    def view(self, side: str) -> dict[str, bytes | None]:
        if side == "S":
            try:
                return {m.path[len(self.root) + 1 :]: (b"" if not m.is_directory else None)
                        for m in self.client.list_recursive(self.root)}  # fmt: skip
            except GSError:
                return {}
        return {p: v for p, v in tree(self.a if side == "A" else self.b).items()
                if "conflicted copy" not in p or self.rng.random() < 0.3}  # fmt: skip

    def agreed_tree(self) -> dict[str, bytes | None]:
        """The tree both folders and the server hold, asserted to be the same on all three."""
        ta, tb = tree(self.a), tree(self.b)
        ts = {p: (self.read("S", p) if v is not None else None) for p, v in self.view("S").items()}
        assert ta == tb, _diff(ta, tb)
        assert ta == ts, _diff(ta, ts)
        return ta

    def read(self, side: str, rel: str) -> bytes | None:
        try:
            if side == "S":
                with tempfile.TemporaryDirectory() as d:
                    self.client.download(f"{self.root}/{rel}", Path(d) / "f")
                    return (Path(d) / "f").read_bytes()
            return ((self.a if side == "A" else self.b) / rel).read_bytes()
        except (OSError, GSError):
            return None

    def put(self, side: str, rel: str, data: bytes, old: bytes | None = None) -> None:
        """Write a version; it counts as written only once the write succeeded. On the server a user
        replaces only the version it read (``old``; none: only a new name), as a careful client does."""
        if side == "S":
            with tempfile.TemporaryDirectory() as d:
                src = Path(d) / "f"
                src.write_bytes(data)
                parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
                self.client.mkdir(f"{self.root}/{parent}".rstrip("/"), parents=True)
                cond = UploadCondition(if_match=hashlib.md5(old).hexdigest()) if old is not None else (
                    UploadCondition(if_none_match=True))  # fmt: skip
                self.client.upload(src, f"{self.root}/{rel}", condition=cond)
        else:
            p = (self.a if side == "A" else self.b) / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.parent / f".{p.name}.swp"  # editor-style save
            tmp.write_bytes(data)
            try:
                os.replace(tmp, p)
            except OSError:  # (a folder took the name meanwhile) the editor's temp file goes too:
                tmp.unlink()  # left behind, an ignored name would stay on this side only
                raise
        self.written.add(data)

    # -- random operations ----------------------------------------------------------------------
    def step(self) -> str:
        rng = self.rng
        side = rng.choice("AABBS")
        op = rng.choice(
            ("create", "create", "edit", "edit", "delete", "rename", "rename_dir", "mkdir", "same",
             "append", "rename_over")
        )  # fmt: skip
        files, dirs = self.files(side), self.dirs(side)
        try:
            needs_file = ("edit", "delete", "rename", "same", "append", "rename_over")
            if op == "create" or (not files and op in needs_file):
                folder = rng.choice([*dirs, "", f"d{rng.randrange(4)}"])
                rel = f"{folder}/f{self.counter}.txt".lstrip("/")
                self.put(side, rel, self.content())
                return f"{side} create {rel}"
            if op in ("append", "rename_over") and side != "S" and files:
                return self._local_save(side, rng.choice(files), op)
            if op in ("edit", "append", "rename_over"):
                rel = rng.choice(files)
                old = self.read(side, rel)
                if old is not None:
                    self.discarded.add(old)
                self.put(side, rel, self.content(), old)
                return f"{side} edit {rel}"
            if op == "delete":
                rel = rng.choice(files)
                old = self.read(side, rel)
                if old is not None:
                    self.discarded.add(old)
                self.deleted.add(rel)
                if side == "S":
                    self.client.delete(f"{self.root}/{rel}")
                else:
                    ((self.a if side == "A" else self.b) / rel).unlink()
                return f"{side} delete {rel}"
            if op == "rename":
                rel = rng.choice(files)
                new = (
                    rel.rsplit("/", 1)[0] + f"/r{self.counter}.txt" if "/" in rel else f"r{self.counter}.txt"
                )
                self.counter += 1
                self._move(side, rel, new)
                return f"{side} rename {rel} -> {new}"
            if op == "rename_dir" and dirs:
                rel = rng.choice(dirs)
                new = f"{rel}-m{self.counter}"
                self.counter += 1
                self._move(side, rel, new)
                return f"{side} rename dir {rel} -> {new}"
            if op == "same" and files:
                rel = rng.choice(files)
                data = self.content()
                for s in ("A", "S"):
                    old = self.read(s, rel)
                    if old is not None:
                        self.discarded.add(old)
                    self.put(s, rel, data, old)
                return f"A+S identical edit {rel}"
            rel = f"e{self.counter}"
            self.counter += 1
            if side == "S":
                self.client.mkdir(f"{self.root}/{rel}")
            else:
                ((self.a if side == "A" else self.b) / rel).mkdir(exist_ok=True)
            return f"{side} mkdir {rel}"
        except (OSError, GSError) as exc:  # raced with the sync: harmless, nothing recorded
            return f"{side} {op} skipped ({type(exc).__name__})"

    # -- race shapes (issue 16): a save during its own upload, edits 0-100 ms apart, file <-> folder --
    def race_step(self) -> str:
        rng = self.rng
        shape = rng.choice(("edit_during_upload", "edits_apart", "file_folder"))
        try:
            if shape == "edit_during_upload":
                side = rng.choice("AB")
                rel = rng.choice([*self.files(side), f"big{self.counter}.bin"])
                first = self.content(big=True)
                self.discard_old(side, rel)
                self.put(side, rel, first)
                sync_b = self.sync_b_async() if side == "B" else None
                time.sleep(rng.uniform(0.05, 0.6))  # A's watcher (bandwidth limited) or B is uploading
                self.discarded.add(first)
                # the save replaces what the file holds now: a sync that lost the race to another
                # machine's version kept ``first`` as a conflicted copy and put that version here
                self.discard_old(side, rel)
                self.put(side, rel, self.content(big=rng.random() < 0.5))
                if sync_b is not None:
                    sync_b.join(120)
                return f"{side} edit during upload {rel}"
            if shape == "edits_apart":
                common = sorted(set(self.files("A")) & set(self.files("B")))
                rel = rng.choice(common) if common else f"both{self.counter}.txt"
                for side in rng.sample(["A", "B"], 2):
                    self.discard_old(side, rel)
                    self.put(side, rel, self.content())
                    time.sleep(rng.uniform(0.0, 0.1))
                assert self.engine_b is not None
                self.engine_b.sync_once()  # B syncs at once: its upload races A's watcher
                return f"A+B edits apart {rel}"
            # file <-> folder: one side replaces a file by a folder while another edits the file
            files = sorted(set(self.files("A")) & set(self.files("B")))
            if not files:
                return "file<->folder skipped (no common file)"
            rel = rng.choice(files)
            side, other = rng.sample(["A", "B", "S"], 2)
            self.discard_old(other, rel)
            self.put(other, rel, self.content(), self.read(other, rel))
            self.discard_old(side, rel)
            if side == "S":
                self.deleted.add(rel)  # (may remove a version uploaded after it was read)
                self.client.delete(f"{self.root}/{rel}")
                self.client.mkdir(f"{self.root}/{rel}")
            else:
                base = self.a if side == "A" else self.b
                (base / rel).unlink()
                (base / rel).mkdir()
            self.put(side, f"{rel}/inside{self.counter}.txt", self.content())
            return f"{side} file->folder {rel} while {other} edits it"
        except (OSError, GSError) as exc:  # raced with the sync: harmless, nothing recorded
            return f"{shape} skipped ({type(exc).__name__})"

    def discard_old(self, side: str, rel: str) -> None:
        old = self.read(side, rel)
        if old is not None:
            self.discarded.add(old)

    def sync_b_async(self) -> threading.Thread:
        assert self.engine_b is not None
        t = threading.Thread(target=self.engine_b.sync_once)
        t.start()
        return t

    def _between_writes(self) -> None:
        """The pause between the writes of one save (a slow writer; none in the fast tier)."""
        time.sleep(self.rng.uniform(0.05, 0.4))

    def _local_save(self, side: str, rel: str, op: str) -> str:
        """``append``: a file grows in a few writes while sync runs (an instrument); ``rename_over``: a
        new version written in chunks to ``<name>.new`` and renamed over the file (a slow atomic save).
        The versions in between are the user's own, replaced by the user: discarded, not written."""
        p = (self.a if side == "A" else self.b) / rel
        old = self.read(side, rel)
        if old is not None:
            self.discarded.add(old)
        tmp = p.with_name(p.name + ".new") if op == "rename_over" else p
        with open(tmp, "ab" if op == "append" else "wb") as fh:
            if op == "rename_over":
                fh.write(f"v{self.counter}:".encode())
                self.counter += 1
            for _ in range(3):
                fh.write(self.rng.randbytes(self.rng.choice((10, 2000))))
                fh.flush()
                self.discarded.add(tmp.read_bytes())
                self._between_writes()
        if op == "rename_over":
            os.replace(tmp, p)
        final = p.read_bytes()
        self.discarded.discard(final)
        self.written.add(final)
        return f"{side} {op} {rel}"

    def _move(self, side: str, src: str, dst: str) -> None:
        if side == "S":
            self.client.move(f"{self.root}/{src}", f"{self.root}/{dst}")
        else:
            base = self.a if side == "A" else self.b
            if (base / dst).exists():
                raise FileExistsError(dst)
            os.rename(base / src, base / dst)


class Watcher:
    """``gsdesktop sync A REMOTE --watch`` as a real subprocess that can be killed at any moment."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        with open(self.log, "ab") as fh:
            cmd = [sys.executable, "-m", "gsdesktop", *self.args, "--watch", "--poll", "0.5"]
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
                                         start_new_session=True)  # fmt: skip

    def kill9(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None
            self.kills += 1

    def stop(self) -> None:
        if self.proc is not None:
            time.sleep(max(0.0, self.started + 4.0 - time.monotonic()))  # past interpreter start-up
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                assert self.proc.wait(30) == 0, "watch mode did not stop cleanly"
            finally:
                self.proc = None

    def once(self) -> dict[str, object]:
        out = subprocess.run([sys.executable, "-m", "gsdesktop", *self.args, "--once", "--json", "--quiet"],
                             env=self.env, capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
        lines: list[dict[str, object]] = [
            json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith("{")
        ]
        assert lines, f"no summary (exit {out.returncode}): {out.stderr}"
        return lines[-1]


def trash_contents(*homes: Path) -> set[bytes]:
    found: set[bytes] = set()
    for home in homes:
        for dirpath, _, files in os.walk(home / ".local/share/Trash/files"):
            for f in files:
                found.add((Path(dirpath) / f).read_bytes())
    return found


def trash_by_origin(roots: list[Path], *homes: Path) -> dict[bytes, set[str]]:
    """Content of each trashed file -> the paths (relative to a sync root) it was trashed from."""
    found: dict[bytes, set[str]] = {}
    for home in homes:
        trash = home / ".local/share/Trash"
        for info in (trash / "info").glob("*.trashinfo"):
            origin = ""
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("Path="):
                    origin = urllib.parse.unquote(line[5:])
            item = trash / "files" / info.name[: -len(".trashinfo")]
            if not origin:
                continue
            rels = {os.path.relpath(origin, r) for r in roots if origin.startswith(str(r) + os.sep)}
            paths = [item] if item.is_file() else [p for p in item.rglob("*") if p.is_file()]
            for p in paths:
                sub = os.path.relpath(p, item) if p != item else ""
                for rel in rels or {origin}:
                    found.setdefault(p.read_bytes(), set()).add(f"{rel}/{sub}".rstrip("/") if sub else rel)
    return found


def run_scenario(  # type: ignore[no-untyped-def]
    seed: int, steps: int, account, tmp_path: Path, tmp_home: Path, races: float = 0.0
) -> None:
    """``races``: the share of steps that are race shapes (then A's watcher uploads at 4 MB/s)."""
    print(f"\nsync e2e seed={seed} steps={steps} races={races} (replay: GSDESKTOP_SYNC_SEED={seed})")
    rng = random.Random(seed)
    client = DataManagerClient(account.server_url, account.username, account.password)
    remote = f"{client.home}/e2e{seed % 100000}"
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    b.mkdir()
    world = World(rng, client, remote, a, b)
    home_a = tmp_path / "homeA"
    home_a.mkdir()
    args = ["sync", str(a), remote, "--state-dir", str(tmp_path / "stateA"), "--allow-mass-delete"]
    if races:
        args += ["--bwlimit-up", "4M"]
    watcher = Watcher(args, _env(home_a, account), tmp_path / "watchA.log")
    proxy = FaultProxy(account.server_url).start()
    bclient = DataManagerClient(proxy.url, account.username, account.password, retries=1)
    cfg = SyncConfig(allow_mass_delete=True, retry_base=0.2, min_file_age=0.0, host_name="hostB")
    eng_b = SyncEngine(bclient, b, remote, cfg, state_dir=tmp_path / "stateB")
    world.engine_b = eng_b
    log: list[str] = []
    try:
        watcher.start()
        for _ in range(steps):
            log.append(world.race_step() if rng.random() < races else world.step())
            r = rng.random()
            if r < 0.25:
                if rng.random() < 0.5:
                    proxy.add(lambda m, t: True, rng.choice(("status", "reset")), times=rng.randint(1, 3),
                              status=rng.choice((500, 502, 503)))  # fmt: skip
                rep = eng_b.sync_once()
                log.append(f"B cycle: planned {rep.planned} up {rep.uploaded} down {rep.downloaded}")
                proxy.clear()
            elif r < 0.4:
                time.sleep(rng.uniform(0.0, 1.2))  # let the watcher get into a cycle, then kill it
                watcher.kill9()
                log.append(f"kill -9 watcher (#{watcher.kills})")
                watcher.start()
            else:
                time.sleep(rng.uniform(0.0, 0.3))
        watcher.stop()
        # quiescence: alternate one-shot cycles until both sides plan nothing
        for _ in range(8):
            ra = watcher.once()
            rb = eng_b.sync_once(force_retry=True)
            if ra["planned"] == 0 and rb.planned == 0 and ra["converged"] and rb.converged:
                break
        else:
            raise AssertionError(f"no quiescence: A={ra} B={rb}")
        ta = world.agreed_tree()
        # every version written is the final content or a conflicted copy (both in ``final``), or was
        # replaced or deleted by a user; a trash may hold it only where a user deleted it
        final = {v for v in ta.values() if v is not None}
        trashed = trash_by_origin([a, b], home_a, tmp_home)
        gone = world.deleted
        by_delete = {v for v, origins in trashed.items()
                     if any(o == d or o.startswith(d + "/") for o in origins for d in gone)}  # fmt: skip
        lost = [v[:12] for v in world.written if v not in final | world.discarded | by_delete]
        if lost:
            print("A = B = S:", {p: (v or b"")[:5] for p, v in ta.items()})
            for h in (home_a, tmp_home):
                for dirpath, _, fs in os.walk(h):
                    for f in fs:
                        print("home file", dirpath, f, (Path(dirpath) / f).read_bytes()[:5])
        assert not lost, f"lost versions: {lost}"
        # a further cycle on each side transfers nothing
        again = eng_b.sync_once()
        assert again.planned == 0 and again.bytes_up == again.bytes_down == 0
        assert watcher.once()["planned"] == 0
        print("\n".join(log))  # (captured: shown with -s)
    except BaseException:
        print("\n".join(log))
        print(f"seed={seed}; watcher log tail:\n{watcher.log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        with contextlib.suppress(Exception):
            watcher.kill9()
        eng_b.close()
        proxy.stop()
        bclient.close()
        client.close()


def _diff(x: dict[str, bytes | None], y: dict[str, bytes | None]) -> str:
    keys = sorted(set(x) | set(y))
    return "\n".join(f"{k}: {str(x.get(k, '<absent>'))[:30]} | {str(y.get(k, '<absent>'))[:30]}"
                     for k in keys if x.get(k, b"?") != y.get(k, b"?"))  # fmt: skip


@pytest.fixture
def seed() -> Iterator[int]:
    yield int(os.environ.get("GSDESKTOP_SYNC_SEED") or random.SystemRandom().randrange(1, 10**9))


def test_randomized_two_folders_with_kills_and_faults(  # type: ignore[no-untyped-def]
    account, tmp_path: Path, tmp_home: Path, seed: int
) -> None:
    run_scenario(seed, 14, account, tmp_path, tmp_home)


def test_randomized_races(account, tmp_path: Path, tmp_home: Path, seed: int) -> None:  # type: ignore[no-untyped-def]
    """The race shapes of issue 16: a save during its own upload, edits 0-100 ms apart on both
    machines, a file replaced by a folder while another side edits it (more behind --runslow)."""
    run_scenario(seed, 8, account, tmp_path, tmp_home, races=0.6)


@pytest.mark.slow
@pytest.mark.parametrize("n", range(5))
def test_randomized_races_soak(account, tmp_path: Path, tmp_home: Path, seed: int, n: int) -> None:  # type: ignore[no-untyped-def]
    run_scenario(seed + n, 40, account, tmp_path, tmp_home, races=0.5)


@pytest.mark.slow
@pytest.mark.parametrize("n", range(5))
def test_randomized_soak(account, tmp_path: Path, tmp_home: Path, seed: int, n: int) -> None:  # type: ignore[no-untyped-def]
    run_scenario(seed + n, 80, account, tmp_path, tmp_home)
