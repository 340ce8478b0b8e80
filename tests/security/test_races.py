"""Races between requests through TWO server replicas on one store (issue 15 items 2, 3 and 4).

Each test repeats its race for at least 10 rounds; requests are released together by a barrier and
alternate between the replicas (the session's ``dm_server`` and a second replica started here).
Real SeaweedFS, real server subprocesses, raw HTTP.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
import requests

from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
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


def at_once(jobs: Sequence[Callable[[], requests.Response]]) -> list[requests.Response]:
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


# -- items 3 and 4: moves ----------------------------------------------------------------------------------
def mkdir(c: Caller, path: str) -> None:
    r = c.req("PUT", f"/datamanager/files{quote(path)}", json={"isDirectory": True})
    assert r.status_code in (200, 201), r.text


def signed_put(c: Caller, path: str, data: bytes) -> tuple[str, dict[str, str]]:
    """A signed PUT URL for ``path`` and the headers to send with it."""
    import base64

    digest = hashlib.md5(data).digest()
    item = {"path": path, "size": len(data), "md5": digest.hex(), "contentType": "application/octet-stream"}
    r = c.req("POST", "/datamanager/uploadurls-batch", json={"files": [item]})
    assert r.status_code == 200, r.text
    res = r.json()["results"][0]
    assert "url" in res, res
    headers = {"Content-MD5": base64.b64encode(digest).decode(), "Content-Type": "application/octet-stream",
               "x-amz-meta-md5-hash": digest.hex(), **(res.get("headers") or {})}  # fmt: skip
    return str(res["url"]), headers


def upload(c: Caller, path: str, data: bytes) -> None:
    url, headers = signed_put(c, path, data)
    assert requests.put(url, data=data, headers=headers, timeout=30).status_code == 200


def move(c: Caller, src: str, dst: str) -> requests.Response:
    def v1(p: str) -> str:
        return "/Home/" + p[len("/users/") :]

    return c.req("POST", f"/datamanager/v1.0/file{quote(v1(src))}", json={"path": v1(dst)})


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def race_moves(callers: list[Caller], *pairs: tuple[str, str]) -> list[requests.Response]:
    """The moves ``(src, dst)`` at once, alternating between the replicas: one answers 200, the others
    409 (or 404 "move source not found" for a move of the same source that only looked after the
    winner had finished: then nothing is left to move)."""
    answers = at_once([partial(move, callers[i % 2], s, d) for i, (s, d) in enumerate(pairs)])
    same_source = len({s for s, _ in pairs}) == 1
    for r in answers:
        assert_clean(r, (200, 409, 404) if same_source else (200, 409))
    codes = sorted(r.status_code for r in answers)
    assert codes[0] == 200 and all(c != 200 for c in codes[1:]), [r.text for r in answers]
    return answers


def test_moving_a_folder_keeps_every_upload_that_arrives_meanwhile(callers: list[Caller]) -> None:
    a = callers[0]
    home = f"/users/{a.user}"
    for rnd in range(ROUNDS):
        src, dst = f"{home}/mv{rnd}", f"{home}/moved{rnd}"
        mkdir(a, src)
        mkdir(a, f"{src}/sub")
        old = {f"o{i}.txt" if i % 3 else f"sub/o{i}.txt": os.urandom(200 + i) for i in range(30)}
        for name, data in old.items():
            upload(callers[0], f"{src}/{name}", data)
        new = {f"n{i}.txt" if i % 4 else f"sub/n{i}.txt": os.urandom(300 + i) for i in range(25)}
        signed = {n: signed_put(callers[i % 2], f"{src}/{n}", d) for i, (n, d) in enumerate(new.items())}
        jobs: list[Callable[[], requests.Response]] = [partial(move, callers[1], src, dst)]
        for name, data in new.items():
            url, headers = signed[name]
            jobs.append(partial(requests.put, url, data=data, headers=headers, timeout=30))
        answers = at_once(jobs)
        assert_clean(answers[0], (200,))
        confirmed = {n: d for (n, d), r in zip(new.items(), answers[1:], strict=True) if r.status_code == 200}
        assert len(confirmed) >= 20, [r.status_code for r in answers[1:]]
        at_src, at_dst = files(a, src), files(a, dst)
        for name, data in {**old, **confirmed}.items():
            places = [p for p, have in (("src", at_src), ("dst", at_dst)) if have.get(name) == md5(data)]
            assert len(places) == 1, (rnd, name, places, name in at_src, name in at_dst)
        for name in old:  # what was there before the move was moved
            assert at_dst.get(name) == md5(old[name]), (rnd, name)
        assert set(at_src) | set(at_dst) <= set(old) | set(confirmed)
        assert not set(at_src) & set(at_dst), (rnd, set(at_src) & set(at_dst))


def test_moving_a_folder_keeps_every_overwrite_that_lands_meanwhile(callers: list[Caller]) -> None:
    """Sources are deleted in conditional batches after their copies: a file rewritten in between
    must stay (at the source, or moved with its new content), never be deleted with the old version."""
    a = callers[0]
    home = f"/users/{a.user}"
    for rnd in range(ROUNDS):
        src, dst = f"{home}/ow{rnd}", f"{home}/owmoved{rnd}"
        mkdir(a, src)
        mkdir(a, f"{src}/sub")
        old = {f"o{i}.txt" if i % 3 else f"sub/o{i}.txt": os.urandom(200 + i) for i in range(60)}
        for name, data in old.items():
            upload(a, f"{src}/{name}", data)
        rewritten = {name: os.urandom(500 + i) for i, name in enumerate(list(old)[::2])}
        signed: dict[str, tuple[str, dict[str, str]]] = {}
        for i, (n, d) in enumerate(rewritten.items()):
            signed[n] = signed_put(callers[i % 2], f"{src}/{n}", d)
        jobs: list[Callable[[], requests.Response]] = [partial(move, callers[1], src, dst)]
        for name, data in rewritten.items():
            url, headers = signed[name]
            jobs.append(partial(requests.put, url, data=data, headers=headers, timeout=30))
        answers = at_once(jobs)
        assert_clean(answers[0], (200,))
        landed = [r.status_code == 200 for r in answers[1:]]
        confirmed = {n: d for (n, d), ok in zip(rewritten.items(), landed, strict=True) if ok}
        assert len(confirmed) >= len(rewritten) - 5, [r.status_code for r in answers[1:]]
        at_src, at_dst = files(a, src), files(a, dst)
        for name, data in confirmed.items():  # every confirmed rewrite is in exactly one place
            places = [p for p, have in (("src", at_src), ("dst", at_dst)) if have.get(name) == md5(data)]
            assert len(places) == 1, (rnd, name, places, name in at_src, name in at_dst)
        for name, data in old.items():  # a file nobody rewrote was moved
            if name not in confirmed:
                assert at_dst.get(name) == md5(data) and name not in at_src, (rnd, name)
        for name in set(at_src) & set(at_dst):  # both places only for a rewrite that came after the move
            assert at_dst[name] == md5(old[name]) and at_src[name] == md5(confirmed[name]), (rnd, name)


def test_racing_file_moves_onto_one_name(callers: list[Caller]) -> None:
    a = callers[0]
    home = f"/users/{a.user}"
    mkdir(a, f"{home}/fm")
    for rnd in range(ROUNDS):
        one, two, target = f"{home}/fm/a{rnd}", f"{home}/fm/b{rnd}", f"{home}/fm/t{rnd}"
        blobs = {one: os.urandom(1000), two: os.urandom(1001)}
        for p, d in blobs.items():
            upload(a, p, d)
        answers = race_moves(callers, (one, target), (two, target))
        winner, loser = (one, two) if answers[0].status_code == 200 else (two, one)
        have = files(a, f"{home}/fm")
        assert have.get(target.rsplit("/", 1)[1]) == md5(blobs[winner])
        assert have.get(loser.rsplit("/", 1)[1]) == md5(blobs[loser])
        assert winner.rsplit("/", 1)[1] not in have
        # one file moved to two names at once: one wins, the content is in exactly one place
        src, n1, n2 = f"{home}/fm/c{rnd}", f"{home}/fm/x{rnd}", f"{home}/fm/y{rnd}"
        data = os.urandom(999)
        upload(a, src, data)
        answers = race_moves(callers, (src, n1), (src, n2))
        have = files(a, f"{home}/fm")
        assert [n for n in (f"c{rnd}", f"x{rnd}", f"y{rnd}") if have.get(n) == md5(data)] == [
            f"x{rnd}" if answers[0].status_code == 200 else f"y{rnd}"
        ]


def test_racing_folder_moves(callers: list[Caller], seaweed: S3Config) -> None:
    a = callers[0]
    home = f"/users/{a.user}"
    for rnd in range(ROUNDS):
        base = f"{home}/fr{rnd}"
        mkdir(a, base)
        trees: dict[str, dict[str, bytes]] = {}
        for t in ("p", "q"):
            mkdir(a, f"{base}/{t}")
            mkdir(a, f"{base}/{t}/sub")
            trees[t] = {f"{t}{i}" if i % 2 else f"sub/{t}{i}": os.urandom(100 + i) for i in range(12)}
            for name, data in trees[t].items():
                upload(a, f"{base}/{t}/{name}", data)
        # two folders onto one new name: one wins, the other is untouched
        answers = race_moves(callers, (f"{base}/p", f"{base}/n"), (f"{base}/q", f"{base}/n"))
        win, lose = ("p", "q") if answers[0].status_code == 200 else ("q", "p")
        expect = {n: md5(d) for n, d in trees[win].items()}
        assert files(a, f"{base}/n") == expect
        assert files(a, f"{base}/{win}") == {}
        assert files(a, f"{base}/{lose}") == {n: md5(d) for n, d in trees[lose].items()}
        # one folder onto two names at once: one wins, its files are in exactly one place
        answers = race_moves(callers, (f"{base}/{lose}", f"{base}/m1"), (f"{base}/{lose}", f"{base}/m2"))
        won, lost = ("m1", "m2") if answers[0].status_code == 200 else ("m2", "m1")
        assert files(a, f"{base}/{won}") == {n: md5(d) for n, d in trees[lose].items()}
        for gone in (lost, lose, win):  # the loser's destination was never made; the sources are gone
            assert a.req("GET", f"/datamanager/filemetadata{base}/{gone}").status_code == 404, gone
    # no move lease is left behind
    assert S3Store(seaweed).list_all(f".gsdm/moving/{a.user}/", delimiter=None)[0] == []
