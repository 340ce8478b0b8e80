"""Faults: expired URLs, token expiry, 5xx and resets, server restarts, corruption, disk full, cancel.

One extra server per module sits behind two fault proxies: ``dm`` (in front of the Data Manager) and
``s3`` (in front of SeaweedFS: the server signs URLs for the proxy via ``--s3-public-endpoint``). Its
signed URLs live 2 s and its tokens 3 s, so renewals happen for real.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import (
    CancelledError,
    ConflictError,
    CredentialsUnavailableError,
    IntegrityError,
    LocalFileError,
    ServerError,
    TransferError,
)
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.transfer import CancelToken
from gsdesktop.datamanager.transport import TransferRequest
from gsdesktop.server.seaweed import S3Config
from tests.support.cli import cli_env, run_cli, start_cli
from tests.support.faultproxy import FaultProxy
from tests.support.servers import ServerProcess, add_user


@dataclass
class Stack:
    server: ServerProcess
    dm: FaultProxy
    s3: FaultProxy
    cfg: S3Config


@pytest.fixture(scope="module")
def stack(seaweed: S3Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert seaweed.endpoint
    s3 = FaultProxy(seaweed.endpoint).start()
    server = ServerProcess(
        tmp_path_factory.mktemp("faultserver"),
        seaweed,
        extra_args=["--s3-public-endpoint", s3.url, "--url-ttl", "2", "--token-ttl", "3"],
    ).start()
    dm = FaultProxy(server.url).start()
    yield Stack(server, dm, s3, seaweed)
    dm.stop()
    server.stop()
    s3.stop()


@pytest.fixture
def user(stack: Stack) -> Iterator[tuple[str, str]]:
    name, password = add_user(stack.cfg, "f")
    stack.dm.clear()
    stack.s3.clear()
    yield name, password
    stack.dm.clear()
    stack.s3.clear()


def _client(
    stack: Stack, user: tuple[str, str], *, via_proxy: bool = True, **kw: object
) -> DataManagerClient:
    url = stack.dm.url if via_proxy else stack.server.url
    return DataManagerClient(url, user[0], user[1], **kw)  # type: ignore[arg-type]


def _file(tmp: Path, name: str, size: int) -> Path:
    p = tmp / name
    p.write_bytes(os.urandom(size))
    return p


def _is_put(method: str, target: str) -> bool:
    return method == "PUT"


def _is_get(method: str, target: str) -> bool:
    return method == "GET"


def test_expired_signed_urls_are_renewed(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    c = _client(stack, user)
    src = _file(tmp_path, "a.bin", 200_000)
    stack.s3.add(_is_put, "delay", delay=3.0)  # the first PUT reaches S3 after its URL expired
    meta = c.upload(src, f"{c.home}/a.bin")
    assert stack.s3.count("PUT") == 2
    assert meta.md5 == hashlib.md5(src.read_bytes()).hexdigest()

    stack.s3.add(_is_get, "delay", delay=3.0)  # same for the download redirect
    out = c.download(f"{c.home}/a.bin", tmp_path / "a.out")
    assert out.read_bytes() == src.read_bytes()
    assert stack.s3.count("GET") >= 2


def test_token_expiry_mid_run_is_transparent(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    c = _client(stack, user)
    deadline = time.monotonic() + 4.0  # tokens live 3 s
    n = 0
    while time.monotonic() < deadline:
        src = _file(tmp_path, f"t{n}.bin", 10_000)
        assert c.upload(src, f"{c.home}/t{n}.bin").size == 10_000
        n += 1
        time.sleep(0.3)
    assert len(c.list(c.home).contents) == n
    assert stack.dm.count("GET", "/identityServer/basic") >= 2  # logged in again, silently

    # a token without a password cannot be renewed: a clear, typed error
    stale = DataManagerClient(stack.dm.url, user[0], token=c.token)
    time.sleep(4.1)  # the server counts whole seconds: a 3 s token may live almost 4 s
    with pytest.raises(CredentialsUnavailableError, match="gsdesktop login"):
        stale.list(stale.home)


def test_a_request_that_outlives_its_fresh_token_signs_in_once_more(
    stack: Stack, user: tuple[str, str]
) -> None:
    """Found by the fault soak: the token expired, the client signed in again, and the repeated request
    was held up (retries, backoff) until the fresh 3 s token had expired too; that was a hard error."""
    c = _client(stack, user)
    c.list(c.home)
    time.sleep(4.1)  # the first token is now expired
    listing = f"/datamanager/files{c.home}"
    seen = {"n": 0}

    def second_listing(method: str, target: str) -> bool:
        if method == "GET" and target.startswith(listing):
            seen["n"] += 1
            return seen["n"] == 2  # the repeat after the first re-login
        return False

    stack.dm.add(second_listing, "delay", delay=4.5)
    logins = stack.dm.count("GET", "/identityServer/basic")
    assert c.list(c.home).directory.path == c.home
    assert stack.dm.count("GET", "/identityServer/basic") == logins + 2  # expired, then outlived
    assert stack.dm.count("GET", listing) == 3 + 1  # the first list() and this one's three attempts


def test_5xx_and_resets_at_the_data_manager_are_retried(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    c = _client(stack, user)
    src = _file(tmp_path, "r.bin", 50_000)
    stack.dm.add(lambda m, t: "/uploadurls/" in t, "reset", times=1)
    stack.dm.add(lambda m, t: "/filemetadata/" in t, "status", status=503, times=2)
    stack.dm.add(lambda m, t: m == "PUT" and "/files/" in t, "status", status=502, times=1)
    c.mkdir(f"{c.home}/d")
    meta = c.upload(src, f"{c.home}/d/r.bin")
    assert meta.size == 50_000
    assert stack.dm.count("GET", "/uploadurls/", fault="reset") == 1
    assert stack.dm.count("GET", "/filemetadata/", fault="status") == 2
    assert stack.dm.count("PUT", "/files/", fault="status") == 1
    assert {s.headers.get("accept") for s in stack.dm.seen} == {"application/json,text/plain"}

    quick = _client(stack, user, retries=2)
    stack.dm.add(lambda m, t: "/filemetadata/" in t, "status", status=503, times=-1)
    with pytest.raises(ServerError, match="503"):
        quick.metadata(f"{c.home}/d/r.bin")


def test_storage_failures_during_upload_reopen_the_file(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    c = _client(stack, user)
    src = _file(tmp_path, "u.bin", 1_500_000)
    stack.s3.add(_is_put, "reset_upload", after_bytes=400_000, times=1)  # connection dies mid-body
    stack.s3.add(_is_put, "status", status=500, times=1)  # then storage has a hiccup
    meta = c.upload(src, f"{c.home}/u.bin")
    assert stack.s3.count("PUT") == 3
    put = [s for s in stack.s3.seen if s.method == "PUT"][-1]
    digest = hashlib.md5(src.read_bytes())
    assert put.headers["content-length"] == "1500000"
    assert put.headers["content-md5"] == base64.b64encode(digest.digest()).decode()
    assert put.headers["x-amz-meta-md5-hash"] == digest.hexdigest()
    assert put.headers["content-type"] == "application/octet-stream"
    assert "cookie" not in put.headers  # the gs-token never reaches the storage
    assert meta.md5 == hashlib.md5(src.read_bytes()).hexdigest() and meta.size == 1_500_000


@pytest.mark.parametrize("parallel", [False, True])
def test_broken_downloads_resume_with_range(
    stack: Stack, user: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    c = _client(stack, user)
    if parallel:  # the ranged downloader, in 1 MiB blocks, one request each
        c.config = dataclasses.replace(
            c.config, resumable_download_threshold=1 << 20, download_block=1 << 20, download_span=1 << 20
        )
    src = _file(tmp_path, "big.bin", 3_000_000)
    c.upload(src, f"{c.home}/big.bin")
    stack.s3.clear()
    stack.s3.add(_is_get, "cut", after_bytes=300_000, times=2)
    progress: list[tuple[int, int]] = []
    out = c.download(f"{c.home}/big.bin", tmp_path / "big.out", progress=lambda d, t: progress.append((d, t)))
    assert out.read_bytes() == src.read_bytes()
    ranges = [s.headers.get("range", "") for s in stack.s3.seen if s.method == "GET"]
    assert any(r.startswith("bytes=") and not r.startswith("bytes=0-") for r in ranges), ranges
    assert progress[-1] == (3_000_000, 3_000_000)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gsdownload")] == []


def test_corrupted_object_fails_and_target_is_untouched(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    c = _client(stack, user, via_proxy=False)
    src = _file(tmp_path, "orig.bin", 300_000)
    good_md5 = hashlib.md5(src.read_bytes()).hexdigest()
    c.upload(src, f"{c.home}/victim.bin")
    # bit rot behind the server's back: same size, one byte flipped, the recorded checksum kept
    data = bytearray(src.read_bytes())
    data[150_000] ^= 0xFF
    cfg = stack.cfg
    s3 = boto3.client(
        "s3", endpoint_url=cfg.endpoint, aws_access_key_id=cfg.access_key,
        aws_secret_access_key=cfg.secret_key, region_name=cfg.region,
    )  # fmt: skip
    key = f"users/{user[0]}/victim.bin"
    mpu = s3.create_multipart_upload(Bucket=cfg.bucket, Key=key, Metadata={"md5-hash": good_md5})
    part = s3.upload_part(
        Bucket=cfg.bucket, Key=key, PartNumber=1, UploadId=mpu["UploadId"], Body=bytes(data)
    )
    s3.complete_multipart_upload(
        Bucket=cfg.bucket, Key=key, UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )  # fmt: skip
    target = tmp_path / "keep" / "victim.bin"
    target.parent.mkdir()
    target.write_bytes(b"the good old copy")
    with pytest.raises(IntegrityError, match="checksum"):
        c.download(f"{c.home}/victim.bin", target)
    assert target.read_bytes() == b"the good old copy"
    assert os.listdir(target.parent) == ["victim.bin"]

    env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1])
    res = run_cli(["get", f"{c.home}/victim.bin", str(target)], env)
    res.assert_clean_failure(code=7)
    assert target.read_bytes() == b"the good old copy"


@contextlib.contextmanager
def _tiny_fs(path: Path, size: str = "1m") -> Iterator[bool]:
    """A size-limited tmpfs at ``path`` (True) or nothing (False) when mounting is not allowed."""
    path.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    try:
        yield proc.returncode == 0
    finally:
        if proc.returncode == 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_download_that_cannot_fit_is_refused_before_a_byte_is_written(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    """A real 1 MiB file system (tmpfs; mounting needs root, as CI has): a 3 MB file is refused up
    front with the sizes, by the one-stream download and by the resumable ranged one alike."""
    c = _client(stack, user, via_proxy=False)
    src = _file(tmp_path, "large.bin", 3_000_000)
    c.upload(src, f"{c.home}/large.bin")
    with _tiny_fs(tmp_path / "tiny") as mounted:
        if not mounted:
            pytest.skip("mounting a tmpfs needs root")
        target = tmp_path / "tiny" / "large.bin"
        target.write_bytes(b"precious")
        for threshold in (1 << 40, 1 << 20):  # one stream; then ranged and journaled
            c.resumable_download_threshold = threshold
            with pytest.raises(LocalFileError) as caught:
                c.download(f"{c.home}/large.bin", target)
            assert "Not enough disk space: the download needs 2.9 MiB more" in caught.value.user_message
            assert target.read_bytes() == b"precious"
            assert os.listdir(target.parent) == ["large.bin"]
        # `get -r`: every file would fit, the folder does not; it is refused before the first file
        c.mkdir(f"{c.home}/parts")
        for i in range(3):
            c.upload(_file(tmp_path, f"p{i}.bin", 400_000), f"{c.home}/parts/p{i}.bin")
        env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1])
        res = run_cli(["get", "-r", f"{c.home}/parts", str(tmp_path / "tiny" / "got")], env)
        res.assert_clean_failure(code=8)
        assert "Not enough disk space: the download needs 1.1 MiB more" in res.err
        assert os.listdir(target.parent) == ["large.bin"]


def test_disk_full_leaves_no_partial_file(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    """The disk fills while writing (free space looked enough): here a 1 MiB file-size limit on the
    CLI process makes every write past 1 MiB fail with EFBIG, as a full disk or quota would."""
    import resource
    import signal

    c = _client(stack, user, via_proxy=False)
    src = _file(tmp_path, "large.bin", 3_000_000)
    c.upload(src, f"{c.home}/large.bin")
    target = tmp_path / "dest" / "large.bin"
    target.parent.mkdir()
    target.write_bytes(b"precious")

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1])
    proc = start_cli(["get", f"{c.home}/large.bin", str(target)], env, preexec=limit)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 8 and "disk is full" in err and "Traceback" not in err
    assert target.read_bytes() == b"precious"
    assert os.listdir(target.parent) == ["large.bin"]


def test_server_killed_and_restarted_mid_transfer(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "many"
    src.mkdir()
    for i in range(24):
        (src / f"f{i:02d}.bin").write_bytes(os.urandom(100_000 + i))
    stack.s3.add(_is_put, "delay", delay=0.25, times=-1)  # keep the run going long enough
    env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1])
    remote = f"/users/{user[0]}/restarted"
    proc = start_cli(["put", "-r", "-j", "2", str(src), remote], env)
    assert proc.stdout is not None
    done_before = [proc.stdout.readline() for _ in range(4)]
    stack.server.kill()
    time.sleep(1.0)
    stack.server.start()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert len(done_before) + len(out.splitlines()) == 24
    c = _client(stack, user, via_proxy=False)
    listed = {m.name: m.md5 for m in c.list(remote).contents}
    assert listed == {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in src.iterdir()}


def test_v1_only_server_is_detected(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    # hide every beta-2.0 route: the proxy now looks like a v1.0-only Data Manager
    stack.dm.add(lambda m, t: t.startswith("/datamanager/") and not t.startswith("/datamanager/v1.0/"),
                 "status", status=404, times=-1)  # fmt: skip
    c = _client(stack, user)
    assert c.dialect is Dialect.V1
    src = _file(tmp_path, "v1.txt", 12_345)
    c.mkdir(f"{c.home}/v1 dir #1")
    meta = c.upload(src, f"{c.home}/v1 dir #1/v1.txt")
    assert meta.path == f"{c.home}/v1 dir #1/v1.txt"
    assert [m.name for m in c.list(f"{c.home}/v1 dir #1").contents] == ["v1.txt"]
    assert c.download(meta.path, tmp_path / "v1.out").read_bytes() == src.read_bytes()
    assert stack.dm.count("GET", "/datamanager/v1.0/file/Home/") >= 2


def test_cancel_stops_transfers_cleanly(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    c = _client(stack, user, via_proxy=False)
    src = _file(tmp_path, "c.bin", 4_000_000)
    token = CancelToken()

    def stop_soon(done: int, total: int) -> None:
        if done > 0:
            token.cancel()

    stack.s3.add(_is_put, "delay", delay=0.2, times=-1)
    with pytest.raises(CancelledError):
        c.upload(src, f"{c.home}/c.bin", progress=stop_soon, cancel=token)
    stack.s3.clear()
    c.upload(src, f"{c.home}/c.bin")
    token = CancelToken()
    with pytest.raises(CancelledError):
        c.download(f"{c.home}/c.bin", tmp_path / "c.out", progress=stop_soon, cancel=token)
    assert not (tmp_path / "c.out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".gsdownload")]


def test_ctrl_c_cancels_a_cli_transfer(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    import signal

    src = tmp_path / "slow"
    src.mkdir()
    for i in range(12):
        (src / f"s{i}.bin").write_bytes(os.urandom(50_000))
    stack.s3.add(_is_put, "delay", delay=0.4, times=-1)
    env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1])
    proc = start_cli(["put", "-r", "-j", "2", str(src), f"/users/{user[0]}/slow"], env)
    assert proc.stdout is not None
    proc.stdout.readline()  # one file is through
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cancelled" in err
    assert len(out.splitlines()) < 11


def test_progress_bar_on_a_terminal(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    import pty

    src = _file(tmp_path, "p.bin", 2_000_000)
    env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1], COLUMNS="120")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gsdesktop", "put", str(src), f"/users/{user[0]}/p.bin"],
            env=env, stdout=subprocess.PIPE, stderr=slave, text=True,
        )  # fmt: skip
        out, _ = proc.communicate(timeout=60)
        os.close(slave)
        slave = -1
        shown = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 65536):
                shown += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 0 and out.strip() == f"/users/{user[0]}/p.bin"
    text = shown.decode(errors="replace")
    assert "ETA" in text and "MiB" in text and "1/1 files" in text and "/s" in text


def test_journaled_ranges_resume_mid_range_pinned_to_one_version(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    """A broken range continues from its last landed byte, and only from the version it started on."""
    from gsdesktop.datamanager.journal import TransferJournal
    from gsdesktop.datamanager.ranged import ParallelDownloader

    c = _client(stack, user)
    src = _file(tmp_path, "r.bin", 3 * 1024 * 1024 + 5)
    remote = f"{c.home}/r.bin"
    c.upload(src, remote)
    stack.s3.clear()
    stack.s3.add(_is_get, "cut", after_bytes=300_000, times=2)
    journal = TransferJournal(tmp_path / "journal.db")
    mib = 1024 * 1024
    got = ParallelDownloader(c.transport, journal=journal, workers=1, chunk_size=mib, span=2 * mib).download(
        TransferRequest(tmp_path / "r.out", remote)
    )
    assert got.read_bytes() == src.read_bytes()
    gets = [s for s in stack.s3.seen if s.method == "GET"]
    ranges = [s.headers.get("range", "") for s in gets]
    # two blocks per request; a cut request continues where the cut left it (not from 0, not from
    # the start of its block), twice, and the next request takes the next two blocks
    assert ranges == [
        "bytes=0-2097151",
        "bytes=300000-2097151",
        "bytes=600000-2097151",
        "bytes=2097152-3145732",
    ]
    assert all("if-match" in s.headers for s in gets[1:]), [s.headers for s in gets]

    # the same when the connection is reset mid-range (the read fails instead of ending short)
    big = _file(tmp_path, "big.bin", 9 * 1024 * 1024 + 3)
    c.upload(big, f"{c.home}/big.bin")
    stack.s3.clear()
    stack.s3.add(_is_get, "cut_reset", after_bytes=5 * 1024 * 1024 // 2, times=1)
    seen: list[tuple[int, int]] = []
    got = ParallelDownloader(c.transport, journal=journal, workers=1, chunk_size=4 * 1024 * 1024).download(
        TransferRequest(tmp_path / "big.out", f"{c.home}/big.bin", progress=lambda d, t: seen.append((d, t)))
    )
    assert got.read_bytes() == big.read_bytes()
    ranges = [s.headers.get("range", "") for s in stack.s3.seen if s.method == "GET"]
    assert ranges[1].startswith("bytes=") and int(ranges[1][6:].split("-")[0]) >= 1024 * 1024, ranges
    assert seen[-1] == (big.stat().st_size, big.stat().st_size)
    assert all(d <= t for d, t in seen)  # progress never counted a byte twice

    # the object is replaced while a range request is on its way: 412, a clear error, nothing written
    stack.s3.clear()
    out = tmp_path / "r2.out"
    out.write_bytes(b"precious")
    second = {"n": 0}

    def second_get(method: str, target: str) -> bool:
        if method != "GET":
            return False
        second["n"] += 1
        return second["n"] == 2

    stack.s3.add(second_get, "delay", delay=2.0)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            ParallelDownloader(c.transport, journal=journal, workers=1, chunk_size=mib, span=mib).download(
                TransferRequest(out, remote)
            )
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while stack.s3.count("GET") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    c.upload(_file(tmp_path, "new.bin", 3 * 1024 * 1024 + 5), remote)  # same size, other bytes
    worker.join(60)
    assert failure and isinstance(failure[0], ConflictError), failure
    assert "replaced" in failure[0].user_message
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir() if "gsdownload" in p.name) == []


def test_lean_puts_survive_connections_closed_by_storage(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    """The proxy in front of S3 closes every connection after one answer while claiming to keep it
    open, so each pooled keep-alive connection is dead when it is next used: the lean PUT notices,
    sends once more on a fresh connection, and no file is sent twice or falls back to the slow path."""
    c = _client(stack, user, via_proxy=False)
    c.mkdir(f"{c.home}/lean")
    files = [_file(tmp_path, f"f{i:02d}.bin", 3000 + i) for i in range(24)]
    stack.s3.clear()
    stack.s3.hide_close = True
    try:
        got = c.upload_many([(f, f"{c.home}/lean/{f.name}") for f in files], workers=4)
    finally:
        stack.s3.hide_close = False
    assert all(not isinstance(m, Exception) for m in got), got
    assert stack.s3.count("PUT") == len(files)  # one PUT each: dead connections cost no extra upload
    assert c.transport.lean.reconnects >= 1 and c.transport.lean.fallbacks == 0, (
        c.transport.lean.reconnects,
        c.transport.lean.fallbacks,
    )
    for f in files:
        out = c.download(f"{c.home}/lean/{f.name}", tmp_path / f"{f.name}.back")
        assert out.read_bytes() == f.read_bytes()


def test_ranged_download_whose_first_span_is_slowest_completes(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    """The request for the first blocks is answered late, while the other connections go on through
    the file: blocks the in-order hash cannot take yet must not take every buffer (they did once, and
    the download hung with all connections waiting for a buffer and the hash waiting for block 0)."""
    from gsdesktop.datamanager.journal import TransferJournal
    from gsdesktop.datamanager.ranged import ParallelDownloader

    mib = 1024 * 1024
    c = _client(stack, user)
    size = 40 * mib + 99  # 41 blocks of 1 MiB, 14 requests of 3 blocks; 10 buffers (3 x 3 + 1)
    src = _file(tmp_path, "slow.bin", size)
    remote = f"{c.home}/slow.bin"
    c.upload(src, remote)
    stack.s3.clear()
    stack.s3.add(_is_get, "delay", delay=1.5, header=("range", f"bytes=0-{3 * mib - 1}"))
    dl = ParallelDownloader(
        c.transport, journal=TransferJournal(tmp_path / "j.db"), workers=3, chunk_size=mib, span=3 * mib
    )
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(dl.download(TransferRequest(tmp_path / "slow.out", remote)))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(90)
    assert not worker.is_alive(), "the download hung"
    assert outcome == [tmp_path / "slow.out"], outcome
    assert (tmp_path / "slow.out").read_bytes() == src.read_bytes()
    ranges = [s.headers.get("range", "") for s in stack.s3.seen if s.method == "GET"]
    # one request per span of 3 blocks; this stack's URLs live 2 s, so a request may come back 403
    # and be asked for again with a fresh URL: the same range, as nothing of it had landed
    first = f"bytes=0-{3 * mib - 1}"
    starts = range(0, size, 3 * mib)
    assert sorted(set(ranges), key=lambda r: int(r[6:].split("-")[0])) == [
        f"bytes={a}-{min(a + 3 * mib, size) - 1}" for a in starts
    ]
    assert dl.stats.chunks_fetched == 41
    assert next(s.fault for s in stack.s3.seen if s.headers.get("range") == first) == "delay"


def test_failed_multipart_upload_says_what_it_keeps_and_resumes(
    stack: Stack, user: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storage fails one part for good: the error names the parts kept, and the next attempt sends
    only the others."""
    from gsdesktop.datamanager import multipart
    from gsdesktop.datamanager.journal import TransferJournal

    monkeypatch.setattr(multipart, "PART_ATTEMPTS", 2)  # the same retry path, fewer rounds
    part = 5 * 1024 * 1024
    c = _client(stack, user, via_proxy=False)
    src = _file(tmp_path, "big.fastq", 6 * part + 777)  # 7 parts
    remote = f"{c.home}/big.fastq"
    journal = TransferJournal(tmp_path / "j.db")
    stack.s3.add(lambda m, t: m == "PUT" and "partNumber=4&" in t + "&", "status", status=500, times=-1)
    first = multipart.MultipartUploader(c.transport, journal=journal, part_size=part, workers=2)
    with pytest.raises(ServerError) as caught:
        first.upload(TransferRequest(src, remote))
    kept = first.stats.parts_sent
    assert 3 <= kept <= 6, kept
    assert caught.value.user_message.endswith(
        f"{kept} of 7 parts are stored and kept: the upload continues from there next time."
    ), caught.value.user_message
    assert "parts are stored" not in str(caught.value)  # a traceback prints the note once, on its own
    stack.s3.clear()
    second = multipart.MultipartUploader(c.transport, journal=journal, part_size=part, workers=2)
    meta = second.upload(TransferRequest(src, remote))
    assert second.stats.resumed and second.stats.parts_sent == 7 - kept
    assert meta.md5 == hashlib.md5(src.read_bytes()).hexdigest()


