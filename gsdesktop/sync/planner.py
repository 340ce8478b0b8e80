"""The sync planner: a pure function of three trees (base, local, remote) to a batch of actions.

Trees map relative ``/``-separated paths (no leading slash, the root itself excluded) to an
:class:`Entry`. The base is the last state known to be identical on both sides (the merge base).

Rules (two-way):
- a path equal on both sides is never a conflict (the base is just recorded);
- a change on one side only is applied to the other side;
- both changed and one side deleted: the edit wins (edit beats delete);
- both changed to different files: the local file is renamed to a conflicted copy, the remote version
  takes the original name;
- a file against a folder: the file is moved aside to a conflicted copy on its own side;
- a folder that still has (or gets) a surviving child is kept, even if deleted on one side.

One-way modes compute a separate target per side: upload-only never changes the local side,
download-only never changes the remote side; an unreconcilable remote (local) change is preserved by
moving it aside instead of overwriting it.

Actions of one batch are independent within a phase (the executor runs a phase in parallel); phases
run in :attr:`Phase` order. ``sync`` repeats scan+plan+execute until the plan is empty.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, IntEnum
from typing import NamedTuple

from gsdesktop.sync.events import ProblemKind
from gsdesktop.sync.model import SyncMode


class Entry(NamedTuple):
    """One node of a tree: a folder, or a file identified by its MD5 (a tuple: cheap to build)."""

    is_dir: bool
    md5: str | None = None
    size: int = 0

    def same(self, other: Entry | None) -> bool:
        if other is None or other.is_dir != self.is_dir:
            return False
        return self.is_dir or self.md5 == other.md5


DIR = Entry(True)
Tree = Mapping[str, Entry]


def same(a: Entry | None, b: Entry | None) -> bool:
    if a is None:
        return b is None
    return a.same(b)


class Op(Enum):
    UPLOAD = "upload"
    DOWNLOAD = "download"
    MKDIR_LOCAL = "mkdir_local"
    MKDIR_REMOTE = "mkdir_remote"
    DELETE_LOCAL = "delete_local"
    DELETE_REMOTE = "delete_remote"
    MOVE_LOCAL = "move_local"  # a remote rename mirrored locally (no transfer)
    MOVE_REMOTE = "move_remote"  # a local rename mirrored remotely (no transfer)
    CONFLICT = "conflict"  # local renamed to ``dest``, remote downloaded to ``path``
    ASIDE_LOCAL = "aside_local"  # local item renamed to ``dest`` (type conflict)
    ASIDE_REMOTE = "aside_remote"  # remote item moved to ``dest`` (type conflict / one-way)
    RECORD = "record"  # both sides already agree; only the base changes


class Phase(IntEnum):
    ASIDE = 0
    PRE_DELETE = 1  # removal of an item whose path becomes the other type
    MKDIR = 2  # parents first
    MOVE = 3
    TRANSFER = 4
    DELETE = 5  # children first


@dataclass(frozen=True, slots=True)
class Action:
    """One step. ``entry`` is the content the step writes (or, for deletes, expects to remove).

    ``record``: on success the base gets ``path`` -> ``entry`` (``None`` entry = forget the path).
    """

    op: Op
    path: str
    entry: Entry | None = None
    dest: str | None = None
    record: bool = True
    phase: Phase = Phase.TRANSFER

    @property
    def depth(self) -> int:
        return self.path.count("/")


@dataclass(frozen=True, slots=True)
class PlanProblem:
    path: str
    kind: ProblemKind
    message: str


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    problems: list[PlanProblem] = field(default_factory=list)

    def by_phase(self) -> list[list[Action]]:
        """Actions grouped by phase; MKDIR sorted parents-first, DELETE children-first."""
        groups: list[list[Action]] = [[] for _ in Phase]
        for a in self.actions:
            groups[a.phase].append(a)
        groups[Phase.MKDIR].sort(key=lambda a: (a.depth, a.path))
        groups[Phase.PRE_DELETE].sort(key=lambda a: (-a.depth, a.path))
        groups[Phase.DELETE].sort(key=lambda a: (-a.depth, a.path))
        return groups

    def count(self, *ops: Op) -> int:
        return sum(1 for a in self.actions if a.op in ops)

    def deleted_files(self) -> tuple[int, int]:
        """Number of files (not folders) this plan deletes locally and remotely."""
        loc = sum(
            1 for a in self.actions if a.op is Op.DELETE_LOCAL and a.entry is not None and not a.entry.is_dir
        )
        rem = sum(
            1 for a in self.actions if a.op is Op.DELETE_REMOTE and a.entry is not None and not a.entry.is_dir
        )
        return loc, rem


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def ancestors(path: str) -> Iterable[str]:
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


CONFLICT_MARK = " (conflicted copy "


def conflict_name(path: str, host: str, when: datetime, taken: Callable[[str], bool]) -> str:
    """``dir/name (conflicted copy <host> <YYYY-MM-DD HHMMSS>).ext``, unique under ``taken``.

    The extension is everything after the first dot of the name (``reads.fastq.gz`` keeps
    ``.fastq.gz``); dot-files keep their whole name as the stem. The copy's name never exceeds
    :data:`MAX_NAME_BYTES` bytes: a long stem (then a long extension) is shortened to fit.
    """
    parent, _, name = path.rpartition("/")
    head = name[1:] if name.startswith(".") else name
    stem, dot, ext = head.partition(".")
    if name.startswith("."):
        stem = "." + stem
    host = _fit(host.replace("/", "_").replace(")", "_"), MAX_HOST_BYTES) or "host"
    stamp = when.strftime("%Y-%m-%d %H%M%S")
    n = 1
    while True:
        suffix = "" if n == 1 else f" {n}"
        mark = f"{CONFLICT_MARK}{host} {stamp}{suffix})"
        # the copy's name must fit the file system's limit (bytes): shorten the stem, then the extension
        room = MAX_NAME_BYTES - len(mark.encode())
        short_ext = _fit(dot + ext, room - min(len(stem.encode()), MIN_STEM_BYTES))
        candidate = f"{_fit(stem, room - len(short_ext.encode()))}{mark}{short_ext}"
        full = f"{parent}/{candidate}" if parent else candidate
        if not taken(full):
            return full
        n += 1


MAX_NAME_BYTES = 255  # the longest file name (UTF-8 bytes) of common local file systems and the server
MAX_HOST_BYTES = 64
MIN_STEM_BYTES = 16  # a long extension is shortened before the stem goes below this


def _fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: max(0, limit)].decode("utf-8", errors="ignore")


def fold_case(path: str) -> str:
    """Collision key on a case-insensitive, normalizing file system (macOS, Windows)."""
    return unicodedata.normalize("NFC", path).casefold()


def plan(
    base: Tree,
    local: Tree,
    remote: Tree,
    *,
    mode: SyncMode = SyncMode.TWO_WAY,
    host: str = "host",
    now: datetime | None = None,
    fold: Callable[[str], str] | None = None,
    restore: bool = False,
) -> Plan:
    """Compute one batch of actions that moves the three trees towards convergence.

    Args:
        base: the last synced state.
        local: the current local tree.
        remote: the current remote tree.
        mode: two-way or one of the one-way modes.
        host: host name used in conflicted-copy names.
        now: timestamp for conflicted-copy names (default: now).
        fold: collision key of the local file system (e.g. :func:`fold_case`); ``None`` when every
            distinct name can coexist locally.
        restore: the server was restored from a backup (its data fingerprint changed): remote changes
            are not trusted to be newer. Nothing local is deleted or overwritten: a local item the
            server lost is uploaded again, a server file that differs from the local one is moved aside
            on the server (a conflicted copy, which then syncs down as a new file) and the local file
            is uploaded under its name. In download-only mode the local file is moved aside instead.
    """
    when = now or datetime.now()
    result = Plan()
    # Settled paths (identical in all three trees) need nothing and constrain nothing: skip them.
    unsettled: set[str] = set()
    base_get, remote_get = base.get, remote.get
    for p, lo_e in local.items():
        b_e, re_e = base_get(p), remote_get(p)
        if lo_e == b_e == re_e:
            continue  # tuple equality in C: the common case of a large idle tree
        if b_e is None or re_e is None or not lo_e.same(b_e) or not lo_e.same(re_e):
            unsettled.add(p)
    unsettled.update(p for p in remote if p not in local)
    unsettled.update(p for p in base if p not in local)
    paths = sorted(unsettled)
    taken_extra: set[str] = set()

    def taken(p: str) -> bool:
        return p in local or p in remote or p in base or p in taken_extra

    def new_copy(p: str) -> str:
        c = conflict_name(p, host, when, taken)
        taken_extra.add(c)
        return c

    t_loc: dict[str, Entry | None] = {}
    t_rem: dict[str, Entry | None] = {}
    conflicts: dict[str, str] = {}  # path -> conflicted-copy path (file vs file, local renamed)
    asides: list[Action] = []

    for p in paths:
        b, lo, re = base.get(p), local.get(p), remote.get(p)
        if same(lo, re):
            t_loc[p] = t_rem[p] = lo
            continue
        lc, rc = not same(lo, b), not same(re, b)
        if restore and rc and lo is not None:
            if mode is SyncMode.DOWNLOAD_ONLY:
                if not lo.is_dir:  # the remote side wins here, but the local file is kept aside
                    asides.append(Action(Op.ASIDE_LOCAL, p, lo, new_copy(p), False, Phase.ASIDE))
                    continue
            elif re is None:  # the server lost it: upload again (also in upload-only mode)
                t_loc[p] = t_rem[p] = lo
                continue
            else:  # a different server version: keep it as a conflicted copy, upload the local one
                asides.append(Action(Op.ASIDE_REMOTE, p, re, new_copy(p), False, Phase.ASIDE))
                continue
        if mode is SyncMode.TWO_WAY:
            if not rc:
                t_loc[p] = t_rem[p] = lo
            elif not lc:
                t_loc[p] = t_rem[p] = re
            elif lo is None or re is None:
                t_loc[p] = t_rem[p] = lo if re is None else re  # edit beats delete
            elif lo.is_dir != re.is_dir:
                side = Op.ASIDE_REMOTE if lo.is_dir else Op.ASIDE_LOCAL
                asides.append(Action(side, p, re if lo.is_dir else lo, new_copy(p), False, Phase.ASIDE))
            else:  # two different files
                conflicts[p] = new_copy(p)
                t_loc[p] = t_rem[p] = re
        elif mode is SyncMode.UPLOAD_ONLY:
            t_loc[p] = lo
            if not lc:
                t_rem[p] = re  # a remote-only change is left alone
            elif lo is None:
                t_rem[p] = re if rc else None  # edit beats delete
            elif rc and re is not None and not (re.is_dir and lo.is_dir):
                asides.append(Action(Op.ASIDE_REMOTE, p, re, new_copy(p), False, Phase.ASIDE))
            else:
                t_rem[p] = lo
        else:  # DOWNLOAD_ONLY
            t_rem[p] = re
            if not rc:
                t_loc[p] = lo
            elif re is None:
                t_loc[p] = lo if lc else None
            elif lc and lo is not None and not (re.is_dir and lo.is_dir):
                asides.append(Action(Op.ASIDE_LOCAL, p, lo, new_copy(p), False, Phase.ASIDE))
            else:
                t_loc[p] = re

    # A surviving item needs its ancestors as folders on that side.
    for target in (t_loc, t_rem):
        for p in sorted((q for q, e in target.items() if e is not None), key=lambda q: -q.count("/")):
            for a in ancestors(p):
                if a not in target:
                    break  # settled: the same folder on both sides already
                ta = target[a]
                if ta is not None and ta.is_dir:
                    break
                if ta is not None:  # something must move out of the folder's way
                    lo_a, re_a = local.get(a), remote.get(a)
                    upload_only = mode is SyncMode.UPLOAD_ONLY
                    if upload_only or (restore and mode is SyncMode.TWO_WAY and re_a is not None):
                        moved = (Op.ASIDE_REMOTE, re_a)
                    elif mode is SyncMode.DOWNLOAD_ONLY or (lo_a is not None and not lo_a.is_dir):
                        moved = (Op.ASIDE_LOCAL, lo_a)
                    else:
                        moved = (Op.ASIDE_REMOTE, re_a)
                    if moved[1] is not None:
                        asides.append(Action(moved[0], a, moved[1], new_copy(a), False, Phase.ASIDE))
                target[a] = DIR

    if asides:
        # Moving items aside changes the trees under other decisions; plan the rest next round.
        seen: set[tuple[Op, str]] = set()
        moved_dirs = {(act.op, act.path) for act in asides}
        for act in asides:
            if any((act.op, a) in moved_dirs for a in ancestors(act.path)):
                continue  # moved along with its folder
            if (act.op, act.path) not in seen:
                seen.add((act.op, act.path))
                result.actions.append(act)
        return result

    _emit_side(result, base, local, remote, t_loc, t_rem, conflicts)
    _subtree_pre_deletes(result)
    _pair_moves(result, local, remote)
    _pair_folder_moves(result, base, local, remote)
    if fold is not None:
        _drop_collisions(result, local, fold)
    return result


def _emit_side(
    result: Plan,
    base: Tree,
    local: Tree,
    remote: Tree,
    t_loc: Mapping[str, Entry | None],
    t_rem: Mapping[str, Entry | None],
    conflicts: Mapping[str, str],
) -> None:
    acts = result.actions
    for p in sorted(set(t_loc) | set(t_rem)):
        tl, tr = t_loc.get(p, local.get(p)), t_rem.get(p, remote.get(p))
        lo, re, b = local.get(p), remote.get(p), base.get(p)
        agree = same(tl, tr)
        final = tl if agree else None
        if p in conflicts:
            acts.append(Action(Op.CONFLICT, p, re, conflicts[p], True, Phase.TRANSFER))
            continue
        loc_change = not same(lo, tl)
        rem_change = not same(re, tr)
        if not loc_change and not rem_change:
            if agree and not same(b, final):
                acts.append(Action(Op.RECORD, p, final, None, True, Phase.TRANSFER))
            continue
        # With a change on both sides of the same path (only possible with a pre-delete on each
        # side), the last action records.
        rec_loc = agree and not rem_change
        rec_rem = agree
        if loc_change:
            _side_actions(acts, p, lo, tl, rec_loc, local=True)
        if rem_change:
            _side_actions(acts, p, re, tr, rec_rem, local=False)


def _side_actions(
    acts: list[Action], p: str, cur: Entry | None, tgt: Entry | None, rec: bool, *, local: bool
) -> None:
    delete, mkdir, xfer = (
        (Op.DELETE_LOCAL, Op.MKDIR_LOCAL, Op.DOWNLOAD)
        if local
        else (Op.DELETE_REMOTE, Op.MKDIR_REMOTE, Op.UPLOAD)
    )
    if tgt is None:
        assert cur is not None
        acts.append(Action(delete, p, cur, None, rec, Phase.DELETE))
        return
    if cur is not None and cur.is_dir != tgt.is_dir:
        acts.append(Action(delete, p, cur, None, False, Phase.PRE_DELETE))
    if tgt.is_dir:
        acts.append(Action(mkdir, p, tgt, None, rec, Phase.MKDIR))
    else:
        acts.append(Action(xfer, p, tgt, None, rec, Phase.TRANSFER))


def _subtree_pre_deletes(result: Plan) -> None:
    """A folder removed to make room for a file takes its (deleted) contents with it, first."""
    pre = {
        (a.op, a.path) for a in result.actions if a.phase is Phase.PRE_DELETE and a.entry and a.entry.is_dir
    }
    if not pre:
        return
    out: list[Action] = []
    for a in result.actions:
        if a.phase is Phase.DELETE and any((a.op, anc) in pre for anc in ancestors(a.path)):
            a = Action(a.op, a.path, a.entry, a.dest, a.record, Phase.PRE_DELETE)
        out.append(a)
    result.actions = out


def _pair_moves(result: Plan, local: Tree, remote: Tree) -> None:
    """Turn (delete p, create q) pairs of identical files on one side into a rename p -> q.

    Locally ``q`` may exist (a file the other side replaced by renaming ``p`` over it, as editors and
    instruments save): the rename then replaces it, no download.
    """
    for delete_op, create_op, move_op, cur in (
        (Op.DELETE_REMOTE, Op.UPLOAD, Op.MOVE_REMOTE, remote),
        (Op.DELETE_LOCAL, Op.DOWNLOAD, Op.MOVE_LOCAL, local),
    ):
        deletes: dict[str, list[Action]] = {}
        for a in result.actions:
            if (
                a.op is delete_op
                and a.phase is Phase.DELETE
                and a.entry
                and not a.entry.is_dir
                and a.entry.md5
            ):
                deletes.setdefault(a.entry.md5, []).append(a)
        if not deletes:
            continue
        out: list[Action] = []
        used: set[str] = set()
        for a in result.actions:
            over = a.path in cur and move_op is Op.MOVE_LOCAL and not cur[a.path].is_dir
            if (
                a.op is create_op
                and (a.path not in cur or over)
                and a.entry
                and a.entry.md5 in deletes
                and a.record
            ):
                cands = deletes[a.entry.md5]
                src = next((d for d in cands if d.path not in used and d.record), None)
                if src is not None:
                    used.add(src.path)
                    out.append(Action(move_op, src.path, a.entry, a.path, True, Phase.MOVE))
                    continue
            out.append(a)
        result.actions = [
            a for a in out if not (a.op is delete_op and a.path in used and a.phase is Phase.DELETE)
        ]


def subtree(keys: list[str], tree: Tree, root: str) -> dict[str, Entry]:
    """The entries strictly below ``root``, keyed by their path relative to it (``keys``: sorted)."""
    lo = bisect.bisect_left(keys, root + "/")
    hi = bisect.bisect_left(keys, root + "0")  # "0" sorts right after "/"
    n = len(root) + 1
    return {k[n:]: tree[k] for k in keys[lo:hi]}


def _pair_folder_moves(result: Plan, base: Tree, local: Tree, remote: Tree) -> None:
    """A folder renamed on one side becomes one rename of the folder on the other side.

    A folder ``d`` that one side removed (the other side still has it exactly as synced) and a new
    folder ``n`` on that side whose whole contents equal ``d``'s synced contents: instead of a move,
    folder creation and folder removal per item, one move ``d`` -> ``n`` of the folder. Anything else
    (an edit inside, a partial copy) keeps the per-item plan.
    """
    for delete_op, mkdir_op, move_op, xfer_op, changed, other in (
        (Op.DELETE_REMOTE, Op.MKDIR_REMOTE, Op.MOVE_REMOTE, Op.UPLOAD, local, remote),
        (Op.DELETE_LOCAL, Op.MKDIR_LOCAL, Op.MOVE_LOCAL, Op.DOWNLOAD, remote, local),
    ):
        gone = {a.path for a in result.actions if a.op is delete_op and a.entry is not None and a.entry.is_dir
                and a.path in base and a.path not in changed}  # fmt: skip
        made = {
            a.path for a in result.actions if a.op is mkdir_op and a.path not in base and a.path not in other
        }
        if not gone or not made:
            continue
        b_keys, c_keys, o_keys = sorted(base), sorted(changed), sorted(other)
        by_content: dict[frozenset[tuple[str, Entry]], list[str]] = {}
        for d in sorted(gone, key=lambda p: (p.count("/"), p)):  # outermost first
            synced = subtree(b_keys, base, d)
            if synced and subtree(o_keys, other, d) == synced:
                by_content.setdefault(frozenset(synced.items()), []).append(d)
        if not by_content:
            continue
        pairs: dict[str, str] = {}
        for n in sorted(made, key=lambda p: (p.count("/"), p)):
            if any(q in pairs.values() for q in ancestors(n)):
                continue  # inside a folder already moved
            cands = by_content.get(frozenset(subtree(c_keys, changed, n).items()))
            while cands and any(q in pairs for q in ancestors(cands[0])):
                cands.pop(0)
            if cands:
                pairs[cands.pop(0)] = n
        if not pairs:
            continue
        roots = set(pairs) | set(pairs.values())
        family = (delete_op, mkdir_op, move_op, xfer_op)

        def inside(p: str | None, roots: set[str] = roots) -> bool:
            return p is not None and (p in roots or any(q in roots for q in ancestors(p)))

        kept = [a for a in result.actions if not (a.op in family and (inside(a.path) or inside(a.dest)))]
        kept += [Action(move_op, d, DIR, n, True, Phase.MOVE) for d, n in sorted(pairs.items())]
        result.actions = kept


def _drop_collisions(result: Plan, local: Tree, fold: Callable[[str], str]) -> None:
    """Never create a local name that collides with another (case/normalization); report it."""
    keys: dict[str, str] = {fold(p): p for p in local}
    dropped: list[str] = []
    out: list[Action] = []
    creates = (Op.DOWNLOAD, Op.MKDIR_LOCAL, Op.MOVE_LOCAL, Op.CONFLICT)
    for a in sorted(result.actions, key=lambda a: (a.phase, a.depth, a.path)):
        target = a.dest if a.op is Op.MOVE_LOCAL and a.dest else a.path
        if a.op in creates:
            if any(target == d or target.startswith(d + "/") for d in dropped):
                continue
            k = fold(target)
            owner = keys.get(k)
            if owner is not None and owner != target and owner != a.path:
                dropped.append(target)
                result.problems.append(
                    PlanProblem(
                        target,
                        ProblemKind.NAME_COLLISION,
                        f"not created locally: its name collides with '{owner}' on this file system",
                    )
                )
                continue
            keys[k] = target
        out.append(a)
    result.actions = out
