"""Pieces every Data Manager router shares: request bodies, the JSON-only check, JSON shapes.

Errors, authentication and the caller's own paths are in :mod:`gsdesktop.server.auth`; who else may use
a path (sharing) in :mod:`gsdesktop.server.access`. Here:

* :func:`read_body` / :func:`read_json` -> a size-limited, depth-checked JSON request body;
* :class:`JsonOnlyMiddleware` -> 415 for a body not declared JSON (no cross-site form can act);
* :func:`file_json` / :func:`dir_json` -> GSFileMetadata dictionaries for either dialect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from starlette.types import Receive, Scope, Send

from gsdesktop.server import formats
from gsdesktop.server.asgi import HTTPMiddleware
from gsdesktop.server.auth import APIError, error_body
from gsdesktop.server.paths import DMPath
from gsdesktop.server.storage import ObjectInfo

BETA = "beta"
#: Set per request by the sharing layer (:mod:`gsdesktop.server.access`): a path's ``(sid, permission)``
#: pairs beyond the owner's own R and W, listed in ``effectiveAcl``.
ACL_ENTRIES: ContextVar[Callable[[DMPath], list[tuple[dict[str, str], str]]] | None] = ContextVar(
    "gsdm_acl_entries", default=None
)
V1 = "v1"


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


#: Bodies an HTML form can send cross-site without a CORS preflight.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
#: Routes whose body is not JSON (FASTA bytes): only the form types are refused there.
RAW_BODY_ROUTES = frozenset({"/refget/load"})


def is_json_type(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class JsonOnlyMiddleware(HTTPMiddleware):
    """415 for a POST/PUT/PATCH whose body is not declared JSON, before anything is read or done.

    A cross-site HTML form can only send ``application/x-www-form-urlencoded``, ``multipart/form-data``
    or ``text/plain`` (anything else needs a CORS preflight, which this server never grants), so no form
    can act with a browser's cached Basic login. A request without a body may omit ``Content-Type``
    (``x-gs-copy-source`` copies); one with a body must say ``application/json`` (or ``*/*+json``).
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = self._refusal(scope) if scope["method"] in ("POST", "PUT", "PATCH") else None
        if message is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(error_body(415, message)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 415, "headers": headers})
        await send({"type": "http.response.body", "body": body})

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


def brief_json(
    path: DMPath, info: ObjectInfo | None, dialect: str, last_modified: Any = None
) -> dict[str, Any]:
    """Extension (``fields=brief`` on a recursive listing): what a sync client compares, without the URLs,
    owner, ACL and formats of a full entry (~150 bytes instead of ~1.7 KB). ``info`` is None for a folder."""
    if info is None:
        return {"name": path.name, "path": path.display(dialect), "isDirectory": True,
                "lastModified": iso(last_modified)}  # fmt: skip
    out: dict[str, Any] = {
        "name": path.name,
        "path": path.display(dialect),
        "isDirectory": False,
        "size": int(info.size),
        "lastModified": iso(info.last_modified),
    }
    if info.md5:
        out["md5"] = info.md5
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
