"""A folder listing in pages: the ``?pageSize=N&pageToken=T`` extension of our Data Manager."""

from __future__ import annotations

from collections.abc import Iterator

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.errors import InvalidRequestError
from gsdesktop.datamanager.models import GSDirectoryListing
from gsdesktop.datamanager.transport import Transport


def list_pages(transport: Transport, path: str, page_size: int = 500) -> Iterator[GSDirectoryListing]:
    """The folder's listing in pages of at most ``page_size`` entries, fetched as iterated.

    A server without the extension answers the whole listing, without ``nextPageToken``, which is
    then the only page (one request, as :meth:`DataManagerClient.list` makes). Small pages keep each
    JSON parse short, so a GUI thread waiting for the GIL is never kept out long.
    """
    path = P.canonical(path)
    params = {"pageSize": str(page_size)}
    for _ in range(1_000_000):
        resp = transport.request(
            "GET", transport.route("files", path), params=params, paths=[path], action="Cannot list"
        )
        if resp.is_redirect:
            resp.close()
            raise InvalidRequestError("Not a folder", paths=[path])
        listing, data = transport.listing_answer(resp, [path])
        yield listing
        token = data.get("nextPageToken")
        if not token:
            return
        params = {"pageSize": str(page_size), "pageToken": str(token)}
