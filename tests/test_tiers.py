"""The test tiers are honest: a test that needs Chromium, a Java runtime or Virtuoso
carries the marker `make test-fast` deselects it by, and no test carries one it does not
need (docs/development.md).

What a test needs is read from the code it runs, not from its name: the test function,
every fixture of its closure (as pytest resolves it, so a Virtuoso fixture reached
through a shared fixture counts), and every helper function of tests/ these call, are
parsed with `ast` and searched for what starts each tool (the `browser` fixture's
Playwright, owlready2's Java executable, tests/virtuoso_server.py) and for the command
lines that start one in a subprocess (`kg validate --reason`, `--hermit-limit N`,
`--stores sparql`). The collection runs in a subprocess, with a small plugin that writes
what it found for every collected test."""
from __future__ import annotations

import ast
import inspect
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
TOOLS = ("browser", "java", "virtuoso")
TIERS = (*TOOLS, "slow")

# What starts each tool, in the code of tests/.
NAMES = {
    "browser": {"sync_playwright", "async_playwright"},      # conftest's `browser` fixture
    "java": {"JAVA_EXE", "sync_reasoner", "sync_reasoner_hermit"},  # owlready2 looking for / running java
    "virtuoso": {"virtuoso_server", "w3c_virtuoso"},         # tests/virtuoso_server.py, conformance/w3c_virtuoso.py
}
MODULES = {"browser": ("playwright",), "java": (), "virtuoso": ("virtuoso_server", "benchmarks.virtuoso_server",
                                                                 "w3c_virtuoso")}
# Command lines (strings) that start one in a subprocess.
COMMANDS = {"java": re.compile(r"\bkg validate\b[^|;&]*--reason\b"), "virtuoso": re.compile(r"\bvirtuoso-t\b")}
# Options followed by their value in an argument list: (option, value) -> tool.
OPTIONS = {"--hermit-limit": lambda v: "java" if v.strip() not in ("", "0") else None,
           "--stores": lambda v: "virtuoso" if "sparql" in v.split(",") else None}


def _strings(value, depth: int = 0) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)) and depth < 3:
        return [s for v in value for s in _strings(v, depth + 1)]
    if isinstance(value, dict) and depth < 3:
        return [s for kv in value.items() for v in kv for s in _strings(v, depth + 1)]
    return []


def _defined_in(func, within: Path) -> bool:
    """func is defined in a file under `within`, and not here (this file names the
    tools as data)."""
    try:
        path = Path(inspect.getsourcefile(func) or "").resolve()
    except TypeError:
        return False
    return path.is_relative_to(within) and path != Path(__file__).resolve()


def _direct(func, within: Path, _cache: dict = {}) -> tuple[dict[str, str], list]:  # noqa: B006 (a cache)
    """({tool: evidence} in func's own code, [functions defined under `within` it names])."""
    key = (func, within)
    if key in _cache:
        return _cache[key]
    where = f"{Path(func.__code__.co_filename).resolve().relative_to(within)}::{func.__name__}"
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    found: dict[str, str] = {}
    callees = []
    # names bound in the function (its parameters, fixtures among them, and assignments) are not globals
    local = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
             for a in [*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg] if a is not None}
    local |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}

    def strings(texts, how: str) -> None:
        for text in texts:
            for tool, pattern in COMMANDS.items():
                if pattern.search(text):
                    found.setdefault(tool, f"{where}: {how} {text!r}")

    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
            for a in node.names:
                for tool, prefixes in MODULES.items():
                    if prefixes and a.name.startswith(prefixes):
                        found.setdefault(tool, f"{where}: import {a.name}")
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            for tool, prefixes in MODULES.items():
                if node.module and prefixes and node.module.startswith(prefixes):
                    found.setdefault(tool, f"{where}: from {node.module} import")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings([node.value], "the command")
        elif isinstance(node, (ast.List, ast.Tuple)):
            items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for option, value in zip(items, items[1:]):
                if option in OPTIONS and isinstance(value, str) and (tool := OPTIONS[option](value)):
                    found.setdefault(tool, f"{where}: {option} {value}")
        for name in names:
            for tool, wanted in NAMES.items():
                if name in wanted:
                    found.setdefault(tool, f"{where}: {name}")
            if isinstance(node, ast.Name) and name not in local and name in func.__globals__:
                value = inspect.unwrap(func.__globals__[name]) if callable(func.__globals__[name]) \
                    else func.__globals__[name]
                if isinstance(value, types.FunctionType):
                    if _defined_in(value, within) and value not in callees:
                        callees.append(value)
                else:
                    strings(_strings(value), f"{name} holds")
    _cache[key] = found, callees
    return found, callees