def test_ctrl_c_during_a_multipart_cli_upload_says_what_is_kept(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    import signal

    src = _file(tmp_path, "run.bam", 70 * 1024 * 1024)  # over the 64 MiB threshold: 5 parts of 16 MiB
    stack.s3.add(lambda m, t: m == "PUT" and "partNumber=" in t, "delay", delay=0.5, times=-1)
    env = cli_env(tmp_path / "home", stack.server.url, user[0], user[1])
    proc = start_cli(["put", str(src), f"/users/{user[0]}/run.bam"], env)
    deadline = time.monotonic() + 60
    while stack.s3.count("PUT", "partNumber=5") == 0:  # part 5 starts once an earlier part is stored
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0] == "gsdesktop: error: cancelled", err
    assert len(lines) == 2 and lines[1].endswith(
        "of 5 parts are stored and kept: the upload continues from there next time."
    ), err


def test_transfer_settings_from_the_environment(stack: Stack, user: tuple[str, str], tmp_path: Path) -> None:
    """GSDESKTOP_MULTIPART_THRESHOLD_MIB sends a 12 MiB file in parts; a worker count that is not a
    number is one clear line and exit code 2, before anything is sent."""
    src = _file(tmp_path, "mid.bin", 12 * 1024 * 1024)
    base = cli_env(
        tmp_path / "home", stack.server.url, user[0], user[1], GSDESKTOP_MULTIPART_THRESHOLD_MIB="5"
    )
    stack.s3.clear()
    bad = run_cli(
        ["put", str(src), f"/users/{user[0]}/mid.bin"], {**base, "GSDESKTOP_UPLOAD_WORKERS": "four"}
    )
    assert bad.code == 2, bad.err
    assert bad.err.strip() == (
        "gsdesktop: error: GSDESKTOP_UPLOAD_WORKERS must be a whole number from 1 to 64, not 'four'"
    )
    assert stack.s3.count("PUT") == 0
    ok = run_cli(["put", str(src), f"/users/{user[0]}/mid.bin"], {**base, "GSDESKTOP_UPLOAD_WORKERS": "2"})
    assert ok.code == 0, ok.err
    assert stack.s3.count("PUT", "partNumber=") == 1 and stack.s3.count("PUT") == 1  # one part, no plain PUT
    back = run_cli(["get", f"/users/{user[0]}/mid.bin", str(tmp_path / "mid.out")], base)
    assert back.code == 0, back.err
    assert (tmp_path / "mid.out").read_bytes() == src.read_bytes()
    low = run_cli(["ls", f"/users/{user[0]}"], {**base, "GSDESKTOP_MULTIPART_THRESHOLD_MIB": "1"})
    assert (
        low.code == 2 and "GSDESKTOP_MULTIPART_THRESHOLD_MIB must be a whole number from 5 to 5120" in low.err
    )


