"""Shared CLI plumbing: account options, building a client from them, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable

from gsdesktop.datamanager import credentials as creds
from gsdesktop.datamanager import envsettings
from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.envsettings import env_int
from gsdesktop.datamanager.errors import (
    AuthenticationError,
    CancelledError,
    ConflictError,
    CredentialsUnavailableError,
    GSError,
    IntegrityError,
    InvalidRequestError,
    LocalFileError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    SettingError,
)
from gsdesktop.datamanager.http import DEFAULT_RETRIES
from gsdesktop.datamanager.transport import TransferConfig

ENV_RETRIES = envsettings.RETRIES


class CommandError(Exception):
    """A failure the CLI reports as one line (exit code ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


#: top-level packages only the server needs / only the desktop app needs (one clear error when absent)
SERVER_MODULES = frozenset(
    {
        "fastapi",
        "uvicorn",
        "boto3",
        "botocore",
        "itsdangerous",
        "starlette",
        "prometheus_client",
        "swagger_ui_bundle",
    }
)
GUI_MODULES = frozenset({"PySide6", "shiboken6"})

# Exit codes (documented in `gsdesktop --help` epilogs and the README).
EXIT_OK = 0
EXIT_FAILURE = 1  # anything else, incl. a partly failed multi-file transfer
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_NETWORK = 6
EXIT_INTEGRITY = 7
EXIT_LOCAL = 8
EXIT_CANCELLED = 130

EXIT_CODES_HELP = (
    "exit codes: 0 ok, 1 failure, 2 usage, 3 sign-in, 4 not found, 5 conflict, 6 network, "
    "7 integrity, 8 local file, 130 cancelled"
)


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for an error."""
    table: list[tuple[type[BaseException], int]] = [
        (CancelledError, EXIT_CANCELLED),
        (AuthenticationError, EXIT_AUTH),
        (PermissionDeniedError, EXIT_AUTH),
        (NotFoundError, EXIT_NOT_FOUND),
        (ConflictError, EXIT_CONFLICT),
        (NetworkError, EXIT_NETWORK),
        (IntegrityError, EXIT_INTEGRITY),
        (LocalFileError, EXIT_LOCAL),
        (InvalidRequestError, EXIT_USAGE),
        (SettingError, EXIT_USAGE),
    ]
    for cls, code in table:
        if isinstance(exc, cls):
            return code
    return EXIT_FAILURE


def print_error(exc: BaseException | str) -> None:
    """One line on stderr, no traceback."""
    if isinstance(exc, BaseException):
        text = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    else:
        text = exc
    print(f"gsdesktop: error: {' '.join(text.split())}", file=sys.stderr, flush=True)


Handler = Callable[[argparse.Namespace], int]


def guarded(fn: Handler) -> Handler:
    """Wrap a command handler: a :class:`GSError` becomes one line and its exit code."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "debug", False):  # retries are expected; say nothing unless asked
            logging.getLogger("urllib3").setLevel(logging.ERROR)
        try:
            return fn(args)
        except GSError as exc:
            if getattr(args, "debug", False):
                traceback.print_exception(exc)
            print_error(exc)
            return exit_code_for(exc)

    return run


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--server``, ``--username`` and ``--retries`` (defaults: environment, then last login)."""
    group = parser.add_argument_group("account")
    group.add_argument(
        "--server", metavar="URL", help=f"Data Manager URL (default: ${creds.ENV_SERVER} or last login)"
    )
    group.add_argument(
        "--username",
        "-u",
        metavar="NAME",
        help=f"account name (default: ${creds.ENV_USERNAME} or last login)",
    )
    group.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help=f"retries for transient network/server failures (default: ${ENV_RETRIES} or {DEFAULT_RETRIES})",
    )


def resolve_account(args: argparse.Namespace) -> tuple[str, str]:
    """(server URL, user name) from options, environment, then the last login.

    Raises:
        CredentialsUnavailableError: no server or no user name known.
    """
    last = creds.load_last_account()
    server = (
        getattr(args, "server", None)
        or os.environ.get(creds.ENV_SERVER)
        or (last.server_url if last else None)
    )
    if not server:
        raise CredentialsUnavailableError(
            "No server given: run 'gsdesktop login --server URL' first, "
            f"or pass --server or set {creds.ENV_SERVER}"
        )
    user = getattr(args, "username", None) or os.environ.get(creds.ENV_USERNAME)
    if not user and last and creds.normalize_server(last.server_url) == creds.normalize_server(server):
        user = last.username
    if not user:
        sso = creds.read_sso()
        user = sso.username if sso else None
    if not user:
        raise CredentialsUnavailableError(
            f"No user name given: run 'gsdesktop login' first, or pass --username or set {creds.ENV_USERNAME}"
        )
    return server.rstrip("/"), user


def retries_from(args: argparse.Namespace) -> int:
    value = getattr(args, "retries", None)
    if value is None:
        value = env_int(ENV_RETRIES, DEFAULT_RETRIES, 0, 100)
    return max(0, int(value))


def client_from_args(args: argparse.Namespace, *, pool_size: int = 16) -> DataManagerClient:
    """A ready client for the account named by ``args`` (see :func:`add_server_options`).

    Uses the password from the environment or keyring, and the shared ``~/.gs`` token when it belongs to
    this user and server; a fresh token is written back to ``~/.gs``.

    Raises:
        CredentialsUnavailableError: neither a password nor a usable token (message says what to do).
    """
    server, user = resolve_account(args)
    password = creds.find_password(server, user)
    token = None
    sso = creds.read_sso()
    last = creds.load_last_account()
    same_server = last is not None and creds.normalize_server(last.server_url) == creds.normalize_server(
        server
    )
    if sso and sso.username == user and same_server:
        token = sso.token
    if not password and not token:
        hint = "" if creds.keyring_available() else " (" + creds.NO_KEYRING_HELP + ")"
        raise CredentialsUnavailableError(
            f"Not signed in as {user} at {server}: run 'gsdesktop login --server {server} --username {user}'"
            + hint
        )
    return DataManagerClient(
        server,
        user,
        password,
        token=token,
        pool_size=pool_size,
        retries=retries_from(args),
        on_token=lambda t: creds.write_sso(user, t) if same_server or not sso else None,
        config=TransferConfig.from_env(),  # the user's transfer settings, read once here
    )
