"""External facts of the curated layer, checked against the public reference list they
come from (/work/shared/REFERENCE.md, "Identifiers"), and the two source
inconsistencies recorded as data-quality notes, checked against the source text.

The expected values below are external facts (CMS documents, Wikidata), not derived
from the graph: a test constant is the right place for them."""
from __future__ import annotations

import re

from conftest import source_text

BASE = "https://w3id.org/bukhara-deer/"
BKD = BASE + "ontology#"
WD = "http://www.wikidata.org/entity/"
CAMI_POW = BASE + "programme/cami-pow-2026-2032"

# REFERENCE.md, "Identifiers": scientific names confirmed from CMS documents.
SCIENTIFIC_NAMES = {
    "gobi-bear": ("Ursus arctos isabellinus", "UNEP/CMS/COP12/Doc.25.1.5"),
    "persian-leopard": ("Panthera pardus saxicolor", "UNEP/CMS/CAMI2/Inf.6"),
}
PERSIAN_LEOPARD_SYNONYM = "Panthera pardus tulliana"  # noted by UNEP/CMS/CAMI2/Inf.6

# REFERENCE.md, "Identifiers": Wikidata items of all 14 CAMI Range States (confirmed).
RANGE_STATE_WIKIDATA = {
    "KAZ": "Q232", "UZB": "Q265", "TJK": "Q863", "TKM": "Q874", "AFG": "Q889",
    "KGZ": "Q813", "MNG": "Q711", "CHN": "Q148", "IND": "Q668", "IRN": "Q794",
    "NPL": "Q837", "PAK": "Q843", "BTN": "Q917", "RUS": "Q159",
}


def rows(store, q: str) -> list[dict[str, str]]:
    res = store.query(q)
    names = [v.value for v in res.variables]
    return [{n: (s[n].value if s[n] is not None else "") for n in names} for s in res]


def values(store, s: str, p: str) -> set[str]:
    return {r["o"] for r in rows(store, f"SELECT ?o WHERE {{ <{s}> <{p}> ?o }}")}


def notes_concerning(store, iri: str) -> set[str]:
    return {r["n"] for r in rows(store, f"SELECT ?n WHERE {{ ?n a bkd:DataQualityNote ; bkd:concerns <{iri}> }}")}


# ---------------------------------------------------------------- scientific names

def test_gobi_bear_and_persian_leopard_have_their_cms_scientific_names(store):
    for slug, (name, document) in SCIENTIFIC_NAMES.items():
        species = BASE + "species/" + slug
        assert values(store, species, BKD + "scientificName") == {name}, slug
        sources = values(store, species, "http://purl.org/dc/terms/source")
        assert any(document in s and name in s for s in sources), f"{slug}: no source naming {document}"
        assert species in values(store, CAMI_POW, BKD + "species"), slug


def test_persian_leopard_synonym_is_an_alternative_name_with_its_source(store):
    species = BASE + "species/persian-leopard"
    assert PERSIAN_LEOPARD_SYNONYM in values(store, species, "http://www.w3.org/2004/02/skos/core#altLabel")
    sources = values(store, species, "http://purl.org/dc/terms/source")
    assert any("UNEP/CMS/CAMI2/Inf.6" in s and PERSIAN_LEOPARD_SYNONYM in s for s in sources)


def test_no_note_still_calls_the_confirmed_names_unconfirmed(store):
    for slug in SCIENTIFIC_NAMES:
        assert not notes_concerning(store, BASE + "species/" + slug), slug


# ---------------------------------------------------------------- Range States

def test_every_range_state_has_its_wikidata_item(store):
    states = values(store, CAMI_POW, BKD + "rangeState")
    assert states == {BASE + "country/" + code for code in RANGE_STATE_WIKIDATA}
    for code, q in RANGE_STATE_WIKIDATA.items():
        country = BASE + "country/" + code
        assert values(store, country, "http://www.w3.org/2004/02/skos/core#notation") == {code}
        assert values(store, country, BKD + "wikidata") == {WD + q}, code
        assert any("Wikidata" in s for s in values(store, country, "http://purl.org/dc/terms/source")), code


def test_no_note_says_a_range_state_lacks_its_wikidata_item(store):
    for code in RANGE_STATE_WIKIDATA:
        assert not notes_concerning(store, BASE + "country/" + code) - {
            BASE + "quality-note/upper-amu-darya-countries"}, code


# ---------------------------------------------------------------- owl:AllDifferent

def test_all_different_lists_every_country(store):
    countries = {r["c"] for r in rows(store, "SELECT ?c WHERE { ?c a bkd:Country }")}
    assert len(countries) == len(RANGE_STATE_WIKIDATA)
    axioms = rows(store, """SELECT ?d (GROUP_CONCAT(STR(?m); separator=" ") AS ?members) WHERE {
        ?d a owl:AllDifferent ; owl:distinctMembers/rdf:rest*/rdf:first ?m } GROUP BY ?d""")
    assert len(axioms) == 1, "one owl:AllDifferent for the countries"
    assert set(axioms[0]["members"].split()) == countries


# ---------------------------------------------------------------- source inconsistencies

def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


def check_note(store, slug: str, kind: str, concerns: set[str]) -> str:
    note = BASE + "quality-note/" + slug
    assert values(store, note, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type") >= {BKD + "DataQualityNote"}
    assert values(store, note, BKD + "issueKind") == {BASE + "issue-kind/" + kind}
    assert {BASE + c for c in concerns} <= values(store, note, BKD + "concerns")
    (text,) = values(store, note, BKD + "text")
    src = " ".join(source_text().split())
    for q in quoted(text):
        assert " ".join(q.split()) in src, f"{slug} quotes {q!r}, which the source does not print"
    return text


def test_measure_2_1_note_and_the_source_it_describes(store):
    src = source_text()
    # the source prints 2.1 under section 2.0 Lower Amu Darya ...
    section_20 = src.split("\n2.0\tLower Amu Darya (TKM, UZB)")[1].split("\n3.0\t")[0]
    assert re.search(r"^2\.1\t.*between the Amu Darya \(TKM\) and Kyzylkum \(UZB\) State Strict Nature Reserves",
                     section_20, re.M)
    # ... while paragraph 3 puts both reserves in the Middle Amu Darya population
    middle = re.search(r"^ - 2\) Middle Amu Darya: (.*)$", src, re.M).group(1)
    assert "Kyzylkum State Strict Nature Reserve" in middle and "Amu Darya State Strict Nature Reserve" in middle
    lower = re.search(r"^ - 3\) Lower Amu Darya: (.*)$", src, re.M).group(1)
    assert "Kyzylkum" not in lower and "Strict Nature Reserve" not in lower
    check_note(store, "measure-2.1-middle-amu-darya-reserves", "inconsistency",
               {"measure/2.1", "section/2.0", "population/middle-amu-darya",
                "place/amu-darya-ssnr", "place/kyzylkum-ssnr"})
    # recorded, not repaired: the measure stays where the source prints it
    assert values(store, BASE + "measure/2.1", BKD + "inSection") == {BASE + "section/2.0"}


def test_measure_2_5_area_note_and_the_source_it_describes(store):
    assert re.search(r"^2\.5\t.*Sudochye-Akpetki with an area of 280\.507 ha", source_text(), re.M)
    text = check_note(store, "measure-2.5-area-separator", "inconsistency",
                      {"measure/2.5", "place/sudochye-akpetki"})
    assert "280,507 ha" in text
    # the source text is unchanged
    (measure_text,) = values(store, BASE + "measure/2.5", BKD + "text")
    assert "an area of 280.507 ha" in measure_text