def test_failed_ranged_download_says_what_it_keeps_and_resumes(
    stack: Stack, user: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storage fails one span for good: the error names the blocks on disk, and the next attempt
    fetches only the others."""
    from gsdesktop.datamanager import ranged
    from gsdesktop.datamanager.journal import TransferJournal
    from gsdesktop.datamanager.ranged import ParallelDownloader

    monkeypatch.setattr(ranged, "ATTEMPTS", 1)  # the same failure path, without the backoff rounds
    mib = 1024 * 1024
    c = _client(stack, user, retries=0)
    src = _file(tmp_path, "ref.fa", 12 * mib)  # 12 blocks of 1 MiB, 6 spans of 2
    remote = f"{c.home}/ref.fa"
    c.upload(src, remote)
    stack.s3.clear()
    stack.s3.add(_is_get, "status", status=500, times=-1, header=("range", f"bytes={8 * mib}-{10 * mib - 1}"))
    journal = TransferJournal(tmp_path / "j.db")
    first = ParallelDownloader(c.transport, journal=journal, workers=2, chunk_size=mib, span=2 * mib)
    with pytest.raises((ServerError, TransferError)) as caught:
        first.download(TransferRequest(tmp_path / "ref.out", remote))
    kept = first.stats.chunks_fetched
    assert 1 <= kept <= 10, kept
    assert caught.value.user_message.endswith(
        f"{kept} of 12 blocks are on disk and kept: the download continues from there next time."
    ), caught.value.user_message
    assert not (tmp_path / "ref.out").exists()
    stack.s3.clear()
    second = ParallelDownloader(c.transport, journal=journal, workers=2, chunk_size=mib, span=2 * mib)
    assert second.download(TransferRequest(tmp_path / "ref.out", remote)) == tmp_path / "ref.out"
    assert second.stats.resumed and second.stats.chunks_fetched == 12 - kept
    assert (tmp_path / "ref.out").read_bytes() == src.read_bytes()


def _cancel_after(
    proxy: FaultProxy, method: str, contains: str, fault: str, seen: int
) -> tuple[CancelToken, list[float]]:
    """A cancel token that is cancelled once ``proxy`` has broken ``seen`` matching requests (the
    transfer is then in, or about to start, a backoff of a second or more); the time goes in the list."""
    cancel = CancelToken()
    when: list[float] = []

    def watch() -> None:
        deadline = time.monotonic() + 30
        while proxy.count(method, contains, fault=fault) < seen and time.monotonic() < deadline:
            time.sleep(0.005)
        when.append(time.monotonic())
        cancel.cancel()

    threading.Thread(target=watch, daemon=True).start()
    return cancel, when


def test_cancel_during_a_ranged_retry_backoff_ends_the_download_at_once(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    """Every ranged GET of a resumable download is reset; a cancel while it backs off between tries
    ends it within a fraction of a second (the old loop slept its backoff out first)."""
    c = _client(stack, user)
    c.resumable_download_threshold = 1 << 20  # the journaled parallel downloader
    src = _file(tmp_path, "r.bin", 3 << 20)
    remote = f"{c.home}/r.bin"
    c.upload(src, remote)
    for round_ in range(3):
        stack.s3.clear()
        stack.s3.add(lambda m, t: m == "GET" and "uploads" not in t, "reset", times=-1)
        cancel, when = _cancel_after(stack.s3, "GET", "", "reset", 3)
        with pytest.raises(CancelledError):
            c.download(remote, tmp_path / f"r{round_}.out", cancel=cancel)
        late = time.monotonic() - when[0]
        assert late < 0.5, f"round {round_}: the download ended {late:.2f} s after the cancel"
        assert not (tmp_path / f"r{round_}.out").exists()
    c.close()


def test_cancel_during_a_multipart_api_retry_backoff_ends_the_upload_at_once(
    stack: Stack, user: tuple[str, str], tmp_path: Path
) -> None:
    """The multipart create call keeps failing with 503; a cancel while it backs off between tries
    ends the upload at once with CancelledError (the old loop slept through it and tried on)."""
    c = _client(stack, user)
    c.multipart_threshold = 5 << 20
    src = _file(tmp_path, "m.bin", 6 << 20)
    for round_ in range(3):
        stack.dm.clear()
        stack.dm.add(
            lambda m, t: m == "POST" and t.endswith("/multipart/uploads"), "status", status=503, times=-1
        )
        cancel, when = _cancel_after(stack.dm, "POST", "/multipart/uploads", "status", 3)
        with pytest.raises(CancelledError):
            c.upload(src, f"{c.home}/m{round_}.bin", cancel=cancel)
        late = time.monotonic() - when[0]
        assert late < 0.5, f"round {round_}: the upload ended {late:.2f} s after the cancel"
    stack.dm.clear()
    c.close()
