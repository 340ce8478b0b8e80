"""The smallest correct HTTP/1.1 exchanges over pooled plain sockets: :class:`LeanPut` and :class:`LeanGet`.

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

import os
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import requests

from gsdesktop.datamanager.transfer import CHUNK as SENDFILE_PIECE
from gsdesktop.datamanager.transfer import CancelToken

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
    body: bytes | None = None  # only when asked for (``body_limit``) and complete


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


def read_response(sock: socket.socket, method: str = "PUT", body_limit: int | None = None) -> RawResponse:
    """Read one response (head and body) from ``sock``.

    ``body_limit``: keep the body (in :attr:`RawResponse.body`) when it has a plain Content-Length of
    at most about that many bytes; otherwise (chunked, encoded, far larger) it is not read and the
    connection is not reusable.
    """
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
    date, etag = fields.get("date", ""), fields.get("etag", "")
    length_text = fields.get("content-length")
    if body_limit is not None:
        plain = length_text is not None and length_text.isdigit() and "transfer-encoding" not in fields
        if not plain or fields.get("content-encoding") or int(length_text or 0) > max(body_limit, 0) + 65536:
            return RawResponse(status, date, False, etag)  # the full path handles anything else
        length = int(length_text or 0)
        body = buf[end + 4 :]
        while len(body) < length:
            chunk = sock.recv(min(length - len(body), 1 << 20))
            if not chunk:
                raise RawHTTPError("truncated response body")
            body += chunk
        if len(body) != length:
            return RawResponse(status, date, False, etag)
        return RawResponse(status, date, keep, etag, bytes(body))
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
    return RawResponse(status, date, keep, etag)


class SocketPool:
    """Kept-alive plain-HTTP sockets per host (thread-safe), for storage on this network without a proxy."""

    IDLE_PER_HOST = 64

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self.session = session
        self.timeout = timeout
        self._direct: dict[str, bool] = {}  # netloc -> no proxy applies
        self._idle: dict[str, list[socket.socket]] = {}
        self._lock = threading.Lock()

    def usable(self, parts: urllib.parse.SplitResult, url: str) -> bool:
        """Whether ``url`` can be reached over a pooled plain socket (plain HTTP, no proxy)."""
        if parts.scheme != "http":
            return False
        direct = self._direct.get(parts.netloc)
        if direct is None:
            env = requests.utils.get_environ_proxies(url) if self.session.trust_env else {}
            direct = self._direct[parts.netloc] = not env and not self.session.proxies
        return direct

    def head(self, method: str, parts: urllib.parse.SplitResult, headers: dict[str, str]) -> bytes | None:
        """The request head for ``parts`` (the session's User-Agent first), or None if it needs escaping."""
        target = parts.path + ("?" + parts.query if parts.query else "")
        send = {"User-Agent": str(self.session.headers.get("User-Agent", "")), **headers}
        try:
            return request_head(method, target, parts.netloc, send)
        except RawHTTPError:
            return None

    def take(self, parts: urllib.parse.SplitResult) -> tuple[socket.socket, bool]:
        """An idle connection to the host (and True), else a new one (and False)."""
        with self._lock:
            idle = self._idle.get(parts.netloc)
            if idle:
                return idle.pop(), True
        return connect(parts.hostname or "", parts.port or 80, self.timeout), False

    def give(self, netloc: str, sock: socket.socket) -> None:
        with self._lock:
            idle = self._idle.setdefault(netloc, [])
            if len(idle) < self.IDLE_PER_HOST:
                idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            socks = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for sock in socks:
            sock.close()


class LeanAnswer(NamedTuple):
    """What a lean PUT's 2xx answer said: its Date ("" if none) and ETag (unquoted, lower case)."""

    date: str
    etag: str


class LeanPut(SocketPool):
    """One PUT over a pooled keep-alive socket, without the ``requests``, ``urllib3`` and
    ``http.client`` layers: a presigned URL's long query string is sent as it is instead of being
    parsed and re-encoded character by character, the request head is one string, a small file goes
    out with it in one ``sendall``, and the answer's head is split on CRLF. This roughly halves the
    client CPU per small file, which bounds how many files per second one process can upload; a
    large file or a multipart part goes out with ``sendfile``. Plain-HTTP storage without a proxy
    only; anything but a 2xx answer (or a transport error on a fresh connection) returns ``None``
    and the caller takes its full path (error mapping, retries, URL renewal, TLS)."""

    IN_MEMORY = 1 << 20  # files up to this size are read once and sent with the request head

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        super().__init__(session, timeout)
        self.reconnects = 0  # idle connections found closed (sent again on a fresh one)
        self.fallbacks = 0  # transport failures handed to the full path
        self.stored = 0  # PUTs answered 2xx

    def put(
        self,
        url: str,
        local: Path,
        size: int,
        headers: dict[str, str],
        progress: Callable[[int], None],
        cancel: CancelToken | None,
        *,
        offset: int = 0,
        length: int | None = None,
    ) -> LeanAnswer | None:
        """PUT ``length`` bytes of ``local`` from ``offset`` (default: the whole file, which must still
        be ``size`` bytes long); ``progress`` gets the bytes sent (negative after a connection that
        had to be replaced). The answer after a 2xx, else ``None``."""
        parts = urllib.parse.urlsplit(url)
        if not self.usable(parts, url):
            return None
        count = size - offset if length is None else length
        head = self.head("PUT", parts, headers)
        if head is None:
            return None
        try:
            with open(local, "rb") as fh:
                if os.fstat(fh.fileno()).st_size != size:
                    return None
                data: bytes | None = None
                if count <= self.IN_MEMORY:
                    fh.seek(offset)
                    data = fh.read(count + 1 if offset + count == size else count)
                    if len(data) != count:
                        return None  # changed since it was hashed: the full path reports it
                for _attempt in range(2):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    try:
                        sock, reused = self.take(parts)
                    except OSError:
                        self.fallbacks += 1
                        return None
                    sent = [0]
                    try:
                        if data is not None:
                            sock.sendall(head + data)
                        else:
                            sock.sendall(head)
                            send_region(sock, fh, offset, count, progress, sent, cancel)
                        resp = read_response(sock)
                    except OSError:  # RawHTTPError included
                        sock.close()
                        progress(-sent[0])
                        if reused:
                            self.reconnects += 1
                            continue  # the idle connection had been closed by the server: once more
                        self.fallbacks += 1
                        return None
                    except BaseException:
                        sock.close()  # cancelled mid-body: the connection is unusable
                        progress(-sent[0])
                        raise
                    break
                else:
                    return None
        except OSError:
            return None
        if resp.reusable:
            self.give(parts.netloc, sock)
        else:
            sock.close()
        if 200 <= resp.status < 300:
            with self._lock:
                self.stored += 1
        else:
            if data is None:
                progress(-sent[0])
            return None
        if data is not None:
            progress(count)
        return LeanAnswer(resp.date, resp.etag.strip('"').lower())


class LeanGet(SocketPool):
    """GETs of small objects over a pool of kept-alive plain-HTTP sockets (thread-safe)."""

    LIMIT = 1 << 20  # objects up to this size are read into memory in one piece

    def get(self, url: str, size: int) -> bytes | None:
        """The whole body of a 200 answer of exactly ``size`` bytes, else ``None``."""
        parts = urllib.parse.urlsplit(url)
        if size > self.LIMIT or not self.usable(parts, url):
            return None
        head = self.head("GET", parts, {})
        if head is None:
            return None
        for _attempt in range(2):
            try:
                sock, reused = self.take(parts)
            except OSError:
                return None
            try:
                sock.sendall(head)
                resp = read_response(sock, "GET", body_limit=size)
            except OSError:  # RawHTTPError included
                sock.close()
                if reused:
                    continue  # the server had closed the idle connection: once more on a fresh one
                return None
            except BaseException:
                sock.close()
                raise
            if resp.reusable:
                self.give(parts.netloc, sock)
            else:
                sock.close()
            body = resp.body
            return body if resp.status == 200 and body is not None and len(body) == size else None
        return None


def send_region(
    sock: socket.socket,
    fh: BinaryIO,
    offset: int,
    count: int,
    progress: Callable[[int], None],
    sent: list[int],
    cancel: CancelToken | None,
) -> None:
    """``count`` bytes of ``fh`` from ``offset`` with ``sendfile`` (the kernel copies from the page
    cache to the socket: no reading into Python, about 0.3 s less CPU per GiB on the build machine);
    ``sent[0]`` counts what went out. A file that ends early raises :class:`RawHTTPError`."""
    end = offset + count
    while offset < end:
        if cancel is not None:
            cancel.raise_if_cancelled()
        n = sock.sendfile(fh, offset, min(SENDFILE_PIECE, end - offset))
        if n <= 0:
            raise RawHTTPError("the file shrank while it was being sent")
        offset += n
        sent[0] += n
        progress(n)
