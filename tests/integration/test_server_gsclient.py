"""python-genomespaceclient 1.2.0, unmodified, against our real server (v1.0 dialect)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
from genomespaceclient import GenomeSpaceClient

from tests.integration.test_server_helpers import DM


@pytest.fixture
def gs(account: Any) -> tuple[GenomeSpaceClient, DM, str]:
    dm = DM(account.server_url, account.username, account.password)
    client = GenomeSpaceClient(username=account.username, password=account.password)
    home = f"{account.server_url}/datamanager/v1.0/file/Home/{account.username}"
    return client, dm, home


def test_gsclient_list_mkdir_metadata_download_copy_delete(
    gs: tuple[GenomeSpaceClient, DM, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    client, dm, home = gs
    data = b"genomespace client payload\n" * 50
    dm.upload("hello.txt", data)

    # list (the client logs in through /identityServer/basic and keeps the gs-token cookie)
    listing = client.list(home + "/")
    assert [f.name for f in listing.contents] == ["hello.txt"]
    assert listing.directory.is_directory is True
    entry = listing.contents[0]
    assert entry.is_directory is False and entry.size == len(data)
    assert entry.owner["name"] == dm.user
    assert entry.url == f"{home}/hello.txt"

    # mkdir -p: PUTs every ancestor (including the existing home folder)
    client.mkdir(home + "/a/b/c", create_path=True)
    assert client.isdir(home + "/a/b/c") is True
    assert client.isdir(home + "/hello.txt") is False
    assert client.isdir(home + "/missing") is False

    # metadata (the fields its tests check)
    md = client.get_metadata(home + "/hello.txt")
    assert md.name == "hello.txt" and md.path == f"/Home/{dm.user}/hello.txt"
    assert md.owner["name"] == dm.user and md.is_directory is False
    assert md.data_format.name == "txt"
    assert {f.name for f in md.available_data_formats} >= {"txt", "uppercasetxt"}
    assert md.effective_acl.object.object_type == "DataManagerFileObject"
    assert md.effective_acl.object.object_id.endswith("hello.txt")
    assert len(md.effective_acl.access_control_entries) == 2
    for ace in md.effective_acl.access_control_entries:
        assert ace.permission in ("R", "W") and ace.sid.type in ("User", "Group") and ace.sid.name == dm.user
    dmd = client.get_metadata(home + "/a/b")
    assert dmd.is_directory is True and dmd.data_format is None

    # download (3xx + Location, then a plain GET of the signed URL)
    target = tmp_path / "hello.txt"
    client.copy(home + "/hello.txt", str(target))
    assert target.read_bytes() == data
    client.copy(home + "/hello.txt", str(tmp_path))  # into a local directory: name from the URL
    assert hashlib.md5((tmp_path / "hello.txt").read_bytes()).hexdigest() == hashlib.md5(data).hexdigest()

    # server-side copy: to a new name, and into an existing directory
    client.copy(home + "/hello.txt", home + "/a/b/copy.txt")
    client.copy(home + "/hello.txt", home + "/a/b/c")
    names = {f.name for f in client.list(home + "/a/b").contents}
    assert names == {"c", "copy.txt"}
    assert [f.name for f in client.list(home + "/a/b/c").contents] == ["hello.txt"]
    assert dm.download("a/b/copy.txt").content == data
    # folder copy
    client.copy(home + "/a", home + "/a2")
    assert dm.download("a2/b/c/hello.txt").content == data

    # move = copy + delete
    client.move(home + "/a/b/copy.txt", home + "/moved.txt")
    assert client.isdir(home + "/moved.txt") is False
    assert dm.s.get(dm.url("a/b/copy.txt", endpoint="filemetadata"), timeout=10).status_code == 404

    # delete: a file, then a whole tree (child first, as the client does)
    client.delete(home + "/moved.txt")
    client.delete(home + "/a2", recurse=True)
    client.delete(home + "/a", recurse=True)
    assert sorted(f.name for f in client.list(home).contents) == ["hello.txt"]

    # wildcards list the parent directory
    dm.upload("w1.txt", b"1")
    dm.upload("w2.txt", b"2")
    client.delete(home + "/w*.txt")
    assert sorted(f.name for f in client.list(home).contents) == ["hello.txt"]


def test_gsclient_remaining_token_time(gs: tuple[GenomeSpaceClient, DM, str]) -> None:
    client, dm, home = gs
    assert client.get_remaining_token_time(home) == 0  # no token yet
    client.list(home)  # logs in
    ms = client.get_remaining_token_time(home)
    assert 23 * 3600 * 1000 < ms <= 24 * 3600 * 1000
    by_token = GenomeSpaceClient(token=dm.token)
    assert [f.name for f in by_token.list(home).contents] == []
    assert GenomeSpaceClient(token="not-a-token").get_remaining_token_time(home) == 0
