"""Honest status: "Storage unavailable" / "Offline" held steady until a request succeeds, messages that
name the configured server (not an internal storage port), and problems that are never cut off."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gsdesktop.server.seaweed import S3Config
from gsdesktop.sync import SyncConfig, SyncEngine
from gsdesktop.sync.events import SyncProblem
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.outage import OFFLINE, STORAGE, classify, for_user
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session
from tests.support.faultproxy import FaultProxy
from tests.support.servers import ServerProcess, add_user


@dataclass
class Stack:
    server: ServerProcess
    dm: FaultProxy  # in front of the Data Manager: the server the user configured
    s3: FaultProxy  # in front of the storage: where signed transfer URLs point
    cfg: S3Config


@pytest.fixture(scope="module")
def stack(seaweed: S3Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert seaweed.endpoint
    s3 = FaultProxy(seaweed.endpoint).start()
    server = ServerProcess(
        tmp_path_factory.mktemp("outageserver"), seaweed, extra_args=["--s3-public-endpoint", s3.url]
    ).start()
    dm = FaultProxy(server.url).start()
    yield Stack(server, dm, s3, seaweed)
    dm.stop()
    server.stop()
    s3.stop()


@pytest.fixture
def app(qtbot, stack: Stack, tmp_home: Path, tmp_path: Path) -> Iterator[DesktopApp]:  # type: ignore[no-untyped-def]
    from gsdesktop.datamanager.client import DataManagerClient
    name, password = add_user(stack.cfg, "o")
    stack.dm.clear()
    stack.s3.clear()
    client = DataManagerClient(stack.dm.url, name, password, retries=2)
    local = tmp_path / "sync"
    local.mkdir()
    engine = SyncEngine(
        client, local, client.home, SyncConfig(poll_interval=1.0, quiet_period=0.1, retry_base=60.0),
        state_dir=tmp_path / "state",
    )  # fmt: skip
    desktop = DesktopApp(Session(client, engine, local, client.home, Prefs()), use_tray=False)
    desktop.start()
    qtbot.waitUntil(lambda: desktop.display_state() == "idle" and desktop.last_sync, timeout=30000)
    yield desktop
    stack.dm.clear()
    stack.s3.clear()
    desktop.quit()
    qtbot.waitUntil(lambda: not desktop.runner.in_flight, timeout=60000)
    desktop.close_windows()
    engine.close()
    client.close()


def watch_status(qtbot, app: DesktopApp, seconds: float) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append((app.display_state(), app.status_text()))
        qtbot.wait(50)
    return seen


def test_storage_down_is_storage_unavailable_held_steady_and_names_the_server(  # type: ignore[no-untyped-def]
    qtbot, stack: Stack, app: DesktopApp
) -> None:
    stack.s3.add(lambda _m, _t: True, "reset", times=-1)  # the storage is gone; the server still answers
    (app.local_root / "reads.fastq").write_bytes(b"@r1\nACGT\n+\nIIII\n" * 5000)
    qtbot.waitUntil(lambda: "Storage unavailable" in app.status_text(), timeout=30000)
    seen = watch_status(qtbot, app, 5.0)
    assert {state for state, _ in seen} == {"offline"}, seen  # never "syncing" in between
    assert all("Storage unavailable" in text and stack.dm.url in text for _, text in seen)
    # an upload from the browser fails the same way: its row names the server, not the storage port
    port = f":{stack.s3.port}"
    extra = app.local_root.parent / "extra.txt"
    extra.write_text("from the browser\n")
    t = app.transfers.upload(extra, f"{app.remote_root}/extra.txt")
    qtbot.waitUntil(lambda: bool(t.error), timeout=60000)
    assert port not in t.error and f"storage of {stack.dm.url} cannot be reached" in t.error, t.error
    assert all(port not in text for _, text in seen)
    assert all(port not in msg for _, msg in app.notifications), app.notifications
    # the storage comes back: a request goes through and the state follows
    stack.s3.clear()
    app.sync_now()
    qtbot.waitUntil(lambda: app.client.exists(f"{app.remote_root}/reads.fastq"), timeout=60000)
    qtbot.waitUntil(lambda: app.display_state() == "idle", timeout=30000)


def test_server_down_is_offline_held_steady_until_it_answers(qtbot, stack: Stack, app: DesktopApp) -> None:  # type: ignore[no-untyped-def]
    stack.dm.add(lambda _m, _t: True, "reset", times=-1)
    qtbot.waitUntil(lambda: app.display_state() == "offline", timeout=30000)
    seen = watch_status(qtbot, app, 5.0)  # five poll intervals: each cycle scans and fails again
    assert {state for state, _ in seen} == {"offline"}, seen
    assert all(text.startswith("Offline") and stack.dm.url in text for _, text in seen), seen
    stack.dm.clear()
    qtbot.waitUntil(lambda: app.display_state() == "idle", timeout=30000)


def test_messages_name_the_configured_server() -> None:
    server = "https://gs.example.org"
    storage = "Upload failed: Cannot connect to 127.0.0.1:27526 (is the server running?)"
    assert classify(storage, server) == STORAGE
    expected = "Upload failed: the storage of https://gs.example.org cannot be reached"
    assert for_user(storage, server) == expected
    own = "Cannot connect to gs.example.org (is the server running?)"
    assert classify(own, server) == OFFLINE and for_user(own, server) == own
    failed = "the storage service failed (EndpointConnectionError); try again later"
    assert classify(failed, server) == STORAGE
    assert classify("Permission denied", server) is None


def test_long_problem_messages_wrap_inside_the_window(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    from gsdesktop.ui.activity import ActivityModel, ActivityWindow, ProblemsModel

    message = "The server refused the file because " + "of a rather long explanation " * 12 + "(the end)."
    problem = SyncProblem("runs/2024/sample-" + "x" * 80 + ".bam", message)
    problems = ProblemsModel()
    window = ActivityWindow(ActivityModel(), problems, tmp_path, lambda: None)
    qtbot.addWidget(window)
    window.resize(720, 420)
    window.show()
    window.show_problems()
    problems.set_problems([problem])
    view = window.problems_view
    index = problems.index(0, 1)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0, timeout=5000)
    qtbot.wait(50)
    rect = view.visualRect(index)
    assert rect.right() <= view.viewport().width(), (rect, view.viewport().width())  # not off the edge
    flags = int(Qt.TextFlag.TextWordWrap)
    needed = view.fontMetrics().boundingRect(0, 0, rect.width() - 8, 10_000, flags, message)
    assert needed.height() <= rect.height() + 2, (needed, rect)  # every line of it shows
    assert problems.data(index, Qt.ItemDataRole.ToolTipRole) == message
    assert problems.data(problems.index(0, 0), Qt.ItemDataRole.ToolTipRole) == problem.path


def test_quit_asks_while_a_transfer_runs(qtbot, stack: Stack, app: DesktopApp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.gui.conftest import answer_next_dialog

    quitting: list[bool] = []
    app.quitting.connect(lambda: quitting.append(True))
    stack.s3.add(lambda method, _t: method == "PUT", "delay", delay=6.0, times=-1)  # a slow upload
    src = tmp_path / "big.bin"
    src.write_bytes(b"x" * 1_000_000)
    t = app.transfers.upload(src, f"{app.remote_root}/big.bin")
    qtbot.waitUntil(lambda: app.running_transfers() > 0, timeout=10000)
    seen = answer_next_dialog(qtbot, "Keep running")
    app.quit_action.trigger()
    assert seen and "still running" in seen[0]
    assert not quitting  # kept running, the upload goes on
    stack.s3.clear()
    qtbot.waitUntil(lambda: t.status.finished, timeout=60000)
    assert app.client.exists(f"{app.remote_root}/big.bin")
    app.quit_action.trigger()  # nothing running: no question
    qtbot.waitUntil(lambda: bool(quitting), timeout=10000)
