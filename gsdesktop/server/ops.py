"""Data Manager operations on the S3 store, shared by both API dialects.

Layout: a file is the object ``users/<u>/<path>``; a directory is the zero-byte marker
``users/<u>/<path>/`` (a prefix with objects below it but no marker also counts as a directory, so
objects written straight into the bucket show up). Every function here takes already-authorised
:class:`DMPath` values; authorisation happens in the routers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gsdesktop.server.common import APIError, dir_json, file_json, not_found
from gsdesktop.server.paths import DMPath, PathError
from gsdesktop.server.storage import ObjectInfo, S3Store

DIR_CONTENT_TYPE = "application/x-directory"
MAX_PUT_SIZE = 5 * 1024**3
COPY_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Stat:
    """What a path is: a file (with its object info) or a directory (with its marker, if any)."""

    is_dir: bool
    info: ObjectInfo | None


def stat(store: S3Store, path: DMPath) -> Stat | None:
    """File, directory or ``None`` (absent); at most two store calls. The home folder always exists."""
    if not path.is_home:
        info = store.head(path.key)
        if info is not None:
            return Stat(False, info)
    page = store.list_page(path.dir_key, delimiter=None, max_keys=1)
    if page.objects:
        first = page.objects[0]
        return Stat(True, first if first.key == path.dir_key else None)
    return Stat(True, None) if path.is_home else None


def dir_exists(store: S3Store, path: DMPath) -> bool:
    """True for a directory (marker or anything below it); one store call."""
    return path.is_home or store.any_under(path.dir_key)


def with_md5(store: S3Store, info: ObjectInfo) -> ObjectInfo:
    """Fill the metadata of a multipart object (HEAD), whose ETag is not its MD5."""
    if info.is_multipart_etag and info.metadata is None:
        return store.head(info.key) or info
    return info


def require_dir(store: S3Store, path: DMPath, what: str = "directory") -> Stat:
    st = stat(store, path)
    if st is None:
        raise not_found(f"{what} {path.display()} does not exist")
    if not st.is_dir:
        raise APIError(409, f"{path.display()} is a file, not a directory")
    return st


def require_parent(store: S3Store, path: DMPath) -> None:
    """404 unless the parent directory exists (409 if it is a file); usually one store call."""
    parent = path.parent
    if parent is None:
        raise APIError(400, "the home folder itself cannot be replaced")
    if dir_exists(store, parent):
        return
    if store.head(parent.key) is not None:
        raise APIError(409, f"parent {parent.display()} is a file, not a directory")
    raise not_found(f"parent directory {parent.display()} does not exist (create it first)")


def metadata(store: S3Store, path: DMPath, base: str, dialect: str) -> dict[str, Any]:
    st = stat(store, path)
    if st is None:
        raise not_found(path.display(dialect))
    if st.is_dir:
        return dir_json(path, base, dialect, st.info.last_modified if st.info else None)
    assert st.info is not None
    return file_json(path, st.info, base, dialect)


def listing(store: S3Store, path: DMPath, base: str, dialect: str) -> dict[str, Any] | None:
    """GSDirectoryListing of a directory, or ``None`` when ``path`` is not a directory."""
    objects, prefixes = store.list_all(path.dir_key, delimiter="/")
    marker = next((o for o in objects if o.key == path.dir_key), None)
    if not objects and not prefixes and not path.is_home:
        return None
    return {
        "directory": dir_json(path, base, dialect, marker.last_modified if marker else None),
        "contents": _contents(store, path, objects, prefixes, base, dialect),
    }


def _contents(
    store: S3Store, path: DMPath, objects: list[ObjectInfo], prefixes: list[str], base: str, dialect: str
) -> list[dict[str, Any]]:
    """Metadata of a directory's children (sub-directories first, then by name)."""
    contents: list[dict[str, Any]] = []
    for prefix in prefixes:
        try:
            contents.append(dir_json(DMPath.from_key(prefix), base, dialect))
        except PathError:
            continue
    for obj in objects:
        if obj.key == path.dir_key or obj.key.endswith("/"):
            continue
        try:
            child = DMPath.from_key(obj.key)
        except PathError:
            continue
        contents.append(file_json(child, with_md5(store, obj), base, dialect))
    contents.sort(key=lambda m: (not m["isDirectory"], m["name"]))
    return contents


def listing_page(
    store: S3Store, path: DMPath, base: str, dialect: str, token: str | None, page_size: int
) -> dict[str, Any] | None:
    """Extension: one page of a directory's direct children (``nextPageToken`` when more follow).

    ``None`` when ``path`` is not a directory (only decidable on the first page, ``token is None``).
    """
    page = store.list_page(path.dir_key, delimiter="/", token=token, max_keys=page_size)
    if token is None and not page.objects and not page.prefixes and not path.is_home:
        return None
    contents = _contents(store, path, page.objects, page.prefixes, base, dialect)
    return {
        "directory": dir_json(path, base, dialect),
        "contents": contents,
        "nextPageToken": page.next_token,
    }


