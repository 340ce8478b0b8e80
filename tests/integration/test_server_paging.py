"""Extension: a plain directory listing in pages (``GET files/<dir>?pageSize=N&pageToken=T``)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gsdesktop.server.seaweed import S3Config
from tests.integration.test_server_helpers import DM

# names that break naive URL, query-string or XML handling, and names sorting around "/" and "."
HOSTILE = (
    "a b.txt",
    "100%25 done.txt",
    "q?x=1&y=2.txt",
    "hash#frag.txt",
    "plus+sign.txt",
    "naïve Ünïcode ✓.txt",
    "<tag>&amp;.txt",
    "'quote\".txt",
    "semi;colon,comma.txt",
    "dot.",
    "-dash",
    "~tilde",
    "after:users.txt",
)
SUBDIRS = ("sub", "sub-", "sub.d", "sub 2", "zz⌘ dir")


@pytest.fixture
def dm(account: Any) -> Iterator[DM]:
    client = DM(account.server_url, account.username, account.password)
    yield client
    client.close()


@pytest.fixture
def paged_dir(dm: DM, seaweed: S3Config) -> set[str]:
    """``P`` with 120 plain files, hostile names and sub-directories holding files (common prefixes)."""
    from gsdesktop.server.storage import S3Store

    store = S3Store(seaweed, create_bucket=False)
    prefix = f"users/{dm.user}/P/"
    names = [f"f{i:03d}.txt" for i in range(120)] + list(HOSTILE)
    keys = [prefix] + [prefix + n for n in names]
    for d in SUBDIRS:  # markers plus files below: listed as one common prefix each
        keys += [f"{prefix}{d}/", f"{prefix}{d}/inner.txt", f"{prefix}{d}/deeper/x.txt"]

    def put(key: str) -> None:
        store.s3.put_object(Bucket=store.bucket, Key=key, Body=b"" if key.endswith("/") else key.encode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))
    return set(names) | set(SUBDIRS)


def _pages(dm: DM, dialect: str, size: int | str, rel: str = "P") -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token: str | None = None
    while len(pages) < 1000:
        params = {"pageSize": str(size)}
        if token is not None:
            params["pageToken"] = token
        r = dm.s.get(dm.url(rel, dialect), params=params, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "nextPageToken" in body  # null on the last page
        pages.append(body)
        token = body["nextPageToken"]
        if token is None:
            return pages
    raise AssertionError("paging never ended")


@pytest.mark.parametrize(("dialect", "size"), [("beta", 1), ("beta", 7), ("v1", 50), ("v1", 1000)])
def test_pages_cover_every_entry_exactly_once(dm: DM, paged_dir: set[str], dialect: str, size: int) -> None:
    full = dm.listing("P", dialect)
    assert "nextPageToken" not in full  # without pageSize the answer is unchanged
    assert {c["name"] for c in full["contents"]} == paged_dir
    pages = _pages(dm, dialect, size)
    names = [c["name"] for page in pages for c in page["contents"]]
    assert sorted(names) == sorted(paged_dir)  # every entry exactly once
    assert len(names) == len(set(names))
    assert all(len(page["contents"]) <= size for page in pages)
    if size < len(paged_dir):
        assert len(pages) >= len(paged_dir) // size
    by_name = {c["name"]: c for c in full["contents"]}
    for page in pages:
        assert page["directory"]["path"] == full["directory"]["path"]
        for entry in page["contents"]:
            # the same metadata as the unpaged listing (directories' dates aside)
            want = by_name[entry["name"]]
            assert entry["path"] == want["path"] and entry["isDirectory"] == want["isDirectory"]
            if not entry["isDirectory"]:
                assert entry["size"] == want["size"] and entry["md5"] == want["md5"]


def test_paging_edge_cases(dm: DM, make_account: Any) -> None:
    dm.mkdir("E")
    dm.upload("E/only.txt", b"1")
    dm.mkdir("Empty")
    (page,) = _pages(dm, "beta", 10, "Empty")
    assert page["contents"] == [] and page["nextPageToken"] is None
    (page,) = _pages(dm, "v1", 10, "E")
    assert [c["name"] for c in page["contents"]] == ["only.txt"]
    home = _pages(dm, "beta", 1000, "")
    assert "E" in {c["name"] for p in home for c in p["contents"]}
    # a file with pageSize: answered as without it (the download redirect)
    r = dm.s.get(dm.url("E/only.txt"), params={"pageSize": "5"}, allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303), r.text
    assert dm.s.get(dm.url("Nope"), params={"pageSize": "5"}, timeout=30).status_code == 404
    r = dm.s.get(dm.url("E"), params={"pageSize": "many"}, timeout=30)
    assert r.status_code == 400 and "pageSize" in r.text
    # another user's folder: forbidden, with or without a page token
    other = make_account("pgo")
    other_dm = DM(other.server_url, other.username, other.password)
    try:
        other_dm.mkdir("secret")
        for params in ({"pageSize": "5"}, {"pageSize": "5", "pageToken": f"after:users/{other.username}/"}):
            r = dm.s.get(
                f"{dm.base}/datamanager/files/users/{other.username}/secret", params=params, timeout=30
            )
            assert r.status_code == 403, r.text
            r = dm.s.get(f"{dm.base}/datamanager/v1.0/file/Home/{other.username}", params=params, timeout=30)
            assert r.status_code == 403, r.text
        # a forged token naming another user's keys cannot leave the caller's own folder
        r = dm.s.get(
            dm.url("E"), params={"pageSize": "5", "pageToken": f"after:users/{other.username}/"}, timeout=30
        )
        assert r.status_code == 200
        assert all(c["path"].startswith(dm.p("E") + "/") for c in r.json()["contents"])
    finally:
        other_dm.close()
