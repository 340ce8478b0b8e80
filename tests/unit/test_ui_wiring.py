"""The desktop app's wiring, read from the source (issue 17 item 3): no import cycle among the gsdesktop.ui
modules, counting imports inside functions (only ``if TYPE_CHECKING:`` imports excepted), and the app is
imported only by the start-up module: dialogs get the session through narrow Protocols, never the app."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "gsdesktop" / "ui"


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def ui_imports(ui: Path = UI, *, type_checking: bool = False) -> dict[str, set[str]]:
    """Module name (``app``, ``settings``, …) -> the gsdesktop.ui modules it imports anywhere in its body;
    ``if TYPE_CHECKING:`` blocks count only when ``type_checking`` is true."""
    modules = {p.stem for p in ui.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}

    for path in ui.glob("*.py"):
        if path.stem == "__init__":
            continue
        found: set[str] = set()

        def visit(node: ast.AST, found: set[str] = found) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node) and not type_checking:
                for child in node.orelse:
                    visit(child)
                return
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x / from .x import y
                    base = "gsdesktop.ui" + (f".{base}" if base else "")
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[:2] == ["gsdesktop", "ui"] and len(parts) > 2 and parts[2] in modules:
                    found.add(parts[2])
            for sub in ast.iter_child_nodes(node):
                visit(sub)

        visit(ast.parse(path.read_text(encoding="utf-8")))
        found.discard(path.stem)
        graph[path.stem] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the list of modules on it (depth-first search)."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    found.append([*path, start])
            elif nxt not in path and nxt > start:  # each cycle from its smallest module only
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def test_no_import_cycle_among_the_ui_modules() -> None:
    assert cycles(ui_imports()) == []


def test_only_the_start_up_imports_the_app_dialogs_get_the_session() -> None:
    importers = sorted(m for m, deps in ui_imports(type_checking=True).items() if "app" in deps)
    assert importers == ["runtime"]
