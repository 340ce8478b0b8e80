"""The Conflicts tab: open conflicted copies, opened side by side and settled with one click.

The settling itself is :mod:`gsdesktop.sync.conflicts` (plain Python, shared with ``gsdesktop
conflicts``); this module only shows the list and asks the app to run the choice off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTableView, QVBoxLayout, QWidget

from gsdesktop.sync.conflicts import Conflict, Keep
from gsdesktop.ui.formatting import ListTableModel, clock_time

Index = QModelIndex | QPersistentModelIndex


def tr(text: str) -> str:
    return QCoreApplication.translate("Conflicts", text)


class ConflictsModel(ListTableModel):
    """The open conflicts (replaced as a whole on each refresh)."""

    COLUMNS = ("File", "Conflicted copy", "Since")
    TR_CONTEXT = "Conflicts"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Conflict] = []

    def set_conflicts(self, conflicts: list[Conflict]) -> None:
        self.replace_rows(conflicts)

    def conflict(self, row: int) -> Conflict | None:
        item: Conflict | None = self.row_item(row)
        return item

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        c = self.conflict(index.row()) if index.isValid() else None
        if c is None or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        return (c.path, c.copy, clock_time(c.time))[index.column()]


class ConflictsPage(QWidget):
    """The table and its actions; ``settle(conflicts, keep)`` and ``open_path(path)`` come from the app."""

    def __init__(
        self,
        model: ConflictsModel,
        view: QTableView,
        local_root: Path,
        settle: Callable[[list[Conflict], Keep], None],
        open_path: Callable[[Path], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model, self.view, self.local_root = model, view, local_root
        self._settle, self._open_path = settle, open_path
        view.setParent(self)
        self.open_button = QPushButton(tr("&Open both"), self)
        self.copy_button = QPushButton(tr("Keep the &conflicted copy"), self)
        self.original_button = QPushButton(tr("Keep the o&riginal"), self)
        self.both_button = QPushButton(tr("Keep &both"), self)
        self.copy_button.setToolTip(
            tr("The conflicted copy takes the file's name; the version it replaces goes to the trash.")
        )
        self.original_button.setToolTip(tr("The conflicted copy goes to the trash."))
        self.both_button.setToolTip(tr("Keep both files as they are and stop listing the conflict."))
        self.open_button.clicked.connect(self.open_selected)
        self.copy_button.clicked.connect(lambda: self.settle_selected(Keep.COPY))
        self.original_button.clicked.connect(lambda: self.settle_selected(Keep.ORIGINAL))
        self.both_button.clicked.connect(lambda: self.settle_selected(Keep.BOTH))
        layout = QVBoxLayout(self)
        layout.addWidget(view)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addStretch(1)
        for button in (self.copy_button, self.original_button, self.both_button):
            row.addWidget(button)
        layout.addLayout(row)
        view.selectionModel().selectionChanged.connect(self._update_buttons)
        model.modelReset.connect(self._update_buttons)
        self._update_buttons()

    def selected(self) -> list[Conflict]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [c for c in map(self.model.conflict, rows) if c is not None]

    def _update_buttons(self) -> None:
        chosen = self.selected()
        for button in (self.open_button, self.original_button, self.both_button):
            button.setEnabled(bool(chosen))
        # one original can take only one copy's content
        self.copy_button.setEnabled(bool(chosen) and len({c.path for c in chosen}) == len(chosen))

    def open_selected(self) -> None:
        for c in self.selected():
            for rel in (c.path, c.copy):
                self._open_path(self.local_root / rel)

    def settle_selected(self, keep: Keep) -> None:
        chosen = self.selected()
        if chosen:
            self.view.clearSelection()
            self._settle(chosen, keep)
