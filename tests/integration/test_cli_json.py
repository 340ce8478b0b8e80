"""--json on the changing commands (mkdir, rm, cp, mv) and on url: the shapes README documents."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.conftest import Account
from tests.support.cli import cli_env, run_cli


def test_json_output_of_mkdir_cp_mv_url_rm(account: Account, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", account.server_url, account.username, account.password)
    home = f"/users/{account.username}"
    made = json.loads(run_cli(["mkdir", "-p", "--json", "j/a", "j/b"], env).ok().out)
    assert [(m["path"], m["isDirectory"]) for m in made] == [(f"{home}/j/a", True), (f"{home}/j/b", True)]
    src = tmp_path / "x.txt"
    src.write_text("json shapes\n")
    run_cli(["put", str(src), f"{home}/j/a/x.txt"], env).ok()
    copied = json.loads(run_cli(["cp", "--json", "j/a/x.txt", "j/b/"], env).ok().out)
    assert copied["path"] == f"{home}/j/b/x.txt" and copied["isDirectory"] is False and copied["size"] == 12
    moved = json.loads(run_cli(["mv", "--json", "j/b/x.txt", "j/b/y.txt"], env).ok().out)
    assert moved["path"] == f"{home}/j/b/y.txt" and moved["md5"] == copied["md5"]
    link = json.loads(run_cli(["url", "--json", "j/b/y.txt"], env).ok().out)
    assert link["path"] == f"{home}/j/b/y.txt"
    assert requests.get(link["url"], timeout=10).content == b"json shapes\n"
    gone = json.loads(run_cli(["rm", "-r", "--json", "j/a", "j/b/y.txt"], env).ok().out)
    assert gone == [{"path": f"{home}/j/a", "deleted": True}, {"path": f"{home}/j/b/y.txt", "deleted": True}]
    # without --json the plain lines stay as they were
    assert run_cli(["mkdir", "j/c"], env).ok().out.strip() == f"{home}/j/c"


def test_json_version_is_printed(tmp_path: Path) -> None:
    from gsdesktop.cli.main import JSON_VERSION

    res = run_cli(["--json-version"], cli_env(tmp_path / "home")).ok()
    assert res.out.strip() == str(JSON_VERSION) == "1"
