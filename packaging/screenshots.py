"""Render every desktop-app window to PNG for the README (real server, real sync, offscreen).

    QT_QPA_PLATFORM=offscreen python packaging/screenshots.py [--out docs/screenshots]

Starts an embedded Data Manager in a temporary directory, seeds the demo data, runs the real sync
engine on a temporary folder, and grabs: the welcome window, the sign-in dialog, the status window (shown
where there is no tray), the tray
menu, the tray icon states, the remote browser with transfers, activity, problems, conflicts, settings, the
first-run wizard and the Properties of a FASTA file served via refget.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "screenshots"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QModelIndex, QSize
    from PySide6.QtGui import QColor, QPainter, QPixmap
    from PySide6.QtWidgets import QStyleFactory, QWidget

    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.server.embedded import start_local_server
    from gsdesktop.sync.engine import SyncConfig, SyncEngine
    from gsdesktop.ui.app import ICON_STATES, DesktopApp, state_icon
    from gsdesktop.ui.demo import DEMO_PASSWORD, DEMO_USER, seed_demo
    from gsdesktop.ui.prefs import Prefs
    from gsdesktop.ui.runtime import ensure_qapp
    from gsdesktop.ui.session import Session
    from gsdesktop.ui.wizard import FirstRunWizard

    app = ensure_qapp()
    app.setStyle(QStyleFactory.create("Fusion"))

    def wait_until(cond: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError("screenshot setup timed out")
            app.processEvents()
            time.sleep(0.02)

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def save(widget: QWidget, name: str, size: QSize | None = None) -> None:
        if size is not None:
            widget.resize(size)
        widget.show()
        settle()
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        print(f"wrote {path}")

    with tempfile.TemporaryDirectory(prefix="gs-shots-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # never touch the user's settings
        server = start_local_server(tmp / "server", users={DEMO_USER: DEMO_PASSWORD})
        try:
            client = DataManagerClient(server.url, DEMO_USER, DEMO_PASSWORD)
            home = client.home
            seed_demo(client, f"{home}/demo-data")
            for folder in ("runs/run42", "runs/run43", "reference"):
                client.mkdir(f"{home}/{folder}", parents=True)
            sample = tmp / "reads_R1.fastq"
            sample.write_text("@r1\nACGTACGTAC\n+\nIIIIIIIIII\n" * 2000)
            client.upload(sample, f"{home}/runs/run42/reads_R1.fastq")
            local = tmp / "GenomeSpace"
            local.mkdir()
            (local / "notes.txt").write_text("lab notes\n")
            engine = SyncEngine(client, local, home, SyncConfig(poll_interval=2.0), state_dir=tmp / "state")
            session = Session(
                client, engine, local, home, Prefs(server_url=server.url, username=DEMO_USER),
                prefs_path=tmp / "desktop.json",
            )  # fmt: skip
            desktop = DesktopApp(session, use_tray=False)
            desktop.open_url = lambda _url: True
            desktop.start()  # the first start: the welcome window
            wait_until(lambda: desktop.last_sync is not None and desktop.display_state() == "idle", 120)
            settle(0.5)
            save(desktop.welcome, "welcome")
            desktop.welcome.close()
            sign_in = desktop.show_sign_in()
            sign_in.reason.setText("The server rejected your sign-in; choose Sign in… to continue syncing.")
            sign_in.adjustSize()
            save(sign_in, "sign-in")
            sign_in.reject()
            save(desktop.status_window, "status-window", QSize(460, 260))  # type: ignore[arg-type]

            desktop.menu.adjustSize()
            desktop.menu.ensurePolished()
            save(desktop.menu, "tray-menu")
            desktop.menu.hide()

            strip = QPixmap(12 * 40 + 8, 48)
            strip.fill(QColor("#e9e9e9"))
            painter = QPainter(strip)
            x = 4
            for dark in (False, True):
                if dark:
                    painter.fillRect(x - 2, 0, 6 * 40 + 4, 48, QColor("#2b2b2b"))
                for state in ICON_STATES:
                    painter.drawPixmap(x + 2, 6, state_icon(state, dark).pixmap(32, 32))
                    x += 40
            painter.end()
            strip.save(str(out / "tray-states.png"))
            print(f"wrote {out / 'tray-states.png'}")

            browser = desktop.show_browser()
            wait_until(
                lambda: (
                    browser.model.rowCount() > 2
                    and browser.model.data(browser.model.index(0, 0)) != "Loading…"
                )
            )
            demo_index = browser.model.index_for_path(f"{home}/demo-data")
            browser.model.fetchMore(demo_index)
            wait_until(lambda: browser.model.rowCount(browser.model.index_for_path(f"{home}/demo-data")) == 3)
            browser.view.expand(browser.model.index_for_path(f"{home}/demo-data"))
            ups = []
            for i in range(3):
                f = tmp / f"sample_{i + 1}.bam"
                f.write_bytes(os.urandom(200_000 * (i + 1)))
                ups.append(f)
            browser.upload_paths(ups, f"{home}/runs/run43")
            browser.transfers.download(f"{home}/does-not-exist.vcf", tmp / "missing.vcf")
            wait_until(
                lambda: (
                    len(mine := [t for t in browser.transfers.transfers if not t.sync]) == 4
                    and all(t.status.finished for t in mine)
                )
            )
            browser.view.setCurrentIndex(browser.model.index_for_path(f"{home}/demo-data/expression.gct"))
            settle(0.5)
            save(browser, "remote-browser", QSize(980, 620))
            menu = browser.build_context_menu()  # the selected file's menu (Move to…, Copy to…, …)
            menu.adjustSize()
            save(menu, "browser-menu")
            menu.close()

            # Sync at work: new files in the sync folder upload (bandwidth-limited so the shot catches the
            # cycle midway); the transfers panel lists them, the status line counts files and bytes.
            engine.update_config(replace(engine.config, max_upload_bps=12_000_000, transfers=3))
            staged = tmp / "run44"  # written aside, then moved in at once: one cycle sees them all
            staged.mkdir()
            for i in range(8):
                (staged / f"scan_{i + 1:02d}.tif").write_bytes(os.urandom(30_000_000 + 4_000_000 * (i % 4)))
            staged.rename(local / "runs" / "run44")
            desktop.sync_now()

            def midway() -> bool:
                p = desktop.progress
                running = [t for t in desktop.transfers.transfers if t.sync and not t.status.finished]
                eta = p is not None and p.seconds_left is not None and p.seconds_left >= 3
                return eta and p.files_done >= 2 and any(0 < t.done < t.total for t in running)  # type: ignore[union-attr]

            wait_until(midway, 120)
            save(browser, "transfers-sync", QSize(980, 620))
            save(desktop.status_window, "status-syncing", QSize(460, 260))  # type: ignore[arg-type]
            wait_until(lambda: desktop.progress is None and desktop.display_state() == "idle", 120)
            engine.update_config(replace(engine.config, max_upload_bps=None, transfers=8))

            os.symlink("/etc/hostname", local / "linked-file")
            desktop.sync_now()
            wait_until(lambda: desktop.problems.rowCount() > 0, 60)
            activity = desktop.show_activity()
            save(activity, "activity", QSize(760, 420))
            activity = desktop.show_problems()
            save(activity, "problems", QSize(760, 420))

            # a real conflict: notes.txt changed here and on the server while sync was paused
            from gsdesktop.sync.events import SyncState

            desktop.toggle_pause()
            wait_until(lambda: desktop.state is SyncState.PAUSED)
            (local / "notes.txt").write_text("lab notes, edited on this computer\n")
            edited = tmp / "notes-server.txt"
            edited.write_text("lab notes, edited on the server by a colleague\n")
            client.upload(edited, f"{home}/notes.txt")
            desktop.toggle_pause()
            wait_until(lambda: desktop.conflicts.rowCount() > 0, 120)
            conflicts = desktop.show_conflicts()
            assert conflicts.conflicts_page is not None
            conflicts.conflicts_page.view.selectRow(0)
            conflicts.conflicts_page.view.resizeColumnsToContents()
            save(conflicts, "conflicts", QSize(980, 420))

            settings = desktop.show_settings()
            settings.tabs.setCurrentIndex(1)
            settings.selective_model.fetchMore(QModelIndex())
            wait_until(
                lambda: (
                    settings.selective_model.rowCount() >= 3
                    and settings.selective_model.data(settings.selective_model.index(0, 0)) != "Loading…"
                )
            )
            save(settings, "settings", QSize(640, 500))

            wizard = FirstRunWizard(Prefs())
            save(wizard, "wizard", QSize(620, 420))
            wizard.close()

            # A FASTA in the Data Manager served via refget: its ids in Properties.
            import random

            from gsdesktop.refget.client import index_remote
            from gsdesktop.ui.browser import PropertiesDialog

            rng = random.Random(174)
            fasta = tmp / "mini-genome.fa"
            with fasta.open("w") as fh:
                for name, length in (("chrM", 16569), ("phiX174", 5386)):
                    seq = "".join(rng.choice("ACGT") for _ in range(length))
                    fh.write(f">{name}\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, length, 60)))
            fasta_path = f"{home}/reference/mini-genome.fa"
            client.upload(fasta, fasta_path)
            index_remote(client, fasta_path)
            props = PropertiesDialog(client.metadata(fasta_path), browser, browser.refget)
            panel = props.refget_panel
            assert panel is not None
            wait_until(lambda: panel.state == "served")
            save(props, "refget-properties", QSize(760, 860))
            props.close()

            desktop.close_windows()
            desktop.bridge.detach()
            engine.close()
            desktop.runner.shutdown(10000)
            desktop.transfer_runner.shutdown(10000)
            client.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
