"""htslib decodes a CRAM whose reference it can only get from our refget service.

The CRAM is written with pysam against a local FASTA, the FASTA is loaded with the CLI
(`gsdesktop refget load`) and then deleted; decoding runs in a fresh process with
``REF_PATH=<server>/sequence/%s`` and an empty ``REF_CACHE``, so every base comes over refget.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pysam

from tests.conftest import Account

DECODE = r"""
import json, sys, pysam
out = {}
with pysam.AlignmentFile(sys.argv[1], "rc") as f:
    for r in f.fetch(until_eof=True):
        out[r.query_name] = [r.reference_name, r.reference_start, r.query_sequence]
print(json.dumps(out))
"""


def _make_cram(tmp: Path) -> tuple[Path, Path, dict[str, tuple[str, int, str]]]:
    rng = random.Random(42)
    chroms = {
        name: "".join(rng.choice("ACGT") for _ in range(n)) for name, n in (("chrA", 30000), ("chrB", 12000))
    }
    fasta = tmp / "ref.fa"
    with open(fasta, "w") as fh:
        for name, seq in chroms.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    pysam.faidx(str(fasta))
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": n, "LN": len(s)} for n, s in chroms.items()],
    }
    expected: dict[str, tuple[str, int, str]] = {}
    cram = tmp / "reads.cram"
    with pysam.AlignmentFile(str(cram), "wc", header=header, reference_filename=str(fasta)) as out:
        for tid, (name, seq) in enumerate(chroms.items()):
            for pos in range(0, len(seq) - 100, 37):
                read = list(seq[pos : pos + 100])
                snv = rng.randrange(100)  # one mismatch per read: decoding needs the reference
                read[snv] = "T" if read[snv] != "T" else "G"
                a = pysam.AlignedSegment(out.header)
                a.query_name = f"{name}_{pos}"
                a.reference_id, a.reference_start = tid, pos
                a.query_sequence = "".join(read)
                a.cigarstring, a.mapping_quality = "100M", 60
                a.query_qualities = pysam.qualitystring_to_array("I" * 100)
                out.write(a)
                expected[a.query_name] = (name, pos, a.query_sequence)
    return cram, fasta, expected


def _decode(cram: Path, ref_path: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, REF_PATH=ref_path, REF_CACHE=str(cache / "%2s/%2s/%s"))
    env.pop("http_proxy", None)
    env.pop("HTTP_PROXY", None)
    return subprocess.run([sys.executable, "-c", DECODE, str(cram)], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_htslib_decodes_cram_via_refget(account: Account, tmp_path: Path) -> None:
    cram, fasta, expected = _make_cram(tmp_path)
    env = dict(os.environ, GSDESKTOP_PASSWORD=account.password, HOME=str(tmp_path / "home"))
    load = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "refget", "load", str(fasta), "--json",
         "--server", account.server_url, "--username", account.username],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert load.returncode == 0, load.stderr
    loaded = json.loads(load.stdout)
    assert [s["name"] for s in loaded["sequences"]] == ["chrA", "chrB"]
    for p in (fasta, Path(str(fasta) + ".fai")):
        p.unlink()

    # control: with the reference unreachable the CRAM cannot be decoded
    dead = _decode(cram, "http://127.0.0.1:9/sequence/%s", tmp_path / "cache0")
    assert dead.returncode != 0

    cache = tmp_path / "cache"
    cache.mkdir()
    proc = _decode(cram, account.server_url + "/sequence/%s", cache)
    assert proc.returncode == 0, proc.stderr
    decoded = json.loads(proc.stdout)
    assert len(decoded) == len(expected) > 1000
    for qname, (chrom, pos, seq) in expected.items():
        assert decoded[qname] == [chrom, pos, seq], qname
    # htslib fetched both references from us by MD5 and cached them
    md5s = {s["md5"] for s in loaded["sequences"]}
    assert {p.name for p in cache.rglob("*") if p.is_file()} == {m[4:] for m in md5s}
