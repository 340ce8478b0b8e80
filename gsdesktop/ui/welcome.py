"""The first-run welcome: what is synced where, and where the app lives now (tray or status window)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomeWindow(QDialog):
    """Shown once, after the wizard or the first demo start; not modal (sync is already running)."""

    def __init__(
        self,
        local: str,
        remote: str,
        server: str,
        in_tray: bool,
        open_folder: Callable[[], object],
        open_browser: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Welcome to GenomeSpace Desktop"))
        where = (
            self.tr(
                "GenomeSpace Desktop keeps running in the <b>system tray</b> (the icon near the clock): "
                "click it to open the remote browser; its menu has Open folder, Sync now, Pause, "
                "Settings and Quit."
            )
            if in_tray
            else self.tr(
                "This desktop has no system tray, so GenomeSpace Desktop shows a small <b>status window</b> "
                "with the same actions (Open remote browser, Sync now, Pause, Settings, Quit); closing it "
                "quits the app."
            )
        )
        self.text = QLabel(
            self.tr(
                "<p><b>Syncing has started.</b></p>"
                "<p>Your folder <b>{0}</b> is kept in sync with <b>{1}</b> on {2}: files you put in either "
                "place appear in the other; files changed on both sides are kept side by side.</p>"
                "<p>{3}</p>"
            ).format(escape(local), escape(remote), escape(server), where),
            self,
        )
        self.text.setWordWrap(True)
        self.text.setMinimumWidth(300)
        buttons = QDialogButtonBox(self)
        self.open_folder_button = QPushButton(self.tr("Open &folder"), self)
        self.open_browser_button = QPushButton(self.tr("Open remote &browser"), self)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.open_folder_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.open_browser_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.open_folder_button.clicked.connect(lambda _c=False: open_folder())
        self.open_browser_button.clicked.connect(lambda _c=False: open_browser())
        self.open_browser_button.clicked.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.close_button.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
