"""The layers of the code, read from the source with ast.

Every import counts, wherever it sits: at module level, inside a function, under `if
TYPE_CHECKING:`. A function-level import hides a cycle from Python (the module runs
before the import does) but not from the reader: the modules of a cycle can only be
understood, tested and changed together. So:

- no import cycle among the modules of kg/ (cycles still to break would be pinned by
  name in PINNED_CYCLES, which may only shrink; it is empty);
- the core (kg/) never imports the web app, the benchmarks or the tests, except the
  one command that starts the web app (`kg serve`, kg/cli.py: cmd_serve);
- the web app never imports the benchmarks or the tests.

A dynamic import (importlib.import_module, __import__) would hide an edge from this
measure, so kg/ and webapp/ have none.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Cycles among kg modules not broken yet, each a frozenset of module names. A new cycle
# fails the test; so does a pinned one that no longer exists (take it off the list).
PINNED_CYCLES: frozenset[frozenset[str]] = frozenset()

# (importing module, enclosing function, imported top-level package): the only imports
# of webapp/, benchmarks/ or tests/ that kg/ may hold.
ALLOWED_OUTWARD = frozenset({("kg.cli", "cmd_serve", "webapp")})
OUTSIDE_CORE = ("webapp", "benchmarks", "tests")


def modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of a package directory."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(module: str, path: Path) -> Iterator[tuple[str, str, int]]:
    """(imported name, enclosing function or "", line) of every import statement of a
    module, wherever it sits; relative imports resolved, `from a import b` read as both
    a and a.b (b may be a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, where: str) -> Iterator[tuple[str, str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from visit(child, f"{where}.{child.name}" if where else child.name)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, where, child.lineno
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                yield base, where, child.lineno
                for alias in child.names:
                    yield f"{base}.{alias.name}", where, child.lineno
            yield from visit(child, where)

    yield from visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), "")


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (every import counted)."""
    mods = modules(package_dir)

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for name, _, _ in imports(m, path):
            target = known(name)
            if target and target != m:
                graph[m].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
    return found


def _describe(found: set[frozenset[str]], graph: dict[str, set[str]]) -> str:
    return "\n".join(f"  {sorted(c)}: " + "; ".join(f"{m} -> {sorted(graph[m] & c)}" for m in sorted(c))
                     for c in found)


def test_the_measure_sees_cycles_behind_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n")              # function level
    (pkg / "b.py").write_text("from .sub import c\n")                           # relative, module level
    (pkg / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                      "    from ..a import f\n")                 # type checking only
    (pkg / "d.py").write_text("import pkg.a\nclass D:\n    def m(self):\n        import pkg.d\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg", "pkg.b"} and graph["pkg.b"] == {"pkg.sub", "pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.a"} and graph["pkg.d"] == {"pkg.a"}
    assert cycles(graph) == {frozenset({"pkg.a", "pkg.b", "pkg.sub.c"})}
    where = {(name, fn) for name, fn, _ in imports("pkg.d", pkg / "d.py")}
    assert where == {("pkg.a", ""), ("pkg.d", "D.m")}


def test_no_import_cycle_among_kg_modules() -> None:
    graph = import_graph(ROOT / "kg")
    found = cycles(graph)
    new = found - PINNED_CYCLES
    assert not new, f"new import cycles among kg modules (every import counted):\n{_describe(new, graph)}"
    gone = PINNED_CYCLES - found
    assert not gone, f"pinned cycles no longer exist, take them off PINNED_CYCLES: {[sorted(c) for c in gone]}"


def test_the_core_imports_the_web_app_only_to_serve_it_and_never_benchmarks_or_tests() -> None:
    found = set()
    for m, path in modules(ROOT / "kg").items():
        for name, where, _line in imports(m, path):
            top = name.split(".")[0]
            if top in OUTSIDE_CORE:
                found.add((m, where, top))
    assert found == ALLOWED_OUTWARD, f"kg/ imports outside the core: {sorted(found - ALLOWED_OUTWARD)}"


def test_the_web_app_never_imports_benchmarks_or_tests() -> None:
    found = sorted((m, where, line, name) for m, path in modules(ROOT / "webapp").items()
                   for name, where, line in imports(m, path) if name.split(".")[0] in ("benchmarks", "tests"))
    assert not found, f"webapp/ imports benchmarks or tests: {found}"


def test_no_dynamic_imports_hide_an_edge() -> None:
    found = []
    for folder in ("kg", "webapp"):
        for m, path in modules(ROOT / folder).items():
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    fn = node.func
                    name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                    if name in ("import_module", "__import__"):
                        found.append((m, node.lineno))
    assert not found, f"dynamic imports (invisible to the layer checks): {found}"
