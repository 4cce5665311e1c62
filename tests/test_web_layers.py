"""The web app's layers, checked from the code with `ast` (docs/web.md, "Layers"):

    routes (HTTP) -> views / services -> repository / store

- no route module imports another route module, and no other module imports a route
  module (only the app factory, webapp/__init__.py, which registers the blueprints);
- services (webapp/services/) import no Flask: they take a repository or store and
  return data, so they run without a request;
- the app's state is read through webapp.state, not through `app.extensions` string keys;
- routes carry no SPARQL text and call no `.query(`: services do.

The one exception is pinned by name (FACTORY); everything else holds with no pins."""
from __future__ import annotations

import ast
import re
from pathlib import Path

WEBAPP = Path(__file__).resolve().parents[1] / "webapp"
ROUTES = "webapp.routes"
FACTORY = "webapp"          # create_app registers the blueprints: the one importer of routes
STATE = "webapp.state"      # the one module that touches app.extensions


SPARQL_TEXT = re.compile(r"\b(SELECT|CONSTRUCT|DESCRIBE)\b[\s\S]*\bWHERE\b"
                         r"|\bASK\s*(WHERE\s*)?\{|\bPREFIX\s+[\w-]*:\s*<")


def _module(path: Path) -> str:
    parts = path.relative_to(WEBAPP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    """Every module of webapp/ by its dotted name, parsed."""
    return {_module(p): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(WEBAPP.rglob("*.py"))}


def _is_module(name: str) -> bool:
    path = WEBAPP.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(module: str, tree: ast.Module) -> set[str]:
    """The webapp modules `module` imports, at module level or inside functions
    (`from webapp.routes import pages` names webapp.routes.pages)."""
    package = module if (WEBAPP.parent.joinpath(*module.split(".")) / "__init__.py").is_file() \
        else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")}
    return {m for m in out if m.split(".")[0] == "webapp" and _is_module(m)}


def _is_route(module: str) -> bool:
    return module.startswith(ROUTES + ".")


def route_imports() -> set[tuple[str, str]]:
    """(importer, route module) for every import of a route module outside the factory."""
    return {(m, i) for m, tree in _modules().items() if m != FACTORY
            for i in imported(m, tree) if _is_route(i) and i != m}


def flask_in_services() -> set[str]:
    """Service modules that import flask (or werkzeug): services must run without a request."""
    found = set()
    for m, tree in _modules().items():
        if not m.startswith("webapp.services"):
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("flask", "werkzeug") for n in names):
                found.add(m)
    return found


def extensions_users() -> set[str]:
    """Modules other than webapp.state that read or write `.extensions`."""
    return {m for m, tree in _modules().items() if m != STATE
            and any(isinstance(n, ast.Attribute) and n.attr == "extensions" for n in ast.walk(tree))}


def sparql_in_routes() -> set[str]:
    """Route modules holding SPARQL text (a string with SELECT ... WHERE, PREFIX p: <...>)
    or calling `.query(`."""
    found = set()
    for m, tree in _modules().items():
        if not _is_route(m):
            continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and SPARQL_TEXT.search(n.value):
                found.add(m)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "query":
                found.add(m)
    return found


def test_the_measures_see_what_they_look_for():
    """The checks find what they are meant to find (so an empty result means something)."""
    tree = ast.parse("from webapp.routes import pages\nfrom . import trace\n"
                     "def f():\n    from webapp.routes.sparql import bp\n")
    assert imported("webapp.routes.steward", tree) >= {"webapp.routes.pages", "webapp.routes.trace",
                                                       "webapp.routes.sparql"}
    assert SPARQL_TEXT.search("SELECT ?s WHERE { ?s ?p ?o }") and SPARQL_TEXT.search("ASK { ?iri ?p ?o }")
    assert not SPARQL_TEXT.search("Select the measures where a site is named")
    assert imported(FACTORY, _modules()[FACTORY]) >= {"webapp.routes.pages"}
    assert STATE in {m for m in _modules() if any(isinstance(n, ast.Attribute) and n.attr == "extensions"
                                                  for n in ast.walk(_modules()[m]))}


def test_no_route_imports_a_route_and_no_other_module_does():
    offenders = route_imports()
    assert not offenders, f"import a shared helper from a non-route module instead: {sorted(offenders)}"


def test_services_import_no_flask():
    assert not flask_in_services(), sorted(flask_in_services())


def test_app_state_is_read_through_the_state_module():
    found = extensions_users()
    assert not found, f"read the app's state through webapp.state.graph_state, not app.extensions: {sorted(found)}"


def test_routes_send_no_sparql():
    found = sparql_in_routes()
    assert not found, f"move the SPARQL into webapp/services/: {sorted(found)}"


def test_reload_swaps_the_graph_and_drops_what_was_derived(dist):
    """The state object keeps reload_graph's behaviour: a new repository from the same
    dist directory, no derived objects of the old graph, the old workers closed and new
    ones started by the next query."""
    from webapp import create_app, reload_graph
    from webapp.state import graph_state

    app = create_app({"KG_DIST": str(dist), "TESTING": True, "QUERY_WORKERS": 1})
    client = app.test_client()
    ask = {"query": "ASK { ?s ?p ?o }"}
    accept = {"Accept": "application/sparql-results+json"}
    assert client.get("/measures").status_code == 200
    assert client.get("/sparql", query_string=ask, headers=accept).status_code == 200
    state = graph_state(app)
    old_repo, old_runner = state.repo, state.query_runner
    assert "actions" in state.derived and old_runner is not None and state.dist == Path(dist)
    try:
        reload_graph(app)
        assert graph_state(app) is state and state.dist == Path(dist)
        assert state.repo is not old_repo and state.derived == {} and state.query_runner is None
        assert old_runner._closed
        assert client.get("/sparql", query_string=ask, headers=accept).status_code == 200
        assert state.query_runner is not None and state.query_runner is not old_runner
    finally:
        if state.query_runner is not None:
            state.query_runner.close()
