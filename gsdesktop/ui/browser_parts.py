"""Parts of the remote browser: the drop-accepting tree view, the Properties dialog and name/link helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from PySide6.QtCore import QCoreApplication, QMimeData, QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtGui import (
    QDrag,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTreeView,
    QWidget,
)

from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.ui.formatting import human_size
from gsdesktop.ui.refget_actions import RefgetActions, RefgetIdsPanel, is_servable
from gsdesktop.ui.remote_model import META_ROLE

# answers to "a file of that name is already there" (ask_replace)
REPLACE, KEEP_BOTH, SKIP = "replace", "keep-both", "skip"


def link_lifetime(url: str) -> int | None:
    """Seconds a presigned link still works (``X-Amz-Expires`` or ``Expires``), None if it does not say."""
    query = parse_qs(urlsplit(url).query)
    try:
        if "X-Amz-Expires" in query:
            return int(query["X-Amz-Expires"][0])
        if "Expires" in query:
            return max(0, int(query["Expires"][0]) - int(time.time()))
    except ValueError:
        return None
    return None


def duration_text(seconds: int) -> str:
    """ "7 days", "1 hour", "15 minutes" (the largest whole unit)."""
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= unit:
            n = round(seconds / unit)
            return f"{n} {name}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def free_name(name: str, taken: set[str]) -> str:
    """``name`` with the first free " (n)" before its extension: "reads.txt" -> "reads (2).txt"."""
    stem, dot, ext = name.partition(".") if not name.startswith(".") else (name, "", "")
    n = 2
    while True:
        candidate = f"{stem} ({n}){dot}{ext}"
        if candidate not in taken:
            return candidate
        n += 1


class RemoteTreeView(QTreeView):
    """Tree view that accepts external file drops as copies only (never a move that deletes files),
    highlights the folder a drop goes to, and drags selected items out (see :mod:`.drag_out`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QTreeView.DragDropMode.DropOnly)
        self.setDragEnabled(True)  # pressing on a selected row keeps the selection: several rows drag out
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setUniformRowHeights(True)
        self.setSortingEnabled(True)
        self.setSelectionMode(QTreeView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        #: the data of a drag out of the view (None: nothing to drag); set by the browser
        self.drag_out: Callable[[], QMimeData | None] = lambda: None
        self.last_drag: QMimeData | None = None  # the last drag out (kept: targets may read it late)
        self.drop_highlight: QPersistentModelIndex | None = None  # the folder row a drop goes to
        self.drop_on_root = False  # a drop goes to the folder shown (the whole view is highlighted)
        self._press: QPoint | None = None

    def _has_local_files(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        if event.source() is self:  # our own drag out: not an upload of local files
            return False
        mime = event.mimeData()
        return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())

    def _accept_as_copy(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        """Accept a drag of local files as a copy (highlighting where it goes); ignore anything else."""
        if self._has_local_files(event):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self._highlight(self.indexAt(event.position().toPoint()))
        else:
            event.ignore()
            self._highlight(None)

    def _highlight(self, index: QModelIndex | None) -> None:
        """Highlight the folder a drop at ``index`` goes to: its own row, a file's folder row, or the
        whole view (the folder shown); ``None`` ends the highlight."""
        row: QPersistentModelIndex | None = None
        on_root = False
        if index is not None:
            index = index.siblingAtColumn(0) if index.isValid() else index
            meta = index.data(META_ROLE) if index.isValid() else None
            target = index if getattr(meta, "is_directory", False) else index.parent()
            row = QPersistentModelIndex(target) if target.isValid() else None
            on_root = row is None
        if row != self.drop_highlight or on_root != self.drop_on_root:
            self.drop_highlight, self.drop_on_root = row, on_root
            self.viewport().update()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._accept_as_copy(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._accept_as_copy(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._highlight(None)
        super().dragLeaveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.drop_highlight is None and not self.drop_on_root:
            return
        rect = self.viewport().rect().adjusted(1, 1, -2, -2)
        if self.drop_highlight is not None and self.drop_highlight.isValid():
            row = self.visualRect(
                self.model().index(self.drop_highlight.row(), 0, self.drop_highlight.parent())
            )
            rect = row.adjusted(0, 0, -1, -1)
            rect.setLeft(max(row.left() - self.indentation(), 0))
            rect.setRight(self.viewport().width() - 2)
        painter = QPainter(self.viewport())
        color = self.palette().color(QPalette.ColorRole.Highlight)
        fill = color.lighter(100)
        fill.setAlpha(60)
        painter.fillRect(rect, fill)
        painter.setPen(QPen(color, 2))
        painter.drawRect(rect)
        painter.end()

    # ---- dragging items out ----

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        on_item = self.indexAt(event.position().toPoint()).isValid()
        left = event.button() == Qt.MouseButton.LeftButton
        self._press = event.position().toPoint() if left and on_item else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        from PySide6.QtWidgets import QApplication

        press = self._press
        held = bool(event.buttons() & Qt.MouseButton.LeftButton)
        far = press is not None and (event.position().toPoint() - press).manhattanLength() >= (
            QApplication.startDragDistance()
        )
        if held and far:
            self._press = None
            self.start_drag_out()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press = None
        super().mouseReleaseEvent(event)

    def start_drag_out(self) -> Qt.DropAction:
        """Drag the selection out (a copy); a drag that ends without a drop cancels its downloads."""
        mime = self.drag_out()
        if mime is None:
            return Qt.DropAction.IgnoreAction
        self.last_drag = mime
        drag = QDrag(self)
        drag.setMimeData(mime)
        result = drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)
        if result == Qt.DropAction.IgnoreAction and hasattr(mime, "cancel"):
            mime.cancel()
        return result

    def dropEvent(self, event: QDropEvent) -> None:
        self._highlight(None)
        if not self._has_local_files(event):
            event.ignore()
            return
        index = self.indexAt(event.position().toPoint())
        if index.isValid():
            index = index.siblingAtColumn(0)
        self.model().dropMimeData(event.mimeData(), Qt.DropAction.CopyAction, -1, -1, index)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()


class PropertiesDialog(QDialog):
    """Full metadata of one remote item, MD5 included; FASTA files also get their refget ids."""

    def __init__(
        self, meta: GSFileMetadata, parent: QWidget | None = None, refget: RefgetActions | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Properties of {0}").format(meta.name))
        form = QFormLayout(self)
        rows: list[tuple[str, str]] = [
            (self.tr("Name"), meta.name),
            (self.tr("Path"), meta.path),
            (self.tr("Kind"), self.tr("Folder") if meta.is_directory else self.tr("File")),
            (self.tr("Size"), "" if meta.size is None else f"{human_size(meta.size)} ({meta.size} bytes)"),
            (
                self.tr("Modified"),
                meta.last_modified.astimezone().isoformat(" ") if meta.last_modified else "",
            ),
            (self.tr("Owner"), meta.owner),
            (self.tr("Format"), meta.data_format.name if meta.data_format else ""),
            (self.tr("Available formats"), ", ".join(f.name for f in meta.available_data_formats)),
            (self.tr("Content type"), meta.content_type or ""),
            (self.tr("MD5"), meta.md5 or ""),
            (self.tr("URL"), meta.url),
        ]
        self.values: dict[str, str] = {}
        long_values = (self.tr("Path"), self.tr("URL"), self.tr("MD5"))
        for label, value in rows:
            field: QWidget
            if label in long_values:  # scrolls in a narrow window instead of widening it
                edit = QLineEdit(value, self)
                edit.setReadOnly(True)
                edit.setFrame(False)
                edit.setStyleSheet("QLineEdit { background: transparent; }")
                edit.setCursorPosition(0)
                field = edit
            else:
                text = QLabel(value, self)
                text.setWordWrap(True)
                text.setTextInteractionFlags(
                    Qt.TextInteractionFlag.TextSelectableByMouse
                    | Qt.TextInteractionFlag.TextSelectableByKeyboard
                )
                field = text
            form.addRow(label + ":", field)
            self.values[label] = value
        self.refget_panel: RefgetIdsPanel | None = None
        if refget is not None and is_servable(meta):
            self.refget_panel = RefgetIdsPanel(refget, meta.path, self)
            form.addRow(self.refget_panel)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


def ask_replace_dialog(parent: QWidget, name: str, left: int) -> tuple[str, bool]:
    """Ask what to do with an upload whose name is already on the server: (REPLACE / KEEP_BOTH / SKIP,
    apply to the other ``left - 1`` clashes)."""

    def tr(text: str) -> str:
        return QCoreApplication.translate("RemoteBrowser", text)

    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(tr("Replace file?"))
    box.setText(tr("“{0}” is already in this folder on the server.").format(name))
    box.setInformativeText(
        tr("Replace it with the file you are uploading, keep both (yours gets a new name), or skip it?")
    )
    replace = box.addButton(tr("&Replace"), QMessageBox.ButtonRole.DestructiveRole)
    both = box.addButton(tr("&Keep both"), QMessageBox.ButtonRole.AcceptRole)
    skip = box.addButton(tr("&Skip"), QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(both)
    box.setEscapeButton(skip)
    apply_all = QCheckBox(tr("Do this for the other {0} item(s)").format(left - 1))
    if left > 1:
        box.setCheckBox(apply_all)  # the box owns it from here
    box.exec()
    clicked = box.clickedButton()
    choice = REPLACE if clicked is replace else KEEP_BOTH if clicked is both else SKIP
    return choice, left > 1 and apply_all.isChecked()
