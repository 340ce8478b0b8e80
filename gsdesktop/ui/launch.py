"""Startup paths of ``gsdesktop gui`` and ``gsdesktop demo``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gsdesktop.datamanager import credentials as creds
from gsdesktop.datamanager.errors import CredentialsUnavailableError, GSError
from gsdesktop.ui import autostart
from gsdesktop.ui.demo import (
    DEMO_PASSWORD,
    DEMO_USER,
    demo_data_dir,
    save_demo_port,
    saved_demo_port,
    seed_demo,
)
from gsdesktop.ui.prefs import Prefs, load_file_password
from gsdesktop.ui.runtime import (
    SingleInstance,
    ensure_qapp,
    instance_name,
    resolve_remote,
    run_app,
)
from gsdesktop.ui.session import SyncSetup

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

log = logging.getLogger(__name__)


def _client_for(server: str, username: str, password: str | None = None) -> DataManagerClient:
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.transport import TransferConfig

    password = password or creds.find_password(server, username) or load_file_password(server, username)
    token = None
    sso = creds.read_sso()
    if not password and sso is not None and sso.username == username:
        token = sso.token
    if not password and not token:
        raise CredentialsUnavailableError(
            f"Not signed in as {username} at {server}: set GSDESKTOP_PASSWORD, run 'gsdesktop login', "
            "or start 'gsdesktop gui' without --folder to use the setup wizard."
        )
    return DataManagerClient(
        server, username, password, token=token, pool_size=16, config=TransferConfig.from_env()
    )


def start_log(program: str) -> None:
    """The app's rotating log file (version, platform and Qt at the top)."""
    import PySide6
    from PySide6.QtCore import qVersion

    from gsdesktop.logfiles import start_file_log

    start_file_log(program, f"Qt {qVersion()}, PySide6 {PySide6.__version__}")


def launch_gui(args: argparse.Namespace) -> int:
    """``gsdesktop gui``: provisioning flags, saved settings, or the first-run wizard."""
    start_log("desktop")
    prefs = Prefs.load()
    if getattr(args, "poll_interval", None):
        prefs.poll_interval = float(args.poll_interval)
    folder = getattr(args, "folder", None)
    server = getattr(args, "server", None) or os.environ.get(creds.ENV_SERVER) or prefs.server_url
    username = getattr(args, "username", None) or os.environ.get(creds.ENV_USERNAME) or prefs.username
    if folder:
        # Provisioning: no dialog at all. Errors are one clear line (exit 1).
        if not server or not username:
            raise CredentialsUnavailableError(
                f"--folder needs an account: pass --server and --username or set {creds.ENV_SERVER} and "
                f"{creds.ENV_USERNAME} (and {creds.ENV_PASSWORD} or a keyring entry)"
            )
        client = _client_for(server, username)
        local = Path(folder).expanduser().absolute()
        if local.exists() and not local.is_dir():
            raise GSError(f"--folder is not a folder: {local}")
        remote = resolve_remote(client, getattr(args, "remote", None))
        prefs.server_url, prefs.username = client.server_url, username
        prefs.local_folder, prefs.remote_folder = str(local), remote
        _save_quietly(prefs)
        return _run_single(SyncSetup(client, local, remote, prefs))

    ensure_qapp()
    single = SingleInstance()
    if single.notify_running():
        print("gsdesktop: the desktop app is already running; it was brought to the front", file=sys.stderr)
        return 0
    setup: SyncSetup | None = None
    if prefs.configured:
        try:
            saved = _client_for(server or prefs.server_url, username or prefs.username)
        except CredentialsUnavailableError as exc:
            log.info("saved account needs a password: %s", exc)
            asked = _sign_in_at_start(server or prefs.server_url, username or prefs.username)
            if asked is None:
                return 0  # cancelled
            saved = asked
        setup = SyncSetup(saved, Path(prefs.local_folder), prefs.remote_folder, prefs)
    if setup is None:
        from gsdesktop.ui.wizard import run_wizard

        setup = run_wizard(prefs)
        if setup is None:
            return 0  # cancelled
    single.listen()
    return run_app(setup, single=single)


