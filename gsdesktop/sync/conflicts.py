"""Settling conflicted copies: keep the copy, keep the original, or keep both.

Sync never decides a conflict for the user: it keeps both versions, the second one as
``name (conflicted copy <host> <date>).ext`` beside the first. Settling one is a local file operation
that the next sync cycle carries to the server like any other edit, so it works the same whether or not
sync is running (the CLI and the app share this module):

- **keep the copy**: the conflicted copy takes the original's name (an atomic exchange of the two
  names where the system has one, else a rename over it: the name never goes missing in between, which
  a running sync could take for a deletion); the version it replaces goes to the OS trash first; a
  version saved (or synced) under the original's name after that comes out of the exchange and stays
  as the conflicted copy, still listed;
- **keep the original**: the conflicted copy goes to the OS trash;
- **keep both**: both files stay as they are; the conflict is no longer listed.

Only conflicts whose copy is still a file in the local folder are open; one the user already settled
by hand (deleted or renamed the copy) is no longer listed. Nothing is ever deleted outright.
"""

from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gsdesktop.sync.events import ConflictDetected
from gsdesktop.sync.localfs import scratch_name
from gsdesktop.sync.scanner import CACHE_DIR
from gsdesktop.sync.state import StateDB
from gsdesktop.sync.swap import exchange, rename_noreplace


class Keep(enum.Enum):
    COPY = "copy"
    ORIGINAL = "original"
    BOTH = "both"


class ResolveError(Exception):
    """The conflict cannot be settled as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class Conflict:
    path: str  # the original, relative to the sync folder ("/"-separated)
    copy: str  # the conflicted copy, relative to the sync folder
    time: float


def _local(root: Path, rel: str) -> Path:
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ResolveError(f"not a path inside the sync folder: {rel!r}")
    return root.joinpath(*parts)


def _is_file(p: Path) -> bool:
    try:
        return p.is_file() and not p.is_symlink()
    except OSError:
        return False


def open_conflicts(recorded: Iterable[ConflictDetected], root: Path) -> list[Conflict]:
    """Of the conflicts sync recorded (``StateDB.conflicts()``), those whose copy is still in the
    folder, oldest first, one per copy."""
    seen: dict[str, Conflict] = {}
    for event in recorded:
        try:
            exists = _is_file(_local(root, event.conflict_copy))
        except ResolveError:
            continue
        if exists:
            seen[event.conflict_copy] = Conflict(event.path, event.conflict_copy, event.time)
    return sorted(seen.values(), key=lambda c: c.time)


def select(conflicts: list[Conflict], name: str, root: Path) -> list[Conflict]:
    """The conflicts ``name`` stands for: a copy's or an original's path, relative to ``root`` or absolute.

    Raises:
        ResolveError: no open conflict has that name.
    """
    rel = name
    candidate = Path(name)
    if candidate.is_absolute():
        try:
            rel = candidate.relative_to(root).as_posix()
        except ValueError:
            raise ResolveError(f"{name} is not inside the sync folder {root}") from None
    rel = rel.replace(os.sep, "/").strip("/")
    hits = [c for c in conflicts if rel in (c.copy, c.path)]
    if not hits:
        raise ResolveError(f"no open conflict named {name!r} (gsdesktop conflicts lists them)")
    return hits


def _to_trash(p: Path, scratch: Path) -> tuple[int, int, int]:
    """Move ``p``'s current content to the OS trash without ever removing the name ``p`` itself:
    a hard link (or a copy) under ``scratch`` goes to the trash, ``p`` stays until it is replaced.
    Returns the identity ``(inode, size, mtime_ns)`` ``p`` had just before."""
    from send2trash import send2trash

    scratch.mkdir(exist_ok=True)
    st = os.stat(p, follow_symlinks=False)
    keep = scratch / scratch_name(f"replaced-{secrets.token_hex(6)}-", p.name)
    try:
        os.link(p, keep)
    except OSError:
        import shutil

        shutil.copy2(p, keep)
    send2trash(str(keep))
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _take_name(copy: Path, original: Path, trashed: tuple[int, int, int] | None) -> bool:
    """The copy takes the original's name (``trashed``: the identity of the version there that went
    to the trash; None: the name was free). True when a version saved there after that came out of
    the exchange: it stays at the copy's name."""
    if trashed is not None:
        try:
            swapped = exchange(copy, original)
        except FileNotFoundError:  # the original went away meanwhile: its name is free
            swapped = False
        else:
            if not swapped:  # no atomic exchange here
                os.replace(copy, original)
                return False
        if swapped:
            st = os.stat(copy, follow_symlinks=False)  # what was at the original's name
            if (st.st_ino, st.st_size, st.st_mtime_ns) != trashed:
                return True
            os.unlink(copy)  # the version already in the trash
            return False
    try:
        rename_noreplace(copy, original)
    except FileExistsError:
        raise ResolveError(f"{original.name} was just created; try again") from None
    return False


def resolve(db: StateDB, root: Path, conflict: Conflict, keep: Keep) -> str:
    """Settle one conflict; returns a one-line account of what was done.

    Raises:
        ResolveError: the copy is gone, or the original's name is taken by a folder.
        OSError: the file system refused (permissions, trash unavailable).
    """
    copy, original = _local(root, conflict.copy), _local(root, conflict.path)
    if not _is_file(copy):
        db.remove_conflict(conflict.copy)
        raise ResolveError(f"{conflict.copy} is no longer there; nothing to do")
    if keep is Keep.COPY:
        if original.is_symlink() or original.is_dir():
            kind = "a symbolic link" if original.is_symlink() else "a folder"
            raise ResolveError(f"{conflict.path} is {kind} now; rename {conflict.copy} by hand to keep it")
        trashed = _to_trash(original, root / CACHE_DIR) if _is_file(original) else None
        done = f"kept the conflicted copy as {conflict.path}"
        if trashed is not None:
            done += " (the version it replaced is in the trash)"
        if _take_name(copy, original, trashed):  # the conflict stays open, with the newer version
            return done + f"; a version of {conflict.path} saved meanwhile is now {conflict.copy}"
    elif keep is Keep.ORIGINAL:
        from send2trash import send2trash

        send2trash(str(copy))
        done = f"kept {conflict.path}; moved {conflict.copy} to the trash"
    else:
        done = f"kept both {conflict.path} and {conflict.copy}"
    db.remove_conflict(conflict.copy)
    return done
