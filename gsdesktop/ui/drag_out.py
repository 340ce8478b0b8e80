"""Dragging remote files out of the browser (into a file manager, a desktop, another app).

A drop target needs local files, and downloading takes time. The drag carries a :class:`DragOutMime`
whose ``text/uri-list`` is produced late (Qt's delayed-encoding ``retrieveData``): the downloads start
when the drag starts (they show in the transfers panel), and when the target asks for the URLs at the
drop, the answer waits until they are complete. So a target only ever sees whole files, and a
short drag of small files does not wait at all. The files are saved in a fresh folder of the cache
(``<cache>/drag/<n>``); the target copies them from there. A cancelled drag cancels its downloads and
removes that folder; folders left from earlier drags are removed after a day.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QElapsedTimer,
    QEventLoop,
    QMetaType,
    QMimeData,
    QStandardPaths,
    QTimer,
    QUrl,
)

from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.transfers import Status, Transfer, TransferManager

log = logging.getLogger(__name__)
URI_LIST = "text/uri-list"
REMOTE_PATHS = "application/x-gsdesktop-remote-paths"  # the remote paths dragged, one a line
WAIT_MS = 15 * 60 * 1000  # the longest a drop waits for its downloads
KEEP_S = 24 * 3600  # drag folders older than this are removed when the next drag starts


def drag_root() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)) / "drag"


def remove_old_drag_folders(root: Path, now: float | None = None) -> None:
    """Remove drag folders older than a day (worker thread)."""
    now = time.time() if now is None else now
    for old in root.glob("*") if root.is_dir() else []:
        try:
            if now - old.stat().st_mtime > KEEP_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


class DragOutMime(QMimeData):
    """The data of one drag out of the browser; see the module docstring.

    Args:
        items: the remote files and folders dragged.
        transfers: the transfer manager that downloads them (GUI thread).
        runner: runs the folder listings.
    """

    def __init__(self, items: list[GSFileMetadata], transfers: TransferManager, runner: TaskRunner) -> None:
        super().__init__()
        self.items = items
        self.transfers = transfers
        self.folder = Path(tempfile.mkdtemp(prefix="", dir=_ensure(drag_root())))
        self.downloads: dict[str, list[Transfer]] = {m.path: [] for m in items}  # top-level item -> files
        self._planning = 0  # folders still being listed
        self.failed: list[str] = []  # names of items that could not be downloaded
        runner.run_task(lambda: remove_old_drag_folders(self.folder.parent))
        for meta in items:
            self._start(meta, runner)

    # ---- downloads ----

    def _start(self, meta: GSFileMetadata, runner: TaskRunner) -> None:
        target = self.folder / meta.name
        if not meta.is_directory:
            self.downloads[meta.path].append(self.transfers.download(meta.path, target, size=meta.size))
            return
        client, base = self.transfers.client, meta.path.rstrip("/")

        def plan() -> list[tuple[str, Path, int | None]]:
            out = []
            target.mkdir(parents=True, exist_ok=True)
            for entry in client.list_recursive(base):
                local = target / entry.path[len(base) + 1 :]
                if entry.is_directory:
                    local.mkdir(parents=True, exist_ok=True)
                else:
                    out.append((entry.path, local, entry.size))
            return out

        def enqueue(files: list[tuple[str, Path, int | None]]) -> None:
            self._planning -= 1
            for remote, local, size in files:
                self.downloads[meta.path].append(self.transfers.download(remote, local, size=size))

        def failed(exc: BaseException) -> None:
            self._planning -= 1
            self.failed.append(meta.name)
            log.warning("drag out: could not list %s: %s", meta.path, exc)

        self._planning += 1
        runner.run_task(plan, enqueue, failed)

    @property
    def finished(self) -> bool:
        return self._planning == 0 and all(t.status.finished for ts in self.downloads.values() for t in ts)

    def wait(self, timeout_ms: int = WAIT_MS) -> bool:
        """Run the event loop until every download finished (True) or the time is up (False)."""
        clock = QElapsedTimer()
        clock.start()
        loop = QEventLoop()
        while not self.finished and clock.elapsed() < timeout_ms:
            QTimer.singleShot(20, loop.quit)
            loop.exec()
        return self.finished

    def cancel(self) -> None:
        """The drag ended without a drop: stop the downloads and remove what they saved."""
        for ts in self.downloads.values():
            for t in ts:
                self.transfers.cancel(t)
        shutil.rmtree(self.folder, ignore_errors=True)

    def local_urls(self) -> list[QUrl]:
        """File URLs of the items completely downloaded (waits for the downloads)."""
        self.wait()
        urls = []
        for meta in self.items:
            files = self.downloads[meta.path]
            if meta.name in self.failed or any(t.status is not Status.DONE for t in files):
                if meta.name not in self.failed:
                    self.failed.append(meta.name)
                continue
            urls.append(QUrl.fromLocalFile(str(self.folder / meta.name)))
        return urls

    # ---- QMimeData ----

    def formats(self) -> list[str]:
        return [URI_LIST, REMOTE_PATHS]

    def hasFormat(self, mimetype: str) -> bool:
        return mimetype in self.formats()

    def retrieveData(self, mimetype: str, preferred_type: Any) -> Any:
        if mimetype == URI_LIST:
            urls = self.local_urls()
            if preferred_type is not None and preferred_type.id() == QMetaType.Type.QVariantList.value:
                return urls  # QMimeData.urls() asks for a list
            return QByteArray("".join(url.toString() + "\r\n" for url in urls).encode("utf-8"))
        if mimetype == REMOTE_PATHS:
            return QByteArray("\n".join(m.path for m in self.items).encode("utf-8"))
        return None


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
