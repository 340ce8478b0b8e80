"""Issue 18 polish of Settings and the demo: the sync mode choice, Browse for both folders, About with
the version; the demo keeps its settings between runs and its "Start at login" starts the demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from gsdesktop import __version__
from gsdesktop.logfiles import stop_file_log
from gsdesktop.sync import SyncEngine, SyncMode
from gsdesktop.ui import autostart
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.browser_moves import RemoteFolderDialog
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session
from gsdesktop.ui.settings import SettingsDialog


@pytest.fixture
def app_and_dialog(qtbot, client, tmp_home: Path, tmp_path: Path, memory_keyring):  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir()
    engine = SyncEngine(client, local, client.home, state_dir=tmp_path / "state")
    prefs = Prefs(server_url=client.server_url, username=client.username)
    session = Session(client, engine, local, client.home, prefs, prefs_path=tmp_path / "desktop.json")
    app = DesktopApp(session, use_tray=False)
    dialog = app.show_settings()
    assert isinstance(dialog, SettingsDialog)
    yield app, dialog
    dialog.close()
    app.close_windows()
    app.bridge.detach()
    app.runner.shutdown(10000)
    app.engine.close()


def test_sync_mode_is_chosen_in_settings_and_kept(qtbot, app_and_dialog) -> None:  # type: ignore[no-untyped-def]
    app, dialog = app_and_dialog
    box = dialog.mode_box
    modes = [box.itemData(i) for i in range(box.count())]
    assert modes == [m.value for m in SyncMode]  # every mode the engine has
    assert box.currentData() == SyncMode.TWO_WAY.value
    box.setCurrentIndex(modes.index(SyncMode.UPLOAD_ONLY.value))
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.status.text() == "Saved; sync restarted.", timeout=60000)
    assert app.engine.config.mode is SyncMode.UPLOAD_ONLY  # the running engine uses it
    assert Prefs.load(app.session.prefs_path).sync_mode == SyncMode.UPLOAD_ONLY.value
    again = SettingsDialog(app.session, app.runner, app.open_url)
    qtbot.addWidget(again)
    assert again.mode_box.currentData() == SyncMode.UPLOAD_ONLY.value


def test_settings_browse_both_folders_and_about_says_the_version(qtbot, client, app_and_dialog) -> None:  # type: ignore[no-untyped-def]
    _app, dialog = app_and_dialog
    assert __version__ in dialog.about_label.text()
    dialog.choose_folder = lambda _start: "/tmp/picked-local"
    dialog.browse_button.click()
    assert dialog.local_edit.text() == "/tmp/picked-local"
    client.mkdir(f"{client.home}/picked", parents=True)

    def choose() -> None:  # the real remote picker: select "picked" and accept
        picker = QApplication.activeModalWidget()
        if not isinstance(picker, RemoteFolderDialog):
            QTimer.singleShot(20, choose)
            return
        model = picker.model
        rows = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
        if "picked" not in rows:
            QTimer.singleShot(20, choose)
            return
        picker.view.setCurrentIndex(model.index(rows.index("picked"), 0))
        picker.accept()

    QTimer.singleShot(0, choose)
    dialog.remote_browse_button.click()
    assert dialog.remote_edit.text() == f"{client.home}/picked"


def test_start_at_login_in_the_demo_starts_the_demo(qtbot, app_and_dialog, tmp_home: Path) -> None:  # type: ignore[no-untyped-def]
    app, dialog = app_and_dialog
    data = tmp_home / "demo data"
    app.session.autostart_command = autostart.launch_command(["demo", "--data-dir", str(data)])
    dialog.autostart_box.setChecked(True)
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Saved"), timeout=60000)
    entry = autostart.autostart_path("linux")
    assert entry is not None and entry.exists()
    exec_line = next(ln for ln in entry.read_text().splitlines() if ln.startswith("Exec="))
    assert f'-m gsdesktop demo --data-dir "{data}"' in exec_line, exec_line
    autostart.set_enabled(False, "linux")


def test_the_demo_keeps_its_settings_and_logs_in_as_the_demo(  # type: ignore[no-untyped-def]
    qtbot, tmp_home: Path, tmp_path: Path, monkeypatch
) -> None:
    """What the user set in the demo's Settings is what the next `gsdesktop demo` runs with."""
    import gsdesktop.ui.launch as launch

    data = tmp_path / "data"
    data.mkdir()
    elsewhere = tmp_path / "my demo folder"
    Prefs(
        poll_interval=42.0, local_folder=str(elsewhere), remote_folder="/users/demo/demo-data",
        sync_mode=SyncMode.DOWNLOAD_ONLY.value, max_upload_kbps=64, excluded_remote_folders=["x"],
    ).save(data / "desktop.json")  # fmt: skip
    seen = []

    def run_app(setup, single=None):  # type: ignore[no-untyped-def]  # the event loop is not the point here
        seen.append(setup)
        if single is not None:
            single.close()
        setup.client.close()
        return 0

    monkeypatch.setattr(launch, "run_app", run_app)
    args = argparse.Namespace(data_dir=str(data), folder=None, port=0, poll_interval=None)
    try:
        assert launch.launch_demo(args) == 0
    finally:
        stop_file_log()  # launch_demo started the demo's log file
    [setup] = seen
    assert setup.prefs.poll_interval == 42.0
    assert setup.local_root == elsewhere and setup.remote_root == "/users/demo/demo-data"
    assert setup.prefs.sync_mode == SyncMode.DOWNLOAD_ONLY.value and setup.prefs.max_upload_kbps == 64
    assert setup.prefs.excluded_remote_folders == ["x"]
    assert setup.prefs_path == data / "desktop.json"
    assert setup.autostart_command == [sys.executable, "-m", "gsdesktop", "demo", "--data-dir", str(data)]


def test_sizes_and_rates_use_one_unit_system(qtbot, app_and_dialog) -> None:  # type: ignore[no-untyped-def]
    """Sizes are counted in 1024s, so they are labelled KiB/MiB/GiB everywhere, the bandwidth limit too."""
    from gsdesktop.ui.formatting import human_size

    _app, dialog = app_and_dialog
    assert [human_size(n) for n in (512, 1536, 5 * 1024**2, 3 * 1024**3)] == [
        "512 B", "1.5 KiB", "5.0 MiB", "3.0 GiB"
    ]  # fmt: skip
    assert dialog.up_limit.suffix() == " KiB/s" and dialog.down_limit.suffix() == " KiB/s"
