"""Files and folders never share a name (issue 15 item 9; the server half of issue 16 item 3).

A signed upload URL is checked when it is made, not when it is used: one minted before a folder of the
same name was made still writes the file, and the store then holds a file ``x`` beside a folder ``x/``
(SeaweedFS lets both exist when the folder has contents; a PUT onto an *empty* folder replaces it).
The server settles such a clash the first time any call looks at the name: **the folder keeps the
name**, and the file is moved (conditionally, so a racing replica or a newer upload is never lost) to
``<stem> (file clashed with folder <etag8>)<ext>`` in the same folder. Every listing and metadata call
then shows one thing per name. A multipart complete onto a name that became a folder is 409.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.server.seaweed import S3Config
from tests.integration.test_server_helpers import DM, md5_pair
from tests.security.test_special_names import store_keys
from tests.support.servers import ServerProcess

MARK = "(file clashed with folder "


@pytest.fixture
def dm(account: Any) -> Iterator[DM]:
    client = DM(account.server_url, account.username, account.password)
    yield client
    client.close()


@pytest.fixture(scope="module")
def replica(seaweed: S3Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second server replica on the same store."""
    server = ServerProcess(tmp_path_factory.mktemp("clash-replica"), seaweed).start()
    yield server
    server.stop()


def put_stale(url: str, data: bytes) -> None:
    b64, hexd = md5_pair(data)
    headers = {"Content-MD5": b64, "Content-Type": "text/plain", "x-amz-meta-md5-hash": hexd}
    r = requests.put(url, data=data, headers=headers, timeout=30)
    assert r.status_code == 200, r.text  # the store accepts it: the URL was valid when it was made


def entries(dm: DM, rel: str = "", dialect: str = "beta") -> list[tuple[str, bool]]:
    return sorted((c["name"], c["isDirectory"]) for c in dm.listing(rel, dialect)["contents"])


def one_name_one_thing(listing: list[tuple[str, bool]]) -> None:
    names = [n for n, _ in listing]
    assert len(names) == len(set(names)), f"a name listed twice: {listing}"


def clash_copies(dm: DM, rel: str = "") -> dict[str, bytes]:
    """The files the server moved aside, with their contents."""
    prefix = f"{rel}/" if rel else ""
    out = {}
    for name, is_dir in entries(dm, rel):
        if MARK in name:
            assert not is_dir
            r = dm.download(prefix + name)
            assert r.status_code == 200, r.text
            out[name] = r.content
    return out


def _first_look(dm: DM, how: str, rel: str) -> None:
    """Look at the clashing name in one way; each must already see the folder."""
    if how == "metadata":
        assert dm.meta(rel)["isDirectory"] is True
    elif how == "metadata-v1":
        assert dm.meta(rel, "v1")["isDirectory"] is True
    elif how == "listing":
        listing = entries(dm)
        one_name_one_thing(listing)
        assert (rel, True) in listing
    elif how == "paged":
        seen: list[tuple[str, bool]] = []
        token = None
        while True:
            params = {"pageSize": "1", **({"pageToken": token} if token else {})}
            r = dm.s.get(dm.url(""), params=params, timeout=30)
            assert r.status_code == 200, r.text
            seen += [(c["name"], c["isDirectory"]) for c in r.json()["contents"]]
            token = r.json()["nextPageToken"]
            if not token:
                break
        one_name_one_thing(seen)
        assert (rel, True) in seen
    elif how in ("recursive", "recursive-paged"):
        paths: list[tuple[str, bool]] = []
        token = None
        while True:  # page size 1: the file and its folder's keys come on different pages
            params = {"recursive": "true", **({"pageSize": "1"} if how == "recursive-paged" else {})}
            r = dm.s.get(dm.url(""), params={**params, **({"pageToken": token} if token else {})}, timeout=30)
            assert r.status_code == 200, r.text
            paths += [(c["path"], c["isDirectory"]) for c in r.json()["contents"]]
            token = r.json()["nextPageToken"]
            if not token:
                break
        assert (dm.p(rel), False) not in paths
        assert len({p for p, _ in paths}) == len(paths), paths
    elif how == "get":
        r = dm.s.get(dm.url(rel), allow_redirects=False, timeout=30)
        assert r.status_code == 200 and r.json()["directory"]["isDirectory"] is True, r.text
    elif how == "head-v1":
        r = dm.s.head(dm.url(rel, "v1"), timeout=30)
        assert r.status_code == 200 and r.headers["x-gs-is-directory"] == "true"
    elif how == "downloadurl":
        r = dm.s.get(dm.url(rel, endpoint="downloadurls"), timeout=30)
        assert r.status_code == 400 and "directory" in r.json()["message"], r.text
    elif how == "delete":
        r = dm.s.delete(dm.url(rel), timeout=30)
        assert r.status_code == 409, r.text  # a folder with contents: nothing deleted
    elif how == "mkdir":
        r = dm.s.put(dm.url(rel), json={"isDirectory": True}, timeout=30)
        assert r.status_code == 200, r.text
    else:  # pragma: no cover
        raise AssertionError(how)


