"""Data Manager paths: validation and mapping to S3 keys.

Both dialects name the same tree: beta ``/users/<user>/a/b`` and v1.0 ``/Home/<user>/a/b`` are the key
``users/<user>/a/b``; a directory is additionally marked by the zero-byte object ``users/<user>/a/b/``.
Anything that could escape the user's tree or confuse the store is rejected with :class:`PathError`
(the API answers 400 with its message).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

USER_PREFIX = "users/"
ROOTS = {"users": "beta", "home": "v1"}
MAX_NAME_BYTES = 255
MAX_KEY_BYTES = 1024
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DOT_FORMS = {"..", ".", "%2e%2e", "%2e.", ".%2e", "%2e"}
#: Folder names the store keeps for itself: SeaweedFS leaves a directory named ``.uploads`` (its multipart
#: staging) or ending in ``.versions`` (object versions) out of every listing, and never lists the files
#: directly inside one. Such names cannot work as folders, so they are refused as folder names (files may
#: use them: the store hides only directories).
RESERVED_FOLDER_NAMES = frozenset({".uploads"})
RESERVED_FOLDER_SUFFIX = ".versions"


class PathError(ValueError):
    """A path or name the server refuses (answered with 400 and this message)."""


def validate_username(name: str) -> str:
    """Return ``name`` if it is a valid account name, else raise :class:`PathError`."""
    if not USERNAME_RE.match(name or ""):
        raise PathError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if is_reserved_folder_name(name):
        raise PathError(
            f"invalid user name {name!r}: the home folder would be hidden by the store "
            f"(names ending in {RESERVED_FOLDER_SUFFIX!r} are reserved)"
        )
    return name


def is_reserved_folder_name(name: str) -> bool:
    """True for a name the store hides when it is a folder (see :data:`RESERVED_FOLDER_NAMES`)."""
    return name in RESERVED_FOLDER_NAMES or name.endswith(RESERVED_FOLDER_SUFFIX)


def validate_folder_name(name: str) -> str:
    """Check a name that is (or would become) a folder; raises :class:`PathError` for a reserved one."""
    if is_reserved_folder_name(name):
        raise PathError(
            f"{name!r} cannot be a folder name: the storage service reserves folders named '.uploads' "
            f"or ending in {RESERVED_FOLDER_SUFFIX!r} (it would hide the folder and its files); "
            "a file may have this name"
        )
    return name


def validate_name(name: str) -> str:
    """Check one path segment (file or folder name)."""
    if name.lower() in _DOT_FORMS:
        raise PathError(f"path segment {name!r} is not allowed ('.' and '..' cannot be used in paths)")
    if "\\" in name:
        raise PathError(f"name {name!r} contains a backslash, which is not allowed")
    if "\x00" in name:
        raise PathError("name contains a NUL character, which is not allowed")
    for ch in name:
        if unicodedata.category(ch) == "Cc":
            raise PathError(
                f"name {name!r} contains a control character (U+{ord(ch):04X}), which is not allowed"
            )
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise PathError(f"name {name[:40]!r}... is longer than {MAX_NAME_BYTES} bytes")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PathError("name is not valid Unicode text") from exc
    return name


@dataclass(frozen=True, slots=True)
class DMPath:
    """A validated path inside one user's tree (``rel`` is ``""`` for the home folder itself)."""

    user: str
    rel: str = ""

    @property
    def is_home(self) -> bool:
        return self.rel == ""

    @property
    def key(self) -> str:
        """The S3 key of the file with this path (``users/<u>/a/b``)."""
        return f"{USER_PREFIX}{self.user}/{self.rel}" if self.rel else f"{USER_PREFIX}{self.user}"

    @property
    def dir_key(self) -> str:
        """The S3 key of the directory marker / the prefix of the directory's contents."""
        return f"{USER_PREFIX}{self.user}/{self.rel}/" if self.rel else f"{USER_PREFIX}{self.user}/"

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1] if self.rel else self.user

    @property
    def parent(self) -> DMPath | None:
        if not self.rel:
            return None
        return DMPath(self.user, self.rel.rsplit("/", 1)[0] if "/" in self.rel else "")

    def child(self, name: str) -> DMPath:
        validate_name(name)
        return DMPath(self.user, f"{self.rel}/{name}" if self.rel else name)

    def require_folder_name(self) -> None:
        """Raise :class:`PathError` when this path cannot be a folder (a reserved name, see above)."""
        if self.rel:
            validate_folder_name(self.name)

    def is_within(self, other: DMPath) -> bool:
        """True when this path is ``other`` or lies below it."""
        if self.user != other.user:
            return False
        return not other.rel or self.rel == other.rel or self.rel.startswith(other.rel + "/")

    def display(self, dialect: str = "beta") -> str:
        """The path as a dialect shows it: ``/users/u/a`` (beta) or ``/Home/u/a`` (v1)."""
        root = "/Home/" if dialect == "v1" else "/users/"
        return f"{root}{self.user}/{self.rel}" if self.rel else f"{root}{self.user}"

    @classmethod
    def from_key(cls, key: str) -> DMPath:
        """Inverse of :attr:`key` / :attr:`dir_key` (trailing slash ignored)."""
        if not key.startswith(USER_PREFIX):
            raise PathError(f"not a user key: {key!r}")
        rest = key[len(USER_PREFIX) :].rstrip("/")
        user, _, rel = rest.partition("/")
        return cls(user, rel)


@dataclass(frozen=True, slots=True)
class ParsedPath:
    """Result of parsing a request path: either a root (``/users``, ``/Home``) or a user path."""

    root: str  # "beta" or "v1"
    path: DMPath | None  # None for the bare root


def parse_path(raw: str) -> ParsedPath:
    """Parse ``/users/<u>/...`` or ``/Home/<u>/...`` (leading slash optional, trailing slash allowed).

    Raises:
        PathError: for an unknown root, an invalid user name or a forbidden segment.
    """
    if raw is None:
        raise PathError("missing path")
    if "\x00" in raw:
        raise PathError("path contains a NUL character, which is not allowed")
    if "\\" in raw:
        raise PathError("path contains a backslash, which is not allowed")
    segments = [s for s in raw.split("/") if s != ""]
    if not segments:
        raise PathError("a path must start with /users/<user> or /Home/<user>")
    root = ROOTS.get(segments[0].lower())
    if root is None or segments[0] not in ("users", "Home", "home"):
        raise PathError(
            f"unknown root folder {segments[0]!r}: paths start with /users/<user> or /Home/<user>"
        )
    if len(segments) == 1:
        return ParsedPath(root, None)
    user = segments[1]
    for seg in segments[1:]:
        validate_name(seg)
    validate_username(user)
    for seg in segments[2:-1]:  # every segment but the last names a folder
        validate_folder_name(seg)
    rel = "/".join(segments[2:])
    path = DMPath(user, rel)
    if len(path.dir_key.encode("utf-8")) > MAX_KEY_BYTES:
        raise PathError(f"path is longer than {MAX_KEY_BYTES - 8} bytes")
    return ParsedPath(root, path)


def parse_user_path(raw: str) -> DMPath:
    """Like :func:`parse_path` but a bare root is an error."""
    parsed = parse_path(raw)
    if parsed.path is None:
        raise PathError("the path must name a user folder: /users/<user>/... or /Home/<user>/...")
    return parsed.path
