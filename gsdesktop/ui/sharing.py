"""Sharing in the desktop app (issue 19): the Sharing & Permissions dialog, the browser's sharing hooks.

* :class:`SharingDialog` -- one item's owner, who has access (level, and where an inherited entry comes
  from), share with a user (name completion from the server's user search) or a group at Read or
  Read-Write, the public toggle with its link (Copy link), revoke. Errors stay in the dialog.
* :class:`SharingActions` -- what the remote browser gets: "Sharing & Permissions…" in the context menu,
  "Groups…", and the places "My files", "Shared with me" and "Public" (the server's virtual folders).
* :func:`shared_icon` -- an item's icon with the sharing emblem.

Every server call runs on the app's :class:`~gsdesktop.ui.bridge.TaskRunner`, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from gsdesktop.datamanager.sharing import Acl, AclEntry, Group, Sharing
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.formatting import icons_dir
from gsdesktop.ui.groups import GroupsDialog
from gsdesktop.ui.server_dialog import ServerDialog, UserCompleter

if TYPE_CHECKING:  # the browser owns these actions; it imports this module
    from gsdesktop.ui.browser import RemoteBrowser

SHARED_PREFIX = "Shared to "  # the server's virtual folder of what others shared with you
PUBLIC_FOLDER = "Public"
LEVELS = (("read", "Read"), ("write", "Read-Write"))


def shared_icon(base: QIcon, size: int = 32) -> QIcon:
    """``base`` with the sharing emblem (two people) in its lower right corner."""
    emblem = QIcon(str(icons_dir() / "shared.svg"))
    out = QIcon()
    for side in (16, 24, size):
        pixmap = QPixmap(side, side)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        base.paint(painter, QRect(0, 0, side, side))
        mark = max(10, side * 3 // 4)
        emblem.paint(painter, QRect(side - mark, side - mark, mark, mark))
        painter.end()
        out.addPixmap(pixmap)
    return out


def is_virtual(path: str) -> bool:
    """Whether ``path`` is one of the server's views (``/users/Shared to <me>/…``, ``/users/Public``)."""
    parts = [p for p in path.split("/") if p]
    return len(parts) >= 2 and (parts[1].startswith(SHARED_PREFIX) or parts[1] == PUBLIC_FOLDER)


def level_text(level: str) -> str:
    return dict(LEVELS).get(level, level)


def who_text(entry: AclEntry) -> str:
    if entry.type == "public":
        return "Anyone with the link"
    return f"{entry.name} (group)" if entry.type == "group" else str(entry.name)


