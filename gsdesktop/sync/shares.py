"""Sync pairs on folders shared with the user (issue 19): ``/users/alice/proj`` synced by bob.

A pair whose remote folder lies in another user's tree asks the server, once per cycle, what the user may
do there (one small GET of the sharing extension, :mod:`gsdesktop.datamanager.sharing`):

* **Write** (or the user's own folder: no request): a normal pair; two users converge like two machines.
* **Read**: nothing is ever uploaded, deleted or created on the server. The cycle plans as download-only;
  local edits and new files stay here and are listed as ``READ_ONLY`` problems ("read-only share"), told
  once and never retried, until Write is granted (they then go up like any change). A synced file deleted
  here is downloaded again: the share's copy cannot be deleted from here.
* **No access** (revoked, or the owner deleted the share): :class:`NoAccess` stops the cycle before it
  changes anything, and a step that the server refuses (403) mid-cycle stops it the same way; every local
  file is kept, and the pair goes on by itself once the folder is shared again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from gsdesktop.datamanager.errors import NotFoundError, PermissionDeniedError, UnsupportedError
from gsdesktop.sync.planner import Entry

if TYPE_CHECKING:
    from gsdesktop.sync.remote import RemoteStore

Level = Literal["owner", "write", "read"]

READ_ONLY_NOTICE = (
    "Not uploaded: read-only share (this folder is shared with you to read only); your version stays "
    "here and goes up if you are given Write access"
)
READ_ONLY_UPLOAD_PAIR = (
    "Nothing can be synced: this folder is shared with you read-only (read-only share) and the pair is "
    "upload-only; sync it download-only or two-way, or ask its owner for Write access"
)


class NoAccess(Exception):
    """The server refuses the pair's folder: the share was revoked or the folder deleted. Stop the cycle."""


def no_access_message(root: str) -> str:
    return (
        f"You no longer have access to {root}: its owner stopped sharing it or deleted it. Sync of this "
        "folder stopped and nothing was deleted here; it continues by itself if the folder is shared with "
        "you again."
    )


def access_level(client: RemoteStore, remote_root: str) -> Level | None:
    """What the user may do in ``remote_root``: ``owner`` (their own tree, no request), ``write`` or
    ``read``; None when unknown (a server without sharing, a folder that does not exist yet).

    Raises:
        NoAccess: the server refuses the folder (the share was revoked, or the folder deleted).
    """
    home = getattr(client, "home", None)
    if not isinstance(home, str) or remote_root == home or remote_root.startswith(home + "/"):
        return "owner"
    if not remote_root.startswith("/users/") or remote_root.count("/") < 2:
        return None
    from gsdesktop.datamanager.client import DataManagerClient
    from gsdesktop.datamanager.sharing import Sharing

    if not isinstance(client, DataManagerClient):
        return None  # a store without the sharing extension
    try:
        level = Sharing(client).acl(remote_root).your_level
    except PermissionDeniedError as exc:
        raise NoAccess(no_access_message(remote_root)) from exc
    except (NotFoundError, UnsupportedError):
        return None
    if level == "none":
        raise NoAccess(no_access_message(remote_root))
    return level


def read_only_base(
    base: Mapping[str, Entry], local: Mapping[str, Entry], remote: Mapping[str, Entry]
) -> dict[str, Entry]:
    """The base a read-only cycle plans with: items deleted here that the server still has as synced are
    forgotten, so they come down again (the deletion cannot be made on the server)."""
    return {p: e for p, e in base.items() if p in local or not e.same(remote.get(p))}


def waiting_uploads(local: Mapping[str, Entry], remote: Mapping[str, Entry], skip: set[str]) -> set[str]:
    """Local files a read-only share keeps here: new or different from the server's version."""
    return {p for p, e in local.items() if not e.is_dir and p not in skip and not e.same(remote.get(p))}
