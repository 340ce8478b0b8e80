"""Public facade of the sync engine: :class:`SyncEngine`, :class:`SyncConfig`, :class:`SyncReport`.

One engine instance keeps one local folder and one Data Manager folder identical. ``sync_once()`` runs
one full cycle (scan both sides, plan, execute) on the calling thread. ``start()`` runs watch mode on
background threads (file watcher + remote polling + periodic rescan) until ``stop()``. Progress and state
reach subscribers as typed events (:mod:`gsdesktop.sync.events`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from gsdesktop.sync.events import (
    ActionDone,
    ConflictDetected,
    StateChanged,
    SyncEvent,
    SyncProblem,
    SyncState,
)

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient


class SyncMode(Enum):
    TWO_WAY = "two-way"
    UPLOAD_ONLY = "upload-only"
    DOWNLOAD_ONLY = "download-only"


@dataclass(frozen=True)
class SyncConfig:
    """Settings of one sync pair. All paths are relative to the sync roots, ``/``-separated.

    Attributes:
        mode: two-way, upload-only (never changes the local side) or download-only (never changes the
            remote side).
        poll_interval: seconds between remote listings in watch mode.
        rescan_interval: seconds between full local rescans in watch mode (catches missed events).
        quiet_period: seconds a local path must be quiet before watch mode acts on it.
        excluded_remote_folders: selective sync; these remote folders (and their contents) are neither
            downloaded nor deleted, and local items there are not uploaded.
        max_upload_bps / max_download_bps: bandwidth limits in bytes per second (None = unlimited).
        mass_delete_fraction / mass_delete_count: deleting more than this fraction of the synced files,
            or more than this many, on either side stops the cycle until approved.
        allow_mass_delete: skip that guard (the CLI's ``--allow-mass-delete``).
        ignore_patterns: extra gitignore-style patterns (added to the defaults and ``.gsignore``).
        use_default_ignores: apply the built-in temp/OS-file patterns.
        transfers: parallel transfers.
        host_name: name used in conflicted-copy names (default: this machine's host name).
    """

    mode: SyncMode = SyncMode.TWO_WAY
    poll_interval: float = 15.0
    rescan_interval: float = 600.0
    quiet_period: float = 0.25
    excluded_remote_folders: tuple[str, ...] = ()
    max_upload_bps: int | None = None
    max_download_bps: int | None = None
    mass_delete_fraction: float = 0.5
    mass_delete_count: int = 1000
    allow_mass_delete: bool = False
    ignore_patterns: tuple[str, ...] = ()
    use_default_ignores: bool = True
    transfers: int = 8
    host_name: str | None = None


@dataclass
class SyncReport:
    """Outcome of one cycle. ``converged`` is True when nothing is left to do and no problem remains."""

    uploaded: int = 0
    downloaded: int = 0
    deleted_local: int = 0
    deleted_remote: int = 0
    conflicts: int = 0
    folders_created: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    planned: int = 0
    problems: list[SyncProblem] = field(default_factory=list)
    blocked: SyncProblem | None = None  # set when a safety guard stopped the cycle
    duration: float = 0.0

    @property
    def transfers(self) -> int:
        return self.uploaded + self.downloaded

    @property
    def converged(self) -> bool:
        return self.blocked is None and not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "uploaded": self.uploaded,
            "downloaded": self.downloaded,
            "deleted_local": self.deleted_local,
            "deleted_remote": self.deleted_remote,
            "conflicts": self.conflicts,
            "folders_created": self.folders_created,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "planned": self.planned,
            "converged": self.converged,
            "blocked": None if self.blocked is None else _problem_json(self.blocked),
            "problems": [_problem_json(p) for p in self.problems],
            "duration": round(self.duration, 3),
        }


def _problem_json(p: SyncProblem) -> dict[str, object]:
    return {
        "path": p.path,
        "message": p.message,
        "kind": p.kind.value,
        "attempts": p.attempts,
        "retry_at": p.retry_at,
    }


Subscriber = Callable[[SyncEvent], None]


class SyncEngine:
    """Keeps ``local_root`` and the Data Manager folder ``remote_root`` identical.

    Args:
        client: a logged-in (or able to log in) :class:`DataManagerClient`.
        local_root: the local folder (created if missing on first sync).
        remote_root: absolute Data Manager path, e.g. ``/users/alice/lab``.
        config: settings; defaults to :class:`SyncConfig()`.
        state_dir: where the SQLite state lives; default: the platform data dir (never inside the
            synced folder).
    """

    def __init__(
        self,
        client: DataManagerClient,
        local_root: Path | str,
        remote_root: str,
        config: SyncConfig | None = None,
        state_dir: Path | str | None = None,
    ) -> None:
        self.client = client
        self.local_root = Path(local_root).absolute()
        self.remote_root = "/" + remote_root.strip("/")
        self.config = config or SyncConfig()
        self._state_dir = Path(state_dir) if state_dir is not None else None
        self._subscribers: list[Subscriber] = []
        self._sub_lock = threading.Lock()
        self._state = SyncState.IDLE

    # -- subscription -------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register ``callback(event)``; returns a function that unsubscribes it. Thread-safe.

        Callbacks run on engine threads and must not block; exceptions they raise are logged and
        ignored.
        """
        with self._sub_lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._sub_lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    # -- control ------------------------------------------------------------------------------
    @property
    def state(self) -> SyncState:
        return self._state

    def sync_once(self) -> SyncReport:
        """Run one full cycle on the calling thread and return its report."""
        raise NotImplementedError

    def start(self) -> None:
        """Start watch mode on background threads (returns immediately)."""
        raise NotImplementedError

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watch mode; waits for running transfers to finish or be cancelled."""
        raise NotImplementedError

    def pause(self) -> None:
        """Pause (watch mode keeps collecting changes but transfers nothing)."""
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def sync_now(self) -> None:
        """Ask watch mode to run a full cycle as soon as possible (also retries failed files now)."""
        raise NotImplementedError

    def approve_deletions(self) -> None:
        """Let the next cycle carry out deletions held back by the mass-delete / root guard."""
        raise NotImplementedError

    def problems(self) -> list[SyncProblem]:
        raise NotImplementedError

    def conflicts(self) -> list[ConflictDetected]:
        raise NotImplementedError

    def recent_activity(self, limit: int = 100) -> list[ActionDone]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop and release the state database."""
        raise NotImplementedError

    def _set_state(self, state: SyncState) -> None:
        prev, self._state = self._state, state
        if prev is not state:
            self._emit(StateChanged(state, prev))

    def _emit(self, event: SyncEvent) -> None:
        for cb in self._subscribers:
            try:
                cb(event)
            except Exception:  # a subscriber bug must never stop the engine
                import logging

                logging.getLogger(__name__).exception("sync subscriber failed")
