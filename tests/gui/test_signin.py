"""Signing out and in from the app: Settings, tray, notification; no keyring; one notice per cause."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gsdesktop.datamanager import credentials as creds
from gsdesktop.sync import SyncConfig, SyncEngine
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session
from gsdesktop.ui.wizard import FirstRunWizard
from tests.conftest import Account
from tests.gui.conftest import answer_next_dialog


def make_app(client, tmp_path: Path, remote: str | None = None, **prefs: object) -> DesktopApp:  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir(exist_ok=True)
    remote = remote or client.home
    engine = SyncEngine(
        client, local, remote, SyncConfig(poll_interval=1.0, quiet_period=0.1), state_dir=tmp_path / "state"
    )
    session = Session(
        client, engine, local, remote,
        Prefs(server_url=client.server_url, username=client.username, local_folder=str(local),
              remote_folder=remote, **prefs),  # type: ignore[arg-type]
        prefs_path=tmp_path / "desktop.json",
    )  # fmt: skip
    app = DesktopApp(session, use_tray=False)
    return app


def close_app(app: DesktopApp) -> None:
    app.close_windows()
    app.bridge.detach()
    app.runner.shutdown(10000)
    app.transfer_runner.shutdown(10000)
    app.engine.close()


def test_sign_out_button_asks_then_forgets_the_account_and_quits(  # type: ignore[no-untyped-def]
    qtbot, client, memory_keyring, tmp_home, tmp_path
) -> None:
    creds.set_keyring_password(client.server_url, client.username, "secret-pw")
    creds.write_sso(client.username, "a-token")
    app = make_app(client, tmp_path)
    quitting: list[bool] = []
    app.quitting.connect(lambda: quitting.append(True))
    dialog = app.show_settings()
    seen = answer_next_dialog(qtbot, "Yes")
    dialog.sign_out_button.click()  # a real click: clicked(bool) must not be taken for "don't confirm"
    qtbot.waitUntil(lambda: bool(quitting), timeout=15000)
    assert seen and "Sign out" in seen[0]
    assert creds.get_keyring_password(client.server_url, client.username) is None
    assert creds.read_sso() is None
    assert Prefs.load(app.session.prefs_path).username == ""
    close_app(app)


def test_sign_out_cancelled_keeps_everything(qtbot, client, memory_keyring, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    creds.set_keyring_password(client.server_url, client.username, "secret-pw")
    app = make_app(client, tmp_path)
    dialog = app.show_settings()
    seen = answer_next_dialog(qtbot, "No")
    dialog.sign_out_button.click()
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    qtbot.wait(300)
    assert not app._quitting
    assert creds.get_keyring_password(client.server_url, client.username) == "secret-pw"
    close_app(app)


def stop_notices(app: DesktopApp) -> list[tuple[str, str]]:
    return [n for n in app.notifications if n[0] == "Sync stopped"]


def test_rejected_sign_in_is_told_once_then_signing_in_from_the_tray_resumes_sync(  # type: ignore[no-untyped-def]
    qtbot, account, memory_keyring, tmp_home, tmp_path
) -> None:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.sync.events import ProblemKind, SyncState

    reference = DataManagerClient(account.server_url, account.username, account.password)
    remote = f"{reference.home}/synced"
    reference.mkdir(remote)
    stale = DataManagerClient(account.server_url, account.username, "an-old-password")  # rejected
    app = make_app(stale, tmp_path, remote)
    (app.local_root / "waiting.txt").write_bytes(b"made while signed out\n")
    app.start()
    try:
        rejected = lambda: app.reason is ProblemKind.AUTH and app.state is SyncState.ERROR  # noqa: E731
        qtbot.waitUntil(rejected, timeout=30000)
        assert app.display_state() == "error"
        assert "Sign in" in app.status_text()
        # more cycles fail the same way (poll interval 1 s): still one notification, not one per cycle
        cycles = len(app.notifications)
        held = []  # ... and the state holds steady meanwhile: no "Syncing…" at each retry's scan
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            held.append((app.display_state(), "Sign in…" in app.menu_texts()))
            qtbot.wait(20)
        assert set(held) == {("error", True)}, held
        assert len(stop_notices(app)) == 1, app.notifications
        assert len(app.notifications) == cycles
        # the tray menu and the status window offer "Sign in…"
        assert "Sign in…" in app.menu_texts()
        assert app.status_window is not None and app.status_window.buttons["sign_in"].isVisible()
        # clicking the notification opens the dialog too
        app.on_message_clicked()
        dialog = app.sign_in_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.server.text() == account.server_url and dialog.username.text() == account.username
        dialog.password.setText("still-wrong")
        dialog.buttons.accepted.emit()
        qtbot.waitUntil(lambda: "Wrong" in dialog.status.text(), timeout=20000)
        assert dialog.isVisible()  # stays open after a rejected password
        dialog.password.setText(account.password)
        dialog.buttons.accepted.emit()
        qtbot.waitUntil(lambda: app.sign_in_dialog is None, timeout=20000)
        # sync resumes by itself: the file made while signed out reaches the server
        qtbot.waitUntil(lambda: reference.exists(f"{remote}/waiting.txt"), timeout=30000)
        qtbot.waitUntil(lambda: app.display_state() == "idle", timeout=30000)
        assert "Sign in…" not in app.menu_texts()
        assert creds.get_keyring_password(account.server_url, account.username) == account.password
    finally:
        app.quit()
        qtbot.waitUntil(lambda: not app.runner.in_flight, timeout=30000)
        close_app(app)
        reference.close()


def test_settings_offers_sign_in(qtbot, client, memory_keyring, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(client, tmp_path)
    dialog = app.show_settings()
    dialog.sign_in_button.click()
    assert app.sign_in_dialog is not None and app.sign_in_dialog.isVisible()
    assert app.sign_in_dialog.username.text() == client.username
    app.sign_in_dialog.reject()
    qtbot.waitUntil(lambda: app.sign_in_dialog is None, timeout=5000)
    close_app(app)


def wizard_to_account_page(qtbot: QtBot, account: Account) -> FirstRunWizard:

    wizard = FirstRunWizard(Prefs())
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.server.custom.setChecked(True)
    wizard.server.url.setText(account.server_url)
    wizard.next()
    assert wizard.currentPage() is wizard.account
    wizard.account.username.setText(account.username)
    wizard.account.password.setText(account.password)
    return wizard


def test_no_keyring_the_wizard_says_so_and_keeps_the_password_in_a_private_file(  # type: ignore[no-untyped-def]
    qtbot, account, no_keyring, tmp_home
) -> None:
    from gsdesktop.ui.launch import _client_for
    from gsdesktop.ui.prefs import password_file

    wizard = wizard_to_account_page(qtbot, account)
    page = wizard.account
    assert "no system keyring" in page.subTitle()
    assert page.storage.warning.isVisible() and "no system keyring" in page.storage.warning.text()
    assert not page.storage.remember.isVisible()  # no promise of a keyring that is not there
    assert page.storage.ask_again.isVisible() and page.storage.use_file.isVisible()
    assert "not encrypted" in page.storage.use_file.text()
    assert page.storage.file_label.isVisible() and str(password_file()) in page.storage.file_label.text()
    page.storage.use_file.setChecked(True)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.folders, timeout=30000)
    path = password_file()
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    assert "kept, not encrypted" in page.status.text()
    # the next start finds it (no keyring, no environment password)
    client = _client_for(account.server_url, account.username)
    assert client.login()
    client.close()


def test_no_keyring_ask_again_stores_nothing_and_says_so(qtbot, account, no_keyring, tmp_home) -> None:  # type: ignore[no-untyped-def]
    from gsdesktop.datamanager.errors import CredentialsUnavailableError
    from gsdesktop.ui.launch import _client_for
    from gsdesktop.ui.prefs import password_file

    wizard = wizard_to_account_page(qtbot, account)
    assert wizard.account.storage.ask_again.isChecked()  # the default: nothing written
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.folders, timeout=30000)
    assert "asked again" in wizard.account.status.text()
    assert not password_file().exists()
    with pytest.raises(CredentialsUnavailableError):
        _client_for(account.server_url, account.username)


def test_a_start_without_a_stored_password_asks_for_it(qtbot, account, no_keyring, tmp_home) -> None:  # type: ignore[no-untyped-def]
    """The user chose "ask me again": the next start shows the sign-in dialog (not the whole wizard)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gsdesktop.ui.launch import _sign_in_at_start
    from gsdesktop.ui.signin import SignInDialog

    seen: list[str] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SignInDialog):
            QTimer.singleShot(20, answer)
            return
        seen.append(f"{dialog.server.text()} {dialog.username.text()}")
        dialog.password.setText(account.password)
        dialog.buttons.accepted.emit()

    QTimer.singleShot(0, answer)
    client = _sign_in_at_start(account.server_url, account.username)
    assert seen == [f"{account.server_url} {account.username}"]
    assert client is not None and client.token and client.list(client.home) is not None
    client.close()
