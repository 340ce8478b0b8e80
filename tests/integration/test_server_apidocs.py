"""/docs works without internet (local assets) and the seed's WADL is generated from the routes."""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from urllib.parse import urljoin

import requests

from gsdesktop.server.seaweed import S3Config
from tests.support.servers import ServerProcess

WADL = "{http://wadl.dev.java.net/2009/02}"


def test_docs_page_loads_only_from_this_server(dm_server: ServerProcess) -> None:
    page = requests.get(dm_server.url + "/docs", timeout=10)
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert refs, page.text[:500]
    for ref in refs:
        assert ref.startswith(("/", "data:")), f"{ref} is loaded from elsewhere (a CDN)"
        if ref.startswith("/"):
            asset = requests.get(urljoin(dm_server.url, ref), timeout=10)
            assert asset.status_code == 200 and len(asset.content) > 100, ref
    redoc = requests.get(dm_server.url + "/redoc", timeout=10, allow_redirects=False)
    assert redoc.status_code == 307 and redoc.headers["location"] == "/docs"


def test_wadl_describes_every_data_manager_route(dm_server: ServerProcess) -> None:
    reply = requests.get(dm_server.url + "/datamanager/application.wadl", timeout=10)
    assert reply.status_code == 200 and "wadl" in reply.headers["content-type"]
    root = ET.fromstring(reply.content)
    resources = root.find(f"{WADL}resources")
    assert resources is not None and resources.get("base") == dm_server.url + "/datamanager/"
    described = {
        (r.get("path"), m.get("name"))
        for r in resources.findall(f"{WADL}resource") for m in r.findall(f"{WADL}method")
    }  # fmt: skip
    spec = requests.get(dm_server.url + "/openapi.json", timeout=10).json()
    expected = {
        (re.sub(r"\{(\w+):path\}", r"{\1}", path.removeprefix("/datamanager/")), method.upper())
        for path, ops in spec["paths"].items() if path.startswith("/datamanager/")
        for method in ops
    }  # fmt: skip
    assert expected and described == expected
    for must in (("v1.0/file/{path}", "GET"), ("v1.0/uploadurl/{path}", "GET"), ("files/{path}", "PUT")):
        assert must in described, must


def test_every_operation_has_its_own_id(seaweed: S3Config) -> None:
    """FastAPI warned "Duplicate Operation ID" for routes serving several methods (code generators choke)."""
    from gsdesktop.server.app import create_app

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = create_app(seaweed).openapi()
    assert not [w for w in caught if "Duplicate Operation ID" in str(w.message)]
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path in ("/datamanager/file/{path}", "/sequence/{seq_id}"):
        assert "head" in spec["paths"][path] and "get" in spec["paths"][path], path