def needs_of(func, within: Path = TESTS) -> dict[str, str]:
    """{tool: evidence} for a function defined under `within` (tests/) and every function
    defined there that it names, and they name, and so on."""
    func = inspect.unwrap(func)
    if not isinstance(func, types.FunctionType) or not _defined_in(func, within):
        return {}
    found: dict[str, str] = {}
    seen = {func}
    todo = [(func, "")]
    while todo:
        f, path = todo.pop(0)
        own, callees = _direct(f, within)
        for tool, why in own.items():
            found.setdefault(tool, path + why)
        for callee in callees:
            if callee not in seen:
                seen.add(callee)
                todo.append((callee, f"{path}{f.__name__} -> "))
    return found


def describe(item) -> dict:
    """What the plugin below writes for one collected test."""
    needs: dict[str, str] = {}
    func = getattr(item, "function", None)
    if func is not None:
        needs.update(needs_of(func))
    for name, defs in item._fixtureinfo.name2fixturedefs.items():
        if name in item.fixturenames and defs:
            for tool, why in needs_of(defs[-1].func).items():
                needs.setdefault(tool, f"fixture {name}: {why}")
    return {"id": item.nodeid, "marks": sorted({m.name for m in item.iter_markers()}), "needs": needs}


PLUGIN = """
import json, os
import test_tiers

def pytest_collection_finish(session):
    with open(os.environ["TIERS_OUT"], "w", encoding="utf-8") as f:
        json.dump([test_tiers.describe(item) for item in session.items], f)
"""


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> list[dict]:
    """Every test of the suite, as the plugin saw it at collection."""
    tmp = tmp_path_factory.mktemp("tiers")
    (tmp / "tiers_probe.py").write_text(PLUGIN, encoding="utf-8")
    out = tmp / "items.json"
    env = {**os.environ, "TIERS_OUT": str(out),
           "PYTHONPATH": os.pathsep.join([str(tmp), str(TESTS), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "--strict-markers",
                        "-p", "tiers_probe", "-p", "no:cacheprovider", str(TESTS)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_whole_suite_is_seen(collected):
    ids = [i["id"] for i in collected]
    assert len(ids) > 1000, len(ids)
    assert any(i.startswith("tests/test_tiers.py::") for i in ids)
    # the detector itself finds each tool somewhere, or it finds nothing at all
    for tool in TOOLS:
        assert any(tool in i["needs"] for i in collected), f"no test found to need {tool}"


@pytest.mark.parametrize("tool", TOOLS)
def test_a_test_needing_a_tool_carries_its_marker(collected, tool):
    unmarked = [f"{i['id']}: {i['needs'][tool]}" for i in collected
                if tool in i["needs"] and tool not in i["marks"]]
    assert not unmarked, f"need {tool} but lack @pytest.mark.{tool}:\n" + "\n".join(unmarked)


@pytest.mark.parametrize("tool", TOOLS)
def test_no_test_carries_a_tool_marker_it_does_not_need(collected, tool):
    needless = [i["id"] for i in collected if tool in i["marks"] and tool not in i["needs"]]
    assert not needless, f"marked {tool} but start nothing of it (the fast tier loses them):\n" + "\n".join(needless)


PROBE = """
import subprocess

EXAMPLES = ["kg stats", "kg validate --reason | tail -1"]


def starts_virtuoso():
    import virtuoso_server
    return virtuoso_server


def uses_a_helper():
    return starts_virtuoso()


def uses_the_examples():
    return [c for c in EXAMPLES]


def bench_with_hermit():
    subprocess.run(["kg", "bench", "--hermit-limit", "60"])


def bench_without():
    subprocess.run(["kg", "bench", "--hermit-limit", "0", "--stores", "oxigraph,memory"])


def bench_on_sparql():
    subprocess.run(["kg", "bench", "--stores", "oxigraph,sparql"])


def curate_with_a_reason():
    subprocess.run(["kg", "curate", "decide", "--reason", "About Virtuoso and Java, in words only."])


def browser_in_words():
    return "a real browser (headless Chromium driven by Playwright)"


def drives_chromium():
    from playwright.sync_api import sync_playwright
    return sync_playwright
"""


@pytest.mark.parametrize("name, tools", [
    ("starts_virtuoso", {"virtuoso"}), ("uses_a_helper", {"virtuoso"}), ("uses_the_examples", {"java"}),
    ("bench_with_hermit", {"java"}), ("bench_without", set()), ("bench_on_sparql", {"virtuoso"}),
    ("curate_with_a_reason", set()), ("browser_in_words", set()), ("drives_chromium", {"browser"}),
])
def test_the_detector_reads_helpers_and_command_lines(tmp_path, monkeypatch, name, tools):
    """needs_of on code written here: each way of needing a tool is found, and code that
    only names a tool in passing is not."""
    import importlib

    (tmp_path / "tiers_probe_code.py").write_text(PROBE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("tiers_probe_code", None)
    module = importlib.import_module("tiers_probe_code")
    monkeypatch.delitem(sys.modules, "tiers_probe_code")
    found = needs_of(getattr(module, name), within=tmp_path)
    assert set(found) == tools, found


def test_the_shared_fixtures_are_read_through(collected):
    """A test that reaches Virtuoso only through fixtures of another module (sparql_env
    of test_virtuoso, imported by test_store_dataset) is found to need it."""
    import test_store_dataset

    by_id = {i["id"]: i for i in collected}
    item = by_id["tests/test_store_dataset.py::test_dataset_clauses_on_virtuoso"]
    assert "virtuoso" not in inspect.signature(test_store_dataset.test_dataset_clauses_on_virtuoso).parameters
    why = item["needs"].get("virtuoso", "")
    assert why.startswith("fixture ") and "test_virtuoso.py::virtuoso: import virtuoso_server" in why, item


def test_markers_used_are_registered(pytestconfig):
    registered = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in pytestconfig.getini("markers")}
    assert set(TIERS) <= registered, registered
    used: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "mark" and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "pytest"):
                used.setdefault(node.attr, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    unknown = {name: where for name, where in used.items() if name not in registered}
    assert not unknown, f"markers not registered in tests/conftest.py: {unknown}"
    assert set(TIERS) <= set(used), f"tier markers used nowhere: {set(TIERS) - set(used)}"


def makefile_target(name: str) -> tuple[str, list[str]]:
    """(prerequisites, recipe lines) of a Makefile target."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(name)}:([^\n]*)\n((?:\t[^\n]*\n)*)", text, re.M)
    assert m, f"no `{name}` target in the Makefile"
    return m.group(1), [line.strip() for line in m.group(2).splitlines()]


def pytest_args(recipe: list[str]) -> list[str]:
    """The arguments after `-m pytest` of the one pytest command of a recipe."""
    (command,) = [shlex.split(line) for line in recipe if "pytest" in line]
    i = command.index("pytest")
    assert command[i - 1] == "-m", command  # python -m pytest
    return command[i + 1:]


def test_make_test_fast_needs_no_system_packages_and_deselects_every_tier():
    prerequisites, recipe = makefile_target("test-fast")
    assert "system-deps" not in prerequisites.split(), prerequisites
    args = pytest_args(recipe)
    assert "--strict-markers" in args, args
    assert "-m" in args, args
    assert args[args.index("-m") + 1] == " and ".join(f"not {t}" for t in TIERS), args


def test_make_test_runs_every_tier():
    prerequisites, recipe = makefile_target("test")
    assert "system-deps" in prerequisites.split(), prerequisites
    args = pytest_args(recipe)
    assert "--strict-markers" in args and "-m" not in args, args
