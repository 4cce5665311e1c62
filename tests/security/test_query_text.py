"""No query text is built from input (issue 10, part 1).

Two proofs. Statically: in the request-facing layer (webapp/) no call that runs a query
(`.query(`, `.select(`) is given text composed at the call (an f-string, `+`, `%` or
`.format`): query texts are module constants, and values enter through bindings.
Dynamically: every query the app runs while serving hostile paths is recorded, and
none of them contains any part of the request: the texts are the same whatever the
path, so no path can change a query's structure.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kg.store import Store

ROOT = Path(__file__).resolve().parents[2]
RUNNERS = {"query", "select"}


def _composed(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
        "format", "replace", "join")


SPARQL_WORDS = ("WHERE {", "ASK {", "SELECT ", "CONSTRUCT {", "VALUES ?", "GRAPH ?")


def _sparql_fstring(node: ast.AST) -> bool:
    """An f-string with interpolations whose constant parts read as SPARQL."""
    if not isinstance(node, ast.JoinedStr) or not any(isinstance(v, ast.FormattedValue) for v in node.values):
        return False
    text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return any(w in text for w in SPARQL_WORDS)


def composed_query_calls(path: Path) -> list[str]:
    """Calls that run a query on text composed at the call, and SPARQL text composed
    from values inside a function (module-level constants built from constants are
    the allowed way to write a family of queries)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNNERS
                and node.args and _composed(node.args[0])):
            out.add(f"{path.relative_to(ROOT)}:{node.lineno}")
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(fn):
                if _sparql_fstring(node):
                    out.add(f"{path.relative_to(ROOT)}:{node.lineno}")
    return sorted(out)


def test_the_lint_catches_a_composed_query(tmp_path):
    bad = ROOT / "webapp" / "_lint_probe.py"
    try:
        bad.write_text('def f(store, iri):\n    return store.query(f"ASK {{ <{iri}> ?p ?o }}")\n\n\n'
                       'def g(ask, iri):\n    return ask(f"ASK {{ <{iri}> ?p ?o }}")\n')
        assert composed_query_calls(bad) == ["webapp/_lint_probe.py:2", "webapp/_lint_probe.py:6"]
    finally:
        bad.unlink()


def test_no_query_text_is_composed_in_the_web_app():
    found = [hit for p in sorted((ROOT / "webapp").rglob("*.py")) for hit in composed_query_calls(p)]
    assert found == [], "query text composed at the call (bind the values instead): " + ", ".join(found)


# Each hostile value carries the marker "zqx", which no query of the app contains.
HOSTILE = [
    "measure/2.1zqx> ?p ?o } } SELECT * WHERE { ?s ?p ?o",
    "zqx%3E%20%7B%7B%7B%7B",
    "zqx" + "{" * 300,
    'measure/2.1zqx" ; ?p ?o',
    "measure/2.1zqx%0A%7D%20SERVICE%20%3Chttp%3A%2F%2F127.0.0.1%3A9%2F%3E%20%7B",
    "measure/2.1zqx#frag",
    "measure%2F2.1zqx",
    "measure/2.1zqx\\u003E",
    "country/UZBzqx'><script>",
    "zqx<>",
    "section/zqx%00",
    "zqx%20%7D%20%7D%20UNION%20%7B%20?s%20?p%20?o",
]
ROUTES = ["/{}", "/{}?format=ttl", "/trace/{}", "/browse/{}", "/search?q={}", "/measures?unit={}&q={}",
          "/measures?theme={}&format=csv", "/matrix?page={}", "/measures?given={}&kind={}",
          "/measure/2.1?list={}&page=2"]
MARKER = "zqx"


@pytest.fixture
def recorded(monkeypatch):
    seen: list[str] = []
    original = Store.query

    def record(self, sparql, **kw):
        seen.append(sparql)
        return original(self, sparql, **kw)
    monkeypatch.setattr(Store, "query", record)
    return seen


@pytest.mark.parametrize("route", ROUTES)
def test_hostile_paths_never_reach_a_query_text(client, recorded, route):
    for path in HOSTILE:
        r = client.get(route.format(path, path))
        assert r.status_code in (200, 400, 404), (route, path, r.status_code)
        body = r.get_data(as_text=True)
        assert "Traceback" not in body
    assert client.get("/measure/2.1").status_code == 200  # still answering
    assert recorded, "the routes ran queries"
    for text in recorded:
        assert MARKER not in text.lower(), f"request text reached a query: {text[:300]!r}"


def test_valid_but_unknown_iris_are_404_and_known_ones_found(client):
    assert client.get("/measure/2.1").status_code == 200
    assert client.get("/measure/99.99").status_code == 404
    assert client.get("/trace/measure/2.1").status_code == 200
    assert client.get("/trace/measure/2.1%3E").status_code == 404
    assert client.get("/browse/Measure").status_code == 200
    assert client.get("/browse/Measure%3E%20%7B").status_code == 404


def test_made_up_class_names_are_not_cached(app, client):
    from webapp.derived import per_graph

    for i in range(30):
        assert client.get(f"/browse/NoSuchClass{i}").status_code == 404
    with app.test_request_context():
        cache = per_graph("page_cache", dict)
        assert not any("NoSuchClass" in str(k) for k in cache)


@pytest.mark.slow
def test_bound_queries_give_the_same_pages_on_every_engine(dist, monkeypatch):
    """Bindings are Oxigraph substitutions on one engine and rdflib initBindings on the
    other: the pages built from them must not differ (the memory engine also answers
    the background label load and a request at the same time)."""
    from webapp import create_app

    pages = ["/measure/2.1", "/country/UZB", "/browse/Measure", "/trace/measure/2.1",
             "/measures?unit=introduced-groups", "/planning-unit/introduced-groups", "/", "/measure/99.99"]
    seen = {}
    for kind in ("oxigraph", "memory"):
        monkeypatch.setenv("KG_STORE", kind)
        c = create_app({"KG_DIST": str(dist), "TESTING": True}).test_client()
        seen[kind] = [(p, c.get(p).status_code, c.get(p).get_data(as_text=True)) for p in pages]
    assert [s for _, s, _ in seen["oxigraph"]] == [200, 200, 200, 200, 200, 200, 200, 404]
    assert seen["memory"] == seen["oxigraph"]
