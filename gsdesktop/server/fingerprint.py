"""Extension: the data fingerprint of the store (sync invariant I17, server rollback safety).

The fingerprint is a random token stored at :data:`FINGERPRINT_KEY` (``.gsdm/fingerprint``), created
once with a conditional write (concurrent replicas agree on one value). An administrator who restores
the store from a backup runs ``gsdesktop server data-fingerprint --reset``: sync clients then see a new
value and run their next cycle in restore mode (newer local files are kept and re-uploaded instead of
being overwritten or deleted by the older server data). Nextcloud calls the same thing
``occ maintenance:data-fingerprint``.

``GET /datamanager/fingerprint`` (signed-in users) answers ``{"fingerprint": "<token>"}`` and repeats
the value in the ``x-gs-data-fingerprint`` response header.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from gsdesktop.server.auth import require_user, store_of
from gsdesktop.server.storage import S3Store
from gsdesktop.server.wire import Fingerprint, answer

FINGERPRINT_KEY = ".gsdm/fingerprint"
HEADER = "x-gs-data-fingerprint"

router = APIRouter(tags=["extensions"])


def _new_value() -> str:
    return secrets.token_hex(16)


def get_fingerprint(store: S3Store) -> str:
    """The store's data fingerprint, created (once, race-free) when missing."""
    raw = store.get_bytes(FINGERPRINT_KEY)
    if raw is None or not raw.strip():
        store.put_bytes(FINGERPRINT_KEY, _new_value().encode(), content_type="text/plain", if_none_match=True)
        raw = store.get_bytes(FINGERPRINT_KEY)  # whoever won the race, use the stored value
        if raw is None:
            raise RuntimeError("the data fingerprint could not be stored")
    return raw.decode("ascii", "replace").strip()


def reset_fingerprint(store: S3Store) -> str:
    """Replace the fingerprint with a new random value (after restoring the store from a backup)."""
    value = _new_value()
    store.put_bytes(FINGERPRINT_KEY, value.encode(), content_type="text/plain")
    return value


@router.get("/datamanager/fingerprint", responses=answer(Fingerprint))
async def data_fingerprint(request: Request, user: str = Depends(require_user)) -> Response:
    """The data fingerprint: it changes only when an administrator restored the store from a backup."""
    value = await run_in_threadpool(get_fingerprint, store_of(request))
    return JSONResponse({"fingerprint": value}, headers={HEADER: value, "Cache-Control": "no-store"})
