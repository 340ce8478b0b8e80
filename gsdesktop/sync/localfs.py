"""Facts about the local folder's file system that the engine needs once: case folding, crash leftovers."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from gsdesktop.sync.scanner import CACHE_DIR

log = logging.getLogger(__name__)


def folds_names(local_root: Path, configured: bool | None) -> bool:
    """Whether the local file system folds case / Unicode (``configured`` wins when not None)."""
    if configured is not None:
        return configured
    probe_dir = local_root / CACHE_DIR  # ignored by sync, same file system as the folder
    try:
        if local_root.is_dir():
            probe_dir.mkdir(exist_ok=True)
        else:
            probe_dir = Path(tempfile.gettempdir())
        with tempfile.NamedTemporaryFile(prefix=".GsCaseProbe", dir=probe_dir) as fh:
            name = Path(fh.name)
            return (name.parent / name.name.lower()).exists() and name.name != name.name.lower()
    except OSError:
        return False


SCRATCH_NAME_BYTES = 200  # room for the trash's "<name>.trashinfo" and a " 2" of a name taken there


def scratch_name(prefix: str, name: str) -> str:
    """``<prefix><name>`` for a version kept in the cache on its way to the trash: ``name`` is shortened
    (in UTF-8 bytes, never inside a character) so the result fits :data:`SCRATCH_NAME_BYTES`."""
    room = max(0, SCRATCH_NAME_BYTES - len(prefix.encode()))
    return prefix + name.encode()[:room].decode("utf-8", errors="ignore")


SWAPPED_PREFIX = "swap-"  # a cache file that may hold a user's save (a download's exchange swapped it out)


def clean_cache(local_root: Path) -> None:
    """Remove partial downloads left by a crash (never at a synced path: they live in the cache); a file
    a download's exchange may have swapped out (:data:`SWAPPED_PREFIX`: the version it replaced, already
    in the trash, or a save made in that instant) goes to the OS trash instead, so a crash never costs it."""
    cache = local_root / CACHE_DIR
    if not cache.is_dir():
        return
    for entry in cache.iterdir():
        try:
            if entry.name.startswith(SWAPPED_PREFIX) and entry.is_file():
                from send2trash import send2trash

                log.warning("%s, left by a download cut short, goes to the trash (it may be a save)", entry)
                send2trash(str(entry))
            elif entry.is_file() or entry.is_symlink():
                entry.unlink()
        except OSError:
            log.debug("cannot remove %s", entry, exc_info=True)
