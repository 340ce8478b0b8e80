"""``DataManagerClient``: every Data Manager operation over one pooled, retrying HTTP session.

Remote paths are beta-2.0 style (``/users/<user>/a/b``); ``/Home/<user>/...`` is accepted too. A v1.0
server is detected on first use and spoken to in its own URL layout. All failures are
:class:`~gsdesktop.datamanager.errors.GSError` subclasses.
"""

from __future__ import annotations

import builtins
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
import urllib3

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.batch import Signed, UploadCondition, UploadSpec, UrlPrefetcher, spec_for
from gsdesktop.datamanager.breaker import StoreBreaker
from gsdesktop.datamanager.download import download_file
from gsdesktop.datamanager.errors import (
    GSError,
    InvalidRequestError,
    LocalFileError,
    NotFoundError,
    UnsupportedError,
)
from gsdesktop.datamanager.http import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from gsdesktop.datamanager.leanget import sign_downloads
from gsdesktop.datamanager.models import GSDataFormat, GSDirectoryListing, GSFileMetadata
from gsdesktop.datamanager.multipart import multipart_upload
from gsdesktop.datamanager.paging import list_pages
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.single import put_single
from gsdesktop.datamanager.transfer import CancelToken, ProgressCallback, md5_file
from gsdesktop.datamanager.transport import ROUTES, TransferConfig, TransferRequest, Transport

log = logging.getLogger(__name__)


