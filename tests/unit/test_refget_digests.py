"""refget digests and id parsing: the spec's vectors and the compliance suite's checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gsdesktop.refget.digests import (
    IdKind,
    SequenceDigester,
    compute,
    ga4gh_to_trunc512,
    normalise,
    parse_id,
    trunc512_to_ga4gh,
)

ACGT_MD5 = "f1f8f4bf413b16ad135722aa4591043e"
ACGT_T512 = "68a178f7c740c5c240aa67ba41843b119d3bf9f8b0f0ac36"
ACGT_GA4GH = "SQ.aKF498dAxcJAqme6QYQ7EZ07-fiw8Kw2"


def test_acgt_vectors() -> None:
    d = compute(b"ACGT")
    assert (d.md5, d.trunc512, d.ga4gh, d.length) == (ACGT_MD5, ACGT_T512, ACGT_GA4GH, 4)


def test_normalisation_drops_non_letters_and_uppercases() -> None:
    assert normalise(b"ac gt\n*-.1\r\n") == b"ACGT"
    assert compute(b"ac\nGt *").md5 == ACGT_MD5
    assert compute(b"").md5 == hashlib.md5(b"").hexdigest()


def test_incremental_equals_one_shot() -> None:
    seq = b"ACGTNRYKM" * 1000
    inc = SequenceDigester()
    for i in range(0, len(seq), 77):
        inc.update(seq[i : i + 77])
    assert inc.digests() == compute(seq, normalised=True)


def test_ga4gh_trunc512_round_trip() -> None:
    assert trunc512_to_ga4gh(ACGT_T512) == ACGT_GA4GH
    assert ga4gh_to_trunc512(ACGT_GA4GH) == ACGT_T512
    assert ga4gh_to_trunc512("ga4gh:" + ACGT_GA4GH) == ACGT_T512


def test_compliance_suite_checksums() -> None:
    import compliance_suite

    seqdir = Path(compliance_suite.__file__).parent / "sequences"
    sums = json.loads((seqdir / "checksums.json").read_text())
    for key in ("I", "VI", "NC"):
        raw = (seqdir / f"{key}.faa").read_bytes()
        body = raw.split(b"\n", 1)[1]
        d = compute(body)
        assert d.md5 == sums[key]["md5"]
        assert d.trunc512 == sums[key]["sha512"]


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        (ACGT_MD5, IdKind.MD5, ACGT_MD5),
        (ACGT_MD5.upper(), IdKind.MD5, ACGT_MD5),
        ("md5:" + ACGT_MD5, IdKind.MD5, ACGT_MD5),
        (ACGT_T512.upper(), IdKind.TRUNC512, ACGT_T512),
        ("trunc512:" + ACGT_T512, IdKind.TRUNC512, ACGT_T512),
        (ACGT_GA4GH, IdKind.TRUNC512, ACGT_T512),
        ("ga4gh:" + ACGT_GA4GH, IdKind.TRUNC512, ACGT_T512),
        ("VMC:GS_" + ACGT_GA4GH[3:], IdKind.TRUNC512, ACGT_T512),
        ("chr1", IdKind.ALIAS, "chr1"),
        ("Garbagechecksum", IdKind.ALIAS, "Garbagechecksum"),
        ("md5:nothex", IdKind.ALIAS, "md5:nothex"),
    ],
)
def test_parse_id(raw: str, kind: IdKind, value: str) -> None:
    pid = parse_id(raw)
    assert (pid.kind, pid.value) == (kind, value)


def test_ga4gh_is_case_sensitive_and_curies_keep_namespace() -> None:
    assert parse_id(ACGT_GA4GH.lower()).kind is IdKind.ALIAS
    pid = parse_id("insdc:NC_001422.1")
    assert (pid.kind, pid.value, pid.namespace) == (IdKind.ALIAS, "NC_001422.1", "insdc")
