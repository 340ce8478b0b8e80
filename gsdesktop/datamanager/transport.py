"""The transport under every transfer: one signed-in, pooled, retrying connection to a Data Manager.

:class:`Transport` owns the HTTP session, the URL layout (routes and dialect), sign-in, the one
authenticated :meth:`Transport.request` with its error mapping, JSON and listing decoding, storage
GET/PUT over the same pool, the lean PUT socket pool, the store breaker, and the ONE retry helper of
the transfers (:meth:`Transport.next_attempt`), which backs off on the transfer's cancel token so a
cancel during a backoff ends the transfer at once. Transfer modules (:mod:`.single`, :mod:`.download`,
:mod:`.ranged`, :mod:`.multipart`, :mod:`.batch`, :mod:`.paging`, :mod:`.leanget`) import this module,
never :mod:`.client`; :class:`~gsdesktop.datamanager.client.DataManagerClient` is a facade over it.

Transfer settings come in as a :class:`TransferConfig`, read from the environment once, at the edge
(:meth:`TransferConfig.from_env`: the CLI and the desktop app); library code never reads them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
import urllib3
from urllib3.exceptions import MaxRetryError

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.breaker import DEFAULT_TRANSFER_TIMEOUT, TRANSFER_TIMEOUT, StoreBreaker
from gsdesktop.datamanager.envsettings import (
    DOWNLOAD_BLOCK_MIB,
    DOWNLOAD_SPAN_MIB,
    DOWNLOAD_WORKERS,
    MULTIPART_THRESHOLD_MIB,
    UPLOAD_WORKERS,
    env_int,
)
from gsdesktop.datamanager.errors import (
    AuthenticationError,
    CredentialsUnavailableError,
    GSError,
    InvalidRequestError,
    ServerError,
    UnsupportedError,
)
from gsdesktop.datamanager.http import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    error_for_exception,
    error_for_status,
    make_session,
    transfer_retry,
)
from gsdesktop.datamanager.models import GSDirectoryListing, GSFileMetadata, decode_json
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.rawput import LeanPut
from gsdesktop.datamanager.transfer import CancelToken, ProgressCallback

log = logging.getLogger(__name__)

MIB = 1024 * 1024

ROUTES: dict[Dialect, dict[str, str]] = {
    Dialect.BETA2: {
        "files": "/datamanager/files",
        "meta": "/datamanager/filemetadata",
        "upload": "/datamanager/uploadurls",
        "download": "/datamanager/downloadurls",
        "default": "/datamanager/defaultdirectory",
        "formats": "/datamanager/dataformat/list",
        "format_param": "dataFormat",
    },
    Dialect.V1: {
        "files": "/datamanager/v1.0/file",
        "meta": "/datamanager/v1.0/filemetadata",
        "upload": "/datamanager/v1.0/uploadurl",
        "download": "/datamanager/v1.0/downloadurl",
        "default": "/datamanager/v1.0/defaultdirectory",
        "formats": "/datamanager/v1.0/dataformat/list",
        "format_param": "dataformat",
    },
}


@dataclass(frozen=True, slots=True)
class TransferConfig:
    """Transfer settings of one client (defaults: the documented ones; nothing read from the environment).

    Args:
        transfer_timeout: Total seconds one file's transfer may take, retries included.
        multipart_threshold: Files at least this large are uploaded in parts (multipart extension).
        resumable_download_threshold: Files at least this large are downloaded by the journaled,
            resumable parallel downloader (:mod:`.ranged`).
        upload_workers: Parts of one multipart upload in flight at once.
        download_workers: Ranged requests of one resumable download in flight at once.
        download_block: Bytes per journaled block of a resumable download (whole MiB).
        download_span: Bytes asked for in one ranged GET of a resumable download.
        listing_page_size: Entries per page of the recursive listing extension (None: the server's).
    """

    transfer_timeout: float = float(DEFAULT_TRANSFER_TIMEOUT)
    multipart_threshold: int = 64 * MIB
    resumable_download_threshold: int = 64 * MIB
    upload_workers: int = 4
    download_workers: int = 4
    download_block: int = 8 * MIB
    download_span: int = 32 * MIB
    listing_page_size: int | None = None

    @classmethod
    def from_env(cls) -> TransferConfig:
        """The settings with the user's ``GSDESKTOP_*`` environment variables applied (read once, here).

        Raises:
            SettingError: a variable is not a whole number in its range.
        """
        base = cls()
        threshold_mib = env_int(MULTIPART_THRESHOLD_MIB, 0, 5, 5120)  # at most 5 GiB, the single-PUT limit
        return replace(
            base,
            transfer_timeout=float(env_int(TRANSFER_TIMEOUT, DEFAULT_TRANSFER_TIMEOUT, 1, 7 * 86400)),
            multipart_threshold=threshold_mib * MIB if threshold_mib else base.multipart_threshold,
            upload_workers=env_int(UPLOAD_WORKERS, base.upload_workers, 1, 64),
            download_workers=env_int(DOWNLOAD_WORKERS, base.download_workers, 1, 64),
            download_block=env_int(DOWNLOAD_BLOCK_MIB, base.download_block // MIB, 1, 256) * MIB,
            download_span=env_int(DOWNLOAD_SPAN_MIB, base.download_span // MIB, 1, 1024) * MIB,
        )


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """One file transfer as its caller asked for it: the local file, the remote path, and how to report
    and stop it (every transfer entry point takes this instead of repeating the parameter list).

    ``content_type``: for an upload, the type to store (None: guessed from the name).
    """

    local: Path
    remote: str
    progress: ProgressCallback | None = None
    cancel: CancelToken | None = None
    content_type: str | None = None

    def check_cancel(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()


def _not_a_data_manager(resp: requests.Response) -> bool:
    """A sign-in answer that no GenomeSpace identity service gives: no such endpoint, a web page, or
    the XML error of an S3 store (a common mistake: the storage endpoint given as the server)."""
    ctype = resp.headers.get("Content-Type", "")
    if resp.status_code in (404, 405, 501) or (resp.ok and "html" in ctype):
        return True  # no such endpoint, or a web site's page
    return "xml" in ctype and "<Error>" in resp.text[:2000]


class Transport:
    """A signed-in connection to one Data Manager account (thread-safe; see the module text).

    Args: as :class:`~gsdesktop.datamanager.client.DataManagerClient`, which documents them.
    """

    def __init__(
        self,
        server_url: str,
        username: str,
        password: str | None = None,
        *,
        token: str | None = None,
        pool_size: int = 16,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        dialect: Dialect | None = None,
        on_token: Callable[[str], None] | None = None,
        config: TransferConfig | None = None,
    ) -> None:
        url = server_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidRequestError(f"Server URL must start with http:// or https://: {server_url!r}")
        if not username:
            raise InvalidRequestError("A user name is required")
        self.server_url = url
        self.username = username
        self.timeout = timeout
        self.retries = retries
        self.pool_size = pool_size
        self.config = config if config is not None else TransferConfig()
        #: shared by every transfer of this client: stops a run early when storage only answers 5xx
        self.store_breaker = StoreBreaker()
        self.session = make_session(url, pool_size, retries)
        #: small-file and part PUTs over pooled plain sockets (see :class:`~.rawput.LeanPut`)
        self.lean = LeanPut(self.session, timeout)
        #: names of server extensions found missing (each asked for once)
        self.unsupported: set[str] = set()
        self._password = password
        self._token = token
        self._dialect = dialect
        self._on_token = on_token
        self._login_lock = threading.Lock()
        self._memo: dict[str, object] = {}
        self._memo_lock = threading.Lock()

    # --- session ----------------------------------------------------------------------------------

    @property
    def home(self) -> str:
        return f"/users/{self.username}"

    @property
    def token(self) -> str | None:
        return self._token

    @property
    def transfer_timeout(self) -> float:
        return self.config.transfer_timeout

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            self._dialect = self._detect_dialect()
        return self._dialect

    def close(self) -> None:
        self.lean.close()
        self.session.close()

    def remember(self, key: str, compute: Callable[[], object]) -> object:
        """What ``compute()`` answered the first time for ``key`` (e.g. a server's extension offer)."""
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._memo_lock:
            return self._memo.setdefault(key, value)

    def login(self) -> str:
        """Basic-auth login at ``/identityServer/basic``; returns (and keeps) the ``gs-token``.

        Raises:
            AuthenticationError: wrong user name or password.
            CredentialsUnavailableError: no password to log in with.
        """
        if not self._password:
            raise CredentialsUnavailableError(
                "Your session has expired or you are not signed in, and no password is available. "
                "Run 'gsdesktop login' or set GSDESKTOP_PASSWORD.",
                paths=[self.server_url],
            )
        url = self.server_url + "/identityServer/basic"
        try:
            resp = self.session.get(url, auth=(self.username, self._password), timeout=self.timeout)
        except requests.RequestException as exc:
            raise error_for_exception(exc, url) from exc
        if _not_a_data_manager(resp):
            raise InvalidRequestError(
                f"{self.server_url} is not a GenomeSpace Data Manager (it has no sign-in service); "
                "use the address the server gives, e.g. the one 'gsdesktop server run' prints"
            )
        if resp.status_code in (401, 403):
            raise AuthenticationError(f"Wrong user name or password for {self.username} at {self.server_url}")
        if not resp.ok:
            raise error_for_status(resp, action="Sign-in failed")
        token = resp.cookies.get("gs-token") or resp.text.strip()
        if not token or len(token) > 4096 or any(c.isspace() for c in token):
            raise ServerError("The server did not return a session token", paths=[self.server_url])
        self._token = token
        if self._on_token is not None:
            self._on_token(token)
        return token

    def sign_in(self, password: str) -> str:
        """Sign in again with ``password`` (the session ended, the password changed): every later request
        uses it. On failure the previous credentials stay. Returns the new token.

        Raises:
            AuthenticationError: wrong password.
        """
        with self._login_lock:
            old = self._password, self._token
            self._password = password
            try:
                return self.login()
            except BaseException:
                self._password, self._token = old
                raise

    def _relogin(self, stale: str | None) -> None:
        with self._login_lock:
            if self._token is not None and self._token != stale:
                return  # another thread already renewed it
            self.login()

    def request(
        self,
        method: str,
        route: str,
        *,
        paths: Iterable[str] = (),
        action: str = "",
        ok: Iterable[int] = (),
        **kwargs: Any,
    ) -> requests.Response:
        """Authenticated request to ``server_url + route``; one transparent re-login on 401.

        Non-2xx answers (other than those listed in ``ok``) raise the mapped :class:`GSError`.
        Redirects are not followed unless ``allow_redirects=True`` is passed.
        """
        path_list = list(paths)
        url = route if route.startswith(("http://", "https://")) else self.server_url + route
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        if self._token is None:
            self._relogin(None)
        # A 401 means the token expired: sign in again and repeat. Twice, because a request that the
        # network held up (retries with backoff, a laptop asleep) can outlive even the fresh token.
        for attempt in range(3):
            token = self._token
            try:
                resp = self.session.request(method, url, cookies={"gs-token": token or ""}, **kwargs)
            except requests.RequestException as exc:
                raise error_for_exception(exc, url, path_list) from exc
            if resp.status_code == 401 and attempt < 2:
                resp.close()
                self._relogin(token)
                continue
            if resp.ok or resp.status_code in ok or 300 <= resp.status_code < 400:
                return resp
            err = error_for_status(resp, path_list, action)
            resp.close()
            raise err
        raise AuthenticationError("The server rejected a fresh session token", paths=path_list)

    def _detect_dialect(self) -> Dialect:
        resp = self.request("GET", ROUTES[Dialect.BETA2]["default"], ok=(404, 405), stream=True)
        resp.close()
        location = resp.headers.get("Location", "")
        if resp.status_code < 400:
            return Dialect.V1 if "/v1.0/" in location else Dialect.BETA2
        resp = self.request("GET", ROUTES[Dialect.V1]["default"], ok=(404, 405), stream=True)
        resp.close()
        return Dialect.V1 if resp.status_code < 400 else Dialect.BETA2

    # --- routes and decoding ----------------------------------------------------------------------

    def endpoint(self, kind: str) -> str:
        """The route (or query parameter name, for ``format_param``) of ``kind`` in the server's layout."""
        return ROUTES[self.dialect][kind]

    def route(self, kind: str, path: str) -> str:
        """The route of ``kind`` (``files``, ``meta``, ``upload``, ``download``) for remote ``path``."""
        dialect = self.dialect
        return ROUTES[dialect][kind] + P.encode(P.to_dialect(path, dialect))

    @staticmethod
    def json(resp: requests.Response, paths: Iterable[str] = ()) -> Any:
        """The answer's JSON body; :class:`ServerError` when it is not JSON."""
        try:
            return decode_json(resp.content)
        except ValueError as exc:
            raise ServerError("The server sent an answer that is not valid JSON", paths=list(paths)) from exc

    def listing_answer(
        self, resp: requests.Response, paths: Iterable[str] = ()
    ) -> tuple[GSDirectoryListing, dict[str, Any]]:
        """A listing answer, decoded in pieces (see :func:`decode_json`), and its top-level object."""
        try:
            listing, doc = GSDirectoryListing.decode(resp.content)
        except ValueError as exc:
            raise ServerError("Unexpected folder listing from the server", paths=list(paths)) from exc
        contents = tuple(self.fix(m) for m in listing.contents)
        return GSDirectoryListing(self.fix(listing.directory), contents), doc

    @staticmethod
    def fix(meta: GSFileMetadata) -> GSFileMetadata:
        """Report paths in the beta form whatever the server dialect."""
        fixed = P.from_dialect(meta.path)
        return meta if fixed == meta.path else replace(meta, path=fixed)

    def metadata(self, path: str) -> GSFileMetadata:
        path = P.canonical(path)
        resp = self.request("GET", self.route("meta", path), paths=[path])
        data = self.json(resp, [path])
        if not isinstance(data, dict):
            raise ServerError("Unexpected metadata from the server", paths=[path])
        return self.fix(GSFileMetadata.from_json(data))

    def download_url(self, path: str) -> str:
        """A time-limited signed URL that downloads the file without signing in."""
        path = P.canonical(path)
        resp = self.request("GET", self.route("download", path), paths=[path], ok=(404, 405))
        if resp.ok and not resp.is_redirect:
            text = resp.text.strip()
            if text.startswith("{"):
                data = self.json(resp, [path])
                text = str(data.get("url", "")) if isinstance(data, dict) else ""
            if text.startswith(("http://", "https://")):
                return text
        resp.close()
        self.metadata(path)  # a clear NotFoundError for a missing file
        resp = self.request("GET", self.route("files", path), paths=[path], stream=True)
        resp.close()
        if resp.is_redirect:
            return urljoin(resp.url, resp.headers["Location"])
        raise UnsupportedError("This server does not hand out download URLs", paths=[path])

    # --- storage ----------------------------------------------------------------------------------

    def storage_get(self, url: str, headers: dict[str, str]) -> requests.Response:
        """A streamed GET of a signed storage URL over the pooled session (requests' errors propagate)."""
        return self.session.get(url, headers=headers, stream=True, timeout=self.timeout)

    def storage_put(self, url: str, body: Any, headers: dict[str, str]) -> requests.Response:
        """A PUT of ``body`` to a signed storage URL over the pooled session (requests' errors propagate)."""
        return self.session.put(url, data=body, headers=headers, timeout=self.timeout)

    # --- retries ----------------------------------------------------------------------------------

    def transfer_policy(self, retries: int | None = None, *, timed: bool = True) -> urllib3.util.Retry:
        """The retry policy of one transfer: ``retries`` retries (default :attr:`retries`), within the
        configured transfer timeout unless ``timed`` is False. Use it with :meth:`next_attempt`."""
        budget = self.transfer_timeout if timed else None
        return transfer_retry(self.retries if retries is None else retries, budget)

    def next_attempt(
        self,
        policy: urllib3.util.Retry,
        method: str,
        url: str,
        failure: GSError,
        cancel: CancelToken | None,
    ) -> urllib3.util.Retry:
        """Count one failed attempt against ``policy`` and back off; re-raise ``failure`` when spent
        (tries used up, the transfer's time budget spent, or the store breaker open).

        The backoff waits on ``cancel``: a cancel during it raises :class:`CancelledError` at once.
        """
        path = failure.paths[0] if failure.paths else url
        try:
            policy = policy.increment(method=method, url=url, error=failure)
        except MaxRetryError:
            self.store_breaker.failed(path, failure)
            raise failure from None
        deadline = getattr(policy, "deadline", None)
        remaining = None if deadline is None else deadline - time.monotonic()
        gave_up = f"Gave up after {self.transfer_timeout:g} s ({TRANSFER_TIMEOUT})."
        if remaining is not None and remaining <= 0:
            failure.add_note(gave_up)
            self.store_breaker.failed(path, failure)
            raise failure
        self.store_breaker.check(path)
        log.info("retrying after: %s", failure)
        backoff = policy.get_backoff_time()
        if remaining is not None and backoff >= remaining:
            # the budget ends during this backoff: no time for another try, give up now
            failure.add_note(gave_up)
            self.store_breaker.failed(path, failure)
            raise failure
        if cancel is not None:
            if cancel.wait(backoff):
                cancel.raise_if_cancelled()
        else:
            policy.sleep()
        return policy


__all__ = [
    "ROUTES",
    "TransferConfig",
    "TransferRequest",
    "Transport",
]
