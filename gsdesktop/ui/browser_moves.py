"""Move to… / Copy to… of the remote browser: the folder picker, the server-side work, what is said after."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QDialog, QWidget

from gsdesktop.datamanager.errors import NotFoundError
from gsdesktop.datamanager.models import GSFileMetadata


def tr(text: str) -> str:
    return QCoreApplication.translate("RemoteBrowser", text)


def move_or_copy_items(
    client: Any, items: list[GSFileMetadata], folder: str, copy: bool
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


def pick_remote_folder(parent: QWidget, client: Any, runner: Any, home: str, title: str) -> str | None:
    """A tree of the account's folders (modal); the folder chosen, None when cancelled."""
    from gsdesktop.ui.wizard import RemoteFolderDialog

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
