"""The layers hold: nothing below the HTTP side imports it, and no module imports itself back
through others. Read from the sources with ``ast``, so a lazy import inside a function counts
too; imports only for type checkers (``if TYPE_CHECKING:``) do not."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
#: Packages that must not import ``hubbub.web``: the chat domain and everything under it.
BELOW_WEB = (
    "hubbub.chat",
    "hubbub.realtime",
    "hubbub.store",
    "hubbub.tokens",
    "hubbub.auth",
    "hubbub.webhooks",
    "hubbub.sync",
    "hubbub.twilsock",
    "hubbub.push",
    "hubbub.media",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = SRC / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(alias.name for alias in node.names if alias.name.startswith("hubbub"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not module.startswith("hubbub"):
            return
        for alias in node.names:
            # ``from hubbub.chat import render`` imports the module ``hubbub.chat.render``.
            full = f"{module}.{alias.name}"
            self.found.add(full if _is_module(full) else module)


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(), str(path)))
        graph[_module_name(path)] = visitor.found
    return {name: {d for d in deps if d in graph and d != name} for name, deps in graph.items()}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_nothing_below_the_http_side_imports_it() -> None:
    wrong = {
        name: sorted(d for d in deps if _within(d, "hubbub.web"))
        for name, deps in import_graph().items()
        if any(_within(name, package) for package in BELOW_WEB)
    }
    assert {name: deps for name, deps in wrong.items() if deps} == {}


def test_no_import_circles() -> None:
    graph = import_graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                circles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert circles == []


def test_the_checks_see_imports() -> None:
    """The graph is not empty by mistake: known edges are in it."""
    graph = import_graph()
    assert "hubbub.chat.render" in graph["hubbub.realtime.commands"]
    assert "hubbub.chat.messages" in graph["hubbub.web.rest.channels"]
