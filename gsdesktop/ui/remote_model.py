"""A lazily loaded tree over the remote Data Manager folders.

``hasChildren`` is true for every folder; ``canFetchMore``/``fetchMore`` only *start* an async listing
(through :class:`~gsdesktop.ui.bridge.TaskRunner`); a "Loading…" row is shown (last) until the last
page. The listing is fetched in pages (``list_pages`` when the lister has it) one task after the other;
each page is merged in sort order off the GUI thread and its entries are inserted where they belong
with ``beginInsertRows``, so a 10,000-entry folder never blocks the GUI thread. Sorting is done by the
model itself (``sort``) so no proxy has to compare thousands of rows through Python.
"""

from __future__ import annotations

import enum
import heapq
import logging
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractItemModel,
    QCoreApplication,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

from gsdesktop.datamanager.models import GSDirectoryListing, GSFileMetadata
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.formatting import NOT_SYNCED_ROLES, header_data, human_size, natural_key, not_synced_data
from gsdesktop.ui.paged_listing import MergedPage, PageMerger
from gsdesktop.ui.sharing import shared_icon

log = logging.getLogger(__name__)

PAGE_SIZE = 250  # rows exposed per fetchMore: the view's layout cost grows with exposed rows
LISTING_PAGE = 500  # entries per listing request: each JSON parse stays short (the GIL is shared)
META_ROLE = Qt.ItemDataRole.UserRole + 1  # GSFileMetadata or None
PATH_ROLE = Qt.ItemDataRole.UserRole + 2  # remote path (str)
KIND_ROLE = Qt.ItemDataRole.UserRole + 3  # "entry" | "loading" | "error"

Index = QModelIndex | QPersistentModelIndex


class Lister(Protocol):
    """The client as the model needs it; a ``list_pages(path, page_size)`` method is used if present."""

    def list(self, path: str) -> GSDirectoryListing: ...


def tr(text: str) -> str:
    return QCoreApplication.translate("RemoteTreeModel", text)


class LoadState(enum.Enum):
    UNLOADED = "unloaded"
    REQUESTED = "requested"
    LOADING = "loading"
    LOADED = "loaded"
    FAILED = "failed"


class Node:
    """One row. ``kind`` is ``entry`` for files/folders, ``loading``/``error`` for placeholders."""

    __slots__ = (
        "children",
        "entries",
        "error",
        "generation",
        "kind",
        "meta",
        "parent",
        "path",
        "pending",
        "row",
        "state",
    )

    def __init__(
        self, path: str, meta: GSFileMetadata | None, parent: Node | None, kind: str = "entry"
    ) -> None:
        self.path = path
        self.meta = meta
        self.parent = parent
        self.kind = kind
        self.children: list[Node] = []
        self.pending: list[GSFileMetadata] = []  # visible entries not exposed yet (next pages)
        self.entries: list[GSFileMetadata] = []  # the whole sorted listing
        self.state = LoadState.UNLOADED
        self.generation = 0
        self.error = ""
        self.row = 0

    @property
    def is_dir(self) -> bool:
        return self.kind == "entry" and (self.meta is None or self.meta.is_directory)

    @property
    def name(self) -> str:
        if self.meta is not None:
            return self.meta.name
        return self.path.rstrip("/").rsplit("/", 1)[-1] or "/"


def _row_of(node: Node) -> int:
    """``node``'s row under its parent, or -1 when it is no longer there.

    ``Node.row`` is a cache: rows inserted or removed above a node are renumbered once per change, but
    Qt (and views) may ask for ``parent()`` between the steps of one change, so the cache is checked and
    repaired here instead of trusted.
    """
    parent = node.parent
    if parent is None:
        return -1
    siblings = parent.children
    row = node.row
    if row < len(siblings) and siblings[row] is node:
        return row
    for row, sibling in enumerate(siblings):
        if sibling is node:
            node.row = row
            return row
    return -1


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ASC = Qt.SortOrder.AscendingOrder
_INVALID = QModelIndex()
_F = Qt.ItemFlag
_ROOT_FLAGS = _F.ItemIsDropEnabled
_PLACEHOLDER_FLAGS = _F.ItemIsEnabled | _F.ItemNeverHasChildren
_DIR_FLAGS = _F.ItemIsEnabled | _F.ItemIsSelectable | _F.ItemIsDropEnabled
_FILE_FLAGS = _F.ItemIsEnabled | _F.ItemIsSelectable | _F.ItemNeverHasChildren


