"""App controller with the real sync engine: fallback window, tray state/menu, activity, problems."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QSystemTrayIcon

from gsdesktop.sync import SyncConfig, SyncEngine
from gsdesktop.sync.conflicts import Conflict
from gsdesktop.sync.events import (
    ActionDone,
    ActionKind,
    ConflictDetected,
    ProblemChanged,
    ProblemKind,
    ServerRestored,
    StateChanged,
    SyncProblem,
    SyncState,
)
from gsdesktop.ui.activity import ActivityModel, ProblemsModel
from gsdesktop.ui.app import ICON_STATES, DesktopApp, state_icon
from gsdesktop.ui.conflicts import ConflictsModel
from gsdesktop.ui.formatting import icons_dir
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session


@pytest.fixture
def desktop(qtbot, client, tmp_home, tmp_path):  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir()
    remote = f"{client.home}/synced"
    client.mkdir(remote)
    engine = SyncEngine(
        client, local, remote, SyncConfig(poll_interval=1.0, quiet_period=0.1), state_dir=tmp_path / "state"
    )
    app = DesktopApp(Session(client, engine, local, remote, Prefs(notifications=True)))
    opened: list[QUrl] = []
    app.open_url = opened.append
    app.opened = opened  # type: ignore[attr-defined]
    app.start()
    yield app
    app.bridge.detach()
    app.runner.shutdown(10000)
    app.transfer_runner.shutdown(10000)
    engine.close()
    app.close_windows()


def emit_from_thread(engine: SyncEngine, event: object) -> None:
    """Deliver an event through the engine's own subscriber channel, from a non-GUI thread."""
    t = threading.Thread(target=engine._emit, args=(event,))  # the engine's publish path
    t.start()
    t.join()


def test_no_tray_offscreen_uses_status_window(desktop: DesktopApp) -> None:
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen: the fallback path
    assert desktop.tray is None and desktop.status_window is not None
    assert desktop.status_window.isVisible()
    names = set(desktop.status_window.buttons)
    assert {
        "open_folder",
        "open_browser",
        "groups",
        "sync_now",
        "pause",
        "activity",
        "problems",
        "settings",
        "quit",
    } <= names
    assert desktop.menu_texts()[1:] == [
        "Open folder",
        "Open remote browser",
        "Groups…",
        "Sync now",
        "Pause syncing",
        "Recent activity",
        "Problems",
        "Settings…",
        "Quit",
    ]
    desktop.open_folder_action.trigger()
    assert desktop.opened[-1].toLocalFile() == str(desktop.local_root)  # type: ignore[attr-defined]
    desktop.groups_action.trigger()  # group management is reachable without going through the browser
    browser = desktop.browser
    assert browser is not None
    dialog = browser.sharing.groups_dialog
    assert dialog is not None and dialog.isVisible()


def test_tray_icons_exist_for_every_state_and_theme() -> None:
    for state in ICON_STATES:
        for dark in (False, True):
            path = icons_dir() / f"tray-{state}-{'dark' if dark else 'light'}.svg"
            assert path.is_file(), path
            assert not state_icon(state, dark).pixmap(22, 22).isNull()


def test_state_and_menu_follow_engine_events(qtbot, desktop: DesktopApp, client) -> None:  # type: ignore[no-untyped-def]
    engine = desktop.engine
    qtbot.waitUntil(lambda: desktop.display_state() == "idle", timeout=30000)
    # a real pause/resume through the menu action (engine runs it, its event comes back)
    desktop.pause_action.trigger()
    qtbot.waitUntil(lambda: desktop.display_state() == "paused", timeout=30000)
    assert desktop.pause_action.text() == "Resume syncing"
    assert "Paused" in desktop.status_window.status_label.text()  # type: ignore[union-attr]
    desktop.pause_action.trigger()
    qtbot.waitUntil(lambda: desktop.state is not SyncState.PAUSED, timeout=30000)
    assert desktop.pause_action.text() == "Pause syncing"
    # From here on only events published on the engine's channel: stop watch mode so real cycles
    # do not interleave their own state changes.
    desktop.runner.run_task(engine.stop)
    qtbot.waitUntil(lambda: engine._watch is None and desktop.state is SyncState.IDLE, timeout=30000)
    qtbot.wait(100)

    emit_from_thread(engine, StateChanged(SyncState.OFFLINE, SyncState.IDLE, ProblemKind.OFFLINE))
    qtbot.waitUntil(lambda: desktop.display_state() == "offline")
    assert "Offline" in desktop.status_text()
    emit_from_thread(engine, StateChanged(SyncState.ERROR, SyncState.OFFLINE, ProblemKind.AUTH))
    qtbot.waitUntil(lambda: desktop.display_state() == "error")
    assert "rejected your sign-in" in desktop.status_text() and "Sign in…" in desktop.menu_texts()
    assert desktop.notifications[-1][0] == "Sync stopped"
    problems = (
        SyncProblem("a.txt", "Permission denied", kind=ProblemKind.FILE_ERROR),
        SyncProblem("b.txt", "still being written", retry_at=time.time() + 30, kind=ProblemKind.CHANGING),
    )
    emit_from_thread(engine, ProblemChanged(problems))
    qtbot.waitUntil(lambda: desktop.problems.rowCount() == 2)
    assert desktop.problems_action.text() == "Problems (2)"
    assert desktop.notifications[-1][0] == "Needs your attention" and "a.txt" in desktop.notifications[-1][1]
    emit_from_thread(engine, StateChanged(SyncState.IDLE, SyncState.ERROR))
    emit_from_thread(engine, ProblemChanged(()))
    qtbot.waitUntil(lambda: desktop.problems.rowCount() == 0)
    emit_from_thread(engine, ConflictDetected("x.txt", "x (conflicted copy).txt"))
    qtbot.waitUntil(lambda: desktop.display_state() == "conflict")
    assert desktop.notifications[-1][0] == "Conflict"
    window = desktop.show_activity()  # looking at the activity clears the conflict badge
    assert desktop.display_state() == "idle"
    assert window.activity.rowCount() >= 1
    emit_from_thread(engine, ServerRestored("f" * 32))  # invariant I17: tell the user, never silently
    qtbot.waitUntil(lambda: desktop.notifications[-1][0] == "Server restored from a backup")
    assert "local files were kept" in desktop.notifications[-1][1]


