"""refget checksums: MD5, TRUNC512 and the GA4GH ``SQ.`` identifier, plus id parsing.

All three digests are computed over the *normalised* sequence (upper-cased, everything outside
``A-Z`` removed), in one pass with :mod:`hashlib`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from enum import Enum

_NON_AZ = re.compile(rb"[^A-Z]")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_HEX48 = re.compile(r"^[0-9a-fA-F]{48}$")
_GA4GH = re.compile(r"^SQ\.[A-Za-z0-9_-]{32}$")


def normalise(raw: bytes) -> bytes:
    """Upper-case ``raw`` and drop every byte outside ``A-Z`` (refget "Checksum calculation")."""
    return _NON_AZ.sub(b"", raw.upper())


def trunc512_to_ga4gh(trunc512: str) -> str:
    """``SQ.`` + base64url of the 24 bytes a TRUNC512 hex string encodes."""
    return "SQ." + base64.urlsafe_b64encode(bytes.fromhex(trunc512)).decode("ascii")


def ga4gh_to_trunc512(ga4gh: str) -> str:
    """Inverse of :func:`trunc512_to_ga4gh`; accepts ``ga4gh:SQ.…`` and ``SQ.…``."""
    body = ga4gh.removeprefix("ga4gh:").removeprefix("SQ.")
    return base64.urlsafe_b64decode(body.encode("ascii")).hex()


@dataclass(frozen=True, slots=True)
class Digests:
    """The identifiers of one normalised sequence."""

    md5: str
    trunc512: str
    length: int

    @property
    def ga4gh(self) -> str:
        """The GA4GH (refget v2) identifier, ``SQ.<32 base64url chars>``."""
        return trunc512_to_ga4gh(self.trunc512)


class SequenceDigester:
    """Incremental MD5 + SHA-512 over already normalised sequence bytes."""

    __slots__ = ("_md5", "_sha", "length")

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha = hashlib.sha512()
        self.length = 0

    def update(self, seq: bytes) -> None:
        """Add normalised bytes (``A-Z`` only; the caller guarantees it)."""
        self._md5.update(seq)
        self._sha.update(seq)
        self.length += len(seq)

    def digests(self) -> Digests:
        return Digests(md5=self._md5.hexdigest(), trunc512=self._sha.digest()[:24].hex(), length=self.length)


def compute(seq: bytes, *, normalised: bool = False) -> Digests:
    """Digests of a whole sequence held in memory (normalised first unless told it already is)."""
    d = SequenceDigester()
    d.update(seq if normalised else normalise(seq))
    return d.digests()


class IdKind(Enum):
    MD5 = "md5"
    TRUNC512 = "trunc512"
    ALIAS = "alias"


@dataclass(frozen=True, slots=True)
class ParsedId:
    """A request id classified: a digest (canonical lower-case hex) or an alias name."""

    kind: IdKind
    value: str  # md5 / trunc512: lower-case hex; alias: the name as given
    namespace: str | None = None  # alias namespace (e.g. "insdc") when the id was a CURIE


_DIGEST_NAMESPACES = {"md5", "trunc512", "ga4gh", "sha512t24u", "vmc"}


def parse_id(raw: str) -> ParsedId:
    """Classify a refget request id.

    Accepts MD5 (32 hex), TRUNC512 (48 hex), ``SQ.…`` (ga4gh), the namespaced forms ``md5:…``,
    ``trunc512:…``, ``ga4gh:SQ.…``, ``VMC:GS_…`` and anything else as an alias (``insdc:NC_1.1`` is
    alias ``NC_1.1`` in namespace ``insdc``). Hex is case-insensitive; base64url is not.
    """
    ident = raw.strip()
    ns: str | None = None
    body = ident
    if ":" in ident:
        prefix, rest = ident.split(":", 1)
        if prefix.lower() in _DIGEST_NAMESPACES:
            ns, body = prefix.lower(), rest
    if ns in (None, "md5") and _HEX32.match(body):
        return ParsedId(IdKind.MD5, body.lower())
    if ns in (None, "trunc512") and _HEX48.match(body):
        return ParsedId(IdKind.TRUNC512, body.lower())
    if ns in (None, "ga4gh", "sha512t24u", "vmc"):
        cand = body
        if ns == "sha512t24u" and not cand.startswith("SQ."):
            cand = "SQ." + cand
        if ns == "vmc" and cand.startswith("GS_"):
            cand = "SQ." + cand[3:]
        if _GA4GH.match(cand):
            return ParsedId(IdKind.TRUNC512, ga4gh_to_trunc512(cand))
    if ns is not None:
        return ParsedId(IdKind.ALIAS, ident)  # e.g. "md5:zzz": not a digest, maybe a name
    if ":" in ident:
        prefix, rest = ident.split(":", 1)
        if prefix and rest:
            return ParsedId(IdKind.ALIAS, rest, prefix.lower())
    return ParsedId(IdKind.ALIAS, ident)
