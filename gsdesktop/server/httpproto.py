"""uvicorn's h11 protocol with firm limits on the request head: 414 / 431 answered, never a reset.

h11 enforces its buffer limit only while a request head is incomplete, and uvicorn answers that with a
plain 400 and closes at once (a client still sending gets a reset). Here every request head is measured
as it arrives, however it was split into packets:

* a request line (method, path, query) longer than :data:`MAX_REQUEST_LINE` -> ``414 URI Too Long``;
* a head (request line + headers) longer than :data:`MAX_HEAD` -> ``431 Request Header Fields Too Large``.

The reply is JSON like every other error; the server then stops sending, reads and discards what the
client still sends (up to :data:`LINGER_BYTES` / :data:`LINGER_SECONDS`) and closes, so the client gets
to read the answer instead of a connection reset.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from gsdesktop.server.auth import error_body

MAX_REQUEST_LINE = 16 * 1024
MAX_HEAD = 64 * 1024
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 5.0
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def head_refusal(buffer: bytes) -> int | None:
    """414 / 431 when the (possibly incomplete) request head in ``buffer`` is too long, else ``None``."""
    buffer = buffer.lstrip(b"\r\n")  # h11 skips blank lines before a request line too
    line_end = buffer.find(b"\n", 0, MAX_REQUEST_LINE + 1)
    if line_end == -1:
        return 414 if len(buffer) > MAX_REQUEST_LINE else None
    end = _HEAD_END.search(buffer, line_end - 1 if line_end else 0, MAX_HEAD + 4)
    if end is None:
        return 431 if len(buffer) > MAX_HEAD else None
    return 431 if end.start() > MAX_HEAD else None


class LimitedH11Protocol(H11Protocol):
    """:class:`H11Protocol` answering oversize request lines with 414 and oversize heads with 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # h11's own limit sits above ours, so ours always answers first
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD + 4096)
        self._discarded: int | None = None

    def data_received(self, data: bytes) -> None:
        if self._discarded is not None:  # refused: read and drop what the client still sends
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()
            return
        super().data_received(data)

    def handle_events(self) -> None:
        if self.conn.their_state is h11.IDLE:
            status = head_refusal(self.conn.trailing_data[0])
            if status is not None:
                self._refuse(status)
                return
        super().handle_events()

    def eof_received(self) -> None:
        if self._discarded is not None:
            self.transport.close()

    def _refuse(self, status: int) -> None:
        what = (
            f"the request line (path and query) is longer than {MAX_REQUEST_LINE} bytes"
            if status == 414
            else f"the request headers are longer than {MAX_HEAD} bytes in all"
        )
        phrase = HTTPStatus(status).phrase
        body = json.dumps(error_body(status, what)).encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        self.logger.warning("refused a request: %s", what)
        self._discarded = 0
        self.transport.write(head + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.transport.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
