"""The Data Manager + Identity Server API (FastAPI): beta 2.0 and v1.0 dialects on one S3 store.

* Identity: ``/identityServer/basic`` (token as text + host-only ``gs-token``/``gs-username`` cookies),
  ``/identityServer/usermanagement/utility/token/remainingTime``, ``/identityServer/selfmanagement/user``.
* beta 2.0 under ``/datamanager/``: ``files``, ``uploadurls``, ``filemetadata``, ``downloadurls``,
  ``defaultdirectory``, ``dataformat/list``.
* v1.0 under ``/datamanager/v1.0/``: ``file`` (GET/HEAD/PUT/POST/DELETE), ``uploadurl``,
  ``filemetadata``, ``personaldirectory``, ``defaultdirectory``, ``dataformat/list``,
  ``dataformatconverter/list``, ``uploadinfo`` (until the multipart router provides it: 501).

Extensions: ``md5`` on file metadata; ``GET files/<dir>?recursive=true[&pageToken=..][&pageSize=..]
[&fields=brief]`` (every entry below a directory, paged, ``nextPageToken`` in the answer; ``fields=brief``:
entries with only name, path, isDirectory, size, lastModified and md5); ``GET files/<dir>?pageSize=N
[&pageToken=..]`` (the plain listing in pages of at most N entries, ``nextPageToken`` null at the end);
``POST uploadurls-batch`` (signed PUT URLs for many files in one request, :mod:`gsdesktop.server.batch`).

Errors: every error this server answers itself is JSON ``{"status": <code>, "error": "<HTTP reason
phrase>", "message": "<what went wrong>"}`` (schema ``ErrorBody``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gsdesktop import __version__
from gsdesktop.refget import service as refget_service
from gsdesktop.server import (
    apidocs,
    batch,
    dlbatch,
    fingerprint,
    formats,
    metrics,
    moves,
    multipart,
    ops,
    sharing,
)
from gsdesktop.server.access import AccessMiddleware, AccessStore, Level, access_of, checked_path
from gsdesktop.server.accesslog import AccessLogMiddleware
from gsdesktop.server.auth import (
    REALM,
    APIError,
    LoginCookieMiddleware,
    basic_credentials,
    check_password,
    error_body,
    require_user,
    set_login_cookies,
    store_of,
    token_from,
    users_of,
)
from gsdesktop.server.common import (
    BETA,
    V1,
    JsonOnlyMiddleware,
    base_url,
    dir_json,
    not_found,
    parse_json,
    path_url,
    read_body,
    root_json,
)
from gsdesktop.server.paths import DMPath, PathError
from gsdesktop.server.seaweed import S3Config
from gsdesktop.server.storage import S3Store, is_not_found
from gsdesktop.server.throttle import LoginThrottle
from gsdesktop.server.users import DEFAULT_TOKEN_TTL, UserStore
from gsdesktop.server.wire import ERROR_RESPONSES, TEXT_ROUTE_ERRORS, MakeDirectory, MoveRequest, json_body

log = logging.getLogger(__name__)

MAX_JSON_BODY = 64 * 1024
MAX_SINGLE_PUT = 5 * 1024**3


@dataclass(frozen=True)
class ServerSettings:
    """Everything :func:`create_app` needs; every replica of one deployment gets the same values."""

    s3: S3Config
    token_ttl: int = DEFAULT_TOKEN_TTL
    public_url: str | None = None  # base URL clients use, when behind a proxy / load balancer
    download_ttl: int = 300  # downloadurls: 5 minutes, as the seed says
    redirect_ttl: int = 900  # file GET redirects
    upload_ttl: int = 900  # uploadurls: 15 minutes (they outlive passwd/remove-user until they expire)
    # multipart uploads may give the whole-file MD5 at complete (needs a store whose CopyObject onto the
    # same key rewrites only metadata, as SeaweedFS's does); None = GSDM_MULTIPART_MD5_AT_COMPLETE
    multipart_md5_at_complete: bool | None = None
    access_log: bool = False  # one log line per request (logger gsdesktop.access), with its request id


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _redirect(url: str, status_code: int) -> Response:
    """A redirect whose header is spelled ``Location`` on the wire (UCSC's C client matches it exactly)."""
    response = RedirectResponse(url, status_code=status_code)
    response.raw_headers = [(b"Location" if k == b"location" else k, v) for k, v in response.raw_headers]
    return response


# -- exception handlers -------------------------------------------------------------------------------------
def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return JSONResponse(error_body(exc.status, exc.message), exc.status, headers=exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        path = request.scope.get("path", "")
        if exc.status_code == 404 and any(ch in path for ch in "\n\r"):
            # route patterns do not match across line breaks: say what is really wrong
            message = "path contains a control character (line break), which is not allowed"
            return JSONResponse(error_body(400, message), 400)
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return JSONResponse(error_body(exc.status_code, message), exc.status_code, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
        return JSONResponse(error_body(400, "invalid request: " + "; ".join(parts)), 400)

    async def path_error(request: Request, exc: Exception) -> Response:
        return JSONResponse(error_body(400, str(exc)), 400)

    async def storage_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientError) and is_not_found(exc):
            return JSONResponse(error_body(404, f"not found: {request.url.path}"), 404)
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        log.warning("storage error on %s %s: %s", request.method, request.url.path, exc)
        metrics.store_error(code or type(exc).__name__)
        message = f"the storage service failed ({code or type(exc).__name__}); try again later"
        return JSONResponse(error_body(503, message), 503)

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, "internal server error (details are in the server log)"), 500)

    app.add_exception_handler(APIError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(PathError, path_error)
    app.add_exception_handler(ClientError, storage_error)
    app.add_exception_handler(BotoCoreError, storage_error)
    app.add_exception_handler(urllib3.exceptions.HTTPError, storage_error)
    app.add_exception_handler(Exception, internal_error)


# -- identity server ----------------------------------------------------------------------------------------
identity = APIRouter(prefix="/identityServer", tags=["identity"])


@identity.get("/basic", response_class=PlainTextResponse, responses=TEXT_ROUTE_ERRORS)
def login_basic(request: Request) -> Response:
    """Log in with HTTP Basic credentials: the body is the token; cookies gs-token and gs-username."""
    users = users_of(request)
    creds = basic_credentials(request)
    if creds is None:
        raise APIError(
            401, "send your GenomeSpace user name and password (HTTP Basic)", {"WWW-Authenticate": REALM}
        )
    if not check_password(request, *creds):
        raise APIError(401, "invalid user name or password", {"WWW-Authenticate": REALM})
    token = users.issue_token(creds[0])
    response = PlainTextResponse(token)
    set_login_cookies(response, request, creds[0], token, users.token_ttl)
    return response


@identity.get(
    "/usermanagement/utility/token/remainingTime",
    response_class=PlainTextResponse,
    responses=TEXT_ROUTE_ERRORS,
)
def remaining_time(request: Request) -> Response:
    """Milliseconds the gs-token cookie has left (text); 401 when it is invalid or expired."""
    info = users_of(request).check_token(token_from(request))
    if info is None:
        raise APIError(401, "no valid gs-token: log in at /identityServer/basic")
    return PlainTextResponse(str(int(info.remaining * 1000)))


@identity.get("/selfmanagement/user")
def self_user(request: Request, user: str = Depends(require_user)) -> Response:
    """The caller's account (Basic credentials or gs-token): user name and a token."""
    users = users_of(request)
    token = token_from(request) if users.check_token(token_from(request)) else None
    token = token or users.issue_token(user)
    response = _json({"username": user, "token": token, "email": None})
    set_login_cookies(response, request, user, token, users.token_ttl)
    return response


# -- shared Data Manager handlers ---------------------------------------------------------------------------
def _query(request: Request, *names: str) -> str | None:
    """A query parameter by any of ``names``, case-insensitively."""
    wanted = {n.lower() for n in names}
    for key, value in request.query_params.multi_items():
        if key.lower() in wanted:
            return value
    return None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _page_size(request: Request) -> int:
    """The ``pageSize`` of a paged listing (default and maximum 1000); 400 when not an integer."""
    try:
        size = int(_query(request, "pageSize") or 1000)
    except ValueError as exc:
        raise APIError(400, "pageSize must be an integer between 1 and 1000") from exc
    return max(1, min(size, 1000))


def _get(request: Request, raw: str, user: str, dialect: str) -> Response:
    store, base = store_of(request), base_url(request)
    if sharing.is_virtual(raw):
        return _json(sharing.virtual_get(request, raw, user, dialect))
    path = checked_path(request, raw, user, Level.READ, allow_root=True)
    if path is None:
        contents = sharing.root_contents(request, user, dialect)
        return _json({"directory": root_json(user, base, dialect), "contents": contents})
    data_format = _query(request, "dataFormat")
    if _flag(_query(request, "recursive")) and not data_format:
        page = ops.recursive_page(
            store,
            path,
            base,
            dialect,
            _query(request, "pageToken"),
            _page_size(request),
            brief=_query(request, "fields") == "brief",
        )
        if page is None:
            raise not_found(path.display(dialect))
        return _json(page)
    if _query(request, "pageSize") is not None and not data_format:
        # extension: a directory's listing in pages; anything else is answered as without pageSize
        page = ops.listing_page(store, path, base, dialect, _query(request, "pageToken"), _page_size(request))
        if page is not None:
            return _json(page)
    # one store call in the common case: names with an extension are usually files
    info = ops.file_info(store, path) if "." in path.name else None
    if info is None and not data_format:
        listing = ops.listing(store, path, base, dialect)
        if listing is not None:
            return _json(listing)
    if info is None and "." not in path.name:
        info = ops.file_info(store, path)
    if info is None:
        if data_format and ops.stat(store, path) is not None:
            raise APIError(400, f"{path.display(dialect)} is a directory; only files can be converted")
        raise not_found(path.display(dialect))
    if data_format:
        return _converted(request, path, data_format)
    url = store.presign_get(path.key, request.app.state.settings.redirect_ttl, size=info.size)
    return _redirect(url, status_code=302 if dialect == BETA else 303)


def _converted(request: Request, path: DMPath, format_url: str) -> Response:
    store = store_of(request)
    target = formats.parse_format_url(format_url)
    if target is None:
        raise APIError(400, f"unknown data format {format_url!r}; see /datamanager/v1.0/dataformat/list")
    source = formats.format_for_filename(path.name)
    out_name = _quote(formats.converted_name(path.name, target))
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{out_name}"}
    if source is not None and source.name == target.name:
        return StreamingResponse(store.stream(path.key), media_type=target.content_type, headers=headers)
    converter = formats.converter_for(source, target)
    if converter is None:
        have = source.name if source else "an unknown format"
        raise APIError(400, f"{path.display()} ({have}) cannot be converted to {target.name}")
    stream = converter(lambda: store.stream(path.key))
    try:
        first = next(stream, b"")
    except ValueError as exc:
        raise APIError(400, f"cannot convert {path.display()}: {exc}") from exc

    def chained() -> Any:
        yield first
        yield from stream

    return StreamingResponse(chained(), media_type=target.content_type, headers=headers)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _put_sync(request: Request, raw: str, user: str, dialect: str, body: bytes) -> Response:
    store, base = store_of(request), base_url(request)
    path = checked_path(request, raw, user, Level.WRITE)
    assert path is not None
    source = request.headers.get("x-gs-copy-source")
    if source is not None:
        src = _copy_source(request, store, source, user)
        is_dir = ops.copy(store, src, path, merge=_flag(_query(request, "merge")))
        meta = ops.metadata(store, path, base, dialect) if not is_dir else dir_json(path, base, dialect)
        return _json(meta, 201)
    if not body.strip():
        raise APIError(
            400,
            'PUT needs a JSON body {"isDirectory": true} (mkdir) or an x-gs-copy-source header (copy); '
            "upload files through uploadurls",
        )
    payload = parse_json(body)
    if not isinstance(payload, dict) or not _truthy(payload.get("isDirectory", payload.get("directory"))):
        raise APIError(400, 'only {"isDirectory": true} can be PUT here (use uploadurls to upload files)')
    status, meta = ops.mkdir(store, path, base, dialect)
    return _json(meta, status)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _strip_api_url(value: str) -> str:
    """A full Data Manager URL given where a path is expected -> its (decoded) path part."""
    if not value.lower().startswith(("http://", "https://")):
        return value
    for marker in ("/datamanager/v1.0/file/", "/datamanager/files/", "/datamanager/file/"):
        if marker in value:
            return "/" + unquote(value.split(marker, 1)[1].split("?", 1)[0])
    return value


def _copy_source(request: Request, store: S3Store, header: str, user: str) -> DMPath:
    """Resolve ``x-gs-copy-source`` (a path; percent-decoded as a fallback) the caller may read."""
    value = _strip_api_url(header.strip())
    candidates = [value]
    if "%" in value:
        candidates.append(unquote(value))
    last: APIError | None = None
    for cand in candidates:
        try:
            src = checked_path(request, cand, user, Level.READ)
        except APIError as exc:
            last = exc
            continue
        assert src is not None
        if len(candidates) == 1 or ops.stat(store, src) is not None:
            return src
    if last is not None and (last.status == 403 or len(candidates) == 1):
        raise last
    raise not_found(f"copy source {header}")


def _uploadurl(request: Request, raw: str, user: str, dialect: str) -> Response:
    store = store_of(request)
    path = checked_path(request, raw, user, Level.WRITE)
    assert path is not None
    if path.is_home:
        raise APIError(400, "name the file to upload: /users/<user>/<dir>/<file>")
    length_text = _query(request, "Content-Length")
    md5_b64 = _query(request, "Content-MD5")
    content_type = _query(request, "Content-Type")
    if length_text is None or content_type is None or (dialect == BETA and md5_b64 is None):
        need = (
            "Content-Length, Content-MD5 and Content-Type"
            if dialect == BETA
            else "Content-Length and Content-Type"
        )
        raise APIError(400, f"missing query parameters: {need} are required")
    try:
        length = int(length_text)
    except ValueError as exc:
        raise APIError(400, f"Content-Length must be a whole number of bytes, not {length_text!r}") from exc
    if length < 0 or length > MAX_SINGLE_PUT:
        raise APIError(
            400, f"Content-Length must be between 0 and {MAX_SINGLE_PUT} bytes (use multipart above)"
        )
    if not content_type.strip() or any(c in content_type for c in "\r\n\x00"):
        raise APIError(400, "Content-Type is empty or invalid")
    md5_hex: str | None = None
    if md5_b64 is not None:
        import base64
        import binascii

        md5_b64 = md5_b64.strip().replace(" ", "+")
        try:
            digest = base64.b64decode(md5_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise APIError(400, "Content-MD5 must be the base64 MD5 digest (24 characters)") from exc
        if len(digest) != 16:
            raise APIError(400, "Content-MD5 must be the base64 MD5 digest (24 characters)")
        md5_hex = digest.hex()
    ops.require_parent(store, path)
    if ops.dir_exists(store, path):
        raise APIError(409, f"{path.display(dialect)} is a directory")
    url = store.presign_put(
        path.key,
        content_length=length,
        content_md5=md5_b64,
        content_type=content_type,
        md5_hex=md5_hex if dialect == BETA else None,
        expires=request.app.state.settings.upload_ttl,
    )
    return PlainTextResponse(url)


def _downloadurl(request: Request, raw: str, user: str, dialect: str) -> Response:
    store = store_of(request)
    path = checked_path(request, raw, user, Level.READ)
    assert path is not None
    info = ops.file_info(store, path)
    if info is None:
        if ops.stat(store, path) is not None:
            raise APIError(400, f"{path.display(dialect)} is a directory; only files have download URLs")
        raise not_found(path.display(dialect))
    ttl = request.app.state.settings.download_ttl
    return PlainTextResponse(store.presign_get(path.key, ttl, size=info.size))


def _metadata(request: Request, raw: str, user: str, dialect: str) -> Response:
    base = base_url(request)
    if sharing.is_virtual(raw):
        return _json(sharing.virtual_get(request, raw, user, dialect, metadata=True))
    path = checked_path(request, raw, user, Level.READ, allow_root=True)
    if path is None:
        return _json(root_json(user, base, dialect))
    return _json(ops.metadata(store_of(request), path, base, dialect))


def _delete(request: Request, raw: str, user: str, dialect: str) -> Response:
    path = checked_path(request, raw, user, Level.WRITE)
    assert path is not None
    if_match = _query(request, "ifMatch")  # extension: delete the file only while it has this MD5
    if if_match is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", if_match):
        raise APIError(400, "ifMatch must be the hex MD5 (32 characters) of the version to delete")
    answer = ops.delete(store_of(request), path, dialect, if_match=if_match)
    access_of(request).forget_below(path)  # a new item of the same name is not shared by accident
    return _json(answer)


def _formats_list() -> list[dict[str, Any]]:
    return [f.to_json() for f in formats.FORMATS.values()]


def _converters_list() -> list[dict[str, Any]]:
    return [
        {"inputFormat": formats.FORMATS[s].to_json(), "outputFormat": formats.FORMATS[d].to_json()}
        for (s, d) in formats.CONVERTERS
    ]


# -- beta 2.0 -----------------------------------------------------------------------------------------------
beta = APIRouter(prefix="/datamanager", tags=["datamanager beta 2.0"])


@beta.get("/defaultdirectory")
def beta_default(request: Request, user: str = Depends(require_user)) -> Response:
    """Redirect to the caller's folder ``/datamanager/files/users/<user>``."""
    return _redirect(path_url(base_url(request), DMPath(user), BETA), status_code=302)


@beta.get("/files/{path:path}")
def beta_files_get(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """A directory: GSDirectoryListing. A file: 302 to a signed S3 URL, or ``?dataFormat=`` conversion."""
    return _get(request, path, user, BETA)


@beta.put("/files/{path:path}", openapi_extra=json_body(MakeDirectory, required=False))
async def beta_files_put(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """mkdir (``{"isDirectory":true}``) or server-side copy (``x-gs-copy-source``)."""
    body = await read_body(request, MAX_JSON_BODY)
    return await run_in_threadpool(_put_sync, request, path, user, BETA, body)


@beta.delete("/files/{path:path}")
def beta_files_delete(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """Delete a file or an empty directory."""
    return _delete(request, path, user, BETA)


@beta.get("/uploadurls/{path:path}", response_class=PlainTextResponse, responses=TEXT_ROUTE_ERRORS)
def beta_uploadurls(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """Signed S3 PUT URL binding Content-Length, Content-MD5, Content-Type and x-amz-meta-md5-hash."""
    return _uploadurl(request, path, user, BETA)


@beta.get("/filemetadata/{path:path}")
def beta_filemetadata(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """GSFileMetadata of a file or directory."""
    return _metadata(request, path, user, BETA)


@beta.get("/downloadurls/{path:path}", response_class=PlainTextResponse, responses=TEXT_ROUTE_ERRORS)
def beta_downloadurls(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """Signed S3 GET URL (text), valid for 5 minutes."""
    return _downloadurl(request, path, user, BETA)


@beta.get("/dataformat/list")
def beta_formats(user: str = Depends(require_user)) -> Response:
    return _json(_formats_list())


@beta.get("/dataformatconverter/list")
def beta_converters(user: str = Depends(require_user)) -> Response:
    return _json(_converters_list())


def unversioned_file(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """The unversioned ``/datamanager/file/...`` redirects to ``/datamanager/v1.0/file/...``."""
    target = f"{base_url(request)}/datamanager/v1.0/file/{_quote_path(path)}"
    if request.url.query:
        target += "?" + request.url.query
    return _redirect(target, status_code=307)


for _method in ("GET", "HEAD", "PUT", "POST", "DELETE"):  # one route per method: one operation id each
    beta.add_api_route(
        "/file/{path:path}",
        unversioned_file,
        methods=[_method],
        operation_id=f"unversioned_file_{_method.lower()}",
    )


def _quote_path(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


# -- v1.0 ---------------------------------------------------------------------------------------------------
v1 = APIRouter(prefix="/datamanager/v1.0", tags=["datamanager v1.0"])


@v1.get("/defaultdirectory")
def v1_default(request: Request, user: str = Depends(require_user)) -> Response:
    """Redirect to the caller's folder ``/datamanager/v1.0/file/Home/<user>``."""
    return _redirect(path_url(base_url(request), DMPath(user), V1), status_code=302)


@v1.get("/personaldirectory")
def v1_personal(request: Request, user: str = Depends(require_user)) -> Response:
    """303 See Other to ``/datamanager/v1.0/file/Home/<user>`` (UCSC reads the user from Location)."""
    return _redirect(path_url(base_url(request), DMPath(user), V1), status_code=303)


@v1.get("/file/{path:path}")
def v1_file_get(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """Directory listing, 303 to a signed URL for a file, or ``?dataformat=`` conversion."""
    return _get(request, path, user, V1)


@v1.head("/file/{path:path}")
def v1_file_head(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """Existence check; with ``?signedURL=true`` the header ``external-link`` is a signed GET URL."""
    store = store_of(request)
    dm = checked_path(request, path, user, Level.READ, allow_root=True)
    if dm is None:
        return Response(status_code=200)
    st = ops.stat(store, dm)
    if st is None:
        return Response(status_code=404)
    headers: dict[str, str] = {"x-gs-is-directory": "true" if st.is_dir else "false"}
    if not st.is_dir and _flag(_query(request, "signedURL")):
        headers["external-link"] = store.presign_get(dm.key, request.app.state.settings.download_ttl)
    return Response(status_code=200, headers=headers)


@v1.put("/file/{path:path}", openapi_extra=json_body(MakeDirectory, required=False))
async def v1_file_put(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """mkdir (``{"isDirectory":true}``, idempotent) or copy (``x-gs-copy-source: /Home/<user>/...``)."""
    body = await read_body(request, MAX_JSON_BODY)
    return await run_in_threadpool(_put_sync, request, path, user, V1, body)


@v1.post("/file/{path:path}", openapi_extra=json_body(MoveRequest))
async def v1_file_post(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """Move/rename: body ``{"path": "/Home/<user>/new/name"}``."""
    body = await read_body(request, MAX_JSON_BODY)
    return await run_in_threadpool(_move_sync, request, path, user, body)


def _move_sync(request: Request, raw: str, user: str, body: bytes) -> Response:
    store, base = store_of(request), base_url(request)
    src = checked_path(request, raw, user, Level.WRITE)
    assert src is not None
    payload = parse_json(body) if body.strip() else None
    target = payload.get("path") if isinstance(payload, dict) else None
    if not isinstance(target, str) or not target.strip():
        raise APIError(400, 'POST needs a JSON body {"path": "/Home/<user>/<new path>"} (move/rename)')
    dst = checked_path(request, _strip_api_url(target), user, Level.WRITE)
    assert dst is not None
    moves.move(store, src, dst)
    access_of(request).move_entries(src, dst)  # sharing follows the item
    return _json(ops.metadata(store, dst, base, V1))


@v1.delete("/file/{path:path}")
def v1_file_delete(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    return _delete(request, path, user, V1)


@v1.get("/uploadurl/{path:path}", response_class=PlainTextResponse, responses=TEXT_ROUTE_ERRORS)
def v1_uploadurl(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    """Signed S3 PUT URL binding Content-Length, Content-Type and (if given) Content-MD5."""
    return _uploadurl(request, path, user, V1)


@v1.get("/filemetadata/{path:path}")
def v1_filemetadata(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    return _metadata(request, path, user, V1)


@v1.get("/downloadurls/{path:path}", response_class=PlainTextResponse, responses=TEXT_ROUTE_ERRORS)
@v1.get("/downloadurl/{path:path}", response_class=PlainTextResponse, responses=TEXT_ROUTE_ERRORS)
def v1_downloadurl(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    return _downloadurl(request, path, user, V1)


@v1.get("/dataformat/list")
def v1_formats(user: str = Depends(require_user)) -> Response:
    """Every known GSDataFormat."""
    return _json(_formats_list())


@v1.get("/dataformatconverter/list")
def v1_converters(user: str = Depends(require_user)) -> Response:
    """Available conversions as ``{inputFormat, outputFormat}`` pairs."""
    return _json(_converters_list())


def _uploadinfo_stub(request: Request, path: str, user: str = Depends(require_user)) -> Response:
    raise APIError(
        501,
        "uploadinfo (temporary S3 credentials for multipart uploads) is not available on this server; "
        "use /datamanager/v1.0/uploadurl for single-PUT uploads",
    )


# -- application --------------------------------------------------------------------------------------------
def _routers() -> list[APIRouter]:
    """Every router of the server, in registration order (an earlier route wins on the same path)."""
    return [
        identity,
        v1,
        beta,
        sharing.router,
        sharing.public_router,
        refget_service.router,
        multipart.router,
        batch.router,
        dlbatch.router,
        fingerprint.router,
    ]


def create_app(settings: ServerSettings | S3Config, *, store: S3Store | None = None) -> FastAPI:
    """Build the API application; ``app.state.store`` / ``.users`` / ``.settings`` are shared state."""
    if isinstance(settings, S3Config):
        settings = ServerSettings(s3=settings)
    app = FastAPI(
        title="GenomeSpace Data Manager (gsdesktop)",
        version=__version__,
        description=__doc__,
        responses=ERROR_RESPONSES,  # the one error shape, on every operation
        docs_url=None,  # served from local assets by apidocs.install (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store or S3Store(settings.s3)
    app.state.users = UserStore(app.state.store, token_ttl=settings.token_ttl)
    app.state.login_throttle = LoginThrottle()  # per replica: see gsdesktop.server.throttle
    app.state.public_url = settings.public_url
    app.state.access = AccessStore(app.state.store, user_exists=app.state.users.exists)
    _install_error_handlers(app)
    app.add_middleware(LoginCookieMiddleware)
    app.add_middleware(JsonOnlyMiddleware)  # inside the metrics middleware: its 415s are counted
    app.add_middleware(AccessMiddleware)
    metrics.install(app)
    apidocs.install(app, base_url)
    app.add_middleware(AccessLogMiddleware, enabled=settings.access_log)  # outermost: ids cover everything

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return _json({"service": "GenomeSpace Data Manager (gsdesktop)", "version": __version__,
                      "openapi": "/openapi.json", "docs": "/docs"})  # fmt: skip

    for router in _routers():
        app.include_router(router)
    # after the routers: the real uploadinfo (multipart router) takes precedence over this stub
    app.add_api_route(
        "/datamanager/v1.0/uploadinfo/{path:path}",
        _uploadinfo_stub,
        methods=["GET"],
        tags=["datamanager v1.0"],
    )
    return app
