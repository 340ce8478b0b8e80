"""FIPS machines refuse plain ``hashlib.md5()``: every MD5 here is a checksum, and says so."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gsdesktop"


def test_every_md5_is_marked_not_for_security() -> None:
    bad = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            plain = (
                isinstance(f, ast.Attribute)
                and f.attr == "md5"
                and isinstance(f.value, ast.Name)
                and f.value.id == "hashlib"
            )
            by_name = (
                isinstance(f, ast.Attribute)
                and f.attr == "new"
                and bool(node.args)
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).lower() == "md5"
            )
            is_md5 = plain or by_name
            marked = any(
                k.arg == "usedforsecurity" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords
            )
            if is_md5 and not marked:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not bad, f"hashlib.md5 without usedforsecurity=False: {bad}"
