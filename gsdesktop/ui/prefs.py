"""Desktop-app preferences (no secrets): a small JSON file in the user config directory."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("gsdesktop", appauthor=False))


def log_dir() -> Path:
    """Where the app and ``sync --watch`` write their rotating log files (see :mod:`gsdesktop.logfiles`)."""
    from gsdesktop.logfiles import log_dir as folder

    return folder()


def password_file() -> Path:
    """Where the password is kept when the user chose a file because the system has no keyring."""
    return config_dir() / "password-not-encrypted.json"


def save_file_password(server_url: str, username: str, password: str) -> Path:
    """Keep the password in :func:`password_file`, readable only by the user (0600; written atomically)."""
    path = password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "note": "GenomeSpace Desktop password, NOT encrypted (no system keyring); readable only by you. "
        "Delete this file or sign out to remove it.",
        "server_url": server_url.rstrip("/"),
        "username": username,
        "password": password,
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(data, indent=2).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def load_file_password(server_url: str, username: str) -> str | None:
    """The password :func:`save_file_password` kept for this server and user, if any."""
    try:
        data: Any = json.loads(password_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("username") != username:
        return None
    if str(data.get("server_url", "")).rstrip("/") != server_url.rstrip("/"):
        return None
    password = data.get("password")
    return password if isinstance(password, str) and password else None


def delete_file_password() -> bool:
    try:
        password_file().unlink()
    except FileNotFoundError:
        return False
    return True


def default_local_folder() -> Path:
    return Path.home() / "GenomeSpace"


@dataclass
class Prefs:
    """What the app remembers between runs. Passwords live in the keyring, never here."""

    server_url: str = ""
    username: str = ""
    local_folder: str = ""
    remote_folder: str = ""
    poll_interval: float = 15.0
    notifications: bool = True
    start_at_login: bool = False
    max_upload_kbps: int = 0  # 0 = unlimited
    max_download_kbps: int = 0
    excluded_remote_folders: list[str] = field(default_factory=list)
    welcomed: bool = False  # the first-run welcome window was shown
    sync_mode: str = "two-way"  # a SyncMode value: two-way, upload-only or download-only

    @property
    def configured(self) -> bool:
        return bool(self.server_url and self.username and self.local_folder and self.remote_folder)

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "desktop.json"

    @classmethod
    def load(cls, path: Path | None = None) -> Prefs:
        """Read the preferences; a missing or damaged file gives the defaults (and is logged)."""
        path = path or cls.path()
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable preferences %s: %s", path, exc)
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        prefs = cls()
        for key, value in data.items():
            if key in known:
                with contextlib.suppress(TypeError, ValueError):
                    setattr(prefs, key, type(getattr(prefs, key))(value))
        return prefs

    def save(self, path: Path | None = None) -> None:
        """Write atomically (temp file + rename)."""
        path = path or self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)
