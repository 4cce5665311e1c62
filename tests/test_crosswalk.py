"""The curated crosswalk follows from the review decisions (kg.reviews, kg.crosswalk).

  - the gate: every candidate pair above its cutoff, ranked again from the freshly built
    graph (kg.candidates), has a decision in the review files;
  - the shipped links are exactly the decisions, both ways (annex same ->
    bkd:coveredByAnnexItem, annex part -> bkd:contributesToAnnexItem, shared same ->
    bkd:sharedAction), each with one justified bkd:CuratedAnnotation;
  - a decision naming something the data does not have stops the build, naming the row;
  - the shared-action groups are consistent within the reviewed rows.

The expectations are computed from the review files, never from the graph under test.
"""
from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pytest

from kg import build, candidates, crosswalk, reviews
from kg.errors import BadInput

BASE = "https://w3id.org/bukhara-deer/"
SHIPPED = reviews.reviews_dir()


def decisions(kind: str) -> list[reviews.Decision]:
    return reviews.read(kind, SHIPPED)


def expected_annex(decision: str) -> set[tuple[str, str]]:
    return {(d.a, d.b) for d in decisions("annex") if d.decision == decision}


def expected_memberships() -> set[tuple[str, str]]:
    out = set()
    for d in decisions("shared"):
        if d.decision == "same":
            out |= {(d.a, d.shared_action), (d.b, d.shared_action)}
    return out


def select(store, q: str) -> list[dict[str, str]]:
    res = store.query(q)
    names = [v.value for v in res.variables]
    return [{n: (s[n].value if s[n] is not None else "") for n in names} for s in res]


def annex_links(store, prop: str) -> set[tuple[str, str]]:
    return {(r["m"], r["a"]) for r in select(store, f"""SELECT ?m ?a WHERE {{
        ?x bkd:{prop} ?y . ?x a bkd:Measure ; bkd:number ?m . ?y bkd:number ?a }}""")}


def memberships(store) -> set[tuple[str, str]]:
    prefix = BASE + "shared-action/"
    return {(r["m"], r["g"][len(prefix):]) for r in select(store, """SELECT ?m ?g WHERE {
        ?x bkd:sharedAction ?g ; bkd:number ?m }""")}


# ---------------------------------------------------------------- the gate

def test_every_candidate_above_the_cutoff_has_a_decision(store):
    """Re-rank the built graph: a candidate without a decision (or without a row) is a
    link nobody has looked at. Run `kg curate suggest` to list them, decide each one
    in data/curation/reviews/ with a one-line reason."""
    decided = {d.key for kind in ("annex", "shared") for d in decisions(kind) if d.decision}
    pending = [p for p in candidates.candidates(candidates.items(store)) if p.key not in decided]
    assert not pending, (f"{len(pending)} candidate pairs without a decision, e.g. "
                         + "; ".join(f"{p.kind} {p.a.number} / {p.b.number} ({p.score:.4f})" for p in pending[:10]))


# ---------------------------------------------------------------- links == decisions

@pytest.mark.parametrize("decision, prop", [("same", "coveredByAnnexItem"), ("part", "contributesToAnnexItem")])
def test_annex_links_are_exactly_the_decisions(store, decision, prop):
    want, got = expected_annex(decision), annex_links(store, prop)
    assert got - want == set(), f"bkd:{prop} links without a '{decision}' decision"
    assert want - got == set(), f"'{decision}' decisions without their bkd:{prop} link"


def test_no_link_for_none_or_undecided_rows(store):
    silent = {(d.a, d.b) for d in decisions("annex") if d.decision in ("none", "")}
    linked = annex_links(store, "coveredByAnnexItem") | annex_links(store, "contributesToAnnexItem")
    assert not silent & linked


def test_shared_action_memberships_are_exactly_the_same_decisions(store):
    want, got = expected_memberships(), memberships(store)
    assert got - want == set(), "bkd:sharedAction memberships without a 'same' decision"
    assert want - got == set(), "'same' decisions without their bkd:sharedAction memberships"


