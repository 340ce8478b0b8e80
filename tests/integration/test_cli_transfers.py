"""``gsdesktop transfers``: interrupted uploads and downloads, listed, continued and given up.

The transfers are interrupted for real (a child process kills itself with SIGKILL half way, as in the
multipart tests) and journaled where the CLI looks (``GSDESKTOP_STATE_DIR``); the CLI runs as a
subprocess against the real server and SeaweedFS.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import NotFoundError
from gsdesktop.datamanager.journal import TransferJournal
from gsdesktop.datamanager.multipart import MultipartUploader
from gsdesktop.datamanager.transport import TransferRequest
from tests.conftest import Account
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
from tests.support.cli import cli_env, run_cli


def _env(account: Account, tmp_path: Path) -> dict[str, str]:
    return cli_env(
        tmp_path / "home", account.server_url, account.username, account.password,
        GSDESKTOP_STATE_DIR=str(tmp_path / "state"),
    )  # fmt: skip


def _listed(env: dict[str, str]) -> list[dict[str, object]]:
    res = run_cli(["transfers", "--json"], env).ok()
    return list(json.loads(res.out))


def test_interrupted_upload_is_listed_and_resumed(account: Account, tmp_path: Path) -> None:
    client = DataManagerClient(account.server_url, account.username, account.password)
    local = tmp_path / "reads.fastq"
    md5 = make_file(local, seed=21)
    remote = f"{client.home}/reads.fastq"
    journal = tmp_path / "state" / "transfers.sqlite"
    journal.parent.mkdir()
    env = _env(account, tmp_path)
    assert run_cli(["transfers"], env).ok().out.strip() == "No interrupted transfers."
    run_child_killed(account, local, remote, journal, kill_after=5)
    upload_id, _parts = server_parts(client, journal, remote)
    [item] = _listed(env)
    assert item["kind"] == "upload" and item["local"] == str(local) and item["remote"] == remote
    assert item["size"] == SIZE and 5 * PART <= int(item["done"]) <= 7 * PART  # type: ignore[call-overload]
    text = run_cli(["transfers"], env).ok().out
    assert text.startswith("upload ") and f"{local} -> {remote}" in text and "of 60.0 MiB" in text
    done = run_cli(["transfers", "--resume", "-q"], env).ok()
    assert done.out.strip() == remote
    assert client.metadata(remote).md5 == md5
    out = tmp_path / "back.fastq"
    client.download(remote, out)
    assert md5_of(out) == md5
    assert _listed(env) == []
    assert run_cli(["transfers", "--resume"], env).ok().out.strip() == "No interrupted transfers."
    # the killed run's upload was the one completed (a fresh upload would have left it behind)
    assert api(client, "GET", f"/uploads/{upload_id}").status_code == 404


def test_discard_gives_up_uploads_and_downloads(account: Account, tmp_path: Path) -> None:
    client = DataManagerClient(account.server_url, account.username, account.password)
    journal = tmp_path / "state" / "transfers.sqlite"
    journal.parent.mkdir()
    env = _env(account, tmp_path)
    # an interrupted download: a 48 MiB file fetched in 4 MiB blocks, killed after 3
    src = tmp_path / "ref.bam"
    make_file(src, 48 * 1024 * 1024 + 777, seed=22)
    MultipartUploader(
        client.transport, journal=TransferJournal(tmp_path / "other.sqlite"), part_size=8 * PART
    ).upload(TransferRequest(src, f"{client.home}/ref.bam"))
    (tmp_path / "dl").mkdir()
    target = tmp_path / "dl" / "ref.bam"
    killed_download(account, f"{client.home}/ref.bam", target, journal, kill_after=3)
    partial = tmp_path / "dl" / ".ref.bam.gsdownload"
    assert partial.exists() and not target.exists()
    # an interrupted upload
    local = tmp_path / "up.vcf"
    make_file(local, seed=23)
    run_child_killed(account, local, f"{client.home}/up.vcf", journal, kill_after=4)
    upload_id, _parts = server_parts(client, journal, f"{client.home}/up.vcf")
    listed = _listed(env)
    assert sorted(str(t["kind"]) for t in listed) == ["download", "upload"]
    down = next(t for t in listed if t["kind"] == "download")
    assert down["local"] == str(target) and int(down["done"]) >= 3 * 4 * 1024 * 1024  # type: ignore[call-overload]

    missing = run_cli(["transfers", "--discard", str(tmp_path / "nothing.bin")], env)
    assert missing.code == 4 and "No interrupted transfer of this path" in missing.err
    assert len(_listed(env)) == 2  # nothing given up by a failed command

    gone = run_cli(["transfers", "--discard", str(local)], env).ok()  # by local path: only the upload
    assert gone.out.strip() == f"discarded upload {local}"
    assert api(client, "GET", f"/uploads/{upload_id}").status_code == 404  # its parts are deleted
    assert [t["kind"] for t in _listed(env)] == ["download"]
    with pytest.raises(NotFoundError):
        client.metadata(f"{client.home}/up.vcf")

    run_cli(["transfers", "--discard", "ref.bam"], env).ok()  # by remote path, relative to home
    assert not partial.exists() and not target.exists()
    assert _listed(env) == []


def test_resume_of_an_upload_whose_file_is_gone_says_how_to_give_it_up(
    account: Account, tmp_path: Path
) -> None:
    client = DataManagerClient(account.server_url, account.username, account.password)
    journal = tmp_path / "state" / "transfers.sqlite"
    journal.parent.mkdir()
    env = _env(account, tmp_path)
    local = tmp_path / "deleted.bam"
    make_file(local, seed=24)
    run_child_killed(account, local, f"{client.home}/deleted.bam", journal, kill_after=3)
    local.unlink()
    res = run_cli(["transfers", "--resume", "-q"], env)
    assert res.code == 8, res.err
    assert "Traceback" not in res.err
    assert f"To give it up: gsdesktop transfers --discard {local}" in res.err
    assert len(_listed(env)) == 1  # still there to be given up
    run_cli(["transfers", "--discard"], env).ok()
    assert _listed(env) == []
