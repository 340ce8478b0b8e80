"""I17 end to end: the server's store is restored from an (older) backup.

Real server + SeaweedFS: a folder is synced, files change locally, then the store is rolled back behind
the server's back with boto3 (older contents, some objects gone), as a backup restore would. With the
data fingerprint reset through the admin CLI, the next sync keeps every newer local file and loses
nothing; the control case (same store change, no reset) shows the engine would otherwise take the
rollback for ordinary remote edits and overwrite / delete local files.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
from gsdesktop.sync import ServerRestored, SyncConfig, SyncEngine, SyncEvent
from tests.integration.test_sync_engine import remote_tree, tree, write

FAST = SyncConfig(min_file_age=0.0, host_name="ws1", retry_base=0.5)
V1 = {
    "edited.txt": b"version 1 of edited",
    "same.txt": b"version 1 of same",
    "lost.txt": b"only in the newer store",
    "deep/lost.bin": os.urandom(2048),
    "deep/kept.txt": b"untouched everywhere",
}


def _engine(client: DataManagerClient, local: Path, state: Path) -> SyncEngine:
    return SyncEngine(client, local, f"{client.home}/sync", FAST, state_dir=state)


def _reset_fingerprint(cfg: S3Config) -> str:
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID=cfg.access_key or "", AWS_SECRET_ACCESS_KEY=cfg.secret_key or "")
    env["AWS_DEFAULT_REGION"] = cfg.region
    out = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "server", "data-fingerprint", "--reset",
         "--s3-endpoint", str(cfg.endpoint), "--s3-bucket", cfg.bucket],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.startswith("new data fingerprint: ")
    return out.stdout.split(": ", 1)[1].strip()


def _roll_back_store(cfg: S3Config, user: str) -> None:
    """What a restore from yesterday's backup does: older contents, files created since are gone."""
    s3 = S3Store(cfg).s3
    prefix = f"users/{user}/sync/"
    for rel in ("edited.txt", "same.txt"):
        old = b"version 0 (backup) of " + rel.encode()
        s3.put_object(Bucket=cfg.bucket, Key=prefix + rel, Body=old,
                      Metadata={"md5-hash": hashlib.md5(old).hexdigest()})  # fmt: skip
    for rel in ("lost.txt", "deep/lost.bin"):
        s3.delete_object(Bucket=cfg.bucket, Key=prefix + rel)


def _synced_then_edited(client: DataManagerClient, tmp_path: Path) -> tuple[SyncEngine, Path]:
    local = tmp_path / "L"
    for rel, data in V1.items():
        write(local / rel, data)
    engine = _engine(client, local, tmp_path / "state")
    first = engine.sync_once()
    assert first.converged and first.uploaded == len(V1) and not first.server_restored
    write(local / "edited.txt", b"version 2 of edited (newer than any backup)")
    return engine, local


def test_restored_server_never_overwrites_newer_local_files(
    client: DataManagerClient, seaweed: S3Config, tmp_path: Path
) -> None:
    engine, local = _synced_then_edited(client, tmp_path)
    before = tree(local)
    events: list[SyncEvent] = []
    engine.subscribe(events.append)
    fp_old = client.data_fingerprint()
    assert fp_old
    _roll_back_store(seaweed, client.username)
    fp_new = _reset_fingerprint(seaweed)
    assert client.data_fingerprint() == fp_new != fp_old

    report = engine.sync_once()
    assert report.server_restored and report.converged
    assert report.deleted_local == 0 and report.deleted_remote == 0
    assert [e.fingerprint for e in events if isinstance(e, ServerRestored)] == [fp_new]
    after = tree(local)
    for rel, data in before.items():  # every local file kept at its name, with its newest content
        assert after[rel] == data, rel
    copies = {rel: data for rel, data in after.items() if rel not in before}
    # the backup's older versions are not lost either: they come down as conflicted copies
    assert sorted(d for d in copies.values() if d is not None) == [
        b"version 0 (backup) of edited.txt", b"version 0 (backup) of same.txt"
    ]  # fmt: skip
    assert all("(conflicted copy ws1 " in rel for rel in copies)
    assert remote_tree(client, f"{client.home}/sync") == after  # the server has the newer data again
    assert engine.db.get_meta("data_fingerprint") == fp_new

    # restore mode ends after that cycle: an ordinary remote deletion propagates again
    client.delete(f"{client.home}/sync/deep/kept.txt")
    nxt = engine.sync_once()
    assert nxt.converged and not nxt.server_restored and nxt.deleted_local == 1
    assert not (local / "deep/kept.txt").exists()
    engine.close()


def test_control_without_fingerprint_reset_rollback_looks_like_remote_edits(
    client: DataManagerClient, seaweed: S3Config, tmp_path: Path
) -> None:
    engine, local = _synced_then_edited(client, tmp_path)
    fp = client.data_fingerprint()
    _roll_back_store(seaweed, client.username)
    assert client.data_fingerprint() == fp  # the admin did not reset it

    report = engine.sync_once()
    assert not report.server_restored and report.converged
    after = tree(local)
    # the older backup data wins: local files are deleted and an unchanged one is overwritten ...
    assert report.deleted_local == 2 and "lost.txt" not in after and "deep/lost.bin" not in after
    assert after["same.txt"] == b"version 0 (backup) of same.txt"
    # ... and the newer local edit loses its name to the older server version
    assert after["edited.txt"] == b"version 0 (backup) of edited.txt"
    assert report.conflicts == 1
    engine.close()


def test_fingerprint_endpoint_is_stable_private_and_shown_by_the_cli(
    client: DataManagerClient, seaweed: S3Config
) -> None:
    import requests

    value = client.data_fingerprint()
    assert value and client.data_fingerprint() == value  # created once, then stable
    anon = requests.get(f"{client.server_url}/datamanager/fingerprint", timeout=10)
    assert anon.status_code == 401 and value not in anon.text
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID=seaweed.access_key or "", AWS_SECRET_ACCESS_KEY=seaweed.secret_key or "")
    shown = subprocess.run(
        [sys.executable, "-m", "gsdesktop", "server", "data-fingerprint",
         "--s3-endpoint", str(seaweed.endpoint), "--s3-bucket", seaweed.bucket],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert shown.stdout.strip() == value


def test_cli_sync_warns_about_a_restored_server_and_keeps_local_files(  # type: ignore[no-untyped-def]
    account, seaweed: S3Config, tmp_path: Path
) -> None:
    from tests.support.cli import cli_env, run_cli

    env = cli_env(tmp_path / "home", account.server_url, account.username, account.password)
    local, state = tmp_path / "L", tmp_path / "state"
    write(local / "edited.txt", b"version 1 of edited")
    write(local / "same.txt", b"version 1 of same")
    args = ["sync", str(local), "sync", "--once", "--state-dir", str(state)]
    run_cli(args, env).ok()
    write(local / "edited.txt", b"version 2 of edited (newer than any backup)")
    os.utime(local / "edited.txt", (1, 1))  # old mtime: the file counts as settled at once
    _roll_back_store(seaweed, account.username)
    _reset_fingerprint(seaweed)
    res = run_cli(args, env).ok()
    assert "gsdesktop: warning: The server was restored from a backup" in res.err
    assert (local / "edited.txt").read_bytes() == b"version 2 of edited (newer than any backup)"
    assert (local / "same.txt").read_bytes() == b"version 1 of same"
    as_json = run_cli([*args, "--json"], env).ok()
    assert '"server_restored"' not in as_json.out or '"server_restored": false' in as_json.out
