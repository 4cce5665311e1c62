"""The threat lexicon (data/curation/threat-terms.csv) and the actions whose text names
a threat with no matching tag (kg.curate.threat_gaps, `kg curate report`, /curation).

The lexicon has no dead terms (every pattern names a threat in an action of the source
document) and no unknown codes (every code is in ontology/vocab/iucn-threats.ttl). The
expected list is computed here with rdflib over the built dataset, never fixed."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from rdflib import Dataset, Literal, Namespace, URIRef
from rdflib.namespace import RDF, SKOS

from kg import curate

ROOT = Path(__file__).resolve().parent.parent
LEXICON = ROOT / "data" / "curation" / "threat-terms.csv"
SOURCE = ROOT / "data" / "source" / "UNEP-CMS-BKD-MOS3-Doc.4.txt"
VOCAB = ROOT / "ontology" / "vocab" / "iucn-threats.ttl"
BKD = Namespace("https://w3id.org/bukhara-deer/ontology#")
THREAT = Namespace("https://w3id.org/bukhara-deer/iucn-threat/")


def rows() -> list[dict]:
    with LEXICON.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def source_actions() -> list[str]:
    """The texts of the numbered actions (measures and Annex 1 items) of the source
    document, section headings (N.0) left out."""
    out = []
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*(\d+)\.(\d+)\t(.+)", line)
        if m and m.group(2) != "0":
            out.append(m.group(3).split("\t")[0])
    return out


@pytest.fixture(scope="module")
def dataset(dist) -> Dataset:
    ds = Dataset(default_union=True)
    ds.parse(dist / "dataset.nq", format="nquads")
    return ds


def vocabulary_codes() -> set[str]:
    from rdflib import Graph

    g = Graph().parse(VOCAB)
    return {str(n) for c in g.subjects(RDF.type, BKD.ThreatClass) for n in g.objects(c, SKOS.notation)}


def expected_gaps(ds: Dataset) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(kind, number, named (term, code) pairs with no matching tag), computed from the
    CSV and the graph: a tag matches a code equal to it or linked by skos:broader
    (transitively) in either direction."""
    code_of = {c: str(n) for c in ds.subjects(RDF.type, BKD.ThreatClass) for n in ds.objects(c, SKOS.notation)}
    concept = {v: k for k, v in code_of.items()}

    def up(code: str) -> set[str]:
        return {code_of[b] for b in ds.transitive_objects(concept[code], SKOS.broader) if b in code_of}

    out = []
    for kind, cls in (("measure", BKD.Measure), ("annex1", BKD.Annex1Item)):
        for a in set(ds.subjects(RDF.type, cls)):
            text = str(ds.value(a, BKD.text))
            tags = {code_of[t] for t in ds.objects(a, BKD.threatClass)}
            named = []
            for r in rows():
                if not re.search(r["pattern"], text, re.IGNORECASE):
                    continue
                code = r["threat_code"]
                if not any(code in up(t) or t in up(code) for t in tags):
                    named.append((r["term"], code))
            if named:
                out.append((kind, str(ds.value(a, BKD.number)), tuple(named)))
    return sorted(out, key=lambda x: (x[0] != "measure", [int(p) for p in x[1].split(".")]))


def test_the_lexicon_has_its_columns_and_one_row_per_term():
    found = rows()
    assert found and list(found[0]) == ["term", "pattern", "threat_code", "note"]
    terms = [r["term"] for r in found]
    assert len(terms) == len(set(terms))
    assert all(r["term"].strip() and r["pattern"].strip() and r["note"].strip() for r in found)
    assert [t.term for t in curate.threat_terms()] == terms


def test_every_pattern_compiles_and_names_an_action_of_the_source():
    texts = source_actions()
    assert len(texts) >= 90, "the source's measures and Annex 1 items"
    for r in rows():
        pattern = re.compile(r["pattern"], re.IGNORECASE)
        assert any(pattern.search(t) for t in texts), f"dead term {r['term']!r}: no action of the source names it"


def test_every_code_is_in_the_vocabulary():
    codes = vocabulary_codes()
    assert {r["threat_code"] for r in rows()} <= codes


def test_a_tag_matches_its_code_and_broader_and_narrower_classes(store):
    broader: dict[str, set[str]] = {}
    for r in store.query(curate.THREAT_BROADER):
        broader.setdefault(r["code"].value, set())
        if r["broader"] is not None:
            broader[r["code"].value].add(r["broader"].value)
    assert {"7.1", "7", "7.1.1"} <= curate.related_codes(broader, "7.1")
    assert "7.2" not in curate.related_codes(broader, "7.1")
    assert "5.1.1" in curate.related_codes(broader, "5")


def test_the_report_lists_the_actions_naming_a_threat_without_a_matching_tag(store, dataset):
    want = expected_gaps(dataset)
    got = curate.report(store).threat_gaps
    assert [(g.kind, g.number, g.named) for g in got] == want
    tags = {str(a): {str(n) for t in dataset.objects(a, BKD.threatClass) for n in dataset.objects(t, SKOS.notation)}
            for a in dataset.subjects(BKD.threatClass, None)}
    assert all(set(g.tags) == tags.get(g.iri, set()) for g in got)


