"""Streaming FASTA parser that normalises, digests and spools each sequence to a file.

:class:`FastaSpooler` is push-based (``feed(bytes)`` … ``close()``) so it works both on a local file
and on an HTTP request body arriving in chunks. Memory stays bounded by the chunk size (plus one
header line); sequence bytes go straight to one temporary file per record, already normalised
(upper-case ``A-Z``, one line), so byte offset == base offset. gzip (including multi-member/BGZF)
input is detected by its magic bytes.

Malformed input raises :class:`FastaFormatError` with the 1-based line number.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gsdesktop.refget.digests import Digests, SequenceDigester

# Upper-case table; deletions: whitespace and the usual gap / stop symbols the spec strips.
_UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_STRIP = b" \t\r\n\v\f*-."
_MAX_HEADER = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_INFLATE_STEP = 4 << 20


class FastaFormatError(ValueError):
    """The input is not valid FASTA (``line`` is 1-based, 0 when not line-specific)."""

    def __init__(self, message: str, line: int = 0, source: str = "") -> None:
        where = f"{source}: " if source else ""
        where += f"line {line}: " if line else ""
        super().__init__(where + message)
        self.line = line
        self.source = source
        self.user_message = str(self)


@dataclass(slots=True)
class FastaRecord:
    """One parsed sequence: its FASTA name, description, digests and the spooled sequence file."""

    name: str
    description: str
    line: int
    path: Path
    digests: Digests = field(default_factory=lambda: Digests("", "", 0))


class _Inflater:
    """gzip decoder handling concatenated members (BGZF) with bounded output per call."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(wbits=31)
        self._in_member = False

    def feed(self, data: bytes) -> Iterable[bytes]:
        while data:
            self._in_member = True
            out = self._d.decompress(data, _INFLATE_STEP)
            if out:
                yield out
            if self._d.eof:
                data = self._d.unused_data
                self._d = zlib.decompressobj(wbits=31)
                self._in_member = False
            else:
                data = self._d.unconsumed_tail

    def finish(self) -> None:
        if self._in_member:
            raise FastaFormatError("truncated gzip data")


