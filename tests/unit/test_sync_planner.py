"""Property tests of the pure planner (the CanopyCheck idea).

Correlated random (base, local, remote) trees; plan; apply each action's intended outcome to an
in-memory model in a shuffled order (within a phase and depth, where the executor runs in parallel);
repeat until the plan is empty. Asserted: termination, convergence of all three trees, every action's
precondition at the time it runs, nothing lost, one-sided changes survive at their path, and an empty
plan once converged.
"""

from __future__ import annotations

import random
import re
from datetime import datetime
from itertools import product

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gsdesktop.sync.model import SyncMode
from gsdesktop.sync.planner import (
    CONFLICT_MARK,
    DIR,
    Action,
    Entry,
    Op,
    Phase,
    conflict_name,
    fold_case,
    plan,
    same,
)

NAMES = ("a", "b", "c")
PATHS = ["/".join(parts) for depth in (1, 2, 3) for parts in product(NAMES, repeat=depth)]
VALUES = (None, "D", "x", "y", "z")
NOW = datetime(2026, 11, 23, 12, 34, 56)
MAX_ROUNDS = 12

Tree = dict[str, Entry]


def entry(v: str | None) -> Entry | None:
    if v is None:
        return None
    return DIR if v == "D" else Entry(False, v, 1)


def normalize(raw: dict[str, Entry | None]) -> Tree:
    out: Tree = {}
    for p in sorted(raw, key=lambda q: q.count("/")):
        e = raw[p]
        if e is None:
            continue
        parent = p.rsplit("/", 1)[0] if "/" in p else ""
        if parent == "" or (parent in out and out[parent].is_dir):
            out[p] = e
    return out


def candidates(tree: dict[str, Entry | None]) -> list[str]:
    """Paths where a change is meaningful: existing items and free names inside existing folders."""
    out = [p for p in PATHS if p in tree and tree[p] is not None]
    out += [p for p in PATHS if p not in tree and parent_ok({k: v for k, v in tree.items() if v}, p)]
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Tree) -> Tree:
    tree: dict[str, Entry | None] = dict(base)
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(("edit", "edit", "delete", "create", "move")))
        cands = candidates(tree)
        if not cands:
            continue
        p = draw(st.sampled_from(cands))
        if kind == "edit" or kind == "create":
            tree[p] = entry(draw(st.sampled_from(VALUES[1:])))
        elif kind == "delete":
            tree[p] = None
        else:
            dst = draw(st.sampled_from(cands))
            if p in tree and dst not in tree and not dst.startswith(p + "/") and p != dst:
                for q in [q for q in tree if q == p or q.startswith(p + "/")]:
                    tree[dst + q[len(p) :]] = tree.pop(q)
        tree = dict(normalize(tree))
    return normalize(tree)


@st.composite
def triples(draw: st.DrawFn) -> tuple[Tree, Tree, Tree]:
    raw = {p: entry(draw(st.sampled_from(("D", "D", "x", "y", None)))) for p in PATHS[:12]}
    deeper = draw(st.lists(st.sampled_from(PATHS[12:]), max_size=8))
    raw.update({p: entry(draw(st.sampled_from(VALUES))) for p in deeper})
    base = normalize(raw)
    return base, draw(mutated(base)), draw(mutated(base))


def subtree(tree: Tree, p: str) -> list[str]:
    return [q for q in tree if q == p or q.startswith(p + "/")]


def parent_ok(tree: Tree, p: str) -> bool:
    parent = p.rsplit("/", 1)[0] if "/" in p else ""
    return parent == "" or (parent in tree and tree[parent].is_dir)