def test_every_link_has_exactly_one_justified_annotation(store):
    rows = select(store, """SELECT ?s ?p ?o (COUNT(DISTINCT ?n) AS ?notes) (SAMPLE(?j) AS ?why) WHERE {
        VALUES ?p { bkd:coveredByAnnexItem bkd:contributesToAnnexItem bkd:sharedAction }
        ?s ?p ?o .
        OPTIONAL { ?n a bkd:CuratedAnnotation ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o .
                   OPTIONAL { ?n bkd:justification ?j } }
    } GROUP BY ?s ?p ?o""")
    n_links = len(expected_annex("same")) + len(expected_annex("part")) + len(expected_memberships())
    assert len(rows) == n_links
    bad = [r for r in rows if r["notes"] != "1" or not r["why"].strip()]
    assert not bad, bad[:3]


def test_annotations_carry_the_review_and_stable_iris(store):
    rows = select(store, """SELECT ?n ?s ?p ?o ?who ?created ?source WHERE {
        VALUES ?p { bkd:coveredByAnnexItem bkd:contributesToAnnexItem bkd:sharedAction }
        ?n a bkd:CuratedAnnotation ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
           prov:wasAttributedTo ?who ; dcterms:created ?created ; dcterms:source ?source }""")
    n_links = len(expected_annex("same")) + len(expected_annex("part")) + len(expected_memberships())
    assert len(rows) == n_links
    annex_file, shared_file = (crosswalk.source_name(reviews.path_of(k, SHIPPED)) for k in ("annex", "shared"))
    assert shared_file.endswith(f"reviews/{reviews.SHARED_FILE}")
    for r in rows:
        assert r["who"] == BASE + "agent/project-curators" and r["created"] == reviews.REVIEW_DATE
        m = r["s"][len(BASE + "measure/"):]
        if r["p"].endswith("#sharedAction"):
            g = r["o"][len(BASE + "shared-action/"):]
            assert r["n"] == f"{BASE}annotation/shared-m{m}-{g}" and r["source"] == shared_file
        else:
            a = r["o"][len(BASE + "annex1/"):]
            assert r["n"] == f"{BASE}annotation/annex-link-m{m}-a{a}" and r["source"] == annex_file


def test_the_justification_is_the_reason_of_the_decision(store):
    reason = {(d.a, d.b): d.reason for d in decisions("annex") if d.decision in crosswalk.PREDICATE}
    rows = select(store, """SELECT ?m ?a ?j WHERE { VALUES ?p { bkd:coveredByAnnexItem bkd:contributesToAnnexItem }
        ?n rdf:predicate ?p ; rdf:subject/bkd:number ?m ; rdf:object/bkd:number ?a ; bkd:justification ?j }""")
    assert {(r["m"], r["a"]): r["j"] for r in rows} == reason
    by_member = defaultdict(set)
    for d in decisions("shared"):
        if d.decision == "same":
            by_member[(d.a, d.shared_action)].add(d.reason)
            by_member[(d.b, d.shared_action)].add(d.reason)
    prefix = BASE + "shared-action/"
    for r in select(store, """SELECT ?m ?g ?j WHERE { ?n rdf:predicate bkd:sharedAction ;
                              rdf:subject/bkd:number ?m ; rdf:object ?g ; bkd:justification ?j }"""):
        assert all(why in r["j"] for why in by_member[(r["m"], r["g"][len(prefix):])]), r


# ---------------------------------------------------------------- bad rows stop the build

def _copy_reviews(tmp_path: Path) -> Path:
    d = tmp_path / "reviews"
    shutil.copytree(SHIPPED, d)
    return d


def _append(path: Path, row: list[str]) -> int:
    """Append one row to a review file; returns its line number."""
    with path.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(row)
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("kind, row, names", [
    ("annex", ["99.9", "3.4", "0.5", "same", "A measure that does not exist."], "measure '99.9'"),
    ("annex", ["2.11", "9.9", "0.5", "part", "An Annex 1 item that does not exist."], "annex_item '9.9'"),
    ("shared", ["2.11", "99.9", "0.5", "none", "", "A measure that does not exist."], "measure '99.9'"),
    ("shared", ["1.1", "1.2", "0.5", "same", "no-such-action", "A shared action without a definition."],
     "shared_action 'no-such-action' has no definition block"),
])
@pytest.mark.slow
def test_a_bad_decision_fails_the_build_naming_the_file_and_row(tmp_path, monkeypatch, kind, row, names):
    d = _copy_reviews(tmp_path)
    path = reviews.path_of(kind, d)
    line = _append(path, row)
    monkeypatch.setenv("KG_REVIEWS_DIR", str(d))
    with pytest.raises(BadInput) as e:
        build.load_parts(infer=False)
    assert str(e.value).startswith(f"{path}, line {line}: ") and names in str(e.value), str(e.value)


