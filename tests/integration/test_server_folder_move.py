"""The server's folder move on the real SeaweedFS: how many store requests it costs, and what it keeps.

Issue 16 (a folder rename converges within 5 s for 1,000 files): S3 has no rename, so the move copies
object by object; each source used to cost a HEAD and a conditional DELETE after its copy (three
requests per file). Sources are now deleted in conditional batches (``DeleteObjects`` with each item's
ETag), so the store sees about one request per file.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from gsdesktop.server import moves
from gsdesktop.server.paths import DMPath
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store


class CountingStore(S3Store):
    """The real store; counts the HTTP requests it sends (botocore's and the lean HEAD/list ones)."""

    def __init__(self, cfg: S3Config) -> None:
        super().__init__(cfg, create_bucket=False)
        self.sent: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self.s3.meta.events.register("before-send.s3", self._on_send)
        http_request = self._http.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            with self._count_lock:
                self.sent[f"raw {method}"] += 1
            return http_request(method, url, *args, **kwargs)

        self._http.request = request  # type: ignore[method-assign]

    def _on_send(self, request: Any, **_: Any) -> None:
        with self._count_lock:
            self.sent[request.method] += 1


@pytest.fixture
def store(seaweed: S3Config) -> Iterator[CountingStore]:
    s = CountingStore(seaweed)
    s.ensure_bucket()
    yield s


def make_tree(store: S3Store, base: str, n: int) -> dict[str, bytes]:
    files = {f"d{i % 5}/f{i:04d}.txt": f"{i}-{secrets.token_hex(4)}".encode() for i in range(n)}
    store.put_bytes(base, b"", content_type="application/x-directory")
    for d in range(5):
        store.put_bytes(f"{base}d{d}/", b"", content_type="application/x-directory")
    for name, data in files.items():
        store.put_bytes(base + name, data)
    return files


def contents(store: S3Store, prefix: str) -> dict[str, bytes]:
    objects, _ = store.list_all(prefix, delimiter=None)
    return {o.key[len(prefix) :]: store.get_bytes(o.key) or b"" for o in objects if not o.key.endswith("/")}


def test_a_folder_move_costs_about_one_store_request_per_file(store: CountingStore) -> None:
    user = f"mv{secrets.token_hex(4)}"
    store.put_bytes(f"users/{user}/", b"", content_type="application/x-directory")
    src, dst = DMPath.from_key(f"users/{user}/a/"), DMPath.from_key(f"users/{user}/b/")
    files = make_tree(store, src.dir_key, 300)
    store.batch_delete_if_supported()  # probed once per store (a few requests), not per move
    store.sent.clear()
    assert moves.move(store, src, dst) is True
    total = sum(store.sent.values())
    # 300 copies, a few batch deletes, listings, leases and 6 folder markers; was 3 per file (900+)
    assert total < 300 * 1.25, store.sent
    assert contents(store, dst.dir_key) == files
    assert contents(store, src.dir_key) == {}
    assert store.head(src.dir_key) is None


def test_batch_delete_if_keeps_what_changed(store: CountingStore) -> None:
    """The conditional batch delete deletes exactly the items still at their ETag."""
    base = f"probe-{secrets.token_hex(4)}/"
    for k in ("same", "changed"):
        store.put_bytes(base + k, b"v1")
    infos = {k: store.head(base + k) for k in ("same", "changed", "gone")}
    store.put_bytes(base + "changed", b"v2")
    etag = infos["same"].etag if infos["same"] else ""
    assert store.batch_delete_if_supported()
    gone = store.delete_many_if([(base + "same", etag), (base + "changed", etag), (base + "gone", etag)])
    assert gone == {base + "same"}
    assert store.get_bytes(base + "changed") == b"v2"
    store.delete(base + "changed")
