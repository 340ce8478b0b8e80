"""Copy is as careful as move (issue 15 item 10): a folder copied onto an existing folder is 409.

Before, the copy merged the trees and replaced same-named files, answering 201, while move refused the
same case. Now both refuse with 409 and change nothing; ``?merge=true`` asks for the merge explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gsdesktop.server.seaweed import S3Config
from tests.integration.test_server_helpers import DM
from tests.security.test_special_names import store_keys, tree


@pytest.fixture
def dm(account: Any) -> Iterator[DM]:
    client = DM(account.server_url, account.username, account.password)
    yield client
    client.close()


def _source(dm: DM, rel: str, dialect: str) -> str:
    return dm.p(rel) if dialect == "beta" else f"/Home/{dm.user}/{rel}"


def _two_folders(dm: DM) -> None:
    dm.mkdir("src")
    dm.mkdir("src/inner")
    dm.upload("src/same.txt", b"from src")
    dm.upload("src/inner/new.txt", b"new")
    dm.mkdir("dst")
    dm.upload("dst/same.txt", b"kept in dst")
    dm.upload("dst/only.txt", b"only")


@pytest.mark.parametrize("dialect", ["beta", "v1"])
def test_copying_a_folder_onto_an_existing_folder_is_409_and_changes_nothing(
    dm: DM, seaweed: S3Config, dialect: str
) -> None:
    _two_folders(dm)
    before_keys = store_keys(seaweed, f"users/{dm.user}/")
    before = tree(dm, "dst")
    r = dm.s.put(
        dm.url("dst", dialect), headers={"x-gs-copy-source": _source(dm, "src", dialect)}, timeout=30
    )
    assert r.status_code == 409, r.text
    assert "merge" in r.json()["message"]
    assert store_keys(seaweed, f"users/{dm.user}/") == before_keys
    assert tree(dm, "dst") == before
    assert dm.download("dst/same.txt").content == b"kept in dst"
    # move refuses the same case the same way
    r = dm.s.post(dm.url("src", "v1"), json={"path": f"/Home/{dm.user}/dst"}, timeout=30)
    assert r.status_code == 409, r.text
    assert store_keys(seaweed, f"users/{dm.user}/") == before_keys


@pytest.mark.parametrize("dialect", ["beta", "v1"])
def test_a_merge_asked_for_explicitly_merges(dm: DM, dialect: str) -> None:
    _two_folders(dm)
    r = dm.s.put(
        dm.url("dst", dialect),
        params={"merge": "true"},
        headers={"x-gs-copy-source": _source(dm, "src", dialect)},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    assert r.json()["isDirectory"] is True
    assert dm.download("dst/same.txt").content == b"from src"
    assert dm.download("dst/only.txt").content == b"only"
    assert dm.download("dst/inner/new.txt").content == b"new"


def test_copies_onto_new_names_and_the_other_clashes(dm: DM, seaweed: S3Config) -> None:
    _two_folders(dm)
    # a folder onto a new name: copied
    r = dm.s.put(dm.url("fresh"), headers={"x-gs-copy-source": dm.p("src")}, timeout=30)
    assert r.status_code == 201, r.text
    assert dm.download("fresh/inner/new.txt").content == b"new"
    before = store_keys(seaweed, f"users/{dm.user}/")
    # a folder onto a file, a file onto a folder: 409, nothing changed
    r = dm.s.put(dm.url("dst/only.txt"), headers={"x-gs-copy-source": dm.p("src")}, timeout=30)
    assert r.status_code == 409, r.text
    r = dm.s.put(dm.url("dst"), headers={"x-gs-copy-source": dm.p("src/same.txt")}, timeout=30)
    assert r.status_code == 409, r.text
    # merge=true never turns a folder into a file or a file into a folder
    r = dm.s.put(
        dm.url("dst/only.txt"),
        params={"merge": "true"},
        headers={"x-gs-copy-source": dm.p("src")},
        timeout=30,
    )
    assert r.status_code == 409, r.text
    assert store_keys(seaweed, f"users/{dm.user}/") == before
    # a file onto an existing file replaces it, as an upload would
    r = dm.s.put(dm.url("dst/only.txt"), headers={"x-gs-copy-source": dm.p("src/same.txt")}, timeout=30)
    assert r.status_code == 201, r.text
    assert dm.download("dst/only.txt").content == b"from src"


@pytest.mark.parametrize("dialect", ["beta", "v1"])
def test_a_merge_never_makes_a_name_both_file_and_folder(dm: DM, seaweed: S3Config, dialect: str) -> None:
    dm.mkdir("src")
    dm.mkdir("src/a")
    dm.upload("src/a/in.txt", b"in")
    dm.upload("src/b", b"file b")
    dm.mkdir("dst")
    dm.upload("dst/a", b"file a")  # a file where the source has a folder
    before = store_keys(seaweed, f"users/{dm.user}/")
    source = _source(dm, "src", dialect)
    r = dm.s.put(
        dm.url("dst", dialect), params={"merge": "true"}, headers={"x-gs-copy-source": source}, timeout=30
    )
    assert r.status_code == 409 and "/dst/a is a file in one folder" in r.json()["message"], r.text
    assert store_keys(seaweed, f"users/{dm.user}/") == before
    assert dm.s.delete(dm.url("dst/a"), timeout=30).status_code == 200
    dm.mkdir("dst/b")
    dm.upload("dst/b/x.txt", b"x")  # a folder where the source has a file
    before = store_keys(seaweed, f"users/{dm.user}/")
    r = dm.s.put(
        dm.url("dst", dialect), params={"merge": "true"}, headers={"x-gs-copy-source": source}, timeout=30
    )
    assert r.status_code == 409 and "/dst/b is a file in one folder" in r.json()["message"], r.text
    assert store_keys(seaweed, f"users/{dm.user}/") == before


BAD_DESTINATIONS = {
    "missing parent": ("no/such/place", 404),
    "parent is a file": ("file.txt/inside", 409),
    "existing folder": ("other", 409),
    "existing file": ("file.txt", 409),
    "into itself": ("tree/sub/deeper", 400),
    "hidden folder name": ("tree.versions", 400),
    "backslash": ("a\\b", 400),
    "dot segment": ("%2e%2e/x", 400),
}


@pytest.mark.parametrize("case", sorted(BAD_DESTINATIONS))
def test_a_refused_move_or_copy_changes_nothing(dm: DM, seaweed: S3Config, case: str) -> None:
    """Every refusal of a move or a folder copy comes before the first write (item 8: a move to a
    hidden name used to delete the source and then answer 404)."""
    dm.mkdir("tree")
    dm.mkdir("tree/sub")
    dm.upload("tree/sub/f.txt", b"f")
    dm.upload("file.txt", b"file")
    dm.mkdir("other")
    rel, status = BAD_DESTINATIONS[case]
    before = store_keys(seaweed, f"users/{dm.user}/")
    target = f"/Home/{dm.user}/{rel}"
    r = dm.s.post(dm.url("tree", "v1"), json={"path": target}, timeout=30)
    assert r.status_code == status, (case, r.text)
    if case != "existing file":  # copying a folder onto a file: 409 as well
        url = f"{dm.base}/datamanager/v1.0/file{target}".replace("\\", "%5C")
        r = dm.s.put(url, headers={"x-gs-copy-source": f"/Home/{dm.user}/tree"}, timeout=30)
        assert r.status_code == status, (case, r.text)
    assert store_keys(seaweed, f"users/{dm.user}/") == before
