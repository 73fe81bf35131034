"""The house's floors, read from the import graph (ast only): messages → clock → venues →
supervision → actors → runtime. A module imports from its own floor or the ones below; an
import that runs up a floor fails here, and so does a new import circle between modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOORS = ("messages", "clock", "venues", "supervision", "actors", "runtime")

KNOWN_CIRCLES: frozenset[frozenset[str]] = frozenset({
    # Issue 11 untangles these; the list only shrinks (a circle that is gone must leave it).
})
"""Import circles not yet untangled; any other circle fails."""


def _modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for floor in FLOORS:
        for path in sorted((root / floor).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> Iterator[tuple[str, str]]:
    """(module, name) pairs ``module`` imports: ``import a.b`` gives ("a.b", ""), ``from a
    import b`` gives ("a", "b"). Imports made only for type checking count too: they tie the
    modules together as much for a reader."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                if not is_package:
                    parts = parts[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            yield from ((base, alias.name) for alias in node.names)


def graph(root: Path) -> dict[str, set[str]]:
    modules = _modules(root)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for base, name in _imports(module, path):
            # ``from package import submodule`` depends on the submodule; a module's own
            # parent packages are imported before it whatever it says, so they are no edge.
            target = resolve(f"{base}.{name}" if name else base)
            if (target is not None and target != module
                    and not module.startswith(target + ".")):
                edges[module].add(target)
    return edges


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    floor = {name: i for i, name in enumerate(FLOORS)}
    return sorted((m, t) for m, targets in edges.items() for t in targets
                  if floor[t.split(".")[0]] > floor[m.split(".")[0]])


def circles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start, targets in edges.items():
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(targets)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_runs_up_a_floor() -> None:
    assert upward(graph(ROOT)) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    for floor in FLOORS:
        (tmp_path / floor).mkdir()
        (tmp_path / floor / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "clock" / "wall.py").write_text(
        "from actors.thing import Thing\n", encoding="utf-8")
    (tmp_path / "actors" / "thing.py").write_text("class Thing: ...\n", encoding="utf-8")
    assert upward(graph(tmp_path)) == [("clock.wall", "actors.thing")]


def test_the_check_sees_a_circle(tmp_path: Path) -> None:
    for floor in FLOORS:
        (tmp_path / floor).mkdir()
        (tmp_path / floor / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "venues" / "a.py").write_text("from venues import b\n", encoding="utf-8")
    (tmp_path / "venues" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from venues.a import A\n",
        encoding="utf-8")
    (tmp_path / "venues" / "c.py").write_text("from venues import a\n", encoding="utf-8")
    assert circles(graph(tmp_path)) == [frozenset({"venues.a", "venues.b"})]


def test_no_new_import_circle() -> None:
    found = set(circles(graph(ROOT)))
    assert found - KNOWN_CIRCLES == set(), sorted(sorted(c) for c in found - KNOWN_CIRCLES)
    assert KNOWN_CIRCLES - found == set(), "a known circle is gone: remove it from the list"
