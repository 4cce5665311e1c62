"""Country scope with provenance (issue 11, item 5).

A measure concerns a country in two distinct ways: its text names it
(bkd:concernsCountry, asserted in data/measures.ttl) or a site of its planning unit
lies in it (bkd:concernsCountryViaPlanningUnit, derived by the build's rule into
graph/inferred). The expectations are computed here with plain rdflib over data/*.ttl
(planning unit -> sites -> countries), not by the code under test.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from rdflib import RDF, Graph, Namespace

from conftest import html
from kg import export, query

ROOT = Path(__file__).resolve().parent.parent
BKD = Namespace("https://w3id.org/bukhara-deer/ontology#")
BASE = "https://w3id.org/bukhara-deer/"
KAZ = BASE + "country/KAZ"


@pytest.fixture(scope="module")
def data() -> Graph:
    g = Graph()
    for f in sorted((ROOT / "data").glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


def measures(g: Graph) -> dict[str, str]:
    """Work Programme measure IRI -> number."""
    return {str(m): str(g.value(m, BKD.number)) for m in g.subjects(RDF.type, BKD.Measure)}


def named(g: Graph) -> set[tuple[str, str]]:
    """(measure, country) pairs the text names, as asserted in the data."""
    return {(str(m), str(c)) for m in g.subjects(RDF.type, BKD.Measure) for c in g.objects(m, BKD.concernsCountry)}


def via_unit(g: Graph) -> set[tuple[str, str]]:
    """(measure, country) pairs through the measure's planning unit: unit -> site -> country."""
    return {(str(m), str(c)) for m in g.subjects(RDF.type, BKD.Measure)
            for u in g.objects(m, BKD.planningUnit) for s in g.objects(u, BKD.hasSite)
            for c in g.objects(s, BKD.country)}


def numbers_for(pairs: set[tuple[str, str]], country: str, g: Graph) -> set[str]:
    nums = measures(g)
    return {nums[m] for m, c in pairs if c == country and m in nums}


def select(store, text: str) -> set[tuple[str, ...]]:
    res = store.query(text)
    names = [v.value for v in res.variables]
    return {tuple(sol[n].value for n in names) for sol in res}


# --------------------------------------------------------------------------------------
# The expectation itself
# --------------------------------------------------------------------------------------

def test_kazakhstan_expectation_comes_from_the_syr_darya_and_ile_balkhash_sites(data):
    units = {u for _, u in data.subject_objects(BKD.planningUnit)
             for s in data.objects(u, BKD.hasSite) if str(data.value(s, BKD.country)) == KAZ}
    assert {str(u) for u in units} == {BASE + "population/syr-darya", BASE + "population/ile-balkhash"}
    expected = numbers_for(via_unit(data), KAZ, data)
    nums = measures(data)
    in_units = {nums[str(m)] for u in units for m in data.subjects(BKD.planningUnit, u) if str(m) in nums}
    assert expected == in_units and len(expected) > len(numbers_for(named(data), KAZ, data)) == 2


# --------------------------------------------------------------------------------------
# The graph: the derived relation, its provenance, and the named one unchanged
# --------------------------------------------------------------------------------------

def test_derived_relation_is_in_the_inferred_graph_only(store, data):
    inferred = select(store, f"""SELECT ?m ?c WHERE {{ GRAPH <{BASE}graph/inferred> {{
        ?m <{BKD}concernsCountryViaPlanningUnit> ?c }} }}""")
    everywhere = select(store,
                        f"SELECT ?g ?m ?c WHERE {{ GRAPH ?g {{ ?m <{BKD}concernsCountryViaPlanningUnit> ?c }} }}")
    assert {g for g, _, _ in everywhere} == {BASE + "graph/inferred"}, "derived, never asserted"
    measures_only = {(m, c) for m, c in inferred if m in measures(data)}
    assert measures_only == via_unit(data)
    assert {m for m, _ in inferred} <= set(measures(data)), "only actions (here: measures) get it"


def test_named_countries_are_unchanged(store, data):
    got = select(store, f"""SELECT ?m ?c WHERE {{ ?m a <{BKD}Measure> ; <{BKD}concernsCountry> ?c }}""")
    assert got == named(data)
    in_inferred = select(store, f"""SELECT ?m ?c WHERE {{ GRAPH <{BASE}graph/inferred> {{
        ?m <{BKD}concernsCountry> ?c }} }}""")
    assert in_inferred == set(), "the text's countries are not mixed with the derived ones"


