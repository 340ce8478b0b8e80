"""Data Manager operations on the S3 store, shared by both API dialects.

Layout: a file is the object ``users/<u>/<path>``; a directory is the zero-byte marker
``users/<u>/<path>/`` (a prefix with objects below it but no marker also counts as a directory, so
objects written straight into the bucket show up). Every function here takes already-authorised
:class:`DMPath` values; authorisation happens in the routers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gsdesktop.server import clash
from gsdesktop.server.auth import APIError
from gsdesktop.server.common import brief_json, dir_json, file_json, not_found
from gsdesktop.server.paths import DMPath, PathError
from gsdesktop.server.storage import ListPage, ObjectInfo, S3Store, error_code, key_before, token_after

DIR_CONTENT_TYPE = "application/x-directory"
MAX_PUT_SIZE = 5 * 1024**3
COPY_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Stat:
    """What a path is: a file (with its object info) or a directory (with its marker, if any)."""

    is_dir: bool
    info: ObjectInfo | None


def file_info(store: S3Store, path: DMPath) -> ObjectInfo | None:
    """The file at ``path``, or ``None`` (absent, or a folder: a file that shares the folder's name is
    moved aside first, see :mod:`gsdesktop.server.clash`); one store call, two for a file."""
    if path.is_home:
        return None
    info = store.head(path.key)
    if info is not None and clash.is_clash(store, path):
        clash.settle(store, path, info)
        return None
    return info


def stat(store: S3Store, path: DMPath) -> Stat | None:
    """File, directory or ``None`` (absent); two or three store calls. The home folder always exists."""
    info = file_info(store, path)
    if info is not None:
        return Stat(False, info)
    page = store.list_page(path.dir_key, delimiter=None, max_keys=1)
    if page.objects:
        first = page.objects[0]
        return Stat(True, first if first.key == path.dir_key else None)
    return Stat(True, None) if path.is_home or empty_leftover(store, path) else None


def empty_leftover(store: S3Store, path: DMPath) -> bool:
    """True for a folder with nothing in it and no marker that the store still lists (SeaweedFS keeps
    such a folder's entry when its last object goes): an empty folder, which delete removes. One call;
    asked only where nothing else was found."""
    info = store.head(path.dir_key)
    return info is not None and info.size == 0 and (info.content_type or "").startswith(DIR_CONTENT_TYPE)


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
    if empty_leftover(store, parent):
        return
    raise not_found(f"parent directory {parent.display()} does not exist (create it first)")


def metadata(store: S3Store, path: DMPath, base: str, dialect: str) -> dict[str, Any]:
    st = stat(store, path)
    if st is None:
        raise not_found(path.display(dialect))
    if st.is_dir:
        return dir_json(path, base, dialect, st.info.last_modified if st.info else None)
    assert st.info is not None
    return file_json(path, st.info, base, dialect)


def _clashes(
    store: S3Store,
    root: DMPath,
    objects: list[ObjectInfo],
    prefixes: list[str],
    *,
    more: bool = False,
    look_further: bool = True,
) -> list[ObjectInfo]:
    """The listed files that share their name with a folder (see :mod:`gsdesktop.server.clash`).

    A folder is seen in the listing itself (a common prefix, a marker, or, in a recursive listing, the
    parent of any key). When ``more`` pages follow, a file whose folder may be listed on a later page is
    checked with one store call each (``look_further``): the page's last file (stores that list depth
    first put a folder's keys right after the file of that name) and the files whose key begins the
    page's last key (in plain key order ``x/...`` may follow ``x``, ``x.txt``...). That is a few files at
    most: the prefixes of one key.
    """
    floor = len(root.dir_key)
    folders = {p.rstrip("/") for p in prefixes}
    for o in objects:
        key = o.key.rstrip("/") if o.key.endswith("/") else o.key.rsplit("/", 1)[0]
        while len(key) >= floor and key not in folders:  # every folder between the key and the root
            folders.add(key)
            key = key.rsplit("/", 1)[0]
    files = [o for o in objects if not o.key.endswith("/")]
    found = [o for o in files if o.key in folders]
    if more and look_further and files:
        last = max([o.key for o in objects] + prefixes)
        unsure = [o for o in files if o.key not in folders and (o is files[-1] or last.startswith(o.key))]
        found += [o for o in unsure if store.any_under(o.key + "/")]
    return found


def _settle_all(store: S3Store, found: list[ObjectInfo]) -> set[str]:
    """Settle each clash a listing suggested, once confirmed; returns the keys of the confirmed ones.

    Confirmed means objects below ``key/``. SeaweedFS keeps listing a folder whose last object was
    deleted without a marker; beside a file of that name such an empty leftover is no folder: the file
    keeps the name and the listing leaves the leftover out (as metadata, which sees the file, does)."""
    confirmed: set[str] = set()
    for obj in found:
        try:
            path = DMPath.from_key(obj.key)
        except PathError:
            continue
        if clash.is_clash(store, path):
            confirmed.add(obj.key)
            clash.settle(store, path, obj)
    return confirmed


def listing(store: S3Store, path: DMPath, base: str, dialect: str) -> dict[str, Any] | None:
    """GSDirectoryListing of a directory, or ``None`` when ``path`` is not a directory."""
    objects, prefixes = store.list_all(path.dir_key, delimiter="/")
    found = _clashes(store, path, objects, prefixes)
    confirmed = _settle_all(store, found)
    ghosts = {o.key + "/" for o in found if o.key not in confirmed}
    if confirmed:  # a file and a folder shared a name: the file was moved aside, list it under its new name
        objects, prefixes = store.list_all(path.dir_key, delimiter="/")
        hidden = {o.key for o in _clashes(store, path, objects, prefixes)} & confirmed
        objects = [o for o in objects if o.key not in hidden]
    prefixes = [p for p in prefixes if p not in ghosts]
    marker = next((o for o in objects if o.key == path.dir_key), None)
    if not objects and not prefixes and not path.is_home and not empty_leftover(store, path):
        return None
    if not objects and not path.is_home and not store.any_under(path.dir_key) and store.head(path.key):
        return None  # only empty leftovers below (see _settle_all) and a file of this name: the file
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
    page = _settled_page(store, path, "/", token, page_size)
    if token is None and not page.objects and not page.prefixes and not path.is_home:
        return None
    contents = _contents(store, path, page.objects, page.prefixes, base, dialect)
    return {
        "directory": dir_json(path, base, dialect),
        "contents": contents,
        "nextPageToken": page.next_token,
    }


def _settled_page(
    store: S3Store, path: DMPath, delimiter: str | None, token: str | None, page_size: int
) -> ListPage:
    """One listing page in which no file shares its name with a folder (clashes are settled first)."""
    page = store.list_page(path.dir_key, delimiter=delimiter, token=token, max_keys=page_size)
    found = _clashes(store, path, page.objects, page.prefixes, more=page.next_token is not None)
    confirmed = _settle_all(store, found)
    ghosts = {o.key + "/" for o in found if o.key not in confirmed}
    hidden: set[str] = set()
    if confirmed:
        page = store.list_page(path.dir_key, delimiter=delimiter, token=token, max_keys=page_size)
        hidden = {o.key for o in _clashes(store, path, page.objects, page.prefixes, look_further=False)}
    objects = [o for o in page.objects if o.key not in hidden & confirmed]
    return ListPage(objects, [p for p in page.prefixes if p not in ghosts], page.next_token)


def recursive_page(
    store: S3Store,
    path: DMPath,
    base: str,
    dialect: str,
    token: str | None,
    page_size: int,
    *,
    brief: bool = False,
) -> dict[str, Any] | None:
    """Extension: one page of every entry below a directory (``nextPageToken`` when more follow); with
    ``brief``, entries in the brief form of :func:`~gsdesktop.server.common.brief_json`.

    A folder without its marker object (an upload signed before its folder was moved lands under the old
    name) is listed where its first file is, as the level listing lists it (a common prefix): in key order
    the keys below a folder are contiguous and its marker comes first, so a folder is new exactly when the
    key before is not below it. The page token is "after the page's last key", so that key is known on the
    next page and no folder is listed twice.
    """
    page = _settled_page(store, path, None, token, page_size)
    if not page.objects and token is None and not path.is_home and stat(store, path) is None:
        return None
    contents: list[dict[str, Any]] = []

    def folder(key: str, modified: datetime | None) -> None:
        try:
            child = DMPath.from_key(key)
        except PathError:
            return
        contents.append(
            brief_json(child, None, dialect, modified) if brief else dir_json(child, base, dialect, modified)
        )

    before = key_before(token) or ""
    for obj in page.objects:
        key, previous = obj.key, before
        before = key
        if key == path.dir_key or not key.startswith(path.dir_key):
            continue
        try:
            child = DMPath.from_key(key)
        except PathError:
            continue
        cut = key.find("/", len(path.dir_key))
        while 0 <= cut < len(key) - 1:  # the folders above this key, outermost first
            above = key[: cut + 1]
            if not previous.startswith(above):
                folder(above, None)
            cut = key.find("/", cut + 1)
        if key.endswith("/"):
            if not previous.startswith(key):
                folder(key, obj.last_modified)
        elif brief:
            contents.append(brief_json(child, with_md5(store, obj), dialect))
        else:
            contents.append(file_json(child, with_md5(store, obj), base, dialect))
    more = page.next_token
    if more is not None and page.objects:
        more = token_after(page.objects[-1].key)
    return {
        "directory": dir_json(path, base, dialect),
        "contents": contents,
        "nextPageToken": more,
    }


def mkdir(store: S3Store, path: DMPath, base: str, dialect: str) -> tuple[int, dict[str, Any]]:
    """Create a directory; idempotent on an existing one (200), 201 when created."""
    if path.is_home:
        if store.head(path.dir_key) is None:
            store.put_bytes(path.dir_key, b"", content_type=DIR_CONTENT_TYPE)
        return 200, dir_json(path, base, dialect)
    path.require_folder_name()
    if file_info(store, path) is not None:
        raise APIError(409, f"a file named {path.display(dialect)} exists already")
    page = store.list_page(path.dir_key, delimiter=None, max_keys=1)  # not a file: a folder already?
    if page.objects:
        first = page.objects[0]
        return 200, dir_json(path, base, dialect, first.last_modified if first.key == path.dir_key else None)
    require_parent(store, path)
    # If-None-Match: a plain marker PUT racing a file PUT of this name can replace the file in SeaweedFS
    try:
        if store.put_bytes(path.dir_key, b"", content_type=DIR_CONTENT_TYPE, if_none_match=True):
            return 201, dir_json(path, base, dialect)
    except ClientError as exc:
        if error_code(exc) != "ExistingObjectIsFile":  # SeaweedFS: a file of this name arrived first
            raise
    if file_info(store, path) is not None:  # a file of this name arrived meanwhile (a stale upload URL)
        raise APIError(409, f"a file named {path.display(dialect)} exists already")
    return 200, dir_json(path, base, dialect)  # the folder exists (made meanwhile, or a leftover entry)


def delete(store: S3Store, path: DMPath, dialect: str, *, if_match: str | None = None) -> dict[str, Any]:
    """Delete a file or an empty directory (a non-empty one gets 409).

    ``if_match`` (extension, a file's hex MD5): delete the file only while it is that version, so a sync
    client never deletes an upload it has not seen; 412 otherwise (checked and sent to the store as
    ``If-Match`` on the version's ETag), 404 when the file is gone.
    """
    if path.is_home:
        raise APIError(403, "your home folder cannot be deleted")
    info = file_info(store, path)
    if info is not None and if_match is not None:
        if info.md5 != if_match.lower() or not store.delete_if(path.key, info.etag):
            raise APIError(412, f"{path.display(dialect)} changed on the server since you last synced it")
        return {"deleted": path.display(dialect), "isDirectory": False}
    if info is not None:
        store.delete(path.key)
        return {"deleted": path.display(dialect), "isDirectory": False}
    if if_match is not None:
        raise not_found(path.display(dialect))
    page = store.list_page(path.dir_key, delimiter=None, max_keys=2)
    keys = [o.key for o in page.objects]
    if not keys and empty_leftover(store, path):
        keys = [path.dir_key]
    if not keys:
        raise not_found(path.display(dialect))
    if any(k != path.dir_key for k in keys):
        raise APIError(409, f"directory {path.display(dialect)} is not empty: delete its contents first")
    store.delete(path.dir_key)
    return {"deleted": path.display(dialect), "isDirectory": True}


def _check_not_inside(src: DMPath, dst: DMPath) -> None:
    if dst.is_within(src):
        raise APIError(400, f"cannot copy or move {src.display()} into itself ({dst.display()})")


def copy(store: S3Store, src: DMPath, dst: DMPath, *, merge: bool = False) -> bool:
    """Server-side copy of a file or a whole directory; returns True when ``dst`` is a directory.

    Everything that can refuse is checked before the first write. A file may replace an existing file
    (like an upload); a directory onto an existing directory is 409, as for move, unless ``merge``
    (then the source's files are added to it, replacing same-named files).
    """
    if dst.is_home:
        raise APIError(409, "the destination is your home folder, which exists already")
    st = stat(store, src)
    if st is None:
        raise not_found(f"copy source {src.display()}")
    if st.is_dir:
        dst.require_folder_name()
        _check_not_inside(src, dst)
    require_parent(store, dst)
    if not st.is_dir:
        assert st.info is not None
        existing = stat(store, dst)
        if existing is not None and existing.is_dir:
            raise APIError(409, f"the destination {dst.display()} is an existing directory")
        store.copy(src.key, dst.key, st.info.size)
        return False
    existing = stat(store, dst)
    if existing is not None and not existing.is_dir:
        raise APIError(409, f"the destination {dst.display()} is an existing file")
    if existing is not None and not merge:
        raise APIError(
            409,
            f"the destination {dst.display()} is an existing directory; copy to a new name, "
            "or ask to merge into it with ?merge=true (same-named files are then replaced)",
        )
    objects, _ = store.list_all(src.dir_key, delimiter=None)
    if existing is not None:  # a merge must not make one name both a file and a folder
        clashing = _merge_clash(
            [o.key[len(src.dir_key) :] for o in objects],
            [o.key[len(dst.dir_key) :] for o in store.list_all(dst.dir_key, delimiter=None)[0]],
        )
        if clashing is not None:
            raise APIError(
                409,
                f"cannot merge into {dst.display()}: {dst.display()}/{clashing} is a file in one folder "
                "and a folder in the other",
            )
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


def _folders_of(rels: list[str]) -> set[str]:
    """Every folder the relative keys name (markers ``a/`` and every parent of a key)."""
    out: set[str] = set()
    for rel in rels:
        key = rel.rstrip("/") if rel.endswith("/") else rel.rpartition("/")[0]
        while key and key not in out:
            out.add(key)
            key = key.rpartition("/")[0]
    return out


def _merge_clash(src_rels: list[str], dst_rels: list[str]) -> str | None:
    """A relative name that is a file on one side and a folder on the other, if any."""
    src_files = {r for r in src_rels if r and not r.endswith("/")}
    dst_files = {r for r in dst_rels if r and not r.endswith("/")}
    both = (src_files & _folders_of(dst_rels)) | (dst_files & _folders_of(src_rels))
    return min(both) if both else None
