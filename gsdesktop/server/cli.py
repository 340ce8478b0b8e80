"""``gsdesktop server run | add-user | remove-user | passwd | list-users | data-fingerprint | groups | acl``.

Heavy imports (FastAPI, uvicorn, boto3) happen inside the handlers so ``gsdesktop --help`` stays fast.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the handlers that use them (start-up time)
    from gsdesktop.server.access import AccessStore
    from gsdesktop.server.embedded import StoreHandle
    from gsdesktop.server.seaweed import S3Config
    from gsdesktop.server.users import UserStore

ENV_PREFIX = "GSDM_"
_TRUE = frozenset({"1", "true", "yes", "on"})

EXIT_CODES = (
    "exit codes: 0 ok (server run: stopped by SIGTERM/SIGINT), 1 failure (one line says why), 2 usage"
)
ENV_EPILOG = (
    EXIT_CODES + ". "
    "Every option can also be given as an environment variable: GSDM_ and the option's name in capitals "
    "with - as _ (GSDM_DATA_DIR, GSDM_PORT, GSDM_S3_ENDPOINT, GSDM_ACCESS_LOG=1, ...); an option on the "
    "command line wins. With --s3-endpoint the S3 credentials come from the standard AWS chain: "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / ~/.aws/credentials, or an instance role."
)


def env_name(flag: str) -> str:
    """``--s3-endpoint`` -> ``GSDM_S3_ENDPOINT``."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def _option(p: argparse.ArgumentParser, flag: str, **kw: Any) -> None:
    """``p.add_argument(flag, ...)`` whose default comes from ``GSDM_<FLAG>`` when that is set.

    argparse converts a string default with the option's ``type`` (and checks ``choices`` on it), so a bad
    value in the environment is refused like one on the command line.
    """
    name = env_name(flag)
    value = os.environ.get(name)
    if value is not None and value != "":
        if kw.get("action") == "store_true":
            kw["default"] = value.strip().lower() in _TRUE
        else:
            kw["default"] = value
            kw.pop("required", None)
    kw["help"] = f"{kw.get('help', '')} [env {name}]".strip()
    p.add_argument(flag, **kw)


def _add_store_options(p: argparse.ArgumentParser) -> None:
    _option(
        p,
        "--data-dir",
        type=Path,
        help="server data directory (the embedded SeaweedFS keeps its data here; not needed with "
        "--s3-endpoint)",
    )
    _option(p, "--s3-endpoint", metavar="URL", help="use this S3 store instead of the embedded SeaweedFS")
    _option(p, "--s3-bucket", metavar="NAME", help="bucket on --s3-endpoint (created if missing)")
    _option(p, "--s3-region", metavar="REGION", help="S3 region (default: AWS config or us-east-1)")