def _sort_key(column: int) -> Callable[[GSFileMetadata], Any]:
    if column == 1:
        return lambda m: (not m.is_directory, m.size or 0, natural_key(m.name))
    if column == 2:
        return lambda m: (not m.is_directory, m.last_modified or _EPOCH, natural_key(m.name))
    if column == 3:
        return lambda m: (
            not m.is_directory,
            m.data_format.name if m.data_format else "",
            natural_key(m.name),
        )
    return lambda m: (not m.is_directory, natural_key(m.name))


SORT_CHUNK = 1000


def sort_entries(entries: Sequence[GSFileMetadata], column: int, order: Qt.SortOrder) -> list[GSFileMetadata]:
    """Folders first, then by ``column``; pure function (runs on worker threads).

    Large listings are sorted in chunks merged by ``heapq.merge``: one C-level ``sorted`` call keeps the
    GIL for its whole duration, which would stall the GUI thread; chunks keep each hold short.
    """
    key = _sort_key(column)
    if len(entries) <= SORT_CHUNK:
        items = sorted(entries, key=key)
    else:
        chunks = [sorted(entries[i : i + SORT_CHUNK], key=key) for i in range(0, len(entries), SORT_CHUNK)]
        items = list(heapq.merge(*chunks, key=key))
    if order == Qt.SortOrder.DescendingOrder:
        dirs = [m for m in items if m.is_directory][::-1]
        files = [m for m in items if not m.is_directory][::-1]
        items = dirs + files
    return items


