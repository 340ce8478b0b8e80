"""Recent sync activity and the current problems (with Retry), fed by engine events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QUrl,
)
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gsdesktop.sync.conflicts import Conflict, Keep
from gsdesktop.sync.events import ActionDone, ActionKind, ConflictDetected, ProblemKind, SyncProblem
from gsdesktop.ui.conflicts import ConflictsModel, ConflictsPage
from gsdesktop.ui.formatting import ListTableModel, clock_time
from gsdesktop.ui.outage import for_user

Index = QModelIndex | QPersistentModelIndex
MAX_ACTIVITY = 500


def tr(text: str) -> str:
    return QCoreApplication.translate("Activity", text)


def action_label(kind: ActionKind) -> str:
    labels = {
        ActionKind.UPLOADED: tr("Uploaded"),
        ActionKind.DOWNLOADED: tr("Downloaded"),
        ActionKind.DELETED_LOCAL_TO_TRASH: tr("Moved to trash"),
        ActionKind.DELETED_REMOTE: tr("Deleted on server"),
        ActionKind.CONFLICT_COPY: tr("Conflict copy made"),
        ActionKind.MKDIR_LOCAL: tr("Folder created"),
        ActionKind.MKDIR_REMOTE: tr("Folder created on server"),
        ActionKind.RMDIR_LOCAL: tr("Folder removed"),
        ActionKind.RMDIR_REMOTE: tr("Folder removed on server"),
        ActionKind.MOVED_REMOTE: tr("Moved on server"),
        ActionKind.MOVED_LOCAL: tr("Moved here (as on the server)"),
        ActionKind.RECORDED: tr("Already in sync"),
    }
    return labels.get(kind, kind.value)


class ActivityModel(ListTableModel):
    """Newest first; ActionDone and ConflictDetected events. GUI thread only.

    A conflict is one row: the engine also reports the conflict copy as
    ``ActionDone(CONFLICT_COPY)``, which is skipped because ``ConflictDetected`` names both files.
    """

    COLUMNS = ("Time", "Action", "Path")
    TR_CONTEXT = "Activity"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[float, str, str]] = []

    def add_event(self, ev: object) -> None:
        if isinstance(ev, ActionDone):
            if ev.kind in (ActionKind.RECORDED, ActionKind.CONFLICT_COPY):
                return
            row = (ev.time, action_label(ev.kind), ev.path)
        elif isinstance(ev, ConflictDetected):
            row = (ev.time, tr("Conflict: local version kept as"), f"{ev.path} → {ev.conflict_copy}")
        else:
            return
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, row)
        self.endInsertRows()
        if len(self._rows) > MAX_ACTIVITY:
            self.beginRemoveRows(QModelIndex(), MAX_ACTIVITY, len(self._rows) - 1)
            del self._rows[MAX_ACTIVITY:]
            self.endRemoveRows()

    def path_at(self, row: int) -> str:
        return self._rows[row][2].split(" → ")[-1] if 0 <= row < len(self._rows) else ""

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        when, action, path = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == 0:
                return clock_time(when)
            return action if index.column() == 1 else path
        return None


class ProblemsModel(ListTableModel):
    """The engine's current problem list (replaced as a whole on each ProblemChanged)."""

    COLUMNS = ("Path", "Problem", "Next retry")
    TR_CONTEXT = "Activity"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[SyncProblem] = []
        self.server_url = ""  # messages name this server, not an internal storage address

    @property
    def problems(self) -> list[SyncProblem]:
        return list(self._rows)

    def set_problems(self, problems: tuple[SyncProblem, ...] | list[SyncProblem]) -> None:
        self.replace_rows(problems)

    def problem(self, row: int) -> SyncProblem | None:
        item: SyncProblem | None = self.row_item(row)
        return item

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        p = self.problem(index.row()) if index.isValid() else None
        if p is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if index.column() == 0:
                return p.path or tr("(whole folder)")
            if index.column() == 1:
                return for_user(p.message, self.server_url) if self.server_url else p.message
            if index.column() == 2:
                if p.kind in (ProblemKind.SYMLINK, ProblemKind.SPECIAL):
                    return tr("not synced")
                if p.kind is ProblemKind.READ_ONLY:
                    return tr("read-only share")
                if p.retry_at is None:
                    return tr("needs action")
                return clock_time(p.retry_at)
        return None


def _open_local(path: Path) -> bool:
    """Open in the desktop's application for it; False when there is none (or it failed)."""
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))


