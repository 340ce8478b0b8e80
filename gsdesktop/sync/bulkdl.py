"""First downloads of many small files: URLs signed in bulk, lean GETs, one file-system flush per batch.

The remote listing already gave every file's size and MD5, so a small new file needs no metadata
request and no redirect: :class:`BulkDownloads` asks the Data Manager for signed storage URLs in
bulk (:data:`FIRST_CHUNK` before the phase's downloads start, the rest on a helper thread alongside
them, in chunks growing to :data:`SIGN_CHUNK`), and :meth:`BulkDownloads.fetch` gets the bytes over a
kept-alive socket (:class:`~gsdesktop.datamanager.leanget.LeanGet`), checks them against the listing's MD5
and links them into place (never over a file that appeared meanwhile). The executor flushes the file system
(:func:`sync_filesystem`) before it records a batch of them in the base. Anything unusual returns
``None``: the full download path.
"""

from __future__ import annotations

import ctypes
import hashlib
import itertools
import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

import requests

from gsdesktop.datamanager.errors import GSError
from gsdesktop.datamanager.leanget import LeanGet
from gsdesktop.sync.planner import Action, Op
from gsdesktop.sync.remote import RemoteStore
from gsdesktop.sync.swap import place_new

log = logging.getLogger(__name__)

SMALL_DOWNLOAD = 1 << 20  # new files up to this size download through signed URLs fetched in bulk
FIRST_CHUNK = 64  # URLs signed before the downloads start (few: the first GETs start early) ...
SIGN_CHUNK = 1000  # ... then chunks 4x larger up to this many (the server's batch limit)
_syncfs: list[Callable[[int], int] | None] = []  # libc's syncfs, looked up once (empty: not yet)


def sync_filesystem(root: Path) -> bool:
    """Flush everything written to ``root``'s file system (one ``syncfs``, else ``sync``); False when
    neither exists (then each file must be fsynced on its own)."""
    if not _syncfs:
        fn = None
        try:
            fn = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
        except (OSError, AttributeError, TypeError):
            fn = None
        _syncfs.append(fn)
    fn = _syncfs[0]
    if fn is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            if fn(fd) == 0:
                return True
        finally:
            os.close(fd)
    sync = getattr(os, "sync", None)
    if sync is None:
        return False
    sync()
    return True


class BulkDownloads:
    """Signed URLs of one executor run's small new files, and their lean download."""

    def __init__(self, client: RemoteStore, rpath: Callable[[str], str], cache: Path) -> None:
        self.client = client
        self.rpath = rpath
        self.cache = cache
        self.batched = hasattr(os, "sync")  # else each file is fsynced on its own
        self._lock = threading.Lock()
        self._urls: dict[str, str] = {}
        self._ready: dict[str, threading.Event] = {}  # set once the path's URL chunk is signed
        self._lean = LeanGet(requests.Session(), client.timeout)
        # temp names: one random part per run, then a counter (no urandom call, no mkdir per file)
        self._tmp_prefix = f"dl-{secrets.token_hex(6)}-"
        self._tmp_numbers = itertools.count()
        self._cache_made = False

    def clear(self) -> None:
        with self._lock:
            self._urls, self._ready = {}, {}
        self._lean.close()

    def prefetch(self, group: list[Action], known_locally: Callable[[str], bool]) -> None:
        """Start signing the URLs of ``group``'s small downloads of files new here (when it can)."""
        rels = [
            a.path for a in group
            if a.op is Op.DOWNLOAD and a.entry is not None and a.entry.md5 and a.entry.size <= SMALL_DOWNLOAD
            and not known_locally(a.path)
        ]  # fmt: skip
        if len(rels) < 2:
            return
        chunks: list[list[str]] = []
        start, size = 0, FIRST_CHUNK
        while start < len(rels):
            chunks.append(rels[start : start + size])
            start, size = start + size, min(size * 4, SIGN_CHUNK)
        ready = [threading.Event() for _ in chunks]
        with self._lock:
            for chunk, ev in zip(chunks, ready, strict=True):
                for r in chunk:
                    self._ready[r] = ev

        def sign(k: int) -> bool:
            try:
                urls = self.client.sign_downloads([self.rpath(r) for r in chunks[k]])
            except GSError as exc:
                log.info("bulk download URLs unavailable (%s); downloading one by one", exc)
                urls = {}
            with self._lock:
                for r in chunks[k]:
                    url = urls.get(self.rpath(r))
                    if url is not None:
                        self._urls[r] = url
            ready[k].set()
            return bool(urls)

        def rest() -> None:
            try:
                for k in range(1, len(chunks)):
                    if not sign(k):
                        break
            finally:
                for ev in ready:
                    ev.set()  # whatever was not signed downloads one by one

        if sign(0) and len(chunks) > 1:
            threading.Thread(target=rest, name="gs-sign", daemon=True).start()
        else:
            for ev in ready:
                ev.set()

    def take(self, a: Action) -> str | None:
        """The signed URL of ``a`` (waiting for its chunk to be signed), if it has one."""
        if a.op is not Op.DOWNLOAD:
            return None
        with self._lock:
            ready = self._ready.get(a.path)
        if ready is None:
            return None
        ready.wait(60.0)
        with self._lock:
            return self._urls.pop(a.path, None)

    def fetch(self, a: Action, url: str, target: Path) -> tuple[bytes, tuple[int, int, int]] | None:
        """Download ``a``'s file to ``target`` (which must not exist); its bytes and the identity
        ``(inode, size, mtime_ns)`` it was placed with (a save landing right after is not it), or
        ``None`` when the lean path does not apply (then take the full one). Raises
        ``FileExistsError`` when a file appeared at ``target`` meanwhile (it is kept)."""
        assert a.entry is not None
        if os.path.lexists(target):
            return None
        data = self._lean.get(url, a.entry.size)
        if data is None or hashlib.md5(data, usedforsecurity=False).hexdigest() != a.entry.md5:
            return None
        if not self._cache_made:
            self.cache.mkdir(exist_ok=True)
            self._cache_made = True
        tmp = self.cache / f"{self._tmp_prefix}{next(self._tmp_numbers)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileNotFoundError:  # the cache folder went away meanwhile
            self.cache.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if not self.batched:
                os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        try:
            place_new(tmp, target)  # never replaces: a file that appeared meanwhile stays
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:  # it became the target
                pass
        return data, (st.st_ino, st.st_size, st.st_mtime_ns)
