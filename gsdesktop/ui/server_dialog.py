"""The base of the sharing dialogs: server calls off the GUI thread with errors kept, user-name completion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QCompleter, QDialog, QLabel, QLineEdit, QPushButton, QWidget
from shiboken6 import isValid

from gsdesktop.datamanager.sharing import Sharing
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.refget_actions import error_text

SEARCH_DELAY_MS = 250  # typing pauses this long before the user search is asked


class ServerDialog(QDialog):
    """A dialog whose server calls run on the task runner; errors are shown in it, never dropped.

    While a call is in flight the dialog's controls are disabled. An error that arrives after the dialog
    was closed is handed on through :attr:`unseen_error` (the browser shows it in its status bar and
    notification).
    """

    unseen_error = Signal(str, str)  # title, message
    idle = Signal()  # the last call in flight finished (its result is shown)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._busy = 0
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setAccessibleName(self.tr("Error"))
        self.error_label.hide()
        #: (title, question) -> yes; replaceable so tests answer without a modal loop
        self.confirm: Callable[[str, str], bool] = self._ask_confirm

    def showEvent(self, event: QShowEvent) -> None:
        # Enter in a name field acts on that field only: no button (Revoke, Delete…, Close) is pressed by it
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        super().showEvent(event)

    @property
    def busy(self) -> bool:
        return self._busy > 0

    def call(self, fn: Callable[[], Any], done: Callable[[Any], None], failure: str) -> None:
        """Run ``fn`` off the GUI thread; ``done(result)`` on success, else the error is shown."""
        self._busy += 1
        self.set_enabled_state()

        def finish() -> bool:
            if not isValid(self):
                return False
            self._busy -= 1
            return True

        def ok(result: Any) -> None:
            if finish():
                self.error_label.hide()
                done(result)
                self.set_enabled_state()
                if not self._busy:
                    self.idle.emit()

        def bad(exc: BaseException) -> None:
            if finish():
                self.show_error(failure, exc)
                self.set_enabled_state()
                if not self._busy:
                    self.idle.emit()

        self.runner.run_task(fn, ok, bad)

    def show_error(self, title: str, exc: BaseException) -> None:
        message = error_text(exc)
        self.error_label.setText(f"{title}: {message}")
        self.error_label.show()
        if not self.isVisible():
            self.unseen_error.emit(title, message)

    def set_enabled_state(self) -> None:  # subclasses enable their controls from their state
        pass

    def _ask_confirm(self, title: str, text: str) -> bool:
        from PySide6.QtWidgets import QMessageBox

        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
        return QMessageBox.question(self, title, text, buttons) == QMessageBox.StandardButton.Yes


class UserCompleter(QCompleter):
    """Completes user names in ``edit`` from the server's user search (by prefix, debounced, off-thread).

    ``extra`` names (e.g. your groups) are offered too when ``groups`` is set.
    """

    def __init__(self, sharing: Sharing, runner: TaskRunner, edit: QLineEdit) -> None:
        self.names = QStringListModel()
        super().__init__(self.names, edit)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.sharing = sharing
        self.runner = runner
        self.edit = edit
        self.groups: list[str] | None = None  # set: complete group names instead
        self._asked = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self._search)
        edit.setCompleter(self)
        edit.textEdited.connect(self._typed)

    def set_groups(self, groups: list[str] | None) -> None:
        self.groups = groups
        self.names.setStringList(groups or [])

    def _typed(self, text: str) -> None:
        if self.groups is None and text.strip():
            self._timer.start()

    def _search(self) -> None:
        prefix = self.edit.text().strip()
        if not prefix or prefix == self._asked:
            return
        self._asked = prefix
        sharing = self.sharing

        def done(names: list[str]) -> None:
            if not isValid(self.edit) or self.groups is not None:
                return
            if not self.edit.text().strip().lower().startswith(prefix.lower()):
                return  # typed on meanwhile: a newer search follows
            self.names.setStringList(names)
            if names and self.edit.hasFocus():
                self.complete()

        # a failed search only means no suggestions; sharing by exact name still works
        self.runner.run_task(lambda: sharing.search_users(prefix), done, lambda _exc: None)
