"""Operations endpoints and counters: ``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus text format).

* ``/healthz``: the process answers (no store call), for a liveness probe.
* ``/readyz``: the bucket answers a HEAD within a few seconds; else 503 with the reason, so a load
  balancer stops sending requests to a replica whose store is unreachable.
* ``/metrics``: requests by route template and status, latency histograms by route, bytes signed for
  upload and download, sign-in failures, store errors. Counters are per process (per replica); Prometheus
  adds the replicas up.

None of them needs a sign-in (they reveal no user data); put them behind the proxy's access rules if the
numbers themselves are sensitive.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import Message, Receive, Scope, Send

from gsdesktop.server.asgi import HTTPMiddleware, on_response_start

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "gsdm_requests", "HTTP requests answered, by route template and status", ["method", "route", "status"],
    registry=REGISTRY,
)  # fmt: skip
LATENCY = Histogram(
    "gsdm_request_duration_seconds", "Time to answer a request (until the response starts)", ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY,
)  # fmt: skip
SIGNED_BYTES = Counter(
    "gsdm_signed_bytes", "Bytes covered by signed S3 URLs handed out, by direction", ["direction"],
    registry=REGISTRY,
)  # fmt: skip
SIGNED_URLS = Counter(
    "gsdm_signed_urls", "Signed S3 URLs handed out, by direction", ["direction"], registry=REGISTRY
)
SIGNIN_FAILURES = Counter(
    "gsdm_signin_failures", "Sign-ins refused (401 with credentials) or throttled (429)",
    ["reason"], registry=REGISTRY,
)  # fmt: skip
STORE_ERRORS = Counter(
    "gsdm_store_errors", "Requests failed by the S3 store (503), by error code", ["code"],
    registry=REGISTRY,
)  # fmt: skip

READY_TIMEOUT = 3.0  # seconds a HEAD of the bucket may take before the replica counts as not ready


def signed(direction: str, nbytes: int | None) -> None:
    """Count one signed URL (``direction`` ``upload`` or ``download``) covering ``nbytes`` (when known)."""
    SIGNED_URLS.labels(direction).inc()
    if nbytes:
        SIGNED_BYTES.labels(direction).inc(nbytes)


def store_error(code: str) -> None:
    STORE_ERRORS.labels(code or "unknown").inc()


class MetricsMiddleware(HTTPMiddleware):
    """Counts every HTTP request by its route template (``/datamanager/v1.0/file/{path:path}``), never by
    the raw path, so user file names never become label values."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = [500]
        elapsed: list[float] = []

        def record(message: Message) -> None:
            status[0] = int(message["status"])
            elapsed.append(time.perf_counter() - start)

        try:
            await self.app(scope, receive, on_response_start(send, record))
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            code = status[0]
            REQUESTS.labels(scope.get("method", ""), template, str(code)).inc()
            LATENCY.labels(template).observe(elapsed[0] if elapsed else time.perf_counter() - start)
            if code == 429:
                SIGNIN_FAILURES.labels("throttled").inc()
            elif code == 401 and _had_credentials(scope):
                SIGNIN_FAILURES.labels("rejected").inc()


def _had_credentials(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:6].lower() == b"basic ":
            return True
        if name == b"gs-token" or (name == b"cookie" and b"gs-token=" in value):
            return True
    return False


router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness: the S3 bucket answers (503 with the reason when it does not)")
async def readyz(request: Request) -> Response:
    reason = await run_in_threadpool(request.app.state.store.unavailable, READY_TIMEOUT)
    if reason is not None:
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Counters and histograms in the Prometheus text format")
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Add the counting middleware and the three endpoints to ``app``; count what its store signs."""
    app.state.store.on_signed = signed
    app.add_middleware(MetricsMiddleware)
    app.include_router(router)
