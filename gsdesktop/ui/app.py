"""The desktop app controller: tray icon (or a small status window), menus, notifications, windows.

:class:`DesktopApp` owns the task runners, the engine bridge, the transfer manager and the models; the
windows are created on first use. All methods run on the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QMenu,
    QMessageBox,
    QSystemTrayIcon,
    QWidget,
)

from gsdesktop.logfiles import log_engine_event
from gsdesktop.sync.conflicts import Conflict, Keep
from gsdesktop.sync.events import (
    ActionDone,
    ActionKind,
    ConflictDetected,
    CycleDone,
    FileProgress,
    ProblemChanged,
    ProblemKind,
    ServerRestored,
    StateChanged,
    SyncProblem,
    SyncProgress,
    SyncState,
)
from gsdesktop.ui.activity import ActivityModel, ActivityWindow, ProblemsModel
from gsdesktop.ui.bridge import EngineBridge, TaskRunner
from gsdesktop.ui.conflicts import ConflictsModel
from gsdesktop.ui.conflicts import versions as conflict_versions
from gsdesktop.ui.formatting import fit_to_screen, icons_dir
from gsdesktop.ui.outage import OFFLINE, STORAGE, RetryWatcher, classify, for_user
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session
from gsdesktop.ui.syncstatus import StatusWindow, deletions_question, files_in_flight, progress_text
from gsdesktop.ui.transfers import TransferManager

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.sync.engine import SyncEngine
    from gsdesktop.ui.browser import RemoteBrowser
    from gsdesktop.ui.settings import SettingsDialog
    from gsdesktop.ui.signin import SignInDialog
    from gsdesktop.ui.welcome import WelcomeWindow

log = logging.getLogger(__name__)

ICON_STATES = ("idle", "syncing", "paused", "offline", "error", "conflict")
QUIET_PROBLEMS = (ProblemKind.CHANGING, ProblemKind.OFFLINE, ProblemKind.WATCHER)
#: listed in Problems and told once, but nothing is wrong: the tray does not turn to "error" for them
NOTICE_PROBLEMS = (ProblemKind.SYMLINK, ProblemKind.SPECIAL, ProblemKind.READ_ONLY)
STOP_PROBLEMS = (ProblemKind.AUTH, ProblemKind.NO_ACCESS)  # told as "Sync stopped" (StateChanged)
#: actions that prove the server (and its storage) answered
SERVER_ACTIONS = (
    ActionKind.UPLOADED, ActionKind.DOWNLOADED, ActionKind.DELETED_REMOTE, ActionKind.MKDIR_REMOTE,
    ActionKind.RMDIR_REMOTE, ActionKind.MOVED_REMOTE,
)  # fmt: skip

REMOTE_CHANGES = (
    ActionKind.UPLOADED, ActionKind.DELETED_REMOTE, ActionKind.CONFLICT_COPY, ActionKind.MKDIR_REMOTE,
    ActionKind.RMDIR_REMOTE, ActionKind.MOVED_REMOTE,
)  # fmt: skip  # sync changed the server: an open browser lists that folder again


def tr(text: str) -> str:
    return QCoreApplication.translate("DesktopApp", text)


def prefers_dark() -> bool:
    """True when the desktop uses a dark theme (light tray glyphs then)."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None and scheme() == Qt.ColorScheme.Dark:
        return True
    return QApplication.palette().window().color().lightness() < 128


def state_icon(state: str, dark: bool | None = None) -> QIcon:
    variant = "dark" if (prefers_dark() if dark is None else dark) else "light"
    return QIcon(str(icons_dir() / f"tray-{state}-{variant}.svg"))


