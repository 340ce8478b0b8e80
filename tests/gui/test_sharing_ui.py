"""Sharing in the desktop app (issue 19) against the real server with two users: the Sharing & Permissions
dialog, the Groups dialog, "Shared with me" / "Public" in the browser and the sharing emblem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import PermissionDeniedError
from gsdesktop.datamanager.sharing import Sharing
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.groups import GroupsDialog
from gsdesktop.ui.server_dialog import ServerDialog
from gsdesktop.ui.sharing import SharingDialog, is_virtual
from tests.gui.test_browser import make_browser, names, select_name, wait_loaded
from tests.support.servers import unique_name


@pytest.fixture
def alice(make_account) -> Iterator[DataManagerClient]:  # type: ignore[no-untyped-def]
    a = make_account("alice")
    c = DataManagerClient(a.server_url, a.username, a.password)
    yield c
    c.close()


@pytest.fixture
def bob(make_account) -> Iterator[DataManagerClient]:  # type: ignore[no-untyped-def]
    a = make_account("bob")
    c = DataManagerClient(a.server_url, a.username, a.password)
    yield c
    c.close()


@pytest.fixture
def project(alice: DataManagerClient, tmp_path: Path) -> str:
    """alice's ``proj`` folder with ``a.txt`` in it."""
    folder = f"{alice.home}/proj"
    alice.mkdir(folder)
    local = tmp_path / "a.txt"
    local.write_text("hello\n")
    alice.upload(local, f"{folder}/a.txt")
    return folder


def open_dialog(qtbot, client: DataManagerClient, runner: TaskRunner, path: str) -> SharingDialog:  # type: ignore[no-untyped-def]
    dialog = SharingDialog(Sharing(client), runner, path)
    qtbot.addWidget(dialog)
    dialog.show()
    wait_idle(qtbot, dialog)
    assert dialog.acl is not None, dialog.error_label.text()
    return dialog


def wait_idle(qtbot, dialog: ServerDialog) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not dialog.busy, timeout=20000)


def item_at(tree: QTreeWidget, i: int) -> QTreeWidgetItem:
    item = tree.topLevelItem(i)
    assert item is not None, i
    return item


def rows(dialog: SharingDialog) -> list[tuple[str, str, str]]:
    tree = dialog.entries
    return [(item_at(tree, i).text(0), item_at(tree, i).text(1), item_at(tree, i).text(2))
            for i in range(tree.topLevelItemCount())]  # fmt: skip


def select_row(dialog: SharingDialog, who: str) -> None:
    tree = dialog.entries
    for i in range(tree.topLevelItemCount()):
        item = item_at(tree, i)
        if item.text(0) == who:
            tree.setCurrentItem(item)
            item.setSelected(True)
            return
    raise AssertionError(f"{who} not in {rows(dialog)}")


