"""Load FASTA into the refget store: parse + digest everything first, then commit.

Two phases make a malformed file leave nothing behind: the whole input is parsed, validated,
normalised and digested into a temporary directory (disk, not memory) before the first S3 write. The
commit then stores each sequence once under its TRUNC512 id (skipping what is already there), so
loading the same FASTA twice writes no object.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from gsdesktop.refget.fasta import FastaFormatError, FastaRecord, FastaSpooler
from gsdesktop.refget.store import NameTakenError, RefgetStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedSequence:
    """Ids of one loaded sequence (JSON-serialisable via :meth:`as_dict`)."""

    name: str
    md5: str
    trunc512: str
    ga4gh: str
    length: int
    circular: bool
    objects_written: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class LoadReport:
    """Result of one load: every sequence and the totals."""

    source: str
    sequences: list[LoadedSequence] = field(default_factory=list)
    bytes_in: int = 0
    objects_written: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "bytes_in": self.bytes_in,
            "objects_written": self.objects_written,
            "seconds": round(self.seconds, 3),
            "sequences": [s.as_dict() for s in self.sequences],
        }


class LoadSession:
    """One FASTA being loaded: ``feed`` chunks, then ``finish()``; use as a context manager."""

    def __init__(
        self,
        store: RefgetStore,
        source: str,
        circular: Iterable[str] = (),
        tmp_root: Path | None = None,
        owner: str | None = None,
    ):
        self.store = store
        self.source = source
        self.circular = set(circular)
        self.owner = owner  # the signed-in user loading: names are theirs (see RefgetStore)
        self._dir = Path(tempfile.mkdtemp(prefix="gs-refget-", dir=tmp_root))
        self._spooler = FastaSpooler(self._dir, source=source)
        self._t0 = time.monotonic()

    def feed(self, data: bytes) -> None:
        self._spooler.feed(data)

    def finish(self) -> LoadReport:
        """Validate everything, then commit each distinct sequence; returns the report."""
        records = self._spooler.close()
        names = {r.name for r in records}
        missing = sorted(self.circular - names)
        if missing:
            raise FastaFormatError(
                f"--circular names no sequence in the file: {', '.join(missing)}", source=self.source
            )
        groups: dict[str, list[FastaRecord]] = {}
        for rec in records:
            groups.setdefault(rec.digests.trunc512, []).append(rec)
        if self.owner is not None:  # every name checked before the first write: a refusal stores nothing
            refused = [
                why
                for primary, recs in groups.items()
                for why in self.store.name_refusals(
                    self.owner,
                    primary,
                    [r.name for r in recs],
                    circular=any(r.name in self.circular for r in recs),
                )
            ]
            if refused:
                raise NameTakenError(f"{self.source}: nothing loaded: " + "; ".join(refused))
        report = LoadReport(source=self.source, bytes_in=self._spooler.bytes_in)
        for recs in groups.values():
            first = recs[0]
            circ = any(r.name in self.circular for r in recs)
            res = self.store.commit(
                first.path, first.digests, [r.name for r in recs], circular=circ, owner=self.owner
            )
            report.objects_written += res.objects_written
            d = first.digests
            for r in recs:
                report.sequences.append(
                    LoadedSequence(
                        name=r.name, md5=d.md5, trunc512=d.trunc512, ga4gh=d.ga4gh, length=d.length,
                        circular=res.circular, objects_written=res.objects_written if r is first else 0,
                    )
                )  # fmt: skip
            for r in recs:
                r.path.unlink(missing_ok=True)
        report.seconds = time.monotonic() - self._t0
        log.info(
            "refget: loaded %s: %d sequences, %d objects written",
            self.source, len(report.sequences), report.objects_written,
        )  # fmt: skip
        return report

    def close(self) -> None:
        self._spooler.abort()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LoadSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def load_chunks(
    store: RefgetStore,
    chunks: Iterable[bytes],
    source: str,
    circular: Iterable[str] = (),
    owner: str | None = None,
) -> LoadReport:
    """Load a FASTA given as an iterable of byte chunks (``.gz`` detected); ``owner``: see
    :class:`LoadSession`."""
    with LoadSession(store, source, circular, owner=owner) as session:
        for chunk in chunks:
            session.feed(chunk)
        return session.finish()


def load_file(
    store: RefgetStore, path: Path, circular: Iterable[str] = (), chunk_size: int = 1 << 20
) -> LoadReport:
    """Load a local FASTA file (``.gz`` accepted)."""

    def chunks() -> Iterable[bytes]:
        with open(path, "rb") as fh:
            while block := fh.read(chunk_size):
                yield block

    return load_chunks(store, chunks(), Path(path).name, circular)
