"""Issue 15 item 13: JSON endpoints require JSON, so a cross-site form cannot act with a cached Basic
login (a form can only send urlencoded, multipart/form-data or text/plain bodies)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.test_server_helpers import DM

FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]


@pytest.fixture
def dm(make_account: Any) -> Iterator[DM]:
    a = make_account("ct")
    client = DM(a.server_url, a.username, a.password)
    yield client
    client.close()


def _basic(dm: DM) -> requests.Session:
    """What a browser with a cached Basic login sends cross-site: credentials, no cookie (SameSite)."""
    s = requests.Session()
    s.trust_env = False
    s.auth = (dm.user, dm.password)
    return s


@pytest.mark.parametrize("ctype", FORM_TYPES)
def test_form_posts_cannot_move_mkdir_or_sign(dm: DM, ctype: str) -> None:
    dm.upload("keep.txt", b"precious")
    s = _basic(dm)
    move = json.dumps({"path": f"/Home/{dm.user}/stolen.txt"})
    r = s.post(dm.url("keep.txt", "v1"), data=move, headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == 415, r.text
    assert "JSON" in r.json()["message"]
    mkdir = json.dumps({"isDirectory": True})
    r = s.put(dm.url("formdir", "v1"), data=mkdir, headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == 415, r.text
    batch = json.dumps({"files": [{"path": dm.p("b.txt"), "size": 1, "md5": "0" * 32, "contentType": "t/p"}]})
    r = s.post(
        f"{dm.base}/datamanager/uploadurls-batch", data=batch, headers={"Content-Type": ctype}, timeout=30
    )
    assert r.status_code == 415, r.text
    start = json.dumps({"path": dm.p("mp.bin"), "size": 6 << 20, "md5": "0" * 32})
    r = s.post(
        f"{dm.base}/datamanager/multipart/uploads", data=start, headers={"Content-Type": ctype}, timeout=30
    )
    assert r.status_code == 415, r.text
    r = s.post(
        f"{dm.base}/refget/load", data=">x\nACGT\n", headers={"Content-Type": ctype}, params={"name": "f.fa"},
        timeout=30,
    )  # fmt: skip
    assert r.status_code == 415, r.text
    r = s.post(f"{dm.base}/refget/index", params={"path": dm.p("keep.txt")}, data="a=b",
               headers={"Content-Type": ctype}, timeout=30)  # fmt: skip
    assert r.status_code == 415, r.text
    # nothing happened
    names = {e["name"] for e in dm.listing()["contents"]}
    assert names == {"keep.txt"}, names
    assert dm.s.get(f"{dm.base}/datamanager/multipart/uploads", timeout=30).json()["uploads"] == []


def test_a_body_without_content_type_is_refused(dm: DM) -> None:
    r = dm.s.put(dm.url("nodir"), data=b'{"isDirectory": true}', headers={"Content-Type": ""}, timeout=30)
    assert r.status_code == 415, r.text
    assert "nodir" not in {e["name"] for e in dm.listing()["contents"]}


def test_json_clients_still_work(dm: DM) -> None:
    s = _basic(dm)
    # application/json with a charset (GS-AU), +json, and a body-less copy without any Content-Type
    r = s.put(dm.url("d1", "v1"), data=b'{"isDirectory":true}',
              headers={"Content-Type": "application/json; charset=UTF-8"}, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    dm.upload("d1/a.txt", b"abc")
    r = s.post(dm.url("d1/a.txt", "v1"), data=json.dumps({"path": f"/Home/{dm.user}/d1/b.txt"}),
               headers={"Content-Type": "application/vnd.x+json"}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    r = dm.s.put(dm.url("c.txt"), headers={"x-gs-copy-source": dm.p("d1/b.txt")}, timeout=30)
    assert r.status_code == 201, r.text
    assert {e["name"] for e in dm.listing()["contents"]} == {"d1", "c.txt"}
