"""Every Data Manager operation of the client library against the real server (in-process client)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    LocalFileError,
    NotFoundError,
    PermissionDeniedError,
)
from gsdesktop.datamanager.paths import Dialect
from tests.conftest import Account


@pytest.fixture
def client(account: Account) -> Iterator[DataManagerClient]:
    c = DataManagerClient(account.server_url, account.username, account.password)
    yield c
    c.close()


def test_login_session_and_dialect(client: DataManagerClient, account: Account) -> None:
    token = client.login()
    assert token and client.token == token
    assert client.dialect is Dialect.BETA2
    listing = client.default_directory()
    assert listing.directory.path == client.home and listing.directory.is_directory
    reused = DataManagerClient(account.server_url, account.username, token=token)
    assert reused.metadata(reused.home).is_directory
    with pytest.raises(AuthenticationError, match="Wrong user name or password"):
        DataManagerClient(account.server_url, account.username, "nope").login()


def test_tree_operations(client: DataManagerClient, tmp_path: Path) -> None:
    h = client.home
    client.mkdir(f"{h}/p/q r/s", parents=True)
    assert client.mkdir(f"{h}/p").is_directory  # existing folder: fine (idempotent)
    with pytest.raises(NotFoundError):
        client.mkdir(f"{h}/missing/child")  # parent must exist without parents=True
    files = {}
    for i, rel in enumerate(["p/a.txt", "p/q r/b #1.txt", "p/q r/s/c%.bin", "p/q r/s/d+e.bin"]):
        local = tmp_path / f"f{i}"
        local.write_bytes(os.urandom(1000 + i))
        meta = client.upload(local, f"{h}/{rel}")
        assert meta.md5 == hashlib.md5(local.read_bytes()).hexdigest() and meta.size == 1000 + i
        files[f"{h}/{rel}"] = local
    assert client.metadata(f"{h}/p/a.txt").data_format is not None

    client.listing_page_size = 2  # force several pages of the recursive listing
    entries = client.list_recursive(f"{h}/p")
    assert {m.path for m in entries if not m.is_directory} == set(files) - set()
    assert {m.path for m in entries if m.is_directory} == {f"{h}/p/q r", f"{h}/p/q r/s"}
    paths = [m.path for m in entries]
    assert paths.index(f"{h}/p/q r") < paths.index(f"{h}/p/q r/s")  # parents first
    assert [m.name for m in client.list(f"{h}/p").contents] == ["q r", "a.txt"]
    with pytest.raises(InvalidRequestError):
        client.list(f"{h}/p/a.txt")

    copied = client.copy(f"{h}/p/q r", f"{h}/copy of q")
    assert copied.is_directory
    assert len(client.list_recursive(f"{h}/copy of q")) == 4
    with pytest.raises(InvalidRequestError):
        client.copy(f"{h}/p", f"{h}/p/inside")
    moved = client.move(f"{h}/copy of q/b #1.txt", f"{h}/p/renamed.txt")
    assert moved.md5 == hashlib.md5(files[f"{h}/p/q r/b #1.txt"].read_bytes()).hexdigest()
    assert not client.exists(f"{h}/copy of q/b #1.txt")
    client.move(f"{h}/copy of q", f"{h}/moved dir")
    assert client.exists(f"{h}/moved dir/s/c%.bin") and not client.exists(f"{h}/copy of q")

    with pytest.raises(ConflictError):
        client.delete(f"{h}/p")  # not empty
    client.delete(f"{h}/p", recursive=True)
    client.delete(f"{h}/moved dir", recursive=True)
    assert [m.name for m in client.list(h).contents] == []
    with pytest.raises(NotFoundError):
        client.metadata(f"{h}/p")
    with pytest.raises(PermissionDeniedError):
        client.list("/users/somebody-else")


def test_transfers_formats_and_urls(client: DataManagerClient, tmp_path: Path) -> None:
    h = client.home
    src = tmp_path / "Genes.txt"
    src.write_text("Some Genes\nBRCA1\n")
    progress: list[tuple[int, int]] = []
    meta = client.upload(src, f"{h}/Genes.txt", progress=lambda d, t: progress.append((d, t)))
    assert progress[-1] == (meta.size, meta.size)
    names = {f.name for f in meta.available_data_formats}
    assert {"txt", "uppercasetxt", "lowercasetxt"} <= names
    assert any(f.name == "txt" for f in client.data_formats())

    out = client.download(f"{h}/Genes.txt", tmp_path)  # into a folder: keeps the name
    assert out == tmp_path / "Genes.txt" and out.read_text() == "Some Genes\nBRCA1\n"
    low = client.download(f"{h}/Genes.txt", tmp_path / "low.txt", data_format="lowercasetxt")
    assert low.read_text() == "some genes\nbrca1\n"
    with pytest.raises(InvalidRequestError, match="not available"):
        client.download(f"{h}/Genes.txt", tmp_path / "x", data_format="gct")

    url = client.download_url(f"{h}/Genes.txt")
    assert requests.get(url, timeout=10).text == "Some Genes\nBRCA1\n"

    existing = tmp_path / "existing.txt"
    existing.write_text("old")
    client.download(f"{h}/Genes.txt", existing)  # replaces atomically
    assert existing.read_text() == "Some Genes\nBRCA1\n"
    with pytest.raises(LocalFileError):
        client.download(f"{h}/Genes.txt", tmp_path / "no such dir" / "x.txt")
    with pytest.raises(LocalFileError):
        client.upload(tmp_path / "absent", f"{h}/absent")
    with pytest.raises(NotFoundError):
        client.upload(src, f"{h}/no-such-folder/Genes.txt")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert client.upload(empty, f"{h}/empty").size == 0
    assert client.download(f"{h}/empty", tmp_path / "empty.out").read_bytes() == b""
