"""Scanning both sides into planner trees: local walk with a hash cache, remote recursive listing.

Local: ``os.scandir`` without following symlinks; MD5 comes from the cache when (inode, size,
mtime_ns) are unchanged, otherwise the file is hashed (stat read before hashing and re-checked after,
so a file written meanwhile is reported as busy, never hashed half-written). Files younger than
``min_age`` are busy too. Busy paths and symlinks are returned separately so the planner leaves them
alone this round.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat as statmod
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.sync.planner import DIR, Entry
from gsdesktop.sync.state import CachedHash

MARKER = ".gsdesktop-root"
CACHE_DIR = ".gsdesktop-cache"
IGNORE_FILE = ".gsignore"
_FLOAT = "^(?:.+/)?"  # how pathspec starts a pattern that matches at any depth

DEFAULT_IGNORES: tuple[str, ...] = (
    # our own files
    f"/{MARKER}",
    f"/{CACHE_DIR}/",
    f"/{IGNORE_FILE}",
    ".gsdownload-*.part",
    # editors, office suites, partial downloads, OS metadata
    ".~lock*",
    "~$*",
    "*.tmp",
    "*.temp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.swp",
    "*.swo",
    "*.swx",
    ".*.sw?",
    "*.kate-swp",
    ".goutputstream-*",
    "*.crswap",
    ".~*",
    "*~",
    ".#*",
    "#*#",
    ".DS_Store",
    "._*",
    "Thumbs.db",
    "desktop.ini",
    ".Spotlight-V100/",
    ".Trashes/",
    ".fseventsd/",
    ".TemporaryItems/",
    ".Trash-*/",
    ".nfs*",
)



@functools.lru_cache(maxsize=16)
def _compiled(
    lines: tuple[str, ...],
) -> tuple[pathspec.GitIgnoreSpec, bool, re.Pattern[str] | None, re.Pattern[str] | None]:
    """The patterns compiled once (every cycle builds an :class:`Ignore`; the lines rarely change)."""
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    # Fast path without negations: "ignored" = any pattern matches. Patterns that float to any
    # depth are matched against the entry's own name (its ancestors were checked on the way
    # down: the scan never enters an ignored folder); the others against the whole path.
    fast = False
    floating: list[str] = []
    rooted: list[str] = []
    for pt in spec.patterns:
        include, regex = getattr(pt, "include", None), getattr(pt, "regex", None)
        if include is None:
            continue  # a blank line or comment
        if not include or regex is None or not regex.pattern.startswith("^"):
            break  # a negation: keep pathspec's first-to-last semantics
        src = re.sub(r"\(\?P<[^>]+>", "(?:", regex.pattern)
        rest = src[len(_FLOAT) :] if src.startswith(_FLOAT) else None
        if rest is not None and "/" not in rest.replace("(?:/)", "").replace("[^/]", ""):
            floating.append("(?:" + rest + ")")
        else:
            rooted.append("(?:" + src[1:] + ")")
    else:
        fast = True
    name_rx = re.compile("|".join(floating)) if floating else None
    path_rx = re.compile("|".join(rooted)) if rooted else None
    return spec, fast, name_rx, path_rx


class Ignore:
    """Default patterns + configured patterns + the root's ``.gsignore`` (gitignore syntax)."""

    def __init__(self, root: Path, extra: tuple[str, ...] = (), defaults: bool = True) -> None:
        lines = [*(DEFAULT_IGNORES if defaults else (f"/{MARKER}", f"/{CACHE_DIR}/", f"/{IGNORE_FILE}"))]
        lines += list(extra)
        self.user_file = root / IGNORE_FILE
        try:
            lines += self.user_file.read_text(encoding="utf-8", errors="replace").splitlines()
            self.mtime_ns = self.user_file.stat().st_mtime_ns
        except OSError:
            self.mtime_ns = 0
        self._spec, self._fast, self._name_rx, self._path_rx = _compiled(tuple(lines))
        self._dir_memo: dict[str, bool] = {}

    def stale(self) -> bool:
        try:
            return self.user_file.stat().st_mtime_ns != self.mtime_ns
        except OSError:
            return self.mtime_ns != 0

    def match(self, rel: str, is_dir: bool) -> bool:
        """Whether the path ``rel`` is ignored, itself or through an ignored ancestor folder."""
        parent, _, name = rel.rpartition("/")
        if parent and self._dir_ignored(parent):
            return True
        return self.match_entry(rel, name, is_dir)

    def _dir_ignored(self, rel: str) -> bool:
        hit = self._dir_memo.get(rel)
        if hit is None:
            hit = self.match(rel, True)
            if len(self._dir_memo) < 100_000:
                self._dir_memo[rel] = hit
        return hit

    def match_entry(self, rel: str, name: str, is_dir: bool) -> bool:
        """Whether ``rel`` (whose last component is ``name``) is ignored."""
        if not self._fast:
            return bool(self._spec.match_file(rel + "/" if is_dir else rel))
        if self._name_rx is not None and self._name_rx.match(name + "/" if is_dir else name):
            return True
        return self._path_rx is not None and self._path_rx.match(rel + "/" if is_dir else rel) is not None


