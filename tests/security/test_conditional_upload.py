"""Conditional uploads at the wire level (issue 16 item 2, server half; CONTRACT.md).

``uploadurls-batch`` items may carry ``ifMatch`` (hex MD5 the client last saw) or ``ifNoneMatch``
(the client believes the name is free): checked at signing (412 item), and bound into the signed URL as
``If-Match``/``If-None-Match`` headers so S3 itself refuses a PUT when someone wrote in between. The
multipart create takes the same fields, checked at create and enforced again at complete.
Real server subprocess, real SeaweedFS, raw ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.conftest import Account

BATCH = "/datamanager/uploadurls-batch"
MP = "/datamanager/multipart"


class Api:
    """A signed-in caller speaking raw HTTP."""

    def __init__(self, account: Account, url: str | None = None) -> None:
        self.url = url or account.server_url
        self.user = account.username
        r = requests.get(
            f"{self.url}/identityServer/basic", auth=(account.username, account.password), timeout=10
        )
        assert r.status_code == 200, r.text
        self.s = requests.Session()
        self.s.cookies.set("gs-token", r.text)

    @property
    def home(self) -> str:
        return f"/users/{self.user}"

    def mkdir(self, path: str) -> None:
        r = self.s.put(f"{self.url}/datamanager/files{path}", json={"isDirectory": True}, timeout=10)
        assert r.status_code in (200, 201), r.text

    def batch(self, items: list[dict[str, Any]], v1: bool = False) -> list[dict[str, Any]]:
        route = "/datamanager/v1.0/uploadurls-batch" if v1 else BATCH
        r = self.s.post(self.url + route, json={"files": items}, timeout=30)
        assert r.status_code == 200, r.text
        return list(r.json()["results"])

    def meta(self, path: str) -> dict[str, Any] | None:
        r = self.s.get(f"{self.url}/datamanager/filemetadata{quote(path)}", timeout=10)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return dict(r.json())

    def content(self, path: str) -> bytes:
        r = self.s.get(f"{self.url}/datamanager/files{quote(path)}", timeout=30)
        assert r.status_code == 200, r.text
        return r.content

    def put(self, path: str, data: bytes, **cond: Any) -> requests.Response:
        """Sign one item (with ``cond``) and PUT it with every header the server handed out."""
        (res,) = self.batch([item(path, data, **cond)])
        assert "url" in res, res
        return put_signed(res, data)


def item(path: str, data: bytes, **cond: Any) -> dict[str, Any]:
    return {"path": path, "size": len(data), "md5": hashlib.md5(data).hexdigest(),
            "contentType": "application/octet-stream", **cond}  # fmt: skip


def put_signed(res: dict[str, Any], data: bytes, *, send_headers: bool = True) -> requests.Response:
    digest = hashlib.md5(data).digest()
    headers = {"Content-MD5": base64.b64encode(digest).decode(), "Content-Type": "application/octet-stream",
               "x-amz-meta-md5-hash": digest.hex()}  # fmt: skip
    if send_headers:
        headers.update(res.get("headers") or {})
    return requests.put(res["url"], data=data, headers=headers, timeout=30)


@pytest.fixture
def api(account: Account) -> Api:
    return Api(account)


def test_if_none_match_item_creates_only_a_new_name(api: Api) -> None:
    d = f"{api.home}/inm"
    api.mkdir(d)
    api.mkdir(f"{d}/sub")
    old = api.put(f"{d}/taken.txt", b"first")
    assert old.status_code == 200
    results = api.batch(
        [
            item(f"{d}/new.txt", b"new", ifNoneMatch=True),
            item(f"{d}/taken.txt", b"x", ifNoneMatch=True),
            item(f"{d}/sub", b"x", ifNoneMatch=True),
            item(f"{d}/plain.txt", b"p"),
        ]
    )
    new, taken, folder, plain = results
    assert new["headers"] == {"If-None-Match": "*"}
    assert taken["status"] == 412 and "changed on the server" in taken["message"] and "url" not in taken
    assert folder["status"] == 412 and "url" not in folder
    assert not plain.get("headers")  # no precondition: unchanged
    # the header is part of the signature: a PUT without it is refused
    assert put_signed(new, b"new", send_headers=False).status_code == 403
    assert put_signed(new, b"new").status_code == 200
    # someone wrote the name after signing: S3 refuses the second PUT, the first content stays
    (again,) = api.batch([item(f"{d}/late.txt", b"mine", ifNoneMatch=True)])
    assert api.put(f"{d}/late.txt", b"theirs").status_code == 200
    assert put_signed(again, b"mine").status_code == 412
    assert api.content(f"{d}/late.txt") == b"theirs"
    assert api.content(f"{d}/new.txt") == b"new"


def test_if_match_item_replaces_only_the_version_seen(api: Api) -> None:
    d = f"{api.home}/im"
    api.mkdir(d)
    assert api.put(f"{d}/f.txt", b"v1").status_code == 200
    v1 = hashlib.md5(b"v1").hexdigest()
    meta = api.meta(f"{d}/f.txt")
    assert meta is not None
    stale, missing, good = api.batch(
        [
            item(f"{d}/f.txt", b"v2", ifMatch=hashlib.md5(b"v0").hexdigest()),
            item(f"{d}/nothing.txt", b"v2", ifMatch=v1),
            item(f"{d}/f.txt", b"v2", ifMatch=v1.upper()),
        ]
    )
    assert stale["status"] == 412 and "url" not in stale
    assert missing["status"] == 412 and "url" not in missing
    assert set(good["headers"]) == {"If-Match"} and good["headers"]["If-Match"].startswith('"')
    assert put_signed(good, b"v2", send_headers=False).status_code == 403
    assert put_signed(good, b"v2").status_code == 200
    assert api.content(f"{d}/f.txt") == b"v2"
    # a URL signed for v2 after someone else wrote v3 is refused by S3; v3 stays
    (late,) = api.batch([item(f"{d}/f.txt", b"v4", ifMatch=hashlib.md5(b"v2").hexdigest())])
    assert api.put(f"{d}/f.txt", b"v3").status_code == 200
    assert put_signed(late, b"v4").status_code == 412
    assert api.content(f"{d}/f.txt") == b"v3"


def test_preconditions_on_odd_names_and_v1_paths(api: Api) -> None:
    d = f"{api.home}/odd"
    api.mkdir(d)
    name = f"{d}/sp ace \u00fc+#.txt"  # signed by botocore, not the fast signer
    (res,) = api.batch([item(name, b"a", ifNoneMatch=True)])
    assert put_signed(res, b"a", send_headers=False).status_code == 403
    assert put_signed(res, b"a").status_code == 200
    (res,) = api.batch([item(name, b"b", ifMatch=hashlib.md5(b"a").hexdigest())])
    assert put_signed(res, b"b").status_code == 200
    assert api.content(name) == b"b"
    v1 = f"/Home/{api.user}/odd/v1.txt"
    (res,) = api.batch([item(v1, b"one", ifNoneMatch=True)], v1=True)
    assert res["headers"] == {"If-None-Match": "*"}
    (res,) = api.batch([item(v1, b"one", ifNoneMatch=True)], v1=True)
    assert res["headers"] == {"If-None-Match": "*"}  # nothing was PUT yet


def test_bad_preconditions_are_item_errors(api: Api) -> None:
    d = f"{api.home}/bad"
    api.mkdir(d)
    both, hexless, flag = api.batch(
        [
            item(f"{d}/a", b"a", ifMatch=hashlib.md5(b"a").hexdigest(), ifNoneMatch=True),
            item(f"{d}/b", b"b", ifMatch="not-an-md5"),
            item(f"{d}/c", b"c", ifNoneMatch="yes"),
        ]
    )
    assert both["status"] == 400 and "url" not in both
    assert hexless["status"] == 400 and "url" not in hexless
    assert flag["status"] == 400 and "url" not in flag
    # ifNoneMatch false is no precondition
    (res,) = api.batch([item(f"{d}/d", b"d", ifNoneMatch=False)])
    assert "url" in res and not res.get("headers")


# -- multipart ---------------------------------------------------------------------------------------------
def mp_start(api: Api, path: str, data: bytes, **cond: Any) -> requests.Response:
    body = {"path": path, "size": len(data), "md5": hashlib.md5(data).hexdigest(), **cond}
    return api.s.post(f"{api.url}{MP}/uploads", json=body, timeout=30)


def mp_finish(api: Api, upload_id: str, data: bytes) -> requests.Response:
    md5 = hashlib.md5(data).hexdigest()
    r = api.s.post(f"{api.url}{MP}/uploads/{upload_id}/urls", json={"parts": [{"partNumber": 1, "md5": md5}]},
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    got = r.json()["urls"][0]
    assert requests.put(got["url"], data=data, headers={"Content-MD5": got["contentMd5"]}, timeout=30).ok
    return api.s.post(f"{api.url}{MP}/uploads/{upload_id}/complete",
                      json={"parts": [{"partNumber": 1, "etag": md5}]}, timeout=30)  # fmt: skip


def test_multipart_preconditions_checked_at_create_and_complete(api: Api) -> None:
    d = f"{api.home}/mp"
    api.mkdir(d)
    assert api.put(f"{d}/have.bin", b"old").status_code == 200
    old = hashlib.md5(b"old").hexdigest()
    # checked at create
    for path, cond in ((f"{d}/have.bin", {"ifNoneMatch": True}), (f"{d}/have.bin", {"ifMatch": "0" * 32}),
                       (f"{d}/none.bin", {"ifMatch": old})):  # fmt: skip
        r = mp_start(api, path, b"data", **cond)
        assert r.status_code == 412, r.text
        assert r.json()["status"] == 412 and "changed on the server" in r.json()["message"]
    r = mp_start(api, f"{d}/x.bin", b"data", ifMatch=old, ifNoneMatch=True)
    assert r.status_code == 400
    # a create that passed, then someone wrote: complete answers 412 and the other content stays
    r = mp_start(api, f"{d}/have.bin", b"mine", ifMatch=old)
    assert r.status_code == 201, r.text
    assert api.put(f"{d}/have.bin", b"theirs").status_code == 200
    done = mp_finish(api, r.json()["uploadId"], b"mine")
    assert done.status_code == 412, done.text
    assert done.json()["status"] == 412 and done.json()["message"]
    assert api.content(f"{d}/have.bin") == b"theirs"
    r = mp_start(api, f"{d}/fresh.bin", b"mine", ifNoneMatch=True)
    assert r.status_code == 201, r.text
    assert api.put(f"{d}/fresh.bin", b"theirs").status_code == 200
    done = mp_finish(api, r.json()["uploadId"], b"mine")
    assert done.status_code == 412, done.text
    assert api.content(f"{d}/fresh.bin") == b"theirs"
    # preconditions that still hold at complete: the upload lands
    theirs = hashlib.md5(b"theirs").hexdigest()
    r = mp_start(api, f"{d}/fresh.bin", b"mine", ifMatch=theirs)
    assert mp_finish(api, r.json()["uploadId"], b"mine").status_code == 200
    r = mp_start(api, f"{d}/brand-new.bin", b"new", ifNoneMatch=True)
    assert mp_finish(api, r.json()["uploadId"], b"new").status_code == 200
    assert api.content(f"{d}/fresh.bin") == b"mine" and api.content(f"{d}/brand-new.bin") == b"new"
    meta = api.meta(f"{d}/fresh.bin")
    assert meta is not None and meta.get("md5") == hashlib.md5(b"mine").hexdigest()
