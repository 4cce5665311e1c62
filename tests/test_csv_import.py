"""CSV change sets (kg.csv_import): the columns of `kg export measures` back to RDF."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from rdflib import Graph, URIRef

from kg import build, export
from kg.config import settings
from kg.csv_import import csv_to_graph
from kg.errors import BadInput

HEADER = ",".join(export.COLUMNS)
READ_ONLY = tuple(export.CURATED) + tuple(getattr(export, "DERIVED", ()))


@pytest.fixture(scope="module")
def rows(store) -> list[dict]:
    """Exported rows with the curated and derived (read-only) columns emptied."""
    return [{**r, **{c: "" for c in READ_ONLY}} for r in export.measures(store)]


@pytest.fixture(scope="module")
def data() -> Graph:
    return build.load_parts(infer=False).data


def to_csv(rows: list[dict], columns=export.COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def renumber(row: dict, number: str) -> dict:
    folder = "measure/" if row["kind"] == "measure" else "annex1/"
    return {**row, "iri": "", "number": number, "_old": row["iri"], "_new": settings().base + folder + number}


def test_round_trip_of_exported_rows_renumbered(rows, data):
    """Export rows of existing measures and annex items (with advising and facilitating
    actors, a priority range, several countries), renumber them, convert back: the new
    entities have the same facts as the originals, for every fact the columns carry."""
    base = settings().base
    wanted = {"measure/1.4", "measure/1.6", "measure/2.1", "measure/2.10", "annex1/1.1", "annex1/4.1"}
    picked = [r for r in rows if r["iri"][len(base):] in wanted]
    ranged = next(r for r in rows if "-" in r["priority"])
    picked.append(ranged)
    assert len(picked) == len(wanted) + 1
    renumbered = [renumber(r, r["number"].split(".")[0] + f".{90 + i}") for i, r in enumerate(picked)]
    g = csv_to_graph(to_csv(renumbered), "rows.csv")
    label = URIRef("http://www.w3.org/2000/01/rdf-schema#label")
    number = URIRef(settings().ontology_ns + "number")
    covered = set(g.predicates()) - {label, number}
    for r in renumbered:
        old, new = URIRef(r["_old"]), URIRef(r["_new"])
        expected = {(p, o) for p, o in data.predicate_objects(old) if p in covered}
        got = {(p, o) for p, o in g.predicate_objects(new) if p in covered}
        assert got == expected, r["_old"]
        assert str(g.value(new, number)) == r["number"]
        kind = "Measure" if r["kind"] == "measure" else "Annex 1 item"
        assert str(g.value(new, label)) == f"{kind} {r['number']}"
    assert not [s for s in g.subjects() if str(s) in {r["_old"] for r in renumbered}]


@pytest.mark.slow
def test_all_exported_rows_convert_to_the_shipped_facts(rows, data):
    g = csv_to_graph(export.to_csv(rows), "all.csv")
    preds = set(g.predicates())
    assert len(set(g.subjects())) == len(rows) == 92
    assert all(t in data for t in g)
    assert not [t for t in data if t[1] in preds and t[0] in set(g.subjects()) and t not in g]


def test_a_subset_of_columns_in_any_order(rows):
    text = "text,section,number,kind\nDo it.,2.0,2.90,measure\n"
    g = csv_to_graph(text, "few.csv")
    m = URIRef(settings().base + "measure/2.90")
    assert (m, URIRef(settings().ontology_ns + "inSection"), URIRef(settings().base + "section/2.0")) in g


def bad(text: str) -> str:
    with pytest.raises(BadInput) as e:
        csv_to_graph(text, "in.csv")
    return str(e.value)


def test_wrong_columns_list_expected_and_wrong_ones():
    msg = bad("kind,number,section,txt,colour\nmeasure,2.90,2.0,x,red\n")
    assert msg.startswith("in.csv: line 1: wrong columns (unknown: 'txt', 'colour'; missing: text).")
    assert "Expected the columns of `kg export measures`: " + ", ".join(export.COLUMNS) in msg
    assert "repeated: number" in bad("kind,number,number,section,text\n")


def test_empty_required_cell_names_row_and_column():
    msg = bad("kind,number,section,text\nmeasure,2.90,2.0,Do it.\nmeasure,2.91,2.0,\n")
    assert msg == "in.csv: line 3, column text: empty; this column is required"


def test_unknown_section_and_country_suggest_the_closest():
    msg = bad("kind,number,section,text,countries\n"
              "measure,2.90,2.0 Lower Amu Daria (TKM UZB),Do it.,UZB\n"
              "measure,2.91,2.0,Do it.,UZB; TMK\n")
    lines = msg.splitlines()
    assert lines[0] == ("in.csv: line 2, column section: unknown section '2.0 Lower Amu Daria (TKM UZB)'; "
                        "did you mean '2.0 Lower Amu Darya (TKM, UZB)'?")
    assert lines[1].startswith("in.csv: line 3, column countries: unknown country code 'TMK'; did you mean 'TKM'?")


def test_unknown_planning_unit_suggests():
    msg = bad("kind,number,section,text,planning_unit\nmeasure,2.90,2.0,Do it.,Lower Amu Daria\n")
    assert ("line 2, column planning_unit: unknown planning unit 'Lower Amu Daria'; "
            "did you mean 'Lower Amu Darya'?") in msg


@pytest.mark.parametrize("priority", ["4", "high", "3-2", "1,2"])
def test_bad_priority(priority):
    msg = bad(f"kind,number,section,text,priority\nmeasure,2.90,2.0,Do it.,\"{priority}\"\n")
    assert msg == (f"in.csv: line 2, column priority: {priority!r} is not a priority as printed: "
                   "1, 2, 3 or a range such as 2-3")


def test_priority_range_links_both_levels():
    g = csv_to_graph("kind,number,section,text,priority\nmeasure,2.90,2.0,Do it.,2-3\n", "in.csv")
    prio = URIRef(settings().ontology_ns + "priority")
    assert {str(o)[len(settings().base):] for o in g.objects(None, prio)} == {"priority/2", "priority/3"}


def test_actor_types_that_disagree_with_the_responsibility():
    msg = bad("kind,number,section,text,responsibility,actor_types\n"
              "measure,2.90,2.0,Do it.,\"GOs with advice by NGOs\",Governmental organisations\n")
    assert msg.startswith("in.csv: line 2, column actor_types: 'Governmental organisations' disagrees with the "
                          "responsibility 'GOs with advice by NGOs', which names "
                          "'Governmental organisations; Non-governmental organisations'.")


def test_roles_are_read_from_the_responsibility():
    g = csv_to_graph("kind,number,section,text,responsibility\n"
                     "measure,2.90,2.0,Do it.,\"GOs, IGOs possibly facilitated by CMS\"\n"
                     "measure,2.91,2.0,Do it.,GOs with advice by NGOs and scientific institutes\n", "in.csv")
    ns, base = settings().ontology_ns, settings().base

    def actors(number, prop):
        return {str(o)[len(base) + len("actor-type/"):]
                for o in g.objects(URIRef(base + "measure/" + number), URIRef(ns + prop))}

    assert actors("2.90", "leadActorType") == {"go", "igo"}
    assert actors("2.90", "facilitatingActorType") == {"cms"}
    assert actors("2.91", "leadActorType") == {"go"}
    assert actors("2.91", "advisingActorType") == {"ngo", "scientific-institution"}


def test_unknown_actor_type_and_bad_kind():
    msg = bad("kind,number,section,text,responsibility\n"
              "measure,2.90,2.0,Do it.,\"GOs, NGO's\"\n"
              "action,2.91,2.0,Do it.,GOs\n")
    lines = msg.splitlines()
    assert lines[0].startswith("in.csv: line 2, column responsibility: \"NGO's\" is not a known actor type; "
                               "did you mean 'ngos'?")
    assert lines[1] == "in.csv: line 3, column kind: 'action' is not a kind; use 'measure' or 'annex1'"


def test_repeated_row_and_multiline_cells_keep_line_numbers():
    msg = bad('kind,number,section,text\nmeasure,2.90,2.0,"two\nlines"\nmeasure,2.90,2.0,again\n')
    assert msg == "in.csv: line 4, column number: https://w3id.org/bukhara-deer/measure/2.90 is already given on line 2"


def test_annex_items_get_the_programme_links_of_annex_1():
    g = csv_to_graph("kind,number,section,text\nannex1,1.9,1.0,Do it.\n", "in.csv")
    ns, base = settings().ontology_ns, settings().base
    item = URIRef(base + "annex1/1.9")
    assert g.value(item, URIRef(ns + "inSection")) == URIRef(base + "annex1/section/1.0")
    assert g.value(item, URIRef(ns + "takenFrom")) == URIRef(base + "programme/wp-2021-2026")
    assert g.value(item, URIRef(ns + "toBeIntegratedInto")) == URIRef(base + "programme/cami-pow-2026-2032")
    assert (item, URIRef(ns + "describedIn"), None) not in g


def test_curated_cells_are_set_aside_not_read(store):
    """Curated cells never become facts: filled, they are set aside for the check."""
    row = next(r for r in export.measures(store) if r["iri"].endswith("/measure/2.1"))
    g = csv_to_graph(export.to_csv([row]), "tagged.csv")
    cells = {c.column: c for c in g.read_only}
    assert set(cells) == {c for c in READ_ONLY if row[c]}
    assert cells["themes"].value == row["themes"] and cells["themes"].what == "measure 2.1"
    assert cells["themes"].line == 2 and cells["themes"].iri == row["iri"]
    ns = settings().ontology_ns
    assert not [p for p in g.predicates() if str(p) in {ns + "theme", ns + "actionClass", ns + "sharedAction",
                                                       ns + "contributesToAnnexItem"}]


def read_only(store, rows_: list[dict]) -> list:
    from kg.csv_import import read_only_findings

    return read_only_findings(csv_to_graph(to_csv(rows_), "in.csv"), store)


def test_curated_cells_equal_to_the_graph_are_ignored_in_any_order(store):
    row = next(r for r in export.measures(store) if r["iri"].endswith("/measure/2.1"))
    themes = export.SEP.join(reversed(row["themes"].split(export.SEP)))
    found = read_only(store, [{**row, "themes": themes}])
    assert {f.severity for f in found} == {"Info"}
    assert "curated column themes of measure 2.1 matches the graph: ignored" in {f.message for f in found}
    assert {f.shape for f in found} == {"check:read-only-column"}


@pytest.mark.parametrize("column", ["annex_items", "annex_items_in_part", "themes", "shared_action"])
def test_a_changed_curated_cell_is_a_violation_saying_how_to_curate(rows, store, column):
    """Annex links (same action, in part), themes, shared actions: a cell that differs
    from the graph (here: a new measure, which has none) is refused, naming the review
    files, the annotation files and `kg curate suggest`; left empty, the row converts."""
    assert column in export.CURATED
    row = {**next(r for r in rows if r["kind"] == "measure"), "iri": "", "number": "2.95"}
    assert not csv_to_graph(to_csv([row]), "ok.csv").read_only
    found = read_only(store, [{**row, column: "1.5"}])
    assert [f.severity for f in found] == ["Violation"]
    msg = found[0].message
    assert msg.startswith(f"line 2: curated column {column} of measure 2.95 differs from the graph "
                          "(which has no value): curated links are not changed through CSV rows")
    for name in ("data/curation/reviews/*.csv", "data/curation/*.ttl", "`kg curate suggest`"):
        assert name in msg


@pytest.mark.skipif(not getattr(export, "DERIVED", ()), reason="no derived columns in the export")
def test_derived_cells_are_read_only_too(store):
    column = export.DERIVED[0]
    row = next(r for r in export.measures(store) if r[column])
    found = read_only(store, [{**row, column: "ZZZ"}])
    assert [f.severity for f in found if column in f.message] == ["Violation"]
    assert [f for f in found if column in f.message][0].message.endswith(
        "derived columns are computed from other facts of the graph: change those facts (the columns it is "
        "derived from) instead. In this file, leave the cell as exported or empty.")
    copied = {**row, "iri": "", "number": row["number"].split(".")[0] + ".97", **{c: "" for c in export.CURATED}}
    found = read_only(store, [copied])
    assert [f.severity for f in found] == ["Info"] and "computed by the build for a new entity" in found[0].message


# ---------------------------------------------------------------------------------
# The steward's round trip: kg export -> edit -> kg check / kg add
# ---------------------------------------------------------------------------------

@pytest.fixture
def ws(dist, tmp_path, monkeypatch):
    """A copy of the built dist and an empty additions directory; runs `kg`."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    d, adds = tmp_path / "dist", tmp_path / "additions"
    shutil.copytree(dist, d)
    adds.mkdir()
    monkeypatch.setenv("KG_DIST", str(d))
    monkeypatch.setenv("KG_ADDITIONS", str(adds))
    exe = Path(sys.executable).with_name("kg")

    def run(*args):
        p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parent.parent, env=os.environ.copy(), timeout=300)
        assert "Traceback" not in p.stderr, p.stderr
        return p.returncode, p.stdout, p.stderr

    run.dist, run.additions, run.tmp = d, adds, tmp_path
    return run