@dataclass(slots=True)
class LocalScan:
    tree: dict[str, Entry] = field(default_factory=dict)
    ids: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # path -> (inode, size, mtime_ns)
    busy: set[str] = field(default_factory=set)  # being written: leave alone this round
    symlinks: set[str] = field(default_factory=set)
    special: set[str] = field(default_factory=set)  # FIFOs, sockets, devices: not synced
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> error message (not busy)
    seen: dict[str, tuple[tuple[int, int, int], float]] = field(default_factory=dict)  # young files
    new_hashes: dict[str, CachedHash] = field(default_factory=dict)
    hashed_bytes: int = 0


def md5_of(path: Path | str, chunk: int = 1 << 20) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb", buffering=0) as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def scan_local(
    root: Path,
    ignore: Ignore,
    cache: dict[str, CachedHash],
    *,
    min_age: float = 0.0,
    excluded: Callable[[str], bool] | None = None,
    now: float | None = None,
    seen: dict[str, tuple[tuple[int, int, int], float]] | None = None,
    hold: Callable[[str, tuple[int, int, int]], bool] | None = None,
) -> LocalScan:
    """Walk ``root`` into a tree of :class:`Entry` (paths relative, ``/``-separated).

    ``hold(rel, (inode, size, mtime_ns))``: whether a file not in the hash cache must wait (it is then
    busy, not hashed; the engine's :class:`~gsdesktop.sync.settle.Settle`). Without it, a file is
    settled when it has been unchanged for ``min_age`` seconds: its mtime is that old, or (an mtime in
    the future, a skewed clock) earlier scans saw the same identity at least that long ago. ``seen`` is
    the previous scan's :attr:`LocalScan.seen` (identity and first sighting of each file that was not
    settled yet).
    """
    out = LocalScan()
    now = time.time() if now is None else now
    young_ns = int((now - min_age) * 1e9)
    mono = time.monotonic()
    seen = {} if seen is None else seen
    stack: list[tuple[str, str]] = [(str(root), "")]
    tree, ids, match, s_isreg = out.tree, out.ids, ignore.match_entry, statmod.S_ISREG
    while stack:
        abs_dir, rel_dir = stack.pop()
        try:
            it = os.scandir(abs_dir)
        except OSError as exc:
            if rel_dir:
                out.unreadable[rel_dir] = exc.strerror or str(exc)
            else:
                raise
            continue
        with it:
            for de in it:
                rel = f"{rel_dir}/{de.name}" if rel_dir else de.name
                try:
                    is_dir = de.is_dir(follow_symlinks=False)  # from d_type: no system call
                except OSError:
                    continue
                if match(rel, de.name, is_dir) or (excluded is not None and excluded(rel)):
                    continue
                if is_dir:
                    tree[rel] = DIR
                    stack.append((de.path, rel))
                    continue
                if de.is_symlink():
                    out.symlinks.add(rel)
                    continue
                try:
                    st = de.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished meanwhile
                if not s_isreg(st.st_mode):
                    out.special.add(rel)  # sockets, fifos, devices are not synced (and listed so)
                    continue
                ident = (st.st_ino, st.st_size, st.st_mtime_ns)
                ids[rel] = ident
                cached = cache.get(rel)
                if cached is not None and cached[:3] == ident:
                    tree[rel] = Entry(False, cached[3], st.st_size)
                    continue
                if hold is not None:
                    if hold(rel, ident):
                        out.busy.add(rel)
                        continue
                elif st.st_mtime_ns > young_ns:
                    first = seen.get(rel)
                    since = first[1] if first is not None and first[0] == ident else mono
                    if min_age > 0 and mono - since < min_age:
                        out.seen[rel] = (ident, since)
                        out.busy.add(rel)
                        continue
                try:
                    digest = md5_of(de.path)
                    st2 = os.stat(de.path, follow_symlinks=False)
                except OSError as exc:
                    out.unreadable[rel] = exc.strerror or str(exc)
                    continue
                if (st2.st_ino, st2.st_size, st2.st_mtime_ns) != ident:
                    out.busy.add(rel)  # changed while hashing
                    continue
                out.hashed_bytes += st.st_size
                out.new_hashes[rel] = CachedHash(st.st_ino, st.st_size, st.st_mtime_ns, digest)
                out.tree[rel] = Entry(False, digest, st.st_size)
    return out


