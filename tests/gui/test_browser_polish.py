"""Issue 18 polish: keyboard (Enter opens, Shift+F10 menu, Escape clears the filter), natural sort, link
lifetime, what delete and new folder say, new/renamed items selected, Activity words."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtWidgets import QApplication, QInputDialog, QMenu

from gsdesktop.sync.events import ActionKind
from gsdesktop.ui.activity import action_label
from gsdesktop.ui.browser_parts import link_lifetime
from tests.gui.test_browser import make_browser, names, select_name, wait_loaded


def test_every_activity_kind_reads_as_words() -> None:
    for kind in ActionKind:
        label = action_label(kind)
        assert "_" not in label and label != kind.value, kind


def test_names_sort_naturally(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/nat")
    src = tmp_path / "x.txt"
    src.write_text("x")
    for n in ("sample10.txt", "sample2.txt", "Sample1.txt", "sample1b.txt"):
        client.upload(src, f"{home}/nat/{n}")
    browser = make_browser(qtbot, client, f"{home}/nat")
    wait_loaded(qtbot, browser.model, rows=4)
    assert names(browser.model) == ["Sample1.txt", "sample1b.txt", "sample2.txt", "sample10.txt"]


def test_enter_opens_shift_f10_menu_escape_clears(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/keys/inner", parents=True)
    src = tmp_path / "notes.txt"
    src.write_text("hello")
    client.upload(src, f"{home}/keys/notes.txt")
    browser = make_browser(qtbot, client, f"{home}/keys")
    opened: list[QUrl] = []
    browser.open_url = opened.append
    wait_loaded(qtbot, browser.model, rows=2)
    browser.activateWindow()
    browser.view.setFocus()
    # Escape in the filter box clears it
    browser.filter_box.setFocus()
    qtbot.keyClicks(browser.filter_box, "inn")
    assert browser.model.name_filter == "inn"
    qtbot.keyClick(browser.filter_box, Qt.Key.Key_Escape)
    assert browser.filter_box.text() == "" and browser.model.name_filter == ""
    # Shift+F10 opens the context menu for the current row
    select_name(browser, "notes.txt")
    browser.view.setFocus()
    menus: list[list[str]] = []

    def grab() -> None:
        popup = QApplication.activePopupWidget()
        if isinstance(popup, QMenu):
            menus.append([a.text() for a in popup.actions()])
            popup.close()

    QTimer.singleShot(300, grab)
    qtbot.keyClick(browser.view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: bool(menus), timeout=5000)
    assert "Download…" in menus[0]
    # Enter on a file opens it (downloaded for viewing, then handed to the desktop)
    qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(opened), timeout=30000)
    assert Path(opened[0].toLocalFile()).read_text() == "hello"
    # Enter on a folder opens it
    select_name(browser, "inner")
    qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    assert browser.model.root_path == f"{home}/keys/inner"


def test_link_lifetime_is_read_from_the_link() -> None:
    assert link_lifetime("https://s3/b/k?X-Amz-Algorithm=x&X-Amz-Expires=3600&X-Amz-Signature=s") == 3600
    soon = int(time.time()) + 600
    assert abs((link_lifetime(f"https://s3/b/k?AWSAccessKeyId=a&Expires={soon}&Signature=s") or 0) - 600) <= 2
    assert link_lifetime("https://example.org/file") is None


def test_copy_link_says_how_long_it_works(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/link")
    src = tmp_path / "l.txt"
    src.write_text("l")
    client.upload(src, f"{home}/link/l.txt")
    browser = make_browser(qtbot, client, f"{home}/link")
    wait_loaded(qtbot, browser.model, rows=1)
    select_name(browser, "l.txt")
    browser.copy_link()
    qtbot.waitUntil(lambda: "Link copied" in browser.statusBar().currentMessage(), timeout=30000)
    message = browser.statusBar().currentMessage()
    assert "works for" in message and "a while" not in message, message


def test_new_folder_says_where_and_new_or_renamed_items_are_selected(qtbot, client) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/made")
    browser = make_browser(qtbot, client, f"{home}/made")
    wait_loaded(qtbot, browser.model)
    labels: list[str] = []

    def ask(_title: str, label: str, value: str) -> str:
        labels.append(label)
        return "results-2024"

    browser.ask_text = ask
    browser.new_folder_dialog()
    assert f"{home}/made" in labels[0]  # says where the folder goes
    qtbot.waitUntil(lambda: [m.name for m in browser.selected()] == ["results-2024"], timeout=30000)
    browser.rename(browser.selected()[0], "results-2025")
    qtbot.waitUntil(lambda: [m.name for m in browser.selected()] == ["results-2025"], timeout=30000)


def test_rename_preselects_the_stem(qtbot, client) -> None:  # type: ignore[no-untyped-def]
    browser = make_browser(qtbot, client)
    seen: list[str] = []

    def check() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QInputDialog):
            from PySide6.QtWidgets import QLineEdit

            edit = dialog.findChild(QLineEdit)
            assert edit is not None
            seen.append(edit.selectedText())
            dialog.reject()

    QTimer.singleShot(300, check)
    assert browser.ask_text("Rename", "New name:", "reads.fastq.gz") is None  # the real dialog
    assert seen == ["reads"]


def test_delete_says_the_synced_local_copy_goes_to_the_trash(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/synced/d", parents=True)
    browser = make_browser(qtbot, client, f"{home}/synced")
    browser.synced_root = f"{home}/synced"  # what the app tells the browser
    wait_loaded(qtbot, browser.model, rows=1)
    texts: list[str] = []

    def confirm(_title: str, text: str) -> bool:
        texts.append(text)
        return False  # answer Cancel

    browser.confirm = confirm
    select_name(browser, "d")
    browser.delete_selected()
    assert "trash" in texts[0] and "this computer" in texts[0], texts[0]
    browser.synced_root = None
    browser.delete_selected()
    assert "trash" not in texts[1]


def test_replace_question_for_one_file_has_no_stray_checkbox(qtbot, client) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QCheckBox, QMessageBox

    browser = make_browser(qtbot, client)
    seen: list[list[str]] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append([c.text() for c in box.findChildren(QCheckBox) if c.isVisible()])
            next(b for b in box.buttons() if b.text() == "&Skip").click()

    QTimer.singleShot(300, answer)
    assert browser.ask_replace("peaks.bed", 1) == ("skip", False)
    assert seen == [[]]  # one clash: no "do this for the others" box drawn over the text
    QTimer.singleShot(300, answer)
    browser.ask_replace("peaks.bed", 3)
    assert seen[1] == ["Do this for the other 2 item(s)"]


def test_shift_f10_on_an_unselected_current_row_selects_it(qtbot, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/cur")
    src = tmp_path / "c.txt"
    src.write_text("c")
    client.upload(src, f"{home}/cur/c.txt")
    browser = make_browser(qtbot, client, f"{home}/cur")
    wait_loaded(qtbot, browser.model, rows=1)
    browser.view.selectionModel().setCurrentIndex(
        browser.model.index(0, 0), browser.view.selectionModel().SelectionFlag.NoUpdate
    )
    enabled: list[bool] = []
    deadline = time.monotonic() + 5

    def grab() -> None:  # looks at the menu once it is up (a loaded machine shows it later)
        popup = QApplication.activePopupWidget()
        actions = [a for a in popup.actions() if a.text() == "Download…"] if isinstance(popup, QMenu) else []
        if actions and (actions[0].isEnabled() or time.monotonic() > deadline):
            enabled.append(actions[0].isEnabled())
            popup.close()  # type: ignore[union-attr]
        elif time.monotonic() < deadline + 1:
            QTimer.singleShot(50, grab)

    QTimer.singleShot(100, grab)
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: bool(enabled), timeout=5000)
    qtbot.keyRelease(browser.view, Qt.Key.Key_Shift)  # Qt keeps Shift as held until a key event without it
    assert enabled == [True]  # the menu acts on the row it points at


def test_folder_modified_is_not_the_listing_time_and_download_as_names_formats(  # type: ignore[no-untyped-def]
    qtbot, client, tmp_path: Path
) -> None:
    home = client.home
    client.mkdir(f"{home}/fmt/implicit-parent/child", parents=True)
    src = tmp_path / "notes.txt"
    src.write_text("Some Text\n")
    client.upload(src, f"{home}/fmt/notes.txt")
    browser = make_browser(qtbot, client, f"{home}/fmt")
    wait_loaded(qtbot, browser.model, rows=2)
    shown = {browser.model.data(browser.model.index(r, 0)): r for r in range(2)}
    folder_row, file_row = shown["implicit-parent"], shown["notes.txt"]
    assert browser.model.data(browser.model.index(folder_row, 2)) == ""  # no made-up time for a folder
    assert browser.model.data(browser.model.index(file_row, 2)) != ""
    select_name(browser, "notes.txt")
    browser.download_as_menu.aboutToShow.emit()
    texts = [a.text() for a in browser.download_as_menu.actions()]
    assert any("Text converted to lower case" in t for t in texts), texts


def test_problems_tab_says_when_there_are_none(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gsdesktop.sync.events import SyncProblem
    from gsdesktop.ui.activity import ActivityModel, ActivityWindow, ProblemsModel

    problems = ProblemsModel()
    window = ActivityWindow(ActivityModel(), problems, tmp_path, lambda: None)
    qtbot.addWidget(window)
    window.show()
    window.show_problems()
    assert window.no_problems_label.isVisible() and "No problems" in window.no_problems_label.text()
    assert not window.problems_view.isVisible() and not window.retry_button.isEnabled()
    problems.set_problems([SyncProblem("a.txt", "Permission denied", None)])
    assert window.problems_view.isVisible() and not window.no_problems_label.isVisible()
    assert window.retry_button.isEnabled()
