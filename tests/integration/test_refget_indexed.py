"""``GET /refget/indexed``: the ids of a Data Manager FASTA indexed earlier (owner only, 404, changes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import PermissionDeniedError
from gsdesktop.refget.client import index_remote, indexed_ids
from gsdesktop.refget.digests import compute
from tests.conftest import Account
from tests.support.fasta import fasta_bytes, random_seq


def _client(account: Account) -> DataManagerClient:
    return DataManagerClient(account.server_url, account.username, account.password)


def test_cli_indexed_file_is_found_and_changes_are_reported(account: Account, tmp_path: Path) -> None:
    seqs = {"ixA": random_seq(3000, 11), "ixB": random_seq(1234, 12)}
    local = tmp_path / "ref.fa"
    local.write_bytes(fasta_bytes(seqs))
    with _client(account) as client:
        remote = f"{client.home}/refs/ref.fa"
        client.mkdir(f"{client.home}/refs")
        uploaded = client.upload(local, remote)
        assert indexed_ids(client, remote) is None  # never indexed: 404 -> None
        env = dict(os.environ, GSDESKTOP_PASSWORD=account.password, HOME=str(tmp_path / "home"))
        cmd = [sys.executable, "-m", "gsdesktop", "refget", "load", remote,
               "--server", account.server_url, "--username", account.username]  # fmt: skip
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

        ids = indexed_ids(client, remote)
        assert ids is not None
        assert [(s.name, s.length) for s in ids.sequences] == [("ixA", 3000), ("ixB", 1234)]
        d = compute(seqs["ixB"])
        assert (ids.sequences[1].md5, ids.sequences[1].trunc512, ids.sequences[1].ga4gh) == (
            d.md5,
            d.trunc512,
            d.ga4gh,
        )
        assert ids.indexed_md5 == uploaded.md5 == ids.current_md5
        assert not ids.changed and ids.exists and ids.indexed_at
        # The v1.0 spelling of the same path finds the same record.
        home_form = remote.replace("/users/", "/Home/", 1)
        same = indexed_ids(client, home_form)
        assert same is not None and same.sequences == ids.sequences

        local.write_bytes(fasta_bytes({"ixC": random_seq(500, 13)}))
        client.upload(local, remote)
        changed = indexed_ids(client, remote)
        assert changed is not None and changed.changed and changed.exists
        assert changed.current_md5 != changed.indexed_md5
        assert [s.name for s in changed.sequences] == ["ixA", "ixB"]  # what was indexed then

        again = index_remote(client, remote)  # re-indexing refreshes the record
        assert [s.name for s in again.sequences] == ["ixC"]
        fresh = indexed_ids(client, remote)
        assert fresh is not None and not fresh.changed and [s.name for s in fresh.sequences] == ["ixC"]

        client.delete(remote)
        gone = indexed_ids(client, remote)
        assert gone is not None and gone.changed and not gone.exists and gone.current_md5 is None


def test_other_users_path_is_forbidden_and_not_indexed_is_404(make_account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_account(), make_account()
    local = tmp_path / "a.fa"
    local.write_bytes(fasta_bytes({"s1": random_seq(800, 21)}))
    with _client(alice) as ca, _client(bob) as cb:
        remote = f"{ca.home}/a.fa"
        ca.upload(local, remote)
        index_remote(ca, remote)
        assert indexed_ids(ca, remote) is not None
        with pytest.raises(PermissionDeniedError):
            indexed_ids(cb, remote)  # bob may not learn about alice's files
        resp = cb.request("GET", "/refget/indexed", params={"path": remote}, ok=(403,))
        assert resp.status_code == 403
        resp.close()
        other = f"{cb.home}/nothing.fa"
        resp = cb.request("GET", "/refget/indexed", params={"path": other}, ok=(404,))
        assert resp.status_code == 404 and "not served via refget" in resp.json()["message"]
        resp.close()
        assert indexed_ids(cb, other) is None
        resp = cb.request("GET", "/refget/indexed", params={"path": "/users/../x"}, ok=(400, 403))
        assert resp.status_code in (400, 403)
        resp.close()


def test_indexed_requires_sign_in(dm_server) -> None:  # type: ignore[no-untyped-def]
    resp = requests.get(f"{dm_server.url}/refget/indexed", params={"path": "/users/x/a.fa"}, timeout=10)
    assert resp.status_code == 401
