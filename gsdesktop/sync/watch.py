"""Watch mode: file-system events, remote polling and periodic rescans driving engine cycles.

Events are coalesced per path simply by re-reading the file system when the quiet period ends: a file
created and deleted meanwhile is absent (nothing to do), an editor's safe-save (temp file + rename) is
one changed file. The engine's own writes are recognized by identity (path, inode, size, mtime) and do
not trigger a cycle. If the watcher cannot start (inotify limits), the problem is reported and the
folder is rescanned every few seconds instead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from gsdesktop.sync.events import ProblemKind, SyncState
from gsdesktop.sync.scanner import CACHE_DIR

if TYPE_CHECKING:
    from gsdesktop.sync.engine import SyncEngine

log = logging.getLogger(__name__)

FALLBACK_SCAN = 5.0  # seconds between scans when no watcher is available
OWN_WRITE_TTL = 60.0
BUSY_RECHECK_MAX = 10.0  # seconds: the longest wait before looking again at a file still being written


class WatchLoop:
    """Background driver of one engine (created by :meth:`SyncEngine.start`)."""

    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._dirty = False
        self._last_event = 0.0
        self._full = True
        self._own: dict[str, tuple[tuple[int, int, int] | None, float]] = {}
        self._observer: Any = None
        self.watcher_ok = False
        self._thread = threading.Thread(target=self._run, name="gs-sync-watch", daemon=True)
        self.root = str(engine.local_root)

    # -- public -------------------------------------------------------------------------------
    def start(self) -> None:
        self._start_observer()
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout)
            except Exception:  # pragma: no cover - best effort on shutdown
                log.debug("observer stop failed", exc_info=True)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def request_full(self) -> None:
        with self._lock:
            self._full = True
        self._wake.set()

    def own_write(self, rel: str) -> None:
        """Remember the identity the engine just gave ``rel`` so its event is not taken as a change."""
        ident = _ident(os.path.join(self.root, rel))
        now = time.monotonic()
        with self._lock:
            self._own[rel] = (ident, now)
            if len(self._own) > 10000:
                self._own = {k: v for k, v in self._own.items() if now - v[1] < OWN_WRITE_TTL}

    # -- events -------------------------------------------------------------------------------
    def _start_observer(self) -> None:
        try:
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer

            loop = self

            class Handler(FileSystemEventHandler):
                def on_any_event(self, event: FileSystemEvent) -> None:
                    loop.on_fs_event(event)

            observer = Observer()
            observer.schedule(Handler(), self.root, recursive=True)
            observer.start()
        except (OSError, RuntimeError, ImportError) as exc:
            hint = ""
            if isinstance(exc, OSError) and exc.errno in (28, 24):  # ENOSPC / EMFILE: inotify limits
                hint = " (raise fs.inotify.max_user_watches / max_user_instances)"
            message = f"File watcher unavailable: {exc}{hint}; scanning every {FALLBACK_SCAN:.0f} s instead"
            log.warning(message)
            self.engine.report_problem("", ProblemKind.WATCHER, message)
            self.watcher_ok = False
            return
        self._observer = observer
        self.watcher_ok = True

    def on_fs_event(self, event: Any) -> None:
        """One watchdog event: marks the folder dirty unless it is the engine's own write."""
        if event.event_type in ("opened", "closed_no_write") or (
            event.is_directory and event.event_type == "modified"
        ):
            return
        paths = [event.src_path]
        if getattr(event, "dest_path", ""):
            paths.append(event.dest_path)
        relevant = False
        now = time.monotonic()
        for raw in paths:
            p = os.fsdecode(raw)
            rel = os.path.relpath(p, self.root).replace(os.sep, "/")
            if rel == "." or rel.startswith("..") or rel.split("/", 1)[0] == CACHE_DIR:
                continue
            with self._lock:
                own = self._own.get(rel)
            if own is not None and now - own[1] < OWN_WRITE_TTL and own[0] == _ident(p):
                continue
            relevant = True
        if relevant:
            with self._lock:
                self._dirty = True
                self._last_event = now
            self._wake.set()

    # -- loop ---------------------------------------------------------------------------------
    def _run(self) -> None:
        eng = self.engine
        cfg = eng.config
        next_remote = 0.0
        next_rescan = time.monotonic() + (cfg.rescan_interval if self.watcher_ok else FALLBACK_SCAN)
        offline_delay = 1.0
        busy_delay = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if eng.paused:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            with self._lock:
                full = self._full or now >= next_remote
                local = self._dirty and now - self._last_event >= cfg.quiet_period
                due_retry = eng.next_retry_due()
                retry = due_retry is not None and due_retry <= time.time()
                rescan = now >= next_rescan
                if full or local or rescan or retry:
                    self._full = False
                    self._dirty = False
            if full or local or rescan or retry:
                try:
                    report = eng.run_cycle(refresh_remote=full, verify_remote=not full)
                except Exception:  # never let the loop die
                    log.exception("watch cycle failed")
                    report = None
                now = time.monotonic()
                offline = eng.state is SyncState.OFFLINE
                if offline:
                    next_remote = now + offline_delay
                    offline_delay = min(offline_delay * 2, 60.0)
                else:
                    offline_delay = 1.0
                    if full:
                        next_remote = now + cfg.poll_interval
                if eng.needs_refresh:
                    next_remote = now
                if rescan or full:
                    next_rescan = now + (cfg.rescan_interval if self.watcher_ok else FALLBACK_SCAN)
                if report is not None and eng.busy_paths:
                    # files still being written: look again once they may have settled (the settle
                    # time says when), less and less often while they keep changing
                    busy_delay = max(busy_delay * 2, cfg.quiet_period, cfg.min_file_age)
                    busy_delay = min(busy_delay, BUSY_RECHECK_MAX)
                    due = eng.settle_due()
                    wait = busy_delay if due is None else min(busy_delay, max(0.0, due - now))
                    with self._lock:
                        if not self._dirty:
                            self._dirty = True
                            self._last_event = now + wait - cfg.quiet_period
                else:
                    busy_delay = 0.0
                continue
            deadlines = [next_remote, next_rescan]
            with self._lock:
                if self._dirty:
                    deadlines.append(self._last_event + cfg.quiet_period)
            due_retry = eng.next_retry_due()
            if due_retry is not None:
                deadlines.append(now + max(0.0, due_retry - time.time()))
            timeout = max(0.01, min(deadlines) - now)
            self._wake.wait(timeout)
            self._wake.clear()


def _ident(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
