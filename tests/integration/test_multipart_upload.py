"""Multipart uploads end to end: real server subprocess, real SeaweedFS, real files, real threads.

5 MiB parts on a ~60 MiB file keep it quick. The interrupted-upload tests run the uploader in a child
process that kills itself with SIGKILL half way, then count what reached the storage with list-parts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import InvalidRequestError, NotFoundError
from gsdesktop.datamanager.journal import TransferJournal, upload_key
from gsdesktop.datamanager.multipart import MultipartUploader
from gsdesktop.datamanager.transport import TransferRequest
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
from tests.conftest import Account

MIB = 1024 * 1024
PART = 5 * MIB
SIZE = 60 * MIB + 12345  # 13 parts, the last one short


def make_file(path: Path, size: int = SIZE, seed: int = 1) -> str:
    block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
    digest = hashlib.md5()
    with open(path, "wb") as fh:
        left, i = size, 0
        while left:
            chunk = (block[i % 97 :] + block[: i % 97])[: min(MIB, left)]
            fh.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
            i += 1
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    d = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(MIB):
            d.update(chunk)
    return d.hexdigest()


def connect(account: Account) -> DataManagerClient:
    return DataManagerClient(account.server_url, account.username, account.password)


def api(client: DataManagerClient, method: str, route: str, **kwargs: object) -> requests.Response:
    return client.request(method, "/datamanager/multipart" + route, ok=range(400, 600), **kwargs)  # type: ignore[arg-type]


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.journal import TransferJournal
    from gsdesktop.datamanager.multipart import MultipartUploader
    from gsdesktop.datamanager.transport import TransferRequest
    url, user, pw, local, remote, journal, kill_after = sys.argv[1:8]

    class KillAfter(TransferJournal):
        done = 0

        def part_done(self, key, part, etag):  # SIGKILL once N parts were stored and journaled
            super().part_done(key, part, etag)
            self.done += 1
            if self.done >= int(kill_after):
                os.kill(os.getpid(), signal.SIGKILL)

    client = DataManagerClient(url, user, pw)
    up = MultipartUploader(client.transport, journal=KillAfter(Path(journal)), part_size=5 << 20, workers=2)
    up.upload(TransferRequest(Path(local), remote))
    print("finished without being killed")
    """
)


def run_child_killed(account: Account, local: Path, remote: str, journal: Path, kill_after: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, account.server_url, account.username, account.password,
         str(local), remote, str(journal), str(kill_after)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr


def server_parts(
    client: DataManagerClient, journal: Path, remote: str
) -> tuple[str, list[dict[str, object]]]:
    """The parts storage holds once it settled (a body fully sent before the kill may land late)."""
    rec = TransferJournal(journal).get_upload(upload_key(client.server_url, client.username, remote))
    assert rec is not None and rec.upload_id, "the killed upload left no journal record"
    last: list[dict[str, object]] | None = None
    for _ in range(20):
        resp = api(client, "GET", f"/uploads/{rec.upload_id}")
        assert resp.status_code == 200, resp.text
        parts = list(resp.json()["parts"])
        if parts == last:
            return rec.upload_id, parts
        last = parts
        time.sleep(0.5)
    raise AssertionError("the stored parts did not settle")


def test_round_trip_uses_parts_and_records_md5(account: Account, tmp_path: Path) -> None:
    local = tmp_path / "big.bam"
    md5 = make_file(local)
    client = connect(account)
    journal = TransferJournal(tmp_path / "j.sqlite")
    remote = f"{client.home}/big.bam"
    up = MultipartUploader(client.transport, journal=journal, part_size=PART, workers=4)
    seen: list[tuple[int, int]] = []
    meta = up.upload(TransferRequest(local, remote, progress=lambda d, t: seen.append((d, t))))
    assert up.stats.parts_total == 13 and up.stats.parts_sent == 13 and up.stats.parts_skipped == 0
    assert meta.size == SIZE and meta.md5 == md5 and meta.path == remote
    assert seen[-1] == (SIZE, SIZE)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))  # progress never went back
    assert client.transport.lean.stored == 13 and client.transport.lean.fallbacks == 0
    # every part went with sendfile
    # listings carry the whole-file MD5 although the storage ETag is a multipart one
    listed = {m.name: m for m in client.list(client.home).contents}
    assert listed["big.bam"].md5 == md5 and listed["big.bam"].size == SIZE
    out = tmp_path / "back.bam"
    client.download(remote, out)
    assert md5_of(out) == md5
    assert journal.get_upload(upload_key(client.server_url, client.username, remote)) is None
    # nothing left unfinished on the server
    assert api(client, "GET", "/uploads").json()["uploads"] == []


