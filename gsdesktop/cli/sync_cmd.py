"""Sync commands: ``sync LOCAL REMOTE --once|--watch``, ``status``, ``conflicts``, ``errors``.

Output is one line per event, tab-separated (``uploaded<TAB>path``), then a summary; ``--json`` prints
one JSON object per line instead (events, then the final report). ``sync --once`` exits 0 when the
folders are identical and nothing needs attention, 1 otherwise (3 sign-in, 6 server unreachable).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gsdesktop.cli.common import EXIT_AUTH, EXIT_NETWORK, add_server_options, client_from_args, guarded
from gsdesktop.sync.conflicts import Conflict, Keep, ResolveError, open_conflicts, resolve, select
from gsdesktop.sync.events import ConflictDetected, SyncEvent, SyncProgress

if TYPE_CHECKING:  # the engine is imported when a sync runs (start-up time)
    from gsdesktop.sync.engine import SyncEngine

log = logging.getLogger(__name__)

RATE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
ONCE_BUSY_WAIT = 10.0  # --once waits this long at most for files still being written


def parse_rate(text: str) -> int:
    """``500k``, ``2M``, ``1048576`` -> bytes per second."""
    t = text.strip().lower().removesuffix("/s").removesuffix("b")
    unit = t[-1:] if t[-1:] in RATE_UNITS else ""
    number = t[: -len(unit)] if unit else t
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (examples: 500k, 2M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("a rate must be positive")
    return int(value * RATE_UNITS[unit])


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sync",
        help="keep a local folder and a Data Manager folder identical",
        description="Two-way sync of LOCAL with the Data Manager folder REMOTE (relative to your home "
        "unless it starts with /). --once runs one cycle; --watch runs until interrupted.",
        epilog="exit codes: 0 in sync (--watch: stopped by SIGINT/SIGTERM), 1 some files could not be synced "
        "(see `gsdesktop errors`), 2 usage, 3 sign-in rejected or no access (a share revoked), "
        "6 server unreachable",
    )
    p.add_argument("local", type=Path, help="local folder")
    p.add_argument("remote", help="Data Manager folder (e.g. lab/run42 or /users/alice/lab)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--once", action="store_true", help="one full cycle, then exit")
    how.add_argument("--watch", action="store_true", help="keep syncing until SIGINT/SIGTERM")
    p.add_argument("--mode", choices=("two-way", "upload-only", "download-only"), default="two-way")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FOLDER",
        help="selective sync: a remote folder (relative to REMOTE) to leave out; repeatable",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PATTERN",
        help="extra gitignore-style pattern (also read from LOCAL/.gsignore); repeatable",
    )
    p.add_argument("--bwlimit-up", type=parse_rate, metavar="RATE", help="upload limit, e.g. 2M")
    p.add_argument("--bwlimit-down", type=parse_rate, metavar="RATE", help="download limit, e.g. 500k")
    p.add_argument("--transfers", type=int, default=8, metavar="N", help="parallel transfers (default 8)")
    p.add_argument(
        "--poll",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="watch mode: seconds between remote checks (default 15)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=0.75,
        metavar="SECONDS",
        help="upload a new or changed file once it has been unchanged this long; a file that keeps "
        "changing waits 4x longer each time, up to 60 s (default 0.75)",
    )
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="carry out deletions even above the safety threshold (50%% or 1000 files)",
    )
    p.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument("--quiet", "-q", action="store_true", help="only the summary")
    add_server_options(p)
    p.set_defaults(handler=guarded(_sync))  # fmt: skip

    for name, helptext, fn in (
        ("status", "show every sync pair and its state", _status),
        ("conflicts", "list conflicted copies made by sync", _conflicts),
        ("errors", "list files sync could not handle, and why", _errors),
    ):
        s: argparse.ArgumentParser = subparsers.add_parser(
            name, help=helptext, description=helptext, epilog="exit codes: 0 ok, 1 failure, 2 usage"
        )
        s.add_argument("local", nargs="?", type=Path, help="only the pair(s) of this local folder")
        s.add_argument("--json", action="store_true", help="machine-readable output")
        s.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
        s.set_defaults(handler=fn)
        if name == "conflicts":
            s.description = (
                "List the open conflicts (conflicted copies still in the folder), or settle them with "
                "--keep: 'copy' gives the conflicted copy the original's name (the version it replaces "
                "goes to the trash), 'original' moves the copy to the trash, 'both' keeps both files and "
                "stops listing them. The next sync carries the result to the server."
            )
            s.add_argument(
                "--keep",
                nargs="+",
                metavar=("copy|original|both", "NAME"),
                help="settle the conflicts of these copies or originals (paths in LOCAL)",
            )
            s.add_argument("--all", action="store_true", help="with --keep: every open conflict of LOCAL")


def _remote_path(home: str, remote: str) -> str:
    from gsdesktop.datamanager import paths as P

    return P.canonical(remote if remote.startswith("/") else f"{home}/{remote}")


class _Printer:
    """Prints events; on a terminal (not with --json/--quiet) a one-line progress, updated in place."""

    def __init__(self, as_json: bool, quiet: bool, tty: bool | None = None) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.lock = threading.Lock()
        self.tty = sys.stdout.isatty() if tty is None else tty
        self._line = ""  # the progress line on screen now ("" = none)

    def event(self, ev: SyncEvent) -> None:
        from gsdesktop.sync import (
            ActionDone,
            ConflictDetected,
            CycleDone,
            ProblemChanged,
            ServerRestored,
            StateChanged,
        )

        if isinstance(ev, SyncProgress | CycleDone) and self.tty and not (self.as_json or self.quiet):
            self._progress(ev if isinstance(ev, SyncProgress) else None)
            return

        if isinstance(ev, ServerRestored) and not self.as_json:
            print(f"gsdesktop: warning: {ev.message}", file=sys.stderr, flush=True)  # even with --quiet
            return
        if self.quiet:
            return
        if self.as_json:
            data = _event_json(ev)
            if data is not None:
                self._out(json.dumps(data))
            return
        if isinstance(ev, ActionDone):
            self._out(f"{ev.kind.value}\t{ev.path}")
        elif isinstance(ev, ConflictDetected):
            self._out(f"conflict\t{ev.path}\t{ev.conflict_copy}")
        elif isinstance(ev, StateChanged):
            self._out(f"state\t{ev.state.value}" + (f"\t{ev.reason.value}" if ev.reason else ""))
        elif isinstance(ev, ProblemChanged):
            for p in ev.problems:
                self._out(f"problem\t{p.kind.value}\t{p.path or '-'}\t{p.message}")

    def _out(self, line: str) -> None:
        with self.lock:
            if self._line:  # the event line replaces the progress line, which follows it again
                sys.stdout.write("\r\x1b[K")
            print(line, flush=True)
            if self._line:
                sys.stdout.write(self._line)
                sys.stdout.flush()

    def _progress(self, p: SyncProgress | None) -> None:
        from gsdesktop.sync.progress import describe

        width = shutil.get_terminal_size((80, 20)).columns
        with self.lock:
            text = "" if p is None or not p.files_total else describe(p)[: max(width - 1, 10)]
            if text == self._line:
                return
            sys.stdout.write("\r\x1b[K" + text)
            sys.stdout.flush()
            self._line = text


def _event_json(ev: SyncEvent) -> dict[str, Any] | None:
    from gsdesktop.sync import (
        ActionDone,
        ConflictDetected,
        CycleDone,
        ProblemChanged,
        ServerRestored,
        StateChanged,
    )

    if isinstance(ev, ServerRestored):
        return {"event": "server_restored", "fingerprint": ev.fingerprint, "message": ev.message}
    if isinstance(ev, ActionDone):
        return {"event": "action", "kind": ev.kind.value, "path": ev.path, "size": ev.size, "time": ev.time}
    if isinstance(ev, ConflictDetected):
        return {"event": "conflict", "path": ev.path, "copy": ev.conflict_copy, "time": ev.time}
    if isinstance(ev, StateChanged):
        return {"event": "state", "state": ev.state.value, "reason": ev.reason.value if ev.reason else None}
    if isinstance(ev, ProblemChanged):
        return {"event": "problems", "problems": [_problem(p) for p in ev.problems]}
    if isinstance(ev, CycleDone):
        report = ev.report
        return {"event": "cycle", **report.to_json()} if hasattr(report, "to_json") else None
    return None  # FileProgress is too chatty for a pipe


def _problem(p: Any) -> dict[str, Any]:
    return {"path": p.path, "kind": p.kind.value, "message": p.message, "attempts": p.attempts,
            "retry_at": p.retry_at}  # fmt: skip


def _sync(args: argparse.Namespace) -> int:
    from gsdesktop.sync import ProblemKind, SyncConfig, SyncEngine, SyncMode

    client = client_from_args(args, pool_size=max(16, args.transfers * 2))
    config = SyncConfig(
        mode=SyncMode(args.mode),
        poll_interval=args.poll,
        excluded_remote_folders=tuple(args.exclude),
        ignore_patterns=tuple(args.ignore),
        max_upload_bps=args.bwlimit_up,
        max_download_bps=args.bwlimit_down,
        allow_mass_delete=args.allow_mass_delete,
        transfers=max(1, args.transfers),
        min_file_age=max(0.0, args.settle),
    )
    remote = _remote_path(client.home, args.remote)
    engine = SyncEngine(client, args.local, remote, config, state_dir=args.state_dir)
    printer = _Printer(args.json, args.quiet)
    engine.subscribe(printer.event)
    try:
        if args.once:
            report = engine.sync_once(force_retry=True)
            deadline = time.monotonic() + ONCE_BUSY_WAIT
            while report.busy and report.blocked is None and time.monotonic() < deadline:
                time.sleep(0.5)  # files still being written: let them settle, then another cycle
                report = report.then(engine.sync_once())
            _summary(
                report,
                args.json,
                confirm=f"gsdesktop sync {engine.local_root} {remote} --once --allow-mass-delete",
            )
            if report.blocked is not None:
                if report.blocked.kind in (ProblemKind.AUTH, ProblemKind.NO_ACCESS):
                    return EXIT_AUTH
                if report.blocked.kind is ProblemKind.OFFLINE:
                    return EXIT_NETWORK
            return 0 if report.converged else 1
        return _watch(engine)
    finally:
        engine.close()
        client.close()


def _watch(engine: SyncEngine) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    from gsdesktop.logfiles import log_engine_event, start_file_log

    path = start_file_log("sync-watch")
    log.info("watching %s <-> %s (log file %s)", engine.local_root, engine.remote_root, path)
    unsubscribe = engine.subscribe(log_engine_event)
    engine.set_watcher(os.getpid())
    try:
        engine.start()
        while not stop.wait(0.5):
            pass
    finally:
        engine.stop()
        unsubscribe()
        log.info("stopped watching %s", engine.local_root)
        engine.set_watcher(None)
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def _summary(report: Any, as_json: bool, confirm: str = "") -> None:
    if as_json:
        print(json.dumps({"event": "summary", **report.to_json()}), flush=True)
        return
    parts = [
        f"uploaded {report.uploaded}", f"downloaded {report.downloaded}",
        f"deleted {report.deleted_local} local / {report.deleted_remote} remote",
        f"conflicts {report.conflicts}", f"{report.duration:.1f}s",
    ]  # fmt: skip
    status = "in sync" if report.converged else "NEEDS ATTENTION"
    print(f"summary\t{status}\t" + ", ".join(parts), flush=True)
    if report.blocked is not None:
        print(f"blocked\t{report.blocked.kind.value}\t{report.blocked.message}", flush=True)
    for p in report.problems:
        print(f"problem\t{p.kind.value}\t{p.path}\t{p.message}", flush=True)
    for path in report.busy:
        print(f"busy\t{path}\tstill being written; synced once it settles", flush=True)
    for path in report.waiting:
        print(f"waiting\t{path}\tlooks like a folder move still under way on the server; synced once done",
              flush=True)  # fmt: skip
    if report.held_deletions:
        print(f"held\t{report.held_deletions} deletions wait for confirmation: {confirm}", flush=True)


# -- status / conflicts / errors ---------------------------------------------------------------
def _pairs(args: argparse.Namespace) -> list[tuple[Path, dict[str, str]]]:
    from gsdesktop.sync.state import default_state_dir

    sdir = args.state_dir or default_state_dir()
    out: list[tuple[Path, dict[str, str]]] = []
    want = str(args.local.absolute()) if getattr(args, "local", None) else None
    for db in sorted(sdir.glob("*.sqlite3")) if sdir.is_dir() else []:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error:
            continue
        if want is None or meta.get("local_root") == want:
            out.append((db, meta))
    return out


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql).fetchall()


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except OSError:
        return False
    return True


def _status(args: argparse.Namespace) -> int:
    rows = []
    for db, meta in _pairs(args):
        last = json.loads(meta.get("last_report") or "null") or {}
        n_problems = _query(db, "SELECT count(*) FROM problems")[0][0]
        n_conflicts = len(_pair_conflicts(db, meta))
        watching = _alive(meta.get("watch_pid", ""))
        state = meta.get("state", "idle")
        if state in ("scanning", "syncing") and not _alive(meta.get("state_pid", "")):
            state = "interrupted"  # the process that was syncing is gone (killed, crashed)
        when = float(meta.get("last_cycle") or 0)
        progress = _progress(meta) if state == "syncing" else None
        rows.append({
            "local": meta.get("local_root"), "remote": meta.get("remote_root"), "server": meta.get("server"),
            "username": meta.get("username"), "state": state, "watching": watching,
            "last_sync": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when)) if when else None,
            "converged": last.get("converged"), "problems": n_problems, "conflicts": n_conflicts,
            "progress": progress,
        })  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no sync pairs yet (run: gsdesktop sync LOCAL REMOTE --once)")
    for r in rows:
        flag = "watching" if r["watching"] else "stopped"
        p = r["progress"]
        files = f"\tfiles {p['files_done']}/{p['files_total']}" if p else ""
        print(f"{r['local']}\t{r['remote']}\t{r['state']}\t{flag}\tlast {r['last_sync'] or 'never'}\t"
              f"problems {r['problems']}\tconflicts {r['conflicts']}{files}")  # fmt: skip
    return 0


PROGRESS_KEYS = ("files_done", "files_total", "bytes_done", "bytes_total")


def _progress(meta: dict[str, str]) -> dict[str, int] | None:
    """The running cycle's progress as the syncing process last stored it (None when none)."""
    try:
        stored = json.loads(meta.get("progress") or "null")
    except ValueError:
        return None
    if not isinstance(stored, dict) or not all(isinstance(stored.get(k), int) for k in PROGRESS_KEYS):
        return None
    return {k: int(stored[k]) for k in PROGRESS_KEYS}


