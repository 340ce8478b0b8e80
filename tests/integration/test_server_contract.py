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
from tests.support.servers import ServerProcess


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


def _schema_is_typed(schema: dict[str, Any] | None, doc: dict[str, Any]) -> bool:
    """A ``$ref`` to a component with properties, or an inline object with properties (not a bare
    ``{"type": "object"}``, ``{}`` or missing schema)."""
    if not schema:
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return bool(schema.get("properties"))


#: The extension operations that read a JSON body (the Data Manager's own PUT/POST on file carry our
#: mkdir / move bodies; sharing's bodies were typed already).
JSON_BODY_ROUTES = {
    ("post", "/datamanager/uploadurls-batch"),
    ("post", "/datamanager/v1.0/uploadurls-batch"),
    ("post", "/datamanager/downloadurls-batch"),
    ("post", "/datamanager/v1.0/downloadurls-batch"),
    ("post", "/datamanager/multipart/uploads"),
    ("post", "/datamanager/multipart/uploads/{upload_id}/urls"),
    ("post", "/datamanager/multipart/uploads/{upload_id}/complete"),
    ("put", "/datamanager/files/{path}"),
    ("put", "/datamanager/v1.0/file/{path}"),
    ("post", "/datamanager/v1.0/file/{path}"),
    ("post", "/datamanager/sharing/acl/{path}"),
    ("post", "/datamanager/sharing/groups"),
    ("post", "/datamanager/sharing/groups/members"),
    ("post", "/datamanager/sharing/groups/admins"),
    ("put", "/datamanager/sharing/me"),
}
EXTENSION_TAGS = {"extensions", "multipart (extension)", "sharing", "refget"}
#: answers that are not JSON: a stream of file bytes, refget's sequence bytes and its fixed documents
NOT_JSON = {"/public/{path}", "/sequence/{seq_id}", "/sequence/{seq_id}/metadata", "/sequence/service-info",
            "/service-info"}  # fmt: skip


def test_openapi_types_every_json_body_and_answer_of_the_extension_endpoints(
    dm_server: ServerProcess,
) -> None:
    doc = requests.get(f"{dm_server.url}/openapi.json", timeout=30).json()
    untyped: list[str] = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            name = f"{method.upper()} {path}"
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            expected = (method, path) in JSON_BODY_ROUTES or body is not None
            if expected and not _schema_is_typed((body or {}).get("schema"), doc):
                untyped.append(f"{name}: request body")
            if not set(op.get("tags", ())) & EXTENSION_TAGS or path in NOT_JSON:
                continue
            for status, response in op.get("responses", {}).items():
                if status.startswith("2") and status != "204":
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if not _schema_is_typed(schema, doc):
                        untyped.append(f"{name}: {status} answer")
    assert untyped == []
    error = doc["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"status", "error", "message"}
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            schema = op["responses"]["4XX"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
