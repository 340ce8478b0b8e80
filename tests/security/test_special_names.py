"""Names the store treats specially (issue 15 item 8): folder names SeaweedFS hides are refused.

SeaweedFS (checked with 4.48) leaves a *directory* named ``.uploads`` or ending in ``.versions`` out of
every listing (its multipart and versioning folders), and the files directly inside such a directory are
never listed even by their own prefix. Such names cannot work as folders, so every route that would make
one answers 400 before anything changes. As *file* names they work (the store hides only directories),
so files keep them: uploaded by every route, listed, read, moved, copied and deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from gsdesktop.server.seaweed import S3Config
from tests.integration.test_server_helpers import DM, md5_pair

FOLDER_NAMES = [".uploads", ".versions", "proj.versions", "a b.versions"]


@pytest.fixture
def dm(account: Any) -> Iterator[DM]:
    client = DM(account.server_url, account.username, account.password)
    yield client
    client.close()


def store_keys(seaweed: S3Config, prefix: str) -> list[str]:
    """Every key under ``prefix``, read straight from the store (not through the server)."""
    s3 = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        region_name=seaweed.region,
        config=Config(s3={"addressing_style": "path"}),
    )
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=seaweed.bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def names(dm: DM, rel: str = "", dialect: str = "beta") -> list[tuple[str, bool]]:
    return sorted((c["name"], c["isDirectory"]) for c in dm.listing(rel, dialect)["contents"])


def tree(dm: DM, rel: str) -> dict[str, str]:
    """Every file below ``rel`` with its MD5 (recursive listing)."""
    r = dm.s.get(dm.url(rel), params={"recursive": "true"}, timeout=30)
    assert r.status_code == 200, r.text
    return {c["path"]: c.get("md5", "") for c in r.json()["contents"] if not c["isDirectory"]}


def _v1_path(dm: DM, rel: str) -> str:
    return f"/Home/{dm.user}/{rel}"


@pytest.mark.parametrize("name", FOLDER_NAMES)
@pytest.mark.parametrize("dialect", ["beta", "v1"])
def test_mkdir_of_a_hidden_folder_name_is_refused(dm: DM, seaweed: S3Config, name: str, dialect: str) -> None:
    dm.mkdir("d")
    before = store_keys(seaweed, f"users/{dm.user}/")
    r = dm.s.put(dm.url(f"d/{name}", dialect), json={"isDirectory": True}, timeout=30)
    assert r.status_code == 400, r.text
    assert name in r.json()["message"]
    assert store_keys(seaweed, f"users/{dm.user}/") == before  # nothing was created
    assert names(dm, "d", dialect) == []


@pytest.mark.parametrize("name", FOLDER_NAMES)
def test_moving_a_folder_onto_a_hidden_name_changes_nothing(dm: DM, seaweed: S3Config, name: str) -> None:
    dm.mkdir("proj")
    dm.mkdir("proj/sub")
    dm.upload("proj/a.txt", b"A")
    dm.upload("proj/sub/b.txt", b"B")
    before_keys = store_keys(seaweed, f"users/{dm.user}/")
    before = tree(dm, "proj")
    r = dm.s.post(dm.url("proj", "v1"), json={"path": _v1_path(dm, name)}, timeout=30)
    assert r.status_code == 400, r.text
    assert store_keys(seaweed, f"users/{dm.user}/") == before_keys
    assert tree(dm, "proj") == before
    assert dm.download("proj/sub/b.txt").content == b"B"


@pytest.mark.parametrize("name", FOLDER_NAMES)
@pytest.mark.parametrize("dialect", ["beta", "v1"])
def test_copying_a_folder_onto_a_hidden_name_changes_nothing(
    dm: DM, seaweed: S3Config, name: str, dialect: str
) -> None:
    dm.mkdir("proj")
    dm.upload("proj/a.txt", b"A")
    before = store_keys(seaweed, f"users/{dm.user}/")
    source = dm.p("proj") if dialect == "beta" else _v1_path(dm, "proj")
    r = dm.s.put(dm.url(name, dialect), headers={"x-gs-copy-source": source}, timeout=30)
    assert r.status_code == 400, r.text
    assert store_keys(seaweed, f"users/{dm.user}/") == before


@pytest.mark.parametrize("name", FOLDER_NAMES)
def test_nothing_can_be_written_below_a_hidden_folder_name(dm: DM, seaweed: S3Config, name: str) -> None:
    dm.mkdir("d")
    data = b"inside"
    b64, hexd = md5_pair(data)
    rel = f"d/{name}/f.txt"
    # single uploads, both dialects
    for dialect, endpoint in (("beta", "uploadurls"), ("v1", "uploadurl")):
        r = dm.s.get(
            dm.url(rel, dialect, endpoint),
            params={"Content-Length": str(len(data)), "Content-MD5": b64, "Content-Type": "text/plain"},
            timeout=30,
        )
        assert r.status_code == 400, (dialect, r.text)
    # batch uploads: the item is refused, the others go ahead
    for dialect, prefix in (("beta", f"/users/{dm.user}"), ("v1", f"/Home/{dm.user}")):
        route = "/datamanager/uploadurls-batch" if dialect == "beta" else "/datamanager/v1.0/uploadurls-batch"
        files = [
            {"path": f"{prefix}/{rel}", "size": len(data), "md5": hexd, "contentType": "text/plain"},
            {"path": f"{prefix}/d/ok.txt", "size": len(data), "md5": hexd, "contentType": "text/plain"},
        ]
        r = dm.s.post(dm.base + route, json={"files": files}, timeout=30)
        assert r.status_code == 200, r.text
        first, second = r.json()["results"]
        assert first["status"] == 400 and name in first["message"], first
        assert "url" in second
    # multipart start and v1.0 uploadinfo
    r = dm.s.post(
        f"{dm.base}/datamanager/multipart/uploads",
        json={"path": dm.p(rel), "size": 6 * 1024 * 1024, "md5": hashlib.md5(b"x").hexdigest()},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    r = dm.s.get(dm.url(rel, "v1", "uploadinfo"), timeout=30)
    assert r.status_code == 400, r.text
    # a folder path below such a name
    r = dm.s.put(dm.url(f"d/{name}/sub"), json={"isDirectory": True}, timeout=30)
    assert r.status_code == 400, r.text
    assert store_keys(seaweed, f"users/{dm.user}/d/{name}") == []


@pytest.mark.parametrize("name", [".uploads", ".versions", "data.versions"])
def test_files_with_these_names_work_fully(dm: DM, name: str) -> None:
    """The store hides only folders: as file names they upload, list, read, move, copy and delete."""
    dm.mkdir("f")
    dm.upload(f"f/{name}", b"one")
    assert (name, False) in names(dm, "f")
    assert (name, False) in names(dm, "f", "v1")
    assert dm.meta(f"f/{name}")["md5"] == hashlib.md5(b"one").hexdigest()
    assert dm.download(f"f/{name}").content == b"one"
    # batch upload replaces it
    hexd = hashlib.md5(b"two").hexdigest()
    r = dm.s.post(
        f"{dm.base}/datamanager/uploadurls-batch",
        json={"files": [{"path": dm.p(f"f/{name}"), "size": 3, "md5": hexd, "contentType": "text/plain"}]},
        timeout=30,
    )
    (item,) = r.json()["results"]
    b64, _ = md5_pair(b"two")
    put = requests.put(
        item["url"],
        data=b"two",
        headers={"Content-MD5": b64, "Content-Type": "text/plain", "x-amz-meta-md5-hash": hexd,
                 **item.get("headers", {})},
        timeout=30,
    )  # fmt: skip
    assert put.status_code == 200, put.text
    assert dm.download(f"f/{name}").content == b"two"
    # copy and move a file onto such a name
    dm.upload("f/plain.txt", b"plain")
    r = dm.s.put(dm.url(f"f/copy{name}"), headers={"x-gs-copy-source": dm.p("f/plain.txt")}, timeout=30)
    assert r.status_code == 201, r.text
    r = dm.s.post(dm.url("f/plain.txt", "v1"), json={"path": _v1_path(dm, f"f/moved{name}")}, timeout=30)
    assert r.status_code == 200, r.text
    assert names(dm, "f") == sorted([(name, False), (f"copy{name}", False), (f"moved{name}", False)])
    assert dm.download(f"f/moved{name}").content == b"plain"
    for n in (name, f"copy{name}", f"moved{name}"):
        assert dm.s.delete(dm.url(f"f/{n}"), timeout=30).status_code == 200
    assert names(dm, "f") == []


def test_a_user_name_the_store_would_hide_is_refused(seaweed: S3Config) -> None:
    from gsdesktop.server.storage import S3Store
    from gsdesktop.server.users import UserError, UserStore

    users = UserStore(S3Store(seaweed, create_bucket=False))
    with pytest.raises(UserError, match="versions"):
        users.add("lab.versions", "a-long-password-1")
    assert store_keys(seaweed, "users/lab.versions/") == []


def test_the_name_rules_in_paths() -> None:
    from gsdesktop.server.paths import PathError, is_reserved_folder_name, parse_path

    for name in (".uploads", ".versions", "x.versions", " .versions", "..versions"):
        assert is_reserved_folder_name(name)
        with pytest.raises(PathError, match="cannot be a folder name"):
            parse_path(f"/users/u/{name}/f.txt")
        assert parse_path(f"/users/u/{name}").path is not None  # as a last segment: maybe a file
    for name in (
        ".VERSIONS",
        "x.Versions",
        "x.version",
        "x.versions.txt",
        ".uploadsx",
        "x.uploads",
        "x.versions ",
    ):
        assert not is_reserved_folder_name(name)  # the store hides these exact forms only (case-sensitive)
        assert parse_path(f"/Home/u/{name}/f.txt").path is not None


def test_sync_keeps_going_past_a_local_folder_with_such_a_name(
    account: Any, tmp_path: Any, tmp_home: Any
) -> None:
    """A local folder the server refuses is that folder's problem only: everything else syncs."""
    from gsdesktop.datamanager.client import DataManagerClient
    from tests.integration.test_sync_engine import make_engine, write

    client = DataManagerClient(account.server_url, account.username, account.password)
    try:
        local = tmp_path / "L"
        write(local / "ok.txt", "fine")
        write(local / "proj.versions" / "inside.txt", "kept locally")
        write(local / "sub" / "deep.txt", "deep")
        engine = make_engine(client, local, tmp_path)
        report = engine.sync_once()
        listed = {m.path.rsplit("/", 1)[-1] for m in client.list_recursive(f"{client.home}/sync")}
        assert {"ok.txt", "sub", "deep.txt"} <= listed
        assert "proj.versions" not in listed
        assert (local / "proj.versions" / "inside.txt").read_text() == "kept locally"
        assert [p.path for p in report.problems] == ["proj.versions"]
        assert "cannot be a folder name" in report.problems[0].message
    finally:
        client.close()
