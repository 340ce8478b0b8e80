"""The whole-file MD5 of a multipart upload: given at the start, or at complete (``md5AtComplete``).

Real server subprocesses (one that takes the MD5 at complete, as the embedded store does, one that
wants it first, as on AWS), real SeaweedFS, real files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import NotFoundError
from gsdesktop.datamanager.journal import TransferJournal
from gsdesktop.datamanager.multipart import MultipartUploader, server_offer
from gsdesktop.datamanager.transport import TransferRequest
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
from tests.conftest import Account
from tests.integration.test_multipart_upload import (
    PART,
    SIZE,
    api,
    connect,
    make_file,
    md5_of,
    run_child_killed,
    server_parts,
)
from tests.support.servers import MD5_FLAG, ServerProcess

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def md5_first_server(seaweed: S3Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second replica on the same store that wants the MD5 before the first part (as on AWS)."""
    server = ServerProcess(tmp_path_factory.mktemp("md5first"), seaweed, extra_args=[MD5_FLAG, "off"])
    yield server.start()
    server.stop()


def on(server: ServerProcess, account: Account) -> DataManagerClient:
    return DataManagerClient(server.url, account.username, account.password)


def put_part(client: DataManagerClient, uid: str, number: int, data: bytes) -> str:
    md5 = hashlib.md5(data).hexdigest()
    body = {"parts": [{"partNumber": number, "md5": md5}]}
    got = api(client, "POST", f"/uploads/{uid}/urls", json=body).json()["urls"][0]
    resp = requests.put(got["url"], data=data, headers={"Content-MD5": got["contentMd5"]}, timeout=30)
    assert resp.status_code == 200, resp.text
    return md5


def test_the_servers_say_when_they_take_the_md5(account: Account, md5_first_server: ServerProcess) -> None:
    late = connect(account)
    first = on(md5_first_server, account)
    assert api(late, "GET", "").json()["md5AtComplete"] is True
    assert api(first, "GET", "").json()["md5AtComplete"] is False
    offer = server_offer(first.transport)
    assert offer is not None and not offer.md5_at_complete
    # the MD5-first server refuses a start without it
    resp = api(first, "POST", "/uploads", json={"path": f"{first.home}/x.bin", "size": 10 * MIB})
    assert resp.status_code == 400 and "md5" in resp.json()["message"]


def kill_then_resume(
    server: Account, local: Path, tmp_path: Path, kill_after: int, started_with: str
) -> tuple[DataManagerClient, str]:
    """Upload ``local`` in a child killed after ``kill_after`` parts, check what the server was told at
    the start (``started_with``: the MD5, or "" when parts went out first), then resume it here."""
    client = DataManagerClient(server.server_url, server.username, server.password)
    remote = f"{client.home}/{local.name}"
    journal = tmp_path / "journal.sqlite"
    run_child_killed(server, local, remote, journal, kill_after=kill_after)
    upload_id, parts = server_parts(client, journal, remote)
    assert api(client, "GET", f"/uploads/{upload_id}").json()["md5"] == started_with
    up = MultipartUploader(client.transport, journal=TransferJournal(journal), part_size=PART, workers=4)
    meta = up.upload(TransferRequest(local, remote))
    assert up.stats.resumed and up.stats.parts_sent == 13 - len(parts)
    assert meta.md5 == md5_of(local) and meta.size == SIZE
    assert api(client, "GET", f"/uploads/{upload_id}").status_code == 404
    return client, remote


def test_md5_first_round_trip_and_resume(
    account: Account, md5_first_server: ServerProcess, tmp_path: Path
) -> None:
    local = tmp_path / "first.bam"
    md5 = make_file(local, seed=21)
    first = Account(md5_first_server.url, account.username, account.password)
    client, _remote = kill_then_resume(first, local, tmp_path, kill_after=5, started_with=md5)
    listed = {m.name: m for m in client.list(client.home).contents}
    assert listed["first.bam"].md5 == md5


def test_upload_started_without_md5_resumes_and_records_it(account: Account, tmp_path: Path) -> None:
    local = tmp_path / "late.bam"
    md5 = make_file(local, seed=22)
    client, remote = kill_then_resume(account, local, tmp_path, kill_after=4, started_with="")
    out = tmp_path / "back.bam"
    client.download(remote, out)
    assert md5_of(out) == md5


