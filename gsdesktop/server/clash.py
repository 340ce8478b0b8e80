"""Files and folders never share a name: settling the clash a stale upload leaves in the store.

Upload URLs (and ``uploadinfo`` credentials) are checked when they are made, not when they are used, so
an upload URL minted before a folder of the same name was made still writes the file: the store then
holds a file ``x`` beside a folder ``x/`` (SeaweedFS keeps both when the folder has contents; a PUT onto
an *empty* folder replaces that folder, which leaves one thing again). The same happens the other way
round (a URL for ``x/f`` minted while ``x`` was a folder, used after ``x`` became a file).

Rule: **the folder keeps the name.** The first call that looks at a clashing name (listing, paged or
recursive listing, metadata, download, HEAD, delete, mkdir, copy/move) moves the file aside to
``<stem> (file clashed with folder <etag8>)<ext>`` in the same folder, so nothing is lost and every
listing and metadata call shows one thing per name. The move is conditional, so replicas settling the
same clash at once, or a newer upload landing meanwhile, never lose a version: the copy is made only from
the version seen (``CopySourceIfMatch``) and only onto a free name (``If-None-Match: *``), and the file is
deleted only while it is still that version (``DeleteObject If-Match``). Names are derived from the
ETag, so two replicas settling one version make one copy.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from gsdesktop.server.paths import MAX_KEY_BYTES, MAX_NAME_BYTES, DMPath
from gsdesktop.server.storage import NOT_FOUND_CODES, PRECONDITION_CODES, ObjectInfo, S3Store, error_code

log = logging.getLogger(__name__)

TAG = "file clashed with folder"
_SINGLE_COPY_LIMIT = 5 * 1024**3


def clash_name(name: str, etag: str, *, full: bool = False) -> str:
    """The name a file that clashed with a folder is moved to: ``stem (file clashed with folder
    <etag8>).ext``, shortened by whole characters to fit :data:`MAX_NAME_BYTES`."""
    tag = "".join(c for c in etag.lower() if c in "0123456789abcdef")
    tag = tag if full else tag[:8]
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    suffix = f" ({TAG} {tag}){ext}"
    if len(suffix.encode("utf-8")) > MAX_NAME_BYTES // 2:  # an absurdly long "extension": part of the stem
        stem, suffix = name, f" ({TAG} {tag})"
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore") or "file"
    return stem + suffix


def is_clash(store: S3Store, path: DMPath) -> bool:
    """True when a folder exists at ``path`` (anything below ``path/``); one store call."""
    return not path.is_home and store.any_under(path.dir_key)


def settle(store: S3Store, path: DMPath, info: ObjectInfo) -> None:
    """Move the file ``info`` (at ``path``, which is also a folder) aside; the folder keeps the name.

    Safe to run from several replicas at once and while uploads land: see the module docstring. Gives
    up quietly (the listings still show the folder only) when no free name is found.
    """
    parent = path.parent
    if parent is None:
        return
    for full in (False, True):
        target = parent.child(clash_name(path.name, info.etag, full=full))
        if len(target.key.encode("utf-8")) > MAX_KEY_BYTES:
            log.warning("cannot settle the clash at %s: the new name would be too long", path.key)
            return
        try:
            _copy_version(store, path.key, target.key, info)
        except ClientError as exc:
            if error_code(exc) not in PRECONDITION_CODES | NOT_FOUND_CODES:
                raise
            held = store.head(target.key)
            if held is None:
                now = store.head(path.key)
                if now is None or now.etag != info.etag:
                    return  # the file changed or went since it was seen: whoever looks next settles that
                continue  # the name is taken by a folder: try the longer name
            if held.etag != info.etag:
                continue  # the name is taken by another file: try the longer name
        break  # copied now, or by a racing replica: the same version under the same name
    else:
        log.warning("cannot settle the clash at %s: no free name for the file", path.key)
        return
    try:
        store.s3.delete_object(Bucket=store.bucket, Key=path.key, IfMatch=f'"{info.etag}"')
    except ClientError as exc:
        if error_code(exc) not in PRECONDITION_CODES | NOT_FOUND_CODES:
            raise
        return  # a newer version arrived (settled by the next look) or a racing replica deleted it
    # The folder's marker is not written again: in SeaweedFS a marker PUT racing a file PUT of the same
    # name can replace the file (both answer 200; seen in 2 of 60 tries), which would lose an upload.
    log.info("file %s clashed with a folder of that name: moved to %s", path.key, target.key)


def _copy_version(store: S3Store, src: str, dst: str, info: ObjectInfo) -> None:
    """Copy exactly the version ``info`` of ``src`` onto ``dst`` if ``dst`` is free (metadata kept)."""
    if info.size > _SINGLE_COPY_LIMIT:
        if store.head(dst) is not None:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "exists"}}, "CopyObject")
        meta = info if info.metadata is not None else (store.head(src) or info)
        extra: dict[str, Any] = {"CopySourceIfMatch": f'"{info.etag}"', "Metadata": meta.metadata or {}}
        if meta.content_type:
            extra["ContentType"] = meta.content_type
        # a multipart copy: its metadata (the md5-hash record) is given, not copied
        store.s3.copy({"Bucket": store.bucket, "Key": src}, store.bucket, dst, ExtraArgs=extra)
        return
    store.s3.copy_object(
        Bucket=store.bucket,
        Key=dst,
        CopySource={"Bucket": store.bucket, "Key": src},
        CopySourceIfMatch=f'"{info.etag}"',
        IfNoneMatch="*",
        MetadataDirective="COPY",
    )
