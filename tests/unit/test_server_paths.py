"""Data Manager path validation and key mapping (no server needed)."""

from __future__ import annotations

import pytest

from gsdesktop.server.paths import DMPath, PathError, parse_path, parse_user_path, validate_username


def test_both_roots_map_to_the_same_key() -> None:
    beta = parse_user_path("/users/alice/a/b.txt")
    v1 = parse_user_path("Home/alice/a/b.txt")
    assert beta == v1 == DMPath("alice", "a/b.txt")
    assert beta.key == "users/alice/a/b.txt" and beta.dir_key == "users/alice/a/b.txt/"
    assert beta.display("beta") == "/users/alice/a/b.txt" and beta.display("v1") == "/Home/alice/a/b.txt"
    assert parse_path("/users/alice/").path == DMPath("alice")
    assert parse_path("/Home").path is None and parse_path("/Home").root == "v1"
    assert parse_user_path("/users/alice//a///b/").rel == "a/b"


def test_parent_child_within() -> None:
    p = DMPath("bob", "x/y/z")
    assert p.parent == DMPath("bob", "x/y") and p.name == "z"
    assert DMPath("bob").parent is None and DMPath("bob").name == "bob"
    assert p.is_within(DMPath("bob", "x")) and p.is_within(DMPath("bob"))
    assert not DMPath("bob", "xy").is_within(DMPath("bob", "x"))
    assert not p.is_within(DMPath("alice", "x"))
    assert DMPath.from_key("users/bob/x/y/") == DMPath("bob", "x/y")
    with pytest.raises(PathError):
        p.child("..")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("/users/a/../b", "'..'"),
        ("/users/a/x/%2e%2e/y", "'%2e%2e'"),
        ("/users/a/x/.%2E", "'.%2E'"),
        ("/users/a/./b", "'.'"),
        ("/users/a/b\\c", "backslash"),
        ("/users/a/b\x00c", "NUL"),
        ("/users/a/b\x1fc", "control character"),
        ("/users/a/b\x7fc", "control character"),
        ("/users/a/b\u0085c", "control character"),
        ("/users/a/" + "é" * 128, "255 bytes"),
        ("/etc/passwd", "unknown root"),
        ("/USERS/a", "unknown root"),
        ("", "must start"),
        ("/users/-bad/x", "invalid user name"),
        ("/users/" + "a" * 65, "invalid user name"),
    ],
)
def test_rejected_paths_have_clear_messages(raw: str, fragment: str) -> None:
    with pytest.raises(PathError) as info:
        parse_user_path(raw)
    assert fragment in str(info.value)


def test_accepted_names() -> None:
    for name in ("a b", "#?%+&=;", "日本語 🧬", "...", " x ", "a" * 255, "%41"):
        assert parse_user_path(f"/users/u/{name}").name == name
    assert validate_username("A.b_c-1") == "A.b_c-1"


def test_overlong_key_rejected() -> None:
    with pytest.raises(PathError, match="longer than"):
        parse_user_path("/users/u/" + "/".join(["d" * 200] * 6))
