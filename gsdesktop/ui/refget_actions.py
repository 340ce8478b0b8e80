""" "Serve via refget" for FASTA files in the remote browser, and the refget section of Properties.

:class:`RefgetActions` runs :func:`~gsdesktop.refget.client.index_remote` and
:func:`~gsdesktop.refget.client.indexed_ids` on the app's task runner (never on the GUI thread) and
hands the results to callbacks on the GUI thread. :class:`RefgetIdsPanel` shows one file's ids (name,
length, MD5, ga4gh, TRUNC512 and the ``/sequence/<id>`` URL of each sequence), each with a copy button.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.refget.client import RefgetIds, index_remote, indexed_ids, is_fasta_name
from gsdesktop.ui.bridge import TaskRunner

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

#: Sequences listed in Properties; a FASTA with more shows the first ones and a count of the rest.
MAX_SEQUENCES_SHOWN = 50


def is_servable(meta: GSFileMetadata) -> bool:
    """Whether "Serve via refget" applies to ``meta`` (a FASTA file, ``.gz`` included)."""
    return not meta.is_directory and is_fasta_name(meta.name)


def error_text(exc: BaseException) -> str:
    """The one-line message of an error (``user_message`` when the error has one)."""
    return getattr(exc, "user_message", None) or str(exc) or type(exc).__name__


class RefgetActions(QObject):
    """Indexing and id look-ups for Data Manager FASTA files, off the GUI thread.

    Args:
        client: the Data Manager client (used on worker threads only).
        runner: the app's task runner.
    """

    indexed = Signal(str, object)  # Data Manager path, RefgetIds: a file was (re)indexed
    failed = Signal(str, object)  # Data Manager path, BaseException

    def __init__(self, client: DataManagerClient, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.runner = runner

    @property
    def server_url(self) -> str:
        return str(getattr(self.client, "server_url", "")).rstrip("/")

    def serve(self, path: str) -> None:
        """Index the FASTA at ``path`` into refget; :attr:`indexed` or :attr:`failed` follows."""
        client = self.client
        self.runner.run_task(
            lambda: index_remote(client, path),
            lambda ids: self.indexed.emit(path, ids),
            lambda exc: self.failed.emit(path, exc),
        )

    def lookup(
        self,
        path: str,
        on_done: Callable[[RefgetIds | None], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Fetch the ids of ``path`` if it was indexed earlier (``on_done(None)`` when not)."""
        client = self.client
        self.runner.run_task(lambda: indexed_ids(client, path), on_done, on_error)


