"""Settling conflicted copies (`gsdesktop conflicts --keep`), with two real sync folders on the real server:
each choice is a local change that the next sync cycle carries to the server, and nothing is deleted
outright (what a choice replaces goes to the OS trash)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import SyncEngine
from gsdesktop.sync.conflicts import open_conflicts
from tests.conftest import Account
from tests.integration.test_sync_engine import make_engine, remote_tree, tree, write
from tests.support.cli import CLIResult, cli_env, run_cli


def _trash(home: Path) -> dict[str, bytes]:
    files = home / ".local/share/Trash/files"
    return {p.name: p.read_bytes() for p in files.iterdir()} if files.is_dir() else {}


def _conflicting(
    client: DataManagerClient,
    tmp_path: Path,
    edits: dict[str, tuple[str, str]],
) -> tuple[SyncEngine, SyncEngine]:
    """Folders A and B in sync, then each file edited differently in each: B's next cycle makes a
    conflicted copy (host ws2) of every one."""
    a, b = tmp_path / "A", tmp_path / "B"
    for name in edits:
        write(a / name, "base")
    ea = make_engine(client, a, tmp_path / "sa")
    eb = make_engine(client, b, tmp_path / "sb", host_name="ws2")
    assert ea.sync_once().converged and eb.sync_once().converged
    for name, (in_a, in_b) in edits.items():
        write(a / name, in_a)
        write(b / name, in_b)
    assert ea.sync_once().converged
    assert eb.sync_once().conflicts == len(edits)
    return ea, eb


def test_keep_copy_original_or_both_and_the_server_follows(
    client: DataManagerClient,
    account: Account,
    tmp_path: Path,
    tmp_home: Path,
) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    names = ("copy wins.txt", "original wins.txt", "both stay.txt", "twice.txt")
    ea, eb = _conflicting(client, tmp_path, {name: (f"A: {name}", f"B: {name}") for name in names})
    copies = {c.path: c.copy for c in open_conflicts(eb.db.conflicts(), b)}
    assert set(copies) == set(names) and all("conflicted copy ws2" in c for c in copies.values())

    env = cli_env(tmp_home, account.server_url, account.username, account.password)
    state = ["--state-dir", str(tmp_path / "sb" / "state")]

    def conflicts(*args: str) -> CLIResult:
        return run_cli(["conflicts", str(b), *args, *state], env)

    listed = json.loads(conflicts("--json").ok().out)
    assert {r["path"]: r["copy"] for r in listed} == copies

    # by the original's name, by the copy's name (absolute), by --all
    kept = conflicts("--keep", "copy", "copy wins.txt").ok().out
    assert "kept the conflicted copy as copy wins.txt" in kept
    conflicts("--keep", "original", str(b / copies["original wins.txt"])).ok()
    # a second conflict on one file: keeping "the copy" must name which one
    write(a / "twice.txt", "A again")
    write(b / "twice.txt", "B again")
    assert ea.sync_once().converged and eb.sync_once().conflicts == 1
    # oldest first by the time sync made them (not by name: two copies made within one second
    # differ by a suffix, which does not sort by age)
    twice = [c.copy for c in open_conflicts(eb.db.conflicts(), b) if c.path == "twice.txt"]
    assert len(twice) == 2
    ambiguous = conflicts("--keep", "copy", "twice.txt").assert_clean_failure(code=4)
    assert "2 conflicted copies" in ambiguous.err
    conflicts("--keep", "copy", twice[1]).ok()
    conflicts("--keep", "both", "--all").ok()
    assert json.loads(conflicts("--json").ok().out) == []
    assert conflicts().ok().out == "No conflicted copies.\n"

    local = tree(b)
    assert local["copy wins.txt"] == b"B: copy wins.txt" and copies["copy wins.txt"] not in local
    assert local["original wins.txt"] == b"A: original wins.txt"
    assert copies["original wins.txt"] not in local
    assert local["both stay.txt"] == b"A: both stay.txt"
    assert local[copies["both stay.txt"]] == b"B: both stay.txt"
    assert local["twice.txt"] == b"B again" and twice[0] in local and twice[1] not in local
    # what the choices replaced or dropped is in the trash, not gone
    trashed = sorted(_trash(tmp_home).values())
    assert b"A: copy wins.txt" in trashed and b"B: original wins.txt" in trashed and b"A again" in trashed

    # the next cycles carry it all to the server and to the other folder
    assert eb.sync_once().converged and ea.sync_once().converged
    assert tree(a) == local and remote_tree(client, ea.remote_root) == local


def test_settling_refuses_what_it_cannot_do_safely(
    client: DataManagerClient,
    account: Account,
    tmp_path: Path,
    tmp_home: Path,
) -> None:
    b = tmp_path / "B"
    _conflicting(client, tmp_path, {"f.txt": ("A", "B")})
    env = cli_env(tmp_home, account.server_url, account.username, account.password)
    state = ["--state-dir", str(tmp_path / "sb" / "state")]
    # the name is now a folder: keeping the copy under it would need a rename by hand
    (b / "f.txt").unlink()
    (b / "f.txt").mkdir()
    refused = run_cli(["conflicts", str(b), "--keep", "copy", "f.txt", *state], env)
    refused.assert_clean_failure(code=1)
    assert "is a folder now" in refused.err
    (b / "f.txt").rmdir()
    (b / "f.txt").symlink_to(tmp_path / "elsewhere.txt")  # keeping the copy would drop the link
    linked = run_cli(["conflicts", str(b), "--keep", "copy", "f.txt", *state], env)
    assert "is a symbolic link now" in linked.assert_clean_failure(code=1).err
    assert (b / "f.txt").is_symlink()
    # a path outside the folder, no LOCAL, no NAME: usage errors that change nothing
    run_cli(["conflicts", str(b), "--keep", "both", "/etc/passwd", *state], env).assert_clean_failure(code=4)
    run_cli(["conflicts", "--keep", "both", "f.txt", *state], env).assert_clean_failure(code=2)
    run_cli(["conflicts", str(b), "--keep", "both", *state], env).assert_clean_failure(code=2)
    copy = next(p for p in os.listdir(b) if "conflicted copy" in p)
    assert (b / copy).read_bytes() == b"B"

    # a copy the user already dealt with by hand is no longer listed, nor counted by `status`
    def counted() -> int:
        pairs = json.loads(run_cli(["status", str(b), "--json", *state], env).ok().out)
        return int(pairs[0]["conflicts"])

    assert counted() == 1
    (b / copy).rename(b / "renamed by hand.txt")
    assert json.loads(run_cli(["conflicts", str(b), "--json", *state], env).ok().out) == []
    assert counted() == 0
