"""Public facade of the sync engine: :class:`SyncEngine`, :class:`SyncConfig`, :class:`SyncReport`.

One engine instance keeps one local folder and one Data Manager folder identical. ``sync_once()`` runs
one full cycle (scan both sides, plan, execute) on the calling thread. ``start()`` runs watch mode on
background threads (file watcher + remote polling + periodic rescan) until ``stop()``. Progress and state
reach subscribers as typed events (:mod:`gsdesktop.sync.events`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gsdesktop.datamanager.errors import CancelledError, NotFoundError
from gsdesktop.datamanager.transfer import CancelToken
from gsdesktop.sync.conflicts import Conflict, Keep, open_conflicts, resolve
from gsdesktop.sync.events import (
    ActionDone,
    ConflictDetected,
    CycleDone,
    ProblemChanged,
    ProblemKind,
    ServerRestored,
    StateChanged,
    SyncEvent,
    SyncProblem,
    SyncState,
)
from gsdesktop.sync.executor import ExecContext, Executor, Throttle
from gsdesktop.sync.holds import PendingDeletions, hold_mass_deletions
from gsdesktop.sync.localfs import clean_cache, folds_names
from gsdesktop.sync.model import SyncConfig, SyncMode, SyncReport
from gsdesktop.sync.moves import MoveWatch
from gsdesktop.sync.outcome import apply_outcome
from gsdesktop.sync.planner import Action, Entry, Op, fold_case, plan
from gsdesktop.sync.problems import ProblemCleared, classify, describe, expected
from gsdesktop.sync.remote import RemoteStore
from gsdesktop.sync.scanner import MARKER, Ignore, remote_tree, scan_local
from gsdesktop.sync.settle import Settle
from gsdesktop.sync.shares import (
    READ_ONLY_NOTICE,
    READ_ONLY_UPLOAD_PAIR,
    NoAccess,
    access_level,
    no_access_message,
    read_only_base,
    waiting_uploads,
)
from gsdesktop.sync.state import CachedHash, StateDB, default_state_dir, pair_id

if TYPE_CHECKING:
    from gsdesktop.sync.watch import WatchLoop


Subscriber = Callable[[SyncEvent], None]
log = logging.getLogger(__name__)

ACTIVITY_BATCH = 200  # activity rows written per transaction

MAX_ROUNDS = 8
DATA_FINGERPRINT = "data_fingerprint"  # meta key: the server's data fingerprint last seen
RESTORE_PENDING = "restore_pending"  # meta key: non-empty while a restore-mode sync is unfinished


def _host() -> str:
    return socket.gethostname().split(".")[0] or "host"


def _under(rel: str, roots: frozenset[str] | set[str]) -> bool:
    if not roots:
        return False
    if rel in roots:
        return True
    return any(rel.startswith(a + "/") for a in ancestors_and_self_prefixes(rel) if a in roots)


def ancestors_and_self_prefixes(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _drop(tree: dict[str, Entry], frozen: set[str]) -> dict[str, Entry]:
    if not frozen:
        return tree
    return {p: e for p, e in tree.items() if not _under(p, frozen)}


class SyncEngine:
    """Keeps ``local_root`` and the Data Manager folder ``remote_root`` identical.

    Args:
        client: the remote side: a logged-in (or able to log in)
            :class:`~gsdesktop.datamanager.client.DataManagerClient`, or any :class:`RemoteStore`.
        local_root: the local folder (created if missing on first sync).
        remote_root: absolute Data Manager path, e.g. ``/users/alice/lab``.
        config: settings; defaults to :class:`SyncConfig()`.
        state_dir: where the SQLite state lives; default: the platform data dir (never inside the
            synced folder).
    """

    def __init__(
        self,
        client: RemoteStore,
        local_root: Path | str,
        remote_root: str,
        config: SyncConfig | None = None,
        state_dir: Path | str | None = None,
    ) -> None:
        self.client = client
        self.local_root = Path(os.path.abspath(local_root))
        self.remote_root = "/" + remote_root.strip("/")
        self.config = config or SyncConfig()
        sdir = Path(state_dir) if state_dir is not None else default_state_dir()
        server, user = client.server_url, client.username
        self.pair_id = pair_id(server, user, self.remote_root, self.local_root)
        self.db = StateDB(sdir / f"{self.pair_id}.sqlite3")
        for key, value in (("local_root", str(self.local_root)), ("remote_root", self.remote_root),
                           ("server", server), ("username", user)):  # fmt: skip
            if self.db.get_meta(key) != value:
                self.db.set_meta(key, value)
        self._subscribers: list[Subscriber] = []
        self._sub_lock = threading.Lock()
        self._activity: list[ActionDone] = []  # written to the database in batches
        self._activity_lock = threading.Lock()
        self._state = SyncState.IDLE
        self._state_lock = threading.Lock()
        self._cycle_lock = threading.Lock()
        self._cancel = CancelToken()
        self._approved = False
        self._paused = False
        self._hashes: dict[str, CachedHash] | None = None
        self._remote_cache: dict[str, Entry] | None = None
        self._remote_time = 0.0
        self._reported: tuple[SyncProblem, ...] = tuple(self.db.problems())
        self._watch: WatchLoop | None = None  # while watching
        self.needs_refresh = False  # a step was skipped against a stale remote snapshot
        self.busy_paths: set[str] = set()  # local files still being written at the last scan
        self._failed_now: set[str] = set()
        self._held = PendingDeletions()  # deletions awaiting confirmation (mass-delete guard)
        self._ambiguous: set[str] = set()  # names the server lists as a file and a folder at once
        self._readopt = False
        self._restore_stable = True
        self.fold = folds_names(self.local_root, self.config.fold_names)
        # (upload, download) limiters; the app may replace them with ones its other transfers share
        self.throttles = (Throttle(self.config.max_upload_bps), Throttle(self.config.max_download_bps))
        self._settle = Settle(self.config.min_file_age, self.config.max_hold)
        self._downloaded: dict[str, tuple[int, int, int]] = {}  # identities of files sync wrote here
        self._moves = MoveWatch()

    # -- subscription -------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register ``callback(event)``; returns a function that unsubscribes it. Thread-safe.

        Callbacks run on engine threads and must not block; exceptions they raise are logged and
        ignored.
        """
        with self._sub_lock:
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._sub_lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    def _emit(self, event: SyncEvent) -> None:
        for cb in self._subscribers:
            try:
                cb(event)
            except Exception:  # a subscriber bug must never stop the engine
                log.exception("sync subscriber failed")

    # -- control ------------------------------------------------------------------------------
    @property
    def state(self) -> SyncState:
        return self._state

    def _set_state(self, state: SyncState, reason: ProblemKind | None = None) -> None:
        with self._state_lock:
            prev, self._state = self._state, state
        if prev is not state:
            self.db.set_meta("state_pid", str(os.getpid()))  # `status` checks that it still runs
            self.db.set_meta("state", state.value)
            self._emit(StateChanged(state, prev, reason))

    def sync_once(self, force_retry: bool = False) -> SyncReport:
        """Run one full cycle on the calling thread and return its report.

        Args:
            force_retry: retry failed files now instead of waiting for their backoff.
        """
        if force_retry:
            self.db.reset_backoff()
            self.db.clear_problems([ProblemKind.BAD_NAME])  # tried once more, told again if refused
        return self.run_cycle(refresh_remote=True)

    def start(self) -> None:
        """Start watch mode on background threads (returns immediately)."""
        from gsdesktop.sync.watch import WatchLoop

        if self._watch is not None:
            return
        self._watch = WatchLoop(self)
        self._watch.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watch mode; running transfers are cancelled (they are retried on the next start)."""
        watch, self._watch = self._watch, None
        if watch is not None:
            self._cancel.cancel()
            watch.stop(timeout)
            self._cancel = CancelToken()
        if not self._paused:
            self._set_state(SyncState.IDLE)

    def pause(self) -> None:
        """Pause: running transfers are cancelled, nothing is transferred until :meth:`resume`."""
        self._paused = True
        self._cancel.cancel()
        self._set_state(SyncState.PAUSED)

    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        self._cancel = CancelToken()
        self._set_state(SyncState.IDLE)
        self.sync_now()

    @property
    def paused(self) -> bool:
        return self._paused

    def sync_now(self) -> None:
        """Ask watch mode to run a full cycle as soon as possible (also retries failed files now)."""
        self.db.reset_backoff()
        self.db.clear_problems([ProblemKind.BAD_NAME])
        if self._watch is not None:
            self._watch.request_full()

    def update_config(self, config: SyncConfig) -> None:
        """Apply new settings (bandwidth, mode, exclusions, ...) from the next cycle on."""
        self.config = config
        self.throttles[0].rate, self.throttles[1].rate = config.max_upload_bps, config.max_download_bps
        self._settle.settle_time, self._settle.max_hold = config.min_file_age, config.max_hold
        self.sync_now()

    def approve_deletions(self, restore: bool = False) -> None:
        """Let the next cycle carry out deletions held back by the mass-delete / root guard; with
        ``restore`` keep those items instead: the base forgets them, so they are copied back."""
        if restore:
            self.db.record_many((p, None) for p in sorted(self._held.paths()))
        self._approved = not restore
        self.sync_now()

    def pending_deletions(self) -> PendingDeletions:
        """Deletions the last cycle held back for confirmation (:meth:`approve_deletions`); everything
        else was synced. Empty when nothing waits."""
        return self._held

    def problems(self) -> list[SyncProblem]:
        return self.db.problems()

    def settle_due(self) -> float | None:
        """Monotonic time at which the next file still being written may have settled (None: none)."""
        return self._settle.due()

    def next_retry_due(self) -> float | None:
        """Epoch time of the earliest scheduled retry of a failed file (None: nothing scheduled)."""
        due = [p.retry_at for p in self.db.problems() if p.path and p.retry_at is not None]
        return min(due) if due else None

    def report_problem(self, path: str, kind: ProblemKind, message: str, retry: float | None = None) -> None:
        """Record a problem found outside a cycle (e.g. the file watcher cannot start) and publish it."""
        self.db.add_problem(path, kind, message, retry)
        self.publish_problems()

    def conflicts(self) -> list[ConflictDetected]:
        return self.db.conflicts()

    def open_conflicts(self) -> list[Conflict]:
        """The conflicts whose conflicted copy is still in the folder, oldest first."""
        return open_conflicts(self.db.conflicts(), self.local_root)

    def resolve_conflict(self, conflict: Conflict, keep: Keep) -> str:
        """Settle one conflict (:func:`gsdesktop.sync.conflicts.resolve`); a one-line account of it."""
        return resolve(self.db, self.local_root, conflict, keep)

    def set_watcher(self, pid: int | None) -> None:
        """Record that process ``pid`` watches this pair (None: nobody does any more), for ``status``."""
        self.db.set_meta("watch_pid", "" if pid is None else str(pid))

    def recent_activity(self, limit: int = 100) -> list[ActionDone]:
        self._flush_activity()
        return self.db.activity(limit)

    def _flush_activity(self) -> None:
        with self._activity_lock:
            batch, self._activity = self._activity, []
        if batch:
            self.db.add_activity(batch)

    def close(self) -> None:
        """Stop and release the state database."""
        self.stop()
        self._flush_activity()
        self.db.close()

    # -- one cycle ----------------------------------------------------------------------------
    def _excluded(self) -> frozenset[str]:
        return frozenset(f.strip("/") for f in self.config.excluded_remote_folders if f.strip("/"))

    def _check_roots(self, base_files: int) -> SyncProblem | None:
        """Root health (I22). An approved root problem re-adopts the folder: the base is forgotten, so
        the next cycle merges both sides (identical files recorded, the rest copied) and deletes
        nothing."""
        root = self.local_root
        marker = root / MARKER
        if not root.is_dir():
            if base_files and not self._approved:
                return SyncProblem(
                    "", f"The local folder {root} is missing (unmounted?); nothing was deleted. "
                    "Reconnect it, or approve to start over.", None, 0, ProblemKind.ROOT_MISSING)  # fmt: skip
            root.mkdir(parents=True, exist_ok=True)
            self._readopt = True
        if not marker.exists():
            if base_files and not self._approved:
                return SyncProblem(
                    "", f"The local folder {root} lost its sync marker ({MARKER}): it may be an empty "
                    "mount point or a different folder. Nothing was deleted; approve to continue "
                    "(both sides are then merged without deleting anything).",
                    None, 0, ProblemKind.ROOT_MISSING)  # fmt: skip
            marker.write_text(f"gsdesktop sync pair {self.pair_id}\n", encoding="utf-8")
            self._readopt = True
        return None

    def _scan_remote(self, ignore: Ignore, excluded: frozenset[str], base_files: int) -> dict[str, Entry]:
        try:
            listing = self.client.list_recursive(self.remote_root, brief=True)
        except NotFoundError:
            if base_files and not self._approved:
                msg = (
                    f"The remote folder {self.remote_root} is missing; nothing was deleted locally. "
                    "Approve to recreate it from the local files."
                )
                raise _Blocked(SyncProblem("", msg, None, 0, ProblemKind.ROOT_MISSING)) from None
            self.client.mkdir(self.remote_root, parents=True)
            listing = []
            self._readopt = True
        self._ambiguous = set()
        tree, bad = remote_tree(self.remote_root, list(listing), ignore, lambda r: _under(r, excluded),
                                self._ambiguous)  # fmt: skip
        for rel in bad:
            self._add_problem(
                rel, ProblemKind.IGNORED_REMOTE, "This remote name cannot be used locally", None
            )
        self._remote_cache = dict(tree)
        self._remote_time = time.monotonic()
        return tree

    def _add_problem(self, path: str, kind: ProblemKind, message: str, retry: float | None) -> None:
        existing = {p.path: p for p in self.db.problems()}
        old = existing.get(path)
        if old is not None and retry is None and old.kind is kind and old.message == message:
            return  # reported once
        self.db.add_problem(path, kind, message, retry)

    def publish_problems(self) -> list[SyncProblem]:
        """The current problems; subscribers get a :class:`ProblemChanged` when they changed."""
        current = self.db.problems()
        snapshot = tuple(current)
        if snapshot != self._reported:
            self._reported = snapshot
            self._emit(ProblemChanged(snapshot))
        return current

    def run_cycle(self, refresh_remote: bool = True, verify_remote: bool = False) -> SyncReport:
        """Run one cycle now on the calling thread (watch mode's driver calls this).

        Args:
            refresh_remote: list the remote folder again (else plan against the last listing).
            verify_remote: check each remote file before changing it (the listing may be stale).
        """
        with self._cycle_lock:
            report = SyncReport()
            started = time.monotonic()
            if self._paused:
                report.blocked = SyncProblem("", "Paused", None, 0, ProblemKind.FATAL)
                return report
            try:
                self._run_cycle(report, refresh_remote, verify_remote)
                pair = next((p for p in self.db.problems() if not p.path), None)
                if self._held:
                    self._add_problem("", ProblemKind.MASS_DELETE, self._held.message, None)
                elif pair is not None and pair.kind is not ProblemKind.WATCHER:
                    self.db.clear_problem("")
                self._set_state(SyncState.IDLE)
            except _Blocked as blk:
                report.blocked = blk.problem
                self.db.add_problem("", blk.problem.kind, blk.problem.message, None)
                self._set_state(SyncState.ERROR, blk.problem.kind)
            except CancelledError:
                report.blocked = SyncProblem("", "Cancelled", None, 0, ProblemKind.FATAL)
            except Exception as exc:  # outside any file: the pair's problem, as problems.classify says
                report.blocked = self._pair_failed(exc)
            finally:
                if self._paused:
                    self._set_state(SyncState.PAUSED)
                report.problems = [p for p in self.publish_problems() if p.path]  # per-file ones
                report.duration = time.monotonic() - started
                self._flush_activity()
                self.db.set_meta_json("last_report", report.to_json())
                self.db.set_meta("last_cycle", str(time.time()))
                self._emit(CycleDone(report))
            return report

    def _pair_failed(self, exc: Exception) -> SyncProblem:
        """Record ``exc``, raised outside any file (listing the remote folder, creating it), as the
        pair's problem: the same kind and retry as on a file (:func:`classify`), told in ``errors`` as in
        ``status``. OFFLINE (told once, until it passes) sets the OFFLINE state, anything else ERROR."""
        found = classify(exc, self.config.retry_base)
        if found.kind is ProblemKind.NO_ACCESS:  # revoked, or the owner deleted the share
            message = str(exc) if isinstance(exc, NoAccess) else no_access_message(self.remote_root)
            self._add_problem("", found.kind, message, None)
            self._set_state(SyncState.ERROR, found.kind)
            return SyncProblem("", message, None, 0, found.kind)
        if found.kind is ProblemKind.OFFLINE:
            message = f"Server unreachable: {exc}"
            self._add_problem("", found.kind, message, None)
            self._set_state(SyncState.OFFLINE, found.kind)
            return SyncProblem("", message, None, 0, found.kind)
        if found.kind is ProblemKind.AUTH:
            message = f"Sign-in failed: {exc}"
        elif expected(exc):
            message = f"Sync failed: {describe(exc)}"
        else:  # the traceback goes to the debug log
            log.error("sync cycle failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
            message = f"Unexpected error: {exc}"
        told = self.db.add_problem("", found.kind, message, found.retry)
        self._set_state(SyncState.ERROR, found.kind)
        return told

    def _run_cycle(self, report: SyncReport, refresh_remote: bool, verify_remote: bool) -> None:
        cfg = self.config
        self._set_state(SyncState.SCANNING)
        excluded = self._excluded()
        ignore = Ignore(self.local_root, cfg.ignore_patterns, cfg.use_default_ignores)
        base_all = self.db.load_base()
        base_all = {
            p: e for p, e in base_all.items() if not _under(p, excluded) and not ignore.match(p, e.is_dir)
        }
        base_files = sum(1 for e in base_all.values() if not e.is_dir)
        self._readopt = False
        blocked = self._check_roots(len(base_all))
        if blocked is not None:
            raise _Blocked(blocked)
        read_only = access_level(self.client, self.remote_root) == "read"  # (NoAccess: stop, keep all)
        if read_only and cfg.mode is SyncMode.UPLOAD_ONLY:
            raise _Blocked(SyncProblem("", READ_ONLY_UPLOAD_PAIR, None, 0, ProblemKind.READ_ONLY))
        fresh = refresh_remote or self._remote_cache is None
        fp_before = self._data_fingerprint() if fresh else None
        if refresh_remote or self._remote_cache is None:
            remote = self._scan_remote(ignore, excluded, len(base_all))
        else:
            remote = dict(self._remote_cache)
        restore = self._restore_mode(fp_before, self._data_fingerprint() if fresh else None)
        report.server_restored = restore
        if self._readopt and base_all:
            log.warning("re-adopting %s: forgetting the sync base (nothing will be deleted)", self.local_root)
            self.db.clear_base()
            base_all, base_files = {}, 0
        if self._hashes is None:
            self._hashes = self.db.load_hashes()
            clean_cache(self.local_root)
        scan = scan_local(self.local_root, ignore, self._hashes, min_age=cfg.min_file_age,
                          excluded=(lambda r: _under(r, excluded)) if excluded else None,
                          hold=self._settle.hold)  # fmt: skip
        self._settle.prune()
        if scan.new_hashes:
            self.db.put_hashes(scan.new_hashes.items())
            self._hashes.update(scan.new_hashes)
        kept = scan.busy | scan.unreadable.keys()
        stale = [p for p in self._hashes if p not in scan.ids and p not in kept]
        if stale and len(stale) > 64:
            self.db.drop_hashes(stale)
            for p in stale:
                self._hashes.pop(p, None)
        self._note_not_synced(scan.symlinks, scan.special)
        self.busy_paths = set(scan.busy)
        report.busy = sorted(scan.busy)
        self.needs_refresh = False
        for rel, msg in scan.unreadable.items():
            self._add_problem(rel, ProblemKind.FILE_ERROR, f"Cannot read: {msg}", cfg.retry_base)
        now = time.time()
        frozen: set[str] = set(scan.busy) | set(scan.symlinks) | set(scan.unreadable)
        moving = self._moves.waiting(base_all, scan.tree, remote)  # a server move seen half done
        report.waiting = sorted(moving)
        frozen |= moving
        retrying: set[str] = set()
        for prob in self.db.problems():
            if prob.kind is ProblemKind.BAD_NAME:
                if prob.path in scan.tree or prob.path in remote:
                    frozen.add(prob.path)  # refused: told once, not tried again until renamed
                else:
                    self.db.clear_problem(prob.path)
            elif prob.path and prob.retry_at is not None and prob.retry_at > now:
                frozen.add(prob.path)  # failed recently: wait for its backoff
            elif prob.path and prob.kind in (ProblemKind.FILE_ERROR, ProblemKind.CHANGING):
                retrying.add(prob.path)
        self._failed_now = set(scan.unreadable)
        for rel in self._ambiguous:  # what the server holds there is unknown: change nothing there
            self._add_problem(rel, ProblemKind.FILE_ERROR, "The server lists both a file and a folder of "
                              "this name; nothing there is synced until that is repaired", None)  # fmt: skip
            self._failed_now.add(rel)
        frozen |= self._ambiguous
        trees = (dict(base_all), scan.tree, remote)
        host = cfg.host_name or _host()
        context = ExecContext(
            local_ids=dict(scan.ids), hashes=self._hashes, downloaded=self._downloaded,
            retry_base=cfg.retry_base, verify_remote=verify_remote, transfers=cfg.transfers, min_age=0.0,
            up=self.throttles[0], down=self.throttles[1], own_write=self._own_write, cancel=self._cancel,
            host=host,
        )  # fmt: skip
        executor = Executor(self.client, self.local_root, self.remote_root, self.db, self._on_event, context)
        mode = SyncMode.DOWNLOAD_ONLY if read_only else cfg.mode  # a read-only share: never up
        lost_race, relisted = set[str](), False  # uploads that lost a race; the server was listed again
        for rnd in range(MAX_ROUNDS):
            b, lo, re_ = (_drop(t, frozen) for t in trees)
            if read_only:
                b = read_only_base(b, lo, re_)
            todo = plan(
                b, lo, re_, mode=mode, host=host, fold=fold_case if self.fold else None, restore=restore
            )
            for pr in todo.problems:
                self._add_problem(pr.path, pr.kind, pr.message, None)
            if rnd == 0:
                report.planned = len(todo.actions)
            if rnd == 0 or relisted:  # (again on a fresh listing after a lost race)
                held = hold_mass_deletions(
                    todo, base_files, fraction=cfg.mass_delete_fraction, count=cfg.mass_delete_count,
                    allowed=cfg.allow_mass_delete or self._approved,
                )  # fmt: skip
                frozen |= held.paths()  # the rest of the plan goes ahead
                if rnd == 0:
                    self._held = held
                    report.held_deletions = len(held.local) + len(held.remote)
                relisted = False
            if not todo.actions:
                if restore and not frozen - set(scan.symlinks) - scan.special and self._restore_stable:
                    self.db.set_meta(RESTORE_PENDING, "")  # restore finished: normal sync from now on
                    log.warning("restore-mode sync of %s finished", self.local_root)
                break
            self._set_state(SyncState.SYNCING)
            try:
                out = executor.run(todo, re_)
            finally:
                self._take_problems(executor)
            apply_outcome(trees, out)
            for act in out.done:
                self._count(report, act)
            if out.stale:  # an upload lost a race: re-plan on a fresh listing (its version becomes a copy)
                for path in out.stale & lost_race:  # refused twice in this cycle: wait for the next one
                    self._add_problem(path, ProblemKind.FILE_ERROR, "Upload failed: the server's version "
                                      "keeps changing", cfg.retry_base)  # fmt: skip
                    self._failed_now.add(path)
                    frozen.add(path)
                lost_race |= out.stale
                trees, relisted = (*trees[:2], self._scan_remote(ignore, excluded, len(base_all))), True
            report.bytes_up += out.bytes_up
            report.bytes_down += out.bytes_down
            frozen |= out.failed
            if out.failed and verify_remote:
                self.needs_refresh = True
            if self._cancel.cancelled:
                break
        self._remote_cache = dict(trees[2])
        self._approved = False
        for path in retrying - self._failed_now - scan.busy:
            self.db.clear_problem(path)  # resolved (or no longer needed) without failing again
        waiting = waiting_uploads(trees[1], trees[2], frozen | self._failed_now) if read_only else set()
        self._note_read_only(waiting)
        self.db.clear_problems([ProblemKind.MASS_DELETE, ProblemKind.ROOT_MISSING])

    def _data_fingerprint(self) -> str | None:
        return self.client.data_fingerprint()

    def _restore_mode(self, before: str | None, after: str | None) -> bool:
        """Whether this cycle runs in restore mode (I17: the server's data fingerprint changed).

        ``before`` / ``after`` are read around the remote listing. The first fingerprint seen is just
        remembered; a change marks a restore as pending (kept in the state DB, so a crash or a failed
        file keeps the next cycles in restore mode) until a restore cycle ends with nothing left to do
        and the fingerprint was stable across its listing.
        """
        known = self.db.get_meta(DATA_FINGERPRINT)
        seen = [v for v in (before, after) if v]
        self._restore_stable = before == after
        if known is None:
            if before:
                self.db.set_meta(DATA_FINGERPRINT, before)
                known = before
            elif after:
                self.db.set_meta(DATA_FINGERPRINT, after)
                return False
            else:
                return bool(self.db.get_meta(RESTORE_PENDING))
        if any(v != known for v in seen):
            new = seen[-1]
            self.db.set_meta(RESTORE_PENDING, new)
            self.db.set_meta(DATA_FINGERPRINT, new)
            log.warning("the server's data fingerprint changed: it was restored from a backup; "
                        "this sync keeps every local file")  # fmt: skip
            self._emit(ServerRestored(new))
        return bool(self.db.get_meta(RESTORE_PENDING))

    def _count(self, report: SyncReport, a: Action) -> None:
        op = a.op
        if op is Op.UPLOAD:
            report.uploaded += 1
        elif op is Op.DOWNLOAD:
            report.downloaded += 1
        elif op is Op.CONFLICT:
            report.downloaded += 1
            report.conflicts += 1
        elif op in (Op.ASIDE_LOCAL, Op.ASIDE_REMOTE):
            report.conflicts += 1
        elif op is Op.DELETE_LOCAL and a.entry is not None and not a.entry.is_dir:
            report.deleted_local += 1
        elif op is Op.DELETE_REMOTE and a.entry is not None and not a.entry.is_dir:
            report.deleted_remote += 1
        elif op in (Op.MKDIR_LOCAL, Op.MKDIR_REMOTE):
            report.folders_created += 1

    def _take_problems(self, executor: Executor) -> None:
        for update in executor.take_problems():
            if isinstance(update, ProblemCleared):
                self._failed_now.discard(update.path)  # (the executor cleared its record)
            else:
                self.db.add_problem(update.path, update.kind, update.message, update.retry)
                self._failed_now.add(update.path)

    def _note_not_synced(self, links: set[str], special: set[str]) -> None:
        """Symlinks and special files (FIFOs, sockets, devices) are listed as not synced, told once."""
        for kind, found, notice in ((ProblemKind.SYMLINK, links, SYMLINK_NOTICE),
                                    (ProblemKind.SPECIAL, special, SPECIAL_NOTICE)):  # fmt: skip
            known = {p.path for p in self.db.problems() if p.kind is kind}
            for rel in found - known:
                self.db.add_problem(rel, kind, notice, None)
            for rel in known - found:
                self.db.clear_problem(rel)

    def _note_read_only(self, waiting: set[str]) -> None:
        """Local files a read-only share keeps here: each told once, not retried (:mod:`.shares`)."""
        known = {p.path for p in self.db.problems() if p.kind is ProblemKind.READ_ONLY and p.path}
        for rel in sorted(waiting - known):
            self.db.add_problem(rel, ProblemKind.READ_ONLY, READ_ONLY_NOTICE, None)
        for rel in known - waiting:
            self.db.clear_problem(rel)

    def _on_event(self, event: SyncEvent) -> None:
        if isinstance(event, ActionDone):
            with self._activity_lock:
                self._activity.append(event)
                full = len(self._activity) >= ACTIVITY_BATCH
            if full:
                self._flush_activity()
        self._emit(event)

    def _own_write(self, rel: str) -> None:
        watch = self._watch
        if watch is not None:
            watch.own_write(rel)


SYMLINK_NOTICE = "Symbolic links are not synced (not followed); add the name to .gsignore to stop listing it"
SPECIAL_NOTICE = (
    "Not synced: a special file (FIFO, socket or device), not a regular file; add the name to .gsignore "
    "to stop listing it"
)


class _Blocked(Exception):
    def __init__(self, problem: SyncProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem
