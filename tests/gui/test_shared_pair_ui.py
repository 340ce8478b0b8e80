"""The app syncing a folder shared with its user (issue 19): a read-only share's local file is told once as
"Not synced", and a revoked share stops sync with its own message (not "rejected your sign-in")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.sharing import Sharing
from gsdesktop.sync import SyncConfig, SyncEngine
from gsdesktop.sync.events import ProblemKind
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session


def test_read_only_and_revoked_share_in_the_app(
    qtbot: Any, make_account: Any, tmp_home: Path, tmp_path: Path
) -> None:
    a, b = make_account("alice"), make_account("bob")
    alice = DataManagerClient(a.server_url, a.username, a.password)
    bob = DataManagerClient(b.server_url, b.username, b.password)
    proj = f"{alice.home}/proj"
    alice.mkdir(proj)
    Sharing(alice).grant(proj, "user", bob.username, "read")
    local = tmp_path / "sync"
    local.mkdir()
    engine = SyncEngine(
        bob, local, proj, SyncConfig(poll_interval=60.0, quiet_period=0.1, min_file_age=0.0),
        state_dir=tmp_path / "state",
    )  # fmt: skip
    app = DesktopApp(Session(bob, engine, local, proj, Prefs(notifications=True)))
    app.start()
    try:
        qtbot.waitUntil(lambda: app.display_state() == "idle", timeout=30000)
        (local / "mine.txt").write_text("bob's notes")
        qtbot.waitUntil(
            lambda: any(p.kind is ProblemKind.READ_ONLY for p in engine.problems()), timeout=30000
        )
        qtbot.waitUntil(lambda: any(t == "Not synced" for t, _ in app.notifications), timeout=10000)
        told = [m for t, m in app.notifications if t == "Not synced"]
        assert "mine.txt" in told[-1] and "read-only share" in told[-1]
        qtbot.waitUntil(lambda: app.display_state() == "idle", timeout=30000)  # told, not an error
        qtbot.waitUntil(lambda: app.problems.rowCount() == 1, timeout=10000)
        cells = [app.problems.data(app.problems.index(0, c)) for c in range(3)]
        assert cells[0] == "mine.txt" and cells[2] == "read-only share", cells

        Sharing(alice).revoke(proj, "user", bob.username)
        engine.sync_now()
        qtbot.waitUntil(lambda: app.display_state() == "error", timeout=30000)
        assert "no longer shared with you" in app.status_text()
        assert "Sign in…" not in app.menu_texts()
        qtbot.waitUntil(lambda: app.notifications[-1][0] == "Sync stopped", timeout=10000)
        assert "nothing was deleted here" in app.notifications[-1][1]
        assert not [n for n in app.notifications if n[0] == "Needs your attention"]  # told once
        assert (local / "mine.txt").read_text() == "bob's notes"
    finally:
        app.bridge.detach()
        app.runner.shutdown(10000)
        app.transfer_runner.shutdown(10000)
        engine.close()
        app.close_windows()
        alice.close()
        bob.close()
