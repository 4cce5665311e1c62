"""docs/configuration.md lists every KG_* environment variable the code reads, and only
those: the names are derived from the source of kg/ and webapp/ with `ast`, never
listed here.

A read is `os.environ.get(name)`, `os.environ[name]`, `os.environ.setdefault/pop(name)`,
`name in os.environ`, `os.getenv(name)` or `environ.get(name)`. `name` is a string
literal, or a name this file follows to its literal values: a loop variable over a
mapping of environment names (`for key, (env, default) in SETTINGS.items()`,
`for key, var in ENV.items()`), a helper's parameter (followed to the arguments of
every call of the helper in its module), a local or module-level constant, or one
imported from another module of the project. A read whose name cannot be followed to
literals fails the test, so a new way of reading the environment cannot slip past it.

Run as a script to print what the code reads (name, modules), e.g. to update the page:
    .venv/bin/python tests/test_configuration_doc.py
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"
PRODUCT = ("kg", "webapp")       # their KG_* variables are the page's table
TOOLS = ("benchmarks",)          # theirs are named in the page's prose
TABLE = "variables"              # the table sits between <!-- variables --> markers
NAME = re.compile(r"\bKG_[A-Z0-9_]*[A-Z0-9]\b")
ROW = re.compile(r"^\|(.*)\|\s*$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s#]+)(?:#[^)\s]*)?\)")
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
LITERALS = (ast.Constant, ast.Dict, ast.Tuple, ast.List, ast.Set)
MAX_DEPTH = 30


class Unresolved(Exception):
    """An environment read whose variable name is not (only) string literals."""


class Module:
    def __init__(self, path: Path):
        self.path = path
        self.rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node

    def ancestors(self, node: ast.AST):
        while node in self.parent:
            node = self.parent[node]
            yield node

    def where(self, node: ast.AST) -> str:
        return f"{self.rel}:{getattr(node, 'lineno', '?')}"


@cache
def module(path: Path) -> Module:
    return Module(path)


def _is_environ(expr: ast.expr) -> bool:
    return ((isinstance(expr, ast.Attribute) and expr.attr == "environ"
             and isinstance(expr.value, ast.Name) and expr.value.id == "os")
            or (isinstance(expr, ast.Name) and expr.id == "environ"))


def read_key(node: ast.AST) -> ast.expr | None:
    """The expression naming the variable if `node` reads the environment, else None."""
    if isinstance(node, ast.Call) and node.args:
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in ("get", "setdefault", "pop") and _is_environ(f.value):
            return node.args[0]
        if isinstance(f, ast.Attribute) and f.attr == "getenv" and isinstance(f.value, ast.Name) and f.value.id == "os":
            return node.args[0]
        if isinstance(f, ast.Name) and f.id == "getenv":
            return node.args[0]
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
        return node.slice
    if (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
            and _is_environ(node.comparators[0])):
        return node.left
    return None


def _binds(target: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target))


def literals(mod: Module, expr: ast.expr, depth: int = 0) -> list[ast.expr]:
    """The literal nodes (constants, dicts, tuples, lists, sets) `expr` can stand for."""
    if depth > MAX_DEPTH:
        raise Unresolved(f"{mod.where(expr)}: too many steps to a literal")
    if isinstance(expr, LITERALS):
        return [expr]
    if isinstance(expr, ast.Name):
        return _bound(mod, expr, depth + 1)
    raise Unresolved(f"{mod.where(expr)}: {ast.unparse(expr)} is not a literal or a name")


def _bound(mod: Module, name: ast.Name, depth: int) -> list[ast.expr]:
    """What `name` is bound to where it is used: the innermost loop, function or module
    that binds it."""
    n = name.id
    for scope in mod.ancestors(name):
        if isinstance(scope, ast.For) and _binds(scope.target, n) and any(
                name is x for stmt in scope.body for x in ast.walk(stmt)):
            return _from_loop(mod, scope.target, scope.iter, n, depth)
        if isinstance(scope, COMPREHENSIONS):
            for gen in scope.generators:
                if _binds(gen.target, n):
                    return _from_loop(mod, gen.target, gen.iter, n, depth)
        if isinstance(scope, FUNCTIONS):
            values = _assigned(mod, scope, n, depth)
            if values is not None:
                return values
            params = [a.arg for a in (*scope.args.posonlyargs, *scope.args.args)]
            if n in params or n in [a.arg for a in scope.args.kwonlyargs]:
                return _from_calls(mod, scope, n, depth)
        if isinstance(scope, ast.Module):
            values = _assigned(mod, scope, n, depth)
            if values is not None:
                return values
            return _imported(mod, n, name, depth)
    raise Unresolved(f"{mod.where(name)}: cannot follow {n}")


def _assigned(mod: Module, scope: ast.AST, n: str, depth: int) -> list[ast.expr] | None:
    """The values assigned to `n` directly in `scope` (not in nested functions), or None."""
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    found: list[ast.expr] | None = None
    todo = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            continue
        value = None
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == n for t in node.targets):
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == n:
            value = node.value
        elif isinstance(node, (ast.AugAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) \
                and node.target.id == n:
            raise Unresolved(f"{mod.where(node)}: {n} is changed in place")
        if value is not None:
            found = (found or []) + literals(mod, value, depth + 1)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _from_loop(mod: Module, target: ast.expr, it: ast.expr, n: str, depth: int) -> list[ast.expr]:
    """The values loop variable `n` takes: iterating a literal mapping (keys, values or
    items) or sequence, destructured by the loop's target."""
    kind, base = "iter", it
    if (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and not it.args
            and it.func.attr in ("items", "keys", "values")):
        kind, base = it.func.attr, it.func.value
    out: list[ast.expr] = []
    for container in literals(mod, base, depth + 1):
        if isinstance(container, ast.Dict):
            if any(k is None for k in container.keys):
                raise Unresolved(f"{mod.where(container)}: ** in a mapping of variables")
            elements = {"items": [ast.Tuple(elts=[k, v], ctx=ast.Load()) for k, v in
                                  zip(container.keys, container.values)],
                        "values": container.values}.get(kind, container.keys)
        elif isinstance(container, (ast.Tuple, ast.List, ast.Set)) and kind == "iter":
            elements = container.elts
        else:
            raise Unresolved(f"{mod.where(it)}: cannot iterate {ast.unparse(it)}")
        for element in elements:
            out += _destructure(mod, target, element, n, depth + 1)
    return out


