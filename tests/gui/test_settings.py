"""Settings dialog, selective sync tree, start at login, preferences, single instance, first-run wizard."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QWizard

from gsdesktop.sync import SyncEngine
from gsdesktop.ui import autostart
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.runtime import SingleInstance
from gsdesktop.ui.session import Session
from gsdesktop.ui.settings import SelectiveSyncModel, SettingsDialog


@pytest.fixture(autouse=True)
def null_keyring():  # type: ignore[no-untyped-def]
    """Never touch the real keyring: an in-memory backend for the whole test."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # keyring ships no types
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_prefs_roundtrip_and_damaged_file(tmp_home: Path) -> None:
    prefs = Prefs(
        server_url="http://x",
        username="u",
        local_folder="/l",
        remote_folder="/users/u",
        excluded_remote_folders=["big"],
        max_upload_kbps=100,
    )
    prefs.save()
    again = Prefs.load()
    assert again == prefs and again.configured
    assert "password" not in Prefs.path().read_text()
    Prefs.path().write_text("{not json")
    assert Prefs.load() == Prefs()


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_autostart_entries(tmp_home: Path, platform: str) -> None:
    assert not autostart.is_enabled(platform)
    autostart.set_enabled(True, platform)
    path = autostart.autostart_path(platform)
    assert path is not None and path.exists() and autostart.is_enabled(platform)
    if platform == "darwin":
        data = plistlib.loads(path.read_bytes())
        assert data["RunAtLoad"] is True and data["ProgramArguments"][-1] == "gui"
        assert path.parent == tmp_home / "Library" / "LaunchAgents"
    else:
        text = path.read_text()
        assert "[Desktop Entry]" in text and "gsdesktop gui" in text
        assert path.parent == tmp_home / ".config" / "autostart"
    autostart.set_enabled(False, platform)
    assert not path.exists()


def test_single_instance_raises_the_first(qtbot, tmp_home: Path) -> None:  # type: ignore[no-untyped-def]
    first = SingleInstance("gsdesktop-test-" + tmp_home.name)
    assert not first.notify_running(200)  # nobody listening yet
    assert first.listen()
    second = SingleInstance(first.name)
    with qtbot.waitSignal(first.raise_requested, timeout=5000):
        assert second.notify_running()
    first.close()


def test_selective_sync_model(qtbot, qtmodeltester, client, runner) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    for d in ("keep/sub", "skip/inner", "other"):
        client.mkdir(f"{home}/{d}", parents=True)
    model = SelectiveSyncModel(client, runner, home, ["skip"])
    model.fetchMore(QModelIndex())
    qtbot.waitUntil(
        lambda: model.rowCount() == 3 and model.data(model.index(0, 0)) != "Loading…", timeout=30000
    )
    qtmodeltester.check(model)
    rows = {model.data(model.index(r, 0)): model.index(r, 0) for r in range(model.rowCount())}
    assert set(rows) == {"keep", "other", "skip"}  # folders only
    check = Qt.ItemDataRole.CheckStateRole
    assert model.data(rows["skip"], check) == Qt.CheckState.Unchecked
    assert model.data(rows["keep"], check) == Qt.CheckState.Checked
    assert model.flags(rows["keep"]) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.setData(rows["keep"], Qt.CheckState.Unchecked, check)
    assert model.setData(rows["skip"], Qt.CheckState.Checked, check)
    assert model.excluded == {"keep"}


