"""Settings: account, folders, selective sync, ignore patterns, bandwidth, start at login, notifications."""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, QUrl, qVersion
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from gsdesktop import __version__
from gsdesktop.ui import autostart
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.formatting import NOT_SYNCED_ROLES, not_synced_data
from gsdesktop.ui.prefs import Prefs, log_dir
from gsdesktop.ui.remote_model import Lister, RemoteTreeModel

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

log = logging.getLogger(__name__)
Index = QModelIndex | QPersistentModelIndex
IGNORE_FILE = ".gsignore"
KEEP_LOCAL, REMOVE_LOCAL = "keep", "remove"  # unchecking a folder: what becomes of its local copy


class SettingsSession(Protocol):
    """What the settings dialog uses of the running session (:class:`gsdesktop.ui.session.Session`)."""

    @property
    def client(self) -> DataManagerClient: ...  # the account shown; lists the remote folders
    @property
    def prefs(self) -> Prefs: ...
    @property
    def local_root(self) -> Path: ...
    @property
    def remote_root(self) -> str: ...
    @property
    def autostart_command(self) -> list[str] | None: ...  # what "Start at login" runs (None: the app)
    def save_prefs(self) -> None: ...  # any thread
    def forget_account(self) -> None: ...  # any thread
    def restart_sync(self, on_done: Callable[[], None] | None = None) -> None: ...
    def sign_in(self) -> None: ...
    def quit(self) -> None: ...


