"""Conditional uploads from the client (issue 16 item 2): an upload replaces only the server version it
names (``If-Match``) or creates only a new name (``If-None-Match``); otherwise ``PreconditionFailed`` and
the server keeps what it has. Checked at signing and again by storage (a write that lands between
signing and the PUT / the multipart complete), on the real server and SeaweedFS."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import ConflictError, PreconditionFailed
from tests.integration.test_sync_engine import client_read


@pytest.fixture
def pair(account, tmp_home: Path) -> Iterator[tuple[DataManagerClient, DataManagerClient]]:  # type: ignore[no-untyped-def]
    """Two clients of one account (two machines)."""
    a = DataManagerClient(account.server_url, account.username, account.password)
    b = DataManagerClient(account.server_url, account.username, account.password)
    yield a, b
    a.close()
    b.close()


def put(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_single_put_replaces_only_the_version_it_names(pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, _b = pair
    remote = f"{a.home}/c.txt"
    a.upload(put(tmp_path, "x", b"X"), remote, condition=UploadCondition(if_none_match=True))
    with pytest.raises(PreconditionFailed) as err:  # the name exists now
        a.upload(put(tmp_path, "y", b"Y"), remote, condition=UploadCondition(if_none_match=True))
    assert isinstance(err.value, ConflictError) and err.value.status == 412
    a.upload(put(tmp_path, "y", b"Y"), remote, condition=UploadCondition(if_match=md5(b"X")))
    on_x = UploadCondition(if_match=md5(b"X"))
    with pytest.raises(PreconditionFailed):  # based on X, but the server holds Y
        a.upload(put(tmp_path, "z", b"Z"), remote, condition=on_x, md5=md5(b"Z"))
    assert client_read(a, remote) == b"Y"
    with pytest.raises(PreconditionFailed):  # nothing there any more
        a.upload(put(tmp_path, "z", b"Z"), f"{a.home}/absent.txt", condition=on_x)
    a.upload(put(tmp_path, "z", b"Z"), remote)  # no condition: unchanged behaviour
    assert client_read(a, remote) == b"Z"


def test_a_write_between_signing_and_the_put_is_not_replaced(pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Both machines saw X; B's upload lands after A's URL was signed: storage refuses A's PUT."""
    a, b = pair
    for i in range(10):
        remote = f"{a.home}/r{i}.txt"
        a.upload(put(tmp_path, "x", b"X%d" % i), remote)
        seen = UploadCondition(if_match=md5(b"X%d" % i))
        mine = put(tmp_path, "a", b"from A %d" % i)
        # A signs ahead (as the sync engine does for a batch) with its precondition
        spec = (remote, mine.stat().st_size, md5(mine.read_bytes()))
        a.prefetch_upload_urls([spec], conditions={remote: seen})
        signed = a.prefetcher._pending[remote][2].result(10)
        assert signed is not None and signed.headers["If-Match"].startswith('"')  # signed before B wrote
        b.upload(put(tmp_path, "b", b"from B %d" % i), remote, condition=seen)  # B wins the race
        with pytest.raises(PreconditionFailed):
            a.upload(mine, remote, condition=seen, md5=md5(mine.read_bytes()), server_metadata=False)
        assert client_read(a, remote) == b"from B %d" % i


def test_multipart_complete_loses_to_a_write_during_the_parts(pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    a.multipart_threshold = 5 * 1024 * 1024
    remote = f"{a.home}/big.bin"
    first = os.urandom(1024)
    a.upload(put(tmp_path, "x", first), remote)
    seen = UploadCondition(if_match=md5(first))
    big = put(tmp_path, "big", os.urandom(6 * 1024 * 1024))
    with pytest.raises(PreconditionFailed):  # stale at create
        a.upload(big, remote, condition=UploadCondition(if_match=md5(b"other")))
    landed = threading.Event()

    def other_machine_writes(done: int, total: int) -> None:
        if done and not landed.is_set():
            b.upload(put(tmp_path, "w", b"W"), remote)
            landed.set()

    with pytest.raises(PreconditionFailed):
        a.upload(big, remote, condition=seen, progress=other_machine_writes)
    assert landed.is_set()
    assert client_read(a, remote) == b"W"
    # the refused upload is not resumed later: a new one with the right precondition goes through
    a.upload(big, remote, condition=UploadCondition(if_match=md5(b"W")))
    assert a.metadata(remote).md5 == md5(big.read_bytes())
