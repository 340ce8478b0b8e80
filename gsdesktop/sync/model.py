"""The sync pair's plain data: :class:`SyncMode`, :class:`SyncConfig` (settings of one pair) and
:class:`SyncReport` (the outcome of one cycle). Shared by the planner, the engine, the CLI and the GUI;
imports nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from gsdesktop.sync.events import ProblemKind, SyncProblem


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
        min_file_age / max_hold: the settle time: a new or changed local file is uploaded once unchanged
            this long, a file that keeps changing waits longer, up to ``max_hold`` (:mod:`.settle`).
        retry_base: first retry delay of a failed file (then x5 each time, at most 24 h).
        fold_names: whether the local file system folds case / Unicode (None = detect).
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
    min_file_age: float = 0.75
    max_hold: float = 60.0
    retry_base: float = 10.0
    fold_names: bool | None = None  # None = detect whether the local file system folds case


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
    server_restored: bool = False  # this cycle ran in restore mode (the server's data fingerprint changed)
    busy: list[str] = field(default_factory=list)  # local files still being written: left for later
    held_deletions: int = 0  # deletions held back for confirmation (see SyncEngine.pending_deletions)
    waiting: list[str] = field(default_factory=list)  # remote folders left alone: a server move half done

    def then(self, later: SyncReport) -> SyncReport:
        """This report followed by ``later`` (a further cycle): counts add up, the state is ``later``'s."""
        summed = {
            f: getattr(self, f) + getattr(later, f)
            for f in ("uploaded", "downloaded", "deleted_local", "deleted_remote", "conflicts",
                      "folders_created", "bytes_up", "bytes_down", "planned", "duration")
        }  # fmt: skip
        return replace(later, **summed)

    @property
    def transfers(self) -> int:
        return self.uploaded + self.downloaded

    @property
    def converged(self) -> bool:
        return (
            self.blocked is None
            and not self.busy
            and not self.held_deletions
            and not self.waiting
            and not [p for p in self.problems if p.kind not in _INFO_KINDS]
        )

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
            "busy": list(self.busy),
            "held_deletions": self.held_deletions,
            "waiting": list(self.waiting),
            "blocked": None if self.blocked is None else _problem_json(self.blocked),
            "problems": [_problem_json(p) for p in self.problems],
            "duration": round(self.duration, 3),
            "server_restored": self.server_restored,
        }


_INFO_KINDS = frozenset(
    {ProblemKind.SYMLINK, ProblemKind.SPECIAL, ProblemKind.WATCHER, ProblemKind.READ_ONLY}
)


def _problem_json(p: SyncProblem) -> dict[str, object]:
    return {
        "path": p.path,
        "message": p.message,
        "kind": p.kind.value,
        "attempts": p.attempts,
        "retry_at": p.retry_at,
    }
