"""Parts of the remote browser: the drop-accepting tree view, the Properties dialog and name/link helpers."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QTreeView,
    QWidget,
)

from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.ui.formatting import human_size
from gsdesktop.ui.refget_actions import RefgetActions, RefgetIdsPanel, is_servable

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
    """Tree view that accepts external file drops as copies only (never a move that deletes files)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QTreeView.DragDropMode.DropOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setUniformRowHeights(True)
        self.setSortingEnabled(True)
        self.setSelectionMode(QTreeView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    @staticmethod
    def _has_local_files(event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        mime = event.mimeData()
        return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())

    def _accept_as_copy(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        """Accept a drag of local files as a copy; ignore anything else."""
        if self._has_local_files(event):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._accept_as_copy(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._accept_as_copy(event)

    def dropEvent(self, event: QDropEvent) -> None:
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
        for label, value in rows:
            field = QLabel(value, self)
            field.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
            )
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
