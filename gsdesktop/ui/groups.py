"""Group management (issue 19): your groups, create and delete, members and administrators.

Any user can create a group and is its administrator; administrators add and remove members and other
administrators; a member may leave. Every call runs on the app's task runner; errors stay in the dialog.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gsdesktop.datamanager.sharing import Group, Sharing
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.server_dialog import ServerDialog, UserCompleter


class GroupsDialog(ServerDialog):
    """Your groups and their members.

    Args:
        sharing: the client's sharing API (called on worker threads only).
        runner: the app's task runner.
    """

    def __init__(self, sharing: Sharing, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.sharing = sharing
        self.groups: dict[str, Group] = {}
        self.setWindowTitle(self.tr("Groups"))
        self.resize(640, 420)
        outer = QVBoxLayout(self)
        columns = QHBoxLayout()
        outer.addLayout(columns, 1)

        left = QVBoxLayout()
        left.addWidget(QLabel(self.tr("My groups:"), self))
        self.group_list = QListWidget(self)
        self.group_list.setAccessibleName(self.tr("My groups"))
        self.group_list.currentItemChanged.connect(lambda *_: self._show_current())
        left.addWidget(self.group_list, 1)
        create = QHBoxLayout()
        self.new_name = QLineEdit(self)
        self.new_name.setPlaceholderText(self.tr("New group name"))
        self.new_name.setAccessibleName(self.tr("New group name"))
        self.new_name.returnPressed.connect(self.create_group)
        self.new_name.textChanged.connect(self.set_enabled_state)
        create.addWidget(self.new_name, 1)
        self.create_button = QPushButton(self.tr("C&reate"), self)
        self.create_button.clicked.connect(self.create_group)
        create.addWidget(self.create_button)
        left.addLayout(create)
        self.delete_button = QPushButton(self.tr("&Delete group…"), self)
        self.delete_button.clicked.connect(self.delete_group)
        left.addWidget(self.delete_button)
        columns.addLayout(left, 2)

        right = QVBoxLayout()
        self.members_label = QLabel(self.tr("Members:"), self)
        right.addWidget(self.members_label)
        self.members = QTreeWidget(self)
        self.members.setHeaderLabels([self.tr("Member"), self.tr("Role")])
        self.members.setRootIsDecorated(False)
        self.members.setAccessibleName(self.tr("Members"))
        self.members.setColumnWidth(0, 200)
        self.members.itemSelectionChanged.connect(self.set_enabled_state)
        right.addWidget(self.members, 1)
        add = QHBoxLayout()
        self.user_edit = QLineEdit(self)
        self.user_edit.setPlaceholderText(self.tr("User name (type to search)"))
        self.user_edit.setAccessibleName(self.tr("User to add"))
        self.user_edit.returnPressed.connect(self.add_member)
        self.user_edit.textChanged.connect(self.set_enabled_state)
        self.completer = UserCompleter(sharing, runner, self.user_edit)
        add.addWidget(self.user_edit, 1)
        self.admin_box = QCheckBox(self.tr("as &administrator"), self)
        add.addWidget(self.admin_box)
        self.add_button = QPushButton(self.tr("&Add"), self)
        self.add_button.clicked.connect(self.add_member)
        add.addWidget(self.add_button)
        right.addLayout(add)
        actions = QHBoxLayout()
        self.remove_button = QPushButton(self.tr("Re&move"), self)
        self.remove_button.clicked.connect(self.remove_member)
        actions.addWidget(self.remove_button)
        self.admin_button = QPushButton(self.tr("Make admi&n"), self)
        self.admin_button.clicked.connect(self.toggle_admin)
        actions.addWidget(self.admin_button)
        actions.addStretch(1)
        right.addLayout(actions)
        columns.addLayout(right, 3)

        outer.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        self.set_enabled_state()
        self.reload()

    # ==== state ====

    def current(self) -> Group | None:
        item = self.group_list.currentItem()
        return self.groups.get(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def selected_member(self) -> str | None:
        items = self.members.selectedItems()
        return str(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def set_enabled_state(self) -> None:
        if not hasattr(self, "admin_button"):
            return  # still building
        free = not self.busy
        group = self.current()
        admin = free and group is not None and group.your_role == "admin"
        member = self.selected_member()
        self.create_button.setEnabled(free and bool(self.new_name.text().strip()))
        self.delete_button.setEnabled(admin)
        for w in (self.user_edit, self.admin_box):
            w.setEnabled(admin)
        self.add_button.setEnabled(admin and bool(self.user_edit.text().strip()))
        me = getattr(self.sharing.client, "username", None)
        self.remove_button.setEnabled(free and member is not None and (admin or member == me))
        self.remove_button.setText(
            self.tr("&Leave") if member is not None and member == me else self.tr("Re&move")
        )
        is_admin = group is not None and member in group.admins
        self.admin_button.setEnabled(admin and member is not None)
        self.admin_button.setText(self.tr("Remove admi&n") if is_admin else self.tr("Make admi&n"))

    def show_groups(self, groups: list[Group], select: str | None = None) -> None:
        if select is None:
            shown = self.current()
            select = shown.name if shown is not None else None
        self.groups = {g.name: g for g in groups}
        self.group_list.blockSignals(True)
        self.group_list.clear()
        first: QListWidgetItem | None = None
        match: QListWidgetItem | None = None
        for g in sorted(groups, key=lambda g: g.name.lower()):
            role = self.tr("administrator") if g.your_role == "admin" else self.tr("member")
            item = QListWidgetItem(f"{g.name}  ({role}, {len(g.members)})", self.group_list)
            item.setData(Qt.ItemDataRole.UserRole, g.name)
            first = first or item
            match = item if g.name == select else match
        chosen = match or first
        self.group_list.blockSignals(False)
        if chosen is not None:
            self.group_list.setCurrentItem(chosen)
        self._show_current()

    def show_group(self, group: Group) -> None:
        """One group changed: show its new members."""
        self.groups[group.name] = group
        self.show_groups(list(self.groups.values()), select=group.name)

    def _show_current(self) -> None:
        group = self.current()
        self.members.clear()
        if group is None:
            self.members_label.setText(self.tr("Create a group, then add its members."))
        else:
            self.members_label.setText(
                self.tr("Members of {0} (created by {1}):").format(group.name, group.created_by)
            )
            for name in sorted(set(group.members) | set(group.admins), key=str.lower):
                role = self.tr("Administrator") if name in group.admins else self.tr("Member")
                item = QTreeWidgetItem([name, role])
                item.setData(0, Qt.ItemDataRole.UserRole, name)
                self.members.addTopLevelItem(item)
        self.set_enabled_state()

    # ==== actions ====

    def reload(self) -> None:
        self.call(self.sharing.groups, self.show_groups, self.tr("Could not list your groups"))

    def create_group(self) -> None:
        name = self.new_name.text().strip()
        if not name or self.busy:
            return

        def done(group: Group) -> None:
            self.new_name.clear()
            self.show_group(group)

        sharing = self.sharing
        self.call(lambda: sharing.create_group(name), done, self.tr("Could not create {0}").format(name))

    def delete_group(self) -> None:
        group = self.current()
        if group is None or self.busy:
            return
        question = self.tr(
            "Delete the group {0}? Everything shared with it stops being shared with its members."
        )
        if not self.confirm(self.tr("Delete group"), question.format(group.name)):
            return
        name, sharing = group.name, self.sharing

        def done(_r: object) -> None:
            self.groups.pop(name, None)
            self.show_groups(list(self.groups.values()))

        self.call(lambda: sharing.delete_group(name), done, self.tr("Could not delete {0}").format(name))

    def add_member(self) -> None:
        group, user = self.current(), self.user_edit.text().strip()
        if group is None or group.your_role != "admin" or not user or self.busy:
            return
        name, admin, sharing = group.name, self.admin_box.isChecked(), self.sharing

        def done(g: Group) -> None:
            self.user_edit.clear()
            self.admin_box.setChecked(False)
            self.show_group(g)

        failure = self.tr("Could not add {0} to {1}").format(user, name)
        self.call(lambda: sharing.add_member(name, user, admin), done, failure)

    def remove_member(self) -> None:
        group, user = self.current(), self.selected_member()
        if group is None or user is None or self.busy:
            return
        name, sharing = group.name, self.sharing
        me = getattr(sharing.client, "username", None)

        def done(g: Group) -> None:
            if user == me:  # left the group: it is no longer yours to see
                self.groups.pop(name, None)
                self.show_groups(list(self.groups.values()))
            else:
                self.show_group(g)

        failure = self.tr("Could not remove {0} from {1}").format(user, name)
        self.call(lambda: sharing.remove_member(name, user), done, failure)

    def toggle_admin(self) -> None:
        group, user = self.current(), self.selected_member()
        if group is None or user is None or self.busy:
            return
        name, sharing = group.name, self.sharing
        if user in group.admins:
            failure = self.tr("Could not take administrator rights from {0}").format(user)
            self.call(lambda: sharing.remove_admin(name, user), self.show_group, failure)
        else:
            failure = self.tr("Could not make {0} an administrator").format(user)
            self.call(lambda: sharing.add_admin(name, user), self.show_group, failure)
