"""The data-format table and the streamed converters.

Formats are recognised by file extension. Format URLs look like
``http://www.genomespace.org/datamanager/dataformat/<name>/0.0.0``; the later form without ``/0.0.0``
and a bare name are accepted too. Converters take a *source opener* (a callable returning a fresh
iterator of byte chunks) so a converter that needs two passes (tab -> gct must announce the row
count first) reads the object twice instead of holding it in memory.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

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
def iter_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines (without ``\\n`` / ``\\r\\n``) from an iterator of byte chunks."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield pending[:-1] if pending.endswith(b"\r") else pending


def _batched(lines: Iterator[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    buf: list[bytes] = []
    total = 0
    for line in lines:
        buf.append(line)
        total += len(line)
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
    """Genomica tab (``UNIQID NAME s1 s2 ...``) to GCT 1.2; two streamed passes (rows are counted first)."""
    rows = 0
    columns = 0
    first = True
    for line in iter_lines(opener()):
        if not line.strip():
            continue
        if first:
            columns = max(0, len(line.split(b"\t")) - 2)
            first = False
        else:
            rows += 1
    if first:
        raise ValueError("the file is empty: no header line to convert")
    yield b"#1.2\n" + f"{rows}\t{columns}\n".encode()

    def body() -> Iterator[bytes]:
        header = True
        for line in iter_lines(opener()):
            if not line.strip():
                continue
            cells = line.split(b"\t")
            if header:
                cells[:2] = [b"Name", b"Description"]
                header = False
            while len(cells) < columns + 2:
                cells.append(b"")
            yield b"\t".join(cells) + b"\n"

    yield from _batched(body())


def gct_to_tab(opener: Opener) -> Iterator[bytes]:
    """GCT to Genomica tab: drop the two preamble lines, rename the first two header cells."""

    def body() -> Iterator[bytes]:
        index = 0
        for line in iter_lines(opener()):
            if index == 0 and line.startswith(b"#1."):
                index += 1
                continue
            if index == 1:
                index += 1
                continue
            if index == 2:
                cells = line.split(b"\t")
                cells[:2] = [b"UNIQID", b"NAME"]
                line = b"\t".join(cells)
            index += 1
            if line.strip():
                yield line + b"\n"

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