class DataManagerClient:
    """A signed-in connection to one Data Manager account: a facade over its
    :class:`~gsdesktop.datamanager.transport.Transport` (:attr:`transport`) and the transfer modules.

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
        transfer_timeout: Total seconds one file's transfer may take, retries included (default: the
            config's, 300 unless the config says otherwise).
        config: Transfer settings (default: :class:`TransferConfig` defaults; the CLI and the app pass
            :meth:`TransferConfig.from_env`).
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
        transfer_timeout: float | None = None,
        config: TransferConfig | None = None,
    ) -> None:
        config = config if config is not None else TransferConfig()
        if transfer_timeout is not None:
            config = replace(config, transfer_timeout=float(transfer_timeout))
        #: the connection every operation and transfer goes through
        self.transport = Transport(
            server_url, username, password, token=token, pool_size=pool_size, timeout=timeout,
            retries=retries, dialect=dialect, on_token=on_token, config=config,
        )  # fmt: skip
        #: signs uploads, ahead of them in batches where the server can
        self.prefetcher = UrlPrefetcher(self.transport)
        self._recursive_listing: bool | None = None

    # --- settings and session -------------------------------------------------------------------------

    @property
    def server_url(self) -> str:
        return self.transport.server_url

    @property
    def username(self) -> str:
        return self.transport.username

    @property
    def timeout(self) -> tuple[float, float]:
        return self.transport.timeout

    @property
    def retries(self) -> int:
        return self.transport.retries

    @property
    def pool_size(self) -> int:
        return self.transport.pool_size

    @property
    def store_breaker(self) -> StoreBreaker:
        """Shared by every transfer of this client: stops a run early when storage only answers 5xx."""
        return self.transport.store_breaker

    @property
    def config(self) -> TransferConfig:
        return self.transport.config

    @config.setter
    def config(self, value: TransferConfig) -> None:
        self.transport.config = value

    @property
    def transfer_timeout(self) -> float:
        return self.transport.config.transfer_timeout

    @property
    def multipart_threshold(self) -> int:
        """Files at least this large are uploaded in parts (when the server offers it)."""
        return self.config.multipart_threshold

    @multipart_threshold.setter
    def multipart_threshold(self, value: int) -> None:
        self.config = replace(self.config, multipart_threshold=value)

    @property
    def resumable_download_threshold(self) -> int:
        """Files at least this large are downloaded by the journaled, resumable parallel downloader."""
        return self.config.resumable_download_threshold

    @resumable_download_threshold.setter
    def resumable_download_threshold(self, value: int) -> None:
        self.config = replace(self.config, resumable_download_threshold=value)

    @property
    def listing_page_size(self) -> int | None:
        """Entries per page of the recursive listing extension (None: the server's default)."""
        return self.config.listing_page_size

    @listing_page_size.setter
    def listing_page_size(self, value: int | None) -> None:
        self.config = replace(self.config, listing_page_size=value)

    @property
    def home(self) -> str:
        return self.transport.home

    @property
    def token(self) -> str | None:
        return self.transport.token

    @property
    def dialect(self) -> Dialect:
        return self.transport.dialect

    def close(self) -> None:
        self.prefetcher.close()
        self.transport.close()

    def __enter__(self) -> DataManagerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def login(self) -> str:
        """Sign in with the password; returns (and keeps) the ``gs-token`` (see :meth:`Transport.login`)."""
        return self.transport.login()

    def sign_in(self, password: str) -> str:
        """Sign in again with a new ``password`` (see :meth:`Transport.sign_in`)."""
        return self.transport.sign_in(password)

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
        """Authenticated request to ``server_url + route`` (see :meth:`Transport.request`)."""
        return self.transport.request(method, route, paths=paths, action=action, ok=ok, **kwargs)

    # --- metadata and listings ---------------------------------------------------------------------

    def default_directory(self) -> GSDirectoryListing:
        """The user's default directory listing (follows the server's redirect)."""
        resp = self.request("GET", self.transport.endpoint("default"))
        hops = 0
        while resp.is_redirect and hops < 5:
            location = urljoin(resp.url, resp.headers["Location"])
            resp.close()
            resp = self.request("GET", location)
            hops += 1
        return self.transport.listing_answer(resp)[0]

    def list(self, path: str) -> GSDirectoryListing:
        """The folder's own metadata and its direct children."""
        path = P.canonical(path)
        resp = self.request("GET", self.transport.route("files", path), paths=[path], action="Cannot list")
        if resp.is_redirect:
            resp.close()
            raise InvalidRequestError("Not a folder", paths=[path])
        return self.transport.listing_answer(resp, [path])[0]

    def list_pages(self, path: str, page_size: int = 500) -> Iterator[GSDirectoryListing]:
        """The folder's listing in pages of at most ``page_size`` entries, fetched as iterated."""
        return list_pages(self.transport, path, page_size)

    def list_recursive(self, path: str, *, brief: bool = False) -> builtins.list[GSFileMetadata]:
        """Every file and folder below ``path`` (not ``path`` itself), parents before children.

        Uses the server's paged ``?recursive=true`` listing when it offers one, otherwise lists each
        folder in parallel. ``brief`` asks the server for entries with only what sync compares (path,
        type, size, MD5, time; an eighth of the bytes): the other fields are then empty, except from a
        server without that extension, which answers in full.
        """
        path = P.canonical(path)
        out: builtins.list[GSFileMetadata] = []
        if self._recursive_listing is not False:
            out = self._list_paged(path, brief)
            nested = any(P.parent_of(m.path) != path for m in out)
            subdirs = [m for m in out if m.is_directory]
            if nested:
                self._recursive_listing = True
            if self._recursive_listing or not subdirs:
                return sorted(out, key=lambda m: m.path.split("/"))
            self._recursive_listing = False  # server ignored recursive=true
        return self._list_walk(path)

    def _list_paged(self, path: str, brief: bool) -> builtins.list[GSFileMetadata]:
        out: builtins.list[GSFileMetadata] = []
        base: dict[str, str] = {"recursive": "true", **({"fields": "brief"} if brief else {})}
        if self.listing_page_size:
            base["pageSize"] = str(self.listing_page_size)
        params = dict(base)
        for _ in range(100000):
            resp = self.request("GET", self.transport.route("files", path), params=params, paths=[path])
            if resp.is_redirect:
                resp.close()
                raise InvalidRequestError("Not a folder", paths=[path])
            listing, data = self.transport.listing_answer(resp, [path])
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
        return self.transport.metadata(path)

    def exists(self, path: str) -> bool:
        try:
            self.metadata(path)
        except NotFoundError:
            return False
        return True

    def data_formats(self) -> builtins.list[GSDataFormat]:
        """Every data format the server knows."""
        resp = self.request("GET", self.transport.endpoint("formats"), action="Cannot list data formats")
        data = self.transport.json(resp)
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
            self.transport.route("files", path),
            json={"isDirectory": True},
            paths=[path],
            action="Cannot create folder",
        )
        try:
            data = resp.json()
        except ValueError:
            return self.metadata(path)
        if isinstance(data, dict) and data.get("path"):
            return self.transport.fix(GSFileMetadata.from_json(data))
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
            "DELETE", self.transport.route("files", path), params=params, paths=[path], action="Cannot delete"
        )
        resp.close()

    def _delete_quiet(self, path: str) -> None:
        """Delete; a 404 (already gone, e.g. a retried DELETE) is success."""
        resp = self.request(
            "DELETE", self.transport.route("files", path), paths=[path], ok=(404,), action="Cannot delete"
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
            self.transport.route("files", dst),
            headers={"x-gs-copy-source": header},
            paths=[src, dst],
            action="Cannot copy",
        )
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("path"):
            return self.transport.fix(GSFileMetadata.from_json(data))
        return self.metadata(dst)

    def move(self, src: str, dst: str) -> GSFileMetadata:
        """Move or rename: the server's move when it has one, else copy then delete."""
        src, dst = P.canonical(src), P.canonical(dst)
        if dst == src or dst.startswith(src + "/"):
            raise InvalidRequestError("Cannot move a folder into itself", paths=[src, dst])
        # The move verb (POST {"path": ...}) exists only in the v1.0 layout; try it on any server.
        resp = self.request(
            "POST",
            ROUTES[Dialect.V1]["files"] + P.encode(P.to_dialect(src, Dialect.V1)),
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
        return self.transport.download_url(path)

    def sign_downloads(self, remotes: Sequence[str]) -> dict[str, str]:
        """Signed storage GET URLs for many files at once (``downloadurls-batch``); files the server
        refused, or all when it lacks the extension, are absent (see :mod:`.leanget`)."""
        return sign_downloads(self.transport, remotes)

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
        the server supports it; otherwise one signed PUT. With
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
        req = TransferRequest(local, remote, progress, cancel, content_type)
        if st.st_size >= self.multipart_threshold:
            try:
                return multipart_upload(self.transport, req, condition=condition)
            except UnsupportedError:
                log.info("multipart upload unsupported by the server; using a single PUT")
        return put_single(
            self.transport, self.prefetcher, req, fetch=server_metadata, md5=md5, condition=condition
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
        self.prefetcher.prefetch(specs, conds)

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
        return self.prefetcher.upload_url(remote, size, md5_b64, content_type)

    def signed_upload(
        self, remote: str, size: int, md5_b64: str, content_type: str, condition: UploadCondition | None
    ) -> Signed:
        """A signed PUT URL for ``remote`` and the headers to send with it; with a ``condition`` it is
        asked for through ``uploadurls-batch`` (the server checks and binds the precondition there).

        Raises:
            PreconditionFailed: the server's version is not the one the condition names.
        """
        return self.prefetcher.sign(remote, UploadSpec(size, md5_b64, content_type), condition)

    def transfer_policy(self) -> urllib3.util.Retry:
        """The retry policy of one file's transfer: :attr:`retries` tries within :attr:`transfer_timeout`."""
        return self.transport.transfer_policy()

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
        req = TransferRequest(Path(local), remote, progress, cancel)
        return download_file(self.transport, req, data_format=data_format)
