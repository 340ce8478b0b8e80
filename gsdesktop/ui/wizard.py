"""First-run wizard: server, account (password to the keyring), folders (with a remote-folder picker), and
which remote folders to sync, all before the first sync."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.browser_moves import RemoteFolderDialog
from gsdesktop.ui.prefs import Prefs, default_local_folder
from gsdesktop.ui.session import SyncSetup
from gsdesktop.ui.signin import PasswordStorage

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.server.embedded import LocalServer
    from gsdesktop.ui.settings import SelectiveSyncModel

log = logging.getLogger(__name__)


class ServerPage(QWizardPage):
    def __init__(self, prefs: Prefs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Welcome to GenomeSpace Desktop"))
        self.setSubTitle(self.tr("Choose the Data Manager server to sync with."))
        self.demo = QRadioButton(self.tr("A &demo server on this computer (no account)"), self)
        self.custom = QRadioButton(self.tr("&This server:"), self)
        self.url = QLineEdit(prefs.server_url or "", self)
        self.url.setPlaceholderText("https://genomespace.example.org")
        self.url.setAccessibleName(self.tr("Server URL"))
        (self.custom if prefs.server_url else self.demo).setChecked(True)
        self.url.setEnabled(self.custom.isChecked())
        self.custom.toggled.connect(self.url.setEnabled)
        self.custom.toggled.connect(lambda _c: self.completeChanged.emit())
        self.url.textChanged.connect(lambda _t: self.completeChanged.emit())
        layout = QVBoxLayout(self)
        layout.addWidget(self.demo)
        row = QHBoxLayout()
        row.addWidget(self.custom)
        row.addWidget(self.url, 1)
        layout.addLayout(row)

    def isComplete(self) -> bool:
        return self.demo.isChecked() or self.url.text().strip().startswith(("http://", "https://"))


class AccountPage(QWizardPage):
    """Signs in on a worker thread when Next is pressed; moves on only after the server said yes."""

    def __init__(self, wizard: FirstRunWizard, prefs: Prefs) -> None:
        super().__init__(wizard)
        self.wiz = wizard
        self.setTitle(self.tr("Your account"))
        self.storage = PasswordStorage(self)
        self.setSubTitle(
            self.tr("The password is kept in your system keyring, never in a file.")
            if self.storage.has_keyring
            else self.tr("This computer has no system keyring: choose below how to handle the password.")
        )
        self.username = QLineEdit(prefs.username, self)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = self.storage.remember
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(self.tr("&User name:"), self.username)
        form.addRow(self.tr("&Password:"), self.password)
        form.addRow(self.storage)
        form.addRow(self.status)
        self.client: DataManagerClient | None = None
        self._verified = False
        self._busy = False

    def initializePage(self) -> None:
        if self.wiz.using_demo():
            from gsdesktop.ui.demo import DEMO_PASSWORD, DEMO_USER

            self.username.setText(DEMO_USER)
            self.password.setText(DEMO_PASSWORD)
            self.storage.set_remember(False)
        self._verified = False

    def validatePage(self) -> bool:
        if self._verified:
            return True
        if self._busy:
            return False
        user, password = self.username.text().strip(), self.password.text()
        if not user or not password:
            self.status.setText(self.tr("Enter your user name and password."))
            return False
        self._busy = True
        self.status.setText(self.tr("Signing in…"))
        self.wiz.button(QWizard.WizardButton.NextButton).setEnabled(False)
        choice = self.storage.choice()
        wiz = self.wiz

        def work() -> tuple[DataManagerClient, str]:
            from gsdesktop.datamanager.client import DataManagerClient
            from gsdesktop.datamanager.transport import TransferConfig

            url = wiz.server_url()
            client = DataManagerClient(url, user, password, pool_size=16, config=TransferConfig.from_env())
            client.login()
            summary = PasswordStorage.store(choice, url, user, password)
            return client, summary

        def done(result: tuple[DataManagerClient, str]) -> None:
            client, summary = result
            self._busy = False
            self.client = client
            self._verified = True
            self.status.setText(self.tr("Signed in as {0}. {1}").format(user, summary))
            self.wiz.button(QWizard.WizardButton.NextButton).setEnabled(True)
            self.wiz.next()

        def failed(exc: BaseException) -> None:
            self._busy = False
            self.status.setText(getattr(exc, "user_message", None) or str(exc))
            self.wiz.button(QWizard.WizardButton.NextButton).setEnabled(True)

        self.wiz.runner.run_task(work, done, failed)
        return False


class FoldersPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard, prefs: Prefs) -> None:
        super().__init__(wizard)
        self.wiz = wizard
        self.setTitle(self.tr("Folders"))
        self.setSubTitle(
            self.tr(
                "If the local folder already has files, nothing is overwritten or deleted: files that differ "
                "from the server are kept side by side as conflict copies."
            )
        )
        self.local = QLineEdit(prefs.local_folder or str(default_local_folder()), self)
        browse = QPushButton(self.tr("&Browse…"), self)
        browse.clicked.connect(self._browse)
        self.remote = QLineEdit(prefs.remote_folder, self)
        self.choose_remote = QPushButton(self.tr("&Choose…"), self)
        self.choose_remote.clicked.connect(self.pick_remote)
        self.remote_dialog: RemoteFolderDialog | None = None
        form = QFormLayout(self)
        # a label whose buddy is a layout shows its '&' literally: the buddy is the line edit itself
        for text, edit, button in (
            (self.tr("&Local folder:"), self.local, browse),
            (self.tr("&Remote folder:"), self.remote, self.choose_remote),
        ):
            label = QLabel(text, self)
            label.setBuddy(edit)
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(button)
            form.addRow(label, row)

    def initializePage(self) -> None:
        client = self.wiz.account.client
        if client is not None and not self.remote.text():
            self.remote.setText(client.home)

    def pick_remote(self) -> RemoteFolderDialog | None:
        """A tree of the account's remote folders; the chosen one goes into the remote folder field."""
        client = self.wiz.account.client
        if client is None:
            return None
        dialog = RemoteFolderDialog(client, self.wiz.runner, client.home, self)
        self.remote_dialog = dialog

        def chosen(_result: int) -> None:
            if dialog.result() == QDialog.DialogCode.Accepted and dialog.chosen():
                self.remote.setText(dialog.chosen())
            self.remote_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(chosen)
        dialog.open()
        return dialog

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Local folder"), self.local.text())
        if folder:
            self.local.setText(folder)

    def validatePage(self) -> bool:
        path = Path(self.local.text()).expanduser()
        return bool(self.local.text().strip()) and (not path.exists() or path.is_dir())


