"""Two-way sync between a local folder and a Data Manager folder (plain Python, no Qt)."""

from gsdesktop.sync.engine import SyncEngine
from gsdesktop.sync.events import (
    ActionDone,
    ActionKind,
    ConflictDetected,
    CycleDone,
    Direction,
    FileProgress,
    ProblemChanged,
    ProblemKind,
    ServerRestored,
    StateChanged,
    SyncEvent,
    SyncProblem,
    SyncProgress,
    SyncState,
)
from gsdesktop.sync.model import SyncConfig, SyncMode, SyncReport

__all__ = [
    "ActionDone",
    "ActionKind",
    "ConflictDetected",
    "CycleDone",
    "Direction",
    "FileProgress",
    "ProblemChanged",
    "ProblemKind",
    "ServerRestored",
    "StateChanged",
    "SyncConfig",
    "SyncEngine",
    "SyncEvent",
    "SyncMode",
    "SyncProblem",
    "SyncProgress",
    "SyncReport",
    "SyncState",
]
