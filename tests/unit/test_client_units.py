"""Pure pieces of the client library: paths, tolerant models, error mapping, progress, credentials."""

from __future__ import annotations

import base64
import hashlib
import stat
import threading
from pathlib import Path

import pytest
import requests

from gsdesktop.datamanager import credentials as creds
from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.errors import (
    AuthenticationError,
    ConflictError,
    CredentialsUnavailableError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    ServerError,
    TransferError,
)
from gsdesktop.datamanager.http import error_for_exception, error_for_status, server_message, single_part_etag
from gsdesktop.datamanager.models import GSDirectoryListing, GSFileMetadata
from gsdesktop.datamanager.single import wants_md5_meta as _wants_md5_meta
from gsdesktop.datamanager.transfer import (
    CancelToken,
    FileBody,
    ProgressAggregator,
    ThrottledProgress,
    md5_file,
)


def test_per_segment_encoding() -> None:
    assert P.encode("/users/a/b c/#?%+;&/é😀") == "/users/a/b%20c/%23%3F%25%2B%3B%26/%C3%A9%F0%9F%98%80"
    assert P.encode("/users/a/ x ") == "/users/a/%20x%20"


def test_normalize_and_dialects() -> None:
    assert P.normalize("/users//alice/a/") == "/users/alice/a"
    for bad in ("users/alice", "", "/users/alice/../bob", "/users/alice/./x", "/users/a\\b"):
        with pytest.raises(InvalidRequestError):
            P.normalize(bad)
    assert P.to_dialect("/users/alice/x", P.Dialect.V1) == "/Home/alice/x"
    assert P.to_dialect("/users/alice/x", P.Dialect.BETA2) == "/users/alice/x"
    assert P.canonical("/Home/alice/x y") == "/users/alice/x y"
    assert P.path_from_url("http://h/datamanager/v1.0/file/Home/al/a%20b") == "/users/al/a b"
    assert P.join("/users/a", "b", "c d") == "/users/a/b/c d"
    with pytest.raises(InvalidRequestError):
        P.join("/users/a", "x/y")


def test_models_parse_both_generations() -> None:
    old = {
        "name": "f.txt", "path": "/users/t/f.txt", "size": "37", "directory": "false",
        "dataFormat": {"name": "txt", "url": "http://x/txt/0.0.0", "version": "0.0.0"},
        "availableDataFormats": {"name": "txt", "url": "http://x/txt/0.0.0"},
        "lastModified": "2011-06-02T17:16:10Z", "owner": "t",
    }  # fmt: skip
    m = GSFileMetadata.from_json(old)
    assert (m.size, m.is_directory, m.owner, m.md5) == (37, False, "t", None)
    assert [f.name for f in m.available_data_formats] == ["txt"]
    new = {"name": "d", "path": "/Home/t/d/", "isDirectory": True, "owner": {"name": "t"}, "md5": "ABC"}
    d = GSFileMetadata.from_json(new)
    assert d.is_directory and d.path == "/Home/t/d" and d.owner == "t"
    listing = GSDirectoryListing.from_json({"directory": new, "contents": old})
    assert len(listing.contents) == 1 and listing.contents[0].name == "f.txt"


def _response(status: int, body: str, ctype: str = "application/json") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body.encode()
    resp.headers["Content-Type"] = ctype
    resp.reason = "X"
    return resp


def test_status_mapping() -> None:
    cases = [
        (401, AuthenticationError, False),
        (404, NotFoundError, False),
        (409, ConflictError, False),
        (400, InvalidRequestError, False),
        (503, ServerError, True),
    ]
    for status, cls, retryable in cases:
        err = error_for_status(_response(status, '{"message": "boom"}'), ["/p"])
        assert (
            type(err) is cls
            and err.retryable is retryable
            and "boom" in err.user_message
            and "/p" in str(err)
        )
    # a detail that only repeats the status and the path is left out; one that says more is kept
    plain = error_for_status(_response(404, '{"message": "not found: /users/a/x"}'), ["/users/a/x"])
    assert str(plain) == "No such file or folder (/users/a/x)"
    body = '{"message": "directory /users/a/d is not empty"}'
    busy = error_for_status(_response(409, body), ["/users/a/d"])
    assert str(busy) == "Conflict: directory /users/a/d is not empty (/users/a/d)"
    bad = error_for_status(_response(400, '{"message": "line 1: no header"}'), ["a.fa"], "refget load")
    assert str(bad) == "refget load: line 1: no header (a.fa)"
    xml = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    assert server_message(_response(403, xml, "application/xml")) == "Request has expired"


