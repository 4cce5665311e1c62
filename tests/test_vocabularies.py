"""Issue 11, item 4: the IUCN vocabularies and the threat tags.

- the threat scheme is the IUCN Threats Classification Scheme v3.2 with its source;
- every threat concept has a notation, a label and (below level 1) a broader concept
  whose notation is its code prefix;
- the IUCN Red List Conservation Actions Classification Scheme v2.0 is a second scheme,
  and every CMP v1.0 concept of classes 1-6 is mapped to it; class 7 is not, and says so;
- every threat tag has exactly one justified annotation, and the chosen
  (item, threat code) pairs quote words that occur in that item's source text."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, SKOS

from conftest import source_text

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://w3id.org/bukhara-deer/"
BKD = Namespace(BASE + "ontology#")
SCHEME = Namespace(BASE + "scheme/")
THREAT = BASE + "iucn-threat/"
CMP = BASE + "iucn-action/"
RL = BASE + "iucn-redlist-action/"
MAPPINGS = (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)

# The (item, IUCN threat code) pairs chosen in data/curation/threats.ttl. "m" = Work
# Programme measure, "a" = Annex 1 item.
CHOSEN = {
    ("m", "1.1", "11"), ("m", "2.7", "5.1.1"), ("m", "2.8", "1.2"), ("m", "2.8", "3"),
    ("m", "4.3", "7.1.1"), ("m", "4.3", "2.3"), ("m", "4.4", "7.2"), ("m", "4.6", "6"),
    ("m", "4.6", "2.3"), ("m", "5.2", "7.1.1"), ("m", "5.2", "2.3"), ("m", "5.3", "3.2"),
    ("m", "5.3", "7.2"), ("m", "6.5", "5.1.1"), ("m", "7.6", "8.2"), ("m", "7.7", "5.1.1"),
    ("a", "1.2", "1.2"), ("a", "1.2", "2"), ("a", "1.2", "7.2"), ("a", "1.2", "4"),
    ("a", "2.1", "5.1.1"), ("a", "2.2", "5.1.1"), ("a", "2.3", "8.1"), ("a", "3.1", "5.3"),
    ("a", "3.1", "2.3"), ("a", "3.1", "5.1.1"), ("a", "3.6", "8.1"), ("a", "4.4", "11"),
    ("a", "4.4", "7.2"), ("a", "4.4", "2.3"), ("a", "4.4", "8"),
    # second review (2026-11-30): conflicts, captive genetic stock, water regime, security
    ("m", "1.5", "5.1.3"), ("m", "2.3", "5.1.3"), ("m", "5.5", "5.1.3"), ("a", "1.3", "5.1.3"),
    ("a", "3.2", "5.1.3"), ("a", "4.4", "5.1.3"), ("m", "9.1", "8.3"), ("m", "4.3", "7.2"),
    ("m", "5.4", "7.2"), ("m", "4.1", "6.2"), ("m", "2.9", "6.2"), ("m", "3.7", "6.2"),
}


def _parse(*paths: str) -> Graph:
    g = Graph()
    for p in paths:
        g.parse(ROOT / p)
    return g


@pytest.fixture(scope="module")
def threats() -> Graph:
    return _parse("ontology/vocab/iucn-threats.ttl")


@pytest.fixture(scope="module")
def actions() -> Graph:
    return _parse("ontology/vocab/iucn-actions.ttl")


@pytest.fixture(scope="module")
def tags() -> Graph:
    return _parse("data/curation/threats.ttl")


def _items() -> dict[tuple[str, str], str]:
    """Item text by ("m"|"a", number), from the source document."""
    wp, annex = source_text().split("\nANNEX 1\n", 1)
    out = {}
    for kind, part in (("m", wp), ("a", annex)):
        for m in re.finditer(r"^(\d+\.[1-9]\d*)\t(.*)$", part, re.M):
            out[(kind, m.group(1))] = " ".join(m.group(2).split("\t")[0].split())
    return out


def _subject(kind: str, number: str) -> URIRef:
    return URIRef(f"{BASE}{'measure' if kind == 'm' else 'annex1'}/{number}")


def test_threat_scheme_states_version_and_source(threats):
    s = SCHEME["iucn-threats"]
    assert (s, RDF.type, SKOS.ConceptScheme) in threats
    assert threats.value(s, OWL.versionInfo) == Literal("3.2")
    source = str(threats.value(s, DCTERMS.source))
    assert "Version 3.2" in source and "Direct Threats" in source and "read 20" in source


def test_every_threat_concept_has_notation_label_and_broader(threats):
    concepts = set(threats.subjects(SKOS.inScheme, SCHEME["iucn-threats"]))
    assert len(concepts) > 60
    tops = set()
    for c in concepts:
        code = str(threats.value(c, SKOS.notation))
        assert str(c) == THREAT + code, c
        label = threats.value(c, SKOS.prefLabel)
        assert label is not None and label.language == "en" and str(label).strip(), c
        broader = list(threats.objects(c, SKOS.broader))
        if "." not in code:
            tops.add(code)
            assert not broader and (c, SKOS.topConceptOf, SCHEME["iucn-threats"]) in threats
        else:
            assert len(broader) == 1, c
            assert str(threats.value(broader[0], SKOS.notation)) == code.rsplit(".", 1)[0], c
    assert tops == {str(i) for i in range(1, 13)}


def test_no_code_of_the_threat_scheme_is_missing(threats):
    """Every parent's children are numbered 1..n with no gap: a code left out of the
    middle of a family (as 5.1.2 once was) shows up here."""
    codes = {str(threats.value(c, SKOS.notation)) for c in threats.subjects(SKOS.inScheme, SCHEME["iucn-threats"])}
    children: dict[str, set[int]] = {}
    for code in codes:
        if "." in code:
            parent, last = code.rsplit(".", 1)
            children.setdefault(parent, set()).add(int(last))
    assert {p for p in children} <= codes
    for parent, nums in children.items():
        assert nums == set(range(1, max(nums) + 1)), (parent, sorted(nums))
    assert len(codes) == 130


def test_threat_labels_are_the_v3_2_wordings(threats):
    label = lambda code: str(threats.value(URIRef(THREAT + code), SKOS.prefLabel))  # noqa: E731
    assert label("5.1") == "Hunting & trapping terrestrial animals"
    assert label("5.1.1") == "Intentional use (species is the target)"
    assert label("5.1.3") == "Persecution/control"
    assert label("8.3") == "Introduced genetic material"
    assert label("7.2") == "Dams & water management/use"
    # level-3 codes added with a per-concept note naming where they were confirmed
    assert label("7.2.9") == "Small dams"
    assert label("7.2.10") == "Large dams"
    assert label("8.2.2") == "Named species"
    assert label("5.4.1") == "Intentional use: (subsistence/small scale) [harvest]"
    assert label("5.1.2") == "Unintentional effects (species is not the target)"
    assert label("5.3.2") == "Intentional use: (large scale) [harvest]"
    assert label("9.3.3") == "Herbicides & pesticides"
    for code in ("7.2.9", "7.2.10", "8.2.2", "5.4.1", "5.1.2", "5.2.1", "5.3.1", "5.3.2", "5.3.3",
                 "5.3.4", "5.4.2", "9.3.3"):
        assert "confirmed" in str(threats.value(URIRef(THREAT + code), SKOS.note)), code


def test_red_list_actions_scheme(actions):
    s = SCHEME["iucn-redlist-actions"]
    assert actions.value(s, OWL.versionInfo) == Literal("2.0")
    assert actions.value(s, DCTERMS.source) is not None
    concepts = set(actions.subjects(SKOS.inScheme, s))
    codes = {str(actions.value(c, SKOS.notation)) for c in concepts}
    assert {c.split(".")[0] for c in codes} == {"1", "2", "3", "4", "5", "6"}
    for code in ("3.3.1", "3.3.2", "3.4.1", "5.1.1"):
        assert code in codes
    for c in concepts:
        code = str(actions.value(c, SKOS.notation))
        assert actions.value(c, SKOS.prefLabel) is not None
        if "." in code:
            assert str(actions.value(actions.value(c, SKOS.broader), SKOS.notation)) == code.rsplit(".", 1)[0]
    # both scheme descriptions say which one the queries use
    for sch in (s, SCHEME["iucn-cmp-actions"]):
        assert "queries" in str(actions.value(sch, SKOS.definition))
    assert actions.value(SCHEME["iucn-cmp-actions"], OWL.versionInfo) == Literal("1.0")


def test_cmp_concepts_are_mapped_except_class_7(actions):
    cmp = set(actions.subjects(SKOS.inScheme, SCHEME["iucn-cmp-actions"]))
    assert len(cmp) == 31
    for c in cmp:
        code = str(actions.value(c, SKOS.notation))
        targets = [o for p in MAPPINGS for o in actions.objects(c, p)]
        if code.split(".")[0] == "7":
            assert not targets, c
            note = str(actions.value(c, SKOS.editorialNote) or actions.value(c, SKOS.note) or "")
            assert "no counterpart" in note, c
        else:
            assert targets, c
            for t in targets:
                assert str(t).startswith(RL) and (t, SKOS.inScheme, SCHEME["iucn-redlist-actions"]) in actions
            exact = actions.value(c, SKOS.exactMatch)
            if exact is not None:
                assert str(actions.value(exact, SKOS.notation)) == code


def test_every_threat_tag_has_one_justified_annotation(tags, threats):
    links = set(tags.subject_objects(BKD.threatClass))
    assert links
    for s, o in links:
        anns = [a for a in tags.subjects(RDF.subject, s)
                if (a, RDF.object, o) in tags and (a, RDF.predicate, BKD.threatClass) in tags]
        assert len(anns) == 1, (s, o)
        just = tags.value(anns[0], BKD.justification)
        assert just is not None and str(just).strip(), anns[0]
        assert (o, SKOS.inScheme, SCHEME["iucn-threats"]) in threats, o


def test_chosen_pairs_quote_their_items_text(tags, threats):
    found = {(("m" if "/measure/" in str(s) else "a"), str(s).rsplit("/", 1)[1], str(o)[len(THREAT):])
             for s, o in tags.subject_objects(BKD.threatClass)}
    assert found == CHOSEN
    items = _items()
    for kind, number, code in sorted(CHOSEN):
        text = items[(kind, number)].lower()
        s, o = _subject(kind, number), URIRef(THREAT + code)
        ann = next(a for a in tags.subjects(RDF.subject, s) if (a, RDF.object, o) in tags)
        just = str(tags.value(ann, BKD.justification))
        quotes = re.findall(r'"([^"]+)"', just)
        assert quotes, just
        for q in quotes:
            assert q.lower() in text, (kind, number, q)
        # the justification names the code and its current v3.2 label
        assert f"IUCN threat {code} {threats.value(o, SKOS.prefLabel)}" in just, just
