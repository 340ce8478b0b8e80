"""The client-side sharing API (datamanager.sharing) against the real server: three users, a group."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedError,
)
from gsdesktop.datamanager.sharing import AclEntry, Sharing


@pytest.fixture
def trio(make_account: Any) -> Iterator[list[DataManagerClient]]:
    clients = [
        DataManagerClient(a.server_url, a.username, a.password)
        for a in (make_account(p) for p in ("alice", "bob", "carol"))
    ]
    yield clients
    for c in clients:
        c.close()


def _upload(client: DataManagerClient, tmp: Path, remote: str, data: bytes) -> None:
    local = tmp / remote.replace("/", "_")
    local.write_bytes(data)
    client.upload(local, remote)


def test_acl_grant_revoke_inheritance_and_shared_with_me(
    trio: list[DataManagerClient], tmp_path: Path
) -> None:
    alice, bob, carol = trio
    sa, sb, sc = (Sharing(c) for c in trio)
    proj = f"{alice.home}/proj"
    alice.mkdir(f"{proj}/sub", parents=True)
    _upload(alice, tmp_path, f"{proj}/sub/f.txt", b"shared\n")

    acl = sa.acl(proj)
    assert (acl.path, acl.owner, acl.your_level, acl.entries, acl.public_url) == (
        proj, alice.username, "owner", (), None
    )  # fmt: skip
    with pytest.raises(PermissionDeniedError):
        sb.acl(proj)

    acl = sa.grant(proj, "user", bob.username)  # Read by default
    assert acl.entries == (AclEntry("user", bob.username, "read", False, proj),)
    below = sb.acl(f"{proj}/sub/f.txt")  # bob may read the ACL of what he can read
    assert below.your_level == "read" and below.owner == alice.username
    assert below.entries == (AclEntry("user", bob.username, "read", True, proj),)
    # an inherited entry cannot be removed lower down: the error names the folder
    with pytest.raises(ConflictError, match="proj"):
        sa.revoke(f"{proj}/sub", "user", bob.username)
    # only the owner shares
    with pytest.raises(PermissionDeniedError):
        sb.grant(proj, "user", carol.username, "write")

    assert sa.grant(proj, "user", bob.username, "write").entries[0].level == "write"
    owners = sb.shared_with_me()
    assert [(o.owner, [(i.path, i.level, i.is_directory) for i in o.items]) for o in owners] == [
        (alice.username, [(proj, "write", True)])
    ]
    assert sc.shared_with_me() == []

    assert sa.revoke(proj, "user", bob.username).entries == ()
    with pytest.raises(PermissionDeniedError):
        sb.acl(f"{proj}/sub/f.txt")
    assert sb.shared_with_me() == []

    # bad input: a clear error, no request needed
    with pytest.raises(InvalidRequestError, match="name"):
        sa.grant(proj, "user", None)
    with pytest.raises(InvalidRequestError, match="public can only read"):
        sa.grant(proj, "public", None, "write")
    with pytest.raises(NotFoundError):
        sa.acl(f"{alice.home}/nope")


def test_groups_members_admins_and_group_grants(trio: list[DataManagerClient], tmp_path: Path) -> None:
    alice, bob, carol = trio
    sa, sb, sc = (Sharing(c) for c in trio)
    name = f"lab-{alice.username}"
    g = sa.create_group(name)
    assert (g.name, g.admins, g.members, g.created_by, g.your_role) == (
        name, (alice.username,), (alice.username,), alice.username, "admin"
    )  # fmt: skip
    with pytest.raises(ConflictError):
        sb.create_group(name)
    with pytest.raises(InvalidRequestError):
        sa.create_group("a/b")

    g = sa.add_member(name, carol.username)
    assert g.members == (alice.username, carol.username) and g.admins == (alice.username,)
    assert [(x.name, x.your_role) for x in sc.groups()] == [(name, "member")]
    assert sc.group(name).members == g.members
    with pytest.raises(NotFoundError):
        sb.group(name)  # not a member
    with pytest.raises(PermissionDeniedError):
        sc.add_member(name, bob.username)  # a member is no administrator

    _upload(alice, tmp_path, f"{alice.home}/data.txt", b"group data\n")
    acl = sa.grant(f"{alice.home}/data.txt", "group", name)
    assert acl.entries == (AclEntry("group", name, "read", False, f"{alice.home}/data.txt"),)
    assert sc.acl(f"{alice.home}/data.txt").your_level == "read"
    with pytest.raises(PermissionDeniedError):
        sb.acl(f"{alice.home}/data.txt")

    g = sa.add_admin(name, carol.username)
    assert set(g.admins) == {alice.username, carol.username}
    g = sc.add_member(name, bob.username, admin=True)
    assert bob.username in g.admins and bob.username in g.members
    assert sb.acl(f"{alice.home}/data.txt").your_level == "read"
    g = sa.remove_admin(name, bob.username)
    assert bob.username not in g.admins and bob.username in g.members
    g = sb.remove_member(name, bob.username)  # a member may leave
    assert bob.username not in g.members
    with pytest.raises(PermissionDeniedError):
        sb.acl(f"{alice.home}/data.txt")

    sa.delete_group(name)
    assert sc.groups() == [] and sa.groups() == []
    with pytest.raises(NotFoundError):
        sa.group(name)


def test_public_link_search_and_opt_out(trio: list[DataManagerClient], tmp_path: Path) -> None:
    alice, bob, _ = trio
    sa, sb = Sharing(alice), Sharing(bob)
    f = f"{alice.home}/pub.txt"
    _upload(alice, tmp_path, f, b"for everyone\n")
    with pytest.raises(NotFoundError, match="not public"):
        sa.public_url(f)
    acl = sa.grant(f, "public", None)
    url = sa.public_url(f)
    assert acl.public_url == url and acl.is_public
    assert requests.get(url, timeout=30).content == b"for everyone\n"  # no cookie
    assert [(i.path, i.owner, i.public_url) for i in sb.public_items() if i.path == f] == [
        (f, alice.username, url)
    ]
    sa.revoke(f, "public", None)
    assert requests.get(url, timeout=30).status_code == 404
    with pytest.raises(NotFoundError, match="not public"):
        sa.public_url(f)

    # user search by prefix; opting out hides you (sharing by exact name still works)
    assert sa.searchable() is True
    assert alice.username in sb.search_users(alice.username[:-2])
    assert sb.search_users("") == []
    sa.set_searchable(False)
    assert sa.searchable() is False
    assert alice.username not in sb.search_users(alice.username[:-2])
    sa.set_searchable(True)
    assert alice.username in sb.search_users(alice.username)


class _OldServer(BaseHTTPRequestHandler):
    """A Data Manager without the sharing extension: signs in, and knows no /datamanager/sharing route."""

    def do_GET(self) -> None:
        if self.path.startswith("/identityServer/basic"):
            body, status = b"tok-123", 200
        else:
            body, status = b'{"detail": "Not Found"}', 404
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_server_without_the_extension_says_so() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OldServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with DataManagerClient(f"http://127.0.0.1:{server.server_address[1]}", "alice", "pw") as client:
            with pytest.raises(UnsupportedError, match="does not offer sharing"):
                Sharing(client).acl("/users/alice/x")
            with pytest.raises(UnsupportedError, match="does not offer sharing"):
                Sharing(client).groups()
    finally:
        server.shutdown()
        server.server_close()
