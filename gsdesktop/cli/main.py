"""Entry point: `gsdesktop [--debug] <command> ...`.

Each command group lives in its own module exposing ``register(subparsers)``; a registered parser
sets ``handler`` (a callable taking the parsed namespace and returning an exit code). Modules must
import heavy dependencies (Qt, FastAPI, boto3) lazily inside their handlers so ``--help`` stays fast
and the desktop install never needs server packages.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from gsdesktop import __version__
from gsdesktop.cli.common import GUI_MODULES, SERVER_MODULES, CommandError

#: version of the documented ``--json`` shapes: fields are only ever added within a version; removing or
#: changing one makes a new version (README, "JSON output")
JSON_VERSION = 1

# (module, attribute) pairs; a module that is missing (not written yet) is skipped.
COMMAND_MODULES: tuple[str, ...] = (
    "gsdesktop.cli.files",
    "gsdesktop.cli.sharing_cmd",
    "gsdesktop.cli.sync_cmd",
    "gsdesktop.cli.refget_cmd",
    "gsdesktop.cli.gui_cmd",
    "gsdesktop.server.cli",
    "gsdesktop.cli.completion",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gsdesktop",
        description="GenomeSpace Desktop: sync, browse and serve GenomeSpace Data Manager folders.",
    )
    parser.add_argument("--version", action="version", version=f"gsdesktop {__version__}")
    parser.add_argument(
        "--json-version",
        action="version",
        version=str(JSON_VERSION),
        help="print the version of the --json output shapes (README: JSON output) and exit",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("GSDESKTOP_LOG_FORMAT") or "text",
        help="log lines as text (default) or one JSON object per line, for log collectors; also for "
        "the log files of the app and `sync --watch` [env GSDESKTOP_LOG_FORMAT]",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group whose optional dependency is absent
            if exc.name and (exc.name == name or name.startswith(exc.name)):
                continue
            raise
        module.register(sub)
    return parser


def _report(exc: BaseException, debug: bool) -> int:
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in SERVER_MODULES:
        exc = CommandError(
            f"this command needs the server components ({exc.name} is missing): "
            "pip install 'gsdesktop[server]', or use the full bundle"
        )
    elif isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in GUI_MODULES:
        exc = CommandError(
            f"this command needs the desktop app's Qt packages ({exc.name} is missing): "
            "pip install 'gsdesktop[gui]', or use the full bundle"
        )
    if debug:
        import traceback

        traceback.print_exception(exc)
    code = getattr(exc, "code", 1)
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    print(f"gsdesktop: error: {message}", file=sys.stderr)
    return code if isinstance(code, int) and code > 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list:
        args_list = ["gui"]  # `gsdesktop` with no arguments opens the desktop app
    args = parser.parse_args(args_list)
    from gsdesktop.logfiles import LOG_FORMATS, configure_console

    if args.log_format not in LOG_FORMATS:  # from GSDESKTOP_LOG_FORMAT (argparse checks only the option)
        parser.error(f"GSDESKTOP_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {args.log_format!r}")
    configure_console(logging.DEBUG if args.debug else logging.WARNING, args.log_format)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("gsdesktop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # one clear line per error; traceback only with --debug
        return _report(exc, args.debug)


def gui_main() -> int:
    return main(["gui", *sys.argv[1:]])
