"""The ``uploadurls-batch`` extension (server) and ``DataManagerClient.upload_many`` / URL prefetching.

Real server subprocess, real SeaweedFS; the fallback test runs a real in-process server whose batch
route has been removed (an older server).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import NotFoundError
from gsdesktop.server.seaweed import S3Config
from tests.conftest import Account

BETA_ROUTE = "/datamanager/uploadurls-batch"
V1_ROUTE = "/datamanager/v1.0/uploadurls-batch"


def _item(path: str, data: bytes, ctype: str = "application/octet-stream") -> dict[str, Any]:
    return {"path": path, "size": len(data), "md5": hashlib.md5(data).hexdigest(), "contentType": ctype}


def _put(url: str, data: bytes, md5: bytes | None = None, ctype: str = "application/octet-stream") -> Any:
    digest = md5 if md5 is not None else hashlib.md5(data).digest()
    headers = {"Content-MD5": base64.b64encode(digest).decode(), "Content-Type": ctype,
               "x-amz-meta-md5-hash": digest.hex()}  # fmt: skip
    return requests.put(url, data=data, headers=headers, timeout=30)


@pytest.fixture
def client(account: Account) -> Iterator[DataManagerClient]:
    c = DataManagerClient(account.server_url, account.username, account.password)
    c.login()
    yield c
    c.close()


def _post(client: DataManagerClient, route: str, files: Any, **kw: Any) -> requests.Response:
    return requests.post(client.server_url + route, json={"files": files},
                         cookies={"gs-token": client.token or ""}, timeout=30, **kw)  # fmt: skip


def test_batch_signs_in_order_and_urls_store_the_bytes(client: DataManagerClient) -> None:
    h = client.home
    client.mkdir(f"{h}/b1/sub", parents=True)
    blobs = {f"{h}/b1/f{i}.txt": os.urandom(100 + i) for i in range(5)}
    blobs[f"{h}/b1/sub/g.bin"] = b""
    blobs[f"{h}/b1/sub/sp ace \u00fc+#.txt"] = b"signed by botocore (not a plain key)"
    r = _post(client, BETA_ROUTE, [_item(p, d) for p, d in blobs.items()])
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["path"] for x in results] == list(blobs)
    for res, (path, data) in zip(results, blobs.items(), strict=True):
        assert _put(res["url"], data).status_code == 200
        meta = client.metadata(path)
        assert meta.size == len(data) and meta.md5 == hashlib.md5(data).hexdigest()
    # v1.0 paths on the v1.0 route, md5 optional there
    item = _item(f"/Home/{client.username}/b1/v.txt", b"v1 data")
    del item["md5"]
    r = _post(client, V1_ROUTE, [item])
    assert r.status_code == 200 and r.json()["results"][0]["url"].startswith("http")


def test_batch_needs_auth_and_own_tree(client: DataManagerClient, make_account: Any) -> None:
    h = client.home
    client.mkdir(f"{h}/b2")
    files = [_item(f"{h}/b2/a.txt", b"a")]
    r = requests.post(client.server_url + BETA_ROUTE, json={"files": files}, timeout=30)
    assert r.status_code == 401
    r = requests.post(client.server_url + BETA_ROUTE, json={"files": files}, timeout=30,
                      cookies={"gs-token": "forged.token"})  # fmt: skip
    assert r.status_code == 401
    other = make_account()
    # one foreign path fails the whole request and signs nothing
    r = _post(client, BETA_ROUTE, [*files, _item(f"/users/{other.username}/x.txt", b"x")])
    assert r.status_code == 403 and "results" not in r.json()
    r = _post(client, V1_ROUTE, [_item(f"/Home/{other.username}/x.txt", b"x")])
    assert r.status_code == 403


def test_batch_per_item_errors(client: DataManagerClient) -> None:
    h = client.home
    client.mkdir(f"{h}/b3/adir", parents=True)
    ok = _item(f"{h}/b3/ok.txt", b"fine")
    bad_md5 = {**_item(f"{h}/b3/m.txt", b"m"), "md5": "xyz"}
    bad_size = {**_item(f"{h}/b3/s.txt", b"s"), "size": -1}
    no_md5 = {k: v for k, v in _item(f"{h}/b3/n.txt", b"n").items() if k != "md5"}
    files = [
        _item(f"{h}/b3/../escape.txt", b"x"),  # bad name
        _item(f"{h}/b3/ctl\x07.txt", b"x"),  # control character
        _item(f"{h}/nope/child.txt", b"x"),  # missing parent
        _item(f"{h}/b3/ok.txt/under.txt", b"x"),  # placeholder, the parent becomes a file below
        _item(f"{h}/b3/adir", b"x"),  # a folder is in the way
        bad_md5,
        bad_size,
        no_md5,
        ok,
    ]
    # make b3/ok.txt a file first, so "ok.txt/under.txt" has a file as parent
    first = _post(client, BETA_ROUTE, [ok]).json()["results"][0]
    assert _put(first["url"], b"fine").status_code == 200
    r = _post(client, BETA_ROUTE, files)
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x.get("status") for x in res] == [400, 400, 404, 409, 409, 400, 400, 400, None]
    assert "exist" in res[2]["message"] and "directory" in res[4]["message"]
    assert res[8]["url"].startswith("http")
    assert not client.exists(f"{h}/nope")  # nothing created on the way
    # malformed requests fail as a whole
    json_ct = {"Content-Type": "application/json"}  # a body must be declared JSON (else 415)
    r = requests.post(client.server_url + BETA_ROUTE, data=b"{not json", timeout=30, headers=json_ct,
                      cookies={"gs-token": client.token or ""})  # fmt: skip
    assert r.status_code == 400
    assert _post(client, BETA_ROUTE, [ok] * 1001).status_code == 400
    huge = requests.post(client.server_url + BETA_ROUTE, data=b"x" * (3 * 1024 * 1024), timeout=30,
                         headers=json_ct, cookies={"gs-token": client.token or ""})  # fmt: skip
    assert huge.status_code == 413 and "larger than" in huge.json()["message"]


def test_storage_rejects_bytes_not_matching_the_signed_md5(client: DataManagerClient) -> None:
    h = client.home
    client.mkdir(f"{h}/b4")
    data = os.urandom(2048)
    url = _post(client, BETA_ROUTE, [_item(f"{h}/b4/x.bin", data)]).json()["results"][0]["url"]
    tampered = bytes([data[0] ^ 1]) + data[1:]
    r = _put(url, tampered, md5=hashlib.md5(data).digest())  # signed MD5, other bytes
    assert r.status_code == 400 and "Digest" in r.text
    r = _put(url, tampered)  # other bytes with their own MD5: the signature no longer matches
    assert r.status_code == 403
    assert not client.exists(f"{h}/b4/x.bin")
    assert _put(url, data).status_code == 200
    assert client.metadata(f"{h}/b4/x.bin").md5 == hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("size", [3000, (1 << 20) + 5000])  # sent with the head / streamed after it
def test_upload_with_a_known_md5_is_checked_by_storage(
    client: DataManagerClient, tmp_path: Path, size: int
) -> None:
    """The sync engine passes the MD5 it hashed while scanning; a stale one never stores wrong bytes."""
    from gsdesktop.datamanager.errors import IntegrityError

    h = client.home
    client.mkdir(f"{h}/known{size}")
    local = tmp_path / "k.bin"
    old = os.urandom(size)
    local.write_bytes(old)
    stale = hashlib.md5(old).hexdigest()
    new = bytes([old[0] ^ 1]) + old[1:]  # edited after it was hashed, same size
    local.write_bytes(new)
    remote = f"{h}/known{size}/k.bin"
    for server_metadata in (False, True):
        with pytest.raises(IntegrityError):
            client.upload(local, remote, md5=stale, server_metadata=server_metadata)
        assert not client.exists(remote)
    meta = client.upload(local, remote, md5=hashlib.md5(new).hexdigest(), server_metadata=False)
    assert meta.md5 == hashlib.md5(new).hexdigest() and meta.size == size
    assert client.metadata(remote).md5 == meta.md5
    back = tmp_path / "back.bin"
    client.download(remote, back)
    assert back.read_bytes() == new
    assert (
        client.transport.lean.fallbacks == 0
    )  # the lean path answered for itself (a 400), no transport failure


def _files(tmp: Path, n: int) -> list[tuple[Path, bytes]]:
    out = []
    for i in range(n):
        p = tmp / f"u{i}.dat"
        data = os.urandom(500 + i)
        p.write_bytes(data)
        out.append((p, data))
    return out


def test_upload_many_uses_the_batch_and_keeps_per_item_errors(
    client: DataManagerClient, tmp_path: Path
) -> None:
    h = client.home
    client.mkdir(f"{h}/m1/a", parents=True)
    files = _files(tmp_path, 40)
    items = [(p, f"{h}/m1/{'a/' if i % 2 else ''}{p.name}") for i, (p, _d) in enumerate(files)]
    items.append((files[0][0], f"{h}/missing/x.dat"))
    results = client.upload_many(items, workers=8)
    assert client.prefetcher.supported is True
    assert isinstance(results[-1], NotFoundError)
    for (_p, data), (_l, remote), meta in zip(files, items, results, strict=False):
        assert not isinstance(meta, Exception), meta
        assert meta.path == remote and meta.size == len(data)
        assert meta.md5 == hashlib.md5(data).hexdigest() and meta.last_modified is not None
        server = client.metadata(remote)  # what the server really holds
        assert server.md5 == meta.md5 and server.size == meta.size
    back = tmp_path / "back.dat"
    client.download(items[7][1], back)
    assert back.read_bytes() == files[7][1]


def test_upload_many_falls_back_without_the_extension(seaweed: S3Config, tmp_path: Path) -> None:
    from gsdesktop.server.embedded import start_local_server

    server = start_local_server(tmp_path / "srv", s3=seaweed, users={"oldsrv": "pw-oldsrv-1"})
    try:
        from gsdesktop.server.batch import router as batch_router

        def is_batch(route: Any) -> bool:  # a plain route, or (newer FastAPI) the included router
            return "uploadurls-batch" in str(getattr(route, "path", "")) or (
                getattr(route, "original_router", None) is batch_router
            )

        routes = server.app.router.routes
        routes[:] = [r for r in routes if not is_batch(r)]
        probe = requests.post(server.url + BETA_ROUTE, json={"files": []}, timeout=30)
        assert probe.status_code in (404, 405)  # really an older server now
        with DataManagerClient(server.url, "oldsrv", "pw-oldsrv-1") as c:
            c.mkdir(f"{c.home}/fb")
            files = _files(tmp_path, 12)
            # a conditional upload: such a server cannot check it; the upload goes through plainly
            from gsdesktop.datamanager.batch import UploadCondition

            c.upload(files[0][0], f"{c.home}/fb/cond.bin", condition=UploadCondition(if_none_match=True))
            assert c.metadata(f"{c.home}/fb/cond.bin").md5 == hashlib.md5(files[0][1]).hexdigest()
            results = c.upload_many([(p, f"{c.home}/fb/{p.name}") for p, _d in files], workers=4)
            assert c.prefetcher.supported is False
            for (p, data), meta in zip(files, results, strict=True):
                assert not isinstance(meta, Exception), meta
                assert c.metadata(f"{c.home}/fb/{p.name}").md5 == hashlib.md5(data).hexdigest()
    finally:
        server.stop()


def test_fast_signer_reproduces_botocore_and_storage_accepts_it(seaweed: S3Config) -> None:
    from gsdesktop.server.storage import S3Store

    store = S3Store(seaweed)
    data = b"fast signed"
    md5 = hashlib.md5(data)
    headers = {"ContentLength": str(len(data)), "ContentType": "text/plain",
               "ContentMD5": base64.b64encode(md5.digest()).decode()}  # fmt: skip
    url = store._fast_put.presign_put("users/fastsig/x.txt", headers, 600, md5_meta=md5.hexdigest())
    assert url is not None and store._fast_put._ok is True  # self-check against botocore passed
    assert store._fast_put.presign_put("users/fastsig/a b.txt", headers, 600, md5_meta=None) is None
    assert _put(url, data, ctype="text/plain").status_code == 200
    assert store.head("users/fastsig/x.txt") is not None
    assert _put(url, b"other bytes", ctype="text/plain").status_code == 403  # signature binds the MD5
