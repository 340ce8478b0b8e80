"""Streaming FASTA parser: chunking, gzip/BGZF, normalisation and malformed input with line numbers."""

from __future__ import annotations

import gzip
import hashlib
import random
import tracemalloc
from pathlib import Path

import pytest

from gsdesktop.refget.digests import compute
from gsdesktop.refget.fasta import FastaFormatError, FastaSpooler, spool_file

FASTA = b">a first sequence\nacgt\n\n>b\r\nAC GT*\r\nNN\n>c\tdesc\nA\nC\nG\nT"


def _parse(data: bytes, chunk: int, tmp: Path) -> list[tuple[str, str, bytes, str]]:
    sp = FastaSpooler(tmp, "t.fa")
    for i in range(0, len(data), chunk):
        sp.feed(data[i : i + chunk])
    return [(r.name, r.description, r.path.read_bytes(), r.digests.md5) for r in sp.close()]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("compress", ["none", "gzip", "bgzf"])
def test_any_chunking_any_compression(chunk: int, compress: str, tmp_path: Path) -> None:
    data = FASTA
    if compress == "gzip":
        data = gzip.compress(FASTA)
    elif compress == "bgzf":  # concatenated gzip members, as bgzip writes them
        data = b"".join(gzip.compress(FASTA[i : i + 9]) for i in range(0, len(FASTA), 9))
    got = _parse(data, chunk, tmp_path)
    assert [(n, d, s) for n, d, s, _ in got] == [
        ("a", "first sequence", b"ACGT"),
        ("b", "", b"ACGTNN"),
        ("c", "desc", b"ACGT"),
    ]
    assert got[0][3] == "f1f8f4bf413b16ad135722aa4591043e"


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        (b"ACGT\n>a\nAC\n", 1, "before the first '>' header"),
        (b">a\nACGT\nAC1T\n", 3, "invalid character '1'"),
        (b">a\nACGT\nAC\n>b\nGG\nG>G\n", 6, "invalid character '>'"),
        (b">a\n\n>b\nAC\n", 1, "sequence 'a' is empty"),
        (b">a\nAC\n>\nAC\n", 3, "no sequence name"),
        (b">a\nAC\n>a\nGG\n", 3, "duplicate sequence name 'a'"),
        (b">a\nAC\xc3\xa9\n", 2, "invalid character '\\\\xc3'"),
        (b"", 0, "no sequences found"),
        (b"\n\n\n", 0, "no sequences found"),
    ],
)
def test_malformed_reports_line(data: bytes, line: int, fragment: str, tmp_path: Path) -> None:
    for chunk in (1, 5, 1 << 20):
        with pytest.raises(FastaFormatError) as info:
            _parse(data, chunk, tmp_path)
        assert info.value.line == line
        assert fragment in str(info.value)
        assert str(info.value).startswith("t.fa: ")


def test_truncated_and_corrupt_gzip(tmp_path: Path) -> None:
    gz = gzip.compress(b">a\n" + b"ACGT" * 10000)
    with pytest.raises(FastaFormatError, match="truncated gzip"):
        _parse(gz[: len(gz) // 2], 1000, tmp_path)
    with pytest.raises(FastaFormatError, match="corrupt gzip"):
        _parse(gz[:10] + b"\x00" * 50 + gz[60:], 1000, tmp_path)


def test_large_random_file_streams_with_bounded_memory(tmp_path: Path) -> None:
    rng = random.Random(7)
    table = bytes(b"ACGTNacgtn"[i % 10] for i in range(256))
    seq = rng.randbytes(20_000_000).translate(table)
    path = tmp_path / "big.fa.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(b">big\n")
        for i in range(0, len(seq), 60):
            fh.write(seq[i : i + 60] + b"\n")
        fh.write(b">small\nACGT\n")
    work = tmp_path / "w"
    work.mkdir()
    tracemalloc.start()
    recs = spool_file(path, work, chunk_size=64 << 10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20  # a few MiB of buffers, far less than the 20 MB sequence
    assert [r.name for r in recs] == ["big", "small"]
    want = compute(seq)
    assert recs[0].digests == want
    assert hashlib.md5(recs[0].path.read_bytes()).hexdigest() == want.md5
