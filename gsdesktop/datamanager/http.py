"""HTTP plumbing: the pooled session, retry policies and mapping failures into :mod:`.errors`.

Two adapters share one ``requests.Session``: Data Manager calls (``/datamanager/``, ``/identityServer/``)
retry idempotent verbs on connection errors, 5xx and 429 with exponential backoff and jitter;
everything else (signed storage URLs) only retries connection failures, because an upload body stream
cannot be replayed by urllib3 - :mod:`.client` reopens the file and retries with :func:`transfer_retry`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from gsdesktop.datamanager.errors import (
    AuthenticationError,
    ConflictError,
    GSError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailed,
    ServerError,
    TransferError,
)
from gsdesktop.datamanager.transfer import CHUNK

log = logging.getLogger(__name__)

ACCEPT = "application/json,text/plain"
USER_AGENT = "gsdesktop"
RETRY_STATUSES = (429, 500, 502, 503, 504)
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 120.0)  # (connect, read) seconds
DEFAULT_RETRIES = 6


def api_retry(retries: int = DEFAULT_RETRIES) -> Retry:
    """Policy for Data Manager requests (idempotent verbs only; never POST)."""
    return Retry(
        total=retries + 2,
        connect=retries,
        read=min(retries, 3),
        status=retries,
        other=0,
        allowed_methods=IDEMPOTENT,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=0.3,
        backoff_max=8.0,
        backoff_jitter=0.3,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def storage_retry() -> Retry:
    """Policy on signed storage URLs: only failures before a byte of the body was sent."""
    return Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, raise_on_status=False)


class TransferRetry(Retry):
    """A :class:`Retry` that also carries the transfer's ``deadline`` (``time.monotonic()``; None: none)."""

    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def new(self, **kw: Any) -> TransferRetry:
        kw.setdefault("deadline", self.deadline)
        return super().new(**kw)


def transfer_retry(retries: int = DEFAULT_RETRIES, budget: float | None = None) -> TransferRetry:
    """Policy for whole-transfer attempts driven by the client (any verb, any error); used with
    ``policy = policy.increment(...)`` / ``policy.sleep()``. ``budget``: total seconds for the transfer,
    retries included (see :mod:`.breaker`)."""
    return TransferRetry(
        deadline=None if budget is None else time.monotonic() + budget,
        total=max(retries, 1),
        allowed_methods=None,
        backoff_factor=0.3,
        backoff_max=8.0,
        backoff_jitter=0.3,
        raise_on_status=False,
    )


class PooledAdapter(HTTPAdapter):
    """An adapter with a connection pool large enough for parallel transfers and 1 MiB socket blocks."""

    def __init__(self, pool_size: int, retry: Retry) -> None:
        super().__init__(pool_connections=8, pool_maxsize=pool_size, max_retries=retry, pool_block=False)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", CHUNK)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class _BlockAllCookies(DefaultCookiePolicy):
    """The token cookie is attached explicitly to Data Manager calls; nothing leaks to storage URLs."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


def make_session(server_url: str, pool_size: int = 16, retries: int = DEFAULT_RETRIES) -> requests.Session:
    """One pooled session for an account: retrying API adapter + storage adapter."""
    session = requests.Session()
    session.headers["Accept"] = ACCEPT
    session.headers["User-Agent"] = USER_AGENT
    session.cookies.set_policy(_BlockAllCookies())
    # honour HTTPS_PROXY/NO_PROXY/.netrc like any tool, except for a server on this machine
    session.trust_env = (urlsplit(server_url).hostname or "") not in ("127.0.0.1", "localhost", "::1")
    # a site's own certificate authority applies wherever the server is (trust_env=False drops it)
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    storage = PooledAdapter(pool_size, storage_retry())
    session.mount("http://", storage)
    session.mount("https://", storage)
    api = PooledAdapter(pool_size, api_retry(retries))
    base = server_url.rstrip("/")
    session.mount(base + "/datamanager/", api)
    session.mount(base + "/identityServer/", api)
    return session


def server_message(resp: requests.Response) -> str:
    """The human-readable part of an error body (JSON ``message``/``detail``/``error`` or text)."""
    text = ""
    try:
        text = resp.text or ""
    except Exception:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "detail", "error", "Message"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, list) and value:  # FastAPI validation errors
                return "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
    text = text.strip()
    if text.startswith("<"):  # HTML or S3 XML: take the <Message> if present
        start, end = text.find("<Message>"), text.find("</Message>")
        if 0 <= start < end:
            return text[start + 9 : end]
        return ""
    return text.splitlines()[0][:300] if text else ""


def error_for_status(
    resp: requests.Response, paths: tuple[str, ...] | list[str] = (), action: str = ""
) -> GSError:
    """Map an unsuccessful HTTP response to the error hierarchy."""
    status = resp.status_code
    detail = server_message(resp)
    prefix = f"{action}: " if action else ""
    cls: type[GSError]
    if status == 401:
        cls, text = AuthenticationError, "Not signed in or session expired"
    elif status == 403:
        cls, text = PermissionDeniedError, "Permission denied"
    elif status == 404:
        cls, text = NotFoundError, "No such file or folder"
    elif status == 409:
        cls, text = ConflictError, "Conflict"
    elif status == 412:
        cls, text = PreconditionFailed, "Changed on the server since it was last seen"
    elif status in RETRY_STATUSES or status >= 500:
        cls, text = ServerError, f"Server error (HTTP {status})"
    elif 400 <= status < 500:
        cls, text = InvalidRequestError, f"Request rejected (HTTP {status})"
    else:
        cls, text = ServerError, f"Unexpected answer (HTTP {status})"
    if detail and not _says_nothing_more(detail, text, paths):
        # for a 400 the server's reason is the whole story ("line 1: sequence data before …")
        text = detail if status in (400, 422) else f"{text}: {detail}"
    return cls(prefix + text, paths=paths, status=status)


_GENERIC_DETAILS = {
    "not found", "forbidden", "conflict", "access denied", "permission denied", "unauthorized",
}  # fmt: skip


def _says_nothing_more(detail: str, text: str, paths: tuple[str, ...] | list[str]) -> bool:
    """Whether the server's ``detail`` only repeats the status (``not found: /users/a/x``) and the paths."""
    rest = detail
    for path in paths:
        rest = rest.replace(path, "")
    rest = rest.strip(" :.-()").lower()
    return not rest or rest in text.lower() or rest in _GENERIC_DETAILS