LOOKS = ["metadata", "metadata-v1", "listing", "paged", "recursive", "recursive-paged", "get", "head-v1",
         "downloadurl", "delete", "mkdir"]  # fmt: skip


@pytest.mark.parametrize("how", LOOKS)
def test_a_stale_upload_url_onto_a_new_folder(dm: DM, seaweed: S3Config, how: str) -> None:
    url = dm.upload_url("x", b"stale file")  # minted while the name is free
    dm.mkdir("x")
    dm.upload("x/inner.txt", b"inner")
    put_stale(url, b"stale file")
    _first_look(dm, how, "x")
    # afterwards every way of looking agrees: x is the folder, the file is beside it under a new name
    listing = entries(dm)
    one_name_one_thing(listing)
    assert ("x", True) in listing
    assert list(clash_copies(dm).values()) == [b"stale file"]
    (copy_name,) = clash_copies(dm)
    assert dm.meta(copy_name)["md5"] == hashlib.md5(b"stale file").hexdigest()
    assert entries(dm, "x") == [("inner.txt", False)]
    assert dm.download("x/inner.txt").content == b"inner"
    for look in ("metadata", "metadata-v1", "recursive", "head-v1"):
        _first_look(dm, look, "x")
    assert f"users/{dm.user}/x" not in store_keys(seaweed, f"users/{dm.user}/")


def test_a_stale_upload_into_a_folder_that_became_a_file(dm: DM) -> None:
    """The other order: a URL for x/f minted while x was a folder, used after x became a file."""
    dm.mkdir("x")
    url = dm.upload_url("x/f.txt", b"late child")
    assert dm.s.delete(dm.url("x"), timeout=30).status_code == 200
    dm.upload("x", b"the file x")
    put_stale(url, b"late child")
    assert dm.meta("x")["isDirectory"] is True  # the folder keeps the name
    listing = entries(dm)
    one_name_one_thing(listing)
    assert list(clash_copies(dm).values()) == [b"the file x"]
    assert dm.download("x/f.txt").content == b"late child"


def test_a_stale_upload_onto_an_empty_folder_leaves_one_thing(dm: DM) -> None:
    """SeaweedFS replaces an empty folder by the file: nothing was inside, and the name is one thing."""
    url = dm.upload_url("e", b"file wins")
    dm.mkdir("e")
    put_stale(url, b"file wins")
    listing = entries(dm)
    one_name_one_thing(listing)
    (kind,) = [d for n, d in listing if n == "e"]
    assert dm.meta("e")["isDirectory"] is kind
    if not kind:
        assert dm.download("e").content == b"file wins"


