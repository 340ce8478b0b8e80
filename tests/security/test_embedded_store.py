"""Hostile: the embedded SeaweedFS is no open door for other local users (issue 15 item 7).

``weed mini`` listens on 127.0.0.1 with master, volume, filer, S3, admin (HTTP and gRPC) and WebDAV;
any process on the machine can connect. The test finds every TCP port the ``weed`` process listens on
and attacks each without credentials: filer-style GET/PUT/DELETE of files and of ``.gsdm/secret``,
directory listings, WebDAV, the master's ``/dir/assign`` (a write token) and ``/col/delete`` (drops
the bucket's volumes), and the ``weed`` binary's own gRPC client (``weed shell``: ``fs.cat``, ``fs.rm``).
Nothing may read or change a file. Files under the data folder are 0600 and folders 0700.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from gsdesktop.server.seaweed import EmbeddedSeaweed, S3Config, find_weed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SECRET = b"server-secret-" + os.urandom(8).hex().encode()
DATA = b"alice's data " + os.urandom(8).hex().encode()


def listening_ports(pid: int) -> list[int]:
    """The TCP ports process ``pid`` listens on (from /proc: no tool needed)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def s3_client(cfg: S3Config) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=cfg.endpoint,
        aws_access_key_id=cfg.access_key,
        aws_secret_access_key=cfg.secret_key,
        region_name=cfg.region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[EmbeddedSeaweed, S3Config]]:
    seaweed = EmbeddedSeaweed(tmp_path / "dm")
    cfg = seaweed.start()
    try:
        yield seaweed, cfg
    finally:
        seaweed.stop()


def weed_shell(master_port: int, commands: str, env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run ``weed shell`` against the master's gRPC; its output ("" when it could not connect)."""
    proc = subprocess.Popen(
        [find_weed(), "shell", f"-master=127.0.0.1:{master_port}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(commands.encode() + b"exit\n", timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")


def test_no_port_of_the_embedded_store_opens_without_credentials(
    store: tuple[EmbeddedSeaweed, S3Config], tmp_path: Path
) -> None:
    seaweed, cfg = store
    assert seaweed.proc is not None
    s3 = s3_client(cfg)
    bucket = cfg.bucket
    s3.put_object(Bucket=bucket, Key=".gsdm/secret", Body=SECRET)
    s3.put_object(Bucket=bucket, Key="users/alice/data.txt", Body=DATA)
    ports = listening_ports(seaweed.proc.pid)
    assert len(ports) >= 6, ports  # master, volume, filer, s3 (+ their gRPC), admin

    # the attacker: the weed binary's own gRPC client, from another folder, none of our settings
    attacker_dir = tmp_path / "attacker"
    attacker_dir.mkdir()
    attacker_env = {k: v for k, v in os.environ.items() if not k.startswith("WEED_")}
    attacker_env["HOME"] = str(attacker_dir)
    shell_out: list[str] = []
    attack = (
        f"fs.cat /buckets/{bucket}/.gsdm/secret\nfs.cat /buckets/{bucket}/users/alice/data.txt\n"
        f"fs.rm /buckets/{bucket}/users/alice/data.txt\n"
    )
    shells = [  # every port with a gRPC twin may be the master's
        threading.Thread(
            target=lambda port=port: shell_out.append(weed_shell(port, attack, attacker_env, attacker_dir, 8))
        )
        for port in ports
        if port + 10000 in ports
    ]
    for shell in shells:
        shell.start()

    leaks: list[str] = []
    paths = [
        f"/buckets/{bucket}/.gsdm/secret",
        f"/buckets/{bucket}/users/alice/data.txt",
        f"/{bucket}/.gsdm/secret",
        f"/buckets/{bucket}/users/alice/",
        f"/buckets/{bucket}/.gsdm/?pretty=y",
        "/dir/assign",
        "/dir/assign?collection=" + bucket,
    ]
    for port in ports:
        base = f"http://127.0.0.1:{port}"
        for path in paths:
            try:
                r = requests.get(base + path, timeout=3)
            except requests.RequestException:
                continue
            if SECRET in r.content or DATA in r.content:
                leaks.append(f"GET {port}{path} -> {r.status_code}: file content")
            if "/dir/assign" in path and r.ok and "fid" in r.text:
                leaks.append(f"GET {port}{path} -> {r.status_code}: a write token: {r.text[:100]}")
        for method, path in (
            ("PROPFIND", f"/buckets/{bucket}/"),
            ("PUT", f"/buckets/{bucket}/users/alice/data.txt"),
            ("POST", f"/buckets/{bucket}/users/alice/"),
            ("PUT", f"/buckets/{bucket}/.gsdm/secret"),
            ("DELETE", f"/buckets/{bucket}/users/alice/data.txt"),
            ("DELETE", f"/{bucket}/users/alice/data.txt"),
            ("GET", f"/col/delete?collection={bucket}"),
        ):
            try:
                r = requests.request(method, base + path, data=b"overwritten", timeout=3)
            except requests.RequestException:
                continue
            if SECRET in r.content or DATA in r.content:
                leaks.append(f"{method} {port}{path} -> {r.status_code}: file content")
            if r.status_code < 300 and method != "PROPFIND":
                leaks.append(f"{method} {port}{path} -> {r.status_code}")
    for shell in shells:
        shell.join()
    for out in shell_out:
        if SECRET.decode() in out or DATA.decode() in out:
            leaks.append(f"weed shell read a file: {out[-300:]!r}")
    for key, content in ((".gsdm/secret", SECRET), ("users/alice/data.txt", DATA)):
        try:
            if s3.get_object(Bucket=bucket, Key=key)["Body"].read() != content:
                leaks.append(f"{key} was changed")
        except ClientError as exc:
            leaks.append(f"{key} is gone: {exc}")
    assert not leaks, "\n".join(leaks)

    # the probe is real: with the store's own settings the same shell command reads the file
    own = weed_shell(
        seaweed.ports["master"],
        f"fs.cat /buckets/{bucket}/.gsdm/secret\n",
        seaweed.client_env(),
        attacker_dir,
        30,
    )
    assert SECRET.decode() in own, own[-500:]


def modes(root: Path) -> list[str]:
    loose = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat.S_ISSOCK(st.st_mode) or stat.S_ISLNK(st.st_mode):
            continue
        if st.st_mode & 0o077:
            loose.append(f"{stat.filemode(st.st_mode)} {path.relative_to(root)}")
    return loose


def test_files_under_the_data_folder_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "dm"
    seaweed = EmbeddedSeaweed(data_dir)
    cfg = seaweed.start()
    try:
        s3_client(cfg).put_object(Bucket=cfg.bucket, Key="users/a/x.txt", Body=b"x")
        assert modes(data_dir) == []
    finally:
        seaweed.stop()
    # a data folder from an older version (or a careless umask) is tightened at the next start
    for path in [data_dir, *data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    cfg = seaweed.start()
    try:
        assert modes(data_dir) == []
        with socket.create_connection(("127.0.0.1", int(cfg.endpoint.rsplit(":", 1)[1])), timeout=3):  # type: ignore[union-attr]
            pass
    finally:
        seaweed.stop()