def test_share_with_a_user_found_by_name_completion_then_revoke(qtbot, runner, alice, bob, project) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(qtbot, alice, runner, project)
    assert alice.username in dialog.owner_label.text() and "owner" in dialog.owner_label.text()
    assert rows(dialog) == []
    assert not dialog.revoke_button.isEnabled()

    # type the first letters of bob's name: the server's user search offers his whole name
    dialog.name_edit.setFocus()
    prefix = bob.username[:-3]
    qtbot.keyClicks(dialog.name_edit, prefix)
    qtbot.waitUntil(lambda: bob.username in dialog.completer.names.stringList(), timeout=20000)
    assert all(n.startswith(prefix) for n in dialog.completer.names.stringList())
    dialog.name_edit.setText(bob.username)  # what choosing the completion does
    dialog.level_box.setCurrentIndex(dialog.level_box.findData("write"))
    qtbot.mouseClick(dialog.share_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert not dialog.error_label.isVisible(), dialog.error_label.text()
    assert rows(dialog) == [(bob.username, "Read-Write", "this item")]
    assert dialog.name_edit.text() == ""
    assert [m.name for m in bob.list(project).contents] == ["a.txt"]  # real access for bob

    select_row(dialog, bob.username)
    assert dialog.revoke_button.isEnabled()
    with qtbot.waitSignal(dialog.changed, timeout=20000):
        qtbot.mouseClick(dialog.revoke_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert rows(dialog) == []
    with pytest.raises(PermissionDeniedError):
        bob.list(project)


def test_inherited_entries_say_where_they_come_from_and_cannot_be_revoked_here(  # type: ignore[no-untyped-def]
    qtbot, runner, alice, bob, project
) -> None:
    Sharing(alice).grant(project, "user", bob.username, "read")
    dialog = open_dialog(qtbot, alice, runner, f"{project}/a.txt")
    assert rows(dialog) == [(bob.username, "Read", f"inherited from {project}")]
    select_row(dialog, bob.username)
    assert not dialog.revoke_button.isEnabled()
    assert project in dialog.inherited_label.text() and "revoke it there" in dialog.inherited_label.text()
    dialog.revoke_selected()  # even when asked directly: nothing is sent
    assert not dialog.busy and rows(dialog) == [(bob.username, "Read", f"inherited from {project}")]


def test_public_toggle_shows_a_link_that_works_without_signing_in_and_stops(  # type: ignore[no-untyped-def]
    qtbot, runner, alice, project
) -> None:
    path = f"{project}/a.txt"
    dialog = open_dialog(qtbot, alice, runner, path)
    assert dialog.link_edit.text() == "" and not dialog.copy_button.isEnabled()
    qtbot.mouseClick(dialog.public_box, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert dialog.public_box.isChecked()
    link = dialog.link_edit.text()
    assert link.startswith(alice.server_url) and link.endswith("/proj/a.txt")
    assert ("Anyone with the link", "Read", "this item") in rows(dialog)
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == link
    got = requests.get(link, timeout=20)  # no cookie, no sign-in
    assert got.status_code == 200 and got.content == b"hello\n"

    qtbot.mouseClick(dialog.public_box, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert not dialog.public_box.isChecked() and dialog.link_edit.text() == ""
    assert requests.get(link, timeout=20).status_code == 404


def test_errors_stay_in_the_dialog_and_a_late_one_reaches_the_browser(qtbot, runner, alice, project) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(qtbot, alice, runner, project)
    nobody = unique_name("nobody")
    dialog.name_edit.setText(nobody)
    qtbot.mouseClick(dialog.share_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert dialog.error_label.isVisible()
    assert f"Could not share with {nobody}" in dialog.error_label.text()
    assert "no such user" in dialog.error_label.text()
    assert dialog.name_edit.text() == nobody  # what was typed is kept for correcting
    assert rows(dialog) == []

    # closed before the answer came: the error is handed on, not dropped
    seen: list[tuple[str, str]] = []
    dialog.unseen_error.connect(lambda title, message: seen.append((title, message)))
    dialog.share()
    dialog.close()
    qtbot.waitUntil(lambda: bool(seen), timeout=20000)
    assert seen[0][0] == f"Could not share with {nobody}" and "no such user" in seen[0][1]


def test_someone_else_sees_the_entries_but_cannot_change_them(qtbot, runner, alice, bob, project) -> None:  # type: ignore[no-untyped-def]
    Sharing(alice).grant(project, "user", bob.username, "write")
    dialog = open_dialog(qtbot, bob, runner, project)
    text = dialog.owner_label.text()
    assert f"Owner: {alice.username}" in text and "Read-Write" in text
    assert f"only {alice.username} can change" in text
    assert rows(dialog) == [(bob.username, "Read-Write", "this item")]
    select_row(dialog, bob.username)
    for w in (dialog.revoke_button, dialog.share_button, dialog.name_edit, dialog.public_box):
        assert not w.isEnabled()


def test_groups_create_add_members_admins_share_with_group_delete(  # type: ignore[no-untyped-def]
    qtbot, runner, alice, bob, project
) -> None:
    dialog = GroupsDialog(Sharing(alice), runner)
    qtbot.addWidget(dialog)
    dialog.show()
    wait_idle(qtbot, dialog)
    lab = unique_name("lab")
    dialog.new_name.setText(lab)
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    group = dialog.current()
    assert group is not None and group.name == lab
    assert group.your_role == "admin"

    dialog.user_edit.setText(bob.username)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    members = {item_at(dialog.members, i).text(0): item_at(dialog.members, i).text(1) for i in range(2)}
    assert members == {alice.username: "Administrator", bob.username: "Member"}

    for i in range(dialog.members.topLevelItemCount()):
        item_at(dialog.members, i).setSelected(item_at(dialog.members, i).text(0) == bob.username)
    assert dialog.admin_button.text().replace("&", "") == "Make admin"
    qtbot.mouseClick(dialog.admin_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert bob.username in Sharing(bob).group(lab).admins  # bob sees it from his side

    # bob can now use the group in the Sharing dialog, with the group name completed
    Sharing(alice).grant(project, "group", lab, "read")
    assert [m.name for m in bob.list(project).contents] == ["a.txt"]
    sharing_dialog = open_dialog(qtbot, alice, runner, f"{project}/a.txt")
    assert (f"{lab} (group)", "Read", f"inherited from {project}") in rows(sharing_dialog)
    sharing_dialog.kind_box.setCurrentIndex(sharing_dialog.kind_box.findData("group"))
    qtbot.waitUntil(lambda: lab in sharing_dialog.completer.names.stringList(), timeout=20000)

    # an unknown user: the error stays in the dialog
    nobody = unique_name("nobody")
    dialog.user_edit.setText(nobody)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert dialog.error_label.isVisible() and nobody in dialog.error_label.text()

    asked: list[str] = []

    def confirm(_title: str, text: str) -> bool:
        asked.append(text)
        return True

    dialog.confirm = confirm
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert asked and lab in asked[0]
    assert dialog.group_list.count() == 0 and dialog.current() is None
    with pytest.raises(PermissionDeniedError):
        bob.list(project)  # the group's grant went with it


def test_browser_has_sharing_in_the_menu_places_and_the_emblem(qtbot, alice, bob, project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    alice.mkdir(f"{alice.home}/private")
    (tmp_path / "b.txt").write_text("b\n")
    alice.upload(tmp_path / "b.txt", f"{project}/b.txt")
    Sharing(alice).grant(project, "user", bob.username, "read")
    Sharing(alice).grant(f"{project}/a.txt", "public", None, "read")

    browser = make_browser(qtbot, alice)
    model = browser.model
    wait_loaded(qtbot, model, rows=2)
    icons = {
        model.data(model.index(r, 0)): model.data(model.index(r, 0), Qt.ItemDataRole.DecorationRole)
        for r in range(2)
    }
    plain = model._icon("dir").cacheKey()
    assert icons["private"].cacheKey() == plain
    assert icons["proj"].cacheKey() == model._icon("dir-shared").cacheKey() != plain
    # inside the shared folder the emblem marks only what was shared there itself (a.txt is public)
    proj = next(model.index(r, 0) for r in range(2) if model.data(model.index(r, 0)) == "proj")
    model.fetchMore(proj)
    wait_loaded(qtbot, model, proj, rows=2)
    inside = {
        model.data(model.index(r, 0, proj)): model.data(
            model.index(r, 0, proj), Qt.ItemDataRole.DecorationRole
        )
        for r in range(2)
    }
    assert inside["a.txt"].cacheKey() == model._icon("file-shared").cacheKey()
    assert inside["b.txt"].cacheKey() == model._icon("file").cacheKey()

    select_name(browser, "proj")
    menu = browser.build_context_menu()
    texts = [a.text().replace("&&", "&") for a in menu.actions()]
    assert "Sharing & Permissions…" in texts and browser.sharing.sharing_action.isEnabled()
    dialog = browser.sharing.show_sharing()
    assert dialog is not None and dialog.path == project
    wait_idle(qtbot, dialog)
    assert rows(dialog) == [(bob.username, "Read", "this item")]
    menu.close()
    # a change made in the dialog shows in the tree: "private" gets the emblem once it is public
    private = browser.sharing.show_sharing(f"{alice.home}/private")
    assert private is not None
    wait_idle(qtbot, private)
    qtbot.mouseClick(private.public_box, Qt.MouseButton.LeftButton)

    def private_icon() -> int:
        index = model.index_for_path(f"{alice.home}/private")
        return model.data(index, Qt.ItemDataRole.DecorationRole).cacheKey() if index.isValid() else 0

    qtbot.waitUntil(lambda: private_icon() == model._icon("dir-shared").cacheKey(), timeout=20000)

    bar = browser.sharing.places_bar
    assert bar.objectName() == "navigation"
    assert {
        browser.sharing.shared_action,
        browser.sharing.public_action,
        browser.sharing.groups_action,
    } <= set(bar.actions())

    # bob: "Shared with me" lists alice, under her the shared folder with its emblem
    theirs = make_browser(qtbot, bob)
    wait_loaded(qtbot, theirs.model)
    theirs.sharing.shared_action.trigger()
    assert theirs.model.root_path == f"/users/Shared to {bob.username}"
    wait_loaded(qtbot, theirs.model, rows=1)
    assert names(theirs.model) == [alice.username]
    owner = theirs.model.index(0, 0)
    select_name(theirs, alice.username)
    owner_meta = theirs.model.metadata(owner)
    assert owner_meta is not None and is_virtual(owner_meta.path)
    assert not theirs.sharing.sharing_action.isEnabled()  # a view, not an item
    theirs.model.fetchMore(owner)
    wait_loaded(qtbot, theirs.model, owner, rows=1)
    shared = theirs.model.index(0, 0, owner)
    shared_meta = theirs.model.metadata(shared)
    assert shared_meta is not None and shared_meta.path == project
    shared_icon = theirs.model.data(shared, Qt.ItemDataRole.DecorationRole).cacheKey()
    assert shared_icon == theirs.model._icon("dir-shared").cacheKey()
    theirs.model.fetchMore(shared)  # the shared folder lists through its own path
    wait_loaded(qtbot, theirs.model, shared, rows=2)
    assert names(theirs.model, shared) == ["a.txt", "b.txt"]

    theirs.sharing.public_action.trigger()
    assert theirs.model.root_path == "/users/Public"
    qtbot.waitUntil(lambda: "a.txt" in names(theirs.model), timeout=20000)
    theirs.sharing.home_action.trigger()
    assert theirs.model.root_path == bob.home
    theirs.model.fetchMore(QModelIndex())


def test_a_member_sees_the_group_cannot_manage_it_and_can_leave(qtbot, runner, alice, bob) -> None:  # type: ignore[no-untyped-def]
    lab = unique_name("lab")
    Sharing(alice).create_group(lab)
    Sharing(alice).add_member(lab, bob.username)
    dialog = GroupsDialog(Sharing(bob), runner)
    qtbot.addWidget(dialog)
    dialog.show()
    wait_idle(qtbot, dialog)
    group = dialog.current()
    assert group is not None and group.name == lab
    assert "member" in dialog.group_list.currentItem().text()
    for w in (dialog.delete_button, dialog.user_edit, dialog.add_button, dialog.admin_button):
        assert not w.isEnabled()
    tree = dialog.members
    for i in range(tree.topLevelItemCount()):
        item = item_at(tree, i)
        item.setSelected(item.text(0) == alice.username)
    assert not dialog.remove_button.isEnabled()  # only administrators remove others
    for i in range(tree.topLevelItemCount()):
        item = item_at(tree, i)
        item.setSelected(item.text(0) == bob.username)
    assert dialog.remove_button.isEnabled() and dialog.remove_button.text().replace("&", "") == "Leave"
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, dialog)
    assert not dialog.error_label.isVisible(), dialog.error_label.text()
    assert dialog.group_list.count() == 0
    assert bob.username not in Sharing(alice).group(lab).members


def test_enter_in_the_name_field_shares_and_nothing_else(  # type: ignore[no-untyped-def]
    qtbot, runner, alice, bob, make_account, project
) -> None:
    carol = make_account("carol").username
    Sharing(alice).grant(project, "user", bob.username, "read")
    dialog = open_dialog(qtbot, alice, runner, project)
    select_row(dialog, bob.username)  # a revocable entry is selected: Enter must not revoke it
    dialog.name_edit.setFocus()
    dialog.name_edit.setText(carol)
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    wait_idle(qtbot, dialog)
    assert dialog.isVisible()
    assert sorted(r[0] for r in rows(dialog)) == sorted([bob.username, carol])
    assert {e.name for e in Sharing(alice).acl(project).entries} == {bob.username, carol}
