"""Typed Data Manager objects, parsed tolerantly from both API dialects.

Real servers sent flags as strings (``"directory":"false"``) or booleans (``"isDirectory":true``),
sizes as strings or numbers, ``contents`` as a list or a single object, ``owner`` as a string or an
object, with or without ``md5`` (our extension). :func:`GSFileMetadata.from_json` accepts all of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _acl_extra(acl: Any, owner: str) -> int:
    """How many ``effectiveAcl`` entries grant anyone but ``owner`` (a user, a group or the public)."""
    if not isinstance(acl, dict):
        return 0
    entries = acl.get("accessControlEntries")
    if not isinstance(entries, list):
        return 0
    n = 0
    for entry in entries:
        sid = entry.get("sid") if isinstance(entry, dict) else None
        if isinstance(sid, dict) and (sid.get("type") != "User" or sid.get("name") != owner):
            n += 1
    return n


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_timestamp(value: Any) -> datetime | None:
    """Parse ISO-8601 (``2011-06-02T17:16:10Z``) or epoch milliseconds; ``None`` when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000.0, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000.0, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(value: datetime) -> str:
    """The wire form: UTC, second precision, trailing ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_INTERNED: dict[Any, Any] = {}


def _intern(value: Any) -> Any:
    """One shared instance of equal immutable values (data formats and their tuples): a 10,000-file
    listing then holds a handful of format objects instead of 40,000 (less for the GC to walk)."""
    if len(_INTERNED) > 4096:
        _INTERNED.clear()
    try:
        return _INTERNED.setdefault(value, value)
    except TypeError:  # unhashable junk from a server: keep it as it is
        return value


@dataclass(frozen=True, slots=True)
class GSDataFormat:
    name: str
    url: str
    version: str = "0.0.0"
    file_extension: str | None = None
    description: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GSDataFormat:
        return cls(
            name=str(data.get("name", "")),
            url=str(data.get("url", "")),
            version=str(data.get("version") or "0.0.0"),
            file_extension=data.get("fileExtension"),
            description=data.get("description"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "url": self.url, "version": self.version}
        if self.file_extension is not None:
            out["fileExtension"] = self.file_extension
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class GSFileMetadata:
    name: str
    path: str
    url: str
    is_directory: bool
    size: int | None = None
    last_modified: datetime | None = None
    owner: str = ""
    data_format: GSDataFormat | None = None
    available_data_formats: tuple[GSDataFormat, ...] = ()
    md5: str | None = None
    content_type: str | None = None
    #: ``effectiveAcl`` entries granting someone besides the owner (a user, a group, the public)
    acl_extra: int = 0

    @property
    def shared(self) -> bool:
        """Someone besides the owner has access."""
        return self.acl_extra > 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GSFileMetadata:
        is_dir = _flag(data["isDirectory"] if "isDirectory" in data else data.get("directory", False))
        owner = data.get("owner", "")
        if isinstance(owner, dict):
            owner = owner.get("name", "")
        fmt = data.get("dataFormat")
        formats = data.get("availableDataFormats") or []
        if isinstance(formats, dict):
            formats = [formats]
        path = str(data.get("path", ""))
        name = str(data.get("name") or path.rstrip("/").rsplit("/", 1)[-1])
        md5 = data.get("md5")
        return cls(
            name=name.rstrip("/") if is_dir else name,
            path=path.rstrip("/") if is_dir and path != "/" else path,
            url=str(data.get("url", "")),
            is_directory=is_dir,
            size=_int_or_none(data.get("size")),
            last_modified=parse_timestamp(data.get("lastModified")),
            owner=str(owner or ""),
            data_format=_intern(GSDataFormat.from_json(fmt)) if isinstance(fmt, dict) and fmt else None,
            available_data_formats=_intern(
                tuple(_intern(GSDataFormat.from_json(f)) for f in formats if isinstance(f, dict))
            ),
            md5=str(md5).lower() if md5 else None,
            content_type=data.get("contentType") or None,
            acl_extra=_acl_extra(data.get("effectiveAcl"), str(owner or "")),
        )


@dataclass(frozen=True, slots=True)
class GSDirectoryListing:
    directory: GSFileMetadata
    contents: tuple[GSFileMetadata, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GSDirectoryListing:
        contents = data.get("contents") or []
        if isinstance(contents, dict):
            contents = [contents]
        return cls(
            directory=GSFileMetadata.from_json(data.get("directory") or {}),
            contents=tuple(
                c if isinstance(c, GSFileMetadata) else GSFileMetadata.from_json(c)
                for c in contents
                if isinstance(c, dict | GSFileMetadata)
            ),
        )

    @classmethod
    def decode(cls, data: str | bytes) -> tuple[GSDirectoryListing, dict[str, Any]]:
        """A listing answer's listing and its top-level object (for ``nextPageToken`` and the like).

        Entries become metadata as they are decoded (:func:`decode_json`): a large listing never holds the
        GIL for long and leaves no heap of dicts behind.

        Raises:
            ValueError: the answer is not JSON or not an object.
        """
        doc = decode_json(data, convert={"contents": _listed})
        if not isinstance(doc, dict):
            raise ValueError("not a folder listing")
        return cls.from_json(doc), doc


def _listed(item: Any) -> Any:
    return GSFileMetadata.from_json(item) if isinstance(item, dict) else None


_DECODER = json.JSONDecoder()
_SPACE = frozenset(" \t\n\r")


def decode_json(data: str | bytes, *, convert: Mapping[str, Callable[[Any], Any]] | None = None) -> Any:
    """``json.loads`` for server answers, decoding a top-level object's arrays one element at a time.

    ``json.loads`` parses a document in one C call that holds the GIL throughout: a 500-entry listing page
    kept the GUI thread waiting 10-50 ms on a busy machine, a 20,000-entry recursive listing ~0.3 s. Decoding
    array elements separately lets the interpreter switch threads between them. ``convert`` maps a top-level
    key to a function applied to each element of its array as it is decoded, so the element's dicts die at
    once instead of piling up for the garbage collector (whose full passes also hold the GIL).

    Raises:
        ValueError: the text is not valid JSON (``json.JSONDecodeError``) or not UTF-8.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        return json.loads(text)
    out: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        pos += 1
    else:
        while True:
            if not text.startswith('"', pos):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, _expect(text, _skip(text, pos), ":"))
            if text.startswith("[", pos):
                out[key], pos = _array(text, pos, (convert or {}).get(key))
            else:
                out[key], pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if not text.startswith(",", pos):
                pos = _expect(text, pos, "}")
                break
            pos = _skip(text, pos + 1)
    if _skip(text, pos) != len(text):
        raise json.JSONDecodeError("Extra data", text, pos)
    return out


def _skip(text: str, pos: int) -> int:
    """The position of the first non-blank character at or after ``pos``."""
    end = len(text)
    while pos < end and text[pos] in _SPACE:
        pos += 1
    return pos


def _expect(text: str, pos: int, char: str) -> int:
    if not text.startswith(char, pos):
        raise json.JSONDecodeError(f"Expecting {char!r} delimiter", text, pos)
    return pos + 1


def _array(text: str, pos: int, convert: Callable[[Any], Any] | None) -> tuple[list[Any], int]:
    items: list[Any] = []
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return items, pos + 1
    while True:
        item, pos = _DECODER.raw_decode(text, pos)
        items.append(item if convert is None else convert(item))
        pos = _skip(text, pos)
        if text.startswith("]", pos):
            return items, pos + 1
        pos = _skip(text, _expect(text, pos, ","))
