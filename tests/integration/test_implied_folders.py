"""A folder that exists only through the files under it is listed, recursively as well as level by level.

S3 has no folders: the server keeps a ``dir/`` marker object for each. An upload whose signed URL was handed
out before its folder was moved (or deleted) lands under the old name after the move took the marker away,
so that folder exists only as the prefix of its files. The level listing showed it (a common prefix), but the
recursive listing, which the sync engine and ``ls -R`` use, left it out: the randomized two-folder suite
found a moved folder's late conflicted-copy upload listed under a folder that was not in the listing.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import requests

from gsdesktop.datamanager.client import DataManagerClient


def _late_upload_url(client: DataManagerClient, remote: str, data: bytes) -> tuple[str, dict[str, str]]:
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    signed = client.signed_upload(remote, len(data), md5, "text/plain", None)
    md5_hex = hashlib.md5(data).hexdigest()  # the headers the signature binds, as the client sends them
    headers = {"Content-MD5": md5, "Content-Type": "text/plain", "x-amz-meta-md5-hash": md5_hex}
    return signed.url, {**headers, **signed.headers}


def test_files_uploaded_into_a_moved_folder_are_listed_under_their_folder(
    client: DataManagerClient, tmp_path: Path
) -> None:
    h = client.home
    client.mkdir(f"{h}/t/d0/sub", parents=True)
    for rel in ("d0/a.txt", "d0/sub/b.txt"):
        (tmp_path / "f").write_bytes(rel.encode())
        client.upload(tmp_path / "f", f"{h}/t/{rel}")
    # signed before the move, sent after it: these land where the folders no longer have markers
    late = {rel: _late_upload_url(client, f"{h}/t/{rel}", rel.encode()) for rel in ("d0/late.txt",
                                                                                    "d0/sub/late2.txt")}
    client.move(f"{h}/t/d0", f"{h}/t/d1")
    for rel, (url, headers) in late.items():
        requests.put(url, data=rel.encode(), headers=headers, timeout=30).raise_for_status()

    level = client.list(f"{h}/t")
    assert sorted((m.name, m.is_directory) for m in level.contents) == [("d0", True), ("d1", True)]
    want = [
        ("d0", True), ("d0/late.txt", False), ("d0/sub", True), ("d0/sub/late2.txt", False),
        ("d1", True), ("d1/a.txt", False), ("d1/sub", True), ("d1/sub/b.txt", False),
    ]  # fmt: skip
    for page_size in (None, 1, 2, 3, 5):  # a folder's first file on a page of its own, or after its marker
        client.listing_page_size = page_size
        for brief in (False, True):
            got = [(m.path.removeprefix(f"{h}/t/"), m.is_directory) for m in client.list_recursive(f"{h}/t",
                                                                                                    brief=brief)]
            assert got == want, (page_size, brief)