def test_client_upload_goes_multipart_above_threshold(
    account: Account, tmp_path: Path, tmp_home: Path
) -> None:
    local = tmp_path / "reads.fastq"
    md5 = make_file(local, 40 * MIB, seed=2)
    client = connect(account)
    client.multipart_threshold = 8 * MIB
    meta = client.upload(local, f"{client.home}/reads.fastq")
    assert meta.md5 == md5 and meta.size == 40 * MIB
    # a multipart object: its storage ETag is not the MD5, so the server must have recorded it
    url = client.download_url(f"{client.home}/reads.fastq")
    head = requests.get(url, headers={"Range": "bytes=0-0"}, timeout=10)
    assert head.status_code == 206
    assert head.headers["ETag"].strip('"').endswith("-3")
    assert head.headers.get("x-amz-meta-md5-hash") == md5


def test_killed_upload_resumes_with_missing_parts_only(account: Account, tmp_path: Path) -> None:
    local = tmp_path / "sample.bam"
    md5 = make_file(local, seed=3)
    client = connect(account)
    remote = f"{client.home}/sample.bam"
    journal = tmp_path / "journal.sqlite"
    run_child_killed(account, local, remote, journal, kill_after=6)
    upload_id, parts = server_parts(client, journal, remote)
    stored = {int(p["partNumber"]) for p in parts}  # type: ignore[call-overload]
    assert 6 <= len(stored) <= 7, stored  # 6 journaled; the other worker may have landed one more
    with pytest.raises(NotFoundError):
        client.metadata(remote)  # the file appears only when complete
    up = MultipartUploader(client.transport, journal=TransferJournal(journal), part_size=PART, workers=4)
    seen: list[int] = []
    meta = up.upload(TransferRequest(local, remote, progress=lambda d, t: seen.append(d)))
    assert up.stats.resumed and up.stats.parts_skipped == len(stored)
    assert up.stats.parts_sent == 13 - len(stored)  # only the missing parts were sent
    assert seen[0] >= len(stored) * PART - PART  # progress starts where it was, not at 0
    assert meta.md5 == md5
    assert api(client, "GET", f"/uploads/{upload_id}").status_code == 404
    out = tmp_path / "out.bam"
    client.download(remote, out)
    assert md5_of(out) == md5


