"""Issue 17.4: the server's own JSON errors have one shape, and OpenAPI types the extension bodies.

Real server subprocess on 127.0.0.1 with a real SeaweedFS (conftest ``dm_server``).
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
import requests

from tests.integration.test_server_helpers import DM


@pytest.fixture
def dm(make_account: Any) -> Iterator[DM]:
    a = make_account("shape")
    client = DM(a.server_url, a.username, a.password)
    yield client
    client.close()


def _error_answers(dm: DM) -> dict[str, requests.Response]:
    """One error from each part of the server that answers errors itself."""
    anon = requests.Session()
    anon.trust_env = False
    base = dm.base
    return {
        "router (404)": dm.s.get(dm.url("no/such/file.txt", "v1"), timeout=30, allow_redirects=False),
        "sign-in (401)": anon.get(dm.url("", "v1"), timeout=30),
        "unknown endpoint (404)": dm.s.get(f"{base}/datamanager/nothing-here", timeout=30),
        "method (405)": dm.s.patch(dm.url("x", "v1"), json={}, timeout=30),
        "validation (400)": dm.s.delete(f"{base}/datamanager/sharing/acl{dm.p('x')}?type=nobody", timeout=30),
        "media type (415)": dm.s.post(
            f"{base}/datamanager/uploadurls-batch",
            data="a=b",
            timeout=30,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        "batch body (400)": dm.s.post(
            f"{base}/datamanager/uploadurls-batch", json={"nofiles": 1}, timeout=30
        ),
        "multipart (404)": dm.s.get(f"{base}/datamanager/multipart/uploads/00000000deadbeef", timeout=30),
        "multipart body (400)": dm.s.post(f"{base}/datamanager/multipart/uploads", json=[1], timeout=30),
        "refget read (404)": anon.get(f"{base}/sequence/{'0' * 32}", timeout=30),
        "refget range (400)": anon.get(f"{base}/sequence/{'0' * 32}?start=abc", timeout=30),
        "refget sign-in (401)": anon.get(f"{base}/refget/whoami", timeout=30),
        "refget load (400)": dm.s.post(
            f"{base}/refget/load",
            params={"name": "x.fa"},
            data=b">a\nAC!\n",
            timeout=30,
            headers={"Content-Type": "application/octet-stream"},
        ),
        "refget index (404)": dm.s.post(f"{base}/refget/index", params={"path": dm.p("none.fa")}, timeout=30),
        "request line (414)": anon.get(f"{base}/datamanager/files?{'q' * 20_000}", timeout=30),
    }


def test_every_error_the_server_answers_itself_has_one_json_shape(dm: DM) -> None:
    """``{"status": <code>, "error": "<HTTP reason phrase>", "message": "<what went wrong>"}``."""
    wrong = {}
    for source, r in _error_answers(dm).items():
        assert r.status_code >= 400, (source, r.status_code, r.text)
        body = r.json()
        expected = {"status": r.status_code, "error": HTTPStatus(r.status_code).phrase}
        shape_ok = set(body) == {"status", "error", "message"} and {k: body[k] for k in expected} == expected
        if not shape_ok or not isinstance(body["message"], str) or not body["message"]:
            wrong[source] = body
    assert wrong == {}