class RemoteTreeModel(QAbstractItemModel):
    """Lazy remote tree. All methods run on the GUI thread.

    Args:
        lister: object with ``list(path) -> GSDirectoryListing`` (the client); called on worker threads.
        runner: the app's task runner.
        root: remote folder shown at the top level.
    """

    COLUMNS = ("Name", "Size", "Modified", "Format")

    sort_started = Signal()
    sort_finished = Signal()
    load_started = Signal(str)
    load_finished = Signal(str, int)  # path, number of entries
    load_failed = Signal(str, object)  # path, exception
    files_dropped = Signal(list, str)  # list[Path], remote folder

    def __init__(
        self,
        lister: Lister,
        runner: TaskRunner,
        root: str,
        parent: QObject | None = None,
        dirs_only: bool = False,
    ) -> None:
        super().__init__(parent)
        self.dirs_only = dirs_only
        self._ncols = len(self.COLUMNS)
        self._filter = ""
        self._sort_generation = 0
        self._lister = lister
        self._runner = runner
        self._root = Node(root.rstrip("/") or "/", None, None)
        self._sort_column = 0
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._icons: dict[str, QIcon] = {}
        self._not_synced: frozenset[str] = frozenset()  # remote folders sync excludes (marked)

    # ==== navigation ====

    @property
    def root_path(self) -> str:
        return self._root.path

    def set_root(self, path: str) -> None:
        """Show ``path`` at the top level (drops everything loaded so far)."""
        self.beginResetModel()
        self._root = Node(path.rstrip("/") or "/", None, None)
        self._filter = ""
        self.endResetModel()

    def node(self, index: Index) -> Node:
        if index.isValid():
            node = index.internalPointer()
            assert isinstance(node, Node)
            return node
        return self._root

    def as_index(self, index: Index) -> QModelIndex:
        """A plain column-0 ``QModelIndex`` for ``index`` (which may be persistent or invalid)."""
        if not index.isValid():
            return QModelIndex()
        node = self.node(index)
        row = _row_of(node)
        return QModelIndex() if row < 0 else self.createIndex(row, 0, node)

    def metadata(self, index: Index) -> GSFileMetadata | None:
        return self.node(index).meta if index.isValid() else None

    def index_for_path(self, path: str) -> QModelIndex:
        """The index of an already loaded ``path`` (invalid for the root or when not loaded)."""
        path = path.rstrip("/")
        if path == self._root.path or not path.startswith(self._root.path + "/"):
            return QModelIndex()
        node = self._root
        index = QModelIndex()
        for part in path[len(self._root.path) + 1 :].split("/"):
            found = next(
                ((r, c) for r, c in enumerate(node.children) if c.kind == "entry" and c.name == part), None
            )
            if found is None:
                return QModelIndex()
            row, node = found
            index = self.index(row, 0, index)
        return index

    def refresh(self, index: Index = QModelIndex()) -> None:
        """Reload a folder's children (the root when ``index`` is invalid)."""
        node = self.node(index)
        if not node.is_dir:
            return
        parent = self.as_index(index)
        if node.children:
            self.beginRemoveRows(parent, 0, len(node.children) - 1)
            node.children = []
            self.endRemoveRows()
        node.pending = []
        node.entries = []
        node.state = LoadState.UNLOADED
        node.generation += 1
        self._start_listing(node, parent)

    def refresh_path(self, path: str) -> None:
        """Reload ``path`` if it is loaded (or is the root)."""
        if path.rstrip("/") == self._root.path:
            self.refresh(QModelIndex())
            return
        index = self.index_for_path(path)
        if index.isValid() and self.node(index).state != LoadState.UNLOADED:
            self.refresh(index)

    def set_not_synced(self, folders: Iterable[str]) -> None:
        """Mark these remote folders (absolute paths) and what is inside them as not synced."""
        self._not_synced = frozenset(f.rstrip("/") for f in folders)
        rows = self.rowCount()
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, 0))

    def _is_not_synced(self, path: str) -> bool:
        while path not in ("", "/"):
            if path in self._not_synced:
                return True
            path = posixpath.dirname(path)
        return False

    # ==== Qt model interface ====

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        # Hot path (the view lays out every row): keep it to a few attribute lookups.
        if parent.isValid():
            if parent.column() != 0:
                return QModelIndex()
            children = parent.internalPointer().children
        else:
            children = self._root.children
        if 0 <= row < len(children) and 0 <= column < self._ncols:
            return self.createIndex(row, column, children[row])
        return QModelIndex()

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node = self.node(index)
        parent = node.parent
        if parent is None or parent is self._root:
            return QModelIndex()
        row = _row_of(parent)
        return QModelIndex() if row < 0 else self.createIndex(row, 0, parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(self.COLUMNS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        node = self.node(parent)
        if node.children:
            return True
        return node.is_dir and node.state in (LoadState.UNLOADED, LoadState.REQUESTED, LoadState.LOADING)

    def canFetchMore(self, parent: Index) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        node = self.node(parent)
        return node.is_dir and node.state == LoadState.UNLOADED

    def fetchMore(self, parent: Index) -> None:
        """Start loading ``parent``; the "Loading…" row and the listing follow on the next loop turn.

        Further pages of a large top-level folder are exposed by :meth:`expose_more` (the browser calls
        it when the user scrolls near the end): ``QTreeView`` calls ``fetchMore`` on every layout, so
        paging through ``canFetchMore`` would expose everything at once.
        """
        node = self.node(parent)
        if not node.is_dir or node.state != LoadState.UNLOADED:
            return
        node.state = LoadState.REQUESTED
        node.generation += 1
        generation = node.generation
        QTimer.singleShot(0, self, lambda: self._start_if_current(node, generation))

    def _start_if_current(self, node: Node, generation: int) -> None:
        index = self._node_index(node)
        if index is not None and node.generation == generation and node.state == LoadState.REQUESTED:
            self._start_listing(node, index)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        return header_data(self.COLUMNS, "RemoteTreeModel", section, orientation, role)

    # flags() is deliberately not overridden: QTreeView asks for the flags of every row twice per
    # layout, and a Python override triples the cost of a layout. The C++ default (enabled, selectable)
    # is right for entries; external drops are handled by RemoteTreeView, which forces a copy.
    def entry_flags(self, index: Index) -> Qt.ItemFlag:
        """The flags a full implementation would report (used by subclasses and tests)."""
        if not index.isValid():
            return _ROOT_FLAGS
        node = index.internalPointer()
        if node.kind != "entry":
            return _PLACEHOLDER_FLAGS
        return _DIR_FLAGS if node.is_dir else _FILE_FLAGS

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self.node(index)
        col = index.column()
        if role == PATH_ROLE:
            return node.path
        if role == META_ROLE:
            return node.meta
        if role == KIND_ROLE:
            return node.kind
        if node.kind == "loading":
            if role == Qt.ItemDataRole.DisplayRole and col == 0:
                return tr("Loading…")
            if role == Qt.ItemDataRole.ForegroundRole:
                return QApplication.palette().placeholderText()
            return None
        if node.kind == "error":
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) and col == 0:
                return tr("Could not load this folder: {0}").format(node.error)
            if role == Qt.ItemDataRole.DecorationRole and col == 0:
                return self._icon("error")
            return None
        meta = node.meta
        if meta is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return meta.name
            if col == 1:
                return "" if meta.is_directory else human_size(meta.size)
            if col == 2:  # folders: none (the server reports the listing time for most of them)
                shown = meta.last_modified if not meta.is_directory else None
                return shown.astimezone().strftime("%Y-%m-%d %H:%M") if shown else ""
            if col == 3:
                return meta.data_format.name if meta.data_format else ""
        elif role == Qt.ItemDataRole.DecorationRole and col == 0:
            kind = "dir" if meta.is_directory else "file"
            above = node.parent.meta if node.parent is not None else None
            # the sharing emblem marks grants made here, not everything inside a shared folder
            return self._icon(
                kind + "-shared" if meta.acl_extra > (above.acl_extra if above else 0) else kind
            )
        elif role in NOT_SYNCED_ROLES and col == 0 and self._not_synced and self._is_not_synced(node.path):
            return not_synced_data(role, meta.path)
        elif role == Qt.ItemDataRole.ToolTipRole and col == 0:
            return meta.path
        elif role == Qt.ItemDataRole.TextAlignmentRole and col == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort every loaded folder's *whole* listing (exposed and not yet exposed rows)."""
        if column < 0 or column >= len(self.COLUMNS):
            return
        if (column, order) == (self._sort_column, self._sort_order):
            return
        self._sort_column, self._sort_order = column, order
        self._sort_generation += 1
        generation = self._sort_generation
        nodes: list[Node] = []
        stack = [self._root]
        while stack:
            node = stack.pop()
            if node.state == LoadState.LOADED:
                nodes.append(node)
                stack.extend(c for c in node.children if c.state == LoadState.LOADED)
        snapshot = [(n, n.generation, n.entries) for n in nodes]

        def work() -> list[tuple[Node, int, list[GSFileMetadata]]]:  # worker thread: the O(n log n) part
            return [(n, g, sort_entries(e, column, order)) for n, g, e in snapshot]

        self._runner.run_task(work, lambda result: self._apply_sort(generation, result))
        self.sort_started.emit()

    def _apply_sort(self, generation: int, result: list[tuple[Node, int, list[GSFileMetadata]]]) -> None:
        if generation != self._sort_generation:
            return  # a newer sort request supersedes this one
        for node, node_generation, entries in result:
            if node_generation == node.generation and node.state == LoadState.LOADED:
                node.entries = entries
        self._reorder(self._root, QModelIndex())
        self.sort_finished.emit()

    @property
    def name_filter(self) -> str:
        return self._filter

    def set_name_filter(self, text: str) -> None:
        """Show only top-level names containing ``text`` (case-insensitive), searched in the whole listing."""
        text = text.strip().lower()
        if text == self._filter:
            return
        self._filter = text
        if self._root.state == LoadState.LOADING:
            self._rebuild_rows(self._root, QModelIndex())
        self._reorder(self._root, QModelIndex(), recurse=False)

    def total_entries(self, index: Index = QModelIndex()) -> int:
        """Entries in the folder's listing (exposed or not), before filtering."""
        return len(self.node(index).entries)

    def _visible(self, node: Node) -> list[GSFileMetadata]:
        if node is self._root and self._filter:
            return [m for m in node.entries if self._filter in m.name.lower()]
        return node.entries

    def _reorder(self, node: Node, index: QModelIndex, recurse: bool = True) -> None:
        """Re-expose ``node``'s rows in the current order/filter, keeping loaded child nodes."""
        if node.state != LoadState.LOADED:
            return
        if recurse:
            for row, child in enumerate(node.children):
                if child.children and child.state == LoadState.LOADED:
                    self._reorder(child, self.createIndex(row, 0, child))
        keep = {id(c.meta): c for c in node.children if c.meta is not None}
        exposed = max(len(node.children), PAGE_SIZE) if node is self._root else len(node.entries)
        if node.children:
            self.beginRemoveRows(index, 0, len(node.children) - 1)
            node.children = []
            self.endRemoveRows()
        node.pending = self._visible(node)
        self._insert_page(node, index, exposed, keep)

    # ==== drag and drop (external file drops = upload) ====

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def drop_target(self, parent: Index) -> str:
        """The remote folder a drop on ``parent`` goes to (the folder itself, a file's folder, or root)."""
        if not parent.isValid():
            return self._root.path
        node = self.node(parent)
        if node.is_dir:
            return node.path
        return node.parent.path if node.parent is not None else self._root.path

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        return action == Qt.DropAction.CopyAction and any(u.isLocalFile() for u in data.urls())

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Index
    ) -> bool:
        """Accept local file URLs; the upload itself is started on the next event-loop turn."""
        if action == Qt.DropAction.IgnoreAction:
            return True
        paths = [Path(u.toLocalFile()) for u in data.urls() if u.isLocalFile()]
        if not paths:
            return False
        target = self.drop_target(parent)
        QTimer.singleShot(0, self, lambda: self.files_dropped.emit(paths, target))
        # The drop is a copy: returning True with CopyAction never makes the source delete anything.
        return True

    # ==== loading ====

    def _start_listing(self, node: Node, index: QModelIndex) -> None:
        if node.state == LoadState.LOADING:
            return
        node.state = LoadState.LOADING
        node.generation += 1
        generation = node.generation
        placeholder = Node(node.path + "/\0loading", None, node, kind="loading")
        self.beginInsertRows(index, 0, 0)
        node.children = [placeholder]
        placeholder.row = 0
        self.endInsertRows()
        self.load_started.emit(node.path)
        self._next_page(node, generation, self._pages(node.path), PageMerger())

    def _pages(self, path: str) -> Iterator[GSDirectoryListing]:
        """The listing's pages, fetched lazily (on the worker threads that iterate them)."""
        list_pages = getattr(self._lister, "list_pages", None)
        if list_pages is not None:
            yield from list_pages(path, LISTING_PAGE)
        else:
            yield self._lister.list(path)

    def _next_page(
        self, node: Node, generation: int, pages: Iterator[GSDirectoryListing], merger: PageMerger
    ) -> None:
        """Fetch and merge the next page on the pool; ``None`` comes back after the last page."""
        column, descending = self._sort_column, self._sort_order == Qt.SortOrder.DescendingOrder
        dirs_only = self.dirs_only

        def work() -> MergedPage | None:
            if node.generation != generation:
                return None  # refreshed meanwhile: the answer will be dropped anyway
            listing = next(pages, None)
            if listing is None:
                return None
            contents: Sequence[GSFileMetadata] = listing.contents
            if dirs_only:
                contents = [m for m in contents if m.is_directory]
            return merger.add(
                contents, (column, descending), _sort_key(column), lambda e: sort_entries(e, column, ASC)
            )

        self._runner.run_task(
            work,
            lambda page: self._on_page(node, generation, pages, merger, page),
            lambda exc: self._on_listing_failed(node, generation, exc),
        )

    def _node_index(self, node: Node) -> QModelIndex | None:
        """The index of ``node`` if it is still in the tree (``QModelIndex()`` for the root)."""
        if node is self._root:
            return QModelIndex()
        cur: Node | None = node
        while cur is not None and cur is not self._root:
            if _row_of(cur) < 0:
                return None
            cur = cur.parent
        if cur is not self._root:
            return None
        return self.createIndex(node.row, 0, node)

    def _on_page(
        self,
        node: Node,
        generation: int,
        pages: Iterator[GSDirectoryListing],
        merger: PageMerger,
        page: MergedPage | None,
    ) -> None:
        index = self._node_index(node)
        if index is None or generation != node.generation:
            return  # stale: the folder was refreshed or the model reset meanwhile
        if page is None:
            self._finish_listing(node, index, merger)
            return
        self._next_page(node, generation, pages, merger)  # fetch the next page while this one is shown
        node.entries = page.entries
        if page.positions is None or (node is self._root and self._filter):
            self._rebuild_rows(node, index)
        else:
            self._insert_landed(node, index, page.positions)

    def _insert_landed(self, node: Node, index: QModelIndex, positions: list[int]) -> None:
        """Insert the new entries that sort among the exposed rows; the rest wait in ``pending``.

        The top level keeps its number of exposed rows: rows pushed past it go back to ``pending``.
        """
        shown = self._entry_rows(node)
        entries = node.entries
        limit = max(shown, PAGE_SIZE) if node is self._root else len(entries)
        # before an exposed row (q - j old entries precede it) and within the limit
        inside = [q for j, q in enumerate(positions) if q - j < shown and q < limit]
        k = 0
        while k < len(inside):
            first = last = inside[k]
            while k + 1 < len(inside) and inside[k + 1] == last + 1:
                k += 1
                last = inside[k]
            k += 1
            self.beginInsertRows(index, first, last)
            node.children[first:first] = [Node(m.path, m, node) for m in entries[first : last + 1]]
            for row in range(first, last + 1):
                node.children[row].row = row  # rows below are repaired by _row_of until renumbered
            self.endInsertRows()
        if inside:
            for row in range(inside[0], len(node.children)):
                node.children[row].row = row
        shown += len(inside)
        if shown > limit:  # old rows pushed past the limit
            self.beginRemoveRows(index, limit, shown - 1)
            del node.children[limit:shown]
            for row in range(limit, len(node.children)):
                node.children[row].row = row
            self.endRemoveRows()
            shown = limit
        node.pending = entries[shown:]
        if shown < limit:
            self._insert_page(node, index, limit - shown)

    def _rebuild_rows(self, node: Node, index: QModelIndex) -> None:
        """Re-expose a loading folder's rows from its (re-sorted or filtered) entries."""
        shown = self._entry_rows(node)
        keep = {id(c.meta): c for c in node.children[:shown] if c.meta is not None}
        if shown:
            self.beginRemoveRows(index, 0, shown - 1)
            del node.children[:shown]
            for row, child in enumerate(node.children):
                child.row = row
            self.endRemoveRows()
        node.pending = self._visible(node)
        wanted = max(shown, PAGE_SIZE) if node is self._root else len(node.entries)
        self._insert_page(node, index, wanted, keep)

    def _finish_listing(self, node: Node, index: QModelIndex, merger: PageMerger) -> None:
        """After the last page: drop the "Loading…" row; re-sort if the order changed meanwhile."""
        last = len(node.children) - 1
        if last >= 0 and node.children[last].kind == "loading":
            self.beginRemoveRows(index, last, last)
            del node.children[last]
            self.endRemoveRows()
        node.state = LoadState.LOADED
        if merger.sort != (self._sort_column, self._sort_order == Qt.SortOrder.DescendingOrder):
            self._resort_node(node)
        self.load_finished.emit(node.path, len(node.entries))

    def _resort_node(self, node: Node) -> None:
        """Sort one loaded folder again on the pool (its order changed while it was loading)."""
        column, order, generation, entries = (
            self._sort_column,
            self._sort_order,
            node.generation,
            node.entries,
        )

        def apply(result: list[GSFileMetadata]) -> None:
            index = self._node_index(node)
            if index is None or node.generation != generation or node.state != LoadState.LOADED:
                return
            if (column, order) != (self._sort_column, self._sort_order):
                self._resort_node(node)
                return
            node.entries = result
            self._reorder(node, index)

        self._runner.run_task(lambda: sort_entries(entries, column, order), apply)

    @staticmethod
    def _entry_rows(node: Node) -> int:
        """Rows of ``node`` that are entries (all but a trailing "Loading…" row)."""
        n = len(node.children)
        return n - 1 if n and node.children[-1].kind == "loading" else n

    def _insert_page(
        self, node: Node, index: QModelIndex, count: int = PAGE_SIZE, reuse: dict[int, Node] | None = None
    ) -> None:
        """Expose the next ``count`` pending entries with one ``beginInsertRows``."""
        if not node.pending:
            return
        batch, node.pending = node.pending[:count], node.pending[count:]
        first = self._entry_rows(node)  # (before a "Loading…" row)
        self.beginInsertRows(index, first, first + len(batch) - 1)
        rows: list[Node] = []
        for meta in batch:
            child = reuse.get(id(meta)) if reuse else None
            rows.append(child if child is not None else Node(meta.path, meta, node))
        node.children[first:first] = rows
        for row in range(first, len(node.children)):
            node.children[row].row = row
        self.endInsertRows()

    def has_more(self, index: Index = QModelIndex()) -> bool:
        """True when the folder has listed entries not exposed as rows yet."""
        return bool(self.node(index).pending)

    def expose_more(self, index: Index = QModelIndex(), count: int = PAGE_SIZE) -> int:
        """Expose the next ``count`` entries of a loaded folder; returns how many rows were added."""
        node = self.node(index)
        if node.state not in (LoadState.LOADED, LoadState.LOADING) or not node.pending:
            return 0
        before = len(node.children)
        self._insert_page(node, self.as_index(index), count)
        return len(node.children) - before

    def _on_listing_failed(self, node: Node, generation: int, exc: BaseException) -> None:
        index = self._node_index(node)
        if index is None or generation != node.generation:
            return
        if node.children:  # the "Loading…" row and any entries of earlier pages
            self.beginRemoveRows(index, 0, len(node.children) - 1)
            node.children = []
            self.endRemoveRows()
        node.pending = []
        node.entries = []
        node.state = LoadState.FAILED
        node.error = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
        err = Node(node.path + "/\0error", None, node, kind="error")
        err.error = node.error
        self.beginInsertRows(index, 0, 0)
        node.children = [err]
        self.endInsertRows()
        self.load_failed.emit(node.path, exc)

    def _icon(self, kind: str) -> QIcon:
        icon = self._icons.get(kind)
        if icon is None and kind.endswith("-shared"):
            icon = self._icons[kind] = shared_icon(self._icon(kind.removesuffix("-shared")))
        if icon is None:
            style = QApplication.style()
            pixmap = {
                "dir": QStyle.StandardPixmap.SP_DirIcon,
                "file": QStyle.StandardPixmap.SP_FileIcon,
                "error": QStyle.StandardPixmap.SP_MessageBoxWarning,
            }[kind]
            icon = style.standardIcon(pixmap)
            self._icons[kind] = icon
        return icon
