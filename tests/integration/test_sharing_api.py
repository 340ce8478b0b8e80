"""Sharing on the real server (issue 19): ACLs with inheritance, groups, views, public links, search."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import quote

import pytest
import requests
from genomespaceclient import GenomeSpaceClient

from tests.integration.test_server_helpers import DM

SHARING = "/datamanager/sharing"


def acl_url(dm: DM, path: str) -> str:
    return f"{dm.base}{SHARING}/acl{quote(path)}"


def grant(dm: DM, path: str, kind: str, name: str | None = None, level: str = "read") -> requests.Response:
    return dm.s.post(acl_url(dm, path), json={"type": kind, "name": name, "level": level}, timeout=30)


def revoke(dm: DM, path: str, kind: str, name: str | None = None) -> requests.Response:
    params = {"type": kind, **({"name": name} if name else {})}
    return dm.s.delete(acl_url(dm, path), params=params, timeout=30)


def get(dm: DM, path: str, endpoint: str = "files") -> requests.Response:
    return dm.s.get(f"{dm.base}/datamanager/{endpoint}{quote(path)}", timeout=30, allow_redirects=False)


def fetch(dm: DM, path: str) -> bytes:
    r = get(dm, path)
    assert r.status_code == 302, r.text
    return requests.get(r.headers["location"], timeout=30).content


def aces(meta: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (a["sid"]["type"], a["sid"]["name"], a["permission"])
        for a in meta["effectiveAcl"]["accessControlEntries"]
    }


@pytest.fixture
def trio(make_account: Any) -> Any:
    alice, bob, carol = (make_account(p) for p in ("alice", "bob", "carol"))
    dms = [DM(a.server_url, a.username, a.password) for a in (alice, bob, carol)]
    yield dms
    for dm in dms:
        dm.close()


def test_grant_is_inherited_cannot_be_removed_lower_down_and_revoke_stops_access(trio: list[DM]) -> None:
    alice, bob, _ = trio
    alice.mkdir("proj")
    alice.mkdir("proj/sub")
    alice.upload("proj/sub/f.txt", b"shared bytes\n")
    alice.upload("private.txt", b"mine\n")
    proj = alice.p("proj")

    # before: the same 403 for an existing and a missing path
    existing, missing = get(bob, proj + "/sub/f.txt"), get(bob, proj + "/sub/nope.txt")
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["message"].replace("f.txt", "X") == missing.json()["message"].replace(
        "nope.txt", "X"
    )

    r = grant(alice, proj, "user", bob.user)
    assert r.status_code == 200, r.text
    assert r.json()["entries"] == [
        {"type": "user", "name": bob.user, "level": "read", "inherited": False, "grantedOn": proj}
    ]
    # Read: list, metadata, download below the shared folder; nothing outside it
    names = [c["name"] for c in get(bob, proj + "/sub").json()["contents"]]
    assert names == ["f.txt"]
    assert fetch(bob, proj + "/sub/f.txt") == b"shared bytes\n"
    assert get(bob, proj + "/sub/f.txt", "downloadurls").status_code == 200
    assert get(bob, alice.p("private.txt")).status_code == 403
    meta = get(bob, proj + "/sub/f.txt", "filemetadata").json()
    assert aces(meta) == {("User", alice.user, "R"), ("User", alice.user, "W"), ("User", bob.user, "R")}

    # the ACL of a file below: the entry is inherited, and cannot be revoked there
    view = bob.s.get(acl_url(bob, proj + "/sub/f.txt"), timeout=30).json()
    assert view["owner"] == alice.user and view["yourLevel"] == "read"
    assert view["entries"] == [
        {"type": "user", "name": bob.user, "level": "read", "inherited": True, "grantedOn": proj}
    ]
    r = revoke(alice, proj + "/sub", "user", bob.user)
    assert r.status_code == 409 and proj in r.json()["message"]
    # only the owner changes sharing, even with access
    assert grant(bob, proj, "user", bob.user, "write").status_code == 403
    assert revoke(bob, proj, "user", bob.user).status_code == 403

    # upgrade to write: shows as R and W
    assert grant(alice, proj, "user", bob.user, "write").status_code == 200
    meta = get(bob, proj + "/sub/f.txt", "filemetadata").json()
    assert ("User", bob.user, "W") in aces(meta)

    r = revoke(alice, proj, "user", bob.user)
    assert r.status_code == 200 and r.json()["entries"] == []
    assert get(bob, proj + "/sub/f.txt").status_code == 403
    assert get(bob, proj + "/sub", "filemetadata").status_code == 403


def test_groups_members_admins_and_a_recreated_group_does_not_inherit_grants(trio: list[DM]) -> None:
    alice, bob, carol = trio
    alice.upload("data.txt", b"group data\n")
    path = alice.p("data.txt")
    group = f"lab-{alice.user}"
    groups = f"{alice.base}{SHARING}/groups"

    r = alice.s.post(groups, json={"name": group}, timeout=30)
    assert r.status_code == 201 and r.json()["admins"] == [alice.user]
    assert alice.s.post(groups, json={"name": group}, timeout=30).status_code == 409
    assert alice.s.post(groups, json={"name": "Public"}, timeout=30).status_code == 400
    r = alice.s.post(f"{groups}/members", json={"group": group, "user": carol.user}, timeout=30)
    assert r.status_code == 200 and r.json()["members"] == [alice.user, carol.user]
    # a member is not an administrator
    assert (
        carol.s.post(f"{groups}/members", json={"group": group, "user": bob.user}, timeout=30).status_code
        == 403
    )
    assert [g["name"] for g in carol.s.get(groups, timeout=30).json()["groups"]] == [group]
    assert carol.s.get(groups, timeout=30).json()["groups"][0]["yourRole"] == "member"

    assert grant(alice, path, "group", group).status_code == 200
    assert fetch(carol, path) == b"group data\n"
    assert get(bob, path).status_code == 403  # not a member
    meta = get(carol, path, "filemetadata").json()
    assert ("Group", group, "R") in aces(meta)

    # admins: promote carol, who adds bob; the last admin cannot leave
    assert (
        alice.s.post(f"{groups}/admins", json={"group": group, "user": carol.user}, timeout=30).status_code
        == 200
    )
    assert (
        carol.s.post(f"{groups}/members", json={"group": group, "user": bob.user}, timeout=30).status_code
        == 200
    )
    assert fetch(bob, path) == b"group data\n"
    assert carol.s.delete(f"{groups}/{group}/members/{bob.user}", timeout=30).status_code == 200
    assert get(bob, path).status_code == 403
    assert alice.s.delete(f"{groups}/{group}/admins/{carol.user}", timeout=30).status_code == 200
    assert alice.s.delete(f"{groups}/{group}/admins/{alice.user}", timeout=30).status_code == 409

    # delete; bob makes a group of the same name: alice's old grant does not apply to it
    assert carol.s.delete(f"{groups}/{group}", timeout=30).status_code == 403
    assert alice.s.delete(f"{groups}/{group}", timeout=30).status_code == 204
    assert get(carol, path).status_code == 403
    assert bob.s.post(groups, json={"name": group}, timeout=30).status_code == 201
    assert get(bob, path).status_code == 403
    assert bob.s.delete(f"{groups}/{group}", timeout=30).status_code == 204


def test_shared_with_me_and_the_virtual_folders(trio: list[DM]) -> None:
    alice, bob, carol = trio
    alice.mkdir("proj")
    alice.upload("proj/a.txt", b"a")
    carol.upload("notes.txt", b"n")
    assert grant(alice, alice.p("proj"), "user", bob.user, "write").status_code == 200
    assert grant(carol, carol.p("notes.txt"), "user", bob.user).status_code == 200
    assert grant(carol, carol.p("notes.txt"), "public").status_code == 200

    shared = bob.s.get(f"{bob.base}{SHARING}/shared", timeout=30).json()["owners"]
    assert {o["owner"]: o["items"] for o in shared if o["owner"] in (alice.user, carol.user)} == {
        alice.user: [{"path": alice.p("proj"), "level": "write", "isDirectory": True}],
        carol.user: [{"path": carol.p("notes.txt"), "level": "read", "isDirectory": False}],
    }
    for root, dialect_root in (
        ("/datamanager/files/users", "/users"),
        ("/datamanager/v1.0/file/Home", "/Home"),
    ):
        top = bob.s.get(f"{bob.base}{root}", timeout=30).json()
        assert [c["name"] for c in top["contents"]] == [bob.user, f"Shared to {bob.user}", "Public"]
        folder = bob.s.get(top["contents"][1]["url"], timeout=30).json()
        owners = {c["name"]: c for c in folder["contents"]}
        assert {alice.user, carol.user} <= set(owners)
        items = bob.s.get(owners[alice.user]["url"], timeout=30).json()["contents"]
        # the shared item keeps its canonical path and URL
        assert [(c["name"], c["path"]) for c in items] == [("proj", f"{dialect_root}/{alice.user}/proj")]
        listing = bob.s.get(items[0]["url"], timeout=30).json()
        assert [c["name"] for c in listing["contents"]] == ["a.txt"]
        public = bob.s.get(top["contents"][2]["url"], timeout=30).json()["contents"]
        assert f"{dialect_root}/{carol.user}/notes.txt" in [c["path"] for c in public]
    # someone else's "Shared to" folder is not a view into their shares
    assert (
        bob.s.get(f"{bob.base}/datamanager/files/users/Shared to {carol.user}", timeout=30).status_code == 403
    )
    meta = bob.s.get(f"{bob.base}/datamanager/filemetadata/users/Shared to {bob.user}", timeout=30)
    assert meta.status_code == 200 and meta.json()["isDirectory"] is True


def test_public_link_serves_without_sign_in_and_stops_at_once_after_revoke(trio: list[DM]) -> None:
    alice, _, _ = trio
    alice.mkdir("pub")
    alice.upload("pub/open.txt", b"for everyone\n")
    alice.upload("closed.txt", b"not public\n")
    link = f"{alice.base}/public{quote(alice.p('pub/open.txt'))}"
    anon = requests.Session()
    anon.trust_env = False

    assert anon.get(link, timeout=30).status_code == 404
    assert grant(alice, alice.p("pub"), "public", level="write").status_code == 400  # the public only reads
    r = grant(alice, alice.p("pub"), "public")
    assert r.status_code == 200 and r.json()["publicUrl"] == f"{alice.base}/public{alice.p('pub')}"
    for _ in range(10):
        r = anon.get(link, timeout=30)
        assert r.status_code == 200 and r.content == b"for everyone\n" and "set-cookie" not in r.headers
    folder = anon.get(f"{alice.base}/public{alice.p('pub')}", timeout=30).json()
    assert folder["contents"] == [{"name": "open.txt", "publicUrl": link}]
    view = alice.s.get(acl_url(alice, alice.p("pub/open.txt")), timeout=30).json()
    assert view["publicUrl"] == link and view["entries"][0]["type"] == "public"
    meta = alice.meta("pub/open.txt")
    assert ("Group", "Public", "R") in aces(meta)
    # not public / missing: the same answer
    closed = anon.get(f"{alice.base}/public{alice.p('closed.txt')}", timeout=30)
    missing = anon.get(f"{alice.base}/public{alice.p('pub/missing.txt')}", timeout=30)
    assert closed.status_code == missing.status_code == 404 and closed.json() == missing.json()
    # anonymous callers get nothing from the signed-in API
    assert anon.get(f"{alice.base}/datamanager/files{alice.p('pub/open.txt')}", timeout=30).status_code == 401

    assert revoke(alice, alice.p("pub"), "public").status_code == 200
    assert anon.get(link, timeout=30).status_code == 404  # at once, not after a cache expires


def test_fresh_upload_shows_exactly_the_owner_entries_and_all_kinds_are_listed(trio: list[DM]) -> None:
    alice, bob, carol = trio
    alice.upload("x.txt", b"x")
    assert aces(alice.meta("x.txt")) == {("User", alice.user, "R"), ("User", alice.user, "W")}
    group = f"g-{alice.user}"
    assert alice.s.post(f"{alice.base}{SHARING}/groups", json={"name": group}, timeout=30).status_code == 201
    for args in (("user", bob.user, "write"), ("group", group, "read"), ("public", None, "read")):
        assert grant(alice, alice.p("x.txt"), *args).status_code == 200
    for dialect in ("beta", "v1"):
        meta = alice.meta("x.txt", dialect)
        assert aces(meta) == {
            ("User", alice.user, "R"), ("User", alice.user, "W"), ("User", bob.user, "R"),
            ("User", bob.user, "W"), ("Group", group, "R"), ("Group", "Public", "R"),
        }  # fmt: skip
        ids = [a["id"] for a in meta["effectiveAcl"]["accessControlEntries"]]
        assert len(ids) == len(set(ids))
    # bad grants: unknown user or group, the owner, a missing item, no name
    assert grant(alice, alice.p("x.txt"), "user", "nosuchuser-zz").status_code == 404
    assert grant(alice, alice.p("x.txt"), "group", "nosuchgroup-zz").status_code == 404
    assert grant(alice, alice.p("x.txt"), "user", alice.user).status_code == 400
    assert grant(alice, alice.p("missing.txt"), "user", bob.user).status_code == 404
    assert grant(alice, alice.p("x.txt"), "user").status_code == 400
    assert grant(carol, alice.p("missing.txt"), "user", bob.user).status_code == 403
    assert revoke(alice, alice.p("x.txt"), "user", carol.user).status_code == 404


def test_user_search_by_prefix_and_opt_out(trio: list[DM]) -> None:
    alice, bob, _ = trio
    search = f"{alice.base}{SHARING}/users"
    assert bob.user in alice.s.get(search, params={"prefix": bob.user[:5]}, timeout=30).json()["users"]
    assert alice.s.get(search, params={"prefix": ""}, timeout=30).status_code == 400
    me = f"{bob.base}{SHARING}/me"
    assert bob.s.get(me, timeout=30).json() == {"name": bob.user, "searchable": True}
    assert bob.s.put(me, json={"searchable": False}, timeout=30).json()["searchable"] is False
    assert bob.user not in alice.s.get(search, params={"prefix": bob.user}, timeout=30).json()["users"]
    # still reachable by exact name
    alice.upload("s.txt", b"s")
    assert grant(alice, alice.p("s.txt"), "user", bob.user).status_code == 200
    assert bob.s.put(me, json={"searchable": True}, timeout=30).status_code == 200
    assert bob.user in alice.s.get(search, params={"prefix": bob.user}, timeout=30).json()["users"]


def test_genomespace_client_lists_downloads_and_parses_acl_of_a_shared_folder(
    trio: list[DM], tmp_path: Any
) -> None:
    alice, bob, _ = trio
    alice.mkdir("share")
    alice.upload("share/reads.txt", b"ACGT\n" * 100)
    assert grant(alice, alice.p("share"), "user", bob.user).status_code == 200
    client = GenomeSpaceClient(username=bob.user, password=bob.password)
    folder = f"{bob.base}/datamanager/v1.0/file/Home/{alice.user}/share"
    listing = client.list(folder)
    assert [f.name for f in listing.contents] == ["reads.txt"]
    assert listing.contents[0].owner["name"] == alice.user
    client.copy(folder + "/reads.txt", str(tmp_path / "reads.txt"))
    assert (tmp_path / "reads.txt").read_bytes() == b"ACGT\n" * 100
    md = client.get_metadata(folder + "/reads.txt")
    got = {(a.sid.type, a.sid.name, a.permission) for a in md.effective_acl.access_control_entries}
    assert got == {("User", alice.user, "R"), ("User", alice.user, "W"), ("User", bob.user, "R")}
    assert md.effective_acl.object.object_id == f"/Home/{alice.user}/share/reads.txt"


def test_bodies_are_read_only_after_sign_in_capped_and_validated(trio: list[DM]) -> None:
    alice, _, _ = trio
    alice.upload("b.txt", b"b")
    targets = [
        ("POST", f"{SHARING}/acl{alice.p('b.txt')}"),
        ("POST", f"{SHARING}/groups"),
        ("POST", f"{SHARING}/groups/members"),
        ("POST", f"{SHARING}/groups/admins"),
        ("PUT", f"{SHARING}/me"),
    ]
    host, port = alice.base.removeprefix("http://").split(":")
    for method, target in targets:
        # unauthenticated, 50 MB announced, two bytes sent: 401 at once (the body is never waited for)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            head = (
                f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: 50000000\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"')
            assert sock.recv(64).startswith(b"HTTP/1.1 401"), (method, target)
        # signed in: over the cap 413, malformed 400, wrong shape 400 (never 5xx)
        url = alice.base + target
        big = alice.s.request(method, url, json={"name": "x" * 40_000}, timeout=30)
        assert big.status_code == 413, (target, big.text)
        bad = alice.s.request(
            method, url, data=b"{nope", headers={"Content-Type": "application/json"}, timeout=30
        )
        assert bad.status_code == 400, (target, bad.text)
        deep = alice.s.request(
            method,
            url,
            data=b"[" * 5000 + b"]" * 5000,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert deep.status_code == 400, (target, deep.text)
        shape = alice.s.request(method, url, json={"type": "everyone", "searchable": "maybe"}, timeout=30)
        assert shape.status_code == 400 and "invalid request body" in shape.json()["message"], target
    doc = requests.get(f"{alice.base}/openapi.json", timeout=30).json()
    body = doc["paths"][f"{SHARING}/acl/{{path}}"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == {"type", "name", "level"}


def test_odd_input_is_a_4xx_never_a_server_error(trio: list[DM]) -> None:
    alice, bob, _ = trio
    alice.upload("o.txt", b"o")
    s, base = alice.s, f"{alice.base}{SHARING}"
    long_path = alice.p("/".join(["d" * 200] * 4) + "/x.txt")
    answers = [
        s.get(f"{base}/users", params={"prefix": "\x00%/*"}, timeout=30),
        s.get(f"{base}/users", params={"prefix": "a" * 65}, timeout=30),
        s.get(f"{base}/groups/{quote('no such/group', safe='')}", timeout=30),
        s.delete(f"{base}/groups/nosuch-zz/members/{bob.user}", timeout=30),
        s.delete(acl_url(alice, alice.p("o.txt")), params={"type": "user", "name": "a:b/c"}, timeout=30),
        s.delete(acl_url(alice, long_path), params={"type": "user", "name": bob.user}, timeout=30),
        s.delete(acl_url(alice, alice.p("o.txt")), params={"type": "everyone"}, timeout=30),
        s.get(acl_url(alice, "/nowhere/x"), timeout=30),
        s.post(f"{base}/groups/members", json={"group": "nosuch-zz", "user": "x y"}, timeout=30),
        requests.get(f"{alice.base}/public/nowhere/../x", timeout=30),
        s.get(f"{alice.base}/datamanager/files/users/Shared to {alice.user}/{bob.user}/deeper", timeout=30),
        s.get(f"{alice.base}/datamanager/files/users/Public/x", timeout=30),
    ]
    assert [r.status_code for r in answers] == [
        200,
        400,
        404,
        404,
        404,
        404,
        400,
        400,
        404,
        404,
        404,
        404,
    ]
    assert answers[0].json() == {"users": []}
