"""Pieces every server router shares: errors, authentication, path resolution, JSON shapes.

Routers of other features (multipart uploads, refget) import from here:

* :class:`APIError` -> a JSON error reply (``{"status", "error", "message"}``);
* :func:`require_user` (a FastAPI dependency) -> the authenticated user name, from the ``gs-token``
  cookie (or ``gs-token`` header) or from ``Authorization: Basic`` (then the cookies are set);
* :func:`own_path` -> a :class:`DMPath` inside the caller's tree, else 403 (never revealing existence);
* :func:`file_json` / :func:`dir_json` -> GSFileMetadata dictionaries for either dialect.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gsdesktop.server import formats
from gsdesktop.server.paths import DMPath, PathError, parse_path
from gsdesktop.server.storage import ObjectInfo, S3Store
from gsdesktop.server.throttle import LoginThrottle
from gsdesktop.server.users import UserStore

BETA = "beta"
#: Set per request by the sharing layer (:mod:`gsdesktop.server.access`): a path's ``(sid, permission)``
#: pairs beyond the owner's own R and W, listed in ``effectiveAcl``.
ACL_ENTRIES: ContextVar[Callable[[DMPath], list[tuple[dict[str, str], str]]] | None] = ContextVar(
    "gsdm_acl_entries", default=None
)
V1 = "v1"
REALM = 'Basic realm="GenomeSpace"'


class APIError(Exception):
    """An error answered as ``status`` with a JSON body carrying ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


#: The deepest nesting of arrays/objects a JSON body may have (the API's own bodies need 3).
MAX_JSON_DEPTH = 16


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body, refused with 413 once it grows past ``limit`` bytes.

    A ``Content-Length`` above ``limit`` is refused before the first byte is read. Call it only after
    authentication (a route reads its body in the endpoint, after its ``Depends(require_user)``).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise APIError(413, f"request body larger than {limit} bytes")
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; 400 with a message when malformed or nested too deeply."""
    try:
        value = json.loads(body)
    except RecursionError as exc:
        raise APIError(400, f"JSON body nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, f"malformed JSON body: {exc}") from exc
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > MAX_JSON_DEPTH:
                    raise APIError(400, f"JSON body nested deeper than {MAX_JSON_DEPTH} levels")
                stack.append((child, depth + 1))
    return value


async def read_json(request: Request, limit: int) -> Any:
    """:func:`read_body` then :func:`parse_json` (an empty body is ``None``)."""
    body = await read_body(request, limit)
    return parse_json(body) if body.strip() else None


def not_found(what: str) -> APIError:
    return APIError(404, f"not found: {what}")


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


class LoginCookieMiddleware:
    """ASGI middleware adding ``request.state.login_cookies`` as ``Set-Cookie`` headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                cookies = state.get("login_cookies") if isinstance(state, dict) else None
                if cookies:
                    headers = list(message.get("headers", []))
                    headers += [(b"set-cookie", c.encode("latin-1")) for c in cookies]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookies)


#: Bodies an HTML form can send cross-site without a CORS preflight.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
#: Routes whose body is not JSON (FASTA bytes): only the form types are refused there.
RAW_BODY_ROUTES = frozenset({"/refget/load"})


