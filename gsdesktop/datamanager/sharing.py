"""Sharing (issue 19): ACLs, groups, user search and public links, over the server's extension API.

A thin, typed wrapper of ``/datamanager/sharing/...`` (see :mod:`gsdesktop.server.sharing` and README,
"Sharing") that uses only :meth:`DataManagerClient.request`. Paths are the client's usual remote paths
(``/users/alice/proj``, ``/Home/alice/proj`` accepted); answers use the ``/users/...`` form. Errors are the
usual :class:`~gsdesktop.datamanager.errors.GSError` subclasses: ``PermissionDeniedError`` (not the owner,
no access), ``NotFoundError`` (no such item or group, or not public for :meth:`Sharing.public_url`),
``ConflictError`` (an inherited entry revoked below its folder, a group name taken), ``InvalidRequestError``
(a bad name), ``UnsupportedError`` (a server without the sharing extension).

    sharing = Sharing(client)
    sharing.grant("/users/alice/proj", "user", "bob", "write")
    for entry in sharing.acl("/users/alice/proj/a.txt").entries: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import quote

from gsdesktop.datamanager import paths as P
from gsdesktop.datamanager.client import DataManagerClient
from gsdesktop.datamanager.errors import (
    InvalidRequestError,
    NotFoundError,
    ServerError,
    UnsupportedError,
)
from gsdesktop.datamanager.http import error_for_status, server_message

Level = Literal["read", "write"]
Kind = Literal["user", "group", "public"]
YourLevel = Literal["none", "read", "write", "owner"]
Role = Literal["admin", "member"]

API = "/datamanager/sharing"
KINDS: tuple[Kind, ...] = ("user", "group", "public")
LEVELS: tuple[Level, ...] = ("read", "write")


@dataclass(frozen=True)
class AclEntry:
    """One grant: to a user, a group or the public (``name`` None), at ``level``; ``inherited`` when it
    was granted on a folder above (``granted_on``, where it must be revoked)."""

    type: Kind
    name: str | None
    level: Level
    inherited: bool
    granted_on: str


@dataclass(frozen=True)
class Acl:
    path: str
    owner: str
    your_level: YourLevel
    entries: tuple[AclEntry, ...]
    public_url: str | None

    @property
    def is_public(self) -> bool:
        return self.public_url is not None


@dataclass(frozen=True)
class SharedItem:
    path: str
    level: Level
    is_directory: bool


@dataclass(frozen=True)
class SharedOwner:
    owner: str
    items: tuple[SharedItem, ...]


@dataclass(frozen=True)
class PublicItem:
    path: str
    owner: str
    is_directory: bool
    public_url: str


@dataclass(frozen=True)
class Group:
    name: str
    admins: tuple[str, ...]
    members: tuple[str, ...]
    created_by: str
    your_role: Role | None


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ServerError(f"The server's sharing answer has no valid {key!r}")
    return value


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> Any:
    value = data.get(key)
    if value not in allowed:
        raise ServerError(f"The server's sharing answer has an unknown {key!r}: {value!r}")
    return value


def _names(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ServerError(f"The server's sharing answer has no valid {key!r}")
    return tuple(value)


def _acl(data: dict[str, Any]) -> Acl:
    entries = []
    for e in data.get("entries") or []:
        name = e.get("name")
        entries.append(
            AclEntry(
                type=_choice(e, "type", KINDS),
                name=name if isinstance(name, str) and name else None,
                level=_choice(e, "level", LEVELS),
                inherited=bool(e.get("inherited")),
                granted_on=P.from_dialect(_str(e, "grantedOn")),
            )
        )
    url = data.get("publicUrl")
    return Acl(
        path=P.from_dialect(_str(data, "path")),
        owner=_str(data, "owner"),
        your_level=_choice(data, "yourLevel", ("none", "read", "write", "owner")),
        entries=tuple(entries),
        public_url=url if isinstance(url, str) and url else None,
    )


def _group(data: dict[str, Any]) -> Group:
    role = data.get("yourRole")
    return Group(
        name=_str(data, "name"),
        admins=_names(data, "admins"),
        members=_names(data, "members"),
        created_by=_str(data, "createdBy"),
        your_role=cast(Role, role) if role in ("admin", "member") else None,
    )


def _no_route(status: int, detail: str) -> bool:
    """Whether a 404/405 says the route does not exist (an older server), not that an item is missing."""
    text = detail.strip().lower()
    return status == 405 or text in ("", "not found") or text.startswith("no such endpoint")


def _seg(name: str, what: str) -> str:
    """A user or group name as one URL path segment (never empty, never a path)."""
    if not name or "/" in name or name in (".", ".."):
        raise InvalidRequestError(f"Not a valid {what} name: {name!r}")
    return quote(name, safe="")


class Sharing:
    """Sharing operations of one signed-in :class:`DataManagerClient` (thread-safe as the client is)."""

    def __init__(self, client: DataManagerClient) -> None:
        self.client = client

    # -- plumbing ------------------------------------------------------------------------------------------
    def _call(
        self, method: str, route: str, *, paths: tuple[str, ...] = (), action: str = "", **kwargs: Any
    ) -> Any:
        resp = self.client.request(method, API + route, paths=paths, action=action, ok=(404, 405), **kwargs)
        if resp.status_code in (404, 405):
            detail = server_message(resp)
            err = error_for_status(resp, paths, action)
            resp.close()
            if _no_route(resp.status_code, detail):
                raise UnsupportedError(
                    f"{self.client.server_url} does not offer sharing (it has no sharing extension)",
                    status=resp.status_code,
                )
            raise err
        try:
            if resp.status_code == 204 or not resp.content:
                return None
            try:
                return resp.json()
            except ValueError as exc:
                raise ServerError("The server sent a sharing answer that is not valid JSON") from exc
        finally:
            resp.close()

    def _dict(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ServerError("The server sent an unexpected sharing answer")
        return data

    @staticmethod
    def _path(path: str) -> str:
        return P.canonical(path)

    # -- ACLs ----------------------------------------------------------------------------------------------
    def acl(self, path: str) -> Acl:
        """The item's owner, your level and its entries (inherited ones marked). Needs Read."""
        p = self._path(path)
        return _acl(self._dict(self._call("GET", "/acl" + P.encode(p), paths=(p,))))

    def grant(self, path: str, kind: Kind, name: str | None, level: Level = "read") -> Acl:
        """Grant (or change to ``level``) access for a user, a group or the public (owner only; the public
        can only read). Returns the item's new ACL."""
        p = self._path(path)
        if kind not in KINDS:
            raise InvalidRequestError(f"Share with a user, a group or the public, not {kind!r}")
        if level not in LEVELS:
            raise InvalidRequestError(f"The level is read or write, not {level!r}")
        if kind != "public" and not name:
            raise InvalidRequestError(f"Sharing with a {kind} needs the {kind}'s name", paths=[p])
        if kind == "public" and level == "write":
            raise InvalidRequestError(
                "The public can only read: share with users or groups to let them write"
            )
        body = {"type": kind, "name": name if kind != "public" else None, "level": level}
        data = self._call("POST", "/acl" + P.encode(p), paths=(p,), action="Sharing failed", json=body)
        return _acl(self._dict(data))

    def revoke(self, path: str, kind: Kind, name: str | None) -> Acl:
        """Revoke the entry granted on this path (owner only). An entry inherited from a folder above
        raises ConflictError naming that folder. Returns the item's new ACL."""
        p = self._path(path)
        if kind not in KINDS:
            raise InvalidRequestError(f"Unshare a user, a group or the public, not {kind!r}")
        if kind != "public" and not name:
            raise InvalidRequestError(f"Unsharing a {kind} needs the {kind}'s name", paths=[p])
        params = {"type": kind, **({"name": name} if kind != "public" and name else {})}
        data = self._call(
            "DELETE", "/acl" + P.encode(p), paths=(p,), action="Unsharing failed", params=params
        )
        return _acl(self._dict(data))

    def public_url(self, path: str) -> str:
        """The item's public link (anyone can download it without signing in while it is public).

        Raises:
            NotFoundError: the item is not public (or does not exist).
        """
        acl = self.acl(path)
        if acl.public_url is None:
            raise NotFoundError(f"{acl.path} is not public, so it has no public link", paths=[acl.path])
        return acl.public_url

    # -- discovery -----------------------------------------------------------------------------------------
    def shared_with_me(self) -> list[SharedOwner]:
        """What others shared with you (directly or through a group), by owner."""
        data = self._dict(self._call("GET", "/shared"))
        out = []
        for owner in data.get("owners") or []:
            items = tuple(
                SharedItem(
                    path=P.from_dialect(_str(i, "path")),
                    level=_choice(i, "level", LEVELS),
                    is_directory=bool(i.get("isDirectory")),
                )
                for i in owner.get("items") or []
            )
            out.append(SharedOwner(owner=_str(owner, "owner"), items=items))
        return out

    def public_items(self) -> list[PublicItem]:
        """Every public item on the server, with its link."""
        data = self._dict(self._call("GET", "/public"))
        return [
            PublicItem(
                path=P.from_dialect(_str(i, "path")),
                owner=_str(i, "owner"),
                is_directory=bool(i.get("isDirectory")),
                public_url=_str(i, "publicUrl"),
            )
            for i in data.get("items") or []
        ]

    # -- groups --------------------------------------------------------------------------------------------
    def groups(self) -> list[Group]:
        """The groups you are a member (or administrator) of."""
        data = self._dict(self._call("GET", "/groups"))
        return [_group(g) for g in data.get("groups") or []]

    def group(self, name: str) -> Group:
        """One of your groups (NotFoundError when there is none, or you are not a member)."""
        return _group(self._dict(self._call("GET", "/groups/" + _seg(name, "group"))))

    def create_group(self, name: str) -> Group:
        """Create a group; you become its administrator (ConflictError when the name is taken)."""
        _seg(name, "group")
        data = self._call("POST", "/groups", action="Cannot create the group", json={"name": name})
        return _group(self._dict(data))

    def delete_group(self, name: str) -> None:
        """Delete a group (administrators); its grants stop."""
        self._call("DELETE", "/groups/" + _seg(name, "group"), action="Cannot delete the group")

    def add_member(self, group: str, user: str, admin: bool = False) -> Group:
        """Add ``user`` to ``group`` (``admin``: as an administrator). Administrators only."""
        _seg(group, "group")
        _seg(user, "user")
        body = {"group": group, "user": user, "admin": admin}
        return _group(self._dict(self._call("POST", "/groups/members", action="Cannot add", json=body)))

    def remove_member(self, group: str, user: str) -> Group:
        """Remove ``user`` from ``group`` (administrators; anyone may remove themselves)."""
        route = f"/groups/{_seg(group, 'group')}/members/{_seg(user, 'user')}"
        return _group(self._dict(self._call("DELETE", route, action="Cannot remove")))

    def add_admin(self, group: str, user: str) -> Group:
        """Make ``user`` an administrator (and a member) of ``group``."""
        _seg(group, "group")
        _seg(user, "user")
        body = {"group": group, "user": user}
        return _group(self._dict(self._call("POST", "/groups/admins", action="Cannot add", json=body)))

    def remove_admin(self, group: str, user: str) -> Group:
        """Take administrator rights from ``user`` (they stay a member; the last one cannot go)."""
        route = f"/groups/{_seg(group, 'group')}/admins/{_seg(user, 'user')}"
        return _group(self._dict(self._call("DELETE", route, action="Cannot remove")))

    # -- users ---------------------------------------------------------------------------------------------
    def search_users(self, prefix: str) -> list[str]:
        """User names starting with ``prefix`` (at most 20; not those who opted out). An empty prefix
        finds nobody (no request)."""
        if not prefix:
            return []
        data = self._dict(self._call("GET", "/users", params={"prefix": prefix[:64]}))
        users = data.get("users") or []
        return [u for u in users if isinstance(u, str)]

    def searchable(self) -> bool:
        """Whether others find you in the user search."""
        return bool(self._dict(self._call("GET", "/me")).get("searchable"))

    def set_searchable(self, value: bool) -> None:
        """Opt out of (``False``) or back into the user search; sharing by exact name still works."""
        self._call("PUT", "/me", json={"searchable": bool(value)})


__all__ = [
    "Acl",
    "AclEntry",
    "Group",
    "Kind",
    "Level",
    "PublicItem",
    "SharedItem",
    "SharedOwner",
    "Sharing",
]
