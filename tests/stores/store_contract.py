"""What every Store engine must do, on a dataset small enough to read at a glance:
one test per method and behaviour of kg.stores.base.Store, each asserting one thing,
so that an engine that differs fails a test whose name says how.

The tests take a `store` fixture holding exactly QUADS. Two modules collect them:
test_store_contract_local.py on the memory and oxigraph engines and
test_store_contract_sparql.py on the sparql engine and a real Virtuoso. They are two
modules, not one parametrization, because a test's tier is read from the fixtures it
requests (tests/test_tiers.py): only the sparql module requests the Virtuoso server,
so only its tests carry the virtuoso marker and the fast tier keeps the others.
"""
from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.config import settings
from kg.errors import BadInput

EX = "http://example.org/deer/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def graph(name: str) -> str:
    """A graph under the configured base: the sparql store owns only those."""
    return settings().base + "graph/contract-" + name


A, B, C = graph("a"), graph("b"), graph("c")
X, Y, Z = (ox.NamedNode(EX + n) for n in ("x", "y", "z"))
NAME, COUNT, RANGE = (ox.NamedNode(EX + n) for n in ("name", "count", "range"))
DEER_EN = ox.Literal("Bukhara deer", language="en")
TWO = ox.Literal("2", datatype=ox.NamedNode(XSD + "nonNegativeInteger"))
HANGUL = ox.Literal("Hangul")

QUADS = [
    ox.Quad(X, NAME, DEER_EN, ox.NamedNode(A)),
    ox.Quad(X, COUNT, TWO, ox.NamedNode(A)),
    ox.Quad(Y, NAME, HANGUL, ox.NamedNode(A)),
    ox.Quad(X, RANGE, Z, ox.NamedNode(B)),
    ox.Quad(Y, RANGE, Z, ox.NamedNode(B)),
]
PREFIX = f"PREFIX ex: <{EX}>\n"


def write_dataset(directory: Path) -> Path:
    """QUADS as the dataset.nq every engine loads."""
    path = directory / "dataset.nq"
    path.write_bytes(ox.serialize(QUADS, format=ox.RdfFormat.N_QUADS))
    return path


def column(result, name: str) -> list:
    return [row[name] for row in result]


# -- query forms ---------------------------------------------------------------------

def test_select_answers_one_row_per_solution(store):
    assert sorted(column(store.query(PREFIX + "SELECT ?s WHERE { ?s ex:name ?n }"), "s"), key=str) == [X, Y]


def test_ask_is_true_when_the_pattern_matches(store):
    assert bool(store.query(PREFIX + "ASK { ex:x ex:range ex:z }")) is True


def test_ask_is_false_when_nothing_matches(store):
    assert bool(store.query(PREFIX + "ASK { ex:z ex:range ex:x }")) is False


def test_construct_answers_the_template_triples(store):
    got = set(store.query(PREFIX + "CONSTRUCT { ?s ex:seenIn ?o } WHERE { ?s ex:range ?o }"))
    assert got == {ox.Triple(X, ox.NamedNode(EX + "seenIn"), Z), ox.Triple(Y, ox.NamedNode(EX + "seenIn"), Z)}


def test_describe_answers_the_resources_own_triples(store):
    got = set(store.query(PREFIX + "DESCRIBE ex:y"))
    assert {t for t in got if t.subject == Y} == {ox.Triple(Y, NAME, HANGUL), ox.Triple(Y, RANGE, Z)}


# -- the dataset of a query --------------------------------------------------------------

def test_the_default_graph_is_the_union_of_the_named_graphs(store):
    rows = store.query(PREFIX + "SELECT ?s WHERE { ?s ex:name ?n ; ex:range ex:z }")  # A joined with B
    assert sorted(column(rows, "s"), key=str) == [X, Y]


def test_graph_variable_ranges_over_the_named_graphs(store):
    rows = store.query(PREFIX + "SELECT DISTINCT ?g WHERE { GRAPH ?g { ex:x ?p ?o } }")
    assert sorted(g.value for g in column(rows, "g")) == [A, B]


def test_graph_iri_reads_that_graph_alone(store):
    rows = store.query(PREFIX + f"SELECT ?p WHERE {{ GRAPH <{B}> {{ ex:x ?p ?o }} }}")
    assert column(rows, "p") == [RANGE]


def test_from_makes_the_default_graph_that_graph(store):
    rows = store.query(PREFIX + f"SELECT ?p FROM <{B}> WHERE {{ ex:x ?p ?o }}")
    assert column(rows, "p") == [RANGE]


def test_from_named_limits_the_named_graphs(store):
    rows = store.query(PREFIX + f"SELECT DISTINCT ?g FROM NAMED <{A}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}")
    assert [g.value for g in column(rows, "g")] == [A]


def test_default_graph_argument_replaces_the_querys_from(store):
    rows = store.query(PREFIX + f"SELECT ?p FROM <{A}> WHERE {{ ex:y ?p ?o }}", default_graph=[B])
    assert column(rows, "p") == [RANGE]


def test_named_graphs_argument_limits_graph_variables(store):
    rows = store.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", named_graphs=[B])
    assert [g.value for g in column(rows, "g")] == [B]