def exported(ws) -> tuple[Path, list[dict]]:
    f = ws.tmp / "measures.csv"
    code, _, err = ws("export", "measures", "--format", "csv", "-o", f)
    assert code == 0, err
    return f, list(csv.DictReader(io.StringIO(f.read_text())))


def write(f, rows_: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows_[0]), lineterminator="\n")  # cells as read: no new quoting
    w.writeheader()
    w.writerows(rows_)
    f.write_text(buf.getvalue())


@pytest.mark.slow
def test_round_trip_unchanged_export_is_already_present(ws):
    f, rows_ = exported(ws)
    assert any(r[c] for r in rows_ for c in export.CURATED), "the export fills curated columns"
    code, out, err = ws("check", f)
    assert code == 0, out + err
    assert "Violation" not in out
    assert out.count("facts of this entity are already in the graph; nothing to add") == len(rows_)
    assert "curated column themes of measure 2.1 matches the graph: ignored" in out
    assert "curated column annex_items_in_part of measure 2.1 matches the graph: ignored" in out


@pytest.mark.slow
def test_round_trip_new_row_is_accepted(ws):
    f, rows_ = exported(ws)
    base = next(r for r in rows_ if r["iri"].endswith("/measure/2.1"))
    new = {**base, "iri": "", "number": "2.95", "responsibility": "GOs with advice by NGOs",
           "actor_types": "", "text": "Survey the new corridor.", **{c: "" for c in export.CURATED}}
    write(f, rows_ + [new])
    code, out, err = ws("add", f, "--by", "Test Steward", "--source", "round trip test")
    assert code == 0, out + err
    assert "accepted change set" in out
    from kg.store import open_store

    res = open_store(ws.dist).query('SELECT ?r WHERE { bkdi:measure\\/2.95 bkd:responsibility ?r }')
    assert [s[0].value for s in res] == ["GOs with advice by NGOs"]


