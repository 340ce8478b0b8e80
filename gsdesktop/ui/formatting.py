"""Display helpers shared by the UI models: sizes, times, column headers, flat list tables."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

Index = QModelIndex | QPersistentModelIndex


def _tr(text: str) -> str:
    return QCoreApplication.translate("RemoteTreeModel", text)


_DIGITS = re.compile(r"(\d+)")


def icons_dir() -> Path:
    """``resources/icons`` next to the package (source tree, wheel or frozen bundle)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "resources" / "icons", here.parents[1] / "resources" / "icons"):
        if candidate.is_dir():
            return candidate
    return here.parent / "resources" / "icons"


def natural_key(name: str) -> tuple[Any, ...]:
    """Names as people sort them: "sample2" before "sample10", case aside."""
    parts: list[Any] = _DIGITS.split(name.lower())
    parts[1::2] = [int(p) for p in parts[1::2]]
    return tuple(parts)


NOT_SYNCED_ROLES = (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ForegroundRole)


def not_synced_data(role: int, path: str) -> Any:
    """How a folder excluded from sync (selective sync) is marked: italic, dimmed, said in its tooltip."""
    if role == Qt.ItemDataRole.ToolTipRole:
        return _tr("{0}\nNot synced to this computer (selective sync)").format(path)
    if role == Qt.ItemDataRole.FontRole:
        font = QFont()
        font.setItalic(True)
        return font
    return QApplication.palette().placeholderText()


def human_size(n: int | None) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units, named as such); ``None`` -> ``""``."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def format_eta(seconds: float | None) -> str:
    """``75`` -> ``"1 min 15 s"``; ``None`` -> ``""``."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def clock_time(when: float) -> str:
    """A POSIX timestamp as local ``HH:MM:SS``."""
    return time.strftime("%H:%M:%S", time.localtime(when))


def header_data(
    columns: tuple[str, ...], context: str, section: int, orientation: Qt.Orientation, role: int
) -> str | None:
    """The translated title of horizontal header ``section`` (``None`` for anything else).

    Args:
        columns: untranslated column titles.
        context: the translation context of the calling model.
        section: column number.
        orientation: header orientation; only horizontal headers have titles.
        role: the item data role; only the display role has a title.
    """
    horizontal = orientation == Qt.Orientation.Horizontal
    if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(columns):
        return QCoreApplication.translate(context, columns[section])
    return None


class ListTableModel(QAbstractTableModel):
    """A flat table over ``self._rows`` with titles ``COLUMNS`` (translated in ``TR_CONTEXT``).

    Subclasses fill ``_rows`` and implement ``data``.
    """

    COLUMNS: tuple[str, ...] = ()
    TR_CONTEXT = "ListTableModel"
    _rows: list[Any]
    count_changed = Signal(int)  # after replace_rows

    def replace_rows(self, rows: Any) -> None:
        """Show ``rows`` instead of the current ones (a list replaced as a whole)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()
        self.count_changed.emit(len(self._rows))

    def row_item(self, row: int) -> Any:
        """The item shown in ``row``, or None outside the table."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        return header_data(self.COLUMNS, self.TR_CONTEXT, section, orientation, role)


def fit_to_screen(window: Any, margin: int = 24) -> None:
    """Shrink a top-level window that is larger than its screen's free area (e.g. at 2× scaling) and move
    it inside; never below its minimum size. Call before showing it the first time."""
    screen = window.screen() or QApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    frame = window.frameGeometry().size() - window.size()  # title bar and borders, once known
    room_w = max(area.width() - margin - frame.width(), window.minimumSizeHint().width())
    room_h = max(area.height() - margin - frame.height(), window.minimumSizeHint().height())
    if window.width() > room_w or window.height() > room_h:
        window.resize(min(window.width(), room_w), min(window.height(), room_h))
    geometry = window.frameGeometry()
    x = min(max(geometry.x(), area.x()), area.x() + max(area.width() - geometry.width(), 0))
    y = min(max(geometry.y(), area.y()), area.y() + max(area.height() - geometry.height(), 0))
    if (x, y) != (geometry.x(), geometry.y()):
        window.move(x, y)
