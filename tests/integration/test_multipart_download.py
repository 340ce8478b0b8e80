"""Parallel ranged downloads that resume after the downloading process is killed (twice)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import IntegrityError
from gsdesktop.datamanager.journal import TransferJournal
from gsdesktop.datamanager.multipart import MultipartUploader, ParallelDownloader
from gsdesktop.datamanager.transport import TransferRequest
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store
from tests.conftest import Account
from tests.integration.test_multipart_upload import MIB, make_file, md5_of

SIZE = 48 * MIB + 777
CHUNK = 4 * MIB  # 13 ranges

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.journal import TransferJournal
    from gsdesktop.datamanager.multipart import ParallelDownloader
    from gsdesktop.datamanager.transport import TransferRequest
    url, user, pw, remote, local, journal, kill_after = sys.argv[1:8]

    class KillAfter(TransferJournal):
        done = 0

        def chunk_done(self, key, chunk):  # SIGKILL once N more ranges are on disk and journaled
            super().chunk_done(key, chunk)
            self.done += 1
            if self.done >= int(kill_after):
                os.kill(os.getpid(), signal.SIGKILL)

    client = DataManagerClient(url, user, pw)
    dl = ParallelDownloader(client.transport, journal=KillAfter(Path(journal)), chunk_size=4 << 20, workers=2)
    dl.download(TransferRequest(Path(local), remote))
    print("finished without being killed")
    """
)


def killed_download(account: Account, remote: str, local: Path, journal: Path, kill_after: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, account.server_url, account.username, account.password,
         remote, str(local), str(journal), str(kill_after)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr


def test_download_interrupted_twice_resumes_and_verifies(account: Account, tmp_path: Path) -> None:
    client = DataManagerClient(account.server_url, account.username, account.password)
    src = tmp_path / "src.bam"
    md5 = make_file(src, SIZE, seed=11)
    remote = f"{client.home}/src.bam"
    MultipartUploader(
        client.transport, journal=TransferJournal(tmp_path / "up.sqlite"), part_size=8 * MIB
    ).upload(TransferRequest(src, remote))
    target = tmp_path / "dl" / "copy.bam"
    target.parent.mkdir()
    journal = tmp_path / "dl.sqlite"
    killed_download(account, remote, target, journal, kill_after=3)
    assert not target.exists()  # never a partial file at the target
    first = TransferJournal(journal).done_chunks(next(iter(_keys(journal))))
    killed_download(account, remote, target, journal, kill_after=4)
    second = TransferJournal(journal).done_chunks(next(iter(_keys(journal))))
    assert len(first) == 3 and first < second and len(second) == 7
    dl = ParallelDownloader(client.transport, journal=TransferJournal(journal), chunk_size=CHUNK, workers=3)
    seen: list[int] = []
    out = dl.download(TransferRequest(target, remote, progress=lambda d, t: seen.append(d)))
    assert dl.stats.resumed and dl.stats.chunks_skipped == len(second)
    assert dl.stats.chunks_fetched == 13 - len(second)  # only the missing ranges were fetched
    assert seen[0] >= len(second) * CHUNK - CHUNK
    assert out == target and md5_of(target) == md5 and target.stat().st_size == SIZE
    assert not list(target.parent.glob(".*gsdownload*"))
    assert _keys(journal) == []


def _keys(journal: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(journal) as db:
        return [r[0] for r in db.execute("SELECT key FROM downloads")]


def test_corrupted_download_is_rejected(account: Account, tmp_path: Path, seaweed: S3Config) -> None:
    client = DataManagerClient(account.server_url, account.username, account.password)
    src = tmp_path / "v.bin"
    md5 = make_file(src, 9 * MIB, seed=12)
    remote = f"{client.home}/v.bin"
    client.upload(src, remote)
    meta = client.metadata(remote)
    assert meta.md5 == md5
    # the stored bytes change behind the Data Manager's back (same size, MD5 record kept)
    store = S3Store(seaweed, create_bucket=False)
    key = f"users/{account.username}/v.bin"
    store.put_bytes(key, b"Z" * (9 * MIB), metadata={"md5-hash": md5})
    target = tmp_path / "v-out.bin"
    target.write_bytes(b"old content")
    dl = ParallelDownloader(
        client.transport, journal=TransferJournal(tmp_path / "j.sqlite"), chunk_size=2 * MIB
    )
    with pytest.raises(IntegrityError):
        dl.download(TransferRequest(target, remote), meta=meta)
    assert target.read_bytes() == b"old content"  # the existing file was not touched
    assert not list(tmp_path.glob(".*gsdownload*"))
