"""Every Data Manager endpoint of both dialects, against the real server and real SeaweedFS."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests
from botocore.config import Config

from tests.integration.test_server_helpers import DM, md5_pair

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

FMT = "http://www.genomespace.org/datamanager/dataformat/"


@pytest.fixture
def dm(account: Any) -> Iterator[DM]:
    client = DM(account.server_url, account.username, account.password)
    yield client
    client.close()


# -- identity ----------------------------------------------------------------------------------------------
def test_login_challenge_token_body_and_host_only_cookies(account: Any) -> None:
    base = account.server_url
    r = requests.get(f"{base}/identityServer/basic", timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert (
        requests.get(f"{base}/identityServer/basic", auth=(account.username, "wrong"), timeout=10).status_code
        == 401
    )
    assert (
        requests.get(f"{base}/identityServer/basic", auth=("nobody-here", "x"), timeout=10).status_code == 401
    )
    r = requests.get(f"{base}/identityServer/basic", auth=(account.username, account.password), timeout=10)
    assert r.status_code == 200
    assert r.cookies.get("gs-token") == r.text
    assert r.cookies.get("gs-username") == account.username
    raw = r.raw.headers.getlist("set-cookie")
    assert len(raw) == 2
    assert all("domain" not in c.lower() for c in raw)  # host-only: works on 127.0.0.1 too


def test_datamanager_needs_token_and_answers_basic(account: Any) -> None:
    base = account.server_url
    url = f"{base}/datamanager/files/users/{account.username}"
    r = requests.get(url, timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    assert "gs-token" in r.json()["message"]
    r = requests.get(url, cookies={"gs-token": "forged.token.value"}, timeout=10)
    assert r.status_code == 401
    r = requests.get(url, auth=(account.username, account.password), timeout=10)
    assert r.status_code == 200
    assert r.json()["directory"]["path"] == f"/users/{account.username}"
    assert r.cookies.get("gs-token")  # the Basic login set the cookie
    r2 = requests.get(url, cookies={"gs-token": r.cookies["gs-token"]}, timeout=10)
    assert r2.status_code == 200


def test_remaining_time_and_selfmanagement(dm: DM) -> None:
    r = dm.s.get(f"{dm.base}/identityServer/usermanagement/utility/token/remainingTime", timeout=10)
    assert r.status_code == 200
    assert 23 * 3600 * 1000 < int(r.text) <= 24 * 3600 * 1000
    bad = requests.get(
        f"{dm.base}/identityServer/usermanagement/utility/token/remainingTime",
        cookies={"gs-token": "x"},
        timeout=10,
    )
    assert bad.status_code == 401
    r = requests.get(f"{dm.base}/identityServer/selfmanagement/user", auth=(dm.user, dm.password), timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["username"] == dm.user
    listing = requests.get(dm.url(), cookies={"gs-token": body["token"]}, timeout=10)
    assert listing.status_code == 200


# -- directories --------------------------------------------------------------------------------------------
def test_defaultdirectory_and_personaldirectory(dm: DM) -> None:
    r = dm.s.get(f"{dm.base}/datamanager/defaultdirectory", allow_redirects=False, timeout=10)
    assert r.status_code in (302, 303)
    assert r.headers["Location"] == f"{dm.base}/datamanager/files/users/{dm.user}"
    assert (
        dm.s.get(f"{dm.base}/datamanager/defaultdirectory", timeout=10).json()["directory"]["isDirectory"]
        is True
    )
    r = dm.s.get(f"{dm.base}/datamanager/v1.0/defaultdirectory", allow_redirects=False, timeout=10)
    assert r.headers["Location"] == f"{dm.base}/datamanager/v1.0/file/Home/{dm.user}"
    r = dm.s.get(f"{dm.base}/datamanager/v1.0/personaldirectory", allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert r.headers["Location"].rstrip("/").rsplit("/", 1)[-1] == dm.user


def test_mkdir_idempotent_parent_required_and_json(dm: DM) -> None:
    r = dm.s.put(dm.url("d"), json={"isDirectory": True}, timeout=10)
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    meta = r.json()
    assert meta["isDirectory"] is True and meta["directory"] is True and "dataFormat" not in meta
    # GS-AU sent the flag as a string, with Content-Type: application/json (a body must be declared JSON)
    again = dm.s.put(
        dm.url("d"), data='{"isDirectory":"true"}', headers={"Content-Type": "application/json"}, timeout=10
    )
    assert again.status_code == 200 and again.headers["content-type"] == "application/json"
    home = dm.s.put(dm.url(""), json={"isDirectory": True}, timeout=10)  # clients re-create every ancestor
    assert home.status_code == 200
    missing = dm.s.put(dm.url("no/such/parent"), json={"isDirectory": True}, timeout=10)
    assert missing.status_code == 404 and "parent" in missing.json()["message"]
    dm.upload("d/f.txt", b"x")
    clash = dm.s.put(dm.url("d/f.txt"), json={"isDirectory": True}, timeout=10)
    assert clash.status_code == 409
    v1 = dm.s.put(dm.url("d/v1dir", "v1"), json={"isDirectory": True}, timeout=10)
    assert v1.status_code == 201 and v1.json()["path"] == f"/Home/{dm.user}/d/v1dir"


def _check_meta(m: dict[str, Any], dialect: str, user: str) -> None:
    for key in (
        "name",
        "path",
        "url",
        "parentUrl",
        "size",
        "owner",
        "isDirectory",
        "directory",
        "lastModified",
    ):
        assert key in m, key
    assert isinstance(m["isDirectory"], bool) and m["isDirectory"] is m["directory"]
    assert isinstance(m["size"], int)
    assert m["owner"] == {"name": user, "id": user, "type": "User"}
    acl = m["effectiveAcl"]
    assert acl["object"]["objectType"] == "DataManagerFileObject"
    assert acl["object"]["objectId"].endswith(m["name"])
    assert len(acl["accessControlEntries"]) == 2
    assert {a["permission"] for a in acl["accessControlEntries"]} == {"R", "W"}
    assert all(a["sid"]["name"] == user for a in acl["accessControlEntries"])
    marker = "/datamanager/files/users/" if dialect == "beta" else "/datamanager/v1.0/file/Home/"
    assert marker in m["url"] and marker in m["parentUrl"]
    if m["isDirectory"]:
        assert "dataFormat" not in m
    else:
        assert "dataFormat" in m or not m["name"].endswith(".txt")
        assert len(m["md5"]) == 32


@pytest.mark.parametrize("dialect", ["beta", "v1"])
def test_listing_shapes(dm: DM, dialect: str) -> None:
    dm.mkdir("L")
    dm.mkdir("L/sub")
    dm.upload("L/a.txt", b"hello")
    dm.upload("L/blob.bin", b"\x00\x01", "application/octet-stream")
    listing = dm.listing("L", dialect)
    assert isinstance(listing["contents"], list)
    _check_meta(listing["directory"], dialect, dm.user)
    names = [c["name"] for c in listing["contents"]]
    assert names == ["sub", "a.txt", "blob.bin"]  # directories first
    for m in listing["contents"]:
        _check_meta(m, dialect, dm.user)
    txt = listing["contents"][1]
    assert txt["size"] == 5 and txt["md5"] == hashlib.md5(b"hello").hexdigest()
    assert txt["dataFormat"]["name"] == "txt"
    assert {f["name"] for f in txt["availableDataFormats"]} == {"txt", "lowercasetxt", "uppercasetxt"}
    assert "dataFormat" not in listing["contents"][2]
    # trailing slash allowed
    r = dm.s.get(dm.url("L", dialect) + "/", timeout=10)
    assert r.status_code == 200 and len(r.json()["contents"]) == 3


def test_root_listing_shows_own_folder_and_the_sharing_views(dm: DM) -> None:
    # the caller's folder, then the virtual "Shared to <user>" and "Public" folders (issue 19), no one else
    for url in (f"{dm.base}/datamanager/files/users", f"{dm.base}/datamanager/v1.0/file/Home"):
        r = dm.s.get(url, timeout=10)
        assert r.status_code == 200
        assert [c["name"] for c in r.json()["contents"]] == [dm.user, f"Shared to {dm.user}", "Public"]


# -- files ------------------------------------------------------------------------------------------------
def test_upload_download_metadata_roundtrip(dm: DM) -> None:
    data = b"line one\nline two\n" * 100
    dm.upload("f.txt", data)
    r = dm.s.get(dm.url("f.txt"), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith("http")
    assert dm.download("f.txt").content == data
    r = dm.s.get(dm.url("f.txt", "v1"), allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert requests.get(r.headers["Location"], timeout=10).content == data  # no cookie needed at storage
    meta = dm.meta("f.txt")
    assert meta["md5"] == hashlib.md5(data).hexdigest() and meta["size"] == len(data)
    assert meta["contentType"] == "text/plain" and meta["path"] == f"/users/{dm.user}/f.txt"
    v1meta = dm.meta("f.txt", "v1")
    assert v1meta["path"] == f"/Home/{dm.user}/f.txt"
    r = dm.s.get(dm.url("f.txt", endpoint="downloadurls"), timeout=10)
    assert r.status_code == 200 and "X-Amz-Expires=300" in r.text
    assert requests.get(r.text, timeout=10).content == data
    missing = dm.s.get(dm.url("nope.txt", endpoint="filemetadata"), timeout=10)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    assert dm.s.get(dm.url("nope.txt"), timeout=10).status_code == 404


def test_v1_uploadurl_binds_length_md5_type(dm: DM) -> None:
    data = b"v1 upload"
    b64, _ = md5_pair(data)
    r = dm.s.get(
        dm.url("v1.txt", "v1", "uploadurl"),
        params={"Content-Length": str(len(data)), "Content-MD5": b64, "Content-Type": "text/plain"},
        timeout=10,
    )
    assert r.status_code == 200
    put = requests.put(
        r.text, data=data, headers={"Content-MD5": b64, "Content-Type": "text/plain"}, timeout=10
    )
    assert put.status_code == 200
    assert dm.download("v1.txt", "v1").content == data
    # genomespaceio sends no Content-MD5 to v1.0 uploadurl
    r = dm.s.get(
        dm.url("nomd5.txt", "v1", "uploadurl"),
        params={"Content-Length": "3", "Content-Type": "text/plain"},
        timeout=10,
    )
    assert r.status_code == 200
    assert (
        requests.put(r.text, data=b"abc", headers={"Content-Type": "text/plain"}, timeout=10).status_code
        == 200
    )
    assert dm.meta("nomd5.txt")["md5"] == hashlib.md5(b"abc").hexdigest()


def test_uploadurls_validation(dm: DM) -> None:
    b64, _ = md5_pair(b"x")
    ok = {"Content-Length": "1", "Content-MD5": b64, "Content-Type": "text/plain"}
    r = dm.s.get(dm.url("nodir/x.txt", endpoint="uploadurls"), params=ok, timeout=10)
    assert r.status_code == 404 and "parent" in r.json()["message"]
    for bad in (
        {"Content-Length": "1", "Content-Type": "text/plain"},
        {**ok, "Content-Length": "abc"},
        {**ok, "Content-Length": "-1"},
        {**ok, "Content-MD5": "not-base64!"},
        {**ok, "Content-MD5": "YWJj"},
        {"Content-MD5": b64, "Content-Type": "text/plain"},
    ):
        r = dm.s.get(dm.url("x.txt", endpoint="uploadurls"), params=bad, timeout=10)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["message"]
    dm.mkdir("isdir")
    r = dm.s.get(dm.url("isdir", endpoint="uploadurls"), params=ok, timeout=10)
    assert r.status_code == 409


def test_copy_file_and_directory(dm: DM) -> None:
    dm.mkdir("src")
    dm.mkdir("src/inner")
    dm.upload("src/a.txt", b"A")
    dm.upload("src/inner/b.txt", b"B")
    r = dm.s.put(dm.url("a-copy.txt"), headers={"x-gs-copy-source": dm.p("src/a.txt")}, timeout=10)
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    assert r.json()["name"] == "a-copy.txt" and r.json()["md5"] == hashlib.md5(b"A").hexdigest()
    assert dm.download("a-copy.txt").content == b"A"
    by_url = dm.s.put(
        dm.url("url copy.txt"), headers={"x-gs-copy-source": dm.url("src/a.txt", "v1")}, timeout=10
    )
    assert by_url.status_code == 201 and dm.download("url copy.txt").content == b"A"
    r = dm.s.put(dm.url("tree-copy", "v1"), headers={"x-gs-copy-source": f"/Home/{dm.user}/src"}, timeout=10)
    assert r.status_code == 201 and r.json()["isDirectory"] is True, r.text
    assert dm.download("tree-copy/inner/b.txt").content == b"B"
    assert [c["name"] for c in dm.listing("tree-copy")["contents"]] == ["inner", "a.txt"]
    assert dm.download("src/a.txt").content == b"A"  # source intact
    into_self = dm.s.put(dm.url("src/inner/again"), headers={"x-gs-copy-source": dm.p("src")}, timeout=10)
    assert into_self.status_code == 400
    missing = dm.s.put(dm.url("zz"), headers={"x-gs-copy-source": dm.p("missing")}, timeout=10)
    assert missing.status_code == 404


def test_delete_rules(dm: DM) -> None:
    dm.mkdir("del")
    dm.upload("del/f.txt", b"1")
    r = dm.s.delete(dm.url("del"), timeout=10)
    assert r.status_code == 409 and "not empty" in r.json()["message"]
    r = dm.s.delete(dm.url("del/f.txt"), timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert dm.s.delete(dm.url("del", "v1"), timeout=10).status_code == 200
    assert dm.s.get(dm.url("del", endpoint="filemetadata"), timeout=10).status_code == 404
    assert dm.s.delete(dm.url("del"), timeout=10).status_code == 404
    assert dm.s.delete(dm.url(""), timeout=10).status_code == 403


# -- conversions --------------------------------------------------------------------------------------------
def test_txt_conversions_both_dialects(dm: DM) -> None:
    dm.upload("mixed.txt", "Hello Wörld\nABC def\n".encode())
    up = dm.download("mixed.txt", dataFormat=FMT + "uppercasetxt/0.0.0")
    assert up.status_code == 200 and up.content == "HELLO WÖRLD\nABC DEF\n".encode()
    low = dm.download("mixed.txt", "v1", dataformat=FMT + "lowercasetxt")  # later URL form, lowercase param
    assert low.content == "hello wörld\nabc def\n".encode()
    same = dm.download("mixed.txt", dataFormat=FMT + "txt/0.0.0")
    assert same.content == "Hello Wörld\nABC def\n".encode()
    bad = dm.download("mixed.txt", dataFormat=FMT + "gct")
    assert bad.status_code == 400 and "cannot be converted" in bad.json()["message"]
    unknown = dm.download("mixed.txt", dataFormat=FMT + "nosuchformat/0.0.0")
    assert unknown.status_code == 400


def test_tab_gct_conversions(dm: DM) -> None:
    tab = b"UNIQID\tNAME\tS1\tS2\ng1\tgene one\t1.5\t2\ng2\tgene two\t3\t4\n"
    dm.upload("expr.tab", tab)
    gct = dm.download("expr.tab", dataFormat=FMT + "gct/0.0.0").content
    assert gct == b"#1.2\n2\t2\nName\tDescription\tS1\tS2\ng1\tgene one\t1.5\t2\ng2\tgene two\t3\t4\n"
    dm.upload("expr.gct", gct)
    back = dm.download("expr.gct", "v1", dataformat=FMT + "genomicatab").content
    assert back == tab
    meta = dm.meta("expr.gct")
    assert {f["name"] for f in meta["availableDataFormats"]} == {"gct", "genomicatab"}


# -- v1.0 specifics -----------------------------------------------------------------------------------------
def test_v1_move_head_and_lists(dm: DM) -> None:
    dm.mkdir("mv")
    dm.upload("mv/a.txt", b"move me")
    r = dm.s.post(dm.url("mv/a.txt", "v1"), json={"path": f"/Home/{dm.user}/mv/b.txt"}, timeout=10)
    assert r.status_code == 200 and r.json()["name"] == "b.txt"
    assert dm.s.head(dm.url("mv/a.txt", "v1"), timeout=10).status_code == 404
    head = dm.s.head(dm.url("mv/b.txt", "v1"), params={"signedURL": "true"}, timeout=10)
    assert head.status_code == 200
    assert requests.get(head.headers["external-link"], timeout=10).content == b"move me"
    r = dm.s.post(dm.url("mv", "v1"), json={"path": f"/Home/{dm.user}/moved"}, timeout=10)
    assert r.status_code == 200 and r.json()["isDirectory"] is True
    assert dm.download("moved/b.txt", "v1").content == b"move me"
    assert dm.s.get(dm.url("mv", "v1"), timeout=10).status_code == 404
    bad = dm.s.post(
        dm.url("moved", "v1"), data="{oops", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert bad.status_code == 400
    formats = dm.s.get(f"{dm.base}/datamanager/v1.0/dataformat/list", timeout=10).json()
    names = {f["name"] for f in formats}
    required = {"txt", "lowercasetxt", "uppercasetxt", "gct", "res", "cls", "bed", "gff", "gtf", "gmt"}
    assert required | {"fasta", "fastq", "sam", "vcf", "genomicatab"} <= names
    assert all(f["url"].endswith("/" + f["version"]) for f in formats)
    conv = dm.s.get(f"{dm.base}/datamanager/v1.0/dataformatconverter/list", timeout=10).json()
    pairs = {(c["inputFormat"]["name"], c["outputFormat"]["name"]) for c in conv}
    assert {("txt", "uppercasetxt"), ("genomicatab", "gct"), ("gct", "genomicatab")} <= pairs


def test_uploadinfo_answers_clearly(dm: DM) -> None:
    r = dm.s.get(dm.url("x.txt", "v1", "uploadinfo"), timeout=10)
    if r.status_code == 501:  # no multipart router installed
        assert "uploadurl" in r.json()["message"]
    else:  # the multipart feature provides uploadinfo
        assert r.status_code in (200, 400, 404) and r.headers["content-type"].startswith("application/json")


# -- extensions ---------------------------------------------------------------------------------------------
def test_recursive_listing_is_paged(dm: DM) -> None:
    dm.mkdir("R")
    expected = set()
    for d in ("R/x", "R/x/y", "R/z"):
        dm.mkdir(d)
        expected.add(dm.p(d))
    for i in range(12):
        rel = ("R/x/y", "R/z", "R")[i % 3] + f"/f{i}.txt"
        dm.upload(rel, f"{i}".encode())
        expected.add(dm.p(rel))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"recursive": "true", "pageSize": "5"}
        if token:
            params["pageToken"] = token
        r = dm.s.get(dm.url("R"), params=params, timeout=10)
        assert r.status_code == 200
        body = r.json()
        seen += [c["path"] for c in body["contents"]]
        pages += 1
        token = body["nextPageToken"]
        if not token:
            break
    assert pages >= 3
    assert sorted(seen) == sorted(expected)
    files = [p for p in seen if p.endswith(".txt")]
    assert len(files) == 12


def test_multipart_object_md5_from_metadata(dm: DM, seaweed: Any) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint,
        aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key,
        region_name=seaweed.region,
        config=Config(s3={"addressing_style": "path"}),
    )
    part1, part2 = b"a" * (5 * 1024 * 1024), b"tail"
    md5 = hashlib.md5(part1 + part2).hexdigest()
    key = f"users/{dm.user}/big.bin"
    up = s3.create_multipart_upload(Bucket=seaweed.bucket, Key=key, Metadata={"md5-hash": md5})
    parts: list[CompletedPartTypeDef] = []
    for n, chunk in enumerate((part1, part2), 1):
        e = s3.upload_part(Bucket=seaweed.bucket, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=chunk)
        parts.append({"PartNumber": n, "ETag": e["ETag"]})
    s3.complete_multipart_upload(
        Bucket=seaweed.bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert "-" in s3.head_object(Bucket=seaweed.bucket, Key=key)["ETag"]
    assert dm.meta("big.bin")["md5"] == md5
    entry = next(c for c in dm.listing()["contents"] if c["name"] == "big.bin")
    assert entry["md5"] == md5 and entry["size"] == len(part1) + len(part2)


def test_openapi_document_served(dm: DM) -> None:
    r = requests.get(f"{dm.base}/openapi.json", timeout=10)
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/datamanager/files/{path}" in paths and "/datamanager/v1.0/file/{path}" in paths


def test_ucsc_style_raw_http(dm: DM) -> None:
    """UCSC's C client matches status lines and the header spelling byte for byte."""
    import base64
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(dm.base)

    def raw(request: str) -> bytes:
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(request.encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return data

    auth = base64.b64encode(f"{dm.user}:{dm.password}".encode()).decode()
    reply = raw(
        f"GET /identityServer/basic HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
        "Connection: close\r\n\r\n"
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    token = body.decode()
    assert token and "\n" not in token and requests.get(dm.url(), cookies={"gs-token": token}, timeout=10).ok
    reply = raw(
        f"GET /datamanager/v1.0/personaldirectory HTTP/1.1\r\nHost: x\r\nCookie: gs-token={token}\r\n"
        "Connection: close\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 303 See Other\r\n")
    location = next(line for line in reply.split(b"\r\n") if line.startswith(b"Location: "))
    assert location.rstrip(b"/").rsplit(b"/", 1)[-1] == dm.user.encode()


def test_remaining_small_endpoints(dm: DM) -> None:
    dm.upload("small.txt", b"small")
    # beta format lists
    assert {f["name"] for f in dm.s.get(f"{dm.base}/datamanager/dataformat/list", timeout=10).json()} >= {
        "txt",
        "gct",
    }
    conv = dm.s.get(f"{dm.base}/datamanager/dataformatconverter/list", timeout=10).json()
    assert {"inputFormat", "outputFormat"} == set(conv[0])
    # v1 downloadurl(s)
    for ep in ("downloadurl", "downloadurls"):
        r = dm.s.get(dm.url("small.txt", "v1", ep), timeout=10)
        assert r.status_code == 200 and requests.get(r.text, timeout=10).content == b"small"
    assert dm.s.get(dm.url("", "v1", "downloadurls"), timeout=10).status_code == 400  # a directory
    # the unversioned /datamanager/file/... redirects to v1.0, keeping the query
    r = dm.s.get(
        f"{dm.base}/datamanager/file/Home/{dm.user}/small.txt?dataformat=uppercasetxt", allow_redirects=False
    )
    assert r.status_code == 307 and "/datamanager/v1.0/file/Home/" in r.headers["Location"]
    assert dm.s.get(r.headers["Location"], timeout=10).content == b"SMALL"
    # HEAD on a directory and on the virtual root; metadata of the root
    head = dm.s.head(dm.url("", "v1"), timeout=10)
    assert head.status_code == 200 and head.headers["x-gs-is-directory"] == "true"
    assert dm.s.head(f"{dm.base}/datamanager/v1.0/file/Home", timeout=10).status_code == 200
    root = dm.s.get(f"{dm.base}/datamanager/v1.0/filemetadata/Home", timeout=10).json()
    assert root["isDirectory"] is True and root["path"] == "/Home"
    # conversion of a directory is refused clearly
    r = dm.s.get(dm.url(""), params={"dataFormat": "uppercasetxt"}, timeout=10)
    assert r.status_code == 400 and "directory" in r.json()["message"]
