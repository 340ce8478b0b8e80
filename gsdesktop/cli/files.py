"""File commands: login, logout, whoami, ls, tree, mkdir, put, get, rm, cp, mv, info, formats, url.

Remote paths are Data Manager paths (``/users/alice/run42/reads.fastq.gz``); a path without a leading
``/`` is relative to your home folder. Output is plain and parseable unless a terminal is attached
(progress bar on stderr); ``--json`` gives machine-readable results.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gsdesktop.cli import common
from gsdesktop.cli.common import (
    EXIT_CODES_HELP,
    Handler,
    add_server_options,
    client_from_args,
    guarded,
    print_error,
)
from gsdesktop.datamanager import credentials as creds
from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import (
    ConflictError,
    CredentialsUnavailableError,
    GSError,
    InvalidRequestError,
    LocalFileError,
    NotFoundError,
)
from gsdesktop.datamanager.models import GSDataFormat, GSFileMetadata
from gsdesktop.datamanager.transfer import CancelToken, ProgressCallback, ensure_space
from gsdesktop.datamanager.transport import TransferConfig

if TYPE_CHECKING:
    from gsdesktop.cli.transfers import Job, Plan


def with_client(fn: Callable[[argparse.Namespace, DataManagerClient], int]) -> Handler:
    """A guarded handler that runs ``fn(args, client)`` with a client for ``args``, closed afterwards."""

    @guarded
    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        with client_from_args(args) as client:
            return fn(args, client)

    return run


def remote(client: DataManagerClient, path: str | None) -> str:
    """Absolute canonical remote path; relative paths are under the home folder."""
    if not path:
        return client.home
    if not path.startswith("/"):
        path = client.home + "/" + path
    return P.canonical(path)


def meta_json(m: GSFileMetadata) -> dict[str, Any]:
    return {
        "name": m.name,
        "path": m.path,
        "isDirectory": m.is_directory,
        "size": m.size,
        "lastModified": m.last_modified.isoformat() if m.last_modified else None,
        "md5": m.md5,
        "owner": m.owner,
        "dataFormat": m.data_format.name if m.data_format else None,
        "availableDataFormats": [f.name for f in m.available_data_formats],
        "url": m.url,
    }


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _long_line(m: GSFileMetadata, name: str | None = None) -> str:
    kind = "d" if m.is_directory else "-"
    size = "" if m.is_directory else str(m.size if m.size is not None else "?")
    when = m.last_modified.strftime("%Y-%m-%d %H:%M") if m.last_modified else "-"
    if name is None:
        name = m.name + ("/" if m.is_directory else "")
    return f"{kind} {size:>12} {when} {name}"


# --- account commands ---------------------------------------------------------------------------------


@guarded
def cmd_login(args: argparse.Namespace) -> int:
    last = creds.load_last_account()
    server = args.server or os.environ.get(creds.ENV_SERVER) or (last.server_url if last else None)
    if not server:
        raise InvalidRequestError("Give the server URL: gsdesktop login --server URL")
    server = server.rstrip("/")
    user = args.username or os.environ.get(creds.ENV_USERNAME) or (last.username if last else None)
    if not user and sys.stdin.isatty():
        user = input("GenomeSpace user name: ").strip()
    if not user:
        raise InvalidRequestError("Give the user name: gsdesktop login --username NAME")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = creds.env_password(user) or ""
        if not password and sys.stdin.isatty():
            password = getpass.getpass(f"Password for {user} at {server}: ")
    if not password:
        raise CredentialsUnavailableError(
            "No password given: type it at the prompt, pipe it with --password-stdin, "
            "or set GSDESKTOP_PASSWORD"
        )
    client = DataManagerClient(
        server, user, password, retries=common.retries_from(args), config=TransferConfig.from_env()
    )
    try:
        token = client.login()
        client.metadata(client.home)  # proves the token works for the Data Manager too
    finally:
        client.close()
    creds.write_sso(user, token)
    creds.save_last_account(server, user)
    stored = False
    if not args.no_keyring:
        try:
            creds.set_keyring_password(server, user, password)
            stored = True
        except CredentialsUnavailableError as exc:
            print(f"gsdesktop: note: password not stored. {exc.message}", file=sys.stderr)
    if args.json:
        _print_json({"server": server, "username": user, "passwordStored": stored})
    else:
        print(f"Signed in as {user} at {server}")
    return 0


@guarded
def cmd_logout(args: argparse.Namespace) -> int:
    try:
        server, user = common.resolve_account(args)
    except CredentialsUnavailableError:
        server, user = "", ""
    if server and user:
        creds.delete_keyring_password(server, user)
    creds.clear_sso()
    print(f"Signed out{' ' + user if user else ''}")
    return 0


@with_client
def cmd_whoami(args: argparse.Namespace, client: DataManagerClient) -> int:
    client.metadata(client.home)
    if args.json:
        _print_json({"server": client.server_url, "username": client.username, "home": client.home})
    else:
        print(f"{client.username} at {client.server_url} (home {client.home})")
    return 0


# --- browsing -----------------------------------------------------------------------------------------


@with_client
def cmd_ls(args: argparse.Namespace, client: DataManagerClient) -> int:
    path = remote(client, args.path)
    meta = client.metadata(path)
    if not meta.is_directory:
        entries = [meta]
    elif args.recursive:  # everything below, named by its path relative to the folder, sorted
        entries = sorted(client.list_recursive(path), key=lambda m: m.path)
    else:
        entries = list(client.list(path).contents)
    if args.json:
        _print_json([meta_json(m) for m in entries])
        return 0
    for m in entries:
        name = m.path[len(path.rstrip("/")) + 1 :] if args.recursive and meta.is_directory else m.name
        name += "/" if m.is_directory else ""
        print(_long_line(m, name) if args.long else name)
    return 0


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def tree_lines(root: str, entries: list[GSFileMetadata]) -> list[str]:
    """Draw ``entries`` (everything below ``root``) as a tree: folders first, then files, by name."""
    children: dict[str, list[GSFileMetadata]] = {}
    for m in entries:
        children.setdefault(P.parent_of(m.path), []).append(m)
    lines: list[str] = []

    def draw(folder: str, indent: str) -> None:
        kids = sorted(children.get(folder, []), key=lambda m: (not m.is_directory, m.name))
        for i, m in enumerate(kids):
            last = i == len(kids) - 1
            if m.is_directory:
                label = m.name + "/"
            else:
                size = "?" if m.size is None else f"{m.size:,} {_plural(m.size, 'byte')}"
                label = f"{m.name}  ({size})"
            lines.append(indent + ("└── " if last else "├── ") + label)
            if m.is_directory:
                draw(m.path, indent + ("    " if last else "│   "))

    draw(root, "")
    return lines


@with_client
def cmd_tree(args: argparse.Namespace, client: DataManagerClient) -> int:
    path = remote(client, args.path)
    entries = client.list_recursive(path)
    if args.json:
        _print_json([meta_json(m) for m in entries])
        return 0
    print(path)
    for line in tree_lines(path, entries):
        print(line)
    n_dirs = sum(m.is_directory for m in entries)
    n_files = len(entries) - n_dirs
    print(f"{n_dirs} {_plural(n_dirs, 'folder')}, {n_files} {_plural(n_files, 'file')}")
    return 0


@with_client
def cmd_info(args: argparse.Namespace, client: DataManagerClient) -> int:
    meta = client.metadata(remote(client, args.path))
    if args.json:
        _print_json(meta_json(meta))
        return 0
    for key, value in meta_json(meta).items():
        if isinstance(value, list):
            value = ", ".join(value)
        print(f"{key}: {'' if value is None else value}")
    return 0


@with_client
def cmd_formats(args: argparse.Namespace, client: DataManagerClient) -> int:
    formats: list[GSDataFormat]
    if args.path:
        formats = list(client.metadata(remote(client, args.path)).available_data_formats)
    else:
        formats = client.data_formats()
    if args.json:
        _print_json([f.to_json() for f in formats])
    else:
        for f in formats:
            print(f"{f.name}\t{f.file_extension or ''}\t{f.url}")
    return 0


@with_client
def cmd_url(args: argparse.Namespace, client: DataManagerClient) -> int:
    path = remote(client, args.path)
    url = _public_link(client, path) if args.public else client.download_url(path)
    if args.json:
        _print_json({"path": path, "url": url})
    else:
        print(url)
    return 0


def _public_link(client: DataManagerClient, path: str) -> str:
    """The public link of ``path``; NotFoundError (exit 4) with how to make it public when it is not."""
    from gsdesktop.datamanager.sharing import Sharing

    try:
        return Sharing(client).public_url(path)
    except NotFoundError as exc:
        if "not public" in exc.message:
            exc.add_note(f"To make it public: gsdesktop share {path} --public")
        raise


# --- changes ------------------------------------------------------------------------------------------


@with_client
def cmd_mkdir(args: argparse.Namespace, client: DataManagerClient) -> int:
    made = []
    for p in args.paths:
        meta = client.mkdir(remote(client, p), parents=args.parents)
        made.append(meta_json(meta))
        if not args.json:
            print(meta.path)
    if args.json:
        _print_json(made)
    return 0


@with_client
def cmd_rm(args: argparse.Namespace, client: DataManagerClient) -> int:
    deleted: list[dict[str, Any]] = []
    for p in args.paths:
        path = remote(client, p)
        if path.rstrip("/") == client.home:
            raise InvalidRequestError("Refusing to delete your home folder", paths=[path])
        try:
            client.delete(path, recursive=args.recursive)
        except ConflictError as exc:
            if not args.recursive:
                exc.add_note(f"To delete the folder with everything in it: gsdesktop rm -r {shlex.quote(p)}")
            raise
        deleted.append({"path": path, "deleted": True})
        if not args.json:
            print(f"deleted\t{path}")
    if args.json:
        _print_json(deleted)
    return 0


@with_client
def cmd_cp(args: argparse.Namespace, client: DataManagerClient) -> int:
    return _copy_or_move(client.copy, client, args)


@with_client
def cmd_mv(args: argparse.Namespace, client: DataManagerClient) -> int:
    return _copy_or_move(client.move, client, args)


def _copy_or_move(
    op: Callable[[str, str], GSFileMetadata], client: DataManagerClient, args: argparse.Namespace
) -> int:
    """Run ``op(src, dest)`` for ``args.src``/``args.dst`` and print the new path."""
    meta = op(remote(client, args.src), _dest(client, args.src, args.dst))
    if args.json:
        _print_json(meta_json(meta))
    else:
        print(meta.path)
    return 0


def _dest(client: DataManagerClient, src: str, dst: str) -> str:
    """``cp a folder/`` copies into the folder (like ``cp``)."""
    target = remote(client, dst)
    if dst.endswith("/") or (client.exists(target) and client.metadata(target).is_directory):
        return P.join(target, P.basename(remote(client, src)))
    return target


# --- transfers ----------------------------------------------------------------------------------------


def _transfer_report(args: argparse.Namespace, verb: str, outcome: Any, total: int) -> int:
    if args.json:
        _print_json(
            {
                "transferred": [
                    {"local": str(j.local), "remote": j.remote, "size": j.size} for j in outcome.done
                ],
                "errors": [
                    {"path": j.remote if j else None, "error": e.user_message} for j, e in outcome.failed
                ],
                "bytes": sum(j.size for j in outcome.done),
                "cancelled": outcome.cancelled,
            }
        )
    elif sys.stderr.isatty() and not args.quiet:
        print(f"{verb} {len(outcome.done)} files, {sum(j.size for j in outcome.done)} bytes", file=sys.stderr)
    if outcome.cancelled:
        print_error("cancelled")
        for line in outcome.kept:
            print_error(line)
        return common.EXIT_CANCELLED
    if outcome.failed:
        if len(outcome.failed) > 1:
            print_error(f"{len(outcome.failed)} of {len(outcome.failed) + len(outcome.done)} files failed")
        codes = {common.exit_code_for(e) for _, e in outcome.failed}
        return codes.pop() if len(codes) == 1 else common.EXIT_FAILURE
    return 0


def _on_error(job: Any, exc: GSError) -> None:
    print_error(exc)


@guarded
def cmd_put(args: argparse.Namespace) -> int:
    from gsdesktop.cli.transfers import plan_put

    if len(args.items) < 2:
        raise InvalidRequestError("usage: gsdesktop put [-r] LOCAL... REMOTE")
    sources = [Path(s) for s in args.items[:-1]]
    with client_from_args(args, pool_size=max(16, args.jobs * 2)) as client:
        dest = remote(client, args.items[-1])
        plan = plan_put(client, sources, dest, args.recursive, into_folder=args.items[-1].endswith("/"))
        for d in plan.dirs:
            client.mkdir(d, parents=True)

        def work(job: Any, progress: ProgressCallback, cancel: CancelToken) -> object:
            return client.upload(job.local, job.remote, progress=progress, cancel=cancel)

        return _run_plan(args, plan, work, "put", "uploaded", lambda job: job.remote)


@guarded
def cmd_get(args: argparse.Namespace) -> int:
    from gsdesktop.cli.transfers import plan_get

    with client_from_args(args, pool_size=max(16, args.jobs * 2)) as client:
        src = remote(client, args.remote)
        plan = plan_get(client, src, Path(args.local), args.recursive)
        if not args.format and len(plan.jobs) > 1:  # the whole tree first; each file checks too
            ensure_space(_nearest_folder(Path(args.local)), _bytes_to_add(plan))
        for d in plan.dirs:
            try:
                Path(d).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LocalFileError(f"Cannot create folder: {exc.strerror or exc}", paths=[d]) from exc
        if args.format and len(plan.jobs) != 1:
            raise InvalidRequestError("--format works on a single file")

        def work(job: Any, progress: ProgressCallback, cancel: CancelToken) -> object:
            return client.download(
                job.remote, job.local, data_format=args.format, progress=progress, cancel=cancel
            )

        return _run_plan(args, plan, work, "get", "downloaded", lambda job: job.local)


def _nearest_folder(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (where the downloads will take space)."""
    path = path.absolute()
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def _bytes_to_add(plan: Plan) -> int:
    """What downloading ``plan`` adds to the disk: files it replaces give their space back."""
    total = 0
    for job in plan.jobs:
        try:
            old = job.local.stat().st_size
        except OSError:
            old = 0
        total += max(0, job.size - old)
    return total


