"""Issue 18 polish: the folder a drop goes to is highlighted while dragging; remote files and folders are
dragged out of the browser as whole local files (delayed ``text/uri-list``). Real server and threads."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QModelIndex, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QImage
from PySide6.QtWidgets import QApplication

from gsdesktop.ui.browser import RemoteBrowser
from gsdesktop.ui.drag_out import URI_LIST, DragOutMime
from gsdesktop.ui.transfers import Status
from tests.gui.test_browser import make_browser, select_name, wait_loaded


def row_of(browser: RemoteBrowser, name: str) -> QModelIndex:
    model = browser.model
    return next(model.index(r, 0) for r in range(model.rowCount()) if model.data(model.index(r, 0)) == name)


def drag_over(browser, name: str, tmp_path: Path, enter: bool = False) -> None:  # type: ignore[no-untyped-def]
    view = browser.view
    pos = view.visualRect(row_of(browser, name)).center()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "local.txt"))])
    args = (pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    event = QDragEnterEvent(*args) if enter else QDragMoveEvent(*args)
    QApplication.sendEvent(view.viewport(), event)
    assert event.isAccepted()


def picture(browser: RemoteBrowser) -> QImage:
    browser.view.viewport().repaint()
    return browser.view.viewport().grab().toImage()


def differs(a: QImage, b: QImage, rect) -> bool:  # type: ignore[no-untyped-def]
    return any(
        a.pixel(x, y) != b.pixel(x, y)
        for y in range(rect.top(), rect.bottom(), 2)
        for x in range(rect.left(), rect.right(), 4)
    )


def test_the_folder_a_drop_goes_to_is_highlighted(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/hl/into", parents=True)
    (tmp_path / "local.txt").write_text("x")
    client.upload(tmp_path / "local.txt", f"{home}/hl/file.txt")
    browser = make_browser(qtbot, client, f"{home}/hl")
    wait_loaded(qtbot, browser.model, rows=2)
    browser.view.clearSelection()
    browser.view.setCurrentIndex(QModelIndex())
    view = browser.view
    before = picture(browser)
    folder_rect = view.visualRect(row_of(browser, "into"))
    file_rect = view.visualRect(row_of(browser, "file.txt"))

    drag_over(browser, "into", tmp_path, enter=True)
    drag_over(browser, "into", tmp_path)
    assert view.drop_highlight is not None and view.drop_highlight.data() == "into"
    over_folder = picture(browser)
    assert differs(before, over_folder, folder_rect)  # the folder's row is drawn highlighted
    assert not differs(before, over_folder, file_rect)  # the file's row is not

    drag_over(browser, "file.txt", tmp_path)  # a drop on a file goes to the folder shown: all of it
    assert view.drop_highlight is None and view.drop_on_root
    assert differs(before, picture(browser), file_rect)

    QApplication.sendEvent(view.viewport(), QDragLeaveEvent())
    assert view.drop_highlight is None and not view.drop_on_root
    assert not differs(before, picture(browser), folder_rect)


def test_dragging_out_gives_whole_local_files(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/out/dir/sub", parents=True)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 8192)  # 2 MiB
    client.upload(big, f"{home}/out/big.bin")
    (tmp_path / "deep.txt").write_text("deep\n")
    client.upload(tmp_path / "deep.txt", f"{home}/out/dir/sub/deep.txt")
    browser = make_browser(qtbot, client, f"{home}/out")
    wait_loaded(qtbot, browser.model, rows=2)
    select_name(browser, "big.bin")
    flags = browser.view.selectionModel().SelectionFlag
    browser.view.selectionModel().select(row_of(browser, "dir"), flags.Select | flags.Rows)
    browser.transfers.throttles[1].rate = 1024 * 1024  # the download takes ~2 s: the drop must wait for it

    mime = browser.view.drag_out()
    assert isinstance(mime, DragOutMime) and URI_LIST in mime.formats() and mime.hasUrls()
    assert not mime.finished  # downloads started with the drag, not finished yet
    urls = mime.urls()  # what a drop target asks for at the drop: answered once the files are whole
    paths = sorted(Path(u.toLocalFile()) for u in urls)
    assert [p.name for p in paths] == ["big.bin", "dir"]
    assert paths[0].read_bytes() == big.read_bytes()
    assert (paths[1] / "sub" / "deep.txt").read_text() == "deep\n"
    listed = [t for t in browser.transfers.transfers if t.local.is_relative_to(mime.folder)]
    assert len(listed) == 2 and all(t.status is Status.DONE for t in listed)  # shown in the panel

    browser.transfers.throttles[1].rate = 64 * 1024
    select_name(browser, "big.bin")
    cancelled = browser.view.drag_out()  # a drag that ends without a drop
    assert isinstance(cancelled, DragOutMime)
    qtbot.waitUntil(
        lambda: any(t.status is Status.RUNNING for ts in cancelled.downloads.values() for t in ts)
    )
    cancelled.cancel()
    assert not cancelled.folder.exists()
    qtbot.waitUntil(lambda: cancelled.finished, timeout=10000)
    assert all(t.status is Status.CANCELLED for t in cancelled.downloads[f"{home}/out/big.bin"])
    browser.transfers.throttles[1].rate = None
