"""Interrupted transfers: what the journal holds for an account, and continuing or giving them up.

A large upload or download that stopped (crash, ``kill -9``, reboot, Ctrl-C, a dead network) stays in
the transfer journal (:mod:`.journal`) until it finishes. Starting the same transfer again continues
it; these functions do it without the original command line (``gsdesktop transfers``), or give one up:
the server's multipart upload is aborted (its parts are deleted) and a partial download file is removed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from gsdesktop.datamanager.errors import LocalFileError
from gsdesktop.datamanager.journal import Interrupted, TransferJournal, shared_journal
from gsdesktop.datamanager.models import GSFileMetadata
from gsdesktop.datamanager.multipart import MultipartUploader, multipart_upload
from gsdesktop.datamanager.ranged import parallel_download
from gsdesktop.datamanager.transfer import CancelToken, ProgressCallback
from gsdesktop.datamanager.transport import TransferRequest

if TYPE_CHECKING:
    from gsdesktop.datamanager.client import DataManagerClient


def interrupted_transfers(
    client: DataManagerClient, journal: TransferJournal | None = None
) -> list[Interrupted]:
    """The signed-in account's unfinished transfers, oldest first."""
    return (journal or shared_journal()).interrupted(client.server_url, client.username)


def resume(
    client: DataManagerClient,
    item: Interrupted,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> GSFileMetadata | Path:
    """Continue ``item`` where it stopped (an upload whose local file changed starts again)."""
    req = TransferRequest(Path(item.local), item.remote, progress, cancel)
    if item.kind == "upload":
        return multipart_upload(client.transport, req)
    return parallel_download(client.transport, req, block=item.block)


def discard(client: DataManagerClient, item: Interrupted, journal: TransferJournal | None = None) -> None:
    """Give ``item`` up: abort the server's upload, or delete the partial download file."""
    journal = journal or shared_journal()
    if item.kind == "upload":
        if item.upload_id:
            MultipartUploader(client.transport, journal=journal).abort(item.upload_id, item.remote)
        journal.drop_upload(item.key)
        return
    if item.temp:
        try:
            os.unlink(item.temp)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LocalFileError(
                f"Cannot delete the partial file: {exc.strerror}", paths=[item.temp]
            ) from exc
    journal.drop_download(item.key)


__all__ = ["Interrupted", "discard", "interrupted_transfers", "resume"]
