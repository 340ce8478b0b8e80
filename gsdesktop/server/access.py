"""The one authorization seam of the server: who may do what on which path (issue 19, sharing).

Levels: ``NONE < READ < WRITE < OWNER``. The owner of ``/users/<u>/...`` is ``<u>`` and always has
``OWNER``. Everybody else gets the highest level granted by an ACL entry on the path **or any ancestor**
(a grant on a folder is inherited by everything below it and cannot be removed lower down) whose
principal matches them: a user by name, a group they are a member of, or the public (read only; the
only principal an anonymous caller matches).

State lives in the store only, so replicas stay stateless:

* ``.gsdm/acl/<owner>.json`` -- one document per owner, ``{"owner", "entries": {"<rel>": [entry...]}}``
  (``rel`` is the path below the home folder, ``""`` the home folder itself); an entry is
  ``{"type": "user"|"group"|"public", "name", "level": "read"|"write", "gid"?}``. Every change is a
  read-modify-write with ``If-Match`` (``If-None-Match: *`` for the first), retried on a lost race.
* ``.gsdm/groups/<name>.json`` -- ``{"name", "gid", "admins", "members", "createdBy", "created"}``;
  admins are members; the creator is the first admin. Group entries carry the group's random ``gid``,
  so a group deleted and created again under the same name does not inherit the old grants.
* ``.gsdm/nosearch/<user>`` -- a marker: the user opted out of the user search.

"Shared with me" and "Public" are a cached scan of the ACL documents (one ``ListObjects`` of
``.gsdm/acl/`` per replica every ``cache_seconds``, and only documents whose ETag changed are read
again): only owners who shared something have a document, and it stays right when group membership
changes, which a reverse index written at grant time would not.

Freshness: ACL and group documents are cached per replica for at most ``cache_seconds`` (1.5 s), so a
grant or revoke made through one replica holds on every replica within 2 s, and per request (one
snapshot per owner for the whole request: a recursive listing of a shared tree reads the ACL once).
Public links read the ACL fresh.
"""

from __future__ import annotations

import contextvars
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from starlette.types import Receive, Scope, Send

from gsdesktop.server import common
from gsdesktop.server.asgi import HTTPMiddleware
from gsdesktop.server.auth import APIError
from gsdesktop.server.paths import MAX_KEY_BYTES, DMPath, PathError, parse_path
from gsdesktop.server.storage import ObjectInfo, S3Store

ACL_PREFIX = ".gsdm/acl/"
GROUPS_PREFIX = ".gsdm/groups/"
NOSEARCH_PREFIX = ".gsdm/nosearch/"
GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
USER_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RESERVED_GROUPS = frozenset({"public"})
PUBLIC_SID = {"id": "public", "name": "Public", "type": "Group"}
CACHE_SECONDS = 1.5


class Level(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    OWNER = 3

    @property
    def label(self) -> str:
        return self.name.lower()


LEVEL_NAMES = {"read": Level.READ, "write": Level.WRITE}


@dataclass(frozen=True, slots=True)
class Entry:
    """One effective ACL entry of a path: who, what level, and where it was granted."""

    type: str  # "user" | "group" | "public"
    name: str  # "" for the public
    level: Level
    granted_on: DMPath
    inherited: bool
    gid: str | None = None

    def to_json(self, dialect: str = "beta") -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name or None,
            "level": self.level.label,
            "inherited": self.inherited,
            "grantedOn": self.granted_on.display(dialect),
        }


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    gid: str
    admins: tuple[str, ...]
    members: tuple[str, ...]
    created_by: str

    def to_json(self, user: str | None = None) -> dict[str, Any]:
        role = "admin" if user in self.admins else "member" if user in self.members else None
        return {
            "name": self.name,
            "admins": list(self.admins),
            "members": list(self.members),
            "createdBy": self.created_by,
            "yourRole": role,
        }


def denied(path: DMPath, need: Level = Level.READ) -> APIError:
    """The 403 for a path the caller may not use: the same whether the path exists or not."""
    del path  # never named: the answer must not differ between existing and missing paths
    if need >= Level.OWNER:
        return APIError(403, "access denied: only the owner of this item can do this")
    what = "write" if need >= Level.WRITE else "read"
    return APIError(403, f"access denied: you have no {what} access to this path (or it does not exist)")


