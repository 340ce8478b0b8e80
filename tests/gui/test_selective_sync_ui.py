"""Issue 18 item 13: unchecking a folder in selective sync says what happens to the local copy (keep it,
no longer synced, or move it to the trash) and excluded folders are marked in Settings and the browser."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt

from gsdesktop.sync import SyncEngine
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session
from gsdesktop.ui.settings import KEEP_LOCAL, REMOVE_LOCAL, SettingsDialog
from tests.gui.test_browser import wait_loaded


def rows(model, index: QModelIndex = QModelIndex()) -> dict[str, QModelIndex]:  # type: ignore[no-untyped-def]
    return {
        model.data(model.index(r, 0, index)): model.index(r, 0, index) for r in range(model.rowCount(index))
    }


def test_unchecking_asks_about_the_local_copy_and_removal_goes_to_the_trash(  # type: ignore[no-untyped-def]
    qtbot, client, tmp_home: Path, tmp_path: Path
) -> None:
    remote = f"{client.home}/sel"
    local = tmp_path / "sync"
    for name in ("data", "results", "other"):
        client.mkdir(f"{remote}/{name}", parents=True)
        (local / name).mkdir(parents=True)
        src = local / name / f"{name}.txt"
        src.write_text(f"{name} file\n")
        client.upload(src, f"{remote}/{name}/{name}.txt")
    engine = SyncEngine(client, local, remote, state_dir=tmp_path / "state")
    session = Session(
        client,
        engine,
        local,
        remote,
        Prefs(server_url=client.server_url, username=client.username),
        prefs_path=tmp_path / "desktop.json",
    )
    app = DesktopApp(session, use_tray=False)
    try:
        dialog = app.show_settings()
        assert isinstance(dialog, SettingsDialog)
        asked: list[str] = []
        answers = {"data": REMOVE_LOCAL, "results": KEEP_LOCAL, "other": None}  # None = Cancel

        def answer(rel: str) -> str | None:
            asked.append(rel)
            return answers[rel]

        dialog.ask_local_copy = answer
        model = dialog.selective_model
        model.fetchMore(QModelIndex())
        qtbot.waitUntil(lambda: set(rows(model)) == {"data", "results", "other"}, timeout=30000)
        check = Qt.ItemDataRole.CheckStateRole
        for name in ("data", "results", "other"):
            model.setData(rows(model)[name], Qt.CheckState.Unchecked, check)
        assert asked == ["data", "results", "other"]
        assert model.excluded == {"data", "results"}  # Cancel kept "other" synced
        assert model.data(rows(model)["other"], check) == Qt.CheckState.Checked
        tip = model.data(rows(model)["results"], Qt.ItemDataRole.ToolTipRole)
        assert "not synced" in tip.lower()  # marked in the settings list
        assert (local / "data").exists()  # nothing moves before the settings are applied
        dialog.apply()
        qtbot.waitUntil(lambda: not (local / "data").exists(), timeout=60000)
        qtbot.waitUntil(lambda: dialog.status.text().startswith("Saved; sync restarted"), timeout=60000)
        trash = tmp_home / ".local/share/Trash/files"
        assert (trash / "data" / "data.txt").read_text() == "data file\n"  # in the OS trash, not gone
        assert (local / "results" / "results.txt").exists()  # kept
        assert client.metadata(f"{remote}/data/data.txt").size == len("data file\n")  # server untouched
        assert app.prefs.excluded_remote_folders == ["data", "results"]
        # the browser marks the folders this computer does not sync
        browser = app.show_browser()
        browser.navigate(remote)
        wait_loaded(qtbot, browser.model)
        shown = rows(browser.model)
        assert "not synced" in browser.model.data(shown["results"], Qt.ItemDataRole.ToolTipRole).lower()
        assert browser.model.data(shown["results"], Qt.ItemDataRole.FontRole).italic()
        assert "not synced" not in browser.model.data(shown["other"], Qt.ItemDataRole.ToolTipRole).lower()
        dialog.close()
    finally:
        app.close_windows()
        app.bridge.detach()
        app.runner.shutdown(10000)
        app.engine.close()


def test_settings_has_browse_for_the_local_folder_and_says_the_version(  # type: ignore[no-untyped-def]
    qtbot, client, tmp_home: Path, tmp_path: Path
) -> None:
    import gsdesktop

    local = tmp_path / "sync"
    local.mkdir()
    engine = SyncEngine(client, local, client.home, state_dir=tmp_path / "state")
    app = DesktopApp(Session(client, engine, local, client.home, Prefs()), use_tray=False)
    try:
        dialog = app.show_settings()
        chosen = tmp_path / "elsewhere"
        dialog.choose_folder = lambda start: str(chosen) if start == str(local) else ""
        dialog.browse_button.click()
        assert dialog.local_edit.text() == str(chosen)
        assert gsdesktop.__version__ in dialog.about_label.text()
        dialog.close()
    finally:
        app.close_windows()
        app.bridge.detach()
        app.runner.shutdown(10000)
        app.engine.close()