# -- values from outside the query -----------------------------------------------------

def test_bindings_pre_bind_a_variable(store):
    rows = store.query(PREFIX + "SELECT ?s ?n WHERE { ?s ex:name ?n }", bindings={"s": Y})
    assert column(rows, "n") == [HANGUL]


def test_values_restrict_a_variable_to_the_terms_given(store):
    rows = store.query(PREFIX + "SELECT ?s ?n WHERE { ?s ex:name ?n }", values={"s": [X, Z]})
    assert column(rows, "n") == [DEER_EN]


# -- quads() ---------------------------------------------------------------------------

def test_quads_by_subject(store):
    assert set(store.quads(s=X)) == {q for q in QUADS if q.subject == X}


def test_quads_by_predicate(store):
    assert set(store.quads(p=RANGE)) == {q for q in QUADS if q.predicate == RANGE}


def test_quads_by_object_and_graph(store):
    assert set(store.quads(o=Z, g=ox.NamedNode(B))) == {q for q in QUADS if q.object == Z}


def test_quads_by_graph(store):
    assert set(store.quads(g=ox.NamedNode(A))) == {q for q in QUADS if q.graph_name.value == A}


def test_quads_of_a_full_pattern(store):
    assert list(store.quads(Y, NAME, HANGUL, ox.NamedNode(A))) == [ox.Quad(Y, NAME, HANGUL, ox.NamedNode(A))]


def test_quads_without_a_match_are_none(store):
    assert list(store.quads(s=Z)) == []


def test_quads_without_a_pattern_are_all(store):
    assert set(store.quads()) == set(QUADS)


# -- size and graphs -----------------------------------------------------------------------

def test_graph_names_are_the_named_graphs_sorted(store):
    assert store.graph_names() == [A, B]


def test_len_counts_the_quads(store):
    assert len(store) == len(QUADS)


# -- writing ---------------------------------------------------------------------------

def test_replace_graphs_replaces_and_removes_in_one_call(store):
    store.replace_graphs({A: [ox.Triple(Z, NAME, HANGUL)], B: None})
    assert set(store.quads()) == {ox.Quad(Z, NAME, HANGUL, ox.NamedNode(A))}


def test_add_graph_adds_a_named_graph(store):
    store.add_graph(C, [ox.Triple(Z, NAME, DEER_EN)])
    assert (store.graph_names(), list(store.quads(g=ox.NamedNode(C)))) == \
        ([A, B, C], [ox.Quad(Z, NAME, DEER_EN, ox.NamedNode(C))])


def test_remove_graph_removes_its_quads(store):
    store.remove_graph(B)
    assert (store.graph_names(), len(store)) == ([A], 3)


def test_a_written_graph_is_queried_at_once(store):
    store.add_graph(C, [ox.Triple(Z, NAME, DEER_EN)])
    rows = store.query(PREFIX + "SELECT ?s WHERE { ?s ex:name 'Bukhara deer'@en }")
    assert sorted(column(rows, "s"), key=str) == [X, Z]


# -- exact literals: the graph that comes out is the graph that was built -----------------

def test_select_binds_a_non_negative_integer_equal_in_value(store):
    """Not the same term everywhere: Oxigraph binds its canonical "2"^^xsd:integer
    (oxigraph/oxigraph#526, docs/stores.md "Datatypes"); equal in value on every engine."""
    rows = store.query(PREFIX + f'SELECT ?c WHERE {{ ex:x ex:count ?c FILTER(?c = "2"^^<{XSD}nonNegativeInteger>) }}')
    assert len(list(rows)) == 1


def test_construct_keeps_a_non_negative_integer_as_typed(store):
    assert [t.object for t in store.query(PREFIX + "CONSTRUCT WHERE { ex:x ex:count ?c }")] == [TWO]


def test_quads_keep_a_non_negative_integer_as_typed(store):
    assert [q.object for q in store.quads(p=COUNT)] == [TWO]


def test_select_keeps_a_language_tag(store):
    assert column(store.query(PREFIX + "SELECT ?n WHERE { ex:x ex:name ?n }"), "n") == [DEER_EN]


def test_a_language_tagged_literal_matches_by_its_tag(store):
    assert column(store.query(PREFIX + "SELECT ?s WHERE { ?s ex:name 'Bukhara deer'@en }"), "s") == [X]


# -- refusals ------------------------------------------------------------------------------

def test_an_update_is_refused_as_read_only(store):
    with pytest.raises(BadInput, match="updates are not allowed: this store is read-only"):
        store.query(PREFIX + "INSERT DATA { GRAPH ex:g { ex:a ex:b ex:c } }")


def test_a_refused_update_changes_nothing(store):
    with pytest.raises(BadInput):
        store.query(PREFIX + f"DELETE WHERE {{ GRAPH <{A}> {{ ?s ?p ?o }} }}")
    assert set(store.quads()) == set(QUADS)


def test_a_syntax_error_is_bad_input_with_its_place(store):
    with pytest.raises(BadInput, match=r"^SPARQL syntax error at line 1, column \d+"):
        store.query("SELECT ?s WHERE { ?s ?p }")
