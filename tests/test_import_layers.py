"""The package's import graph has no circles and no server layer imports a layer above it.

The graph holds every ``import`` in ``src/rethought``, function-level ones too (a lazy import
still ties two modules together). Imports under ``if TYPE_CHECKING:`` never run: they count for
the layer order (a lower module may not name a higher one even for a type checker) but not as
circles (query/declared.py declares, for type checkers, methods that return the queries it is a
base of). The layer order is docs/architecture.md's.
Run ``python tests/test_import_layers.py [SRC_ROOT]`` to print the graph's figures for a tree.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Lowest first; a module belongs to the longest prefix listed. A module may import its own
# layer and those below it, never one above (docs/architecture.md, "Layers").
LAYERS: list[tuple[str, ...]] = [
    ("rethought.proto", "rethought.errors", "rethought.datum", "rethought.version"),
    ("rethought.server.runtime",),
    ("rethought.server.geo",),
    ("rethought.server.storage",),
    ("rethought.server.feeds",),
    ("rethought.server.system",),
    ("rethought.server.query",),  # compile, scope, sequences: never the term modules
    ("rethought.server.query.terms",),
    ("rethought.server.query.engine",),
    ("rethought.server.wire",),
    # the process: serve, the web console, hot backups of the LMDB environment, the command line
    ("rethought.server.app", "rethought.console", "rethought.server", "rethought.backup",
     "rethought.serve_ops", "rethought.workers", "rethought.event_loop"),
    ("rethought.cli",),
    # the driver sits beside the server on the shared base and never imports it
    ("rethought.query",),
    ("rethought.client",),
    ("rethought", "rethought.__main__"),
]
# The server and the driver are separate towers: neither imports the other.
TOWERS = (
    ("rethought.server", "rethought.console", "rethought.backup", "rethought.serve_ops",
     "rethought.workers", "rethought.event_loop", "rethought.cli"),
    (
        "rethought.query",
        "rethought.client",
    ),
)


def module_files(src: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the ``rethought`` package under src."""
    mods = {}
    for path in sorted((src / "rethought").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The deepest known module that ``name`` (a module or an attribute of one) lives in."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def import_graph(src: Path = SRC, type_only: bool = True) -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in its text; with ``type_only``
    False, leaving out the imports only a type checker follows)."""
    mods = module_files(src)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        skip = set() if type_only else _type_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import name`: name may be a submodule or an attribute of pkg
                targets = [f"{prefix}.{a.name}" for a in node.names]
            for target in targets:
                found = _resolve(target, mods)
                if found and found != mod:
                    graph[mod].add(found)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found, key=len, reverse=True)


def _owner(mod: str, groups) -> int | None:
    best, best_len = None, -1
    for i, prefixes in enumerate(groups):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def layer_of(mod: str) -> int | None:
    """Index of mod's layer in LAYERS (the longest matching prefix), None if unlisted."""
    return _owner(mod, LAYERS)


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where the imported module is in a higher layer or the other
    tower."""
    bad = []
    for mod, deps in sorted(graph.items()):
        for dep in sorted(deps):
            lm, ld = layer_of(mod), layer_of(dep)
            tm, td = _owner(mod, TOWERS), _owner(dep, TOWERS)
            if (lm is not None and ld is not None and ld > lm) or (
                tm is not None and td is not None and tm != td
            ):
                bad.append((mod, dep))
    return bad


def levels(graph: dict[str, set[str]]) -> int:
    """Length of the longest import chain (in modules), circles collapsed to one node."""
    comp_of = {}
    for i, comp in enumerate(circles(graph)):
        for m in comp:
            comp_of[m] = f"#{i}"
    nodes: dict[str, set[str]] = {}
    for m, deps in graph.items():
        nodes.setdefault(comp_of.get(m, m), set()).update(
            comp_of.get(d, d) for d in deps if comp_of.get(d, d) != comp_of.get(m, m)
        )
    depth: dict[str, int] = {}

    def d(n: str) -> int:
        if n not in depth:
            depth[n] = 1 + max((d(x) for x in nodes[n]), default=0)
        return depth[n]

    return max(d(n) for n in nodes)


def test_every_module_has_a_layer():
    unlisted = [m for m in import_graph() if layer_of(m) is None]
    assert unlisted == []
    # A server module goes into the layer package it belongs to, not loose beside app.py.
    loose = [
        m
        for m, path in module_files(SRC).items()
        if m.count(".") == 2 and m.startswith("rethought.server.") and path.name != "__init__.py"
    ]
    assert loose == ["rethought.server.app"]


def test_no_import_circles():
    found = circles(import_graph(type_only=False))
    assert found == [], "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_upward_imports():
    bad = upward_imports(import_graph())
    assert bad == [], "imports from a lower layer to a higher one:\n" + "\n".join(
        f"{a} -> {b}" for a, b in bad
    )


def test_graph_sees_lazy_and_relative_imports():
    # The check is only as good as the graph: a function-level relative import must show up.
    graph = import_graph()
    assert "rethought.client" in graph["rethought"]  # `from .client import connect` in a method
    assert "rethought.errors" in graph["rethought.server.runtime.values"]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else SRC
    for label, g in (("", import_graph(root)), (" (run time)", import_graph(root, False))):
        server = {
            m: {d for d in ds if d.startswith("rethought.server")}
            for m, ds in g.items()
            if m.startswith("rethought.server")
        }
        for name, graph in (("all", g), ("server", server)):
            cs = circles(graph)
            print(
                f"{name}{label}: {len(graph)} modules, {levels(graph)} levels, {len(cs)} circles"
                f" (largest {max(map(len, cs), default=0)}), "
                f"{len(upward_imports(graph))} upward imports"
            )
            for c in cs:
                print("  circle:", " ".join(m.removeprefix("rethought.") for m in c))