def _multipart(dm: DM, rel: str, data: bytes) -> Callable[[], requests.Response]:
    """Start a one-part multipart upload of ``data`` and store its part; returns its complete call."""
    md5 = hashlib.md5(data).hexdigest()
    mp = f"{dm.base}/datamanager/multipart/uploads"
    r = dm.s.post(mp, json={"path": dm.p(rel), "size": len(data), "md5": md5, "contentType": "text/plain"},
                  timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    upload_id = r.json()["uploadId"]
    r = dm.s.post(f"{mp}/{upload_id}/urls", json={"parts": [{"partNumber": 1, "md5": md5}]}, timeout=30)
    assert r.status_code == 200, r.text
    (part,) = r.json()["urls"]
    assert requests.put(part["url"], data=data, headers={"Content-MD5": part["contentMd5"]}, timeout=30).ok

    def complete() -> requests.Response:
        return dm.s.post(f"{mp}/{upload_id}/complete", json={"parts": [{"partNumber": 1, "etag": md5}]},
                         timeout=30)  # fmt: skip

    return complete


def test_a_multipart_complete_onto_a_new_folder_is_409_and_changes_nothing(dm: DM, seaweed: S3Config) -> None:
    complete = _multipart(dm, "y", b"multipart bytes")
    dm.mkdir("y")
    dm.upload("y/in.txt", b"in")
    before = store_keys(seaweed, f"users/{dm.user}/")
    r = complete()
    assert r.status_code == 409, r.text
    assert "folder" in r.json()["message"]
    assert store_keys(seaweed, f"users/{dm.user}/") == before
    assert dm.meta("y")["isDirectory"] is True and clash_copies(dm) == {}


def _look(client: DM, how: str, name: str, stop: threading.Event, problems: list[str]) -> None:
    """List the home folder or stat ``name`` until ``stop``; every anomaly goes to ``problems``."""
    while not stop.is_set():
        try:
            if how == "list":
                r = client.s.get(client.url(""), timeout=30)
                if r.status_code != 200:
                    problems.append(f"list {r.status_code} {r.text}")
                    continue
                listed = [c["name"] for c in r.json()["contents"]]
                if len(listed) != len(set(listed)):
                    problems.append(f"listed twice: {listed}")
            else:
                r = client.s.get(client.url(name, endpoint="filemetadata"), timeout=30)
                if r.status_code != 200 or r.json()["isDirectory"] is not True:
                    problems.append(f"metadata {r.status_code} {r.text[:200]}")
        except requests.RequestException as exc:
            problems.append(repr(exc))


def test_a_multipart_complete_into_a_folder_that_became_a_file_is_409(dm: DM, seaweed: S3Config) -> None:
    dm.mkdir("z")
    complete = _multipart(dm, "z/part.txt", b"multipart bytes")
    assert dm.s.delete(dm.url("z"), timeout=30).status_code == 200
    dm.upload("z", b"now a file")
    before = store_keys(seaweed, f"users/{dm.user}/")
    r = complete()
    assert r.status_code == 409, r.text
    assert store_keys(seaweed, f"users/{dm.user}/") == before
    assert dm.download("z").content == b"now a file" and clash_copies(dm) == {}


def test_racing_stale_uploads_and_two_replicas_settle_each_clash_once(
    dm: DM, account: Any, replica: ServerProcess
) -> None:
    """Stale uploads land while both replicas list and stat the name: nothing listed twice, no 5xx, and
    the last content written is kept exactly once (earlier ones may be overwritten by the later PUTs to
    the same key, as any upload overwrites; each one seen is kept once)."""
    lookers = [DM(url, account.username, account.password) for url in (dm.base, replica.url) for _ in "lm"]
    try:
        for i in range(10):
            name = f"r{i}"
            contents = [f"round {i} version {v}".encode() for v in range(3)]
            urls = [dm.upload_url(name, c) for c in contents]
            dm.mkdir(name)
            dm.upload(f"{name}/in.txt", b"in")
            stop = threading.Event()
            problems: list[str] = []
            threads = [
                threading.Thread(target=_look, args=(c, h, name, stop, problems))
                for c, h in zip(lookers, ("list", "meta") * 2, strict=True)
            ]
            for t in threads:
                t.start()
            for url, data in zip(urls, contents, strict=True):
                put_stale(url, data)
            _first_look(dm, "metadata", name)
            stop.set()
            for t in threads:
                t.join()
            assert problems == []
            listing = entries(dm)
            one_name_one_thing(listing)
            assert (name, True) in listing
            kept = [data for n, data in clash_copies(dm).items() if n.startswith(f"{name} (")]
            assert contents[-1] in kept
            assert len(kept) == len(set(kept)) and set(kept) <= set(contents)
            assert dm.download(f"{name}/in.txt").content == b"in"
    finally:
        for c in lookers:
            c.close()


def test_clash_names_fit_and_keep_the_extension(tmp_path: Path) -> None:
    from gsdesktop.server.clash import clash_name
    from gsdesktop.server.paths import MAX_NAME_BYTES, validate_name

    assert clash_name("reads.bam", "0123456789abcdef") == "reads (file clashed with folder 01234567).bam"
    assert clash_name(".hidden", "abc") == ".hidden (file clashed with folder abc)"
    long = "é" * 127 + ".txt"  # 258 bytes... then trimmed by whole characters to fit
    out = clash_name(long[:-4][:125] + ".txt", "0123456789abcdef")
    assert len(out.encode()) <= MAX_NAME_BYTES and out.endswith(").txt")
    validate_name(out)


@pytest.mark.parametrize("managed", [False, True])
def test_settle_keeps_the_bytes_and_the_md5_record(
    seaweed: S3Config, monkeypatch: pytest.MonkeyPatch, managed: bool
) -> None:
    """Straight against the store: the file moved aside keeps its bytes and ``md5-hash`` record, also
    through the managed (multipart) copy used above 5 GiB (forced here with a limit of 0)."""
    from gsdesktop.server import clash
    from gsdesktop.server.paths import DMPath
    from gsdesktop.server.storage import S3Store
    from tests.support.servers import unique_name

    if managed:
        monkeypatch.setattr(clash, "_SINGLE_COPY_LIMIT", 0)
    store = S3Store(seaweed, create_bucket=False)
    user = unique_name("st")
    data = b"file bytes"
    store.put_bytes(f"users/{user}/x/in.txt", b"in")
    store.put_bytes(f"users/{user}/x", data, content_type="text/plain", metadata={"md5-hash": "ab" * 16})
    path = DMPath(user, "x")
    info = store.head(path.key)
    assert info is not None and clash.is_clash(store, path)
    clash.settle(store, path, info)
    clash.settle(store, path, info)  # a second replica settling the same version: nothing more happens
    keys = store_keys(seaweed, f"users/{user}/")
    moved = f"users/{user}/" + clash.clash_name("x", info.etag)
    assert keys == sorted([f"users/{user}/x/in.txt", moved])
    assert store.get_bytes(moved) == data
    held = store.head(moved)
    assert held is not None and (held.metadata or {}).get("md5-hash") == "ab" * 16


def test_a_settled_folder_emptied_and_deleted_leaves_nothing_behind(dm: DM) -> None:
    """In SeaweedFS the file had replaced the folder's own entry (its marker); once emptied the folder is
    still listed, and delete removes it: gone from every listing."""
    url = dm.upload_url("g", b"stale")
    dm.mkdir("g")
    dm.upload("g/in.txt", b"in")
    put_stale(url, b"stale")
    assert dm.meta("g")["isDirectory"] is True
    assert dm.s.delete(dm.url("g/in.txt"), timeout=30).status_code == 200
    assert dm.s.delete(dm.url("g"), timeout=30).status_code == 200
    assert [n for n, _ in entries(dm)] == [n for n in clash_copies(dm)]  # only the moved file is left
    assert dm.s.get(dm.url("g", endpoint="filemetadata"), timeout=30).status_code == 404


def test_an_empty_folder_the_store_left_behind_does_not_clash(dm: DM, seaweed: S3Config) -> None:
    """SeaweedFS keeps listing a folder whose last object went (no marker). Beside a file of that name
    it is no folder: the file keeps the name, nothing moves, and the name is listed once."""
    from gsdesktop.server.storage import S3Store

    store = S3Store(seaweed, create_bucket=False)
    store.put_bytes(f"users/{dm.user}/h/sub/f", b"gone soon")
    store.put_bytes(f"users/{dm.user}/h", b"the file h")
    store.delete(f"users/{dm.user}/h/sub/f")  # leaves h/ and h/sub/ listed as empty folders
    for dialect in ("beta", "v1"):
        listing = entries(dm, "", dialect)
        one_name_one_thing(listing)
        assert ("h", False) in listing
    assert dm.meta("h")["isDirectory"] is False
    assert dm.download("h").content == b"the file h" and clash_copies(dm) == {}


@pytest.mark.parametrize("taken_by", ["file", "folder"])
def test_settle_takes_the_longer_name_when_the_short_one_is_taken(seaweed: S3Config, taken_by: str) -> None:
    from gsdesktop.server import clash
    from gsdesktop.server.paths import DMPath
    from gsdesktop.server.storage import S3Store
    from tests.support.servers import unique_name

    store = S3Store(seaweed, create_bucket=False)
    user = unique_name("st")
    data = b"the clashing file"
    etag = hashlib.md5(data).hexdigest()
    short = f"users/{user}/" + clash.clash_name("x.txt", etag)
    if taken_by == "file":
        store.put_bytes(short, b"someone else's file")
    else:
        store.put_bytes(short + "/inside", b"someone else's folder")
    store.put_bytes(f"users/{user}/x.txt/in", b"in")
    store.put_bytes(f"users/{user}/x.txt", data)
    path = DMPath(user, "x.txt")
    info = store.head(path.key)
    assert info is not None and info.etag == etag
    clash.settle(store, path, info)
    full = f"users/{user}/" + clash.clash_name("x.txt", etag, full=True)
    assert store.get_bytes(full) == data
    assert store.head(path.key) is None
    assert store.get_bytes(short if taken_by == "file" else short + "/inside") is not None


def test_an_emptied_folder_the_store_keeps_listing_is_an_empty_folder(dm: DM, seaweed: S3Config) -> None:
    """A folder without a marker whose last object went stays listed by SeaweedFS: metadata, GET and
    mkdir agree that it is an empty folder, and delete removes it from the listing."""
    from gsdesktop.server.storage import S3Store

    store = S3Store(seaweed, create_bucket=False)
    store.put_bytes(f"users/{dm.user}/k/f", b"gone soon")
    store.delete(f"users/{dm.user}/k/f")
    assert ("k", True) in entries(dm)
    assert dm.meta("k")["isDirectory"] is True and dm.meta("k", "v1")["isDirectory"] is True
    assert entries(dm, "k") == []
    assert dm.s.put(dm.url("k"), json={"isDirectory": True}, timeout=30).status_code == 200
    dm.upload("k/new.txt", b"new")  # its parent exists
    assert dm.s.delete(dm.url("k/new.txt"), timeout=30).status_code == 200
    assert dm.s.delete(dm.url("k"), timeout=30).status_code == 200
    assert ("k", True) not in entries(dm)
    assert dm.s.get(dm.url("k", endpoint="filemetadata"), timeout=30).status_code == 404


def test_mkdir_racing_a_stale_upload_never_loses_the_file(
    dm: DM, account: Any, replica: ServerProcess
) -> None:
    """mkdir's marker is written with If-None-Match: a plain marker PUT racing a file PUT of the same name
    could replace the file in SeaweedFS (both answered 200; 2 of 60 raw tries lost the file)."""
    other = DM(replica.url, account.username, account.password)
    try:
        for i in range(30):
            name, data = f"m{i}", f"upload {i}".encode()
            url = dm.upload_url(name, data)
            barrier = threading.Barrier(2)
            results: list[int] = []

            def make_folder(
                client: DM = other, rel: str = name, out: list[int] = results, go: threading.Barrier = barrier
            ) -> None:
                go.wait()
                out.append(client.s.put(client.url(rel), json={"isDirectory": True}, timeout=30).status_code)

            t = threading.Thread(target=make_folder)
            t.start()
            barrier.wait()
            put_stale(url, data)
            t.join()
            assert results[0] in (200, 201, 409), results
            listing = entries(dm)
            one_name_one_thing(listing)
            (kind,) = [d for n, d in listing if n == name]
            kept = dm.download(name).content if not kind else None
            assert kept == data or data in clash_copies(dm).values(), (i, results, listing)
    finally:
        other.close()
