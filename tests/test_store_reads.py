"""What reading a store must not do, found by the W3C runs (tests/conformance):

- change the data: the memory engine keeps literals as the dataset writes them
  ("01"^^xsd:integer stays "01"; rdflib's parsers would write "1"), while
  comparisons by value still see "01" = 1;
- change the store: a query naming graphs the store lacks (FROM, FROM NAMED, the
  Protocol's dataset) leaves the store's graphs as they were;
- fail on a remote answer holding blank nodes: Virtuoso names them nodeID://...,
  and the sparql store turns them into blank nodes, one per name;
- fail with an internal error: a call of an unknown (extension) function is the
  user's query to fix (QueryFailed: CLI exit 2, HTTP 400 from the endpoint), on every
  engine.

Small datasets written here (the endpoint test uses the built graph); Virtuoso is a
real server (tests/virtuoso_server.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.config import SparqlSettings, settings
from kg.store import QueryFailed
from kg.stores.memory import MemoryStore
from kg.stores.oxigraph import OxigraphStore
from kg.stores.sparql import RemoteError, SparqlStore
from test_virtuoso import virtuoso  # noqa: F401  (a fresh server for this module)

ROOT = Path(__file__).resolve().parent.parent
KG = Path(sys.executable).with_name("kg")
XSD = "http://www.w3.org/2001/XMLSchema#"
EX = "http://example.org/"
UNKNOWN = "urn:x-test:no-such-graph"


def graph(name: str) -> str:
    """A graph under the configured base: the sparql store owns only those."""
    return settings().base + "graph/test-" + name


A, B = graph("a"), graph("b")
NQUADS = f"""
<{EX}x> <{EX}n> "01"^^<{XSD}integer> <{A}> .
<{EX}y> <{EX}n> "1"^^<{XSD}integer> <{A}> .
<{EX}z> <{EX}n> "+5"^^<{XSD}integer> <{A}> .
<{EX}x> <{EX}d> "1.0e0"^^<{XSD}double> <{B}> .
<{EX}x> <{EX}c> "2"^^<{XSD}nonNegativeInteger> <{B}> .
<{EX}x> <{EX}l> "chat"@fr <{B}> .
""".lstrip()


def literal(value: str, datatype: str) -> ox.Literal:
    return ox.Literal(value, datatype=ox.NamedNode(XSD + datatype))


@pytest.fixture
def nq(tmp_path) -> Path:
    path = tmp_path / "dataset.nq"
    path.write_text(NQUADS, encoding="utf-8")
    return path


def local_stores(nq: Path) -> dict:
    return {"memory": MemoryStore.from_file(nq), "oxigraph": OxigraphStore.in_memory(nq)}


# ---------------------------------------------------------------------------------
# The memory engine keeps literals as written

def test_memory_store_keeps_literals_as_written(nq):
    st = MemoryStore.from_file(nq)
    rows = st.query(f"SELECT ?s ?o WHERE {{ ?s <{EX}n> ?o }}")
    got = {r["s"].value: r["o"] for r in rows}
    assert got == {EX + "x": literal("01", "integer"), EX + "y": literal("1", "integer"),
                   EX + "z": literal("+5", "integer")}
    objects = {q.object for q in st.quads(None, ox.NamedNode(EX + "d"), None)}
    assert objects == {literal("1.0e0", "double")}
    constructed = {t.object for t in st.query(f"CONSTRUCT WHERE {{ <{EX}x> ?p ?o }}")}
    assert {literal("01", "integer"), literal("1.0e0", "double"), literal("2", "nonNegativeInteger"),
            ox.Literal("chat", language="fr")} <= constructed


def test_memory_store_still_compares_literals_by_value(nq):
    st = MemoryStore.from_file(nq)
    equal = {r["s"].value for r in st.query(f"SELECT ?s WHERE {{ ?s <{EX}n> ?o FILTER(?o = 1) }}")}
    assert equal == {EX + "x", EX + "y"}
    same = {r["s"].value for r in st.query(
        f'SELECT ?s WHERE {{ ?s <{EX}n> ?o FILTER(sameTerm(?o, "1"^^<{XSD}integer>)) }}')}
    assert same == {EX + "y"}  # "01" is another term
    ordered = [r["o"].value for r in st.query(f"SELECT ?o WHERE {{ ?s <{EX}n> ?o }} ORDER BY ?o ?s")]
    assert ordered[-1] == "+5" and sorted(ordered[:2]) == ["01", "1"]
    bound = st.query(f"SELECT ?s WHERE {{ ?s <{EX}n> ?o }}", bindings={"o": literal("01", "integer")})
    assert [r["s"].value for r in bound] == [EX + "x"]


# ---------------------------------------------------------------------------------
# Reads leave the store's graphs as they were

def graphs_listed(st) -> set[str]:
    return {r["g"].value for r in st.query("SELECT DISTINCT ?g WHERE { GRAPH ?g {} }")}


READS = [
    (f"SELECT * FROM <{UNKNOWN}> WHERE {{ ?s ?p ?o }}", {}),
    (f"SELECT * FROM NAMED <{UNKNOWN}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}", {}),
    (f"ASK FROM <{UNKNOWN}> FROM NAMED <{UNKNOWN}x> {{ ?s ?p ?o }}", {}),
    (f"CONSTRUCT {{ ?s ?p ?o }} FROM <{UNKNOWN}> WHERE {{ ?s ?p ?o }}", {}),
    ("SELECT * WHERE { ?s ?p ?o }", {"default_graph": [UNKNOWN]}),
    ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", {"named_graphs": [UNKNOWN, UNKNOWN + "y"]}),
    ("SELECT * WHERE { ?s ?p ?o }", {"default_graph": [], "named_graphs": []}),
]


@pytest.mark.parametrize("kind", ["memory", "oxigraph"])
def test_queries_naming_unknown_graphs_leave_the_store_as_it_was(nq, kind):
    st = local_stores(nq)[kind]
    assert st.graph_names() == [A, B] and graphs_listed(st) == {A, B}
    size = len(st)
    for text, dataset in READS:
        result = st.query(text, **dataset)
        if not isinstance(result, ox.QueryBoolean):
            assert list(result) == [], (text, dataset)
    assert st.graph_names() == [A, B]
    assert graphs_listed(st) == {A, B}
    assert len(st) == size
    assert {q.graph_name.value for q in st.quads(g=ox.NamedNode(UNKNOWN))} == set()
    assert graphs_listed(st) == {A, B}


# ---------------------------------------------------------------------------------
# Unknown functions are the user's error, on every engine

QUERIES_WITH_UNKNOWN_FUNCTION = [
    "SELECT * WHERE { BIND(<http://ex/f>(1) AS ?x) }",
    "ASK { ?s ?p ?o FILTER(<http://ex/f>(?o)) }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o BIND(<http://ex/f>(?o) AS ?x) }",
]


@pytest.mark.parametrize("kind", ["memory", "oxigraph"])
def test_unknown_function_is_query_failed_on_local_engines(nq, kind):
    st = local_stores(nq)[kind]
    for text in QUERIES_WITH_UNKNOWN_FUNCTION:
        with pytest.raises(QueryFailed, match=r"unknown function <http://ex/f>"):
            st.query(text)


def test_unknown_function_exits_2_from_the_cli(nq, tmp_path):
    dist = nq.parent
    env = {**os.environ, "KG_DIST": str(dist), "KG_STORE": "memory"}
    p = subprocess.run([str(KG), "query", QUERIES_WITH_UNKNOWN_FUNCTION[0]], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "unknown function <http://ex/f>" in p.stderr
    assert "Traceback" not in p.stderr
    ok = subprocess.run([str(KG), "query", f"SELECT ?o WHERE {{ <{EX}z> ?p ?o }}", "--format", "csv"],
                        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "+5" in ok.stdout  # the CLI's memory store, too, keeps the literal as written


def test_unknown_function_is_a_400_from_the_endpoint(dist):
    """The public endpoint (its query workers included) answers 400 with the reason."""
    from test_sparql_endpoint import close, make_app, send

    app = make_app(dist, QUERY_WORKERS=1)
    try:
        client = app.test_client()
        for how in ("get", "form", "direct"):
            r = send(client, how, QUERIES_WITH_UNKNOWN_FUNCTION[0])
            text = r.get_data(as_text=True)
            assert r.status_code == 400, (how, r.status_code, text)
            assert "unknown function <http://ex/f>" in text and "Traceback" not in text
        assert send(client, "get", "ASK { ?s ?p ?o }").status_code == 200
    finally:
        close(app)


# ---------------------------------------------------------------------------------
# A real Virtuoso: blank nodes in answers, unreadable answers, unknown functions

@pytest.fixture(scope="module")
def remote(virtuoso) -> SparqlStore:  # noqa: F811
    cfg = SparqlSettings(query_url=virtuoso.query_url, update_url=virtuoso.update_url, gsp_url=virtuoso.gsp_url,
                         user=virtuoso.user, password=virtuoso.password, timeout=30)
    st = SparqlStore(cfg)
    b1, b2, p = ox.BlankNode("one"), ox.BlankNode("two"), ox.NamedNode(EX + "p")
    st.replace_graphs({A: [ox.Triple(ox.NamedNode(EX + "s"), p, b1), ox.Triple(b1, p, b2),
                           ox.Triple(b2, p, ox.Literal("end"))]})
    return st


@pytest.mark.virtuoso
def test_remote_select_answers_blank_nodes(remote):
    rows = list(remote.query(f"SELECT ?s ?o WHERE {{ ?s <{EX}p> ?o }}"))
    by_subject = {r["s"]: r["o"] for r in rows}
    assert len(rows) == 3
    first = by_subject[ox.NamedNode(EX + "s")]
    assert isinstance(first, ox.BlankNode)
    second = by_subject[first]  # the same node name is the same blank node across rows
    assert isinstance(second, ox.BlankNode) and second != first
    assert by_subject[second] == ox.Literal("end")
    chain = list(remote.query(f"SELECT ?a ?b WHERE {{ <{EX}s> <{EX}p> ?a . ?a <{EX}p> ?b }}"))
    assert len(chain) == 1 and isinstance(chain[0]["a"], ox.BlankNode) and isinstance(chain[0]["b"], ox.BlankNode)
    assert remote.query("ASK { ?s ?p ?o FILTER(isBlank(?o)) }")


@pytest.mark.virtuoso
def test_remote_construct_answers_blank_nodes(remote):
    triples = list(remote.query(f"CONSTRUCT WHERE {{ ?s <{EX}p> ?o }}"))
    assert len(triples) == 3
    subjects = {t.subject for t in triples}
    blank_objects = [t.object for t in triples if isinstance(t.object, ox.BlankNode)]
    assert len(blank_objects) == 2 and set(blank_objects) <= subjects  # the chain is kept


@pytest.mark.virtuoso
def test_remote_unreadable_answer_is_a_remote_error(remote):
    """Virtuoso answers IRI("relative") with a relative IRI, which the results parser
    refuses: the store's RemoteError when the query runs, not a SyntaxError later."""
    with pytest.raises(RemoteError, match="unreadable results"):
        remote.query('SELECT (IRI("relative") AS ?x) WHERE {}')


