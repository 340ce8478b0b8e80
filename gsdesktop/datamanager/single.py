"""One file in one signed PUT: the upload path for everything below the multipart threshold.

The first attempt of a sync or batch upload goes out through :class:`~gsdesktop.datamanager.rawput.LeanPut`;
any other answer than a 2xx takes the full ``requests`` path (error mapping, retries with back-off, a
fresh URL when the signed one expired).
"""

from __future__ import annotations

import base64
import functools
import logging
import mimetypes
import os
import re
import urllib.parse
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests

from gsdesktop.datamanager.batch import UploadCondition, UploadSpec, UrlPrefetcher
from gsdesktop.datamanager.errors import (
    GSError,
    IntegrityError,
    LocalFileError,
    NetworkError,
    PreconditionFailed,
)
from gsdesktop.datamanager.http import error_for_exception, error_for_status
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.transfer import FileBody, ThrottledProgress, md5_file
from gsdesktop.datamanager.transport import TransferRequest, Transport

log = logging.getLogger(__name__)


def put_single(
    transport: Transport,
    signer: UrlPrefetcher,
    req: TransferRequest,
    *,
    fetch: bool = True,
    md5: str | None = None,
    condition: UploadCondition | None = None,
) -> GSFileMetadata:
    """Upload ``local`` to ``remote`` in one signed PUT (see :meth:`DataManagerClient.upload`).

    ``md5``: the file's hex MD5 when the caller already knows it (the sync engine hashed it while
    scanning and checked since that the file is unchanged). The file is then not read twice: the
    signed URL binds that MD5 as Content-MD5, so storage itself rejects bytes that do not match it.
    ``condition``: see :meth:`DataManagerClient.upload` (a lost one raises :class:`PreconditionFailed`).
    """
    local, remote, cancel = req.local, req.remote, req.cancel
    content_type = req.content_type
    ctype = content_type or mimetypes.guess_type(local.name)[0] or "application/octet-stream"
    known = md5 if md5 is not None and _is_md5_hex(md5) else None
    if known is not None:
        md5_hex, md5_b64 = known, base64.b64encode(bytes.fromhex(known)).decode("ascii")
        try:
            size = os.stat(local).st_size
        except OSError as exc:
            raise _unreadable(local, exc) from exc
    else:
        md5_hex, md5_b64, size = md5_file(local, cancel)
    tracker = ThrottledProgress(req.progress, size)
    transport.store_breaker.check(remote)
    policy = transport.transfer_policy()
    signed = signer.take(remote, UploadSpec(size, md5_b64, ctype), condition)
    url: str | None = None if signed is None else signed.url
    headers = {"Content-Length": str(size), "Content-MD5": md5_b64, "Content-Type": ctype}
    if signed is not None:
        headers.update(signed.headers)
    renewals = 0
    refreshed = False  # a fresh URL was asked for after a connection failure
    lean_tried = False
    while True:
        if cancel is not None:
            cancel.raise_if_cancelled()
        if url is None:
            signed = signer.sign(remote, UploadSpec(size, md5_b64, ctype), condition)
            url = signed.url
            for name in ("If-Match", "If-None-Match"):
                headers.pop(name, None)
            headers.update(signed.headers)
        if known is not None and not signs_md5(url):
            # storage would not check the bytes against the MD5 we were given: hash them after all
            known = None
            md5_hex, md5_b64, size = md5_file(local, cancel)
            headers.update({"Content-Length": str(size), "Content-MD5": md5_b64})
            url = None
            continue
        if wants_md5_meta(url, transport.dialect):
            headers["x-amz-meta-md5-hash"] = md5_hex
        else:
            headers.pop("x-amz-meta-md5-hash", None)
        tracker.set(0)
        if not fetch and not lean_tried:
            lean_tried = True
            # first attempt of a sync / batch upload: one lean PUT; anything but 2xx takes the
            # full path below (error mapping, retries, URL renewal)
            lean = transport.lean.put(url, local, size, headers, tracker.add, cancel)
            if lean is not None:
                stored_at = lean.date or None
                break
            tracker.set(0)
        failure: GSError
        try:
            with open(local, "rb") as fh:
                if os.fstat(fh.fileno()).st_size != size:
                    raise LocalFileError("The file changed while it was being uploaded", paths=[str(local)])
                body = FileBody(fh, size, tracker, cancel)
                resp = transport.storage_put(url, body, headers)
        except GSError:
            raise
        except requests.RequestException as exc:
            failure = error_for_exception(exc, url, [remote])
            if isinstance(failure, NetworkError):
                # the store does not answer at the signed address (it may have come back elsewhere,
                # e.g. after a restart): ask the server for a fresh URL, the first time at once
                url = None
                if not refreshed:
                    refreshed = True
                    log.info("upload URL unreachable (%s); asking for a new one", failure)
                    continue
        except OSError as exc:
            raise _unreadable(local, exc) from exc
        else:
            if resp.ok:
                stored_at = resp.headers.get("Date") or None
                resp.close()
                break
            failure = error_for_status(resp, [remote], "Storage rejected the upload")
            body_text = resp.text
            resp.close()
            if isinstance(failure, PreconditionFailed):
                if _already_stored(transport, remote, md5_hex, size):
                    stored_at = None  # an earlier attempt of this upload landed (its reply was lost)
                    break
                raise PreconditionFailed(
                    f"{remote} changed on the server since it was last synced; nothing was replaced",
                    paths=[remote], status=412,
                )  # fmt: skip
            if resp.status_code == 400 and "Digest" in body_text:
                raise IntegrityError(
                    "Storage received bytes that do not match the file's checksum "
                    "(did the file change while uploading?)",
                    paths=[str(local)],
                )
            if resp.status_code == 403 and "expired" in body_text.lower() and renewals < 3:
                renewals += 1
                url = None  # the signed URL expired: ask for a fresh one
                log.info("upload URL expired; asking for a new one")
                continue
            if not failure.retryable:
                raise failure
        policy = transport.next_attempt(policy, "PUT", url or "", failure, cancel)
    transport.store_breaker.succeeded()
    tracker.finish()
    if not fetch and signs_md5(url):
        # storage verified the bytes against the signed Content-MD5: no need to ask the server
        return uploaded_meta(transport, remote, size, md5_hex, ctype, stored_at)
    meta = transport.metadata(remote)
    if meta.md5 and meta.md5 != md5_hex:
        raise IntegrityError("The server reports a different checksum after upload", paths=[remote])
    return meta


