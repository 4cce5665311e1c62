"""Dataset semantics, datatype fidelity and engine agreement of kg.store, on every
engine (memory, Oxigraph in memory and on disk, and Virtuoso through the sparql store).

- The dataset: no clause = the union of the named graphs as default graph; FROM /
  FROM NAMED restrict it (SPARQL 1.1 section 13.2); the Protocol's default-graph-uri
  / named-graph-uri replace the query's clauses (Protocol section 2.1.4). Expected
  counts are computed here from dist/dataset.nq, not from a store.
- Fidelity: a CONSTRUCT of everything is the graph dist/dataset.nq holds, literal for
  literal ("2"^^xsd:nonNegativeInteger stays that, not "2"^^xsd:integer).
- Agreement: every competency query of queries/ gives the same answer on memory and
  Oxigraph (row order compared where the query has ORDER BY; the items of a
  GROUP_CONCAT as a multiset, SPARQL leaves their order open), also on data where
  their OPTIONAL parts find nothing.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kg import query as kgquery, sparql_forms
from kg.sparql_lexer import tokens
from kg.store import QueryFailed

# Virtuoso (started once for this module, ~3 s) and the workspace pushed into it
from test_virtuoso import _store, sparql_env, virtuoso  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
KG = Path(sys.executable).with_name("kg")
BASE = "https://w3id.org/bukhara-deer/"
ONTO, DATA, CURATION = BASE + "graph/ontology", BASE + "graph/data", BASE + "graph/curation"
XSD = "http://www.w3.org/2001/XMLSchema#"
LOCAL = ("memory", "oxigraph", "oxigraph-in-memory")


def open_local(dist: Path, kind: str):
    from kg.store import open_store
    from kg.stores.oxigraph import OxigraphStore

    if kind == "oxigraph-in-memory":
        return OxigraphStore.in_memory(dist / "dataset.nq")
    return open_store(dist, kind)


@pytest.fixture(scope="module")
def stores(dist):
    return {kind: open_local(dist, kind) for kind in LOCAL}


@pytest.fixture(scope="module")
def quads(dist) -> list[ox.Quad]:
    """dist/dataset.nq as written, read by a parser that changes no literal."""
    return list(ox.parse(path=str(dist / "dataset.nq"), format=ox.RdfFormat.N_QUADS))


def triples_in(quads: list[ox.Quad], graphs: set[str] | None = None) -> set:
    """The RDF merge of some named graphs of the dump (all if None), as a set."""
    return {q.triple for q in quads if graphs is None or q.graph_name.value in graphs}


# ---------------------------------------------------------------------------------
# Reading the dataset clause from the query's tokens

@pytest.mark.parametrize("text, names", [
    ("SELECT * WHERE { ?s ?p ?o }", False),
    ("SELECT * FROM <urn:g> WHERE { ?s ?p ?o }", True),
    ("select * from named <urn:g> { ?s ?p ?o }", True),
    ("PREFIX g: <urn:g:> SELECT (COUNT(*) AS ?n) FROM g:a WHERE { ?s ?p ?o }", True),
    ("CONSTRUCT { ?s ?p ?o } FROM <urn:g> WHERE { ?s ?p ?o }", True),
    ("DESCRIBE <urn:x> FROM <urn:g>", True),
    ("ASK \\u0046ROM <urn:g> { ?s ?p ?o }", True),                        # escapes are read first
    ("SELECT * WHERE { ?s ?p \"FROM <urn:g>\" }", False),                  # in a string
    ("SELECT * WHERE { ?s ?p <urn:FROM> } # FROM <urn:g>", False),         # in an IRI, a comment
    ("PREFIX from: <urn:f:> SELECT ?from WHERE { ?from from:x ?o }", False),  # a prefix, a variable
    ("SELECT * WHERE { { SELECT ?s WHERE { ?s ?p ?o } } }", False),
])
def test_dataset_clause_is_read_from_tokens(text, names):
    assert sparql_forms.inspect(text).dataset is names


# ---------------------------------------------------------------------------------
# FROM / FROM NAMED / Protocol dataset, on every engine

def dataset_cases(quads: list[ox.Quad]) -> list[tuple[str, dict, object]]:
    """(query, Protocol dataset, expected answer): a count, or the set of graph names
    GRAPH ?g ranges over. Expectations come from the dump."""
    count = "SELECT (COUNT(*) AS ?n) {} WHERE {{ ?s ?p ?o }}"
    graphs = "SELECT DISTINCT ?g {} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    every = {q.graph_name.value for q in quads}
    return [
        (count.format(""), {}, len(triples_in(quads))),
        (count.format(f"FROM <{ONTO}>"), {}, len(triples_in(quads, {ONTO}))),
        (count.format(f"FROM <{ONTO}> FROM <{DATA}>"), {}, len(triples_in(quads, {ONTO, DATA}))),
        ("PREFIX g: <" + BASE + "graph/> " + count.format("FROM g:ontology"), {}, len(triples_in(quads, {ONTO}))),
        (count.format("FROM <urn:no-such-graph>"), {}, 0),
        (count.format("FROM <http://127.0.0.1:9/nothing-listens-here>"), {}, 0),   # never fetched
        (count.format(f"FROM NAMED <{ONTO}>"), {}, 0),          # FROM NAMED alone: empty default graph
        (count.format("# FROM <urn:no-such-graph>\n"), {}, len(triples_in(quads))),   # a comment is no clause
        (graphs.format(""), {}, every),
        (graphs.format(f"FROM NAMED <{ONTO}> FROM NAMED <{DATA}>"), {}, {ONTO, DATA}),
        (graphs.format(f"FROM <{ONTO}>"), {}, set()),           # FROM alone: no named graphs
        # the Protocol's dataset replaces the query's
        (count.format(f"FROM <{ONTO}>"), {"default_graph": [DATA]}, len(triples_in(quads, {DATA}))),
        (count.format(f"FROM NAMED <{ONTO}>"), {"default_graph": [CURATION]}, len(triples_in(quads, {CURATION}))),
        (graphs.format(f"FROM NAMED <{ONTO}>"), {"default_graph": [], "named_graphs": [DATA]}, {DATA}),
        (graphs.format(f"FROM <{ONTO}>"), {"default_graph": [ONTO]}, every),
    ]


def answer(result) -> object:
    rows = list(result)
    if result.variables == [ox.Variable("n")]:
        return int(rows[0]["n"].value)
    return {r["g"].value for r in rows}


@pytest.mark.slow
@pytest.mark.parametrize("kind", LOCAL)
def test_dataset_clauses_and_protocol_dataset(stores, quads, kind):
    st = stores[kind]
    for text, protocol, expected in dataset_cases(quads):
        assert answer(st.query(text, **protocol)) == expected, (kind, text, protocol)


@pytest.mark.virtuoso
def test_dataset_clauses_on_virtuoso(sparql_env, quads):  # noqa: F811  (the fixture imported above)
    """The same cases through the sparql store: Virtuoso left to itself ranges GRAPH ?g
    over its system graphs, adds FROM to default-graph-uri, and gives FROM without
    FROM NAMED every graph as named graph; the store sends the dataset itself."""
    st = _store(sparql_env, "sparql")
    for text, protocol, expected in dataset_cases(quads):
        assert answer(st.query(text, **protocol)) == expected, (text, protocol)


@pytest.mark.parametrize("text, expected", [
    ("SELECT * FROM <urn:g> WHERE { ?s ?p ?o }", "SELECT *   WHERE { ?s ?p ?o }"),
    ("SELECT * FROM NAMED g:a\nFROM <b> { ?s ?p \"FROM <c>\" } # FROM <d>",
     "SELECT *  \n  { ?s ?p \"FROM <c>\" } # FROM <d>"),
])
def test_dataset_clause_is_taken_out_of_the_text(text, expected):
    assert sparql_forms.without_dataset_clause(text) == expected
    assert not sparql_forms.inspect(sparql_forms.without_dataset_clause(text)).dataset


def test_kg_query_from_restricts_on_the_default_engine(dist):
    """The reported case, end to end: `kg query` with FROM counts one graph."""
    env = {**os.environ, "KG_DIST": str(dist), "KG_STORE": "oxigraph"}
    counts = []
    for clause in ("", f"FROM <{ONTO}>", "FROM <urn:no-such-graph>"):
        p = subprocess.run([str(KG), "query", f"SELECT (COUNT(*) AS ?n) {clause} WHERE {{ ?s ?p ?o }}",
                            "--format", "csv"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert p.returncode == 0, p.stderr
        counts.append(int(p.stdout.split()[1]))
    assert counts[0] > counts[1] > counts[2] == 0


# ---------------------------------------------------------------------------------
# Datatype fidelity

def to_rdflib(term):
    """An Oxigraph term as rdflib's, with the lexical form kept as written
    (normalize=False): the comparison must see every change of a literal."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    return Literal(term.value, datatype=URIRef(term.datatype.value), normalize=False)