def test_the_report_counts_the_actions_with_no_tag_at_all(store, dataset):
    r = curate.report(store)
    tagged = set(dataset.subjects(BKD.threatClass, None))
    items = set(dataset.subjects(RDF.type, BKD.Annex1Item))
    assert r.untagged_annex == len(items - tagged)
    data = r.as_dict()
    assert data["untagged"] == {"measures": len(r.untagged), "annex_items": r.untagged_annex}
    assert [(x["kind"], x["number"]) for x in data["threat_named_without_tag"]] == \
        [(k, n) for k, n, _ in expected_gaps(dataset)]
    json.dumps(data)
    lines = curate.threat_lines(r)
    assert lines[0].endswith(f": {len(r.threat_gaps)}")
    assert len(lines) == len(r.threat_gaps) + 2


@pytest.mark.parametrize("replacement, listed", [
    (None, True),               # no tag: the named threat is a gap
    (THREAT["8"], False),       # a broader class matches
    (THREAT["7.2"], True),      # an unrelated class does not
])
@pytest.mark.slow
def test_a_tag_taken_away_or_changed_shows_in_the_list(dataset, replacement, listed):
    """On a copy of the graph with measure 7.6's tag (predators, 8.2) replaced."""
    from kg.stores.memory import MemoryStore

    ds = Dataset(default_union=True)
    ds.parse(data=dataset.serialize(format="nquads"), format="nquads")
    m = URIRef("https://w3id.org/bukhara-deer/measure/7.6")
    quads = list(ds.quads((m, BKD.threatClass, None, None)))
    assert quads, "measure 7.6 is tagged"
    for s, p, o, g in quads:
        ds.remove((s, p, o, g))
        if replacement is not None:
            ds.add((s, p, replacement, g))
    gaps = {g.number: g for g in curate.threat_gaps(MemoryStore(ds)) if g.kind == "measure"}
    assert ("7.6" in gaps) is listed
    if listed:
        assert ("predators", "8.2") in gaps["7.6"].named


def test_a_code_the_vocabulary_lacks_is_refused(store):
    from kg.errors import KGError

    bad = [curate.ThreatTerm("poaching", r"\bpoach", "99.9")]
    with pytest.raises(KGError, match="99.9"):
        curate.threat_gaps(store, bad)


def test_the_curation_page_shows_the_list(client, store):
    from conftest import html

    r = curate.report(store)
    page = html(client.get("/curation"))
    section = page[page.index('<section class="gaps" id="threat-gaps">'):]
    section = section[:section.index("</section>")]
    assert re.search(rf'<span class="n">{len(r.threat_gaps)}</span>', section)
    items = re.findall(r'<li data-action="([^"]+)"><a href="([^"]+)">', section)
    assert items == [(f"{g.kind}/{g.number}", f"/{g.kind}/{g.number}") for g in r.threat_gaps]
    for g in r.threat_gaps:
        for _term, code in g.named:
            assert f'data-threat="{code}"' in section
    assert f'data-untagged="{len(r.untagged)}/{r.untagged_annex}"' in section


def test_literal_codes_are_plain_strings(dataset):
    """skos:notation is a plain literal, so the codes compare as strings."""
    notes = {n for n in dataset.objects(None, SKOS.notation) if str(n) in {"7.1", "5.1.1"}}
    assert notes and all(isinstance(n, Literal) and n.datatype is None for n in notes)


def test_the_curation_page_renders_a_gap(app, store, dataset):
    """The shipped graph may have no gap: the /curation section rendered with one (the
    report of a graph where measure 7.6 lost its tag)."""
    from dataclasses import replace

    from flask import render_template

    from kg.stores.memory import MemoryStore
    from webapp.paging import paginate

    ds = Dataset(default_union=True)
    ds.parse(data=dataset.serialize(format="nquads"), format="nquads")
    m = URIRef("https://w3id.org/bukhara-deer/measure/7.6")
    for q in list(ds.quads((m, BKD.threatClass, None, None))):
        ds.remove(q)
    gaps = curate.threat_gaps(MemoryStore(ds))
    assert [g.number for g in gaps if g.kind == "measure"] == ["7.6"]
    r = replace(curate.report(store), threat_gaps=gaps)
    with app.test_request_context("/curation"):
        page = render_template("trace.html", t=None, coverage=r, page=paginate([], 1, 10), unfed=[], untagged=[],
                               shared_paths={x.iri: "" for x in r.memberships})
    section = page[page.index('<section class="gaps" id="threat-gaps">'):]
    section = section[:section.index("</section>")]
    assert re.search(r'<li data-action="measure/7.6"><a href="/measure/7.6">Measure 7.6</a>: '
                     r'<span class="tag" data-threat="8.2">“predators” → 8.2</span>', section), section
    assert f'<span class="n">{len(gaps)}</span>' in section
