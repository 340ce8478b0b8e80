"""The S3 store behind the Data Manager server (boto3, path-style addressing, SigV4).

:class:`S3Store` is a thin wrapper: the boto3 client is ``.s3`` and the bucket ``.bucket``; helpers
cover the few operations the server needs (head, small reads/writes, paged listing, server-side copy,
streaming reads) and presigned URLs. Presigned URLs are made with a second client pointed at
``public_endpoint`` when that is set, so clients outside a private network reach the store.
"""

from __future__ import annotations

import logging
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gsdesktop.server.seaweed import S3Config

if TYPE_CHECKING:  # boto3-stubs (a dev dependency) types the client for mypy; at run time it is boto3's
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

log = logging.getLogger(__name__)

PRECONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


def error_code(exc: ClientError) -> str:
    """The S3 error code of a boto3 ``ClientError`` (``"NoSuchKey"``, ``"404"``...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One listed or HEAD-ed object."""

    key: str
    size: int
    etag: str
    last_modified: datetime | None  # None when the store did not say
    content_type: str | None = None
    metadata: dict[str, str] | None = None

    @property
    def is_multipart_etag(self) -> bool:
        return "-" in self.etag

    @property
    def md5(self) -> str | None:
        """The object's MD5 (hex): the single-part ETag, else ``x-amz-meta-md5-hash`` when known."""
        if self.etag and not self.is_multipart_etag:
            return self.etag.lower()
        if self.metadata:
            value = self.metadata.get("md5-hash")
            if value:
                return value.lower()
        return None


_META = "x-amz-meta-"
_AFTER = "after:"  # a page token meaning "StartAfter this key" (see S3Store.list_page)


def token_after(key: str) -> str:
    """A page token that continues a listing after ``key`` (``S3Store.list_page`` takes it)."""
    return _AFTER + key