def graph_of(triples) -> Graph:
    g = Graph()
    for t in triples:
        g.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return g


EVERYTHING = ("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",   # every named graph
              "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")                 # the union default graph


def test_the_dump_holds_the_literals_checked_here(quads):
    """The checks below are only as good as the literals they look at: the ontology's
    qualified cardinality, dates and language-tagged labels must be in the dump."""
    datatypes = Counter(q.object.datatype.value for q in quads if isinstance(q.object, ox.Literal)
                        and not q.object.language)
    assert datatypes[XSD + "nonNegativeInteger"] >= 1 and datatypes[XSD + "date"] >= 1
    assert any(isinstance(q.object, ox.Literal) and q.object.language == "en" for q in quads)


def test_the_build_keeps_every_literal_of_the_files(quads):
    """Files -> dist/dataset.nq: every literal of the ontology, data and curation files,
    read by a parser that changes nothing, is in the dump as written (rdflib, which the
    build parses with, would write "007"^^xsd:integer as "7"; the files hold canonical
    forms, and this keeps it so)."""
    from kg import sources

    dumped = {str(q.object) for q in quads if isinstance(q.object, ox.Literal)}
    files = [*sources.ontology_files(), *sources.data_files(), *sources.curation_files()]
    assert len(files) > 5
    for path in files:
        written = {str(q.object) for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)
                   if isinstance(q.object, ox.Literal)}
        assert written <= dumped, f"{path.name}: {sorted(written - dumped)[:5]}"


