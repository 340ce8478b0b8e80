"""Stateless replicas, the admin CLI while servers run, embedded mode, clean shutdown."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from gsdesktop.server.seaweed import S3Config, free_port
from tests.integration.test_server_helpers import md5_pair
from tests.support.procs import start_gsdesktop, stop_process
from tests.support.servers import ServerProcess, unique_name


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``gsdesktop server ...`` in-process through the real CLI entry point (no interpreter start)."""
    from gsdesktop.cli.main import main

    def run(args: list[str], s3: S3Config | None = None, stdin: str | None = None) -> CliResult:
        extra: list[str] = []
        if s3 is not None:
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key or "")
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key or "")
            extra = ["--s3-endpoint", s3.endpoint or "", "--s3-bucket", s3.bucket]
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        capsys.readouterr()
        try:
            code = main(["server", *args, *extra])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


def _login(url: str, user: str, password: str) -> requests.Response:
    return requests.get(f"{url}/identityServer/basic", auth=(user, password), timeout=10)


def _until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def test_two_replicas_share_one_store(
    dm_server: ServerProcess, seaweed: S3Config, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    replica = ServerProcess(
        tmp_path / "b", seaweed, extra_args=["--url-ttl", "2", "--token-ttl", "3"]
    ).start()
    a, b = dm_server.url, replica.url
    try:
        name, pw = unique_name("rep"), "first-password"
        r = cli(["add-user", name, "--password-stdin"], seaweed, stdin=pw + "\n")
        assert r.returncode == 0, r.stderr
        # both running replicas accept the new account at once
        assert _login(a, name, pw).status_code == 200
        token_b = _login(b, name, pw).text
        token_a = _login(a, name, pw).text
        home = f"/datamanager/files/users/{name}"
        # a token from one replica is accepted by the other
        assert requests.get(b + home, cookies={"gs-token": token_a}, timeout=10).status_code == 200
        assert (
            requests.put(
                f"{b}{home}/made-on-b", json={"isDirectory": True}, cookies={"gs-token": token_b}, timeout=10
            ).status_code
            == 201
        )
        listing = requests.get(a + home, cookies={"gs-token": token_b}, timeout=10).json()
        assert [c["name"] for c in listing["contents"]] == ["made-on-b"]
        # signed URLs honour --url-ttl: S3 refuses an expired one
        data = b"late"
        b64, hexd = md5_pair(data)
        up = requests.get(
            f"{b}/datamanager/uploadurls/users/{name}/late.txt",
            params={"Content-Length": str(len(data)), "Content-MD5": b64, "Content-Type": "text/plain"},
            cookies={"gs-token": token_b},
            timeout=10,
        ).text
        # tokens expire after --token-ttl on the replica that checks them
        time.sleep(4.2)  # itsdangerous ages are whole seconds: age 4 > ttl 3 for sure
        headers = {"Content-MD5": b64, "Content-Type": "text/plain", "x-amz-meta-md5-hash": hexd}
        late = requests.put(up, data=data, headers=headers, timeout=10)
        assert late.status_code == 403 and "expired" in late.text.lower()
        assert requests.get(b + home, cookies={"gs-token": token_b}, timeout=10).status_code == 401
        remaining = requests.get(
            f"{b}/identityServer/usermanagement/utility/token/remainingTime",
            cookies={"gs-token": token_b},
            timeout=10,
        )
        assert remaining.status_code == 401
        # passwd and remove-user while both run
        r = cli(["passwd", name, "--password-stdin"], seaweed, stdin="second-password\n")
        assert r.returncode == 0, r.stderr
        assert _until(
            lambda: requests.get(a + home, cookies={"gs-token": token_a}, timeout=10).status_code == 401
        )
        assert _login(b, name, "second-password").status_code == 200
        assert _login(a, name, pw).status_code == 401
        r = cli(["add-user", name, "--password-stdin"], seaweed, stdin="x\n")
        assert r.returncode == 1 and "already exists" in r.stderr and "Traceback" not in r.stderr
        r = cli(["remove-user", name], seaweed)
        assert r.returncode == 0, r.stderr
        assert _login(a, name, "second-password").status_code == 401
        assert _login(b, name, "second-password").status_code == 401
        listed = cli(["list-users"], seaweed)
        assert listed.returncode == 0 and name not in listed.stdout.split()
    finally:
        code = replica.stop(signal.SIGTERM)
    assert code == 0  # SIGTERM is a clean exit


def test_embedded_seaweed_run_and_add_user_while_running(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = start_gsdesktop(
        ["server", "run", "--data-dir", str(data_dir), "--port", str(port)],
        env,
        tmp_path / "server.log",
        new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert _until(lambda: _probe(url) == 401, timeout=60), (tmp_path / "server.log").read_text()
        runtime = json.loads((data_dir / "seaweedfs" / "runtime.json").read_text())
        weed_pid = int(runtime["pid"])
        # the admin CLI finds the running embedded store through runtime.json
        r = cli(
            ["add-user", "emb", "--data-dir", str(data_dir), "--password-stdin"], None, stdin="emb-password\n"
        )
        assert r.returncode == 0, r.stderr
        assert _login(url, "emb", "emb-password").status_code == 200
    finally:
        code = stop_process(proc, signal.SIGINT, 30, group=True)
    assert code == 0, (tmp_path / "server.log").read_text()
    assert not (data_dir / "seaweedfs" / "runtime.json").exists()
    assert _until(lambda: not _alive(weed_pid), timeout=10)


def _probe(url: str) -> int:
    try:
        return requests.get(f"{url}/identityServer/basic", timeout=1).status_code
    except requests.RequestException:
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_start_local_server_in_process(seaweed: S3Config, tmp_path: Path) -> None:
    from gsdesktop.server.embedded import start_local_server

    user = unique_name("loc")
    handle = start_local_server(tmp_path, users={user: "local-pw"}, s3=seaweed)
    try:
        assert handle.url.startswith("http://127.0.0.1:")
        assert _login(handle.url, user, "local-pw").status_code == 200
        r = requests.get(f"{handle.url}/datamanager/defaultdirectory", auth=(user, "local-pw"), timeout=10)
        assert r.status_code == 200 and r.json()["directory"]["name"] == user
        # the store going away is a clear 503, not a stack trace
        from gsdesktop.server.storage import S3Store

        dead = S3Config(
            f"http://127.0.0.1:{free_port()}", seaweed.bucket, seaweed.access_key, seaweed.secret_key
        )
        handle.app.state.store = S3Store(dead, create_bucket=False)
        for ep in ("files", "filemetadata"):
            r = requests.get(
                f"{handle.url}/datamanager/{ep}/users/{user}", auth=(user, "local-pw"), timeout=60
            )
            assert r.status_code == 503 and "storage" in r.json()["message"], r.text
    finally:
        handle.stop()
    assert _probe(handle.url) == 0


def test_cli_reports_bad_usage_in_one_line(
    dm_server: ServerProcess, seaweed: S3Config, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    busy = cli(["run", "--data-dir", str(tmp_path), "--port", str(dm_server.port)], seaweed)
    assert busy.returncode == 1 and "cannot listen" in busy.stderr and "Traceback" not in busy.stderr
    nostore = cli(["add-user", "x", "--password-stdin"], None, stdin="pw\n")
    assert nostore.returncode != 0 and "--data-dir" in nostore.stderr
    badname = cli(["add-user", "../evil", "--password-stdin"], seaweed, stdin="pw\n")
    assert badname.returncode == 1 and "invalid user name" in badname.stderr
    empty = cli(["add-user", unique_name("e"), "--password-stdin"], seaweed, stdin="\n")
    assert empty.returncode != 0 and "password" in empty.stderr
    # no terminal and no --password-stdin: say how, instead of getpass's EOFError
    piped = cli(["add-user", unique_name("p")], seaweed, stdin="")
    assert piped.returncode == 1 and "--password-stdin" in piped.stderr and "EOFError" not in piped.stderr
    # an unknown account is refused before any password is asked for (none could be read here)
    nobody = cli(["passwd", unique_name("n")], seaweed)
    assert nobody.returncode == 1 and "no such user" in nobody.stderr, nobody.stderr
    # a mistyped --data-dir is not quietly turned into a new, empty store
    typo = tmp_path / "srv-data-typo"
    wrong = cli(["list-users", "--data-dir", str(typo)], None)
    assert wrong.returncode == 1 and "no such folder" in wrong.stderr and not typo.exists()
    assert all("Traceback" not in r.stderr for r in (piped, nobody, wrong))