def test_exception_mapping_hides_requests() -> None:
    err = error_for_exception(requests.ConnectionError("refused"), "http://127.0.0.1:9/x")
    assert isinstance(err, NetworkError) and err.retryable and "127.0.0.1:9" in err.message
    assert isinstance(error_for_exception(requests.exceptions.ChunkedEncodingError("x")), TransferError)


def test_progress_aggregation_is_throttled_and_exact() -> None:
    calls: list[tuple[int, int]] = []
    agg = ProgressAggregator(lambda d, t: calls.append((d, t)), total=3000, interval=10.0)
    children = [agg.child() for _ in range(3)]
    threads = [threading.Thread(target=lambda c=c: [c(i * 10, 1000) for i in range(101)]) for c in children]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    children[0](0, 1000)  # a retried transfer restarting from zero is not double counted
    children[0](1000, 1000)
    agg.finish()
    assert calls[-1] == (3000, 3000)
    assert len(calls) <= 4  # throttled: first call, completion, final


def test_file_body_and_md5(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"abc" * 1000)
    hex_, b64, size = md5_file(p)
    digest = hashlib.md5(b"abc" * 1000)
    assert (hex_, b64, size) == (digest.hexdigest(), base64.b64encode(digest.digest()).decode(), 3000)
    tracker = ThrottledProgress(None, size)
    with open(p, "rb") as fh:
        body = FileBody(fh, size, tracker)
        assert len(body) == 3000
        assert body.read(1000) + body.read(-1) == b"abc" * 1000 and body.read(10) == b""
    assert tracker.done == 3000
    token = CancelToken()
    token.cancel()
    with open(p, "rb") as fh, pytest.raises(Exception, match="cancelled"):
        FileBody(fh, size, cancel=token).read(10)


def test_etag_and_md5_header_rules() -> None:
    assert single_part_etag('"0CC175B9C0F1B6A831C399E269772661"') == "0cc175b9c0f1b6a831c399e269772661"
    assert single_part_etag('"abc-2"') is None and single_part_etag(None) is None
    v4 = "http://s3/b/k?X-Amz-SignedHeaders=content-md5%3Bcontent-type%3Bhost%3Bx-amz-meta-md5-hash&X-Amz-Signature=1"
    assert _wants_md5_meta(v4, P.Dialect.V1)
    assert not _wants_md5_meta("http://s3/b/k?X-Amz-SignedHeaders=host&X-Amz-Signature=1", P.Dialect.BETA2)
    assert _wants_md5_meta("http://s3/b/k?AWSAccessKeyId=a&Signature=s", P.Dialect.BETA2)


