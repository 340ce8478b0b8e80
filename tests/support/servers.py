"""Real servers for tests: SeaweedFS and the Data Manager on free loopback ports.

``ServerProcess`` runs ``python -m gsdesktop server run`` as a real subprocess (real HTTP, real
uvicorn), against an S3 store given explicitly, so a test can kill and restart the server while the
store keeps its data.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from gsdesktop.server.seaweed import S3Config, free_port

MD5_FLAG = "--multipart-md5-at-complete"


@dataclass
class ServerProcess:
    data_dir: Path
    s3: S3Config
    port: int = 0
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["AWS_ACCESS_KEY_ID"] = self.s3.access_key or ""
        env["AWS_SECRET_ACCESS_KEY"] = self.s3.secret_key or ""
        env["AWS_DEFAULT_REGION"] = self.s3.region
        env.pop("HTTP_PROXY", None)
        env.pop("http_proxy", None)
        return env

    def command(self) -> list[str]:
        assert self.s3.endpoint
        return [
            sys.executable, "-m", "gsdesktop", "server", "run",
            "--data-dir", str(self.data_dir),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--s3-endpoint", self.s3.endpoint, "--s3-bucket", self.s3.bucket,
            # the tests' store is SeaweedFS, like the embedded default: MD5 at complete, as there
            *([] if MD5_FLAG in self.extra_args else [MD5_FLAG, "on"]),
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 60.0) -> ServerProcess:
        if not self.port:
            self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.command(), env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/identityServer/basic", timeout=1).status_code == 401:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"server did not start:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        p = self.data_dir / f"server-{self.port}.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        return proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def add_user(cfg: S3Config, prefix: str = "u") -> tuple[str, str]:
    """A fresh account in the store's user table (every replica sees it): ``(name, password)``."""
    from gsdesktop.server.storage import S3Store
    from gsdesktop.server.users import UserStore

    name, password = unique_name(prefix), "pw-" + secrets.token_urlsafe(10)
    UserStore(S3Store(cfg)).add(name, password)
    return name, password
