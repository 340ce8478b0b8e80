"""What the sync engine needs of the server: the :class:`RemoteStore` Protocol.

The engine, the executor and the bulk downloads depend on this Protocol, not on a concrete client.
:class:`gsdesktop.datamanager.client.DataManagerClient` satisfies it (checked by mypy where the app,
the CLI and the tests hand one to :class:`~gsdesktop.sync.engine.SyncEngine`); the engine's fast test
tier runs against an in-memory store with the same semantics (``tests/support/fakeremote.py``).

Semantics the engine relies on (the Data Manager's): paths are absolute and ``/``-separated; every
change needs its parent folder (:class:`NotFoundError`, a file there: :class:`ConflictError`); a name
holds a file or a folder, never both (:class:`ConflictError`); ``move`` never replaces an existing
name (:class:`ConflictError`); a conditional ``upload`` / ``delete`` whose precondition no longer holds
changes nothing and raises :class:`PreconditionFailed` (412).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.transfer import CancelToken, ProgressCallback


class RemoteStore(Protocol):
    """The remote side of one sync pair, as the engine, the executor and the watcher use it."""

    @property
    def server_url(self) -> str:
        """The server's base URL (part of the pair's identity)."""
        ...

    @property
    def username(self) -> str:
        """The account (part of the pair's identity)."""
        ...

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` seconds, also used for the lean downloads of signed URLs."""
        ...

    def list_recursive(self, path: str, *, brief: bool = False) -> list[GSFileMetadata]:
        """Every file and folder below the folder ``path`` (not ``path`` itself), parents first.

        ``brief``: only what sync compares need be filled in (path, type, size, MD5, time).
        Raises :class:`NotFoundError` when ``path`` does not exist."""
        ...

    def metadata(self, path: str) -> GSFileMetadata:
        """One file's or folder's metadata (:class:`NotFoundError` when absent)."""
        ...

    def data_fingerprint(self) -> str | None:
        """The server's data fingerprint (changes only when its store is restored from a backup), or
        ``None`` when the server does not tell."""
        ...

    def mkdir(self, path: str, parents: bool = False) -> GSFileMetadata:
        """Create a folder (an existing folder is fine); ``parents``: its missing parents too."""
        ...

    def delete(self, path: str, recursive: bool = False, *, if_match: str | None = None) -> None:
        """Delete a file or an empty folder (a non-empty one: :class:`ConflictError`); ``if_match``:
        only while the file has that hex MD5, else :class:`PreconditionFailed`."""
        ...

    def move(self, src: str, dst: str) -> GSFileMetadata:
        """Rename a file or a folder to the free name ``dst``."""
        ...

    def upload(
        self,
        local: Path,
        remote: str,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        content_type: str | None = None,
        server_metadata: bool = True,
        md5: str | None = None,
        condition: UploadCondition | None = None,
    ) -> GSFileMetadata:
        """Store the local file at ``remote``; ``md5``: the bytes' expected hex MD5 (the store refuses
        other bytes); ``condition``: replace only that version / create only a new name."""
        ...

    def prefetch_upload_urls(
        self,
        items: Sequence[tuple[str, int, str]],
        *,
        content_type: str | None = None,
        conditions: Mapping[str, UploadCondition] | None = None,
    ) -> None:
        """A hint: these ``(remote, size, hex MD5)`` uploads follow (a store may sign them ahead)."""
        ...

    def download(
        self,
        remote: str,
        local: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Path:
        """Download the file ``remote`` to the file path ``local`` (verified, atomically in place)."""
        ...

    def sign_downloads(self, remotes: Sequence[str]) -> dict[str, str]:
        """Signed storage GET URLs of these files, by canonical path; files without one are absent
        (they download through :meth:`download`)."""
        ...
