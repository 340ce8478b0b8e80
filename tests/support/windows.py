"""Every top-level window of the desktop app, opened the way the app opens them (for size/fit tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget


def open_every_window(client: Any, tmp: Path) -> tuple[dict[str, QWidget], Callable[[], None]]:
    """The app's windows, shown: ``({name: window}, close_all)``."""
    from gsdesktop.sync import SyncEngine
    from gsdesktop.ui.app import DesktopApp
    from gsdesktop.ui.browser_moves import RemoteFolderDialog
    from gsdesktop.ui.browser_parts import PropertiesDialog
    from gsdesktop.ui.prefs import Prefs
    from gsdesktop.ui.session import Session
    from gsdesktop.ui.wizard import FirstRunWizard

    local = tmp / "sync"
    local.mkdir(parents=True, exist_ok=True)
    engine = SyncEngine(client, local, client.home, state_dir=tmp / "state")
    prefs = Prefs(server_url=client.server_url, username=client.username, welcomed=True)
    session = Session(client, engine, local, client.home, prefs, prefs_path=tmp / "desktop.json")
    app = DesktopApp(session, use_tray=False)
    windows: dict[str, QWidget] = {}
    assert app.status_window is not None
    app.status_window.show()
    windows["status"] = app.status_window
    windows["browser"] = app.show_browser()
    windows["activity"] = app.show_activity()
    windows["settings"] = app.show_settings()
    windows["sign-in"] = app.show_sign_in()
    windows["welcome"] = app.show_welcome()
    wizard = FirstRunWizard(Prefs())
    wizard.show()
    windows["wizard"] = wizard
    picker = RemoteFolderDialog(client, app.runner, client.home)
    picker.show()
    windows["folder-picker"] = picker
    props = PropertiesDialog(client.metadata(client.home), None, app.browser.refget if app.browser else None)
    props.show()
    windows["properties"] = props

    def close_all() -> None:
        for w in (wizard, picker, props):
            w.close()
            w.deleteLater()
        app.close_windows()
        app.bridge.detach()
        app.runner.shutdown(10000)
        app.transfer_runner.shutdown(10000)
        engine.close()

    return windows, close_all
