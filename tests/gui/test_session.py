"""The app's start-up and its session controller: interpreter tuning in one place, the session the app and
its dialogs share (account, preferences, sync pair, engine restarts, sign-out, quit)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from PySide6.QtCore import QUrl

from gsdesktop.datamanager import credentials as creds
from gsdesktop.sync import SyncConfig, SyncEngine
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session, SyncSetup
from gsdesktop.ui.settings import SettingsDialog


def test_a_task_runner_leaves_the_interpreter_alone_start_up_tunes_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Creating a TaskRunner (a dialog's, a model's) changes no process-wide setting; the app's start-up
    (runtime.tune_interpreter, called by ensure_qapp) sets the GIL switch interval and freezes what exists."""
    from gsdesktop.ui import runtime

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        runner = TaskRunner(1)
        runner.deleteLater()
        assert sys.getswitchinterval() == 0.005
        runtime.tune_interpreter()
        assert sys.getswitchinterval() == 0.001
        assert gc.get_freeze_count() > 0
    finally:
        sys.setswitchinterval(before)


def _session(client, tmp_path: Path, **kw: object) -> Session:  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir(exist_ok=True)
    engine = SyncEngine(
        client, local, client.home, SyncConfig(poll_interval=1.0), state_dir=tmp_path / "state"
    )
    prefs = Prefs(server_url=client.server_url, username=client.username, local_folder=str(local),
                  remote_folder=client.home)  # fmt: skip
    return Session(client, engine, local, client.home, prefs, prefs_path=tmp_path / "desktop.json", **kw)  # type: ignore[arg-type]


def test_the_settings_dialog_needs_only_the_session_no_app(  # type: ignore[no-untyped-def]
    qtbot, client, memory_keyring, tmp_home, tmp_path
) -> None:
    """No DesktopApp at all: the dialog shows the account and folders, restarts the sync through the session
    (a new engine with the new limit), asks it for the sign-in dialog, and signs out through it (the account
    forgotten, the session asked to quit)."""
    creds.set_keyring_password(client.server_url, client.username, "secret-pw")
    creds.write_sso(client.username, "a-token")
    session = _session(client, tmp_path)
    runner = TaskRunner(2)
    opened: list[QUrl] = []
    dialog = SettingsDialog(session, runner, opened.append)
    qtbot.addWidget(dialog)
    try:
        assert (
            client.username in dialog.account_label.text()
            and client.server_url in dialog.account_label.text()
        )
        assert dialog.local_edit.text() == str(session.local_root)
        qtbot.waitUntil(dialog.ignore_edit.isEnabled, timeout=10000)

        old = session.engine
        replaced: list[object] = []
        session.engine_replaced.connect(replaced.append)
        dialog.up_limit.setValue(300)
        dialog.apply()
        qtbot.waitUntil(lambda: dialog.status.text() == "Saved; sync restarted.", timeout=60000)
        assert replaced == [session.engine] and session.engine is not old
        assert session.engine.config.max_upload_bps == 300 * 1024
        assert Prefs.load(tmp_path / "desktop.json").max_upload_kbps == 300

        with qtbot.waitSignal(session.sign_in_requested, timeout=5000):
            dialog.sign_in_button.click()

        with qtbot.waitSignal(session.quit_requested, timeout=15000):
            dialog.sign_out(confirm=True)
        assert creds.get_keyring_password(client.server_url, client.username) is None
        assert creds.read_sso() is None
        assert Prefs.load(tmp_path / "desktop.json").username == ""
    finally:
        dialog.close()
        runner.shutdown(10000)
        session.runner.shutdown(10000)
        session.engine.close()


def test_a_failed_restart_is_told_and_the_app_keeps_running(qtbot, client, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The engine factory fails (here: the new local folder cannot be made a sync folder): the app says
    "Sync could not restart" with the reason; nothing is lost, the app stays up."""

    def refuse(setup: SyncSetup) -> SyncEngine:
        raise OSError(f"cannot sync {setup.local_root}: read-only file system")

    session = _session(client, tmp_path, engine_factory=refuse)
    app = DesktopApp(session, use_tray=False)
    old = session.engine
    try:
        session.prefs.max_upload_kbps = 100
        with qtbot.waitSignal(session.restart_failed, timeout=30000):
            app.restart_sync()
        qtbot.waitUntil(
            lambda: any(t == "Sync could not restart" for t, _m in app.notifications), timeout=5000
        )
        message = next(m for t, m in app.notifications if t == "Sync could not restart")
        assert "read-only file system" in message
        assert session.engine is old  # the failed restart did not install anything
    finally:
        app.close_windows()
        app.runner.shutdown(10000)
        app.transfer_runner.shutdown(10000)
        session.runner.shutdown(10000)
        old.close()