def is_json_type(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class JsonOnlyMiddleware:
    """415 for a POST/PUT/PATCH whose body is not declared JSON, before anything is read or done.

    A cross-site HTML form can only send ``application/x-www-form-urlencoded``, ``multipart/form-data``
    or ``text/plain`` (anything else needs a CORS preflight, which this server never grants), so no form
    can act with a browser's cached Basic login. A request without a body may omit ``Content-Type``
    (``x-gs-copy-source`` copies); one with a body must say ``application/json`` (or ``*/*+json``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            message = self._refusal(scope)
            if message is not None:
                body = json.dumps({"status": 415, "error": "Unsupported Media Type", "message": message})
                await send(
                    {
                        "type": "http.response.start",
                        "status": 415,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())],
                    }
                )  # fmt: skip
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope) -> str | None:
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        media = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
        if scope.get("path") in RAW_BODY_ROUTES:
            return f"a {media} body is not accepted here" if media in FORM_TYPES else None
        length = headers.get(b"content-length", b"").strip()
        has_body = b"transfer-encoding" in headers or (length not in (b"", b"0"))
        if media and not is_json_type(media):
            return f"the body must be JSON (Content-Type: application/json), not {media}"
        if has_body and not media:
            return "the body must be JSON: send Content-Type: application/json"
        return None


# -- paths --------------------------------------------------------------------------------------------------
def forbidden(user: str) -> APIError:
    return APIError(403, f"access denied: you can only access your own folder /users/{user} (/Home/{user})")


def own_path(raw: str, user: str, *, allow_root: bool = False) -> DMPath | None:
    """Parse ``raw`` and require it to lie in ``user``'s tree (403 otherwise, whether it exists or not)."""
    try:
        parsed = parse_path(raw)
    except PathError as exc:
        raise APIError(400, str(exc)) from exc
    if parsed.path is None:
        if allow_root:
            return None
        raise APIError(400, "this operation needs a path below /users/<user> (or /Home/<user>)")
    if parsed.path.user != user:
        raise forbidden(user)
    return parsed.path


# -- JSON shapes --------------------------------------------------------------------------------------------
def base_url(request: Request) -> str:
    configured = getattr(request.app.state, "public_url", None)
    if configured:
        return str(configured).rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def path_url(base: str, path: DMPath | None, dialect: str) -> str:
    """The API URL of a path in a dialect (``None`` = the root, /users or /Home)."""
    prefix = "/datamanager/files" if dialect == BETA else "/datamanager/v1.0/file"
    if path is None:
        return f"{base}{prefix}/{'users' if dialect == BETA else 'Home'}"
    return base + prefix + quote(path.display(dialect), safe="/")


def iso(ts: Any) -> str:
    if isinstance(ts, datetime):
        return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _acl(path: DMPath, dialect: str) -> dict[str, Any]:
    object_id = path.display(dialect)
    entries = [
        {
            "id": f"ace:{object_id}:R",
            "permission": "R",
            "sid": {"id": path.user, "name": path.user, "type": "User"},
        },
        {
            "id": f"ace:{object_id}:W",
            "permission": "W",
            "sid": {"id": path.user, "name": path.user, "type": "User"},
        },
    ]
    shared = ACL_ENTRIES.get()
    for sid, permission in shared(path) if shared is not None else ():
        ace_id = f"ace:{object_id}:{sid['type']}:{sid['id']}:{permission}"
        entries.append({"id": ace_id, "permission": permission, "sid": sid})
    return {
        "id": f"acl:{object_id}",
        "object": {"objectId": object_id, "objectType": "DataManagerFileObject"},
        "accessControlEntries": entries,
    }


def _common(path: DMPath, base: str, dialect: str, is_dir: bool) -> dict[str, Any]:
    parent = path.parent
    return {
        "name": path.name,
        "path": path.display(dialect),
        "url": path_url(base, path, dialect),
        "parentUrl": path_url(base, parent, dialect),
        "owner": {"name": path.user, "id": path.user, "type": "User"},
        "isDirectory": is_dir,
        "directory": is_dir,
        "isLink": False,
        "targetPath": None,
        "effectiveAcl": _acl(path, dialect),
    }


def file_json(path: DMPath, info: ObjectInfo, base: str, dialect: str) -> dict[str, Any]:
    """GSFileMetadata of a file (size as a number, ``md5`` extension, formats from the table)."""
    fmt = formats.format_for_filename(path.name)
    out = _common(path, base, dialect, False)
    out.update(
        {
            "size": int(info.size),
            "lastModified": iso(info.last_modified),
            "contentType": fmt.content_type if fmt else "application/octet-stream",
            "availableDataFormats": [f.to_json() for f in formats.available_formats(fmt)],
        }
    )
    if fmt is not None:
        out["dataFormat"] = fmt.to_json()
    md5 = info.md5
    if md5:
        out["md5"] = md5
    return out


def dir_json(path: DMPath, base: str, dialect: str, last_modified: Any = None) -> dict[str, Any]:
    """GSFileMetadata of a directory (no ``dataFormat`` key at all)."""
    out = _common(path, base, dialect, True)
    out.update({"size": 0, "contentType": "", "availableDataFormats": []})
    out["lastModified"] = iso(last_modified)
    return out


def root_json(user: str, base: str, dialect: str) -> dict[str, Any]:
    """The virtual root (/users or /Home): lists only the caller's own folder."""
    name = "users" if dialect == BETA else "Home"
    return {
        "name": name,
        "path": f"/{name}",
        "url": path_url(base, None, dialect),
        "parentUrl": path_url(base, None, dialect),
        "owner": {"name": user, "id": user, "type": "User"},
        "isDirectory": True,
        "directory": True,
        "isLink": False,
        "targetPath": None,
        "size": 0,
        "contentType": "",
        "lastModified": iso(None),
        "availableDataFormats": [],
    }
