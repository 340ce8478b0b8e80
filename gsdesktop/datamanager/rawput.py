"""The smallest correct HTTP/1.1 PUT exchange over a plain socket (for ``batch.LeanPut``).

Why not ``http.client``: for a 10 KiB file its request building (one ``putheader`` call per header,
each validated) and its response parsing (the ``email`` package's feed parser) cost more CPU than
everything else the client does for that file, and on a two-core machine the client shares the CPU
with the store. Here the request head is one string, head and body go out in one ``sendall``, and the
response head is split on CRLF.

Deliberately narrow: no proxies, no TLS, no ``Expect: 100-continue``, no redirects. Anything outside
that (an interim 1xx answer, a malformed head, a body without a length) raises :class:`RawHTTPError`
and the caller falls back to the full ``requests`` path. Only the status and a few headers are
needed: a non-2xx answer is handed to the full path, which repeats the request and reports it.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

#: request targets and header values must not smuggle a line break, space or control character
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")
_UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
MAX_HEAD = 64 * 1024


class RawHTTPError(OSError):
    """The exchange could not be completed or understood (the connection is unusable)."""


@dataclass(slots=True)
class RawResponse:
    status: int
    date: str
    reusable: bool  # HTTP/1.1 keep-alive and the whole body was read
    etag: str = ""  # as sent, quotes included


def request_head(method: str, target: str, host: str, headers: dict[str, str]) -> bytes:
    """The request line and headers, or :class:`RawHTTPError` if anything would need escaping."""
    if _UNSAFE_TARGET.search(target) or not target.startswith("/"):
        raise RawHTTPError(f"request target needs escaping: {target[:80]!r}")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    for name, value in headers.items():
        if _UNSAFE_VALUE.search(value) or _UNSAFE_VALUE.search(name) or ":" in name:
            raise RawHTTPError(f"header {name!r} needs escaping")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def connect(host: str, port: int, timeout: tuple[float, float]) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout[0])
    sock.settimeout(timeout[1])
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket, method: str = "PUT") -> RawResponse:
    """Read one response (head and body) from ``sock``."""
    buf = bytearray()
    while True:
        end = buf.find(b"\r\n\r\n")
        if 0 <= end <= MAX_HEAD:
            break
        if len(buf) > MAX_HEAD:
            raise RawHTTPError("response head too large")
        chunk = sock.recv(16384)
        if not chunk:
            raise RawHTTPError("connection closed before a response" if not buf else "truncated response")
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1")
    rest = len(buf) - end - 4
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise RawHTTPError(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(parts[1])
    if status < 200:
        raise RawHTTPError(f"interim response {status}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise RawHTTPError("malformed response header")
        fields[name.strip().lower()] = value.strip()
    keep = parts[0] == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    length_text = fields.get("content-length")
    if method == "HEAD" or status in (204, 304):
        length = 0
    elif length_text is not None and length_text.isdigit() and "transfer-encoding" not in fields:
        length = int(length_text)
    else:
        length = -1  # chunked or until close: the status is all we need; the connection is not reused
    if length >= 0:
        left = length - rest
        while left > 0:
            chunk = sock.recv(min(left, 65536))
            if not chunk:
                raise RawHTTPError("truncated response body")
            left -= len(chunk)
        keep = keep and left == 0
    else:
        keep = False
    return RawResponse(status, fields.get("date", ""), keep, fields.get("etag", ""))