@pytest.mark.slow
def test_round_trip_changed_curated_cell_is_refused(ws):
    f, rows_ = exported(ws)
    for r in rows_:
        if r["iri"].endswith("/measure/2.1"):
            r["themes"] = "Ecological corridors and connectivity"
    write(f, rows_)
    code, out, err = ws("add", f, "--by", "T", "--source", "s")
    assert code == 1 and "nothing written" in err
    assert "curated column themes of measure 2.1 differs from the graph" in out
    for name in ("data/curation/reviews/*.csv", "data/curation/*.ttl", "`kg curate suggest`"):
        assert name in out
    assert not list(ws.additions.iterdir())


@pytest.mark.slow
def test_round_trip_keeps_a_formula_neutralised_cell(ws):
    """A text starting with = is exported as '=... (not a formula in a spreadsheet)
    and read back without the apostrophe: the re-imported export is already present."""
    f, rows_ = exported(ws)
    base = next(r for r in rows_ if r["iri"].endswith("/measure/2.1"))
    text = "=HYPERLINK(\"http://example.org\") is text here"
    new = {**base, "iri": "", "number": "2.96", "text": "'" + text, **{c: "" for c in export.CURATED}}
    write(f, [new])
    code, out, err = ws("add", f, "--by", "T", "--source", "s")
    assert code == 0, out + err
    f, rows_ = exported(ws)
    raw = f.read_text()
    assert "'" + text.replace('"', '""') in raw
    row = next(r for r in rows_ if r["iri"].endswith("/measure/2.96"))
    assert row["text"] == "'" + text
    from kg.store import open_store

    res = open_store(ws.dist).query('SELECT ?t WHERE { bkdi:measure\\/2.96 bkd:text ?t }')
    assert [s[0].value for s in res] == [text]
    write(f, [row])
    code, out, err = ws("check", f)
    assert code == 0, out + err
    assert "All " in out and "facts of this entity are already in the graph" in out and "Violation" not in out