def _run_plan(
    args: argparse.Namespace,
    plan: Plan,
    work: Callable[[Job, ProgressCallback, CancelToken], object],
    label: str,
    verb: str,
    shown: Callable[[Job], object],
) -> int:
    """Run ``plan.jobs`` with ``args.jobs`` workers, print ``shown(job)`` per finished job, then report."""
    from gsdesktop.cli.transfers import run_jobs

    def done(job: Job) -> None:
        if not args.json:
            print(f"{shown(job)}", flush=True)

    outcome = run_jobs(
        plan.jobs, work, label=label, workers=args.jobs, show_progress=not args.quiet and not args.json,
        on_done=done, on_error=_on_error,
    )  # fmt: skip
    return _transfer_report(args, verb, outcome, plan.total_bytes)


# --- interrupted transfers ----------------------------------------------------------------------------


@guarded
def cmd_transfers(args: argparse.Namespace) -> int:
    """List, continue (``--resume``) or give up (``--discard``) interrupted large transfers."""
    import time

    from gsdesktop.cli.transfers import Job, Plan
    from gsdesktop.datamanager.pending import discard, interrupted_transfers, resume
    from gsdesktop.datamanager.transfer import human_bytes

    with client_from_args(args) as client:
        items = interrupted_transfers(client)
        if args.paths:
            wanted = []
            for p in args.paths:
                hits = [
                    t for t in items if t.local == str(Path(p).absolute()) or t.remote == remote(client, p)
                ]
                if not hits:
                    raise NotFoundError("No interrupted transfer of this path", paths=[p])
                wanted += [t for t in hits if t not in wanted]
            items = wanted
        if not items and not args.json:
            print("No interrupted transfers.")
            return 0
        if args.discard:
            for t in items:
                discard(client, t)
                if not args.json:
                    print(f"discarded {t.kind} {t.local if t.kind == 'upload' else t.remote}", flush=True)
            if args.json:
                _print_json(
                    {"discarded": [{"kind": t.kind, "local": t.local, "remote": t.remote} for t in items]}
                )
            return 0
        if args.resume:
            jobs = {Job(Path(t.local), t.remote, t.size): t for t in items}

            def work(job: Job, progress: ProgressCallback, cancel: CancelToken) -> object:
                item = jobs[job]
                try:
                    return resume(client, item, progress=progress, cancel=cancel)
                except LocalFileError as exc:
                    exc.add_note(f"To give it up: gsdesktop transfers --discard {shlex.quote(item.local)}")
                    raise

            def shown(job: Job) -> object:
                return job.remote if jobs[job].kind == "upload" else job.local

            return _run_plan(args, Plan(jobs=list(jobs)), work, "resume", "finished", shown)
        if args.json:
            _print_json(
                [
                    {"kind": t.kind, "local": t.local, "remote": t.remote, "size": t.size, "done": t.done,
                     "since": t.updated}
                    for t in items
                ]
            )  # fmt: skip
            return 0
        for t in items:
            share = f"{human_bytes(t.done)} of {human_bytes(t.size)} ({100 * t.done // max(1, t.size)} %)"
            ends = f"{t.local} -> {t.remote}" if t.kind == "upload" else f"{t.remote} -> {t.local}"
            since = time.strftime("%Y-%m-%d %H:%M", time.localtime(t.updated))
            print(f"{t.kind:<8}  {share:<30}  {ends}  (since {since})")
        return 0


