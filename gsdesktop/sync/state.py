"""Persistent state of one sync pair: SQLite in WAL mode, in the platform data directory.

Tables: ``base`` (the last synced tree: the merge base), ``hashes`` (local MD5 cache keyed by path and
validated by inode, size and mtime_ns), ``problems`` (per-file errors with their backoff), ``conflicts``,
``activity`` (recent actions) and ``meta`` (pair identity, marker id, last cycle).

Every method is thread-safe (one connection guarded by a lock). A corrupt database is moved aside and
recreated: the next cycle then re-derives the base from both sides (identical files are recorded, the
rest is treated as new on each side, which never deletes anything).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from gsdesktop.sync.events import ActionDone, ActionKind, ConflictDetected, ProblemKind, SyncProblem
from gsdesktop.sync.planner import DIR, Entry

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS base (
    path TEXT PRIMARY KEY, is_dir INTEGER NOT NULL, md5 TEXT, size INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hashes (
    path TEXT PRIMARY KEY, inode INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    md5 TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS problems (
    path TEXT PRIMARY KEY, kind TEXT NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL,
    retry_at REAL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, copy TEXT NOT NULL, time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, path TEXT NOT NULL, size INTEGER,
    time REAL NOT NULL
);
"""

ACTIVITY_KEEP = 2000
CONFLICTS_KEEP = 1000


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("gsdesktop", appauthor=False)) / "sync"


def pair_id(server_url: str, username: str, remote_root: str, local_root: Path) -> str:
    key = "\n".join((server_url.rstrip("/"), username, remote_root.rstrip("/"), str(local_root)))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class CachedHash(NamedTuple):
    inode: int
    size: int
    mtime_ns: int
    md5: str


def backoff_delay(attempts: int, base: float) -> float:
    """Exponential backoff: base, 5x, 25x ... capped at 24 h (Nextcloud's blacklist schedule)."""
    return float(min(base * (5 ** max(0, attempts - 1)), 24 * 3600.0))