class SelectivePage(QWizardPage):
    """Which remote folders to sync, asked before the first sync (unchecked ones stay on the server)."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__(wizard)
        self.wiz = wizard
        self.setTitle(self.tr("Folders to sync"))
        self.setSubTitle(
            self.tr("Unchecked folders stay on the server only; you can change this later in Settings.")
        )
        self.view = QTreeView(self)
        self.view.setHeaderHidden(True)
        self.view.setAccessibleName(self.tr("Selective sync"))
        self.model: SelectiveSyncModel | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)

    def initializePage(self) -> None:
        from gsdesktop.ui.settings import SelectiveSyncModel

        client = self.wiz.account.client
        remote = self.wiz.folders.remote.text().strip() or (client.home if client is not None else "")
        if client is None or (self.model is not None and self.model.root_path == remote.rstrip("/")):
            return
        self.model = SelectiveSyncModel(client, self.wiz.runner, remote, [], self)
        self.view.setModel(self.model)
        self.model.fetchMore(QModelIndex())

    def excluded(self) -> list[str]:
        return sorted(self.model.excluded) if self.model is not None else []


class FirstRunWizard(QWizard):
    """Collects a :class:`SyncSetup`; ``server_starter`` starts the demo server when chosen."""

    def __init__(self, prefs: Prefs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("GenomeSpace Desktop setup"))
        self.prefs = prefs
        self.runner = TaskRunner(2, self)
        self.demo_server: LocalServer | None = None
        self.server = ServerPage(prefs, self)
        self.account = AccountPage(self, prefs)
        self.folders = FoldersPage(self, prefs)
        self.selective = SelectivePage(self)
        for page in (self.server, self.account, self.folders, self.selective):
            self.addPage(page)

    def using_demo(self) -> bool:
        return self.server.demo.isChecked()

    def server_url(self) -> str:
        """The chosen server URL, starting the embedded demo server first if needed (worker thread)."""
        if not self.using_demo():
            return self.server.url.text().strip().rstrip("/")
        if self.demo_server is None:
            from gsdesktop.server.embedded import start_local_server
            from gsdesktop.ui.demo import DEMO_PASSWORD, DEMO_USER, demo_data_dir, seed_demo

            self.demo_server = start_local_server(
                demo_data_dir() / "server", users={DEMO_USER: DEMO_PASSWORD}
            )
            from gsdesktop.datamanager.client import DataManagerClient

            seed_demo(
                DataManagerClient(self.demo_server.url, DEMO_USER, DEMO_PASSWORD), "/users/demo/demo-data"
            )
        return str(self.demo_server.url)

    def result_setup(self) -> SyncSetup | None:
        client = self.account.client
        if client is None:
            return None
        prefs = self.prefs
        prefs.server_url, prefs.username = client.server_url, client.username
        prefs.local_folder = str(Path(self.folders.local.text()).expanduser().absolute())
        prefs.remote_folder = self.folders.remote.text().strip() or client.home
        prefs.excluded_remote_folders = self.selective.excluded()
        if not self.using_demo():
            try:
                prefs.save()
            except OSError as exc:
                log.warning("could not save preferences: %s", exc)
        server = self.demo_server
        cleanup = server.stop if server is not None else None
        return SyncSetup(client, Path(prefs.local_folder), prefs.remote_folder, prefs, cleanup=cleanup)


def run_wizard(prefs: Prefs) -> SyncSetup | None:
    """Show the wizard modally; ``None`` when cancelled."""
    from gsdesktop.ui.runtime import SignalWatcher

    wizard = FirstRunWizard(prefs)
    watcher = SignalWatcher()  # SIGTERM/SIGINT while the wizard is open: cancel it, exit 0
    watcher.received.connect(lambda _sig: wizard.reject())
    try:
        accepted = wizard.exec() == QWizard.DialogCode.Accepted
    finally:
        watcher.restore()
    if not accepted:
        if wizard.demo_server is not None:
            wizard.demo_server.stop()
        return None
    return wizard.result_setup()
