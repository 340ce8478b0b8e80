"""The data-format table and the streamed converters.

Formats are recognised by file extension. Format URLs look like
``http://www.genomespace.org/datamanager/dataformat/<name>/0.0.0``; the later form without ``/0.0.0``
and a bare name are accepted too. Converters take a *source opener* (a callable returning a fresh
iterator of byte chunks) so a converter that needs two passes (tab -> gct must announce the row
count first) reads the object twice instead of holding it in memory.
"""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

FORMAT_BASE = "http://www.genomespace.org/datamanager/dataformat/"
VERSION = "0.0.0"

Opener = Callable[[], Iterator[bytes]]
Converter = Callable[[Opener], Iterator[bytes]]


@dataclass(frozen=True, slots=True)
class DataFormat:
    """One entry of the format table."""

    name: str
    extensions: tuple[str, ...]
    description: str
    content_type: str = "text/plain"

    @property
    def url(self) -> str:
        return f"{FORMAT_BASE}{self.name}/{VERSION}"

    @property
    def file_extension(self) -> str:
        return self.extensions[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": VERSION,
            "url": self.url,
            "fileExtension": self.file_extension,
            "description": self.description,
        }


_TABLE: tuple[DataFormat, ...] = (
    DataFormat("txt", ("txt", "text"), "Plain text"),
    DataFormat("lowercasetxt", ("lowertxt",), "Text converted to lower case"),
    DataFormat("uppercasetxt", ("uppertxt",), "Text converted to upper case"),
    DataFormat("gct", ("gct",), "GCT: gene expression matrix (Broad)"),
    DataFormat("res", ("res",), "RES: gene expression with absent/present calls"),
    DataFormat("cls", ("cls",), "CLS: phenotype class labels"),
    DataFormat("odf", ("odf",), "ODF: GenePattern output description format"),
    DataFormat("genomicatab", ("tab",), "Tab delimited expression format for Genomica"),
    DataFormat("bed", ("bed",), "BED: genomic intervals"),
    DataFormat("gff", ("gff", "gff3"), "GFF: general feature format"),
    DataFormat("gtf", ("gtf",), "GTF: gene transfer format"),
    DataFormat("gmt", ("gmt",), "GMT: gene sets"),
    DataFormat("gmx", ("gmx",), "GMX: gene sets (column-oriented)"),
    DataFormat("grp", ("grp",), "GRP: gene list"),
    DataFormat("fasta", ("fasta", "fa", "fna", "faa", "fas"), "FASTA sequences"),
    DataFormat("fastq", ("fastq", "fq"), "FASTQ reads with qualities"),
    DataFormat("sam", ("sam",), "SAM: sequence alignments"),
    DataFormat("bam", ("bam",), "BAM: binary sequence alignments", "application/octet-stream"),
    DataFormat("vcf", ("vcf",), "VCF: variant calls"),
    DataFormat("wig", ("wig",), "WIG: wiggle track"),
    DataFormat("bigwig", ("bw", "bigwig"), "bigWig track", "application/octet-stream"),
    DataFormat("seg", ("seg",), "SEG: segmented copy number"),
    DataFormat("cn", ("cn",), "CN: copy number"),
    DataFormat("gistic", ("gistic",), "GISTIC output"),
    DataFormat("cbs", ("cbs",), "CBS: circular binary segmentation"),
    DataFormat("xgmml", ("xgmml",), "XGMML network", "application/xml"),
    DataFormat("adj", ("adj",), "ADJ: adjacency matrix"),
    DataFormat("attr", ("attr",), "Cytoscape attributes"),
    DataFormat("cys", ("cys",), "Cytoscape session", "application/octet-stream"),
    DataFormat("csv", ("csv",), "Comma separated values", "text/csv"),
    DataFormat("tsv", ("tsv",), "Tab separated values", "text/tab-separated-values"),
    DataFormat("json", ("json",), "JSON", "application/json"),
    DataFormat("xml", ("xml",), "XML", "application/xml"),
    DataFormat("html", ("html", "htm"), "HTML", "text/html"),
    DataFormat("pdf", ("pdf",), "PDF document", "application/pdf"),
    DataFormat("png", ("png",), "PNG image", "image/png"),
    DataFormat("jpeg", ("jpg", "jpeg"), "JPEG image", "image/jpeg"),
    DataFormat("zip", ("zip",), "ZIP archive", "application/zip"),
    DataFormat("gz", ("gz",), "gzip-compressed data", "application/gzip"),
)

FORMATS: dict[str, DataFormat] = {f.name: f for f in _TABLE}
_BY_EXT: dict[str, DataFormat] = {ext: f for f in _TABLE for ext in f.extensions}


