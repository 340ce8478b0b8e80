"""Small Qt programs for the real-X11 tests (run as ``python -m tests.support.xcb_apps KIND OUT_DIR``).

``browser``: the remote browser signed in from GSDESKTOP_* variables, at the folder ``$FOLDER``; writes
``browser.json`` with the screen position of each listed row once listed. ``target``: a window that
accepts drops like a file manager (copies the dropped files into ``OUT_DIR/received``) and writes
``target.json`` (its centre) and ``dropped.json`` (what it got). Both quit when ``OUT_DIR/stop`` exists.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QModelIndex, QTimer
from PySide6.QtWidgets import QApplication, QLabel


def write(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def browser(out: Path) -> QApplication:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.ui.bridge import TaskRunner
    from gsdesktop.ui.browser import RemoteBrowser
    from gsdesktop.ui.transfers import TransferManager

    app = QApplication(sys.argv)
    env = os.environ
    client = DataManagerClient(env["GSDESKTOP_SERVER"], env["GSDESKTOP_USERNAME"], env["GSDESKTOP_PASSWORD"])
    window = RemoteBrowser(client, TaskRunner(4), TransferManager(client, TaskRunner(4)), env["FOLDER"])
    window.setGeometry(0, 0, 900, 500)
    window.show()
    window.model.fetchMore(QModelIndex())

    def report() -> None:
        model, view = window.model, window.view
        rows = {}
        for r in range(model.rowCount()):
            index = model.index(r, 0)
            if model.metadata(index) is not None:
                centre = view.viewport().mapToGlobal(view.visualRect(index).center())
                rows[model.data(index)] = [centre.x(), centre.y()]
        if rows:
            write(out / "browser.json", rows)
        else:
            QTimer.singleShot(100, report)

    QTimer.singleShot(300, report)
    app._keep = window  # type: ignore[attr-defined]
    return app


class Target(QLabel):
    def __init__(self, out: Path) -> None:
        super().__init__("drop here")
        self.out = out
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        received = self.out / "received"
        received.mkdir(exist_ok=True)
        got = []
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_dir():
                shutil.copytree(path, received / path.name)
            else:
                shutil.copy2(path, received / path.name)
            got.append(path.name)
        event.acceptProposedAction()
        write(self.out / "dropped.json", got)


def target(out: Path) -> QApplication:
    app = QApplication(sys.argv)
    window = Target(out)
    window.setGeometry(1100, 100, 400, 300)
    window.show()

    def report() -> None:
        centre = window.mapToGlobal(window.rect().center())
        write(out / "target.json", [centre.x(), centre.y()])

    QTimer.singleShot(500, report)
    app._keep = window  # type: ignore[attr-defined]
    return app


def fit(out: Path) -> None:
    """Open every window, let the window system place them, write their frames and the screen's
    available area to ``fit.json`` (logical pixels) and a screenshot of each to ``OUT_DIR/shots``."""
    from gsdesktop.datamanager.client import DataManagerClient
    from tests.support.windows import open_every_window

    app = QApplication(sys.argv)
    env = os.environ
    client = DataManagerClient(env["GSDESKTOP_SERVER"], env["GSDESKTOP_USERNAME"], env["GSDESKTOP_PASSWORD"])
    windows, close_all = open_every_window(client, out / "app")
    shots = out / "shots"
    shots.mkdir(exist_ok=True)

    def report() -> None:
        screen = app.primaryScreen().availableGeometry()
        frames = {}
        for name, w in windows.items():
            f = w.frameGeometry()
            frames[name] = [f.x(), f.y(), f.width(), f.height()]
            w.grab().save(str(shots / f"{name}.png"))
        write(out / "fit.json", {"screen": [screen.x(), screen.y(), screen.width(), screen.height()],
                                 "windows": frames})  # fmt: skip
        close_all()
        app.quit()

    QTimer.singleShot(2500, report)
    app.exec()


def main() -> None:
    kind, out = sys.argv[1], Path(sys.argv[2])
    if kind == "fit":
        fit(out)
        return
    app = browser(out) if kind == "browser" else target(out)
    timer = QTimer()
    timer.timeout.connect(lambda: app.quit() if (out / "stop").exists() else None)
    timer.start(200)
    QTimer.singleShot(180_000, app.quit)
    app.exec()


if __name__ == "__main__":
    main()
