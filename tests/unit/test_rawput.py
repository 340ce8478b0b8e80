"""The raw HTTP/1.1 exchange behind LeanPut: what it sends, and how it reads answers (over real sockets)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from gsdesktop.datamanager import rawput


def answer(raw: bytes, method: str = "PUT") -> tuple[rawput.RawResponse, bytes]:
    """Feed ``raw`` to read_response through a socket pair; returns the response and unread bytes."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    try:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        resp = rawput.read_response(ours, method)
        leftover = b""
        while chunk := ours.recv(4096):
            leftover += chunk
        return resp, leftover
    finally:
        ours.close()
        theirs.close()


def test_request_head_is_exact() -> None:
    head = rawput.request_head(
        "PUT", "/b/k%20x?X-Amz-Signature=ab", "127.0.0.1:9", {"Content-Length": "3", "Content-MD5": "x=="}
    )
    assert head == (
        b"PUT /b/k%20x?X-Amz-Signature=ab HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept-Encoding: identity\r\n"
        b"Content-Length: 3\r\nContent-MD5: x==\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/b/k x", {}),  # a space would end the request target
        ("/b/k\r\nX-Evil: 1", {}),
        ("b/k", {}),  # not origin-form
        ("/b/k", {"Content-Type": "text/plain\r\nX-Evil: 1"}),
        ("/b/k", {"X-Bad\n": "1"}),
        ("/b/k", {"X:Bad": "1"}),
    ],
)
def test_request_head_refuses_what_would_need_escaping(target: str, headers: dict[str, str]) -> None:
    with pytest.raises(rawput.RawHTTPError):
        rawput.request_head("PUT", target, "h", headers)


def test_response_with_length_is_read_whole_and_reusable() -> None:
    resp, left = answer(
        b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Dec 2026 05:00:00 GMT\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert (resp.status, resp.date, resp.reusable) == (200, "Sun, 06 Dec 2026 05:00:00 GMT", True)
    assert left == b""


def test_body_arriving_in_pieces_is_read_to_its_length() -> None:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)

    def drip() -> None:
        for piece in (b"HTTP/1.1 403 Forbidden\r\nContent-", b"Length: 10\r\n\r\n01234", b"56789"):
            theirs.sendall(piece)
        theirs.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=drip)
    t.start()
    try:
        resp = rawput.read_response(ours)
        t.join()
        assert (resp.status, resp.reusable) == (403, True)
        assert ours.recv(10) == b""  # nothing of the body was left behind on the socket
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",  # body until close
    ],
)
def test_connections_that_cannot_be_reused_are_not(raw: bytes) -> None:
    resp, _ = answer(raw)
    assert resp.status == 200 and not resp.reusable


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # closed before answering (a stale keep-alive connection)
        b"HTTP/1.1 200 OK\r\nContent-Len",  # closed inside the head
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",  # closed inside the body
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    ],
)
def test_broken_answers_raise(raw: bytes) -> None:
    with pytest.raises(rawput.RawHTTPError):
        answer(raw)


def test_head_larger_than_the_limit_raises() -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * (rawput.MAX_HEAD + 10) + b"\r\n\r\n"
    ours, theirs = socket.socketpair()
    ours.settimeout(5)

    def send() -> None:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    try:
        with pytest.raises(rawput.RawHTTPError, match="too large"):
            rawput.read_response(ours)
    finally:
        ours.close()
        t.join()
        theirs.close()


def _drain(sock: socket.socket, into: bytearray) -> threading.Thread:
    def run() -> None:
        while chunk := sock.recv(1 << 20):
            into.extend(chunk)

    reader = threading.Thread(target=run)
    reader.start()
    return reader


def test_send_region_sends_exactly_that_byte_range(tmp_path: Path) -> None:
    from gsdesktop.datamanager.rawput import send_region

    data = os.urandom(3 * 1024 * 1024 + 777)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    got = bytearray()
    reader = _drain(theirs, got)
    seen: list[int] = []
    sent = [0]
    with open(src, "rb") as fh:
        send_region(ours, fh, 1000, 2 * 1024 * 1024 + 5, seen.append, sent, None)
    ours.close()
    reader.join(10)
    theirs.close()
    assert bytes(got) == data[1000 : 1000 + 2 * 1024 * 1024 + 5]
    assert sum(seen) == sent[0] == len(got) and len(seen) >= 2  # progress per piece, not once at the end


def test_send_region_of_a_file_that_shrank_fails_after_what_it_has(tmp_path: Path) -> None:
    from gsdesktop.datamanager.rawput import send_region

    src = tmp_path / "short.bin"
    src.write_bytes(b"x" * 300_000)
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    got = bytearray()
    reader = _drain(theirs, got)
    sent = [0]
    with open(src, "rb") as fh, pytest.raises(rawput.RawHTTPError, match="shrank"):
        send_region(ours, fh, 0, 1_000_000, lambda n: None, sent, None)
    ours.close()
    reader.join(10)
    theirs.close()
    assert sent[0] == len(got) == 300_000