def recursive_page(
    store: S3Store, path: DMPath, base: str, dialect: str, token: str | None, page_size: int
) -> dict[str, Any] | None:
    """Extension: one page of every entry below a directory (``nextPageToken`` when more follow)."""
    page = store.list_page(path.dir_key, delimiter=None, token=token, max_keys=page_size)
    if not page.objects and token is None and not path.is_home and stat(store, path) is None:
        return None
    contents: list[dict[str, Any]] = []
    for obj in page.objects:
        if obj.key == path.dir_key:
            continue
        try:
            child = DMPath.from_key(obj.key)
        except PathError:
            continue
        if obj.key.endswith("/"):
            contents.append(dir_json(child, base, dialect, obj.last_modified))
        else:
            contents.append(file_json(child, with_md5(store, obj), base, dialect))
    return {
        "directory": dir_json(path, base, dialect),
        "contents": contents,
        "nextPageToken": page.next_token,
    }


def mkdir(store: S3Store, path: DMPath, base: str, dialect: str) -> tuple[int, dict[str, Any]]:
    """Create a directory; idempotent on an existing one (200), 201 when created."""
    if path.is_home:
        if store.head(path.dir_key) is None:
            store.put_bytes(path.dir_key, b"", content_type=DIR_CONTENT_TYPE)
        return 200, dir_json(path, base, dialect)
    if store.head(path.key) is not None:
        raise APIError(409, f"a file named {path.display(dialect)} exists already")
    page = store.list_page(path.dir_key, delimiter=None, max_keys=1)  # not a file: a folder already?
    if page.objects:
        first = page.objects[0]
        return 200, dir_json(path, base, dialect, first.last_modified if first.key == path.dir_key else None)
    require_parent(store, path)
    store.put_bytes(path.dir_key, b"", content_type=DIR_CONTENT_TYPE)
    return 201, dir_json(path, base, dialect)


def delete(store: S3Store, path: DMPath, dialect: str) -> dict[str, Any]:
    """Delete a file or an empty directory (a non-empty one gets 409)."""
    if path.is_home:
        raise APIError(403, "your home folder cannot be deleted")
    if store.head(path.key) is not None:
        store.delete(path.key)
        return {"deleted": path.display(dialect), "isDirectory": False}
    page = store.list_page(path.dir_key, delimiter=None, max_keys=2)
    keys = [o.key for o in page.objects]
    if not keys:
        raise not_found(path.display(dialect))
    if any(k != path.dir_key for k in keys):
        raise APIError(409, f"directory {path.display(dialect)} is not empty: delete its contents first")
    store.delete(path.dir_key)
    return {"deleted": path.display(dialect), "isDirectory": True}


def _check_not_inside(src: DMPath, dst: DMPath) -> None:
    if dst.is_within(src):
        raise APIError(400, f"cannot copy or move {src.display()} into itself ({dst.display()})")


def copy(store: S3Store, src: DMPath, dst: DMPath) -> bool:
    """Server-side copy of a file or a whole directory; returns True when ``dst`` is a directory."""
    if dst.is_home:
        raise APIError(409, "the destination is your home folder, which exists already")
    st = stat(store, src)
    if st is None:
        raise not_found(f"copy source {src.display()}")
    require_parent(store, dst)
    if not st.is_dir:
        assert st.info is not None
        if stat(store, dst) is not None and store.head(dst.key) is None:
            raise APIError(409, f"the destination {dst.display()} is an existing directory")
        store.copy(src.key, dst.key, st.info.size)
        return False
    _check_not_inside(src, dst)
    if store.head(dst.key) is not None:
        raise APIError(409, f"the destination {dst.display()} is an existing file")
    objects, _ = store.list_all(src.dir_key, delimiter=None)
    pairs = [(o.key, dst.dir_key + o.key[len(src.dir_key) :], o.size) for o in objects]
    if store.head(dst.dir_key) is None:
        store.put_bytes(dst.dir_key, b"", content_type=DIR_CONTENT_TYPE)
    pairs = [p for p in pairs if p[0] != src.dir_key]

    def copy_one(pair: tuple[str, str, int]) -> None:
        if pair[0].endswith("/"):  # directory marker (SeaweedFS cannot CopyObject a "dir/" key)
            store.put_bytes(pair[1], b"", content_type=DIR_CONTENT_TYPE)
        else:
            store.copy(pair[0], pair[1], pair[2])

    with ThreadPoolExecutor(max_workers=COPY_WORKERS) as pool:
        list(pool.map(copy_one, pairs))
    return True
