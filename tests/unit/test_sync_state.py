"""State DB, hash cache, scanner and ignore rules (real SQLite files, real temp folders)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gsdesktop.cli.sync_cmd import parse_rate
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.sync.events import ProblemKind
from gsdesktop.sync.planner import DIR, Entry
from gsdesktop.sync.scanner import Ignore, md5_of, remote_tree, scan_local
from gsdesktop.sync.state import StateDB, backoff_delay


def test_base_and_backoff_survive_a_restart(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "s.sqlite3")
    db.record_many([("a", DIR), ("a/f", Entry(False, "m1", 3))])
    p1 = db.add_problem("a/f", ProblemKind.FILE_ERROR, "disk full", 10.0, now=1000.0)
    p2 = db.add_problem("a/f", ProblemKind.FILE_ERROR, "disk full", 10.0, now=1000.0)
    assert (p1.attempts, p1.retry_at, p2.attempts, p2.retry_at) == (1, 1010.0, 2, 1050.0)
    db.close()
    again = StateDB(tmp_path / "s.sqlite3")  # a restart: everything persisted
    assert again.load_base() == {"a": DIR, "a/f": Entry(False, "m1", 3)}
    [p] = again.problems()
    assert p.attempts == 2 and p.retry_at == 1050.0
    again.reset_backoff()
    assert again.problems()[0].retry_at == 0
    assert backoff_delay(20, 25.0) == 24 * 3600.0


def test_corrupt_state_is_moved_aside_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    db = StateDB(path)
    assert db.load_base() == {}
    assert list(tmp_path.glob("s.sqlite3.corrupt-*"))


def test_hash_cache_is_keyed_by_identity(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "d").mkdir(parents=True)
    f = root / "d" / "x.bin"
    f.write_bytes(b"A" * 1000)
    old = time.time() - 10
    os.utime(f, (old, old))
    first = scan_local(root, Ignore(root), {})
    assert first.tree == {"d": DIR, "d/x.bin": Entry(False, md5_of(f), 1000)}
    assert first.hashed_bytes == 1000
    cache = dict(first.new_hashes)
    second = scan_local(root, Ignore(root), cache)
    assert second.hashed_bytes == 0 and second.tree == first.tree  # nothing hashed twice
    f.write_bytes(b"B" * 1000)  # same size, new content and mtime
    os.utime(f, (old + 1, old + 1))
    third = scan_local(root, Ignore(root), cache)
    assert third.hashed_bytes == 1000 and third.tree["d/x.bin"].md5 == md5_of(f)


def test_young_files_symlinks_and_ignores(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "fresh.txt").write_text("being written")
    os.symlink(tmp_path, root / "link")
    for name in ("~$doc.docx", ".~lock.a.odt#", "x.bam.tmp", "a.part", ".DS_Store", "Thumbs.db", "k.swp"):
        (root / name).write_text("t")
    (root / "build").mkdir()
    (root / "build" / "out.o").write_text("o")
    (root / "keep.log").write_text("k")
    (root / ".gsignore").write_text("build/\n*.log\n!keep.log\n")
    old = time.time() - 10
    for p in root.iterdir():
        if not p.is_symlink() and p.name != "fresh.txt":
            os.utime(p, (old, old))
    scan = scan_local(root, Ignore(root), {}, min_age=5.0)
    assert scan.busy == {"fresh.txt"}
    assert scan.symlinks == {"link"}
    assert set(scan.tree) == {"keep.log"}  # negation in .gsignore honoured; defaults applied


def test_remote_listing_to_tree(tmp_path: Path) -> None:
    listing = [
        GSFileMetadata("a", "/users/u/s/a", "", True),
        GSFileMetadata("f", "/users/u/s/a/f", "", False, size=3, md5="abc"),
        GSFileMetadata("x.tmp", "/users/u/s/a/x.tmp", "", False, size=1, md5="t"),
        GSFileMetadata("big", "/users/u/s/big", "", True),
        GSFileMetadata("y", "/users/u/s/big/y", "", False, size=1, md5="y"),
    ]
    tree, bad = remote_tree("/users/u/s", list(listing), Ignore(tmp_path), lambda r: r.startswith("big"))
    assert tree == {"a": DIR, "a/f": Entry(False, "abc", 3)} and bad == []


@pytest.mark.parametrize(("text", "value"), [("500k", 512000), ("2M", 2 * 1024**2), ("1048576", 1048576)])
def test_parse_rate(text: str, value: int) -> None:
    assert parse_rate(text) == value


def test_throttle_limits_rate_and_caps_idle_credit() -> None:
    from gsdesktop.sync.executor import Throttle

    t = Throttle(1_000_000, burst=0.1)
    time.sleep(0.3)  # idle time must not become a large burst
    cb = t.progress(None)
    start = time.monotonic()
    for done in range(100_000, 500_001, 100_000):
        cb(done, 500_000)
    assert 0.3 <= time.monotonic() - start <= 1.5  # 0.5 MB at 1 MB/s, minus 0.1 s credit


def test_fast_ignore_matching_agrees_with_pathspec(tmp_path: Path) -> None:
    import pathspec

    from gsdesktop.sync.scanner import DEFAULT_IGNORES

    user = ["build/", "*.log", "sub/deep/x.txt", "**/cache/z", "/rootonly.txt"]
    (tmp_path / ".gsignore").write_text("\n".join(user) + "\n")
    ours = Ignore(tmp_path)
    reference = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_IGNORES, *user])
    paths = ["a.tmp", "x/a.tmp", "build", "x/build", "build/out.o", "x/build/y/z.c", "x.log", "x.log/in",
             "sub/deep/x.txt", "deep/x.txt", "a/cache/z", "cache/z", "rootonly.txt", "x/rootonly.txt",
             ".gsdesktop-root", "x/.gsdesktop-root", ".gsdesktop-cache/dl-1", "x/.DS_Store", "normal.txt",
             "d/e.f", "~$doc.docx", "x/.~lock.a#", ".goutputstream-1", "x.bam.tmp", "r.fastq.gz"]  # fmt: skip
    for p in paths:
        for is_dir in (False, True):
            expected = bool(reference.match_file(p + "/" if is_dir else p))
            assert ours.match(p, is_dir) == expected, (p, is_dir)


def test_remote_listing_with_a_file_and_a_folder_of_one_name(tmp_path: Path) -> None:
    """A name listed as a file and with contents (or as both) is ambiguous; a folder left out of the
    listing whose contents are listed is implied (its contents are not taken for deleted)."""
    listing = [
        GSFileMetadata("x", "/users/u/s/x", "", False, size=1, md5="f"),
        GSFileMetadata("in", "/users/u/s/x/in", "", False, size=1, md5="i"),
        GSFileMetadata("y", "/users/u/s/y", "", True),
        GSFileMetadata("y", "/users/u/s/y", "", False, size=1, md5="g"),
        GSFileMetadata("deep", "/users/u/s/d/e/deep", "", False, size=2, md5="d"),
        GSFileMetadata("t", "/users/u/s/big/t", "", False, size=1, md5="t"),
    ]
    ambiguous: set[str] = set()
    tree, bad = remote_tree(
        "/users/u/s", list(listing), Ignore(tmp_path), lambda r: r.startswith("big"), ambiguous
    )
    assert ambiguous == {"x", "y"} and bad == []
    assert tree["d"] == DIR and tree["d/e"] == DIR and tree["d/e/deep"] == Entry(False, "d", 2)
    assert "x/in" not in tree and "big" not in tree and "big/t" not in tree