def remote_tree(
    root: str,
    listing: list[GSFileMetadata],
    ignore: Ignore,
    excluded: Callable[[str], bool] | None = None,
    ambiguous: set[str] | None = None,
) -> tuple[dict[str, Entry], list[str]]:
    """Convert ``list_recursive`` results into a tree; returns (tree, names unusable locally).

    ``ambiguous`` collects names the listing gives both as a file and as a folder (a server that lost
    a race): the tree keeps the folder, but what is there is unknown until the server is repaired.
    """
    prefix = root.rstrip("/") + "/"
    tree: dict[str, Entry] = {}
    bad: list[str] = []
    for m in listing:
        path = m.path
        if not path.startswith(prefix):
            continue
        rel = path[len(prefix) :].strip("/")
        if not rel:
            continue
        is_dir = m.is_directory
        if any(part in ("", ".", "..") or "\x00" in part for part in rel.split("/")):
            bad.append(rel)
            continue
        if ignore.match(rel, is_dir) or (excluded is not None and excluded(rel)):
            continue
        seen = tree.get(rel)
        if seen is not None and seen.is_dir != is_dir:
            if ambiguous is not None:
                ambiguous.add(rel)
            is_dir = True
        if is_dir:
            tree[rel] = DIR
        else:
            size = m.size or 0
            # a server without MD5s: compare by size and time (never equal to a local hash)
            md5 = m.md5 or f"nomd5:{size}:{m.last_modified}"
            tree[rel] = Entry(False, md5, size)
    # A folder the listing leaves out but lists contents of exists (S3 prefixes): implied, unless its
    # name is ignored, excluded or unusable. Children of a file are dropped (a malformed listing); the
    # file's name is then ambiguous.
    skipped = set(bad)

    def implied(folder: str) -> bool:
        """Whether ``folder`` (not listed) can stand as a folder; adds it and its missing parents."""
        if folder in skipped:
            return False
        up = folder.rsplit("/", 1)[0] if "/" in folder else ""
        if up and ((up not in tree and not implied(up)) or not tree[up].is_dir):
            skipped.add(folder)
            return False
        if ignore.match(folder, True) or (excluded is not None and excluded(folder)):
            skipped.add(folder)
            return False
        tree[folder] = DIR
        return True

    for rel in sorted(tree, key=lambda r: r.count("/")):
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if not parent or (parent in tree and tree[parent].is_dir):
            continue
        if parent not in tree and implied(parent):
            continue
        if ambiguous is not None and parent in tree and not _under_any(parent, ambiguous):
            ambiguous.add(parent)  # listed as a file, and with contents
        del tree[rel]
    return tree, bad


def _under_any(rel: str, names: set[str]) -> bool:
    parts = rel.split("/")
    return any("/".join(parts[:i]) in names for i in range(1, len(parts)))
