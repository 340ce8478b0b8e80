"""The Conflicts tab keeps its selection across refreshes, the tray has a Conflicts entry, versions are
labelled by origin with time and size, and "Open both" says when a file could not be opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gsdesktop.sync.conflicts import Conflict
from gsdesktop.ui.activity import ActivityModel, ActivityWindow, ProblemsModel
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.conflicts import ConflictsModel, versions
from tests.gui.test_app import both_sides_change_while_paused, desktop  # noqa: F401  (the fixture)


def settle_nothing(_chosen: list[Conflict], _keep: object) -> None:
    pass


def test_selection_survives_refreshes_and_the_tray_leads_to_conflicts(  # type: ignore[no-untyped-def]
    qtbot,
    desktop: DesktopApp,  # noqa: F811  (the fixture imported above)
    client,
    tmp_path,
) -> None:
    both_sides_change_while_paused(qtbot, desktop, client, tmp_path)
    qtbot.waitUntil(lambda: desktop.conflicts.rowCount() == 1, timeout=90000)
    # the tray menu (and the status window) has a Conflicts entry
    assert "Conflicts (1)" in desktop.menu_texts()
    assert desktop.status_window is not None and desktop.status_window.buttons["conflicts"].isVisible()
    desktop.conflicts_action.trigger()
    window = desktop.activity_window
    assert window is not None and window.tabs.currentIndex() == 2
    # looking at it does not turn the icon green while the conflict is still open
    window.show_activity()
    assert desktop.display_state() == "conflict"
    page = window.conflicts_page
    assert page is not None
    page.view.selectRow(0)
    assert page.copy_button.isEnabled()
    cycles = desktop.last_sync
    qtbot.waitUntil(lambda: desktop.last_sync != cycles, timeout=30000)  # sync cycles refresh the list
    qtbot.wait(2500)  # and a few more (poll interval 1 s)
    assert [i.row() for i in page.view.selectionModel().selectedRows()] == [0]
    assert page.copy_button.isEnabled() and page.original_button.isEnabled()
    # versions by origin, with time and size
    model = desktop.conflicts
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[1] == "Your version (conflicted copy)" and headers[2] == "Server's version"
    mine, theirs = model.data(model.index(0, 1)), model.data(model.index(0, 2))
    assert "14 B" in mine and " — 20" in mine, mine  # "local version\n" is 14 bytes, with its date
    assert "23 B" in theirs and theirs.startswith("both.txt — 20"), theirs
    assert page.copy_button.text().replace("&", "") == "Keep your version"
    assert page.original_button.text().replace("&", "") == "Keep the server's version"


def test_a_new_conflict_keeps_the_selected_one_selected(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = ConflictsModel()
    window = ActivityWindow(ActivityModel(), ProblemsModel(), tmp_path, lambda: None, model, settle_nothing)
    qtbot.addWidget(window)
    a = Conflict("a.txt", "a (conflicted copy).txt", 1.0)
    b = Conflict("b.txt", "b (conflicted copy).txt", 2.0)
    model.set_conflicts([a, b])
    page = window.conflicts_page
    assert page is not None
    page.view.selectRow(1)
    model.set_conflicts([Conflict("0.txt", "0 (conflicted copy).txt", 0.5), a, b])  # b moves to row 2
    assert page.selected() == [b] and page.copy_button.isEnabled()


@pytest.mark.qt_log_ignore("Unable to detect a launcher", "This plugin does not support")  # Qt says it too
def test_open_both_says_what_could_not_be_opened(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_text("server's\n")
    (tmp_path / "a (conflicted copy).txt").write_text("mine\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))  # no xdg-open: nothing can open a file
    model = ConflictsModel()
    window = ActivityWindow(ActivityModel(), ProblemsModel(), tmp_path, lambda: None, model, settle_nothing)
    qtbot.addWidget(window)
    a = Conflict("a.txt", "a (conflicted copy).txt", 1.0)
    model.set_conflicts([a], versions(tmp_path, [a]))
    page = window.conflicts_page
    assert page is not None
    page.view.selectRow(0)
    page.open_button.click()
    assert "Could not open" in page.status.text() and "a (conflicted copy).txt" in page.status.text()
