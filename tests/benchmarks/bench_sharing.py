"""Sharing (issue 19): a recursive listing of a shared tree by a Read user vs the same listing by the owner.

The owner's tree of 10,000 files (1,000 with ``--quick``) in 100 folders is written straight into the
store, shared with a user, a group and the public on the top folder (inherited below), and listed
recursively in pages of 1,000 by the owner and by the shared user, alternately, five times each; the
median is reported. Goal: the shared listing costs at most 1.2x the owner's (the "rclone" column of the
table holds the owner's figure here).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.benchmarks.harness import BenchContext, BenchResult


def _session(base: str, user: str, password: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.get(f"{base}/identityServer/basic", auth=(user, password), timeout=30).raise_for_status()
    return s


def _list_all(s: requests.Session, url: str) -> int:
    count, token = 0, None
    while True:
        params = {"recursive": "true", "pageSize": "1000", **({"pageToken": token} if token else {})}
        r = s.get(url, params=params, timeout=300)
        r.raise_for_status()
        page = r.json()
        count += len(page["contents"])
        token = page.get("nextPageToken")
        if not token:
            return count


def run(ctx: BenchContext) -> list[BenchResult]:
    from gsdesktop.server.storage import S3Store

    files = 1_000 if ctx.quick else 10_000
    owner, owner_pw = ctx.make_account("bshare")
    reader, reader_pw = ctx.make_account("bread")
    base = ctx.server.url
    store = S3Store(ctx.s3, create_bucket=False)
    keys = [f"users/{owner}/tree/d{i % 100:03d}/f{i:05d}.txt" for i in range(files)]
    store.put_bytes(f"users/{owner}/tree/", b"", content_type="application/x-directory")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.put_bytes(k, b"x", content_type="text/plain"), keys))

    alice = _session(base, owner, owner_pw)
    bob = _session(base, reader, reader_pw)
    sharing = f"{base}/datamanager/sharing"
    tree = f"/users/{owner}/tree"
    group = f"bench-{owner}"
    alice.post(f"{sharing}/groups", json={"name": group}, timeout=30).raise_for_status()
    for body in (
        {"type": "user", "name": reader, "level": "read"},
        {"type": "group", "name": group, "level": "read"},
        {"type": "public", "level": "read"},
    ):
        alice.post(f"{sharing}/acl{tree}", json=body, timeout=30).raise_for_status()
    url = f"{base}/datamanager/files{tree}"
    assert _list_all(alice, url) == _list_all(bob, url)  # warm both, and the same entries
    as_owner: list[float] = []
    as_reader: list[float] = []
    for _ in range(5):
        for s, out in ((alice, as_owner), (bob, as_reader)):
            t0 = time.perf_counter()
            _list_all(s, url)
            out.append(time.perf_counter() - t0)
    return [
        BenchResult(
            name=f"sharing: recursive list of {files} shared files",
            ours=statistics.median(as_reader),
            unit="s",
            reference=statistics.median(as_owner),
            goal_ratio=1.2,
            note="reference = the same listing by the owner",
        )
    ]
