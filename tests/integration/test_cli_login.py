"""`gsdesktop login/whoami/logout` and where credentials go (keyring, ~/.gs, config), as subprocesses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from tests.conftest import Account
from tests.support.cli import cli_env, run_cli

BACKEND = f"{__name__}.FileKeyring"


class FileKeyring(KeyringBackend):
    """A real keyring backend (loaded by keyring via PYTHON_KEYRING_BACKEND) storing into a test file."""

    priority = 1

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["GSTEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._path().read_text()))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}|{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}|{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._path().write_text(json.dumps(data))


def _files_under(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, fs in os.walk(root) for f in fs]


def test_login_with_keyring_then_plain_commands(account: Account, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ring = tmp_path / "keyring.json"
    env = cli_env(home, PYTHON_KEYRING_BACKEND=BACKEND, GSTEST_KEYRING_FILE=str(ring))
    res = run_cli(
        ["login", "--server", account.server_url, "--username", account.username, "--password-stdin"],
        env,
        stdin=account.password + "\n",
    ).ok()
    assert f"Signed in as {account.username}" in res.out
    token_file, user_file = home / ".gs" / ".gstoken", home / ".gs" / ".gsusername"
    assert user_file.read_text().strip() == account.username
    assert token_file.read_text().strip()
    for f in (token_file, user_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert account.password in ring.read_text()
    for f in _files_under(home):  # the password is in no file under HOME
        assert account.password not in f.read_text(errors="replace"), f

    # no options, no environment: server and user come from the config, password from the keyring
    assert run_cli(["whoami"], env).ok().out.startswith(account.username)
    token_file.write_text("expired-or-garbage\n")
    run_cli(["ls"], env).ok()  # re-login with the keyring password, transparently
    assert token_file.read_text().strip() != "expired-or-garbage"

    run_cli(["logout"], env).ok()
    assert not token_file.exists() and account.password not in ring.read_text()
    out = run_cli(["ls"], env).assert_clean_failure(code=3)
    assert "gsdesktop login" in out.err


def test_login_without_keyring_explains_what_to_do(account: Account, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home")  # keyring's 'fail' backend: no keyring on this machine
    res = run_cli(
        ["login", "--server", account.server_url, "-u", account.username, "--password-stdin"],
        env,
        stdin=account.password + "\n",
    ).ok()
    assert "password not stored" in res.err and "GSDESKTOP_PASSWORD" in res.err
    run_cli(["ls"], env).ok()  # the ~/.gs token is enough while it is valid
    (tmp_path / "home" / ".gs" / ".gstoken").write_text("stale-token\n")
    failed = run_cli(["ls"], env).assert_clean_failure(code=3)
    assert "GSDESKTOP_PASSWORD" in failed.err and "gsdesktop login" in failed.err


def test_wrong_password_and_missing_server(account: Account, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home")
    bad = run_cli(
        ["login", "--server", account.server_url, "-u", account.username, "--password-stdin"],
        env,
        stdin="wrong\n",
    ).assert_clean_failure(code=3)
    assert "Wrong user name or password" in bad.err
    assert not (tmp_path / "home" / ".gs" / ".gstoken").exists()
    nothing = run_cli(["ls"], env).assert_clean_failure(code=3)
    assert "gsdesktop login" in nothing.err
