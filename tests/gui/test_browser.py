"""Remote browser against the real server: lazy model, 10,000 entries, drops, actions, responsiveness."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from gsdesktop.datamanager.models import GSDataFormat
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.browser import RemoteBrowser
from gsdesktop.ui.browser_parts import PropertiesDialog
from gsdesktop.ui.remote_model import KIND_ROLE, RemoteTreeModel
from gsdesktop.ui.transfers import Status, TransferManager
from tests.support.stalls import oversubscribed, run_queue_wait


class TickGap:
    """Records the longest gap between ticks of a 5 ms timer on the GUI thread.

    Two figures: the wall-clock gap (what the user sees) and the GUI thread's own CPU time within that
    gap (``time.thread_time``): the second is the part caused by work on the GUI thread itself, the rest
    is the thread waiting for the GIL or for a CPU on an oversubscribed machine. A third figure,
    ``worst_ours``, is the gap minus the time the OS kept the runnable thread waiting for a CPU (run-queue
    wait from ``/proc/thread-self/schedstat``, Linux): what this process itself made the GUI thread wait.
    """

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []  # (seconds since start, gap) for gaps > 30 ms
        self.t0 = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.last_cpu = 0.0
        self.worst = 0.0
        self.worst_cpu = 0.0
        self.worst_ours = 0.0
        self.last_wait = 0.0
        self.gc_worst = 0.0  # longest garbage collection run on the GUI thread (CPU seconds)
        self._gc_started = 0.0

    def _on_gc(self, phase: str, _info: dict[str, int]) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        elif self._gc_started:
            self.gc_worst = max(self.gc_worst, time.thread_time() - self._gc_started)

    def _tick(self) -> None:
        now, cpu, wait = time.perf_counter(), time.thread_time(), run_queue_wait()
        if self.last:
            self.worst = max(self.worst, now - self.last)
            self.worst_cpu = max(self.worst_cpu, cpu - self.last_cpu)
            self.worst_ours = max(self.worst_ours, now - self.last - (wait - self.last_wait))
            if now - self.last > 0.03:
                self.gaps.append((round(self.last - self.t0, 3), round(now - self.last, 3)))
        self.last, self.last_cpu, self.last_wait = now, cpu, wait

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.worst = 0.0
        self.worst_cpu = 0.0
        self.worst_ours = 0.0
        self.gc_worst = 0.0
        gc.callbacks.append(self._on_gc)
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        return self.worst


def make_browser(qtbot, client, root: str | None = None) -> RemoteBrowser:  # type: ignore[no-untyped-def]
    runner = TaskRunner(4)
    transfers = TransferManager(client, TaskRunner(4))
    browser = RemoteBrowser(client, runner, transfers, root or client.home)
    qtbot.addWidget(browser)
    browser.confirm = lambda _title, _text: True
    browser.show()
    browser.model.fetchMore(QModelIndex())
    return browser


def wait_loaded(qtbot, model: RemoteTreeModel, index: QModelIndex = QModelIndex(), rows: int | None = None):  # type: ignore[no-untyped-def]
    def loaded() -> bool:
        n = model.rowCount(index)
        if n and model.data(model.index(0, 0, index), KIND_ROLE) != "entry":
            return False
        node = model.node(index)
        return node.state.value == "loaded" and not node.pending and (rows is None or n == rows)

    qtbot.waitUntil(loaded, timeout=60000)


def names(model: RemoteTreeModel, index: QModelIndex = QModelIndex()) -> list[str]:
    return [model.data(model.index(r, 0, index)) for r in range(model.rowCount(index))]


def select_name(browser: RemoteBrowser, name: str) -> None:
    model = browser.model
    for r in range(model.rowCount()):
        if model.data(model.index(r, 0)) == name:
            proxy_index = model.index(r, 0)
            browser.view.selectionModel().clearSelection()
            browser.view.setCurrentIndex(proxy_index)
            browser.view.selectionModel().select(
                proxy_index,
                browser.view.selectionModel().SelectionFlag.ClearAndSelect
                | browser.view.selectionModel().SelectionFlag.Rows,
            )
            return
    raise AssertionError(f"{name} not listed: {names(model)}")


def drop(browser: RemoteBrowser, paths: list[Path], on_name: str | None) -> None:
    """Deliver a real QDropEvent with file URLs onto a row (or the empty area)."""
    view = browser.view
    if on_name is None:
        pos = QPointF(20, view.viewport().height() - 5)
    else:
        model = browser.model
        row = next(r for r in range(model.rowCount()) if model.data(model.index(r, 0)) == on_name)
        rect = view.visualRect(model.index(row, 0))
        pos = QPointF(rect.center())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos.toPoint(), actions, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted() and enter.dropAction() == Qt.DropAction.CopyAction
    move = QDragMoveEvent(pos.toPoint(), actions, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), move)
    assert move.isAccepted() and move.dropAction() == Qt.DropAction.CopyAction
    event = QDropEvent(pos, actions, mime, buttons, mods)
    QApplication.sendEvent(view.viewport(), event)
    assert event.isAccepted()
    assert event.dropAction() == Qt.DropAction.CopyAction  # never a move that deletes local files


def test_lazy_model_passes_modeltester(qtbot, qtmodeltester, client, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/a/b", parents=True)
    for name in ("x.txt", "w.txt", "a/y.txt", "a/b/z.txt"):
        path = tmp_path / name.replace("/", "_")
        path.write_text(name)
        client.upload(path, f"{home}/{name}")
    model = RemoteTreeModel(client, runner, home)
    assert model.hasChildren(QModelIndex()) and model.canFetchMore(QModelIndex())
    assert model.rowCount() == 0
    seen: list[object] = []
    model.load_started.connect(lambda _p: seen.append(model.data(model.index(0, 0), KIND_ROLE)))
    model.fetchMore(QModelIndex())
    assert not model.canFetchMore(QModelIndex())  # requested once only
    qtmodeltester.check(model)
    qtbot.waitUntil(lambda: bool(seen))
    assert seen[0] == "loading"  # the "Loading…" row is there while the listing runs
    wait_loaded(qtbot, model)
    assert names(model) == ["a", "w.txt", "x.txt"]  # folders first
    a = model.index(0, 0)
    assert model.hasChildren(a)  # (the tester may already have asked for its listing)
    model.fetchMore(a)
    wait_loaded(qtbot, model, model.index_for_path(f"{home}/a"))
    a = model.index_for_path(f"{home}/a")
    assert names(model, a) == ["b", "y.txt"]
    assert model.parent(model.index(1, 0, a)) == a
    assert model.data(model.index(1, 1, a)) == "7 B"
    with qtbot.waitSignal(model.sort_finished, timeout=30000):
        model.sort(0, Qt.SortOrder.DescendingOrder)  # sorted on a worker thread
    assert names(model) == ["a", "x.txt", "w.txt"]  # descending, folders still first
    model.refresh(QModelIndex())
    wait_loaded(qtbot, model)
    qtmodeltester.check(model)


def test_listing_error_shows_error_row(qtbot, client, runner) -> None:  # type: ignore[no-untyped-def]
    model = RemoteTreeModel(client, runner, client.home + "/does-not-exist")
    with qtbot.waitSignal(model.load_failed, timeout=30000):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 1 and model.data(model.index(0, 0), KIND_ROLE) == "error"
    assert "Could not load" in model.data(model.index(0, 0))


def test_ten_thousand_entries_gui_never_blocked(qtbot, big_account, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Browse the 10,000-entry folder while 50 transfers run; the GUI thread never stalls > 50 ms."""
    # The app freezes its start-up objects (tune_interpreter), so a full collection walks only what it made
    # since. This test runs late in a long pytest process: what earlier tests left alive would make every
    # full collection slower than in the app (a 40-60 ms pause on the GUI thread, seen on CI). Start from
    # the heap a fresh app process has.
    gc.collect()
    gc.freeze()
    try:
        _browse_ten_thousand(qtbot, big_account, tmp_path)
    finally:
        gc.unfreeze()


