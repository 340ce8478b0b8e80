"""Shared fixtures: one real SeaweedFS and one real Data Manager server per test session."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.server.seaweed import EmbeddedSeaweed, S3Config
from tests.support.servers import ServerProcess, unique_name

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run long soaks and large-file tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: needs --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Config]:
    """A real SeaweedFS S3 store for the whole session."""
    with EmbeddedSeaweed(tmp_path_factory.mktemp("seaweed")) as cfg:
        yield cfg


@pytest.fixture(scope="session")
def dm_server(seaweed: S3Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The real Data Manager server (subprocess, uvicorn) on a free loopback port."""
    server = ServerProcess(tmp_path_factory.mktemp("server"), seaweed).start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Account:
    server_url: str
    username: str
    password: str


@pytest.fixture
def make_account(seaweed: S3Config, dm_server: ServerProcess):  # type: ignore[no-untyped-def]
    """Factory: a fresh user on the running server (added straight into the store, as add-user does)."""
    from gsdesktop.server.storage import S3Store
    from gsdesktop.server.users import UserStore

    users = UserStore(S3Store(seaweed))

    def make(prefix: str = "u") -> Account:
        name = unique_name(prefix)
        password = "pw-" + secrets.token_urlsafe(12)
        users.add(name, password)
        return Account(dm_server.url, name, password)

    return make


@pytest.fixture
def account(make_account) -> Account:  # type: ignore[no-untyped-def]
    return make_account()  # type: ignore[no-any-return]


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME (and XDG dirs) so tests never touch the real user's config or ~/.gs."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):  # fmt: skip
        monkeypatch.setenv(var, str(home / sub))
    # send2trash reads XDG_DATA_HOME once, at import: point an already imported copy at this HOME too
    trash_mod = sys.modules.get("send2trash.plat_other")
    if trash_mod is not None:
        data_home = os.fsencode(home / ".local/share")
        monkeypatch.setattr(trash_mod, "XDG_DATA_HOME", data_home)
        monkeypatch.setattr(trash_mod, "HOMETRASH_B", os.path.join(data_home, b"Trash"))
        monkeypatch.setattr(trash_mod, "HOMETRASH", os.fsdecode(os.path.join(data_home, b"Trash")))
    return home


@pytest.fixture
def client(account: Account, tmp_home: Path) -> Iterator[DataManagerClient]:
    """A real client of the session's server, signed in as a fresh user (HOME isolated)."""
    c = DataManagerClient(account.server_url, account.username, account.password)
    c.login()
    yield c
    c.close()
