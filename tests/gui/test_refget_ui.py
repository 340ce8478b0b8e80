""" "Serve via refget" and the refget ids in Properties, against the real server and SeaweedFS."""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path

import requests
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QToolBar

from gsdesktop.refget.client import index_remote
from gsdesktop.refget.digests import compute
from gsdesktop.ui.browser import RemoteBrowser
from gsdesktop.ui.browser_parts import PropertiesDialog
from gsdesktop.ui.refget_actions import RefgetIdsPanel
from tests.gui.test_browser import TickGap, make_browser, names, select_name, wait_loaded
from tests.support.fasta import fasta_bytes, random_seq


def _upload(client, tmp_path: Path, name: str, data: bytes) -> str:  # type: ignore[no-untyped-def]
    local = tmp_path / name
    local.write_bytes(data)
    remote = f"{client.home}/{name}"
    client.upload(local, remote)
    return remote


def _browser_on(qtbot, client, *names_wanted: str) -> RemoteBrowser:  # type: ignore[no-untyped-def]
    browser = make_browser(qtbot, client)
    wait_loaded(qtbot, browser.model)
    qtbot.waitUntil(lambda: all(n in names(browser.model) for n in names_wanted), timeout=30000)
    return browser


def _properties(qtbot, browser: RemoteBrowser) -> PropertiesDialog:  # type: ignore[no-untyped-def]
    shown: list[PropertiesDialog] = []
    browser.show_properties(on_shown=shown.append)
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    return shown[0]


def _wait_state(qtbot, panel: RefgetIdsPanel, *states: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: panel.state in states, timeout=60000)