def register(sub: Any) -> None:
    server = sub.add_parser(
        "server", help="run and administer the self-hosted Data Manager server", epilog=EXIT_CODES
    )
    ssub = server.add_subparsers(dest="server_command", metavar="SUBCOMMAND")
    server.set_defaults(handler=lambda args: _help(server))

    run = ssub.add_parser(
        "run", help="run the Data Manager API (embedded SeaweedFS unless --s3-endpoint)", epilog=ENV_EPILOG
    )
    _add_store_options(run)
    _option(run, "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    _option(run, "--port", type=int, default=8080, help="port to listen on (default 8080)")
    _option(run, "--s3-public-endpoint", metavar="URL", help="S3 endpoint put into signed URLs for clients")
    _option(run, "--public-url", metavar="URL", help="base URL of this API as clients see it (load balancer)")
    _option(
        run, "--token-ttl", type=int, default=None, metavar="SECONDS", help="token lifetime (default 86400)"
    )
    _option(
        run,
        "--multipart-md5-at-complete",
        choices=("auto", "on", "off"),
        default="auto",
        help="let multipart clients give the file's MD5 when they complete, so they send while hashing "
        "(auto: on for the embedded SeaweedFS; turn on only for stores whose CopyObject onto the same key "
        "rewrites just the metadata, e.g. SeaweedFS, never for AWS S3)",
    )
    _option(run, "--demo-user", metavar="NAME", help="create this account if missing (password printed once)")
    _option(
        run,
        "--url-ttl",
        type=int,
        default=None,
        metavar="SECONDS",
        help="lifetime of signed S3 URLs (default: uploads 900, redirects 900, downloadurls 300)",
    )
    _option(
        run,
        "--forwarded-allow-ips",
        metavar="IPS",
        default=None,
        help="proxies whose X-Forwarded-* headers are trusted (default 127.0.0.1; '*' for all)",
    )
    _option(run, "--access-log", action="store_true", help="log every request, with its request id")
    _option(
        run,
        "--log-format",
        dest="server_log_format",  # not the top-level --log-format's dest, which it overrides when given
        choices=("text", "json"),
        default=None,
        help="log lines as text or one JSON object per line (default: gsdesktop's --log-format)",
    )
    run.set_defaults(handler=cmd_run)

    for name, helptext, func in (
        ("add-user", "create an account", cmd_add_user),
        ("passwd", "change an account's password (its old tokens stop working)", cmd_passwd),
        ("remove-user", "remove an account (files stay in the store)", cmd_remove_user),
    ):
        p = ssub.add_parser(name, help=helptext, epilog=EXIT_CODES)
        p.add_argument("name", metavar="NAME")
        _add_store_options(p)
        if name != "remove-user":
            p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        p.set_defaults(handler=func)
    lu = ssub.add_parser("list-users", help="list the accounts", epilog=EXIT_CODES)
    _add_store_options(lu)
    lu.set_defaults(handler=cmd_list_users)
    fp = ssub.add_parser(
        "data-fingerprint",
        help="show the data fingerprint; --reset after restoring the store from a backup",
        epilog=EXIT_CODES,
    )
    fp.add_argument(
        "--reset", action="store_true", help="set a new fingerprint: sync clients then keep their newer files"
    )
    _add_store_options(fp)
    fp.set_defaults(handler=cmd_data_fingerprint)
    groups = ssub.add_parser(
        "groups", help="list the sharing groups with their administrators and members", epilog=EXIT_CODES
    )
    groups.add_argument("--json", action="store_true", help="print JSON")
    _add_store_options(groups)
    groups.set_defaults(handler=cmd_groups)
    acl = ssub.add_parser(
        "acl", help="show who may access a path (its own and inherited sharing entries)", epilog=EXIT_CODES
    )
    acl.add_argument("path", metavar="PATH", help="/users/<owner>/... or /Home/<owner>/...")
    acl.add_argument("--json", action="store_true", help="print JSON")
    _add_store_options(acl)
    acl.set_defaults(handler=cmd_acl)


def _error(message: str) -> Exception:
    """A one-line CLI error (printed as ``gsdesktop: error: message``, exit code 1)."""
    from gsdesktop.cli.common import CommandError

    return CommandError(message)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _s3_config(args: argparse.Namespace) -> S3Config | None:
    """An explicit S3Config from the options, or ``None`` (embedded store)."""
    from gsdesktop.server.seaweed import S3Config

    endpoint: str | None = getattr(args, "s3_endpoint", None)
    bucket: str | None = getattr(args, "s3_bucket", None)
    if bool(endpoint) != bool(bucket):
        raise _error("--s3-endpoint and --s3-bucket go together")
    if not endpoint or not bucket:
        return None
    if len(bucket) < 3:
        raise _error("--s3-bucket must have at least 3 characters")
    region = (
        args.s3_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    return S3Config(
        endpoint=endpoint,
        bucket=bucket,
        region=region,
        public_endpoint=getattr(args, "s3_public_endpoint", None),
    )


def _open(args: argparse.Namespace) -> StoreHandle:
    from gsdesktop.server.embedded import open_store

    cfg = _s3_config(args)
    if cfg is None and args.data_dir is None:
        raise _error("give --data-dir DIR (embedded store) or --s3-endpoint and --s3-bucket")
    if cfg is None and not args.data_dir.is_dir():
        # a mistyped folder would otherwise become a new, empty store that no server uses
        raise _error(
            f"no such folder: {args.data_dir} (the --data-dir of 'gsdesktop server run'; "
            "for a new server, create the folder first)"
        )
    return open_store(args.data_dir, cfg)


def _read_password(args: argparse.Namespace) -> str:
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise _error("no password on stdin")
        return password
    if not sys.stdin.isatty():
        raise _error("no terminal to ask for the password on: pipe it in with --password-stdin")
    try:
        first = getpass.getpass(f"Password for {args.name}: ")
        second = getpass.getpass("Repeat the password: ")
    except EOFError:
        raise _error("no password given") from None
    if first != second:
        raise _error("the passwords do not match")
    if not first:
        raise _error("the password must not be empty")
    return first


def _users(handle: StoreHandle) -> UserStore:
    from gsdesktop.server.storage import S3Store
    from gsdesktop.server.users import UserStore

    return UserStore(S3Store(handle.config))


def _user_op(args: argparse.Namespace, op: str) -> int:
    from gsdesktop.server.paths import validate_username
    from gsdesktop.server.users import UserError

    if op == "add":
        try:
            validate_username(args.name)  # before asking for a password
        except ValueError as exc:
            raise _error(str(exc)) from None
    handle = _open(args)
    try:
        users = _users(handle)
        exists = users.exists(args.name)
        if op == "add" and exists:
            raise _error(f"user {args.name!r} already exists")
        if op != "add" and not exists:
            raise _error(f"no such user: {args.name!r}")
        password = _read_password(args) if op != "remove" else ""
        try:
            if op == "add":
                users.add(args.name, password)
                print(f"added user {args.name}")
            elif op == "passwd":
                users.set_password(args.name, password)
                print(f"changed the password of {args.name}")
            else:
                users.remove(args.name)
                print(f"removed user {args.name} (their files stay in the store)")
        except UserError as exc:
            raise _error(str(exc)) from None
    finally:
        handle.stop()
    return 0


def cmd_add_user(args: argparse.Namespace) -> int:
    return _user_op(args, "add")


def cmd_passwd(args: argparse.Namespace) -> int:
    return _user_op(args, "passwd")


def cmd_remove_user(args: argparse.Namespace) -> int:
    return _user_op(args, "remove")


def cmd_list_users(args: argparse.Namespace) -> int:
    handle = _open(args)
    try:
        for name in _users(handle).list_users():
            print(name)
    finally:
        handle.stop()
    return 0


def cmd_data_fingerprint(args: argparse.Namespace) -> int:
    from gsdesktop.server.fingerprint import get_fingerprint, reset_fingerprint
    from gsdesktop.server.storage import S3Store

    handle = _open(args)
    try:
        store = S3Store(handle.config)
        if args.reset:
            print(f"new data fingerprint: {reset_fingerprint(store)}")
        else:
            print(get_fingerprint(store))
    finally:
        handle.stop()
    return 0


def _access(handle: StoreHandle) -> AccessStore:
    from gsdesktop.server.access import AccessStore
    from gsdesktop.server.storage import S3Store

    return AccessStore(S3Store(handle.config))


def cmd_groups(args: argparse.Namespace) -> int:
    import json

    handle = _open(args)
    try:
        groups = [g.to_json() for g in _access(handle).groups()]
    finally:
        handle.stop()
    if args.json:
        print(json.dumps([{k: v for k, v in g.items() if k != "yourRole"} for g in groups], indent=2))
        return 0
    for g in groups:
        print(f"{g['name']}\tadmins: {', '.join(g['admins'])}\tmembers: {', '.join(g['members'])}")
    return 0


def cmd_acl(args: argparse.Namespace) -> int:
    import json

    from gsdesktop.server.paths import PathError, parse_user_path

    try:
        path = parse_user_path(args.path)
    except PathError as exc:
        raise _error(str(exc)) from None
    handle = _open(args)
    try:
        entries = [e.to_json() for e in _access(handle).entries(path)]
    finally:
        handle.stop()
    if args.json:
        print(json.dumps({"path": path.display(), "owner": path.user, "entries": entries}, indent=2))
        return 0
    print(f"{path.display()}\towner: {path.user}")
    for e in entries:
        who = "public" if e["type"] == "public" else f"{e['type']} {e['name']}"
        where = f" (inherited from {e['grantedOn']})" if e["inherited"] else ""
        print(f"  {who}: {e['level']}{where}")
    return 0


def _check_aws_credentials() -> None:
    """Refuse to start against an external S3 store with no credentials, saying where they come from."""
    import boto3

    if boto3.Session().get_credentials() is None:
        raise _error(
            "no S3 credentials for --s3-endpoint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE / ~/.aws/credentials) for the server's S3 user"
        )


def cmd_run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging
    import secrets

    import uvicorn

    from gsdesktop.logfiles import configure_console
    from gsdesktop.server.app import ServerSettings, create_app
    from gsdesktop.server.embedded import QuietExitServer, open_store
    from gsdesktop.server.httpproto import LimitedH11Protocol
    from gsdesktop.server.users import DEFAULT_TOKEN_TTL, UserError, UserStore

    if args.server_log_format:
        configure_console(logging.getLogger().level, args.server_log_format)
    logging.getLogger("gsdesktop").setLevel(logging.INFO)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
    if args.token_ttl is not None and args.token_ttl <= 0:
        raise _error("--token-ttl must be a positive number of seconds")
    # fail on a busy port before starting SeaweedFS
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on such sockets (else +40 ms per reply)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise _error(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    cfg = _s3_config(args)
    if cfg is None and args.data_dir is None:
        sock.close()
        raise _error(
            "give --data-dir (the embedded SeaweedFS keeps its data there) or --s3-endpoint and --s3-bucket"
        )
    if cfg is not None:
        _check_aws_credentials()
    handle = open_store(args.data_dir, cfg)
    try:
        settings = ServerSettings(
            s3=handle.config,
            token_ttl=args.token_ttl or DEFAULT_TOKEN_TTL,
            public_url=args.public_url,
            access_log=args.access_log,
            multipart_md5_at_complete=(
                handle.seaweed is not None
                if args.multipart_md5_at_complete == "auto"
                else args.multipart_md5_at_complete == "on"
            ),
        )
        if args.url_ttl:
            if args.url_ttl <= 0:
                raise _error("--url-ttl must be a positive number of seconds")
            settings = dataclasses.replace(
                settings, download_ttl=args.url_ttl, redirect_ttl=args.url_ttl, upload_ttl=args.url_ttl
            )
        app = create_app(settings)
        if args.demo_user:
            users = UserStore(app.state.store)
            if not users.exists(args.demo_user):
                password = os.environ.get("GSDESKTOP_DEMO_PASSWORD") or secrets.token_urlsafe(9)
                try:
                    users.add(args.demo_user, password)
                    if not os.environ.get("GSDESKTOP_DEMO_PASSWORD"):
                        print(f"demo account: {args.demo_user} / {password}", flush=True)
                except UserError as exc:
                    print(f"gsdesktop: warning: {exc}", file=sys.stderr)
        config = uvicorn.Config(
            app,
            http=LimitedH11Protocol,
            log_level="info",
            log_config=None,  # uvicorn's messages go through gsdesktop's log setup (text or JSON)
            access_log=False,  # the access log is gsdesktop's own, with request ids
            lifespan="off",
            proxy_headers=True,
            forwarded_allow_ips=args.forwarded_allow_ips,
            server_header=False,
        )
        server = QuietExitServer(config)
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(
            f"GenomeSpace Data Manager on http://{host}:{args.port} (store: {handle.config.endpoint})",
            flush=True,
        )
        server.run(sockets=[sock])
    finally:
        sock.close()
        handle.stop()
    return 0