def _pair_conflicts(db: Path, meta: dict[str, str]) -> list[Conflict]:
    """The pair's open conflicts, read without writing to its database."""
    recorded = _query(db, "SELECT path, copy, time FROM conflicts ORDER BY id")
    return open_conflicts((ConflictDetected(*row) for row in recorded), Path(meta.get("local_root") or ""))


def _conflicts(args: argparse.Namespace) -> int:
    from gsdesktop.cli.common import CommandError

    if args.keep:
        return _settle(args)
    if args.all:
        raise CommandError("--all goes with --keep copy|original|both", code=2)
    rows = []
    for db_path, meta in _pairs(args):
        root = Path(meta.get("local_root") or "")
        for c in _pair_conflicts(db_path, meta):
            rows.append({"local": str(root), "path": c.path, "copy": c.copy,
                         "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(c.time))})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("No conflicted copies.")
    else:
        for r in rows:
            print(f"{r['time']}\t{r['local']}\t{r['path']}\t{r['copy']}")
    return 0


def _settle(args: argparse.Namespace) -> int:
    from gsdesktop.cli.common import CommandError
    from gsdesktop.sync.state import StateDB

    if args.local is None:
        raise CommandError("name the sync folder: gsdesktop conflicts LOCAL --keep … NAME", code=2)
    policy, *names = args.keep
    if policy not in {k.value for k in Keep}:
        raise CommandError(f"--keep takes copy, original or both, not {policy!r}", code=2)
    if bool(names) == bool(args.all):
        raise CommandError("give the conflicts to settle by NAME, or --all", code=2)
    pairs = _pairs(args)
    if not pairs:
        raise CommandError(f"{args.local} is not a sync folder (gsdesktop status lists them)", code=4)
    db_path, meta = pairs[0]
    root = Path(meta["local_root"])
    keep = Keep(policy)
    db = StateDB(db_path)
    try:
        conflicts = open_conflicts(db.conflicts(), root)
        chosen: list[Conflict] = []
        for name in names:
            try:
                hits = select(conflicts, name, root)
            except ResolveError as exc:
                raise CommandError(str(exc), code=4) from None
            if keep is Keep.COPY and len(hits) > 1:
                raise CommandError(f"{name} has {len(hits)} conflicted copies: name the one to keep", code=4)
            chosen += [c for c in hits if c not in chosen]
        for c in conflicts if args.all else chosen:
            try:
                print(resolve(db, root, c, keep), flush=True)
            except (ResolveError, OSError) as exc:
                raise CommandError(f"{c.copy}: {exc}") from None
    finally:
        db.close()
    if keep is not Keep.BOTH and not _alive(meta.get("watch_pid", "")):
        remote = meta.get("remote_root", "REMOTE")
        print(f"Run gsdesktop sync {root} {remote} --once to carry it to the server.")
    return 0


def _errors(args: argparse.Namespace) -> int:
    rows = []
    for db, meta in _pairs(args):
        sql = "SELECT path, kind, message, attempts, retry_at FROM problems ORDER BY path"
        for path, kind, message, attempts, retry_at in _query(db, sql):
            rows.append({"local": meta.get("local_root"), "path": path, "kind": kind, "message": message,
                         "attempts": attempts, "retry_at": retry_at})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("No sync problems.")
    else:
        for r in rows:
            retry = time.strftime("%H:%M:%S", time.localtime(r["retry_at"])) if r["retry_at"] else "-"
            print(f"{r['local']}\t{r['path'] or '-'}\t{r['kind']}\t{r['message']}\tretry {retry}")
    return 0


__all__ = ["parse_rate", "register"]
