"""Layering rules: only gsdesktop.ui imports Qt; the desktop install never needs server packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gsdesktop"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_ui_package_imports_qt() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "ui") in path.parents:
            continue
        qt = {m for m in _imported_modules(path) if m.split(".")[0] in ("PySide6", "shiboken6")}
        if qt:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(qt)}")
    assert offenders == []


def test_engine_and_client_load_without_qt_or_server_packages() -> None:
    code = (
        "import sys\n"
        "import gsdesktop.datamanager.client, gsdesktop.sync.engine, gsdesktop.cli.main\n"
        "gsdesktop.cli.main.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'fastapi', 'uvicorn', 'boto3', 'botocore'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_modules_stay_small() -> None:
    big = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800
    ]
    assert big == []
