"""Hostile: the STS credentials v1.0 ``uploadinfo`` hands out cannot be widened (issue 15 item 1).

Bob plays the attacker with boto3 and the credentials the server gave him for one upload: direct writes
to other keys, ``AssumeRole`` on every role the store's configuration names (and on none, and on an
unknown one), with and without a session policy and with the longest duration, ``GetFederationToken``
and ``AssumeRoleWithWebIdentity`` with his session token. Nothing may give him a credential that writes
anything but his one key, and the credentials live no longer than the store's minimum (15 minutes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.server.seaweed import SERVER_IDENTITY, UPLOAD_ROLE_ARN, S3Config, sts_config
from gsdesktop.server.storage import S3Store
from tests.conftest import Account

WIDE_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
# no client-side parameter checks: the attacker sends whatever the store accepts (an empty RoleArn too)
RAW = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, parameter_validation=False)


def client_for(service: str, creds: dict[str, Any], endpoint: str | None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        aws_access_key_id=creds["accessKey"],
        aws_secret_access_key=creds["secretKey"],
        aws_session_token=creds["sessionToken"],
        region_name="us-east-1",
        config=RAW,
    )


def sts_creds(answer: dict[str, Any]) -> dict[str, Any]:
    c = answer["Credentials"]
    return {
        "accessKey": c["AccessKeyId"],
        "secretKey": c["SecretAccessKey"],
        "sessionToken": c["SessionToken"],
    }


def uploadinfo(account: Account, name: str) -> dict[str, Any]:
    client = DataManagerClient(account.server_url, account.username, account.password)
    info: dict[str, Any] = client.request(
        "GET", f"/datamanager/v1.0/uploadinfo/Home/{account.username}/{name}"
    ).json()
    return info


def denied(call: Any) -> str:
    """Run ``call``; it must be refused by the store. Returns the error code."""
    with pytest.raises(ClientError) as err:
        call()
    code = str(err.value.response["Error"]["Code"])
    assert code in ("AccessDenied", "403", "InvalidClientTokenId", "InvalidParameterValue"), code
    return code


def test_uploadinfo_credentials_cannot_be_widened(
    make_account: Any, seaweed: S3Config, tmp_path: Path
) -> None:
    alice, bob = make_account("alice"), make_account("bob")
    store = S3Store(seaweed, create_bucket=False)
    victim = f"users/{alice.username}/results.txt"
    store.put_bytes(victim, b"alice's results")
    info = uploadinfo(bob, "up.bin")
    key, bucket, endpoint = info["s3ObjectKey"], info["s3BucketName"], info["s3Endpoint"]
    creds = info["amazonCredentials"]
    s3, sts = client_for("s3", creds, endpoint), client_for("sts", creds, endpoint)

    # lifetime: the shortest the store allows (15 minutes), never more than an hour
    left = (datetime.fromisoformat(info["expiration"]) - datetime.now(UTC)).total_seconds()
    assert 0 < left <= 15 * 60 + 30, info["expiration"]

    # the one key works, in one PUT and in a multipart upload (its parts)
    s3.put_object(Bucket=bucket, Key=key, Body=b"single")
    mpu = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=mpu, PartNumber=n, Body=body)["ETag"],
        }
        for n, body in ((1, b"a" * (5 * 1024 * 1024)), (2, b"tail"))
    ]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=mpu, MultipartUpload={"Parts": parts})
    got = store.get_bytes(key)
    assert got is not None and got[-4:] == b"tail"

    # direct writes anywhere else are refused
    for other in (victim, f"users/{bob.username}/other.bin", key + ".x", key + "/x", ".gsdm/users.json"):
        denied(lambda other=other: s3.put_object(Bucket=bucket, Key=other, Body=b"evil"))
        denied(lambda other=other: s3.create_multipart_upload(Bucket=bucket, Key=other))
        denied(
            lambda other=other: s3.copy_object(
                Bucket=bucket, Key=other, CopySource={"Bucket": bucket, "Key": key}
            )
        )
    denied(lambda: s3.delete_object(Bucket=bucket, Key=victim))
    denied(lambda: s3.get_object(Bucket=bucket, Key=victim))

    # every STS call the holder can make with them: nothing comes back that could write elsewhere
    roles = {str(r["roleArn"]) for r in sts_config(tmp_path, bucket)["roles"]}  # type: ignore[attr-defined]
    assert UPLOAD_ROLE_ARN in roles
    roles |= {"", "arn:aws:iam::000000000000:role/NoSuchRole"}
    escalations: list[str] = []

    def try_sts(label: str, call: Any) -> None:
        try:
            answer = call()
        except ClientError:
            return
        widened = client_for("s3", sts_creds(answer), endpoint)
        try:
            widened.put_object(Bucket=bucket, Key=victim, Body=b"overwritten by bob")
            escalations.append(f"{label}: got credentials that wrote {victim}")
        except ClientError:
            escalations.append(f"{label}: got new credentials (they could not write {victim})")

    for role in sorted(roles):
        for policy in (None, WIDE_POLICY):
            for duration in (None, 43200):
                kwargs: dict[str, Any] = {"RoleArn": role, "RoleSessionName": "bob-again"}
                if policy:
                    kwargs["Policy"] = policy
                if duration:
                    kwargs["DurationSeconds"] = duration
                try_sts(f"AssumeRole {kwargs}", lambda kwargs=kwargs: sts.assume_role(**kwargs))
    for policy in (None, WIDE_POLICY):
        kw: dict[str, Any] = {"Name": "bob-fed", **({"Policy": policy} if policy else {})}
        try_sts(f"GetFederationToken {kw}", lambda kw=kw: sts.get_federation_token(**kw))
    anonymous = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", config=RAW)
    for role in sorted(roles - {""}):
        try_sts(
            f"AssumeRoleWithWebIdentity {role}",
            lambda role=role: anonymous.assume_role_with_web_identity(
                RoleArn=role, RoleSessionName="bob-web", WebIdentityToken=creds["sessionToken"]
            ),
        )
    # nor through the store's IAM API (new keys, users, a wider trust policy)
    iam = client_for("iam", creds, endpoint)
    role = UPLOAD_ROLE_ARN.rsplit("/", 1)[-1]
    trust_all = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}],
        }
    )
    iam_calls: tuple[tuple[str, Callable[[], object]], ...] = (
        ("CreateAccessKey", lambda: iam.create_access_key(UserName=SERVER_IDENTITY)),
        ("ListAccessKeys", lambda: iam.list_access_keys(UserName=SERVER_IDENTITY)),
        ("CreateUser", lambda: iam.create_user(UserName="bob-admin")),
        (
            "UpdateAssumeRolePolicy",
            lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust_all),
        ),
        (
            "PutRolePolicy",
            lambda: iam.put_role_policy(RoleName=role, PolicyName="x", PolicyDocument=WIDE_POLICY),
        ),
    )
    for label, iam_call in iam_calls:
        try:
            iam_call()
            escalations.append(f"IAM {label} was answered")
        except ClientError as exc:
            assert 400 <= exc.response["ResponseMetadata"]["HTTPStatusCode"] < 500, (label, exc.response)
    assert not escalations, "\n".join(escalations)
    assert store.get_bytes(victim) == b"alice's results"


def test_removed_user_keeps_only_the_one_key_until_expiry(make_account: Any, seaweed: S3Config) -> None:
    """Credentials outlive ``remove-user`` (S3 cannot revoke them), but only for their one key and
    15 minutes: they never reach another key."""
    from gsdesktop.server.users import UserStore

    alice, bob = make_account("alice"), make_account("bob")
    store = S3Store(seaweed, create_bucket=False)
    victim = f"users/{alice.username}/data.txt"
    store.put_bytes(victim, b"keep")
    info = uploadinfo(bob, "late.txt")
    UserStore(store).remove(bob.username)
    s3 = client_for("s3", info["amazonCredentials"], info["s3Endpoint"])
    denied(lambda: s3.put_object(Bucket=info["s3BucketName"], Key=victim, Body=b"evil"))
    sts = client_for("sts", info["amazonCredentials"], info["s3Endpoint"])
    denied(lambda: sts.assume_role(RoleArn=UPLOAD_ROLE_ARN, RoleSessionName="bob-after"))
    assert store.get_bytes(victim) == b"keep"


def test_upload_urls_are_short_lived_by_default(account: Account) -> None:
    """Signed upload URLs, like the credentials, outlive passwd/remove-user until they expire: the
    default lifetime is 15 minutes (single URL and batch; clients ask again when one expired)."""
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    client = DataManagerClient(account.server_url, account.username, account.password)
    b64 = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    single = client.request(
        "GET",
        f"/datamanager/v1.0/uploadurl/Home/{account.username}/short.txt",
        params={"Content-Length": 1, "Content-MD5": b64, "Content-Type": "text/plain"},
    ).text
    batch = client.request(
        "POST",
        "/datamanager/uploadurls-batch",
        json={
            "files": [
                {
                    "path": f"/users/{account.username}/b.txt",
                    "size": 1,
                    "md5": hashlib.md5(b"x").hexdigest(),
                    "contentType": "text/plain",
                }
            ]
        },
    ).json()["results"][0]["url"]
    for url in (single, batch):
        assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["900"], url
