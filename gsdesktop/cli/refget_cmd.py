"""``gsdesktop refget``: load FASTA into the server's refget service, or compute ids locally.

``gsdesktop refget load FASTA... [--circular NAME]...`` streams local files (``.gz`` accepted) to the
signed-in server; an argument that is a Data Manager path (``/users/alice/refs/x.fa``, ``/Home/...``)
and not a local file is indexed inside the server without downloading it.
``gsdesktop refget digest FASTA...`` prints the ids of each sequence without any server.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from gsdesktop.cli.common import EXIT_CODES_HELP, add_server_options, client_from_args, guarded, print_error
from gsdesktop.datamanager.errors import GSError, InvalidRequestError, LocalFileError

REMOTE_ROOTS = ("/users/", "/Home/", "/home/")


def _is_remote(arg: str) -> bool:
    return arg.startswith(REMOTE_ROOTS) and not Path(arg).exists()


def _print_ids(ids: Any, server_url: str | None, as_json: bool) -> None:
    if as_json:
        return
    for s in ids.sequences:
        circ = "  circular" if s.circular else ""
        print(f"{s.name}\tlength={s.length}{circ}")
        print(f"  md5       {s.md5}")
        print(f"  trunc512  {s.trunc512}")
        print(f"  ga4gh     {s.ga4gh}")
        if server_url:
            print(f"  url       {s.url(server_url)}")


@guarded
def cmd_load(args: argparse.Namespace) -> int:
    from gsdesktop.cli.progress import ProgressBar
    from gsdesktop.refget.client import index_remote, load_local

    results: list[dict[str, Any]] = []
    failed = 0
    with client_from_args(args) as client:
        for arg in args.fasta:
            try:
                if _is_remote(arg):
                    ids = index_remote(client, arg, args.circular or [])
                else:
                    path = Path(arg)
                    if not path.is_file():
                        raise LocalFileError(f"no such FASTA file: {arg}", paths=[arg])
                    bar = ProgressBar(f"refget {path.name}", 1, enabled=None if not args.json else False)
                    try:
                        ids = load_local(client, path, args.circular or [], progress=bar.update)
                    finally:
                        bar.close()
            except GSError as exc:
                if len(args.fasta) == 1:
                    raise
                print_error(exc)
                failed += 1
                continue
            results.append(ids.as_dict())
            if not args.json:
                state = f"{ids.objects_written} objects written" if ids.objects_written else "already loaded"
                print(f"{arg}: {len(ids.sequences)} sequence(s), {state}")
            _print_ids(ids, client.server_url, args.json)
    if args.json:
        print(json.dumps(results if len(args.fasta) > 1 else (results[0] if results else {}), indent=2))
    return 1 if failed else 0


@guarded
def cmd_digest(args: argparse.Namespace) -> int:
    from gsdesktop.refget.client import RefgetIds, SequenceIds
    from gsdesktop.refget.fasta import FastaFormatError, spool_file

    out: list[dict[str, Any]] = []
    for arg in args.fasta:
        path = Path(arg)
        if not path.is_file():
            raise LocalFileError(f"no such FASTA file: {arg}", paths=[arg])
        with tempfile.TemporaryDirectory(prefix="gs-refget-") as tmp:
            try:
                records = spool_file(path, Path(tmp))
            except FastaFormatError as exc:
                raise InvalidRequestError(str(exc)) from None
            except OSError as exc:
                raise LocalFileError(f"cannot read {arg}: {exc.strerror or exc}", paths=[arg]) from exc
        ids = RefgetIds(
            arg,
            [SequenceIds(r.name, r.digests.md5, r.digests.trunc512, r.digests.ga4gh, r.digests.length)
             for r in records],
        )  # fmt: skip
        out.append(ids.as_dict())
        _print_ids(ids, None, args.json)
    if args.json:
        print(json.dumps(out if len(out) > 1 else out[0], indent=2))
    return 0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "refget",
        help="serve reference sequences via GA4GH refget",
        description="Load FASTA into the server's refget service (served at <server>/sequence/<id>).",
        epilog=EXIT_CODES_HELP,
    )
    sub = p.add_subparsers(dest="refget_command", metavar="SUBCOMMAND")

    def usage(_args: argparse.Namespace) -> int:
        p.print_help(file=sys.stderr)
        return 2

    p.set_defaults(handler=usage)

    load = sub.add_parser(
        "load",
        help="load FASTA files (local, .gz accepted, or Data Manager paths) into refget",
        description=(
            "Load FASTA into refget on the signed-in server. Local files are streamed to the server; "
            "a Data Manager path such as /users/alice/refs/GRCh38.fa is indexed inside the server. "
            "Loading the same file again stores nothing new."
        ),
        epilog=EXIT_CODES_HELP,
    )
    add_server_options(load)
    load.add_argument("fasta", nargs="+", metavar="FASTA", help="local FASTA file or /users/<you>/... path")
    load.add_argument(
        "--circular", action="append", metavar="NAME", help="mark the sequence NAME circular (repeatable)"
    )
    load.add_argument("--json", action="store_true", help="print the ids as JSON")
    load.set_defaults(handler=cmd_load)

    dig = sub.add_parser(
        "digest", help="print the refget ids of local FASTA sequences (no server)", epilog=EXIT_CODES_HELP
    )
    dig.add_argument("fasta", nargs="+", metavar="FASTA")
    dig.add_argument("--json", action="store_true")
    dig.set_defaults(handler=cmd_digest)
