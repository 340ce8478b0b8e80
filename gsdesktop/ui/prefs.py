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
    from platformdirs import user_log_dir

    return Path(user_log_dir("gsdesktop", appauthor=False))


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