class SharingDialog(ServerDialog):
    """Sharing & Permissions of one remote item.

    Args:
        sharing: the client's sharing API (called on worker threads only).
        runner: the app's task runner.
        path: the item's remote path.
    """

    changed = Signal(str)  # the item's path: its sharing changed (granted, revoked, public toggled)

    def __init__(
        self, sharing: Sharing, runner: TaskRunner, path: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(runner, parent)
        self.sharing = sharing
        self.path = path
        self.acl: Acl | None = None
        name = path.rstrip("/").rsplit("/", 1)[-1]
        self.setWindowTitle(self.tr("Sharing & Permissions — {0}").format(name))
        self.resize(620, 460)
        layout = QVBoxLayout(self)

        self.title_label = QLabel(f"<b>{name}</b><br><small>{path}</small>", self)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title_label)
        self.owner_label = QLabel(self.tr("Loading…"), self)
        layout.addWidget(self.owner_label)

        layout.addWidget(QLabel(self.tr("Who has access:"), self))
        self.entries = QTreeWidget(self)
        self.entries.setHeaderLabels([self.tr("Who"), self.tr("Access"), self.tr("Granted on")])
        self.entries.setRootIsDecorated(False)
        self.entries.setAccessibleName(self.tr("Who has access"))
        self.entries.setColumnWidth(0, 200)
        self.entries.setColumnWidth(1, 100)
        self.entries.itemSelectionChanged.connect(self.set_enabled_state)
        layout.addWidget(self.entries)
        row = QHBoxLayout()
        self.revoke_button = QPushButton(self.tr("&Revoke"), self)
        self.revoke_button.clicked.connect(self.revoke_selected)
        row.addWidget(self.revoke_button)
        self.inherited_label = QLabel(self)
        self.inherited_label.setWordWrap(True)
        row.addWidget(self.inherited_label, 1)
        layout.addLayout(row)

        add = QHBoxLayout()
        self.kind_box = QComboBox(self)
        self.kind_box.addItem(self.tr("User"), "user")
        self.kind_box.addItem(self.tr("Group"), "group")
        self.kind_box.setAccessibleName(self.tr("Share with a user or a group"))
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        add.addWidget(self.kind_box)
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText(self.tr("User name (type to search)"))
        self.name_edit.setAccessibleName(self.tr("Name"))
        self.name_edit.returnPressed.connect(self.share)
        self.name_edit.textChanged.connect(self.set_enabled_state)
        add.addWidget(self.name_edit, 1)
        self.completer = UserCompleter(sharing, runner, self.name_edit)
        self.level_box = QComboBox(self)
        for value, text in LEVELS:
            self.level_box.addItem(self.tr(text), value)
        self.level_box.setAccessibleName(self.tr("Access level"))
        self.level_box.setToolTip(
            self.tr("Read: list, read, copy and download. Read-Write: also change, add and delete.")
        )
        add.addWidget(self.level_box)
        self.share_button = QPushButton(self.tr("&Share"), self)
        self.share_button.setToolTip(self.tr("Share (sharing again with another level changes it)"))
        self.share_button.clicked.connect(self.share)
        add.addWidget(self.share_button)
        layout.addLayout(add)

        public = QHBoxLayout()
        self.public_box = QCheckBox(
            self.tr("&Public: anyone with the link can read, without signing in"), self
        )
        self.public_box.clicked.connect(self.set_public)
        public.addWidget(self.public_box)
        layout.addLayout(public)
        link = QHBoxLayout()
        self.link_edit = QLineEdit(self)
        self.link_edit.setReadOnly(True)
        self.link_edit.setAccessibleName(self.tr("Public link"))
        self.link_edit.setPlaceholderText(self.tr("Not public"))
        link.addWidget(self.link_edit, 1)
        self.copy_button = QPushButton(self.tr("&Copy link"), self)
        self.copy_button.clicked.connect(self.copy_link)
        link.addWidget(self.copy_button)
        layout.addLayout(link)

        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.groups_known: list[str] | None = None
        self.set_enabled_state()
        self.reload()

    # ==== state ====

    @property
    def is_owner(self) -> bool:
        return self.acl is not None and self.acl.your_level == "owner"

    def selected_entry(self) -> AclEntry | None:
        items = self.entries.selectedItems()
        if not items:
            return None
        entry = items[0].data(0, Qt.ItemDataRole.UserRole)
        return entry if isinstance(entry, AclEntry) else None

    def set_enabled_state(self) -> None:
        if not hasattr(self, "copy_button"):
            return  # still building
        edit = self.is_owner and not self.busy
        entry = self.selected_entry()
        self.revoke_button.setEnabled(edit and entry is not None and not entry.inherited)
        for w in (self.kind_box, self.name_edit, self.level_box):
            w.setEnabled(edit)
        self.share_button.setEnabled(edit and bool(self.name_edit.text().strip()))
        inherited_public = self.acl is not None and any(
            e.type == "public" and e.inherited for e in self.acl.entries
        )
        self.public_box.setEnabled(edit and not inherited_public)
        self.copy_button.setEnabled(bool(self.link_edit.text()))
        if entry is not None and entry.inherited:
            self.inherited_label.setText(
                self.tr("Inherited from {0}: revoke it there (it applies to everything inside).").format(
                    entry.granted_on
                )
            )
        else:
            self.inherited_label.setText("")

    def show_acl(self, acl: Acl) -> None:
        self.acl = acl
        owner_text = self.tr("Owner: {0}").format(acl.owner)
        yours = {"owner": "owner", "write": "Read-Write", "read": "Read", "none": "none"}[acl.your_level]
        owner_text += " · " + self.tr("Your access: {0}").format(self.tr(yours))
        if acl.your_level != "owner":
            owner_text += " · " + self.tr("only {0} can change who has access").format(acl.owner)
        self.owner_label.setText(owner_text)
        selected = self.selected_entry()
        self.entries.clear()
        for entry in acl.entries:
            granted = self.tr("inherited from {0}").format(entry.granted_on) if entry.inherited else ""
            item = QTreeWidgetItem(
                [who_text(entry), self.tr(level_text(entry.level)), granted or self.tr("this item")]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, entry)
            if entry.inherited:
                item.setToolTip(0, self.tr("Granted on {0}; revoke it there").format(entry.granted_on))
                for column in range(3):
                    item.setForeground(column, self.palette().placeholderText())
            self.entries.addTopLevelItem(item)
            if selected is not None and (entry.type, entry.name) == (selected.type, selected.name):
                item.setSelected(True)
        public = any(e.type == "public" for e in acl.entries)
        self.public_box.setChecked(public)
        self.link_edit.setText(acl.public_url or "")
        if any(e.type == "public" and e.inherited for e in acl.entries):
            where = next(e.granted_on for e in acl.entries if e.type == "public" and e.inherited)
            self.public_box.setToolTip(self.tr("Public through {0}: change it there").format(where))
        self.set_enabled_state()

    # ==== actions ====

    def reload(self) -> None:
        sharing, path = self.sharing, self.path
        self.call(lambda: sharing.acl(path), self.show_acl, self.tr("Could not read who has access"))

    def _changed(self, acl: Acl) -> None:
        self.show_acl(acl)
        self.changed.emit(self.path)

    def share(self) -> None:
        name = self.name_edit.text().strip()
        if not name or not self.is_owner or self.busy:
            return
        kind = self.kind_box.currentData()
        level = self.level_box.currentData()
        sharing, path = self.sharing, self.path

        def done(acl: Acl) -> None:
            self.name_edit.clear()
            self._changed(acl)

        failure = self.tr("Could not share with {0}").format(name)
        self.call(lambda: sharing.grant(path, kind, name, level), done, failure)

    def revoke_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.inherited or not self.is_owner or self.busy:
            return
        sharing, path = self.sharing, self.path
        failure = self.tr("Could not revoke access for {0}").format(who_text(entry))
        self.call(lambda: sharing.revoke(path, entry.type, entry.name), self._changed, failure)

    def set_public(self, public: bool) -> None:
        if not self.is_owner or self.busy:
            self.public_box.setChecked(not public)
            return
        sharing, path = self.sharing, self.path
        if public:
            fn: Callable[[], Acl] = lambda: sharing.grant(path, "public", None, "read")  # noqa: E731
            failure = self.tr("Could not make it public")
        else:
            fn = lambda: sharing.revoke(path, "public", None)  # noqa: E731
            failure = self.tr("Could not stop public access")
        self.call(fn, self._changed, failure)

    def show_error(self, title: str, exc: BaseException) -> None:
        super().show_error(title, exc)
        if self.acl is not None:  # the public box shows what the server says, not the failed click
            self.public_box.setChecked(any(e.type == "public" for e in self.acl.entries))

    def copy_link(self) -> None:
        if self.link_edit.text():
            QGuiApplication.clipboard().setText(self.link_edit.text())
            self.copy_button.setText(self.tr("Copied"))
            QTimer.singleShot(1500, self, lambda: self.copy_button.setText(self.tr("&Copy link")))

    def _kind_changed(self) -> None:
        if self.kind_box.currentData() == "user":
            self.name_edit.setPlaceholderText(self.tr("User name (type to search)"))
            self.completer.set_groups(None)
            return
        self.name_edit.setPlaceholderText(self.tr("Group name"))
        self.completer.set_groups(self.groups_known or [])
        if self.groups_known is None:
            sharing = self.sharing

            def done(groups: list[Group]) -> None:
                if not isValid(self):
                    return
                self.groups_known = [g.name for g in groups]
                if self.kind_box.currentData() == "group":
                    self.completer.set_groups(self.groups_known)

            # a failed look-up only means no suggestions; sharing with a group by its exact name still works
            self.runner.run_task(sharing.groups, done, lambda _exc: None)


