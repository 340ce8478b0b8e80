"""Issue 18 polish of the transfers panel: Retry reuses its row, a user cancel is not "finished with
errors", finished downloads open / show in their folder, download-as rows show the saved name and size,
rows the user starts are scrolled into view. Real server, SeaweedFS, threads and files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl

from gsdesktop.datamanager.models import GSDataFormat
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.formatting import human_size
from gsdesktop.ui.transfers import Status, TransferManager, TransfersPanel
from tests.gui.test_browser import make_browser, wait_loaded


def panel_for(qtbot, client) -> TransfersPanel:  # type: ignore[no-untyped-def]
    panel = TransfersPanel(TransferManager(client, TaskRunner(2)))
    qtbot.addWidget(panel)
    panel.resize(700, 160)
    panel.show()
    return panel


def cell(panel: TransfersPanel, row: int, column: int) -> object:
    return panel.model.data(panel.model.index(row, column))


def test_retry_reuses_its_row(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    panel = panel_for(qtbot, client)
    manager = panel.manager
    remote = f"{client.home}/later.txt"
    t = manager.download(remote, tmp_path / "later.txt")
    qtbot.waitUntil(lambda: t.status.finished, timeout=30000)
    assert t.status is Status.FAILED and t.error
    src = tmp_path / "src.txt"
    src.write_text("now it is there\n")
    client.upload(src, remote)
    again = manager.retry(t)
    assert again is t
    assert panel.model.rowCount() == 1 and len(manager.transfers) == 1
    qtbot.waitUntil(lambda: t.status.finished, timeout=30000)
    assert t.status is Status.DONE and not t.error  # type: ignore[comparison-overlap]  # the worker changed it
    assert (tmp_path / "later.txt").read_text() == "now it is there\n"
    assert cell(panel, 0, 6) == "Done" and panel.model.rowCount() == 1


def test_user_cancel_says_cancelled_not_finished_with_errors(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    big = tmp_path / "slow.bin"
    big.write_bytes(b"s" * (4 * 1024 * 1024))
    browser.transfers.throttles[0].rate = 256 * 1024  # 16 s for the file: it is still running when cancelled
    notes: list[tuple[str, str]] = []
    browser.notify.connect(lambda title, text: notes.append((title, text)))
    browser.upload_paths([big], client.home)
    qtbot.waitUntil(
        lambda: any(t.status is Status.RUNNING for t in browser.transfers.transfers), timeout=30000
    )
    t = browser.transfers.transfers[0]
    with qtbot.waitSignal(browser.transfers.batch_finished, timeout=30000):
        browser.transfers.cancel(t)
    assert t.status is Status.CANCELLED
    assert notes, "the user hears how the upload ended"
    title, text = notes[-1]
    assert "error" not in title.lower() and "failed" not in text.lower(), notes
    assert "cancel" in (title + text).lower(), notes
    assert not client.exists(f"{client.home}/slow.bin")


def test_finished_download_opens_and_shows_in_folder(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "peaks.bed"
    src.write_text("chr1\t1\t2\n")
    client.upload(src, f"{client.home}/peaks.bed")
    panel = panel_for(qtbot, client)
    opened: list[QUrl] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url)
        return True

    panel.open_url = open_url
    out = tmp_path / "out"
    out.mkdir()
    t = panel.manager.download(f"{client.home}/peaks.bed", out / "peaks.bed")
    panel.view.selectRow(0)
    menu = panel.build_context_menu()
    assert not panel.open_action.isEnabled()  # not downloaded yet (or just running)
    menu.deleteLater()
    qtbot.waitUntil(lambda: t.status is Status.DONE, timeout=30000)
    panel.view.selectRow(0)
    menu = panel.build_context_menu()
    labels = [a.text().replace("&", "") for a in menu.actions()]
    assert "Open" in labels and "Show in folder" in labels
    assert panel.open_action.isEnabled() and panel.show_folder_action.isEnabled()
    panel.open_action.trigger()
    panel.show_folder_action.trigger()
    assert [u.toLocalFile() for u in opened] == [str(out / "peaks.bed"), str(out)]
    panel.view.doubleClicked.emit(panel.model.index(0, 0))  # a double click opens it too
    assert opened[-1].toLocalFile() == str(out / "peaks.bed")
    (out / "peaks.bed").unlink()  # moved away meanwhile: nothing to open, said so
    panel.view.selectRow(0)
    panel.build_context_menu().deleteLater()
    assert not panel.open_action.isEnabled()


def test_download_rows_show_the_saved_name_and_size(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "peaks.bed"
    src.write_text("chr1\t10\t20\tp1\t5\t+\n" * 50)
    meta = client.upload(src, f"{client.home}/peaks.bed")
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    fmt = GSDataFormat(name="BED", url="http://www.genomespace.org/datamanager/dataformat/bed")
    browser.download_as(meta, fmt, target=tmp_path / "as-converted.bed")
    browser.transfers.download(meta.path, tmp_path / "renamed copy.bed")
    transfers = browser.transfers.transfers
    qtbot.waitUntil(lambda: len(transfers) == 2 and all(t.status.finished for t in transfers), timeout=60000)
    assert [t.status for t in transfers] == [Status.DONE, Status.DONE], [t.error for t in transfers]
    model = browser.transfers_panel.model
    for row, name in enumerate(("as-converted.bed", "renamed copy.bed")):
        size = (tmp_path / name).stat().st_size
        assert model.data(model.index(row, 0)) == name
        assert model.data(model.index(row, 3)) == human_size(size)


def test_rows_the_user_starts_are_scrolled_into_view(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    panel = panel_for(qtbot, client)
    manager = panel.manager
    for i in range(30):
        manager.download(f"{client.home}/missing-{i}.txt", tmp_path / f"m{i}.txt")
    qtbot.waitUntil(lambda: all(t.status.finished for t in manager.transfers), timeout=60000)
    panel.view.scrollToTop()  # the user looks at the first rows
    qtbot.wait(50)
    panel.manager.download(f"{client.home}/missing-new.txt", tmp_path / "new.txt")
    last = panel.model.index(panel.model.rowCount() - 1, 0)

    def shown() -> bool:
        rect = panel.view.visualRect(last)
        return rect.isValid() and panel.view.viewport().rect().contains(rect.center())

    qtbot.waitUntil(shown, timeout=5000)


def test_a_partly_done_transfer_draws_a_horizontal_bar(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The Progress column's bar fills from the left (it filled from the bottom, a thin stripe, in Fusion)."""
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication, QStyleFactory

    from gsdesktop.ui.transfers import Kind, Transfer

    panel = panel_for(qtbot, client)
    panel.view.setStyle(QStyleFactory.create("Fusion"))
    t = Transfer(99, Kind.DOWNLOAD, tmp_path / "half.bin", "/x/half.bin", total=100, done=50)
    t.status = Status.RUNNING
    panel.manager.transfers.append(t)
    panel.manager.added.emit(t)  # listed as the manager lists a transfer
    panel.view.setColumnWidth(2, 200)
    panel.view.setRowHeight(0, 30)
    QApplication.processEvents()
    rect = panel.view.visualRect(panel.model.index(0, 2))
    image = panel.view.viewport().grab().toImage()
    highlight = panel.view.palette().color(panel.view.palette().ColorRole.Highlight)

    def blue(x: int, y: int) -> bool:
        c = QColor(image.pixel(x, y))
        return c.blue() > c.red() + 60 and abs(c.hue() - highlight.hue()) < 30

    y = rect.top() + rect.height() * 3 // 10  # the upper part of the bar
    assert blue(rect.left() + rect.width() // 5, y)  # the left part is filled at every height
    assert not blue(rect.left() + rect.width() * 4 // 5, y)  # the right half is not
