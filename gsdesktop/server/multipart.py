"""Multipart upload extension: files of any size (up to 5 TiB) through presigned part URLs.

The client never sees S3 credentials. It starts an upload for a Data Manager path (size, whole-file MD5,
Content-Type), asks for presigned ``UploadPart`` URLs in batches (each URL binds that part's
Content-MD5, so S3 itself rejects a corrupt part), lists the parts already stored (resume), and
completes with its part list; or aborts. The whole-file MD5 is given to ``CreateMultipartUpload`` as
``x-amz-meta-md5-hash`` (``CompleteMultipartUpload`` cannot set metadata), so listings and downloads can
verify the finished object. The object appears only when complete.

Where the server allows it (``md5AtComplete`` in the limits: on for the embedded SeaweedFS, whose
``CopyObject`` onto the same key rewrites only metadata), the whole-file MD5 may instead come with
*complete*: the client then sends parts while it is still hashing the file, instead of reading the whole
file once before the first byte. The server records it by copying the finished object onto itself
with the new metadata, then checks it. (On AWS that copy would copy the data, and fails above 5 GiB, so
there it stays off unless switched on.)

Upload state lives in the store (``.gsdm/multipart/<user>/<id>.json``), so any server replica can
serve any step. Uploads older than a configurable age are aborted by :func:`clean_stale_uploads`, run
at most every few minutes in a background thread when uploads start.

Endpoints (all need the ``gs-token`` cookie, like every ``/datamanager/`` call)::

    GET    /datamanager/multipart                         limits (discovery)
    POST   /datamanager/multipart/uploads                 start  {path,size,md5?,contentType?,partSize?,
                                                           ifMatch? | ifNoneMatch?}
    GET    /datamanager/multipart/uploads                 the caller's unfinished uploads
    GET    /datamanager/multipart/uploads/{id}            state + stored parts (resume)
    POST   /datamanager/multipart/uploads/{id}/urls       {parts:[{partNumber,md5}],expiresIn?}
    POST   /datamanager/multipart/uploads/{id}/complete   {parts:[{partNumber,etag}],md5?}
    DELETE /datamanager/multipart/uploads/{id}            abort
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gsdesktop.server import clash, ops, preconditions, wire
from gsdesktop.server.access import AccessStore, Level, access_of
from gsdesktop.server.auth import APIError, error_body, require_user
from gsdesktop.server.common import base_url, read_json
from gsdesktop.server.paths import DMPath, PathError, parse_path
from gsdesktop.server.storage import PRECONDITION_CODES, ObjectInfo, S3Store, error_code, is_not_found
from gsdesktop.server.wire import answer, json_body

if TYPE_CHECKING:  # boto3-stubs (a dev dependency)
    from mypy_boto3_s3.type_defs import CompleteMultipartUploadRequestTypeDef

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024**4  # S3's largest object (5 TiB)
DEFAULT_PART_SIZE = 16 * MIB
MAX_URL_BATCH = 1000
DEFAULT_URL_EXPIRES = 3600
MAX_URL_EXPIRES = 7 * 24 * 3600
DEFAULT_MAX_AGE = 7 * 24 * 3600  # stale incomplete uploads are aborted after this many seconds
CLEAN_INTERVAL = 600.0
STATE_PREFIX = ".gsdm/multipart/"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
MD5_HEX_RE = re.compile(r"^[0-9a-fA-F]{32}$")
UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

router = APIRouter(tags=["multipart (extension)"])


class MultipartError(APIError):
    """A request the extension refuses; answered with ``status`` and ``message`` as JSON."""


def choose_part_size(size: int, preferred: int | None = None) -> int:
    """The part size for ``size`` bytes: >= 5 MiB, a whole number of MiB, <= 10,000 parts."""
    part = max(MIN_PART_SIZE, int(preferred or DEFAULT_PART_SIZE))
    needed = math.ceil(size / MAX_PARTS)
    if part < needed:
        part = math.ceil(needed / MIB) * MIB
    return part


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def expected_part_size(size: int, part_size: int, number: int) -> int:
    """Bytes in part ``number`` (1-based) of an upload of ``size`` bytes."""
    count = part_count(size, part_size)
    if number < count:
        return part_size
    return size - part_size * (count - 1)


def hex_to_b64(md5_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii")


def normalize_md5(value: Any, what: str = "md5") -> str:
    """Accept an MD5 as 32 hex digits or base64 (Content-MD5 form); return lowercase hex."""
    if not isinstance(value, str) or not value:
        raise MultipartError(400, f"missing or invalid {what}: give the MD5 as 32 hex digits")
    if MD5_HEX_RE.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise MultipartError(400, f"invalid {what} {value[:40]!r}: give the MD5 as 32 hex digits or base64")
    return raw.hex()


@dataclass
class UploadState:
    """What the server remembers about one unfinished upload (stored as JSON in the bucket)."""

    upload_id: str
    user: str
    rel: str
    dialect: str
    s3_upload_id: str
    size: int
    md5: str
    part_size: int
    content_type: str
    created: float
    # a conditional upload (create body ifMatch / ifNoneMatch), enforced again at complete:
    if_match_etag: str = ""  # the S3 ETag resolved at create (If-Match on CompleteMultipartUpload)
    if_none_match: bool = False  # If-None-Match: * on CompleteMultipartUpload
    owner: str = ""  # the owner of the target's tree when not ``user`` (a folder shared with Write)

    @property
    def dm_path(self) -> DMPath:
        return DMPath(self.owner or self.user, self.rel)

    @property
    def key(self) -> str:
        return self.dm_path.key

    @property
    def parts(self) -> int:
        return part_count(self.size, self.part_size)

    def public(self) -> dict[str, Any]:
        return {
            "uploadId": self.upload_id,
            "path": self.dm_path.display(self.dialect),
            "size": self.size,
            "md5": self.md5,
            "contentType": self.content_type,
            "partSize": self.part_size,
            "partCount": self.parts,
            "created": int(self.created),
        }


def _state_key(user: str, upload_id: str) -> str:
    return f"{STATE_PREFIX}{user}/{upload_id}.json"


def save_state(store: S3Store, state: UploadState) -> None:
    store.put_bytes(
        _state_key(state.user, state.upload_id),
        json.dumps(asdict(state)).encode(),
        content_type="application/json",
    )


def load_state(store: S3Store, user: str, upload_id: str) -> UploadState:
    if not UPLOAD_ID_RE.match(upload_id or ""):
        raise MultipartError(404, "no such multipart upload")
    raw = store.get_bytes(_state_key(user, upload_id))
    if raw is None:
        raise MultipartError(404, "no such multipart upload (finished, aborted or expired)")
    try:
        return UploadState(**json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise MultipartError(500, "multipart upload state is unreadable") from exc


def _drop_state(store: S3Store, state: UploadState) -> None:
    try:
        store.delete(_state_key(state.user, state.upload_id))
    except ClientError:
        log.warning("could not delete multipart state %s", state.upload_id)


# -- operations (plain functions; the routes below add HTTP) ----------------------------------------------
def start_upload(
    store: S3Store,
    user: str,
    raw_path: str,
    size: Any,
    md5: Any,
    content_type: Any = None,
    preferred_part_size: Any = None,
    md5_at_complete: bool = False,
    precondition: preconditions.Precondition | None = None,
    *,
    access: AccessStore,
) -> UploadState:
    """Create the S3 multipart upload for ``raw_path`` (a user's file path) and remember it.

    ``md5`` may be left out only when ``md5_at_complete`` (the server allows the MD5 at *complete*).
    A ``precondition`` is checked now (412) and again by S3 at complete. Any path the user may write is
    accepted (their own tree, or a folder shared with them with Write), as ``access`` decides.
    """
    try:
        path = parse_path(str(raw_path or "")).path
    except PathError as exc:
        raise MultipartError(400, str(exc)) from exc
    if path is None:
        raise MultipartError(400, "the path must name a file: /users/<user>/<dir>/<file>")
    access.require(user, path, Level.WRITE)
    dialect = "v1" if str(raw_path).lstrip("/").lower().startswith("home") else "beta"
    if path.is_home:
        raise MultipartError(400, "the path must name a file inside your folder")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise MultipartError(400, "size must be a positive whole number of bytes")
    if size > MAX_OBJECT_SIZE:
        raise MultipartError(413, "files larger than 5 TiB cannot be stored")
    md5_hex = "" if md5 in (None, "") and md5_at_complete else normalize_md5(md5, "whole-file md5")
    if md5_hex == EMPTY_MD5:
        raise MultipartError(400, "that is the MD5 of an empty file, not of a file with content")
    if preferred_part_size is not None and (
        not isinstance(preferred_part_size, int) or isinstance(preferred_part_size, bool)
    ):
        raise MultipartError(400, "partSize must be a whole number of bytes")
    ctype = str(content_type or "application/octet-stream")
    if len(ctype) > 200 or any(ord(c) < 32 for c in ctype):
        raise MultipartError(400, "invalid contentType")
    ops.require_parent(store, path)
    existing = ops.stat(store, path)
    resolved = preconditions.Resolved()
    if precondition is not None:
        try:
            resolved = preconditions.resolve(
                store,
                path,
                precondition,
                path.display(dialect),
                info=existing.info if existing is not None and not existing.is_dir else None,
                known=True,
                is_dir=existing is not None and existing.is_dir,
            )
        except preconditions.PreconditionError as exc:
            raise MultipartError(exc.status, exc.message) from exc
    if existing is not None and existing.is_dir:
        raise MultipartError(409, f"{path.display(dialect)} is a folder")
    part_size = choose_part_size(size, preferred_part_size)
    meta = {"md5-hash": md5_hex} if md5_hex else {}
    r = store.s3.create_multipart_upload(Bucket=store.bucket, Key=path.key, ContentType=ctype, Metadata=meta)
    state = UploadState(
        upload_id=secrets.token_urlsafe(18),
        user=user,
        owner=path.user if path.user != user else "",
        rel=path.rel,
        dialect=dialect,
        s3_upload_id=str(r["UploadId"]),
        size=size,
        md5=md5_hex,
        part_size=part_size,
        content_type=ctype,
        created=time.time(),
        if_match_etag=resolved.if_match_etag or "",
        if_none_match=resolved.if_none_match,
    )
    save_state(store, state)
    return state


def stored_parts(store: S3Store, state: UploadState) -> list[dict[str, Any]]:
    """Every part S3 holds for the upload (all pages), as ``{partNumber, etag, size}``.

    SeaweedFS lists a part number twice when it was uploaded twice; every entry is returned.
    """
    out: list[dict[str, Any]] = []
    marker = 0
    while True:
        try:
            r = store.s3.list_parts(
                Bucket=store.bucket,
                Key=state.key,
                UploadId=state.s3_upload_id,
                PartNumberMarker=marker,
                MaxParts=1000,
            )
        except ClientError as exc:
            if error_code(exc) in ("NoSuchUpload", "404", "NoSuchKey"):
                raise MultipartError(404, "the multipart upload no longer exists in the store") from exc
            raise
        for p in r.get("Parts", []):
            out.append(
                {
                    "partNumber": int(p["PartNumber"]),
                    "etag": str(p.get("ETag", "")).strip('"').lower(),
                    "size": int(p.get("Size", 0)),
                }
            )
        if not r.get("IsTruncated"):
            return out
        nxt = int(r.get("NextPartNumberMarker") or 0)
        if nxt <= marker:
            return out
        marker = nxt


def part_urls(store: S3Store, state: UploadState, parts: Any, expires: Any = None) -> list[dict[str, Any]]:
    """Presigned ``UploadPart`` URLs, each binding the Content-MD5 the client declared for that part."""
    if not isinstance(parts, list) or not parts:
        raise MultipartError(400, "parts must be a non-empty list of {partNumber, md5}")
    if len(parts) > MAX_URL_BATCH:
        raise MultipartError(400, f"ask for at most {MAX_URL_BATCH} part URLs at a time")
    ttl = DEFAULT_URL_EXPIRES if expires is None else expires
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
        raise MultipartError(400, "expiresIn must be a positive number of seconds")
    ttl = min(ttl, MAX_URL_EXPIRES)
    out: list[dict[str, Any]] = []
    for item in parts:
        if not isinstance(item, dict):
            raise MultipartError(400, "each part must be an object {partNumber, md5}")
        number = item.get("partNumber")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= state.parts:
            raise MultipartError(400, f"partNumber must be between 1 and {state.parts}")
        md5_hex = normalize_md5(item.get("md5"), f"md5 of part {number}")
        url = store.presigner.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": store.bucket,
                "Key": state.key,
                "UploadId": state.s3_upload_id,
                "PartNumber": number,
                "ContentMD5": hex_to_b64(md5_hex),
            },
            ExpiresIn=ttl,
        )
        store.note_signed("upload", expected_part_size(state.size, state.part_size, number))
        out.append(
            {
                "partNumber": number,
                "url": str(url),
                "contentMd5": hex_to_b64(md5_hex),
                "size": expected_part_size(state.size, state.part_size, number),
                "expiresAt": int(time.time()) + ttl,
            }
        )
    return out


def complete_upload(store: S3Store, state: UploadState, parts: Any, md5: Any = None) -> dict[str, Any]:
    """Check the client's part list against what S3 stored, then complete and verify the object.

    ``md5`` is the whole file's MD5: required when the upload started without one, else optional and
    then it must be the one given at the start.
    """
    if not isinstance(parts, list):
        raise MultipartError(400, "parts must be a list of {partNumber, etag}")
    whole = state.md5
    if md5 not in (None, ""):
        given = normalize_md5(md5, "whole-file md5")
        if whole and given != whole:
            raise MultipartError(409, "the file's MD5 does not match the MD5 given when the upload started")
        whole = given
    if not whole:
        raise MultipartError(400, "missing md5: this upload started without the file's MD5, give it here")
    if whole == EMPTY_MD5:
        raise MultipartError(400, "that is the MD5 of an empty file, not of a file with content")
    wanted: dict[int, str] = {}
    for item in parts:
        if not isinstance(item, dict):
            raise MultipartError(400, "each part must be an object {partNumber, etag}")
        number = item.get("partNumber")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= state.parts:
            raise MultipartError(400, f"partNumber must be between 1 and {state.parts}")
        wanted[number] = normalize_md5(str(item.get("etag", "")).strip('"'), f"etag of part {number}")
    if state.parts == 1 and wanted.get(1, whole) != whole:
        # one part is the whole file: its verified MD5 must be the file's MD5
        raise MultipartError(409, "the file's MD5 does not match the MD5 of its only part")
    missing = [n for n in range(1, state.parts + 1) if n not in wanted]
    if missing:
        raise MultipartError(409, f"{len(missing)} of {state.parts} parts are missing (first: {missing[0]})")
    # a name is one thing: the path may have become a folder, or its folder a file, since the start
    if clash.is_clash(store, state.dm_path):
        raise MultipartError(
            409,
            f"{state.dm_path.display(state.dialect)} is now a folder: the upload was not completed "
            "(its parts are kept until you abort it)",
        )
    ops.require_parent(store, state.dm_path)
    try:
        etag = _assemble(store, state, wanted)
    except MultipartError as exc:
        # a retried complete whose first attempt assembled these parts but stopped before the MD5 record
        info = store.head(state.key) if exc.status == 404 and not state.md5 else None
        if info is None or not _assembled_from(info, state, wanted):
            raise
        etag = info.etag
    info = store.head(state.key)
    if info is not None and info.etag == etag and (info.metadata or {}).get("md5-hash") != whole:
        _record_md5(store, state, whole, etag)
        info = store.head(state.key)
    if info is None or info.etag != etag or (info.metadata or {}).get("md5-hash") != whole:
        # another upload (or a move, a delete) replaced the object since this one assembled it
        _drop_state(store, state)
        raise _replaced(state)
    if info.size != state.size:
        raise MultipartError(500, "the assembled file does not have the expected size")
    _drop_state(store, state)
    return {
        "path": state.dm_path.display(state.dialect),
        "size": info.size,
        "md5": whole,
        "etag": info.etag,
        "contentType": state.content_type,
    }


def _replaced(state: UploadState) -> MultipartError:
    path = state.dm_path.display(state.dialect)
    return MultipartError(
        409, f"{path} was replaced by another upload while this one finished; this upload is not stored"
    )


def _assemble(store: S3Store, state: UploadState, wanted: dict[int, str]) -> str:
    """Check every part is stored with the client's MD5 and size, then ``CompleteMultipartUpload``.

    Returns the assembled object's S3 ETag.
    """
    held: dict[int, list[dict[str, Any]]] = {}
    for p in stored_parts(store, state):
        held.setdefault(p["partNumber"], []).append(p)
    for number, etag in wanted.items():
        size = expected_part_size(state.size, state.part_size, number)
        if not any(p["etag"] == etag and p["size"] == size for p in held.get(number, [])):
            raise MultipartError(
                409, f"part {number} is not stored with that MD5 and {size} bytes; upload it again"
            )
    request: CompleteMultipartUploadRequestTypeDef = {
        "Bucket": store.bucket,
        "Key": state.key,
        "UploadId": state.s3_upload_id,
        "MultipartUpload": {"Parts": [{"PartNumber": n, "ETag": f'"{wanted[n]}"'} for n in sorted(wanted)]},
    }
    if state.if_match_etag:
        request["IfMatch"] = f'"{state.if_match_etag}"'
    elif state.if_none_match:
        request["IfNoneMatch"] = "*"
    try:
        done = store.s3.complete_multipart_upload(**request)
    except ClientError as exc:
        code = error_code(exc)
        if code in ("NoSuchUpload",):
            raise MultipartError(404, "the multipart upload no longer exists in the store") from exc
        if (state.if_match_etag or state.if_none_match) and code in PRECONDITION_CODES:
            # the precondition can never hold again for this upload: discard it
            abort_upload(store, state)
            message = preconditions.changed(state.dm_path.display(state.dialect)).message
            raise MultipartError(412, f"{message}; this upload was discarded") from exc
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "BadDigest"):
            raise MultipartError(409, f"the store refused to assemble the parts ({code})") from exc
        raise
    etag = str(done.get("ETag") or "").strip('"')
    if not etag:  # a store that does not say: the ETag S3 gives the assembly of exactly these parts
        joined = b"".join(bytes.fromhex(wanted[n]) for n in sorted(wanted))
        etag = f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(wanted)}"
    return etag


def _assembled_from(info: ObjectInfo, state: UploadState, wanted: dict[int, str]) -> bool:
    """Whether the object, with no MD5 record yet, is the assembly of exactly these parts (its ETag)."""
    if info.size != state.size or (info.metadata or {}).get("md5-hash"):
        return False
    joined = b"".join(bytes.fromhex(wanted[n]) for n in sorted(wanted))
    return (
        str(info.etag or "").strip('"').lower()
        == f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(wanted)}"
    )


def _record_md5(store: S3Store, state: UploadState, md5_hex: str, etag: str) -> None:
    """Write ``x-amz-meta-md5-hash`` onto the finished object: a copy onto itself with new metadata.

    Guarded by the ETag of the object this upload assembled, as source (``CopySourceIfMatch``) and as
    destination (``IfMatch``): when another upload replaced the object in between, its bytes never get
    this upload's MD5 (409 instead).
    """
    try:
        store.s3.copy_object(
            Bucket=store.bucket,
            Key=state.key,
            CopySource={"Bucket": store.bucket, "Key": state.key},
            CopySourceIfMatch=f'"{etag}"',
            IfMatch=f'"{etag}"',
            MetadataDirective="REPLACE",
            ContentType=state.content_type,
            Metadata={"md5-hash": md5_hex},
        )
    except ClientError as exc:
        if error_code(exc) in PRECONDITION_CODES or is_not_found(exc):
            _drop_state(store, state)
            raise _replaced(state) from exc
        raise


def abort_upload(store: S3Store, state: UploadState) -> None:
    """Abort the S3 upload (its parts are deleted) and forget it."""
    try:
        store.s3.abort_multipart_upload(Bucket=store.bucket, Key=state.key, UploadId=state.s3_upload_id)
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchUpload", "404", "NoSuchKey"):
            raise
    _drop_state(store, state)


def list_uploads(store: S3Store, user: str) -> list[dict[str, Any]]:
    objects, _ = store.list_all(f"{STATE_PREFIX}{user}/", delimiter=None)
    out: list[dict[str, Any]] = []
    for obj in objects:
        upload_id = obj.key.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            out.append(load_state(store, user, upload_id).public())
        except MultipartError:
            continue
    return out


def clean_stale_uploads(store: S3Store, max_age: float = DEFAULT_MAX_AGE) -> int:
    """Abort unfinished uploads older than ``max_age`` seconds (also S3 uploads with no state).

    Returns the number of uploads aborted.
    """
    now = time.time()
    aborted = 0
    known: set[str] = set()
    objects, _ = store.list_all(STATE_PREFIX, delimiter=None)
    for obj in objects:
        try:
            state = UploadState(**json.loads(store.get_bytes(obj.key) or b"{}"))
        except (ValueError, TypeError):
            store.delete(obj.key)
            continue
        known.add(state.s3_upload_id)
        if now - state.created >= max_age:
            abort_upload(store, state)
            aborted += 1
    # orphans: S3 uploads under users/ that no state describes (e.g. a crash between the two writes)
    kwargs: dict[str, Any] = {"Bucket": store.bucket, "Prefix": "users/"}
    while True:
        r = store.s3.list_multipart_uploads(**kwargs)
        for up in r.get("Uploads", []) or []:
            initiated = up.get("Initiated")
            age = now - initiated.timestamp() if initiated is not None else max_age
            if up["UploadId"] not in known and age >= max_age:
                try:
                    store.s3.abort_multipart_upload(
                        Bucket=store.bucket, Key=up["Key"], UploadId=up["UploadId"]
                    )
                    aborted += 1
                except ClientError:
                    log.warning("could not abort stale upload %s", up["UploadId"])
        if not r.get("IsTruncated"):
            break
        kwargs["KeyMarker"] = r.get("NextKeyMarker")
        kwargs["UploadIdMarker"] = r.get("NextUploadIdMarker")
    if aborted:
        log.info("aborted %d stale multipart uploads", aborted)
    return aborted


# -- settings and the periodic cleaner ----------------------------------------------------------------------
def _setting(request: Request, name: str, env: str, default: float) -> float:
    settings = getattr(request.app.state, "settings", None)
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(env)
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def md5_at_complete(request: Request) -> bool:
    """``settings.multipart_md5_at_complete``, or ``GSDM_MULTIPART_MD5_AT_COMPLETE`` (``on``/``off``)."""
    value = getattr(getattr(request.app.state, "settings", None), "multipart_md5_at_complete", None)
    if value is None:
        value = os.environ.get("GSDM_MULTIPART_MD5_AT_COMPLETE", "off").strip().lower()
        return value in ("on", "1", "true", "yes")
    return bool(value)


def max_age_setting(request: Request) -> float:
    """``settings.multipart_max_age`` or ``GSDM_MULTIPART_MAX_AGE`` (seconds), default 7 days."""
    return _setting(request, "multipart_max_age", "GSDM_MULTIPART_MAX_AGE", DEFAULT_MAX_AGE)


_clean_lock = threading.Lock()
_last_clean = [0.0]


def maybe_clean(store: S3Store, max_age: float, interval: float = CLEAN_INTERVAL) -> None:
    """Run :func:`clean_stale_uploads` in a background thread at most every ``interval`` seconds."""
    with _clean_lock:
        now = time.monotonic()
        if _last_clean[0] and now - _last_clean[0] < interval:
            return
        _last_clean[0] = now

    def run() -> None:
        try:
            clean_stale_uploads(store, max_age)
        except Exception:  # a background sweep must never take the server down
            log.exception("stale multipart cleanup failed")

    threading.Thread(target=run, name="gsdm-multipart-clean", daemon=True).start()


# -- HTTP ---------------------------------------------------------------------------------------------------
def _store(request: Request) -> S3Store:
    return request.app.state.store  # type: ignore[no-any-return]


def enabled(request: Request) -> bool:
    """``settings.multipart_enabled`` or ``GSDM_MULTIPART`` (``off`` disables the extension)."""
    settings = getattr(request.app.state, "settings", None)
    value = getattr(settings, "multipart_enabled", None)
    if value is None:
        return os.environ.get("GSDM_MULTIPART", "on").strip().lower() not in ("off", "0", "false", "no")
    return bool(value)


def current_user(request: Request) -> str:
    """The authenticated caller; 404 for everything when the extension is switched off."""
    if not enabled(request):
        raise APIError(404, "this server does not offer multipart uploads")
    return require_user(request)


#: Largest JSON body of a multipart call (a complete naming 10,000 parts is about 0.7 MB).
MAX_JSON_BODY = 2 * 1024 * 1024


def _error(exc: APIError) -> JSONResponse:
    return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status, headers=exc.headers)


@router.get("/datamanager/multipart", response_model=None, responses=answer(wire.MultipartLimits))
def limits(request: Request, user: str = Depends(current_user)) -> dict[str, Any]:
    return {
        "md5AtComplete": md5_at_complete(request),
        "version": 1,
        "minPartSize": MIN_PART_SIZE,
        "defaultPartSize": DEFAULT_PART_SIZE,
        "maxParts": MAX_PARTS,
        "maxSize": MAX_OBJECT_SIZE,
        "maxUrlBatch": MAX_URL_BATCH,
    }


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of the request, read only now (after the route's sign-in check), capped."""
    body = await read_json(request, MAX_JSON_BODY)
    if not isinstance(body, dict):
        raise MultipartError(400, "the body must be a JSON object")
    return body


@router.post(
    "/datamanager/multipart/uploads",
    status_code=201,
    openapi_extra=json_body(wire.MultipartStart),
    responses=answer(wire.MultipartUpload, 201),
)
async def start(request: Request, user: str = Depends(current_user)) -> Response:
    try:
        body = await _body(request)
    except APIError as exc:
        return _error(exc)
    return await run_in_threadpool(_start_sync, request, body, user)


def _start_sync(request: Request, body: dict[str, Any], user: str) -> Response:
    try:
        store = _store(request)
        try:
            precondition = preconditions.parse(body)
        except preconditions.PreconditionError as exc:
            raise MultipartError(exc.status, exc.message) from exc
        state = start_upload(
            store,
            user,
            body.get("path", ""),
            body.get("size"),
            body.get("md5"),
            body.get("contentType"),
            body.get("partSize"),
            md5_at_complete(request),
            precondition,
            access=access_of(request),
        )
    except APIError as exc:
        return _error(exc)
    maybe_clean(store, max_age_setting(request))
    return JSONResponse(state.public(), status_code=201)


@router.get("/datamanager/multipart/uploads", response_model=None, responses=answer(wire.MultipartUploads))
def mine(request: Request, user: str = Depends(current_user)) -> dict[str, Any]:
    return {"uploads": list_uploads(_store(request), user)}


@router.get("/datamanager/multipart/uploads/{upload_id}", responses=answer(wire.MultipartUploadParts))
def show(upload_id: str, request: Request, user: str = Depends(current_user)) -> Response:
    try:
        store = _store(request)
        state = load_state(store, user, upload_id)
        data = state.public()
        data["parts"] = stored_parts(store, state)
    except APIError as exc:
        return _error(exc)
    return JSONResponse(data)


@router.post(
    "/datamanager/multipart/uploads/{upload_id}/urls",
    openapi_extra=json_body(wire.PartUrlsRequest),
    responses=answer(wire.PartUrls),
)
async def urls(upload_id: str, request: Request, user: str = Depends(current_user)) -> Response:
    try:
        body = await _body(request)
    except APIError as exc:
        return _error(exc)
    return await run_in_threadpool(_urls_sync, upload_id, request, body, user)


def _urls_sync(upload_id: str, request: Request, body: dict[str, Any], user: str) -> Response:
    try:
        store = _store(request)
        state = load_state(store, user, upload_id)
        access_of(request).require(user, state.dm_path, Level.WRITE)  # still allowed (not revoked)
        result = part_urls(store, state, body.get("parts"), body.get("expiresIn"))
    except APIError as exc:
        return _error(exc)
    return JSONResponse({"uploadId": upload_id, "urls": result})


@router.post(
    "/datamanager/multipart/uploads/{upload_id}/complete",
    openapi_extra=json_body(wire.MultipartComplete),
    responses=answer(wire.MultipartDone),
)
async def complete(upload_id: str, request: Request, user: str = Depends(current_user)) -> Response:
    try:
        body = await _body(request)
    except APIError as exc:
        return _error(exc)
    return await run_in_threadpool(_complete_sync, upload_id, request, body, user)


def _complete_sync(upload_id: str, request: Request, body: dict[str, Any], user: str) -> Response:
    try:
        store = _store(request)
        state = load_state(store, user, upload_id)
        access_of(request).require(user, state.dm_path, Level.WRITE)  # still allowed (not revoked)
        result = complete_upload(store, state, body.get("parts"), body.get("md5"))
        result["metadata"] = ops.metadata(store, state.dm_path, base_url(request), state.dialect)
    except APIError as exc:
        return _error(exc)
    return JSONResponse(result)


@router.delete(
    "/datamanager/multipart/uploads/{upload_id}", status_code=204, responses={204: {"description": "aborted"}}
)
def abort(upload_id: str, request: Request, user: str = Depends(current_user)) -> Response:
    try:
        store = _store(request)
        abort_upload(store, load_state(store, user, upload_id))
    except APIError as exc:
        return _error(exc)
    return Response(status_code=204)


@router.get("/datamanager/v1.0/uploadinfo/{path:path}", tags=["datamanager v1.0"])
def uploadinfo(path: str, request: Request, user: str = Depends(require_user)) -> Response:
    """Temporary S3 credentials that can write only this one file (501 when the store cannot scope)."""
    from gsdesktop.server.uploadinfo import upload_info

    return JSONResponse(upload_info(request, path, user))