def test_file_changed_between_attempts_is_not_stitched(account: Account, tmp_path: Path) -> None:
    local = tmp_path / "changing.vcf"
    make_file(local, seed=4)
    client = connect(account)
    remote = f"{client.home}/changing.vcf"
    journal = tmp_path / "journal.sqlite"
    run_child_killed(account, local, remote, journal, kill_after=5)
    old_id, parts = server_parts(client, journal, remote)
    assert parts
    st = local.stat()
    with open(local, "r+b") as fh:  # same size, new bytes in the first (already uploaded) part
        fh.write(b"NEW VERSION " * 1000)
    os.utime(local, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the old mtime
    new_md5 = md5_of(local)
    up = MultipartUploader(client.transport, journal=TransferJournal(journal), part_size=PART, workers=4)
    meta = up.upload(TransferRequest(local, remote))
    assert up.stats.restarted_because_changed and not up.stats.resumed
    assert up.stats.parts_sent == 13
    assert meta.md5 == new_md5
    assert api(client, "GET", f"/uploads/{old_id}").status_code == 404  # the old upload was aborted
    out = tmp_path / "out.vcf"
    client.download(remote, out)
    assert md5_of(out) == new_md5


class CorruptOnce(MultipartUploader):
    """Flips one byte of part 3 on its first attempt, like a faulty link would."""

    corrupted = 0

    def _transmit(self, url, local, size, span, headers, on_bytes, cancel):  # type: ignore[no-untyped-def]
        offset, length = span
        if offset != 2 * PART or self.corrupted:
            return super()._transmit(url, local, size, span, headers, on_bytes, cancel)
        self.corrupted += 1
        with open(local, "rb") as fh:
            fh.seek(offset)
            data = bytearray(fh.read(length))
        data[0] ^= 0xFF
        on_bytes(length)
        return self._put(url, bytes(data), headers)


def test_corrupted_part_is_rejected_and_sent_again(account: Account, tmp_path: Path) -> None:
    local = tmp_path / "corrupt.bed"
    md5 = make_file(local, seed=5)
    client = connect(account)
    up = CorruptOnce(
        client.transport, journal=TransferJournal(tmp_path / "j.sqlite"), part_size=PART, workers=3
    )
    meta = up.upload(TransferRequest(local, f"{client.home}/corrupt.bed"))
    assert up.corrupted == 1 and up.stats.retries >= 1 and up.stats.parts_sent == 13
    assert meta.md5 == md5
    out = tmp_path / "out.bed"
    client.download(f"{client.home}/corrupt.bed", out)
    assert md5_of(out) == md5


def test_storage_refuses_a_part_that_does_not_match_its_md5(account: Account, seaweed: S3Config) -> None:
    client = connect(account)
    data = os.urandom(PART)
    md5 = hashlib.md5(data).hexdigest()
    start = api(client, "POST", "/uploads", json={"path": f"{client.home}/x.bin", "size": PART + 10,
                                                  "md5": "0" * 32, "partSize": PART})  # fmt: skip
    assert start.status_code == 201, start.text
    uid = start.json()["uploadId"]
    urls = api(client, "POST", f"/uploads/{uid}/urls", json={"parts": [{"partNumber": 1, "md5": md5}]}).json()
    url = urls["urls"][0]["url"]
    headers = {"Content-MD5": urls["urls"][0]["contentMd5"]}
    bad = requests.put(url, data=b"X" + data[1:], headers=headers, timeout=30)
    assert bad.status_code == 400 and "BadDigest" in bad.text
    assert api(client, "GET", f"/uploads/{uid}").json()["parts"] == []
    assert requests.put(url, data=data, timeout=30).status_code == 403  # Content-MD5 is signed
    ok = requests.put(url, data=data, headers=headers, timeout=30)
    assert ok.status_code == 200
    # completing with a missing part is refused; the file does not appear
    done = api(client, "POST", f"/uploads/{uid}/complete", json={"parts": [{"partNumber": 1, "etag": md5}]})
    assert done.status_code == 409 and "missing" in done.json()["message"]
    assert api(client, "DELETE", f"/uploads/{uid}").status_code == 204


def test_abort_leaves_nothing(account: Account, tmp_path: Path, seaweed: S3Config) -> None:
    local = tmp_path / "gone.bin"
    make_file(local, 12 * MIB, seed=6)
    client = connect(account)
    remote = f"{client.home}/gone.bin"
    journal = TransferJournal(tmp_path / "j.sqlite")
    up = MultipartUploader(client.transport, journal=journal, part_size=PART, workers=1)

    class Stop(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done > PART + MIB:
            raise Stop

    with pytest.raises(Stop):
        up.upload(TransferRequest(local, remote, progress=progress))
    rec = journal.get_upload(upload_key(client.server_url, client.username, remote))
    assert rec is not None and rec.upload_id
    assert len(api(client, "GET", f"/uploads/{rec.upload_id}").json()["parts"]) >= 1
    up.abort(rec.upload_id, remote)
    assert api(client, "GET", f"/uploads/{rec.upload_id}").status_code == 404
    store = S3Store(seaweed, create_bucket=False)
    key = f"users/{account.username}/gone.bin"
    pending = store.s3.list_multipart_uploads(Bucket=store.bucket, Prefix=key).get("Uploads") or []
    assert pending == []
    assert store.head(key) is None
    assert not store.any_under(f".gsdm/multipart/{account.username}/")
    with pytest.raises(NotFoundError):
        client.metadata(remote)


def test_expired_part_url_is_requested_again(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gsdesktop.datamanager import multipart
    from gsdesktop.datamanager.transfer import ThrottledProgress

    class EveryCall(ThrottledProgress):  # report every part, so the pause below comes after part 1
        def __init__(self, callback, total, interval=0.0):  # type: ignore[no-untyped-def]
            super().__init__(callback, total, 0.0)

    monkeypatch.setattr(multipart, "ThrottledProgress", EveryCall)
    local = tmp_path / "slow.bin"
    md5 = make_file(local, 16 * MIB, seed=7)
    client = connect(account)
    # hash first (no MD5 at complete), so the first URL batch covers every part and the later parts'
    # URLs are the expired ones
    offer = multipart.server_offer(client.transport)
    assert offer is not None and offer.md5_at_complete
    monkeypatch.setattr(
        multipart, "server_offer", lambda c: dataclasses.replace(offer, md5_at_complete=False)
    )
    # URLs live 1 s and are used up to 5 s after expiry, so storage answers 403 "expired"
    up = MultipartUploader(
        client.transport, journal=TransferJournal(tmp_path / "j.sqlite"), part_size=PART, workers=1,
        url_expires=1, url_margin=-5,
    )  # fmt: skip
    slept: list[int] = []

    def progress(done: int, total: int) -> None:
        if done >= PART and not slept:
            slept.append(1)
            time.sleep(2.2)

    meta = up.upload(TransferRequest(local, f"{client.home}/slow.bin", progress=progress))
    assert meta.md5 == md5
    assert up.stats.retries >= 1 and up.stats.url_batches >= 2


def test_api_guards(account: Account, make_account) -> None:  # type: ignore[no-untyped-def]
    client = connect(account)
    other = connect(make_account("o"))
    home = client.home
    bad = [
        ({"path": f"{home}/a", "size": 10, "md5": "xyz"}, 400),
        ({"path": f"{home}/a", "size": -1, "md5": "0" * 32}, 400),
        ({"path": f"{home}/a", "size": 10, "md5": "d41d8cd98f00b204e9800998ecf8427e"}, 400),
        ({"path": f"{home}/a", "size": 6 * 1024**4, "md5": "0" * 32}, 413),
        ({"path": f"{home}/missing/a", "size": 10, "md5": "0" * 32}, 404),
        ({"path": f"{other.home}/a", "size": 10, "md5": "0" * 32}, 403),
        ({"path": f"{home}/../x", "size": 10, "md5": "0" * 32}, 400),
    ]
    for body, status in bad:
        resp = api(client, "POST", "/uploads", json=body)
        assert resp.status_code == status, (body, resp.text)
        assert resp.json()["message"]
    start = api(client, "POST", "/uploads", json={"path": f"{home}/g.bin", "size": 11 * MIB, "md5": "1" * 32})
    info = start.json()
    assert info["partSize"] >= 5 * MIB and info["partCount"] == math_ceil(11 * MIB, info["partSize"])
    uid = info["uploadId"]
    # another user cannot see, sign for, complete or abort it
    one = {"parts": [{"partNumber": 1, "md5": "1" * 32}]}
    req: object
    for method, route, req in [("GET", f"/uploads/{uid}", None), ("DELETE", f"/uploads/{uid}", None),
                                ("POST", f"/uploads/{uid}/urls", one),
                                ("POST", f"/uploads/{uid}/complete", {"parts": []})]:  # fmt: skip
        assert api(other, method, route, json=req).status_code == 404
    out_of_range = {"parts": [{"partNumber": 99, "md5": "1" * 32}]}
    assert api(client, "POST", f"/uploads/{uid}/urls", json=out_of_range).status_code == 400
    no_auth = requests.get(client.server_url + f"/datamanager/multipart/uploads/{uid}", timeout=10)
    assert no_auth.status_code == 401
    assert api(client, "DELETE", f"/uploads/{uid}").status_code == 204
    # a one-part upload whose bytes do not have the claimed whole-file MD5 is not completed
    data = b"one part only"
    one_part = {"path": f"{home}/one.txt", "size": len(data), "md5": "3" * 32}
    uid = api(client, "POST", "/uploads", json=one_part).json()["uploadId"]
    md5 = hashlib.md5(data).hexdigest()
    got = api(client, "POST", f"/uploads/{uid}/urls", json={"parts": [{"partNumber": 1, "md5": md5}]}).json()
    put = requests.put(
        got["urls"][0]["url"], data=data, headers={"Content-MD5": got["urls"][0]["contentMd5"]}
    )
    assert put.status_code == 200
    done = api(client, "POST", f"/uploads/{uid}/complete", json={"parts": [{"partNumber": 1, "etag": md5}]})
    assert done.status_code == 409 and "MD5" in done.json()["message"]
    with pytest.raises(NotFoundError):
        client.metadata(f"{home}/one.txt")


def math_ceil(a: int, b: int) -> int:
    return -(-a // b)


def test_stale_uploads_are_cleaned(account: Account, seaweed: S3Config) -> None:
    from gsdesktop.server.multipart import clean_stale_uploads

    client = connect(account)
    uid = api(
        client, "POST", "/uploads", json={"path": f"{client.home}/old.bin", "size": 10, "md5": "2" * 32}
    )
    uid = uid.json()["uploadId"]
    store = S3Store(seaweed, create_bucket=False)
    assert clean_stale_uploads(store, max_age=3600) == 0  # young uploads are kept
    assert api(client, "GET", f"/uploads/{uid}").status_code == 200
    assert clean_stale_uploads(store, max_age=0) >= 1
    assert api(client, "GET", f"/uploads/{uid}").status_code == 404
    key = f"users/{account.username}/old.bin"
    assert not store.s3.list_multipart_uploads(Bucket=store.bucket, Prefix=key).get("Uploads")


def test_huge_file_without_extension_fails_before_sending(
    seaweed: S3Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gsdesktop.server.users import UserStore
    from tests.support.servers import ServerProcess

    monkeypatch.setenv("GSDM_MULTIPART", "off")
    server = ServerProcess(tmp_path / "srv", seaweed).start()
    try:
        UserStore(S3Store(seaweed, create_bucket=False)).add("nomp", "pw-nomp-123456")
        client = DataManagerClient(server.url, "nomp", "pw-nomp-123456")
        client.multipart_threshold = 64 * MIB
        big = tmp_path / "huge.bam"
        with open(big, "wb") as fh:  # sparse: 5 GiB + 1 byte without using the disk
            fh.truncate(5 * 1024**3 + 1)
        t0 = time.monotonic()
        with pytest.raises(InvalidRequestError) as info:
            client.upload(big, f"{client.home}/huge.bam")
        assert time.monotonic() - t0 < 3  # failed before hashing or sending 5 GiB
        assert "5 GiB" in str(info.value) and "multipart" in str(info.value)
        with pytest.raises(NotFoundError):
            client.metadata(f"{client.home}/huge.bam")
        # smaller large files fall back to one PUT on such a server
        small = tmp_path / "small.bin"
        md5 = make_file(small, 70 * MIB, seed=8)
        assert client.upload(small, f"{client.home}/small.bin").md5 == md5
    finally:
        server.stop()


@pytest.mark.slow
def test_file_over_5_gib_round_trip(account: Account, tmp_path: Path) -> None:
    size = 5 * 1024**3 + 7 * MIB + 3
    local = tmp_path / "over5g.bin"
    md5 = make_file(local, size, seed=9)
    client = connect(account)
    up = MultipartUploader(client.transport, journal=TransferJournal(tmp_path / "j.sqlite"), workers=4)
    meta = up.upload(TransferRequest(local, f"{client.home}/over5g.bin"))
    assert meta.size == size and meta.md5 == md5
    out = tmp_path / "back.bin"
    client.download(f"{client.home}/over5g.bin", out)
    assert out.stat().st_size == size and md5_of(out) == md5
    json.dumps(up.stats.__dict__)


def test_part_size_rule_fits_5_tb_in_10000_parts() -> None:
    from gsdesktop.datamanager import multipart as client_mp
    from gsdesktop.server import multipart as server_mp

    offer = client_mp.MultipartOffer()
    for size in (1, 5 * MIB, 60 * MIB, 5 * 1024**3, 50 * 1024**3, 5 * 1024**4):
        for preferred in (None, PART, 64 * MIB):
            part = server_mp.choose_part_size(size, preferred)
            assert part == client_mp.choose_part_size(size, offer, preferred)  # client and server agree
            assert part >= 5 * MIB and part % MIB == 0
            assert server_mp.part_count(size, part) <= 10_000
    assert server_mp.choose_part_size(60 * MIB, 1024) == 5 * MIB  # never below S3's minimum
    assert server_mp.expected_part_size(SIZE, PART, 13) == SIZE - 12 * PART


def test_file_changed_during_upload_restarts_cleanly(account: Account, tmp_path: Path) -> None:
    local = tmp_path / "growing.sam"
    make_file(local, 30 * MIB, seed=13)
    client = connect(account)
    remote = f"{client.home}/growing.sam"
    changed: list[str] = []

    def progress(done: int, total: int) -> None:
        if done >= PART and not changed:  # rewrite the tail while parts are in flight
            with open(local, "r+b") as fh:
                fh.seek(25 * MIB)
                fh.write(os.urandom(MIB))
            changed.append(md5_of(local))

    up = MultipartUploader(
        client.transport, journal=TransferJournal(tmp_path / "j.sqlite"), part_size=PART, workers=1
    )
    meta = up.upload(TransferRequest(local, remote, progress=progress))
    assert changed and up.stats.restarted_because_changed
    assert meta.md5 == changed[0] == md5_of(local)
    out = tmp_path / "out.sam"
    client.download(remote, out)
    assert md5_of(out) == changed[0]
    assert api(client, "GET", "/uploads").json()["uploads"] == []  # the first attempt was aborted


def test_upload_survives_a_server_restart(account: Account, dm_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import threading

    local = tmp_path / "restart.bin"
    md5 = make_file(local, 30 * MIB, seed=14)
    client = connect(account)
    restarted: list[threading.Thread] = []

    def progress(done: int, total: int) -> None:
        if done >= PART and not restarted:  # the server dies; it is back 1.5 s later
            dm_server.kill()

            def back() -> None:
                time.sleep(1.5)
                dm_server.start()

            t = threading.Thread(target=back)
            t.start()
            restarted.append(t)

    up = MultipartUploader(
        client.transport,
        journal=TransferJournal(tmp_path / "j.sqlite"),
        part_size=PART,
        workers=2,
        url_batch=1,
    )
    meta = up.upload(TransferRequest(local, f"{client.home}/restart.bin", progress=progress))
    restarted[0].join()
    assert meta.md5 == md5 and up.stats.parts_sent == 6
    assert up.stats.url_batches >= 4  # part URLs were asked for while and after the server was down
