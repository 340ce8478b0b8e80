"""A sync deletion never deletes a version it has not seen (issue 16: no silent loss of a user's latest
version). The engine checks the server's MD5 and then deletes; an upload landing between the two used to
be deleted. The delete is now conditional (``?ifMatch=<md5>``, the store's If-Match on the version's
ETag): the server answers 412 and the cycle re-plans, so the new version comes down instead."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import NotFoundError, PreconditionFailed
from tests.conftest import Account
from tests.integration.test_sync_engine import make_engine, tree, write
from tests.support.faultproxy import FaultProxy


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def direct(account: Account, tmp_home: Path) -> Iterator[DataManagerClient]:
    c = DataManagerClient(account.server_url, account.username, account.password)
    yield c
    c.close()


def test_delete_only_the_version_named(direct: DataManagerClient, account: Account, tmp_path: Path) -> None:
    src = tmp_path / "v1.txt"
    src.write_bytes(b"version one\n")
    path = f"{direct.home}/cd/v.txt"
    direct.mkdir(f"{direct.home}/cd", parents=True)
    direct.upload(src, path)
    with pytest.raises(PreconditionFailed):
        direct.delete(path, if_match=_md5(b"another version\n"))
    assert direct.metadata(path).md5 == _md5(b"version one\n")  # nothing deleted
    direct.delete(path, if_match=_md5(b"version one\n"))
    with pytest.raises(NotFoundError):
        direct.metadata(path)
    with pytest.raises(NotFoundError):  # gone: not silently "deleted" again
        direct.delete(path, if_match=_md5(b"version one\n"))
    bad = requests.delete(
        f"{account.server_url}/datamanager/files{path}", params={"ifMatch": "xyz"},
        auth=(account.username, account.password), timeout=10,
    )  # fmt: skip
    assert bad.status_code == 400 and "ifMatch" in bad.json()["message"]


def test_an_upload_landing_during_a_sync_deletion_is_not_deleted(
    account: Account, direct: DataManagerClient, tmp_path: Path, tmp_home: Path
) -> None:
    """A deletes f.txt locally; its DELETE reaches the server only after B's new version landed (a proxy
    holds the DELETE). B's version must survive on the server and come down to A."""
    proxy = FaultProxy(account.server_url).start()
    slow = DataManagerClient(proxy.url, account.username, account.password)
    a = tmp_path / "A"
    write(a / "f.txt", "original\n")
    engine = make_engine(slow, a, tmp_path)
    try:
        assert engine.sync_once().converged
        (a / "f.txt").unlink()
        proxy.add(lambda method, target: method == "DELETE", "delay", delay=2.0, times=1)
        newer = tmp_path / "newer.txt"
        newer.write_bytes(b"B's newer version\n")

        def upload_meanwhile() -> None:
            deadline = time.monotonic() + 30
            while proxy.count("DELETE") == 0 and time.monotonic() < deadline:  # A's DELETE is on its way
                time.sleep(0.02)
            direct.upload(newer, f"{engine.remote_root}/f.txt")

        writer = threading.Thread(target=upload_meanwhile)
        writer.start()
        engine.sync_once()
        writer.join(60)
        assert direct.metadata(f"{engine.remote_root}/f.txt").md5 == _md5(b"B's newer version\n")
        for _ in range(3):
            if engine.sync_once().converged:
                break
        assert tree(a) == {"f.txt": b"B's newer version\n"}
    finally:
        engine.close()
        slow.close()
        proxy.stop()
