"""First run: a welcome window, a remote-folder picker and selective sync in the wizard, honest labels,
and no invisible app left behind when the last window closes without a tray."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel

from gsdesktop.sync import SyncConfig, SyncEngine
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session


def make_app(client, tmp_path: Path, prefs: Prefs) -> DesktopApp:  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir(exist_ok=True)
    engine = SyncEngine(
        client, local, client.home, SyncConfig(poll_interval=1.0), state_dir=tmp_path / "state"
    )
    session = Session(client, engine, local, client.home, prefs, prefs_path=tmp_path / "desktop.json")
    app = DesktopApp(session, use_tray=False)
    return app


def stop(qtbot, app: DesktopApp) -> None:  # type: ignore[no-untyped-def]
    app.quit()
    qtbot.waitUntil(lambda: not app.runner.in_flight, timeout=30000)
    app.close_windows()
    app.engine.close()


def test_welcome_window_once_says_what_syncs_where(qtbot, client, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(client, tmp_path, Prefs())
    app.open_url = lambda _url: True
    app.start()
    welcome = app.welcome
    assert welcome is not None and welcome.isVisible()
    text = welcome.text.text()
    assert str(app.local_root) in text and client.home in text and client.server_url in text
    assert "status window" in text  # no tray here: it says where the app is
    qtbot.waitUntil(lambda: Prefs.load(app.session.prefs_path).welcomed, timeout=10000)
    welcome.open_browser_button.click()
    assert app.browser is not None and app.browser.isVisible() and not welcome.isVisible()
    stop(qtbot, app)
    again = make_app(client, tmp_path, Prefs.load(tmp_path / "desktop.json"))
    again.start()
    assert again.welcome is None  # only the first run
    stop(qtbot, again)


def test_closing_the_status_window_without_a_tray_quits(qtbot, client, tmp_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(client, tmp_path, Prefs(welcomed=True))
    quitting: list[bool] = []
    app.quitting.connect(lambda: quitting.append(True))
    app.start()
    assert app.status_window is not None
    app.status_window.close()
    qtbot.waitUntil(lambda: bool(quitting), timeout=10000)  # not an invisible app left running
    qtbot.waitUntil(lambda: not app.runner.in_flight, timeout=30000)
    app.close_windows()
    app.engine.close()


def test_wizard_picks_the_remote_folder_and_what_to_sync_before_the_first_sync(  # type: ignore[no-untyped-def]
    qtbot, account, client, memory_keyring, tmp_home
) -> None:
    from gsdesktop.ui.wizard import FirstRunWizard

    for d in ("projects/raw", "projects/results", "other"):
        client.mkdir(f"{client.home}/{d}", parents=True)
    wizard = FirstRunWizard(Prefs())
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.server.custom.setChecked(True)
    wizard.server.url.setText(account.server_url)
    wizard.next()
    wizard.account.username.setText(account.username)
    wizard.account.password.setText(account.password)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.folders, timeout=30000)
    # every mnemonic label has its field as buddy, so no label shows a literal '&'
    for label in wizard.folders.findChildren(QLabel):
        if "&" in label.text():
            assert label.buddy() is not None, label.text()
    dialog = wizard.folders.pick_remote()
    assert dialog is not None
    model = dialog.model
    qtbot.waitUntil(
        lambda: model.rowCount() == 2 and model.data(model.index(0, 0)) != "Loading…", timeout=30000
    )
    rows = {model.data(model.index(r, 0)): model.index(r, 0) for r in range(model.rowCount())}
    assert set(rows) == {"other", "projects"}  # folders only
    dialog.view.setCurrentIndex(rows["projects"])
    dialog.accept()
    assert wizard.folders.remote.text() == f"{client.home}/projects"
    wizard.next()
    assert wizard.currentPage() is wizard.selective
    sel = wizard.selective.model
    assert sel is not None
    qtbot.waitUntil(lambda: sel.rowCount() == 2 and sel.data(sel.index(0, 0)) != "Loading…", timeout=30000)
    names = {sel.data(sel.index(r, 0)): sel.index(r, 0) for r in range(sel.rowCount())}
    assert set(names) == {"raw", "results"}
    assert sel.setData(names["raw"], Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    wizard.button(wizard.WizardButton.FinishButton).click()
    assert wizard.result() == QDialog.DialogCode.Accepted
    setup = wizard.result_setup()
    assert setup is not None and setup.remote_root == f"{client.home}/projects"
    assert setup.prefs.excluded_remote_folders == ["raw"]
    assert Prefs.load().excluded_remote_folders == ["raw"]