def test_sso_files_and_config(tmp_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert creds.read_sso() is None
    creds.write_sso("alice", "tok+en/=")
    sso = creds.read_sso()
    assert sso is not None and (sso.username, sso.token) == ("alice", "tok+en/=")
    for name in (".gstoken", ".gsusername"):
        assert stat.S_IMODE((tmp_home / ".gs" / name).stat().st_mode) == 0o600
    creds.clear_sso()
    assert creds.read_sso() is None

    creds.save_last_account("http://h:1", "alice")
    last = creds.load_last_account()
    assert last is not None and (last.server_url, last.username) == ("http://h:1", "alice")
    assert creds.config_path().is_relative_to(tmp_home)

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import keyring.core

    monkeypatch.setattr(keyring.core, "_keyring_backend", None)  # reload from the environment
    assert not creds.keyring_available()
    with pytest.raises(CredentialsUnavailableError, match="GSDESKTOP_PASSWORD"):
        creds.set_keyring_password("http://h:1", "alice", "pw")
    monkeypatch.setenv("GSDESKTOP_PASSWORD", "from-env")
    monkeypatch.setenv("GSDESKTOP_USERNAME", "alice")
    assert creds.find_password("http://h:1", "alice") == "from-env"
    assert creds.find_password("http://h:1", "bob") is None
    assert creds.normalize_server("HTTP://Host:80/") == "http://host:80"


def test_transfer_config_is_read_from_the_environment_by_from_env_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client takes its settings as a value; only ``TransferConfig.from_env()`` (the CLI and the
    app call it) reads the variables, and it checks them."""
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.errors import SettingError
    from gsdesktop.datamanager.transport import TransferConfig

    mib = 1024 * 1024
    for name, value in (
        ("GSDESKTOP_TRANSFER_TIMEOUT", "7"),
        ("GSDESKTOP_MULTIPART_THRESHOLD_MIB", "9"),
        ("GSDESKTOP_UPLOAD_WORKERS", "3"),
        ("GSDESKTOP_DOWNLOAD_WORKERS", "5"),
        ("GSDESKTOP_DOWNLOAD_BLOCK_MIB", "2"),
        ("GSDESKTOP_DOWNLOAD_SPAN_MIB", "6"),
    ):
        monkeypatch.setenv(name, value)
    got = TransferConfig.from_env()
    assert got == TransferConfig(7.0, 9 * mib, 64 * mib, 3, 5, 2 * mib, 6 * mib)
    with DataManagerClient("http://127.0.0.1:9", "alice") as plain:
        assert plain.config == TransferConfig() and plain.transfer_timeout == 300.0  # no env read here
    with DataManagerClient("http://127.0.0.1:9", "alice", config=got, transfer_timeout=2) as given:
        assert given.transfer_timeout == 2.0 and given.multipart_threshold == 9 * mib
        given.multipart_threshold = 5 * mib  # the facade's settings stay assignable
        assert given.transport.config.multipart_threshold == 5 * mib
    monkeypatch.setenv("GSDESKTOP_DOWNLOAD_WORKERS", "many")
    with pytest.raises(SettingError, match="GSDESKTOP_DOWNLOAD_WORKERS must be a whole number from 1 to 64"):
        TransferConfig.from_env()


def test_settings_from_the_environment_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from gsdesktop.datamanager.envsettings import env_int
    from gsdesktop.datamanager.errors import SettingError

    name = "GSDESKTOP_TEST_SETTING"
    monkeypatch.delenv(name, raising=False)
    assert env_int(name, 4, 1, 64) == 4
    for good, value in (("7", 7), (" 64 ", 64), ("1", 1), ("", 4)):
        monkeypatch.setenv(name, good)
        assert env_int(name, 4, 1, 64) == value
    for bad in ("four", "0", "65", "2.5", "-3", "1e3"):
        monkeypatch.setenv(name, bad)
        with pytest.raises(SettingError) as caught:
            env_int(name, 4, 1, 64)
        assert caught.value.user_message == f"{name} must be a whole number from 1 to 64, not {bad!r}"


def test_journal_lists_one_accounts_interrupted_transfers(tmp_path: Path) -> None:
    """Bytes done from the finished parts/blocks (a short last one counted short), other accounts and
    keys of another shape left out, oldest first."""
    import sqlite3

    from gsdesktop.datamanager.journal import (
        DownloadRecord,
        FileIdentity,
        TransferJournal,
        UploadRecord,
        upload_key,
    )

    mib = 1024 * 1024
    j = TransferJournal(tmp_path / "t.sqlite")
    key = upload_key("http://dm:8080/", "ann", "/users/ann/a.bam")
    j.put_upload(UploadRecord(key, "/data/a.bam", FileIdentity(25 * mib, 1, 2, 3), "", 10 * mib, [], "U1"))
    j.part_done(key, 1, "e1")
    j.part_done(key, 3, "e3")  # the last part: 5 MiB
    other = upload_key("http://dm:8080", "bob", "/users/bob/b.bam")
    j.put_upload(UploadRecord(other, "/data/b.bam", FileIdentity(mib, 1, 2, 3), "", mib, [], "U2"))
    dkey = '["http://dm:8080", "ann", "/users/ann/ref.fa", "/data/ref.fa"]'
    j.put_download(DownloadRecord(dkey, "/data/.ref.fa.gsdownload", 3 * mib + 1, "v", mib))
    j.chunk_done(dkey, 0)
    j.chunk_done(dkey, 3)  # the last block: 1 byte
    with sqlite3.connect(tmp_path / "t.sqlite") as db:  # a record from some other version of the client
        db.execute("INSERT INTO downloads VALUES ('not json', '/x', 1, 'v', 1, 0)")
    got = j.interrupted("http://dm:8080", "ann")
    assert [(t.kind, t.local, t.remote, t.size, t.done, t.block) for t in got] == [
        ("upload", "/data/a.bam", "/users/ann/a.bam", 25 * mib, 15 * mib, 10 * mib),
        ("download", "/data/ref.fa", "/users/ann/ref.fa", 3 * mib + 1, mib + 1, mib),
    ]
    assert got[0].upload_id == "U1" and got[1].temp == "/data/.ref.fa.gsdownload"
    assert [t.remote for t in j.interrupted("http://dm:8080/", "bob")] == ["/users/bob/b.bam"]
    assert j.interrupted("http://other:8080", "ann") == []
