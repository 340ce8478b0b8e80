"""A small fault-injecting HTTP/1.1 proxy for tests (threads, real sockets).

Put it in front of the Data Manager (point the client at ``proxy.url``) or in front of S3 (start the
server with ``--s3-public-endpoint proxy.url``; the Host header is passed through unchanged, so SigV4
signatures stay valid). Each client connection carries one request; the upstream answer is relayed
byte for byte. Rules decide what to break:

- ``status``: answer ``status`` without asking upstream (e.g. 503, or 404 to hide an endpoint);
- ``reset``: reset the connection before answering (after reading the request head);
- ``reset_upload``: forward ``after_bytes`` of the request body, then reset;
- ``cut``: forward the answer's head and ``after_bytes`` of its body, then close early;
- ``cut_reset``: the same, but end with a reset (the client's read fails instead of ending short);
- ``delay``: wait ``delay`` seconds, then forward normally (e.g. to let a signed URL expire).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Matcher = Callable[[str, str], bool]  # (method, raw request target) -> bool


@dataclass
class Rule:
    match: Matcher
    action: str  # status | reset | reset_upload | cut | cut_reset | delay
    times: int = 1  # how many matching requests to affect; -1 = every one
    status: int = 503
    after_bytes: int = 0
    delay: float = 0.0
    header: tuple[str, str] | None = None  # only requests with this header (lower-case name, value)
    hits: int = 0


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    fault: str | None


def _hard_close(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) so the peer sees 'connection reset'."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _read_head(sock: socket.socket, buf: bytes) -> tuple[bytes | None, bytes]:
    while b"\r\n\r\n" not in buf:
        try:
            data = sock.recv(65536)
        except OSError:
            return None, b""
        if not data:
            return None, b""
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _send_all(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


@dataclass
class FaultProxy:
    upstream: str  # http://host:port
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    # more upstreams: requests go round robin over upstream and these (a load balancer in front of replicas)
    more_upstreams: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        ups = [urlsplit(u) for u in (self.upstream, *self.more_upstreams)]
        self._ups = [(p.hostname or "127.0.0.1", p.port or 80) for p in ups]
        self._next = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._closed = False
        # True: answers claim the connection stays open although the proxy closes it after each one,
        # like a server that drops idle keep-alive connections (the client finds out on its next use)
        self.hide_close = False
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept(): close() alone does not
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, match: Matcher, action: str, **kw: object) -> Rule:
        rule = Rule(match, action, **kw)  # type: ignore[arg-type]
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.seen.clear()

    def count(self, method: str, contains: str = "", fault: str | bool | None = False) -> int:
        """Requests seen with ``method`` whose target contains ``contains`` (optionally by fault)."""
        with self._lock:
            return sum(
                1
                for s in self.seen
                if s.method == method and contains in s.target and (fault is False or s.fault == fault)
            )

    def _pick(self, method: str, target: str, headers: dict[str, str]) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.header is not None and headers.get(rule.header[0]) != rule.header[1]:
                    continue
                if rule.times != 0 and rule.match(method, target):
                    if rule.times > 0:
                        rule.times -= 1
                    rule.hits += 1
                    return rule
        return None

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            self._serve_one(client)
        finally:
            with contextlib.suppress(OSError):
                client.close()

    def _serve_one(self, client: socket.socket) -> None:
        head, rest = _read_head(client, b"")
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target = lines[0].split(" ")[:2]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        rule = self._pick(method, target, headers)
        with self._lock:
            self.seen.append(Seen(method, target, headers, rule.action if rule else None))
        length = int(headers.get("content-length", "0") or 0)
        if rule is not None and rule.action == "reset":
            _hard_close(client)
            return
        if rule is not None and rule.action == "status":
            self._drain(client, rest, length)
            body = f"injected fault {rule.status}\n".encode()
            reply = (
                f"HTTP/1.1 {rule.status} Injected\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body
            _send_all(client, reply)
            return
        if rule is not None and rule.action == "delay":
            time.sleep(rule.delay)
        with self._lock:
            target_up = self._ups[self._next % len(self._ups)]
            self._next += 1
        try:
            upstream = socket.create_connection(target_up, timeout=60)
        except OSError:
            body = b"upstream unreachable\n"
            _send_all(
                client,
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body,
            )
            return
        try:
            out_lines = [lines[0]] + [
                ln for ln in lines[1:] if not ln.lower().startswith(("connection:", "keep-alive:"))
            ]
            out_lines.append("Connection: close")
            if not _send_all(upstream, ("\r\n".join(out_lines) + "\r\n\r\n").encode("latin-1")):
                _hard_close(client)
                return
            limit = rule.after_bytes if rule is not None and rule.action == "reset_upload" else None
            if not self._forward_body(client, upstream, rest, length, limit):
                _hard_close(client)
                return
            cutting = rule is not None and rule.action in ("cut", "cut_reset")
            cut = rule.after_bytes if rule is not None and cutting else None
            rst = rule is not None and rule.action == "cut_reset"
            self._relay_response(upstream, client, cut, self.hide_close, rst)
        finally:
            with contextlib.suppress(OSError):
                upstream.close()

    @staticmethod
    def _drain(client: socket.socket, rest: bytes, length: int) -> None:
        left = length - len(rest)
        while left > 0:
            try:
                data = client.recv(min(65536, left))
            except OSError:
                return
            if not data:
                return
            left -= len(data)

    @staticmethod
    def _forward_body(
        client: socket.socket, upstream: socket.socket, rest: bytes, length: int, limit: int | None
    ) -> bool:
        sent = 0
        pending = rest[:length]
        while True:
            if pending:
                if limit is not None and sent + len(pending) > limit:
                    _send_all(upstream, pending[: max(0, limit - sent)])
                    return False
                if not _send_all(upstream, pending):
                    return False
                sent += len(pending)
            if sent >= length:
                return True
            try:
                pending = client.recv(min(1 << 20, length - sent))
            except OSError:
                return False
            if not pending:
                return False

    @staticmethod
    def _relay_response(
        upstream: socket.socket,
        client: socket.socket,
        cut: int | None,
        hide_close: bool = False,
        rst: bool = False,
    ) -> None:
        buf = b""
        head_done = False
        body_sent = 0
        while True:
            try:
                data = upstream.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                if buf:
                    _send_all(client, buf)
                return
            if cut is None and (head_done or not hide_close):
                if not _send_all(client, data):
                    return
                continue
            if not head_done:
                buf += data
                if b"\r\n\r\n" not in buf:
                    continue
                head, _, body = buf.partition(b"\r\n\r\n")
                buf = b""
                head_done = True
                if hide_close:
                    head = b"\r\n".join(
                        ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"connection:")
                    )
                if cut is None:
                    if not _send_all(client, head + b"\r\n\r\n" + body):
                        return
                    continue
                if not _send_all(client, head + b"\r\n\r\n"):
                    return
                data = body
            assert cut is not None  # cut is None only with hide_close, handled above once the head is in
            take = data[: max(0, cut - body_sent)]
            if take:
                _send_all(client, take)
                body_sent += len(take)
            if body_sent >= cut and rst:
                time.sleep(0.2)  # let the bytes sent so far reach the client, then reset
                _hard_close(client)
                return
            if body_sent >= cut:  # end the connection early (FIN): the client has every byte sent so far
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_WR)
                time.sleep(0.05)
                with contextlib.suppress(OSError):
                    client.close()
                return