def test_ontology_says_the_property_is_derived(store):
    rows = select(store, f"""SELECT ?def ?comment WHERE {{ <{BKD}concernsCountryViaPlanningUnit>
        <http://www.w3.org/2004/02/skos/core#definition> ?def ;
        <http://www.w3.org/2000/01/rdf-schema#comment> ?comment }}""")
    ((definition, comment),) = rows
    assert "derived by the build, not stated by the text" in definition
    assert "graph/inferred" in comment and "kg/rules.py" in comment


# --------------------------------------------------------------------------------------
# The measures list: the three scopes of the country filter, the list and the CSV
# --------------------------------------------------------------------------------------

def shown(page: str) -> set[str]:
    return set(re.findall(r'<td class="num"><a href="/measure/([\d.]+)"', page))


@pytest.mark.parametrize("scope", ["", "text", "unit", "either", "nonsense"])
def test_country_filter_scopes(client, data, scope):
    text, unit = numbers_for(named(data), KAZ, data), numbers_for(via_unit(data), KAZ, data)
    expected = {"": text, "text": text, "nonsense": text, "unit": unit, "either": text | unit}[scope]
    page = html(client.get(f"/measures?kind=measure&country=KAZ&country_scope={scope}"))
    assert shown(page) == expected, scope
    chosen = scope if scope in ("text", "unit", "either") else "text"
    assert f'<option value="{chosen}" selected>' in page, "the scope is kept in the form"
    csv_link = re.search(r'<a href="([^"]*format=csv[^"]*)"', page).group(1)
    assert f"country_scope={scope}" in csv_link, "the CSV link keeps the scope"


def test_list_says_which_countries_come_through_the_planning_unit(client):
    page = html(client.get("/measures?country=KAZ&country_scope=unit&kind=measure"))
    row = re.search(r'<a href="/measure/6\.1">6\.1</a>.*?</tr>', page, re.S).group(0)
    assert re.search(r'class="via-unit"[^>]*>· via unit: KAZ</span>', row)


def test_csv_has_the_derived_column_next_to_countries(client, data):
    resp = client.get("/measures?country=KAZ&country_scope=unit&format=csv")
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    header = list(rows[0])
    assert header.index("countries_via_planning_unit") == header.index("countries") + 1
    assert {r["number"] for r in rows if r["kind"] == "measure"} == numbers_for(via_unit(data), KAZ, data)
    assert all("KAZ" in r["countries_via_planning_unit"].split("; ") for r in rows)
    by_number = {r["number"]: r for r in rows}
    for m, n in measures(data).items():
        if n in by_number:
            assert by_number[n]["countries"] == "; ".join(
                sorted(c.rsplit("/", 1)[-1] for mm, c in named(data) if mm == m))


def test_derived_column_is_read_only_for_csv_imports():
    assert "countries_via_planning_unit" in export.DERIVED
    assert set(export.READ_ONLY) == set(export.CURATED) | set(export.DERIVED)
    assert "countries_via_planning_unit" in export.MULTI


def test_export_rows_hold_both_country_columns(store, data):
    rows = {r["iri"]: r for r in export.measures(store)}
    for m in measures(data):
        codes = sorted({c.rsplit("/", 1)[-1] for mm, c in via_unit(data) if mm == m})
        assert rows[m]["countries_via_planning_unit"] == "; ".join(codes)


# --------------------------------------------------------------------------------------
# The competency query, on both local engines
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engines(dist):
    from kg.store import open_store

    return {kind: open_store(dist, kind) for kind in ("memory", "oxigraph")}


@pytest.mark.parametrize("engine", ["memory", "oxigraph"])
def test_query_says_named_via_planning_unit_or_both(engines, data, engine):
    nq = {q.name: q for q in query.named_queries()}["measures-by-country-in-scope"]
    assert nq.question.endswith("?")
    res = engines[engine].query(nq.sparql)
    got = {(sol["country"].value, sol["measure"].value, sol["how"].value) for sol in res}
    text, unit = named(data), via_unit(data)
    expected = {(c, m, "both" if (m, c) in text and (m, c) in unit else "named" if (m, c) in text
                 else "via planning unit") for m, c in text | unit}
    assert got == expected
    kaz = {(m, how) for c, m, how in got if c == KAZ}
    assert len(kaz) == len(numbers_for(text | unit, KAZ, data)) > 2
    assert "via planning unit" in {how for _, how in kaz}, "the answers the text alone does not give"
