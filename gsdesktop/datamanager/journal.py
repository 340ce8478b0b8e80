"""Persisted transfer journal: what a large upload or download already achieved, so it resumes.

One SQLite file (``transfers.sqlite`` in the platform state directory, e.g.
``~/.local/state/gsdesktop``) survives crashes, ``kill -9`` and reboots. Every write commits at once
(WAL mode), so the journal never claims more than reached the server: a part is recorded only after
storage answered 200 for it.

Uploads are keyed by (server, user, remote path). The local file's identity (size, mtime, ctime,
inode) and its MD5s are kept with the server's upload id; when the file changed, the caller aborts the
old upload and starts again rather than stitching two versions together.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    key TEXT PRIMARY KEY, local TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, md5 TEXT NOT NULL, part_size INTEGER NOT NULL,
    part_md5s TEXT NOT NULL, upload_id TEXT, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS upload_parts (
    key TEXT NOT NULL, part INTEGER NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (key, part));
CREATE TABLE IF NOT EXISTS downloads (
    key TEXT PRIMARY KEY, temp TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    chunk INTEGER NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS download_chunks (
    key TEXT NOT NULL, chunk INTEGER NOT NULL, PRIMARY KEY (key, chunk));
"""


def default_path() -> Path:
    """``transfers.sqlite`` in the user's state directory (``GSDESKTOP_STATE_DIR`` overrides)."""
    override = os.environ.get("GSDESKTOP_STATE_DIR")
    if override:
        return Path(override) / "transfers.sqlite"
    from platformdirs import user_state_dir

    return Path(user_state_dir("gsdesktop", appauthor=False)) / "transfers.sqlite"


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What tells us a local file is still the same version (without reading it)."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        st = os.stat(path)
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True, slots=True)
class UploadRecord:
    key: str
    local: str
    identity: FileIdentity
    md5: str
    part_size: int
    part_md5s: list[str]
    upload_id: str | None


@dataclass(frozen=True, slots=True)
class DownloadRecord:
    key: str
    temp: str
    size: int
    etag: str
    chunk: int


@dataclass(frozen=True, slots=True)
class Interrupted:
    """An upload or download the journal holds, i.e. one that stopped before it finished."""

    kind: str  # "upload" | "download"
    key: str
    local: str
    remote: str
    size: int
    done: int  # bytes already stored (upload) or on disk (download)
    updated: float  # when it was (re)started, seconds since the epoch
    upload_id: str | None = None  # uploads: the server's multipart upload, if one was started
    temp: str | None = None  # downloads: the partial file beside the target
    block: int = 0  # the unit journaled: part size (upload) or block size (download)


def upload_key(server_url: str, user: str, remote: str) -> str:
    return json.dumps([server_url.rstrip("/"), user, remote])


def _where(key: str, parts: int) -> list[str] | None:
    """A journal key's fields (server, user, remote[, local]); None for a key of another shape."""
    try:
        where = json.loads(key)
    except ValueError:
        return None
    ok = isinstance(where, list) and len(where) == parts and all(isinstance(x, str) for x in where)
    return [x.rstrip("/") if i == 0 else x for i, x in enumerate(where)] if ok else None


def _spans_done(size: int, unit: int, numbers: Iterable[int]) -> int:
    """Bytes held by the numbered units (0-based) of ``unit`` bytes of a ``size``-byte file."""
    return sum(max(0, min(unit, size - n * unit)) for n in numbers)


