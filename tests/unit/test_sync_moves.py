"""Planner: a renamed folder is one move; a rename over a file is a local rename (issue 16 items 11, 12)."""

from __future__ import annotations

from gsdesktop.sync.planner import DIR, Entry, Op, plan


def f(md5: str) -> Entry:
    return Entry(False, md5, 1)


SYNCED = {"p": DIR, "p/s": DIR, "p/s/a": f("a"), "p/b": f("b"), "q": DIR, "q/c": f("c")}


def renamed(tree: dict[str, Entry], old: str, new: str) -> dict[str, Entry]:
    return {(new + k[len(old) :] if k == old or k.startswith(old + "/") else k): v for k, v in tree.items()}


def test_a_folder_renamed_locally_is_one_server_move() -> None:
    local = renamed(SYNCED, "p", "p2")
    acts = plan(SYNCED, local, SYNCED).actions
    assert [(a.op, a.path, a.dest) for a in acts] == [(Op.MOVE_REMOTE, "p", "p2")]


def test_a_folder_renamed_on_the_server_is_one_local_rename() -> None:
    remote = renamed(SYNCED, "p", "x/p")
    remote["x"] = DIR
    acts = plan(SYNCED, SYNCED, remote).actions
    assert sorted((a.op.value, a.path, a.dest) for a in acts) == [
        ("mkdir_local", "x", None),
        ("move_local", "p", "x/p"),
    ]


def test_a_renamed_folder_with_an_edit_inside_or_a_remote_change_moves_file_by_file() -> None:
    local = renamed(SYNCED, "p", "p2")
    local["p2/b"] = f("b2")
    acts = plan(SYNCED, local, SYNCED).actions
    assert Op.UPLOAD in {a.op for a in acts} and (Op.MOVE_REMOTE, "p") not in {(a.op, a.path) for a in acts}
    remote = dict(SYNCED)
    remote["p/new"] = f("n")  # someone added a file to the old folder meanwhile
    acts = plan(SYNCED, renamed(SYNCED, "p", "p2"), remote).actions
    assert not [a for a in acts if a.op is Op.MOVE_REMOTE and a.path == "p"]


def test_a_rename_over_a_file_on_the_server_is_a_local_rename_over_it() -> None:
    base = {"t": f("old"), "t.new": f("new")}
    remote = {"t": f("new")}
    acts = plan(base, dict(base), remote).actions
    assert [(a.op, a.path, a.dest) for a in acts] == [(Op.MOVE_LOCAL, "t.new", "t")]
