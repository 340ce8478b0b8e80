"""One logging setup for every entry point: the console (CLI, server), rotating files (app, ``sync --watch``).

* :func:`configure_console`: called once by ``gsdesktop``'s main for every command; ``--log-format json``
  writes one JSON object per line (``ts``, ``level``, ``logger``, ``message`` and, inside a server request,
  ``request_id``) for log collectors, ``text`` (the default) the classic line.
* :func:`start_file_log`: the desktop app and ``sync --watch`` also write rotating files into the folder
  "Open log folder" opens, in the same format. Each file starts with one line naming the version, the
  platform and the process, so a log sent with a bug report says what produced it. A few MB in all:
  :data:`LOG_MAX_BYTES` per file, :data:`LOG_BACKUPS` old ones.
* :data:`request_id`: the server's access-log middleware sets it per request; every record logged while
  the request runs carries it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from gsdesktop import __version__

LOG_MAX_BYTES = 2 * 1024 * 1024
LOG_BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")

#: the id of the server request being handled in this context ("" outside requests)
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_format_kind = "text"
# attributes every LogRecord has; anything else was passed with ``extra=`` and goes into the JSON object
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``
    inside a server request, the fields given with ``extra=``, and ``exc`` with the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """The classic line, with ``[request id]`` inside a server request."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        return f"{line} [{rid}]" if rid else line


def formatter(fmt: str = CONSOLE_FORMAT) -> logging.Formatter:
    """The formatter of the chosen log format (``text`` lines with ``fmt``, or JSON)."""
    return JsonFormatter() if _format_kind == "json" else _TextFormatter(fmt)


def configure_console(level: int, kind: str = "text") -> None:
    """The console log of every ``gsdesktop`` command: ``level`` and above on stderr, as ``kind``."""
    global _format_kind
    if kind not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {kind!r}")
    _format_kind = kind
    logging.basicConfig(level=level)
    for h in logging.getLogger().handlers:
        if not isinstance(h, HeaderRotatingFileHandler):
            h.setFormatter(formatter())


def log_dir() -> Path:
    from platformdirs import user_log_dir

    return Path(user_log_dir("gsdesktop", appauthor=False))


def header(program: str, extra: str = "") -> str:
    parts = [
        f"GenomeSpace Desktop {__version__} ({program})",
        f"Python {platform.python_version()}",
        platform.platform(),
        f"pid {os.getpid()}",
        f"started {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
    ]
    if getattr(sys, "frozen", False):
        parts.insert(1, "bundle")
    if extra:
        parts.insert(2, extra)
    return "# " + "; ".join(parts)


class HeaderRotatingFileHandler(RotatingFileHandler):
    """A :class:`RotatingFileHandler` that writes ``header`` at the top of every file it starts, and where
    a new process starts to append to it."""

    def __init__(self, path: Path, header_line: str, max_bytes: int, backups: int) -> None:
        self.header_line = header_line
        self.restore: list[tuple[logging.Handler | logging.Logger, int]] = []  # levels before
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=False)

    def _open(self):  # type: ignore[no-untyped-def]  # returns the stream (typeshed: TextIOWrapper)
        stream = super()._open()  # at start (appending to what earlier runs wrote) and after each rollover
        stream.write(self.header_line + "\n")
        stream.flush()
        return stream


def start_file_log(
    program: str, extra: str = "", level: int = logging.INFO, max_bytes: int = LOG_MAX_BYTES
) -> Path | None:
    """Log ``level`` and above of every logger to ``<log dir>/<program>.log`` (rotating), once per process.

    The console keeps its own level (warnings unless ``--debug``). Returns the file, or ``None`` when the
    folder cannot be written (then a warning goes to the console and nothing else changes).
    """
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, HeaderRotatingFileHandler):
            return Path(h.baseFilename)
    path = log_dir() / f"{program}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = HeaderRotatingFileHandler(path, header(program, extra), max_bytes, LOG_BACKUPS)
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file (%s): %s", path, exc)
        return None
    handler.setFormatter(formatter(FORMAT))
    handler.setLevel(level)
    handler.restore = [(h, h.level) for h in root.handlers] + [(root, root.level)]
    for h in root.handlers:  # the console keeps the level it had through the root logger
        if h.level == logging.NOTSET:
            h.setLevel(root.level)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    logging.getLogger(__name__).info("log file %s", path)
    return path


def stop_file_log() -> None:
    """Detach and close the log file handler (tests, and processes that run several programs)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, HeaderRotatingFileHandler):
            root.removeHandler(h)
            h.close()
            for obj, level in h.restore:
                obj.setLevel(level)


def log_engine_event(ev: object, logger: logging.Logger | None = None) -> None:
    """One log line for a sync-engine event worth keeping (state changes, actions, conflicts, problems);
    per-chunk progress is left out."""
    from gsdesktop.sync.events import (
        ActionDone,
        ConflictDetected,
        CycleDone,
        ProblemChanged,
        ServerRestored,
        StateChanged,
    )

    out = logger or logging.getLogger("gsdesktop.sync")
    if isinstance(ev, StateChanged):
        reason = f" ({ev.reason.value})" if ev.reason is not None else ""
        out.info("state %s -> %s%s", ev.previous.value, ev.state.value, reason)
    elif isinstance(ev, ActionDone):
        out.info("%s %s", ev.kind.value, ev.path)
    elif isinstance(ev, ConflictDetected):
        out.warning("conflict: %s changed on both sides; the local version was kept as %s", ev.path,
                    ev.conflict_copy)  # fmt: skip
    elif isinstance(ev, ProblemChanged):
        for p in ev.problems:
            out.info("problem (%s) %s: %s", p.kind.value, p.path or "<sync pair>", p.message)
    elif isinstance(ev, ServerRestored):
        out.warning("server restored from a backup: %s", ev.message)
    elif isinstance(ev, CycleDone):
        blocked = getattr(ev.report, "blocked", None)
        if blocked is not None:
            out.info("cycle stopped: %s", getattr(blocked, "message", blocked))
