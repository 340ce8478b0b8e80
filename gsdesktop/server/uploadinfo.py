"""v1.0 ``GET /datamanager/v1.0/uploadinfo/<path>``: temporary credentials that write one object.

The real GenomeSpace answered with STS credentials and the bucket/key to PUT (python-genomespaceclient
uploads only this way). We do the same without ever handing out the server's own keys: the server calls
STS ``AssumeRole`` on an upload role with an inline session policy that allows writing exactly one key
(``users/<user>/<path>``), for 15 minutes (the shortest STS allows). The embedded SeaweedFS is
configured with such a role (:data:`gsdesktop.server.seaweed.UPLOAD_ROLE_ARN`) whose trust policy admits
only the server's own identity, so the credentials cannot assume it again without the session policy;
on AWS set ``GSDM_STS_ROLE_ARN`` to a role whose policy allows ``s3:PutObject`` below ``users/`` and
whose trust policy names only the server's identity (never ``*`` or the role itself). A store that
cannot issue scoped credentials gets 501 with a clear message (single-PUT ``uploadurl`` and the
multipart extension keep working).

Besides the historical fields the JSON carries ``s3Endpoint``, ``s3Region`` and ``expiration`` so a
client that can set an endpoint (boto3 ``endpoint_url``, cloudbridge ``s3_endpoint_url``) finds the
store.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import Request

from gsdesktop.server import ops
from gsdesktop.server.access import Level, checked_path
from gsdesktop.server.auth import APIError
from gsdesktop.server.seaweed import UPLOAD_ROLE_ARN, S3Config
from gsdesktop.server.storage import S3Store

log = logging.getLogger(__name__)

DURATION = 900  # the shortest lifetime STS (AWS and SeaweedFS) allows; S3 cannot revoke them earlier
WRITE_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
UNAVAILABLE = (
    "uploadinfo is not available: this server's S3 store cannot issue temporary credentials limited to "
    "one file (STS AssumeRole with a session policy). Set GSDM_STS_ROLE_ARN to an upload role (AWS) "
    "or use /datamanager/v1.0/uploadurl (single PUT up to 5 GiB) or the multipart extension."
)


def role_arn(request: Request) -> str:
    """The upload role: ``settings.sts_role_arn``, ``GSDM_STS_ROLE_ARN``, else the embedded store's."""
    settings = getattr(request.app.state, "settings", None)
    return str(
        getattr(settings, "sts_role_arn", None) or os.environ.get("GSDM_STS_ROLE_ARN") or UPLOAD_ROLE_ARN
    )


def session_policy(bucket: str, key: str) -> str:
    """An IAM policy allowing writes of exactly ``bucket/key`` (nothing else: no read, list, delete)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": WRITE_ACTIONS, "Resource": [f"arn:aws:s3:::{bucket}/{key}"]}
            ],
        }
    )


def _sts_client(cfg: S3Config) -> Any:
    kwargs: dict[str, Any] = {
        "region_name": cfg.region,
        "config": Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=20),
    }
    if cfg.endpoint:
        kwargs["endpoint_url"] = cfg.endpoint  # SeaweedFS / MinIO answer STS on the S3 port
    if cfg.access_key and cfg.secret_key:
        kwargs["aws_access_key_id"] = cfg.access_key
        kwargs["aws_secret_access_key"] = cfg.secret_key
    return boto3.client("sts", **kwargs)


def scoped_credentials(store: S3Store, key: str, user: str, arn: str) -> dict[str, Any]:
    """STS credentials that can write only ``key``; raises :class:`APIError` 501 if the store cannot."""
    try:
        r = _sts_client(store.cfg).assume_role(
            RoleArn=arn,
            RoleSessionName=f"gsdm-{user}"[:64],
            Policy=session_policy(store.bucket, key),
            DurationSeconds=DURATION,
        )
    except (ClientError, BotoCoreError) as exc:
        log.info("uploadinfo: STS AssumeRole failed: %s", exc)
        raise APIError(501, UNAVAILABLE) from exc
    creds = r["Credentials"]
    expiration = creds.get("Expiration")
    return {
        "accessKey": creds["AccessKeyId"],
        "secretKey": creds["SecretAccessKey"],
        "sessionToken": creds["SessionToken"],
        "expiration": expiration.isoformat() if hasattr(expiration, "isoformat") else str(expiration),
    }


def upload_info(request: Request, raw_path: str, user: str) -> dict[str, Any]:
    """The uploadinfo JSON for ``raw_path`` (a file in the caller's own tree whose folder exists)."""
    store: S3Store = request.app.state.store
    path = checked_path(request, raw_path, user, Level.WRITE)
    assert path is not None
    if path.is_home:
        raise APIError(400, "uploadinfo needs the path of a file inside your folder")
    if any(ch in path.key for ch in "*?$"):
        # these are wildcards / variables in IAM policies: the scope would be wider than one object
        raise APIError(400, "uploadinfo cannot scope names containing '*', '?' or '$'; use uploadurl")
    ops.require_parent(store, path)
    existing = ops.stat(store, path)
    if existing is not None and existing.is_dir:
        raise APIError(409, f"{path.display('v1')} is a folder")
    creds = scoped_credentials(store, path.key, user, role_arn(request))
    cfg = store.cfg
    return {
        "uploadType": "s3",
        "amazonCredentials": {k: creds[k] for k in ("accessKey", "secretKey", "sessionToken")},
        "s3BucketName": store.bucket,
        "s3ObjectKey": path.key,
        "expiration": creds["expiration"],
        "s3Endpoint": cfg.public_endpoint or cfg.endpoint,
        "s3Region": cfg.region,
    }
