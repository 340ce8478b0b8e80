"""Issue 18 polish: Move to… / Copy to… in the browser (a remote folder picker, the server's move and copy);
a name already in the target folder is never overwritten. Real server, SeaweedFS and threads."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from gsdesktop.ui.browser_moves import RemoteFolderDialog
from tests.gui.test_browser import make_browser, names, select_name, wait_loaded


def select_names(browser, wanted: list[str]) -> None:  # type: ignore[no-untyped-def]
    select_name(browser, wanted[0])
    model, selection = browser.model, browser.view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for r in range(model.rowCount()):
        if model.data(model.index(r, 0)) in wanted[1:]:
            selection.select(model.index(r, 0), flags)


def test_move_and_copy_to_a_folder_chosen_in_the_picker(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/mc/dst", parents=True)
    client.mkdir(f"{home}/mc/sub/inner", parents=True)
    for name, text in (("a.txt", "A"), ("b.txt", "B")):
        (tmp_path / name).write_text(text)
        client.upload(tmp_path / name, f"{home}/mc/{name}")
    client.upload(tmp_path / "a.txt", f"{home}/mc/sub/inner/deep.txt")
    browser = make_browser(qtbot, client, f"{home}/mc")
    wait_loaded(qtbot, browser.model, rows=4)
    select_names(browser, ["a.txt", "b.txt"])
    browser._update_actions()
    menu = browser.build_context_menu()
    labels = [a.text() for a in menu.actions()]
    assert "Move to…" in labels and "Copy to…" in labels
    assert browser.move_action.isEnabled() and browser.copy_action.isEnabled()

    def choose_dst() -> None:  # answer the real picker: select "dst", press "Use the selected folder"
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, RemoteFolderDialog):
            QTimer.singleShot(20, choose_dst)
            return
        model = dialog.model
        rows = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
        if "dst" not in rows:
            QTimer.singleShot(20, choose_dst)
            return
        dialog.view.setCurrentIndex(model.index(rows.index("dst"), 0))
        dialog.accept()

    QTimer.singleShot(0, choose_dst)
    browser.move_action.trigger()
    qtbot.waitUntil(lambda: names(browser.model) == ["dst", "sub"], timeout=30000)
    assert client.exists(f"{home}/mc/dst/a.txt") and client.exists(f"{home}/mc/dst/b.txt")
    assert not client.exists(f"{home}/mc/a.txt")

    # Copy a folder (recursively) with the picker hook; the original stays
    browser.pick_folder = lambda _title: f"{home}/mc/dst"
    select_name(browser, "sub")
    browser.copy_action.trigger()
    qtbot.waitUntil(lambda: client.exists(f"{home}/mc/dst/sub/inner/deep.txt"), timeout=30000)
    assert client.exists(f"{home}/mc/sub/inner/deep.txt")

    # A name already in the target is not overwritten: that item is left where it is, and it is said
    (tmp_path / "a2.txt").write_text("another a")
    client.upload(tmp_path / "a2.txt", f"{home}/mc/a.txt")
    browser.refresh()
    wait_loaded(qtbot, browser.model, rows=3)
    select_name(browser, "a.txt")
    browser.move_action.trigger()
    qtbot.waitUntil(lambda: "already" in browser.statusBar().currentMessage(), timeout=30000)
    assert client.exists(f"{home}/mc/a.txt")
    out = tmp_path / "check.txt"
    client.download(f"{home}/mc/dst/a.txt", out)
    assert out.read_text() == "A"  # the one moved first is untouched


def test_move_picker_cancel_changes_nothing(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/mcc", parents=True)
    (tmp_path / "x.txt").write_text("x")
    client.upload(tmp_path / "x.txt", f"{home}/mcc/x.txt")
    browser = make_browser(qtbot, client, f"{home}/mcc")
    wait_loaded(qtbot, browser.model, rows=1)
    select_name(browser, "x.txt")

    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(20, cancel)
            return
        dialog.reject()

    QTimer.singleShot(0, cancel)
    browser.move_action.trigger()
    qtbot.wait(300)
    assert client.exists(f"{home}/mcc/x.txt") and names(browser.model) == ["x.txt"]