class Model:
    def __init__(self, base: Tree, local: Tree, remote: Tree) -> None:
        self.b, self.l, self.r = dict(base), dict(local), dict(remote)
        self.trash: list[str] = []

    def apply(self, a: Action) -> None:
        b, lo, re_ = self.b, self.l, self.r
        e = a.entry
        if a.op in (Op.UPLOAD, Op.MKDIR_REMOTE):
            assert e is not None and same(lo.get(a.path), e), a
            assert parent_ok(re_, a.path), a
            assert a.path not in re_ or not re_[a.path].is_dir or a.op is Op.MKDIR_REMOTE, a
            re_[a.path] = e
        elif a.op in (Op.DOWNLOAD, Op.MKDIR_LOCAL):
            assert e is not None and same(re_.get(a.path), e), a
            assert parent_ok(lo, a.path), a
            assert a.path not in lo or not lo[a.path].is_dir or a.op is Op.MKDIR_LOCAL, a
            if a.path in lo and not lo[a.path].is_dir:
                self.trash.append(lo[a.path].md5 or "")  # overwritten by a download: executor keeps it
            lo[a.path] = e
        elif a.op in (Op.DELETE_LOCAL, Op.DELETE_REMOTE):
            tree = lo if a.op is Op.DELETE_LOCAL else re_
            assert same(tree.get(a.path), e), a
            assert subtree(tree, a.path) == [a.path], ("folder not empty", a, subtree(tree, a.path))
            gone = tree.pop(a.path)
            if a.op is Op.DELETE_LOCAL and not gone.is_dir:
                self.trash.append(gone.md5 or "")
        elif a.op in (Op.MOVE_LOCAL, Op.MOVE_REMOTE):
            tree = lo if a.op is Op.MOVE_LOCAL else re_
            assert a.dest and parent_ok(tree, a.dest), a
            assert e is not None and same(tree.get(a.path), e), a
            if a.dest in tree:  # a local rename over a file (the other side renamed over it)
                assert a.op is Op.MOVE_LOCAL and not e.is_dir and not tree[a.dest].is_dir, a
                self.trash.append(tree[a.dest].md5 or "")
            for p in subtree(tree, a.path):  # a folder takes its contents along
                tree[a.dest + p[len(a.path) :]] = tree.pop(p)
            for p in subtree(b, a.path):
                b[a.dest + p[len(a.path) :]] = b.pop(p)
            b[a.dest] = e
            return
        elif a.op is Op.CONFLICT:
            assert a.dest and a.dest not in lo and a.path in lo and not lo[a.path].is_dir, a
            assert e is not None and same(re_.get(a.path), e), a
            lo[a.dest] = lo[a.path]
            lo[a.path] = e
        elif a.op in (Op.ASIDE_LOCAL, Op.ASIDE_REMOTE):
            tree = lo if a.op is Op.ASIDE_LOCAL else re_
            assert a.dest and a.dest not in tree and same(tree.get(a.path), e), a
            for p in subtree(tree, a.path):
                tree[a.dest + p[len(a.path) :]] = tree.pop(p)
            return
        elif a.op is Op.RECORD:
            pass
        if a.record:
            if e is None or a.op in (Op.DELETE_LOCAL, Op.DELETE_REMOTE):
                b.pop(a.path, None)
            else:
                b[a.path] = e


def run_batch(model: Model, actions: list[Action], rnd: random.Random) -> None:
    groups: dict[tuple[int, int], list[Action]] = {}
    for a in actions:
        depth = a.depth if a.phase in (Phase.MKDIR,) else -a.depth if a.phase in (
            Phase.DELETE, Phase.PRE_DELETE) else 0  # fmt: skip
        groups.setdefault((int(a.phase), depth), []).append(a)
    for key in sorted(groups):
        batch = groups[key]
        rnd.shuffle(batch)
        for a in batch:
            model.apply(a)


CONFLICT_RE = re.compile(re.escape(CONFLICT_MARK) + r"[^)]*\)")


def origin(path: str) -> str:
    return CONFLICT_RE.sub("", path)


def converge(base: Tree, local: Tree, remote: Tree, mode: SyncMode, rnd: random.Random) -> tuple[Model, int]:
    m = Model(base, local, remote)
    for rounds in range(MAX_ROUNDS):
        p = plan(m.b, m.l, m.r, mode=mode, host="lab-pc", now=NOW)
        if not p.actions:
            return m, rounds
        run_batch(m, p.actions, rnd)
        for tree in (m.l, m.r):
            for q in tree:
                assert parent_ok(tree, q), ("orphan", q)
    raise AssertionError(f"no convergence after {MAX_ROUNDS} rounds")


