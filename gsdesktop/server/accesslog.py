"""Request ids and the access log.

Every request gets an id: the client's ``X-Request-ID`` when it is a sane token (letters, digits, ``-_.:``,
at most 64), else a new random one. It is sent back as ``X-Request-ID``, set in
:data:`gsdesktop.logfiles.request_id` while the request runs (so every log line of that request carries
it, in text and JSON logs), and written in the access log line: method, path, status, duration, client
address and bytes sent (``--access-log``; logger ``gsdesktop.access``).
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gsdesktop.logfiles import request_id
from gsdesktop.server.asgi import HTTPMiddleware

log = logging.getLogger("gsdesktop.access")
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class AccessLogMiddleware(HTTPMiddleware):
    def __init__(self, app: ASGIApp, enabled: bool = False) -> None:
        super().__init__(app)
        self.enabled = enabled

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"")
        rid = given.decode() if _SANE_ID.fullmatch(given) else secrets.token_hex(8)
        token = request_id.set(rid)
        start = time.perf_counter()
        status, sent = [0], [0]

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            elif message["type"] == "http.response.body":
                sent[0] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            if self.enabled:
                client = (scope.get("client") or ("-", 0))[0]
                method, path = scope.get("method", ""), scope.get("path", "")
                ms = round((time.perf_counter() - start) * 1000, 1)
                log.info(
                    '%s "%s %s" %d %.1f ms %d B', client, method, path, status[0], ms, sent[0],
                    extra={"client": client, "method": method, "path": path, "status": status[0],
                           "duration_ms": ms, "bytes": sent[0]},
                )  # fmt: skip
            request_id.reset(token)
