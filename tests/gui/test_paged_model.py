"""The lazy model loading a big folder page by page from the real server (and the page merger)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QModelIndex, Qt

from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.server.seaweed import S3Config
from gsdesktop.ui import remote_model
from gsdesktop.ui.paged_listing import PageMerger
from gsdesktop.ui.remote_model import KIND_ROLE, PAGE_SIZE, RemoteTreeModel, _sort_key, sort_entries

ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


def _names(count: int) -> list[str]:
    """Mixed-case names: the store's byte order differs from the model's case-insensitive order."""
    rng = random.Random(count)
    out: dict[str, str] = {}  # unique ignoring case, so the expected order has no ties
    while len(out) < count:
        stem = "".join(rng.choice("aAbBcCxX_- 09é") for _ in range(rng.randint(1, 8)))
        name = stem.strip() + rng.choice([".txt", ".TXT", ".bed", ""])
        out.setdefault(name.lower(), name)
    return sorted(n for n in out.values() if n and n not in (".", ".."))


@pytest.fixture
def folder(account, seaweed: S3Config) -> tuple[str, list[str], list[str]]:  # type: ignore[no-untyped-def]
    """``wide``: ~400 files and 12 folders (one of them, ``sub``, holding 120 files)."""
    from gsdesktop.server.storage import S3Store

    store = S3Store(seaweed, create_bucket=False)
    prefix = f"users/{account.username}/wide/"
    files = [n for n in _names(400) if not n.startswith("sub")]
    dirs = [f"Dir{i:02d}" if i % 2 else f"dir{i:02d}" for i in range(11)] + ["sub"]
    keys = [prefix] + [prefix + n for n in files] + [prefix + d + "/" for d in dirs]
    keys += [f"{prefix}sub/s{i:03d}.txt" for i in range(120)]

    def put(key: str) -> None:
        store.s3.put_object(Bucket=store.bucket, Key=key, Body=b"" if key.endswith("/") else key.encode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))
    return f"/users/{account.username}/wide", files, dirs


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_model, "LISTING_PAGE", 40)


def _row_names(model: RemoteTreeModel, parent: QModelIndex = QModelIndex()) -> list[str]:
    return [model.data(model.index(r, 0, parent)) for r in range(model.rowCount(parent))]


def _expected(client, path: str, order: Qt.SortOrder, column: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.name for m in sort_entries(client.list(path).contents, column, order)]


def test_pages_arrive_as_row_inserts(qtbot, qtmodeltester, client, runner, folder, small_pages) -> None:  # type: ignore[no-untyped-def]
    path, files, dirs = folder
    model = RemoteTreeModel(client, runner, path)
    qtmodeltester.check(model)  # the C++ tester stays attached and checks every insert and removal
    during: list[tuple[int, int, str]] = []  # (entries so far, rows, kind of the last row) while loading

    def inserted(parent: QModelIndex, _first: int, _last: int) -> None:
        if not parent.isValid() and model.node(parent).state.value == "loading":
            last = model.data(model.index(model.rowCount() - 1, 0), KIND_ROLE)
            during.append((model.total_entries(), model.rowCount(), last))

    model.rowsInserted.connect(inserted)
    with qtbot.waitSignal(
        model.load_finished, timeout=60000, check_params_cb=lambda p, _n: p == path
    ) as finished:
        model.fetchMore(QModelIndex())
    total = len(files) + len(dirs)
    assert finished.args == [path, total]
    # rows were inserted while later pages were still being fetched, the "Loading…" row stayed last
    assert all(kind == "loading" for _n, _rows, kind in during)
    assert len({n for n, _r, _k in during}) >= 5, during
    assert min(n for n, _r, _k in during) < total
    want = _expected(client, path, ASC)
    assert _row_names(model) == want[:PAGE_SIZE]  # the sorted prefix, not the store's order
    while model.expose_more():
        pass
    assert _row_names(model) == want  # every entry once, in order
    assert [model.node(model.index(r, 0)).row for r in range(model.rowCount())] == list(range(total))


def test_sort_and_filter_changed_while_loading(  # type: ignore[no-untyped-def]
    qtbot, qtmodeltester, client, runner, folder, small_pages
) -> None:
    path, _files, _dirs = folder
    model = RemoteTreeModel(client, runner, path)
    qtmodeltester.check(model)
    pages = 0

    def inserted(parent: QModelIndex, _first: int, _last: int) -> None:
        nonlocal pages
        if parent.isValid() or model.node(parent).state.value != "loading":
            return
        pages += 1
        if pages == 1:
            model.sort(0, DESC)  # the next pages are merged in the new order
        elif pages == 3:
            model.set_name_filter("x")

    model.rowsInserted.connect(inserted)
    with qtbot.waitSignal(model.load_finished, timeout=60000, check_params_cb=lambda p, _n: p == path):
        model.fetchMore(QModelIndex())
    qtbot.waitUntil(lambda: runner.in_flight == 0, timeout=30000)
    want = [n for n in _expected(client, path, DESC) if "x" in n.lower()]
    assert pages >= 3
    assert _row_names(model)[:PAGE_SIZE] == want[:PAGE_SIZE]
    model.set_name_filter("")
    while model.expose_more():
        pass
    assert _row_names(model) == _expected(client, path, DESC)


def test_sub_folder_in_the_tree_gets_every_page(  # type: ignore[no-untyped-def]
    qtbot, qtmodeltester, client, runner, folder, small_pages
) -> None:
    path, _files, _dirs = folder
    model = RemoteTreeModel(client, runner, path)
    qtmodeltester.check(model)
    with qtbot.waitSignal(model.load_finished, timeout=60000, check_params_cb=lambda p, _n: p == path):
        model.fetchMore(QModelIndex())
    while model.expose_more():
        pass
    sub = model.index_for_path(f"{path}/sub")
    assert sub.isValid()
    with qtbot.waitSignal(
        model.load_finished, timeout=60000, check_params_cb=lambda p, _n: p == f"{path}/sub"
    ) as finished:
        model.fetchMore(sub)
    assert finished.args == [f"{path}/sub", 120]
    sub = model.index_for_path(f"{path}/sub")
    assert _row_names(model, sub) == [f"s{i:03d}.txt" for i in range(120)]  # not only one display page
    model.refresh(sub)  # reload: pages again, same rows
    qtbot.waitUntil(
        lambda: model.node(sub).state.value == "loaded" and model.rowCount(sub) == 120, timeout=60000
    )
    assert _row_names(model, sub) == [f"s{i:03d}.txt" for i in range(120)]


def _meta(name: str, is_dir: bool, size: int, age: int) -> GSFileMetadata:
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=age)
    return GSFileMetadata(
        name=name, path=f"/users/u/{name}", url="", is_directory=is_dir, size=size, last_modified=when
    )


@pytest.mark.parametrize("column", [0, 1, 2])
def test_page_merger_positions_and_order(column: int) -> None:
    rng = random.Random(column)
    entries = [
        _meta(f"{rng.choice('aAbB')}{i}", i % 7 == 0, rng.randint(0, 50), rng.randint(0, 99))
        for i in range(700)
    ]
    rng.shuffle(entries)
    pages = [entries[i : i + 60] for i in range(0, len(entries), 60)]
    merger = PageMerger()
    seen: list[GSFileMetadata] = []
    order = ASC
    for k, page in enumerate(pages):
        if k == 5:
            order = DESC  # direction changed between pages: a full re-sort, rows rebuilt
        desc = order == DESC
        merged = merger.add(page, (column, desc), _sort_key(column), lambda e: sort_entries(e, column, ASC))
        seen += page
        want = sort_entries(seen, column, order)
        keys = [_sort_key(column)(m) for m in merged.entries]
        assert keys == [_sort_key(column)(m) for m in want]  # same order (ties may differ)
        assert {id(m) for m in merged.entries} == {id(m) for m in seen}
        if k in (0, 5):
            assert merged.positions is None
        else:
            assert merged.positions is not None
            assert merged.positions == sorted(merged.positions)
            assert {id(merged.entries[q]) for q in merged.positions} == {id(m) for m in page}
        assert merger.sort == (column, desc)


class _GatedLister:
    """The real client; the listing of ``hold`` stops before its second page until ``gate`` is set."""

    def __init__(self, client, hold: str) -> None:  # type: ignore[no-untyped-def]
        import threading

        self.client, self.hold, self.gate = client, hold, threading.Event()

    def list(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.list(path)

    def list_pages(self, path: str, page_size: int):  # type: ignore[no-untyped-def]
        for number, page in enumerate(self.client.list_pages(path, page_size)):
            if number == 1 and path == self.hold:
                assert self.gate.wait(60)
            yield page


def test_rows_inserted_above_a_loading_folder_keep_parent_consistent(  # type: ignore[no-untyped-def]
    qtbot, qtmodeltester, client, runner, account, seaweed, monkeypatch
) -> None:
    """Regression: a later page inserted rows *above* a folder whose own listing had started.

    The store lists in byte order (the folder's marker, ``B D F``, then ``a c e g``) but the model
    sorts ignoring case, so page two lands in separate groups above ``F``; between those inserts
    ``parent()`` of F's "Loading…" row must already name F's new row.
    """
    from gsdesktop.server.storage import S3Store

    store = S3Store(seaweed, create_bucket=False)
    prefix = f"users/{account.username}/mixed/"
    for key in ["", "B/", "D/", "F/", "a/", "c/", "e/", "g/", "F/inner.txt"]:
        store.s3.put_object(Bucket=store.bucket, Key=prefix + key, Body=b"x" if key.endswith("txt") else b"")
    path = f"/users/{account.username}/mixed"
    monkeypatch.setattr(remote_model, "LISTING_PAGE", 4)
    lister = _GatedLister(client, path)
    model = RemoteTreeModel(lister, runner, path)
    qtmodeltester.check(model)
    checked: list[int] = []

    def inserted(parent: QModelIndex, _first: int, _last: int) -> None:
        f = model.index_for_path(f"{path}/F")
        if parent.isValid() or not f.isValid() or model.rowCount(f) == 0:
            return
        child = model.index(0, 0, f)
        assert model.parent(child) == f  # the parent's row is right between the inserts
        assert model.index(f.row(), 0) == f
        checked.append(f.row())

    model.rowsInserted.connect(inserted)
    with qtbot.waitSignal(model.rowsInserted, timeout=60000):
        model.fetchMore(QModelIndex())
    qtbot.waitUntil(lambda: _row_names(model) == ["B", "D", "F", "Loading…"], timeout=60000)
    f = model.index_for_path(f"{path}/F")
    model.fetchMore(f)
    qtbot.waitUntil(lambda: model.rowCount(model.index_for_path(f"{path}/F")) >= 1, timeout=60000)
    with qtbot.waitSignal(model.load_finished, timeout=60000, check_params_cb=lambda p, _n: p == path):
        lister.gate.set()
    assert _row_names(model) == ["a", "B", "c", "D", "e", "F", "g"]
    assert checked and checked[-1] == 5 and len(set(checked)) >= 3, checked  # F moved down group by group
    f = model.index_for_path(f"{path}/F")
    qtbot.waitUntil(lambda: model.node(f).state.value == "loaded", timeout=60000)
    assert _row_names(model, f) == ["inner.txt"]
    assert model.parent(model.index(0, 0, f)) == f
