"""refget v1.0.1 service (v2 ids accepted) and the authenticated load endpoints, as one APIRouter.

Public, read-only (refget clients carry no credentials), CORS open:
``GET /sequence/service-info`` (also ``/service-info``), ``GET /sequence/{id}``,
``GET /sequence/{id}/metadata``. Ids: MD5, TRUNC512, ``SQ.…``, ``ga4gh:SQ.…``, ``md5:…``,
``trunc512:…`` and FASTA names (``insdc:NAME`` looks up ``NAME``); an ambiguous name answers 409.

Signed-in users only: ``POST /refget/load`` (the request body is a FASTA, ``.gz`` accepted) and
``POST /refget/index?path=/users/<me>/x.fa`` (a FASTA already in the user's Data Manager tree, read
from S3 inside the server). Both take repeated ``circular=NAME`` and answer the load report as JSON.
An index also records which file it read (``refget/source/…``), so ``GET /refget/indexed?path=…``
answers that file's ids later (404 when it was never indexed; only the owner's paths).

Every request is validated before the store is touched; sub-sequences are ranged S3 GETs, never a
whole-sequence read: slices up to 256 KiB go through an LRU of aligned 64 KiB blocks (32 MiB; a miss
is one ranged GET of the missing blocks; sequences are immutable, so no invalidation), larger ones
are one exact ranged GET (streamed above 1 MiB); a circular wrap is two.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gsdesktop.refget.digests import IdKind, ParsedId, parse_id
from gsdesktop.refget.fasta import FastaFormatError
from gsdesktop.refget.loader import LoadReport, LoadSession, load_chunks
from gsdesktop.refget.store import NameTakenError, RefgetStore, SequenceInfo
from gsdesktop.server.access import Level, checked_path
from gsdesktop.server.auth import APIError, error_body, require_user, store_of
from gsdesktop.server.paths import DMPath
from gsdesktop.server.wire import answer

log = logging.getLogger(__name__)

router = APIRouter(tags=["refget"])

SEQ_V1 = "text/vnd.ga4gh.refget.v1.0.0+plain"
SEQ_V2 = "text/vnd.ga4gh.refget.v2.0.0+plain"
JSON_V1 = "application/vnd.ga4gh.refget.v1.0.0+json"
JSON_V2 = "application/vnd.ga4gh.refget.v2.0.0+json"
_SEQ_ACCEPT = {SEQ_V1: SEQ_V1, SEQ_V2: SEQ_V2, "text/plain": "text/plain", "text/*": SEQ_V1, "*/*": SEQ_V1}
_JSON_ACCEPT = {
    JSON_V1: JSON_V1, JSON_V2: JSON_V2, "application/json": JSON_V1, "application/*": JSON_V1, "*/*": JSON_V1,
}  # fmt: skip
_UINT = re.compile(r"^[0-9]+$")
_RANGE = re.compile(r"^bytes=([0-9]{1,18})-([0-9]{1,18})$")
_UINT32_MAX = 2**32 - 1
_SMALL = 1 << 20  # slices up to this size are read in one go, larger ones are streamed
BLOCK = 64 << 10  # small slices are served from aligned blocks of this size, kept in an LRU
CACHED_SLICE_MAX = 256 << 10
CACHE_BLOCKS = 512  # 32 MiB
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges, Content-Type",
}

SERVICE_INFO: dict[str, Any] = {
    # GA4GH service-info (refget v2) ...
    "id": "org.genomespace.desktop.refget",
    "name": "GenomeSpace Desktop refget",
    "type": {"group": "org.ga4gh", "artifact": "refget", "version": "2.0.0"},
    "organization": {"name": "GenomeSpace Desktop", "url": "https://github.com/genomespace"},
    "version": "1.0.1",
    # ... the refget v2 object ...
    "refget": {
        "circular_supported": True,
        "algorithms": ["md5", "trunc512", "ga4gh"],
        "identifier_types": [],
        "subsequence_limit": None,
    },
    # ... and the refget v1 object, so v1 and v2 clients both find theirs.
    "service": {
        "circular_supported": True,
        "algorithms": ["md5", "trunc512", "ga4gh"],
        "subsequence_limit": None,
        "supported_api_versions": ["1.0", "2.0"],
    },
}


class RefgetHTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> Response:
    return JSONResponse(error_body(status, message), status_code=status, headers=CORS)


# -- content negotiation ---------------------------------------------------------------------------
def negotiate(accept: str | None, table: dict[str, str]) -> str | None:
    """The media type to answer with for an ``Accept`` header (``None`` = 406).

    Handles comma-separated lists, parameters (``; charset=us-ascii``) and q-values; a missing or
    empty header means the default (``*/*``).
    """
    if accept is None or not accept.strip():
        return table["*/*"]
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found = table.get(media.lower())
        if found is None or q <= 0:
            continue
        if best is None or q > best[0]:
            best = (q, i, found)
    return best[2] if best else None


def _content_type(media: str) -> str:
    return media + "; charset=us-ascii" if media.startswith("text/") else media


# -- per-app state (store + small caches) ------------------------------------------------------------
class _TTLCache:
    def __init__(self, ttl: float, size: int) -> None:
        self.ttl, self.size = ttl, size
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or (self.ttl and hit[0] < time.monotonic()):
                return None
            self._data.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class RefgetState:
    """The refget store of one app with caches (MD5 -> primary is immutable; the rest expires)."""

    def __init__(self, store: RefgetStore) -> None:
        self.store = store
        self.md5 = _TTLCache(0, 100_000)
        self.info = _TTLCache(30.0, 20_000)
        self.alias = _TTLCache(10.0, 20_000)
        self.blocks = _TTLCache(0, CACHE_BLOCKS)  # (primary, block) -> bytes; content-addressed

    def read(self, info: SequenceInfo, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``: small slices via the block cache (a miss is one ranged GET of the
        missing aligned blocks), larger ones with one exact ranged GET."""
        if end - start > CACHED_SLICE_MAX:
            return self.store.read(info.trunc512, start, end)
        b0, b1 = start // BLOCK, (end - 1) // BLOCK
        parts: list[bytes] = []
        b = b0
        while b <= b1:
            hit = self.blocks.get(f"{info.trunc512}:{b}")
            if hit is not None:
                parts.append(hit)
                b += 1
                continue
            run_end = b
            while run_end < b1 and self.blocks.get(f"{info.trunc512}:{run_end + 1}") is None:
                run_end += 1
            data = self.store.read(info.trunc512, b * BLOCK, min((run_end + 1) * BLOCK, info.length))
            for i in range(b, run_end + 1):
                block = data[(i - b) * BLOCK : (i - b + 1) * BLOCK]
                self.blocks.put(f"{info.trunc512}:{i}", block)
                parts.append(block)
            b = run_end + 1
        off = start - b0 * BLOCK
        return b"".join(parts)[off : off + end - start]

    def resolve(self, pid: ParsedId) -> list[str]:
        if pid.kind is IdKind.TRUNC512:
            return [pid.value]
        cache = self.md5 if pid.kind is IdKind.MD5 else self.alias
        hit = cache.get(pid.value)
        if hit is not None:
            return list(hit)
        found = self.store.resolve(pid)
        if not found and pid.kind is IdKind.ALIAS and pid.namespace:
            found = self.store.aliases(f"{pid.namespace}:{pid.value}")
        if found:
            cache.put(pid.value, tuple(found))
        return found

    def lookup(self, raw_id: str) -> SequenceInfo:
        """The sequence an id names; raises 404 (unknown) or 409 (ambiguous name)."""
        pid = parse_id(raw_id)
        primaries = self.resolve(pid)
        if len(primaries) > 1:
            raise RefgetHTTPError(409, f"{raw_id!r} names {len(primaries)} sequences; use a checksum id")
        if not primaries:
            raise RefgetHTTPError(404, f"no sequence with id {raw_id!r}")
        primary = primaries[0]
        info: SequenceInfo | None = self.info.get(primary)
        if info is None:
            info = self.store.info(primary)
            if info is None:
                raise RefgetHTTPError(404, f"no sequence with id {raw_id!r}")
            self.info.put(primary, info)
        return info

    def loaded(self, report: LoadReport) -> None:
        for seq in report.sequences:
            self.info.drop(seq.trunc512)
            self.alias.drop(seq.name)


_state_lock = threading.Lock()


def refget_state(request: Request) -> RefgetState:
    """The app's :class:`RefgetState`, created on first use from ``app.state.store``."""
    app_state = request.app.state
    state: RefgetState | None = getattr(app_state, "refget", None)
    if state is None:
        with _state_lock:
            state = getattr(app_state, "refget", None)
            if state is None:
                s3store = store_of(request)
                state = RefgetState(RefgetStore(s3store.s3, s3store.bucket))
                app_state.refget = state
    return state


# -- read endpoints -----------------------------------------------------------------------------------
@router.options("/sequence/{rest:path}", include_in_schema=False)
@router.options("/service-info", include_in_schema=False)
def preflight() -> Response:
    """CORS preflight for browsers sending ``Accept``/``Range`` headers."""
    return Response(
        status_code=204,
        headers={
            **CORS,
            "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
            "Access-Control-Allow-Headers": "Accept, Range, Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


@router.get("/sequence/service-info")
@router.get("/service-info")
def service_info(request: Request) -> Response:
    media = negotiate(request.headers.get("accept"), _JSON_ACCEPT)
    if media is None:
        return _error(406, "service-info is available as application/vnd.ga4gh.refget.v1.0.0+json")
    return JSONResponse(SERVICE_INFO, media_type=media, headers=CORS)


@router.get("/sequence/{seq_id}/metadata")
def sequence_metadata(seq_id: str, request: Request) -> Response:
    media = negotiate(request.headers.get("accept"), _JSON_ACCEPT)
    if media is None:
        return _error(406, "metadata is available as application/vnd.ga4gh.refget.v1.0.0+json")
    try:
        info = refget_state(request).lookup(seq_id)
    except RefgetHTTPError as exc:
        return _error(exc.status, exc.message)
    return JSONResponse(info.metadata, media_type=media, headers=CORS)


def _uint(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    # the length check first: int() of thousands of digits is refused by Python (and quadratic)
    if len(raw) > 10 or not _UINT.match(raw) or int(raw) > _UINT32_MAX:
        raise RefgetHTTPError(400, f"{name} must be an unsigned 32-bit integer, got {raw!r}")
    return int(raw)


@router.get("/sequence/{seq_id}")
def sequence(seq_id: str, request: Request) -> Response:
    media = negotiate(request.headers.get("accept"), _SEQ_ACCEPT)
    if media is None:
        return _error(406, "sequences are available as text/vnd.ga4gh.refget.v1.0.0+plain or text/plain")
    try:
        return _sequence(seq_id, request, media)
    except RefgetHTTPError as exc:
        return _error(exc.status, exc.message)


# HEAD as its own route: one OpenAPI operation (and operation id) per method
router.add_api_route("/sequence/{seq_id}", sequence, methods=["HEAD"], operation_id="sequence_head")


def _sequence(seq_id: str, request: Request, media: str) -> Response:
    q = request.query_params
    start, end = _uint("start", q.get("start")), _uint("end", q.get("end"))
    rng = request.headers.get("range")
    if rng is not None and (start is not None or end is not None):
        raise RefgetHTTPError(400, "use either start/end or a Range header, not both")
    first = last = None
    if rng is not None:
        m = _RANGE.match(rng.strip())
        if m is None:
            raise RefgetHTTPError(400, "only a single byte range 'bytes=<first>-<last>' is supported")
        first, last = int(m.group(1)), int(m.group(2))
    state = refget_state(request)
    info = state.lookup(seq_id)
    length = info.length
    headers = {**CORS, "Content-Type": _content_type(media)}
    head = request.method == "HEAD"
    if first is not None and last is not None:
        if first > last or first >= length:
            raise RefgetHTTPError(416, f"range {first}-{last} is outside the sequence (length {length})")
        last = min(last, length - 1)
        headers["Content-Range"] = f"bytes {first}-{last}/{length}"
        headers["Accept-Ranges"] = "bytes"
        return _body(state, info, [(first, last + 1)], headers, 206, head)
    if start is None and end is None:
        headers["Accept-Ranges"] = "bytes"
        return _body(state, info, [(0, length)], headers, 200, head)
    s = 0 if start is None else start
    e = length if end is None else end
    if s >= length:
        raise RefgetHTTPError(416, f"start {s} is outside the sequence (length {length})")
    if e > length:
        raise RefgetHTTPError(416, f"end {e} is outside the sequence (length {length})")
    headers["Accept-Ranges"] = "none"
    if s > e:
        if not info.circular:
            raise RefgetHTTPError(416, f"start {s} > end {e} and the sequence is not circular")
        return _body(state, info, [(s, length), (0, e)], headers, 200, head)
    return _body(state, info, [(s, e)], headers, 200, head)


def _body(
    state: RefgetState,
    info: SequenceInfo,
    spans: list[tuple[int, int]],
    headers: dict[str, str],
    status: int,
    head_only: bool = False,
) -> Response:
    spans = [(a, b) for a, b in spans if b > a]
    total = sum(b - a for a, b in spans)
    headers["Content-Length"] = str(total)
    media = headers.pop("Content-Type")
    if head_only:  # HEAD: headers (incl. the real Content-Length), no store read
        return Response(b"", status_code=status, headers=headers, media_type=media)
    if total <= _SMALL:
        data = b"".join(state.read(info, a, b) for a, b in spans)
        return Response(data, status_code=status, headers=headers, media_type=media)

    def gen() -> Iterator[bytes]:
        for a, b in spans:
            yield from state.store.stream(info.trunc512, a, b)

    return StreamingResponse(gen(), status_code=status, headers=headers, media_type=media)


# -- answers of the load endpoints (the OpenAPI document's types; the answers are written as before) --------
class LoadedSequenceView(BaseModel):
    name: str
    md5: str
    trunc512: str
    ga4gh: str
    length: int
    circular: bool
    objects_written: int


class LoadReportView(BaseModel):
    source: str
    bytes_in: int
    objects_written: int
    seconds: float
    sequences: list[LoadedSequenceView]


class IndexedView(LoadReportView):
    path: str = Field(description="the Data Manager file that was indexed (/users/<owner>/...)")
    etag: str
    md5: str | None
    indexed_at: str
    indexed_md5: str | None
    current_md5: str | None = Field(description="the file's MD5 now (null when it is gone)")
    exists: bool
    changed: bool = Field(description="the file's content differs from what was indexed")


class WhoAmI(BaseModel):
    user: str


# -- authenticated load endpoints ---------------------------------------------------------------------
def _signed_in_user(request: Request) -> str | Response:
    """The signed-in user (the server's ``require_user``: gs-token cookie/header or Basic), else a
    JSON error response (401 with a Basic challenge)."""
    try:
        return require_user(request)
    except APIError as exc:
        return _api_error(exc.status, exc.message, exc.headers)


def _api_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _report_response(state: RefgetState, report: LoadReport) -> Response:
    state.loaded(report)
    return JSONResponse(report.as_dict())


@router.post(
    "/refget/load",
    responses=answer(LoadReportView),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            "description": "a FASTA file (.gz accepted)",
        }
    },
)
async def load_fasta(request: Request) -> Response:
    """Load the FASTA in the request body (streamed; ``.gz`` accepted)."""
    user = await run_in_threadpool(_signed_in_user, request)
    if isinstance(user, Response):
        return user
    state = refget_state(request)
    source = request.query_params.get("name") or "upload.fa"
    circular = request.query_params.getlist("circular")
    session = LoadSession(state.store, source, circular, owner=user)
    try:
        buf = bytearray()
        async for chunk in request.stream():
            buf += chunk
            if len(buf) >= _SMALL:
                await run_in_threadpool(session.feed, bytes(buf))
                buf.clear()
        await run_in_threadpool(session.feed, bytes(buf))
        report = await run_in_threadpool(session.finish)
    except FastaFormatError as exc:
        return _api_error(400, str(exc))
    except NameTakenError as exc:
        return _api_error(409, str(exc))
    finally:
        await run_in_threadpool(session.close)
    log.info("refget: %s loaded %s", user, source)
    return _report_response(state, report)


@router.get("/refget/whoami", responses=answer(WhoAmI))
def whoami(request: Request) -> Response:
    """The signed-in user (lets a client renew its session before streaming a large body)."""
    user = _signed_in_user(request)
    if isinstance(user, Response):
        return user
    return JSONResponse({"user": user})


@router.post("/refget/index", responses=answer(LoadReportView))
def index_fasta(request: Request) -> Response:
    """Load a FASTA the signed-in user already has in the Data Manager (``?path=/users/<me>/x.fa``)."""
    resolved = _own_file_param(request, "path must name a FASTA file below /users/<you>")
    if isinstance(resolved, Response):
        return resolved
    user, raw, path = resolved
    state = refget_state(request)
    with store_of(request).reading(path.key, _SMALL) as found:
        if found is None:
            return _api_error(404, f"no such file: {raw}")
        info, chunks = found
        try:
            report = load_chunks(
                state.store, chunks, path.name, request.query_params.getlist("circular"), owner=user
            )
        except FastaFormatError as exc:
            return _api_error(400, str(exc))
        except NameTakenError as exc:
            return _api_error(409, str(exc))
    log.info("refget: %s indexed %s", user, raw)
    report.source = raw
    record = {
        "path": f"/users/{path.user}/{path.rel}",
        "etag": info.etag,
        "md5": info.md5,
        "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **report.as_dict(),
    }
    state.store.put_source(user, path.key, record)
    return _report_response(state, report)


def _own_file_param(request: Request, what: str) -> Response | tuple[str, str, DMPath]:
    """The signed-in user, the raw ``?path=`` and its resolved DM path, or the error response."""
    user = _signed_in_user(request)
    if isinstance(user, Response):
        return user
    raw = request.query_params.get("path", "")
    try:
        path = checked_path(request, raw, user, Level.READ)  # a file shared with the caller is fine
    except APIError as exc:
        return _api_error(exc.status, exc.message, exc.headers)
    if path is None or not path.rel:
        return _api_error(400, what)
    return user, raw, path


@router.get("/refget/indexed", responses=answer(IndexedView))
def indexed(request: Request) -> Response:
    """The refget ids of a Data Manager file indexed earlier (``?path=/users/<me>/x.fa``), else 404.

    The answer is the load report plus ``path``, ``indexed_at``, ``indexed_md5``, ``current_md5``,
    ``exists`` (the file is still there) and ``changed`` (its content differs from what was indexed).
    """
    resolved = _own_file_param(request, "path must name a file below /users/<you>")
    if isinstance(resolved, Response):
        return resolved
    user, raw, path = resolved
    state = refget_state(request)
    record = state.store.get_source(user, path.key)
    if record is None:
        return _api_error(404, f"not served via refget: {raw}")
    head = store_of(request).head(path.key)
    out = dict(record)
    out.update(
        {
            "source": raw,
            "indexed_md5": record.get("md5"),
            "current_md5": head.md5 if head else None,
            "exists": head is not None,
            "changed": head is None or head.etag != record.get("etag"),
        }
    )
    return JSONResponse(out)
