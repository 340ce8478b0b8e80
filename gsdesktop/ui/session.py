"""The session the desktop app runs: one account (its client), its preferences, the sync pair and its engine.

:class:`Session` is built at start-up (:func:`gsdesktop.ui.runtime.run_app`, tests) and injected into
:class:`~gsdesktop.ui.app.DesktopApp`. Dialogs get the session typed by the narrow Protocol they need (for
example :class:`gsdesktop.ui.settings.SettingsSession`), never the app: what a dialog asks of the app (sign
in again, quit) goes through the session's signals, which the app connects. This module imports neither the
app nor any dialog.

Methods run on the GUI thread unless their docstring says "any thread".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from gsdesktop.datamanager import credentials as creds
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.prefs import Prefs, delete_file_password

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.sync.engine import SyncEngine
    from gsdesktop.sync.executor import Throttle

log = logging.getLogger(__name__)


@dataclass
class SyncSetup:
    """Everything needed to start one sync pair."""

    client: DataManagerClient
    local_root: Path
    remote_root: str
    prefs: Prefs
    prefs_path: Path | None = None  # None = the user's preferences file
    cleanup: Callable[[], None] | None = None  # e.g. stop a demo server started by the wizard
    autostart_command: list[str] | None = None  # what "Start at login" runs (None = the app, `gui`)


def make_engine(setup: SyncSetup) -> SyncEngine:
    """The sync engine for ``setup`` (imports the engine lazily). Any thread."""
    from gsdesktop.sync import SyncConfig, SyncEngine, SyncMode

    prefs = setup.prefs
    try:
        mode = SyncMode(prefs.sync_mode)
    except ValueError:
        log.warning("unknown sync mode %r in the preferences; syncing both ways", prefs.sync_mode)
        mode = SyncMode.TWO_WAY
    config = SyncConfig(
        mode=mode,
        poll_interval=max(1.0, float(prefs.poll_interval)),
        excluded_remote_folders=tuple(prefs.excluded_remote_folders),
        max_upload_bps=prefs.max_upload_kbps * 1024 or None,
        max_download_bps=prefs.max_download_kbps * 1024 or None,
    )
    return SyncEngine(setup.client, setup.local_root, setup.remote_root, config)


#: builds the engine for a sync pair (:func:`make_engine`; tests may pass their own)
EngineFactory = Callable[[SyncSetup], "SyncEngine"]


def share_throttles(engine: SyncEngine, throttles: tuple[Throttle, Throttle]) -> None:
    """One bandwidth limit for all traffic: ``engine`` uses ``throttles`` (the browser transfers' limiters),
    their rates set from the engine's settings. Any thread; the limiters are thread-safe."""
    up, down = throttles
    up.rate, down.rate = engine.config.max_upload_bps, engine.config.max_download_bps
    engine.throttles = (up, down)


class Session(QObject):
    """The running session: account, preferences, sync pair and engine, and the actions on them.

    Args:
        client: the signed-in Data Manager client.
        engine: the running pair's engine (not started yet; the app starts it).
        local_root: the synced local folder.
        remote_root: the synced remote folder.
        prefs: the preferences (the settings dialog changes them; :meth:`save_prefs` writes them).
        prefs_path: where :meth:`save_prefs` writes (``None``: the user's preferences file).
        autostart_command: what "Start at login" runs (``None``: the app; the demo's runs the demo).
        engine_factory: builds the engine for :meth:`restart_sync`.
        parent: Qt parent.
    """

    #: the new engine runs (after :meth:`restart_sync`); the app attaches to it
    engine_replaced = Signal(object)
    #: the engine is about to be closed (:meth:`restart_sync`); the app stops listening to it
    engine_retiring = Signal(object)
    restart_failed = Signal(object)  # the exception; the old engine is closed
    sign_in_requested = Signal()  # a dialog asks the app to show the sign-in dialog
    quit_requested = Signal()  # a dialog asks the app to quit (sign-out: without asking)

    def __init__(
        self,
        client: DataManagerClient,
        engine: SyncEngine,
        local_root: Path,
        remote_root: str,
        prefs: Prefs,
        *,
        prefs_path: Path | None = None,
        engine_factory: EngineFactory = make_engine,
        autostart_command: list[str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.engine = engine
        self.local_root = Path(local_root)
        self.remote_root = remote_root
        self.prefs = prefs
        self.prefs_path = prefs_path
        self.engine_factory = engine_factory
        self.autostart_command = autostart_command  # what "Start at login" runs (None: the app, `gui`)
        self.throttles: tuple[Throttle, Throttle] | None = None
        self.runner = TaskRunner(1, self)  # engine restarts, one at a time

    # ---- account and preferences (any thread) ----

    def save_prefs(self) -> None:
        """Write the preferences. Any thread."""
        self.prefs.save(self.prefs_path)

    def forget_account(self) -> None:
        """Sign out: forget the password (keyring and file) and the single sign-on token, and the user name in
        the preferences, so the next start shows the setup wizard. The local files stay. Any thread."""
        client = self.client
        creds.delete_keyring_password(client.server_url, client.username)
        delete_file_password()
        creds.clear_sso()
        self.prefs.username = ""
        self.save_prefs()

    # ---- requests to the app ----

    def sign_in(self) -> None:
        """Ask the app to show its sign-in dialog."""
        self.sign_in_requested.emit()

    def quit(self) -> None:
        """Ask the app to stop syncing and quit, without asking the user (they already chose to)."""
        self.quit_requested.emit()

    # ---- the engine ----

    def share_throttles(self, throttles: tuple[Throttle, Throttle]) -> None:
        """The running engine, and every engine :meth:`restart_sync` builds, use ``throttles``."""
        self.throttles = throttles
        share_throttles(self.engine, throttles)

    def next_setup(self) -> SyncSetup:
        """The sync pair the preferences name now (the running one where they name none)."""
        prefs = self.prefs
        local = Path(prefs.local_folder).expanduser() if prefs.local_folder else self.local_root
        remote = prefs.remote_folder or self.remote_root
        return SyncSetup(self.client, local, remote, prefs, self.prefs_path)

    def restart_sync(self, on_done: Callable[[], None] | None = None) -> None:
        """Replace the engine with one built from the current preferences (folders, selective sync,
        bandwidth, poll interval). The old engine is closed and the new one started on a worker thread;
        then :attr:`engine_replaced` is emitted and ``on_done`` runs (or :attr:`restart_failed`)."""
        old = self.engine
        self.engine_retiring.emit(old)
        setup = self.next_setup()
        factory, throttles = self.engine_factory, self.throttles

        def work() -> SyncEngine:
            old.close()
            setup.local_root.mkdir(parents=True, exist_ok=True)
            engine = factory(setup)
            if throttles is not None:
                share_throttles(engine, throttles)
            engine.start()
            return engine

        def done(engine: SyncEngine) -> None:
            self.engine, self.local_root, self.remote_root = engine, setup.local_root, setup.remote_root
            self.engine_replaced.emit(engine)
            if on_done is not None:
                on_done()

        self.runner.run_task(work, done, self.restart_failed.emit)
