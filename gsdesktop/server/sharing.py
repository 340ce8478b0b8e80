"""Extension API for sharing (issue 19): ACLs, groups, user search, public links, virtual folders.

All under ``/datamanager/sharing/`` (JSON in and out, signed-in callers), plus the public links
``/public/users/<owner>/<path>`` (no sign-in). Paths may be given in either dialect (``/users/...`` or
``/Home/...``); answers use the dialect of the path given.

* ``GET /datamanager/sharing/acl/<path>`` -- the item's owner, your level and its entries (each with its
  level and whether it is inherited from a folder above, and where it was granted). Needs Read.
* ``POST /datamanager/sharing/acl/<path>`` ``{"type": "user"|"group"|"public", "name", "level":
  "read"|"write"}`` -- grant (or change) an entry; owner only. The public can only read.
* ``DELETE /datamanager/sharing/acl/<path>?type=user&name=bob`` -- revoke the entry granted on this path
  (an inherited one answers 409 naming the folder it comes from); owner only.
* ``GET /datamanager/sharing/shared`` -- what others shared with you, by owner; ``GET .../public`` -- every
  public item.
* ``GET|POST /datamanager/sharing/groups`` -- your groups / create one (you become its administrator);
  ``GET|DELETE .../groups/<name>``; ``POST .../groups/members`` ``{"group", "user", "admin"}``;
  ``DELETE .../groups/<name>/members/<user>`` (administrators; a member may leave);
  ``POST .../groups/admins`` ``{"group", "user"}``; ``DELETE .../groups/<name>/admins/<user>``.

Bodies are read by the routes themselves, after sign-in and capped at :data:`MAX_BODY` (no unauthenticated
caller makes the server read a body); their models are still in the OpenAPI document.
* ``GET /datamanager/sharing/users?prefix=al`` -- user names starting with ``al`` (at most 20), without
  those who opted out; ``GET|PUT /datamanager/sharing/me`` ``{"searchable": false}`` to opt out.

Virtual folders (views; shared items keep their canonical ``/users/<owner>/...`` paths): the root
``/Home`` (``/users``) lists the caller's folder, ``Shared to <user>`` and ``Public``;
``Shared to <user>`` lists one folder per owner who shared something, each listing those items.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from gsdesktop.server import formats, ops
from gsdesktop.server.access import Level, access_of, checked_path
from gsdesktop.server.auth import APIError, require_user, store_of
from gsdesktop.server.common import BETA, base_url, dir_json, iso, read_body
from gsdesktop.server.paths import DMPath, PathError, parse_path
from gsdesktop.server.users import USERS_PREFIX
from gsdesktop.server.wire import json_body

SHARED_PREFIX = "Shared to "
PUBLIC_FOLDER = "Public"
PUBLIC_LINK_PREFIX = "/public"
MAX_BODY = 16 * 1024

router = APIRouter(prefix="/datamanager/sharing", tags=["sharing"])
public_router = APIRouter(tags=["sharing"])


# -- models -------------------------------------------------------------------------------------------------
class AclEntry(BaseModel):
    type: Literal["user", "group", "public"]
    name: str | None = Field(None, description="user or group name; null for the public")
    level: Literal["read", "write"]
    inherited: bool = Field(description="granted on a folder above (revoke it there)")
    grantedOn: str = Field(description="the path the entry was granted on")


class AclView(BaseModel):
    path: str
    owner: str
    yourLevel: Literal["none", "read", "write", "owner"]
    entries: list[AclEntry]
    publicUrl: str | None = Field(None, description="the public link, while the item is public")


class GrantRequest(BaseModel):
    type: Literal["user", "group", "public"]
    name: str | None = Field(None, max_length=64, description="user or group name (not for the public)")
    level: Literal["read", "write"] = "read"


class SharedItem(BaseModel):
    path: str
    level: Literal["read", "write"]
    isDirectory: bool


class SharedOwner(BaseModel):
    owner: str
    items: list[SharedItem]


class SharedWithMe(BaseModel):
    owners: list[SharedOwner]


class PublicItem(BaseModel):
    path: str
    owner: str
    isDirectory: bool
    publicUrl: str


class PublicItems(BaseModel):
    items: list[PublicItem]


class GroupView(BaseModel):
    name: str
    admins: list[str]
    members: list[str]
    createdBy: str
    yourRole: Literal["admin", "member"] | None


class GroupList(BaseModel):
    groups: list[GroupView]


class GroupCreate(BaseModel):
    name: str = Field(max_length=64)


class MemberRequest(BaseModel):
    group: str = Field(max_length=64)
    user: str = Field(max_length=64)
    admin: bool = False


class AdminRequest(BaseModel):
    group: str = Field(max_length=64)
    user: str = Field(max_length=64)


class UserSearch(BaseModel):
    users: list[str]


class Preferences(BaseModel):
    name: str
    searchable: bool


class PreferencesUpdate(BaseModel):
    searchable: bool


# -- helpers ------------------------------------------------------------------------------------------------
M = TypeVar("M", bound=BaseModel)


async def _model(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``: read only after sign-in (the route's dependency), capped
    at :data:`MAX_BODY` (413), and 400 with a message when malformed, too deep or of the wrong shape."""
    body = await read_body(request, MAX_BODY)
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
        raise APIError(400, "invalid request body: " + "; ".join(parts)) from None


