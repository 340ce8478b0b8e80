"""Who is calling, and the server's one JSON error: a leaf every router and the refget service use.

* :class:`APIError` -> a JSON error reply in the one shape of the server's own errors,
  :func:`error_body`: ``{"status": <code>, "error": "<HTTP reason phrase>", "message": "<what went wrong>"}``
  (a JSON object with exactly these keys, for every error this server produces itself: routers, the
  refget service, the media-type check and the request-head limits);
* :func:`require_user` (a FastAPI dependency) -> the authenticated user name, from the ``gs-token``
  cookie (or ``gs-token`` header) or from ``Authorization: Basic`` (then the cookies are set);
* who may do what on a path (the owner, or others through sharing) is not decided here: only
  :mod:`gsdesktop.server.access` decides it (:func:`~gsdesktop.server.access.checked_path`).

It imports no router and nothing of sharing, so anything on the server may import it.
"""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from starlette.types import Message, Receive, Scope, Send

from gsdesktop.server.asgi import HTTPMiddleware, on_response_start
from gsdesktop.server.storage import S3Store
from gsdesktop.server.throttle import LoginThrottle
from gsdesktop.server.users import UserStore

REALM = 'Basic realm="GenomeSpace"'


class APIError(Exception):
    """An error answered as ``status`` with a JSON body carrying ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The one JSON error shape: ``{"status", "error" (the HTTP reason phrase), "message"}``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"status": status, "error": phrase, "message": message}


def store_of(request: Request) -> S3Store:
    return request.app.state.store  # type: ignore[no-any-return]


def users_of(request: Request) -> UserStore:
    return request.app.state.users  # type: ignore[no-any-return]


# -- authentication -----------------------------------------------------------------------------------------
def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic`` header, or ``None``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def login_cookies(request: Request, user: str, token: str, ttl: int) -> list[str]:
    """``Set-Cookie`` values: host-only ``gs-token`` and ``gs-username`` (no Domain: valid on any host)."""
    secure = "; Secure" if request.url.scheme == "https" else ""
    return [
        f"gs-token={token}; Max-Age={ttl}; Path=/; HttpOnly; SameSite=Lax{secure}",
        f"gs-username={quote(user, safe='')}; Max-Age={ttl}; Path=/; SameSite=Lax{secure}",
    ]


def set_login_cookies(response: Response, request: Request, user: str, token: str, ttl: int) -> None:
    for value in login_cookies(request, user, token, ttl):
        response.headers.append("set-cookie", value)


def token_from(request: Request) -> str | None:
    return request.cookies.get("gs-token") or request.headers.get("gs-token")


def check_password(request: Request, user: str, password: str) -> bool:
    """Verify a password under the guessing throttle (:mod:`gsdesktop.server.throttle`).

    Raises:
        APIError: 429 with ``Retry-After`` when the account or the client's address has used up its
            failed attempts; no scrypt is run then.
    """
    users = users_of(request)
    if users.verify_known(user, password):
        return True
    throttle: LoginThrottle = request.app.state.login_throttle
    account, address = user[:256], request.client.host if request.client else ""
    wait = throttle.acquire(account, address)
    if wait is not None:
        raise APIError(
            429,
            f"too many failed sign-ins for this account or from this address; try again in {wait} s",
            {"Retry-After": str(wait)},
        )
    ok = users.verify(user, password)
    if ok:
        throttle.succeeded(account, address)
    return ok


def authenticate(request: Request) -> str:
    """The caller's user name; raises 401 with a Basic challenge when not authenticated."""
    users = users_of(request)
    info = users.check_token(token_from(request))
    if info is not None:
        return info.username
    creds = basic_credentials(request)
    if creds is not None and check_password(request, *creds):
        request.state.new_login = creds[0]
        return creds[0]
    message = "authentication required: log in at /identityServer/basic or send a valid gs-token cookie"
    if token_from(request):
        message = "the gs-token is invalid or has expired: log in again at /identityServer/basic"
    raise APIError(401, message, {"WWW-Authenticate": REALM})


def require_user(request: Request) -> str:
    """FastAPI dependency: authenticate; after a Basic login the reply sets the login cookies.

    The cookies are added by :class:`LoginCookieMiddleware`, so they reach the client whatever kind of
    response the endpoint returns (JSON, redirect, stream).
    """
    user = authenticate(request)
    if getattr(request.state, "new_login", None):
        users = users_of(request)
        request.state.login_cookies = login_cookies(request, user, users.issue_token(user), users.token_ttl)
    request.state.user = user
    return user


class LoginCookieMiddleware(HTTPMiddleware):
    """ASGI middleware adding ``request.state.login_cookies`` as ``Set-Cookie`` headers."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        def add_cookies(start: Message) -> None:
            state = scope.get("state") or {}
            cookies = state.get("login_cookies") if isinstance(state, dict) else None
            if cookies:
                added = [(b"set-cookie", c.encode("latin-1")) for c in cookies]
                start["headers"] = [*start.get("headers", []), *added]

        await self.app(scope, receive, on_response_start(send, add_cookies))