def versions(tree: Tree) -> set[tuple[str, str]]:
    return {(origin(p), e.md5 or "") for p, e in tree.items() if not e.is_dir}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples(), st.randoms(use_true_random=False))
def test_two_way_converges_and_keeps_every_change(trees: tuple[Tree, Tree, Tree], rnd: random.Random) -> None:
    base, local, remote = trees
    m, _ = converge(base, local, remote, SyncMode.TWO_WAY, rnd)
    # convergence: local == remote == base
    assert set(m.l) == set(m.r) == set(m.b)
    for p in m.l:
        assert same(m.l[p], m.r[p]) and same(m.l[p], m.b[p]), p
    final = versions(m.l)
    trash = set(m.trash)
    for side in (local, remote):
        for p, e in side.items():
            if e.is_dir or same(e, base.get(p)):
                continue
            # a changed version (edit or creation, incl. a move target) survives at its path or a copy of it
            assert (p, e.md5) in final or any(o == p and c == e.md5 for o, c in final), (p, e)
    # nothing lost locally: every local file is still synced somewhere or in the trash
    for p, e in local.items():
        if not e.is_dir:
            assert (e.md5 or "") in trash or any(c == e.md5 for _, c in final), (p, e)
    # one-sided changes survive at exactly their path
    for p in set(local) | set(remote) | set(base):
        lo, re_, b = local.get(p), remote.get(p), base.get(p)
        lc, rc = not same(lo, b), not same(re_, b)
        if lc != rc and not (lo and lo.is_dir) and not (re_ and re_.is_dir):
            changed = lo if lc else re_
            other_tree = remote if lc else local
            touched = any(not same(other_tree.get(q), base.get(q)) for q in _family(p))
            if not touched:
                assert same(m.l.get(p), changed), (p, changed, m.l.get(p))
    # idempotence: nothing more to do
    assert not plan(m.b, m.l, m.r, host="lab-pc", now=NOW).actions


def _family(p: str) -> list[str]:
    parts = p.split("/")
    anc = ["/".join(parts[:i]) for i in range(1, len(parts))]
    return [*anc, p, *[q for q in PATHS if q.startswith(p + "/")]]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    triples(),
    st.sampled_from([SyncMode.UPLOAD_ONLY, SyncMode.DOWNLOAD_ONLY]),
    st.randoms(use_true_random=False),
)
def test_one_way_modes_never_touch_the_protected_side(
    trees: tuple[Tree, Tree, Tree], mode: SyncMode, rnd: random.Random
) -> None:
    base, local, remote = trees
    m, _ = converge(base, local, remote, mode, rnd)
    protected, mirror = (local, m.l) if mode is SyncMode.UPLOAD_ONLY else (remote, m.r)
    assert set(protected) == set(mirror) and all(same(protected[p], mirror[p]) for p in protected)
    # every version on the other side still exists somewhere
    src, other = (remote, m.r) if mode is SyncMode.UPLOAD_ONLY else (local, m.l)
    final = versions(other) | versions(mirror)
    for p, e in src.items():
        if not e.is_dir and not same(e, base.get(p)):
            assert any(o == p and c == e.md5 for o, c in final), (p, e)
    # a second pass plans nothing
    assert not plan(m.b, m.l, m.r, mode=mode, host="lab-pc", now=NOW).actions


def test_identical_changes_are_never_a_conflict() -> None:
    base = {"f": Entry(False, "x")}
    p = plan(base, {"f": Entry(False, "y")}, {"f": Entry(False, "y")})
    assert [(a.op, a.path) for a in p.actions] == [(Op.RECORD, "f")]


def test_true_conflict_keeps_both_with_dated_copy_name() -> None:
    base = {"d": DIR, "d/reads.fastq.gz": Entry(False, "x")}
    local = {"d": DIR, "d/reads.fastq.gz": Entry(False, "L")}
    remote = {"d": DIR, "d/reads.fastq.gz": Entry(False, "R")}
    p = plan(base, local, remote, host="ws1", now=NOW)
    assert len(p.actions) == 1 and p.actions[0].op is Op.CONFLICT
    assert p.actions[0].dest == "d/reads (conflicted copy ws1 2026-11-23 123456).fastq.gz"