def _dialect(raw: str) -> str:
    try:
        return parse_path(raw).root
    except PathError:
        return BETA


def public_url(request: Request, path: DMPath) -> str:
    return base_url(request) + PUBLIC_LINK_PREFIX + quote(path.display(BETA), safe="/")


def acl_view(request: Request, path: DMPath, user: str | None, dialect: str) -> dict[str, Any]:
    access = access_of(request)
    entries = access.entries(path)
    public = any(e.type == "public" for e in entries)
    return {
        "path": path.display(dialect),
        "owner": path.user,
        "yourLevel": access.level(user, path).label,
        "entries": [e.to_json(dialect) for e in entries],
        "publicUrl": public_url(request, path) if public else None,
    }


def _item_path(request: Request, raw: str, user: str, need: Level) -> DMPath:
    path = checked_path(request, raw, user, need)
    assert path is not None
    if ops.stat(store_of(request), path) is None:
        raise APIError(404, f"not found: {path.display(_dialect(raw))}")
    return path


def _name_for(body_type: str, name: str | None) -> str:
    if body_type == "public":
        return ""
    if not name:
        raise APIError(400, f"a {body_type} entry needs a name")
    return name


# -- ACLs ---------------------------------------------------------------------------------------------------
@router.get("/acl/{path:path}", response_model=AclView)
def get_acl(request: Request, path: str, user: str = Depends(require_user)) -> Any:
    """The item's ACL (needs Read): owner, your level, entries with level and whether inherited."""
    dm = _item_path(request, path, user, Level.READ)
    return acl_view(request, dm, user, _dialect(path))


@router.post("/acl/{path:path}", response_model=AclView, openapi_extra=json_body(GrantRequest))
async def grant(request: Request, path: str, user: str = Depends(require_user)) -> Any:
    """Grant (or change) access for a user, a group or the public (owner only; the public reads only)."""
    body = await _model(request, GrantRequest)
    return await run_in_threadpool(_grant, request, path, user, body)


def _grant(request: Request, path: str, user: str, body: GrantRequest) -> Any:
    dm = _item_path(request, path, user, Level.OWNER)
    name = _name_for(body.type, body.name)
    access_of(request).grant(dm, body.type, name, Level.WRITE if body.level == "write" else Level.READ)
    return acl_view(request, dm, user, _dialect(path))


@router.delete("/acl/{path:path}", response_model=AclView)
def revoke(
    request: Request,
    path: str,
    type: Literal["user", "group", "public"] = Query(description="whose entry: user, group or public"),
    name: str | None = Query(None, max_length=64, description="the user or group (not for public)"),
    user: str = Depends(require_user),
) -> Any:
    """Revoke the entry granted on this path (owner only; an inherited entry answers 409)."""
    dm = checked_path(request, path, user, Level.OWNER)
    assert dm is not None
    access_of(request).revoke(dm, type, _name_for(type, name))
    return acl_view(request, dm, user, _dialect(path))


# -- discovery ----------------------------------------------------------------------------------------------
def _shared_items(request: Request, user: str) -> dict[str, list[tuple[DMPath, Level, bool]]]:
    store = store_of(request)
    out: dict[str, list[tuple[DMPath, Level, bool]]] = {}
    for owner, items in access_of(request).shared_with(user).items():
        for path, lvl in items:
            st = ops.stat(store, path)
            if st is not None:
                out.setdefault(owner, []).append((path, lvl, st.is_dir))
    return out


@router.get("/shared", response_model=SharedWithMe)
def shared_with_me(request: Request, user: str = Depends(require_user)) -> Any:
    """What other users shared with you (directly or through a group), grouped by owner."""
    owners = [
        {
            "owner": owner,
            "items": [
                {"path": p.display(BETA), "level": lvl.label, "isDirectory": is_dir}
                for p, lvl, is_dir in items
            ],
        }
        for owner, items in sorted(_shared_items(request, user).items())
    ]
    return {"owners": owners}


