"""One file on a fake server and in a real local folder, for executor-level tests of sync's windows
(a user's save landing at an exact moment of a download, a conflict or a move)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gsdesktop.sync.planner import Entry
from tests.support.fakeremote import FakeRemote


def entry_of(data: bytes) -> Entry:
    """The sync entry of a file holding ``data``."""
    return Entry(False, hashlib.md5(data).hexdigest(), len(data))


def one_file(tmp: Path, name: str, server: bytes, local: bytes) -> tuple[FakeRemote, str, Path]:
    """A fake server whose folder ``<home>/w`` holds ``name`` = ``server`` and a local folder ``tmp/L``
    holding ``name`` = ``local``: ``(fake, remote folder, local folder)``."""
    tmp.mkdir(parents=True, exist_ok=True)
    fake = FakeRemote()
    remote_root = f"{fake.home}/w"
    fake.mkdir(remote_root)
    src = tmp / "server.bin"
    src.write_bytes(server)
    fake.upload(src, f"{remote_root}/{name}")
    root = tmp / "L"
    root.mkdir()
    (root / name).write_bytes(local)
    return fake, remote_root, root


def trashed() -> list[bytes]:
    """The contents of the files in the (test's own, ``tmp_home``) OS trash."""
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    return [p.read_bytes() for p in trash.iterdir()] if trash.is_dir() else []
