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


@pytest.fixture
def memory_keyring():  # type: ignore[no-untyped-def]
    """A working keyring that never touches the real one: an in-memory backend for the whole test."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # keyring ships no types
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():  # type: ignore[no-untyped-def]
    """No keyring backend at all (keyring's own "fail" backend), as on a minimal Linux machine."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # keyring ships no types
    yield
    keyring.set_keyring(previous)


def answer_next_dialog(qtbot, button: str, timeout_ms: int = 10000) -> list[str]:  # type: ignore[no-untyped-def]
    """Press ``button`` (its text without '&') in the next modal dialog; returns the dialog's text."""
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    seen: list[str] = []
    deadline = time.monotonic() + timeout_ms / 1000

    def poll() -> None:
        if time.monotonic() > deadline:
            return  # no dialog came: the caller's assertions say so
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            for b in box.buttons():
                if b.text().replace("&", "") == button:
                    b.click()
                    return
            seen.append(f"no button {button!r}")
            box.reject()
            return
        QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)
    return seen


@pytest.fixture(scope="session", autouse=True)
def tuned_interpreter() -> None:
    """The GUI tests run in a process tuned like the app's (runtime.tune_interpreter, at its start-up)."""
    from gsdesktop.ui.runtime import tune_interpreter

    tune_interpreter()
