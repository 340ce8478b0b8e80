"""The remote browser window: a lazy tree of Data Manager folders with file actions and drop-to-upload."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QStandardPaths,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStyle,
    QToolBar,
    QWidget,
)

from gsdesktop.datamanager.errors import NotFoundError
from gsdesktop.datamanager.models import GSDataFormat, GSFileMetadata
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.browser_moves import move_or_copy_items, pick_remote_folder, result_text
from gsdesktop.ui.browser_parts import (
    KEEP_BOTH,
    SKIP,
    PropertiesDialog,
    RemoteTreeView,
    ask_replace_dialog,
    duration_text,
    free_name,
    link_lifetime,
)
from gsdesktop.ui.drag_out import DragOutMime
from gsdesktop.ui.refget_actions import RefgetActions, error_text, is_servable
from gsdesktop.ui.remote_model import RemoteTreeModel
from gsdesktop.ui.sharing import SharingActions
from gsdesktop.ui.transfers import Kind, Status, Transfer, TransferManager, TransfersPanel

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.refget.client import RefgetIds

log = logging.getLogger(__name__)
# QTreeView lays out every exposed row on each change; beyond this many rows a single layout costs more
# than the 50 ms the GUI thread may be busy. Larger folders are reached with the filter and sorting.
MAX_ROWS_SHOWN = 1000
Index = QModelIndex | QPersistentModelIndex
STALE_DELAY_MS = 400  # changes on the server within this time list their folder once


class RemoteBrowser(QMainWindow):
    """Browse, upload, download and manage remote files.

    Args:
        client: the Data Manager client (called only on worker threads).
        runner: general task runner (listings, metadata, small actions).
        transfers: the transfer manager for uploads/downloads.
        root: the folder shown first (the user's home).
    """

    notify = Signal(str, str)  # title, message (drop uploads finished, action failures)

    def __init__(
        self,
        client: DataManagerClient,
        runner: TaskRunner,
        transfers: TransferManager,
        root: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.runner = runner
        self.transfers = transfers
        self.home = root
        self._history: list[str] = []
        # Hooks so tests (and scripted use) can answer dialogs without a modal loop.
        self.confirm: Callable[[str, str], bool] = self._ask_confirm
        self.ask_text: Callable[[str, str, str], str | None] = self._ask_text
        #: (name, clashes left including this one) -> (REPLACE / KEEP_BOTH / SKIP, apply to all the rest)
        self.ask_replace: Callable[[str, int], tuple[str, bool]] = self._ask_replace
        #: (dialog title) -> the remote folder chosen, None when cancelled (Move to… / Copy to…)
        self.pick_folder: Callable[[str], str | None] = lambda t: pick_remote_folder(
            self, client, runner, root, t
        )
        self.setWindowTitle(self.tr("GenomeSpace — Remote files"))
        self.resize(900, 600)

        self.model = RemoteTreeModel(client, runner, root, self)
        self.view = RemoteTreeView(self)
        self.view.drag_out = lambda: DragOutMime(sel, transfers, runner) if (sel := self.selected()) else None
        # No QSortFilterProxyModel: the model sorts and filters whole listings itself, and a proxy would
        # double the Python calls per row in every tree layout.
        self.view.setModel(self.model)
        for column, width in enumerate((380, 90, 140, 120)):
            self.view.setColumnWidth(column, width)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.setAccessibleName(self.tr("Remote files"))
        self.setCentralWidget(self.view)
        self.view.doubleClicked.connect(self._on_double_click)
        self.view.verticalScrollBar().valueChanged.connect(self._maybe_expose_more)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.model.files_dropped.connect(self.upload_paths)
        self.model.load_failed.connect(
            lambda path, exc: self.statusBar().showMessage(
                self.tr("Could not list {0}: {1}").format(path, exc), 10000
            )
        )
        self.transfers.batch_finished.connect(self._on_batch_finished)
        self.refget = RefgetActions(client, runner, self)
        self.refget.indexed.connect(self._on_refget_indexed)
        self.refget.failed.connect(self._on_refget_failed)

        self._build_actions()
        self.sharing = SharingActions(self)  # Sharing & Permissions, Groups, Shared with me, Public
        self.transfers_panel = TransfersPanel(transfers, self)
        dock = QDockWidget(self.tr("Transfers"), self)
        dock.setObjectName("transfers")
        dock.setWidget(self.transfers_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.transfers.changed.connect(self._on_transfer_changed)
        self._stale: set[str] = set()  # folders changed on the server, listed again shortly
        self._app_state = ""
        self.synced_root: str | None = None  # the remote folder sync mirrors (set by the app)
        self._select_after: str | None = None  # a new or renamed item, selected once listed
        self.model.load_finished.connect(self._on_loaded)
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self._opening: dict[int, Path] = {}  # transfer id -> file to open when downloaded
        self._stale_timer = QTimer(self)
        self._stale_timer.setSingleShot(True)
        self._stale_timer.setInterval(STALE_DELAY_MS)
        self._stale_timer.timeout.connect(self._refresh_stale)
        self._sync_path_bar()
        self._update_actions()

    # ==== construction ====

    def _build_actions(self) -> None:
        style = self.style()

        def act(
            text: str,
            slot: Callable[[], object],
            shortcut: str | QKeySequence.StandardKey | None = None,
            icon: QStyle.StandardPixmap | None = None,
        ) -> QAction:
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            if icon is not None:
                action.setIcon(style.standardIcon(icon))
            action.triggered.connect(lambda _checked=False: slot())
            self.addAction(action)
            return action

        sp = QStyle.StandardPixmap
        self.back_action = act(self.tr("Back"), self.go_back, QKeySequence.StandardKey.Back, sp.SP_ArrowBack)
        self.up_action = act(self.tr("Up"), self.go_up, "Alt+Up", sp.SP_ArrowUp)
        self.refresh_action = act(
            self.tr("Refresh"), self.refresh, QKeySequence.StandardKey.Refresh, sp.SP_BrowserReload
        )
        self.upload_files_action = act(
            self.tr("Upload files…"), self.upload_files_dialog, "Ctrl+U", sp.SP_ArrowUp
        )
        self.upload_folder_action = act(self.tr("Upload folder…"), self.upload_folder_dialog, "Ctrl+Shift+U")
        self.download_action = act(self.tr("Download…"), self.download_dialog, "Ctrl+D", sp.SP_ArrowDown)
        self.download_as_menu = QMenu(self.tr("Download as"), self)
        self.download_as_menu.aboutToShow.connect(self._fill_download_as)
        self.new_folder_action = act(
            self.tr("New folder…"), self.new_folder_dialog, "Ctrl+Shift+N", sp.SP_FileDialogNewFolder
        )
        self.rename_action = act(self.tr("Rename…"), self.rename_dialog, "F2")
        self.move_action = act(self.tr("Move to…"), lambda: self.move_or_copy_dialog(copy=False))
        self.copy_action = act(self.tr("Copy to…"), lambda: self.move_or_copy_dialog(copy=True))
        self.delete_action = act(
            self.tr("Delete"), self.delete_selected, QKeySequence.StandardKey.Delete, sp.SP_TrashIcon
        )
        self.copy_link_action = act(self.tr("Copy link"), self.copy_link, "Ctrl+Shift+C")
        self.properties_action = act(
            self.tr("Properties"), self.show_properties, "Alt+Return", sp.SP_FileDialogInfoView
        )
        self.serve_refget_action = act(self.tr("Serve via refget"), self.serve_refget)
        self.serve_refget_action.setToolTip(
            self.tr("Index the selected FASTA file(s) so refget clients (htslib, samtools) can fetch them")
        )

        bar = QToolBar(self.tr("Navigation"), self)
        bar.setObjectName("navigation")
        bar.addAction(self.back_action)
        bar.addAction(self.up_action)
        bar.addAction(self.refresh_action)
        self.path_bar = QLineEdit(self)
        self.path_bar.setAccessibleName(self.tr("Remote path"))
        self.path_bar.returnPressed.connect(lambda: self.navigate(self.path_bar.text()))
        bar.addWidget(self.path_bar)
        self.filter_box = QLineEdit(self)
        self.filter_box.setPlaceholderText(self.tr("Filter names"))
        self.filter_box.setAccessibleName(self.tr("Filter"))
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.setMaximumWidth(220)
        self.filter_box.textChanged.connect(self.model.set_name_filter)
        bar.addWidget(self.filter_box)
        self.addToolBar(bar)
        tools = QToolBar(self.tr("Actions"), self)
        tools.setObjectName("actions")
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (
            self.upload_files_action,
            self.upload_folder_action,
            self.download_action,
            self.new_folder_action,
            self.delete_action,
            self.properties_action,
            self.serve_refget_action,
        ):
            tools.addAction(a)
        self.addToolBarBreak()
        self.addToolBar(tools)
        focus_path = QAction(self.tr("Edit path"), self)
        focus_path.setShortcut(QKeySequence("Ctrl+L"))
        focus_path.triggered.connect(self._focus_path_bar)
        self.addAction(focus_path)
        open_action = QAction(self.tr("Open"), self.view)
        open_action.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
        open_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        open_action.triggered.connect(lambda: self.open_index(self.view.currentIndex()))
        self.view.addAction(open_action)
        menu_key = QAction(self.tr("Context menu"), self.view)
        menu_key.setShortcut(QKeySequence("Shift+F10"))
        menu_key.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        menu_key.triggered.connect(self._context_menu_at_current)
        self.view.addAction(menu_key)
        clear_filter = QAction(self.tr("Clear filter"), self.filter_box)
        clear_filter.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        clear_filter.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        clear_filter.triggered.connect(self.filter_box.clear)
        self.filter_box.addAction(clear_filter)
        focus_filter = QAction(self.tr("Filter"), self)
        focus_filter.setShortcut(QKeySequence.StandardKey.Find)
        focus_filter.triggered.connect(lambda: self.filter_box.setFocus())
        self.addAction(focus_filter)

    def _focus_path_bar(self) -> None:
        self.path_bar.setFocus()
        self.path_bar.selectAll()

    def _context_menu_at_current(self) -> None:
        current = self.view.currentIndex()
        selection = self.view.selectionModel()
        if current.isValid() and not selection.isSelected(current):  # the menu acts on what it points at
            flags = QItemSelectionModel.SelectionFlag
            selection.select(current, flags.ClearAndSelect | flags.Rows)
        rect = self.view.visualRect(current)
        pos = rect.center() if rect.isValid() else self.view.viewport().rect().topLeft()
        self._context_menu(pos)

    def _context_menu(self, pos: QPoint) -> None:
        self.build_context_menu().popup(self.view.viewport().mapToGlobal(pos))

    def build_context_menu(self) -> QMenu:
        """The context menu for the current selection ("Serve via refget" only for FASTA files)."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for a in (self.upload_files_action, self.upload_folder_action, self.download_action):
            menu.addAction(a)
        menu.addMenu(self.download_as_menu)
        menu.addSeparator()
        for a in (self.new_folder_action, self.rename_action, self.move_action, self.copy_action):
            menu.addAction(a)
        menu.addAction(self.delete_action)
        menu.addSeparator()
        menu.addAction(self.copy_link_action)
        menu.addAction(self.properties_action)
        self.sharing.add_to_menu(menu)
        if self.serve_refget_action.isVisible():
            menu.addSeparator()
            menu.addAction(self.serve_refget_action)
        return menu

    # ==== selection helpers ====

    def selected(self) -> list[GSFileMetadata]:
        """Metadata of the selected rows (placeholders excluded)."""
        out = []
        for index in self.view.selectionModel().selectedRows(0):
            meta = self.model.metadata(index)
            if meta is not None:
                out.append(meta)
        return out

    def target_folder(self) -> str:
        """The folder new items go to: the selected folder, a selected file's folder, or the root."""
        sel = self.selected()
        if len(sel) == 1:
            return sel[0].path if sel[0].is_directory else posixpath.dirname(sel[0].path)
        return self.model.root_path

    def _update_actions(self) -> None:
        sel = self.selected()
        one = len(sel) == 1
        self.download_action.setEnabled(bool(sel))
        self.download_as_menu.setEnabled(one and not sel[0].is_directory)
        self.rename_action.setEnabled(one)
        self.move_action.setEnabled(bool(sel))
        self.copy_action.setEnabled(bool(sel))
        self.delete_action.setEnabled(bool(sel))
        self.copy_link_action.setEnabled(one and not sel[0].is_directory)
        self.properties_action.setEnabled(one)
        fasta = bool(sel) and all(is_servable(m) for m in sel)
        self.serve_refget_action.setVisible(fasta)
        self.serve_refget_action.setEnabled(fasta)
        self.back_action.setEnabled(bool(self._history))
        self.up_action.setEnabled(self.model.root_path not in ("/", ""))

    # ==== navigation ====

    def navigate(self, path: str, remember: bool = True) -> None:
        path = "/" + path.strip().strip("/")
        if path != self.model.root_path and remember:
            self._history.append(self.model.root_path)
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.blockSignals(False)
        self.model.set_root(path)
        self._sync_path_bar()
        self._update_actions()
        self.model.fetchMore(QModelIndex())

    def go_back(self) -> None:
        if self._history:
            self.navigate(self._history.pop(), remember=False)

    def go_up(self) -> None:
        parent = posixpath.dirname(self.model.root_path.rstrip("/")) or "/"
        self.navigate(parent)

    def refresh(self) -> None:
        self.model.refresh(QModelIndex())

    def _sync_path_bar(self) -> None:
        self.path_bar.setText(self.model.root_path)

    def _maybe_expose_more(self, value: int) -> None:
        """Near the end of the list: expose the next page of a large folder."""
        bar = self.view.verticalScrollBar()
        if value < bar.maximum() - bar.pageStep() or not self.model.has_more():
            return
        shown = self.model.rowCount()
        if shown >= MAX_ROWS_SHOWN:
            self.statusBar().showMessage(
                self.tr(
                    "Showing {0} of {1} entries: use the filter box or sorting to find the others."
                ).format(shown, self.model.total_entries())
            )
            return
        self.model.expose_more()

    def _on_double_click(self, index: QModelIndex) -> None:
        self.open_index(index)

    def open_index(self, index: Index) -> None:
        """Open a folder (navigate into it) or a file (download it to the cache, then open it with the
        desktop's application for it)."""
        meta = self.model.metadata(index)
        if meta is None:
            return
        if meta.is_directory:
            self.navigate(meta.path)
            return
        folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)) / "open"
        folder.mkdir(parents=True, exist_ok=True)
        t = self.transfers.download(meta.path, folder / meta.name, size=meta.size)
        self._opening[t.id] = t.local
        self.statusBar().showMessage(self.tr("Opening {0}…").format(meta.name), 5000)

    # ==== uploads ====

    def upload_paths(self, paths: list[Path], folder: str) -> None:
        """Upload local files/folders into remote ``folder`` (drops and dialogs end up here).

        The folder's names are listed first (worker thread); for each name already there the user
        chooses Replace / Keep both / Skip (optionally for all the rest) before anything is sent.
        """
        client = self.client
        self.statusBar().showMessage(self.tr("Uploading {0} item(s) to {1}…").format(len(paths), folder))

        def existing() -> set[str]:
            try:
                return {m.name for m in client.list(folder).contents}
            except NotFoundError:
                return set()

        self.runner.run_task(
            existing,
            lambda taken: self._upload_resolved(paths, folder, taken),
            lambda exc: self._failed(self.tr("Upload failed"), exc),
        )

    def _upload_resolved(self, paths: list[Path], folder: str, taken: set[str]) -> None:
        clashes = [p for p in paths if p.name in taken]
        names: dict[Path, str] = {}
        skipped: set[Path] = set()
        for_all: str | None = None
        for i, path in enumerate(clashes):
            choice = for_all
            if choice is None:
                choice, apply_all = self.ask_replace(path.name, len(clashes) - i)
                if apply_all:
                    for_all = choice
            if choice == SKIP:
                skipped.add(path)
            elif choice == KEEP_BOTH:
                names[path] = free_name(path.name, taken)
                taken.add(names[path])
        chosen = [p for p in paths if p not in skipped]
        if not chosen:
            self.statusBar().showMessage(self.tr("Nothing uploaded: every item was skipped."), 10000)
            return
        self.transfers.upload_paths(
            chosen, folder, on_error=lambda exc: self._failed(self.tr("Upload failed"), exc), names=names
        )

    def _on_batch_finished(self, _batch: int, ok: int, failed: int, folder: str, cancelled: int = 0) -> None:
        self.model.refresh_path(folder)
        if failed:
            self.notify.emit(
                self.tr("Upload finished with errors"),
                self.tr("{0} uploaded, {1} failed to {2}").format(ok, failed, folder)
                + (self.tr(", {0} cancelled").format(cancelled) if cancelled else ""),
            )
        elif cancelled:  # the user's own cancel is not an error
            self.notify.emit(
                self.tr("Upload cancelled"),
                self.tr("{0} uploaded to {1}, {2} cancelled").format(ok, folder, cancelled),
            )
        else:
            self.notify.emit(
                self.tr("Upload finished"), self.tr("{0} file(s) uploaded to {1}").format(ok, folder)
            )
        self._show_transfer_summary()

    def _on_transfer_changed(self, t: Transfer) -> None:
        if t.status.finished and not t.sync:
            self._show_transfer_summary()
        target = self._opening.pop(t.id, None) if t.status.finished else None
        if (
            target is not None
            and t.status is Status.DONE
            and not self.open_url(QUrl.fromLocalFile(str(target)))
        ):
            self._failed(self.tr("Could not open {0}").format(target.name), OSError("no application for it"))
        if t.kind is Kind.UPLOAD and t.status is Status.DONE and not t.batch:
            self.remote_changed(t.remote)  # a retried or resumed upload (batches refresh as a whole)

    def remote_changed(self, path: str) -> None:
        """``path`` was written or removed on the server (by this app: an upload, sync): the folder
        holding it is listed again if it is shown. Many changes in a short time list it once."""
        self._stale.add(posixpath.dirname(path.rstrip("/")) or "/")
        self._stale_timer.start()

    def on_app_state(self, state: str) -> None:
        """The app's display state: back from "offline" (server or storage unreachable), the folders
        shown are listed again (what failed or changed meanwhile shows up without a manual refresh)."""
        was, self._app_state = self._app_state, state
        if was == "offline" and state != "offline":
            self.refresh()

    def _refresh_stale(self) -> None:
        stale, self._stale = self._stale, set()
        for folder in sorted(stale):
            self.model.refresh_path(folder)

    def _show_transfer_summary(self) -> None:
        """Status line: uploads and downloads listed in the panel, done and failed."""
        self.statusBar().showMessage(self.transfers_panel.model.counts().text(), 10000)

    def upload_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, self.tr("Upload files"))
        if files:
            self.upload_paths([Path(f) for f in files], self.target_folder())

    def upload_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Upload folder"))
        if folder:
            self.upload_paths([Path(folder)], self.target_folder())

    # ==== downloads ====

    def download_to(self, items: list[GSFileMetadata], local_dir: Path) -> None:
        """Download files (and folders, recursively) into ``local_dir``."""
        for meta in items:
            if not meta.is_directory:
                self.transfers.download(meta.path, local_dir / meta.name, size=meta.size)
                continue
            base = meta.path.rstrip("/")

            def plan(
                base: str = base, name: str = meta.name, client: DataManagerClient = self.client
            ) -> list[tuple[str, Path, int | None]]:
                out = []
                for entry in client.list_recursive(base):
                    rel = entry.path[len(base) + 1 :]
                    target = local_dir / name / rel
                    if entry.is_directory:
                        target.mkdir(parents=True, exist_ok=True)
                    else:
                        out.append((entry.path, target, entry.size))
                (local_dir / name).mkdir(parents=True, exist_ok=True)
                return out

            def enqueue(pairs: list[tuple[str, Path, int | None]]) -> None:
                for remote, local, size in pairs:
                    self.transfers.download(remote, local, size=size)

            self.runner.run_task(plan, enqueue, lambda exc: self._failed(self.tr("Download failed"), exc))

    def download_dialog(self) -> None:
        sel = self.selected()
        if not sel:
            return
        if len(sel) == 1 and not sel[0].is_directory:
            target, _ = QFileDialog.getSaveFileName(self, self.tr("Download"), str(Path.home() / sel[0].name))
            if target:
                self.transfers.download(sel[0].path, Path(target), size=sel[0].size)
            return
        folder = QFileDialog.getExistingDirectory(self, self.tr("Download to folder"), str(Path.home()))
        if folder:
            self.download_to(sel, Path(folder))

    def _fill_download_as(self) -> None:
        self.download_as_menu.clear()
        sel = self.selected()
        if len(sel) != 1 or sel[0].is_directory:
            return
        formats = sel[0].available_data_formats
        if not formats:
            self.download_as_menu.addAction(self.tr("(no conversions available)")).setEnabled(False)
        for fmt in formats:
            ext = f" (.{fmt.file_extension})" if fmt.file_extension else ""
            action = self.download_as_menu.addAction(f"{fmt.description or fmt.name}{ext}")
            action.triggered.connect(lambda _c=False, f=fmt, m=sel[0]: self.download_as(m, f))

    def download_as(self, meta: GSFileMetadata, fmt: GSDataFormat, target: Path | None = None) -> None:
        if target is None:
            stem = meta.name.rsplit(".", 1)[0]
            ext = f".{fmt.file_extension}" if fmt.file_extension else ""
            chosen, _ = QFileDialog.getSaveFileName(
                self, self.tr("Download as {0}").format(fmt.name), str(Path.home() / (stem + ext))
            )
            if not chosen:
                return
            target = Path(chosen)
        self.transfers.download(meta.path, target, data_format=fmt)

    # ==== remote actions ====

    def new_folder(self, name: str) -> None:
        folder = self.target_folder()
        if not name or "/" in name:
            self._failed(
                self.tr("New folder"), ValueError(self.tr("Folder names cannot be empty or contain '/'."))
            )
            return
        self._remote_action(
            lambda: self.client.mkdir(f"{folder.rstrip('/')}/{name}"),
            folder,
            self.tr("Could not create the folder"),
            select=f"{folder.rstrip('/')}/{name}",
        )

    def new_folder_dialog(self) -> None:
        name = self.ask_text(
            self.tr("New folder"), self.tr("Name of the new folder in {0}:").format(self.target_folder()), ""
        )
        if name:
            self.new_folder(name.strip())

    def rename(self, meta: GSFileMetadata, new_name: str) -> None:
        folder = posixpath.dirname(meta.path)
        if not new_name or "/" in new_name or new_name == meta.name:
            return
        self._remote_action(
            lambda: self.client.move(meta.path, f"{folder}/{new_name}"),
            folder,
            self.tr("Could not rename"),
            select=f"{folder}/{new_name}",
        )

    def rename_dialog(self) -> None:
        sel = self.selected()
        if len(sel) == 1:
            name = self.ask_text(self.tr("Rename"), self.tr("New name:"), sel[0].name)
            if name:
                self.rename(sel[0], name.strip())

    def move_or_copy_dialog(self, copy: bool) -> None:
        """Move or copy the selection into a remote folder the user picks."""
        sel = self.selected()
        if not sel:
            return
        title = self.tr("Copy {0} item(s) to") if copy else self.tr("Move {0} item(s) to")
        target = self.pick_folder(title.format(len(sel)))
        if target:
            self.move_or_copy(sel, target, copy)

    def move_or_copy(self, items: list[GSFileMetadata], folder: str, copy: bool) -> None:
        """Server-side move or copy of ``items`` into ``folder`` (worker thread). A name already there is
        never overwritten: that item stays where it is and the status line says so."""
        client, folder = self.client, "/" + folder.strip("/")

        def refresh() -> None:
            for p in {folder, *(posixpath.dirname(m.path) for m in items)}:
                self.model.refresh_path(p)

        def done(result: tuple[int, list[str]]) -> None:
            self.statusBar().showMessage(result_text(result[0], result[1], folder, copy), 15000)
            refresh()

        def failed(exc: BaseException) -> None:
            self._failed(self.tr("Could not copy") if copy else self.tr("Could not move"), exc)
            refresh()

        self.runner.run_task(lambda: move_or_copy_items(client, items, folder, copy), done, failed)

    def delete_selected(self) -> None:
        """Delete the selection after a confirmation that spells out what a folder delete means."""
        sel = self.selected()
        if not sel:
            return
        folders = [m for m in sel if m.is_directory]
        if folders:
            text = self.tr(
                "Delete {0} item(s), including the folder(s) {1} and everything inside them? "
                "This cannot be undone."
            ).format(len(sel), ", ".join(f.name for f in folders))
        else:
            text = self.tr("Delete {0}? This cannot be undone.").format(", ".join(m.name for m in sel))
        root = self.synced_root.rstrip("/") if self.synced_root else None
        if root is not None and any(m.path == root or m.path.startswith(root + "/") for m in sel):
            text += " " + self.tr(
                "Sync then moves the copies in your sync folder on this computer to the trash."
            )
        if not self.confirm(self.tr("Delete"), text):
            return
        client = self.client
        parents = {posixpath.dirname(m.path) for m in sel}

        def work() -> None:
            for m in sel:
                client.delete(m.path, recursive=m.is_directory)

        def done(_r: object) -> None:
            for p in parents:
                self.model.refresh_path(p)

        def failed(exc: BaseException) -> None:
            self._failed(self.tr("Could not delete"), exc)
            done(None)

        self.runner.run_task(work, done, failed)

    def copy_link(self) -> None:
        sel = self.selected()
        if len(sel) != 1:
            return
        path = sel[0].path

        def done(url: str) -> None:
            QGuiApplication.clipboard().setText(url)
            life = link_lifetime(url)
            text = (
                self.tr("Link copied: it works for {0}, for anyone who has it.").format(duration_text(life))
                if life is not None
                else self.tr("Link copied: anyone who has it can download the file.")
            )
            self.statusBar().showMessage(text, 10000)

        self.runner.run_task(
            lambda: self.client.download_url(path),
            done,
            lambda exc: self._failed(self.tr("Could not create a link"), exc),
        )

    def show_properties(self, on_shown: Callable[[PropertiesDialog], None] | None = None) -> None:
        sel = self.selected()
        if len(sel) != 1:
            return
        path = sel[0].path

        def done(meta: GSFileMetadata) -> None:
            dialog = PropertiesDialog(meta, self, self.refget)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.show()
            if on_shown is not None:
                on_shown(dialog)

        self.runner.run_task(
            lambda: self.client.metadata(path),
            done,
            lambda exc: self._failed(self.tr("Could not read properties"), exc),
        )

    # ==== refget ====

    def serve_refget(self) -> None:
        """Index the selected FASTA file(s) into refget on the task pool; the result is notified."""
        for meta in self.selected():
            if is_servable(meta):
                self.statusBar().showMessage(self.tr("Indexing {0} for refget…").format(meta.name))
                self.refget.serve(meta.path)

    def _on_refget_indexed(self, path: str, ids: RefgetIds) -> None:
        name = posixpath.basename(path)
        n = len(ids.sequences)
        text = self.tr("{0}: {1} sequence(s) servable at {2}/sequence/<id> (ids in Properties)").format(
            name, n, self.refget.server_url
        )
        self.statusBar().showMessage(text, 15000)
        self.notify.emit(self.tr("Served via refget"), text)

    def _on_refget_failed(self, path: str, exc: BaseException) -> None:
        title = self.tr("Could not serve {0} via refget").format(posixpath.basename(path))
        self.statusBar().showMessage(f"{title}: {error_text(exc)}", 15000)
        self.notify.emit(title, error_text(exc))

    def _remote_action(
        self, fn: Callable[[], object], refresh: str, failure: str, select: str | None = None
    ) -> None:
        """Run ``fn`` on a worker thread, then list ``refresh`` again and select ``select`` in it."""

        def done(_r: object) -> None:
            self._select_after = select
            self.model.refresh_path(refresh)

        self.runner.run_task(fn, done, lambda exc: self._failed(failure, exc))

    def _on_loaded(self, path: str, _count: int) -> None:
        """A folder finished listing: select the item just created or renamed there."""
        target = self._select_after
        if target is None or posixpath.dirname(target) != path.rstrip("/"):
            return
        if self.view.selectionModel().hasSelection():
            self._select_after = None  # the user chose something meanwhile: theirs wins
            return
        index = self.model.index_for_path(target)
        if index.isValid():
            self._select_after = None
            self.view.setCurrentIndex(index)
            self.view.selectionModel().select(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.view.scrollTo(index)

    def _failed(self, title: str, exc: BaseException) -> None:
        message = error_text(exc)
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        self.notify.emit(title, message)

    # ==== dialogs (replaceable hooks) ====

    def _ask_confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _ask_replace(self, name: str, left: int) -> tuple[str, bool]:
        return ask_replace_dialog(self, name, left)

    def _ask_text(self, title: str, label: str, value: str) -> str | None:
        """A line of text; a file name's stem is preselected (typing keeps the extension)."""
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.setTextValue(value)
        edit = dialog.findChild(QLineEdit)
        stem = value.find(".", 1)
        if edit is not None and stem > 0:
            QTimer.singleShot(0, lambda: edit.setSelection(0, stem))
        ok = dialog.exec() == QDialog.DialogCode.Accepted
        text = dialog.textValue()
        dialog.deleteLater()
        return text if ok else None
