"""The one shape of the server's pure ASGI middlewares.

Each of them (login cookies, the JSON-only check, the sharing snapshot, metrics, the access log) acts on
HTTP requests only and most look at the response's start (its status, or headers to add): subclass
:class:`HTTPMiddleware`, implement :meth:`HTTPMiddleware.http`, and wrap ``send`` with
:func:`on_response_start` where the start matters. Pure ASGI rather than Starlette's
``BaseHTTPMiddleware``: streamed bodies pass through untouched and context variables set here are seen
by the endpoint.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HTTPMiddleware:
    """Passes every non-HTTP scope (lifespan, websocket) straight on; HTTP requests go to :meth:`http`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (call ``self.app`` to pass it on)."""
        raise NotImplementedError


def on_response_start(send: Send, hook: Callable[[Message], None]) -> Send:
    """``send`` that first shows the ``http.response.start`` message to ``hook`` (which may change its
    headers in place); every message is passed on."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            hook(message)
        await send(message)

    return wrapped