def key_before(token: str | None) -> str | None:
    """The key a :func:`token_after` token continues after; ``None`` for the first page or a store's own
    (opaque) continuation token."""
    return token[len(_AFTER) :] if token and token.startswith(_AFTER) else None


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a ``ListObjectsV2`` call."""

    objects: list[ObjectInfo]
    prefixes: list[str]
    next_token: str | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _client_error(status: int, body: bytes, operation: str) -> ClientError:
    code, message = str(status), ""
    try:
        root = ET.fromstring(body)
        for child in root:
            if _local(child.tag) == "Code":
                code = child.text or code
            elif _local(child.tag) == "Message":
                message = child.text or ""
    except ET.ParseError:
        pass
    err: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(err, operation)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _parse_list(body: bytes) -> ListPage:
    root = ET.fromstring(body)
    encoded = any(_local(c.tag) == "EncodingType" and (c.text or "").lower() == "url" for c in root)

    def dec(text: str | None) -> str:
        return unquote_plus(text or "") if encoded else (text or "")

    objects: list[ObjectInfo] = []
    prefixes: list[str] = []
    truncated, next_token = False, None
    for child in root:
        tag = _local(child.tag)
        if tag == "Contents":
            fields = {_local(f.tag): f.text for f in child}
            objects.append(
                ObjectInfo(
                    key=dec(fields.get("Key")),
                    size=int(fields.get("Size") or 0),
                    etag=(fields.get("ETag") or "").strip('"'),
                    last_modified=_parse_time(fields.get("LastModified")),
                )
            )
        elif tag == "CommonPrefixes":
            for f in child:
                if _local(f.tag) == "Prefix":
                    prefixes.append(dec(f.text))
        elif tag == "IsTruncated":
            truncated = (child.text or "").strip().lower() == "true"
        elif tag == "NextContinuationToken":
            next_token = child.text
    return ListPage(objects, prefixes, next_token if truncated else None)


def _client(
    cfg: S3Config, endpoint: str | None, pool: int, *, timeout: float | None = None, attempts: int = 3
) -> S3Client:
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": attempts, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=timeout or 10,
        read_timeout=timeout or 120,
        # SeaweedFS and MinIO do not need the newer checksum headers; avoid surprising them
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    kwargs: dict[str, Any] = {"region_name": cfg.region, "config": config}
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if cfg.access_key and cfg.secret_key:
        kwargs["aws_access_key_id"] = cfg.access_key
        kwargs["aws_secret_access_key"] = cfg.secret_key
    return boto3.client("s3", **kwargs)


class S3Store:
    """The bucket holding user files (``users/``), server state (``.gsdm/``) and refget data."""

    def __init__(self, cfg: S3Config, *, create_bucket: bool = True, pool_size: int = 32) -> None:
        self.cfg = cfg
        self.bucket = cfg.bucket
        self.s3: S3Client = _client(cfg, cfg.endpoint, pool_size)
        if cfg.public_endpoint and cfg.public_endpoint != cfg.endpoint:
            self.presigner: S3Client = _client(cfg, cfg.public_endpoint, 4)
        else:
            self.presigner = self.s3
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=10, read=120),
            retries=urllib3.Retry(total=3, connect=3, read=2, status=0, backoff_factor=0.1),
        )
        from gsdesktop.server.presign import FastPutSigner

        self._fast_put = FastPutSigner(self.presigner, self.bucket)
        self._probe: S3Client | None = None
        self._batch_delete_if: bool | None = None  # DeleteObjects honours each item's ETag (probed once)
        # called with ("upload" | "download", bytes or None) for every URL signed (the server's metrics)
        self.on_signed: Callable[[str, int | None], None] | None = None
        if create_bucket:
            self.ensure_bucket()

    # -- bucket -------------------------------------------------------------------------------------------
    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (SeaweedFS needs names of >= 3 characters)."""
        if len(self.bucket) < 3:
            raise ValueError(f"S3 bucket name {self.bucket!r} is too short (at least 3 characters)")
        try:
            self.s3.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if not is_not_found(exc) and error_code(exc) not in ("403", "AccessDenied"):
                raise
        try:
            if self.cfg.region and self.cfg.region != "us-east-1" and not self.cfg.endpoint:
                self.s3.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.cfg.region},  # type: ignore[typeddict-item]  # any region name: the store is not AWS
                )
            else:
                self.s3.create_bucket(Bucket=self.bucket)
            log.info("created bucket %s", self.bucket)
        except ClientError as exc:
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def unavailable(self, timeout: float = 3.0) -> str | None:
        """``None`` when the bucket answers one HEAD within ``timeout`` s, else the reason (no retries)."""
        if self._probe is None:
            self._probe = _client(self.cfg, self.cfg.endpoint, 2, timeout=timeout, attempts=1)
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            return f"the S3 store refused a HEAD of bucket {self.bucket!r} ({error_code(exc) or 'error'})"
        except BotoCoreError as exc:
            return f"the S3 store does not answer ({type(exc).__name__}: {exc})"
        return None

    # -- objects ------------------------------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo | None:
        """HEAD an object; ``None`` when absent.

        Signed by boto3 but sent and read here (like :meth:`list_page`): botocore's full request
        pipeline costs about 2 ms of CPU per call, this about half, and folder checks make many.
        """
        url = self.s3.generate_presigned_url(
            "head_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=300
        )
        r = self._http.request("HEAD", url, preload_content=True)
        if r.status == 404:
            return None
        if r.status != 200:
            raise _client_error(r.status, b"", "HeadObject")
        headers = r.headers
        metadata = {
            name.lower()[len(_META) :]: value
            for name, value in headers.items()
            if name.lower().startswith(_META)
        }
        modified = headers.get("Last-Modified")
        return ObjectInfo(
            key=key,
            size=int(headers.get("Content-Length") or 0),
            etag=str(headers.get("ETag", "")).strip('"'),
            last_modified=parsedate_to_datetime(modified) if modified else None,
            content_type=headers.get("Content-Type"),
            metadata=metadata,
        )

    def get_bytes(self, key: str) -> bytes | None:
        """A small object's bytes, or ``None`` when absent."""
        try:
            r = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return bytes(r["Body"].read())

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        if_none_match: bool = False,
    ) -> bool:
        """Write a small object. With ``if_none_match`` only when absent; returns False if it existed."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data}
        kwargs["ContentType"] = content_type
        if metadata:
            kwargs["Metadata"] = metadata
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        try:
            self.s3.put_object(**kwargs)
        except ClientError as exc:
            if if_none_match and error_code(exc) in PRECONDITION_CODES:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )

    def copy(self, src: str, dst: str, size: int | None = None) -> None:
        """Server-side copy keeping metadata (multipart copy for objects over 5 GB)."""
        if size is not None and size > 5 * 1024**3:
            self.s3.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dst)
            return
        self.s3.copy_object(
            Bucket=self.bucket,
            Key=dst,
            CopySource={"Bucket": self.bucket, "Key": src},
            MetadataDirective="COPY",
        )

    def copy_new(self, src: str, dst: str, etag: str, size: int) -> bool:
        """Copy ``src`` to ``dst`` only if ``src`` is still version ``etag`` and ``dst`` does not exist.

        ``CopySourceIfMatch`` + ``IfNoneMatch: *`` (metadata and ETag are kept). False when either
        condition fails (or the source is gone). Objects over 5 GiB go through a multipart copy, where
        the store checks only the source; the destination is checked just before (not atomically).
        """
        try:
            if size > 5 * 1024**3:
                if self.head(dst) is not None:
                    return False
                extra = {"CopySourceIfMatch": f'"{etag}"'}
                self.s3.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dst, ExtraArgs=extra)
                return True
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=dst,
                CopySource={"Bucket": self.bucket, "Key": src},
                CopySourceIfMatch=f'"{etag}"',
                IfNoneMatch="*",
                MetadataDirective="COPY",
            )
        except ClientError as exc:
            if error_code(exc) in PRECONDITION_CODES or is_not_found(exc):
                return False
            raise
        return True

    def delete_if(self, key: str, etag: str) -> bool:
        """Delete ``key`` only while it is version ``etag``: re-checked by HEAD right before, and sent
        with ``If-Match`` (stores that honour it, as SeaweedFS does, refuse a later write's deletion).
        False when the object is gone or changed."""
        info = self.head(key)
        if info is None or info.etag != etag:
            return False
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key, IfMatch=f'"{etag}"')
        except ClientError as exc:
            if error_code(exc) in PRECONDITION_CODES or is_not_found(exc):
                return False
            raise
        return True

    @contextmanager
    def reading(
        self, key: str, chunk_size: int = 64 * 1024
    ) -> Iterator[tuple[ObjectInfo, Iterator[bytes]] | None]:
        """``with store.reading(key) as found:`` -> ``None`` when the object is absent, else its info
        (from the GET itself, so it describes exactly the bytes read) and its bytes in chunks, never
        loaded whole; the connection is released on leaving the block."""
        try:
            r = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            yield None
            return
        body = r["Body"]
        info = ObjectInfo(
            key=key,
            size=int(r.get("ContentLength") or 0),
            etag=str(r.get("ETag", "")).strip('"'),
            last_modified=r.get("LastModified"),
            content_type=r.get("ContentType"),
            metadata=dict(r.get("Metadata") or {}),
        )
        try:
            yield info, body.iter_chunks(chunk_size)
        finally:
            body.close()

    def batch_delete_if_supported(self) -> bool:
        """Whether ``DeleteObjects`` honours each item's ``ETag`` (SeaweedFS does, as AWS S3 does since
        2024): probed once on a scratch key, which a wrong ETag must leave in place. A store that ignored
        it would delete the probe: then :meth:`delete_many_if` is never used and deletions stay one by one.
        """
        if self._batch_delete_if is None:
            key = f".gsdm/probe/delete-if-{secrets.token_hex(8)}"
            self.put_bytes(key, b"probe", content_type="application/octet-stream")
            info = self.head(key)
            honoured = False
            try:
                resp = self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key, "ETag": '"' + "0" * 32 + '"'}]}
                )
                errors = resp.get("Errors", [])
                refused = {e.get("Key") for e in errors if e.get("Code") in PRECONDITION_CODES}
                honoured = key in refused and info is not None and self.head(key) is not None
            except ClientError as exc:
                log.info("DeleteObjects with ETag conditions refused (%s)", error_code(exc))
            finally:
                self.delete(key)
            self._batch_delete_if = honoured
            log.info("conditional batch deletes %s", "supported" if honoured else "not supported: one by one")
        return self._batch_delete_if

    def delete_many_if(self, items: list[tuple[str, str]]) -> set[str]:
        """Delete each ``(key, etag)`` only while it is that version (``DeleteObjects`` with each item's
        ``ETag``, up to 1,000 per request); returns the keys the store reports deleted. Anything else
        (changed, gone, refused) stays. Only for stores where :meth:`batch_delete_if_supported`."""
        deleted: set[str] = set()
        for i in range(0, len(items), 1000):
            chunk = items[i : i + 1000]
            resp = self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k, "ETag": f'"{e}"'} for k, e in chunk], "Quiet": False},
            )
            deleted.update(str(d["Key"]) for d in resp.get("Deleted", []) if "Key" in d)
        return deleted

    def stream(self, key: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """The object's bytes in chunks, never loaded whole. Raises ``ClientError`` when absent."""
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    # -- listing ------------------------------------------------------------------------------------------
    def list_page(
        self, prefix: str, *, delimiter: str | None = "/", token: str | None = None, max_keys: int = 1000
    ) -> ListPage:
        """One ``ListObjectsV2`` page.

        The request is signed by boto3 but sent and parsed here: botocore's generic XML parser costs
        about 0.7 ms per key, which made large listings CPU-bound; ElementTree is ~50x faster.
        """
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        kwargs["EncodingType"] = "url"
        if delimiter:
            kwargs["Delimiter"] = delimiter
        after = key_before(token)
        if after is not None:
            kwargs["StartAfter"] = after
        elif token:
            kwargs["ContinuationToken"] = token
        url = self.s3.generate_presigned_url("list_objects_v2", Params=kwargs, ExpiresIn=300)
        r = self._http.request("GET", url, preload_content=True)
        if r.status != 200:
            raise _client_error(r.status, r.data, "ListObjectsV2")
        page = _parse_list(r.data)
        if page.next_token is None and len(page.objects) + len(page.prefixes) >= max_keys:
            # SeaweedFS answers IsTruncated=false on some full pages that end at a "dir/" marker
            # (seen with 4.48); continue after the last key, an empty page ends the listing.
            last = max([o.key for o in page.objects] + page.prefixes)
            page = ListPage(page.objects, page.prefixes, token_after(last))
        return page

    def list_all(self, prefix: str, *, delimiter: str | None = "/") -> tuple[list[ObjectInfo], list[str]]:
        """Every object and common prefix under ``prefix`` (all pages)."""
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        token: str | None = None
        while True:
            page = self.list_page(prefix, delimiter=delimiter, token=token)
            objects.extend(page.objects)
            prefixes.extend(page.prefixes)
            token = page.next_token
            if not token:
                return objects, prefixes

    def any_under(self, prefix: str) -> bool:
        """True when at least one object has a key starting with ``prefix``."""
        return bool(self.list_page(prefix, delimiter=None, max_keys=1).objects)

    # -- presigned URLs -----------------------------------------------------------------------------------
    def note_signed(self, direction: str, nbytes: int | None) -> None:
        """Tell the ``on_signed`` observer (the server's metrics) that a URL for ``nbytes`` was signed."""
        if self.on_signed is not None:
            self.on_signed(direction, nbytes)

    def presign_get(
        self, key: str, expires: int = 300, *, filename: str | None = None, size: int | None = None
    ) -> str:
        """A GET URL; ``size`` (when the caller knows it) is counted as bytes signed for download."""
        self.note_signed("download", size)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename is not None:
            from urllib.parse import quote

            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return str(self.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expires))

    def presign_put(
        self,
        key: str,
        *,
        content_length: int,
        content_md5: str | None,
        content_type: str,
        md5_hex: str | None,
        expires: int = 3600,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """A PUT URL whose signature binds length, Content-MD5, Content-Type and ``x-amz-meta-md5-hash``.

        ``if_match`` (an S3 ETag, without quotes) or ``if_none_match`` also bind ``If-Match: "<etag>"`` /
        ``If-None-Match: *``: the client must send that header, and S3 answers 412 when it fails.
        """
        self.note_signed("upload", content_length)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentLength": content_length,
            "ContentType": content_type,
        }
        if content_md5:
            params["ContentMD5"] = content_md5
        if if_match:
            params["IfMatch"] = f'"{if_match}"'
        elif if_none_match:
            params["IfNoneMatch"] = "*"
        fast = self._fast_put.presign_put(
            key,
            {k: str(v) for k, v in params.items() if k not in ("Bucket", "Key")},
            expires,
            md5_meta=md5_hex,
        )
        if fast is not None:
            return fast
        if md5_hex:
            params["Metadata"] = {"md5-hash": md5_hex}
        return str(self.presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=expires))
