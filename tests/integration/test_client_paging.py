"""``DataManagerClient.list_pages``: the paged listing extension, and a server without it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from gsdesktop.server.seaweed import S3Config
from tests.conftest import Account

NAMES = [f"n{i:03d}.txt" for i in range(230)] + ["a b#1.txt", "100%.txt", "x?y=&z.txt", "ünï ✓.txt"]
SUBDIRS = ["d1", "d 2", "d+3"]


class OldServer:
    """A real HTTP front for the real server that drops ``pageSize``/``pageToken`` from every query,
    like a Data Manager without the paging extension (it answers whole listings)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.listings = 0
        session = requests.Session()
        session.trust_env = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("pageSize", "pageToken")]
                if "/files/" in parts.path or "/file/" in parts.path:
                    outer.listings += 1
                url = outer.upstream + parts.path + ("?" + urlencode(query) if query else "")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                r = session.request(
                    method, url, data=body, headers=headers, allow_redirects=False, timeout=30
                )
                self.send_response(r.status_code)
                for key, value in r.headers.items():
                    if key.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def big_dir(account: Account, seaweed: S3Config) -> str:
    """``/users/<u>/many``: 234 files (some with hostile names) and 3 sub-folders holding files."""
    from gsdesktop.server.storage import S3Store

    store = S3Store(seaweed, create_bucket=False)
    prefix = f"users/{account.username}/many/"
    keys = [prefix] + [prefix + n for n in NAMES]
    keys += [k for d in SUBDIRS for k in (f"{prefix}{d}/", f"{prefix}{d}/inside.txt")]

    def put(key: str) -> None:
        store.s3.put_object(Bucket=store.bucket, Key=key, Body=b"" if key.endswith("/") else b"data")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))
    return f"/users/{account.username}/many"


@pytest.fixture
def client(account: Account) -> Iterator[DataManagerClient]:
    c = DataManagerClient(account.server_url, account.username, account.password)
    yield c
    c.close()


def test_list_pages_yields_every_entry_once(client: DataManagerClient, big_dir: str) -> None:
    whole = client.list(big_dir)
    pages = list(client.list_pages(big_dir, page_size=50))
    assert len(pages) == 5  # 237 entries in pages of at most 50
    assert all(0 < len(p.contents) <= 50 for p in pages)
    paths = [m.path for p in pages for m in p.contents]
    assert len(paths) == len(set(paths)) == len(NAMES) + len(SUBDIRS)
    assert set(paths) == {m.path for m in whole.contents}
    assert all(p.directory.path == big_dir for p in pages)
    assert {m.name for p in pages for m in p.contents if m.is_directory} == set(SUBDIRS)
    # lazily fetched: the first page arrives without the others being requested
    first = next(iter(client.list_pages(big_dir, page_size=10)))
    assert 0 < len(first.contents) <= 10  # (the folder's own marker object takes a slot of the first page)


def test_list_pages_v1_dialect_and_errors(account: Account, big_dir: str) -> None:
    from gsdesktop.datamanager.paths import Dialect

    c = DataManagerClient(account.server_url, account.username, account.password, dialect=Dialect.V1)
    try:
        names = [m.name for p in c.list_pages(big_dir, page_size=100) for m in p.contents]
        assert sorted(names) == sorted(NAMES + SUBDIRS)
        assert all(m.path.startswith("/users/") for p in c.list_pages(big_dir, 100) for m in p.contents)
    finally:
        c.close()
    client = DataManagerClient(account.server_url, account.username, account.password)
    try:
        with pytest.raises(NotFoundError):
            list(client.list_pages(f"{big_dir}/missing"))
        with pytest.raises(InvalidRequestError, match="Not a folder"):
            list(client.list_pages(f"{big_dir}/n001.txt"))
        with pytest.raises(PermissionDeniedError):
            list(client.list_pages("/users/someone-else/x"))
        # pages of one: the folder's own marker makes an empty first page, which is fine
        tiny = list(client.list_pages(f"{big_dir}/d1", page_size=1))
        assert [m.name for p in tiny for m in p.contents] == ["inside.txt"]
    finally:
        client.close()


def test_list_pages_falls_back_on_a_server_without_paging(account: Account, big_dir: str) -> None:
    old = OldServer(account.server_url)
    client = DataManagerClient(old.url, account.username, account.password)
    try:
        before = old.listings
        pages = list(client.list_pages(big_dir, page_size=20))
        assert len(pages) == 1  # no nextPageToken: the whole listing was the only page
        assert old.listings - before == 1  # one request, as list() makes
        assert sorted(m.name for m in pages[0].contents) == sorted(NAMES + SUBDIRS)
    finally:
        client.close()
        old.stop()
