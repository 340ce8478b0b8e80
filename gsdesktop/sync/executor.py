"""Carrying out a plan: phases in order, bounded pools, every step verified against the real world.

Each step re-checks its precondition just before acting (the local file still has the identity that
was scanned, the remote file still has the MD5 the plan expects) and records its result in the base
only after the side effect is durable. Local deletions and local files replaced by a download go to
the OS trash. Downloads land in ``.gsdesktop-cache`` first and are renamed into place.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.errors import (
    CancelledError,
    ConflictError,
    InvalidRequestError,
    LocalFileError,
    NotFoundError,
    PreconditionFailed,
)
from gsdesktop.datamanager.transfer import CancelToken
from gsdesktop.sync.bulkdl import BulkDownloads, sync_filesystem
from gsdesktop.sync.events import (
    ActionDone,
    ActionKind,
    ConflictDetected,
    Direction,
    FileProgress,
    ProblemKind,
    SyncEvent,
)
from gsdesktop.sync.localfs import SWAPPED_PREFIX, scratch_name
from gsdesktop.sync.outcome import Outcome
from gsdesktop.sync.planner import DIR, Action, Entry, Op, Phase, Plan, conflict_name
from gsdesktop.sync.problems import (
    SOON_SECONDS,
    AuthFailed,
    Offline,
    ProblemCleared,
    ProblemRaised,
    ProblemUpdate,
    Scope,
    classify,
    describe,
    expected,
)
from gsdesktop.sync.progress import ProgressTracker
from gsdesktop.sync.remote import RemoteStore
from gsdesktop.sync.scanner import CACHE_DIR, md5_of
from gsdesktop.sync.shares import NoAccess, no_access_message
from gsdesktop.sync.state import CachedHash, StateDB
from gsdesktop.sync.swap import exchange, place_new, rename_noreplace
from gsdesktop.sync.throttle import RENAME_HINT, Throttle, refusal_reason, verb

log = logging.getLogger(__name__)

RECORD_BATCH = 200


class Skipped(Exception):
    """The precondition no longer holds; the next round re-plans this path (not an error)."""


class Busy(Exception):
    """The local file is being written; retry soon.

    ``landed``: what the step nevertheless stored on the server (an upload that completed while the
    file changed under it), and whether the base recorded it: the engine's remote snapshot must
    follow, or a later cycle would plan against the version the server no longer has.
    """

    def __init__(self, message: str, landed: Entry | None = None, recorded: bool = False) -> None:
        super().__init__(message)
        self.landed = landed
        self.recorded = recorded


@dataclass
class ExecContext:
    """What an executor works with, given by the engine when it creates one (per cycle).

    The maps are the engine's own: the executor keeps them current as it changes files.

    Attributes:
        local_ids: scanned identities ``(inode, size, mtime_ns)`` of the local files.
        hashes: the engine's in-memory hash cache (None: none kept).
        downloaded: identities of files this engine downloaded and nobody changed since: a version that
            only passed through this machine (e.g. a growing file's partial copy) is replaced without a
            copy in the trash.
        retry_base: first retry delay of a failed file.
        verify_remote: check the remote before writing (the plan was made from a stale remote snapshot).
        transfers: parallel steps; min_age: a local file must be this old (seconds) to be uploaded.
        up / down: bandwidth limiters; own_write: tells the watcher about the executor's own writes;
        cancel: stops the run (paused or stopping).
        host: this machine's name in conflicted copies the executor makes itself (a save that landed
            while a download took its name).
    """

    local_ids: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    hashes: dict[str, CachedHash] | None = None
    downloaded: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    retry_base: float = 10.0
    verify_remote: bool = False
    transfers: int = 8
    min_age: float = 0.5
    up: Throttle = field(default_factory=lambda: Throttle(None))
    down: Throttle = field(default_factory=lambda: Throttle(None))
    own_write: Callable[[str], None] = field(default=lambda _p: None)
    cancel: CancelToken = field(default_factory=CancelToken)
    host: str = "host"


def _place_new(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to the free name ``target``, never over a file that appeared there meanwhile (a
    user's save): :class:`Skipped` then, and the next round plans with it."""
    try:
        place_new(tmp, target)
    except FileExistsError:
        raise Skipped("a local file appeared where the download goes") from None


