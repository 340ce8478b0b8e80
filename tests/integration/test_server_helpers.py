"""Helpers shared by the server tests (a logged-in requests session speaking the raw API)."""

from __future__ import annotations

import base64
import hashlib
import http.client
from typing import Any
from urllib.parse import quote, urlsplit

import requests


def md5_pair(data: bytes) -> tuple[str, str]:
    """(base64 digest for Content-MD5, hex digest for x-amz-meta-md5-hash)."""
    digest = hashlib.md5(data).digest()
    return base64.b64encode(digest).decode(), digest.hex()


class DM:
    """A client of one account on one server: a cookie session after ``/identityServer/basic``."""

    def __init__(self, server_url: str, username: str, password: str) -> None:
        self.base = server_url
        self.user = username
        self.password = password
        self.s = requests.Session()
        self.s.trust_env = False
        r = self.s.get(f"{server_url}/identityServer/basic", auth=(username, password), timeout=30)
        assert r.status_code == 200, r.text
        self.token = r.text

    def close(self) -> None:
        self.s.close()

    def p(self, rel: str = "") -> str:
        """The beta path of ``rel`` in this user's tree."""
        return f"/users/{self.user}/{rel}" if rel else f"/users/{self.user}"

    def url(self, rel: str = "", dialect: str = "beta", endpoint: str | None = None) -> str:
        if dialect == "beta":
            ep = endpoint or "files"
            return f"{self.base}/datamanager/{ep}{quote(self.p(rel))}"
        ep = endpoint or "file"
        path = f"/Home/{self.user}/{rel}" if rel else f"/Home/{self.user}"
        return f"{self.base}/datamanager/v1.0/{ep}{quote(path)}"

    def mkdir(self, rel: str) -> requests.Response:
        r = self.s.put(self.url(rel), json={"isDirectory": True}, timeout=30)
        assert r.status_code in (200, 201), r.text
        return r

    def upload_url(self, rel: str, data: bytes, content_type: str = "text/plain") -> str:
        b64, _ = md5_pair(data)
        r = self.s.get(
            self.url(rel, endpoint="uploadurls"),
            params={"Content-Length": str(len(data)), "Content-MD5": b64, "Content-Type": content_type},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        return r.text

    def upload(self, rel: str, data: bytes, content_type: str = "text/plain") -> None:
        url = self.upload_url(rel, data, content_type)
        b64, hexd = md5_pair(data)
        headers = {"Content-MD5": b64, "Content-Type": content_type, "x-amz-meta-md5-hash": hexd}
        r = requests.put(url, data=data, headers=headers, timeout=30)
        assert r.status_code == 200, r.text

    def download(self, rel: str, dialect: str = "beta", **params: Any) -> requests.Response:
        return self.s.get(self.url(rel, dialect), params=params or None, timeout=30)

    def meta(self, rel: str, dialect: str = "beta") -> dict[str, Any]:
        r = self.s.get(self.url(rel, dialect, "filemetadata"), timeout=30)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def listing(self, rel: str = "", dialect: str = "beta") -> dict[str, Any]:
        r = self.s.get(self.url(rel, dialect), timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        return r.json()  # type: ignore[no-any-return]


def raw_request(
    base: str, method: str, raw_path: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """Send ``raw_path`` byte for byte (no client-side dot-segment normalisation)."""
    parts = urlsplit(base)
    assert parts.hostname, base
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, raw_path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_helpers_md5_pair() -> None:
    b64, hexd = md5_pair(b"abc")
    assert hexd == "900150983cd24fb0d6963f7d28e17f72"
    assert base64.b64decode(b64).hex() == hexd
