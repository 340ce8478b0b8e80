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
import copy
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from botocore.exceptions import ClientError
from starlette.types import ASGIApp, Receive, Scope, Send

from gsdesktop.server import common
from gsdesktop.server.common import APIError
from gsdesktop.server.paths import DMPath, PathError, parse_path
from gsdesktop.server.storage import PRECONDITION_CODES, S3Store, error_code, is_not_found

ACL_PREFIX = ".gsdm/acl/"
GROUPS_PREFIX = ".gsdm/groups/"
NOSEARCH_PREFIX = ".gsdm/nosearch/"
GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RESERVED_GROUPS = frozenset({"public"})
PUBLIC_SID = {"id": "public", "name": "Public", "type": "Group"}
CACHE_SECONDS = 1.5
MAX_ENTRIES_PER_OWNER = 10_000


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
    what = "write" if need >= Level.WRITE else "read"
    if need >= Level.OWNER:
        return APIError(403, f"access denied: only the owner of {path.display()} can do this")
    return APIError(403, f"access denied: you have no {what} access to {path.display()}")


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
    """ACLs, groups and the user-search opt-outs in the shared store, with a short per-replica cache."""

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
        self._docs: dict[str, tuple[float, str | None, dict[str, Any] | None]] = {}  # key -> (t, etag, doc)
        self._listings: dict[str, tuple[float, dict[str, str]]] = {}  # prefix -> (t, {key: etag})

    # -- raw documents ------------------------------------------------------------------------------------
    def _read(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            r = self.store.s3.get_object(Bucket=self.store.bucket, Key=key)
        except ClientError as exc:
            if is_not_found(exc):
                return None, None
            raise
        doc: dict[str, Any] = json.loads(r["Body"].read())
        return doc, str(r.get("ETag", "")) or None

    def _write(self, key: str, doc: dict[str, Any], etag: str | None) -> bool:
        kwargs: dict[str, Any] = {
            "Bucket": self.store.bucket,
            "Key": key,
            "Body": json.dumps(doc, sort_keys=True).encode(),
            "ContentType": "application/json",
        }
        if etag is None:
            kwargs["IfNoneMatch"] = "*"
        else:
            kwargs["IfMatch"] = etag
        try:
            self.store.s3.put_object(**kwargs)
        except ClientError as exc:
            if error_code(exc) in PRECONDITION_CODES or error_code(exc) == "409":
                return False
            raise
        return True

    def _doc(self, key: str, *, fresh: bool = False, etag_hint: str | None = None) -> dict[str, Any] | None:
        """A document through the request memo and the replica cache (``fresh`` bypasses both)."""
        memo = _MEMO.get()
        if not fresh and memo is not None and key in memo:
            return memo[key]  # type: ignore[no-any-return]
        now = time.monotonic()
        with self._lock:
            hit = self._docs.get(key)
        if (
            not fresh
            and hit is not None
            and (now - hit[0] < self.cache_seconds or (etag_hint is not None and hit[1] == etag_hint))
        ):
            if memo is not None:
                memo[key] = hit[2]
            return hit[2]
        doc, etag = self._read(key)
        with self._lock:
            self._docs[key] = (now, etag, doc)
            if len(self._docs) > 50_000:
                self._docs.clear()
        if memo is not None:
            memo[key] = doc
        return doc

    def _keys(self, prefix: str) -> dict[str, str]:
        """``{key: etag}`` of the documents under ``prefix`` (cached like the documents)."""
        memo = _MEMO.get()
        memo_key = ("list", prefix)
        if memo is not None and memo_key in memo:
            return memo[memo_key]  # type: ignore[no-any-return]
        now = time.monotonic()
        with self._lock:
            hit = self._listings.get(prefix)
        if hit is not None and now - hit[0] < self.cache_seconds:
            keys = hit[1]
        else:
            objects, _ = self.store.list_all(prefix, delimiter=None)
            keys = {o.key: o.etag for o in objects}
            with self._lock:
                self._listings[prefix] = (now, keys)
        if memo is not None:
            memo[memo_key] = keys
        return keys

    def _update(
        self, key: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read-modify-write with a conditional put, retried when another writer won the race.

        ``change`` gets a private copy of the current document (``None`` when absent) and returns the
        new one (``None``: delete the document); it may raise :class:`APIError` to refuse.
        """
        for attempt in range(30):
            current, etag = self._read(key)
            new = change(copy.deepcopy(current))
            if new is None:
                if current is not None:
                    self.store.delete(key)
                ok = True
            else:
                ok = self._write(key, new, etag)
            if ok:
                self._forget(key)
                return new
            time.sleep(random.uniform(0.005, 0.02) * (1 + attempt))
        raise APIError(503, "too many concurrent changes to the same sharing settings; try again")

    def _forget(self, key: str) -> None:
        with self._lock:
            self._docs.pop(key, None)
            self._listings.clear()
        memo = _MEMO.get()
        if memo is not None:
            memo.clear()

    # -- groups -------------------------------------------------------------------------------------------
    @staticmethod
    def _group_key(name: str) -> str:
        return f"{GROUPS_PREFIX}{name}.json"

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
        doc = self._doc(self._group_key(name), fresh=fresh)
        return _group_of(doc)

    def groups(self) -> list[Group]:
        out = []
        for key, etag in sorted(self._keys(GROUPS_PREFIX).items()):
            group = _group_of(self._doc(key, etag_hint=etag))
            if group is not None:
                out.append(group)
        return out

    def groups_of(self, user: str) -> list[Group]:
        return [g for g in self.groups() if user in g.members]

    def create_group(self, name: str, creator: str) -> Group:
        self._check_group_name(name)
        doc = {
            "name": name,
            "gid": secrets.token_hex(8),
            "admins": [creator],
            "members": [creator],
            "createdBy": creator,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if not self._write(self._group_key(name), doc, None):
            raise APIError(409, f"a group named {name!r} exists already")
        self._forget(self._group_key(name))
        group = _group_of(doc)
        assert group is not None
        return group

    def _admin_change(
        self, name: str, actor: str, change: Callable[[dict[str, Any]], None], *, self_ok: str | None = None
    ) -> Group:
        def apply(doc: dict[str, Any] | None) -> dict[str, Any]:
            if doc is None:
                raise APIError(404, f"no such group: {name}")
            if actor not in doc.get("admins", []) and actor != self_ok:
                raise APIError(403, f"access denied: you are not an administrator of group {name}")
            change(doc)
            return doc

        new = self._update(self._group_key(name), apply)
        group = _group_of(new)
        assert group is not None
        return group

    def delete_group(self, name: str, actor: str) -> None:
        def apply(doc: dict[str, Any] | None) -> None:
            if doc is None:
                raise APIError(404, f"no such group: {name}")
            if actor not in doc.get("admins", []):
                raise APIError(403, f"access denied: you are not an administrator of group {name}")

        self._update(self._group_key(name), apply)

    def add_member(self, name: str, actor: str, user: str, *, admin: bool = False) -> Group:
        if not self.user_exists(user):
            raise APIError(404, f"no such user: {user}")

        def change(doc: dict[str, Any]) -> None:
            if user not in doc["members"]:
                doc["members"].append(user)
            if admin and user not in doc["admins"]:
                doc["admins"].append(user)

        return self._admin_change(name, actor, change)

    def remove_member(self, name: str, actor: str, user: str) -> Group:
        """Remove a member (an administrator may remove anyone, a member may leave)."""

        def change(doc: dict[str, Any]) -> None:
            if user not in doc["members"]:
                raise APIError(404, f"{user} is not a member of group {name}")
            if doc["admins"] == [user]:
                raise APIError(409, f"{user} is the last administrator of group {name}; delete the group")
            doc["members"].remove(user)
            if user in doc["admins"]:
                doc["admins"].remove(user)

        return self._admin_change(name, actor, change, self_ok=user)

    def set_admin(self, name: str, actor: str, user: str, admin: bool) -> Group:
        if admin:
            return self.add_member(name, actor, user, admin=True)

        def change(doc: dict[str, Any]) -> None:
            if user not in doc["admins"]:
                raise APIError(404, f"{user} is not an administrator of group {name}")
            if doc["admins"] == [user]:
                raise APIError(409, f"{user} is the last administrator of group {name}")
            doc["admins"].remove(user)

        return self._admin_change(name, actor, change, self_ok=user)

    # -- ACL documents ------------------------------------------------------------------------------------
    @staticmethod
    def _acl_key(owner: str) -> str:
        return f"{ACL_PREFIX}{owner}.json"

    def _entries(self, owner: str, *, fresh: bool = False) -> dict[str, list[dict[str, Any]]]:
        doc = self._doc(self._acl_key(owner), fresh=fresh)
        entries = (doc or {}).get("entries")
        return entries if isinstance(entries, dict) else {}

    def _matches(self, entry: dict[str, Any], user: str | None, *, fresh: bool = False) -> bool:
        kind = entry.get("type")
        if kind == "public":
            return True
        if user is None:
            return False
        if kind == "user":
            return bool(entry.get("name") == user)
        if kind == "group":
            group = self.group(str(entry.get("name", "")), fresh=fresh)
            return group is not None and group.gid == entry.get("gid") and user in group.members
        return False

    def _live(self, entry: dict[str, Any]) -> bool:
        """False for an entry of a group that was deleted (or deleted and made again)."""
        if entry.get("type") != "group":
            return True
        group = self.group(str(entry.get("name", "")))
        return group is not None and group.gid == entry.get("gid")

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
                lvl = LEVEL_NAMES.get(str(entry.get("level")), Level.NONE)
                if entry.get("type") == "public":
                    lvl = min(lvl, Level.READ)  # type: ignore[assignment]
                if lvl > best and self._matches(entry, user, fresh=fresh):
                    best = lvl
        return best

    def entries(self, path: DMPath) -> list[Entry]:
        """The effective entries of ``path``: its own and those inherited from its ancestors."""
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
            for raw in entries.get(path.rel, ()):
                if not self._live(raw):
                    continue
                lvl = LEVEL_NAMES.get(str(raw.get("level")), Level.READ)
                out.append(
                    Entry(str(raw["type"]), str(raw.get("name") or ""), lvl, path, False, raw.get("gid"))
                )
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
            perms = ["R", "W"] if e.level >= Level.WRITE else ["R"]
            for perm in perms:
                ident = (sid["type"], sid["id"], perm)
                if ident not in seen:
                    seen.add(ident)
                    out.append((sid, perm))
        return out

    def grant(self, path: DMPath, kind: str, name: str, level: Level) -> None:
        """Grant (or change) ``kind``/``name``'s level on ``path``; the caller checked ownership."""
        entry: dict[str, Any] = {"type": kind, "name": name if kind != "public" else "", "level": level.label}
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
            entry["gid"] = group.gid

        def change(doc: dict[str, Any] | None) -> dict[str, Any]:
            doc = doc or {"owner": path.user, "entries": {}}
            entries = doc.setdefault("entries", {})
            if sum(len(v) for v in entries.values()) >= MAX_ENTRIES_PER_OWNER:
                raise APIError(409, f"too many sharing entries (at most {MAX_ENTRIES_PER_OWNER} per owner)")
            here = [e for e in entries.get(path.rel, []) if not _same(e, kind, name)]
            here.append(entry)
            entries[path.rel] = here
            return doc

        self._update(self._acl_key(path.user), change)

    def revoke(self, path: DMPath, kind: str, name: str) -> None:
        """Remove the entry granted on ``path`` itself (an inherited one: 409 naming where it is)."""

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            entries = (doc or {}).get("entries", {})
            here = entries.get(path.rel, [])
            if not any(_same(e, kind, name) for e in here):
                for rel in _ancestors(path.rel):
                    if rel != path.rel and any(_same(e, kind, name) for e in entries.get(rel, [])):
                        where = DMPath(path.user, rel).display()
                        raise APIError(
                            409,
                            f"this access is inherited from {where}; revoke it there (it cannot be "
                            "removed lower down)",
                        )
                raise APIError(404, f"no such sharing entry on {path.display()}")
            rest = [e for e in here if not _same(e, kind, name)]
            if rest:
                entries[path.rel] = rest
            else:
                entries.pop(path.rel, None)
            assert doc is not None
            return doc if entries else None

        self._update(self._acl_key(path.user), change)

    def forget_below(self, path: DMPath) -> None:
        """Drop every entry on ``path`` and below (the item was deleted)."""
        if not self._entries(path.user, fresh=True):
            return

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            if doc is None:
                return None
            entries = doc.get("entries", {})
            for rel in list(entries):
                if DMPath(path.user, rel).is_within(path):
                    entries.pop(rel)
            return doc if entries else None

        self._update(self._acl_key(path.user), change)

    # -- discovery ----------------------------------------------------------------------------------------
    def shared_with(self, user: str) -> dict[str, list[tuple[DMPath, Level]]]:
        """``{owner: [(path, level), ...]}`` of what other users shared with ``user`` (not the public)."""
        out: dict[str, list[tuple[DMPath, Level]]] = {}
        for owner, entries in self._all_entries():
            if owner == user:
                continue
            for rel, raw in sorted(entries.items()):
                best = Level.NONE
                for e in raw:
                    if e.get("type") in ("user", "group") and self._matches(e, user):
                        best = max(best, LEVEL_NAMES.get(str(e.get("level")), Level.READ))
                if best > Level.NONE:
                    out.setdefault(owner, []).append((DMPath(owner, rel), best))
        return out

    def public_items(self) -> list[DMPath]:
        out = []
        for owner, entries in self._all_entries():
            for rel, raw in sorted(entries.items()):
                if any(e.get("type") == "public" for e in raw):
                    out.append(DMPath(owner, rel))
        return out

    def _all_entries(self) -> Iterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
        for key, etag in sorted(self._keys(ACL_PREFIX).items()):
            if not key.endswith(".json"):
                continue
            owner = key[len(ACL_PREFIX) : -len(".json")]
            doc = self._doc(key, etag_hint=etag)
            entries = (doc or {}).get("entries")
            if isinstance(entries, dict) and entries:
                yield owner, entries

    # -- user search --------------------------------------------------------------------------------------
    def searchable(self, user: str) -> bool:
        return f"{NOSEARCH_PREFIX}{user}" not in self._keys(NOSEARCH_PREFIX)

    def set_searchable(self, user: str, searchable: bool) -> None:
        key = f"{NOSEARCH_PREFIX}{user}"
        if searchable:
            self.store.delete(key)
        else:
            self.store.put_bytes(key, b"", content_type="text/plain")
        self._forget(key)

    def search_users(self, prefix: str, users_prefix: str, limit: int = 20) -> list[str]:
        """Account names starting with ``prefix`` (case-sensitive), without those who opted out."""
        page = self.store.list_page(users_prefix + prefix, delimiter=None, max_keys=limit * 4 + 50)
        hidden = self._keys(NOSEARCH_PREFIX)
        names = []
        for obj in page.objects:
            if not obj.key.endswith(".json"):
                continue
            name = obj.key[len(users_prefix) : -len(".json")]
            if f"{NOSEARCH_PREFIX}{name}" not in hidden:
                names.append(name)
        return sorted(names)[:limit]

    # -- route helpers ------------------------------------------------------------------------------------
    def require(self, user: str | None, path: DMPath, need: Level) -> Level:
        """The caller's level on ``path``; 403 (:func:`denied`) when below ``need``."""
        have = self.level(user, path)
        if have < need:
            raise denied(path, need)
        return have


def _same(entry: dict[str, Any], kind: str, name: str) -> bool:
    return bool(entry.get("type") == kind and (kind == "public" or entry.get("name") == name))


def _group_of(doc: dict[str, Any] | None) -> Group | None:
    if not doc or not isinstance(doc.get("members"), list):
        return None
    return Group(
        name=str(doc.get("name", "")),
        gid=str(doc.get("gid", "")),
        admins=tuple(doc.get("admins", [])),
        members=tuple(doc.get("members", [])),
        created_by=str(doc.get("createdBy", "")),
    )


def access_of(request: Any) -> AccessStore:
    return request.app.state.access  # type: ignore[no-any-return]


def checked_path(
    request: Any, raw: str, user: str | None, need: Level, *, allow_root: bool = False
) -> DMPath | None:
    """Like :func:`common.own_path`, but any path the caller has ``need`` access to is accepted.

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


class AccessMiddleware:
    """Per request: a fresh memo (one snapshot of each ACL/group document) and the effectiveAcl source."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access: AccessStore | None = getattr(scope["app"].state, "access", None)
        memo_token = _MEMO.set({})
        aces_token = common.ACL_ENTRIES.set(access.aces if access is not None else None)
        try:
            await self.app(scope, receive, send)
        finally:
            common.ACL_ENTRIES.reset(aces_token)
            _MEMO.reset(memo_token)
