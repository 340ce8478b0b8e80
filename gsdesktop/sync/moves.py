"""Folder moves that the server is still carrying out, seen from another machine.

S3 has no rename: the Data Manager moves a folder by copying it object by object and then deleting
the original, so a listing taken meanwhile shows the new folder half full next to the complete old
one. Acting on that would download the copies and later send the originals to the trash; the engine
waits instead (:class:`MoveWatch`).
"""

from __future__ import annotations

import logging
import time

from gsdesktop.sync.planner import Tree, subtree

log = logging.getLogger(__name__)

COPY_WAIT = 30.0  # seconds a remote folder that looks like a move under way is left alone


class MoveWatch:
    """Remembers since when each such folder was seen (one per engine)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def waiting(self, base: Tree, local: Tree, remote: Tree) -> set[str]:
        """The folders of :func:`moves_under_way` first seen less than :data:`COPY_WAIT` s ago."""
        now = time.monotonic()
        found = moves_under_way(base, local, remote)
        self._seen = {n: t for n, t in self._seen.items() if n in found}
        waiting = {n for n in found if now - self._seen.setdefault(n, now) < COPY_WAIT}
        for n in waiting:
            log.info("%s looks like a folder move still under way on the server: left for now", n)
        return waiting


def moves_under_way(base: Tree, local: Tree, remote: Tree) -> set[str]:
    """New remote folders (in neither the base nor the local tree, their parent synced) whose files
    are a strict subset of a synced folder's: the same names below it with the same MD5s."""
    new_dirs = [p for p, e in remote.items() if e.is_dir and p not in base and p not in local
                and ("/" not in p or p.rsplit("/", 1)[0] in base)]  # fmt: skip
    found: set[str] = set()
    if not new_dirs:
        return found
    by_md5: dict[str, list[str]] = {}
    for p, e in remote.items():
        if not e.is_dir and e.md5:
            by_md5.setdefault(e.md5, []).append(p)
    keys = sorted(remote)
    for n in new_dirs:
        files = {k: e.md5 for k, e in subtree(keys, remote, n).items() if not e.is_dir}
        if not files:
            continue
        rel, md5 = next(iter(files.items()))
        for q in by_md5.get(md5 or "", []):
            d = q[: -len(rel) - 1] if q.endswith("/" + rel) else None
            if not d or d == n or d not in base or not base[d].is_dir or d not in remote:
                continue
            theirs = {k: e.md5 for k, e in subtree(keys, remote, d).items() if not e.is_dir}
            if len(files) < len(theirs) and all(theirs.get(k) == v for k, v in files.items()):
                found.add(n)
                break
    return found
