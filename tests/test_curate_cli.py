"""`kg curate suggest` and `kg curate report` (kg.curate): the candidate pairs still to
decide and the progress of the crosswalk's review. Expectations come from the review
files (kg.reviews), the ranking (kg.candidates) and SPARQL over the same store, never
from fixed counts: the curators fill in the decisions while the code is written.

Tests that need undecided pairs write their own review files (a copy of the shipped
ones with some decisions taken out) into a temporary KG_REVIEWS_DIR."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from kg import candidates as cand, curate, reviews
from kg.errors import BadInput

BASE = "https://w3id.org/bukhara-deer/"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "new-measure.ttl"


def values(store, sparql: str, var: str) -> set[str]:
    return {r[var].value for r in store.query(sparql)}


@pytest.fixture(scope="module")
def ranked(store) -> list[cand.Pair]:
    return cand.rank(cand.items(store))


@pytest.fixture(scope="module")
def shipped() -> dict:
    return curate.decisions()


@pytest.fixture
def partly_decided(tmp_path, store, shipped):
    """Review files with every third candidate's decision taken out (and the rest kept):
    undecided pairs whatever the state of the shipped review."""
    out = tmp_path / "reviews"
    out.mkdir()
    pairs = cand.candidates(cand.items(store))
    blank = {p.key for p in pairs[::3]}
    for kind in curate.KINDS:
        rows = []
        for p in pairs:
            if p.kind != kind:
                continue
            d = shipped.get(p.key)
            if p.key in blank or d is None or not d.decision:
                rows.append(reviews.Decision(kind, p.a.number, p.b.number, f"{p.score:.4f}", "", ""))
            else:
                rows.append(d)
        reviews.write(kind, rows, out)
    return out


# ---------------------------------------------------------------- naming a measure or item

@pytest.mark.parametrize("spec, iri", [
    ("2.10", "measure/2.10"), ("measure 2.10", "measure/2.10"), (" 2.10 ", "measure/2.10"),
    ("annex 6.2", "annex1/6.2"), ("annex1 6.2", "annex1/6.2"), ("Annex 1 6.2", "annex1/6.2"),
    ("annex1/6.2", "annex1/6.2"), ("measure/2.10", "measure/2.10"), ("bkdi:measure/2.10", "measure/2.10"),
    (BASE + "annex1/6.2", "annex1/6.2"), ("1.2", "measure/1.2"), ("annex 1.2", "annex1/1.2"),
])
def test_resolve_names_a_measure_or_an_annex_item(store, spec, iri):
    assert [i.iri for i in curate.resolve(curate.ranked_items(store), spec)] == [BASE + iri]


@pytest.mark.parametrize("spec, message", [
    ("99.9", "no measure 99.9"), ("annex 9.9", "no Annex 1 item 9.9"), ("deer", "give an IRI"),
    (BASE + "measure/99.9", "no measure or Annex 1 item with this IRI"), ("", "needs a measure"),
    (BASE + "country/UZB", "no measure or Annex 1 item"),
])
def test_resolve_refuses_what_names_nothing(store, spec, message):
    with pytest.raises(BadInput, match=message):
        curate.resolve(curate.ranked_items(store), spec)


def test_a_bare_number_of_an_annex_item_only_hints_at_annex():
    items = [cand.Item(BASE + "annex1/7.7", "annex1", "7.7", "", "An item.", frozenset()),
             cand.Item(BASE + "measure/7.6", "measure", "7.6", "", "A measure.", frozenset())]
    with pytest.raises(BadInput, match="no measure 7.7 in the graph \\(for the Annex 1 item, write annex 7.7\\)"):
        curate.resolve(items, "7.7")
    assert curate.resolve(items, "annex 7.7") == items[:1]


# ---------------------------------------------------------------- suggest

def test_suggest_lists_exactly_the_undecided_candidates_best_first(store, partly_decided):
    review = curate.decisions(partly_decided)
    want = [p.key for p in cand.candidates(cand.items(store))
            if not (p.key in review and review[p.key].decision)]
    got = curate.suggest(store, directory=partly_decided)
    assert want and [s.pair.key for s in got] == want
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)
    assert all(not s.decision for s in got)
    assert all(s.score >= cand.CUTOFF[s.kind] for s in got)


def test_suggest_all_adds_the_decided_pairs_with_their_decision(store, ranked, partly_decided):
    review = curate.decisions(partly_decided)
    decided = {k for k, d in review.items() if d.decision}
    want = {p.key for p in ranked if p.score >= cand.CUTOFF[p.kind] or p.key in decided}
    got = curate.suggest(store, decided=True, directory=partly_decided)
    assert {s.pair.key for s in got} == want
    for s in got:
        assert s.decision == (review[s.pair.key].decision if s.pair.key in review else "")
        if s.decision:
            assert s.reason == review[s.pair.key].reason


def test_suggest_for_one_measure_or_item_keeps_only_its_pairs(store, partly_decided):
    every = curate.suggest(store, decided=True, directory=partly_decided)
    for spec, iri in (("annex 6.2", BASE + "annex1/6.2"), ("2.10", BASE + "measure/2.10")):
        got = curate.suggest(store, for_=spec, decided=True, directory=partly_decided)
        assert [s.pair.key for s in got] == [s.pair.key for s in every if iri in (s.a.iri, s.b.iri)]
        assert got, spec


def test_suggest_with_everything_decided_is_empty(store, tmp_path, ranked):
    for kind in curate.KINDS:
        reviews.write(kind, [reviews.Decision(kind, p.a.number, p.b.number, f"{p.score:.4f}", "none", "test")
                             for p in ranked if p.kind == kind and p.score >= cand.CUTOFF[kind]], tmp_path)
    assert curate.suggest(store, directory=tmp_path) == []


def test_shorten_cuts_at_a_word():
    text = "Restore the riparian forests in natural habitats along the Amu Darya and its tributaries, " * 2
    short = curate.shorten(text)
    assert len(short) <= 80 and short.endswith("…") and text.startswith(short[:-1])
    assert curate.shorten("Short  text.\n") == "Short text."


# ---------------------------------------------------------------- report

def test_report_figures_agree_with_the_review_files_and_the_graph(store, ranked, shipped):
    r = curate.report(store)
    assert r.ranked and not r.error
    for x in r.layers:
        cands = {p.key for p in ranked if p.kind == x.kind and p.score >= cand.CUTOFF[x.kind]}
        decided = {k for k in cands if k in shipped and shipped[k].decision}
        assert (x.candidates, x.decided, x.undecided) == (len(cands), len(decided), len(cands - decided))
        assert sum(x.decisions.values()) == x.decided
        for d in ("same", "part", "none"):
            assert x.decisions[d] == sum(1 for k in decided if shipped[k].decision == d)
    for strength, prop in (("same", "coveredByAnnexItem"), ("part", "contributesToAnnexItem")):
        pairs = {(x["m"].value, x["i"].value) for x in store.query(f"SELECT ?m ?i WHERE {{ ?m bkd:{prop} ?i }}")}
        assert r.annex_links.get(strength, 0) == len(pairs), strength
        assert r.annex_measures.get(strength, 0) == len({m for m, _ in pairs})
        assert r.annex_items.get(strength, 0) == len({i for _, i in pairs})
    members = {}
    for x in store.query("SELECT ?s ?m WHERE { ?s a bkd:SharedAction OPTIONAL { ?m bkd:sharedAction ?s } }"):
        members.setdefault(x["s"].value, set()).update([x["m"].value] if x["m"] is not None else [])
    assert {m.iri: m.members for m in r.memberships} == {s: len(v) for s, v in members.items()}
    items = values(store, "SELECT ?i WHERE { ?i a bkd:Annex1Item }", "i")
    fed = values(store, "SELECT ?i WHERE { ?m bkd:coveredByAnnexItem|bkd:contributesToAnnexItem ?i }", "i")
    assert {e.iri for e in r.unfed} == items - fed and r.annex_total == len(items)
    measures = values(store, "SELECT ?m WHERE { ?m a bkd:Measure }", "m")
    tagged = values(store, "SELECT ?m WHERE { ?m a bkd:Measure ; bkd:threatClass ?t }", "m")
    assert {e.iri for e in r.untagged} == measures - tagged and r.measure_total == len(measures)
    assert [e.number for e in r.unfed] == sorted((e.number for e in r.unfed), key=cand.number_key)


def test_report_counts_stale_decisions(store, tmp_path, ranked):
    low = next(p for p in reversed(ranked) if p.kind == "annex")
    assert low.score < cand.CUTOFF["annex"]
    reviews.write("annex", [reviews.Decision("annex", low.a.number, low.b.number, "0", "none", "test"),
                            reviews.Decision("annex", "99.1", "1.1", "0", "none", "test")], tmp_path)
    x = curate.report(store, tmp_path).layer("annex")
    assert (x.below_cutoff, x.unknown, x.decided) == (1, 1, 0)


def test_report_keeps_the_graph_figures_when_a_review_file_is_bad(store, tmp_path):
    (tmp_path / reviews.ANNEX_FILE).write_text("measure,annex\n1.1,1.1\n", encoding="utf-8")
    r = curate.report(store, tmp_path)
    assert "columns must be" in r.error and r.layers[0].candidates is None
    assert r.annex_total and r.measure_total


def test_too_large_a_graph_is_not_ranked(store, monkeypatch):
    monkeypatch.setattr(curate, "MAX_RANKED", 10)
    r = curate.report(store)
    assert not r.ranked and all(x.candidates is None for x in r.layers)
    with pytest.raises(Exception, match="not supported"):
        curate.suggest(store)


# ---------------------------------------------------------------- the command

@pytest.mark.slow
def test_kg_curate_suggest_prints_the_undecided_pairs(kg, store, partly_decided):
    env = {"KG_REVIEWS_DIR": str(partly_decided)}
    want = curate.suggest(store, directory=partly_decided)
    code, out, err = kg("curate", "suggest", "--limit", "5", env=env)
    assert code == 0, err
    lines = out.rstrip("\n").split("\n")
    assert lines[0].split()[:4] == ["score", "kind", "measure", "with"]
    assert len(lines) == 1 + 5 + 1
    for line, s in zip(lines[1:-1], want):
        assert line.split()[:3] == [f"{s.score:.4f}", s.kind, s.a.number]
        assert curate.label(s.b) in line and curate.shorten(s.a.text) in line and curate.shorten(s.b.text) in line
    assert lines[-1] == f"(5 of {len(want)} undecided pairs; --limit 0 lists all)"
    code, out, _ = kg("curate", "suggest", "--limit", "0", env=env)
    assert code == 0 and len(out.rstrip("\n").split("\n")) == len(want) + 2
    code, out, _ = kg("curate", "suggest", "--limit", "0", "--format", "json", env=env)
    rows = json.loads(out)
    assert [(r["kind"], r["a"], r["b"]) for r in rows] == [s.pair.key for s in want]


def test_kg_curate_suggest_all_and_for(kg, store, partly_decided):
    env = {"KG_REVIEWS_DIR": str(partly_decided)}
    want = curate.suggest(store, for_="annex 6.2", decided=True, directory=partly_decided)
    code, out, err = kg("curate", "suggest", "--for", "annex 6.2", "--all", "--limit", "0", env=env)
    assert code == 0, err
    lines = out.rstrip("\n").split("\n")
    assert "decision" in lines[0].split()
    assert len(lines) == len(want) + 2
    for line, s in zip(lines[1:-1], want):
        assert "annex 6.2" in line and (s.decision or "-") in line.split()
    undecided = sum(1 for s in want if not s.decision)
    assert lines[-1] == (f"({len(want)} pairs for annex 6.2, {len(want) - undecided} decided, "
                         f"{undecided} undecided)")


def test_kg_curate_suggest_with_nothing_to_decide_is_one_line(kg, store, tmp_path, ranked):
    for kind in curate.KINDS:
        reviews.write(kind, [reviews.Decision(kind, p.a.number, p.b.number, f"{p.score:.4f}", "none", "test")
                             for p in ranked if p.kind == kind and p.score >= cand.CUTOFF[kind]], tmp_path)
    code, out, err = kg("curate", "suggest", env={"KG_REVIEWS_DIR": str(tmp_path)})
    assert code == 0, err
    assert out.count("\n") == 1 and out.startswith("nothing to decide")


@pytest.mark.parametrize("args, message", [
    (["--for", "99.9"], "no measure 99.9"), (["--for", "annex 9.9"], "no Annex 1 item 9.9"),
    (["--limit", "-1"], "--limit"),
])
def test_kg_curate_suggest_bad_input_is_one_line(kg, args, message):
    code, out, err = kg("curate", "suggest", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


@pytest.mark.slow
def test_kg_curate_report(kg, store):
    code, out, err = kg("curate", "report", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    r = curate.report(store)
    assert data == json.loads(json.dumps(r.as_dict()))
    code, text, err = kg("curate", "report")
    assert code == 0, err
    for x in r.layers:
        row = next(line for line in text.splitlines() if line.strip().startswith(x.title))
        assert row.split()[2:] == [str(x.candidates), str(x.decided), str(x.undecided),
                                   *(str(x.decisions.get(k, 0)) for k in ("same", "part", "none"))]
    for key, strength, prop in (("same", "same action", "coveredByAnnexItem"),
                                ("part", "in part", "contributesToAnnexItem")):
        assert (f"annex links, {strength} (bkd:{prop}): {r.annex_links.get(key, 0)} links from "
                f"{r.annex_measures.get(key, 0)} measures to {r.annex_items.get(key, 0)} Annex 1 items") in text
    assert f"Annex 1 items no measure feeds (neither strength): {len(r.unfed)} of {r.annex_total}" in text
    for e in r.unfed:
        assert re.search(rf"^  {re.escape(e.number)}\s+{re.escape(curate.shorten(e.text)[:40])}", text, re.M)
    for line in curate.threat_lines(r):  # threats the texts name without a matching tag, then the counts
        assert line in text
    assert f"Measures with no threat tag (bkd:threatClass): {len(r.untagged)} of {r.measure_total}" in text
    listed = re.findall(r"\d+\.\d+", text.split("Measures with no threat tag")[1].split("\n", 1)[1])
    assert listed == [e.number for e in r.untagged]
    for m in r.memberships:
        assert re.search(rf"^\s+{m.members}  {re.escape(m.label)}$", text, re.M)


# ---------------------------------------------------------------- a measure added by a change set

@pytest.mark.slow
def test_a_measure_added_by_a_change_set_gets_suggestions(kg, dist, store, tmp_path):
    """A steward adds measure 9.4 whose text is close to an Annex 1 item: it is in the
    store at once, and `kg curate suggest --for` it lists that item (no decision yet)."""
    item = next(i for i in cand.items(store) if i.kind == "annex1" and i.number == "3.6")
    d, adds = tmp_path / "dist", tmp_path / "additions"
    shutil.copytree(dist, d)
    adds.mkdir()
    env = {"KG_DIST": str(d), "KG_ADDITIONS": str(adds)}
    text = EXAMPLE.read_text(encoding="utf-8")
    old = re.search(r'bkd:text "([^"]*)"', text).group(1)
    new = tmp_path / "near-annex.ttl"
    new.write_text(text.replace(old, "In the captive breeding groups, " + item.text), encoding="utf-8")
    code, out, err = kg("add", str(new), "--by", "Test Steward", "--source", "test of kg curate", env=env)
    assert code == 0, out + err
    for spec in ("9.4", BASE + "measure/9.4", "bkdi:measure/9.4"):
        code, out, err = kg("curate", "suggest", "--for", spec, "--limit", "0", env=env)
        assert code == 0, err
        rows = [line.split() for line in out.splitlines()[1:-1]]
        assert rows and all("9.4" in r[2:5] for r in rows), out
        first = out.splitlines()[1]
        assert first.split()[1:5] == ["annex", "9.4", "annex", "3.6"], "the Annex 1 item it copies ranks first"
    code, out, err = kg("curate", "suggest", "--for", "annex 3.6", "--limit", "0", env=env)
    assert code == 0 and re.search(r"^\S+\s+annex\s+9\.4\s+annex 3\.6", out, re.M), out
