"""What a cycle holds back instead of stopping: mass deletions awaiting confirmation.

More deletions than the guard allows (on one side) are taken out of the plan and wait for the user's
confirmation (:meth:`SyncEngine.approve_deletions`, the CLI's ``--allow-mass-delete``); everything else
of the plan is carried out. :class:`PendingDeletions` is what waits, so an app can ask once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gsdesktop.sync.planner import Op, Phase, Plan

MASS_DELETE_MIN_FILES = 10


@dataclass(frozen=True)
class PendingDeletions:
    """Deletions held back until confirmed. Paths are relative to the sync roots, sorted.

    ``local``: items sync would delete in the local folder (they were deleted on the server);
    ``remote``: items it would delete on the server (they were deleted locally).
    """

    local: list[str] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)
    message: str = ""

    def __bool__(self) -> bool:
        return bool(self.local or self.remote)

    def paths(self) -> set[str]:
        return {*self.local, *self.remote}


def hold_mass_deletions(
    todo: Plan, base_files: int, *, fraction: float, count: int, allowed: bool
) -> PendingDeletions:
    """Take the deletions of each side that trips the guard out of ``todo`` (in place); return them.

    A side trips the guard when it would delete more than ``count`` files, or more than ``fraction`` of
    the ``base_files`` synced files once there are at least :data:`MASS_DELETE_MIN_FILES`. Deletions
    that make room for an item of the other type (a pre-delete) are part of that change and stay.
    """
    if allowed:
        return PendingDeletions()
    held: dict[Op, list[str]] = {}
    lines = []
    for n, op, where in zip(todo.deleted_files(), (Op.DELETE_LOCAL, Op.DELETE_REMOTE),
                            ("locally", "on the server"), strict=True):  # fmt: skip
        if n > count or (base_files >= MASS_DELETE_MIN_FILES and n > fraction * base_files):
            held[op] = []
            lines.append(f"{n} of {base_files} files {where}")
    if not held:
        return PendingDeletions()
    keep = []
    for a in todo.actions:
        if a.op in held and a.phase is Phase.DELETE:
            held[a.op].append(a.path)
        else:
            keep.append(a)
    todo.actions = keep
    message = (
        f"This sync would delete {' and '.join(lines)}; these deletions are held back and everything "
        "else is synced. Approve them (or run the sync with --allow-mass-delete) if this is intended."
    )
    return PendingDeletions(
        sorted(held.get(Op.DELETE_LOCAL, [])), sorted(held.get(Op.DELETE_REMOTE, [])), message
    )


__all__ = ["MASS_DELETE_MIN_FILES", "PendingDeletions", "hold_mass_deletions"]
