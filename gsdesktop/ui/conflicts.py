"""The Conflicts tab: open conflicted copies, opened side by side and settled with one click.

The settling itself is :mod:`gsdesktop.sync.conflicts` (plain Python, shared with ``gsdesktop
conflicts``); this module only shows the list and asks the app to run the choice off the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from gsdesktop.sync.conflicts import Conflict, Keep
from gsdesktop.ui.flowlayout import wrapping_row
from gsdesktop.ui.formatting import ListTableModel, clock_time, human_size

Index = QModelIndex | QPersistentModelIndex
Version = tuple[float, int] | None  # (modified, size) of one version; None when it is gone


def tr(text: str) -> str:
    return QCoreApplication.translate("Conflicts", text)


def _version(path: Path) -> Version:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime, st.st_size)


def versions(root: Path, conflicts: list[Conflict]) -> dict[str, tuple[Version, Version]]:
    """(your version = the conflicted copy, the server's version = the file) of each conflict, by copy.
    Disk work: call it off the GUI thread."""
    return {c.copy: (_version(root / c.copy), _version(root / c.path)) for c in conflicts}


def describe(v: Version) -> str:
    if v is None:
        return tr("gone")
    return tr("{0}, {1}").format(time.strftime("%Y-%m-%d %H:%M", time.localtime(v[0])), human_size(v[1]))


class ConflictsModel(ListTableModel):
    """The open conflicts. A refresh that changes nothing leaves the rows (and the selection) alone.

    Sync keeps *your* version (the one made on this computer) as the conflicted copy and gives the file's
    name to the *server's* version; the columns say so, with each version's time and size.
    """

    COLUMNS = ("File", "Your version (conflicted copy)", "Server's version", "Since")
    TR_CONTEXT = "Conflicts"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Conflict] = []
        self._versions: dict[str, tuple[Version, Version]] = {}

    def set_conflicts(
        self, conflicts: list[Conflict], found: dict[str, tuple[Version, Version]] | None = None
    ) -> None:
        found = found or {}
        if list(conflicts) == self._rows and found == self._versions:
            return  # nothing new: no reset, the user's selection stays
        self._versions = dict(found)
        self.replace_rows(conflicts)

    def load(self, result: tuple[list[Conflict], dict[str, tuple[Version, Version]]]) -> None:
        self.set_conflicts(*result)

    def conflict(self, row: int) -> Conflict | None:
        item: Conflict | None = self.row_item(row)
        return item

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        c = self.conflict(index.row()) if index.isValid() else None
        if c is None or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        mine, theirs = self._versions.get(c.copy, (None, None))
        if index.column() == 1:
            return f"{c.copy} — {describe(mine)}" if c.copy in self._versions else c.copy
        if index.column() == 2:
            return f"{c.path} — {describe(theirs)}" if c.copy in self._versions else c.path
        return c.path if index.column() == 0 else clock_time(c.time)


class ConflictsPage(QWidget):
    """The table and its actions; ``settle(conflicts, keep)`` and ``open_path(path)`` come from the app."""

    def __init__(
        self,
        model: ConflictsModel,
        view: QTableView,
        local_root: Path,
        settle: Callable[[list[Conflict], Keep], None],
        open_path: Callable[[Path], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model, self.view, self.local_root = model, view, local_root
        self._settle, self._open_path = settle, open_path
        view.setParent(self)
        self.open_button = QPushButton(tr("&Open both"), self)
        self.copy_button = QPushButton(tr("Keep &your version"), self)
        self.original_button = QPushButton(tr("Keep the &server's version"), self)
        self.both_button = QPushButton(tr("Keep &both"), self)
        self.copy_button.setToolTip(
            tr(
                "Your version (the conflicted copy) takes the file's name; the server's version goes to the "
                "trash."
            )
        )
        self.original_button.setToolTip(tr("Your version (the conflicted copy) goes to the trash."))
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.both_button.setToolTip(tr("Keep both files as they are and stop listing the conflict."))
        self.open_button.clicked.connect(self.open_selected)
        self.copy_button.clicked.connect(lambda: self.settle_selected(Keep.COPY))
        self.original_button.clicked.connect(lambda: self.settle_selected(Keep.ORIGINAL))
        self.both_button.clicked.connect(lambda: self.settle_selected(Keep.BOTH))
        layout = QVBoxLayout(self)
        layout.addWidget(view)
        layout.addWidget(self.status)
        buttons = [self.open_button, self.copy_button, self.original_button, self.both_button]
        layout.addWidget(wrapping_row(self, buttons))  # wraps in a narrow window
        view.selectionModel().selectionChanged.connect(self._update_buttons)
        self._kept: set[str] = set()
        model.modelAboutToBeReset.connect(self._remember_selection)
        model.modelReset.connect(self._restore_selection)
        self._update_buttons()

    def _remember_selection(self) -> None:
        self._kept = {c.copy for c in self.selected()}

    def _restore_selection(self) -> None:
        """The list changed (a conflict came or went): the conflicts the user had selected stay selected."""
        selection = self.view.selectionModel()
        for row in range(self.model.rowCount()):
            c = self.model.conflict(row)
            if c is not None and c.copy in self._kept:
                flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
                selection.select(self.model.index(row, 0), flags)
        self._kept = set()
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
        """Open both versions in their applications; say which could not be opened (and why) here."""
        failed = []
        for c in self.selected():
            for rel in (c.copy, c.path):
                path = self.local_root / rel
                if not path.exists():
                    failed.append(tr("{0} (it is gone)").format(rel))
                elif self._open_path(path) is False:
                    failed.append(rel)
        if failed:
            self.status.setText(
                tr("Could not open {0}: no application is set to open this kind of file. Use Show in folder "
                   "in Recent activity, or open it from your file manager.").format(", ".join(failed))
            )  # fmt: skip
        else:
            self.status.clear()

    def settle_selected(self, keep: Keep) -> None:
        chosen = self.selected()
        if chosen:
            self.view.clearSelection()
            self._settle(chosen, keep)
