"""SigV4 query-string signing of S3 PUT and GET URLs without botocore's per-call machinery (~10x cheaper).

Used by the upload signers and the batch download signer, where thousands of URLs are signed per
request. A signer is only trusted after it reproduced botocore's URL byte for byte (same key,
parameters and timestamp) for the store it signs for; keys with characters outside a plain set always
go through botocore. The one reach into botocore's internals is :func:`signing_credentials`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

if TYPE_CHECKING:  # boto3-stubs (a dev dependency)
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9/._~-]+$")


def _q(text: str) -> str:
    return quote(text, safe="-_.~")


def signing_credentials(client: S3Client) -> Any:
    """The credentials ``client`` (a boto3 S3 client) signs with right now: ``access_key``,
    ``secret_key`` and ``token`` (a botocore ``ReadOnlyCredentials``; refreshed first when they expire).

    botocore has no public way to ask a client for its credentials (the keys may come from the server's
    settings or from the AWS credential chain, which can rotate them), so this is the one place that
    reaches into its request signer. A botocore that moves them breaks here only, and the fast signers
    compare their URLs with botocore's before first use, so a surprise turns them off instead of
    producing wrong signatures.
    """
    return client._request_signer._credentials.get_frozen_credentials()  # type: ignore[attr-defined]


class _SelfCheckedSigner:
    """What both fast signers share: the one-time check against botocore's own URLs, the conditions
    for the fast path, and the cached SigV4 signing key."""

    def __init__(self, presigner: S3Client, bucket: str) -> None:
        self.presigner = presigner
        self.bucket = bucket
        self._ok: bool | None = None  # None: not checked yet
        self._lock = threading.Lock()
        self._key: tuple[tuple[str, str, str], bytes] | None = None  # ((secret, date, region), key)

    def usable(self, key: str) -> bool:
        """Whether ``key`` may be signed here: a plain key, the self-check passed, and no session token
        (temporary credentials: botocore adds the token parameter)."""
        if not _PLAIN_KEY.match(key) or self._ok is False:
            return False
        if self._ok is None:
            with self._lock:
                if self._ok is None:
                    try:
                        self._ok = self._matches_botocore()
                    except Exception:  # any surprise: never use the fast path
                        log.exception("fast URL signer self-check failed (%s)", type(self).__name__)
                        self._ok = False
                    if not self._ok:
                        log.info("fast URL signer disabled: it does not reproduce botocore's URLs here")
        return bool(self._ok) and not signing_credentials(self.presigner).token

    def _matches_botocore(self) -> bool:
        raise NotImplementedError

    def _signing_key(self, secret: str, date: str, region: str) -> bytes:
        cached = self._key
        if cached is None or cached[0] != (secret, date, region):  # a new day, or rotated credentials
            k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
            for part in (region, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            cached = self._key = ((secret, date, region), k)
        return cached[1]


class FastPutSigner(_SelfCheckedSigner):
    """Presigned ``put_object`` URLs equivalent to ``presigner.generate_presigned_url``.

    Args:
        presigner: the boto3 S3 client whose URLs this reproduces (endpoint, region, credentials).
        bucket: the bucket name.
    """

    def presign_put(
        self, key: str, headers: dict[str, str], expires: int, *, md5_meta: str | None
    ) -> str | None:
        """A URL, or ``None`` when this signer is not usable for ``key`` (use botocore)."""
        if not self.usable(key):
            return None
        return self._sign(key, headers, expires, md5_meta, datetime.now(UTC))

    def _matches_botocore(self) -> bool:
        key = "users/selfcheck/dir/file-1.dat"
        for md5 in ("1B2M2Y8AsgTpgAmY7PhCfg==", None):
            for meta, cond in (("0" * 32, None), (None, None), ("0" * 32, "IfMatch"), (None, "IfNoneMatch")):
                headers: dict[str, Any] = {"ContentLength": 10240, "ContentType": "application/octet-stream"}
                if md5:
                    headers["ContentMD5"] = md5
                if cond:
                    headers[cond] = '"0123456789abcdef0123456789abcdef-3"' if cond == "IfMatch" else "*"
                params = {"Bucket": self.bucket, "Key": key, **headers}
                if meta:
                    params["Metadata"] = {"md5-hash": meta}
                ref = str(self.presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=3600))
                stamp = parse_qs(urlsplit(ref).query).get("X-Amz-Date", [""])[0]
                when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                mine = self._sign(key, {k: str(v) for k, v in headers.items()}, 3600, meta, when)
                if mine != ref:
                    return False
        return True

    def _sign(
        self, key: str, headers: dict[str, str], expires: int, md5_meta: str | None, when: datetime
    ) -> str:
        creds = signing_credentials(self.presigner)
        region = self.presigner.meta.region_name
        endpoint = self.presigner.meta.endpoint_url.rstrip("/")
        parts = urlsplit(endpoint)
        host = parts.netloc
        path = f"{parts.path}/{_q(self.bucket)}/{quote(key, safe='/-_.~')}"
        stamp = when.strftime("%Y%m%dT%H%M%SZ")
        date = stamp[:8]
        scope = f"{date}/{region}/s3/aws4_request"
        signed: dict[str, str] = {"host": host}
        if "ContentLength" in headers:
            signed["content-length"] = headers["ContentLength"]
        if headers.get("ContentMD5"):
            signed["content-md5"] = headers["ContentMD5"]
        signed["content-type"] = headers["ContentType"]
        if md5_meta:
            signed["x-amz-meta-md5-hash"] = md5_meta
        if headers.get("IfMatch"):
            signed["if-match"] = headers["IfMatch"]
        if headers.get("IfNoneMatch"):
            signed["if-none-match"] = headers["IfNoneMatch"]
        names = sorted(signed)
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{creds.access_key}/{scope}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": ";".join(names),
        }
        canonical_query = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(query.items()))
        canonical_headers = "".join(f"{n}:{signed[n].strip()}\n" for n in names)
        request = "\n".join(
            ["PUT", path, canonical_query, canonical_headers, ";".join(names), "UNSIGNED-PAYLOAD"]
        )
        to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
        sig = hmac.new(self._signing_key(creds.secret_key, date, region), to_sign.encode(), hashlib.sha256)
        url_path = f"{endpoint}/{_q(self.bucket)}/{quote(key, safe='/-_.~')}"
        return f"{url_path}?{canonical_query}&X-Amz-Signature={sig.hexdigest()}"


class FastGetSigner(_SelfCheckedSigner):
    """Presigned ``get_object`` URLs, byte for byte botocore's (checked once against it), ~10x cheaper.

    Keys outside a plain character set, temporary credentials and a failed self-check go to botocore.
    """

    def presign(self, key: str, expires: int) -> str:
        if self.usable(key):
            return self._sign(key, expires, datetime.now(UTC))
        params = {"Bucket": self.bucket, "Key": key}
        return str(self.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expires))

    def _matches_botocore(self) -> bool:
        key = "users/selfcheck/dir/file-1.dat"
        params = {"Bucket": self.bucket, "Key": key}
        ref = str(self.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=300))
        stamp = parse_qs(urlsplit(ref).query).get("X-Amz-Date", [""])[0]
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return self._sign(key, 300, when) == ref

    def _sign(self, key: str, expires: int, when: datetime) -> str:
        creds = signing_credentials(self.presigner)
        region = self.presigner.meta.region_name
        endpoint = self.presigner.meta.endpoint_url.rstrip("/")
        parts = urlsplit(endpoint)
        path = f"{parts.path}/{_q(self.bucket)}/{quote(key, safe='/-_.~')}"
        stamp = when.strftime("%Y%m%dT%H%M%SZ")
        date = stamp[:8]
        scope = f"{date}/{region}/s3/aws4_request"
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{creds.access_key}/{scope}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
        }
        canonical_query = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(query.items()))
        request = "\n".join(
            ["GET", path, canonical_query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"]
        )
        to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
        signing_key = self._signing_key(creds.secret_key, date, region)
        sig = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        url_path = f"{endpoint}/{_q(self.bucket)}/{quote(key, safe='/-_.~')}"
        return f"{url_path}?{canonical_query}&X-Amz-Signature={sig}"
