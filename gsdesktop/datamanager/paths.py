"""Data Manager path handling: normalisation, per-segment URL encoding, the two dialects.

User-facing paths are always in the beta-2.0 form ``/users/<user>/a/b``. A v1.0 server names the same
folder ``/Home/<user>/a/b``; :func:`to_dialect` and :func:`from_dialect` translate between the two.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote, unquote, urlsplit

from gsdesktop.datamanager.errors import InvalidRequestError


class Dialect(StrEnum):
    """The two URL layouts a Data Manager may speak."""

    BETA2 = "beta2"  # /datamanager/files/users/<u>/..., uploadurls, downloadurls
    V1 = "v1.0"  # /datamanager/v1.0/file/Home/<u>/..., uploadurl, downloadurl


def normalize(path: str) -> str:
    """Return a canonical absolute remote path (``/users/alice/a``).

    Collapses repeated slashes and a trailing slash, keeps every other character as given (leading and
    trailing spaces inside a name are significant). ``.`` and ``..`` segments are rejected rather than
    resolved, so a typo never silently addresses another folder.

    Raises:
        InvalidRequestError: the path is empty, relative, or contains ``.``/``..``/NUL/backslash.
    """
    if not path or not path.startswith("/"):
        raise InvalidRequestError(f"Remote paths must start with '/': {path!r}", paths=[path])
    segments = [s for s in path.split("/") if s != ""]
    for seg in segments:
        if seg in (".", ".."):
            raise InvalidRequestError("Remote paths may not contain '.' or '..' segments", paths=[path])
        if "\x00" in seg or "\\" in seg:
            raise InvalidRequestError("Remote names may not contain NUL or backslash", paths=[path])
    return "/" + "/".join(segments)


def join(parent: str, *names: str) -> str:
    """Join a remote folder path and names (each name must be a single segment)."""
    out = parent.rstrip("/")
    for name in names:
        if not name or "/" in name:
            raise InvalidRequestError(f"Invalid file name: {name!r}", paths=[name])
        out += "/" + name
    return out or "/"


def parent_of(path: str) -> str:
    """The folder containing ``path`` (``/`` for top-level entries)."""
    head = path.rstrip("/").rsplit("/", 1)[0]
    return head or "/"


def basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def encode(path: str) -> str:
    """URL-encode each segment on its own (``/`` stays a separator; ``#?%+ `` and unicode are escaped)."""
    return "/".join(quote(seg, safe="") for seg in path.split("/"))


def to_dialect(path: str, dialect: Dialect) -> str:
    """Translate a beta-form path to what ``dialect`` expects (``/users/x`` -> ``/Home/x`` on v1.0)."""
    if dialect is Dialect.V1 and (path == "/users" or path.startswith("/users/")):
        return "/Home" + path[len("/users") :]
    return path


def from_dialect(path: str) -> str:
    """Translate a server path to the beta form (``/Home/x`` -> ``/users/x``)."""
    if path == "/Home" or path.startswith("/Home/"):
        return "/users" + path[len("/Home") :]
    return path


def canonical(path: str) -> str:
    """:func:`normalize` and accept the v1.0 ``/Home/...`` spelling from the user too."""
    return from_dialect(normalize(path))


def path_from_url(url: str) -> str | None:
    """Extract the Data Manager path from a file URL of either dialect (``None`` if not one)."""
    raw = unquote(urlsplit(url).path)
    for marker in ("/datamanager/v1.0/file/", "/datamanager/file/", "/datamanager/files/"):
        idx = raw.find(marker)
        if idx >= 0:
            return from_dialect("/" + raw[idx + len(marker) :].rstrip("/"))
    return None