def _already_stored(transport: Transport, remote: str, md5_hex: str, size: int) -> bool:
    """Whether the server already holds exactly these bytes at ``remote``."""
    try:
        meta = transport.metadata(remote)
    except GSError:
        return False
    return not meta.is_directory and meta.md5 == md5_hex and meta.size == size


def _unreadable(local: Path, exc: OSError) -> LocalFileError:
    return LocalFileError(f"Cannot read local file: {exc.strerror or exc}", paths=[str(local)])


def _is_md5_hex(md5: str) -> bool:
    return len(md5) == 32 and all(c in "0123456789abcdef" for c in md5)


@functools.lru_cache(maxsize=64)
def _parse_date(date: str) -> datetime | None:
    """Storage's ``Date`` header (files stored within the same second share one: parsed once)."""
    try:
        return parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None


def uploaded_meta(
    transport: Transport, remote: str, size: int, md5_hex: str, ctype: str, date: str | None
) -> GSFileMetadata:
    """Metadata of a file just stored by a verified PUT, built locally (no round trip)."""
    when = _parse_date(date) if date else None
    return GSFileMetadata(
        name=remote.rsplit("/", 1)[-1],
        path=remote,
        url=transport.server_url + transport.route("files", remote),
        is_directory=False,
        size=size,
        last_modified=when or datetime.now(UTC),
        owner=transport.username,
        md5=md5_hex,
        content_type=ctype,
    )


_SIGNED_HEADERS = re.compile(r"[?&]X-Amz-SignedHeaders=([^&#]*)")


@functools.lru_cache(maxsize=16)
def _signed_header_list(value: str) -> tuple[str, ...]:
    return tuple(urllib.parse.unquote(value).lower().split(";"))


def signed_headers(url: str | None) -> tuple[str, ...] | None:
    """The headers a SigV4 URL's signature covers (lower case), ``None`` for other URLs."""
    m = _SIGNED_HEADERS.search(url or "")
    return _signed_header_list(m.group(1)) if m else None


def signs_md5(url: str | None) -> bool:
    """True when a SigV4 URL's signature covers ``Content-MD5`` (storage then verifies the bytes)."""
    return "content-md5" in (signed_headers(url) or ())


def wants_md5_meta(url: str, dialect: Dialect) -> bool:
    """Send ``x-amz-meta-md5-hash`` only when the signature covers it (SigV4) or the beta dialect asks."""
    signed = signed_headers(url)
    if signed is not None:
        return "x-amz-meta-md5-hash" in signed
    return dialect is Dialect.BETA2