def exact_literals(quads: list[ox.Quad]) -> set[ox.Triple]:
    """The triples whose object is a literal of a type an engine could change."""
    keep = {XSD + "nonNegativeInteger", XSD + "date", XSD + "boolean", XSD + "anyURI"}
    return {q.triple for q in quads if isinstance(q.object, ox.Literal)
            and (q.object.language or q.object.datatype.value in keep)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", LOCAL)
@pytest.mark.parametrize("text", EVERYTHING)
def test_construct_everything_is_the_dump(stores, quads, kind, text):
    got = list(stores[kind].query(text))
    assert isomorphic(graph_of(got), graph_of(triples_in(quads))), kind
    ground = {t for t in got if not isinstance(t.subject, ox.BlankNode)}
    lost = {t for t in exact_literals(quads) if not isinstance(t.subject, ox.BlankNode)} - ground
    assert not lost, f"{kind}: literals changed: {sorted(map(str, lost))[:5]}"
    cardinality = [t.object for t in got if t.predicate.value.endswith("#minQualifiedCardinality")]
    assert cardinality == [ox.Literal("2", datatype=ox.NamedNode(XSD + "nonNegativeInteger"))]


@pytest.mark.parametrize("kind", LOCAL)
def test_quads_give_literals_as_built(stores, quads, kind):
    p = ox.NamedNode("http://www.w3.org/2002/07/owl#minQualifiedCardinality")
    got = list(stores[kind].quads(None, p, None))
    assert [q.object for q in got] == [q.object for q in quads if q.predicate == p]
    # a literal pattern is matched by value on every engine
    two = ox.Literal("2", datatype=ox.NamedNode(XSD + "nonNegativeInteger"))
    assert [q.object for q in stores[kind].quads(None, p, two)] == [two]


@pytest.mark.virtuoso
def test_construct_everything_on_virtuoso_is_the_dump(sparql_env, quads):  # noqa: F811  (the fixture imported above)
    st = _store(sparql_env, "sparql")
    for text in EVERYTHING:
        assert isomorphic(graph_of(st.query(text)), graph_of(triples_in(quads))), text


# ---------------------------------------------------------------------------------
# Engine agreement on the competency queries

def group_concat_separators(sparql: str) -> dict[str, str]:
    """Result variable -> separator of each GROUP_CONCAT of the query, read from its
    tokens: `GROUP_CONCAT(... ; separator="x") AS ?v` (default separator: a space)."""
    toks = list(tokens(sparql))
    out: dict[str, str] = {}
    for i, t in enumerate(toks):
        if t.keyword != "GROUP_CONCAT":
            continue
        depth, sep, j = 0, " ", i + 1
        while j < len(toks):
            depth += toks[j].text == "("
            depth -= toks[j].text == ")"
            if toks[j].keyword == "SEPARATOR" and toks[j + 2].kind == "STRING":
                sep = toks[j + 2].text[1:-1]
            if depth == 0:
                break
            j += 1
        if j + 2 < len(toks) and toks[j + 1].keyword == "AS" and toks[j + 2].kind == "VAR":
            out[toks[j + 2].text[1:]] = sep
    # a list passed on by another projection, e.g. (COALESCE(?list, "") AS ?shown)
    for i, t in enumerate(toks[:-1]):
        if t.keyword == "AS" and toks[i + 1].kind == "VAR" and toks[i - 1].text == ")":
            depth, j = 0, i - 1
            while j > 0 and not (depth == 0 and toks[j].text == "(" and toks[j - 1].keyword != "COALESCE"):
                depth += toks[j].text == ")"
                depth -= toks[j].text == "("
                j -= 1
            inner = [u.text[1:] for u in toks[j:i] if u.kind == "VAR" and u.text[1:] in out]
            if toks[j + 1].keyword == "COALESCE" and len(set(inner)) == 1:
                out.setdefault(toks[i + 1].text[1:], out[inner[0]])
    return out


def ordered(sparql: str) -> bool:
    """ORDER BY outside every bracket: the order of the rows is part of the answer."""
    depth = 0
    toks = list(tokens(sparql))
    for t, nxt in zip(toks, toks[1:]):
        depth += t.text in "{(" if t.kind == "OP" else 0
        depth -= t.text in "})" if t.kind == "OP" else 0
        if depth == 0 and t.keyword == "ORDER" and nxt.keyword == "BY":
            return True
    return False


def canonical(result, sparql: str) -> list[tuple]:
    """The rows as N-Triples terms, GROUP_CONCAT cells as the sorted list of their
    items; sorted unless the query orders them. Unbound is None, not ""."""
    seps = group_concat_separators(sparql)
    names = [v.value for v in result.variables]

    def cell(name: str, term) -> object:
        if term is None:
            return None
        if name in seps:
            return ("concat", tuple(sorted(term.value.split(seps[name]))))
        return str(term)

    rows = [tuple(cell(n, s[n]) for n in names) for s in result]
    return rows if ordered(sparql) else sorted(rows, key=repr)


def test_canonical_reads_separators_and_order():
    q = ('SELECT ?a (GROUP_CONCAT(DISTINCT ?x; separator="; ") AS ?xs) (GROUP_CONCAT(?y) AS ?ys) '
         'WHERE { { SELECT ?a WHERE { ?a ?b ?c } ORDER BY ?a } } GROUP BY ?a')
    assert group_concat_separators(q) == {"xs": "; ", "ys": " "}
    shown = 'SELECT ?a (COALESCE(?xs, "") AS ?shown) WHERE { { ' + q + ' } }'
    assert group_concat_separators(shown) == {"xs": "; ", "ys": " ", "shown": "; "}
    assert not ordered(q) and ordered(q + " ORDER BY DESC(?a)")


@pytest.mark.parametrize("name", [q.name for q in kgquery.named_queries()])
def test_competency_query_same_on_memory_and_oxigraph(stores, name):
    q = next(q for q in kgquery.named_queries() if q.name == name)
    answers = {kind: canonical(stores[kind].query(q.sparql), q.sparql) for kind in LOCAL}
    assert answers["memory"] == answers["oxigraph"] == answers["oxigraph-in-memory"]


# A Work Programme where the OPTIONAL parts of the competency queries find nothing:
# a shared action whose priority-1 measure has no planning unit and no section, and
# an Annex 1 item without priority and without any data-quality note.
SPARSE = f"""
<{BASE}shared-action/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{BASE}ontology#SharedAction> <{DATA}> .
<{BASE}shared-action/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" <{DATA}> .
<{BASE}measure/1.1> <{BASE}ontology#sharedAction> <{BASE}shared-action/x> <{DATA}> .
<{BASE}measure/1.1> <{BASE}ontology#number> "1.1" <{DATA}> .
<{BASE}measure/1.1> <{BASE}ontology#priorityAsGiven> "1" <{DATA}> .
<{BASE}measure/1.1> <{BASE}ontology#priority> <{BASE}priority/1> <{DATA}> .
<{BASE}annex1/1.1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{BASE}ontology#Annex1Item> <{DATA}> .
<{BASE}annex1/1.1> <{BASE}ontology#number> "1.1" <{DATA}> .
<{BASE}annex1/1.1> <{BASE}ontology#text> "an item" <{DATA}> .
"""


@pytest.mark.parametrize("name", ["shared-actions-priority1", "annex-items-without-priority"])
def test_competency_queries_agree_where_optional_parts_find_nothing(tmp_path, name):
    from kg.stores.memory import MemoryStore
    from kg.stores.oxigraph import OxigraphStore

    (tmp_path / "dataset.nq").write_text(SPARSE, encoding="utf-8")
    q = next(q for q in kgquery.named_queries() if q.name == name)
    mem = canonical(MemoryStore.from_file(tmp_path / "dataset.nq").query(q.sparql), q.sparql)
    oxi = canonical(OxigraphStore.in_memory(tmp_path / "dataset.nq").query(q.sparql), q.sparql)
    assert len(mem) == 1 and mem == oxi


# ---------------------------------------------------------------------------------
# Unbound values in aggregates (SPARQL 1.1, 18.5.1): an error of the engine's library
# is one clear line, never an internal error

AGGREGATE_OVER_UNBOUND = ('SELECT ?m (GROUP_CONCAT(DISTINCT ?t; separator=", ") AS ?ts) '
                          'WHERE { ?m a bkd:Measure . OPTIONAL { ?m bkd:noSuchProperty ?t } } GROUP BY ?m')


def test_aggregate_over_unbound_is_unbound_on_oxigraph(stores):
    rows = list(stores["oxigraph"].query(AGGREGATE_OVER_UNBOUND))
    assert len(rows) == 66 and all(r["ts"] is None for r in rows)


def test_rdflib_failure_is_a_clear_error(stores, dist):
    with pytest.raises(QueryFailed, match=r"memory engine \(rdflib\).*NotBoundError"):
        stores["memory"].query(AGGREGATE_OVER_UNBOUND)
    env = {**os.environ, "KG_DIST": str(dist), "KG_STORE": "memory"}
    p = subprocess.run([str(KG), "query", AGGREGATE_OVER_UNBOUND], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "internal error" not in p.stderr and "Traceback" not in p.stderr
    assert "could not evaluate this query" in p.stderr and "COALESCE" in p.stderr


# ---------------------------------------------------------------------------------
# docs/stores.md

@pytest.mark.slow
def test_stores_page_examples_print_what_they_say(dist):
    """The console examples of docs/stores.md (dataset clauses, datatypes per engine)
    are run and their output compared, as tests/test_readme.py does for other pages."""
    from test_readme import DOCS, blocks, normalize, run

    found = blocks((DOCS / "stores.md").read_text(encoding="utf-8"))
    assert len(found) >= 6
    for command, shown in found:
        assert normalize(run(command, dist)) == normalize(shown.rstrip("\n")), command



def test_rdflib_failure_is_bad_input_at_the_endpoint(stores):
    """What a SPARQL endpoint worker does with the query (webapp.query_runner): a
    failure of the memory engine is a "bad" reply (HTTP 400 with the line), not a crash."""
    from webapp.query_runner import _execute

    reply = _execute(stores["memory"], AGGREGATE_OVER_UNBOUND, "json", None, None, 1_000_000)
    assert reply[0] == "bad" and "could not evaluate this query" in reply[1]
    kind, media, body = _execute(stores["oxigraph"], AGGREGATE_OVER_UNBOUND, "json", None, None, 1_000_000)
    assert kind == "ok" and b'"ts"' in body
