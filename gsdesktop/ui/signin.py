"""Signing in again from the app, and where the password is kept (keyring, or by choice a private file).

:class:`PasswordStorage` is shared by the first-run wizard and :class:`SignInDialog`: with a system keyring
it offers "remember in the keyring"; without one it says so and offers the two honest choices: ask again
when the server asks (nothing stored), or keep the password in a file only the user can read, not encrypted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSize, Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from gsdesktop.datamanager import credentials as creds
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.prefs import delete_file_password, load_file_password, password_file, save_file_password

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

log = logging.getLogger(__name__)


def _tr(text: str) -> str:
    return QCoreApplication.translate("PasswordStorage", text)


def _forget_file_password(server_url: str, username: str) -> None:
    """Another choice was made for this account: its password file (if it is this account's) goes."""
    if load_file_password(server_url, username) is not None:
        delete_file_password()


class PasswordStorage(QWidget):
    """Where to keep the password. ``store()`` runs on a worker thread and returns a one-line summary."""

    def __init__(self, parent: QWidget | None = None, keyring: bool | None = None) -> None:
        super().__init__(parent)
        self.has_keyring = creds.keyring_available() if keyring is None else keyring
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.remember = QCheckBox(self.tr("&Remember the password in the system keyring"), self)
        self.remember.setChecked(True)
        self.warning = QLabel(self)
        self.warning.setWordWrap(True)
        self.ask_again = QRadioButton(self.tr("&Ask me again when needed"), self)
        self.ask_again.setToolTip(self.tr("Nothing is stored; the server asks for the password again."))
        self.use_file = QRadioButton(self.tr("Keep it in a &file only I can read (not encrypted)"), self)
        self.use_file.setToolTip(str(password_file()))
        self.file_label = QLabel(self.tr("The file: {0}").format(password_file()), self)
        self.file_label.setWordWrap(True)
        self.file_label.setIndent(24)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        group = QButtonGroup(self)
        group.addButton(self.ask_again)
        group.addButton(self.use_file)
        self.ask_again.setChecked(True)
        if self.has_keyring:
            layout.addWidget(self.remember)
            for w in (self.warning, self.ask_again, self.use_file, self.file_label):
                w.hide()
        else:
            self.remember.setChecked(False)
            self.remember.hide()
            self.warning.setText(
                self.tr(
                    "<b>This computer has no system keyring</b>, so the password cannot be kept there. "
                    "Without a stored password you are asked again when your session ends (about once a day)."
                )
            )
            for w in (self.warning, self.ask_again, self.use_file, self.file_label):
                layout.addWidget(w)
        self.ask_again.setAccessibleName(self.tr("Ask for the password again"))
        self.use_file.setAccessibleName(self.tr("Keep the password in a private file"))

    def set_remember(self, on: bool) -> None:
        """Remember (keyring, or file where there is none) or not; the demo account needs neither."""
        if self.has_keyring:
            self.remember.setChecked(on)
        else:
            (self.use_file if on else self.ask_again).setChecked(True)

    def choice(self) -> str:
        """``keyring``, ``file`` or ``none``."""
        if self.has_keyring:
            return "keyring" if self.remember.isChecked() else "none"
        return "file" if self.use_file.isChecked() else "none"

    @staticmethod
    def store(choice: str, server_url: str, username: str, password: str) -> str:
        """Keep (or not) ``password`` as chosen; never drops it silently. Worker thread."""
        if choice == "keyring":
            try:
                creds.set_keyring_password(server_url, username, password)
            except creds.CredentialsUnavailableError as exc:
                log.warning("password not stored in the keyring: %s", exc)
                return _tr("The keyring refused the password; you will be asked again when needed.")
            _forget_file_password(server_url, username)
            return _tr("The password is kept in the system keyring.")
        if choice == "file":
            path = save_file_password(server_url, username, password)
            return _tr("The password is kept, not encrypted, in {0} (readable only by you).").format(path)
        _forget_file_password(server_url, username)
        return _tr("The password is not stored; you will be asked again when the server asks.")


class SignInDialog(QDialog):
    """Sign in again as the app's account (server and user fixed and shown); on success ``signed_in`` runs.

    The password is checked by the server on a worker thread; the dialog closes only after it said yes.
    """

    def __init__(
        self,
        client: DataManagerClient,
        runner: TaskRunner,
        signed_in: Callable[[str], None],
        reason: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.runner = runner
        self._signed_in = signed_in
        self.setWindowTitle(self.tr("Sign in — GenomeSpace Desktop"))
        self.reason = QLabel(reason or self.tr("Sign in to continue syncing."), self)
        self.reason.setWordWrap(True)
        self.server = QLineEdit(client.server_url, self)
        self.server.setReadOnly(True)
        self.username = QLineEdit(client.username, self)
        self.username.setReadOnly(True)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(self.tr("Password"))
        self.storage = PasswordStorage(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("&Sign in"))
        self.buttons.accepted.connect(self.sign_in)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.tr("Server:"), self.server)
        form.addRow(self.tr("User name:"), self.username)
        form.addRow(self.tr("&Password:"), self.password)
        layout = QVBoxLayout(self)
        layout.addWidget(self.reason)
        layout.addLayout(form)
        layout.addWidget(self.storage)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.password.setFocus()
        self._busy = False

    def sizeHint(self) -> QSize:
        """520 px wide by default (room for the wrapped notes); it can be made narrower."""
        hint = super().sizeHint()
        return QSize(max(hint.width(), 520), hint.height())

    def sign_in(self) -> None:
        if self._busy:
            return
        password = self.password.text()
        if not password:
            self.status.setText(self.tr("Enter your password."))
            return
        self._busy = True
        self.buttons.setEnabled(False)
        self.status.setText(self.tr("Signing in…"))
        client, choice = self.client, self.storage.choice()

        def work() -> str:
            client.sign_in(password)
            return PasswordStorage.store(choice, client.server_url, client.username, password)

        def done(summary: str) -> None:
            self._busy = False
            self.buttons.setEnabled(True)
            self.password.clear()
            self.status.setText(summary)
            self._signed_in(summary)
            self.accept()

        def failed(exc: BaseException) -> None:
            self._busy = False
            self.buttons.setEnabled(True)
            self.status.setText(getattr(exc, "user_message", None) or str(exc))
            self.password.selectAll()
            self.password.setFocus()

        self.runner.run_task(work, done, failed)
