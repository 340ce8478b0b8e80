"""refget: FASTA load throughput and sub-sequence requests per second on the real server.

Reference figures from the same run and store: rclone uploading the same FASTA bytes (a raw copy,
no parsing or digests) and direct boto3 ranged GETs (what the service does per slice).
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.refget.client import load_local
from tests.benchmarks.harness import BenchContext, BenchResult

CHROM_MB = 32
SLICE = 1000
THREADS = 8


def _write_fasta(path: Path, chroms: int, seed: int = 1) -> bytes:
    """Random 60-column FASTA; returns the first chromosome's bases (for checking slices)."""
    rng = random.Random(seed)
    table = bytes(b"ACGTACGTAN"[i % 10] for i in range(256))
    first = b""
    with open(path, "wb") as fh:
        for c in range(chroms):
            seq = rng.randbytes(CHROM_MB << 20).translate(table)
            if c == 0:
                first = seq
            fh.write(f">chr{c + 1} benchmark\n".encode())
            fh.write(b"\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + b"\n")
    return first


def run(ctx: BenchContext) -> list[BenchResult]:
    user, password = ctx.make_account("refget")
    url = ctx.server.url
    chroms = 2 if ctx.quick else 6
    fasta = ctx.workdir / "bench_refget.fa"
    chr1 = _write_fasta(fasta, chroms)
    size_mb = fasta.stat().st_size / 1e6
    results: list[BenchResult] = []
    with DataManagerClient(url, user, password) as client:
        t0 = time.perf_counter()
        ids = load_local(client, fasta)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = load_local(client, fasta)
        t_reload = time.perf_counter() - t0
    assert again.objects_written == 0
    t_rclone = ctx.rclone("copyto", str(fasta), ctx.rclone_path(f"bench/refget/{fasta.name}"))
    results.append(
        BenchResult(
            f"refget load {size_mb:.0f} MB FASTA (parse+digest+store)", t_load, "s", reference=t_rclone,
            note=f"{size_mb / t_load:.1f} MB/s of FASTA; rclone = raw upload of the same bytes",
        )
    )  # fmt: skip
    results.append(BenchResult("refget load throughput", size_mb / t_load, "MB/s", lower_is_better=False))
    results.append(BenchResult("refget reload (idempotent, nothing stored)", t_reload, "s"))

    md5s = [s.md5 for s in ids.sequences]
    n = 400 if ctx.quick else 3000
    rng = random.Random(5)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))

    def fetch(job: tuple[int, int]) -> None:
        c, s = job
        r = session.get(f"{url}/sequence/{md5s[c]}", params={"start": s, "end": s + SLICE}, timeout=30)
        ok = r.content == chr1[s : s + SLICE] if c == 0 else len(r.content) == SLICE and r.content.isalpha()
        if r.status_code != 200 or not ok:
            raise AssertionError(f"bad slice at {c}:{s}: {r.status_code}")

    def rate_of(jobs: list[tuple[int, int]]) -> float:
        with ThreadPoolExecutor(THREADS) as pool:
            t0 = time.perf_counter()
            list(pool.map(fetch, jobs))
            return len(jobs) / (time.perf_counter() - t0)

    size = CHROM_MB << 20
    spread = [(rng.randrange(len(md5s)), rng.randrange(size - SLICE)) for _ in range(n)]
    window0 = rng.randrange(size - (2 << 20))
    local = [(0, window0 + rng.randrange((2 << 20) - SLICE)) for _ in range(n)]
    rate_of(spread[:20])  # connections
    spread_rate = rate_of(spread)
    local_rate = rate_of(local)
    starts = [s for _, s in spread]

    from gsdesktop.server.storage import S3Store

    store = S3Store(ctx.s3, create_bucket=False)
    key = f"refget/sequence/{ids.sequences[0].trunc512}"

    def direct(s: int) -> None:
        body = store.s3.get_object(Bucket=store.bucket, Key=key, Range=f"bytes={s}-{s + SLICE - 1}")[
            "Body"
        ].read()
        if len(body) != SLICE:
            raise AssertionError("short ranged read")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(direct, starts[:50]))
        t0 = time.perf_counter()
        list(pool.map(direct, starts))
        direct_rate = n / (time.perf_counter() - t0)
    results.append(
        BenchResult(
            f"refget {SLICE} bp slices, random over {size_mb:.0f} MB, {THREADS} clients", spread_rate,
            "req/s", reference=direct_rate, lower_is_better=False,
            note="reference = direct boto3 ranged GETs (no service, no cache); block cache covers 32 MiB",
        )
    )  # fmt: skip
    results.append(
        BenchResult(
            f"refget {SLICE} bp slices in a 2 Mbp window (browser-like)", local_rate, "req/s",
            reference=direct_rate, lower_is_better=False,
        )
    )  # fmt: skip
    return results
