"""Authorization matrix, signed-URL integrity, hostile names and malformed input (real server, real S3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
import requests

from tests.integration.test_server_helpers import DM, md5_pair, raw_request


@pytest.fixture
def pair(make_account: Any) -> Iterator[tuple[DM, DM]]:
    a, b = make_account("alice"), make_account("bob")
    alice, bob = DM(a.server_url, a.username, a.password), DM(b.server_url, b.username, b.password)
    yield alice, bob
    alice.close()
    bob.close()


def _attempts(alice: DM, bob: DM, rel: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every verb/endpoint alice could aim at ``rel`` in bob's tree (beta and v1 forms)."""
    b64, _ = md5_pair(b"x")
    up = {"Content-Length": "1", "Content-MD5": b64, "Content-Type": "text/plain"}
    beta = f"{alice.base}/datamanager/{{}}{quote(f'/users/{bob.user}/{rel}')}"
    v1 = f"{alice.base}/datamanager/v1.0/{{}}{quote(f'/Home/{bob.user}/{rel}')}"
    mine = f"{alice.base}/datamanager/files/users/{alice.user}/stolen"
    return [
        ("GET", beta.format("files"), {}),
        ("GET", beta.format("files"), {"params": {"dataFormat": "uppercasetxt"}}),
        ("GET", beta.format("files"), {"params": {"recursive": "true"}}),
        ("PUT", beta.format("files"), {"json": {"isDirectory": True}}),
        ("PUT", beta.format("files"), {"headers": {"x-gs-copy-source": f"/users/{alice.user}/mine.txt"}}),
        ("PUT", mine, {"headers": {"x-gs-copy-source": f"/users/{bob.user}/{rel}"}}),
        ("PUT", mine, {"headers": {"x-gs-copy-source": f"/Home/{bob.user}/{rel}"}}),
        ("DELETE", beta.format("files"), {}),
        ("GET", beta.format("uploadurls"), {"params": up}),
        ("GET", beta.format("filemetadata"), {}),
        ("GET", beta.format("downloadurls"), {}),
        ("GET", v1.format("file"), {}),
        ("GET", v1.format("file"), {"params": {"dataformat": "lowercasetxt"}}),
        ("HEAD", v1.format("file"), {}),
        ("PUT", v1.format("file"), {"json": {"isDirectory": True}}),
        ("POST", v1.format("file"), {"json": {"path": f"/Home/{alice.user}/moved"}}),
        ("POST", alice.url("mine.txt", "v1"), {"json": {"path": f"/Home/{bob.user}/{rel}"}}),
        ("DELETE", v1.format("file"), {}),
        ("GET", v1.format("uploadurl"), {"params": up}),
        ("GET", v1.format("filemetadata"), {}),
    ]  # fmt: skip


def test_authorization_matrix_never_reveals_existence(pair: tuple[DM, DM]) -> None:
    alice, bob = pair
    bob.mkdir("secret")
    bob.upload("secret/file.txt", b"bob's data")
    alice.upload("mine.txt", b"alice's data")
    for rel_existing, rel_missing in (("secret/file.txt", "secret/nofile.txt"), ("secret", "nodir")):
        exist = _attempts(alice, bob, rel_existing)
        missing = _attempts(alice, bob, rel_missing)
        for (method, url, kw), (_, url2, kw2) in zip(exist, missing, strict=True):
            r1 = alice.s.request(method, url, allow_redirects=False, timeout=10, **kw)
            r2 = alice.s.request(method, url2, allow_redirects=False, timeout=10, **kw2)
            assert r1.status_code in (403, 404), (method, url, r1.status_code, r1.text)
            assert r1.status_code == r2.status_code, (method, url)
            if method != "HEAD":
                assert r1.json()["message"] == r2.json()["message"], (method, url)
                assert "secret" not in r1.json()["message"] or rel_existing not in r1.json()["message"]
    # nothing of bob's changed, nothing was copied to alice
    assert bob.download("secret/file.txt").content == b"bob's data"
    assert [c["name"] for c in bob.listing("secret")["contents"]] == ["file.txt"]
    assert {c["name"] for c in alice.listing()["contents"]} == {"mine.txt"}
    # bob's token does not open alice's tree either, and a token is bound to its user
    r = requests.get(alice.url(), cookies={"gs-token": bob.token}, timeout=10)
    assert r.status_code == 403