class SelectiveSyncModel(RemoteTreeModel):
    """Remote folders only, each with a check box; unchecked folders are excluded from sync.

    ``excluded`` holds paths relative to the sync root (as :class:`SyncConfig` expects).
    """

    def __init__(
        self,
        client: Lister,
        runner: TaskRunner,
        root: str,
        excluded: list[str],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(client, runner, root, parent, dirs_only=True)
        self.excluded: set[str] = {p.strip("/") for p in excluded if p.strip("/")}
        #: asked before a folder is unchecked (its relative path); False keeps it synced
        self.confirm_exclude: Callable[[str], bool] = lambda _rel: True

    def relative(self, path: str) -> str:
        return path[len(self.root_path) :].strip("/")

    def _is_excluded(self, rel: str) -> bool:
        parts = rel.split("/")
        return any("/".join(parts[: i + 1]) in self.excluded for i in range(len(parts)))

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 1

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = self.entry_flags(index)
        if index.isValid() and self.node(index).kind == "entry":
            flags |= Qt.ItemFlag.ItemIsUserCheckable
            parent = self.node(index).parent
            parent_rel = self.relative(parent.path) if parent is not None else ""
            if parent_rel and self._is_excluded(parent_rel):
                flags &= ~Qt.ItemFlag.ItemIsEnabled
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.CheckStateRole and index.isValid() and index.column() == 0:
            node = self.node(index)
            if node.kind != "entry":
                return None
            excluded = self._is_excluded(self.relative(node.path))
            return Qt.CheckState.Unchecked if excluded else Qt.CheckState.Checked
        entry = self.node(index) if role in NOT_SYNCED_ROLES and index.isValid() else None
        if entry is not None and entry.kind == "entry" and self._is_excluded(self.relative(entry.path)):
            return not_synced_data(role, entry.path)  # marked: not synced
        return super().data(index, role)

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or self.node(index).kind != "entry":
            return False
        rel = self.relative(self.node(index).path)
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        if checked:
            self.excluded = {e for e in self.excluded if e != rel and not e.startswith(rel + "/")}
        elif not self._is_excluded(rel) and not self.confirm_exclude(rel):
            return False
        else:
            self.excluded = {e for e in self.excluded if not e.startswith(rel + "/")} | {rel}
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self._children_changed(self.as_index(index))
        return True

    def _children_changed(self, index: QModelIndex) -> None:
        n = self.rowCount(index)
        if n:
            self.dataChanged.emit(self.index(0, 0, index), self.index(n - 1, 0, index))
            for row in range(n):
                self._children_changed(self.index(row, 0, index))


class SettingsDialog(QDialog):
    """Changes are applied with OK/Apply; a change to what is synced or how restarts the sync.

    Args:
        session: the running session (preferences, account, sync pair; restart, sign in, sign out, quit).
        runner: the app's task runner (file work and saving run there).
        open_url: opens a folder in the file manager.
        parent: Qt parent.
    """

    def __init__(
        self,
        session: SettingsSession,
        runner: TaskRunner,
        open_url: Callable[[QUrl], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.open_url = open_url
        prefs = session.prefs
        self.setWindowTitle(self.tr("GenomeSpace Desktop — Settings"))
        self.resize(620, 480)
        self.tabs = QTabWidget(self)

        # Account
        account = QWidget(self)
        form = QFormLayout(account)
        self.account_label = QLabel(
            self.tr("{0} at {1}").format(
                prefs.username or session.client.username, session.client.server_url
            ),
            account,
        )
        self.sign_out_button = QPushButton(self.tr("&Sign out…"), account)
        self.sign_out_button.clicked.connect(lambda _checked=False: self.sign_out())  # not sign_out(False)
        self.sign_in_button = QPushButton(self.tr("Sign &in again…"), account)
        self.sign_in_button.clicked.connect(lambda _checked=False: self.session.sign_in())
        form.addRow(self.tr("Signed in as:"), self.account_label)
        form.addRow(self.sign_in_button)
        form.addRow(self.sign_out_button)
        self.tabs.addTab(account, self.tr("Account"))

        # Folders + selective sync
        folders = QWidget(self)
        fl = QVBoxLayout(folders)
        ff = QFormLayout()
        self.local_edit = QLineEdit(str(session.local_root), folders)
        self.remote_edit = QLineEdit(session.remote_root, folders)
        self.browse_button = QPushButton(self.tr("&Browse…"), folders)
        self.choose_folder: Callable[[str], str] = lambda start: QFileDialog.getExistingDirectory(
            self, self.tr("Local folder"), start
        )
        self.browse_button.clicked.connect(self._browse_local)
        local_row = QHBoxLayout()
        local_row.addWidget(self.local_edit, 1)
        local_row.addWidget(self.browse_button)
        local_label = QLabel(self.tr("&Local folder:"), folders)
        local_label.setBuddy(self.local_edit)  # Alt+L reaches the field, not a literal "&"
        ff.addRow(local_label, local_row)
        self.remote_browse_button = QPushButton(self.tr("Br&owse…"), folders)
        #: (the current remote folder) -> the folder chosen in a tree of the account's folders, or None
        self.choose_remote_folder: Callable[[str], str | None] = self._pick_remote
        self.remote_browse_button.clicked.connect(self._browse_remote)
        remote_row = QHBoxLayout()
        remote_row.addWidget(self.remote_edit, 1)
        remote_row.addWidget(self.remote_browse_button)
        remote_label = QLabel(self.tr("&Remote folder:"), folders)
        remote_label.setBuddy(self.remote_edit)
        ff.addRow(remote_label, remote_row)
        self.mode_box = QComboBox(folders)
        for mode, text in (
            ("two-way", self.tr("Two-way: changes on either side are copied to the other")),
            (
                "upload-only",
                self.tr("Upload only: this computer to the server; local files are never changed"),
            ),
            (
                "download-only",
                self.tr("Download only: the server to this computer; the server is never changed"),
            ),
        ):
            self.mode_box.addItem(text, mode)
        self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(prefs.sync_mode)))
        self.mode_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_box.setMinimumContentsLength(16)  # long choices are elided in a narrow window
        mode_label = QLabel(self.tr("Sync &direction:"), folders)
        mode_label.setBuddy(self.mode_box)
        ff.addRow(mode_label, self.mode_box)
        fl.addLayout(ff)
        selective_label = QLabel(
            self.tr("Sync these remote folders (unchecked folders stay on the server only):"), folders
        )
        selective_label.setWordWrap(True)
        fl.addWidget(selective_label)
        self.selective_model = SelectiveSyncModel(
            session.client, runner, session.remote_root, list(prefs.excluded_remote_folders), self
        )
        self.selective_model.confirm_exclude = self._confirm_exclude
        self.ask_local_copy: Callable[[str], str | None] = self._ask_local_copy  # KEEP/REMOVE_LOCAL, None
        self.remove_local: dict[str, Path] = {}  # unchecked folders whose local copy goes to the trash
        self.selective_view = QTreeView(folders)
        self.selective_view.setModel(self.selective_model)
        self.selective_view.setHeaderHidden(True)
        self.selective_view.setAccessibleName(self.tr("Selective sync"))
        fl.addWidget(self.selective_view, 1)
        self.tabs.addTab(folders, self.tr("Folders"))

        # Ignore patterns
        ignore = QWidget(self)
        il = QVBoxLayout(ignore)
        ignore_label = QLabel(
            self.tr(
                "Files matching these patterns (one per line, like .gitignore) are not synced. Saved in {0}."
            ).format(IGNORE_FILE),
            ignore,
        )
        ignore_label.setWordWrap(True)
        il.addWidget(ignore_label)
        self.ignore_edit = QPlainTextEdit(ignore)
        self.ignore_edit.setTabChangesFocus(True)
        self.ignore_edit.setAccessibleName(self.tr("Ignore patterns"))
        il.addWidget(self.ignore_edit)
        self.tabs.addTab(ignore, self.tr("Ignore patterns"))
        self._load_ignore()

        # Network
        network = QWidget(self)
        nf = QFormLayout(network)
        self.up_limit = QSpinBox(network)
        self.down_limit = QSpinBox(network)
        for box, value in (
            (self.up_limit, prefs.max_upload_kbps),
            (self.down_limit, prefs.max_download_kbps),
        ):
            box.setRange(0, 10_000_000)
            box.setSuffix(self.tr(" KiB/s"))
            box.setSpecialValueText(self.tr("Unlimited"))
            box.setValue(value)
        self.poll_spin = QSpinBox(network)
        self.poll_spin.setRange(1, 3600)
        self.poll_spin.setSuffix(self.tr(" s"))
        self.poll_spin.setValue(int(prefs.poll_interval))
        nf.addRow(self.tr("&Upload limit:"), self.up_limit)
        nf.addRow(self.tr("&Download limit:"), self.down_limit)
        nf.addRow(self.tr("&Check the server every:"), self.poll_spin)
        self.tabs.addTab(network, self.tr("Network"))

        # General
        general = QWidget(self)
        gl = QVBoxLayout(general)
        self.autostart_box = QCheckBox(self.tr("Start GenomeSpace Desktop when I &log in"), general)
        self.autostart_box.setChecked(prefs.start_at_login)
        self.notify_box = QCheckBox(self.tr("Show desktop &notifications"), general)
        self.notify_box.setChecked(prefs.notifications)
        self.log_button = QPushButton(self.tr("Open &log folder"), general)
        self.log_button.clicked.connect(self.open_log_folder)
        gl.addWidget(self.autostart_box)
        gl.addWidget(self.notify_box)
        gl.addWidget(self.log_button)
        self.about_label = QLabel(
            self.tr("GenomeSpace Desktop {0} (Python {1}, Qt {2})").format(
                __version__, platform.python_version(), qVersion()
            ),
            general,
        )
        self.about_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.about_label.setWordWrap(True)
        gl.addWidget(self.about_label)
        gl.addStretch(1)
        self.tabs.addTab(general, self.tr("General"))

        self.status = QLabel(self)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        buttons.accepted.connect(self.accept_and_apply)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.tabs.currentChanged.connect(self._on_tab)
        self._sync_settings: tuple[object, ...] = (
            str(session.local_root),
            session.remote_root,
            prefs.poll_interval,
            prefs.max_upload_kbps,
            prefs.max_download_kbps,
            tuple(prefs.excluded_remote_folders),
            prefs.sync_mode,
        )

    def _on_tab(self, i: int) -> None:
        if self.tabs.widget(i) is self.selective_view.parentWidget() and self.selective_model.canFetchMore(
            QModelIndex()
        ):
            self.selective_model.fetchMore(QModelIndex())

    # ---- ignore file (disk I/O on the runner) ----

    def ignore_path(self) -> Path:
        return self.session.local_root / IGNORE_FILE

    def _load_ignore(self) -> None:
        path = self.ignore_path()

        def read() -> str:
            try:
                return path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return ""

        self.ignore_edit.setEnabled(False)
        self.runner.run_task(read, self._ignore_loaded, lambda exc: self.status.setText(str(exc)))

    def _ignore_loaded(self, text: str) -> None:
        self.ignore_edit.setPlainText(text)
        self.ignore_edit.setEnabled(True)
        self._ignore_original = text

    # ---- apply ----

    def apply(self) -> None:
        """Save preferences, .gsignore and the login item (file work on a worker thread)."""
        prefs = self.session.prefs
        prefs.max_upload_kbps = self.up_limit.value()
        prefs.max_download_kbps = self.down_limit.value()
        prefs.poll_interval = float(self.poll_spin.value())
        prefs.notifications = self.notify_box.isChecked()
        prefs.start_at_login = self.autostart_box.isChecked()
        prefs.excluded_remote_folders = sorted(self.selective_model.excluded)
        prefs.local_folder = str(Path(self.local_edit.text()).expanduser())
        prefs.remote_folder = self.remote_edit.text().strip() or self.session.remote_root
        prefs.sync_mode = str(self.mode_box.currentData())
        autostart_command = self.session.autostart_command
        ignore_text = self.ignore_edit.toPlainText() if self.ignore_edit.isEnabled() else None
        ignore_path, autostart_on, session = self.ignore_path(), prefs.start_at_login, self.session

        original = getattr(self, "_ignore_original", None)

        def save() -> None:
            session.save_prefs()
            changed = ignore_text is not None and ignore_text != original
            if changed and ignore_text is not None and (ignore_text or ignore_path.exists()):
                ending = "" if not ignore_text or ignore_text.endswith("\n") else "\n"
                ignore_path.write_text(ignore_text + ending, encoding="utf-8")
            if autostart_on or autostart.is_enabled():  # (re)written: it runs what this app is (the demo)
                autostart.set_enabled(autostart_on, command=autostart_command)

        self.status.setText(self.tr("Saving…"))
        before = self._sync_settings
        after = self._current_sync_settings()

        excluded = self.selective_model.excluded
        trash = [
            p
            for rel, p in self.remove_local.items()
            if any(rel == e or rel.startswith(e + "/") for e in excluded)
        ]
        self.remove_local = {}

        def restarted() -> None:
            self.status.setText(self.tr("Saved; sync restarted."))
            if trash:  # only now: the running engine excludes these folders, their removal is not synced
                self.runner.run_task(lambda: trash_local(trash), self._trashed, self._trash_failed)

        def saved(_r: object) -> None:
            if after != before:
                self._sync_settings = after
                self.status.setText(self.tr("Saved. Restarting sync with the new settings…"))
                self.session.restart_sync(restarted)
            else:
                self.status.setText(self.tr("Saved."))

        self.runner.run_task(
            save, saved, lambda exc: self.status.setText(self.tr("Could not save: {0}").format(exc))
        )

    def _browse_remote(self) -> None:
        chosen = self.choose_remote_folder(self.remote_edit.text())
        if chosen:
            self.remote_edit.setText(chosen)

    def _pick_remote(self, _current: str) -> str | None:
        from gsdesktop.ui.browser_moves import pick_remote_folder

        client = self.session.client
        return pick_remote_folder(self, client, self.runner, str(client.home), self.tr("Remote folder"))

    def _browse_local(self) -> None:
        chosen = self.choose_folder(self.local_edit.text())
        if chosen:
            self.local_edit.setText(chosen)

    def _trashed(self, count: object) -> None:
        self.status.setText(
            self.tr("Saved; sync restarted. Moved {0} local folder(s) to the trash.").format(count)
        )

    def _trash_failed(self, exc: BaseException) -> None:
        self.status.setText(self.tr("Saved; sync restarted. Could not move to the trash: {0}").format(exc))

    def _confirm_exclude(self, rel: str) -> bool:
        """Unchecking ``rel``: when a local copy exists, the user keeps it (no longer synced) or has it
        moved to the trash when the settings are applied; None (Cancel) keeps the folder synced."""
        local = Path(self.session.local_root) / rel
        if not local.exists():
            return True
        choice = self.ask_local_copy(rel)
        if choice is None:
            return False
        if choice == REMOVE_LOCAL:
            self.remove_local[rel] = local
        else:
            self.remove_local.pop(rel, None)
        return True

    def _ask_local_copy(self, rel: str) -> str | None:
        local = Path(self.session.local_root) / rel
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Stop syncing {0}?").format(rel))
        box.setText(
            self.tr("“{0}” will stay on the server but no longer sync with this computer.").format(rel)
        )
        box.setInformativeText(
            self.tr(
                "Its local copy is in {0}. Keep it there (changes you make to it will no longer be "
                "synced) or move it to the trash (the server copy is not touched)?"
            ).format(local)
        )
        keep = box.addButton(self.tr("&Keep local copy"), QMessageBox.ButtonRole.AcceptRole)
        remove = box.addButton(self.tr("&Move local copy to trash"), QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        clicked = box.clickedButton()
        return KEEP_LOCAL if clicked is keep else REMOVE_LOCAL if clicked is remove else None

    def _current_sync_settings(self) -> tuple[object, ...]:
        p = self.session.prefs
        return (
            p.local_folder,
            p.remote_folder,
            p.poll_interval,
            p.max_upload_kbps,
            p.max_download_kbps,
            tuple(p.excluded_remote_folders),
            p.sync_mode,
        )

    def accept_and_apply(self) -> None:
        self.apply()
        self.accept()

    def sign_out(self, confirm: bool | None = None) -> None:
        """Forget the password and token, stop syncing and quit (the next start shows the wizard)."""
        if confirm is None:
            confirm = (
                QMessageBox.question(
                    self,
                    self.tr("Sign out"),
                    self.tr("Sign out, stop syncing and quit? Your local files stay where they are."),
                )
                == QMessageBox.StandardButton.Yes
            )
        if not confirm:
            return
        session = self.session
        self.runner.run_task(
            session.forget_account, lambda _r: session.quit(), lambda exc: self.status.setText(str(exc))
        )

    def open_log_folder(self) -> None:
        folder = log_dir()

        def opened(_r: object) -> None:
            self.open_url(QUrl.fromLocalFile(str(folder)))

        self.runner.run_task(lambda: folder.mkdir(parents=True, exist_ok=True), opened)


def trash_local(paths: list[Path]) -> int:
    """Move local folders to the OS trash (worker thread); returns how many were moved."""
    from send2trash import send2trash

    moved = 0
    for path in paths:
        if path.exists():
            send2trash(str(path))
            moved += 1
    return moved