def _sign_in_at_start(server: str, username: str) -> DataManagerClient | None:
    """The saved account has no stored password (the user chose to be asked): ask for it now, with server
    and user filled in. ``None`` when cancelled."""
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.transport import TransferConfig
    from gsdesktop.ui.bridge import TaskRunner
    from gsdesktop.ui.runtime import SignalWatcher
    from gsdesktop.ui.signin import SignInDialog

    client = DataManagerClient(server, username, pool_size=16, config=TransferConfig.from_env())
    runner = TaskRunner(1)
    dialog = SignInDialog(client, runner, lambda _summary: None)
    watcher = SignalWatcher()
    watcher.received.connect(lambda _sig: dialog.reject())
    try:
        accepted = dialog.exec() == SignInDialog.DialogCode.Accepted
    finally:
        watcher.restore()
        runner.shutdown(5000)
    return client if accepted else None


def _run_single(setup: SyncSetup, name: str | None = None) -> int:
    ensure_qapp()
    single = SingleInstance(name)
    if single.notify_running():
        print("gsdesktop: the desktop app is already running; it was brought to the front", file=sys.stderr)
        return 0
    single.listen()
    return run_app(setup, single=single)


def _save_quietly(prefs: Prefs) -> None:
    try:
        prefs.save()
    except OSError as exc:
        log.warning("could not save preferences: %s", exc)


def _demo_setup(
    args: argparse.Namespace, data_dir: Path, client: DataManagerClient, server_url: str
) -> SyncSetup:
    """The demo's sync pair: its own settings file (what the user set in Settings last time: folders,
    interval, mode, limits) unless the command line says otherwise; "Start at login" starts the demo."""
    path = data_dir / "desktop.json"
    first = not path.exists()
    prefs = Prefs.load(path)
    prefs.server_url, prefs.username = server_url, DEMO_USER
    if getattr(args, "folder", None):
        prefs.local_folder = str(Path(args.folder).expanduser().absolute())
    elif not prefs.local_folder:
        prefs.local_folder = str(data_dir / "GenomeSpace")
    prefs.remote_folder = prefs.remote_folder or client.home
    if getattr(args, "poll_interval", None):
        prefs.poll_interval = float(args.poll_interval)
    elif first:
        prefs.poll_interval = 5.0  # the demo's own default: changes show up quickly
    command = ["demo"]
    for option in ("data_dir", "folder"):
        if getattr(args, option, None):
            value = Path(getattr(args, option)).expanduser().absolute()
            command += [f"--{option.replace('_', '-')}", str(value)]
    if getattr(args, "port", 0):
        command += ["--port", str(args.port)]
    return SyncSetup(
        client,
        Path(prefs.local_folder).expanduser(),
        prefs.remote_folder,
        prefs,
        prefs_path=path,
        autostart_command=autostart.launch_command(command),
    )


def launch_demo(args: argparse.Namespace) -> int:
    """``gsdesktop demo``: embedded server + demo account + sample data + the app, all on loopback."""
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.transport import TransferConfig
    from gsdesktop.server.embedded import start_local_server

    data_dir = Path(args.data_dir).expanduser() if getattr(args, "data_dir", None) else demo_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    start_log("desktop-demo")
    ensure_qapp()
    single = SingleInstance(instance_name() + "-demo")
    if single.notify_running():
        print("gsdesktop: the demo is already running; it was brought to the front", file=sys.stderr)
        return 0
    print(f"gsdesktop demo: starting the local server (data in {data_dir})…", file=sys.stderr)
    port = int(getattr(args, "port", 0) or 0)
    saved = saved_demo_port(data_dir) if not port else None
    try:
        server = start_local_server(
            data_dir / "server", port=port or saved or 0, users={DEMO_USER: DEMO_PASSWORD}
        )
    except (OSError, RuntimeError) as exc:  # e.g. the port taken meanwhile by another process: once more
        log.warning("demo server did not start on port %s (%s); retrying", port or saved or "any", exc)
        server = start_local_server(data_dir / "server", port=port, users={DEMO_USER: DEMO_PASSWORD})
    save_demo_port(data_dir, server.url)
    try:
        client = DataManagerClient(
            server.url, DEMO_USER, DEMO_PASSWORD, pool_size=16, config=TransferConfig.from_env()
        )
        seed_demo(client, f"{client.home}/demo-data")
        setup = _demo_setup(args, data_dir, client, server.url)
        print(
            f"gsdesktop demo: server {server.url}, user {DEMO_USER}, syncing {setup.local_root}",
            file=sys.stderr,
        )
        single.listen()
        return run_app(setup, single=single)
    finally:
        server.stop()
