"""Every route x {owner, Read user, Write user, group member, non-member, anonymous} (issue 19).

alice owns ``proj`` (a file, a FASTA, a sub-folder) and shares it: bob Read, carol Write, the group
``G`` (dave is a member) Write; erin has nothing; the anonymous caller has no cookie. Each role works on
its own names, so one role's writes never decide another's answer. Allowed calls answer 2xx/3xx; denied
ones 403 (401 without sign-in).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from tests.integration.test_server_helpers import DM, md5_pair
from tests.integration.test_sharing_api import SHARING, grant

READ, WRITE, OWNER = "read", "write", "owner"
FASTA = b">chrS\nACGTACGTAC\nGTACGT\n"


@dataclass
class Caller:
    role: str
    level: str | None  # None: no access; "anon": not signed in
    s: requests.Session
    user: str | None


def _routes(base: str, owner: str) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(name, level needed, method, URL, request arguments); ``@role``/``@me`` stand for the caller."""
    beta, v1 = f"{base}/datamanager", f"{base}/datamanager/v1.0"
    p, h = f"/users/{owner}/proj", f"/Home/{owner}/proj"
    b, v = f"{beta}/files{quote(p)}", f"{v1}/file{quote(h)}"
    b64, hexd = md5_pair(b"x")
    up = {"params": {"Content-Length": "1", "Content-MD5": b64, "Content-Type": "text/plain"}}
    no_redirect: dict[str, Any] = {"allow_redirects": False}
    mkdir = {"json": {"isDirectory": True}}
    batch = [{"path": f"{p}/b-@role.txt", "size": 1, "md5": hexd, "contentType": "text/plain"}]
    multipart = {
        "path": f"{p}/mp-@role.bin",
        "size": 6 * 1024 * 1024,
        "md5": hashlib.md5(b"m", usedforsecurity=False).hexdigest(),
    }
    return [
        ("list (beta)", READ, "GET", b, {}),
        ("list paged (v1)", READ, "GET", v, {"params": {"pageSize": 2}}),
        ("list recursive", READ, "GET", b, {"params": {"recursive": "true"}}),
        ("filemetadata (beta)", READ, "GET", f"{beta}/filemetadata{quote(p)}/f.txt", {}),
        ("filemetadata (v1)", READ, "GET", f"{v1}/filemetadata{quote(h)}/sub", {}),
        ("download (beta)", READ, "GET", f"{b}/f.txt", no_redirect),
        ("download (v1)", READ, "GET", f"{v}/f.txt", no_redirect),
        ("convert", READ, "GET", f"{v}/f.txt", {"params": {"dataFormat": "uppercasetxt"}}),
        ("downloadurls (beta)", READ, "GET", f"{beta}/downloadurls{quote(p)}/f.txt", {}),
        ("downloadurl (v1)", READ, "GET", f"{v1}/downloadurl{quote(h)}/f.txt", {}),
        ("HEAD (v1)", READ, "HEAD", f"{v}/f.txt", {}),
        ("acl", READ, "GET", f"{beta}/sharing/acl{quote(p)}/f.txt", {}),
        ("copy out (Read on source)", READ, "PUT", f"{beta}/files/users/@me/copied-@role.txt",
         {"headers": {"x-gs-copy-source": f"{p}/f.txt"}}),
        ("refget index", READ, "POST", f"{base}/refget/index", {"params": {"path": f"{p}/seq.fa"}}),
        ("mkdir (beta)", WRITE, "PUT", f"{b}/new-@role", mkdir),
        ("mkdir (v1)", WRITE, "PUT", f"{v}/new1-@role", mkdir),
        ("copy in (Write on destination)", WRITE, "PUT", f"{b}/cp-@role.txt",
         {"headers": {"x-gs-copy-source": "/users/@me/own.txt"}}),
        ("copy within the share", WRITE, "PUT", f"{b}/cp2-@role.txt",
         {"headers": {"x-gs-copy-source": f"{p}/f.txt"}}),
        ("delete (beta)", WRITE, "DELETE", f"{b}/del-@role.txt", {}),
        ("delete (v1)", WRITE, "DELETE", f"{v}/del1-@role.txt", {}),
        ("move within (v1)", WRITE, "POST", f"{v}/mv-@role.txt", {"json": {"path": f"{h}/moved-@role.txt"}}),
        ("move in (Write on destination)", WRITE, "POST", f"{v1}/file/Home/@me/own2.txt",
         {"json": {"path": f"{h}/in-@role.txt"}}),
        ("uploadurls (beta)", WRITE, "GET", f"{beta}/uploadurls{quote(p)}/up-@role.txt", up),
        ("uploadurl (v1)", WRITE, "GET", f"{v1}/uploadurl{quote(h)}/up1-@role.txt", up),
        ("uploadurls-batch", WRITE, "POST", f"{beta}/uploadurls-batch", {"json": {"files": batch}}),
        ("multipart create", WRITE, "POST", f"{beta}/multipart/uploads", {"json": multipart}),
        ("uploadinfo", WRITE, "GET", f"{v1}/uploadinfo{quote(h)}/ui-@role.bin", {}),
        ("grant", OWNER, "POST", f"{beta}/sharing/acl{quote(p)}", {"json": {"type": "public"}}),
    ]  # fmt: skip