def both_sides_change_while_paused(  # type: ignore[no-untyped-def]
    qtbot, desktop: DesktopApp, client, tmp_path: Path, also: Callable[[], object] = lambda: None
) -> None:
    """both.txt gets a local and a different server version while sync is paused (``also`` runs then
    too), then sync resumes: a real conflict."""
    qtbot.waitUntil(lambda: desktop.display_state() == "idle", timeout=30000)
    desktop.toggle_pause()
    qtbot.waitUntil(lambda: desktop.state is SyncState.PAUSED, timeout=30000)
    (desktop.local_root / "both.txt").write_text("local version\n")
    src = tmp_path / "remote.txt"
    src.write_text("remote version, longer\n")
    client.upload(src, f"{desktop.remote_root}/both.txt")
    also()
    desktop.toggle_pause()


def test_real_conflict_and_problem_reach_the_views(qtbot, desktop: DesktopApp, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Both sides change a file while paused -> a conflict copy; a symlink -> a problem."""
    both_sides_change_while_paused(
        qtbot, desktop, client, tmp_path, lambda: os.symlink("/etc/hostname", desktop.local_root / "link")
    )
    qtbot.waitUntil(lambda: any(t == "Conflict" for t, _m in desktop.notifications), timeout=90000)
    qtbot.waitUntil(lambda: desktop.problems.rowCount() >= 1, timeout=60000)
    window = desktop.show_problems()
    assert window.tabs.currentIndex() == 1
    paths = [desktop.problems.problem(r).path for r in range(desktop.problems.rowCount())]  # type: ignore[union-attr]
    assert "link" in paths
    texts = [desktop.activity.data(desktop.activity.index(r, 1)) for r in range(desktop.activity.rowCount())]
    assert sum(1 for t in texts if t and t.startswith("Conflict")) == 1, texts  # one row per conflict
    copies = [p.name for p in desktop.local_root.iterdir() if "conflict" in p.name.lower()]
    assert copies, list(desktop.local_root.iterdir())


def test_a_conflict_is_settled_from_its_tab_and_the_server_follows(  # type: ignore[no-untyped-def]
    qtbot, desktop: DesktopApp, client, tmp_path
) -> None:
    """The tray's conflict state leads to the Conflicts tab; "Keep the conflicted copy" there gives the
    copy the file's name (the replaced version goes to the trash) and sync carries it to the server."""
    both_sides_change_while_paused(qtbot, desktop, client, tmp_path)
    qtbot.waitUntil(lambda: desktop.conflicts.rowCount() == 1, timeout=90000)
    assert desktop.display_state() == "conflict"
    window = desktop.show_activity()  # what the tray's "Recent activity" does
    assert window.tabs.currentIndex() == 2 and window.tabs.tabText(2) == "Conflicts (1)"
    page = window.conflicts_page
    assert page is not None and not page.copy_button.isEnabled()  # nothing selected yet
    conflict = desktop.conflicts.conflict(0)
    assert conflict is not None and conflict.path == "both.txt"
    page.view.selectRow(0)
    assert page.copy_button.isEnabled()
    qtbot.mouseClick(page.copy_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: desktop.conflicts.rowCount() == 0, timeout=30000)
    assert (desktop.local_root / "both.txt").read_text() == "local version\n"
    assert not (desktop.local_root / conflict.copy).exists()
    want = hashlib.md5(b"local version\n").hexdigest()

    def server_has_it() -> bool:  # by the listing's MD5s: a download could race sync's upload
        listing = {m.name: m.md5 for m in client.list(desktop.remote_root).contents}
        return listing.get("both.txt") == want and conflict.copy not in listing

    qtbot.waitUntil(server_has_it, timeout=60000)
    assert window.tabs.tabText(2) == "Conflicts"


def test_a_symlink_is_a_notice_not_an_error_and_gsignore_silences_it(qtbot, desktop: DesktopApp) -> None:  # type: ignore[no-untyped-def]
    """Users' pain point (Maestral #1110, "silence symlink errors"): a symlink in the folder is listed
    and told once, the tray stays green, and adding it to .gsignore removes it from Problems."""
    qtbot.waitUntil(lambda: desktop.display_state() == "idle", timeout=30000)
    os.symlink("/etc/hostname", desktop.local_root / "link")
    (desktop.local_root / "real.txt").write_text("synced beside the link\n")
    desktop.sync_now()
    qtbot.waitUntil(lambda: desktop.problems.rowCount() == 1, timeout=60000)
    qtbot.waitUntil(lambda: desktop.display_state() == "idle", timeout=60000)
    problem = desktop.problems.problem(0)
    assert problem is not None and problem.path == "link" and ".gsignore" in problem.message
    assert desktop.problems.data(desktop.problems.index(0, 2)) == "not synced"
    told = [(t, m) for t, m in desktop.notifications if "link" in m]
    assert [t for t, _m in told] == ["Not synced"], desktop.notifications
    assert "problem" not in desktop.status_text()

    (desktop.local_root / ".gsignore").write_text("link\n")
    desktop.sync_now()
    qtbot.waitUntil(lambda: desktop.problems.rowCount() == 0, timeout=60000)
    assert [t for t, m in desktop.notifications if "link" in m] == ["Not synced"]  # told once only


def test_activity_and_problem_models_pass_modeltester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    activity = ActivityModel()
    for i in range(5):
        activity.add_event(ActionDone(ActionKind.UPLOADED, f"f{i}.txt", 10))
    activity.add_event(ActionDone(ActionKind.RECORDED, "same.txt"))  # not shown
    # the engine reports a conflict twice (ActionDone(CONFLICT_COPY) then ConflictDetected): one row
    activity.add_event(ActionDone(ActionKind.CONFLICT_COPY, "c (conflict).txt"))
    activity.add_event(ConflictDetected("c.txt", "c (conflict).txt"))
    qtmodeltester.check(activity)
    assert activity.rowCount() == 6 and activity.data(activity.index(0, 1)).startswith("Conflict")
    assert not any(
        "c (conflict).txt" in activity.data(activity.index(r, 2)) for r in range(1, activity.rowCount())
    )
    assert activity.path_at(0) == "c (conflict).txt"
    problems = ProblemsModel()
    qtmodeltester.check(problems)
    problems.set_problems([SyncProblem("p", "bad"), SyncProblem("", "offline", kind=ProblemKind.OFFLINE),
                           SyncProblem("pipe", "a FIFO", kind=ProblemKind.SPECIAL)])  # fmt: skip
    qtmodeltester.check(problems)
    assert problems.data(problems.index(1, 0)) == "(whole folder)"
    assert problems.data(problems.index(0, 2)) == "needs action"
    assert problems.data(problems.index(2, 2)) == "not synced"  # like a symlink: told, nothing wrong
    conflicts = ConflictsModel()
    qtmodeltester.check(conflicts)
    conflicts.set_conflicts([Conflict("a.txt", "a (conflicted copy h 2026-01-01 000000).txt", 0.0)])
    qtmodeltester.check(conflicts)
    assert conflicts.data(conflicts.index(0, 1)).startswith("a (conflicted copy")


def test_transfers_model_passes_modeltester(qtbot, qtmodeltester, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gsdesktop.ui.bridge import TaskRunner
    from gsdesktop.ui.transfers import TransferManager, TransfersPanel

    manager = TransferManager(client, TaskRunner(2))
    panel = TransfersPanel(manager)
    qtbot.addWidget(panel)
    qtmodeltester.check(panel.model)
    for i in range(3):
        f = tmp_path / f"t{i}.txt"
        f.write_text("x" * (i + 1) * 1000)
        manager.upload(f, f"{client.home}/t{i}.txt")
    qtbot.waitUntil(lambda: all(t.status.finished for t in manager.transfers), timeout=60000)
    qtmodeltester.check(panel.model)
    assert [panel.model.data(panel.model.index(r, 6)) for r in range(3)] == ["Done"] * 3
    assert panel.model.data(panel.model.index(2, 2)) == 100
    panel.model.clear_finished()
    assert panel.model.rowCount() == 0
