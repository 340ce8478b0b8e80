"""Conditional uploads (extension): "replace only the version I saw" / "create only if absent".

An ``uploadurls-batch`` item or a multipart create may carry ONE precondition:

* ``"ifMatch": "<hex md5>"``: the MD5 of the version the client last saw on the server. The server
  checks it against the object now stored (412 when missing or different) and binds the object's
  current S3 ETag into the signed URL as ``If-Match``, so S3 itself refuses the PUT (or the multipart
  complete) when anyone wrote in between.
* ``"ifNoneMatch": true``: the client believes the name is free. 412 when a file or a folder of that
  name exists; otherwise ``If-None-Match: *`` is bound into the URL (or the complete).

``ifNoneMatch: false`` and an absent field mean no precondition (old clients are unaffected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gsdesktop.server.paths import DMPath
from gsdesktop.server.storage import ObjectInfo, S3Store

_HEX_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")


@dataclass(frozen=True, slots=True)
class Precondition:
    """What the client asked: ``if_match`` (hex MD5) or ``if_none_match``."""

    if_match: str | None = None
    if_none_match: bool = False


@dataclass(frozen=True, slots=True)
class Resolved:
    """A precondition checked at signing: the header to bind (``If-Match`` with the S3 ETag, or ``*``)."""

    if_match_etag: str | None = None  # the S3 ETag (without quotes) of the version the client saw
    if_none_match: bool = False

    def headers(self) -> dict[str, str]:
        """The headers the client must send with its PUT (they are part of the signature)."""
        if self.if_match_etag:
            return {"If-Match": f'"{self.if_match_etag}"'}
        if self.if_none_match:
            return {"If-None-Match": "*"}
        return {}


class PreconditionError(Exception):
    """The request's precondition is malformed (400) or does not hold (412); ``status`` says which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse(body: dict[str, Any]) -> Precondition | None:
    """The precondition in a request object, ``None`` when it has none; 400 ``PreconditionError`` if bad."""
    if_match, if_none_match = body.get("ifMatch"), body.get("ifNoneMatch")
    if if_none_match is not None and not isinstance(if_none_match, bool):
        raise PreconditionError(400, "ifNoneMatch must be true or false")
    if if_match is not None and (not isinstance(if_match, str) or not _HEX_MD5.match(if_match)):
        raise PreconditionError(400, "ifMatch must be the hex MD5 (32 digits) of the version you last saw")
    if if_match is not None and if_none_match:
        raise PreconditionError(400, "give ifMatch or ifNoneMatch, not both")
    if if_match is not None:
        return Precondition(if_match=if_match.lower())
    return Precondition(if_none_match=True) if if_none_match else None


def changed(display: str) -> PreconditionError:
    return PreconditionError(412, f"{display} changed on the server since you last synced it")


def resolve(
    store: S3Store,
    path: DMPath,
    cond: Precondition,
    display: str,
    *,
    info: ObjectInfo | None = None,
    known: bool = False,
    is_dir: bool | None = None,
) -> Resolved:
    """Check ``cond`` against what is stored at ``path`` now; 412 ``PreconditionError`` when it fails.

    With ``known``, ``info`` is the object as a listing just showed it (``None``: absent); otherwise it
    is HEAD-ed. ``is_dir``: whether a folder of that name exists (``None``: not known, ask the store).
    """
    current = info if known else store.head(path.key)
    if cond.if_none_match:
        if current is not None:
            raise changed(display)
        if is_dir if is_dir is not None else store.any_under(path.dir_key):
            raise changed(display)
        return Resolved(if_none_match=True)
    if current is None:
        raise changed(display)
    if current.is_multipart_etag and current.metadata is None:
        current = store.head(path.key)  # a listing does not carry the recorded MD5
        if current is None:
            raise changed(display)
    if current.md5 != cond.if_match:
        raise changed(display)
    return Resolved(if_match_etag=current.etag)