def _fill(value: Any, caller: Caller) -> Any:
    if isinstance(value, str):
        return value.replace("@role", caller.role).replace("@me", caller.user or "nobody")
    if isinstance(value, dict):
        return {k: _fill(v, caller) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, caller) for v in value]
    return value


def _expected(caller: Caller, need: str) -> set[int] | range:
    rank = {None: 0, READ: 1, WRITE: 2, OWNER: 3}
    if caller.level == "anon":
        return {401}
    if rank[caller.level] >= rank[need]:
        return range(200, 400)
    return {403}


def test_every_route_for_every_role(make_account: Any) -> None:
    accounts = {r: make_account(r) for r in ("alice", "bob", "carol", "dave", "erin")}
    dms = {r: DM(a.server_url, a.username, a.password) for r, a in accounts.items()}
    alice = dms["alice"]
    roles = {"alice": OWNER, "bob": READ, "carol": WRITE, "dave": WRITE, "erin": None}
    alice.mkdir("proj")
    alice.mkdir("proj/sub")
    alice.upload("proj/f.txt", b"hello shared world\n")
    alice.upload("proj/seq.fa", FASTA)
    for role in (*roles, "anon"):
        alice.upload(f"proj/del-{role}.txt", b"d")
        alice.upload(f"proj/del1-{role}.txt", b"d")
        alice.upload(f"proj/mv-{role}.txt", b"m")
    for role in roles:
        dms[role].upload("own.txt", b"own")
        dms[role].upload("own2.txt", b"own2")
    group = f"G-{alice.user}"
    assert alice.s.post(f"{alice.base}{SHARING}/groups", json={"name": group}, timeout=30).status_code == 201
    add = {"group": group, "user": dms["dave"].user}
    assert alice.s.post(f"{alice.base}{SHARING}/groups/members", json=add, timeout=30).status_code == 200
    assert grant(alice, alice.p("proj"), "user", dms["bob"].user, "read").status_code == 200
    assert grant(alice, alice.p("proj"), "user", dms["carol"].user, "write").status_code == 200
    assert grant(alice, alice.p("proj"), "group", group, "write").status_code == 200

    anon = requests.Session()
    anon.trust_env = False
    callers = [Caller(r, lvl, dms[r].s, dms[r].user) for r, lvl in roles.items()]
    callers.append(Caller("anon", "anon", anon, None))
    wrong = []
    for name, need, method, url, kwargs in _routes(alice.base, alice.user):
        for caller in callers:
            r = caller.s.request(method, _fill(url, caller), timeout=60, **_fill(kwargs, caller))
            if r.status_code not in _expected(caller, need):
                wrong.append(f"{name} as {caller.role}: {r.status_code} {r.text[:160]}")
    assert wrong == [], "\n".join(wrong)

    # what the writers did is really there (owned by alice, in her tree), and the readers changed nothing
    names = {c["name"] for c in alice.listing("proj")["contents"]}
    for role in ("alice", "carol", "dave"):
        assert {f"new-{role}", f"cp-{role}.txt", f"moved-{role}.txt", f"in-{role}.txt"} <= names
        assert f"del-{role}.txt" not in names
    for role in ("bob", "erin", "anon"):
        assert {f"del-{role}.txt", f"mv-{role}.txt"} <= names
        assert f"new-{role}" not in names and f"cp-{role}.txt" not in names
    assert dms["bob"].download("copied-bob.txt").content == b"hello shared world\n"