def error_for_exception(
    exc: BaseException, url: str = "", paths: tuple[str, ...] | list[str] = ()
) -> GSError:
    """Map a ``requests``/``urllib3``/socket exception to the error hierarchy."""
    if isinstance(exc, GSError):
        return exc
    host = urlsplit(url).netloc if url else "the server"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NetworkError(f"Timed out connecting to {host}", paths=paths)
    if isinstance(exc, requests.exceptions.SSLError):
        return NetworkError(_tls_problem(exc, host), paths=paths, retryable=False)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return TransferError(f"Connection to {host} broke during the transfer", paths=paths)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return NetworkError(f"{host} did not answer in time", paths=paths)
    if isinstance(exc, requests.exceptions.RetryError):
        return ServerError(f"{host} kept failing; gave up after several retries", paths=paths)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return NetworkError(f"Cannot connect to {host} (is the server running?)", paths=paths)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return InvalidRequestError(f"Invalid URL: {url}", paths=paths)
    if isinstance(exc, requests.exceptions.RequestException | OSError):
        return NetworkError(f"Network problem talking to {host}: {_short(exc)}", paths=paths)
    return GSError(f"Unexpected error talking to {host}: {_short(exc)}", paths=paths)


def _tls_problem(exc: BaseException, host: str) -> str:
    """One sentence for a failed TLS handshake: OpenSSL's reason, not urllib3's nested reprs."""
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return f"{host} does not speak HTTPS on this port (is its address http://…?)"
    found = re.search(r"\[SSL: [A-Z_]+\] ([^(]+?)(?: \(_ssl\.c|'|\)|$)", text)
    reason = found.group(1).strip() if found else _short(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"The certificate of {host} cannot be trusted ({reason}); if your site uses its own "
            "certificate authority, point REQUESTS_CA_BUNDLE at its certificate file"
        )
    return f"Secure connection to {host} failed: {reason}"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def read_into(
    resp: requests.Response,
    view: memoryview,
    pos: int,
    end: int,
    check: Callable[[], None],
    landed: Callable[[int], None] | None,
    paths: list[str],
) -> int:
    """Read a (ranged) response body into ``view[pos:end]``; returns where it stopped.

    ``readinto`` of the underlying http.client response when the body is not content-encoded, so the
    bytes land in the buffer with no copy in between. ``check`` runs before every read (cancellation),
    ``landed(new_pos)`` after it. A broken connection raises :class:`TransferError`.
    """
    raw = resp.raw
    fp = getattr(raw, "_fp", None)
    readinto = None if resp.headers.get("Content-Encoding") else getattr(fp, "readinto", None)
    while pos < end:
        check()
        want = min(CHUNK, end - pos)
        try:
            if readinto is not None:
                n = readinto(view[pos : pos + want])
            else:
                data = raw.read(want, decode_content=False)
                n = len(data)
                view[pos : pos + n] = data
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError, ValueError) as exc:
            raise TransferError("The connection broke during the download", paths=paths) from exc
        if not n:
            break
        pos += n
        if landed is not None:
            landed(pos)
    return pos


def single_part_etag(etag: str | None) -> str | None:
    """The MD5 an S3 ETag stands for, or None for multipart/unknown ETags."""
    if not etag:
        return None
    value = etag.strip().strip('"').lower()
    if len(value) == 32 and all(c in "0123456789abcdef" for c in value):
        return value
    return None