def _destructure(mod: Module, target: ast.expr, value: ast.expr, n: str, depth: int) -> list[ast.expr]:
    if isinstance(target, ast.Name):
        return literals(mod, value, depth + 1) if target.id == n else []
    if isinstance(target, (ast.Tuple, ast.List)) and _binds(target, n):
        out: list[ast.expr] = []
        for seq in literals(mod, value, depth + 1):
            if (not isinstance(seq, (ast.Tuple, ast.List)) or len(seq.elts) != len(target.elts)
                    or any(isinstance(e, ast.Starred) for e in (*seq.elts, *target.elts))):
                raise Unresolved(f"{mod.where(value)}: cannot unpack {ast.unparse(value)} "
                                 f"into {ast.unparse(target)}")
            for t, v in zip(target.elts, seq.elts):
                out += _destructure(mod, t, v, n, depth + 1)
        return out
    return []


def _from_calls(mod: Module, func: ast.AST, n: str, depth: int) -> list[ast.expr]:
    """A helper's parameter: the arguments of every call of the helper in its module."""
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise Unresolved(f"{mod.where(func)}: {n} is a lambda's parameter")
    positional = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    calls = [c for c in ast.walk(mod.tree) if isinstance(c, ast.Call)
             and ((isinstance(c.func, ast.Name) and c.func.id == func.name)
                  or (isinstance(c.func, ast.Attribute) and c.func.attr == func.name))]
    if not calls:
        raise Unresolved(f"{mod.where(func)}: {func.name}() reads the variable named by its parameter {n}, "
                         "and is not called in its module")
    out: list[ast.expr] = []
    for call in calls:
        given = [k.value for k in call.keywords if k.arg == n]
        if not given and n in positional:
            i = positional.index(n) - (1 if positional[:1] in (["self"], ["cls"]) and
                                       isinstance(call.func, ast.Attribute) else 0)
            if i < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[:i + 1]):
                given = [call.args[i]]
        if not given:
            raise Unresolved(f"{mod.where(call)}: cannot tell the {n} of this call of {func.name}()")
        out += literals(mod, given[0], depth + 1)
    return out


