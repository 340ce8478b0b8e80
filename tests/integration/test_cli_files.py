"""The `gsdesktop` file commands against the real server, run as real subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import Account
from tests.support.cli import cli_env, run_cli

HOSTILE_FILES = [
    unicodedata.normalize("NFC", "café.txt"),
    unicodedata.normalize("NFD", "café.txt"),
    "😀 emoji 🧬.dat",
    "space in name.txt",
    " leading space.txt",
    "trailing space.txt ",
    "100% done.txt",
    "%20already-encoded%2F.txt",
    "hash#tag.txt",
    "question?mark.txt",
    "amp&and=eq.txt",
    "plus+plus.txt",
    "semi;colon.txt",
    "single'quote.txt",
    'double"quote.txt',
    "[brackets].txt",
    "{braces}.txt",
    "tilde~name.txt",
    "dollar$name.txt",
    "star*name.txt",
    "a" * 196 + ".txt",
    "...",
    ".hidden",
    ".env.local",
    "-dash-start.txt",
    "--double-dash",
    "comma,comma.txt",
    "at@sign.txt",
    "caret^.txt",
    "back`tick.txt",
    "pipe|bar.txt",
    "less<greater>.txt",
    "colon:name.txt",
    "exclaim!.txt",
    "paren (1).txt",
    "日本語ファイル.txt",
    "Ελληνικά.txt",
    "עברית.txt",
    "Mixed CASE.TXT",
    "mixed case.txt",
    "many.dots...txt",
    "ends with dot.",
    "empty-file.bin",
]
HOSTILE_DIRS = ["dir with space", unicodedata.normalize("NFD", "ümlaut-dir"), "#?%dir", ".dotdir", "-dashdir"]


def _tree_digest(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for d in dirnames:
            out[str(rel / d) + "/"] = "dir"
        for f in filenames:
            out[str(rel / f)] = hashlib.md5((Path(dirpath) / f).read_bytes()).hexdigest()
    return out


@pytest.fixture
def env(account: Account, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return cli_env(home, account.server_url, account.username, account.password)


def test_hostile_tree_round_trips_byte_for_byte(
    account: Account, env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    assert len(HOSTILE_FILES) >= 40
    for i, name in enumerate(HOSTILE_FILES):
        data = b"" if name == "empty-file.bin" else os.urandom(17 + i * 997)
        (src / name).write_bytes(data)
    nested = src
    for d in HOSTILE_DIRS:  # a deep chain of hostile folders, each with a few hostile files
        nested = nested / d
        nested.mkdir()
        for name in HOSTILE_FILES[:6]:
            (nested / name).write_bytes(os.urandom(1000) + name.encode())
    (src / "empty dir").mkdir()
    remote = f"/users/{account.username}/round trip #1"
    put = run_cli(["put", "-r", "-j", "6", str(src), remote], env).ok()
    assert "Traceback" not in put.err
    assert len(put.out.splitlines()) == len(HOSTILE_FILES) + 6 * len(HOSTILE_DIRS)

    out = tmp_path / "out"
    run_cli(["get", "-r", "-j", "6", remote, str(out)], env).ok()
    assert _tree_digest(out) == _tree_digest(src)
    # names are bytes-identical (NFC and NFD stay distinct)
    assert sorted(os.listdir(out)) == sorted(os.listdir(src))

    listing = json.loads(run_cli(["ls", "--json", remote], env).ok().out)
    assert {m["name"] for m in listing} == set(HOSTILE_FILES) | {HOSTILE_DIRS[0], "empty dir"}
    tree = run_cli(["tree", remote], env).ok().out
    assert "trailing space.txt " in tree and f"{len(HOSTILE_DIRS) + 1} folders" in tree


def test_every_file_command(account: Account, env: dict[str, str], tmp_path: Path) -> None:
    home = f"/users/{account.username}"
    who = run_cli(["whoami", "--json"], env).ok()
    assert json.loads(who.out)["username"] == account.username

    run_cli(["mkdir", "-p", f"{home}/a/b c/d#"], env).ok()
    run_cli(["mkdir", "plain"], env).ok()  # relative to home
    local = tmp_path / "Reads.TXT"
    local.write_text("Hello GenomeSpace\n")
    put = run_cli(["put", str(local), f"{home}/a/b c/"], env).ok()
    assert put.out.strip() == f"{home}/a/b c/Reads.TXT"

    info = json.loads(run_cli(["info", "--json", f"{home}/a/b c/Reads.TXT"], env).ok().out)
    assert info["size"] == local.stat().st_size
    assert info["md5"] == hashlib.md5(local.read_bytes()).hexdigest()
    assert not info["isDirectory"]

    long = run_cli(["ls", "-l", f"{home}/a/b c"], env).ok().out
    assert "Reads.TXT" in long and "d#/" in long and str(local.stat().st_size) in long

    run_cli(["cp", f"{home}/a/b c/Reads.TXT", f"{home}/plain/"], env).ok()
    run_cli(["mv", f"{home}/plain/Reads.TXT", f"{home}/plain/renamed.txt"], env).ok()
    names = run_cli(["ls", "plain"], env).ok().out.split()
    assert names == ["renamed.txt"]

    formats = run_cli(["formats", f"{home}/plain/renamed.txt"], env).ok().out
    assert "uppercasetxt" in formats
    upper = tmp_path / "upper.txt"
    run_cli(["get", "--format", "uppercasetxt", f"{home}/plain/renamed.txt", str(upper)], env).ok()
    assert upper.read_text() == "HELLO GENOMESPACE\n"
    assert "txt" in run_cli(["formats"], env).ok().out

    url = run_cli(["url", f"{home}/plain/renamed.txt"], env).ok().out.strip()
    import requests

    assert requests.get(url, timeout=10).content == local.read_bytes()

    got = tmp_path / "got.txt"
    run_cli(["get", f"{home}/plain/renamed.txt", str(got)], env).ok()
    assert got.read_bytes() == local.read_bytes()

    run_cli(["rm", "-r", f"{home}/a"], env).ok()
    run_cli(["rm", f"{home}/plain/renamed.txt"], env).ok()
    left = json.loads(run_cli(["ls", "--json"], env).ok().out)
    assert [m["name"] for m in left] == ["plain"]
    nonempty = run_cli(["mkdir", "-p", f"{home}/x/y"], env).ok()
    assert nonempty.code == 0
    refused = run_cli(["rm", f"{home}/x"], env).assert_clean_failure(code=5)  # folder not empty
    assert f"gsdesktop rm -r {home}/x" in refused.err
    run_cli(["tree", f"{home}/x"], env).ok()
    assert run_cli(["ls", f"{home}/x"], env).ok().out == "y/\n"  # nothing was deleted


def test_ls_recursive(account: Account, env: dict[str, str], tmp_path: Path) -> None:
    """`ls -R` lists a folder and everything below it: paths relative to the folder, folders with a
    trailing slash; `-l` and `--json` work with it."""
    home = f"/users/{account.username}"
    run_cli(["mkdir", "-p", f"{home}/lsr/run 1/lane#2"], env).ok()
    local = tmp_path / "r.fq"
    local.write_text("@r\nACGT\n+\nIIII\n")
    run_cli(["put", str(local), f"{home}/lsr/run 1/lane#2/"], env).ok()
    run_cli(["put", str(local), f"{home}/lsr/"], env).ok()
    out = run_cli(["ls", "-R", "lsr"], env).ok().out
    assert out.splitlines() == ["r.fq", "run 1/", "run 1/lane#2/", "run 1/lane#2/r.fq"]
    long = run_cli(["ls", "-lR", f"{home}/lsr"], env).ok().out.splitlines()
    assert len(long) == 4 and long[-1].startswith("-") and long[-1].endswith(" run 1/lane#2/r.fq")
    rows = json.loads(run_cli(["ls", "--recursive", "--json", "lsr"], env).ok().out)
    assert sorted(r["path"] for r in rows) == sorted(
        f"{home}/lsr/{p}" for p in ("r.fq", "run 1", "run 1/lane#2", "run 1/lane#2/r.fq")
    )


def test_put_several_sources_and_json(account: Account, env: dict[str, str], tmp_path: Path) -> None:
    files = []
    for i in range(3):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(os.urandom(5000 + i))
        files.append(p)
    res = run_cli(["put", "--json", *map(str, files), f"/users/{account.username}"], env).ok()
    data = json.loads(res.out)
    assert len(data["transferred"]) == 3 and data["errors"] == [] and data["bytes"] == 15003
    # a trailing slash means "into this folder" (created when missing)
    into = run_cli(["put", str(files[0]), f"/users/{account.username}/new dir/"], env).ok()
    assert into.out.strip() == f"/users/{account.username}/new dir/f0.bin"
    # several sources need an existing folder
    bad = run_cli(["put", *map(str, files), f"/users/{account.username}/nope"], env)
    bad.assert_clean_failure()


def test_clear_errors(account: Account, env: dict[str, str], tmp_path: Path) -> None:
    missing = run_cli(["ls", f"/users/{account.username}/does/not/exist"], env)
    missing.assert_clean_failure(code=4)
    assert "No such file or folder" in missing.err

    get_missing = run_cli(["get", f"/users/{account.username}/nope.txt", str(tmp_path / "x")], env)
    get_missing.assert_clean_failure(code=4)
    assert not (tmp_path / "x").exists()

    put_missing = run_cli(["put", str(tmp_path / "absent.txt"), f"/users/{account.username}/"], env)
    put_missing.assert_clean_failure(code=8)

    wrong = dict(env, GSDESKTOP_PASSWORD="not-the-password")
    bad_pw = run_cli(["ls"], wrong)
    bad_pw.assert_clean_failure(code=3)
    assert "Wrong user name or password" in bad_pw.err

    from gsdesktop.server.seaweed import free_port

    dead = dict(env, GSDESKTOP_SERVER=f"http://127.0.0.1:{free_port()}", GSDESKTOP_RETRIES="1")
    res = run_cli(["ls"], dead)
    res.assert_clean_failure(code=6)
    assert "Cannot connect" in res.err

    other = run_cli(["ls", "/users/someoneelse"], env)
    other.assert_clean_failure(code=3)
