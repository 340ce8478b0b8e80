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