class Executor:
    """Runs plans for one engine. ``emit`` forwards events; ``context`` is what it works with."""

    def __init__(
        self,
        client: RemoteStore,
        local_root: Path,
        remote_root: str,
        db: StateDB,
        emit: Callable[[SyncEvent], None],
        context: ExecContext,
    ) -> None:
        self.client = client
        self.root = local_root
        self.remote_root = remote_root.rstrip("/")
        self.db = db
        self.progress = ProgressTracker.stored(db, emit)  # this cycle's files and bytes (SyncProgress)
        self.emit = self.progress.follow(emit)
        self.transfers = max(1, context.transfers)
        self.min_age = context.min_age
        self.up = context.up
        self.down = context.down
        self.own_write = context.own_write
        self.cancel = context.cancel
        self.cache = local_root / CACHE_DIR
        self.local_ids = context.local_ids
        self.retry_base = context.retry_base
        self.verify_remote = context.verify_remote
        self.hashes = context.hashes
        self.downloaded = context.downloaded
        self.host = context.host
        self.expected_remote: Mapping[str, Entry] = {}  # the remote tree the running plan was made from
        self._problems: list[ProblemUpdate] = []
        self._lock = threading.Lock()
        self._deferred: list[tuple[str, Entry | None]] = []  # upload results not yet in the base
        self._deferred_hashes: list[tuple[str, CachedHash]] = []  # of bulk downloads, with the records
        self._unsynced = False  # bulk downloads were written but not yet flushed to disk
        self.bulk = BulkDownloads(client, self.rpath, self.cache)  # small new files
        self._problem_paths: set[str] | None = None  # paths with a recorded problem (this run)
        self._unreachable = False  # a step found the server or the store unreachable

    # -- helpers ------------------------------------------------------------------------------
    def rpath(self, rel: str) -> str:
        return f"{self.remote_root}/{rel}"

    def lpath(self, rel: str) -> Path:
        return self.root / rel

    def _ident(self, rel: str) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.lpath(rel), follow_symlinks=False)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _unchanged(self, rel: str) -> bool:
        """The local file still has the identity it had when scanned."""
        return self._ident(rel) == self.local_ids.get(rel)

    def _remember(self, rel: str, md5: str, ident: tuple[int, int, int] | None = None) -> None:
        """``rel`` now holds the version with MD5 ``md5``; ``ident``: the identity that version had
        before it took the name (a save landing right after must not be recorded as it)."""
        if ident is None:
            st = os.stat(self.lpath(rel), follow_symlinks=False)
            ident = (st.st_ino, st.st_size, st.st_mtime_ns)
        self.local_ids[rel] = ident
        cached = CachedHash(*ident, md5)
        self.db.put_hashes([(rel, cached)])
        if self.hashes is not None:
            self.hashes[rel] = cached
        self.own_write(rel)

    def _trash(self, p: Path) -> None:
        from send2trash import send2trash

        send2trash(str(p))

    def _new_tmp(self) -> Path:
        self.cache.mkdir(exist_ok=True)
        return self.cache / f"dl-{secrets.token_hex(8)}"

    # -- running ------------------------------------------------------------------------------
    def run(self, plan: Plan, expected_remote: Mapping[str, Entry]) -> Outcome:
        """Carry out ``plan``, made against the remote tree ``expected_remote``."""
        self.expected_remote = expected_remote
        self.progress.add(plan.actions)
        try:
            return self._run(plan)
        finally:
            self.progress.end_round()  # what did not finish drops out of the counts

    def _run(self, plan: Plan) -> Outcome:
        out = Outcome()
        self._problem_paths = {p.path for p in self.db.problems()}
        self._unreachable = False
        for phase, group in zip(Phase, plan.by_phase(), strict=True):
            if not group:
                continue
            if phase in (Phase.MKDIR, Phase.PRE_DELETE, Phase.DELETE):
                levels: dict[int, list[Action]] = {}
                for a in group:
                    levels.setdefault(a.depth, []).append(a)
                order = sorted(levels) if phase is Phase.MKDIR else sorted(levels, reverse=True)
                for d in order:
                    self._parallel(levels[d], out)
            else:
                self._prefetch_urls(group)
                self.bulk.prefetch(group, self.local_ids.__contains__)
                self._parallel(group, out)
        self.bulk.clear()
        return out

    def _prefetch_urls(self, group: list[Action]) -> None:
        """Let the client sign this phase's uploads ahead, many per request (when it can)."""
        items = [
            (self.rpath(a.path), a.entry.size, a.entry.md5)
            for a in group
            if a.op is Op.UPLOAD and a.entry is not None and a.entry.md5
        ]
        if len(items) > 1:
            conditions: dict[str, UploadCondition] = {}
            for a in group:
                cond = self._condition(a.path) if a.op is Op.UPLOAD else None
                if cond is not None:
                    conditions[self.rpath(a.path)] = cond
            try:
                self.client.prefetch_upload_urls(items, conditions=conditions)
            except Exception:  # only an optimisation: each upload then asks for its own URL
                log.warning("signing uploads ahead failed; they are signed one by one", exc_info=True)

    def _condition(self, rel: str) -> UploadCondition | None:
        """What the server must still hold for an upload of ``rel`` to replace it: the version the
        plan saw there (its MD5), or nothing (a new name; a folder there was removed first)."""
        seen = self.expected_remote.get(rel)
        if seen is None or seen.is_dir:
            return UploadCondition(if_none_match=True)
        if seen.md5 and len(seen.md5) == 32:
            return UploadCondition(if_match=seen.md5)
        return None  # a server without MD5s: nothing to condition on

    def _parallel(self, actions: list[Action], out: Outcome) -> None:
        todo = actions
        if out.failed:
            # A failed step invalidates the plan at its path: skip later steps at that path or below it
            # (a folder must not be created where removing a changed file failed, nothing is uploaded
            # into it), and deletions of the folders above it. Ancestor lookup: linear, not n x m.
            failed = set(out.failed)
            below: set[str] = set()
            for f in failed:
                parts = f.split("/")
                below.update("/".join(parts[:i]) for i in range(1, len(parts)))
            todo = []
            for a in actions:
                parts = a.path.split("/")
                if any("/".join(parts[:i]) in failed for i in range(1, len(parts) + 1)) or (
                    a.phase is Phase.DELETE and a.path in below
                ):
                    out.failed.add(a.path)
                else:
                    todo.append(a)
        try:
            self._run_actions(todo, out)
        finally:
            self._flush_records()

    def _run_actions(self, todo: list[Action], out: Outcome) -> None:
        if not todo:
            return  # everything of this batch lay below a failed item: nothing to do is no error
        if len(todo) == 1 or self.transfers == 1:
            for a in todo:
                self._one(a, out)
            return
        with ThreadPoolExecutor(
            max_workers=min(self.transfers, len(todo)), thread_name_prefix="gs-sync"
        ) as pool:
            futures = [pool.submit(self._one, a, out) for a in todo]
            errors: list[BaseException] = []
            for f in futures:
                exc = f.exception()
                if exc is not None:
                    errors.append(exc)
        for exc in errors:
            if isinstance(exc, Offline | AuthFailed | NoAccess):
                raise exc
        if errors:
            raise errors[0]

    def _one(self, a: Action, out: Outcome) -> None:
        if self.cancel.cancelled or self._unreachable:  # (unreachable: the cycle ends offline)
            with self._lock:
                out.failed.add(a.path)
            return
        try:
            actual, nbytes = self._do(a)
        except Skipped as exc:
            log.debug("skipped %s %s: %s", a.op.value, a.path, exc)
            with self._lock:
                out.failed.add(a.path)
            return
        except Busy as exc:
            self._problem(ProblemRaised(a.path, ProblemKind.CHANGING, str(exc), SOON_SECONDS))
            with self._lock:
                out.failed.add(a.path)
                if exc.landed is not None:
                    out.landed[a.path] = (exc.landed, exc.recorded)
            return
        except CancelledError:
            with self._lock:
                out.failed.add(a.path)  # paused or stopping: simply not done yet
            return
        except PreconditionFailed as exc:
            log.info("%s %s: %s", a.op.value, a.path, exc)
            with self._lock:
                out.stale.add(a.path)
            return
        except NotFoundError as exc:
            # the remote changed under us (e.g. a folder was moved meanwhile): re-plan next cycle
            log.info("remote changed under %s %s: %s", a.op.value, a.path, exc)
            with self._lock:
                out.failed.add(a.path)
            return
        except Exception as exc:  # one vocabulary with the engine (problems.classify)
            found = classify(exc, self.retry_base)
            if found.scope is Scope.PAIR:
                if found.kind is ProblemKind.OFFLINE:
                    self._unreachable = True  # the queued steps would only wait through the same retries
                    raise Offline(str(exc)) from exc
                if found.kind is ProblemKind.NO_ACCESS:  # the share was revoked meanwhile: stop
                    self._unreachable = True
                    raise NoAccess(no_access_message(self.remote_root)) from exc
                raise AuthFailed(str(exc)) from exc
            if not expected(exc):  # a bug around one file must not stop the others: per-file, retried
                debug = log.isEnabledFor(logging.DEBUG)
                log.error("%s %s failed: %r", a.op.value, a.path, exc, exc_info=debug)
            if found.kind is ProblemKind.BAD_NAME and isinstance(exc, InvalidRequestError):
                # a name the server or the client library refuses: told once, not retried until the
                # name changes; a rename is refused for its new name
                where = a.dest if a.op in (Op.MOVE_REMOTE, Op.ASIDE_REMOTE) and a.dest else a.path
                told = f"Not synced: {refusal_reason(exc)}. {RENAME_HINT}"
                self._problem(ProblemRaised(where, found.kind, told, found.retry))
            else:
                told = f"{verb(a.op)} failed: {describe(exc)}"
                self._problem(ProblemRaised(a.path, found.kind, told, found.retry))
            with self._lock:
                out.failed.add(a.path)
            return
        with self._lock:
            out.done.append(a)
            out.actual[a.dest if a.op in (Op.MOVE_LOCAL, Op.MOVE_REMOTE) and a.dest else a.path] = actual
            if a.op is Op.UPLOAD:
                out.bytes_up += nbytes
            elif a.op in (Op.DOWNLOAD, Op.CONFLICT):
                out.bytes_down += nbytes
        known = self._problem_paths
        if (known is None or a.path in known) and self.db.clear_problem(a.path):
            self._problem(ProblemCleared(a.path))

    def _problem(self, update: ProblemUpdate) -> None:
        with self._lock:
            self._problems.append(update)

    def take_problems(self) -> list[ProblemUpdate]:
        """The problems raised and cleared since the last call (the engine records them)."""
        with self._lock:
            taken, self._problems = self._problems, []
        return taken

    # -- the steps ----------------------------------------------------------------------------
    def _do(self, a: Action) -> tuple[Entry | None, int]:
        op = a.op
        if op is Op.RECORD:
            self.db.record(a.path, a.entry)
            return a.entry, 0
        if op is Op.UPLOAD:
            return self._upload(a)
        if op in (Op.DOWNLOAD, Op.CONFLICT):
            return self._download(a)
        if op is Op.MKDIR_LOCAL:
            p = self.lpath(a.path)
            try:
                p.mkdir()
            except FileExistsError:
                if not p.is_dir() or p.is_symlink():
                    raise Skipped("a file appeared where the folder goes") from None
            self.own_write(a.path)
            self._finish(a, DIR, ActionKind.MKDIR_LOCAL)
            return DIR, 0
        if op is Op.MKDIR_REMOTE:
            self.client.mkdir(self.rpath(a.path))
            self._finish(a, DIR, ActionKind.MKDIR_REMOTE)
            return DIR, 0
        if op is Op.DELETE_LOCAL:
            return self._delete_local(a)
        if op is Op.DELETE_REMOTE:
            return self._delete_remote(a)
        if op is Op.MOVE_REMOTE:
            assert a.dest is not None
            meta = self.client.metadata(self.rpath(a.path))
            if a.entry is not None and a.entry.is_dir:
                if not meta.is_directory:
                    raise Skipped("remote source is no longer a folder")
                self.client.move(self.rpath(a.path), self.rpath(a.dest))
                self.db.move_subtree(a.path, a.dest)  # the folder's synced contents follow it
                self.emit(ActionDone(ActionKind.MOVED_REMOTE, a.dest, None))
                return a.entry, 0
            if a.entry is not None and meta.md5 and meta.md5 != a.entry.md5:
                raise Skipped("remote source changed")
            self.client.move(self.rpath(a.path), self.rpath(a.dest))
            self.db.record_many([(a.path, None), (a.dest, a.entry)])
            self.emit(ActionDone(ActionKind.MOVED_REMOTE, a.dest, a.entry.size if a.entry else None))
            return a.entry, 0
        if op is Op.MOVE_LOCAL:
            assert a.dest is not None
            src, dst = self.lpath(a.path), self.lpath(a.dest)
            if a.entry is not None and a.entry.is_dir:
                return self._move_local_folder(a, src, dst)
            if not self._unchanged(a.path):
                raise Skipped("local source changed")
            if os.path.lexists(dst):  # renamed over a file on the other side: replace it here too
                cur = self._ident(a.dest)
                if cur is None or cur != self.local_ids.get(a.dest) or dst.is_dir():
                    raise Skipped("the target changed since the scan")
                if self.downloaded.get(a.dest) != cur:
                    self._trash_replaced(dst)
                self._take_name(a.dest, src, dst, cur)  # a save there meanwhile: a conflicted copy
            else:
                try:
                    rename_noreplace(src, dst)
                except FileExistsError:
                    raise Skipped("a local file appeared at the target") from None
            self.local_ids[a.dest] = self.local_ids.pop(a.path, (0, 0, 0))
            moved = self.downloaded.pop(a.path, None)
            if moved is not None:
                self.downloaded[a.dest] = moved
            else:
                self.downloaded.pop(a.dest, None)
            if self._ident(a.dest) != self.local_ids[a.dest]:  # saved again between the check and the
                self.local_ids[a.dest] = self._ident(a.dest) or (0, 0, 0)  # rename: not the planned
                self.db.drop_hashes([a.dest])  # version; the next scan hashes it (an edit to upload)
                if self.hashes is not None:
                    self.hashes.pop(a.dest, None)
            elif a.entry is not None and a.entry.md5:
                self._remember(a.dest, a.entry.md5, self.local_ids[a.dest])
            self.own_write(a.path)
            self.db.record_many([(a.path, None), (a.dest, a.entry)])
            self.emit(ActionDone(ActionKind.MOVED_LOCAL, a.dest, a.entry.size if a.entry else None))
            return a.entry, 0
        if op is Op.ASIDE_LOCAL:
            assert a.dest is not None
            try:
                rename_noreplace(self.lpath(a.path), self.lpath(a.dest))
            except FileExistsError:
                raise Skipped("target exists") from None
            with self._lock:
                for rel in [r for r in self.local_ids if r == a.path or r.startswith(a.path + "/")]:
                    self.local_ids[a.dest + rel[len(a.path) :]] = self.local_ids.pop(rel)
            self.own_write(a.path)
            self.own_write(a.dest)
            self._conflict(a.path, a.dest)
            return None, 0
        if op is Op.ASIDE_REMOTE:
            assert a.dest is not None
            self.client.move(self.rpath(a.path), self.rpath(a.dest))
            self._conflict(a.path, a.dest)
            return None, 0
        raise AssertionError(op)

    def _move_local_folder(self, a: Action, src: Path, dst: Path) -> tuple[Entry | None, int]:
        """A folder renamed on the server: one local rename (its contents, hashes and base follow)."""
        assert a.dest is not None
        if src.is_symlink() or not src.is_dir():
            raise Skipped("local folder changed")
        try:
            rename_noreplace(src, dst)
        except FileExistsError:
            raise Skipped("the target exists") from None
        old, new = a.path, a.dest
        with self._lock:
            for rel in [r for r in self.local_ids if r.startswith(old + "/")]:
                self.local_ids[new + rel[len(old) :]] = self.local_ids.pop(rel)
            if self.hashes is not None:
                for rel in [r for r in self.hashes if r.startswith(old + "/")]:
                    self.hashes[new + rel[len(old) :]] = self.hashes.pop(rel)
        self.db.move_subtree(old, new)
        self.own_write(old)
        self.own_write(new)
        self.emit(ActionDone(ActionKind.MOVED_LOCAL, new, None))
        return a.entry, 0

    def _finish(self, a: Action, entry: Entry | None, kind: ActionKind, size: int | None = None) -> None:
        if a.record and a.op is Op.UPLOAD:
            # the file is durably stored: its base entry is written with others (one transaction per
            # batch, not one per file). A crash before that only leaves both sides identical, which
            # the next round records without transferring anything.
            with self._lock:
                self._deferred.append((a.path, entry))
                full = len(self._deferred) >= RECORD_BATCH
            if full:
                self._flush_records()
        elif a.record:
            self.db.record(a.path, entry)
        self.emit(ActionDone(kind, a.path, size))

    def _flush_records(self) -> None:
        with self._lock:
            batch, self._deferred = self._deferred, []
            hashes, self._deferred_hashes = self._deferred_hashes, []
            unsynced, self._unsynced = self._unsynced, False
        if unsynced:
            sync_filesystem(self.root)  # the bulk downloads are durable before the base says so
        if hashes:
            self.db.put_hashes(hashes)
        if batch:
            self.db.record_many(batch)

    def _conflict(self, path: str, copy: str) -> None:
        ev = ConflictDetected(path, copy)
        self.db.add_conflict(ev)
        self.emit(ActionDone(ActionKind.CONFLICT_COPY, copy))
        self.emit(ev)

    def _upload(self, a: Action) -> tuple[Entry | None, int]:
        assert a.entry is not None
        p = self.lpath(a.path)
        ident = self._ident(a.path)
        if ident is None:
            raise Skipped("local file vanished")
        if ident != self.local_ids.get(a.path):
            raise Busy("the file changed since it was scanned")
        if 0 <= time.time() - ident[2] / 1e9 < self.min_age:  # (a future mtime: the scan saw it settle)
            raise Busy("the file is still being written")
        size = ident[1]
        if self.verify_remote:
            self._check_remote_unchanged(a.path)

        def prog(done: int, total: int) -> None:
            self.emit(FileProgress(a.path, Direction.UP, done, total))

        # the scan's MD5 (the file still has the identity it was hashed with): signed into the PUT,
        # so storage rejects the bytes if they no longer match it, and the file is read once
        meta = self.client.upload(
            p,
            self.rpath(a.path),
            progress=self.up.progress(prog),
            cancel=self.cancel,
            server_metadata=False,
            md5=a.entry.md5 or None,
            condition=self._condition(a.path),
        )
        remote = Entry(False, meta.md5 or a.entry.md5, meta.size if meta.size is not None else size)
        if self._ident(a.path) != ident or (meta.md5 and meta.md5 != a.entry.md5):
            # the remote now holds what was read (the version scanned: storage checked its MD5), which
            # was also the local version when the upload began: the base records it, so the newer
            # local version is uploaded next; the engine's remote snapshot follows (Busy.landed)
            if a.record:
                self.db.record(a.path, remote)
            raise Busy("the file changed during the upload", landed=remote, recorded=a.record)
        self._finish(a, remote, ActionKind.UPLOADED, size)
        return remote, size

    def _check_remote_unchanged(self, rel: str) -> None:
        """The remote still matches the (possibly stale) snapshot the plan was made from."""
        expected = self.expected_remote.get(rel)
        try:
            meta = self.client.metadata(self.rpath(rel))
        except NotFoundError:
            if expected is not None:
                raise Skipped("remote file vanished") from None
            return
        if (
            expected is None
            or expected.is_dir != meta.is_directory
            or (not meta.is_directory and meta.md5 != expected.md5)
        ):
            raise Skipped("the remote changed since it was listed")

    def _download(self, a: Action) -> tuple[Entry | None, int]:
        assert a.entry is not None
        url = self.bulk.take(a)
        if url is not None:
            small = self._download_small(a, url)
            if small is not None:
                return small
        target = self.lpath(a.path)
        tmp = self._new_tmp()
        try:

            def prog(done: int, total: int) -> None:
                self.emit(FileProgress(a.path, Direction.DOWN, done, total))

            try:
                self.client.download(
                    self.rpath(a.path), tmp, progress=self.down.progress(prog), cancel=self.cancel
                )
            except NotFoundError:
                raise Skipped("remote file vanished") from None
            md5 = md5_of(tmp)
            size = tmp.stat().st_size
            entry = Entry(False, md5, size)
            if a.op is Op.CONFLICT:
                assert a.dest is not None
                try:
                    rename_noreplace(target, self.lpath(a.dest))
                except FileExistsError:
                    raise Skipped("conflict copy name taken") from None
                self.own_write(a.dest)
                ident = self.local_ids.pop(a.path, None)
                if ident is not None:
                    self.local_ids[a.dest] = ident
                self._conflict(a.path, a.dest)
                cur = None  # the name is free now: a save landing there meanwhile is kept
            else:
                cur = self._ident(a.path)
                if cur != self.local_ids.get(a.path):
                    # the local file changed (or appeared) since the scan: keep it as a conflict copy
                    if cur is None:
                        raise Skipped("local file vanished")
                    raise Skipped("local file changed since the scan")
                if cur is not None:
                    if target.is_dir():
                        raise Skipped("a folder is where the file goes")
                    if self.downloaded.get(a.path) != cur:
                        self._trash_replaced(target)
            st = os.stat(tmp)  # (a rename or link keeps it: a save after the placement is not this)
            placed = (st.st_ino, st.st_size, st.st_mtime_ns)
            if cur is None:
                _place_new(tmp, target)
            else:
                # under a name the next start's cache cleaning keeps: after the exchange a save made in the
                # window waits here an instant, and a crash must not cost it (clean_cache trashes it)
                swapping = self.cache / f"{SWAPPED_PREFIX}{secrets.token_hex(8)}"
                os.rename(tmp, swapping)
                self._take_name(a.path, swapping, target, cur)
            self._remember(a.path, md5, placed)
            with self._lock:
                self.downloaded[a.path] = placed
        finally:
            if tmp.exists():
                try:
                    tmp.unlink()
                except OSError:
                    pass
        self._finish(a, entry, ActionKind.DOWNLOADED, size)
        return entry, size

    def _take_name(self, rel: str, new: Path, target: Path, checked: tuple[int, int, int]) -> None:
        """Put ``new`` (a download, or a file moved here) in the place of the local file ``rel`` last
        seen with identity ``checked``; ``new``'s name is gone afterwards.

        One atomic exchange where the system has it; what it swaps out (now at ``new``'s name) is
        looked at: the version checked is removed (the caller put it in the trash where it is kept); a
        save that landed after the last check (an editor's rename over the name) is kept as a conflicted
        copy, never replaced. Without the exchange: a rename over the name (a save in that very instant
        is replaced: README, Sync)."""
        try:
            swapped = exchange(new, target)
        except FileNotFoundError:  # the name went away since the check: it is free
            _place_new(new, target)
            return
        if not swapped:
            os.replace(new, target)
            return
        st = os.stat(new, follow_symlinks=False)
        if (st.st_ino, st.st_size, st.st_mtime_ns) == checked:
            os.unlink(new)
            return
        try:
            copy = self._keep_aside(new, rel)
        except OSError:  # no conflicted copy possible: the save goes to the trash (never lost)
            keep = self.cache / scratch_name(f"saved-{secrets.token_hex(6)}-", target.name)
            os.rename(new, keep)
            log.error("could not keep a save of %s beside it; it is in the trash", rel)
            self._trash(keep)
            raise
        # (no own_write: the copy is a new local file the next cycle uploads)
        self._conflict(rel, copy)

    def _keep_aside(self, src: Path, rel: str) -> str:
        """Move ``src`` to a free conflicted-copy name of ``rel`` (never over anything); its path."""
        when = datetime.now()
        for _ in range(100):
            copy = conflict_name(rel, self.host, when, lambda p: os.path.lexists(self.lpath(p)))
            try:
                rename_noreplace(src, self.lpath(copy))
            except FileExistsError:
                continue  # taken meanwhile: the next name
            return copy
        raise FileExistsError(errno.EEXIST, "no free conflicted-copy name", rel)

    def _download_small(self, a: Action, url: str) -> tuple[Entry | None, int] | None:
        """A small new file by its bulk-signed URL (:mod:`gsdesktop.sync.bulkdl`): no fsync of its own
        (one file-system flush per batch, before the base records it); ``None``: the full path."""
        assert a.entry is not None
        target = self.lpath(a.path)
        try:
            fetched = self.bulk.fetch(a, url, target)
        except FileExistsError:
            raise Skipped("a local file appeared where the download goes") from None
        if fetched is None:
            return None
        data, ident = fetched
        entry = Entry(False, a.entry.md5, len(data))
        cached = CachedHash(*ident, a.entry.md5 or "")
        with self._lock:
            self.local_ids[a.path] = ident
            self.downloaded[a.path] = ident
            if self.hashes is not None:
                self.hashes[a.path] = cached
            self._deferred_hashes.append((a.path, cached))
            if a.record:
                self._deferred.append((a.path, entry))
            self._unsynced = True
            full = len(self._deferred) >= RECORD_BATCH
        self.own_write(a.path)
        tell = self.down.progress(lambda d, t: self.emit(FileProgress(a.path, Direction.DOWN, d, t)))
        tell(len(data), len(data))
        self.emit(ActionDone(ActionKind.DOWNLOADED, a.path, len(data)))
        if full:
            self._flush_records()
        return entry, len(data)

    def _trash_replaced(self, target: Path) -> None:
        """Keep the version a download replaces: a hard link into the trash (no copy, no gap)."""
        self.cache.mkdir(exist_ok=True)
        keep = self.cache / scratch_name(f"replaced-{secrets.token_hex(6)}-", target.name)
        try:
            os.link(target, keep)
        except OSError:
            shutil.copy2(target, keep)
        self._trash(keep)

    def _delete_local(self, a: Action) -> tuple[Entry | None, int]:
        p = self.lpath(a.path)
        if a.entry is not None and a.entry.is_dir:
            try:
                os.rmdir(p)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                if any(self._visible(e) for e in os.scandir(p)):
                    raise Skipped("folder not empty") from None
                self._trash(p)  # only ignored files (e.g. .DS_Store) are left
            self.own_write(a.path)
            self._finish(a, None, ActionKind.RMDIR_LOCAL)
            return None, 0
        ident = self._ident(a.path)
        if ident is not None:
            if ident != self.local_ids.get(a.path):
                raise Skipped("local file changed since the scan")  # an edit beats the delete
            self._trash(p)
            self.own_write(a.path)
        with self._lock:
            self.local_ids.pop(a.path, None)
        self.db.drop_hashes([a.path])
        self._finish(a, None, ActionKind.DELETED_LOCAL_TO_TRASH, a.entry.size if a.entry else None)
        return None, 0

    def _visible(self, de: os.DirEntry[str]) -> bool:
        import pathspec

        from gsdesktop.sync.scanner import DEFAULT_IGNORES

        spec = pathspec.GitIgnoreSpec.from_lines(DEFAULT_IGNORES)
        return not spec.match_file(de.name + ("/" if de.is_dir(follow_symlinks=False) else ""))

    def _delete_remote(self, a: Action) -> tuple[Entry | None, int]:
        r = self.rpath(a.path)
        if a.entry is not None and a.entry.is_dir:
            try:
                self.client.delete(r)
            except NotFoundError:
                pass
            except ConflictError:
                raise Skipped("remote folder not empty") from None
            self._finish(a, None, ActionKind.RMDIR_REMOTE)
            return None, 0
        try:
            meta = self.client.metadata(r)
        except NotFoundError:
            self._finish(a, None, ActionKind.DELETED_REMOTE)
            return None, 0
        if a.entry is not None and meta.md5 and meta.md5 != a.entry.md5:
            raise Skipped("remote file changed")  # an edit beats the delete
        try:
            # only that version: an upload landing after the check above is never deleted (the server
            # answers 412, PreconditionFailed, and the cycle re-plans: the new version is downloaded)
            self.client.delete(r, if_match=a.entry.md5 if a.entry is not None else None)
        except NotFoundError:
            pass
        self._finish(a, None, ActionKind.DELETED_REMOTE, a.entry.size if a.entry else None)
        return None, 0


__all__ = [
    "AuthFailed", "Busy", "ExecContext", "Executor", "LocalFileError", "Offline", "Outcome", "Skipped",
    "Throttle",
]  # fmt: skip