def test_serve_action_only_for_fasta_files(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fa = fasta_bytes({"s": random_seq(100, 1)})
    _upload(client, tmp_path, "a.fa", fa)
    _upload(client, tmp_path, "b.fna.gz", gzip.compress(fa))
    _upload(client, tmp_path, "notes.txt", b"hello\n")
    client.mkdir(f"{client.home}/refs.fa")  # a folder named like FASTA is not servable
    browser = _browser_on(qtbot, client, "a.fa", "b.fna.gz", "notes.txt", "refs.fa")
    action = browser.serve_refget_action
    for name, servable in (("a.fa", True), ("b.fna.gz", True), ("notes.txt", False), ("refs.fa", False)):
        select_name(browser, name)
        menu = browser.build_context_menu()
        in_menu = action in menu.actions()
        assert (in_menu, action.isVisible(), action.isEnabled()) == (servable, servable, servable), name
        assert ("Serve via refget" in [a.text() for a in menu.actions()]) == servable
        menu.close()
    # The Actions toolbar carries it too (shown only while FASTA files are selected).
    select_name(browser, "a.fa")
    toolbar_actions = [a for tb in browser.findChildren(QToolBar) for a in tb.actions()]
    assert action in toolbar_actions


def test_serve_indexes_on_the_pool_and_properties_show_ids(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seqs = {"chrQ": random_seq(2_000_000, 2), "plasmid": random_seq(3210, 3)}
    _upload(client, tmp_path, "genome.fa", fasta_bytes(seqs))
    browser = _browser_on(qtbot, client, "genome.fa")
    notes: list[tuple[str, str]] = []
    browser.notify.connect(lambda t, m: notes.append((t, m)))
    select_name(browser, "genome.fa")

    gui_thread = threading.get_ident()
    worker_threads: list[int] = []
    original_client_request = client.request

    def request(*args, **kwargs):  # type: ignore[no-untyped-def]  # records the calling thread only
        worker_threads.append(threading.get_ident())
        return original_client_request(*args, **kwargs)

    client.request = request
    ticks = TickGap()
    ticks.start()
    t0 = time.perf_counter()
    browser.serve_refget_action.trigger()
    returned = time.perf_counter() - t0
    assert browser.runner.in_flight >= 1  # queued on the pool, not done inline
    qtbot.waitUntil(lambda: any(t == "Served via refget" for t, _m in notes), timeout=120000)
    ticks.stop()
    client.request = original_client_request
    assert returned < 0.05, returned
    assert worker_threads and gui_thread not in worker_threads
    assert ticks.worst_cpu < 0.05, ticks.worst_cpu  # the GUI thread itself never did the work
    message = dict(notes)["Served via refget"]
    assert "genome.fa: 2 sequence(s)" in message
    assert "2 sequence(s)" in browser.statusBar().currentMessage()

    d = compute(seqs["plasmid"])
    got = requests.get(f"{client.server_url}/sequence/{d.md5}", timeout=30)
    assert got.status_code == 200 and got.content == seqs["plasmid"]
    sliced = requests.get(
        f"{client.server_url}/sequence/{compute(seqs['chrQ']).ga4gh}",
        params={"start": 10, "end": 70},
        timeout=30,
    )
    assert sliced.content == seqs["chrQ"][10:70]

    dialog = _properties(qtbot, browser)
    panel = dialog.refget_panel
    assert panel is not None
    _wait_state(qtbot, panel, "served")
    assert "2 sequence(s)" in panel.status.text()
    expected = {
        "Name": "plasmid",
        "Length": "3210",
        "MD5": d.md5,
        "ga4gh": d.ga4gh,
        "TRUNC512": d.trunc512,
        "URL": f"{client.server_url}/sequence/{d.md5}",
    }
    for label, value in expected.items():
        assert panel.values[("plasmid", label)] == value
    assert panel.values[("chrQ", "Length")] == "2000000"
    for label in ("ga4gh", "MD5", "URL"):
        QGuiApplication.clipboard().clear()
        qtbot.mouseClick(panel.copy_buttons[("plasmid", label)], Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == expected[label]
    dialog.close()


def test_properties_not_served_then_serve_button_and_cli_indexed(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    plain = {"contig1": random_seq(5000, 4)}
    _upload(client, tmp_path, "fresh.fasta", fasta_bytes(plain))
    early = {"old1": random_seq(700, 5)}
    remote_early = _upload(client, tmp_path, "early.fa.gz", gzip.compress(fasta_bytes(early)))
    index_remote(client, remote_early)  # what `gsdesktop refget load /users/…` calls
    browser = _browser_on(qtbot, client, "fresh.fasta", "early.fa.gz")

    select_name(browser, "fresh.fasta")
    dialog = _properties(qtbot, browser)
    panel = dialog.refget_panel
    assert panel is not None
    assert panel.state in ("loading", "not-served")
    if panel.state == "loading":
        assert panel.status.text() == "Loading refget ids…"
    _wait_state(qtbot, panel, "not-served")
    assert panel.status.text() == "Not served via refget." and panel.serve_button.isVisible()
    qtbot.mouseClick(panel.serve_button, Qt.MouseButton.LeftButton)
    _wait_state(qtbot, panel, "served")
    assert panel.values[("contig1", "MD5")] == compute(plain["contig1"]).md5
    dialog.close()

    select_name(browser, "early.fa.gz")
    dialog = _properties(qtbot, browser)
    panel = dialog.refget_panel
    assert panel is not None
    _wait_state(qtbot, panel, "served")
    assert panel.values[("old1", "ga4gh")] == compute(early["old1"]).ga4gh
    dialog.close()

    # Replace the file: Properties says the ids describe the earlier content.
    (tmp_path / "early.fa.gz").write_bytes(gzip.compress(fasta_bytes({"new1": random_seq(900, 6)})))
    client.upload(tmp_path / "early.fa.gz", remote_early)
    dialog = _properties(qtbot, browser)
    panel = dialog.refget_panel
    assert panel is not None
    _wait_state(qtbot, panel, "changed")
    assert "changed since it was indexed" in panel.status.text()
    assert ("old1", "MD5") in panel.values and panel.serve_button.text() == "Serve again via refget"
    dialog.close()

    # A non-FASTA file has no refget section.
    _upload(client, tmp_path, "table.txt", b"x\n")
    browser.refresh()
    qtbot.waitUntil(lambda: "table.txt" in names(browser.model), timeout=30000)
    select_name(browser, "table.txt")
    dialog = _properties(qtbot, browser)
    assert dialog.refget_panel is None
    dialog.close()


def test_invalid_fasta_reports_the_line(qtbot, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = random_seq(120, 7)
    _upload(client, tmp_path, "broken.fa", b">ok\n" + good + b"\n>bad\nACGT\nAC%T\n")
    browser = _browser_on(qtbot, client, "broken.fa")
    notes: list[tuple[str, str]] = []
    browser.notify.connect(lambda t, m: notes.append((t, m)))
    select_name(browser, "broken.fa")
    browser.serve_refget()
    qtbot.waitUntil(lambda: bool(notes), timeout=60000)
    title, message = notes[0]
    assert title == "Could not serve broken.fa via refget"
    assert "line 5" in message and "invalid character '%'" in message
    assert "Traceback" not in message
    assert "line 5" in browser.statusBar().currentMessage()
    # Nothing half-loaded.
    assert requests.get(f"{client.server_url}/sequence/{compute(good).md5}", timeout=10).status_code == 404

    dialog = _properties(qtbot, browser)
    panel = dialog.refget_panel
    assert panel is not None
    _wait_state(qtbot, panel, "not-served")
    qtbot.mouseClick(panel.serve_button, Qt.MouseButton.LeftButton)
    _wait_state(qtbot, panel, "error")
    assert "line 5" in panel.status.text()
    dialog.close()

    # Deleted by another client after it was listed: a clear "not found", no traceback.
    client.delete(f"{client.home}/broken.fa")
    notes.clear()
    browser.serve_refget()
    qtbot.waitUntil(lambda: bool(notes), timeout=60000)
    title, message = notes[0]
    assert title == "Could not serve broken.fa via refget"
    assert "broken.fa" in message and "no such file" in message.lower() and "Traceback" not in message
