"""What one executed batch changed (:class:`Outcome`), and mirroring it in the engine's in-memory
(base, local, remote) trees (:func:`apply_outcome`), so the next round plans against what is now true
without scanning both sides again."""

from __future__ import annotations

from dataclasses import dataclass, field

from gsdesktop.sync.planner import Action, Entry, Op


@dataclass
class Outcome:
    """What one executed batch changed (applied to the in-memory trees by the engine)."""

    done: list[Action] = field(default_factory=list)
    actual: dict[str, Entry | None] = field(default_factory=dict)  # path -> entry actually written
    failed: set[str] = field(default_factory=set)
    # path -> (entry now on the server, recorded in the base) for steps that failed after storing it
    landed: dict[str, tuple[Entry, bool]] = field(default_factory=dict)
    # uploads refused because the server's version is not the one planned against: re-plan them on a
    # fresh listing (a local version that lost the race becomes a conflicted copy)
    stale: set[str] = field(default_factory=set)
    bytes_up: int = 0
    bytes_down: int = 0


Trees = tuple[dict[str, Entry], dict[str, Entry], dict[str, Entry]]


def _apply_action(trees: Trees, a: Action, actual: Entry | None) -> None:
    """Mirror one executed action in the in-memory (base, local, remote) trees."""
    b, lo, re_ = trees
    op, p = a.op, a.path
    if op is Op.UPLOAD or op is Op.MKDIR_REMOTE:
        if actual is not None:
            re_[p] = actual
    elif op is Op.DOWNLOAD or op is Op.MKDIR_LOCAL:
        if actual is not None:
            lo[p] = actual
    elif op is Op.CONFLICT:
        if a.dest and p in lo:
            lo[a.dest] = lo[p]
        if actual is not None:
            lo[p] = actual
            re_[p] = actual
    elif op is Op.DELETE_LOCAL:
        lo.pop(p, None)
    elif op is Op.DELETE_REMOTE:
        re_.pop(p, None)
    elif op in (Op.MOVE_LOCAL, Op.MOVE_REMOTE, Op.ASIDE_LOCAL, Op.ASIDE_REMOTE):
        tree = lo if op in (Op.MOVE_LOCAL, Op.ASIDE_LOCAL) else re_
        assert a.dest is not None
        for q in [q for q in tree if q == p or q.startswith(p + "/")]:
            tree[a.dest + q[len(p) :]] = tree.pop(q)
        if op in (Op.MOVE_LOCAL, Op.MOVE_REMOTE):
            b.pop(p, None)
            if a.entry is not None and a.entry.is_dir:  # a folder: its synced contents follow it
                for q in [q for q in b if q.startswith(p + "/")]:
                    b[a.dest + q[len(p) :]] = b.pop(q)
            if a.entry is not None:
                b[a.dest] = a.entry
        return
    if a.record and op is not Op.CONFLICT:
        if op in (Op.DELETE_LOCAL, Op.DELETE_REMOTE) or actual is None:
            b.pop(p, None)
        else:
            b[p] = actual
    elif op is Op.CONFLICT and actual is not None:
        b[p] = actual


def apply_outcome(trees: Trees, out: Outcome) -> None:
    """Mirror what one executed batch changed in the engine's in-memory (base, local, remote) trees."""
    for act in out.done:
        key = act.dest if act.op in (Op.MOVE_LOCAL, Op.MOVE_REMOTE) and act.dest else act.path
        _apply_action(trees, act, out.actual.get(key))
    for path, (entry, recorded) in out.landed.items():
        trees[2][path] = entry  # stored although the step failed: the snapshot must say so
        if recorded:
            trees[0][path] = entry