class StateDB:
    """The SQLite state of one pair (see module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            log.warning("sync state %s is unreadable (%s); starting a fresh one", path, exc)
            self._move_aside()
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        conn.execute("SELECT count(*) FROM base").fetchone()
        return conn

    def _move_aside(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                p.replace(Path(f"{self.path}.corrupt-{stamp}{suffix}"))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def set_meta_json(self, key: str, value: object) -> None:
        self.set_meta(key, json.dumps(value))

    def get_meta_json(self, key: str) -> object:
        raw = self.get_meta(key)
        return None if raw is None else json.loads(raw)

    # -- base ---------------------------------------------------------------------------------
    def load_base(self) -> dict[str, Entry]:
        with self._lock:
            rows = self._conn.execute("SELECT path, is_dir, md5, size FROM base").fetchall()
        return {p: DIR if d else Entry(False, m, s) for p, d, m, s in rows}

    def base_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM base").fetchone()[0])

    def record(self, path: str, entry: Entry | None) -> None:
        """Set (or with ``None`` forget) one base entry; committed before returning."""
        with self._lock:
            if entry is None:
                self._conn.execute("DELETE FROM base WHERE path=?", (path,))
            else:
                self._conn.execute(
                    "INSERT OR REPLACE INTO base(path, is_dir, md5, size) VALUES (?, ?, ?, ?)",
                    (path, int(entry.is_dir), entry.md5, entry.size),
                )

    def record_many(self, items: Iterable[tuple[str, Entry | None]]) -> None:
        with self.transaction() as c:
            for path, entry in items:
                if entry is None:
                    c.execute("DELETE FROM base WHERE path=?", (path,))
                else:
                    c.execute(
                        "INSERT OR REPLACE INTO base(path, is_dir, md5, size) VALUES (?, ?, ?, ?)",
                        (path, int(entry.is_dir), entry.md5, entry.size),
                    )

    def clear_base(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM base")

    def forget_subtree(self, path: str) -> None:
        with self._lock:
            self._conn.execute(
                "DELETE FROM base WHERE path=? OR (path >= ? AND path < ?)", (path, path + "/", path + "0")
            )

    def move_subtree(self, old: str, new: str) -> None:
        """A folder was renamed: its base entries and cached hashes (itself and below) follow it."""
        n = len(old)
        with self.transaction() as c:
            for table in ("base", "hashes"):
                c.execute(
                    f"DELETE FROM {table} WHERE path=? OR (path >= ? AND path < ?)",
                    (new, new + "/", new + "0"),
                )
                c.execute(
                    f"UPDATE {table} SET path = ? || substr(path, ?) "
                    "WHERE path=? OR (path >= ? AND path < ?)",
                    (new, n + 1, old, old + "/", old + "0"),
                )

    # -- hash cache ---------------------------------------------------------------------------
    def load_hashes(self) -> dict[str, CachedHash]:
        with self._lock:
            rows = self._conn.execute("SELECT path, inode, size, mtime_ns, md5 FROM hashes").fetchall()
        return {row[0]: CachedHash._make(row[1:]) for row in rows}

    def put_hashes(self, items: Iterable[tuple[str, CachedHash]]) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO hashes(path, inode, size, mtime_ns, md5) VALUES (?, ?, ?, ?, ?)",
                [(p, h.inode, h.size, h.mtime_ns, h.md5) for p, h in items],
            )

    def drop_hashes(self, paths: Iterable[str]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM hashes WHERE path=?", [(p,) for p in paths])

    # -- problems -----------------------------------------------------------------------------
    def problems(self) -> list[SyncProblem]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT path, kind, message, attempts, retry_at FROM problems ORDER BY path"
            ).fetchall()
        return [SyncProblem(p, m, r, a, ProblemKind(k)) for p, k, m, a, r in rows]

    def add_problem(
        self, path: str, kind: ProblemKind, message: str, retry_base: float | None, now: float | None = None
    ) -> SyncProblem:
        """Record a failure; ``retry_base`` None = no automatic retry. Attempts accumulate."""
        now = time.time() if now is None else now
        with self._lock:
            row = self._conn.execute("SELECT attempts FROM problems WHERE path=?", (path,)).fetchone()
            attempts = (int(row[0]) if row else 0) + 1
            retry_at = None if retry_base is None else now + backoff_delay(attempts, retry_base)
            self._conn.execute(
                "INSERT OR REPLACE INTO problems(path, kind, message, attempts, retry_at, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (path, kind.value, message, attempts, retry_at, now),
            )
        return SyncProblem(path, message, retry_at, attempts, kind)

    def clear_problem(self, path: str) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM problems WHERE path=?", (path,))
            return cur.rowcount > 0

    def clear_problems(self, kinds: Iterable[ProblemKind] | None = None) -> None:
        with self._lock:
            if kinds is None:
                self._conn.execute("DELETE FROM problems")
            else:
                self._conn.executemany("DELETE FROM problems WHERE kind=?", [(k.value,) for k in kinds])

    def reset_backoff(self) -> None:
        """Make every failed file eligible for a retry now (``sync now``)."""
        with self._lock:
            self._conn.execute("UPDATE problems SET retry_at=0 WHERE retry_at IS NOT NULL")

    # -- conflicts / activity -----------------------------------------------------------------
    def add_conflict(self, event: ConflictDetected) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO conflicts(path, copy, time) VALUES (?, ?, ?)",
                (event.path, event.conflict_copy, event.time),
            )
            self._conn.execute(
                "DELETE FROM conflicts WHERE id <= (SELECT max(id) FROM conflicts) - ?", (CONFLICTS_KEEP,)
            )

    def conflicts(self) -> list[ConflictDetected]:
        with self._lock:
            rows = self._conn.execute("SELECT path, copy, time FROM conflicts ORDER BY id").fetchall()
        return [ConflictDetected(p, c, t) for p, c, t in rows]

    def remove_conflict(self, copy: str) -> None:
        """Stop listing the conflict whose conflicted copy is ``copy`` (it was settled)."""
        with self._lock:
            self._conn.execute("DELETE FROM conflicts WHERE copy=?", (copy,))

    def add_activity(self, events: Iterable[ActionDone]) -> None:
        rows = [(e.kind.value, e.path, e.size, e.time) for e in events]
        if not rows:
            return
        with self.transaction() as c:
            c.executemany("INSERT INTO activity(kind, path, size, time) VALUES (?, ?, ?, ?)", rows)
            c.execute("DELETE FROM activity WHERE id <= (SELECT max(id) FROM activity) - ?", (ACTIVITY_KEEP,))

    def activity(self, limit: int = 100) -> list[ActionDone]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, path, size, time FROM activity ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [ActionDone(ActionKind(k), p, s, t) for k, p, s, t in rows]
