"""Issue 17: one error vocabulary (``gsdesktop.sync.problems.classify``) and the fake remote's semantics
(the engine's fast tier stands on them): versions, preconditions, exactly one winner of a race."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from gsdesktop.datamanager.batch import UploadCondition
from gsdesktop.datamanager.errors import (
    AuthenticationError,
    ConflictError,
    IntegrityError,
    InvalidRequestError,
    LocalFileError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailed,
    ServerError,
    StoreFailingError,
)
from gsdesktop.sync.events import ProblemKind
from gsdesktop.sync.problems import AuthFailed, Classification, Offline, Scope, classify
from tests.support.fakeremote import FakeRemote

K = ProblemKind


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (NetworkError("connection reset"), Classification(K.OFFLINE, Scope.PAIR, None)),
        (Offline("gone"), Classification(K.OFFLINE, Scope.PAIR, None)),
        (AuthenticationError("bad password"), Classification(K.AUTH, Scope.PAIR, None)),
        (AuthFailed("bad password"), Classification(K.AUTH, Scope.PAIR, None)),
        (ServerError("500"), Classification(K.FILE_ERROR, Scope.FILE, 7.0)),
        (StoreFailingError("storage fails"), Classification(K.FILE_ERROR, Scope.FILE, 7.0)),
        (PermissionDeniedError("not yours"), Classification(K.NO_ACCESS, Scope.PAIR, None)),  # revoked
        (ConflictError("is a folder"), Classification(K.FILE_ERROR, Scope.FILE, 7.0)),
        (IntegrityError("md5 mismatch"), Classification(K.CHANGING, Scope.FILE, 1.0)),
        (InvalidRequestError("invalid name: backslash"), Classification(K.BAD_NAME, Scope.FILE, None)),
        (InvalidRequestError("file too large"), Classification(K.FILE_ERROR, Scope.FILE, 7.0)),
        (LocalFileError("disk full"), Classification(K.FILE_ERROR, Scope.FILE, 7.0)),
        (PermissionError(13, "Permission denied"), Classification(K.FILE_ERROR, Scope.FILE, 7.0)),
        (ValueError("a bug"), Classification(K.FILE_ERROR, Scope.FILE, 7.0)),
    ],
)
def test_classify_is_per_file_unless_truly_global(exc: BaseException, expected: Classification) -> None:
    assert classify(exc, retry_base=7.0) == expected


def _local(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / f"src-{hashlib.md5(data).hexdigest()}"
    p.write_bytes(data)
    return p


def test_fake_remote_keeps_the_servers_rules(tmp_path: Path) -> None:
    fake = FakeRemote()
    root = f"{fake.home}/r"
    with pytest.raises(NotFoundError):
        fake.list_recursive(root)
    with pytest.raises(NotFoundError):  # no parent folder
        fake.upload(_local(tmp_path, b"x"), f"{root}/a.txt")
    fake.mkdir(f"{root}/d", parents=True)
    meta = fake.upload(
        _local(tmp_path, b"v1"), f"{root}/d/a.txt", condition=UploadCondition(if_none_match=True)
    )
    assert meta.md5 == hashlib.md5(b"v1").hexdigest() and meta.size == 2
    with pytest.raises(PreconditionFailed):  # the name exists now
        fake.upload(_local(tmp_path, b"v2"), f"{root}/d/a.txt", condition=UploadCondition(if_none_match=True))
    with pytest.raises(PreconditionFailed):  # not the version the writer saw
        fake.upload(_local(tmp_path, b"v2"), f"{root}/d/a.txt", condition=UploadCondition(if_match="0" * 32))
    with pytest.raises(IntegrityError):  # the bytes are not the ones signed
        fake.upload(_local(tmp_path, b"v2"), f"{root}/d/a.txt", md5="0" * 32)
    with pytest.raises(ConflictError):  # a folder holds the name
        fake.upload(_local(tmp_path, b"v2"), f"{root}/d")
    with pytest.raises(ConflictError):  # a file as a parent
        fake.mkdir(f"{root}/d/a.txt/sub")
    fake.upload(_local(tmp_path, b"other"), f"{root}/b.txt")
    with pytest.raises(ConflictError):  # never replaces a name
        fake.move(f"{root}/b.txt", f"{root}/d/a.txt")
    fake.delete(f"{root}/b.txt")
    with pytest.raises(ConflictError):  # not empty
        fake.delete(f"{root}/d")
    with pytest.raises(PreconditionFailed):  # conditional delete of another version
        fake.delete(f"{root}/d/a.txt", if_match="0" * 32)
    fake.move(f"{root}/d", f"{root}/e")
    assert [m.path for m in fake.list_recursive(root)] == [f"{root}/e", f"{root}/e/a.txt"]
    out = tmp_path / "out"
    fake.download(f"{root}/e/a.txt", out)
    assert out.read_bytes() == b"v1"
    fake.delete(f"{root}/e/a.txt", if_match=hashlib.md5(b"v1").hexdigest())
    fake.delete(f"{root}/e")
    assert fake.list_recursive(root) == []


def test_fake_remote_lets_exactly_one_of_racing_conditional_writers_win(tmp_path: Path) -> None:
    """Repeated rounds: 8 threads replace the version they all saw; one wins, the others get 412."""
    fake = FakeRemote()
    fake.mkdir(f"{fake.home}/r")
    target = f"{fake.home}/r/f"
    seen = fake.upload(_local(tmp_path, b"base"), target).md5
    for rnd in range(20):
        sources = [_local(tmp_path, f"round {rnd} writer {i}".encode()) for i in range(8)]
        start = threading.Barrier(len(sources))
        results: list[str] = []

        def write(
            src: Path, cond: UploadCondition, start: threading.Barrier = start, results: list[str] = results
        ) -> None:
            start.wait()
            try:
                fake.upload(src, target, condition=cond)
                results.append(src.read_bytes().decode())
            except PreconditionFailed:
                results.append("412")

        threads = [threading.Thread(target=write, args=(s, UploadCondition(if_match=seen))) for s in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [r for r in results if r != "412"]
        assert len(winners) == 1 and results.count("412") == 7, results
        assert fake.read(target) == winners[0].encode()
        seen = hashlib.md5(winners[0].encode()).hexdigest()
