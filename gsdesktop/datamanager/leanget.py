"""Small files in bulk: GET URLs signed many per request, fetched over kept-alive plain sockets.

A sync engine's recursive listing already gave every file's size and MD5, so a first download of many
small files needs no metadata request and no redirect per file: :func:`sign_downloads` asks the Data
Manager's ``downloadurls-batch`` extension for up to 1,000 signed storage URLs at once, and
:class:`~gsdesktop.datamanager.rawput.LeanGet` fetches each with the smallest HTTP/1.1 exchange on
connections kept open between files. Anything unusual (TLS, a proxy, a redirect, a non-200 answer, a
body of the wrong length) returns ``None``: the caller takes the full download path, which retries,
renews URLs and reports errors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.errors import GSError
from gsdesktop.datamanager.paths import Dialect
from gsdesktop.datamanager.rawput import LeanGet
from gsdesktop.datamanager.transport import Transport

log = logging.getLogger(__name__)

BATCH_ROUTES = {
    Dialect.BETA2: "/datamanager/downloadurls-batch",
    Dialect.V1: "/datamanager/v1.0/downloadurls-batch",
}
BATCH_MAX = 1000
EXTENSION = "downloadurls-batch"


def sign_downloads(transport: Transport, remotes: Sequence[str]) -> dict[str, str]:
    """Signed storage GET URLs for ``remotes`` (canonical paths); files the server refused, or all of
    them when it lacks ``downloadurls-batch`` (asked once per transport), are simply absent (their
    download asks on its own)."""
    if EXTENSION in transport.unsupported or not remotes:
        return {}
    urls: dict[str, str] = {}
    route = BATCH_ROUTES.get(transport.dialect, BATCH_ROUTES[Dialect.V1])
    for start in range(0, len(remotes), BATCH_MAX):
        chunk = list(remotes[start : start + BATCH_MAX])
        try:
            resp = transport.request("POST", route, json={"paths": chunk}, ok=(404, 405, 501))
        except GSError as exc:
            log.info("downloadurls-batch failed (%s); downloading one by one", exc)
            return urls
        try:
            if resp.status_code in (404, 405, 501):
                transport.unsupported.add(EXTENSION)
                return urls
            results = resp.json().get("results", [])
        except (ValueError, AttributeError):
            return urls
        finally:
            resp.close()
        for remote, item in zip(chunk, results, strict=False):
            url = item.get("url") if isinstance(item, dict) else None
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                urls[P.canonical(remote)] = url
    return urls


__all__ = ["BATCH_MAX", "BATCH_ROUTES", "LeanGet", "sign_downloads"]
