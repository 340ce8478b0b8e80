"""Process-level plumbing for the desktop app: QApplication, single instance, signals, startup."""

from __future__ import annotations

import gc
import hashlib
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication

from gsdesktop.ui.prefs import config_dir
from gsdesktop.ui.session import Session, SyncSetup, make_engine

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

log = logging.getLogger(__name__)


def tune_interpreter() -> None:
    """Process-wide settings for a responsive GUI thread; called once at app start-up (:func:`ensure_qapp`).

    * GIL switch interval 1 ms (default 5 ms): workers parse big listings in pure Python; a short interval
      lets the GUI thread in often enough to keep repainting (the default 5 ms adds up under load).
    * ``gc.freeze()`` of what exists at start-up (modules, classes, Qt wrappers): a full collection holds
      the GIL while it walks every tracked object; with the start-up objects frozen it walks only what the
      app created since (listings), so it no longer stalls the GUI thread for 100 ms and more when a
      worker allocates enough to trigger one. :func:`run_app` calls :func:`ensure_qapp` again once the
      engine is built, so what was loaded since the first call (app, engine, client) is frozen too.

    Only the GUI process calls this (the CLI and the server keep the interpreter's defaults).
    """
    if sys.getswitchinterval() > 0.001:
        sys.setswitchinterval(0.001)
    gc.collect()  # garbage is collected, not frozen
    gc.freeze()


def ensure_qapp() -> QApplication:
    """The process's ``QApplication`` (created if needed), set up as the app's; the interpreter tuned."""
    tune_interpreter()
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("GenomeSpace Desktop")
    app.setOrganizationName("GenomeSpace")
    app.setDesktopFileName("org.genomespace.Desktop")
    app.setQuitOnLastWindowClosed(False)
    return app


def instance_name() -> str:
    """A per-user, per-config-dir socket name (so isolated test homes never collide)."""
    digest = hashlib.sha1(str(config_dir()).encode()).hexdigest()[:12]
    return f"gsdesktop-{digest}"


class SingleInstance(QObject):
    """``QLocalServer`` guard: the first process listens; later ones ask it to come to the front.

    Only a fixed one-line command is exchanged (``raise``); nothing is unpickled.
    """

    raise_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or instance_name()
        self.server: QLocalServer | None = None
        self._connections: set[QLocalSocket] = set()

    def notify_running(self, timeout_ms: int = 1000) -> bool:
        """True if another instance answered (it was asked to raise its window)."""
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(timeout_ms):
            return False
        sock.write(b"raise\n")
        sock.flush()
        sock.waitForBytesWritten(timeout_ms)
        sock.disconnectFromServer()
        return True

    def listen(self) -> bool:
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            QLocalServer.removeServer(self.name)  # stale socket of a crashed instance
            if not server.listen(self.name):
                log.warning("single-instance socket unavailable: %s", server.errorString())
                return False
        server.newConnection.connect(self._on_connection)
        self.server = server
        return True

    def _on_connection(self) -> None:
        assert self.server is not None
        while (conn := self.server.nextPendingConnection()) is not None:
            conn.setParent(self)  # owned here, not by the server, so close() controls its lifetime
            self._connections.add(conn)
            conn.readyRead.connect(self._on_ready)
            conn.disconnected.connect(self._on_disconnected)

    def _on_ready(self) -> None:
        conn = self.sender()
        if isinstance(conn, QLocalSocket) and b"raise" in bytes(conn.readAll().data()):
            self.raise_requested.emit()

    def _on_disconnected(self) -> None:
        conn = self.sender()
        if isinstance(conn, QLocalSocket) and conn in self._connections:
            self._connections.discard(conn)
            conn.deleteLater()

    def close(self) -> None:
        for conn in list(self._connections):
            conn.disconnected.disconnect(self._on_disconnected)
            conn.readyRead.disconnect(self._on_ready)
            conn.abort()
            conn.deleteLater()
        self._connections.clear()
        if self.server is not None:
            self.server.close()
            self.server.deleteLater()
            self.server = None


class SignalWatcher(QObject):
    """Turns SIGTERM/SIGINT (and SIGHUP) into a Qt signal on the GUI thread, via a wakeup socket."""

    received = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rsock, self._wsock = socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._wsock.fileno())
        self._old: dict[int, Any] = {}
        sigs = [signal.SIGTERM, signal.SIGINT]
        if hasattr(signal, "SIGHUP"):
            sigs.append(signal.SIGHUP)
        for sig in sigs:
            self._old[sig] = signal.signal(sig, lambda *_a: None)  # the wakeup fd carries the number
        self._notifier = QSocketNotifier(self._rsock.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)

    def _read(self) -> None:
        try:
            data = self._rsock.recv(64)
        except BlockingIOError:
            return
        for number in data:
            self.received.emit(int(number))

    def restore(self) -> None:
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._old_fd)
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._rsock.close()
        self._wsock.close()


def resolve_remote(client: DataManagerClient, remote: str | None) -> str:
    """``None`` -> home; a relative path is taken inside the home folder."""
    if not remote:
        return str(client.home)
    if remote.startswith("/"):
        return "/" + remote.strip("/")
    return f"{client.home}/{remote.strip('/')}"


def run_app(
    setup: SyncSetup, *, on_exit: Callable[[], None] | None = None, single: SingleInstance | None = None
) -> int:
    """Create the desktop app for ``setup`` and run the event loop until Quit or SIGTERM; returns 0."""
    from gsdesktop.ui.app import DesktopApp

    setup.local_root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(setup)
    qapp = ensure_qapp()  # after the engine: start-up objects frozen with it (tune_interpreter)
    session = Session(
        setup.client, engine, setup.local_root, setup.remote_root, setup.prefs, prefs_path=setup.prefs_path,
        autostart_command=setup.autostart_command,
    )  # fmt: skip
    app = DesktopApp(session)
    watcher = SignalWatcher()
    watcher.received.connect(lambda _sig: app.quit())
    if single is not None:
        single.raise_requested.connect(app.raise_main)
    app.start()
    try:
        qapp.exec()
    finally:
        watcher.restore()
        if single is not None:
            single.close()
        app.close_windows()
        try:
            session.engine.close()  # the running one (a settings change may have replaced the first)
        except Exception as exc:  # already stopped / facade without close
            log.debug("engine.close: %s", exc)
        for fn in (on_exit, setup.cleanup):
            if fn is not None:
                fn()
    QCoreApplication.processEvents()
    return 0