def test_signed_put_url_rejects_tampering_and_mismatch(pair: tuple[DM, DM]) -> None:
    alice, _ = pair
    data = b"exactly these bytes"
    url = alice.upload_url("signed.txt", data)
    b64, hexd = md5_pair(data)
    headers = {"Content-MD5": b64, "Content-Type": "text/plain", "x-amz-meta-md5-hash": hexd}
    # same length, different bytes -> S3 checks Content-MD5
    r = requests.put(url, data=b"exactly thes3 bytes", headers=headers, timeout=10)
    assert r.status_code == 400 and "BadDigest" in r.text
    # different length / type / md5-hash header -> signature mismatch
    assert requests.put(url, data=data + b"!", headers=headers, timeout=10).status_code == 403
    assert (
        requests.put(url, data=data, headers={**headers, "Content-Type": "text/html"}, timeout=10).status_code
        == 403
    )
    assert (
        requests.put(
            url, data=data, headers={**headers, "x-amz-meta-md5-hash": "0" * 32}, timeout=10
        ).status_code
        == 403
    )
    # tampered signature and tampered key
    parts = urlsplit(url)
    q = dict(parse_qsl(parts.query))
    q["X-Amz-Signature"] = ("0" if q["X-Amz-Signature"][0] != "0" else "1") + q["X-Amz-Signature"][1:]
    forged = urlunsplit(parts._replace(query=urlencode(q)))
    assert requests.put(forged, data=data, headers=headers, timeout=10).status_code == 403
    other_key = urlunsplit(parts._replace(path=parts.path.replace("signed.txt", "other.txt")))
    assert requests.put(other_key, data=data, headers=headers, timeout=10).status_code == 403
    assert alice.s.get(alice.url("signed.txt", endpoint="filemetadata"), timeout=10).status_code == 404
    # the genuine upload still works
    assert requests.put(url, data=data, headers=headers, timeout=10).status_code == 200
    assert alice.download("signed.txt").content == data
    # a download URL cannot be turned into another key
    dl = alice.s.get(alice.url("signed.txt", endpoint="downloadurls"), timeout=10).text
    p = urlsplit(dl)
    assert requests.get(urlunsplit(p._replace(path=p.path + "x")), timeout=10).status_code == 403


HOSTILE = [
    "unicode ünïcødé 日本語 🧬.txt",
    "with spaces  and  more .txt",
    "hash#name.txt",
    "question?mark.txt",
    "percent%20sign%.txt",
    "plus+sign.txt",
    "amp&ersand=1;x.txt",
    " leading and trailing ",
    "...",
    "x" * 250 + ".txt",
    "Cafe\u0301 nfd.txt",
]


def test_hostile_names_round_trip(pair: tuple[DM, DM]) -> None:
    alice, _ = pair
    alice.mkdir("h")
    alice.mkdir("h/dir #?%+&")
    for i, name in enumerate(HOSTILE):
        alice.upload(f"h/dir #?%+&/{name}", f"content {i}".encode())
    listing = alice.listing("h/dir #?%+&")
    assert sorted(c["name"] for c in listing["contents"]) == sorted(HOSTILE)
    for i, name in enumerate(HOSTILE):
        rel = f"h/dir #?%+&/{name}"
        assert alice.download(rel).content == f"content {i}".encode(), name
        meta = alice.meta(rel, "v1")
        assert meta["name"] == name and meta["path"] == f"/Home/{alice.user}/{rel}"
        # the url field is usable as-is
        r = alice.s.get(meta["url"], timeout=10)
        assert r.status_code == 200 and r.content == f"content {i}".encode(), name
    src = f"/users/{alice.user}/h/dir #?%+&/{HOSTILE[2]}"
    r = alice.s.put(alice.url("h/copied #.txt"), headers={"x-gs-copy-source": quote(src)}, timeout=10)
    assert r.status_code == 201, r.text
    r = alice.s.put(
        alice.url("h/copied2 #.txt"), headers={"x-gs-copy-source": src.encode().decode("latin-1")}, timeout=10
    )
    assert r.status_code in (201, 404)
    for name in HOSTILE:
        assert alice.s.delete(alice.url(f"h/dir #?%+&/{name}"), timeout=10).status_code == 200


