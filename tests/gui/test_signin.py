"""Signing out and in from the app: Settings, tray, notification; no keyring; one notice per cause."""

from __future__ import annotations

from pathlib import Path

from gsdesktop.datamanager import credentials as creds
from gsdesktop.sync.engine import SyncConfig, SyncEngine
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.prefs import Prefs
from tests.gui.conftest import answer_next_dialog


def make_app(client, tmp_path: Path, remote: str | None = None, **prefs: object) -> DesktopApp:  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir(exist_ok=True)
    remote = remote or client.home
    engine = SyncEngine(
        client, local, remote, SyncConfig(poll_interval=1.0, quiet_period=0.1), state_dir=tmp_path / "state"
    )
    app = DesktopApp(
        client, engine, local, remote,
        Prefs(server_url=client.server_url, username=client.username, local_folder=str(local),
              remote_folder=remote, **prefs),  # type: ignore[arg-type]
        use_tray=False,
    )  # fmt: skip
    app.prefs_path = tmp_path / "desktop.json"
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
    assert Prefs.load(app.prefs_path).username == ""
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
