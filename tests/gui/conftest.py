"""Fixtures for the desktop-app tests: a signed-in client, a 10,000-entry remote folder, Qt log filters."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from gsdesktop.server.seaweed import S3Config
from tests.support.servers import ServerProcess, unique_name

BIG_COUNT = 10_000

# The offscreen platform plugin warns when a top-level window is shown; it is not our bug.
OFFSCREEN_NOISE = ("propagateSizeHints", "This plugin does not support")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui" in str(item.fspath):
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


@dataclass(frozen=True)
class BigAccount:
    server_url: str
    username: str
    password: str
    folder: str  # remote path of the 10,000-entry folder
    count: int


@pytest.fixture(scope="session")
def big_account(seaweed: S3Config, dm_server: ServerProcess) -> BigAccount:
    """A user whose ``big`` folder holds 10,000 small files, written straight into the S3 store."""
    from gsdesktop.server.storage import S3Store
    from gsdesktop.server.users import UserStore

    store = S3Store(seaweed)
    name = unique_name("big")
    password = "pw-" + secrets.token_urlsafe(12)
    UserStore(store).add(name, password)
    prefix = f"users/{name}/big/"
    store.s3.put_object(Bucket=store.bucket, Key=prefix, Body=b"")

    def put(i: int) -> None:
        store.s3.put_object(Bucket=store.bucket, Key=f"{prefix}file-{i:05d}.txt", Body=f"{i}\n".encode())

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, range(BIG_COUNT)))
    return BigAccount(dm_server.url, name, password, f"/users/{name}/big", BIG_COUNT)


@pytest.fixture
def client(account):  # type: ignore[no-untyped-def]
    from gsdesktop.datamanager.client import DataManagerClient

    c = DataManagerClient(account.server_url, account.username, account.password, pool_size=16)
    yield c
    c.close()


@pytest.fixture
def runner(qtbot) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from gsdesktop.ui.bridge import TaskRunner

    r = TaskRunner(4)
    yield r
    r.shutdown(10000)
    r.deleteLater()
