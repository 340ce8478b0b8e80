"""Moves (v1.0 ``POST file/<path>``) that lose nothing confirmed and let one of racing moves win.

A file ``src`` -> ``dst``:

1. copy with ``CopySourceIfMatch`` (the version seen) and ``IfNoneMatch: *`` (the destination must be
   new): of racing moves onto one name the store lets one through, the others answer 409 unchanged;
2. delete the source only while it still is that version (HEAD re-check right before, and ``If-Match``).
   When another request moved, deleted or rewrote it meanwhile, the copy is taken back (``If-Match``)
   and the move answers 409: a content never ends up in two places, and no confirmed write is lost.

A folder: leases in the store (``.gsdm/moving/<user>/``, plain keys created with ``IfNoneMatch``) on
the source and the destination let one folder move touching a name, or a folder above or below it, run
at a time (409 for the others): of racing moves onto one name at most one wins, and one folder moved
to two names at once moves once. Every object listed below the source
is moved like a file (deleted only where its ETag still equals the copied one); then the source is
listed again and what arrived or changed meanwhile is moved too, for a few passes. What still cannot be
moved (it keeps changing, or its name was taken at the destination) stays at the source. Source folder
markers go last, and only when nothing is left below them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from gsdesktop.server import ops
from gsdesktop.server.auth import APIError
from gsdesktop.server.common import not_found
from gsdesktop.server.paths import DMPath
from gsdesktop.server.storage import ObjectInfo, S3Store

log = logging.getLogger(__name__)

LEASE_PREFIX = ".gsdm/moving/"
LEASE_TTL = 900.0  # a lease older than this (its server died mid-move) is taken over; renewed each pass
PASSES = 3  # listings of the source: the first, then two for what arrived or changed meanwhile
WORKERS = 16
CHUNK = 250  # objects copied before their sources are deleted in one conditional batch
FILE_ATTEMPTS = 3


def _exists(dst: DMPath) -> APIError:
    return APIError(409, f"the destination {dst.display()} exists already")


def _busy(src: DMPath) -> APIError:
    return APIError(
        409, f"{src.display()} was changed, moved or deleted by another request during the move; "
        "nothing was moved",
    )  # fmt: skip


def move(store: S3Store, src: DMPath, dst: DMPath) -> bool:
    """Move a file or a folder; returns True for a folder. 409 when a racing request won."""
    if src.is_home:
        raise APIError(403, "your home folder cannot be moved")
    if src == dst:
        raise APIError(400, "source and destination are the same")
    if dst.is_home or ops.stat(store, dst) is not None:
        raise _exists(dst)
    st = ops.stat(store, src)
    if st is None:
        raise not_found(f"move source {src.display()}")
    ops.require_parent(store, dst)
    if not st.is_dir:
        assert st.info is not None
        _move_file(store, src, dst, st.info)
        return False
    dst.require_folder_name()  # a name the store hides (.uploads, *.versions): 400, nothing moved
    if dst.is_within(src):
        raise APIError(400, f"cannot copy or move {src.display()} into itself ({dst.display()})")
    with _lease(store, src, dst) as renew:
        if ops.stat(store, src) is None:  # a racing move of it finished before we held the lease
            raise _busy(src)
        if ops.stat(store, dst) is not None:
            raise _exists(dst)
        store.put_bytes(dst.dir_key, b"", content_type=ops.DIR_CONTENT_TYPE)
        _move_tree(store, src, dst, renew)
    return True


def _move_file(store: S3Store, src: DMPath, dst: DMPath, info: ObjectInfo) -> None:
    for _ in range(FILE_ATTEMPTS):
        if store.copy_new(src.key, dst.key, info.etag, info.size):
            break
        if store.head(dst.key) is not None or ops.stat(store, dst) is not None:
            raise _exists(dst)
        current = store.head(src.key)  # rewritten since we looked: move the new version
        if current is None:
            raise _busy(src)
        info = current
    else:
        raise _busy(src)
    if not store.delete_if(src.key, info.etag):
        store.delete_if(dst.key, info.etag)  # take the copy back: the content stays where it is
        raise _busy(src)


def _move_object(store: S3Store, obj: ObjectInfo, dst_key: str) -> bool:
    """One object of a folder move; False when it stays at the source (changed, gone, name taken)."""
    if not store.copy_new(obj.key, dst_key, obj.etag, obj.size):
        return False
    if store.delete_if(obj.key, obj.etag):
        return True
    store.delete_if(dst_key, obj.etag)  # the source changed or went: take the copy back
    return False


def _move_objects(store: S3Store, todo: list[ObjectInfo], dst_key: Callable[[ObjectInfo], str]) -> int:
    """Move ``todo`` (objects of a folder); returns how many stay at the source.

    Where the store deletes conditionally in batches, the objects are copied in parallel a chunk at a
    time, and each chunk's sources are deleted in one ``DeleteObjects`` whose every item carries the
    ETag copied (while the next chunk copies): a source rewritten after its copy stays, and its copy is
    taken back, as one by one. Otherwise each object is copied and deleted on its own (:func:`_move_object`).
    """
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        if not store.batch_delete_if_supported():
            return list(pool.map(lambda o: _move_object(store, o, dst_key(o)), todo)).count(False)

        def delete_sources(copied: list[ObjectInfo]) -> int:
            gone = store.delete_many_if([(o.key, o.etag) for o in copied])
            for o in copied:
                if o.key not in gone:  # the source changed or went: take the copy back
                    store.delete_if(dst_key(o), o.etag)
            return len(gone)

        moved = 0
        with ThreadPoolExecutor(max_workers=1) as deleter:
            pending = None
            for i in range(0, len(todo), CHUNK):
                chunk = todo[i : i + CHUNK]
                ok = pool.map(lambda o: store.copy_new(o.key, dst_key(o), o.etag, o.size), chunk)
                copied = [o for o, done in zip(chunk, ok, strict=True) if done]
                if pending is not None:
                    moved += pending.result()
                pending = deleter.submit(delete_sources, copied)
            if pending is not None:
                moved += pending.result()
    return len(todo) - moved


def _move_tree(store: S3Store, src: DMPath, dst: DMPath, renew: Callable[[], None]) -> None:
    markers: dict[str, ObjectInfo] = {}
    made: set[str] = set()
    left = 0
    for n in range(PASSES):
        if n:
            renew()
        objects, _ = store.list_all(src.dir_key, delimiter=None)
        todo = [o for o in objects if not o.key.endswith("/")]
        for o in objects:
            if o.key.endswith("/"):
                markers[o.key] = o
        new = sorted(k for k in markers if k != src.dir_key and k not in made)
        _each(
            lambda k: store.put_bytes(
                dst.dir_key + k[len(src.dir_key) :], b"", content_type=ops.DIR_CONTENT_TYPE
            ),
            new,
        )
        made.update(new)
        if not todo:
            left = 0
            break
        left = _move_objects(store, todo, lambda o: dst.dir_key + o.key[len(src.dir_key) :])
    if left:
        log.info("move %s -> %s: %d files changed during the move stay at the source", src.key, dst.key, left)

    def drop_if_empty(key: str) -> None:
        page = store.list_page(key, delimiter=None, max_keys=2)
        if all(o.key == key for o in page.objects):
            store.delete_if(key, markers[key].etag)

    depths = sorted({k.count("/") for k in markers}, reverse=True)
    for depth in depths:  # the deepest first: a marker goes only when nothing is left below it
        _each(drop_if_empty, [k for k in markers if k.count("/") == depth])


def _each(fn: Callable[[str], object], keys: list[str]) -> None:
    """``fn`` on each key, in parallel (at most :data:`WORKERS` at once)."""
    if len(keys) < 2:
        for key in keys:
            fn(key)
        return
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(keys))) as pool:
        list(pool.map(fn, keys))


# -- the move leases -----------------------------------------------------------------------------------------
# Plain keys created with If-None-Match: SeaweedFS honours that atomically for ordinary keys, but not
# for "dir/" marker keys (two racing creates of one marker both succeed), so the destination of a
# folder move is claimed here too, not by its marker.
def _lease_key(path: DMPath) -> str:
    return f"{LEASE_PREFIX}{path.user}/{hashlib.sha256(path.rel.encode()).hexdigest()}.json"


def _lease_body(path: DMPath, src: DMPath, dst: DMPath) -> bytes:
    return json.dumps({"rel": path.rel, "from": src.rel, "to": dst.rel, "at": time.time()}).encode()


def _read_lease(store: S3Store, key: str) -> tuple[str, float] | None:
    raw = store.get_bytes(key)
    try:
        data = json.loads(raw) if raw is not None else None
        return (str(data["rel"]), float(data["at"])) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _take(store: S3Store, key: str, body: bytes) -> bool:
    """Create the lease ``key``; a stale one (its server died mid-move) is taken over."""
    if store.put_bytes(key, body, content_type="application/json", if_none_match=True):
        return True
    held = _read_lease(store, key)
    info = store.head(key)
    if held is None or info is None or time.time() - held[1] < LEASE_TTL:
        return False
    log.warning("taking over a stale move lease (%s)", held[0])
    return store.delete_if(key, info.etag) and store.put_bytes(
        key, body, content_type="application/json", if_none_match=True
    )


@contextmanager
def _lease(store: S3Store, src: DMPath, dst: DMPath) -> Iterator[Callable[[], None]]:
    """Hold the move leases of ``src`` and ``dst``: 409 while another folder move holds either, or a
    folder above or below either; yields a function that renews them."""
    busy = APIError(409, f"{src.display()} or {dst.display()} is being moved by another request; try again")
    held: list[tuple[str, DMPath]] = []
    try:
        for path in (src, dst):
            key = _lease_key(path)
            if not _take(store, key, _lease_body(path, src, dst)):
                raise busy
            held.append((key, path))
        mine = {key for key, _ in held}
        others, _ = store.list_all(f"{LEASE_PREFIX}{src.user}/", delimiter=None)
        for other in others:
            lease = _read_lease(store, other.key) if other.key not in mine else None
            fresh = lease is not None and time.time() - lease[1] < LEASE_TTL
            if fresh and lease is not None and (_overlaps(lease[0], src.rel) or _overlaps(lease[0], dst.rel)):
                raise busy

        def renew() -> None:
            for key, path in held:
                store.put_bytes(key, _lease_body(path, src, dst), content_type="application/json")

        yield renew
    finally:
        for key, _ in held:
            store.delete(key)
