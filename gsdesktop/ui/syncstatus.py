"""What the app says about a running sync: the status window (where there is no tray), the progress
line, the files in flight, and the question about deletions the mass-delete guard holds back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gsdesktop.sync.events import SyncProgress
from gsdesktop.sync.holds import PendingDeletions
from gsdesktop.ui.formatting import human_size

LISTED = 200  # held paths shown in the question's details


def tr(text: str) -> str:
    return QCoreApplication.translate("DesktopApp", text)


def progress_text(p: SyncProgress | None) -> str:
    """``Syncing 37 of 400 files, 1.2 GiB left, about 2 min`` (``""`` without files to count)."""
    if p is None or not p.files_total:
        return ""
    text = tr("Syncing {0} of {1} files").format(min(p.files_done + 1, p.files_total), p.files_total)
    left = p.bytes_total - p.bytes_done
    if left > 0:
        text += tr(", {0} left").format(human_size(left))
    seconds = p.seconds_left
    if seconds is not None and seconds >= 3:
        mins = round(seconds / 60)
        when = tr("{0} s").format(int(seconds)) if seconds < 60 else tr("{0} min").format(mins)
        text += tr(", about {0}").format(when)
    return text


def files_in_flight(p: SyncProgress | None) -> str:
    """``a.bam, b.bam, c.bam and 2 more`` (names of the files transferring now; ``""`` for none)."""
    if p is None or not p.current:
        return ""
    names = [c.rsplit("/", 1)[-1] for c in p.current[:3]]
    more = len(p.current) - len(names)
    return ", ".join(names) + (tr(" and {0} more").format(more) if more > 0 else "")


def deletions_question(
    held: PendingDeletions, local_root: Path, remote_root: str, delete: Callable[[], None],
    keep: Callable[[], None],
) -> QMessageBox:  # fmt: skip
    """A non-modal question: how many items were deleted on which side (the list in the details);
    *Delete them* calls ``delete``, *Keep them (restore)* (the default, also Escape) calls ``keep``."""
    lines = []
    if held.remote:
        lines.append(tr("{0} item(s) were deleted in your local folder {1}; sync would delete them on "
                        "the server too.").format(len(held.remote), local_root))  # fmt: skip
    if held.local:
        text = tr("{0} item(s) were deleted on the server in {1}; sync would delete them in your local "
                  "folder too (to the trash).")  # fmt: skip
        lines.append(text.format(len(held.local), remote_root))
    box = QMessageBox(QMessageBox.Icon.Warning, tr("Delete these files?"), "\n\n".join(lines))
    box.setInformativeText(tr("Everything else was synced. Keep them to copy them back where they "
                              "were deleted."))  # fmt: skip
    shown = sorted(held.paths())
    box.setDetailedText("\n".join(shown[:LISTED]) + ("\n…" if len(shown) > LISTED else ""))
    delete_button = box.addButton(tr("Delete them"), QMessageBox.ButtonRole.DestructiveRole)
    keep_button = box.addButton(tr("Keep them (restore)"), QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep_button)
    box.setEscapeButton(keep_button)

    def decided(button: object) -> None:
        if button is delete_button:
            delete()
        elif button is keep_button:
            keep()

    box.buttonClicked.connect(decided)
    return box


class StatusWindow(QWidget):
    """Stands in for the tray where the desktop has none: status line plus the tray menu as buttons."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("GenomeSpace Desktop"))
        #: asked when the user closes the window; False keeps it open (without a tray it is the app)
        self.close_requested: Callable[[], bool] = lambda: True
        self.icon_label = QLabel(self)
        self.icon_label.setFixedSize(48, 48)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.note_label = QLabel(self)
        self.note_label.setWordWrap(True)
        self.buttons: dict[str, QToolButton] = {}
        self.actions_shown = actions
        self._visible: tuple[bool, ...] = ()
        grid = QGridLayout()
        self.grid = grid
        for action in actions:
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            self.buttons[action.objectName()] = button
            action.changed.connect(self._place_buttons)
        self._place_buttons()
        top = QGridLayout()
        top.addWidget(self.icon_label, 0, 0, 2, 1)
        top.addWidget(self.status_label, 0, 1)
        top.addWidget(self.note_label, 1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid)

    def _place_buttons(self) -> None:
        """Two per row, visible actions only (one shown only at times, e.g. Sign in…, leaves no gap)."""
        visible = tuple(a.isVisible() for a in self.actions_shown)
        if visible == self._visible:
            return  # only a text changed
        self._visible = visible
        for button in self.buttons.values():
            self.grid.removeWidget(button)
        shown = [a for a in self.actions_shown if a.isVisible()]
        for i, action in enumerate(shown):
            self.grid.addWidget(self.buttons[action.objectName()], i // 2, i % 2)
        for action in self.actions_shown:
            self.buttons[action.objectName()].setVisible(action.isVisible())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_requested():
            event.accept()
        else:
            event.ignore()

    def set_status(self, icon: QIcon, text: str) -> None:
        self.icon_label.setPixmap(icon.pixmap(48, 48))
        self.status_label.setText(text)
        self.setWindowIcon(icon)