class TransferJournal:
    """Thread-safe access to the journal database."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- uploads ------------------------------------------------------------------------------------------
    def get_upload(self, key: str) -> UploadRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, local, size, mtime_ns, ctime_ns, inode, md5, part_size, part_md5s, upload_id "
                "FROM uploads WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return UploadRecord(
            key=row[0],
            local=row[1],
            identity=FileIdentity(row[2], row[3], row[4], row[5]),
            md5=row[6],
            part_size=row[7],
            part_md5s=list(json.loads(row[8])),
            upload_id=row[9],
        )

    def put_upload(self, rec: UploadRecord) -> None:
        """Insert or replace the record (its finished parts are forgotten)."""
        ident = rec.identity
        with self._tx() as db:
            db.execute("DELETE FROM upload_parts WHERE key = ?", (rec.key,))
            db.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.key,
                    rec.local,
                    ident.size,
                    ident.mtime_ns,
                    ident.ctime_ns,
                    ident.inode,
                    rec.md5,
                    rec.part_size,
                    json.dumps(rec.part_md5s),
                    rec.upload_id,
                    time.time(),
                ),
            )

    def set_upload_id(self, key: str, upload_id: str | None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM upload_parts WHERE key = ?", (key,))
            db.execute(
                "UPDATE uploads SET upload_id = ?, updated = ? WHERE key = ?", (upload_id, time.time(), key)
            )

    def part_done(self, key: str, part: int, etag: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO upload_parts VALUES (?, ?, ?)", (key, part, etag))

    def done_parts(self, key: str) -> dict[int, str]:
        with self._lock:
            rows = self._db.execute("SELECT part, etag FROM upload_parts WHERE key = ?", (key,)).fetchall()
        return {int(p): str(e) for p, e in rows}

    def drop_upload(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM upload_parts WHERE key = ?", (key,))
            db.execute("DELETE FROM uploads WHERE key = ?", (key,))

    def interrupted(self, server_url: str, user: str) -> list[Interrupted]:
        """Every unfinished transfer of ``user`` on ``server_url``, oldest first."""
        account = [server_url.rstrip("/"), user]
        out: list[Interrupted] = []
        with self._lock:
            ups = self._db.execute(
                "SELECT key, local, size, part_size, upload_id, updated FROM uploads"
            ).fetchall()
            downs = self._db.execute("SELECT key, temp, size, chunk, updated FROM downloads").fetchall()
        for key, local, size, part_size, upload_id, updated in ups:
            where = _where(key, 3)
            if where is not None and where[:2] == account:
                done = _spans_done(size, part_size, (n - 1 for n in self.done_parts(key)))
                out.append(
                    Interrupted(
                        "upload", key, local, where[2], size, done, updated, upload_id, None, part_size
                    )
                )
        for key, temp, size, chunk, updated in downs:
            where = _where(key, 4)
            if where is not None and where[:2] == account:
                done = _spans_done(size, chunk, self.done_chunks(key))
                out.append(
                    Interrupted("download", key, where[3], where[2], size, done, updated, None, temp, chunk)
                )
        return sorted(out, key=lambda t: t.updated)

    # -- downloads ----------------------------------------------------------------------------------------
    def get_download(self, key: str) -> DownloadRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, temp, size, etag, chunk FROM downloads WHERE key = ?", (key,)
            ).fetchone()
        return DownloadRecord(*row) if row else None

    def put_download(self, rec: DownloadRecord) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM download_chunks WHERE key = ?", (rec.key,))
            db.execute(
                "INSERT OR REPLACE INTO downloads VALUES (?, ?, ?, ?, ?, ?)",
                (rec.key, rec.temp, rec.size, rec.etag, rec.chunk, time.time()),
            )

    def chunk_done(self, key: str, chunk: int) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO download_chunks VALUES (?, ?)", (key, chunk))

    def done_chunks(self, key: str) -> set[int]:
        with self._lock:
            rows = self._db.execute("SELECT chunk FROM download_chunks WHERE key = ?", (key,)).fetchall()
        return {int(r[0]) for r in rows}

    def drop_download(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM download_chunks WHERE key = ?", (key,))
            db.execute("DELETE FROM downloads WHERE key = ?", (key,))


_shared: dict[Path, TransferJournal] = {}
_shared_lock = threading.Lock()


def shared_journal(path: Path | None = None) -> TransferJournal:
    """One journal object per database file in this process."""
    p = Path(path) if path is not None else default_path()
    with _shared_lock:
        j = _shared.get(p)
        if j is None:
            j = _shared[p] = TransferJournal(p)
        return j
