"""Restore mode of the pure planner (I17: the server was restored from a backup).

After a backup restore the server's changes are not newer than the local ones: the planner must not
delete or overwrite any local file, must upload again what the server lost, and must keep differing
server versions as conflicted copies. Property tests reuse the model of ``test_sync_planner``.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsdesktop.sync.model import SyncMode
from gsdesktop.sync.planner import DIR, Entry, Op, Plan, plan
from tests.unit.test_sync_planner import (
    MAX_ROUNDS,
    NOW,
    Model,
    Tree,
    origin,
    parent_ok,
    run_batch,
    triples,
    versions,
)

X, Y, OLD = Entry(False, "x", 1), Entry(False, "y", 1), Entry(False, "old", 1)


def restore_plan(base: Tree, local: Tree, remote: Tree, mode: SyncMode = SyncMode.TWO_WAY) -> Plan:
    return plan(base, local, remote, mode=mode, host="lab-pc", now=NOW, restore=True)


def converge_restore(base: Tree, local: Tree, remote: Tree, mode: SyncMode, rnd: random.Random) -> Model:
    m = Model(base, local, remote)
    for _ in range(MAX_ROUNDS):
        p = restore_plan(m.b, m.l, m.r, mode)
        if not p.actions:
            return m
        run_batch(m, p.actions, rnd)
        for tree in (m.l, m.r):
            for q in tree:
                assert parent_ok(tree, q), ("orphan", q)
    raise AssertionError(f"no convergence after {MAX_ROUNDS} rounds")


def test_server_lost_files_are_uploaded_again_not_deleted_locally() -> None:
    base = {"d": DIR, "d/g": X, "f": X}
    normal = plan(base, dict(base), {}, host="lab-pc", now=NOW)
    assert normal.count(Op.DELETE_LOCAL) == 3  # control: an ordinary remote deletion
    p = restore_plan(base, dict(base), {})
    assert p.count(Op.DELETE_LOCAL, Op.DOWNLOAD, Op.CONFLICT, Op.ASIDE_LOCAL) == 0
    assert {(a.op, a.path) for a in p.actions} == {
        (Op.MKDIR_REMOTE, "d"), (Op.UPLOAD, "d/g"), (Op.UPLOAD, "f")
    }  # fmt: skip
    assert all(a.record for a in p.actions)


def test_older_server_version_is_kept_aside_and_local_file_uploaded() -> None:
    base = {"same": X, "edited": X}
    local = {"same": X, "edited": Y}  # 'edited' changed locally after the last sync
    remote = {"same": OLD, "edited": OLD}  # the backup has older versions of both
    normal = plan(base, local, remote, host="lab-pc", now=NOW)
    assert normal.count(Op.DOWNLOAD) == 1 and normal.count(Op.CONFLICT) == 1  # control
    m = Model(base, local, remote)
    p = restore_plan(m.b, m.l, m.r)
    assert {a.op for a in p.actions} == {Op.ASIDE_REMOTE}
    assert {a.path for a in p.actions} == {"same", "edited"}
    rnd = random.Random(1)
    run_batch(m, p.actions, rnd)
    p2 = restore_plan(m.b, m.l, m.r)
    assert {(a.op, a.path) for a in p2.actions if a.op is Op.UPLOAD} == {
        (Op.UPLOAD, "same"),
        (Op.UPLOAD, "edited"),
    }
    assert p2.count(Op.DOWNLOAD) == 2  # the two conflicted copies (new names) come down
    run_batch(m, p2.actions, rnd)
    assert not restore_plan(m.b, m.l, m.r).actions
    assert m.l == m.r and m.l["same"] == X and m.l["edited"] == Y and not m.trash
    copies = sorted(e.md5 or "" for p, e in m.l.items() if p not in ("same", "edited"))
    assert copies == ["old", "old"]


def test_type_change_on_server_moves_the_server_item_aside() -> None:
    base = {"f": X}
    remote = {"f": DIR, "f/inner": Y}
    p = restore_plan(base, {"f": X}, remote)
    assert [(a.op, a.path) for a in p.actions] == [(Op.ASIDE_REMOTE, "f")]


def test_unchanged_server_and_new_server_files_sync_normally() -> None:
    base = {"f": X}
    p = restore_plan(base, {"f": X, "mine": Y}, {"f": X, "theirs": OLD})
    assert {(a.op, a.path) for a in p.actions} == {(Op.UPLOAD, "mine"), (Op.DOWNLOAD, "theirs")}


def test_download_only_keeps_the_local_file_as_a_copy() -> None:
    base = {"f": X, "g": X}
    p = restore_plan(base, {"f": Y, "g": X}, {"f": OLD}, SyncMode.DOWNLOAD_ONLY)
    assert {(a.op, a.path) for a in p.actions} == {(Op.ASIDE_LOCAL, "f"), (Op.ASIDE_LOCAL, "g")}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    triples(), st.sampled_from([SyncMode.TWO_WAY, SyncMode.UPLOAD_ONLY]), st.randoms(use_true_random=False)
)
def test_restore_never_loses_or_overwrites_a_local_file(
    trees: tuple[Tree, Tree, Tree], mode: SyncMode, rnd: random.Random
) -> None:
    base, local, remote = trees
    m = converge_restore(base, local, remote, mode, rnd)
    assert not m.trash, "a local file was deleted or overwritten"
    for p, e in local.items():  # every local item stays where it was, with its content
        assert p in m.l and m.l[p].same(e), (p, e, m.l.get(p))
    if mode is SyncMode.TWO_WAY:
        assert m.l == m.r
        # every server version that differs from the base survives somewhere (as a copy if needed)
        changed = {(p, e.md5 or "") for p, e in remote.items() if not e.is_dir and not e.same(base.get(p))}
        assert changed <= versions(m.l)
    else:
        assert all(m.r.get(p, DIR).same(e) or e.is_dir for p, e in local.items() if not e.is_dir)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples(), st.randoms(use_true_random=False))
def test_download_only_restore_keeps_every_local_version(
    trees: tuple[Tree, Tree, Tree], rnd: random.Random
) -> None:
    base, local, remote = trees
    m = converge_restore(base, local, remote, SyncMode.DOWNLOAD_ONLY, rnd)
    assert m.r == remote  # download-only never changes the server
    assert not m.trash
    before = {(origin(p), e.md5 or "") for p, e in local.items() if not e.is_dir}
    assert before <= versions(m.l)
