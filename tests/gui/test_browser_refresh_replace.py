"""Issue 18 items 8 and 9: the browser asks before replacing a same-named remote file, refreshes by
itself when uploads finish or sync changes a folder, and browser transfers obey the app's bandwidth limit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gsdesktop.sync import SyncConfig, SyncEngine
from gsdesktop.sync.events import ActionDone, ActionKind
from gsdesktop.ui.app import DesktopApp
from gsdesktop.ui.browser_parts import KEEP_BOTH, REPLACE, SKIP
from gsdesktop.ui.prefs import Prefs
from gsdesktop.ui.session import Session
from gsdesktop.ui.transfers import Status
from tests.gui.test_browser import make_browser, names, wait_loaded


def remote_text(client, path: str) -> str:  # type: ignore[no-untyped-def]
    return client.read_bytes(path).decode() if hasattr(client, "read_bytes") else _download(client, path)


def _download(client, path: str) -> str:  # type: ignore[no-untyped-def]
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / "x"
        client.download(path, target)
        return target.read_text()


def local_file(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / "local" / name
    p.parent.mkdir(exist_ok=True)
    p.write_text(text)
    return p


def test_upload_over_a_same_named_file_asks_skip_keeps_the_server_copy(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/ask")
    client.upload(local_file(tmp_path, "srv.txt", "server version"), f"{home}/ask/dup.txt")
    browser = make_browser(qtbot, client, f"{home}/ask")
    wait_loaded(qtbot, browser.model)
    asked: list[tuple[str, int]] = []

    def answer(name: str, left: int) -> tuple[str, bool]:
        asked.append((name, left))
        return SKIP, False

    browser.ask_replace = answer
    dup, new = local_file(tmp_path, "dup.txt", "local version"), local_file(tmp_path, "new.txt", "new")
    with qtbot.waitSignal(browser.transfers.batch_finished, timeout=60000) as blocker:
        browser.upload_paths([dup, new], f"{home}/ask")
    assert asked == [("dup.txt", 1)]
    assert blocker.args[1:4] == [1, 0, f"{home}/ask"]
    assert _download(client, f"{home}/ask/dup.txt") == "server version"  # not overwritten
    assert _download(client, f"{home}/ask/new.txt") == "new"


def test_keep_both_uploads_under_a_free_name_and_replace_applies_to_all(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/both")
    for name in ("a.txt", "b.txt", "c (2).txt", "c.txt"):
        client.upload(local_file(tmp_path, "srv.txt", f"server {name}"), f"{home}/both/{name}")
    browser = make_browser(qtbot, client, f"{home}/both")
    wait_loaded(qtbot, browser.model)
    answers = iter([(KEEP_BOTH, False), (REPLACE, True)])
    asked: list[str] = []

    def answer(name: str, _left: int) -> tuple[str, bool]:
        asked.append(name)
        return next(answers)

    browser.ask_replace = answer
    files = [local_file(tmp_path, n, f"local {n}") for n in ("c.txt", "a.txt", "b.txt")]
    with qtbot.waitSignal(browser.transfers.batch_finished, timeout=60000) as blocker:
        browser.upload_paths(files, f"{home}/both")
    assert asked == ["c.txt", "a.txt"]  # "apply to all" answered b.txt too
    assert blocker.args[1:4] == [3, 0, f"{home}/both"]
    assert _download(client, f"{home}/both/c.txt") == "server c.txt"
    assert _download(client, f"{home}/both/c (2).txt") == "server c (2).txt"
    assert _download(client, f"{home}/both/c (3).txt") == "local c.txt"  # the next free name
    assert _download(client, f"{home}/both/a.txt") == "local a.txt"
    assert _download(client, f"{home}/both/b.txt") == "local b.txt"
    # the browser shows the new file without a manual refresh
    qtbot.waitUntil(lambda: "c (3).txt" in names(browser.model), timeout=30000)


def test_a_retried_upload_shows_up_without_a_manual_refresh(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = client.home
    client.mkdir(f"{home}/retry")
    browser = make_browser(qtbot, client, f"{home}/retry")
    wait_loaded(qtbot, browser.model)
    missing = tmp_path / "later.txt"
    t = browser.transfers.upload(missing, f"{home}/retry/later.txt")  # fails: the file is not there yet
    qtbot.waitUntil(lambda: t.status is Status.FAILED, timeout=30000)
    missing.write_text("now it exists")
    again = browser.transfers.retry(t)
    assert again is not None
    qtbot.waitUntil(lambda: again.status is Status.DONE, timeout=30000)
    qtbot.waitUntil(lambda: "later.txt" in names(browser.model), timeout=10000)


@pytest.fixture
def limited_app(qtbot, client, tmp_home, tmp_path):  # type: ignore[no-untyped-def]
    local = tmp_path / "sync"
    local.mkdir()
    remote = f"{client.home}/synced"
    client.mkdir(remote)
    prefs = Prefs(notifications=False, max_upload_kbps=256, max_download_kbps=256)
    engine = SyncEngine(
        client,
        local,
        remote,
        SyncConfig(
            poll_interval=1.0, quiet_period=0.1, max_upload_bps=256 * 1024, max_download_bps=256 * 1024
        ),
        state_dir=tmp_path / "state",
    )
    app = DesktopApp(Session(client, engine, local, remote, prefs))
    yield app
    app.runner.shutdown(10000)
    app.transfer_runner.shutdown(10000)
    engine.close()
    app.close_windows()


def test_browser_transfers_obey_the_limit_shared_with_sync(qtbot, limited_app, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = limited_app
    assert app.engine.throttles == app.transfers.throttles  # one limit for all traffic of the app
    browser = app.show_browser()
    data = tmp_path / "big.bin"
    size = 768 * 1024
    data.write_bytes(b"x" * size)
    t0 = time.monotonic()
    with qtbot.waitSignal(browser.transfers.batch_finished, timeout=60000) as blocker:
        browser.upload_paths([data], client.home)
    took_up = time.monotonic() - t0
    assert blocker.args[1:3] == [1, 0]
    burst = 0.5
    assert took_up >= size / (256 * 1024) - burst, took_up  # 3 s at 256 KiB/s, less one burst
    target = tmp_path / "back.bin"
    t0 = time.monotonic()
    down = browser.transfers.download(f"{client.home}/big.bin", target, size=size)
    qtbot.waitUntil(lambda: down.status.finished, timeout=60000)
    took_down = time.monotonic() - t0
    assert down.status is Status.DONE and target.stat().st_size == size
    assert took_down >= size / (256 * 1024) - burst, took_down


def test_sync_changes_refresh_the_open_folder(qtbot, limited_app, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = limited_app
    browser = app.show_browser()
    browser.navigate(app.remote_root)
    wait_loaded(qtbot, browser.model)
    assert "synced-file.txt" not in names(browser.model)
    client.upload(local_file(tmp_path, "s.txt", "x"), f"{app.remote_root}/synced-file.txt")
    # what sync announces after it uploaded a file: the open folder follows
    app.on_event(ActionDone(ActionKind.UPLOADED, "synced-file.txt", 1))
    qtbot.waitUntil(lambda: "synced-file.txt" in names(browser.model), timeout=10000)


def test_back_from_an_outage_the_browser_lists_its_folder_again(qtbot, limited_app, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = limited_app
    browser = app.show_browser()
    browser.navigate(app.remote_root)
    wait_loaded(qtbot, browser.model)
    app.outage = "offline"
    app.update_status()
    client.upload(local_file(tmp_path, "o.txt", "x"), f"{app.remote_root}/while-out.txt")
    app.outage = None  # a request went through
    app.update_status()
    qtbot.waitUntil(lambda: "while-out.txt" in names(browser.model), timeout=10000)
