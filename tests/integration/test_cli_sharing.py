"""The sharing commands (share, unshare, acl, shared, group ..., url --public) as real subprocesses against
the real server, with three users and a group."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.cli.main import JSON_VERSION
from gsdesktop.datamanager.client import DataManagerClient
from tests.conftest import Account
from tests.support.cli import CLIResult, cli_env, run_cli


class User:
    def __init__(self, account: Account, tmp: Path) -> None:
        self.name = account.username
        self.home = f"/users/{account.username}"
        home = tmp / account.username
        home.mkdir()
        self.env = cli_env(home, account.server_url, account.username, account.password)
        self.client = DataManagerClient(account.server_url, account.username, account.password)

    def __call__(self, *args: str) -> CLIResult:
        return run_cli(list(args), self.env)

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").ok().out)


@pytest.fixture
def trio(make_account: Any, tmp_path: Path) -> Iterator[tuple[User, User, User]]:
    users = tuple(User(make_account(p), tmp_path) for p in ("alice", "bob", "carol"))
    yield users  # type: ignore[misc]
    for u in users:
        u.client.close()


def test_share_acl_shared_unshare_and_the_public_link(trio: tuple[User, User, User], tmp_path: Path) -> None:
    alice, bob, carol = trio
    proj = f"{alice.home}/proj"
    alice.client.mkdir(f"{proj}/sub", parents=True)
    (tmp_path / "f.txt").write_bytes(b"shared bytes\n")
    alice.client.upload(tmp_path / "f.txt", f"{proj}/sub/f.txt")
    lab = f"lab-{alice.name}"
    res = alice("group", "create", lab).ok()
    assert res.out.strip() == f"created group {lab} (you are its administrator)"
    alice("group", "add", lab, carol.name).ok()

    # share: relative paths are under the home folder, Read unless --write
    res = alice("share", "proj", "--user", bob.name).ok()
    assert res.out.strip() == f"shared {proj} with user {bob.name} (read)"
    acl = alice.json("share", "proj", "--group", lab, "--write")
    assert acl["entries"] == [
        {"type": "group", "name": lab, "level": "write", "inherited": False, "grantedOn": proj},
        {"type": "user", "name": bob.name, "level": "read", "inherited": False, "grantedOn": proj},
    ]

    # acl: bob (Read) sees the entries below the folder as inherited
    below = bob.json("acl", f"{proj}/sub/f.txt")
    assert set(below) == {"path", "owner", "yourLevel", "entries", "publicUrl"}
    assert (below["owner"], below["yourLevel"]) == (alice.name, "read")
    assert all(e["inherited"] and e["grantedOn"] == proj for e in below["entries"])
    text = bob("acl", f"{proj}/sub/f.txt").ok().out.splitlines()
    assert text[0] == f"{proj}/sub/f.txt  owner {alice.name}  (you: read)"
    assert f"  user    {bob.name:<20}  read        (inherited from {proj})" in text

    # shared: by owner; carol sees it through the group, with Write
    assert bob.json("shared") == {
        "owners": [{"owner": alice.name, "items": [{"path": proj, "level": "read", "isDirectory": True}]}]
    }
    assert carol("shared").ok().out.splitlines() == [alice.name, f"  read+write  {proj}/"]

    # errors: one line, documented exit codes
    res = alice("unshare", "proj/sub", "--user", bob.name).assert_clean_failure(5)  # inherited
    assert "inherited from " + proj in res.err
    bob("share", proj, "--user", carol.name).assert_clean_failure(3)  # only the owner shares
    alice("share", "proj", "--public", "--write").assert_clean_failure(2)  # the public only reads
    res = alice("share", "proj")  # whom? argparse's usage error
    assert res.code == 2 and "one of the arguments --user --group --public is required" in res.err
    alice("share", "nope", "--user", bob.name).assert_clean_failure(4)

    # the public link: an error until the item is public, then a link that works without signing in
    res = alice("url", "--public", "proj/sub/f.txt").assert_clean_failure(4)
    assert "not public" in res.err and "gsdesktop share" in res.err
    res = alice("share", "proj/sub/f.txt", "--public").ok()
    link = alice("url", "--public", "proj/sub/f.txt").ok().out.strip()
    assert res.out.splitlines() == [f"shared {proj}/sub/f.txt with the public (read)", f"public link: {link}"]
    assert requests.get(link, timeout=30).content == b"shared bytes\n"
    assert bob.json("url", "--public", f"{proj}/sub/f.txt") == {"path": f"{proj}/sub/f.txt", "url": link}
    assert alice("unshare", "proj/sub/f.txt", "--public").ok().out.strip() == (
        f"unshared {proj}/sub/f.txt from the public"
    )
    assert requests.get(link, timeout=30).status_code == 404

    # unshare: access stops
    assert alice.json("unshare", "proj", "--user", bob.name)["entries"][0]["name"] == lab
    bob("acl", f"{proj}/sub/f.txt").assert_clean_failure(3)
    assert bob("shared").ok().out.strip() == "Nothing is shared with you."
    assert JSON_VERSION == 1  # the shapes above are part of version 1 (README: JSON output)


def test_group_commands(trio: tuple[User, User, User]) -> None:
    alice, bob, carol = trio
    lab = f"grp-{alice.name}"
    made = alice.json("group", "create", lab)
    assert made == {
        "name": lab, "admins": [alice.name], "members": [alice.name], "createdBy": alice.name,
        "yourRole": "admin",
    }  # fmt: skip
    alice("group", "create", lab).assert_clean_failure(5)  # taken
    alice("group", "create", "no/slash").assert_clean_failure(2)
    assert alice("group", "add", lab, bob.name).ok().out.strip() == f"added {bob.name} to {lab}"
    bob("group", "add", lab, carol.name).assert_clean_failure(3)  # a member is no administrator
    g = alice.json("group", "add", lab, bob.name, "--admin")
    assert set(g["admins"]) == {alice.name, bob.name}
    bob("group", "add", lab, carol.name).ok()
    listed = carol.json("group", "list")
    assert [(x["name"], x["yourRole"]) for x in listed] == [(lab, "member")]
    text = carol("group", "list").ok().out.splitlines()
    assert text[0] == f"{lab}  (you: member)" and text[1].startswith("  admins:  ")
    g = alice.json("group", "remove", lab, bob.name, "--admin")
    assert bob.name not in g["admins"] and bob.name in g["members"]
    res = carol("group", "remove", lab, carol.name).ok()  # a member may leave
    assert res.out.strip() == f"removed {carol.name} from {lab}"
    assert carol("group", "list").ok().out.strip() == "You are in no group."
    bob("group", "delete", lab).assert_clean_failure(3)
    assert alice.json("group", "delete", lab) == {"name": lab, "deleted": True}
    assert alice.json("group", "list") == []
    assert alice("group").code == 2  # the group of commands alone: its help