def format_for_filename(name: str) -> DataFormat | None:
    """The format of a file by its extension (case-insensitive), or ``None``."""
    if "." not in name:
        return None
    return _BY_EXT.get(name.rsplit(".", 1)[1].lower())


def content_type_for(name: str) -> str:
    fmt = format_for_filename(name)
    return fmt.content_type if fmt else "application/octet-stream"


def parse_format_url(value: str) -> DataFormat | None:
    """A format from its URL (with or without ``/<version>``) or bare name; ``None`` if unknown."""
    text = (value or "").strip()
    if "/dataformat/" in text:
        text = text.split("/dataformat/", 1)[1]
    text = text.strip("/")
    name = text.split("/", 1)[0].lower()
    return FORMATS.get(name)


# -- streaming helpers --------------------------------------------------------------------------------------
#: Whitespace held back (its line may still turn out blank) spills to a temporary file past this size.
HELD_IN_MEMORY = 1024 * 1024


def iter_line_parts(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    """``(piece, ends_line)`` for every line of a byte stream, without ever joining a line.

    Pieces never contain ``\n``; the ``\r`` of a ``\r\n`` (or of a last line without ``\n``) is dropped.
    A line that arrives in one chunk is one piece. Work is linear in the input and memory is bounded by
    the chunk size, however long a line is.
    """
    held_cr = False  # a "\r" that ended the previous piece: dropped if "\n" follows
    in_line = False  # bytes of an unfinished line were seen
    for chunk in chunks:
        if not chunk:
            continue
        lines = chunk.split(b"\n")
        tail = lines.pop()
        for piece in lines:
            if held_cr:
                held_cr = False
                if piece:
                    yield b"\r", False
            yield (piece[:-1] if piece.endswith(b"\r") else piece), True
        if lines:
            in_line = False
        if tail:
            if held_cr:
                yield b"\r", False
            held_cr = tail.endswith(b"\r")
            if held_cr:
                tail = tail[:-1]
            if tail:
                yield tail, False
            in_line = True
    if in_line:
        yield b"", True


class _Held:
    """Bytes kept back while it is undecided whether they are written; a temporary file past 1 MiB."""

    def __init__(self) -> None:
        self._mem = bytearray()
        self._file: IO[bytes] | None = None

    def add(self, data: bytes) -> None:
        if self._file is None and len(self._mem) + len(data) <= HELD_IN_MEMORY:
            self._mem += data
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115  (closed by drain or discard)
            self._file.write(self._mem)
            self._mem = bytearray()
        self._file.write(data)

    def drain(self) -> Iterator[bytes]:
        if self._mem:
            yield bytes(self._mem)
            self._mem = bytearray()
        if self._file is not None:
            self._file.seek(0)
            while block := self._file.read(HELD_IN_MEMORY):
                yield block
            self.discard()

    def discard(self) -> None:
        self._mem = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None


class _Line:
    """One line of a tab-separated file, rewritten piece by piece as it streams through.

    ``skip_blank``: a line of whitespace only is dropped (its whitespace is held until that is known);
    ``head``: written instead of the line's first two cells; ``tabs``: pad the line with empty cells
    up to this many tabs.
    """

    def __init__(self, skip_blank: bool, head: bytes | None = None, tabs: int | None = None) -> None:
        self.undecided = skip_blank
        self.head = head
        self.tabs = tabs
        self.skip = 2 if head is not None else 0  # input tabs still to drop (with the first two cells)
        self.started = False
        self.out_tabs = 0
        self.held: _Held | None = None

    @property
    def written(self) -> bool:
        return not self.undecided

    def feed(self, piece: bytes) -> Iterator[bytes]:
        if self.undecided:
            if not piece or piece.isspace():
                if piece:
                    self.held = self.held or _Held()
                    self.held.add(piece)
                return
            self.undecided = False
            if self.held is not None:
                for block in self.held.drain():
                    yield from self._write(block)
                self.held = None
        yield from self._write(piece)

    def end(self) -> Iterator[bytes]:
        if self.undecided:  # blank: dropped
            if self.held is not None:
                self.held.discard()
            return
        yield from self._write(b"")
        if self.tabs is not None and self.out_tabs < self.tabs:
            yield b"\t" * (self.tabs - self.out_tabs)
        yield b"\n"

    def _write(self, data: bytes) -> Iterator[bytes]:
        if not self.started:
            self.started = True
            if self.head is not None:
                self.out_tabs += self.head.count(b"\t")
                yield self.head
        if self.skip:
            pos = -1
            while self.skip:
                pos = data.find(b"\t", pos + 1)
                if pos == -1:
                    return
                self.skip -= 1
            data = data[pos:]  # from the tab that ends the second cell
        if data:
            self.out_tabs += data.count(b"\t")
            yield data


def _batched(pieces: Iterator[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    buf: list[bytes] = []
    total = 0
    for piece in pieces:
        buf.append(piece)
        total += len(piece)
        if total >= size:
            yield b"".join(buf)
            buf, total = [], 0
    if buf:
        yield b"".join(buf)


def _case_converter(upper: bool) -> Converter:
    def convert(opener: Opener) -> Iterator[bytes]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        for chunk in opener():
            text = decoder.decode(chunk)
            if text:
                yield (text.upper() if upper else text.lower()).encode("utf-8", "surrogateescape")
        tail = decoder.decode(b"", final=True)
        if tail:
            yield (tail.upper() if upper else tail.lower()).encode("utf-8", "surrogateescape")

    return convert


def tab_to_gct(opener: Opener) -> Iterator[bytes]:
    """Genomica tab (``UNIQID NAME s1 s2 ...``) to GCT 1.2; two streamed passes (rows are counted first).

    Linear in the file's size with bounded memory, however long its lines are.
    """
    rows = -1  # the header line is not a row
    columns = 0
    tabs = 0
    nonblank = False
    for piece, ends in iter_line_parts(opener()):
        if rows < 0:
            tabs += piece.count(b"\t")
        if not nonblank and piece and not piece.isspace():
            nonblank = True
        if ends:
            if nonblank:
                if rows < 0:
                    columns = max(0, tabs - 1)
                rows += 1
            tabs, nonblank = 0, False
    if rows < 0:
        raise ValueError("the file is empty: no header line to convert")
    yield b"#1.2\n" + f"{rows}\t{columns}\n".encode()

    def body() -> Iterator[bytes]:
        header = True
        line: _Line | None = None
        for piece, ends in iter_line_parts(opener()):
            if line is None and ends and not header:  # a whole ordinary line: at once
                if piece and not piece.isspace():
                    missing = columns + 1 - piece.count(b"\t")
                    yield piece + b"\t" * missing + b"\n" if missing > 0 else piece + b"\n"
                continue
            if line is None:
                line = _Line(True, b"Name\tDescription" if header else None, columns + 1)
            yield from line.feed(piece)
            if ends:
                yield from line.end()
                header = header and not line.written
                line = None

    yield from _batched(body())


def gct_to_tab(opener: Opener) -> Iterator[bytes]:
    """GCT to Genomica tab: drop the two preamble lines, rename the first two header cells.

    Linear in the file's size with bounded memory, however long its lines are.
    """

    def body() -> Iterator[bytes]:
        index = 0
        line: _Line | None = None
        prefix = b""  # the first bytes of line 0, until it is known whether it starts with "#1."
        dropping = False
        for piece, ends in iter_line_parts(opener()):
            if index == 0 and line is None and not dropping:
                prefix += piece
                if len(prefix) < 3 and not ends:
                    continue
                piece, prefix = prefix, b""
                if piece.startswith(b"#1."):
                    dropping = True
            if dropping or index == 1:
                if ends:
                    index, dropping = (1 if dropping else 2), False
                continue
            if line is None and ends and index > 2:  # a whole ordinary line: at once
                if piece and not piece.isspace():
                    yield piece + b"\n"
                index += 1
                continue
            if line is None:
                line = _Line(False, b"UNIQID\tNAME") if index == 2 else _Line(True)
            yield from line.feed(piece)
            if ends:
                yield from line.end()
                line = None
                index += 1

    yield from _batched(body())


CONVERTERS: dict[tuple[str, str], Converter] = {
    ("txt", "lowercasetxt"): _case_converter(upper=False),
    ("txt", "uppercasetxt"): _case_converter(upper=True),
    ("genomicatab", "gct"): tab_to_gct,
    ("gct", "genomicatab"): gct_to_tab,
}


def available_formats(fmt: DataFormat | None) -> list[DataFormat]:
    """The formats a file of ``fmt`` can be fetched in: targets of converters, then itself."""
    if fmt is None:
        return []
    out = [FORMATS[dst] for (src, dst) in CONVERTERS if src == fmt.name]
    out.append(fmt)
    return out


def converter_for(src: DataFormat | None, dst: DataFormat) -> Converter | None:
    if src is None:
        return None
    return CONVERTERS.get((src.name, dst.name))


def converted_name(name: str, dst: DataFormat) -> str:
    """``data.txt`` fetched as uppercasetxt is named ``data.uppertxt``."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem}.{dst.file_extension}"
