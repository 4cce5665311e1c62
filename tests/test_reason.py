"""HermiT (kg.reason) against the SPARQL rules (kg.rules) and against the source text.

The shipped graph is reasoned over once per session (a HermiT run costs 2-4 s, most
of it starting the JVM). Tests that need HermiT use the ``java`` fixture: without a
Java runtime they FAIL with a message saying so, they are not skipped, because a
skipped reasoner test would hide that the consistency check never ran.

The expected members of the defined classes are derived here from the source text
with a small parser of its own, not from the graph: a TransboundaryMeasure is a row
whose text names two or more countries (by ISO code or by name), a
PrivateSectorMeasure a row whose responsibility column says "private business", a
HighPriorityAction a row with priority "1".
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import owlready2
import pytest
from rdflib import RDF, Graph, Literal, URIRef

from kg import build, rdfio, rules
from kg.config import settings
from kg.errors import KGError
from kg.reason import GENERIC_EXPLANATION, ReasonResult, explain, owl2_ready, reason, undeclared_properties

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reason"


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def java() -> None:
    """Fail, not skip, when HermiT cannot run."""
    if shutil.which(owlready2.JAVA_EXE) is None:
        pytest.fail("HermiT needs a Java runtime and 'java' is not on PATH: install e.g. "
                    "default-jre-headless (apt-get install default-jre-headless)", pytrace=False)


@pytest.fixture(scope="session")
def shipped_graph() -> Graph:
    """Ontology + data as shipped, without the rules' inferences."""
    return build.load_parts(infer=False).merged()


@pytest.fixture(scope="session")
def shipped(java, shipped_graph) -> ReasonResult:
    return reason(shipped_graph)


def ontology_plus(fixture: str) -> Graph:
    """The ontology and one fixture file, rebased like the shipped files."""
    g = build.load_parts(infer=False).ontology
    return rdfio.load_files([FIXTURES / fixture], g)


# --------------------------------------------------------------------------------------
# The source text, parsed independently of the project code
# --------------------------------------------------------------------------------------

ROW_RE = re.compile(r"^(\d+\.\d+)\t(.*)$")
COUNTRY_CODES = ("AFG", "KAZ", "TJK", "TKM", "UZB")
COUNTRY_NAMES = {"Afghanistan": "AFG", "Kazakhstan": "KAZ", "Tajikistan": "TJK",
                 "Turkmenistan": "TKM", "Uzbekistan": "UZB"}
COUNTRY_RE = re.compile(r"\b(" + "|".join([*COUNTRY_CODES, *COUNTRY_NAMES]) + r")\b")


@dataclass(frozen=True)
class Row:
    iri: str
    text: str
    priority: str
    responsibility: str


def source_rows() -> list[Row]:
    """Numbered rows (not section headings N.0) of the Work Programme and of Annex 1;
    the line 'ANNEX 1' splits the two, whose rows are measure/N.M and annex1/N.M."""
    text = settings().source_text.read_text(encoding="utf-8")
    wp, annex = re.split(r"^ANNEX 1\s*$", text, maxsplit=1, flags=re.M)
    rows = []
    for part, path in ((wp, "measure/"), (annex, "annex1/")):
        for line in part.splitlines():
            m = ROW_RE.match(line)
            if not m or m.group(1).endswith(".0"):
                continue
            cells = (m.group(2).split("\t") + ["", ""])[:3]
            rows.append(Row(settings().base + path + m.group(1), *(c.strip() for c in cells)))
    return rows


def countries_named(text: str) -> set[str]:
    return {COUNTRY_NAMES.get(name, name) for name in COUNTRY_RE.findall(text)}


def expected_from_source() -> dict[str, set[str]]:
    rows = source_rows()
    return {
        "TransboundaryMeasure": {r.iri for r in rows if len(countries_named(r.text)) >= 2},
        "PrivateSectorMeasure": {r.iri for r in rows if "private business" in r.responsibility.lower()},
        "HighPriorityAction": {r.iri for r in rows if r.priority == "1"},
    }


def rule_members(graph: Graph) -> dict[str, set[str]]:
    """Members according to kg.rules: asserted types plus what the rules infer."""
    inferred = rules.infer(graph)
    ns = settings().ontology_ns
    return {name: {str(s) for g in (graph, inferred) for s in g.subjects(RDF.type, URIRef(ns + name))}
            for name in rules.DEFINED_CLASSES}


def test_source_parser_sees_both_tables():
    rows = source_rows()
    assert any("/measure/" in r.iri for r in rows) and any("/annex1/" in r.iri for r in rows)
    assert all(r.text for r in rows)
    assert countries_named("between AFG and TJK ... Afghanistan and Tajikistan") == {"AFG", "TJK"}
    assert countries_named("the Altyn Asyr Main Turkmen Collector") == set()


# --------------------------------------------------------------------------------------
# (a) the shipped graph is consistent
# --------------------------------------------------------------------------------------

@pytest.mark.java
def test_shipped_graph_is_consistent(shipped):
    assert shipped.consistent, shipped.explanation
    assert shipped.explanation is None
    assert shipped.unsatisfiable == set(), f"classes that can have no member: {shipped.unsatisfiable}"
    assert 0 < shipped.seconds < 120


# --------------------------------------------------------------------------------------
# (b) HermiT = SPARQL rules = the source text
# --------------------------------------------------------------------------------------

@pytest.mark.java
@pytest.mark.parametrize("name", rules.DEFINED_CLASSES)
def test_hermit_agrees_with_rules(shipped, shipped_graph, name):
    expected = rule_members(shipped_graph)[name]
    got = shipped.members[name]
    assert got == expected, f"only HermiT: {sorted(got - expected)}; only rules: {sorted(expected - got)}"