def test_edit_beats_delete_both_ways() -> None:
    base = {"f": Entry(False, "x")}
    up = plan(base, {"f": Entry(False, "y")}, {})
    assert [(a.op, a.path) for a in up.actions] == [(Op.UPLOAD, "f")]
    down = plan(base, {}, {"f": Entry(False, "y")})
    assert [(a.op, a.path) for a in down.actions] == [(Op.DOWNLOAD, "f")]


def test_local_rename_becomes_remote_move_and_folder_parents_first() -> None:
    f = Entry(False, "x")
    base = {"a": DIR, "a/f": f}
    local = {"b": DIR, "b/c": DIR, "b/c/f": f}
    p = plan(base, local, dict(base))
    ops = {(a.op, a.path, a.dest) for a in p.actions}
    assert (Op.MOVE_REMOTE, "a", "b/c") in ops  # the folder moves as one (issue 16 item 12)
    assert not any(a.op is Op.UPLOAD for a in p.actions)
    phases = p.by_phase()
    assert [a.path for a in phases[Phase.MKDIR]] == ["b"]
    assert [a.path for a in phases[Phase.MOVE]] == ["a"] and not phases[Phase.DELETE]
    local["b/c/g"] = Entry(False, "y")  # not the same contents: file by file
    p = plan(base, local, dict(base))
    ops = {(a.op, a.path, a.dest) for a in p.actions}
    assert (Op.MOVE_REMOTE, "a/f", "b/c/f") in ops
    phases = p.by_phase()
    assert [a.path for a in phases[Phase.MKDIR]] == ["b", "b/c"]
    assert [a.path for a in phases[Phase.DELETE]] == ["a"]


def test_conflict_name_unique_and_dotfiles() -> None:
    taken = {"x/.bashrc (conflicted copy h 2026-11-23 123456)"}
    assert conflict_name("x/.bashrc", "h", NOW, taken.__contains__) == (
        "x/.bashrc (conflicted copy h 2026-11-23 123456 2)"
    )
    name = conflict_name("Makefile", "h", NOW, lambda _: False)
    assert name == "Makefile (conflicted copy h 2026-11-23 123456)"


def test_conflict_name_fits_255_bytes_with_multibyte_names() -> None:
    """Issue 16 item 9: the copy of a name at the byte limit still fits, cut at a character boundary,
    extension kept; a long extension is cut too; a long host name cannot push it over."""
    stems = ["é" * 200, "😀" * 100, "a" * 300, "日本" * 100, "ö" + "é" * 200]
    for stem, ext, host in product(stems, [".fastq.gz", "", "." + "x" * 240], ["ws2", "h" * 300]):
        name = stem.encode()[: 255 - len(ext)].decode("utf-8", errors="ignore") + ext
        assert 252 <= len(name.encode()) <= 255
        taken: set[str] = set()
        for _ in range(3):  # unique even when the shortened names meet
            copy = conflict_name(f"dir/{name}", host, NOW, taken.__contains__)
            taken.add(copy)
            base = copy.rpartition("/")[2]
            assert len(base.encode()) <= 255, (len(base.encode()), base)
            assert base.encode().decode() == base and CONFLICT_MARK in base
            if ext == ".fastq.gz":
                assert base.endswith(").fastq.gz")
            assert base.startswith(name.partition(".")[0][:3])
        assert len(taken) == 3
    short = conflict_name("reads.fastq.gz", "ws2", NOW, lambda _: False)
    assert short == "reads (conflicted copy ws2 2026-11-23 123456).fastq.gz"


def test_case_collisions_are_kept_apart_not_overwritten() -> None:
    remote = {"Data.txt": Entry(False, "R"), "data.txt": Entry(False, "S")}
    local = {"data.txt": Entry(False, "S")}
    base = {"data.txt": Entry(False, "S")}
    p = plan(base, local, remote, fold=fold_case)
    assert not [a for a in p.actions if a.op is Op.DOWNLOAD]
    assert [pr.path for pr in p.problems] == ["Data.txt"]
