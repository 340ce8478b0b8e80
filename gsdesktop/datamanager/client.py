"""``DataManagerClient``: every Data Manager operation over one pooled, retrying HTTP session.

Remote paths are beta-2.0 style (``/users/<user>/a/b``); ``/Home/<user>/...`` is accepted too. A v1.0
server is detected on first use and spoken to in its own URL layout. All failures are
:class:`~gsdesktop.datamanager.errors.GSError` subclasses.
"""

from __future__ import annotations

import builtins
import importlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin

import requests
import urllib3
from urllib3.exceptions import MaxRetryError

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.batch import (
    LeanPut,
    Signed,
    UploadCondition,
    UploadSpec,
    UrlPrefetcher,
    sign_request,
    spec_for,
)
from gsdesktop.datamanager.breaker import DEFAULT_TRANSFER_TIMEOUT, TRANSFER_TIMEOUT, StoreBreaker
from gsdesktop.datamanager.envsettings import MULTIPART_THRESHOLD_MIB, env_int
from gsdesktop.datamanager.errors import (
    AuthenticationError,
    CredentialsUnavailableError,
    GSError,
    InvalidRequestError,
    LocalFileError,
    NotFoundError,
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
from gsdesktop.datamanager.models import GSDataFormat, GSDirectoryListing, GSFileMetadata, decode_json
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.transfer import (
    CancelToken,
    ProgressCallback,
    md5_file,
)

log = logging.getLogger(__name__)

_ROUTES: dict[Dialect, dict[str, str]] = {
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


class MultipartUpload(Protocol):
    """Signature of ``gsdesktop.datamanager.multipart.multipart_upload`` (optional module)."""

    def __call__(
        self,
        client: DataManagerClient,
        local: Path,
        remote: str,
        *,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        content_type: str | None,
        condition: UploadCondition | None = None,
    ) -> GSFileMetadata: ...


def _multipart_impl() -> MultipartUpload | None:
    try:
        module = importlib.import_module("gsdesktop.datamanager.multipart")
    except ImportError:
        return None
    impl = getattr(module, "multipart_upload", None)
    return impl if callable(impl) else None


def _not_a_data_manager(resp: requests.Response) -> bool:
    """A sign-in answer that no GenomeSpace identity service gives: no such endpoint, a web page, or
    the XML error of an S3 store (a common mistake: the storage endpoint given as the server)."""
    ctype = resp.headers.get("Content-Type", "")
    if resp.status_code in (404, 405, 501) or (resp.ok and "html" in ctype):
        return True  # no such endpoint, or a web site's page
    return "xml" in ctype and "<Error>" in resp.text[:2000]


class DataManagerClient:
    """A signed-in connection to one Data Manager account.

    Args:
        server_url: Base URL, e.g. ``http://127.0.0.1:8080``.
        username: Account name.
        password: Used to log in (and to log in again when the token expires).
        token: An existing ``gs-token`` (e.g. from ``~/.gs/.gstoken``); used until it expires.
        pool_size: Connections kept per host; size it for the parallel transfers you run.
        timeout: ``(connect, read)`` seconds for every request.
        retries: How many times transient failures are retried (with backoff and jitter).
        dialect: Force a URL layout instead of detecting it.
        on_token: Called with every new token (to persist it for single sign-on).
        transfer_timeout: Total seconds one file's transfer may take, retries included (default:
            ``GSDESKTOP_TRANSFER_TIMEOUT``, else 300).
    """

    #: Files at least this large go through ``multipart_upload`` when that module exists.
    multipart_threshold: int = 64 * 1024 * 1024
    #: Files at least this large are downloaded by ``multipart.parallel_download`` (journaled, resumable
    #: across runs) when that module exists; smaller ones by the built-in parallel ranged download.
    resumable_download_threshold: int = 256 * 1024 * 1024
    #: Entries per page of the recursive listing extension (None: the server's default).
    listing_page_size: int | None = None

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
        transfer_timeout: float | None = None,
    ) -> None:
        url = server_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidRequestError(f"Server URL must start with http:// or https://: {server_url!r}")
        if not username:
            raise InvalidRequestError("A user name is required")
        self.server_url = url
        self.username = username
        self._password = password
        self._token = token
        self.timeout = timeout
        self.retries = retries
        if transfer_timeout is None:
            transfer_timeout = env_int(TRANSFER_TIMEOUT, DEFAULT_TRANSFER_TIMEOUT, 1, 7 * 86400)
        self.transfer_timeout = float(transfer_timeout)
        #: shared by every transfer of this client: stops a run early when storage only answers 5xx
        self.store_breaker = StoreBreaker()
        self.pool_size = pool_size
        threshold_mib = env_int(MULTIPART_THRESHOLD_MIB, 0, 5, 5120)  # at most 5 GiB, the single-PUT limit
        if threshold_mib:
            self.multipart_threshold = threshold_mib * 1024 * 1024
        self._dialect = dialect
        self._on_token = on_token
        self._login_lock = threading.Lock()
        self._session = make_session(url, pool_size, retries)
        self._recursive_listing: bool | None = None
        self._prefetcher = UrlPrefetcher(self)
        self._lean = LeanPut(self._session, timeout)

    # --- session ------------------------------------------------------------------------------------

    @property
    def home(self) -> str:
        return f"/users/{self.username}"

    @property
    def token(self) -> str | None:
        return self._token

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            self._dialect = self._detect_dialect()
        return self._dialect

    def close(self) -> None:
        self._prefetcher.close()
        self._lean.close()
        self._session.close()

    def __enter__(self) -> DataManagerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            resp = self._session.get(url, auth=(self.username, self._password), timeout=self.timeout)
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
                resp = self._session.request(method, url, cookies={"gs-token": token or ""}, **kwargs)
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
        resp = self.request("GET", _ROUTES[Dialect.BETA2]["default"], ok=(404, 405), stream=True)
        resp.close()
        location = resp.headers.get("Location", "")
        if resp.status_code < 400:
            return Dialect.V1 if "/v1.0/" in location else Dialect.BETA2
        resp = self.request("GET", _ROUTES[Dialect.V1]["default"], ok=(404, 405), stream=True)
        resp.close()
        return Dialect.V1 if resp.status_code < 400 else Dialect.BETA2

    def _route(self, kind: str, path: str) -> str:
        dialect = self.dialect
        return _ROUTES[dialect][kind] + P.encode(P.to_dialect(path, dialect))

    @staticmethod
    def _json(resp: requests.Response, paths: Iterable[str] = ()) -> Any:
        try:
            return decode_json(resp.content)
        except ValueError as exc:
            raise ServerError("The server sent an answer that is not valid JSON", paths=list(paths)) from exc

    def _listing_answer(
        self, resp: requests.Response, paths: Iterable[str] = ()
    ) -> tuple[GSDirectoryListing, dict[str, Any]]:
        """A listing answer, decoded in pieces (see :func:`decode_json`), and its top-level object."""
        try:
            listing, doc = GSDirectoryListing.decode(resp.content)
        except ValueError as exc:
            raise ServerError("Unexpected folder listing from the server", paths=list(paths)) from exc
        contents = tuple(self._fix(m) for m in listing.contents)
        return GSDirectoryListing(self._fix(listing.directory), contents), doc

    @staticmethod
    def _fix(meta: GSFileMetadata) -> GSFileMetadata:
        """Report paths in the beta form whatever the server dialect."""
        from dataclasses import replace

        fixed = P.from_dialect(meta.path)
        return meta if fixed == meta.path else replace(meta, path=fixed)

    # --- metadata and listings ---------------------------------------------------------------------

    def default_directory(self) -> GSDirectoryListing:
        """The user's default directory listing (follows the server's redirect)."""
        resp = self.request("GET", _ROUTES[self.dialect]["default"])
        hops = 0
        while resp.is_redirect and hops < 5:
            location = urljoin(resp.url, resp.headers["Location"])
            resp.close()
            resp = self.request("GET", location)
            hops += 1
        return self._listing_answer(resp)[0]

    def list(self, path: str) -> GSDirectoryListing:
        """The folder's own metadata and its direct children."""
        path = P.canonical(path)
        resp = self.request("GET", self._route("files", path), paths=[path], action="Cannot list")
        if resp.is_redirect:
            resp.close()
            raise InvalidRequestError("Not a folder", paths=[path])
        return self._listing_answer(resp, [path])[0]

    def list_pages(self, path: str, page_size: int = 500) -> Iterator[GSDirectoryListing]:
        """The folder's listing in pages of at most ``page_size`` entries, fetched as iterated."""
        from gsdesktop.datamanager.paging import list_pages

        return list_pages(self, path, page_size)

    def list_recursive(self, path: str) -> builtins.list[GSFileMetadata]:
        """Every file and folder below ``path`` (not ``path`` itself), parents before children.

        Uses the server's paged ``?recursive=true`` listing when it offers one, otherwise lists each
        folder in parallel.
        """
        path = P.canonical(path)
        out: builtins.list[GSFileMetadata] = []
        if self._recursive_listing is not False:
            out = self._list_paged(path)
            nested = any(P.parent_of(m.path) != path for m in out)
            subdirs = [m for m in out if m.is_directory]
            if nested:
                self._recursive_listing = True
            if self._recursive_listing or not subdirs:
                return sorted(out, key=lambda m: m.path.split("/"))
            self._recursive_listing = False  # server ignored recursive=true
        return self._list_walk(path)

    def _list_paged(self, path: str) -> builtins.list[GSFileMetadata]:
        out: builtins.list[GSFileMetadata] = []
        base: dict[str, str] = {"recursive": "true"}
        if self.listing_page_size:
            base["pageSize"] = str(self.listing_page_size)
        params = dict(base)
        for _ in range(100000):
            resp = self.request("GET", self._route("files", path), params=params, paths=[path])
            if resp.is_redirect:
                resp.close()
                raise InvalidRequestError("Not a folder", paths=[path])
            listing, data = self._listing_answer(resp, [path])
            out.extend(listing.contents)
            token = data.get("nextPageToken")
            if not token:
                break
            params = {**base, "pageToken": str(token)}
        return [m for m in out if m.path != path]

    def _list_walk(self, path: str) -> builtins.list[GSFileMetadata]:
        out: builtins.list[GSFileMetadata] = []
        frontier = [path]
        with ThreadPoolExecutor(max_workers=min(8, self.pool_size)) as pool:
            while frontier:
                listings = list(pool.map(self.list, frontier))
                frontier = []
                for listing in listings:
                    out.extend(listing.contents)
                    frontier.extend(m.path for m in listing.contents if m.is_directory)
        return sorted(out, key=lambda m: m.path.split("/"))

    def metadata(self, path: str) -> GSFileMetadata:
        path = P.canonical(path)
        resp = self.request("GET", self._route("meta", path), paths=[path])
        data = self._json(resp, [path])
        if not isinstance(data, dict):
            raise ServerError("Unexpected metadata from the server", paths=[path])
        return self._fix(GSFileMetadata.from_json(data))

    def exists(self, path: str) -> bool:
        try:
            self.metadata(path)
        except NotFoundError:
            return False
        return True

    def data_formats(self) -> builtins.list[GSDataFormat]:
        """Every data format the server knows."""
        resp = self.request("GET", _ROUTES[self.dialect]["formats"], action="Cannot list data formats")
        data = self._json(resp)
        if isinstance(data, dict):
            data = data.get("dataFormats") or data.get("formats") or []
        return [GSDataFormat.from_json(d) for d in data if isinstance(d, dict)]

    def data_fingerprint(self) -> str | None:
        """The server's data fingerprint (changes only when its store is restored from a backup), or
        ``None`` when the server does not offer it (extension, see gsdesktop.server.fingerprint)."""
        resp = self.request("GET", "/datamanager/fingerprint", ok=(404, 405, 501))
        value = resp.headers.get("x-gs-data-fingerprint") if resp.status_code < 400 else None
        resp.close()
        return value or None

    # --- changes -------------------------------------------------------------------------------------

    def mkdir(self, path: str, parents: bool = False) -> GSFileMetadata:
        """Create a folder (its parent must exist unless ``parents``); existing folders are fine."""
        path = P.canonical(path)
        if parents:
            segments = path.split("/")[1:]
            meta: GSFileMetadata | None = None
            for i in range(3, len(segments) + 1):  # /users/<u> always exists
                meta = self._mkdir_one("/" + "/".join(segments[:i]))
            return meta or self.metadata(path)
        return self._mkdir_one(path)

    def _mkdir_one(self, path: str) -> GSFileMetadata:
        resp = self.request(
            "PUT",
            self._route("files", path),
            json={"isDirectory": True},
            paths=[path],
            action="Cannot create folder",
        )
        try:
            data = resp.json()
        except ValueError:
            return self.metadata(path)
        if isinstance(data, dict) and data.get("path"):
            return self._fix(GSFileMetadata.from_json(data))
        return self.metadata(path)

    def delete(self, path: str, recursive: bool = False, *, if_match: str | None = None) -> None:
        """Delete a file or an empty folder; with ``recursive``, a folder and everything in it.

        ``if_match`` (a file's hex MD5): delete it only while the server has that version, else
        :class:`PreconditionFailed` and nothing is deleted (servers without the extension ignore it).
        """
        path = P.canonical(path)
        if recursive:
            meta = self.metadata(path)
            if meta.is_directory:
                entries = self.list_recursive(path)
                files = [m.path for m in entries if not m.is_directory]
                with ThreadPoolExecutor(max_workers=min(8, self.pool_size)) as pool:
                    list(pool.map(self._delete_quiet, files))
                dirs = sorted((m.path for m in entries if m.is_directory), key=lambda p: -p.count("/"))
                for d in dirs:
                    self._delete_quiet(d)
        params = {"ifMatch": if_match} if if_match else None
        resp = self.request(
            "DELETE", self._route("files", path), params=params, paths=[path], action="Cannot delete"
        )
        resp.close()

    def _delete_quiet(self, path: str) -> None:
        """Delete; a 404 (already gone, e.g. a retried DELETE) is success."""
        resp = self.request(
            "DELETE", self._route("files", path), paths=[path], ok=(404,), action="Cannot delete"
        )
        resp.close()

    def copy(self, src: str, dst: str) -> GSFileMetadata:
        """Server-side copy of a file or folder to the new path ``dst``."""
        src, dst = P.canonical(src), P.canonical(dst)
        if dst == src or dst.startswith(src + "/"):
            raise InvalidRequestError("Cannot copy a folder into itself", paths=[src, dst])
        header = P.encode(P.to_dialect(src, self.dialect))
        resp = self.request(
            "PUT",
            self._route("files", dst),
            headers={"x-gs-copy-source": header},
            paths=[src, dst],
            action="Cannot copy",
        )
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("path"):
            return self._fix(GSFileMetadata.from_json(data))
        return self.metadata(dst)

    def move(self, src: str, dst: str) -> GSFileMetadata:
        """Move or rename: the server's move when it has one, else copy then delete."""
        src, dst = P.canonical(src), P.canonical(dst)
        if dst == src or dst.startswith(src + "/"):
            raise InvalidRequestError("Cannot move a folder into itself", paths=[src, dst])
        # The move verb (POST {"path": ...}) exists only in the v1.0 layout; try it on any server.
        resp = self.request(
            "POST",
            _ROUTES[Dialect.V1]["files"] + P.encode(P.to_dialect(src, Dialect.V1)),
            json={"path": P.to_dialect(dst, Dialect.V1)},
            paths=[src, dst],
            ok=(404, 405, 501),
            action="Cannot move",
        )
        status = resp.status_code
        resp.close()
        if status < 300:
            return self.metadata(dst)
        if status == 404:
            self.metadata(src)  # raises NotFoundError when the source really is missing
        meta = self.copy(src, dst)
        self.delete(src, recursive=meta.is_directory)
        return meta

    def download_url(self, path: str) -> str:
        """A time-limited signed URL that downloads the file without signing in."""
        path = P.canonical(path)
        resp = self.request("GET", self._route("download", path), paths=[path], ok=(404, 405))
        if resp.ok and not resp.is_redirect:
            text = resp.text.strip()
            if text.startswith("{"):
                data = self._json(resp, [path])
                text = str(data.get("url", "")) if isinstance(data, dict) else ""
            if text.startswith(("http://", "https://")):
                return text
        resp.close()
        self.metadata(path)  # a clear NotFoundError for a missing file
        resp = self.request("GET", self._route("files", path), paths=[path], stream=True)
        resp.close()
        if resp.is_redirect:
            return urljoin(resp.url, resp.headers["Location"])
        raise UnsupportedError("This server does not hand out download URLs", paths=[path])

    # --- upload --------------------------------------------------------------------------------------

    def upload(
        self,
        local: Path,
        remote: str,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        content_type: str | None = None,
        server_metadata: bool = True,
        md5: str | None = None,
        condition: UploadCondition | None = None,
    ) -> GSFileMetadata:
        """Upload one file to the remote path ``remote`` (its folder must exist); returns its metadata.

        Files of at least :attr:`multipart_threshold` bytes use ``multipart.multipart_upload`` when
        that module is installed and the server supports it; otherwise one signed PUT. With
        ``server_metadata=False`` a PUT whose signed URL binds Content-MD5 (storage verified the bytes)
        returns metadata built locally (path, size, md5, content type, storage's Date) and saves the
        metadata round trip; data formats and the server's URL details are then absent. ``md5``: the
        file's hex MD5 if already known (a single PUT then signs it instead of reading the file twice;
        storage rejects bytes that do not match it). ``condition``: replace only the server version with
        that MD5 (or create only a new name); otherwise :class:`PreconditionFailed` and nothing is
        replaced (servers without the extension upload unconditionally).
        """
        local = Path(local)
        remote = P.canonical(remote)
        try:
            st = os.stat(local)
        except OSError as exc:
            raise LocalFileError(
                f"Cannot read local file: {exc.strerror or exc}", paths=[str(local)]
            ) from exc
        if not stat.S_ISREG(st.st_mode):
            raise LocalFileError("Not a regular file", paths=[str(local)])
        impl = _multipart_impl()
        if impl is not None and st.st_size >= self.multipart_threshold:
            try:
                return impl(
                    self, local, remote, progress=progress, cancel=cancel, content_type=content_type,
                    condition=condition,
                )  # fmt: skip
            except UnsupportedError:
                log.info("multipart upload unsupported by the server; using a single PUT")
        from gsdesktop.datamanager.single import put_single

        return put_single(
            self,
            local,
            remote,
            progress=progress,
            cancel=cancel,
            content_type=content_type,
            fetch=server_metadata,
            md5=md5,
            condition=condition,
        )

    def prefetch_upload_urls(
        self,
        items: Sequence[tuple[str, int, str]],
        *,
        content_type: str | None = None,
        conditions: Mapping[str, UploadCondition] | None = None,
    ) -> None:
        """Start signing uploads ahead, many per request, when the server has ``uploadurls-batch``.

        ``items`` are ``(remote path, size, hex MD5)`` of uploads about to happen; an :meth:`upload` of
        exactly that content then uses its prefetched URL instead of asking for one. Harmless when the
        server lacks the extension or refuses an item (that upload asks for its own URL). ``conditions``:
        the precondition of each upload that has one, by remote path (the upload must pass the same).
        """
        specs = []
        conds: dict[str, UploadCondition] = {}
        for remote, size, md5_hex in items:
            try:
                canon = P.canonical(remote)
            except InvalidRequestError:
                continue  # a name no server accepts: its own upload reports it
            specs.append((canon, spec_for(canon.rsplit("/", 1)[-1], size, md5_hex, content_type)))
            cond = (conditions or {}).get(remote)
            if cond is not None:
                conds[canon] = cond
        self._prefetcher.prefetch(specs, conds)

    def upload_many(
        self,
        items: Sequence[tuple[Path, str]],
        *,
        workers: int | None = None,
        cancel: CancelToken | None = None,
        content_type: str | None = None,
        server_metadata: bool = False,
    ) -> builtins.list[GSFileMetadata | GSError]:
        """Upload many ``(local file, remote path)`` pairs in parallel; one result per item, in order.

        URLs are signed in batches when the server offers ``uploadurls-batch`` (else one by one); the
        PUTs stream to storage over the pooled session. A failed item is its :class:`GSError`; the
        others carry on. Remote folders must exist. ``server_metadata``: as in :meth:`upload` (here
        off by default: no metadata round trip per file).
        """
        pairs = [(Path(local), P.canonical(remote)) for local, remote in items]
        specs: builtins.list[tuple[str, int, str]] = []
        for local, remote in pairs:
            try:
                md5_hex, _b64, size = md5_file(local, cancel)
            except (GSError, OSError):
                continue  # upload() reports it
            specs.append((remote, size, md5_hex))
        self.prefetch_upload_urls(specs, content_type=content_type)

        def one(pair: tuple[Path, str]) -> GSFileMetadata | GSError:
            try:
                local, remote = pair
                return self.upload(
                    local, remote, cancel=cancel, content_type=content_type, server_metadata=server_metadata
                )
            except GSError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, min(workers or self.pool_size, len(pairs) or 1))) as pool:
            return builtins.list(pool.map(one, pairs))

    def upload_url(self, remote: str, size: int, md5_b64: str, content_type: str) -> str:
        """Ask the Data Manager for a signed PUT URL for ``remote``."""
        params = {"Content-Length": str(size), "Content-MD5": md5_b64, "Content-Type": content_type}
        resp = self.request(
            "GET", self._route("upload", remote), params=params, paths=[remote], action="Cannot upload"
        )
        text = resp.text.strip()
        if text.startswith("{"):
            data = self._json(resp, [remote])
            text = str(data.get("url", "")) if isinstance(data, dict) else ""
        if not text.startswith(("http://", "https://")):
            raise ServerError("The server did not return an upload URL", paths=[remote])
        return text

    def signed_upload(
        self, remote: str, size: int, md5_b64: str, content_type: str, condition: UploadCondition | None
    ) -> Signed:
        """A signed PUT URL for ``remote`` and the headers to send with it; with a ``condition`` it is
        asked for through ``uploadurls-batch`` (the server checks and binds the precondition there).

        Raises:
            PreconditionFailed: the server's version is not the one the condition names.
        """
        wanted = condition is not None and (condition.if_match or condition.if_none_match)
        if condition is not None and wanted and self._prefetcher.supported is not False:
            got = sign_request(self, [(remote, UploadSpec(size, md5_b64, content_type), condition)])
            if got is None:
                self._prefetcher.supported = False
                log.info("the server has no uploadurls-batch: uploads carry no precondition")
            elif isinstance(got[0], Exception):
                raise got[0]
            elif got[0] is not None:
                return got[0]
        return Signed(self.upload_url(remote, size, md5_b64, content_type), {})

    def transfer_policy(self) -> urllib3.util.Retry:
        """The retry policy of one file's transfer: :attr:`retries` tries within :attr:`transfer_timeout`."""
        return transfer_retry(self.retries, self.transfer_timeout)

    def _next_attempt(
        self, policy: urllib3.util.Retry, method: str, url: str, failure: GSError, cancel: CancelToken | None
    ) -> urllib3.util.Retry:
        """Count one failed attempt against ``policy`` and back off; re-raise ``failure`` when spent
        (tries used up, the transfer's time budget spent, or the store breaker open)."""
        path = failure.paths[0] if failure.paths else url
        try:
            policy = policy.increment(method=method, url=url, error=failure)
        except MaxRetryError:
            self.store_breaker.failed(path, failure)
            raise failure from None
        deadline = getattr(policy, "deadline", None)
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            failure.add_note(f"Gave up after {self.transfer_timeout:g} s ({TRANSFER_TIMEOUT}).")
            self.store_breaker.failed(path, failure)
            raise failure
        self.store_breaker.check(path)
        log.info("retrying after: %s", failure)
        backoff = policy.get_backoff_time()
        if remaining is not None and backoff >= remaining:
            # the budget ends during this backoff: no time for another try, give up now
            failure.add_note(f"Gave up after {self.transfer_timeout:g} s ({TRANSFER_TIMEOUT}).")
            self.store_breaker.failed(path, failure)
            raise failure
        if cancel is not None and cancel.wait(backoff):
            cancel.raise_if_cancelled()
        elif cancel is None:
            policy.sleep()
        return policy

    # --- download ------------------------------------------------------------------------------------

    def download(
        self,
        remote: str,
        local: Path,
        *,
        data_format: str | GSDataFormat | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Path:
        """Download ``remote`` to ``local`` (a file path, or an existing folder to download into).

        Streams to a temporary file beside the target, verifies size and MD5, fsyncs and atomically
        renames it over the target. A failure never leaves a partial file at ``local`` and never
        touches an existing file there. A broken connection resumes with ``Range``; large files are
        fetched in parallel ranged parts. ``data_format`` (name, URL or GSDataFormat) asks the server
        for a converted copy.
        """
        from gsdesktop.datamanager.download import download_file

        return download_file(self, remote, local, data_format=data_format, progress=progress, cancel=cancel)