def _imported(mod: Module, n: str, name: ast.Name, depth: int) -> list[ast.expr]:
    """A module-level name imported from another module of the project."""
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == n:
                    stem = ROOT.joinpath(*node.module.split("."))
                    for path in (stem.with_suffix(".py"), stem / "__init__.py"):
                        if path.is_file():
                            other = module(path)
                            ref = ast.Name(id=alias.name, ctx=ast.Load(), lineno=0)
                            other.parent[ref] = other.tree
                            return _bound(other, ref, depth + 1)
    raise Unresolved(f"{mod.where(name)}: cannot follow {n} to a literal")


def reads(packages: tuple[str, ...]) -> tuple[dict[str, set[str]], list[str]]:
    """Every environment variable read in `packages` -> the files reading it, and the
    reads whose variable could not be told."""
    found: dict[str, set[str]] = defaultdict(set)
    unresolved: list[str] = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            mod = module(path)
            for node in ast.walk(mod.tree):
                key = read_key(node)
                if key is None:
                    continue
                try:
                    values = literals(mod, key)
                    names = [v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
                    if len(names) != len(values):
                        raise Unresolved(f"{mod.where(key)}: {ast.unparse(key)} is not only strings")
                except Unresolved as e:
                    unresolved.append(f"{mod.where(node)} ({e})")
                    continue
                for name in names:
                    found[name].add(mod.rel)
    return dict(found), unresolved


def kg_reads(packages: tuple[str, ...]) -> dict[str, set[str]]:
    found, unresolved = reads(packages)
    assert not unresolved, f"environment reads whose variable name is not a literal this test can follow: {unresolved}"
    return {name: files for name, files in found.items() if name.startswith("KG_")}


def page_text() -> str:
    return PAGE.read_text(encoding="utf-8")


def table_rows() -> list[list[str]]:
    """The rows of the variables table that name a variable (group rows excluded)."""
    text = page_text()
    assert text.count(f"<!-- {TABLE} -->") == 1 and text.count(f"<!-- /{TABLE} -->") == 1, \
        f"{PAGE.name} needs one <!-- {TABLE} --> ... <!-- /{TABLE} --> section"
    section = text.split(f"<!-- {TABLE} -->")[1].split(f"<!-- /{TABLE} -->")[0]
    rows = []
    for line in section.strip().splitlines():
        m = ROW.match(line.strip())
        assert m, f"not a table row: {line!r}"
        cells = [c.strip() for c in m.group(1).split(" | ")]
        if re.fullmatch(r"[-:| ]+", line) or cells[0] == "variable" or cells[0].startswith("**"):
            continue                                   # separator, header, group rows
        rows.append(cells)
    return rows


def table() -> dict[str, list[str]]:
    """Variable -> its cells (default, what, read in, details)."""
    out: dict[str, list[str]] = {}
    for cells in table_rows():
        m = re.fullmatch(r"`(KG_[A-Z0-9_]+)`", cells[0])
        assert m, f"the first cell names one variable in backquotes: {cells[0]!r}"
        assert m.group(1) not in out, f"{m.group(1)} is listed twice"
        assert len(cells) == 5, f"{m.group(1)}: 5 cells (variable, default, what, read in, details), not {cells}"
        out[m.group(1)] = cells[1:]
    return out


def test_every_environment_read_is_understood():
    """A read this file cannot follow would hide its variable from the checks below."""
    for packages in (PRODUCT, TOOLS):
        _, unresolved = reads(packages)
        assert not unresolved, unresolved


def test_the_reader_finds_reads_of_every_form(tmp_path):
    """The extraction itself: each form of read in a sample module gives its variable,
    a write gives none, and a name it cannot follow is an error, not a silent miss."""
    sample = '''
import os
from os import environ, getenv
NAMES = {"a": "KG_MAPPED"}
PAIRS = {"b": ("KG_PAIRED", 1)}
def helper(env):
    return os.environ.get(env)
def f():
    os.environ.get("KG_GET"); os.environ["KG_ITEM"]; os.getenv("KG_GETENV"); environ.get("KG_ENVIRON")
    "KG_IN" in os.environ; getenv("KG_BARE")
    for key, var in NAMES.items():
        os.environ.get(var)
    for key, (env, default) in PAIRS.items():
        os.environ[env]
    helper("KG_HELPER")
    local = "KG_LOCAL"
    os.environ.get(local)
    os.environ["KG_WRITTEN"] = "1"
    [k for k in os.environ if k.startswith("KG_")]
'''
    path = tmp_path / "sample.py"
    path.write_text(sample, encoding="utf-8")
    mod = module(path)
    got = {v.value for node in ast.walk(mod.tree) if (k := read_key(node)) is not None
           for v in literals(mod, k)}
    assert got == {"KG_MAPPED", "KG_PAIRED", "KG_GET", "KG_ITEM", "KG_GETENV", "KG_ENVIRON", "KG_IN",
                   "KG_BARE", "KG_HELPER", "KG_LOCAL"}, got
    assert stray_names([path], got) == ["sample.py:18 KG_WRITTEN"]
    opaque = tmp_path / "opaque.py"
    opaque.write_text("import os\ndef f(prefix):\n    os.environ.get(prefix + 'X')\n", encoding="utf-8")
    mod = module(opaque)
    (key,) = [k for node in ast.walk(mod.tree) if (k := read_key(node)) is not None]
    with pytest.raises(Unresolved):
        literals(mod, key)


def test_table_lists_exactly_the_variables_the_code_reads():
    code, doc = kg_reads(PRODUCT), table()
    missing = sorted(set(code) - set(doc))
    unused = sorted(set(doc) - set(code))
    assert not missing, f"read in the code but not in the table of {PAGE.name}: " + \
        ", ".join(f"{n} ({', '.join(sorted(code[n]))})" for n in missing)
    assert not unused, f"in the table of {PAGE.name} but read nowhere in {'/, '.join(PRODUCT)}/: {unused}"


def test_table_names_the_files_that_read_each_variable():
    code = kg_reads(PRODUCT)
    wrong = {}
    for name, (_default, _what, read_in, _details) in table().items():
        listed = set(re.findall(r"`([\w/]+\.py)`", read_in))
        if name in code and listed != code[name]:
            wrong[name] = f"table: {sorted(listed)}, code: {sorted(code[name])}"
    assert not wrong, wrong


def test_every_row_is_filled_and_links_to_a_page_that_names_the_variable():
    for name, cells in table().items():
        assert all(cells), f"{name}: an empty cell"
        targets = LINK.findall(cells[3])
        assert targets, f"{name}: the last cell links to where it is described"
        for target in targets:
            dest = (PAGE.parent / target).resolve()
            assert dest.is_file(), f"{name}: {target} does not exist"
            assert name in dest.read_text(encoding="utf-8"), f"{name}: {target} does not mention it"


def test_prose_names_only_real_variables_and_those_of_the_tools():
    product, tools = kg_reads(PRODUCT), kg_reads(TOOLS)
    prose = page_text().split(f"<!-- {TABLE} -->")[0] + page_text().split(f"<!-- /{TABLE} -->")[1]
    named = set(NAME.findall(prose))
    assert named <= set(product) | set(tools), f"named but read nowhere: {sorted(named - set(product) - set(tools))}"
    only_tools = set(tools) - set(product)
    assert only_tools <= named, f"read by {', '.join(TOOLS)}/ only, not named: {sorted(only_tools - named)}"


def test_other_variables_the_product_reads_are_named():
    found, _ = reads(PRODUCT)
    others = sorted(n for n in found if not n.startswith("KG_"))
    missing = [n for n in others if f"`{n}`" not in page_text()]
    assert not missing, f"read by {', '.join(PRODUCT)}/, not named in {PAGE.name}: {missing}"


def test_every_kg_name_literal_in_the_code_is_a_variable_read():
    """A whole string literal KG_X that no read resolves to means a way of reading the
    environment the checks above miss (or a stale name)."""
    code = kg_reads(PRODUCT)
    paths = [p for package in PRODUCT for p in sorted((ROOT / package).rglob("*.py"))]
    stray = stray_names(paths, set(code))
    assert not stray, stray


def stray_names(paths: list[Path], known: set[str]) -> list[str]:
    """Whole string literals KG_X in `paths` that are not in `known` (prefixes such as
    "KG_" or "KG_SPARQL_" are not names)."""
    out = []
    for path in paths:
        mod = module(path)
        for node in ast.walk(mod.tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and re.fullmatch(r"KG_[A-Z0-9_]*[A-Z0-9]", node.value) and node.value not in known):
                out.append(f"{mod.where(node)} {node.value}")
    return sorted(out)


if __name__ == "__main__":
    for packages in (PRODUCT, TOOLS):
        found, unresolved = reads(packages)
        print(f"# {', '.join(packages)}")
        for name in sorted(found):
            print(f"{name:36} {', '.join(sorted(found[name]))}")
        for line in unresolved:
            print(f"UNRESOLVED {line}")
