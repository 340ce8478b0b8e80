"""Small files in bulk: GET URLs signed many per request, fetched over kept-alive plain sockets.

A sync engine's recursive listing already gave every file's size and MD5, so a first download of many
small files needs no metadata request and no redirect per file: :func:`sign_downloads` asks the Data
Manager's ``downloadurls-batch`` extension for up to 1,000 signed storage URLs at once, and
:class:`LeanGet` fetches each with the smallest HTTP/1.1 exchange (:mod:`gsdesktop.datamanager.rawput`'s
request head, one ``recv`` loop) on connections kept open between files. Anything unusual (TLS, a
proxy, a redirect, a non-200 answer, a body of the wrong length) returns ``None``: the caller takes the
full download path, which retries, renews URLs and reports errors.
"""

from __future__ import annotations

import logging
import socket
import threading
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING

import requests

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager import rawput
from gsdesktop.datamanager.errors import GSError
from gsdesktop.datamanager.paths import Dialect

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient

log = logging.getLogger(__name__)

BATCH_ROUTES = {
    Dialect.BETA2: "/datamanager/downloadurls-batch",
    Dialect.V1: "/datamanager/v1.0/downloadurls-batch",
}
BATCH_MAX = 1000
LEAN_MAX = 1 << 20  # files up to this size are read into memory in one piece
_unsupported: set[str] = set()  # servers without the extension (asked once per process)


def sign_downloads(client: DataManagerClient, remotes: Sequence[str]) -> dict[str, str]:
    """Signed storage GET URLs for ``remotes`` (canonical paths); files the server refused, or all of
    them when it lacks ``downloadurls-batch``, are simply absent (their download asks on its own)."""
    if client.server_url in _unsupported or not remotes:
        return {}
    urls: dict[str, str] = {}
    route = BATCH_ROUTES.get(client.dialect, BATCH_ROUTES[Dialect.V1])
    for start in range(0, len(remotes), BATCH_MAX):
        chunk = list(remotes[start : start + BATCH_MAX])
        try:
            resp = client.request("POST", route, json={"paths": chunk}, ok=(404, 405, 501))
        except GSError as exc:
            log.info("downloadurls-batch failed (%s); downloading one by one", exc)
            return urls
        try:
            if resp.status_code in (404, 405, 501):
                _unsupported.add(client.server_url)
                return urls
            results = resp.json().get("results", [])
        except (ValueError, AttributeError):
            return urls
        finally:
            resp.close()
        for remote, item in zip(chunk, results, strict=False):
            url = item.get("url") if isinstance(item, dict) else None
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                urls[P.canonical(remote)] = url
    return urls


class LeanGet:
    """GETs of small objects over a pool of kept-alive plain-HTTP sockets (thread-safe)."""

    IDLE_PER_HOST = 64

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self.session = session
        self.timeout = timeout
        self._direct: dict[str, bool] = {}
        self._idle: dict[str, list[socket.socket]] = {}
        self._lock = threading.Lock()

    def _is_direct(self, parts: urllib.parse.SplitResult, url: str) -> bool:
        direct = self._direct.get(parts.netloc)
        if direct is None:
            env = requests.utils.get_environ_proxies(url) if self.session.trust_env else {}
            direct = self._direct[parts.netloc] = not env and not self.session.proxies
        return direct

    def _take(self, parts: urllib.parse.SplitResult) -> tuple[socket.socket, bool]:
        with self._lock:
            idle = self._idle.get(parts.netloc)
            if idle:
                return idle.pop(), True
        return rawput.connect(parts.hostname or "", parts.port or 80, self.timeout), False

    def _give(self, netloc: str, sock: socket.socket) -> None:
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

    def get(self, url: str, size: int) -> bytes | None:
        """The whole body of a 200 answer of exactly ``size`` bytes, else ``None``."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or size > LEAN_MAX or not self._is_direct(parts, url):
            return None
        target = parts.path + ("?" + parts.query if parts.query else "")
        ua = str(self.session.headers.get("User-Agent", ""))
        try:
            head = rawput.request_head("GET", target, parts.netloc, {"User-Agent": ua})
        except rawput.RawHTTPError:
            return None
        for _attempt in range(2):
            try:
                sock, reused = self._take(parts)
            except OSError:
                return None
            try:
                sock.sendall(head)
                status, body, keep = read_answer(sock, size)
            except OSError:  # RawHTTPError included
                sock.close()
                if reused:
                    continue  # the server had closed the idle connection: once more on a fresh one
                return None
            except BaseException:
                sock.close()
                raise
            if keep:
                self._give(parts.netloc, sock)
            else:
                sock.close()
            return body if status == 200 and body is not None and len(body) == size else None
        return None


def read_answer(sock: socket.socket, expect: int) -> tuple[int, bytes | None, bool]:
    """(status, body or None, reusable) of one response; bodies longer than ``expect`` are not kept."""
    buf = bytearray()
    while True:
        end = buf.find(b"\r\n\r\n")
        if 0 <= end <= rawput.MAX_HEAD:
            break
        if len(buf) > rawput.MAX_HEAD:
            raise rawput.RawHTTPError("response head too large")
        chunk = sock.recv(65536)
        if not chunk:
            raise rawput.RawHTTPError("connection closed before a response" if not buf else "truncated head")
        buf += chunk
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    first = lines[0].split(" ", 2)
    if len(first) < 2 or not first[0].startswith("HTTP/1.") or not first[1].isdigit():
        raise rawput.RawHTTPError(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(first[1])
    if status < 200:
        raise rawput.RawHTTPError(f"interim response {status}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise rawput.RawHTTPError("malformed response header")
        fields[name.strip().lower()] = value.strip()
    keep = first[0] == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    length_text = fields.get("content-length", "")
    if not length_text.isdigit() or "transfer-encoding" in fields or fields.get("content-encoding"):
        return status, None, False  # the full path handles anything else
    length = int(length_text)
    body = buf[end + 4 :]
    if length > max(expect, 0) + 65536:
        return status, None, False  # not what we asked for: do not read it all
    while len(body) < length:
        chunk = sock.recv(min(length - len(body), 1 << 20))
        if not chunk:
            raise rawput.RawHTTPError("truncated response body")
        body += chunk
    if len(body) != length:
        return status, None, False
    return status, bytes(body), keep
