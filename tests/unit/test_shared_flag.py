"""``GSFileMetadata.shared``: read from ``effectiveAcl`` (the sharing emblem in the browser depends on it)."""

from __future__ import annotations

from typing import Any

from gsdesktop.datamanager.models import GSFileMetadata


def meta(acl: Any, owner: Any = None) -> GSFileMetadata:
    data = {"name": "a", "path": "/users/alice/a", "isDirectory": False}
    data["owner"] = owner if owner is not None else {"name": "alice", "type": "User"}
    if acl is not None:
        data["effectiveAcl"] = acl
    return GSFileMetadata.from_json(data)


def ace(kind: str, name: str, perm: str) -> dict[str, Any]:
    return {"permission": perm, "sid": {"id": name, "name": name, "type": kind}}


def test_only_the_owners_entries_is_not_shared() -> None:
    assert not meta(None).shared
    assert not meta({"accessControlEntries": [ace("User", "alice", "R"), ace("User", "alice", "W")]}).shared
    assert not meta({"accessControlEntries": [ace("User", "alice", "R")]}, owner="alice").shared


def test_a_user_a_group_or_the_public_makes_it_shared() -> None:
    own = [ace("User", "alice", "R"), ace("User", "alice", "W")]
    assert meta({"accessControlEntries": [*own, ace("User", "bob", "R")]}).shared
    assert meta({"accessControlEntries": [*own, ace("Group", "lab", "W")]}).shared
    assert meta({"accessControlEntries": [ace("User", "alice", "R"), ace("AllUsers", "public", "R")]}).shared


def test_odd_acls_are_tolerated_as_not_shared() -> None:
    odd: tuple[object, ...] = (
        "x",
        [],
        {"accessControlEntries": "x"},
        {"accessControlEntries": [1, {"sid": "x"}]},
    )
    for acl in odd:
        assert not meta(acl).shared


def test_the_count_of_extra_entries_tells_grants_made_below_a_shared_folder() -> None:
    own = [ace("User", "alice", "R"), ace("User", "alice", "W")]
    folder = meta({"accessControlEntries": [*own, ace("Group", "lab", "R")]})
    inside = meta({"accessControlEntries": [*own, ace("Group", "lab", "R"), ace("User", "bob", "R")]})
    assert (folder.acl_extra, inside.acl_extra) == (1, 2)
