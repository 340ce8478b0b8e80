"""Data Manager server at concurrency 16: ``uploadurls`` and listing a folder of 1,000 files.

The throughput check of issue 15 (authentication before the body, JSON-only bodies, the password
throttle and the h11 head limits must cost nothing measurable): 16 client threads, each with its own
signed-in HTTP session, for a few seconds per figure, against the harness's server on SeaweedFS.
Run it on two checkouts to compare: ``PYTHONPATH=<checkout> python -m tests.benchmarks.run --only
server16``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.benchmarks.bench_server import _rate
from tests.benchmarks.harness import BenchContext, BenchResult

THREADS = 16
FILES = 1000


def run(ctx: BenchContext) -> list[BenchResult]:
    user, password = ctx.make_account("b16")
    base = ctx.server.url
    login = requests.get(f"{base}/identityServer/basic", auth=(user, password), timeout=30)
    login.raise_for_status()
    token = login.text
    files = 200 if ctx.quick else FILES
    seconds = 2.0 if ctx.quick else 6.0
    home = f"{base}/datamanager/files/users/{user}"
    s = requests.Session()
    s.cookies.set("gs-token", token)
    s.put(f"{home}/many", json={"isDirectory": True}, timeout=30).raise_for_status()
    data = b"x\n"
    md5 = hashlib.md5(data)
    b64 = base64.b64encode(md5.digest()).decode()
    params = {"Content-Length": str(len(data)), "Content-MD5": b64, "Content-Type": "text/plain"}
    put_headers = {"Content-MD5": b64, "Content-Type": "text/plain", "x-amz-meta-md5-hash": md5.hexdigest()}

    def upload(i: int) -> None:
        url = s.get(
            f"{base}/datamanager/uploadurls/users/{user}/many/f{i:05d}.txt", params=params, timeout=30
        )
        url.raise_for_status()
        requests.put(url.text, data=data, headers=put_headers, timeout=30).raise_for_status()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(upload, range(files)))

    def session_call(url: str, query: dict[str, str] | None = None) -> Callable[[], Callable[[], None]]:
        def make() -> Callable[[], None]:
            sess = requests.Session()
            sess.trust_env = False
            sess.cookies.set("gs-token", token)

            def call() -> None:
                r = sess.get(url, params=query, timeout=60, allow_redirects=False)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")

            return call

        return make

    upload_url = session_call(f"{base}/datamanager/uploadurls/users/{user}/many/new.txt", params)
    listing = session_call(f"{home}/many")
    results = []
    for name, make in (
        ("server16: uploadurls", upload_url),
        (f"server16: list dir of {files} files", listing),
    ):
        rate = _rate(make, THREADS, seconds)
        results.append(
            BenchResult(name=f"{name} ({THREADS} threads)", ours=rate, unit="req/s", lower_is_better=False)
        )
    return results