@pytest.mark.virtuoso
def test_unknown_function_is_query_failed_on_the_sparql_engine(remote):
    for text in QUERIES_WITH_UNKNOWN_FUNCTION:
        with pytest.raises(QueryFailed, match=r"unknown function <http://ex/f>"):
            remote.query(text)


# ---------------------------------------------------------------------------------
# Relative IRIs resolve against the endpoint's IRI (the Protocol's base), on every engine

def _relative_answers(st) -> set[str]:
    return {str(t.subject.value) for t in st.query("CONSTRUCT { <s> <p> 1 } WHERE {}")}


@pytest.mark.parametrize("kind", ["memory", "oxigraph"])
def test_relative_iris_resolve_against_the_query_base(nq, kind):
    from kg.store import query_base

    st = local_stores(nq)[kind]
    base = query_base()
    assert base == settings().base + "sparql"
    assert _relative_answers(st) == {settings().base + "s"}
    # a BASE of the query's own wins
    rows = list(st.query("BASE <http://example.org/x/> CONSTRUCT { <s> <p> 1 } WHERE {}"))
    assert {str(t.subject.value) for t in rows} == {"http://example.org/x/s"}


def test_with_base_adds_a_base_only_when_the_prologue_has_none():
    from kg.store import query_base, with_base

    assert with_base("SELECT * { <s> ?p ?o }").startswith(f"BASE <{query_base()}>")
    assert with_base("PREFIX a: <x> BASE <y> SELECT * {}") == "PREFIX a: <x> BASE <y> SELECT * {}"
    # a word BASE inside a string or an IRI is not a declaration
    assert with_base('SELECT * { ?s ?p "BASE" }').startswith("BASE <")


@pytest.mark.virtuoso
def test_relative_iris_resolve_against_the_query_base_remotely(remote):
    assert _relative_answers(remote) == {settings().base + "s"}
