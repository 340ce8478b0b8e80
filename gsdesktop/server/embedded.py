"""Run the Data Manager in-process: SeaweedFS (or a given S3 store) + uvicorn in a thread.

Used by ``gsdesktop demo`` and by tests that want a server inside the test process::

    handle = start_local_server(data_dir, users={"demo": "demo-password"})
    print(handle.url)
    handle.stop()
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

import uvicorn

from gsdesktop.server.seaweed import EmbeddedSeaweed, S3Config, running_store
from gsdesktop.server.storage import S3Store

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)


class QuietExitServer(uvicorn.Server):
    """A uvicorn server whose SIGTERM/SIGINT end ``run()`` normally (exit code 0, no re-raised signal)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


@dataclass
class StoreHandle:
    """An S3 config plus the embedded SeaweedFS that serves it (``None`` for an external store)."""

    config: S3Config
    seaweed: EmbeddedSeaweed | None = None

    def stop(self) -> None:
        if self.seaweed is not None:
            self.seaweed.stop()
            self.seaweed = None


def open_store(
    data_dir: Path | None, s3: S3Config | None = None, *, reuse_running: bool = True
) -> StoreHandle:
    """The given S3 store, a running embedded one for ``data_dir``, or a newly started one."""
    if s3 is not None:
        return StoreHandle(s3)
    if data_dir is None:
        raise ValueError("give --data-dir (embedded SeaweedFS) or --s3-endpoint and --s3-bucket")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if reuse_running:
        cfg = running_store(data_dir)
        if cfg is not None:
            return StoreHandle(cfg)
    seaweed = EmbeddedSeaweed(data_dir)
    return StoreHandle(seaweed.start(), seaweed)


@dataclass
class LocalServer:
    """A running in-process server: ``url``, ``store`` (S3 config) and ``stop()``."""

    url: str
    host: str
    port: int
    store: S3Config
    app: FastAPI
    _server: uvicorn.Server
    _thread: threading.Thread
    _store_handle: StoreHandle
    _stopped: bool = field(default=False)

    def stop(self, timeout: float = 15.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(5)
        self._store_handle.stop()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def ensure_users(store: S3Store, users: dict[str, str] | None, token_ttl: int | None = None) -> None:
    """Create the accounts that do not exist yet (existing ones keep their passwords)."""
    from gsdesktop.server.users import UserError, UserStore

    if not users:
        return
    us = UserStore(store)
    for name, password in users.items():
        if not us.exists(name):
            with contextlib.suppress(UserError):  # created concurrently: fine
                us.add(name, password)


def start_local_server(
    data_dir: Path | str,
    port: int = 0,
    users: dict[str, str] | None = None,
    *,
    host: str = "127.0.0.1",
    s3: S3Config | None = None,
    token_ttl: int | None = None,
    timeout: float = 60.0,
) -> LocalServer:
    """Start SeaweedFS under ``data_dir`` (unless ``s3`` is given) and the API on ``host:port``.

    ``port=0`` picks a free port; ``users`` are created if missing. Returns once the API answers.
    """
    from gsdesktop.server.app import ServerSettings, create_app
    from gsdesktop.server.httpproto import LimitedH11Protocol
    from gsdesktop.server.users import DEFAULT_TOKEN_TTL

    handle = open_store(Path(data_dir), s3)
    try:
        settings = ServerSettings(
            s3=handle.config,
            token_ttl=token_ttl or DEFAULT_TOKEN_TTL,
            multipart_md5_at_complete=handle.seaweed is not None,
        )
        app = create_app(settings)
        ensure_users(app.state.store, users)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto=IPPROTO_TCP: asyncio enables TCP_NODELAY only then (otherwise ~40 ms per small reply)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        real_port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            app, http=LimitedH11Protocol, log_level="warning", access_log=False, lifespan="off"
        )
        server = QuietExitServer(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="gsdm-uvicorn", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError("the Data Manager server did not start")
            time.sleep(0.02)
    except BaseException:
        handle.stop()
        raise
    url_host = f"[{host}]" if ":" in host else host
    return LocalServer(
        url=f"http://{url_host}:{real_port}",
        host=host,
        port=real_port,
        store=handle.config,
        app=app,
        _server=server,
        _thread=thread,
        _store_handle=handle,
    )
