"""Data Manager server: requests per second for ``uploadurls``, directory listing and ``filemetadata``.

Measured over real HTTP against the harness's server (one uvicorn process) on the shared SeaweedFS,
with 1 and 8 client threads. For context, the same run measures the store itself (boto3
``ListObjectsV2`` of the same directory), since every listing costs one such call. rclone has no
per-request equivalent, so there is no reference ratio.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.benchmarks.harness import BenchContext, BenchResult

THREADS = 8


def _rate(make_call: Callable[[], Callable[[], None]], threads: int, seconds: float) -> float:
    """Calls per second over ``seconds``, each thread with its own call (own HTTP session)."""
    stop = threading.Event()
    counts = [0] * threads

    def worker(i: int) -> None:
        call = make_call()
        call()  # warm the connection
        while not stop.is_set():
            call()
            counts[i] += 1

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, i) for i in range(threads)]
        time.sleep(0.3)
        before, t0 = sum(counts), time.perf_counter()
        time.sleep(seconds)
        done, elapsed = sum(counts) - before, time.perf_counter() - t0
        stop.set()
        for f in futures:
            f.result()
    return done / elapsed


def run(ctx: BenchContext) -> list[BenchResult]:
    user, password = ctx.make_account("bsrv")
    base = ctx.server.url
    login = requests.get(f"{base}/identityServer/basic", auth=(user, password), timeout=30)
    login.raise_for_status()
    token = login.text
    entries = 50 if ctx.quick else 200
    seconds = 1.5 if ctx.quick else 4.0
    home = f"{base}/datamanager/files/users/{user}"
    s = requests.Session()
    s.cookies.set("gs-token", token)
    s.put(f"{home}/bench", json={"isDirectory": True}, timeout=30).raise_for_status()
    data = b"benchmark file\n"
    b64 = base64.b64encode(hashlib.md5(data).digest()).decode()
    params = {"Content-Length": str(len(data)), "Content-MD5": b64, "Content-Type": "text/plain"}
    put_headers = {
        "Content-MD5": b64,
        "Content-Type": "text/plain",
        "x-amz-meta-md5-hash": hashlib.md5(data).hexdigest(),
    }

    def upload(i: int) -> None:
        url = s.get(
            f"{base}/datamanager/uploadurls/users/{user}/bench/f{i:04d}.txt", params=params, timeout=30
        ).text
        requests.put(url, data=data, headers=put_headers, timeout=30).raise_for_status()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(upload, range(entries)))

    def session_call(url: str, query: dict[str, str] | None = None) -> Callable[[], Callable[[], None]]:
        def make() -> Callable[[], None]:
            sess = requests.Session()
            sess.cookies.set("gs-token", token)

            def call() -> None:
                r = sess.get(url, params=query, timeout=30, allow_redirects=False)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")

            return call

        return make

    upload_url = session_call(f"{base}/datamanager/uploadurls/users/{user}/bench/new.txt", params)
    listing = session_call(f"{home}/bench")
    metadata = session_call(f"{base}/datamanager/filemetadata/users/{user}/bench/f0001.txt")

    def raw_list() -> Callable[[], None]:
        from gsdesktop.server.storage import S3Store

        store = S3Store(ctx.s3, create_bucket=False)
        return lambda: store.list_all(f"users/{user}/bench/", delimiter="/") and None

    results = []
    for name, make, threads in (
        ("server: uploadurls", upload_url, 1),
        ("server: uploadurls", upload_url, THREADS),
        (f"server: list dir of {entries} files", listing, 1),
        (f"server: list dir of {entries} files", listing, THREADS),
        ("server: filemetadata", metadata, THREADS),
        (f"store: S3 LIST of {entries} keys (boto3)", raw_list, THREADS),
    ):
        rate = _rate(make, threads, seconds)
        results.append(
            BenchResult(
                name=f"{name} ({threads} thread{'s' if threads > 1 else ''})",
                ours=rate,
                unit="req/s",
                lower_is_better=False,
                note="context: the store's own LIST rate" if name.startswith("store") else "",
            )
        )
    return results
