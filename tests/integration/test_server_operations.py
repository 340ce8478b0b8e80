"""Operations endpoints: /healthz, /readyz (follows the store down and back up) and /metrics counters."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gsdesktop.server.seaweed import EmbeddedSeaweed, S3Config, free_port
from gsdesktop.server.storage import S3Store
from gsdesktop.server.users import UserStore
from tests.conftest import Account
from tests.support.servers import ServerProcess


def _sample(text: str, name: str, **labels: str) -> float:
    """The sum of the Prometheus samples ``name`` with these labels (0 when there is none yet)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        labels_text = line[line.find("{") + 1 : line.rfind("}")] if "{" in line else ""
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels_text))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _metrics(url: str) -> str:
    reply = requests.get(url + "/metrics", timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain"), reply.text
    return reply.text


def test_metrics_count_requests_signins_and_signed_bytes(dm_server: ServerProcess, account: Account) -> None:
    url = dm_server.url
    before = _metrics(url)
    route = "/datamanager/v1.0/file/{path:path}"
    bad = requests.get(url + "/identityServer/basic", auth=(account.username, "wrong"), timeout=10)
    assert bad.status_code == 401
    s = requests.Session()
    s.auth = (account.username, account.password)
    home = f"/datamanager/v1.0/file/Home/{account.username}"
    for _ in range(3):
        assert s.get(url + home, timeout=10).status_code == 200
    body = b"x" * 12345
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    up = s.get(
        f"{url}/datamanager/v1.0/uploadurl/Home/{account.username}/m.txt",
        params={"Content-Length": str(len(body)), "Content-MD5": md5, "Content-Type": "text/plain"},
        timeout=10,
    )  # fmt: skip
    assert up.status_code == 200, up.text
    assert requests.put(up.text, data=body, headers={"Content-MD5": md5, "Content-Type": "text/plain"},
                        timeout=10).status_code == 200  # fmt: skip
    assert s.get(url + home + "/m.txt", allow_redirects=False, timeout=10).status_code == 303
    after = _metrics(url)

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("gsdm_requests_total", method="GET", route=route, status="200") == 3
    assert grew("gsdm_requests_total", method="GET", route="/identityServer/basic", status="401") == 1
    assert grew("gsdm_signin_failures_total", reason="rejected") == 1
    assert grew("gsdm_signed_bytes_total", direction="upload") == len(body)
    assert grew("gsdm_signed_bytes_total", direction="download") == len(body)
    assert grew("gsdm_request_duration_seconds_count", route=route) >= 4
    assert account.username not in after and "m.txt" not in after  # routes, never user paths, as labels


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[tuple[EmbeddedSeaweed, S3Config]]:
    store = EmbeddedSeaweed(tmp_path / "store", s3_port=free_port(with_grpc=True))
    cfg = store.start()
    try:
        yield store, cfg
    finally:
        store.stop()


def _wait_status(url: str, status: int, timeout: float = 30) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        reply = requests.get(url, timeout=15)
        if reply.status_code == status or time.monotonic() > deadline:
            return reply
        time.sleep(0.3)


def test_readyz_follows_the_store_down_and_back(
    own_store: tuple[EmbeddedSeaweed, S3Config], tmp_path: Path
) -> None:
    store, cfg = own_store
    UserStore(S3Store(cfg)).add("opsuser", "ops-password-1")
    server = ServerProcess(tmp_path / "server", cfg).start()
    try:
        assert requests.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
        ready = requests.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        before = _metrics(server.url)
        store.stop()
        started = time.monotonic()
        down = requests.get(server.url + "/readyz", timeout=15)
        assert down.status_code == 503, down.text
        assert time.monotonic() - started < 8, "readiness must answer fast when the store is down"
        assert down.json()["status"] == "unavailable" and "S3 store" in down.json()["reason"]
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200  # the process is alive
        failed = requests.get(
            server.url + "/datamanager/v1.0/file/Home/opsuser", auth=("opsuser", "ops-password-1"), timeout=60
        )  # fmt: skip
        assert failed.status_code == 503, failed.text
        now = _metrics(server.url)
        assert _sample(now, "gsdm_store_errors_total") > _sample(before, "gsdm_store_errors_total")
        store.start()
        back = _wait_status(server.url + "/readyz", 200)
        assert back.status_code == 200, back.text
    finally:
        server.stop()
