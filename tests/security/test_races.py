"""Races between requests through TWO server replicas on one store (issue 15 items 2, 3 and 4).

Each test repeats its race for at least 10 rounds; requests are released together by a barrier and
alternate between the replicas (the session's ``dm_server`` and a second replica started here).
Real SeaweedFS, real server subprocesses, raw HTTP.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from gsdesktop.server.seaweed import S3Config
from tests.conftest import Account
from tests.support.servers import ServerProcess

ROUNDS = 10
MP = "/datamanager/multipart"


@pytest.fixture(scope="module")
def replica(seaweed: S3Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A second replica of the Data Manager on the session's store."""
    server = ServerProcess(tmp_path_factory.mktemp("replica"), seaweed).start()
    yield server
    server.stop()


class Caller:
    """One signed-in session on one replica."""

    def __init__(self, url: str, account: Account) -> None:
        self.url = url
        self.user = account.username
        r = requests.get(f"{url}/identityServer/basic", auth=(account.username, account.password), timeout=10)
        assert r.status_code == 200, r.text
        self.s = requests.Session()
        self.s.cookies.set("gs-token", r.text)

    def req(self, method: str, route: str, **kw: Any) -> requests.Response:
        return self.s.request(method, self.url + route, timeout=60, **kw)


@pytest.fixture
def callers(account: Account, dm_server: ServerProcess, replica: ServerProcess) -> list[Caller]:
    return [Caller(dm_server.url, account), Caller(replica.url, account)]


def at_once(jobs: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run ``jobs`` in threads released together; their answers in order."""
    barrier = threading.Barrier(len(jobs))
    out: list[requests.Response | BaseException | None] = [None] * len(jobs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = jobs[i]()
        except BaseException as exc:  # reported below
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    answers: list[requests.Response] = []
    for got in out:
        assert isinstance(got, requests.Response), got
        answers.append(got)
    return answers


def assert_clean(r: requests.Response, allowed: tuple[int, ...]) -> None:
    """An allowed status; an error has a JSON message (never a 5xx)."""
    assert r.status_code in allowed, (r.status_code, r.text)
    if r.status_code >= 400:
        assert r.json().get("message"), r.text


def files(c: Caller, path: str) -> dict[str, str]:
    """Every file below ``path`` (relative name -> content MD5 of the bytes really stored)."""
    r = c.req("GET", f"/datamanager/files{quote(path)}", params={"recursive": "true"})
    if r.status_code == 404:
        return {}
    assert r.status_code == 200, r.text
    body = r.json()
    assert body.get("nextPageToken") is None
    out: dict[str, str] = {}
    for m in body["contents"]:
        if m["isDirectory"]:
            continue
        name = m["path"][len(path) + 1 :]
        out[name] = hashlib.md5(content(c, m["path"])).hexdigest()
    return out


def content(c: Caller, path: str) -> bytes:
    r = c.req("GET", f"/datamanager/files{quote(path)}")
    assert r.status_code == 200, r.text
    return r.content


# -- item 2: racing multipart completes ---------------------------------------------------------------------
def mp_prepared(c: Caller, path: str, data: bytes) -> str:
    """A one-part upload started WITHOUT the MD5 (it comes at complete), its part stored: its id."""
    r = c.req("POST", f"{MP}/uploads", json={"path": path, "size": len(data)})
    assert r.status_code == 201, r.text
    uid = str(r.json()["uploadId"])
    md5 = hashlib.md5(data).hexdigest()
    r = c.req("POST", f"{MP}/uploads/{uid}/urls", json={"parts": [{"partNumber": 1, "md5": md5}]})
    assert r.status_code == 200, r.text
    got = r.json()["urls"][0]
    assert requests.put(got["url"], data=data, headers={"Content-MD5": got["contentMd5"]}, timeout=30).ok
    return uid


def test_racing_multipart_completes_never_record_another_uploads_md5(callers: list[Caller]) -> None:
    a = callers[0]
    home = f"/users/{a.user}"
    assert a.req("PUT", f"/datamanager/files{home}/mpr", json={"isDirectory": True}).status_code == 201
    for rnd in range(ROUNDS):
        path = f"{home}/mpr/f{rnd}.bin"
        blobs = [os.urandom(64 * 1024 + i) for i in range(3)]
        uids = [mp_prepared(callers[i % 2], path, b) for i, b in enumerate(blobs)]
        jobs = [
            (lambda c=callers[i % 2], u=uid, b=blob: c.req(
                "POST", f"{MP}/uploads/{u}/complete",
                json={"parts": [{"partNumber": 1, "etag": hashlib.md5(b).hexdigest()}],
                      "md5": hashlib.md5(b).hexdigest()},
            ))
            for i, (uid, blob) in enumerate(zip(uids, blobs, strict=True))
        ]  # fmt: skip
        answers = at_once(jobs)
        for r in answers:
            assert_clean(r, (200, 409))
        won = {
            hashlib.md5(b).hexdigest() for b, r in zip(blobs, answers, strict=True) if r.status_code == 200
        }
        assert won, [r.text for r in answers]
        stored = hashlib.md5(content(a, path)).hexdigest()
        meta = a.req("GET", f"/datamanager/filemetadata{path}").json()
        # the recorded MD5 is the MD5 of the bytes stored, and those bytes are an upload told "done"
        assert meta["md5"] == stored, (rnd, meta, stored, [r.status_code for r in answers])
        assert stored in won, (rnd, [r.status_code for r in answers])
