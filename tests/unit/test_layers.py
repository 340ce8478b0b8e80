"""Layering rules: only gsdesktop.ui imports Qt; the desktop install never needs server packages; no
import cycles among gsdesktop modules and no module imports another module's ``_private`` names.

Module size is not a rule (issue 17.5): a module is split by concern, never to fit a line count.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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


@dataclass
class _ImportGraph:
    """Every import among gsdesktop modules, read from the AST (see :func:`_import_graph`)."""

    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> the gsdesktop modules it imports
    private: list[str] = field(default_factory=list)  # "importer: from module import _name"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks (the only imports the rules leave out)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = (
                test.id
                if isinstance(test, ast.Name)
                else test.attr
                if isinstance(test, ast.Attribute)
                else ""
            )
            if name == "TYPE_CHECKING":
                skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


@functools.cache
def _import_graph(package_dir: Path = PACKAGE) -> _ImportGraph:
    """Imports at any level (module, class, function), ``importlib.import_module("literal")`` included;
    only imports under ``if TYPE_CHECKING:`` are left out."""
    modules = {_module_name(p, package_dir.parent): p for p in package_dir.rglob("*.py")}

    def owner(name: str) -> str | None:  # the module a dotted name lives in
        while name not in modules and "." in name:
            name = name.rpartition(".")[0]
        return name if name in modules else None

    graph = _ImportGraph()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_nodes(tree)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(owner(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in modules:
                        targets.add(submodule)
                        continue
                    targets.add(owner(source))
                    if alias.name.startswith("_") and not alias.name.startswith("__") and owner(source):
                        graph.private.append(f"{module}: from {source} import {alias.name}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                targets.add(owner(node.args[0].value))
        graph.edges[module] = {t for t in targets if t is not None and t != module}
    return graph


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else "(top level)"


_PACKAGES = ("(top level)", "cli", "datamanager", "refget", "server", "sync", "ui")


@pytest.mark.parametrize("package", _PACKAGES)
def test_no_import_cycles(package: str) -> None:
    cycles = _cycles(_import_graph().edges)
    mine = [" -> ".join(c) for c in cycles if package in {_package_of(m) for m in c}]
    assert mine == []


@pytest.mark.parametrize("package", _PACKAGES)
def test_no_module_imports_private_names_of_another(package: str) -> None:
    private = [line for line in _import_graph().private if _package_of(line.split(":")[0]) == package]
    assert private == []


# What each package may import (docs/architecture.md, README "Project layout"). The server and the
# client library meet only over HTTP; the engine knows only the client library; Qt stays in ui.
ALLOWED_PACKAGES = {
    "datamanager": set(),
    "sync": {"datamanager"},
    "refget": {"datamanager", "server"},  # runs inside the server: server.auth, server.access, the store
    "server": {"refget", "cli", "(top level)"},  # cli: only cli.common (below); top level: logfiles
    "ui": {"datamanager", "sync", "refget", "server", "(top level)"},  # server: the demo's embedded one
    "cli": {"datamanager", "sync", "refget", "server", "ui", "(top level)"},  # the entry point
    "(top level)": {"cli", "sync"},  # __main__ runs the CLI; logfiles formats sync events
}


def test_package_dependencies_follow_the_architecture() -> None:
    graph = _import_graph()
    wrong = []
    for module, targets in graph.edges.items():
        package = _package_of(module)
        for target in targets:
            other = _package_of(target)
            if other == package or target == "gsdesktop":  # the version
                continue
            if other not in ALLOWED_PACKAGES[package]:
                wrong.append(f"{module} -> {target}")
            elif package == "server" and other == "cli" and target != "gsdesktop.cli.common":
                wrong.append(f"{module} -> {target} (the server's CLI shares only gsdesktop.cli.common)")
    assert sorted(wrong) == []


def test_the_rules_count_function_level_and_importlib_imports_but_not_type_checking(tmp_path: Path) -> None:
    pkg = tmp_path / "gsdesktop"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from gsdesktop.sub.b import thing\n    return thing\n")
    (pkg / "sub" / "b.py").write_text("import importlib\nthing = importlib.import_module('gsdesktop.c')\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gsdesktop.d import D\n"
        "def g():\n    from .a import f\n    return f\n"
    )
    (pkg / "d.py").write_text("from gsdesktop.c import g\nfrom gsdesktop.sub.b import _hidden, __all__\n")
    graph = _import_graph(pkg)
    assert graph.edges["gsdesktop.c"] == {"gsdesktop.a"}  # the TYPE_CHECKING import is left out
    assert _cycles(graph.edges) == [["gsdesktop.a", "gsdesktop.c", "gsdesktop.sub.b"]]
    assert graph.private == ["gsdesktop.d: from gsdesktop.sub.b import _hidden"]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_only_the_entry_points_import_the_cli_main_module() -> None:
    """``gsdesktop.cli.main`` loads every command group; a command (the server's included) that imports
    it back is a back-edge: the CLI's shared pieces (``CommandError``) live in ``gsdesktop.cli.common``."""
    graph = _import_graph()
    importers = sorted(m for m, targets in graph.edges.items() if "gsdesktop.cli.main" in targets)
    # completion builds the whole parser to complete against it (main loads it by name, not by import)
    assert importers == ["gsdesktop.__main__", "gsdesktop.cli.completion"]


def test_one_function_reaches_into_botocore_for_the_signing_credentials() -> None:
    """botocore has no public accessor for a client's credentials; the fast URL signers get them from
    ``gsdesktop.server.presign.signing_credentials`` and nothing else touches botocore's internals."""
    private = ("_request_signer", "_credentials")
    reaches: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = {
            id(n): "<module>" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in private
        }
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                where.update({id(n): function.name for n in ast.walk(function) if id(n) in where})
        reaches.update(f"{path.relative_to(ROOT)}:{name}" for name in where.values())
    assert sorted(reaches) == ["gsdesktop/server/presign.py:signing_credentials"]


# Issue 17: no `Any` on what a class is built from or keeps. A constructor parameter or an attribute typed
# plain `Any` is an untyped collaborator (a client, engine, store, browser...) that other packages then use
# unchecked; one typed `object` and named like a collaborator is the same thing duck-typed.
COLLABORATOR_NAMES = {
    "app", "browser", "bridge", "client", "controller", "engine", "executor", "manager", "prefs", "presigner",
    "remote", "runner", "s3", "session", "store", "transfers", "transport", "watcher",
}  # fmt: skip
_BARE_ANY = {"Any", "typing.Any", "Any | None", "None | Any", "Optional[Any]"}
# Typed by other work on issue 17 (sync: the RemoteStore Protocol; datamanager: the transport). Each entry
# must still be an offender: once it is typed, remove it here so it stays typed.
PENDING = {
    "gsdesktop/datamanager/multipart.py:PartBody.__init__.fh: Any",
    "gsdesktop/sync/watch.py:WatchLoop._observer: Any",
}


def _untyped_collaborators() -> set[str]:
    found: set[str] = set()

    def check(where: str, name: str, annotation: ast.expr | None) -> None:
        if annotation is None:
            return
        text = ast.unparse(annotation).strip("'\"")
        duck_typed = text in ("object", "object | None") and name.lstrip("_") in COLLABORATOR_NAMES
        if text in _BARE_ANY or duck_typed:
            found.add(f"{where}.{name}: {text}")

    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(cls, ast.ClassDef):
                continue
            where = f"{module}:{cls.name}"
            for node in cls.body:
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):  # dataclass fields
                    check(where, node.target.id, node.annotation)
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if node.name == "__init__":
                    for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                        check(f"{where}.__init__", arg.arg, arg.annotation)
                for sub in ast.walk(node):  # self.x: T = ... in any method
                    if isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Attribute):
                        check(where, sub.target.attr, sub.annotation)
    return found


def test_no_untyped_collaborators_on_constructors_or_attributes() -> None:
    found = _untyped_collaborators()
    assert sorted(found - PENDING) == []
    assert sorted(PENDING - found) == [], "typed now: remove these from PENDING"