class ActivityWindow(QWidget):
    """Tabs: Recent activity, Problems (with Retry, Open, Show in folder), Conflicts (settle them)."""

    def __init__(
        self,
        activity: ActivityModel,
        problems: ProblemsModel,
        local_root: Path,
        retry: Callable[[], None],
        conflicts: ConflictsModel | None = None,
        settle: Callable[[list[Conflict], Keep], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("GenomeSpace — Activity"))
        self.resize(720, 420)
        self.local_root = local_root
        self.open_url: Callable[[Path], object] = _open_local
        self.tabs = QTabWidget(self)
        self.activity_view = self._table(activity)
        self.problems_view = self._table(problems)
        self._wrap_messages(self.problems_view)
        self.problems = problems
        self.activity = activity
        act_page = QWidget(self)
        self.open_button = QPushButton(self.tr("&Open file"), act_page)
        self.show_button = QPushButton(self.tr("&Show in folder"), act_page)
        self.open_button.clicked.connect(lambda: self._open_selected(folder=False))
        self.show_button.clicked.connect(lambda: self._open_selected(folder=True))
        self._fill_page(act_page, self.activity_view, [self.open_button, self.show_button])
        prob_page = QWidget(self)
        self.retry_button = QPushButton(self.tr("&Retry now"), prob_page)
        self.retry_button.clicked.connect(retry)
        self.show_problem_button = QPushButton(self.tr("Show in &folder"), prob_page)
        self.show_problem_button.clicked.connect(self._show_problem)
        self._fill_page(prob_page, self.problems_view, [self.show_problem_button, self.retry_button])
        self.no_problems_label = QLabel(
            self.tr("No problems: everything in the sync folder syncs."), prob_page
        )
        self.no_problems_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_problems_label.setWordWrap(True)
        page_layout = prob_page.layout()
        if isinstance(page_layout, QVBoxLayout):
            page_layout.insertWidget(0, self.no_problems_label, 1)
        self.tabs.addTab(act_page, self.tr("Recent activity"))
        self.tabs.addTab(prob_page, self.tr("Problems"))
        problems.count_changed.connect(self._update_problem_tab)
        self.conflicts_page: ConflictsPage | None = None
        if conflicts is not None and settle is not None:
            self.conflicts_page = ConflictsPage(
                conflicts, self._table(conflicts), local_root, settle, lambda p: self.open_url(p), self
            )
            self.tabs.addTab(self.conflicts_page, self.tr("Conflicts"))
            conflicts.count_changed.connect(self._update_conflict_tab)
            self._update_conflict_tab(conflicts.rowCount())
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self._update_problem_tab(problems.rowCount())

    @staticmethod
    def _fill_page(page: QWidget, view: QTableView, buttons: list[QPushButton]) -> None:
        """Lay out a tab page: the table, then its buttons right-aligned below."""
        layout = QVBoxLayout(page)
        layout.addWidget(view)
        row = QHBoxLayout()
        row.addStretch(1)
        for button in buttons:
            row.addWidget(button)
        layout.addLayout(row)

    def _table(self, model: QAbstractTableModel) -> QTableView:
        view = QTableView(self)
        view.setModel(model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.verticalHeader().hide()
        view.horizontalHeader().setStretchLastSection(True)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        return view

    def _wrap_messages(self, view: QTableView) -> None:
        """Problems: the message column takes the width left and wraps (never cut off at the window's edge);
        a long path is elided in the middle; both show in full as a tooltip."""
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        view.setWordWrap(True)
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        def fit_path_column() -> None:
            view.setColumnWidth(0, max(120, min(view.sizeHintForColumn(0), view.width() // 3)))

        model = view.model()
        model.modelReset.connect(fit_path_column)
        model.rowsInserted.connect(fit_path_column)

    def _update_problem_tab(self, n: int) -> None:
        self.tabs.setTabText(1, self.tr("Problems ({0})").format(n) if n else self.tr("Problems"))
        self.problems_view.setVisible(n > 0)  # an empty state says so instead of an empty table
        self.no_problems_label.setVisible(n == 0)
        self.retry_button.setEnabled(n > 0)
        self.show_problem_button.setEnabled(n > 0)

    def _update_conflict_tab(self, n: int) -> None:
        self.tabs.setTabText(2, self.tr("Conflicts ({0})").format(n) if n else self.tr("Conflicts"))

    def show_problems(self) -> None:
        self.tabs.setCurrentIndex(1)

    def show_conflicts(self) -> None:
        if self.conflicts_page is not None:
            self.tabs.setCurrentIndex(2)

    def show_activity(self) -> None:
        self.tabs.setCurrentIndex(0)

    def _open_selected(self, folder: bool) -> None:
        rows = self.activity_view.selectionModel().selectedRows()
        if rows:
            path = self.local_root / self.activity.path_at(rows[0].row())
            self.open_url(path.parent if folder else path)

    def _show_problem(self) -> None:
        rows = self.problems_view.selectionModel().selectedRows()
        p = self.problems.problem(rows[0].row()) if rows else None
        if p is not None:
            self.open_url((self.local_root / p.path).parent)
