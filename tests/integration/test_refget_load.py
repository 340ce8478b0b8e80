"""Loading into refget on the real server: CLI, remote Data Manager files, auth, errors, idempotence."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from gsdesktop.refget.client import index_remote, load_local
from gsdesktop.refget.digests import compute
from tests.conftest import Account
from tests.support.fasta import fasta_bytes, random_seq


def _cli(account: Account, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GSDESKTOP_PASSWORD=account.password, HOME=str(tmp / "home"))
    cmd = [sys.executable, "-m", "gsdesktop", "refget", "load", *args,
           "--server", account.server_url, "--username", account.username]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_gz_load_then_reload_stores_nothing(account: Account, tmp_path: Path) -> None:
    seqs = {"plasmid1": random_seq(4000, 101), "chrZ": random_seq(9000, 102)}
    fa = tmp_path / "two.fa.gz"
    fa.write_bytes(gzip.compress(fasta_bytes(seqs, width=70)))
    first = _cli(account, tmp_path, str(fa), "--circular", "plasmid1", "--json")
    assert first.returncode == 0, first.stderr
    rep = json.loads(first.stdout)
    assert rep["objects_written"] == 2 * 7  # sequence, metadata, 4 secondaries, 1 name each
    assert [s["circular"] for s in rep["sequences"]] == [True, False]
    again = _cli(account, tmp_path, str(fa))
    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stdout
    d = compute(seqs["plasmid1"])
    assert d.ga4gh in again.stdout
    wrap = requests.get(
        f"{account.server_url}/sequence/{d.ga4gh}", params={"start": 3990, "end": 10}, timeout=10
    )
    assert wrap.status_code == 200
    assert wrap.content == seqs["plasmid1"][3990:] + seqs["plasmid1"][:10]


def test_cli_malformed_fasta_is_one_line_with_line_number(account: Account, tmp_path: Path) -> None:
    good = random_seq(300, 103)
    fa = tmp_path / "broken.fa"
    fa.write_bytes(b">ok\n" + good + b"\n>bad\nACGT\nAC%T\n")
    proc = _cli(account, tmp_path, str(fa))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.fa: line 5: invalid character '%'" in lines[0]
    assert "Traceback" not in proc.stderr
    assert requests.get(f"{account.server_url}/sequence/{compute(good).md5}", timeout=10).status_code == 404
    missing = _cli(account, tmp_path, str(tmp_path / "nope.fa"))
    assert missing.returncode == 8 and "no such FASTA file" in missing.stderr


def test_index_remote_fasta_in_data_manager(make_account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_account("alice"), make_account("bob")
    seq = random_seq(6000, 104)
    local = tmp_path / "GRCz.fa"
    local.write_bytes(fasta_bytes({"chrR": seq}, width=70))
    with DataManagerClient(alice.server_url, alice.username, alice.password) as ca, \
         DataManagerClient(bob.server_url, bob.username, bob.password) as cb:  # fmt: skip
        ca.mkdir(f"{ca.home}/refs")
        ca.upload(local, f"{ca.home}/refs/GRCz.fa")
        ids = index_remote(ca, f"{ca.home}/refs/GRCz.fa")
        assert [(s.name, s.md5, s.length) for s in ids.sequences] == [("chrR", compute(seq).md5, 6000)]
        assert ids.objects_written == 7
        assert index_remote(ca, f"/Home/{alice.username}/refs/GRCz.fa").objects_written == 0
        with pytest.raises(PermissionDeniedError):
            index_remote(cb, f"{ca.home}/refs/GRCz.fa")
        with pytest.raises(NotFoundError):
            index_remote(ca, f"{ca.home}/refs/absent.fa")
        bad = tmp_path / "bad.fa"
        bad.write_bytes(b">x\nACGT\n\nAC GT?\n")
        ca.upload(bad, f"{ca.home}/refs/bad.fa")
        with pytest.raises(InvalidRequestError, match=r"bad\.fa: line 4"):
            index_remote(ca, f"{ca.home}/refs/bad.fa")
        # served publicly, by name too
        r = requests.get(f"{alice.server_url}/sequence/chrR", headers={"Range": "bytes=100-109"}, timeout=10)
        assert (r.status_code, r.content) == (206, seq[100:110])
        meta = requests.get(
            f"{alice.server_url}/sequence/{ids.sequences[0].ga4gh}/metadata", timeout=10
        ).json()
        assert meta["metadata"]["trunc512"] == ids.sequences[0].trunc512
        # the CLI accepts a remote path as well
        cli = _cli(alice, tmp_path, f"{ca.home}/refs/GRCz.fa")
        assert cli.returncode == 0 and "already loaded" in cli.stdout, cli.stderr
        assert load_local(ca, local).objects_written == 0


def test_loading_requires_sign_in(dm_server) -> None:  # type: ignore[no-untyped-def]
    url = dm_server.url
    assert requests.post(f"{url}/refget/load", data=b">a\nACGT\n", timeout=10).status_code == 401
    assert (
        requests.post(f"{url}/refget/index", params={"path": "/users/x/a.fa"}, timeout=10).status_code == 401
    )
    info = requests.get(f"{url}/sequence/service-info", headers={"Origin": "http://x"}, timeout=10)
    assert info.status_code == 200 and info.headers["access-control-allow-origin"] == "*"
    pre = requests.options(
        f"{url}/sequence/{'0' * 32}",
        headers={
            "Origin": "http://x",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
        timeout=10,
    )
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"


def test_large_sequence_is_streamed_with_content_length(account: Account, tmp_path: Path) -> None:
    table = bytes(b"ACGT"[i % 4] for i in range(256))
    seq = random.Random(105).randbytes(2_500_000).translate(table)
    fa = tmp_path / "big.fa"
    fa.write_bytes(fasta_bytes({"bigchr": seq}, width=70))
    with DataManagerClient(account.server_url, account.username, account.password) as client:
        md5 = load_local(client, fa).sequences[0].md5
    whole = requests.get(f"{account.server_url}/sequence/{md5}", timeout=30)
    assert whole.status_code == 200
    assert whole.headers["content-length"] == str(len(seq))
    assert "transfer-encoding" not in whole.headers
    assert whole.content == seq
    part = requests.get(
        f"{account.server_url}/sequence/{md5}", headers={"Range": "bytes=100000-2399999"}, timeout=30
    )
    assert (part.status_code, part.headers["content-length"]) == (206, "2300000")
    assert part.content == seq[100000:2400000]
