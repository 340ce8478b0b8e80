"""`gsdesktop tree` draws the listing the way tree(1) does."""

from __future__ import annotations

from gsdesktop.cli.files import tree_lines
from gsdesktop.datamanager.models import GSFileMetadata


def _meta(path: str, size: int | None = None) -> GSFileMetadata:
    return GSFileMetadata(
        name=path.rsplit("/", 1)[-1], path=path, url="", is_directory=size is None, size=size
    )


def test_connectors_nesting_and_order() -> None:
    root = "/users/a/run"
    entries = [
        _meta(f"{root}/z.txt", 1),
        _meta(f"{root}/b"),
        _meta(f"{root}/b/c"),
        _meta(f"{root}/b/c/deep.bam", 2048),
        _meta(f"{root}/b/x.fa", 0),
        _meta(f"{root}/a.txt", 12),
    ]
    assert tree_lines(root, entries) == [
        "├── b/",
        "│   ├── c/",
        "│   │   └── deep.bam  (2,048 bytes)",
        "│   └── x.fa  (0 bytes)",
        "├── a.txt  (12 bytes)",
        "└── z.txt  (1 byte)",
    ]


def test_empty_folder_draws_nothing() -> None:
    assert tree_lines("/users/a/empty", []) == []
