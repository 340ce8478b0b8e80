"""An in-memory Data Manager for the sync engine's fast test tier: :class:`FakeRemote` is a
:class:`~gsdesktop.sync.remote.RemoteStore` with the real server's semantics, minus HTTP and storage.

- paths are canonical Data Manager paths (``gsdesktop.datamanager.paths.canonical``: the same names are
  refused as by the real client); the account's home ``/users/<name>`` always exists;
- a name holds a file or a folder, never both; every change needs its parent folder (missing:
  ``NotFoundError``, a file: ``ConflictError``); ``move`` never replaces a name (``ConflictError``);
  deleting a non-empty folder without ``recursive`` is a ``ConflictError``;
- files carry their bytes and MD5 (the version); ``upload(condition=...)`` and ``delete(if_match=...)``
  check the precondition and write under one lock, so of racing writers exactly one wins and the others get
  ``PreconditionFailed`` (412), as storage's ``If-Match`` / ``If-None-Match`` make the real server do;
- ``upload(md5=...)`` refuses bytes that do not match the MD5 (``IntegrityError``), as storage does.

Tests inject faults and races with :attr:`FakeRemote.before`: called (outside the lock) with the
operation's name and path before each operation; it may raise (the operation then fails without
effect) or change the store or the local folders (a write racing the engine's step).

Why here and not in ``gsdesktop/sync/``: it is a test double, not something the product ships or runs;
it stays honest by being checked against the Protocol by mypy (see ``[tool.mypy] files``) and by
running the same convergence scenarios as the real server (``tests/integration/test_sync_e2e.py``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.errors import (
    CancelledError,
    ConflictError,
    IntegrityError,
    InvalidRequestError,
    LocalFileError,
    NotFoundError,
    PreconditionFailed,
)
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.transfer import CancelToken, ProgressCallback
from gsdesktop.sync.remote import RemoteStore

Hook = Callable[[str, str], None]  # (operation, canonical path) -> None; may raise


@dataclass(frozen=True)
class Blob:
    data: bytes
    md5: str
    modified: datetime


def _blob(data: bytes) -> Blob:
    return Blob(data, hashlib.md5(data, usedforsecurity=False).hexdigest(), datetime.now(UTC))


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class FakeRemote:
    """One account's files in memory (thread-safe). ``fingerprint``: the data fingerprint it tells."""

    def __init__(
        self, username: str = "alice", server_url: str = "http://fake.invalid", fingerprint: str | None = None
    ) -> None:
        self._server_url = server_url
        self._username = username
        self.fingerprint = fingerprint
        self.home = f"/users/{username}"
        self._lock = threading.Lock()
        self._dirs: set[str] = {"/users", self.home}
        self._files: dict[str, Blob] = {}
        self.before: Hook | None = None
        self.calls = 0  # operations asked (a test's clock)

    # -- identity -------------------------------------------------------------------------------
    @property
    def server_url(self) -> str:
        return self._server_url

    @property
    def username(self) -> str:
        return self._username

    @property
    def timeout(self) -> tuple[float, float]:
        return (10.0, 60.0)

    # -- helpers --------------------------------------------------------------------------------
    def _enter(self, op: str, path: str) -> str:
        canon = P.canonical(path)
        self.calls += 1
        hook = self.before
        if hook is not None:
            hook(op, canon)
        return canon

    def _meta(self, path: str) -> GSFileMetadata:
        name = path.rsplit("/", 1)[-1]
        blob = self._files.get(path)
        if blob is None:
            return GSFileMetadata(name=name, path=path, url="", is_directory=True)
        return GSFileMetadata(
            name=name, path=path, url="", is_directory=False, size=len(blob.data),
            last_modified=blob.modified, md5=blob.md5,
        )  # fmt: skip

    def _need_parent(self, path: str) -> None:
        parent = _parent(path)
        if parent in self._files:
            raise ConflictError(f"parent {parent} is a file, not a directory", paths=[path])
        if parent not in self._dirs:
            raise NotFoundError(f"parent directory {parent} does not exist", paths=[path])

    def _below(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return [p for p in (*self._dirs, *self._files) if p.startswith(prefix)]

    # -- reading --------------------------------------------------------------------------------
    def list_recursive(self, path: str, *, brief: bool = False) -> list[GSFileMetadata]:
        path = self._enter("list", path)
        with self._lock:
            if path in self._files:
                raise InvalidRequestError("Not a folder", paths=[path])
            if path not in self._dirs:
                raise NotFoundError(f"{path} does not exist", paths=[path])
            found = [self._meta(p) for p in self._below(path)]
        return sorted(found, key=lambda m: m.path.split("/"))

    def metadata(self, path: str) -> GSFileMetadata:
        path = self._enter("metadata", path)
        with self._lock:
            if path not in self._files and path not in self._dirs:
                raise NotFoundError(f"{path} does not exist", paths=[path])
            return self._meta(path)

    def data_fingerprint(self) -> str | None:
        self._enter("fingerprint", "/")
        return self.fingerprint

    def read(self, path: str) -> bytes:
        """The bytes of the file ``path`` (for tests; no hook)."""
        with self._lock:
            return self._files[P.canonical(path)].data

    # -- changes --------------------------------------------------------------------------------
    def mkdir(self, path: str, parents: bool = False) -> GSFileMetadata:
        path = self._enter("mkdir", path)
        with self._lock:
            todo = [path]
            if parents:
                up = _parent(path)
                while up not in self._dirs and up != "/":
                    todo.append(up)
                    up = _parent(up)
            for p in reversed(todo):
                if p in self._files:
                    raise ConflictError(f"{p} is a file", paths=[p])
                if p not in self._dirs:
                    self._need_parent(p)
                    self._dirs.add(p)
            return self._meta(path)

    def delete(self, path: str, recursive: bool = False, *, if_match: str | None = None) -> None:
        path = self._enter("delete", path)
        with self._lock:
            blob = self._files.get(path)
            if blob is not None:
                if if_match and blob.md5 != if_match:
                    raise PreconditionFailed(f"{path} changed on the server", paths=[path])
                del self._files[path]
                return
            if path not in self._dirs:
                raise NotFoundError(f"{path} does not exist", paths=[path])
            if path == self.home:
                raise InvalidRequestError("the home folder cannot be deleted", paths=[path])
            inside = self._below(path)
            if inside and not recursive:
                raise ConflictError(f"{path} is not empty", paths=[path])
            for p in inside:
                self._dirs.discard(p)
                self._files.pop(p, None)
            self._dirs.discard(path)

    def move(self, src: str, dst: str) -> GSFileMetadata:
        src = self._enter("move", src)
        dst = P.canonical(dst)
        if dst == src or dst.startswith(src + "/"):
            raise InvalidRequestError("Cannot move a folder into itself", paths=[src, dst])
        with self._lock:
            if dst in self._files or dst in self._dirs:
                raise ConflictError(f"the destination {dst} exists already", paths=[dst])
            if src not in self._files and src not in self._dirs:
                raise NotFoundError(f"move source {src} does not exist", paths=[src])
            self._need_parent(dst)
            if src in self._files:
                self._files[dst] = self._files.pop(src)
            else:
                for p in self._below(src):
                    new = dst + p[len(src) :]
                    if p in self._files:
                        self._files[new] = self._files.pop(p)
                    else:
                        self._dirs.discard(p)
                        self._dirs.add(new)
                self._dirs.discard(src)
                self._dirs.add(dst)
            return self._meta(dst)

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
        remote = self._enter("upload", remote)
        try:
            st = os.stat(local)
            if not stat.S_ISREG(st.st_mode):
                raise LocalFileError("Not a regular file", paths=[str(local)])
            data = Path(local).read_bytes()
        except OSError as exc:
            message = f"Cannot read local file: {exc.strerror or exc}"
            raise LocalFileError(message, paths=[str(local)]) from exc
        if cancel is not None and cancel.cancelled:
            raise CancelledError("Cancelled", paths=[remote])
        blob = _blob(data)
        if md5 is not None and md5 != blob.md5:
            raise IntegrityError("the bytes do not match the MD5 they were signed with", paths=[remote])
        with self._lock:
            self._need_parent(remote)
            current = self._files.get(remote)
            if condition is not None:  # (checked before the folder: the server answers 412 for both)
                lost = f"{remote} changed on the server since you last synced it"
                if condition.if_match and (current is None or current.md5 != condition.if_match):
                    raise PreconditionFailed(lost, paths=[remote])
                if condition.if_none_match and (current is not None or remote in self._dirs):
                    raise PreconditionFailed(lost, paths=[remote])
            if remote in self._dirs:
                raise ConflictError(f"{remote} is a directory", paths=[remote])
            self._files[remote] = blob
            meta = self._meta(remote)
        if progress is not None:
            progress(len(data), len(data))
        return meta

    def prefetch_upload_urls(
        self,
        items: Sequence[tuple[str, int, str]],
        *,
        content_type: str | None = None,
        conditions: Mapping[str, UploadCondition] | None = None,
    ) -> None:
        """Nothing to sign ahead in memory."""

    def download(
        self,
        remote: str,
        local: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Path:
        remote = self._enter("download", remote)
        with self._lock:
            blob = self._files.get(remote)
            if blob is None:
                if remote in self._dirs:
                    raise InvalidRequestError(f"{remote} is a folder", paths=[remote])
                raise NotFoundError(f"{remote} does not exist", paths=[remote])
        if cancel is not None and cancel.cancelled:
            raise CancelledError("Cancelled", paths=[remote])
        target = Path(local)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        tmp.write_bytes(blob.data)
        os.replace(tmp, target)
        if progress is not None:
            progress(len(blob.data), len(blob.data))
        return target

    def sign_downloads(self, remotes: Sequence[str]) -> dict[str, str]:
        return {}  # no storage URLs: every download takes download()


def _conforms(store: FakeRemote) -> RemoteStore:
    return store  # mypy: FakeRemote is a RemoteStore
