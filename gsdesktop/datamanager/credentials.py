"""Where credentials come from and go to.

- Passwords: the OS keyring (service ``gsdesktop:<server url>``, user name = account), or the
  ``GSDESKTOP_PASSWORD`` environment variable for automation. Never written to a file.
- Tokens: GenomeSpace's desktop single-sign-on files ``~/.gs/.gstoken`` and ``~/.gs/.gsusername``
  (mode 0600), shared with other GenomeSpace desktop tools.
- The last used server URL and user name (not secret): ``<user config dir>/gsdesktop/account.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from gsdesktop.datamanager.errors import CredentialsUnavailableError

log = logging.getLogger(__name__)

ENV_SERVER = "GSDESKTOP_SERVER"
ENV_USERNAME = "GSDESKTOP_USERNAME"
ENV_PASSWORD = "GSDESKTOP_PASSWORD"
KEYRING_PREFIX = "gsdesktop:"

NO_KEYRING_HELP = (
    "No password is available: this system has no usable keyring to store it. "
    "Either run 'gsdesktop login' again when your session expires, or set the environment variables "
    f"{ENV_SERVER}, {ENV_USERNAME} and {ENV_PASSWORD} (e.g. in a CI secret) before running gsdesktop."
)


def normalize_server(url: str) -> str:
    """Canonical server URL used as the keyring key: scheme and host lower-case, no trailing slash."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url
    scheme, rest = url.split("://", 1)
    host, sep, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{sep}{path}"


# --- keyring ----------------------------------------------------------------------------------------


def keyring_available() -> bool:
    """True when a real keyring backend (not the 'fail' or null backend) is configured."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception:
        return False
    if isinstance(backend, fail.Keyring):
        return False
    priority = getattr(backend, "priority", 1)
    try:
        return float(priority) > 0
    except (TypeError, ValueError):
        return True


def _service(server_url: str) -> str:
    return KEYRING_PREFIX + normalize_server(server_url)


def get_keyring_password(server_url: str, username: str) -> str | None:
    if not keyring_available():
        return None
    import keyring

    try:
        value = keyring.get_password(_service(server_url), username)
    except Exception as exc:
        log.warning("keyring lookup failed: %s", type(exc).__name__)
        return None
    return value if isinstance(value, str) else None


def set_keyring_password(server_url: str, username: str, password: str) -> None:
    """Store ``password``.

    Raises:
        CredentialsUnavailableError: no keyring backend, or the backend refused.
    """
    if not keyring_available():
        raise CredentialsUnavailableError(NO_KEYRING_HELP)
    import keyring

    try:
        keyring.set_password(_service(server_url), username, password)
    except Exception as exc:
        raise CredentialsUnavailableError(
            f"The system keyring refused to store the password ({type(exc).__name__}). " + NO_KEYRING_HELP
        ) from exc


def delete_keyring_password(server_url: str, username: str) -> bool:
    """Remove a stored password; False when there was none (or no keyring)."""
    if not keyring_available():
        return False
    import keyring

    try:
        keyring.delete_password(_service(server_url), username)
    except Exception:
        return False
    return True


def env_password(username: str | None = None) -> str | None:
    """``GSDESKTOP_PASSWORD`` if set (and ``GSDESKTOP_USERNAME`` is unset or matches ``username``)."""
    password = os.environ.get(ENV_PASSWORD)
    if not password:
        return None
    env_user = os.environ.get(ENV_USERNAME)
    if username and env_user and env_user != username:
        return None
    return password


def find_password(server_url: str, username: str) -> str | None:
    """Environment first (automation wins), then the keyring."""
    return env_password(username) or get_keyring_password(server_url, username)


# --- ~/.gs single sign-on files ---------------------------------------------------------------------


def sso_dir() -> Path:
    return Path.home() / ".gs"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read_line(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text.splitlines()[0].strip() if text else None


@dataclass(frozen=True)
class SSOLogin:
    username: str
    token: str


def read_sso() -> SSOLogin | None:
    """The token and user name shared by GenomeSpace desktop tools, if both files exist."""
    user = _read_line(sso_dir() / ".gsusername")
    token = _read_line(sso_dir() / ".gstoken")
    if user and token:
        return SSOLogin(user, token)
    return None


def write_sso(username: str, token: str) -> None:
    """Write ``~/.gs/.gstoken`` and ``~/.gs/.gsusername`` (0600)."""
    try:
        _write_private(sso_dir() / ".gsusername", username + "\n")
        _write_private(sso_dir() / ".gstoken", token + "\n")
    except OSError as exc:
        log.warning("could not write ~/.gs token files: %s", exc)


def clear_sso() -> None:
    """Log out of the shared desktop session (delete both files)."""
    for name in (".gstoken", ".gsusername"):
        with contextlib.suppress(FileNotFoundError):
            (sso_dir() / name).unlink()


# --- last used account (not secret) -----------------------------------------------------------------


def config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("gsdesktop", appauthor=False)) / "account.json"


@dataclass(frozen=True)
class LastAccount:
    server_url: str
    username: str


def load_last_account() -> LastAccount | None:
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("server") and data.get("username"):
        return LastAccount(str(data["server"]), str(data["username"]))
    return None


def save_last_account(server_url: str, username: str) -> None:
    """Remember the server and user name (never the password) for the next command."""
    path = config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"server": server_url, "username": username}, indent=2) + "\n", "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not save %s: %s", path, exc)


def clear_last_account() -> None:
    with contextlib.suppress(OSError):
        config_path().unlink()


__all__ = [
    "ENV_PASSWORD",
    "ENV_SERVER",
    "ENV_USERNAME",
    "NO_KEYRING_HELP",
    "CredentialsUnavailableError",
    "LastAccount",
    "SSOLogin",
    "clear_last_account",
    "clear_sso",
    "config_path",
    "delete_keyring_password",
    "env_password",
    "find_password",
    "get_keyring_password",
    "keyring_available",
    "load_last_account",
    "normalize_server",
    "read_sso",
    "save_last_account",
    "set_keyring_password",
    "sso_dir",
    "write_sso",
]
