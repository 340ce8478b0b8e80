"""Uploads and downloads started from the GUI: the queue, its table model and the panel.

Transfers run on their own :class:`TaskRunner` (separate from listings so a long upload queue never
delays browsing). Workers only write plain counters into :class:`Transfer`; the model repaints the
running rows on a timer, never once per chunk.
"""

from __future__ import annotations

import enum
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QAction, QDesktopServices, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gsdesktop.datamanager.errors import CancelledError
from gsdesktop.datamanager.journal import Interrupted
from gsdesktop.datamanager.models import GSDataFormat
from gsdesktop.datamanager.transfer import CancelToken
from gsdesktop.sync.events import ActionDone, ActionKind, CycleDone, Direction, FileProgress
from gsdesktop.sync.executor import Throttle
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.formatting import ListTableModel, format_eta, human_size
from gsdesktop.ui.outage import for_user

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

Index = QModelIndex | QPersistentModelIndex
REFRESH_MS = 300
SYNC_ROWS_KEPT = 500  # finished sync rows listed; older ones are dropped (100 at a time)


def tr(text: str) -> str:
    return QCoreApplication.translate("Transfers", text)


class Kind(enum.Enum):
    UPLOAD = "upload"
    DOWNLOAD = "download"


class Status(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # found in the journal at start: Retry continues it, Cancel gives it up

    @property
    def finished(self) -> bool:
        return self in (Status.DONE, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED)


@dataclass(eq=False)
class Transfer:
    """One transfer. ``done``/``total`` are written by the worker thread (plain ints)."""

    id: int
    kind: Kind
    local: Path
    remote: str
    data_format: GSDataFormat | None = None
    batch: int = 0
    total: int = 0
    done: int = 0
    status: Status = Status.QUEUED
    error: str = ""
    started: float = 0.0
    finished_at: float = 0.0
    cancel: CancelToken = field(default_factory=CancelToken)
    pending: Interrupted | None = None  # the journal's record of an interrupted transfer
    sync: bool = False  # a file the sync engine transfers: listed here, controlled by the engine
    _samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The name on this computer: what is uploaded, or what a download is saved as (Download as and
        Download… may save under another name than the server's)."""
        return self.local.name

    def restart(self) -> None:
        """Back to the start, as a retry begins it again (a fresh cancel token, no progress, no rate)."""
        self.cancel, self.error, self.done, self._samples = CancelToken(), "", 0, []
        self.started = self.finished_at = 0.0

    def rate(self, now: float | None = None) -> float:
        """Bytes per second over the last few seconds (0 when unknown)."""
        now = time.monotonic() if now is None else now
        self._samples.append((now, self.done))
        self._samples = [s for s in self._samples if now - s[0] <= 5.0]
        if self.status is not Status.RUNNING:
            if self.finished_at > self.started > 0:
                return self.done / max(self.finished_at - self.started, 1e-3)
            return 0.0
        t0, d0 = self._samples[0]
        if now - t0 < 0.2:
            return self.done / max(now - self.started, 1e-3) if self.started else 0.0
        return (self.done - d0) / (now - t0)

    def eta(self, now: float | None = None) -> float | None:
        rate = self.rate(now)
        if self.status is not Status.RUNNING or rate <= 0 or self.total <= 0:
            return None
        return max(self.total - self.done, 0) / rate


@dataclass(frozen=True)
class TransferCounts:
    """Finished transfers by direction and outcome."""

    uploaded: int = 0
    upload_failed: int = 0
    downloaded: int = 0
    download_failed: int = 0
    cancelled: int = 0

    @classmethod
    def of(cls, transfers: list[Transfer]) -> TransferCounts:
        transfers = [t for t in transfers if not t.sync]  # the sync engine's are not counted

        def n(kind: Kind, status: Status) -> int:
            return sum(1 for t in transfers if t.kind is kind and t.status is status)

        return cls(
            uploaded=n(Kind.UPLOAD, Status.DONE),
            upload_failed=n(Kind.UPLOAD, Status.FAILED),
            downloaded=n(Kind.DOWNLOAD, Status.DONE),
            download_failed=n(Kind.DOWNLOAD, Status.FAILED),
            cancelled=sum(1 for t in transfers if t.status is Status.CANCELLED),
        )

    def text(self) -> str:
        """E.g. ``"Uploads: 3 done, 0 failed — Downloads: 0 done, 1 failed"``."""
        line = tr("Uploads: {0} done, {1} failed — Downloads: {2} done, {3} failed").format(
            self.uploaded, self.upload_failed, self.downloaded, self.download_failed
        )
        return line + tr(", {0} cancelled").format(self.cancelled) if self.cancelled else line


class TransferManager(QObject):
    """Queue of GUI transfers. Call on the GUI thread.

    Args:
        client: the Data Manager client (its methods are thread-safe).
        runner: a runner dedicated to transfers (its pool size = parallel transfers).
    """

    added = Signal(object)  # Transfer
    changed = Signal(object)  # Transfer (status change)
    # batch id, ok count, failed count (errors only), remote folder, cancelled count (the user's cancels)
    batch_finished = Signal(int, int, int, str, int)
    interrupted_loaded = Signal(int)  # how many interrupted transfers load_interrupted listed
    pruned = Signal()  # old finished sync rows were dropped from ``transfers``

    def __init__(self, client: DataManagerClient, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.runner = runner
        self.transfers: list[Transfer] = []
        self._ids = itertools.count(1)
        self._batches: dict[int, tuple[list[Transfer], str]] = {}
        #: (upload, download) rate limiters; the app shares them with sync (one limit for all traffic)
        self.throttles: tuple[Throttle, Throttle] = (Throttle(None), Throttle(None))
        self._sync_rows: dict[str, Transfer] = {}  # running sync transfers by relative path
        self._sync_finished = 0  # finished sync rows listed

    # ---- starting ----

    def upload(self, local: Path, remote: str, batch: int = 0) -> Transfer:
        """Queue one file upload to the remote file path ``remote`` (an interrupted upload of the same
        file to the same path continues in its row)."""
        old = self._interrupted(Kind.UPLOAD, local, remote)
        if old is not None:
            old.batch = batch
            return self._continue(old)
        t = Transfer(next(self._ids), Kind.UPLOAD, local, remote, batch=batch)
        self._start(t)
        return t

    def download(
        self, remote: str, local: Path, data_format: GSDataFormat | None = None, size: int | None = None
    ) -> Transfer:
        old = self._interrupted(Kind.DOWNLOAD, local, remote) if data_format is None else None
        if old is not None:
            return self._continue(old)
        t = Transfer(next(self._ids), Kind.DOWNLOAD, local, remote, data_format=data_format, total=size or 0)
        self._start(t)
        return t

    def _interrupted(self, kind: Kind, local: Path, remote: str) -> Transfer | None:
        """The interrupted row of this very transfer, if one is listed."""
        for t in self.transfers:
            if t.status is Status.INTERRUPTED and (t.kind, t.local, t.remote) == (kind, local, remote):
                return t
        return None

    def upload_paths(
        self,
        paths: list[Path],
        remote_folder: str,
        on_error: Callable[[BaseException], None] | None = None,
        names: dict[Path, str] | None = None,
    ) -> int:
        """Upload files and folders (recursively) into ``remote_folder``; returns the batch id.

        ``names`` gives some of ``paths`` another name on the server (e.g. "reads (2).txt" when the
        user keeps both). Walking folders and creating remote folders happens on a worker thread.
        """
        batch = next(self._ids)
        self._batches[batch] = ([], remote_folder)
        client = self.client
        folder = remote_folder.rstrip("/")
        renamed = dict(names or {})

        def plan() -> list[tuple[Path, str]]:
            pairs: list[tuple[Path, str]] = []
            for path in paths:
                name = renamed.get(path, path.name)
                if path.is_dir():
                    base = f"{folder}/{name}"
                    client.mkdir(base, parents=True)
                    for dirpath, dirnames, filenames in os.walk(path):
                        dirnames.sort()
                        rel = Path(dirpath).relative_to(path).as_posix()
                        remote_dir = base if rel == "." else f"{base}/{rel}"
                        for d in dirnames:
                            client.mkdir(f"{remote_dir}/{d}", parents=True)
                        pairs.extend((Path(dirpath) / f, f"{remote_dir}/{f}") for f in sorted(filenames))
                elif path.is_file():
                    pairs.append((path, f"{folder}/{name}"))
            return pairs

        def enqueue(pairs: list[tuple[Path, str]]) -> None:
            if not pairs:
                self._batches.pop(batch, None)
                self.batch_finished.emit(batch, 0, 0, remote_folder, 0)
                return
            for local, remote in pairs:
                self._batches[batch][0].append(self.upload(local, remote, batch=batch))

        def failed(exc: BaseException) -> None:
            self._batches.pop(batch, None)
            self.batch_finished.emit(batch, 0, len(paths), remote_folder, 0)
            if on_error is not None:
                on_error(exc)

        self.runner.run_task(plan, enqueue, failed)
        return batch

    def load_interrupted(self, keep: Callable[[Interrupted], bool] = lambda item: True) -> None:
        """List the transfers the journal holds as interrupted (those ``keep`` accepts), with the
        progress they had; the journal is read on a worker thread."""
        from gsdesktop.datamanager.pending import interrupted_transfers

        client = self.client

        def add(items: list[Interrupted]) -> None:
            busy = {
                (t.local, t.remote) for t in self.transfers if t.pending is not None or not t.status.finished
            }
            listed = 0
            for item in items:
                local = Path(item.local)
                if not keep(item) or (local, item.remote) in busy:
                    continue
                kind = Kind.UPLOAD if item.kind == "upload" else Kind.DOWNLOAD
                t = Transfer(next(self._ids), kind, local, item.remote, total=item.size, done=item.done)
                t.status, t.pending = Status.INTERRUPTED, item
                self.transfers.append(t)
                self.added.emit(t)
                listed += 1
            self.interrupted_loaded.emit(listed)

        self.runner.run_task(lambda: interrupted_transfers(client), add)

    def _start(self, t: Transfer) -> None:
        self.transfers.append(t)
        self.added.emit(t)
        self._run(t)

    def _run(self, t: Transfer) -> None:
        client = self.client
        pending = t.pending

        def progress(done: int, total: int) -> None:  # worker thread: plain writes only
            t.done, t.total = done, total
            if t.status is Status.QUEUED:
                t.status = Status.RUNNING

        throttle = self.throttles[0] if t.kind is Kind.UPLOAD else self.throttles[1]

        def work() -> object:
            t.cancel.raise_if_cancelled()
            t.status = Status.RUNNING
            t.started = time.monotonic()
            if pending is not None:
                from gsdesktop.datamanager.pending import resume

                limited = throttle.progress(progress, start=pending.done)
                return resume(client, pending, progress=limited, cancel=t.cancel)
            limited = throttle.progress(progress)
            if t.kind is Kind.UPLOAD:
                t.total = t.local.stat().st_size
                return client.upload(t.local, t.remote, progress=limited, cancel=t.cancel)
            result = client.download(
                t.remote, t.local, data_format=t.data_format, progress=limited, cancel=t.cancel
            )
            t.total = (
                t.local.stat().st_size
            )  # what was saved (a converted download's size is not known before)
            return result

        self.runner.run_task(work, lambda _r: self._finish(t, None), lambda exc: self._finish(t, exc))

    def _finish(self, t: Transfer, exc: BaseException | None) -> None:
        t.finished_at = time.monotonic()
        if exc is None:
            t.status = Status.DONE
            t.done = max(t.done, t.total)
        elif isinstance(exc, CancelledError) or t.cancel.cancelled:
            t.status = Status.CANCELLED
        else:
            t.status = Status.FAILED
            t.error = for_user(
                getattr(exc, "user_message", None) or str(exc) or type(exc).__name__, self.client.server_url
            )
        self.changed.emit(t)
        entry = self._batches.get(t.batch)
        if entry is not None and all(x.status.finished for x in entry[0]):
            items, folder = self._batches.pop(t.batch)
            ok = sum(1 for x in items if x.status is Status.DONE)
            cancelled = sum(1 for x in items if x.status is Status.CANCELLED)
            self.batch_finished.emit(t.batch, ok, len(items) - ok - cancelled, folder, cancelled)

    # ---- control ----

    def cancel(self, t: Transfer) -> None:
        """Stop ``t`` if it runs or waits (what a large transfer stored is kept for later)."""
        if not t.status.finished:
            t.cancel.cancel()
            if t.status is Status.QUEUED:
                t.status = Status.CANCELLED
                self.changed.emit(t)

    def give_up(self, t: Transfer) -> None:
        """Give up an interrupted transfer: the server deletes its stored parts, a partial download
        file is removed. Anything else is left alone."""
        item = t.pending
        if t.status is not Status.INTERRUPTED or item is None:
            return
        from gsdesktop.datamanager.pending import discard

        client = self.client

        def gone(_r: object) -> None:
            t.status, t.pending, t.error = Status.CANCELLED, None, ""
            self.changed.emit(t)

        def failed(exc: BaseException) -> None:  # still interrupted, and says why it is still there
            t.status = Status.INTERRUPTED
            t.error = for_user(
                getattr(exc, "user_message", None) or str(exc) or type(exc).__name__, self.client.server_url
            )
            self.changed.emit(t)

        t.status, t.error = Status.RUNNING, ""  # until the server and the disk are done with it
        self.changed.emit(t)
        self.runner.run_task(lambda: discard(client, item), gone, failed)

    def retry(self, t: Transfer) -> Transfer | None:
        """Start a failed or cancelled transfer again in its own row; an interrupted one continues in
        its row from where it stopped."""
        if t.status is Status.INTERRUPTED:
            return self._continue(t)
        if t.status not in (Status.FAILED, Status.CANCELLED) or t.sync:
            return None
        if t.kind is Kind.UPLOAD:
            old = self._interrupted(Kind.UPLOAD, t.local, t.remote)
            if old is not None:  # the journal's row of this very upload continues instead
                return self._continue(old)
        t.restart()
        t.batch = 0  # on its own now: a finished retried upload refreshes its folder by itself
        return self._continue(t)

    def _continue(self, t: Transfer) -> Transfer:
        """An interrupted transfer continues in its own row from where it stopped."""
        t.status, t.error = Status.QUEUED, ""
        self.changed.emit(t)
        self._run(t)
        return t

    def cancel_all(self) -> None:
        for t in self.transfers:
            self.cancel(t)

    # ---- the sync engine's transfers ----

    def follow_sync(self, ev: object, local_root: Path, remote_root: str) -> None:
        """List the sync engine's transfers (call with each engine event, on the GUI thread).

        A file gets its row with its first :class:`FileProgress`; progress events only write the
        row's counters (the model repaints running rows on its timer). The row is done when the engine
        reports the file transferred; rows still running when the cycle ends did not finish (Problems
        says why; sync tries them again).
        """
        if isinstance(ev, FileProgress):
            t = self._sync_rows.get(ev.path)
            if t is None:
                kind = Kind.UPLOAD if ev.direction is Direction.UP else Kind.DOWNLOAD
                local, remote = local_root / ev.path, f"{remote_root}/{ev.path}"
                t = Transfer(next(self._ids), kind, local, remote, total=ev.total, status=Status.RUNNING,
                             started=time.monotonic(), sync=True)  # fmt: skip
                self._sync_rows[ev.path] = t
                self.transfers.append(t)
                self.added.emit(t)
            t.done, t.total = ev.done, max(ev.total, t.total)
        elif isinstance(ev, ActionDone) and ev.kind in (ActionKind.UPLOADED, ActionKind.DOWNLOADED):
            t = self._sync_rows.pop(ev.path, None)
            if t is not None:
                t.status, t.finished_at = Status.DONE, time.monotonic()
                t.done = t.total = max(t.total, ev.size or 0)
                self.changed.emit(t)
                self._sync_finished += 1
                self._prune_sync_rows()
        elif isinstance(ev, CycleDone):
            rows, self._sync_rows = self._sync_rows, {}
            for t in rows.values():
                t.status, t.finished_at = Status.FAILED, time.monotonic()
                t.error = tr("not finished; sync tries it again (see Problems)")
                self.changed.emit(t)
                self._sync_finished += 1

    def _prune_sync_rows(self) -> None:
        if self._sync_finished <= SYNC_ROWS_KEPT + 100:
            return
        finished = [t for t in self.transfers if t.sync and t.status.finished]
        drop = {t.id for t in finished[: len(finished) - SYNC_ROWS_KEPT]}
        self.transfers = [t for t in self.transfers if t.id not in drop]
        self._sync_finished = len(finished) - len(drop)
        self.pruned.emit()

    @property
    def active(self) -> int:
        """Transfers started here that have not finished (the sync engine's own are not counted)."""
        return sum(1 for t in self.transfers if not t.status.finished and not t.sync)


class TransfersModel(ListTableModel):
    """Table of transfers; running rows are repainted every ``REFRESH_MS``."""

    COLUMNS = ("Name", "Direction", "Progress", "Size", "Rate", "ETA", "Status")
    TR_CONTEXT = "Transfers"
    PROGRESS_COLUMN = 2

    def __init__(self, manager: TransferManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self._rows: list[Transfer] = list(manager.transfers)  # those listed before this model existed
        self._row_of: dict[int, int] = {t.id: i for i, t in enumerate(self._rows)}
        manager.added.connect(self._on_added)
        manager.changed.connect(self._on_changed)
        manager.pruned.connect(self._on_pruned)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def index_of(self, t: Transfer) -> QModelIndex:
        """The row of ``t`` (invalid when it is not listed)."""
        row = self._row_of.get(t.id)
        return self.index(row, 0) if row is not None else QModelIndex()

    def transfer(self, index: Index) -> Transfer | None:
        return self._rows[index.row()] if index.isValid() and 0 <= index.row() < len(self._rows) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        t = self.transfer(index)
        if t is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.UserRole:
            return t
        if role == Qt.ItemDataRole.ToolTipRole:
            return t.error or (str(t.local) if t.kind is Kind.UPLOAD else t.remote)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == 0:
            return t.name
        if col == 1:
            if t.sync:
                return tr("Sync upload") if t.kind is Kind.UPLOAD else tr("Sync download")
            return tr("Upload") if t.kind is Kind.UPLOAD else tr("Download")
        if col == 2:
            return int(100 * t.done / t.total) if t.total else (100 if t.status is Status.DONE else 0)
        if col == 3:
            return human_size(t.total) if t.total else ""
        if col == 4:
            rate = t.rate()
            return f"{human_size(int(rate))}/s" if rate > 0 and t.status is Status.RUNNING else ""
        if col == 5:
            return format_eta(t.eta())
        if col == 6:
            labels = {
                Status.QUEUED: tr("Queued"),
                Status.RUNNING: tr("Transferring"),
                Status.DONE: tr("Done"),
                Status.FAILED: tr("Failed"),
                Status.CANCELLED: tr("Cancelled"),
                Status.INTERRUPTED: tr("Interrupted (Retry continues it, Cancel gives it up)"),
            }
            text = labels[t.status]
            shown = t.status in (Status.FAILED, Status.INTERRUPTED)
            return f"{text}: {t.error}" if t.error and shown else text
        return None

    def _on_added(self, t: Transfer) -> None:
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(t)
        self._row_of[t.id] = row
        self.endInsertRows()

    def _on_changed(self, t: Transfer) -> None:
        row = self._row_of.get(t.id)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def _on_pruned(self) -> None:
        """Old finished sync rows left the manager: they leave the table too."""
        listed = {t.id for t in self.manager.transfers}
        keep = [t for t in self._rows if t.id in listed or not t.sync]
        if len(keep) != len(self._rows):
            self.beginResetModel()
            self._rows = keep
            self._row_of = {t.id: i for i, t in enumerate(keep)}
            self.endResetModel()

    def _tick(self) -> None:
        running = [r for r, t in enumerate(self._rows) if t.status is Status.RUNNING]
        if running:
            self.dataChanged.emit(self.index(running[0], 0), self.index(running[-1], len(self.COLUMNS) - 1))

    def counts(self) -> TransferCounts:
        """Outcomes of the transfers listed (both directions)."""
        return TransferCounts.of(self._rows)

    def clear_finished(self) -> None:
        """Drop finished rows; interrupted ones stay until they are continued or given up."""
        keep = [t for t in self._rows if not t.status.finished or t.status is Status.INTERRUPTED]
        self.beginResetModel()
        self._rows = keep
        self._row_of = {t.id: i for i, t in enumerate(keep)}
        self.endResetModel()


class ProgressDelegate(QStyledItemDelegate):
    """Draws the Progress column as a progress bar."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        value = index.data(Qt.ItemDataRole.DisplayRole)
        if not isinstance(value, int):
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.minimum, bar.maximum, bar.progress = 0, 100, value
        bar.text = f"{value}%"
        bar.textVisible = True
        bar.state = option.state | QStyle.StateFlag.State_Horizontal  # (else: vertical)
        style = option.widget.style() if option.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class TransfersPanel(QWidget):
    """Table of transfers with Cancel / Retry / Clear finished; finished downloads open or show in
    their folder (context menu, double click)."""

    def __init__(self, manager: TransferManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.model = TransfersModel(manager, self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(TransfersModel.PROGRESS_COLUMN, ProgressDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setAccessibleName(tr("Transfers"))
        bar = self.view.verticalScrollBar()
        self._follow = True  # the view shows the newest rows (the user did not scroll up)
        bar.valueChanged.connect(lambda v: setattr(self, "_follow", v >= bar.maximum()))
        bar.rangeChanged.connect(lambda _lo, hi: bar.setValue(hi) if self._follow else None)
        manager.added.connect(self._on_added)
        #: opens a file or folder with the desktop (replaceable in tests); False when nothing could
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self.open_action = QAction(tr("&Open"), self)
        self.open_action.triggered.connect(lambda _c=False: self.open_selected())
        self.show_folder_action = QAction(tr("Show in &folder"), self)
        self.show_folder_action.triggered.connect(lambda _c=False: self.show_selected_in_folder())
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(
            lambda pos: self.build_context_menu().popup(self.view.viewport().mapToGlobal(pos))
        )
        self.view.doubleClicked.connect(lambda index: self._open(self.model.transfer(index)))
        self.cancel_button = QPushButton(tr("&Cancel"), self)
        self.retry_button = QPushButton(tr("&Retry"), self)
        self.clear_button = QPushButton(tr("C&lear finished"), self)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.retry_button.clicked.connect(self.retry_selected)
        self.clear_button.clicked.connect(self.model.clear_finished)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.cancel_button, self.retry_button, self.clear_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        layout.addLayout(buttons)

    def selected(self) -> list[Transfer]:
        rows = {i.row() for i in self.view.selectionModel().selectedRows()}
        return [t for r in sorted(rows) if (t := self.model.transfer(self.model.index(r, 0))) is not None]

    def _on_added(self, t: Transfer) -> None:
        """A transfer the user started is scrolled into view (the sync engine's rows only follow
        while the view is at its end)."""
        index = self.model.index_of(t) if not t.sync else QModelIndex()
        if index.isValid():
            self.view.scrollTo(index)

    @staticmethod
    def _saved(t: Transfer | None) -> Path | None:
        """The file a finished download saved, if it is still there."""
        if t is None or t.kind is not Kind.DOWNLOAD or t.status is not Status.DONE:
            return None
        return t.local if t.local.is_file() else None

    def build_context_menu(self) -> QMenu:
        """Open / Show in folder (a finished download that is still there), Cancel, Retry."""
        chosen = self.selected()
        saved = self._saved(chosen[0]) if len(chosen) == 1 else None
        self.open_action.setEnabled(saved is not None)
        self.show_folder_action.setEnabled(saved is not None)
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction(self.open_action)
        menu.addAction(self.show_folder_action)
        menu.addSeparator()
        for button in (self.cancel_button, self.retry_button):
            action = menu.addAction(button.text())
            action.triggered.connect(button.click)
        return menu

    def _open(self, t: Transfer | None) -> None:
        path = self._saved(t)
        if path is not None and not self.open_url(QUrl.fromLocalFile(str(path))):
            QMessageBox.warning(
                self,
                tr("Could not open"),
                tr("No application opens {0}; it is in {1}.").format(path.name, path.parent),
            )

    def open_selected(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self._open(chosen[0])

    def show_selected_in_folder(self) -> None:
        """Open the folder a finished download was saved in."""
        chosen = self.selected()
        path = self._saved(chosen[0]) if len(chosen) == 1 else None
        if path is not None:
            self.open_url(QUrl.fromLocalFile(str(path.parent)))

    def cancel_selected(self) -> None:
        """Stop the selected transfers; interrupted ones are given up, after asking."""
        chosen = self.selected()
        interrupted = [t for t in chosen if t.status is Status.INTERRUPTED]
        if interrupted and self.confirm_give_up(len(interrupted)):
            for t in interrupted:
                self.manager.give_up(t)
        for t in chosen:
            if t not in interrupted and not t.sync:  # sync transfers: Pause syncing stops them
                self.manager.cancel(t)

    def confirm_give_up(self, count: int) -> bool:
        """Ask before interrupted transfers are given up (what they stored is deleted)."""
        answer = QMessageBox.question(
            self,
            tr("Give up interrupted transfers"),
            tr(
                "Give up the selected interrupted transfers ({0})? What they already stored is deleted; "
                "they cannot be continued later."
            ).format(count),
        )  # fmt: skip
        return answer == QMessageBox.StandardButton.Yes

    def retry_selected(self) -> None:
        for t in self.selected():
            if not t.sync:  # sync retries its own
                self.manager.retry(t)
