"""refget objects in the S3 store (the layout of the refget-on-S3 seed document, under ``refget/``).

Layout (``<t>`` = TRUNC512, the primary id; ``<m>`` = MD5; ``<g>`` = ``SQ.…``)::

    refget/sequence/<t>            the normalised sequence, one line, text/vnd.ga4gh.refget.v1.0.0+plain
    refget/metadata/<t>.json       {"metadata": {...}}, application/vnd.ga4gh.refget.v1.0.0+json;
                                   user metadata ``circular: "1"`` for circular sequences
    refget/sequence/<m>, /<g>      empty secondaries: user metadata ``refget-primary: <t>`` and (where
    refget/metadata/<m>.json, …    the store accepts it) ``Website-Redirect-Location`` to the primary
    refget/alias/<quoted name>/<t> empty: the FASTA name ``name`` refers to ``<t>``
    refget/source/<user>/<h>.json  which Data Manager file was indexed (``<h>`` = SHA-256 of its S3
                                   key): path, ETag/MD5 at indexing time, the sequences' ids
    refget/owner/sequence/<t>      empty, user metadata ``gs-owner``: the user who first loaded <t>
    refget/owner/name/<quoted>     empty, user metadata ``gs-owner``: the user who owns the name

Names are shared by every reader, so they are owned (loads by a signed-in user): a name belongs to
the user who first loads a sequence under it, and only the user who first loaded a sequence gives it
names. Anyone may load an identical sequence under a name it already has (nothing changes). Owner
records are created with ``If-None-Match: *``, so of two racing loaders exactly one gets a name.
Sequences and names loaded before owners were recorded: the next loader becomes the sequence's
owner; an unowned name that already refers to a sequence gets no other sequence.

The service resolves ids itself (S3 website redirects only work on AWS website endpoints). Writes go
sequence -> metadata -> secondaries -> aliases, so a sequence becomes reachable by MD5 or name only
once its bytes and metadata are complete; a re-run finishes an interrupted load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from gsdesktop.refget.digests import Digests, IdKind, ParsedId

if TYPE_CHECKING:  # boto3-stubs (a dev dependency)
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

SEQUENCE_TYPE = "text/vnd.ga4gh.refget.v1.0.0+plain"
METADATA_TYPE = "application/vnd.ga4gh.refget.v1.0.0+json"
PRIMARY_META = "refget-primary"
CIRCULAR_META = "circular"
OWNER_META = "gs-owner"
PREFIX = "refget/"


CIRCULAR_REFUSED = "this sequence was loaded first by another user, who alone marks it circular"


class NameTakenError(Exception):
    """A load would give a name another user owns, or name a sequence another user loaded first."""


@dataclass(frozen=True, slots=True)
class SequenceInfo:
    """What the service needs to answer for one sequence."""

    trunc512: str
    md5: str
    length: int
    circular: bool
    metadata: dict[str, Any]


@dataclass(slots=True)
class CommitResult:
    """Outcome of storing one sequence: its digests and how many objects were written."""

    digests: Digests
    names: list[str]
    circular: bool
    objects_written: int = 0
    sequence_uploaded: bool = False
    written_keys: list[str] = field(default_factory=list)


def guess_authority(name: str) -> str:
    """A naming authority for a FASTA name (lower-case, refget v2 style)."""
    import re

    if re.fullmatch(r"[ANXWY][CGTWMRPZ]_\d+(\.\d+)?", name):
        return "refseq"
    if re.fullmatch(r"([A-Z]{1,2}\d{5,6}|[A-Z]{4}\d{8,10})\.\d+", name):
        return "insdc"
    if name.lower().startswith("chr"):
        return "ucsc"
    if re.fullmatch(r"ENS[A-Z]*\d+(\.\d+)?", name):
        return "ensembl"
    return "fasta"


def _is_missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class RefgetStore:
    """Read and write refget objects through a boto3 S3 client.

    Args:
        s3: a boto3 S3 client.
        bucket: the bucket holding everything.
        prefix: key prefix for refget objects.
    """

    def __init__(self, s3: S3Client, bucket: str, prefix: str = PREFIX) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self._redirects_ok: bool | None = None
        self._lock = threading.Lock()

    # -- keys ----------------------------------------------------------------------------------
    def seq_key(self, ident: str) -> str:
        return f"{self.prefix}sequence/{ident}"

    def meta_key(self, ident: str) -> str:
        return f"{self.prefix}metadata/{ident}.json"

    def alias_prefix(self, name: str) -> str:
        return f"{self.prefix}alias/{quote(name, safe='')}/"

    def name_owner_key(self, name: str) -> str:
        return f"{self.prefix}owner/name/{quote(name, safe='')}"

    def sequence_owner_key(self, primary: str) -> str:
        return f"{self.prefix}owner/sequence/{primary}"

    def source_key(self, user: str, dm_key: str) -> str:
        """Key of the record saying Data Manager file ``dm_key`` (``users/<u>/a.fa``) was indexed."""
        digest = hashlib.sha256(dm_key.encode("utf-8")).hexdigest()
        return f"{self.prefix}source/{quote(user, safe='')}/{digest}.json"

    # -- records of indexed Data Manager files -------------------------------------------------
    def put_source(self, user: str, dm_key: str, record: dict[str, Any]) -> None:
        """Remember that ``dm_key`` was indexed (``record``: path, etag, md5, sequences …)."""
        body = json.dumps(record, separators=(",", ":")).encode("utf-8")
        self.s3.put_object(
            Bucket=self.bucket, Key=self.source_key(user, dm_key), Body=body, ContentType="application/json"
        )

    def get_source(self, user: str, dm_key: str) -> dict[str, Any] | None:
        """The record written by :meth:`put_source`, or None when the file was never indexed."""
        from botocore.exceptions import ClientError

        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.source_key(user, dm_key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        doc = json.loads(obj["Body"].read())
        return doc if isinstance(doc, dict) else None

    # -- low level -----------------------------------------------------------------------------
    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self.s3.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    def head(self, key: str) -> dict[str, Any] | None:
        """``HeadObject`` of any key in the bucket, or None when it does not exist."""
        return self._head(key)

    def _put_pointer(self, key: str, target_key: str, primary: str, content_type: str) -> None:
        """An empty object naming the primary (and redirecting to it where the store supports it)."""
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": b"",
            "ContentType": content_type,
            "Metadata": {PRIMARY_META: primary},
        }
        if self._redirects_ok is not False:
            try:
                self.s3.put_object(**args, WebsiteRedirectLocation="/" + target_key)
                self._redirects_ok = True
                return
            except ClientError as exc:
                if self._redirects_ok:
                    raise
                log.info("store rejects Website-Redirect-Location (%s); pointers carry metadata only", exc)
                self._redirects_ok = False
        self.s3.put_object(**args)

    # -- owners of names and sequences ---------------------------------------------------------
    def owner(self, key: str) -> str | None:
        """The ``gs-owner`` of an owner record, or None when there is none."""
        head = self._head(key)
        owner = (head or {}).get("Metadata", {}).get(OWNER_META)
        return str(owner) if owner else None

    def _claim(self, key: str, user: str) -> bool:
        """Create the owner record ``key`` for ``user`` unless it exists; True if ``user`` owns it now
        (False: someone else does). Conditional create: of racing claims exactly one wins."""
        from botocore.exceptions import ClientError

        for _ in range(5):
            current = self.owner(key)
            if current is not None:
                return current == user
            try:
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=b"", Metadata={OWNER_META: user}, IfNoneMatch="*"
                )
                return True
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    raise
        return self.owner(key) == user

    def name_refusals(self, user: str, primary: str, names: list[str], circular: bool = False) -> list[str]:
        """Why ``user`` may not give sequence ``primary`` these names (or mark it circular); empty:
        all fine. No writes."""
        refused: list[str] = []
        seq_owner: str | None = None
        existing = self._get_metadata(primary)
        if existing is not None:
            seq_owner = self.owner(self.sequence_owner_key(primary))
            if circular and not existing[1] and seq_owner not in (None, user):
                refused.append(CIRCULAR_REFUSED)
        for name in dict.fromkeys(names):
            targets = self.aliases(name)
            if primary in targets:
                continue  # the name already refers to this very sequence: nothing changes
            name_owner = self.owner(self.name_owner_key(name))
            if name_owner not in (None, user) or (name_owner is None and targets):
                refused.append(f"the name {name!r} is already used by another user")
            elif seq_owner not in (None, user):
                refused.append(
                    f"{name!r}: this sequence was loaded first by another user, who alone names it "
                    "(it is already served under its checksum ids)"
                )
        return refused

    def _is_circular(self, primary: str) -> bool:
        got = self._get_metadata(primary)
        return bool(got and got[1])

    def _claim_for(self, user: str, primary: str, names: list[str], circular: bool) -> None:
        """Own the sequence (if nobody does) and every new name, or raise :class:`NameTakenError`
        having released the name records this call made."""
        made: list[str] = []
        try:
            if not self._claim(self.sequence_owner_key(primary), user):
                refused = [n for n in names if primary not in self.aliases(n)]
                if refused:
                    raise NameTakenError(
                        f"{refused[0]!r}: this sequence was loaded first by another user, who alone names it"
                    )
                if circular and not self._is_circular(primary):
                    raise NameTakenError(CIRCULAR_REFUSED)
            for name in dict.fromkeys(names):
                if primary in self.aliases(name):
                    continue
                key = self.name_owner_key(name)
                had = self.owner(key) is not None
                if not self._claim(key, user):
                    raise NameTakenError(f"the name {name!r} is already used by another user")
                if not had:
                    made.append(key)
        except NameTakenError:
            for key in made:
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            raise

    # -- write side ----------------------------------------------------------------------------
    def commit(
        self,
        seq_file: Path,
        digests: Digests,
        names: list[str],
        circular: bool = False,
        owner: str | None = None,
    ) -> CommitResult:
        """Store one normalised sequence file; idempotent (an identical re-run writes nothing).

        Args:
            seq_file: the sequence, already normalised (upper-case ``A-Z``, no newline).
            digests: its digests (from the parser).
            names: FASTA names to record as aliases.
            circular: mark the sequence circular (sticky: never cleared by a later load).
            owner: the signed-in user loading it: names and the sequence are claimed for them first
                (:class:`NameTakenError` before anything is written when another user owns one).
                ``None`` (server-side tools): no ownership checks.
        """
        res = CommitResult(digests=digests, names=list(names), circular=circular)
        primary = digests.trunc512
        if owner is not None:
            self._claim_for(owner, primary, list(names), circular)
        skey = self.seq_key(primary)
        head = self._head(skey)
        if head is None or int(head.get("ContentLength", -1)) != digests.length:
            from boto3.s3.transfer import TransferConfig

            cfg = TransferConfig(
                multipart_threshold=64 << 20, multipart_chunksize=32 << 20, max_concurrency=4
            )
            self.s3.upload_file(
                str(seq_file), self.bucket, skey, ExtraArgs={"ContentType": SEQUENCE_TYPE}, Config=cfg
            )
            res.sequence_uploaded = True
            self._wrote(res, skey)
        # metadata (merged with what is there: aliases accumulate, circular is sticky)
        mkey = self.meta_key(primary)
        old = self._get_metadata(primary)
        aliases: list[dict[str, str]] = list(old[0]["metadata"].get("aliases", [])) if old else []
        known = {a.get("alias") for a in aliases}
        for name in names:
            if name not in known:
                aliases.append({"alias": name, "naming_authority": guess_authority(name)})
                known.add(name)
        is_circular = circular or bool(old and old[1])
        res.circular = is_circular
        doc = {
            "metadata": {
                "id": primary,
                "md5": digests.md5,
                "trunc512": primary,
                "ga4gh": digests.ga4gh,
                "length": digests.length,
                "aliases": aliases,
            }
        }
        if old is None or old[0] != doc or old[1] != is_circular:
            body = json.dumps(doc, separators=(",", ":")).encode()
            meta = {CIRCULAR_META: "1"} if is_circular else {}
            self.s3.put_object(
                Bucket=self.bucket, Key=mkey, Body=body, ContentType=METADATA_TYPE, Metadata=meta
            )
            self._wrote(res, mkey)
        # secondaries
        for sid in (digests.md5, digests.ga4gh):
            for key, target, ctype in (
                (self.seq_key(sid), skey, SEQUENCE_TYPE),
                (self.meta_key(sid), mkey, METADATA_TYPE),
            ):
                h = self._head(key)
                if h is None or h.get("Metadata", {}).get(PRIMARY_META) != primary:
                    self._put_pointer(key, target, primary, ctype)
                    self._wrote(res, key)
        # name aliases
        for name in names:
            key = self.alias_prefix(name) + primary
            if self._head(key) is None:
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"", Metadata={PRIMARY_META: primary})
                self._wrote(res, key)
        return res

    @staticmethod
    def _wrote(res: CommitResult, key: str) -> None:
        res.objects_written += 1
        res.written_keys.append(key)

    # -- read side -----------------------------------------------------------------------------
    def _get_metadata(self, primary: str) -> tuple[dict[str, Any], bool] | None:
        from botocore.exceptions import ClientError

        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.meta_key(primary))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        body = obj["Body"].read()
        if not body:  # a secondary pointer, not a primary
            return None
        doc = json.loads(body)
        return doc, obj.get("Metadata", {}).get(CIRCULAR_META) == "1"

    def info(self, primary: str) -> SequenceInfo | None:
        """The sequence stored under ``primary`` (TRUNC512), or ``None``."""
        got = self._get_metadata(primary)
        if got is None:
            return None
        doc, circular = got
        m = doc["metadata"]
        return SequenceInfo(
            trunc512=primary, md5=str(m["md5"]), length=int(m["length"]), circular=circular, metadata=doc
        )

    def resolve(self, pid: ParsedId) -> list[str]:
        """Primary ids (TRUNC512) an id may refer to: ``[]`` unknown, several = ambiguous alias."""
        if pid.kind is IdKind.TRUNC512:
            return [pid.value]
        if pid.kind is IdKind.MD5:
            head = self._head(self.seq_key(pid.value))
            primary = (head or {}).get("Metadata", {}).get(PRIMARY_META)
            return [str(primary)] if primary else []
        return self.aliases(pid.value)

    def aliases(self, name: str) -> list[str]:
        """Primaries recorded for a FASTA name."""
        prefix = self.alias_prefix(name)
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=10)
        return [unquote(o["Key"][len(prefix) :]) for o in resp.get("Contents", [])]

    def read(self, primary: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a sequence with one ranged GET (``start < end``)."""
        obj = self.s3.get_object(
            Bucket=self.bucket, Key=self.seq_key(primary), Range=f"bytes={start}-{end - 1}"
        )
        data: bytes = obj["Body"].read()
        if len(data) != end - start:
            raise OSError(f"store returned {len(data)} bytes for a {end - start}-byte range of {primary}")
        return data

    def stream(self, primary: str, start: int, end: int, chunk: int = 1 << 20) -> Iterator[bytes]:
        """Stream bytes ``[start, end)`` with one ranged GET (``start < end``)."""
        obj = self.s3.get_object(
            Bucket=self.bucket, Key=self.seq_key(primary), Range=f"bytes={start}-{end - 1}"
        )
        body = obj["Body"]
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()
