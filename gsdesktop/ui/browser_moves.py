"""Move to… / Copy to… of the remote browser: the folder picker (also the wizard's and Settings'), the
server-side work, what is said after."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QModelIndex, Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QTreeView, QVBoxLayout, QWidget

from gsdesktop.datamanager.errors import NotFoundError
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.ui.bridge import TaskRunner

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient


def tr(text: str) -> str:
    return QCoreApplication.translate("RemoteBrowser", text)


def move_or_copy_items(
    client: DataManagerClient, items: list[GSFileMetadata], folder: str, copy: bool
) -> tuple[int, list[str]]:
    """Move or copy ``items`` into ``folder`` on the server (worker thread): (how many, names left).

    A name already in ``folder`` is never overwritten, and a folder never goes into itself: those items
    stay where they are and are returned as left.
    """
    try:
        taken = {m.name for m in client.list(folder).contents}
    except NotFoundError:
        taken = set()
    done, left = 0, []
    for m in items:
        inside = folder == m.path or folder.startswith(m.path.rstrip("/") + "/")
        if m.name in taken or inside:
            left.append(m.name)
            continue
        dst = f"{folder.rstrip('/')}/{m.name}"
        if copy:
            client.copy(m.path, dst)
        else:
            client.move(m.path, dst)
        taken.add(m.name)
        done += 1
    return done, left


def result_text(done: int, left: list[str], folder: str, copy: bool) -> str:
    text = (tr("Copied {0} item(s) to {1}.") if copy else tr("Moved {0} item(s) to {1}.")).format(
        done, folder
    )
    if left:
        text += " " + (
            tr("Not copied: {0} (already in that folder, or the folder itself).")
            if copy
            else tr("Not moved: {0} (already in that folder, or the folder itself).")
        ).format(", ".join(left))
    return text


def pick_remote_folder(
    parent: QWidget, client: DataManagerClient, runner: TaskRunner, home: str, title: str
) -> str | None:
    """A tree of the account's folders (modal); the folder chosen, None when cancelled."""
    dialog = RemoteFolderDialog(
        client,
        runner,
        home,
        parent,
        title=title,
        hint=tr("Choose the folder:"),
        whole_label=tr("Use {0} itself").format(home),
    )
    try:
        return dialog.chosen() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()


class RemoteFolderDialog(QDialog):
    """Pick a folder of the account (the home folder itself when nothing is selected)."""

    def __init__(
        self,
        client: DataManagerClient,
        runner: TaskRunner,
        root: str,
        parent: QWidget | None = None,
        title: str | None = None,
        hint: str | None = None,
        whole_label: str | None = None,
    ) -> None:
        from gsdesktop.ui.remote_model import RemoteTreeModel

        super().__init__(parent)
        self.setWindowTitle(title or self.tr("Choose the remote folder"))
        self.resize(420, 360)
        self.root = root
        self.model = RemoteTreeModel(client, runner, root, self, dirs_only=True)
        self.view = QTreeView(self)
        self.view.setModel(self.model)
        for column in range(1, self.model.columnCount()):
            self.view.hideColumn(column)
        self.view.setHeaderHidden(True)
        self.view.setAccessibleName(self.tr("Remote folders"))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("&Use the selected folder"))
        self.whole = False
        self.home_button = QPushButton(whole_label or self.tr("Use all of {0}").format(root), self)
        self.home_button.clicked.connect(self.use_whole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        hint = hint or self.tr("Choose the folder of {0} to keep in sync with the local folder:").format(root)
        label = QLabel(hint, self)
        label.setWordWrap(True)
        layout.addWidget(label)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.home_button, 0, Qt.AlignmentFlag.AlignLeft)  # its own line: long paths fit
        layout.addWidget(buttons)
        self.model.fetchMore(QModelIndex())

    def use_whole(self) -> None:
        self.whole = True
        self.accept()

    def chosen(self) -> str:
        index = self.view.currentIndex()
        if not self.whole and index.isValid() and self.model.node(index).kind == "entry":
            return self.model.node(index).path
        return self.root