def test_settings_dialog_applies(qtbot, client, tmp_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir()
    (local / ".gsignore").write_text("*.tmp\n")
    engine = SyncEngine(client, local, client.home, state_dir=tmp_path / "state")
    prefs_path = tmp_path / "desktop.json"
    session = Session(
        client,
        engine,
        local,
        client.home,
        Prefs(server_url=client.server_url, username=client.username),
        prefs_path=prefs_path,
    )
    app = DesktopApp(session, use_tray=False)
    dialog = app.show_settings()
    assert isinstance(dialog, SettingsDialog)
    qtbot.waitUntil(lambda: dialog.ignore_edit.isEnabled(), timeout=10000)
    assert dialog.ignore_edit.toPlainText() == "*.tmp\n"
    assert client.username in dialog.account_label.text()
    dialog.ignore_edit.setPlainText("*.tmp\n*.bam.bai")
    dialog.up_limit.setValue(512)
    dialog.autostart_box.setChecked(True)
    dialog.notify_box.setChecked(False)
    # keyboard: every tab is reachable and the tab widget takes focus
    assert dialog.tabs.count() == 5 and dialog.tabs.focusPolicy() != Qt.FocusPolicy.NoFocus
    old_engine = app.engine
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.status.text() == "Saved; sync restarted.", timeout=60000)
    assert app.engine is not old_engine  # bandwidth changed: a new engine with the new limits runs
    assert app.engine.config.max_upload_bps == 512 * 1024
    assert (local / ".gsignore").read_text() == "*.tmp\n*.bam.bai\n"
    saved = Prefs.load(prefs_path)
    assert saved.max_upload_kbps == 512 and saved.notifications is False and saved.start_at_login
    assert autostart.is_enabled("linux")
    autostart.set_enabled(False, "linux")
    dialog.close()
    app.close_windows()
    app.bridge.detach()
    app.runner.shutdown(10000)
    app.engine.close()


def test_first_run_wizard_signs_in_and_stores_password(qtbot, account, null_keyring, tmp_home) -> None:  # type: ignore[no-untyped-def]
    from gsdesktop.datamanager import credentials as creds
    from gsdesktop.ui.wizard import FirstRunWizard

    wizard = FirstRunWizard(Prefs())
    qtbot.addWidget(wizard)
    wizard.show()
    assert wizard.server.demo.isChecked()  # default: the local demo server
    wizard.server.custom.setChecked(True)
    wizard.server.url.setText(account.server_url)
    wizard.next()
    assert wizard.currentPage() is wizard.account
    wizard.account.username.setText(account.username)
    wizard.account.password.setText("wrong")
    wizard.next()
    qtbot.waitUntil(
        lambda: "Wrong" in wizard.account.status.text() or "password" in wizard.account.status.text(),
        timeout=30000,
    )
    assert wizard.currentPage() is wizard.account
    wizard.account.password.setText(account.password)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.folders, timeout=30000)
    assert wizard.folders.remote.text() == f"/users/{account.username}"
    assert wizard.folders.local.text().endswith("GenomeSpace")
    assert creds.get_keyring_password(account.server_url, account.username) == account.password
    wizard.button(QWizard.WizardButton.FinishButton).click()
    setup = wizard.result_setup()
    assert setup is not None and setup.remote_root == f"/users/{account.username}"
    saved = Prefs.load()
    assert saved.username == account.username and saved.configured
    assert account.password not in Prefs.path().read_text()


def test_open_log_folder_opens_the_folder_the_log_files_are_in(qtbot, client, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QUrl

    from gsdesktop.logfiles import start_file_log, stop_file_log

    path = start_file_log("desktop")
    try:
        engine = SyncEngine(client, tmp_path / "sync", client.home, state_dir=tmp_path / "state")
        app = DesktopApp(Session(client, engine, tmp_path / "sync", client.home, Prefs()), use_tray=False)
        opened: list[QUrl] = []
        app.open_url = opened.append
        dialog = app.show_settings()
        dialog.log_button.click()
        qtbot.waitUntil(lambda: bool(opened), timeout=10000)
        app.notify("Test", "a notification is logged")
    finally:
        stop_file_log()
    assert path is not None and Path(opened[0].toLocalFile()) == path.parent
    assert "a notification is logged" in path.read_text()
    app.close_windows()
    app.runner.shutdown(10000)
    engine.close()