class DesktopApp(QObject):
    """The running app for one sync pair.

    Args:
        session: the :class:`~gsdesktop.ui.session.Session` (account, preferences, sync pair and engine;
            the engine's watch mode is started by :meth:`start`). Dialogs get the session, not the app.
        use_tray: force the tray on/off (default: whether the desktop has one).
    """

    notified = Signal(str, str)  # title, message
    _outage_heard = Signal(str)  # from the client's retry log, any thread
    display_state_changed = Signal(str)
    quitting = Signal()

    def __init__(self, session: Session, use_tray: bool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        client = session.client
        self.runner = TaskRunner(4, self)
        self.transfer_runner = TaskRunner(4, self)
        self.transfers = TransferManager(client, self.transfer_runner, self)
        session.share_throttles(self.transfers.throttles)
        # large transfers a crash or reboot interrupted, except the sync folder's (sync continues those)
        self.transfers.interrupted_loaded.connect(self._on_interrupted_loaded)
        self.transfers.load_interrupted(lambda item: not Path(item.local).is_relative_to(self.local_root))
        self.activity = ActivityModel(self)
        self.problems = ProblemsModel(self)
        self.problems.server_url = client.server_url
        self.conflicts = ConflictsModel(self)
        self.bridge = EngineBridge(self)
        self.bridge.engine_event.connect(self.on_event)
        session.engine_retiring.connect(self._engine_retiring)
        session.engine_replaced.connect(self._engine_replaced)
        session.restart_failed.connect(self._restart_failed)
        session.sign_in_requested.connect(self.show_sign_in)
        session.quit_requested.connect(self.quit)
        self.runner.unhandled_error.connect(lambda exc: self.notify(tr("Error"), str(exc), force=True))
        self.state: SyncState = SyncState.IDLE
        #: "offline" or "storage" from the first failed request until one succeeds (held steady meanwhile)
        self.outage: str | None = None
        self.rejected = False  # the server rejected the sign-in; until a cycle goes through
        self._retry_watcher = RetryWatcher(client.server_url, self._outage_heard.emit)
        self._outage_heard.connect(self._on_outage_heard)
        self.reason: ProblemKind | None = None
        self.unseen_conflicts = 0
        self.last_sync: float | None = None
        self.current_file = ""
        self.progress: SyncProgress | None = None  # the running cycle's progress (None between cycles)
        self.notifications: list[tuple[str, str]] = []
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self._quitting = False
        self.browser: RemoteBrowser | None = None
        self.activity_window: ActivityWindow | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.sign_in_dialog: SignInDialog | None = None
        self.welcome: WelcomeWindow | None = None
        self._closing_windows = False
        self._stop_cause: object = None  # the cause "Sync stopped" was told for (told once per cause)
        self._last_notice = ""  # what the last notification was about ("auth": clicking it signs in)
        self.deletions_box: QMessageBox | None = None
        self._shown_status: tuple[object, ...] = ()
        self._asked_deletions: frozenset[str] = frozenset()  # the held deletions asked about
        self._build_actions()
        self.menu = QMenu()
        self._fill_menu()
        self.tray: QSystemTrayIcon | None = None
        self.status_window: StatusWindow | None = None
        if use_tray is None:
            use_tray = QSystemTrayIcon.isSystemTrayAvailable()
        if use_tray:
            self.tray = QSystemTrayIcon(self)
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._on_tray_activated)
            self.tray.messageClicked.connect(self.on_message_clicked)
        else:
            self.status_window = StatusWindow(self.window_actions, None)
            self.status_window.close_requested = self._status_window_closing
        self.problems.count_changed.connect(lambda _n: self.update_status())
        self.conflicts.count_changed.connect(lambda _n: self.update_status())
        self.update_status()

    # the session's, for short
    @property
    def client(self) -> DataManagerClient:
        return self.session.client

    @property
    def engine(self) -> SyncEngine:
        return self.session.engine

    @property
    def prefs(self) -> Prefs:
        return self.session.prefs

    @property
    def local_root(self) -> Path:
        return self.session.local_root

    @property
    def remote_root(self) -> str:
        return self.session.remote_root

    # ==== actions and menu ====

    def _build_actions(self) -> None:
        def act(name: str, text: str, slot: Callable[[], object]) -> QAction:
            action = QAction(text, self)
            action.setObjectName(name)
            action.triggered.connect(lambda _checked=False: slot())
            return action

        self.open_folder_action = act("open_folder", tr("Open folder"), self.open_folder)
        self.open_browser_action = act("open_browser", tr("Open remote browser"), self.show_browser)
        self.groups_action = act("groups", tr("Groups…"), self.show_groups)
        self.sync_now_action = act("sync_now", tr("Sync now"), self.sync_now)
        self.pause_action = act("pause", tr("Pause syncing"), self.toggle_pause)
        self.activity_action = act("activity", tr("Recent activity"), self.show_activity)
        self.problems_action = act("problems", tr("Problems"), self.show_problems)
        self.settings_action = act("settings", tr("Settings…"), self.show_settings)
        self.sign_in_action = act("sign_in", tr("Sign in…"), self.show_sign_in)
        self.conflicts_action = act("conflicts", tr("Conflicts"), self.show_conflicts)
        self.conflicts_action.setVisible(False)  # shown while conflicts are open
        self.sign_in_action.setVisible(False)  # shown while the server rejects the sign-in
        self.quit_action = act("quit", tr("Quit"), self.request_quit)
        self.status_action = QAction("", self)
        self.status_action.setEnabled(False)
        self.window_actions = [  # the status window's buttons, two per row (hidden ones leave no gap)
            self.sign_in_action,
            self.open_folder_action,
            self.open_browser_action,
            self.groups_action,
            self.sync_now_action,
            self.pause_action,
            self.activity_action,
            self.problems_action,
            self.conflicts_action,
            self.settings_action,
            self.quit_action,
        ]

    def _fill_menu(self) -> None:
        self.menu.addAction(self.status_action)
        self.menu.addSeparator()
        for a in self.window_actions[:-1]:  # Sign in… first, while the server rejects the sign-in
            self.menu.addAction(a)
            if a is self.pause_action:
                self.menu.addSeparator()
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)

    def menu_texts(self) -> list[str]:
        return [a.text() for a in self.menu.actions() if not a.isSeparator() and a.isVisible()]

    # ==== lifecycle ====

    def start(self) -> None:
        """Show the tray (or status window) and start watch mode off the GUI thread."""
        self.bridge.attach(self.engine)
        self._retry_watcher.install()
        if self.tray is not None:
            self.tray.show()
        if self.status_window is not None:
            self.status_window.show()
        if not self.prefs.welcomed:
            self.show_welcome()
        self.runner.run_task(
            self.engine.start,
            lambda _r: self._load_initial(),
            lambda exc: self.notify(tr("Sync could not start"), str(exc), force=True),
        )

    def _load_initial(self) -> None:
        self.runner.run_task(self.engine.problems, lambda probs: self.problems.set_problems(list(probs)))
        self.refresh_conflicts()

    def refresh_conflicts(self) -> None:
        """Reload the open conflicts (off the GUI thread: a database query and a stat per copy)."""
        if self._quitting:
            return  # the engine and its database are closing
        engine, root = self.engine, self.local_root

        def work() -> tuple[list[Conflict], dict[str, Any]]:
            found = engine.open_conflicts()
            return found, conflict_versions(root, found)

        self.runner.run_task(work, self.conflicts.load)

    def settle_conflicts(self, chosen: list[Conflict], keep: Keep) -> None:
        """Settle ``chosen`` as the user asked, then sync so the server follows."""
        engine = self.engine

        def work() -> None:
            try:
                for c in chosen:
                    log.info("conflict: %s", engine.resolve_conflict(c, keep))
            finally:
                engine.sync_now()

        def failed(exc: BaseException) -> None:
            self.notify(tr("Conflict not settled"), str(exc), force=True)
            self.refresh_conflicts()

        self.runner.run_task(work, lambda _r: self.refresh_conflicts(), failed)

    def quit(self) -> None:
        """Stop transfers and the engine safely (off the GUI thread), then leave the event loop."""
        if self._quitting:
            return
        self._quitting = True
        self.quitting.emit()
        self.transfers.cancel_all()
        self.update_status()

        def stop() -> None:
            self.engine.stop()
            self.transfer_runner.shutdown(10000)

        def done(_r: object = None) -> None:
            self.bridge.detach()
            self._retry_watcher.remove()
            if self.tray is not None:
                self.tray.hide()
            QCoreApplication.quit()

        def failed(exc: BaseException) -> None:
            log.warning("stopping the sync engine failed: %s", exc)
            done()

        self.runner.run_task(stop, done, failed)

    def running_transfers(self) -> int:
        """Browser transfers not finished, plus the file sync is moving now (if any)."""
        syncing = self.state is SyncState.SYNCING and bool(self.current_file)
        return self.transfers.active + (1 if syncing else 0)

    def show_welcome(self) -> WelcomeWindow:
        """The first-run welcome: what is synced where and where the app lives; shown once."""
        from gsdesktop.ui.welcome import WelcomeWindow

        self.welcome = WelcomeWindow(
            str(self.local_root), self.remote_root, self.client.server_url, self.tray is not None,
            self.open_folder, self.show_browser,
        )  # fmt: skip
        self._raise(self.welcome)
        self.prefs.welcomed = True
        self.runner.run_task(
            self.session.save_prefs, None, lambda exc: log.warning("prefs not saved: %s", exc)
        )
        return self.welcome

    def _status_window_closing(self) -> bool:
        """Without a tray the status window is the app: closing it quits (asking while transfers run)."""
        if self._quitting or self._closing_windows:
            return True
        self.request_quit()
        return self._quitting

    def request_quit(self) -> None:
        """Quit from the menu: asks first while transfers run (SIGTERM and sign-out quit without asking)."""
        if self._quitting:
            return
        running = self.running_transfers()
        if running:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                tr("Quit GenomeSpace Desktop?"),
                tr("{0} transfer(s) are still running. Quit anyway? Large transfers continue where they "
                   "stopped when the app starts again; small ones start over.").format(running),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            )  # fmt: skip
            box.button(QMessageBox.StandardButton.Yes).setText(tr("&Quit"))
            box.button(QMessageBox.StandardButton.No).setText(tr("&Keep running"))
            box.setDefaultButton(QMessageBox.StandardButton.No)
            if box.exec() != QMessageBox.StandardButton.Yes:
                return
        self.quit()

    def restart_sync(self, on_done: Callable[[], None] | None = None) -> None:
        """Replace the engine with one built from the current preferences (:meth:`Session.restart_sync`)."""
        self.session.restart_sync(on_done)

    def _engine_retiring(self, _engine: SyncEngine) -> None:
        self.bridge.detach()

    def _restart_failed(self, exc: BaseException) -> None:
        self.notify(tr("Sync could not restart"), str(exc), True)

    def _engine_replaced(self, engine: SyncEngine) -> None:
        self._mark_not_synced()
        self.bridge.attach(engine)
        self.update_status()

    def _mark_not_synced(self) -> None:
        """The browser marks the remote folders selective sync leaves out."""
        if self.browser is not None:
            root = self.remote_root.rstrip("/")
            self.browser.synced_root = root
            self.browser.model.set_not_synced(
                f"{root}/{rel.strip('/')}" for rel in self.prefs.excluded_remote_folders
            )
            self.browser.view.viewport().update()

    # ==== engine events ====

    def on_event(self, ev: object) -> None:
        """Handle one engine event (delivered on the GUI thread by the bridge)."""
        log_engine_event(ev)
        if isinstance(ev, StateChanged):
            self.state = ev.state
            self.reason = ev.reason
            if ev.state is SyncState.OFFLINE:
                self.outage = self.outage or OFFLINE
            elif ev.state is SyncState.ERROR and ev.reason is ProblemKind.AUTH:
                self.outage = None  # the server answered
                self.rejected = True  # held through the next cycles' scans until one goes through
            elif ev.state is SyncState.IDLE:
                self.outage, self.rejected = None, False  # a cycle went through (or sync stopped)
            if ev.state is SyncState.ERROR and self._stop_cause != ev.reason:
                self._stop_cause = ev.reason  # told once; again only after a cycle succeeded
                self.notify(
                    tr("Sync stopped"), self._reason_text(ev.reason) or tr("See Problems for details.")
                )
                if ev.reason is ProblemKind.AUTH:
                    self._last_notice = "auth"
        elif isinstance(ev, ActionDone):
            self.activity.add_event(ev)
            if ev.kind in SERVER_ACTIONS:
                self.outage = None  # a request went through
            if ev.kind in REMOTE_CHANGES and self.browser is not None:
                self.browser.remote_changed(f"{self.remote_root.rstrip('/')}/{ev.path}")
            self.transfers.follow_sync(ev, self.local_root, self.remote_root)
        elif isinstance(ev, ConflictDetected):
            self.activity.add_event(ev)
            self.unseen_conflicts += 1
            self.notify(
                tr("Conflict"),
                tr("{0} changed on both sides; your version was kept as {1}").format(
                    ev.path, ev.conflict_copy
                ),
            )
        elif isinstance(ev, ServerRestored):
            self.notify(tr("Server restored from a backup"), ev.message, True)
        elif isinstance(ev, ProblemChanged):
            before = {(p.path, p.kind) for p in self.problems.problems}
            self.problems.set_problems(ev.problems)
            # a rejected sign-in is told once, as "Sync stopped" (StateChanged), not twice
            new = [p for p in ev.problems if (p.path, p.kind) not in before and p.kind not in QUIET_PROBLEMS]
            if notices := [p for p in new if p.kind in NOTICE_PROBLEMS]:
                self._notify_problems(notices, tr("Not synced"))
            if any(classify(p.message, self.client.server_url) == STORAGE for p in new):
                self.outage = STORAGE
            if needs := [p for p in new if p.kind not in NOTICE_PROBLEMS and p.kind not in STOP_PROBLEMS]:
                self._notify_problems(needs, tr("Needs your attention"))
            if any(p.kind is ProblemKind.MASS_DELETE for p in ev.problems):
                self.ask_deletions()
            else:
                self._asked_deletions = frozenset()  # settled: a new hold is asked about again
        elif isinstance(ev, FileProgress):
            self.current_file = ev.path
            self.transfers.follow_sync(ev, self.local_root, self.remote_root)
            return  # the status line picks it up with the next SyncProgress (a few per second)
        elif isinstance(ev, SyncProgress):
            self.progress = ev
        elif isinstance(ev, CycleDone):
            blocked = getattr(ev.report, "blocked", None)
            if blocked is None:
                self._stop_cause = None  # a cycle went through: a new stop is news again
                self.outage, self.rejected = None, False
            elif blocked.kind is ProblemKind.OFFLINE:
                self.outage = classify(blocked.message, self.client.server_url) or OFFLINE
            self.last_sync = ev.time
            self.current_file = ""
            self.progress = None
            self.transfers.follow_sync(ev, self.local_root, self.remote_root)
            self.refresh_conflicts()
        self.update_status()

    def ask_deletions(self) -> QMessageBox | None:
        """Ask once what to do with the deletions the mass-delete guard holds back: carry them out, or
        keep the files (copied back to the side they were deleted from). Not modal; None when nothing
        waits or this hold was already asked about."""
        held = self.engine.pending_deletions()
        paths = frozenset(held.paths())
        if not paths or paths == self._asked_deletions:
            return None
        self._asked_deletions = paths
        if self.deletions_box is not None:
            self.deletions_box.close()
        engine = self.engine
        box = deletions_question(
            held, self.local_root, self.remote_root, lambda: self.runner.run_task(engine.approve_deletions),
            lambda: self.runner.run_task(lambda: engine.approve_deletions(restore=True)),
        )  # fmt: skip
        self.deletions_box = box
        box.open()
        return box

    def _notify_problems(self, new: list[SyncProblem], title: str) -> None:
        first = new[0]
        text = f"{first.path or tr('Sync folder')}: {for_user(first.message, self.client.server_url)}"
        if len(new) > 1:
            text += tr(" (and {0} more)").format(len(new) - 1)
        self.notify(title, text)

    @staticmethod
    def _reason_text(reason: ProblemKind | None) -> str:
        if reason is None:
            return ""
        return {
            ProblemKind.AUTH: tr("The server rejected your sign-in; choose Sign in… to continue syncing."),
            ProblemKind.OFFLINE: tr("The server cannot be reached; retrying automatically."),
            ProblemKind.ROOT_MISSING: tr("The local folder is missing or not mounted."),
            ProblemKind.NO_ACCESS: tr(
                "The synced folder is no longer shared with you (or was deleted); nothing was deleted here."
            ),
            ProblemKind.MASS_DELETE: tr("Many deletions are held back until you approve them."),
        }.get(reason, "")

    # ==== status ====

    def display_state(self) -> str:
        """One of :data:`ICON_STATES`, errors and conflicts first."""
        if self.state is SyncState.ERROR:
            return "error"
        if self.state is SyncState.PAUSED:
            return "paused"
        if self.rejected:
            return "error"  # the sign-in was rejected: steady, not "Syncing…" at each retry's scan
        if self.outage is not None or self.state is SyncState.OFFLINE:
            return "offline"  # held until a request succeeds, not flipped by each retry's scan
        if self.state in (SyncState.SYNCING, SyncState.SCANNING) or self.transfers.active:
            return "syncing"
        if self.unseen_conflicts or self.conflicts.rowCount():
            return "conflict"  # orange until the conflicts are settled, not only until seen
        calm = QUIET_PROBLEMS + NOTICE_PROBLEMS
        if any(p.retry_at is None and p.kind not in calm for p in self.problems.problems):
            return "error"
        return "idle"

    def status_text(self) -> str:
        state = self.display_state()
        n = self.problems.rowCount()
        if self._quitting:
            return tr("Stopping…")
        if state == "error":
            reason = ProblemKind.AUTH if self.rejected else self.reason
            text = self._reason_text(reason) or tr("{0} problem(s) need attention").format(n)
        elif state == "offline" and self.outage == STORAGE:
            text = tr("Storage unavailable — {0} cannot store or send files now; retrying automatically")
            text = text.format(self.client.server_url)
        elif state == "offline":
            text = tr("Offline — cannot reach {0}; retrying automatically").format(self.client.server_url)
        elif state == "paused":
            text = tr("Paused")
        elif state == "syncing":
            text = self.progress_text() or (
                tr("Syncing {0}…").format(self.current_file) if self.current_file else tr("Syncing…")
            )
        elif state == "conflict":
            n = max(self.unseen_conflicts, self.conflicts.rowCount())
            text = tr("{0} conflict(s): both versions kept").format(n)
        else:
            when = time.strftime("%H:%M", time.localtime(self.last_sync)) if self.last_sync else ""
            text = tr("Up to date (last sync {0})").format(when) if when else tr("Up to date")
        return text

    def progress_text(self) -> str:
        """``Syncing 37 of 400 files, 1.2 GiB left, about 2 min`` while a cycle transfers, else ``""``."""
        return progress_text(self.progress) if self.state is SyncState.SYNCING else ""

    def update_status(self) -> None:
        state = self.display_state()
        text = self.status_text()
        shown = (state, text, self.problems.rowCount(), self.conflicts.rowCount(), self.rejected, self.state,
                 self.progress)  # fmt: skip
        if shown == self._shown_status:
            return  # nothing visible changed (e.g. one more file done): no icon re-render
        self._shown_status = shown
        icon = state_icon(state)
        self.status_action.setText(text)
        n = self.problems.rowCount()
        self.problems_action.setText(tr("Problems ({0})").format(n) if n else tr("Problems"))
        conflicts = self.conflicts.rowCount()
        self.conflicts_action.setText(tr("Conflicts ({0})").format(conflicts))
        self.conflicts_action.setVisible(conflicts > 0)
        self.sign_in_action.setVisible(self.rejected)
        paused = self.state is SyncState.PAUSED
        self.pause_action.setText(tr("Resume syncing") if paused else tr("Pause syncing"))
        if self.tray is not None:
            self.tray.setIcon(icon)
            tip = tr("GenomeSpace: {0}").format(text)
            if state == "syncing" and (flying := files_in_flight(self.progress)):
                tip += "\n" + flying
            self.tray.setToolTip(tip)
        if self.status_window is not None:
            self.status_window.set_status(icon, text)
        self.display_state_changed.emit(state)

    def _on_outage_heard(self, kind: str) -> None:
        if self._quitting or self.state is SyncState.PAUSED:
            return
        if self.outage != kind:
            self.outage = kind
            log.info("outage: %s", kind)
            self.update_status()

    def _on_interrupted_loaded(self, count: int) -> None:
        if count:
            self.notify(
                tr("Interrupted transfers"),
                tr("Large transfers that stopped before they finished: {0}. Open the remote browser to "
                   "continue them or give them up.").format(count),
            )  # fmt: skip

    def notify(self, title: str, message: str, force: bool = False) -> None:
        """A desktop notification (tray balloon; the status window's note line without a tray)."""
        self._last_notice = ""
        log.info("notification: %s: %s", title, message)
        self.notifications.append((title, message))
        self.notified.emit(title, message)
        if not (self.prefs.notifications or force):
            return
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 8000)
        elif self.status_window is not None:
            self.status_window.note_label.setText(f"<b>{title}</b>: {message}")

    # ==== menu actions ====

    def open_folder(self) -> None:
        self.open_url(QUrl.fromLocalFile(str(self.local_root)))

    def sync_now(self) -> None:
        self.runner.run_task(self.engine.sync_now, None, lambda exc: self.notify(tr("Sync now"), str(exc)))

    def toggle_pause(self) -> None:
        fn = self.engine.resume if self.state is SyncState.PAUSED else self.engine.pause
        self.runner.run_task(fn, None, lambda exc: self.notify(tr("Pause/Resume"), str(exc)))

    def show_browser(self) -> RemoteBrowser:
        if self.browser is None:
            from gsdesktop.ui.browser import RemoteBrowser

            self.browser = RemoteBrowser(self.client, self.runner, self.transfers, self.client.home)
            self.browser.notify.connect(lambda title, msg: self.notify(title, msg))
            self.display_state_changed.connect(self.browser.on_app_state)
            self._mark_not_synced()
            self.browser.model.fetchMore(self.browser.model.index(-1, -1))
        self._raise(self.browser)
        return self.browser

    def _activity_window(self) -> ActivityWindow:
        if self.activity_window is None:
            self.activity_window = ActivityWindow(
                self.activity, self.problems, self.local_root, self.sync_now, self.conflicts,
                self.settle_conflicts,
            )  # fmt: skip
        return self.activity_window

    def show_activity(self) -> ActivityWindow:
        """Recent activity, or the Conflicts tab when new conflicts wait there (the tray said so)."""
        return self.show_conflicts() if self.unseen_conflicts and self.conflicts.rowCount() else (
            self._show_tab(ActivityWindow.show_activity)
        )  # fmt: skip

    def show_conflicts(self) -> ActivityWindow:
        return self._show_tab(ActivityWindow.show_conflicts)

    def _show_tab(self, select: Callable[[ActivityWindow], None]) -> ActivityWindow:
        window = self._activity_window()
        select(window)
        self.unseen_conflicts = 0
        self.update_status()
        self._raise(window)
        return window

    def show_problems(self) -> ActivityWindow:
        window = self._activity_window()
        window.show_problems()
        self._raise(window)
        return window

    def on_message_clicked(self) -> None:
        """A click on the last notification: sign in when it said the sign-in was rejected."""
        if self._last_notice == "auth" or self.rejected:
            self.show_sign_in()
        else:
            self.show_activity()

    def show_sign_in(self) -> SignInDialog:
        """The sign-in dialog (server and user filled in); after the server accepts, sync resumes."""
        if self.sign_in_dialog is None:
            from gsdesktop.ui.signin import SignInDialog

            reason = self._reason_text(ProblemKind.AUTH) if self.rejected else ""
            self.sign_in_dialog = SignInDialog(self.client, self.runner, self._signed_in, reason, None)
            self.sign_in_dialog.finished.connect(self._sign_in_closed)
        self._raise(self.sign_in_dialog)
        return self.sign_in_dialog

    def _sign_in_closed(self, _result: int) -> None:
        dialog, self.sign_in_dialog = self.sign_in_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _signed_in(self, summary: str) -> None:
        self._stop_cause = None
        self.notify(tr("Signed in"), tr("Syncing again. {0}").format(summary))
        self.sync_now()

    def show_groups(self) -> None:
        """Group management (the browser's Groups dialog; the browser comes up with it)."""
        self.show_browser().sharing.show_groups()

    def show_settings(self) -> SettingsDialog:
        if self.settings_dialog is None:
            from gsdesktop.ui.settings import SettingsDialog

            self.settings_dialog = SettingsDialog(self.session, self.runner, lambda url: self.open_url(url))
        self._raise(self.settings_dialog)
        return self.settings_dialog

    def raise_main(self) -> None:
        """Bring the app to the front (a second launch asked for it)."""
        if self.status_window is not None:
            self._raise(self.status_window)
        else:
            self.show_browser()

    @staticmethod
    def _raise(window: QWidget) -> None:
        if not window.isVisible():
            fit_to_screen(window)  # e.g. the browser's 900×600 on a 960×540 screen (1920×1080 at 2×)
        window.show()
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
        window.raise_()
        window.activateWindow()

    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_browser()

    def close_windows(self) -> None:
        self._retry_watcher.remove()
        self._closing_windows = True
        for w in (self.browser, self.activity_window, self.settings_dialog, self.sign_in_dialog,
                  self.welcome, self.status_window):  # fmt: skip
            if w is not None:
                w.close()
