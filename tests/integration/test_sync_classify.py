"""Issue 17: one error vocabulary. The same exception is the same problem whether it happens while syncing
one file (the executor) or outside any file (the engine listing the remote folder): a server error is a
per-file problem retried with backoff (recorded against the pair, ``""``, when no file is concerned), not
"Server unreachable"; only an unreachable server and rejected credentials stop the pair. The real
engine against the real server + SeaweedFS behind a fault-injecting proxy, real folders."""

from __future__ import annotations

from pathlib import Path

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.sync import ProblemKind, SyncConfig, SyncEngine, SyncState
from tests.support.faultproxy import FaultProxy


def test_a_server_error_is_the_same_problem_on_a_file_and_on_the_listing(  # type: ignore[no-untyped-def]
    account, tmp_path: Path, tmp_home: Path
) -> None:
    proxy = FaultProxy(account.server_url).start()
    c = DataManagerClient(proxy.url, account.username, account.password, retries=0)
    local = tmp_path / "L"
    local.mkdir()
    (local / "a.txt").write_text("a")
    cfg = SyncConfig(min_file_age=0.0, retry_base=30.0)
    eng = SyncEngine(c, local, f"{c.home}/classify", cfg, state_dir=tmp_path / "state")
    try:
        # one file: the server answers 500 to the signing of its upload (batched or not)
        proxy.add(lambda _m, t: "a.txt" in t or "uploadurls-batch" in t, "status", times=-1, status=500)
        r = eng.sync_once()
        assert r.blocked is None, r.blocked
        on_file = {p.path: p for p in eng.problems()}["a.txt"]
        assert eng.state in {SyncState.IDLE}
        # outside any file: the server answers 500 to the listing of the remote folder
        proxy.clear()
        proxy.add(lambda m, t: m == "GET" and "recursive=true" in t, "status", times=-1, status=500)
        r = eng.sync_once()
        assert r.blocked is not None
        on_pair = {p.path: p for p in eng.problems()}[""]
        assert (on_file.kind, on_pair.kind, r.blocked.kind) == (ProblemKind.FILE_ERROR,) * 3
        assert on_file.retry_at is not None and on_pair.retry_at is not None  # both retried with backoff
        assert eng.state in {SyncState.ERROR}  # the server answered: not "offline"
        assert "unreachable" not in on_pair.message
        # the server answers again: everything syncs and both problems are gone
        proxy.clear()
        r = eng.sync_once(force_retry=True)
        assert r.converged and eng.problems() == [] and eng.state in {SyncState.IDLE}
        assert c.exists(f"{c.home}/classify/a.txt")
    finally:
        eng.close()
        c.close()
        proxy.stop()
