"""Issue 15 item 11: bounded work per request. Format conversions are linear in size with bounded memory
(a file with one very long line was quadratic); refget ``?start=`` with thousands of digits is a 400."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from gsdesktop.server import formats
from tests.integration.test_server_helpers import DM


# -- the line-based converters as they were: the oracle for what the streamed ones must produce ----------
def _lines(data: bytes) -> list[bytes]:
    out = data.split(b"\n")
    if out and out[-1] == b"":
        out.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in out]


def oracle_tab_to_gct(data: bytes) -> bytes:
    lines = [ln for ln in _lines(data) if ln.strip()]
    if not lines:
        raise ValueError("empty")
    columns = max(0, len(lines[0].split(b"\t")) - 2)
    out = [b"#1.2\n", f"{len(lines) - 1}\t{columns}\n".encode()]
    for i, line in enumerate(lines):
        cells = line.split(b"\t")
        if i == 0:
            cells[:2] = [b"Name", b"Description"]
        while len(cells) < columns + 2:
            cells.append(b"")
        out.append(b"\t".join(cells) + b"\n")
    return b"".join(out)


def oracle_gct_to_tab(data: bytes) -> bytes:
    out = []
    index = 0
    for line in _lines(data):
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
            out.append(line + b"\n")
    return b"".join(out)


def _run(converter: Callable[[formats.Opener], Iterator[bytes]], data: bytes, cuts: list[int]) -> bytes:
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})

    def opener() -> Iterator[bytes]:
        return iter([data[a:b] for a, b in itertools.pairwise(bounds)])

    return b"".join(converter(opener))


_alphabet = st.sampled_from([b"a", b"b", b"\t", b"\n", b"\r", b" ", b"#", b"1", b".", b"2", b"\x0b"])
_files = st.lists(_alphabet, max_size=80).map(b"".join)
_cuts = st.lists(st.integers(min_value=0, max_value=100), max_size=12)


@settings(max_examples=600, deadline=None)
@given(_files, _cuts)
def test_tab_to_gct_matches_the_line_based_result_however_chunked(data: bytes, cuts: list[int]) -> None:
    try:
        expected = oracle_tab_to_gct(data)
    except ValueError:
        with pytest.raises(ValueError):
            _run(formats.tab_to_gct, data, cuts)
        return
    assert _run(formats.tab_to_gct, data, cuts) == expected


@settings(max_examples=600, deadline=None)
@given(_files.map(lambda b: b"#1.2\n" + b if b[:1] != b"x" else b), _cuts)
def test_gct_to_tab_matches_the_line_based_result_however_chunked(data: bytes, cuts: list[int]) -> None:
    assert _run(formats.gct_to_tab, data, cuts) == oracle_gct_to_tab(data)


@settings(max_examples=300, deadline=None)
@given(_files, _cuts)
def test_gct_to_tab_without_preamble_matches(data: bytes, cuts: list[int]) -> None:
    assert _run(formats.gct_to_tab, data, cuts) == oracle_gct_to_tab(data)


# -- one very long line -----------------------------------------------------------------------------------
def _long_line_opener(total: int, before: bytes = b"") -> formats.Opener:
    """A file of ``before`` and then one line of ``total`` bytes of cells, in 64 KiB chunks (as the store
    streams)."""
    cell = b"1.25\t"
    chunk = cell * (64 * 1024 // len(cell))

    def opener() -> Iterator[bytes]:
        if before:
            yield before
        sent = 0
        while sent < total:
            piece = chunk[: total - sent]
            sent += len(piece)
            yield piece
        yield b"\n"

    return opener


def _consume(converter: Any, opener: formats.Opener) -> tuple[float, int, int]:
    """(CPU seconds, output bytes, peak traced memory) of one conversion."""
    tracemalloc.start()
    start = time.process_time()
    size = 0
    for piece in converter(opener):
        size += len(piece)
    elapsed = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, size, peak


BEFORE = {"tab_to_gct": b"id\tname\ts1\ts2\n", "gct_to_tab": b"#1.2\n1\t2\nName\tDescription\ts1\ts2\n"}


@pytest.mark.parametrize("converter", [formats.tab_to_gct, formats.gct_to_tab])
def test_one_long_line_costs_bounded_memory(converter: Any) -> None:
    opener = _long_line_opener(32 * 1024 * 1024, BEFORE[converter.__name__])
    _, size, peak = _consume(converter, opener)
    assert size > 32 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 32 MiB line"


@pytest.mark.parametrize("converter", [formats.tab_to_gct, formats.gct_to_tab])
def test_one_long_line_costs_linear_time(converter: Any) -> None:
    def cpu(total: int) -> float:
        opener = _long_line_opener(total, BEFORE[converter.__name__])
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for _piece in converter(opener):
                pass
            best = min(best, time.process_time() - start)
        return best

    small, big = cpu(4 * 1024 * 1024), cpu(32 * 1024 * 1024)
    # linear: 8x the bytes, about 8x the time; quadratic would be about 64x
    assert big < 20 * max(small, 0.005), f"4 MiB: {small:.3f} s, 32 MiB: {big:.3f} s"


def test_server_converts_a_long_line_file(make_account: Any) -> None:
    a = make_account("gct")
    dm = DM(a.server_url, a.username, a.password)
    try:
        row = b"\t".join([b"g1", b"desc"] + [b"0.5"] * 1_000_000) + b"\n"  # one 4 MB line
        data = b"UNIQID\tNAME\t" + b"\t".join(b"s%d" % i for i in range(1_000_000)) + b"\n" + row
        dm.upload("big.tab", data)
        start = time.monotonic()
        r = dm.download("big.tab", dataFormat="gct")
        assert r.status_code == 200, r.text[:300]
        assert r.content == oracle_tab_to_gct(data)
        assert time.monotonic() - start < 30
    finally:
        dm.close()


# -- refget numbers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"start": "9" * 5000}, {}),
        ({"end": "1" * 5000}, {}),
        ({"start": "0" * 4999 + "1", "end": "2"}, {}),
        ({}, {"Range": "bytes=" + "9" * 5000 + "-" + "9" * 5000}),
        ({}, {"Range": "bytes=0-" + "9" * 5000}),
    ],
)
def test_refget_huge_numbers_are_400_without_sign_in(
    dm_server: Any, params: dict[str, str], headers: dict[str, str]
) -> None:
    url = f"{dm_server.url}/sequence/{'0' * 32}"
    r = requests.get(url, params=params, headers=headers, timeout=30)
    assert r.status_code in (400, 416), (r.status_code, r.text[:300])
    if "start" in params or "end" in params:
        assert r.status_code == 400
