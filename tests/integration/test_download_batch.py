"""Issue 16 item 13: small files download without per-file round trips to the Data Manager.

The server's ``downloadurls-batch`` extension at the wire level, and a first sync download of many
small files that asks the Data Manager only a handful of times (listing, bulk signing).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import InvalidRequestError, PermissionDeniedError
from gsdesktop.sync import SyncConfig, SyncEngine
from tests.integration.test_sync_engine import client_read, tree, write


class CountingClient(DataManagerClient):
    """The real client, counting the requests it sends to the Data Manager (not to storage)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dm_requests: list[str] = []

    def request(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        self.dm_requests.append(f"{method} {route}")
        return super().request(method, route, **kwargs)


@pytest.fixture
def client(account, tmp_home: Path) -> Iterator[CountingClient]:  # type: ignore[no-untyped-def]
    c = CountingClient(account.server_url, account.username, account.password, pool_size=32)
    c.login()
    yield c
    c.close()


def test_downloadurls_batch_signs_many_and_refuses_foreign_paths(  # type: ignore[no-untyped-def]
    client, make_account, tmp_path: Path
) -> None:
    home = client.home
    src = tmp_path
    client.mkdir(f"{home}/dl", parents=True)
    data = {}
    for i in range(3):
        (src / f"f{i}").write_bytes(os.urandom(1000 + i))
        client.upload(src / f"f{i}", f"{home}/dl/f{i}.bin")
        data[f"{home}/dl/f{i}.bin"] = (src / f"f{i}").read_bytes()
    url = client.server_url + "/datamanager/v1.0/downloadurls-batch"
    paths = [*data, f"{home}/dl/../x", f"{home}/dl/missing.bin"]
    for route in (url, client.server_url + "/datamanager/downloadurls-batch"):
        resp = client.request("POST", route, json={"paths": paths})
        results = resp.json()["results"]
        assert [r["path"] for r in results] == paths
        for r in results[:3]:
            got = requests.get(r["url"], timeout=10)
            assert got.status_code == 200 and got.content == data[r["path"]]
        assert results[3]["status"] == 400 and "url" not in results[3]
        assert requests.get(results[4]["url"], timeout=10).status_code == 404  # signed, storage says 404
    other = make_account("other")
    with pytest.raises(PermissionDeniedError):
        client.request("POST", url, json={"paths": [f"/users/{other.username}/secret.txt", *data]})
    # shared with the other user (Read): their batch signs these files too, and only while shared
    acl = f"{client.server_url}/datamanager/sharing/acl{home}/dl"
    grant = client.request("POST", acl, json={"type": "user", "name": other.username, "level": "read"})
    assert grant.status_code in (200, 201), grant.text
    reader = requests.Session()
    reader.auth = (other.username, other.password)
    shared = reader.post(url, json={"paths": list(data)}, timeout=10)
    assert shared.status_code == 200, shared.text
    for r in shared.json()["results"]:
        assert requests.get(r["url"], timeout=10).content == data[r["path"]]
    client.request("DELETE", acl, params={"type": "user", "name": other.username})
    time.sleep(2.0)  # revocations reach every replica's cache within 2 s
    assert reader.post(url, json={"paths": list(data)}, timeout=10).status_code == 403
    assert requests.post(url, json={"paths": list(data)}, timeout=10).status_code == 401
    for body in ({"paths": [f"{home}/x"] * 1001}, {"nopaths": 1}, [1, 2]):
        with pytest.raises(InvalidRequestError):
            client.request("POST", url, json=body)


def test_first_download_of_small_files_asks_the_data_manager_a_few_times(  # type: ignore[no-untyped-def]
    client, tmp_path: Path
) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    for i in range(300):
        write(a / f"d{i % 5}/f{i:03d}.dat", os.urandom(2048 + i))
    cfg = SyncConfig(min_file_age=0.0, host_name="ws1", transfers=8)
    ea = SyncEngine(client, a, f"{client.home}/small", cfg, state_dir=tmp_path / "sa")
    eb = SyncEngine(client, b, f"{client.home}/small", cfg, state_dir=tmp_path / "sb")
    try:
        assert ea.sync_once().uploaded == 300
        client.dm_requests.clear()
        rb = eb.sync_once()
        assert rb.converged and rb.downloaded == 300 and rb.bytes_down == sum(2048 + i for i in range(300))
        assert tree(b) == tree(a)
        print(f"\n{len(client.dm_requests)} Data Manager requests for 300 files: {client.dm_requests}")
        assert len(client.dm_requests) <= 12, client.dm_requests  # was 2 per file (metadata + redirect)
        again = eb.sync_once()
        assert again.planned == 0
        assert ea.sync_once().planned == 0
    finally:
        ea.close()
        eb.close()


def test_a_save_right_after_a_bulk_download_took_the_name_is_uploaded_next(  # type: ignore[no-untyped-def]
    client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small new file downloaded by its bulk-signed URL: a save landing right after it took its name
    was recorded as the downloaded version (the identity was read after the placement), so it was never
    uploaded. The real server; the save is made by wrapping the engine's bulk fetch (the real one runs
    first). Ten rounds (two new files each: the bulk path takes two or more)."""
    from gsdesktop.sync import bulkdl

    local = tmp_path / "L"
    client.mkdir(f"{client.home}/bulkwin", parents=True)
    engine = SyncEngine(client, local, f"{client.home}/bulkwin", SyncConfig(min_file_age=0.0, host_name="h"),
                        state_dir=tmp_path / "state")  # fmt: skip
    real = bulkdl.BulkDownloads.fetch
    bulk_placed: list[str] = []
    try:
        engine.sync_once()
        for rnd in range(10):
            name = f"f{rnd}.txt"
            for other in (name, f"g{rnd}.txt"):  # (the bulk path takes two small new files or more)
                (tmp_path / "src").write_bytes(f"server {rnd}".encode())
                client.upload(tmp_path / "src", f"{client.home}/bulkwin/{other}")
            save = f"user save {rnd}".encode()

            def fetch_then_save(self: bulkdl.BulkDownloads, a: Any, url: str, target: Path,
                                save: bytes = save) -> Any:  # fmt: skip
                got = real(self, a, url, target)
                if got is not None and a.path.startswith("f"):
                    bulk_placed.append(a.path)
                    tmp = target.with_name(".save.tmp")
                    tmp.write_bytes(save)
                    os.replace(tmp, target)
                return got

            monkeypatch.setattr(bulkdl.BulkDownloads, "fetch", fetch_then_save)
            engine.sync_once()
            monkeypatch.setattr(bulkdl.BulkDownloads, "fetch", real)
            assert (local / name).read_bytes() == save
            engine.sync_once()  # the save is a local edit like any other: it goes up
            assert client_read(client, f"{client.home}/bulkwin/{name}") == save
    finally:
        engine.close()
    assert bulk_placed == [f"f{rnd}.txt" for rnd in range(10)]  # (the bulk path was taken each time)