@pytest.mark.java
@pytest.mark.parametrize("name", rules.DEFINED_CLASSES)
def test_hermit_agrees_with_source_text(shipped, name):
    expected = expected_from_source()[name]
    got = shipped.members[name]
    assert expected, f"the source parser found no {name}"
    assert got == expected, f"only HermiT: {sorted(got - expected)}; only source: {sorted(expected - got)}"


# --------------------------------------------------------------------------------------
# (c) an inconsistent graph is reported, not raised
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture, individual, classes", [
    ("measure-and-annex1-item.ttl", "measure/99.1", ("bkd:Measure", "bkd:Annex1Item")),
    ("footnote-and-quality-note.ttl", "quality-note/clash", ("bkd:Footnote", "bkd:DataQualityNote")),
])
@pytest.mark.java
def test_inconsistent_fixture_is_explained(java, fixture, individual, classes, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # where owlready2 writes HermiT's input
    result = reason(ontology_plus(fixture))
    assert result.consistent is False
    assert individual in result.explanation
    assert all(c in result.explanation for c in classes), result.explanation
    assert "disjoint" in result.explanation
    assert all(not m for m in result.members.values()) and len(result.inferred) == 0
    assert list(tmp_path.iterdir()) == [], "reasoning left temporary files behind"


@pytest.mark.java
def test_ill_typed_literal_is_inconsistent_not_a_crash(java):
    result = reason(ontology_plus("ill-typed-literal.ttl"))
    assert result.consistent is False
    assert "footnote/99" in result.explanation and "xsd:integer" in result.explanation


def test_explanation_falls_back_to_a_generic_sentence():
    assert explain(Graph()) == GENERIC_EXPLANATION


# --------------------------------------------------------------------------------------
# (d) the inferred graph holds only rdf:type triples of the defined classes
# --------------------------------------------------------------------------------------

@pytest.mark.java
def test_inferred_graph_is_only_defined_class_types(shipped, shipped_graph):
    ns = settings().ontology_ns
    defined = {URIRef(ns + name) for name in rules.DEFINED_CLASSES}
    assert len(shipped.inferred) > 0
    for s, p, o in shipped.inferred:
        assert p == RDF.type and o in defined, (s, p, o)
        assert (s, p, o) not in shipped_graph, f"asserted triple reported as inferred: {(s, p, o)}"
    members = {(URIRef(i), URIRef(ns + n)) for n, iris in shipped.members.items() for i in iris}
    assert {(s, o) for s, _, o in shipped.inferred} == members  # nothing is asserted in the shipped data
    assert dict(shipped.inferred.namespaces())["bkd"] == URIRef(ns)


@pytest.mark.java
def test_defined_classes_on_a_rebased_fixture(java, monkeypatch):
    """Asserted members stay out of `inferred`; countries count as distinct without an
    explicit owl:AllDifferent; sub-properties
    count for hasValue; and every IRI follows KG_BASE."""
    monkeypatch.setenv("KG_BASE", "https://example.org/deer/")
    m = "https://example.org/deer/measure/"
    result = reason(ontology_plus("defined-classes.ttl"))
    assert result.consistent, result.explanation
    assert result.members == {"HighPriorityAction": {m + "90.1", m + "90.2"},
                              "TransboundaryMeasure": {m + "90.3", m + "90.4"},
                              "PrivateSectorMeasure": {m + "90.5"}}
    ns = "https://example.org/deer/ontology#"
    assert set(result.inferred) == {
        (URIRef(m + "90.2"), RDF.type, URIRef(ns + "HighPriorityAction")),
        (URIRef(m + "90.3"), RDF.type, URIRef(ns + "TransboundaryMeasure")),
        (URIRef(m + "90.4"), RDF.type, URIRef(ns + "TransboundaryMeasure")),
        (URIRef(m + "90.5"), RDF.type, URIRef(ns + "PrivateSectorMeasure")),
    }


# --------------------------------------------------------------------------------------
# Input preparation and the missing-Java error (no Java needed)
# --------------------------------------------------------------------------------------

def test_owl2_ready_makes_the_graph_acceptable_to_hermit(shipped_graph):
    from rdflib.namespace import XSD  # not at module level: pytest probes module globals
    before = len(shipped_graph)
    g = owl2_ready(shipped_graph)
    assert len(shipped_graph) == before, "the caller's graph must not change"
    assert undeclared_properties(g) == set()
    datatypes = {o.datatype for o in g.objects() if isinstance(o, Literal)}
    assert XSD.date not in datatypes and XSD.gYear not in datatypes
    measure = URIRef(settings().base + "measure/1.1")
    assert (measure, RDF.type, URIRef("http://www.w3.org/2002/07/owl#NamedIndividual")) in g


def test_date_literals_are_converted_not_lost():
    from rdflib.namespace import XSD
    g = Graph()
    s, p = URIRef("urn:x"), URIRef("urn:p")
    g.add((s, p, Literal("2024-09-10", datatype=XSD.date)))
    g.add((s, URIRef("urn:q"), Literal("2025", datatype=XSD.gYear)))
    out = owl2_ready(g)
    assert (s, p, Literal("2024-09-10T00:00:00", datatype=XSD.dateTime)) in out
    assert (s, URIRef("urn:q"), Literal(2025)) in out


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(owlready2, "JAVA_EXE", "java")
    with pytest.raises(KGError) as err:
        reason(Graph())
    assert err.value.exit_code == 2
    assert "java not found on PATH" in str(err.value)