# --- registration -------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subparsers.add_parser(
            name, help=help_text, description=help_text, epilog=EXIT_CODES_HELP
        )
        add_server_options(p)
        p.set_defaults(handler=handler)
        return p

    p = add("login", cmd_login, "sign in; stores the password in the keyring and the token in ~/.gs")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--no-keyring", action="store_true", help="do not store the password (token only)")
    p.add_argument("--json", action="store_true")
    add("logout", cmd_logout, "sign out: forget the stored password and the ~/.gs token")
    p = add("whoami", cmd_whoami, "show the signed-in account (and check it works)")
    p.add_argument("--json", action="store_true")

    p = add("ls", cmd_ls, "list a folder")
    p.add_argument("-l", "--long", action="store_true", help="type, size, modification time")
    p.add_argument("-R", "--recursive", action="store_true", help="everything below the folder too")
    p.add_argument("--json", action="store_true")
    p.add_argument("path", nargs="?", help="remote folder (default: your home folder)")
    p = add("tree", cmd_tree, "list a folder recursively")
    p.add_argument("--json", action="store_true")
    p.add_argument("path", nargs="?")
    p = add("info", cmd_info, "show a file's or folder's metadata")
    p.add_argument("--json", action="store_true")
    p.add_argument("path")
    p = add("formats", cmd_formats, "data formats known to the server, or those a file can be converted to")
    p.add_argument("--json", action="store_true")
    p.add_argument("path", nargs="?")
    p = add("url", cmd_url, "print a time-limited signed download URL (--public: the public link)")
    p.add_argument(
        "--public", action="store_true", help="the item's public link (error, exit 4, if it is not public)"
    )
    p.add_argument("--json", action="store_true", help='print {"path", "url"}')
    p.add_argument("path")

    p = add("mkdir", cmd_mkdir, "create folders")
    p.add_argument("-p", "--parents", action="store_true", help="create missing parent folders")
    p.add_argument("--json", action="store_true", help="print the new folders' metadata")
    p.add_argument("paths", nargs="+")
    p = add("rm", cmd_rm, "delete files or (with -r) folders")
    p.add_argument("-r", "--recursive", action="store_true")
    p.add_argument("--json", action="store_true", help='print [{"path", "deleted"}]')
    p.add_argument("paths", nargs="+")
    for name, handler, text in (("cp", cmd_cp, "server-side copy"), ("mv", cmd_mv, "move or rename")):
        p = add(name, handler, text)
        p.add_argument("--json", action="store_true", help="print the new item's metadata")
        p.add_argument("src")
        p.add_argument("dst")

    p = add("transfers", cmd_transfers, "list, continue or give up interrupted large uploads and downloads")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--resume", action="store_true", help="continue them where they stopped")
    what.add_argument(
        "--discard", action="store_true", help="give them up: delete stored parts/partial files"
    )
    p.add_argument("-j", "--jobs", type=int, default=1, help="transfers resumed at once (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="only the transfers of these local or remote paths"
    )

    for name, handler, text in (
        ("put", cmd_put, "upload files (and with -r folders)"),
        ("get", cmd_get, "download a file (or with -r a folder)"),
    ):
        p = add(name, handler, text)
        p.add_argument("-r", "--recursive", action="store_true", help="copy folders and everything in them")
        p.add_argument("-j", "--jobs", type=int, default=4, help="parallel transfers (default 4)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        p.add_argument("--json", action="store_true", help="print a JSON summary")
        if name == "put":
            p.add_argument(
                "items",
                nargs="+",
                metavar="PATH",
                help="local files/folders, then the remote destination (last)",
            )
        else:
            p.add_argument("--format", help="download converted to this data format (name or URL)")
            p.add_argument("remote")
            p.add_argument("local")


__all__ = ["register"]
