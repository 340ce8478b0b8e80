"""Typed sync events and state, shared by the engine, the CLI and the GUI.

Everything here is plain data (frozen dataclasses and Enums, no display strings as state) so a
subscriber on any thread can keep or forward events safely. Callbacks registered with
:meth:`gsdesktop.sync.engine.SyncEngine.subscribe` receive one :data:`SyncEvent` at a time, called from
engine threads; GUI code must marshal them to its own thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gsdesktop.sync.model import SyncReport


class SyncState(Enum):
    """Overall state of one sync pair."""

    IDLE = "idle"
    SCANNING = "scanning"
    SYNCING = "syncing"
    PAUSED = "paused"
    OFFLINE = "offline"
    ERROR = "error"


class ActionKind(Enum):
    """What the engine did to one path."""

    UPLOADED = "uploaded"
    DOWNLOADED = "downloaded"
    DELETED_LOCAL_TO_TRASH = "deleted_local_to_trash"
    DELETED_REMOTE = "deleted_remote"
    CONFLICT_COPY = "conflict_copy"  # path = the conflicted copy (also sent as ConflictDetected)
    MKDIR_LOCAL = "mkdir_local"
    MKDIR_REMOTE = "mkdir_remote"
    RMDIR_LOCAL = "rmdir_local"
    RMDIR_REMOTE = "rmdir_remote"
    MOVED_REMOTE = "moved_remote"
    MOVED_LOCAL = "moved_local"  # a rename made on the server, mirrored locally (path = new name)
    RECORDED = "recorded"  # identical on both sides; only the base was updated


class Direction(Enum):
    UP = "up"
    DOWN = "down"


class ProblemKind(Enum):
    """Why a path (or the whole pair, path ``""``) needs attention."""

    FILE_ERROR = "file_error"  # a transfer / local I/O failed; retried with backoff
    CHANGING = "changing"  # file still being written; retried later
    SYMLINK = "symlink"  # symlinks are not followed
    SPECIAL = "special"  # FIFOs, sockets, devices: not synced (told once, like symlinks)
    BAD_NAME = "bad_name"  # the server (or the client library) refuses this name: rename it to sync it
    NAME_COLLISION = "name_collision"  # names clash on a case-insensitive / normalizing FS
    IGNORED_REMOTE = "ignored_remote"  # a remote name that cannot exist locally
    MASS_DELETE = "mass_delete"  # deletions held back; call approve_deletions()
    ROOT_MISSING = "root_missing"  # local root missing/unmounted or marker gone
    WATCHER = "watcher"  # file watcher unavailable; periodic scans instead
    AUTH = "auth"  # credentials rejected
    OFFLINE = "offline"  # server unreachable; retried automatically
    FATAL = "fatal"  # unexpected engine error
    READ_ONLY = "read_only"  # a local change in a folder shared with you read-only: stays local, told once
    NO_ACCESS = "no_access"  # the shared folder is no longer shared with you (revoked, deleted): pair stops


@dataclass(frozen=True, slots=True)
class SyncProblem:
    """One current problem. ``path`` is relative to the sync root (``""`` for the pair)."""

    path: str
    message: str
    retry_at: float | None = None  # epoch seconds of the next automatic retry, None = none planned
    attempts: int = 0
    kind: ProblemKind = ProblemKind.FILE_ERROR


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: SyncState
    previous: SyncState
    reason: ProblemKind | None = None  # set for OFFLINE / ERROR / PAUSED-by-guard
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class FileProgress:
    path: str
    direction: Direction
    done: int
    total: int
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ActionDone:
    kind: ActionKind
    path: str
    size: int | None = None
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ConflictDetected:
    """Both sides changed ``path``; the local version was kept as ``conflict_copy``."""

    path: str
    conflict_copy: str
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ProblemChanged:
    """The full list of current problems (replaces the previous list)."""

    problems: tuple[SyncProblem, ...]
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class CycleDone:
    """A sync cycle finished; ``report`` is its :class:`gsdesktop.sync.model.SyncReport`."""

    report: SyncReport
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ServerRestored:
    """The server's data fingerprint changed: its store was restored from a backup (invariant I17).

    The cycle that follows runs in restore mode: no local file is deleted or overwritten by the
    server's (possibly older) data; local files are uploaded again and differing server versions are
    kept as conflicted copies. ``fingerprint`` is the new value.
    """

    fingerprint: str
    message: str = (
        "The server was restored from a backup; local files were kept and uploaded again "
        "(differing server versions are kept as conflicted copies)."
    )
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where the running cycle stands (published at most a few times a second while it transfers).

    Counts cover the files this cycle transfers or deletes; a file that fails drops out of both
    ``files_done`` and ``files_total``. ``current`` names the files being transferred right now,
    ``bytes_per_second`` is the recent transfer rate (0 while unknown).
    """

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    current: tuple[str, ...] = ()
    bytes_per_second: float = 0.0
    time: float = field(default_factory=time.time)

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds until the transfers finish (None while unknown)."""
        left = self.bytes_total - self.bytes_done
        if left <= 0:
            return 0.0 if self.files_done >= self.files_total else None
        return left / self.bytes_per_second if self.bytes_per_second > 0 else None

    def to_json(self) -> dict[str, int]:
        return {
            "files_done": self.files_done,
            "files_total": self.files_total,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
        }


SyncEvent = (
    StateChanged
    | FileProgress
    | ActionDone
    | ConflictDetected
    | ProblemChanged
    | CycleDone
    | ServerRestored
    | SyncProgress
)
