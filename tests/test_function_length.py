"""No function of kg/ or webapp/ longer than LIMIT lines (ast: end_lineno - lineno + 1).

A long function holds several jobs that cannot be read, tested or changed apart. The
modules already split into small functions must stay so; the long functions elsewhere
are pinned by name in KNOWN, so that a new one fails and each one split up is taken off
the list (which only shrinks)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 60
# Split into small functions: none may grow long again.
REFACTORED = ("kg/incremental.py", "kg/check_support.py", "kg/addition_checks.py", "kg/csv_import.py")
# The long functions still to split, "path::qualified name" (nested and methods with dots).
KNOWN = frozenset({
    "kg/cli.py::parser",
    "webapp/describe.py::Describer.describe",
})


def _functions(node: ast.AST, prefix: str = ""):
    """(qualified name, length) of every function under node, nested ones included."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + child.name
            yield name, child.end_lineno - child.lineno + 1
            yield from _functions(child, name + ".")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, prefix + child.name + ".")
        else:
            yield from _functions(child, prefix)


def long_functions() -> dict[str, int]:
    """Every function of kg/ and webapp/ over LIMIT lines: "path::name" -> length."""
    out = {}
    for folder in ("kg", "webapp"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            rel = path.relative_to(ROOT).as_posix()
            out.update({f"{rel}::{name}": n for name, n in _functions(tree) if n > LIMIT})
    return out


def test_the_measure_counts_nested_functions_and_methods():
    tree = ast.parse("class A:\n    def m(self):\n        def inner():\n" + "            x = 1\n" * 70
                     + "        return inner\n")
    assert dict(_functions(tree)) == {"A.m": 73, "A.m.inner": 71}


def test_refactored_modules_have_no_long_functions():
    for rel in REFACTORED:
        assert (ROOT / rel).exists(), rel
    offenders = {k: n for k, n in long_functions().items() if k.split("::")[0] in REFACTORED}
    assert not offenders, f"functions over {LIMIT} lines: {offenders}"


def test_no_new_long_functions():
    found = long_functions()
    new = {k: n for k, n in found.items() if k not in KNOWN}
    assert not new, f"new functions over {LIMIT} lines (split them): {new}"
    assert len(found) <= len(KNOWN)


def test_the_list_of_known_long_functions_only_shrinks():
    fixed = KNOWN - set(long_functions())
    assert not fixed, f"no longer over {LIMIT} lines, take them off KNOWN: {sorted(fixed)}"
