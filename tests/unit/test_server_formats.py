"""Format table and streamed converters (no server needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gsdesktop.server import formats


def _chunks(data: bytes, size: int) -> formats.Opener:
    def opener() -> Iterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i : i + size]

    return opener


def named(fmt: formats.DataFormat | None) -> str:
    assert fmt is not None
    return fmt.name


def test_format_lookup_and_urls() -> None:
    assert named(formats.format_for_filename("x.GCT")) == "gct"
    assert named(formats.format_for_filename("x.tab")) == "genomicatab"
    assert named(formats.format_for_filename("reads.fq")) == "fastq"
    assert formats.format_for_filename("noext") is None
    base = "http://www.genomespace.org/datamanager/dataformat/"
    for url in (base + "gct/0.0.0", base + "gct", base + "gct/", "gct", "GCT"):
        assert named(formats.parse_format_url(url)) == "gct"
    assert formats.parse_format_url(base + "nope/0.0.0") is None
    assert formats.FORMATS["txt"].to_json()["url"] == base + "txt/0.0.0"
    assert [f.name for f in formats.available_formats(formats.FORMATS["txt"])] == [
        "lowercasetxt", "uppercasetxt", "txt",
    ]  # fmt: skip


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
def test_case_converters_split_multibyte_characters(size: int) -> None:
    text = "Grüße ÄÖÜ ß\r\nMixed Case 🧬 line\n".encode()
    upper = formats.CONVERTERS[("txt", "uppercasetxt")]
    lower = formats.CONVERTERS[("txt", "lowercasetxt")]
    assert b"".join(upper(_chunks(text, size))) == "GRÜSSE ÄÖÜ SS\r\nMIXED CASE 🧬 LINE\n".encode()
    assert b"".join(lower(_chunks(text, size))) == "grüße äöü ß\r\nmixed case 🧬 line\n".encode()
    invalid = b"ok \xff\xfe BAD"
    assert b"".join(lower(_chunks(invalid, size))) == b"ok \xff\xfe bad"


@pytest.mark.parametrize("size", [1, 5, 64 * 1024])
def test_tab_gct_round_trip(size: int) -> None:
    tab = b"UNIQID\tNAME\tA\tB\tC\r\ng1\tone\t1\t2\t3\r\n\ng2\ttwo\t4\t5\t6"
    gct = b"".join(formats.tab_to_gct(_chunks(tab, size)))
    assert gct == b"#1.2\n2\t3\nName\tDescription\tA\tB\tC\ng1\tone\t1\t2\t3\ng2\ttwo\t4\t5\t6\n"
    back = b"".join(formats.gct_to_tab(_chunks(gct, size)))
    assert back == b"UNIQID\tNAME\tA\tB\tC\ng1\tone\t1\t2\t3\ng2\ttwo\t4\t5\t6\n"


def test_tab_to_gct_reads_twice_never_whole() -> None:
    opened = []
    rows = 20000
    data = b"ID\tN\tS\n" + b"".join(b"g%d\tn\t%d\n" % (i, i) for i in range(rows))

    def opener() -> Iterator[bytes]:
        opened.append(1)
        return _chunks(data, 1000)()

    out = formats.tab_to_gct(opener)
    assert next(out) == b"#1.2\n%d\t1\n" % rows
    chunks = list(out)
    assert len(opened) == 2 and len(chunks) > 1  # streamed in batches
    assert max(len(c) for c in chunks) < 128 * 1024
    with pytest.raises(ValueError, match="empty"):
        list(formats.tab_to_gct(_chunks(b"", 10)))


def test_converted_name() -> None:
    assert formats.converted_name("a.b.txt", formats.FORMATS["uppercasetxt"]) == "a.b.uppertxt"
    assert formats.converted_name("plain", formats.FORMATS["gct"]) == "plain.gct"
