"""v1.0 ``uploadinfo``: STS credentials scoped to one object, and python-genomespaceclient's upload."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
from tests.conftest import Account

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def connect(account: Account) -> DataManagerClient:
    return DataManagerClient(account.server_url, account.username, account.password)


def scoped_s3(info: dict[str, object], endpoint: str | None) -> S3Client:
    creds = info["amazonCredentials"]
    assert isinstance(creds, dict)
    return boto3.client(
        "s3",
        endpoint_url=str(info["s3Endpoint"] or endpoint),
        aws_access_key_id=creds["accessKey"],
        aws_secret_access_key=creds["secretKey"],
        aws_session_token=creds["sessionToken"],
        region_name=str(info["s3Region"]),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_uploadinfo_credentials_write_only_that_object(  # type: ignore[no-untyped-def]
    account: Account,
    make_account,
    seaweed: S3Config,
) -> None:
    client = connect(account)
    other = make_account("v")
    store = S3Store(seaweed, create_bucket=False)
    store.put_bytes(f"users/{other.username}/secret.txt", b"not yours")
    store.put_bytes(f"users/{account.username}/mine.txt", b"keep me")
    resp = client.request("GET", f"/datamanager/v1.0/uploadinfo/Home/{account.username}/up.txt")
    assert resp.headers["Content-Type"].startswith("application/json")
    info = resp.json()
    assert info["uploadType"] == "s3" and info["s3BucketName"] == seaweed.bucket
    assert info["s3ObjectKey"] == f"users/{account.username}/up.txt"
    creds = info["amazonCredentials"]
    assert set(creds) == {"accessKey", "secretKey", "sessionToken"}
    assert creds["accessKey"] != seaweed.access_key and creds["secretKey"] != seaweed.secret_key
    s3 = scoped_s3(info, seaweed.endpoint)
    s3.put_object(Bucket=seaweed.bucket, Key=info["s3ObjectKey"], Body=b"hello")
    assert store.get_bytes(info["s3ObjectKey"]) == b"hello"
    denied: list[Callable[[], object]] = [
        lambda: s3.put_object(Bucket=seaweed.bucket, Key=f"users/{account.username}/other.txt", Body=b"x"),
        lambda: s3.put_object(Bucket=seaweed.bucket, Key=f"users/{other.username}/x.txt", Body=b"x"),
        lambda: s3.get_object(Bucket=seaweed.bucket, Key=f"users/{other.username}/secret.txt"),
        lambda: s3.get_object(Bucket=seaweed.bucket, Key=f"users/{account.username}/mine.txt"),
        lambda: s3.delete_object(Bucket=seaweed.bucket, Key=f"users/{account.username}/mine.txt"),
        lambda: s3.list_objects_v2(Bucket=seaweed.bucket),
        lambda: s3.get_object(Bucket=seaweed.bucket, Key=".gsdm/users.json"),
    ]
    for attempt in denied:
        with pytest.raises(ClientError) as err:
            attempt()
        assert err.value.response["Error"]["Code"] in ("AccessDenied", "403")
    assert store.get_bytes(f"users/{other.username}/secret.txt") == b"not yours"
    assert store.get_bytes(f"users/{account.username}/mine.txt") == b"keep me"
    # the file is visible through the Data Manager with its MD5
    meta = client.metadata(f"{client.home}/up.txt")
    assert meta.size == 5 and meta.md5 == hashlib.md5(b"hello").hexdigest()


def test_uploadinfo_refuses_other_users_and_bad_paths(account: Account, make_account) -> None:  # type: ignore[no-untyped-def]
    client = connect(account)
    other = make_account("w")
    cases = {
        f"/Home/{other.username}/x.txt": 403,
        f"/Home/{account.username}/no/such/dir/x.txt": 404,
        f"/Home/{account.username}/star*.txt": 400,
    }
    for path, status in cases.items():
        resp = client.request("GET", "/datamanager/v1.0/uploadinfo" + path, ok=range(400, 600))
        assert resp.status_code == status, (path, resp.text)
        assert resp.json()["message"]


def test_python_genomespaceclient_upload(
    account: Account, seaweed: S3Config, tmp_path: Path, tmp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genomespaceclient import GenomeSpaceClient

    # the historical client talks to AWS; point boto3 at our store the standard way
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", str(seaweed.endpoint))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    local = tmp_path / "reads.fastq"
    data = os.urandom(300_000)
    local.write_bytes(data)
    gs = GenomeSpaceClient(username=account.username, password=account.password)
    target = f"{account.server_url}/datamanager/v1.0/file/Home/{account.username}/reads.fastq"
    gs.copy(str(local), target)
    client = connect(account)
    meta = client.metadata(f"{client.home}/reads.fastq")
    assert meta.size == len(data) and meta.md5 == hashlib.md5(data).hexdigest()
    out = tmp_path / "back.fastq"
    client.download(f"{client.home}/reads.fastq", out)
    assert out.read_bytes() == data


def test_store_that_cannot_scope_credentials_gets_501(seaweed: S3Config) -> None:
    from gsdesktop.server.auth import APIError
    from gsdesktop.server.uploadinfo import scoped_credentials

    store = S3Store(seaweed, create_bucket=False)
    with pytest.raises(APIError) as err:  # a role the store does not know: STS refuses
        scoped_credentials(store, "users/x/y.txt", "x", "arn:aws:iam::000000000000:role/NoSuchRole")
    assert err.value.status == 501 and "uploadurl" in err.value.message
    unreachable = S3Config("http://127.0.0.1:9", seaweed.bucket, access_key="a", secret_key="b")
    with pytest.raises(APIError) as err:  # no STS at all
        scoped_credentials(S3Store(unreachable, create_bucket=False), "users/x/y.txt", "x", "arn:x")
    assert err.value.status == 501
