"""The transfers panel lists large transfers a crash interrupted, continues them in place, gives them up.

The transfers are interrupted for real (a child process kills itself with SIGKILL half way) and
journaled where the app looks (``GSDESKTOP_STATE_DIR``); real server, SeaweedFS and threads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gsdesktop.datamanager.journal import TransferJournal, default_path
from gsdesktop.datamanager.multipart import MultipartUploader
from gsdesktop.datamanager.transport import TransferRequest
from gsdesktop.ui.bridge import TaskRunner
from gsdesktop.ui.transfers import Kind, Status, TransferManager, TransfersPanel
from tests.integration.test_multipart_download import killed_download
from tests.integration.test_multipart_upload import (
    PART,
    SIZE,
    api,
    make_file,
    md5_of,
    run_child_killed,
    server_parts,
)


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GSDESKTOP_STATE_DIR", str(tmp_path / "state"))
    path = default_path()
    path.parent.mkdir(parents=True)
    return path


def killed_upload(account, client, journal: Path, local: Path, seed: int, kill_after: int):  # type: ignore[no-untyped-def]
    """Upload ``local`` into the home folder in a child killed after ``kill_after`` parts:
    (its MD5, remote path, the server's upload id, how many parts storage holds)."""
    md5 = make_file(local, seed=seed)
    remote = f"{client.home}/{local.name}"
    run_child_killed(account, local, remote, journal, kill_after=kill_after)
    upload_id, parts = server_parts(client, journal, remote)
    return md5, remote, upload_id, len(parts)


def loaded(qtbot, client, keep=lambda item: True) -> TransferManager:  # type: ignore[no-untyped-def]
    """A transfer manager once it listed the journal's interrupted transfers (those ``keep`` accepts)."""
    manager = TransferManager(client, TaskRunner(2))
    with qtbot.waitSignal(manager.interrupted_loaded, timeout=10000):
        manager.load_interrupted(keep)
    return manager


def test_interrupted_upload_is_listed_with_its_progress_and_continues_in_place(  # type: ignore[no-untyped-def]
    qtbot, account, client, journal, tmp_path
) -> None:
    local = tmp_path / "reads.fastq"
    md5, remote, upload_id, stored = killed_upload(account, client, journal, local, 31, kill_after=5)
    manager = loaded(qtbot, client)
    [t] = manager.transfers
    assert t.kind is Kind.UPLOAD and t.status is Status.INTERRUPTED and t.local == local
    assert t.total == SIZE and 5 * PART <= t.done <= stored * PART  # the progress it already had
    panel = TransfersPanel(manager)
    qtbot.addWidget(panel)
    status = panel.model.data(panel.model.index(0, 6))
    assert status.startswith("Interrupted") and panel.model.data(panel.model.index(0, 2)) >= 40
    panel.model.clear_finished()
    assert panel.model.rowCount() == 1  # an interrupted row stays until continued or given up
    assert manager.retry(t) is t  # continues in its own row
    qtbot.waitUntil(lambda: t.status.finished, timeout=60000)
    assert t.status is Status.DONE, t.error  # type: ignore[comparison-overlap]  # the worker changed it
    assert client.metadata(remote).md5 == md5
    assert api(client, "GET", f"/uploads/{upload_id}").status_code == 404  # the old upload was completed
    out = tmp_path / "back.fastq"
    client.download(remote, out)
    assert md5_of(out) == md5
    assert TransferJournal(journal).interrupted(client.server_url, client.username) == []


def test_dropping_the_same_file_again_continues_its_interrupted_row(  # type: ignore[no-untyped-def]
    qtbot, account, client, journal, tmp_path
) -> None:
    local = tmp_path / "again.bam"
    md5, remote, upload_id, _stored = killed_upload(account, client, journal, local, 33, kill_after=4)
    manager = loaded(qtbot, client)
    [t] = manager.transfers
    with qtbot.waitSignal(manager.batch_finished, timeout=60000) as finished:
        manager.upload_paths([local], client.home)  # what a drop onto the home folder does
    assert finished.args[1:3] == [1, 0]
    assert manager.transfers == [t] and t.status is Status.DONE  # the same row, continued
    assert client.metadata(remote).md5 == md5
    assert api(client, "GET", f"/uploads/{upload_id}").status_code == 404  # the killed upload completed


def test_interrupted_download_given_up_after_asking(  # type: ignore[no-untyped-def]
    qtbot, account, client, journal, tmp_path, monkeypatch
) -> None:
    src = tmp_path / "ref.bam"
    make_file(src, 48 * 1024 * 1024 + 777, seed=32)
    remote = f"{client.home}/ref.bam"
    up = MultipartUploader(
        client.transport, journal=TransferJournal(tmp_path / "up.sqlite"), part_size=8 * PART
    )
    up.upload(TransferRequest(src, remote))
    (tmp_path / "dl").mkdir()
    target = tmp_path / "dl" / "ref.bam"
    killed_download(account, remote, target, journal, kill_after=3)
    partial = tmp_path / "dl" / ".ref.bam.gsdownload"
    assert partial.exists()
    in_sync_folder = tmp_path / "dl"  # as if it were the sync folder: sync continues those itself
    assert (
        loaded(qtbot, client, lambda item: not Path(item.local).is_relative_to(in_sync_folder)).transfers
        == []
    )
    manager = loaded(qtbot, client)
    [t] = manager.transfers
    assert t.kind is Kind.DOWNLOAD and t.status is Status.INTERRUPTED and t.local == target
    panel = TransfersPanel(manager)
    qtbot.addWidget(panel)
    panel.view.selectRow(0)
    asked: list[int] = []

    def confirm_give_up(n: int) -> bool:
        asked.append(n)
        return False

    monkeypatch.setattr(panel, "confirm_give_up", confirm_give_up)
    panel.cancel_selected()
    assert asked == [1] and t.status is Status.INTERRUPTED and partial.exists()  # "No" keeps it
    monkeypatch.setattr(panel, "confirm_give_up", lambda n: True)
    panel.cancel_selected()
    qtbot.waitUntil(lambda: t.status is Status.CANCELLED, timeout=10000)  # type: ignore[comparison-overlap]
    assert not partial.exists() and not target.exists()
    assert TransferJournal(journal).interrupted(client.server_url, client.username) == []


def test_app_lists_interrupted_transfers_at_start_but_leaves_the_sync_folders_to_sync(  # type: ignore[no-untyped-def]
    qtbot, account, client, journal, tmp_path, tmp_home
) -> None:
    from gsdesktop.sync import SyncConfig, SyncEngine
    from gsdesktop.ui.app import DesktopApp
    from gsdesktop.ui.prefs import Prefs
    from gsdesktop.ui.session import Session

    local_root = tmp_path / "sync"
    local_root.mkdir()
    outside, inside = tmp_path / "outside.bam", local_root / "inside.bam"
    _md5, _remote, outside_id, _n = killed_upload(account, client, journal, outside, 40, kill_after=3)
    killed_upload(account, client, journal, inside, 41, kill_after=3)
    remote = f"{client.home}/synced"
    client.mkdir(remote)
    engine = SyncEngine(client, local_root, remote, SyncConfig(), state_dir=tmp_path / "syncstate")
    app = DesktopApp(Session(client, engine, local_root, remote, Prefs(notifications=True)))
    try:
        qtbot.waitUntil(
            lambda: any(t == "Interrupted transfers" for t, _m in app.notifications), timeout=10000
        )
        titled = [m for t, m in app.notifications if t == "Interrupted transfers"]
        assert titled == [
            "Large transfers that stopped before they finished: 1. Open the remote browser to continue them "
            "or give them up."
        ]
        assert [(t.local, t.status) for t in app.transfers.transfers] == [(outside, Status.INTERRUPTED)]
        app.transfers.cancel_all()  # what Quit does: it stops transfers, it never gives one up
        qtbot.wait(300)
        assert [t.status for t in app.transfers.transfers] == [Status.INTERRUPTED]
        assert len(TransferJournal(journal).interrupted(client.server_url, client.username)) == 2
        assert api(client, "GET", f"/uploads/{outside_id}").status_code == 200
    finally:
        app.runner.shutdown(10000)
        app.transfer_runner.shutdown(10000)
        engine.close()
        app.close_windows()


def test_giving_up_while_the_server_is_unreachable_keeps_the_row_and_says_why(  # type: ignore[no-untyped-def]
    qtbot, account, client, journal, tmp_path
) -> None:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.ui.transfers import Transfer

    local = tmp_path / "far.bam"
    _md5, remote, upload_id, _n = killed_upload(account, client, journal, local, 50, kill_after=3)
    [item] = TransferJournal(journal).interrupted(client.server_url, client.username)
    dead = DataManagerClient("http://127.0.0.1:9", account.username, account.password, retries=0)
    manager = TransferManager(dead, TaskRunner(1))
    t = Transfer(1, Kind.UPLOAD, local, remote, total=item.size, done=item.done)
    t.status, t.pending = Status.INTERRUPTED, item
    manager.transfers.append(t)
    manager.give_up(t)
    qtbot.waitUntil(lambda: t.status is Status.INTERRUPTED and bool(t.error), timeout=30000)
    assert t.error.startswith("Cannot connect to 127.0.0.1:9 (is the server running?)"), t.error
    assert t.pending is item  # can still be continued or given up later
    assert len(TransferJournal(journal).interrupted(client.server_url, client.username)) == 1
    assert api(client, "GET", f"/uploads/{upload_id}").status_code == 200
