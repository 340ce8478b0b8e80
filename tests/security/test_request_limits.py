"""Issue 15 item 5: unauthenticated requests cannot exhaust memory; every JSON body is capped and shallow;
oversize request lines and headers get 414/431 (not a reset). Real server subprocess, raw sockets."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.test_server_helpers import DM
from tests.security._raw import connect, read_reply, request_head
from tests.support.servers import ServerProcess

HUGE = 50_000_000
BODY_METHODS = ("post", "put", "patch")


@pytest.fixture
def dm(make_account: Any) -> Iterator[DM]:
    a = make_account("lim")
    client = DM(a.server_url, a.username, a.password)
    yield client
    client.close()


def _body_routes(base: str, user: str) -> list[tuple[str, str]]:
    """(METHOD, target) of every route of the OpenAPI document that takes a request body."""
    doc = requests.get(f"{base}/openapi.json", timeout=30).json()
    out = []
    for template, ops in doc["paths"].items():
        for method in ops:
            if method not in BODY_METHODS:
                continue
            target = template.replace("{path}", f"users/{user}/x").replace("{upload_id}", "A" * 22)
            assert "{" not in target, template
            out.append((method.upper(), target))
    assert len(out) >= 8, out  # mkdir x2, move, batch x2, multipart x3, refget x2 ...
    return out


def _json_routes(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(m, t) for m, t in routes if t != "/refget/load"]  # refget/load takes FASTA, not JSON


def _reads_no_body(target: str) -> bool:
    """The unversioned alias (a 307 to v1.0) and refget/index (a ?path=) answer without reading a body."""
    return target.startswith("/datamanager/file/") or target == "/refget/index"


def test_unauthenticated_body_is_never_read(dm: DM) -> None:
    """Headers announcing 50 MB, two bytes sent: every body route answers 401 at once."""
    for method, target in _body_routes(dm.base, dm.user):
        head = request_head(method, target, {"Content-Type": "application/json", "Content-Length": str(HUGE)})
        with connect(dm.base, timeout=5) as sock:
            sock.sendall(head + b'{"')
            try:
                reply = read_reply(sock)
            except TimeoutError:
                pytest.fail(f"{method} {target}: the server waited for the body before checking sign-in")
        assert reply.status == 401, (method, target, reply)


def test_authenticated_json_body_over_the_cap_is_413_before_reading(dm: DM) -> None:
    for method, target in _json_routes(_body_routes(dm.base, dm.user)):
        head = request_head(
            method,
            target,
            {
                "Content-Type": "application/json",
                "Content-Length": str(HUGE),
                "Cookie": f"gs-token={dm.token}",
            },
        )
        with connect(dm.base, timeout=5) as sock:
            sock.sendall(head + b'{"')
            try:
                reply = read_reply(sock)
            except TimeoutError:
                pytest.fail(f"{method} {target}: a 50 MB JSON body was being read")
        if _reads_no_body(target):
            assert reply.status in (307, 400), (method, target, reply)
            continue
        assert reply.status == 413, (method, target, reply)
        assert "larger than" in json.loads(reply.body)["message"]


def test_chunked_json_body_over_the_cap_is_413(dm: DM) -> None:
    """No Content-Length (chunked): the body is counted as it arrives and refused past the cap."""
    big = json.dumps({"path": "x" * (3 * 1024 * 1024), "files": [], "parts": []}).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    for method, target in _json_routes(_body_routes(dm.base, dm.user)):
        r = dm.s.request(
            method, dm.base + target, data=chunks(), headers={"Content-Type": "application/json"},
            timeout=30, allow_redirects=False,
        )  # fmt: skip
        if _reads_no_body(target):
            assert r.status_code in (307, 400), r.text
            continue
        assert r.status_code == 413, (method, target, r.status_code, r.text[:300])
        assert "larger than" in r.json()["message"]


@pytest.mark.parametrize("shape", ["deep", "moderate"])
def test_nested_json_is_400_not_500(dm: DM, shape: str) -> None:
    dm.mkdir("nest")
    if shape == "deep":  # deeper than Python's recursion limit: RecursionError inside json.loads
        body = b"[" * 20_000 + b"]" * 20_000
    else:  # parses fine, but nothing the API takes is nested this deep
        inner: Any = 1
        for _ in range(100):
            inner = [inner]
        body = json.dumps({"isDirectory": True, "path": dm.p("nest2"), "files": [], "x": inner}).encode()
    uid = _start_upload(dm)
    targets = [
        ("PUT", dm.url("nest/a")),
        ("PUT", dm.url("nest/b", "v1")),
        ("POST", dm.url("nest", "v1")),
        ("POST", f"{dm.base}/datamanager/uploadurls-batch"),
        ("POST", f"{dm.base}/datamanager/v1.0/uploadurls-batch"),
        ("POST", f"{dm.base}/datamanager/multipart/uploads"),
        ("POST", f"{dm.base}/datamanager/multipart/uploads/{uid}/urls"),
        ("POST", f"{dm.base}/datamanager/multipart/uploads/{uid}/complete"),
    ]
    for method, url in targets:
        r = dm.s.request(method, url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 400, (method, url, r.status_code, r.text[:300])
        assert "nest" in r.json()["message"], r.text[:300]
    listing = dm.listing("nest")
    assert listing["contents"] == [], "a refused request changed nothing"


def _start_upload(dm: DM) -> str:
    r = dm.s.post(
        f"{dm.base}/datamanager/multipart/uploads",
        json={"path": dm.p("nest-up.bin"), "size": 6 * 1024 * 1024, "md5": "0" * 32},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["uploadId"])


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert m
    return int(m.group(1))


def test_four_unauthenticated_31_mb_bodies_do_not_grow_the_server(dm_server: ServerProcess) -> None:
    assert dm_server.proc is not None
    pid = dm_server.proc.pid
    body = b'{"path": "' + b"a" * (31 * 1024 * 1024) + b'"}'
    statuses: list[int] = []
    peak = [_rss_kib(pid)]
    before = peak[0]

    def send() -> None:
        head = request_head(
            "POST", "/datamanager/multipart/uploads",
            {"Content-Type": "application/json", "Content-Length": str(len(body))},
        )  # fmt: skip
        with connect(dm_server.url, timeout=60) as sock:
            sock.sendall(head)
            try:
                sock.sendall(body)
            except OSError:
                pass  # refused early is fine; a reset before the reply is not (checked below)
            statuses.append(read_reply(sock).status)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], _rss_kib(pid))
        time.sleep(0.02)
    for t in threads:
        t.join()
    assert statuses == [401] * 4
    grew_mib = (peak[0] - before) / 1024
    assert grew_mib < 64, f"server RSS grew by {grew_mib:.0f} MiB"


# -- request line and header limits -------------------------------------------------------------------------
def _send_and_read(base: str, data: bytes, pieces: int = 1) -> int:
    with connect(base, timeout=15) as sock:
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            sock.sendall(data[i : i + step])
            if pieces > 1:
                time.sleep(0.01)
        return read_reply(sock).status


@pytest.mark.parametrize("pieces", [1, 50])
def test_oversize_request_line_is_414(dm_server: ServerProcess, pieces: int) -> None:
    for size in (100_000, 2_000_000):
        data = request_head("GET", "/datamanager/v1.0/file/Home/x?q=" + "a" * size, {})
        assert _send_and_read(dm_server.url, data, pieces) == 414, size


@pytest.mark.parametrize("pieces", [1, 50])
def test_oversize_headers_are_431(dm_server: ServerProcess, pieces: int) -> None:
    for size in (100_000, 2_000_000):
        one = request_head("GET", "/datamanager/v1.0/file/Home/x", {"X-Big": "a" * size})
        assert _send_and_read(dm_server.url, one, pieces) == 431, size
        many = request_head(
            "GET", "/datamanager/v1.0/file/Home/x", {f"X-H{i}": "v" * 40 for i in range(size // 50)}
        )
        assert _send_and_read(dm_server.url, many, pieces) == 431, size


def test_ordinary_sizes_still_pass(dm: DM) -> None:
    r = dm.s.get(dm.url(""), params={"q": "a" * 6000}, headers={"X-Pad": "b" * 6000}, timeout=30)
    assert r.status_code == 200, r.text[:200]