REJECTED = [
    ("/datamanager/files/users/{u}/../{u}/x", "'..'"),
    ("/datamanager/files/users/{u}/%2e%2e/{u}", "'..'"),
    ("/datamanager/files/users/{u}/%2E%2E", "'..'"),
    ("/datamanager/files/users/{u}/%252e%252e/x", "'.'"),
    ("/datamanager/files/users/{u}/./x", "'.'"),
    ("/datamanager/files/users/{u}/back%5Cslash", "backslash"),
    ("/datamanager/files/users/{u}/nul%00byte", "NUL"),
    ("/datamanager/files/users/{u}/ctl%01char", "control character"),
    ("/datamanager/files/users/{u}/new%0Aline", "control character"),
    ("/datamanager/files/users/{u}/" + "n" * 256, "longer than 255 bytes"),
    ("/datamanager/files/etc/passwd", "unknown root"),
    ("/datamanager/v1.0/file/Home/{u}/..", "'..'"),
]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_bad_paths_rejected_with_clear_400(pair: tuple[DM, DM], method: str) -> None:
    alice, _ = pair
    cookie = {"Cookie": f"gs-token={alice.token}", "Content-Length": "0"}
    for raw, expect in REJECTED:
        status, body = raw_request(alice.base, method, raw.format(u=alice.user), cookie)
        assert status == 400, (raw, status, body)
        assert expect in body, (raw, body)
        assert "Traceback" not in body


JSON = {"Content-Type": "application/json"}  # a body must be declared JSON (else 415)


def test_malformed_requests_get_4xx_with_message(pair: tuple[DM, DM]) -> None:
    alice, _ = pair
    s, u = alice.s, alice.url
    alice.mkdir("m")
    cases: list[tuple[requests.Response, int]] = [
        (s.put(u("m/x"), data="{not json", headers=JSON, timeout=10), 400),
        (s.put(u("m/x"), data="[1, 2]", headers=JSON, timeout=10), 400),
        (s.put(u("m/x"), json={"isDirectory": False}, timeout=10), 400),
        (s.put(u("m/x"), data="", timeout=10), 400),
        (s.put(u("m/x"), data=b"\xff\xfe\x00", headers=JSON, timeout=10), 400),
        (s.put(u("m/x"), data="x" * 100_000, headers=JSON, timeout=10), 413),
        (s.post(u("m", "v1"), data="{}", headers=JSON, timeout=10), 400),
        (s.post(u("m", "v1"), json={"path": 5}, timeout=10), 400),
        (s.post(u("m", "v1"), json={"path": "/etc/x"}, timeout=10), 400),
        (s.patch(u("m"), timeout=10), 405),
        (s.post(u("m"), timeout=10), 405),
        (s.delete(f"{alice.base}/datamanager/uploadurls/users/{alice.user}/m", timeout=10), 405),
        (s.get(f"{alice.base}/datamanager/nosuchthing", timeout=10), 404),
        (s.get(f"{alice.base}/datamanager/files/", timeout=10), 400),
        (s.get(u("m"), params={"recursive": "true", "pageSize": "many"}, timeout=10), 400),
        (s.get(u("m", endpoint="uploadurls"), timeout=10), 400),
        (s.put(u("m/y"), headers={"x-gs-copy-source": "not a path"}, timeout=10), 400),
        (
            s.get(f"{alice.base}/identityServer/basic", headers={"Authorization": "Basic !!!"}, timeout=10),
            401,
        ),
        (s.get(f"{alice.base}/identityServer/basic", headers={"Authorization": "Bearer x"}, timeout=10), 401),
    ]
    for r, expected in cases:
        assert r.status_code == expected, (r.request.method, r.request.url, r.status_code, r.text)
        body = r.json()
        assert body["message"] and body["status"] == expected
        assert "Traceback" not in r.text and 'File "' not in r.text


def test_password_change_and_removal_revoke_tokens(make_account: Any, seaweed: Any) -> None:
    import time

    from gsdesktop.server.storage import S3Store
    from gsdesktop.server.users import UserStore

    acct = make_account("rev")
    dm = DM(acct.server_url, acct.username, acct.password)
    assert dm.s.get(dm.url(), timeout=10).status_code == 200
    users = UserStore(S3Store(seaweed))
    users.set_password(acct.username, "new-password-1")
    deadline = time.monotonic() + 5
    while dm.s.get(dm.url(), timeout=10).status_code == 200:
        assert time.monotonic() < deadline, "old token still accepted after passwd"
        time.sleep(0.2)
    assert requests.get(dm.url(), auth=(acct.username, acct.password), timeout=10).status_code == 401
    dm2 = DM(acct.server_url, acct.username, "new-password-1")
    users.remove(acct.username)
    deadline = time.monotonic() + 5
    while dm2.s.get(dm2.url(), timeout=10).status_code == 200:
        assert time.monotonic() < deadline, "token still accepted after remove-user"
        time.sleep(0.2)
    r = requests.get(
        f"{acct.server_url}/identityServer/basic", auth=(acct.username, "new-password-1"), timeout=10
    )
    assert r.status_code == 401