def test_a_pair_decided_twice_fails_the_build(tmp_path, monkeypatch):
    d = _copy_reviews(tmp_path)
    first = next(x for x in reviews.read("annex", d) if x.decision)
    line = _append(reviews.path_of("annex", d), [first.a, first.b, "0.5", "none", "Decided again."])
    monkeypatch.setenv("KG_REVIEWS_DIR", str(d))
    with pytest.raises(BadInput, match=rf", line {line}: the pair {first.a} / {first.b} is already decided"):
        build.load_parts(infer=False)


def test_the_build_follows_the_reviews_dir(tmp_path, monkeypatch):
    """A decision changed in the review file changes the shipped link (and its strength)."""
    d = _copy_reviews(tmp_path)
    rows = list(csv.reader((d / reviews.ANNEX_FILE).open(encoding="utf-8")))
    i = next(n for n, r in enumerate(rows) if n and r[3] == "same")
    m, a = rows[i][0], rows[i][1]
    rows[i][3], rows[i][4] = "part", "Changed for the test: in part only."
    with (d / reviews.ANNEX_FILE).open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    monkeypatch.setenv("KG_REVIEWS_DIR", str(d))
    cur = build.load_parts(infer=False).curation
    from rdflib import URIRef
    s, o = URIRef(f"{BASE}measure/{m}"), URIRef(f"{BASE}annex1/{a}")
    bkd = BASE + "ontology#"
    assert (s, URIRef(bkd + "contributesToAnnexItem"), o) in cur
    assert (s, URIRef(bkd + "coveredByAnnexItem"), o) not in cur


def test_undecided_rows_produce_nothing(tmp_path, monkeypatch):
    d = tmp_path / "reviews"
    d.mkdir()
    for kind, columns in (("annex", reviews.ANNEX_COLUMNS), ("shared", reviews.SHARED_COLUMNS)):
        with reviews.path_of(kind, d).open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            w.writerow(["2.11", "3.4", "0.9", "", ""] if kind == "annex" else ["2.11", "3.5", "1.0", "", "", ""])
    monkeypatch.setenv("KG_REVIEWS_DIR", str(d))
    parts = build.load_parts(infer=False)
    assert crosswalk.triples(parts.data, parts.curation, d).__len__() == 0


# ---------------------------------------------------------------- consistent groups

def test_shared_groups_are_consistent_within_the_reviewed_rows():
    """If A~B and B~C are 'same' G and A~C is a row, it is 'same' G too; and a measure
    is an occurrence of one shared action only."""
    rows = {frozenset((d.a, d.b)): d for d in decisions("shared")}
    same = [d for d in rows.values() if d.decision == "same"]
    group_of = defaultdict(set)
    for d in same:
        group_of[d.a].add(d.shared_action)
        group_of[d.b].add(d.shared_action)
    assert not {m: g for m, g in group_of.items() if len(g) > 1}, "a measure in two shared actions"
    problems = []
    for x, y in combinations(same, 2):
        common = {x.a, x.b} & {y.a, y.b}
        if len(common) != 1 or x.shared_action != y.shared_action:
            continue
        ends = frozenset(({x.a, x.b} | {y.a, y.b}) - common)
        third = rows.get(ends)
        if third is not None and (third.decision != "same" or third.shared_action != x.shared_action):
            problems.append(f"{' ~ '.join(sorted(ends, key=candidates.number_key))} (line {third.line}): "
                            f"'{third.decision or 'undecided'}', but both are 'same' {x.shared_action} "
                            f"with {next(iter(common))}")
    assert not problems, f"{len(problems)} inconsistent rows, e.g.\n" + "\n".join(sorted(set(problems))[:10])