def _ancestors(rel: str) -> Iterator[str]:
    """``""``, ``"a"``, ``"a/b"`` for ``"a/b"`` (the home folder first, the path itself last)."""
    yield ""
    if rel:
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            yield "/".join(parts[:i])


# per-request memo (set by AccessMiddleware): one snapshot of each document for the whole request
_MEMO: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "gsdm_access_memo", default=None
)


class AccessStore:
    """ACLs, groups and the user-search opt-outs in the shared store, with a short per-replica cache.

    Every fact is one small object whose *key* says it all, so a change is one PUT or DELETE (no
    read-modify-write that a racing replica could undo) and reading is one listing:

    * ``.gsdm/acl/<owner>/<rel>/@<type>:<name>:<level>[:<gid>]`` -- an entry granted on ``<rel>``;
    * ``.gsdm/groups/<name>/<gid>/c/<creator>`` (the group exists), ``.../m/<user>`` (a member),
      ``.../a/<user>`` (an administrator). When two creators race, the older creation marker wins and
      the loser removes its own keys (409).
    """

    def __init__(
        self,
        store: S3Store,
        *,
        user_exists: Callable[[str], bool] | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.store = store
        self.user_exists = user_exists or (lambda name: True)
        self.cache_seconds = min(float(cache_seconds), CACHE_SECONDS)
        self._lock = threading.Lock()
        self._listings: dict[str, tuple[float, list[ObjectInfo]]] = {}

    # -- listings -----------------------------------------------------------------------------------------
    def _list(self, prefix: str, *, fresh: bool = False) -> list[ObjectInfo]:
        """Every object under ``prefix``: request memo, then replica cache (``fresh`` bypasses both)."""
        memo = _MEMO.get()
        memo_key = ("list", prefix)
        if not fresh and memo is not None and memo_key in memo:
            return memo[memo_key]  # type: ignore[no-any-return]
        now = time.monotonic()
        hit = None
        if not fresh:
            with self._lock:
                hit = self._listings.get(prefix)
            # a cached listing of a wider prefix (``.gsdm/acl/``) answers a narrower one too
            if hit is None or now - hit[0] >= self.cache_seconds:
                hit = self._wider(prefix, now)
        if hit is not None and now - hit[0] < self.cache_seconds:
            objects = hit[1]
        else:
            objects, _ = self.store.list_all(prefix, delimiter=None)
            with self._lock:
                if len(self._listings) > 20_000:
                    self._listings.clear()
                self._listings[prefix] = (now, objects)
        if memo is not None:
            memo[memo_key] = objects
        return objects

    def _wider(self, prefix: str, now: float) -> tuple[float, list[ObjectInfo]] | None:
        for root in (ACL_PREFIX, GROUPS_PREFIX):
            if prefix.startswith(root) and prefix != root:
                with self._lock:
                    hit = self._listings.get(root)
                if hit is not None and now - hit[0] < self.cache_seconds:
                    return hit[0], [o for o in hit[1] if o.key.startswith(prefix)]
        return None

    def _forget(self) -> None:
        """After a change made here: this replica sees it at once (others within ``cache_seconds``)."""
        with self._lock:
            self._listings.clear()
        memo = _MEMO.get()
        if memo is not None:
            memo.clear()

    def _put(self, key: str) -> None:
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise APIError(400, "this path is too long to be shared")
        self.store.put_bytes(key, b"", content_type="text/plain")

    # -- groups -------------------------------------------------------------------------------------------
    @staticmethod
    def _check_group_name(name: str) -> str:
        if not GROUP_RE.match(name or "") or name.lower() in RESERVED_GROUPS:
            raise APIError(
                400,
                f"invalid group name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit ('public' is reserved)",
            )
        return name

    def group(self, name: str, *, fresh: bool = False) -> Group | None:
        if not GROUP_RE.match(name or ""):
            return None
        return _group_from(name, self._list(f"{GROUPS_PREFIX}{name}/", fresh=fresh))

    def groups(self) -> list[Group]:
        by_name: dict[str, list[ObjectInfo]] = {}
        for obj in self._list(GROUPS_PREFIX):
            by_name.setdefault(obj.key[len(GROUPS_PREFIX) :].split("/", 1)[0], []).append(obj)
        out = [_group_from(name, objects) for name, objects in sorted(by_name.items())]
        return [g for g in out if g is not None]

    def groups_of(self, user: str) -> list[Group]:
        return [g for g in self.groups() if user in g.members]

    def create_group(self, name: str, creator: str) -> Group:
        self._check_group_name(name)
        if self.group(name, fresh=True) is not None:
            raise APIError(409, f"a group named {name!r} exists already")
        gid = secrets.token_hex(8)
        base = f"{GROUPS_PREFIX}{name}/{gid}/"
        mine = [f"{base}c/{creator}", f"{base}m/{creator}", f"{base}a/{creator}"]
        for key in mine:
            self._put(key)
        self._forget()
        group = self.group(name, fresh=True)
        if group is None or group.gid != gid:  # another creator was first
            self.store.delete_many(mine)
            raise APIError(409, f"a group named {name!r} exists already")
        return group

    def _as_admin(self, name: str, actor: str, *, self_ok: str | None = None) -> Group:
        group = self.group(name, fresh=True)
        if group is None:
            raise APIError(404, f"no such group: {name}")
        if actor not in group.admins and actor != self_ok:
            raise APIError(403, f"access denied: you are not an administrator of group {name}")
        return group

    def delete_group(self, name: str, actor: str) -> None:
        self._as_admin(name, actor)
        self.store.delete_many([o.key for o in self._list(f"{GROUPS_PREFIX}{name}/", fresh=True)])
        self._forget()

    def add_member(self, name: str, actor: str, user: str, *, admin: bool = False) -> Group:
        group = self._as_admin(name, actor)
        if not self.user_exists(user):
            raise APIError(404, f"no such user: {user}")
        base = f"{GROUPS_PREFIX}{name}/{group.gid}/"
        self._put(f"{base}m/{user}")
        if admin:
            self._put(f"{base}a/{user}")
        self._forget()
        return self._must(name)

    def remove_member(self, name: str, actor: str, user: str) -> Group:
        """Remove a member (an administrator may remove anyone, a member may leave)."""
        group = self._as_admin(name, actor, self_ok=user)
        if user not in group.members:
            raise APIError(404, f"{user} is not a member of group {name}")
        if group.admins == (user,):
            raise APIError(409, f"{user} is the last administrator of group {name}; delete the group")
        base = f"{GROUPS_PREFIX}{name}/{group.gid}/"
        self.store.delete_many([f"{base}a/{user}", f"{base}m/{user}"])
        self._forget()
        return self._must(name)

    def set_admin(self, name: str, actor: str, user: str, admin: bool) -> Group:
        if admin:
            return self.add_member(name, actor, user, admin=True)
        group = self._as_admin(name, actor, self_ok=user)
        if user not in group.admins:
            raise APIError(404, f"{user} is not an administrator of group {name}")
        if group.admins == (user,):
            raise APIError(409, f"{user} is the last administrator of group {name}")
        self.store.delete(f"{GROUPS_PREFIX}{name}/{group.gid}/a/{user}")
        self._forget()
        return self._must(name)

    def _must(self, name: str) -> Group:
        group = self.group(name, fresh=True)
        if group is None:
            raise APIError(409, f"group {name} was deleted meanwhile")
        return group

    # -- ACL entries --------------------------------------------------------------------------------------
    def _entries(self, owner: str, *, fresh: bool = False) -> dict[str, list[RawEntry]]:
        """``{rel: [entry, ...]}`` of one owner (per request: parsed once)."""
        memo = _MEMO.get()
        memo_key = ("acl", owner)
        if not fresh and memo is not None and memo_key in memo:
            return memo[memo_key]  # type: ignore[no-any-return]
        out: dict[str, list[RawEntry]] = {}
        for obj in self._list(f"{ACL_PREFIX}{owner}/", fresh=fresh):
            parsed = _parse_acl_key(obj.key)
            if parsed is not None and parsed[0] == owner:
                out.setdefault(parsed[1], []).append(parsed[2])
        if memo is not None:
            memo[memo_key] = out
        return out

    def _all_entries(self) -> Iterator[tuple[str, dict[str, list[RawEntry]]]]:
        by_owner: dict[str, dict[str, list[RawEntry]]] = {}
        for obj in self._list(ACL_PREFIX):
            parsed = _parse_acl_key(obj.key)
            if parsed is not None:
                by_owner.setdefault(parsed[0], {}).setdefault(parsed[1], []).append(parsed[2])
        yield from sorted(by_owner.items())

    def _matches(self, entry: RawEntry, user: str | None, *, fresh: bool = False) -> bool:
        if entry.type == "public":
            return True
        if user is None:
            return False
        if entry.type == "user":
            return entry.name == user
        group = self.group(entry.name, fresh=fresh)
        return group is not None and group.gid == entry.gid and user in group.members

    def _live(self, entry: RawEntry) -> bool:
        """False for an entry of a group that was deleted (or deleted and made again)."""
        if entry.type != "group":
            return True
        group = self.group(entry.name)
        return group is not None and group.gid == entry.gid

    def level(self, user: str | None, path: DMPath, *, fresh: bool = False) -> Level:
        """The caller's access to ``path`` (``user=None``: anonymous)."""
        if user is not None and user == path.user:
            return Level.OWNER
        entries = self._entries(path.user, fresh=fresh)
        if not entries:
            return Level.NONE
        best = Level.NONE
        for rel in _ancestors(path.rel):
            for entry in entries.get(rel, ()):
                if entry.level > best and self._matches(entry, user, fresh=fresh):
                    best = entry.level
        return best

    def entries(self, path: DMPath) -> list[Entry]:
        """The effective entries of ``path``: inherited ones first, then its own (one per principal)."""
        memo = _MEMO.get()
        memo_key = ("entries", path.user, path.rel)
        if memo is not None and memo_key in memo:
            return memo[memo_key]  # type: ignore[no-any-return]
        entries = self._entries(path.user)
        out: list[Entry] = []
        if entries:
            parent = path.parent
            if parent is not None:
                out = [
                    Entry(e.type, e.name, e.level, e.granted_on, True, e.gid) for e in self.entries(parent)
                ]
            own: dict[tuple[str, str], RawEntry] = {}
            for raw in entries.get(path.rel, ()):
                if self._live(raw):
                    ident = (raw.type, raw.name)
                    if ident not in own or raw.level > own[ident].level:
                        own[ident] = raw
            out += [Entry(r.type, r.name, r.level, path, False, r.gid) for r in own.values()]
        if memo is not None:
            memo[memo_key] = out
        return out

    def aces(self, path: DMPath) -> list[tuple[dict[str, str], str]]:
        """``(sid, permission)`` pairs for ``effectiveAcl`` beyond the owner's own R and W."""
        seen: set[tuple[str, str, str]] = set()
        out: list[tuple[dict[str, str], str]] = []
        for e in self.entries(path):
            if e.type == "public":
                sid = dict(PUBLIC_SID)
            else:
                sid = {"id": e.name, "name": e.name, "type": "User" if e.type == "user" else "Group"}
            for perm in ("R", "W") if e.level >= Level.WRITE else ("R",):
                ident = (sid["type"], sid["id"], perm)
                if ident not in seen:
                    seen.add(ident)
                    out.append((sid, perm))
        return out

    @staticmethod
    def _principal_prefix(path: DMPath, kind: str, name: str) -> str:
        where = f"{ACL_PREFIX}{path.user}/" + (f"{path.rel}/" if path.rel else "")
        return f"{where}@{kind}:{name if kind != 'public' else ''}:"

    def grant(self, path: DMPath, kind: str, name: str, level: Level) -> None:
        """Grant (or change) ``kind``/``name``'s level on ``path``; the caller checked ownership."""
        gid = ""
        if kind == "public" and level != Level.READ:
            raise APIError(400, "the public can only be given read access")
        if kind == "user":
            if name == path.user:
                raise APIError(400, f"{name} owns {path.display()} already")
            if not self.user_exists(name):
                raise APIError(404, f"no such user: {name}")
        elif kind == "group":
            group = self.group(name, fresh=True)
            if group is None:
                raise APIError(404, f"no such group: {name}")
            gid = group.gid
        prefix = self._principal_prefix(path, kind, name)
        key = prefix + level.label + (f":{gid}" if gid else "")
        self._put(key)
        # a changed level replaces the old entry (listing the entry's own prefix: one small call)
        old, _ = self.store.list_all(prefix, delimiter=None)
        self.store.delete_many([o.key for o in old if o.key != key])
        self._forget()

    def revoke(self, path: DMPath, kind: str, name: str) -> None:
        """Remove the entry granted on ``path`` itself (an inherited one: 409 naming where it is)."""
        prefix = self._principal_prefix(path, kind, name)
        too_long = len(prefix.encode("utf-8")) > MAX_KEY_BYTES
        here = [] if too_long else self.store.list_all(prefix, delimiter=None)[0]
        if not here:
            entries = self._entries(path.user, fresh=True)
            for rel in _ancestors(path.rel):
                if rel != path.rel and any(_same(e, kind, name) for e in entries.get(rel, [])):
                    raise APIError(
                        409,
                        f"this access is inherited from {DMPath(path.user, rel).display()}; revoke it "
                        "there (it cannot be removed lower down)",
                    )
            raise APIError(404, f"no such sharing entry on {path.display()}")
        self.store.delete_many([o.key for o in here])
        self._forget()

    def forget_below(self, path: DMPath) -> None:
        """Drop every entry on ``path`` and below (the item was deleted)."""
        doomed = [
            o.key
            for o in self._list(f"{ACL_PREFIX}{path.user}/", fresh=True)
            if (p := _parse_acl_key(o.key)) is not None and DMPath(path.user, p[1]).is_within(path)
        ]
        if doomed:
            self.store.delete_many(doomed)
            self._forget()

    def move_entries(self, src: DMPath, dst: DMPath) -> None:
        """After a move: the entries on ``src`` and below now name the same items under ``dst``.

        An entry naming the new owner (an item moved into a grantee's own tree) is dropped.
        """
        moved: list[str] = []
        for obj in self._list(f"{ACL_PREFIX}{src.user}/", fresh=True):
            parsed = _parse_acl_key(obj.key)
            if parsed is None or not DMPath(src.user, parsed[1]).is_within(src):
                continue
            rel, entry = parsed[1], parsed[2]
            if not (entry.type == "user" and entry.name == dst.user):
                new_rel = (
                    dst.rel + rel[len(src.rel) :] if src.rel else "/".join(p for p in (dst.rel, rel) if p)
                )
                where = f"{ACL_PREFIX}{dst.user}/" + (f"{new_rel.strip('/')}/" if new_rel.strip("/") else "")
                self._put(where + obj.key.rsplit("/", 1)[-1])
            moved.append(obj.key)
        if moved:
            self.store.delete_many(moved)
            self._forget()

    # -- discovery ----------------------------------------------------------------------------------------
    def shared_with(self, user: str) -> dict[str, list[tuple[DMPath, Level]]]:
        """``{owner: [(path, level), ...]}`` of what other users shared with ``user`` (not the public)."""
        out: dict[str, list[tuple[DMPath, Level]]] = {}
        for owner, entries in self._all_entries():
            if owner == user:
                continue
            for rel, raw in sorted(entries.items()):
                best = max(
                    (e.level for e in raw if e.type in ("user", "group") and self._matches(e, user)),
                    default=Level.NONE,
                )
                if best > Level.NONE:
                    out.setdefault(owner, []).append((DMPath(owner, rel), best))
        return out

    def public_items(self) -> list[DMPath]:
        out = []
        for owner, entries in self._all_entries():
            for rel, raw in sorted(entries.items()):
                if any(e.type == "public" for e in raw):
                    out.append(DMPath(owner, rel))
        return out

    # -- user search --------------------------------------------------------------------------------------
    def _hidden(self) -> set[str]:
        return {o.key[len(NOSEARCH_PREFIX) :] for o in self._list(NOSEARCH_PREFIX)}

    def searchable(self, user: str) -> bool:
        return user not in self._hidden()

    def set_searchable(self, user: str, searchable: bool) -> None:
        key = f"{NOSEARCH_PREFIX}{user}"
        if searchable:
            self.store.delete(key)
        else:
            self._put(key)
        self._forget()

    def search_users(self, prefix: str, users_prefix: str, limit: int = 20) -> list[str]:
        """Account names starting with ``prefix`` (case-sensitive), without those who opted out."""
        if not USER_PREFIX_RE.match(prefix):
            return []  # no account name holds other characters
        page = self.store.list_page(users_prefix + prefix, delimiter=None, max_keys=limit * 4 + 50)
        hidden = self._hidden()
        names = []
        for obj in page.objects:
            if obj.key.endswith(".json"):
                name = obj.key[len(users_prefix) : -len(".json")]
                if name not in hidden:
                    names.append(name)
        return sorted(names)[:limit]

    # -- route helpers ------------------------------------------------------------------------------------
    def require(self, user: str | None, path: DMPath, need: Level) -> Level:
        """The caller's level on ``path``; 403 (:func:`denied`) when below ``need``."""
        have = self.level(user, path)
        if have < need:
            raise denied(path, need)
        return have


@dataclass(frozen=True, slots=True)
class RawEntry:
    type: str
    name: str
    level: Level
    gid: str | None


def _parse_acl_key(key: str) -> tuple[str, str, RawEntry] | None:
    """``(owner, rel, entry)`` from ``.gsdm/acl/<owner>/<rel>/@<type>:<name>:<level>[:<gid>]``."""
    rest = key[len(ACL_PREFIX) :] if key.startswith(ACL_PREFIX) else ""
    owner, sep, tail = rest.partition("/")
    if not sep:
        return None
    rel, _, last = tail.rpartition("/")
    if not last.startswith("@"):
        return None
    parts = last[1:].split(":")
    if len(parts) < 3 or parts[0] not in ("user", "group", "public") or parts[2] not in LEVEL_NAMES:
        return None
    level = LEVEL_NAMES[parts[2]]
    if parts[0] == "public":
        level = Level.READ
    return owner, rel, RawEntry(parts[0], parts[1], level, parts[3] if len(parts) > 3 else None)


def _same(entry: RawEntry, kind: str, name: str) -> bool:
    return entry.type == kind and (kind == "public" or entry.name == name)


def _group_from(name: str, objects: list[ObjectInfo]) -> Group | None:
    """The group described by the keys under ``.gsdm/groups/<name>/`` (the oldest creation wins)."""
    roles: dict[str, dict[str, set[str]]] = {}
    created: dict[str, tuple[Any, str]] = {}
    prefix = f"{GROUPS_PREFIX}{name}/"
    for obj in objects:
        parts = obj.key[len(prefix) :].split("/")
        if len(parts) != 3 or parts[1] not in ("c", "m", "a"):
            continue
        gid, role, user = parts
        roles.setdefault(gid, {}).setdefault(role, set()).add(user)
        if role == "c":
            created[gid] = (obj.last_modified, user)
    if not created:
        return None
    gid = min(created, key=lambda g: (created[g][0] is None, created[g][0] or 0, g))
    admins = roles[gid].get("a", set())
    members = roles[gid].get("m", set()) | admins
    return Group(name, gid, tuple(sorted(admins)), tuple(sorted(members)), created[gid][1])


def access_of(request: Any) -> AccessStore:
    return request.app.state.access  # type: ignore[no-any-return]


def checked_path(
    request: Any, raw: str, user: str | None, need: Level, *, allow_root: bool = False
) -> DMPath | None:
    """The path ``raw`` names, when the caller has ``need`` access to it (the owner always has).

    400 for a malformed path; 403 (the same whether the path exists or not) below ``need``.
    """
    try:
        parsed = parse_path(raw)
    except PathError as exc:
        raise APIError(400, str(exc)) from exc
    if parsed.path is None:
        if allow_root:
            return None
        raise APIError(400, "this operation needs a path below /users/<user> (or /Home/<user>)")
    access_of(request).require(user, parsed.path, need)
    return parsed.path


def item_path(request: Any, raw: Any, user: str, need: Level) -> tuple[DMPath | None, str | None]:
    """The path of one item of a batch request: ``(path, None)`` (``None`` for the root), or
    ``(None, message)`` when it is missing or malformed (that item's error only).

    Raises:
        APIError: 403 for the whole request when the caller lacks ``need`` on the path (whether it
            exists or not), as for a single request.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None, "path is missing"
    try:
        path = parse_path(raw).path
    except PathError as exc:
        return None, str(exc)
    if path is not None:
        access_of(request).require(user, path, need)
    return path, None


class AccessMiddleware(HTTPMiddleware):
    """Per request: a fresh memo (one snapshot of each ACL/group document) and the effectiveAcl source."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        access: AccessStore | None = getattr(scope["app"].state, "access", None)
        memo_token = _MEMO.set({})
        aces_token = common.ACL_ENTRIES.set(access.aces if access is not None else None)
        try:
            await self.app(scope, receive, send)
        finally:
            common.ACL_ENTRIES.reset(aces_token)
            _MEMO.reset(memo_token)