def two_parts(
    client: DataManagerClient, name: str, sizes: tuple[int, int], md5: bool = False
) -> tuple[str, list[dict[str, object]], str]:
    """An upload of two random parts, both stored: (upload id, its part list, the whole file's MD5)."""
    first, second = os.urandom(sizes[0]), os.urandom(sizes[1])
    whole = hashlib.md5(first + second).hexdigest()
    start: dict[str, object] = {"path": f"{client.home}/{name}", "size": sum(sizes), "partSize": sizes[0]}
    if md5:
        start["md5"] = whole
    uid = api(client, "POST", "/uploads", json=start).json()["uploadId"]
    parts: list[dict[str, object]] = [
        {"partNumber": 1, "etag": put_part(client, uid, 1, first)},
        {"partNumber": 2, "etag": put_part(client, uid, 2, second)},
    ]
    return uid, parts, whole


def test_complete_checks_the_md5(account: Account) -> None:
    client = connect(account)
    home = client.home
    uid, parts, whole = two_parts(client, "checked.bin", (5 * MIB, MIB))
    route = f"/uploads/{uid}/complete"
    missing = api(client, "POST", route, json={"parts": parts})
    assert missing.status_code == 400 and "md5" in missing.json()["message"]
    empty = api(client, "POST", route, json={"parts": parts, "md5": "d41d8cd98f00b204e9800998ecf8427e"})
    assert empty.status_code == 400
    with pytest.raises(NotFoundError):
        client.metadata(f"{home}/checked.bin")
    done = api(client, "POST", route, json={"parts": parts, "md5": whole})
    assert done.status_code == 200, done.text
    assert done.json()["md5"] == whole and done.json()["metadata"]["md5"] == whole
    assert client.metadata(f"{home}/checked.bin").md5 == whole
    # an MD5 given at the start must be the one at complete
    uid, parts, whole = two_parts(client, "fixed.bin", (5 * MIB, MIB), md5=True)
    other = api(client, "POST", f"/uploads/{uid}/complete", json={"parts": parts, "md5": "5" * 32})
    assert other.status_code == 409
    assert api(client, "POST", f"/uploads/{uid}/complete", json={"parts": parts}).status_code == 200


def test_one_part_must_be_the_md5_given_at_complete(account: Account) -> None:
    client = connect(account)
    data = b"one part only"
    uid = api(client, "POST", "/uploads", json={"path": f"{client.home}/one.txt", "size": len(data)})
    uid = uid.json()["uploadId"]
    md5 = put_part(client, uid, 1, data)
    parts = [{"partNumber": 1, "etag": md5}]
    wrong = api(client, "POST", f"/uploads/{uid}/complete", json={"parts": parts, "md5": "4" * 32})
    assert wrong.status_code == 409 and "MD5" in wrong.json()["message"]
    right = api(client, "POST", f"/uploads/{uid}/complete", json={"parts": parts, "md5": md5})
    assert right.status_code == 200 and client.metadata(f"{client.home}/one.txt").md5 == md5


def test_complete_retried_after_the_store_assembled_the_file(account: Account, seaweed: S3Config) -> None:
    """A first complete that assembled the object but died before its MD5 record: a retry finishes."""
    from gsdesktop.server.multipart import load_state

    client = connect(account)
    uid, parts, whole = two_parts(client, "retried.bin", (5 * MIB, 2 * MIB))
    store = S3Store(seaweed, create_bucket=False)
    state = load_state(store, client.username, uid)
    store.s3.complete_multipart_upload(  # the server's first attempt, cut short after this call
        Bucket=store.bucket,
        Key=state.key,
        UploadId=state.s3_upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": f'"{p["etag"]}"'} for n, p in enumerate(parts, 1)]
        },
    )
    assert client.metadata(f"{client.home}/retried.bin").md5 is None  # assembled, no MD5 record yet
    other_parts = [parts[0], {"partNumber": 2, "etag": "6" * 32}]
    wrong = api(client, "POST", f"/uploads/{uid}/complete", json={"parts": other_parts, "md5": whole})
    assert wrong.status_code == 404  # not the parts that were assembled: nothing is recorded
    assert client.metadata(f"{client.home}/retried.bin").md5 is None
    done = api(client, "POST", f"/uploads/{uid}/complete", json={"parts": parts, "md5": whole})
    assert done.status_code == 200, done.text
    assert client.metadata(f"{client.home}/retried.bin").md5 == whole
    assert api(client, "GET", f"/uploads/{uid}").status_code == 404  # finished and forgotten