class SharingActions:
    """The browser's sharing hooks: the actions, the places toolbar, the dialogs it opens.

    Args:
        browser: the remote browser (its ``client``, ``runner``, ``selected()``, ``navigate()``, ``home``,
            ``view``, ``model``, ``notify`` and ``statusBar()``).
    """

    def __init__(self, browser: RemoteBrowser) -> None:
        self.browser = browser
        self._sharing: Sharing | None = None
        self.dialogs: dict[str, SharingDialog] = {}
        self.groups_dialog: QDialog | None = None

        def act(text: str, slot: Callable[[], Any], shortcut: str | None = None) -> QAction:
            action = QAction(text, browser)
            if shortcut:
                action.setShortcut(shortcut)
            action.triggered.connect(lambda _checked=False: slot())
            browser.addAction(action)
            return action

        tr = browser.tr
        self.sharing_action = act(tr("Sharing && Permissions…"), self.show_sharing, "Ctrl+Shift+S")
        self.sharing_action.setIcon(QIcon(str(icons_dir() / "shared.svg")))
        self.groups_action = act(tr("Groups…"), self.show_groups)
        self.home_action = act(tr("My files"), lambda: self.browser.navigate(self.browser.home), "Alt+Home")
        self.shared_action = act(tr("Shared with me"), lambda: self.browser.navigate(self.shared_root))
        self.public_action = act(tr("Public"), lambda: self.browser.navigate(f"/users/{PUBLIC_FOLDER}"))
        # the places go into the navigation bar, before the path (a toolbar of their own when there is none)
        bar = browser.findChild(QToolBar, "navigation")
        if bar is None:
            bar = QToolBar(tr("Places"), browser)
            browser.addToolBar(bar)
        before = next((a for a in bar.actions() if bar.widgetForAction(a) is browser.path_bar), None)
        places = (self.home_action, self.shared_action, self.public_action, self.groups_action)
        if before is None:  # a toolbar of their own: in order
            bar.addSeparator()
            bar.addActions(places)
            bar.addSeparator()
        else:
            bar.insertSeparator(before)
            bar.insertActions(before, places)
            bar.insertSeparator(before)
        for a in places:
            button = bar.widgetForAction(a)
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.places_bar = bar
        browser.view.selectionModel().selectionChanged.connect(lambda *_: self.update())
        browser.model.modelReset.connect(self.update)
        self.update()

    @property
    def sharing(self) -> Sharing:
        if self._sharing is None:
            self._sharing = Sharing(self.browser.client)
        return self._sharing

    @property
    def shared_root(self) -> str:
        return f"/users/{SHARED_PREFIX}{self.browser.home.rstrip('/').rsplit('/', 1)[-1]}"

    def update(self) -> None:
        sel = self.browser.selected()
        self.sharing_action.setEnabled(len(sel) == 1 and not is_virtual(sel[0].path))

    def on_error(self, title: str, message: str) -> None:
        """An error that came after its dialog was closed: the status bar and a notification."""
        self.browser.statusBar().showMessage(f"{title}: {message}", 15000)
        self.browser.notify.emit(title, message)

    def add_to_menu(self, menu: QMenu) -> None:
        menu.addAction(self.sharing_action)

    def show_sharing(self, path: str | None = None) -> SharingDialog | None:
        """Open (or raise) the Sharing & Permissions dialog of ``path`` (default: the selected item)."""
        if path is None:
            sel = self.browser.selected()
            if len(sel) != 1 or is_virtual(sel[0].path):
                return None
            path = sel[0].path
        dialog = self.dialogs.get(path)
        if dialog is None or not isValid(dialog):
            dialog = SharingDialog(self.sharing, self.browser.runner, path, self.browser)
            dialog.unseen_error.connect(self.on_error)
            dialog.changed.connect(self._changed)
            self.dialogs[path] = dialog
        elif not dialog.isVisible():
            dialog.reload()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _changed(self, path: str) -> None:
        parent = path.rstrip("/").rsplit("/", 1)[0] or "/"
        self.browser.model.refresh_path(parent)  # its sharing icon

    def show_groups(self) -> QDialog:
        dialog = self.groups_dialog
        if dialog is None or not isValid(dialog):
            dialog = GroupsDialog(self.sharing, self.browser.runner, self.browser)
            dialog.unseen_error.connect(self.on_error)
            self.groups_dialog = dialog
        elif not dialog.isVisible():
            assert isinstance(dialog, GroupsDialog)
            dialog.reload()
        dialog.show()
        dialog.raise_()
        return dialog