def test_sharing_follows_a_move_is_dropped_by_a_delete_and_revoking_stops_a_started_upload(
    make_account: Any,
) -> None:
    a, b = make_account("alice"), make_account("bob")
    alice, bob = DM(a.server_url, a.username, a.password), DM(b.server_url, b.username, b.password)
    alice.mkdir("old")
    alice.mkdir("old/in")
    alice.upload("old/in/f.txt", b"f")
    assert grant(alice, alice.p("old/in"), "user", bob.user, "write").status_code == 200
    r = alice.s.post(alice.url("old", "v1"), json={"path": f"/Home/{alice.user}/new"}, timeout=30)
    assert r.status_code == 200, r.text
    assert bob.s.get(f"{bob.base}/datamanager/files{alice.p('new/in')}", timeout=30).status_code == 200
    view = bob.s.get(f"{bob.base}{SHARING}/acl{alice.p('new/in/f.txt')}", timeout=30).json()
    assert [(e["name"], e["grantedOn"]) for e in view["entries"]] == [(bob.user, alice.p("new/in"))]

    # bob (Write) starts a multipart upload into the share; revoked, he can neither sign parts nor complete
    body = {
        "path": alice.p("new/in/big.bin"),
        "size": 6 * 1024 * 1024,
        "md5": hashlib.md5(b"m", usedforsecurity=False).hexdigest(),
    }
    started = bob.s.post(f"{bob.base}/datamanager/multipart/uploads", json=body, timeout=30)
    assert started.status_code == 201, started.text
    assert started.json()["path"] == alice.p("new/in/big.bin")
    upload = f"{bob.base}/datamanager/multipart/uploads/{started.json()['uploadId']}"
    parts = {"parts": [{"partNumber": 1, "md5": hashlib.md5(b"p", usedforsecurity=False).hexdigest()}]}
    assert bob.s.post(f"{upload}/urls", json=parts, timeout=30).status_code == 200
    r = bob.s.delete(f"{bob.base}{SHARING}/acl{alice.p('new/in')}", params={"type": "user", "name": bob.user})
    assert r.status_code == 403  # only the owner revokes
    r = alice.s.delete(
        f"{alice.base}{SHARING}/acl{alice.p('new/in')}", params={"type": "user", "name": bob.user}
    )
    assert r.status_code == 200
    assert bob.s.post(f"{upload}/urls", json=parts, timeout=30).status_code == 403
    assert bob.s.post(f"{upload}/complete", json={"parts": []}, timeout=30).status_code == 403
    assert bob.s.delete(upload, timeout=30).status_code == 204  # he may still abort his own upload

    # deleted and made again under the same name: not shared any more
    assert grant(alice, alice.p("new/in"), "user", bob.user).status_code == 200
    assert alice.s.delete(alice.url("new/in/f.txt"), timeout=30).status_code == 200
    assert alice.s.delete(alice.url("new/in"), timeout=30).status_code == 200
    alice.mkdir("new/in")
    assert bob.s.get(f"{bob.base}/datamanager/files{alice.p('new/in')}", timeout=30).status_code == 403