class RefgetIdsPanel(QGroupBox):
    """The refget section of a FASTA file's Properties: loads its ids, offers "Serve via refget".

    Attributes:
        values: shown id values by ``(sequence name, field label)``.
        copy_buttons: the copy button of each value, same keys.
    """

    def __init__(self, actions: RefgetActions, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("refget"))
        self.refget = actions
        self.path = path
        self.values: dict[tuple[str, str], str] = {}
        self.copy_buttons: dict[tuple[str, str], QToolButton] = {}
        layout = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.serve_button = QPushButton(self.tr("Serve via refget"), self)
        self.serve_button.clicked.connect(self.serve)
        row = QHBoxLayout()
        row.addWidget(self.serve_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.area = QScrollArea(self)
        self.area.setWidgetResizable(True)
        self.area.setMinimumHeight(180)
        self.area.hide()
        layout.addWidget(self.area)
        actions.indexed.connect(self._on_indexed)
        actions.failed.connect(self._on_failed)
        self.state = ""
        self.load()

    def load(self) -> None:
        """Ask the server (on the pool) whether this file is served; show "Loading…" meanwhile."""
        self._set_state("loading", self.tr("Loading refget ids…"))
        self.serve_button.hide()
        self.refget.lookup(self.path, self._guard(self.show_ids), self._guard(self.show_error))

    def serve(self) -> None:
        """Index the file now (the result arrives through :attr:`RefgetActions.indexed`)."""
        self._set_state("serving", self.tr("Indexing {0} for refget…").format(self.path))
        self.serve_button.setEnabled(False)
        self.refget.serve(self.path)

    def _guard(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """A callback that does nothing once the dialog (and this panel) has been deleted."""

        def call(value: Any) -> None:
            if isValid(self):
                fn(value)

        return call

    def _on_indexed(self, path: str, ids: RefgetIds) -> None:
        if path == self.path and isValid(self):
            self.show_ids(ids)

    def _on_failed(self, path: str, exc: BaseException) -> None:
        if path == self.path and isValid(self) and self.state == "serving":
            self.show_error(exc)

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.status.setText(text)

    def show_error(self, exc: BaseException) -> None:
        self._set_state("error", self.tr("refget: {0}").format(error_text(exc)))
        self.serve_button.setText(self.tr("Serve via refget"))
        self.serve_button.setEnabled(True)
        self.serve_button.show()

    def show_ids(self, ids: RefgetIds | None) -> None:
        """Show the ids, or "Not served via refget" with the Serve button when ``ids`` is None."""
        self.serve_button.setEnabled(True)
        self.serve_button.show()
        if ids is None:
            self._set_state("not-served", self.tr("Not served via refget."))
            self.serve_button.setText(self.tr("Serve via refget"))
            self.area.hide()
            return
        n = len(ids.sequences)
        if ids.changed:
            when = ids.indexed_at or self.tr("earlier")
            text = self.tr(
                "The file changed since it was indexed ({0}): these ids describe its earlier content "
                "(MD5 then {1}, now {2}). Serve it again to update them."
            ).format(when, ids.indexed_md5 or "?", ids.current_md5 or self.tr("file gone"))
            self._set_state("changed", text)
            self.serve_button.setText(self.tr("Serve again via refget"))
        else:
            self._set_state("served", self.tr("Served via refget: {0} sequence(s).").format(n))
            self.serve_button.setText(self.tr("Index again"))
        self._fill(ids)

    def _fill(self, ids: RefgetIds) -> None:
        self.values.clear()
        self.copy_buttons.clear()
        body = QWidget()
        layout = QVBoxLayout(body)
        base = self.refget.server_url
        for seq in ids.sequences[:MAX_SEQUENCES_SHOWN]:
            box = QGroupBox(seq.name + (self.tr(" (circular)") if seq.circular else ""), body)
            form = QFormLayout(box)
            rows = (
                (self.tr("Name"), seq.name),
                (self.tr("Length"), str(seq.length)),
                (self.tr("MD5"), seq.md5),
                (self.tr("ga4gh"), seq.ga4gh),
                (self.tr("TRUNC512"), seq.trunc512),
                (self.tr("URL"), seq.url(base)),
            )
            for label, value in rows:
                form.addRow(label + ":", self._value_row(box, seq.name, label, value))
            layout.addWidget(box)
        rest = len(ids.sequences) - MAX_SEQUENCES_SHOWN
        if rest > 0:
            layout.addWidget(QLabel(self.tr("… and {0} more sequence(s).").format(rest), body))
        layout.addStretch(1)
        old = self.area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.area.setWidget(body)
        self.area.show()

    def _value_row(self, parent: QWidget, name: str, label: str, value: str) -> QWidget:
        row = QWidget(parent)
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        field = QLabel(value, row)
        field.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        h.addWidget(field, 1)
        button = QToolButton(row)
        button.setText(self.tr("Copy"))
        button.setAccessibleName(self.tr("Copy {0} of {1}").format(label, name))
        button.setToolTip(self.tr("Copy {0} to the clipboard").format(label))
        button.clicked.connect(lambda _c=False, v=value: QGuiApplication.clipboard().setText(v))
        h.addWidget(button)
        self.values[(name, label)] = value
        self.copy_buttons[(name, label)] = button
        return row