@router.get("/public", response_model=PublicItems)
def public_items(request: Request, user: str = Depends(require_user)) -> Any:
    """Every public item, with its public link."""
    store = store_of(request)
    items = []
    for path in access_of(request).public_items():
        st = ops.stat(store, path)
        if st is not None:
            items.append(
                {
                    "path": path.display(BETA),
                    "owner": path.user,
                    "isDirectory": st.is_dir,
                    "publicUrl": public_url(request, path),
                }
            )
    return {"items": items}


# -- groups -------------------------------------------------------------------------------------------------
@router.get("/groups", response_model=GroupList)
def my_groups(request: Request, user: str = Depends(require_user)) -> Any:
    """The groups you are a member (or administrator) of."""
    return {"groups": [g.to_json(user) for g in access_of(request).groups_of(user)]}


@router.post("/groups", response_model=GroupView, status_code=201, openapi_extra=json_body(GroupCreate))
async def create_group(request: Request, user: str = Depends(require_user)) -> Any:
    """Create a group; you are its first administrator (409 when the name is taken)."""
    body = await _model(request, GroupCreate)
    group = await run_in_threadpool(access_of(request).create_group, body.name, user)
    return group.to_json(user)


@router.get("/groups/{name}", response_model=GroupView)
def get_group(request: Request, name: str, user: str = Depends(require_user)) -> Any:
    """A group's administrators and members (members only)."""
    group = access_of(request).group(name)
    if group is None or user not in group.members:
        raise APIError(404, f"no such group, or you are not a member: {name}")
    return group.to_json(user)


@router.delete("/groups/{name}", status_code=204)
def delete_group(request: Request, name: str, user: str = Depends(require_user)) -> Response:
    """Delete a group (administrators); its grants stop at once on this replica, within 2 s on all."""
    access_of(request).delete_group(name, user)
    return Response(status_code=204)


@router.post("/groups/members", response_model=GroupView, openapi_extra=json_body(MemberRequest))
async def add_member(request: Request, user: str = Depends(require_user)) -> Any:
    """Add a member to a group (``admin: true``: as an administrator); administrators only."""
    body = await _model(request, MemberRequest)
    group = await run_in_threadpool(
        access_of(request).add_member, body.group, user, body.user, admin=body.admin
    )
    return group.to_json(user)


@router.delete("/groups/{name}/members/{member}", response_model=GroupView)
def remove_member(request: Request, name: str, member: str, user: str = Depends(require_user)) -> Any:
    """Remove a member (administrators; any member may remove themselves)."""
    return access_of(request).remove_member(name, user, member).to_json(user)


@router.post("/groups/admins", response_model=GroupView, openapi_extra=json_body(AdminRequest))
async def add_admin(request: Request, user: str = Depends(require_user)) -> Any:
    """Make a user an administrator (and a member) of a group; administrators only."""
    body = await _model(request, AdminRequest)
    group = await run_in_threadpool(access_of(request).set_admin, body.group, user, body.user, True)
    return group.to_json(user)


@router.delete("/groups/{name}/admins/{member}", response_model=GroupView)
def remove_admin(request: Request, name: str, member: str, user: str = Depends(require_user)) -> Any:
    """Take administrator rights away (they stay a member); the last administrator cannot go."""
    return access_of(request).set_admin(name, user, member, False).to_json(user)


# -- users --------------------------------------------------------------------------------------------------
@router.get("/users", response_model=UserSearch)
def search_users(
    request: Request,
    prefix: str = Query(min_length=1, max_length=64),
    limit: int = Query(20, ge=1, le=100),
    user: str = Depends(require_user),
) -> Any:
    """User names starting with ``prefix`` (not those who opted out of the search)."""
    return {"users": access_of(request).search_users(prefix, USERS_PREFIX, limit)}


@router.get("/me", response_model=Preferences)
def get_preferences(request: Request, user: str = Depends(require_user)) -> Any:
    return {"name": user, "searchable": access_of(request).searchable(user)}


@router.put("/me", response_model=Preferences, openapi_extra=json_body(PreferencesUpdate))
async def set_preferences(request: Request, user: str = Depends(require_user)) -> Any:
    """``{"searchable": false}`` hides you from the user search (people can still share by exact name)."""
    body = await _model(request, PreferencesUpdate)
    await run_in_threadpool(access_of(request).set_searchable, user, body.searchable)
    return {"name": user, "searchable": body.searchable}