def _browse_ten_thousand(qtbot, big_account, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.ui.browser import MAX_ROWS_SHOWN
    from gsdesktop.ui.remote_model import PAGE_SIZE

    client = DataManagerClient(
        big_account.server_url, big_account.username, big_account.password, pool_size=16
    )
    client.mkdir(f"{client.home}/uploads")
    browser = make_browser(qtbot, client, root=client.home)
    wait_loaded(qtbot, browser.model)
    files = []
    for i in range(50):
        f = tmp_path / f"up-{i:02d}.dat"
        f.write_bytes(bytes([i]) * (2048 + i))
        files.append(f)
    model = browser.model
    gap = TickGap()
    gap.start()
    started = time.perf_counter()
    marks: dict[str, float] = {}
    model.load_finished.connect(
        lambda p, n: marks.setdefault(f"listed {n}", round(time.perf_counter() - gap.t0, 3))
    )
    browser.navigate(big_account.folder)
    browser.upload_paths(files, f"{client.home}/uploads")
    qtbot.waitUntil(
        lambda: model.total_entries() == big_account.count and model.rowCount() == PAGE_SIZE, timeout=90000
    )
    listing_gap = gap.stop()  # the listing arrives in pages of 500 (short parses), merged on the pool
    listing_cpu, listing_ours, listing_gc = gap.worst_cpu, gap.worst_ours, gap.gc_worst
    gap.start()
    # scroll to the end repeatedly: each time the next page is exposed, up to the cap
    for _ in range(8):
        browser.view.scrollToBottom()
        qtbot.wait(50)
    assert model.rowCount() == MAX_ROWS_SHOWN
    marks["scrolled"] = round(time.perf_counter() - gap.t0, 3)
    assert "of 10000 entries" in browser.statusBar().currentMessage()
    browser.filter_box.setText("file-0999")  # searches the whole listing, not only exposed rows
    qtbot.waitUntil(lambda: model.rowCount() == 10, timeout=10000)
    browser.filter_box.setText("")
    marks["filtered"] = round(time.perf_counter() - gap.t0, 3)
    with qtbot.waitSignal(model.sort_finished, timeout=30000):
        browser.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert model.data(model.index(0, 0)) == "file-09999.txt"  # the whole listing was sorted
    marks["sorted"] = round(time.perf_counter() - gap.t0, 3)
    qtbot.waitUntil(
        lambda: (
            len(browser.transfers.transfers) == 50
            and all(t.status.finished for t in browser.transfers.transfers)
        ),
        timeout=90000,
    )
    worst = gap.stop()
    worst_cpu, worst_ours = gap.worst_cpu, gap.worst_ours
    elapsed = time.perf_counter() - started
    load = os.getloadavg()[0]
    print(
        f"\n10k folder + 50 uploads: {elapsed:.1f} s (load average {load:.1f}); longest GUI-thread gap "
        f"while listing {listing_gap * 1000:.0f} ms (own work {listing_cpu * 1000:.0f} ms, without run-queue "
        f"wait {listing_ours * 1000:.0f} ms), while browsing {worst * 1000:.0f} ms (own work "
        f"{worst_cpu * 1000:.0f} ms, without run-queue wait {worst_ours * 1000:.0f} ms); longest garbage "
        f"collection on the GUI thread {max(listing_gc, gap.gc_worst) * 1000:.0f} ms"
    )
    print("gaps > 30 ms (at s, length s):", gap.gaps, "marks:", marks)
    assert all(t.status is Status.DONE for t in browser.transfers.transfers), [
        t.error for t in browser.transfers.transfers if t.error
    ]
    assert len(client.list(f"{client.home}/uploads").contents) == 50
    # Work done on the GUI thread never blocks it for 50 ms, in any phase.
    assert worst_cpu < 0.050 and listing_cpu < 0.050, (worst_cpu, listing_cpu)
    # Wall clock, fetch phase included (paged listing, no long GIL holds, no full GC over start-up
    # objects): the same 50 ms bound in both phases. Not counted: time the OS kept the runnable GUI
    # thread waiting for a CPU (this test's own server and SeaweedFS share the 2 CPUs). When other
    # processes oversubscribe the machine, GIL holders get preempted too: a bound scaled by the load.
    if not oversubscribed():
        assert worst_ours < 0.050, f"GUI thread blocked for {worst_ours * 1000:.0f} ms while browsing"
        assert listing_ours < 0.050, f"GUI thread blocked for {listing_ours * 1000:.0f} ms while listing"
    bound = 0.050 * max(1.0, load / (os.cpu_count() or 1)) * 2
    assert worst < bound, f"GUI thread blocked for {worst * 1000:.0f} ms while browsing (load {load:.1f})"
    assert listing_gap < bound, (
        f"GUI thread blocked for {listing_gap * 1000:.0f} ms while listing (load {load:.1f})"
    )


@pytest.mark.filterwarnings("ignore:Function.*QDrag:DeprecationWarning")
def test_drop_files_and_folder_upload(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/target")
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    one, two = tmp_path / "one.txt", tmp_path / "two.fa"
    one.write_text("one\n")
    two.write_text(">s\nACGT\n")
    folder = tmp_path / "run42"
    (folder / "sub").mkdir(parents=True)
    (folder / "reads.txt").write_text("r" * 1000)
    (folder / "sub" / "deep.txt").write_text("deep")
    notes: list[tuple[str, str]] = []
    browser.notify.connect(lambda t, m: notes.append((t, m)))
    with qtbot.waitSignal(browser.transfers.batch_finished, timeout=60000) as blocker:
        drop(browser, [one, two], on_name="target")
    assert blocker.args[1:4] == [2, 0, f"{home}/target"]
    assert sorted(m.name for m in client.list(f"{home}/target").contents) == ["one.txt", "two.fa"]
    with qtbot.waitSignal(browser.transfers.batch_finished, timeout=60000) as blocker:
        drop(browser, [folder], on_name=None)  # empty area = current folder
    assert blocker.args[1:4] == [2, 0, home]
    assert client.metadata(f"{home}/run42/sub/deep.txt").size == 4
    assert client.metadata(f"{home}/run42/reads.txt").size == 1000
    assert one.exists() and folder.exists()  # a drop is a copy: local files untouched
    assert any("uploaded" in m for _t, m in notes)
    qtbot.waitUntil(lambda: "run42" in names(browser.model), timeout=30000)


def test_actions_new_rename_delete_properties_link(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    src = tmp_path / "data.gct"
    src.write_text("#1.2\n1\t1\nName\tDescription\ts1\ng\tg\t1.0\n")
    uploaded = client.upload(src, f"{home}/data.gct")
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    browser.new_folder("made")
    qtbot.waitUntil(lambda: "made" in names(browser.model), timeout=30000)
    assert client.metadata(f"{home}/made").is_directory

    select_name(browser, "data.gct")
    assert browser.properties_action.isEnabled() and browser.copy_link_action.isEnabled()
    shown: list[PropertiesDialog] = []
    browser.show_properties(on_shown=shown.append)
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert shown[0].values["MD5"] == uploaded.md5 and uploaded.md5
    shown[0].close()

    QGuiApplication.clipboard().clear()
    browser.copy_link()
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text().startswith("http"), timeout=30000)

    browser.rename(browser.selected()[0], "renamed.gct")
    qtbot.waitUntil(lambda: "renamed.gct" in names(browser.model), timeout=30000)
    assert not client.exists(f"{home}/data.gct")

    client.upload(src, f"{home}/made/inner.gct")
    select_name(browser, "made")
    asked: list[str] = []

    def confirm(_title: str, text: str) -> bool:
        asked.append(text)
        return True

    browser.confirm = confirm
    browser.delete_selected()
    assert asked and "everything inside" in asked[0]
    qtbot.waitUntil(lambda: "made" not in names(browser.model), timeout=30000)
    assert not client.exists(f"{home}/made")

    wait_loaded(qtbot, browser.model)
    select_name(browser, "renamed.gct")
    browser.confirm = lambda _t, _text: False  # declined: nothing deleted
    browser.delete_selected()
    qtbot.wait(200)
    assert client.exists(f"{home}/renamed.gct")


def test_download_and_download_as(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    src = tmp_path / "peaks.bed"
    src.write_text("chr1\t10\t20\tp1\t5\t+\n")
    meta = client.upload(src, f"{home}/peaks.bed")
    client.mkdir(f"{home}/dir/sub", parents=True)
    client.upload(src, f"{home}/dir/sub/p.bed")
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    out = tmp_path / "out"
    out.mkdir()
    listed = {m.name: m for m in client.list(home).contents}
    browser.download_to([listed["peaks.bed"], listed["dir"]], out)
    qtbot.waitUntil(
        lambda: (
            len(browser.transfers.transfers) == 2
            and all(t.status.finished for t in browser.transfers.transfers)
        ),
        timeout=60000,
    )
    assert (out / "peaks.bed").read_text() == src.read_text()
    assert (out / "dir" / "sub" / "p.bed").read_text() == src.read_text()
    fmt = GSDataFormat(name="BED", url="http://www.genomespace.org/datamanager/dataformat/bed")
    browser.download_as(meta, fmt, target=out / "as.bed")
    qtbot.waitUntil(lambda: browser.transfers.transfers[-1].status.finished, timeout=60000)
    last = browser.transfers.transfers[-1]
    assert last.status in (Status.DONE, Status.FAILED)
    if last.status is Status.DONE:
        assert (out / "as.bed").stat().st_size > 0
    else:  # a conversion the server does not offer is reported, not hidden
        assert last.error


def test_navigation_back_up_path_bar(qtbot, client) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/deep/er", parents=True)
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    browser.path_bar.setText(f"{home}/deep")
    qtbot.keyClick(browser.path_bar, Qt.Key.Key_Return)
    wait_loaded(qtbot, browser.model)
    assert browser.model.root_path == f"{home}/deep" and names(browser.model) == ["er"]
    browser.go_up()
    assert browser.model.root_path == home
    browser.go_back()
    assert browser.model.root_path == f"{home}/deep"
    assert browser.path_bar.text() == f"{home}/deep"


def test_transfer_failure_retry_and_cancel(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    manager = TransferManager(client, TaskRunner(2))
    t = manager.download(f"{client.home}/nope.txt", tmp_path / "nope.txt")
    qtbot.waitUntil(lambda: t.status.finished, timeout=30000)
    assert t.status is Status.FAILED and t.error
    assert not (tmp_path / "nope.txt").exists()  # no partial file left behind
    again = manager.retry(t)
    assert again is t  # Retry reuses its row
    qtbot.waitUntil(lambda: again.status.finished, timeout=30000)
    assert again.status is Status.FAILED
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (8 * 1024 * 1024))
    up = manager.upload(big, f"{client.home}/big.bin")
    manager.cancel(up)
    qtbot.waitUntil(lambda: up.status.finished, timeout=30000)
    assert up.status in (Status.CANCELLED, Status.DONE)
    if up.status is Status.CANCELLED:
        assert not client.exists(f"{client.home}/big.bin")


def test_status_line_counts_uploads_and_downloads(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three uploads done and one failed download: the status line reports both directions."""
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    bad = browser.transfers.download(f"{client.home}/does-not-exist.vcf", tmp_path / "x.vcf")
    qtbot.waitUntil(lambda: bad.status.finished, timeout=30000)
    assert bad.status is Status.FAILED
    assert browser.statusBar().currentMessage() == ("Uploads: 0 done, 0 failed — Downloads: 0 done, 1 failed")
    files = []
    for i in range(1, 4):
        f = tmp_path / f"sample_{i}.bam"
        f.write_bytes(b"b" * 100 * i)
        files.append(f)
    with qtbot.waitSignal(browser.transfers.batch_finished, timeout=60000) as blocker:
        browser.upload_paths(files, client.home)
    assert blocker.args[1:3] == [3, 0]
    assert browser.statusBar().currentMessage() == ("Uploads: 3 done, 0 failed — Downloads: 0 done, 1 failed")
    ok = browser.transfers.download(f"{client.home}/sample_2.bam", tmp_path / "back.bam")
    qtbot.waitUntil(lambda: ok.status.finished, timeout=30000)
    assert ok.status is Status.DONE and (tmp_path / "back.bam").read_bytes() == b"b" * 200
    assert browser.statusBar().currentMessage() == ("Uploads: 3 done, 0 failed — Downloads: 1 done, 1 failed")
    counts = browser.transfers_panel.model.counts()
    assert (counts.uploaded, counts.upload_failed, counts.downloaded, counts.download_failed) == (3, 0, 1, 1)
    browser.transfers_panel.model.clear_finished()
    assert browser.transfers_panel.model.counts().text() == (
        "Uploads: 0 done, 0 failed — Downloads: 0 done, 0 failed"
    )


def test_keyboard_shortcuts_and_focus(qtbot, client) -> None:  # type: ignore[no-untyped-def]
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    for action in (
        browser.back_action,
        browser.up_action,
        browser.refresh_action,
        browser.upload_files_action,
        browser.download_action,
        browser.new_folder_action,
        browser.rename_action,
        browser.delete_action,
        browser.copy_link_action,
        browser.properties_action,
    ):
        assert not action.shortcut().isEmpty(), action.text()
    shortcuts = [a.shortcut().toString() for a in browser.actions() if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts))  # no clashes
    browser.activateWindow()
    browser._focus_path_bar()
    assert browser.path_bar.hasFocus() or QApplication.focusWidget() is browser.path_bar
    qtbot.keyClick(browser.path_bar, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not browser.path_bar  # Tab moves on