class FastaSpooler:
    """Push parser: ``feed`` raw (optionally gzipped) FASTA bytes, then ``close`` for the records.

    Args:
        workdir: directory for the per-record sequence files (caller owns cleanup).
        source: file name used in error messages.
    """

    def __init__(self, workdir: Path, source: str = "") -> None:
        self.workdir = Path(workdir)
        self.source = source
        self.records: list[FastaRecord] = []
        self.bytes_in = 0
        self._names: set[str] = set()
        self._pending = b""  # an incomplete header line
        self._line = 1  # line number of the next byte
        self._at_line_start = True
        self._cur: FastaRecord | None = None
        self._out: BinaryIO | None = None
        self._digester: SequenceDigester | None = None
        self._inflater: _Inflater | None = None
        self._sniffed = False
        self._head = b""

    # -- input ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Consume the next chunk of the file."""
        if not data:
            return
        self.bytes_in += len(data)
        if not self._sniffed:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head, self._sniffed = self._head, b"", True
            if data.startswith(_GZIP_MAGIC):
                self._inflater = _Inflater()
        if self._inflater is not None:
            try:
                for block in self._inflater.feed(data):
                    self._process(block)
            except zlib.error as exc:
                raise FastaFormatError(f"corrupt gzip data ({exc})", source=self.source) from exc
        else:
            self._process(data)

    def feed_file(self, fh: BinaryIO, chunk_size: int = 1 << 20) -> None:
        """Feed a whole binary file object."""
        while block := fh.read(chunk_size):
            self.feed(block)

    def close(self) -> list[FastaRecord]:
        """Finish parsing; returns the records (all files flushed and closed)."""
        if not self._sniffed and self._head:
            self._sniffed = True
            self._process(self._head)
        if self._inflater is not None:
            try:
                self._inflater.finish()
            except FastaFormatError:
                self.abort()
                raise FastaFormatError("truncated gzip data", source=self.source) from None
        if self._pending:
            self._header(self._pending)
            self._pending = b""
        self._finish_record()
        if not self.records:
            raise FastaFormatError("no sequences found (a FASTA file starts with a '>' header line)",
                                   source=self.source)  # fmt: skip
        return self.records

    def abort(self) -> None:
        """Close any open spool file (after an error)."""
        if self._out is not None:
            self._out.close()
            self._out = None

    # -- parsing -------------------------------------------------------------------------------
    def _error(self, message: str, line: int) -> FastaFormatError:
        self.abort()
        return FastaFormatError(message, line, self.source)

    def _process(self, data: bytes) -> None:
        if self._pending:
            data = self._pending + data
            self._pending = b""
        pos, n = 0, len(data)
        while pos < n:
            if self._at_line_start and data[pos] == 0x3E:  # '>'
                nl = data.find(b"\n", pos)
                if nl < 0:
                    if n - pos > _MAX_HEADER:
                        raise self._error("header line too long", self._line)
                    self._pending = data[pos:]
                    return
                self._header(data[pos:nl])
                self._line += 1
                pos = nl + 1
                continue
            idx = data.find(b"\n>", pos)
            end = idx + 1 if idx >= 0 else n
            self._sequence(data[pos:end])
            pos = end

    def _header(self, line: bytes) -> None:
        self._finish_record()
        text = line[1:].rstrip(b"\r").decode("utf-8", errors="replace").strip()
        if not text:
            raise self._error("header line '>' has no sequence name", self._line)
        if any(ord(c) < 32 for c in text if c != "\t"):
            raise self._error("control character in header line", self._line)
        name, _, desc = text.replace("\t", " ").partition(" ")
        if name in self._names:
            raise self._error(f"duplicate sequence name {name!r}", self._line)
        self._names.add(name)
        path = self.workdir / f"seq{len(self.records):06d}"
        self._cur = FastaRecord(name=name, description=desc.strip(), line=self._line, path=path)
        self._out = open(path, "wb")  # noqa: SIM115 - closed in _finish_record / abort
        self._digester = SequenceDigester()

    def _sequence(self, span: bytes) -> None:
        cleaned = span.translate(_UPPER, _STRIP)
        if cleaned and not cleaned.isalpha():
            bad = next(i for i, b in enumerate(span.translate(_UPPER))
                       if b not in _STRIP and not (0x41 <= b <= 0x5A))  # fmt: skip
            line = self._line + span.count(b"\n", 0, bad)
            ch = span[bad : bad + 1]
            shown = ch.decode("ascii") if 0x20 < ch[0] < 0x7F else f"\\x{ch[0]:02x}"
            raise self._error(f"invalid character {shown!r} in sequence data", line)
        if cleaned:
            if self._cur is None or self._out is None or self._digester is None:
                raise self._error("sequence data before the first '>' header line", self._line)
            self._out.write(cleaned)
            self._digester.update(cleaned)
        self._line += span.count(b"\n")
        self._at_line_start = span.endswith(b"\n")

    def _finish_record(self) -> None:
        if self._cur is None or self._out is None or self._digester is None:
            return
        self._out.close()
        self._out = None
        digests = self._digester.digests()
        if digests.length == 0:
            raise self._error(f"sequence {self._cur.name!r} is empty", self._cur.line)
        self._cur.digests = digests
        self.records.append(self._cur)
        self._cur = None
        self._digester = None


def spool_file(path: Path, workdir: Path, chunk_size: int = 1 << 20) -> list[FastaRecord]:
    """Parse a local FASTA (``.gz`` accepted) into ``workdir``; returns its records."""
    spooler = FastaSpooler(workdir, source=Path(path).name)
    try:
        with open(path, "rb") as fh:
            spooler.feed_file(fh, chunk_size)
        return spooler.close()
    finally:
        spooler.abort()