# -- public links -------------------------------------------------------------------------------------------
@public_router.get(PUBLIC_LINK_PREFIX + "/{path:path}")
def public_link(request: Request, path: str) -> Response:
    """A public item without signing in: a file's bytes, a folder's listing (with links); 404 otherwise.

    The ACL is read fresh, so the link stops the moment public access is revoked.
    """
    gone = APIError(404, "no public item at this link (it may have been unshared)")
    try:
        parsed = parse_path(path)
    except PathError as exc:
        raise gone from exc
    dm = parsed.path
    if dm is None or access_of(request).level(None, dm, fresh=True) < Level.READ:
        raise gone
    store = store_of(request)
    st = ops.stat(store, dm)
    if st is None:
        raise gone
    if st.is_dir:
        objects, prefixes = store.list_all(dm.dir_key, delimiter="/")
        children = [DMPath.from_key(p) for p in prefixes]
        children += [DMPath.from_key(o.key) for o in objects if not o.key.endswith("/")]
        return JSONResponse(
            {
                "path": dm.display(BETA),
                "isDirectory": True,
                "contents": [{"name": c.name, "publicUrl": public_url(request, c)} for c in children],
            }
        )
    assert st.info is not None
    fmt = formats.format_for_filename(dm.name)
    name = quote(dm.name, safe="")
    return StreamingResponse(
        store.stream(dm.key),
        media_type=fmt.content_type if fmt else "application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "Content-Length": str(st.info.size),
        },
    )


# -- virtual folders ----------------------------------------------------------------------------------------
def _virtual_dir(base: str, dialect: str, owner: str, *names: str) -> dict[str, Any]:
    root = "/users" if dialect == BETA else "/Home"
    path = root + "".join("/" + n for n in names)
    prefix = "/datamanager/files" if dialect == BETA else "/datamanager/v1.0/file"
    parent = root + "".join("/" + n for n in names[:-1])
    return {
        "name": names[-1],
        "path": path,
        "url": base + prefix + quote(path, safe="/"),
        "parentUrl": base + prefix + quote(parent, safe="/"),
        "owner": {"name": owner, "id": owner, "type": "User"},
        "isDirectory": True,
        "directory": True,
        "isLink": False,
        "targetPath": None,
        "size": 0,
        "contentType": "",
        "lastModified": iso(None),
        "availableDataFormats": [],
    }


def root_contents(request: Request, user: str, dialect: str) -> list[dict[str, Any]]:
    """The root's children: the caller's folder, ``Shared to <user>`` and ``Public``."""
    base = base_url(request)
    return [
        dir_json(DMPath(user), base, dialect),
        _virtual_dir(base, dialect, user, SHARED_PREFIX + user),
        _virtual_dir(base, dialect, user, PUBLIC_FOLDER),
    ]


def is_virtual(raw: str) -> bool:
    segments = [s for s in raw.split("/") if s]
    return len(segments) >= 2 and (segments[1].startswith(SHARED_PREFIX) or segments[1] == PUBLIC_FOLDER)


def virtual_get(request: Request, raw: str, user: str, dialect: str, *, metadata: bool = False) -> Any:
    """The listing (or with ``metadata`` the folder's own metadata) of a virtual folder."""
    segments = [s for s in raw.split("/") if s]
    base = base_url(request)
    top, rest = segments[1], segments[2:]
    if top == PUBLIC_FOLDER:
        if rest:
            raise APIError(404, "the Public folder only lists public items; use their own paths")
        folder = _virtual_dir(base, dialect, user, PUBLIC_FOLDER)
        if metadata:
            return folder
        store = store_of(request)
        contents = []
        for path in access_of(request).public_items():
            try:
                contents.append(ops.metadata(store, path, base, dialect))
            except APIError:
                continue
        return {"directory": folder, "contents": contents}
    if top != SHARED_PREFIX + user:
        raise APIError(403, f"access denied: you can only see your own folder {SHARED_PREFIX}{user}")
    if len(rest) > 1:
        raise APIError(404, "shared items are used through their own paths (/users/<owner>/...)")
    shared = _shared_items(request, user)
    if not rest:
        folder = _virtual_dir(base, dialect, user, top)
        if metadata:
            return folder
        return {
            "directory": folder,
            "contents": [_virtual_dir(base, dialect, owner, top, owner) for owner in sorted(shared)],
        }
    owner = rest[0]
    if owner not in shared:
        raise APIError(404, f"{owner} has not shared anything with you")
    folder = _virtual_dir(base, dialect, owner, top, owner)
    if metadata:
        return folder
    store = store_of(request)
    contents = []
    for path, _lvl, _is_dir in shared[owner]:
        try:
            contents.append(ops.metadata(store, path, base, dialect))
        except APIError:
            continue
    return {"directory": folder, "contents": contents}
