"""The web views of the curated annotations (issue 5): the theme x planning unit matrix,
trace pages, the curated filters of the measures list, the separate "Curated annotations"
section of entity pages, and a planner's path from a theme to every measure of it.
Expected values are computed with SPARQL over the same store, never copied from pages."""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import html

BASE = "https://w3id.org/bukhara-deer/"
ROOT = Path(__file__).resolve().parent.parent
SAIGA = ROOT / "tests" / "fixtures" / "cross-species" / "saiga-measure.ttl"


def select(store, q: str) -> list:
    return list(store.query(q))


def path(iri: str) -> str:
    assert iri.startswith(BASE), iri
    return "/" + iri[len(BASE):]


def slug(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1]


class Page(HTMLParser):
    """Links, matrix cells, list rows and trace rows of a page."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.cells: dict[tuple[str, str], dict] = {}   # (theme slug, column key) -> attrs + href
        self.list_rows: list[str] = []                 # hrefs of the measures list rows
        self.occurrences: dict[str, str] = {}          # trace rows: action path -> priority as printed
        self.strengths: dict[str, str] = {}            # trace rows feeding an Annex 1 item: path -> same | part
        self._theme = self._cell = self._row = None
        self._in_num = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
            if self._cell is not None:
                self._cell["href"] = a["href"]
            if self._in_num:
                self.list_rows.append(a["href"])
                self._in_num = False
        if tag == "tr":
            self._theme = a.get("data-theme", self._theme)
            self._row = a.get("data-action")
            if self._row and a.get("data-strength"):
                self.strengths[self._row] = a["data-strength"]
        if tag == "td":
            if "data-col" in a:
                self._cell = {"count": int(a["data-count"]), "class": a.get("class", "")}
                self.cells[(self._theme, a["data-col"])] = self._cell
            if a.get("class") == "num" and self._row is None:
                self._in_num = True
            if self._row is not None and "data-given" in a:
                self.occurrences[self._row] = a["data-given"]

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
            self._in_num = False


def parse(page: str, parser: type = None):
    """The page fed to a parser (default: Page)."""
    p = (parser or Page)()
    p.feed(page)
    return p


# ---------------------------------------------------------------- matrix

# (theme, column key, action) for every action: the column keys the matrix uses
# the column of a measure: its planning unit, or its section when it has none
UNIT_COLUMN = """{ ?a bkd:planningUnit ?u . BIND(STR(?u) AS ?col) }
  UNION
  { ?a a bkd:Measure ; bkd:inSection ?s . FILTER NOT EXISTS { ?a bkd:planningUnit ?u } BIND(STR(?s) AS ?col) }"""
CELLS = """
SELECT ?t ?col ?a ?rank WHERE {
  ?a a bkd:Action ; bkd:theme ?t .
  OPTIONAL { ?a bkd:priority/bkd:rank ?rank }
  """ + UNIT_COLUMN + """
  UNION
  { ?a a bkd:Annex1Item . BIND("annex1" AS ?col) }
  UNION
  { FILTER NOT EXISTS { ?a a bkd:Measure } FILTER NOT EXISTS { ?a a bkd:Annex1Item }
    ?a bkd:inProgramme ?p . BIND(CONCAT("other:", STR(?p)) AS ?col) }
}"""


def expected_cells(store) -> dict[tuple[str, str], set[str]]:
    cells: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in select(store, CELLS):
        cells[(slug(r["t"].value), r["col"].value)].add(path(r["a"].value))
    return cells


def test_matrix_counts_equal_sparql_count(client, store):
    page = parse(html(client.get("/matrix")))
    shown = {k: v["count"] for k, v in page.cells.items() if v["count"]}
    counted = {}
    for col_pattern in ("?a bkd:planningUnit ?c .",
                        "?a a bkd:Measure ; bkd:inSection ?c . FILTER NOT EXISTS { ?a bkd:planningUnit ?u }"):
        for r in select(store, f"""SELECT ?t ?c (COUNT(DISTINCT ?a) AS ?n) WHERE {{
                              ?a a bkd:Action ; bkd:theme ?t . {col_pattern} }} GROUP BY ?t ?c"""):
            counted[(slug(r["t"].value), r["c"].value)] = int(r["n"].value)
    for r in select(store,
                    "SELECT ?t (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a a bkd:Annex1Item ; bkd:theme ?t } GROUP BY ?t"):
        counted[(slug(r["t"].value), "annex1")] = int(r["n"].value)
    assert shown == counted
    themes = {slug(r["t"].value) for r in select(store, "SELECT DISTINCT ?t WHERE { ?a a bkd:Action ; bkd:theme ?t }")}
    assert {t for t, _ in page.cells} == themes, "one row per theme with at least one action"
    assert {t for t, _ in page.cells} == {slug(r["t"].value) for r in select(
        store, "SELECT ?t WHERE { ?t a bkd:Theme FILTER EXISTS { ?a bkd:theme ?t } }")}
    units = {r["u"].value for r in select(store, "SELECT DISTINCT ?u WHERE { ?a a bkd:Action ; bkd:planningUnit ?u }")}
    cols = {c for _, c in page.cells}
    assert units | {BASE + "section/1.0", "annex1"} <= cols


def test_matrix_cells_are_coloured_by_highest_priority(client, store):
    page = parse(html(client.get("/matrix")))
    best: dict[tuple[str, str], int | None] = {}
    for r in select(store, CELLS):
        key = (slug(r["t"].value), r["col"].value)
        rank = int(r["rank"].value) if r["rank"] is not None else None
        old = best.get(key)
        best[key] = rank if old is None else (old if rank is None else min(old, rank))
    for key, cell in page.cells.items():
        if cell["count"]:
            want = f"r{best[key]}" if best[key] else "rnone"
            assert want in cell["class"].split(), (key, cell, want)
    assert any("r1" in c["class"].split() for c in page.cells.values())


def test_each_matrix_cell_lists_exactly_its_actions(client, store):
    page = parse(html(client.get("/matrix")))
    expected = expected_cells(store)
    checked = 0
    for key, cell in page.cells.items():
        if not cell["count"]:
            assert key not in expected
            continue
        params = parse_qs(urlsplit(cell["href"]).query)
        assert params["theme"] == [key[0]]
        listed = parse(html(client.get(cell["href"])))
        assert set(listed.list_rows) == expected[key], (key, cell["href"])
        assert len(listed.list_rows) == cell["count"]
        checked += 1
    assert checked == len(expected) > 20


class AnnexMatrix(HTMLParser):
    """The Annex 1 items x planning units table of /matrix: rows in page order, each
    with its cells (column key -> same, part, links by strength) or "not fed"."""

    def __init__(self):
        super().__init__()
        self.order: list[str] = []                               # item numbers, in page order
        self.fed: dict[str, bool] = {}
        self.cells: dict[tuple[str, str], dict] = {}             # (item number, column key) -> cell
        self.text: dict[str, str] = {}                           # item number -> text of its row
        self.columns: list[str] = []                             # column header labels
        self._item = self._cell = None
        self._in_table = self._in_head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._in_table = "annex-matrix" in a.get("class", "")
        if not self._in_table:
            return
        if tag == "thead":
            self._in_head = True
        if tag == "tr" and "data-annex" in a:
            self._item = a["data-annex"]
            self.order.append(self._item)
            self.fed[self._item] = a["data-fed"] == "yes"
            self.text[self._item] = ""
        if tag == "td" and "data-unit" in a:
            self._cell = {"same": int(a["data-same"]), "part": int(a["data-part"]), "links": {}}
            self.cells[(self._item, a["data-unit"])] = self._cell
        if tag == "a" and self._cell is not None:
            self._cell["links"][a["class"]] = a["href"]

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        if tag == "thead":
            self._in_head = False
        if tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._in_table and self._item is not None:
            self.text[self._item] += data
            if self._cell is not None:
                self._cell["text"] = self._cell.get("text", "") + data


def annex_matrix(page: str) -> AnnexMatrix:
    return parse(page, AnnexMatrix)


# (Annex 1 item, column key, measure, strength): the columns are those of the theme matrix
ANNEX_CELLS = """
SELECT ?item ?col ?a ?strength WHERE {
  { ?a bkd:coveredByAnnexItem ?item . BIND("same" AS ?strength) }
  UNION { ?a bkd:contributesToAnnexItem ?item . BIND("part" AS ?strength) }
  """ + UNIT_COLUMN + """
}"""


def expected_annex_cells(store) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(item number, column key) -> strength -> measure paths; "same" wins if both are given."""
    links: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for r in select(store, ANNEX_CELLS):
        got = links[(slug(r["item"].value), r["col"].value)]
        m = path(r["a"].value)
        if got.get(m) != "same":
            got[m] = r["strength"].value
    return {k: {s: {m for m, x in v.items() if x == s} for s in ("same", "part")} for k, v in links.items()}


def test_annex_matrix_counts_by_strength_equal_sparql_count(client, store):
    page = html(client.get("/matrix"))
    got = annex_matrix(page)
    shown = {k: (c["same"], c["part"]) for k, c in got.cells.items() if c["same"] or c["part"]}
    want = {k: (len(v["same"]), len(v["part"])) for k, v in expected_annex_cells(store).items()}
    assert shown == want
    assert any(s for s, _ in shown.values()) and any(p for _, p in shown.values()), "both strengths shown"
    # the same columns as the theme table, every item a row, in number order, labelled "Annex 1.1"
    themes = parse(page)
    assert {c for _, c in got.cells} == {c for _, c in themes.cells}
    assert got.order == [slug(i) for i in annex_items(store)]
    for n in got.order:
        assert got.text[n].strip().startswith(f"Annex {n} "), got.text[n]
    for cell in got.cells.values():
        text = " ".join(cell.get("text", "").split())
        if cell["same"] and cell["part"]:
            assert text == f"{cell['same']} · {cell['part']} in part"
        elif cell["part"]:
            assert text == f"{cell['part']} in part" and set(cell["links"]) == {"annex-part"}
        elif cell["same"]:
            assert text == str(cell["same"]) and set(cell["links"]) == {"annex-same"}
        else:
            assert text == "" and not cell["links"], "an empty cell when no measure of the unit feeds the item"
    assert '<span class="annex-part">1 in part</span>' in page, "the legend"


def test_annex_matrix_shows_the_items_no_measure_feeds(client, store):
    got = annex_matrix(html(client.get("/matrix")))
    fed = feeders(store)
    gaps = [slug(i) for i in annex_items(store) if i not in fed]
    assert gaps, "the shipped graph has Annex 1 items no measure feeds"
    assert [n for n in got.order if not got.fed[n]] == gaps
    for n in gaps:
        assert "not fed" in got.text[n] and not any(k[0] == n for k in got.cells)
    for n in got.order:
        if got.fed[n]:
            assert "not fed" not in got.text[n]


def test_each_annex_matrix_count_lists_exactly_its_measures(client, store):
    got = annex_matrix(html(client.get("/matrix")))
    expected = expected_annex_cells(store)
    checked = 0
    for key, cell in got.cells.items():
        for strength, css, facet in (("same", "annex-same", "annex"), ("part", "annex-part", "annex_part")):
            if not cell[strength]:
                assert css not in cell["links"]
                continue
            href = cell["links"][css]
            assert parse_qs(urlsplit(href).query)[facet] == [key[0]]
            listed = parse(html(client.get(href)))
            assert set(listed.list_rows) == expected[key][strength], (key, href)
            checked += 1
    assert checked == sum(1 for v in expected.values() for s in ("same", "part") if v[s]) > 10


# ---------------------------------------------------------------- trace

def occurrences(store, shared: str) -> dict[str, str]:
    return {path(r["m"].value): (r["g"].value if r["g"] is not None else "none") for r in select(store, f"""
        SELECT ?m ?g WHERE {{ ?m bkd:sharedAction <{BASE}shared-action/{shared}> .
                             OPTIONAL {{ ?m bkd:priorityAsGiven ?g }} }}""")}


def test_trace_of_shared_action_lists_its_occurrences_with_priorities(client, store):
    want = occurrences(store, "eco-tourism")
    assert len(want) == 6
    page = html(client.get("/trace/shared-action/eco-tourism"))
    got = parse(page).occurrences
    assert got == want, "every occurrence, with its priority as printed"
    # the priorities as printed agree with the priority concepts of the store
    for m, given in got.items():
        ranks = {r["r"].value for r in select(store, f"SELECT ?r WHERE {{ <{BASE}{m[1:]}> bkd:priority/bkd:rank ?r }}")}
        assert ranks == set(given.split("-")), (m, given, ranks)
    for r in select(store, f"""SELECT DISTINCT ?u WHERE {{ ?m bkd:sharedAction <{BASE}shared-action/eco-tourism> ;
                                                         bkd:planningUnit ?u }}"""):
        assert f'href="{path(r["u"].value)}"' in page
    # its annex items, themes and classes, each curated link marked and justified
    for r in select(store, f"""SELECT DISTINCT ?x WHERE {{ ?m bkd:sharedAction <{BASE}shared-action/eco-tourism> ;
                                 bkd:coveredByAnnexItem|bkd:theme|bkd:actionClass ?x }}"""):
        assert f'href="{path(r["x"].value)}"' in page
    just = select(store, f"""SELECT ?j WHERE {{ ?n rdf:subject <{BASE}measure/2.11> ; rdf:predicate bkd:sharedAction ;
                                               bkd:justification ?j }}""")[0]["j"].value
    assert just.replace('"', "&#34;") in page
    assert 'class="tag curated"' in page and "Scope note" in page


def test_trace_of_a_measure_starts_from_its_shared_action(client, store):
    page = html(client.get("/trace/measure/2.11"))
    assert parse(page).occurrences == occurrences(store, "eco-tourism")
    assert "Traced from" in page and 'class="occurrence origin" data-action="/measure/2.11"' in page


def test_trace_of_annex_item_lists_the_measures_that_feed_it(client, store):
    want = feeders(store)[BASE + "annex1/3.2"]
    assert want
    page = html(client.get("/trace/annex1/3.2"))
    assert parse(page).strengths == want
    assert set(parse(page).occurrences) == set(want)
    assert 'href="/programme/cami-pow-2026-2032"' in page
    for r in select(store, f"SELECT ?x WHERE {{ <{BASE}annex1/3.2> bkd:theme|bkd:actionClass|bkd:targetSpecies ?x }}"):
        assert f'href="{path(r["x"].value)}"' in page


# measure -> Annex 1 item, with the strength of the link ("same" wins if both are given)
ANNEX_LINKS = """SELECT ?m ?item ?strength WHERE {
  { ?m bkd:coveredByAnnexItem ?item . BIND("same" AS ?strength) }
  UNION { ?m bkd:contributesToAnnexItem ?item . BIND("part" AS ?strength) } }"""


def feeders(store) -> dict[str, dict[str, str]]:
    """Annex 1 item IRI -> {measure path: strength} of the measures that feed it."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for r in select(store, ANNEX_LINKS):
        got = out[r["item"].value]
        m = path(r["m"].value)
        if got.get(m) != "same":
            got[m] = r["strength"].value
    return out


def annex_items(store) -> list[str]:
    return sorted((r["i"].value for r in select(store, "SELECT ?i WHERE { ?i a bkd:Annex1Item }")),
                  key=lambda i: tuple(map(int, slug(i).split("."))))


def test_every_annex_item_says_how_it_is_fed(client, store):
    """The trace page and the entity page of each Annex 1 item: its measures with the
    strength of each link, and the line "fed by N measures in M planning units"."""
    fed = feeders(store)
    units = defaultdict(set)
    for r in select(store, "SELECT ?m ?u WHERE { ?m a bkd:Measure ; bkd:planningUnit ?u }"):
        units[path(r["m"].value)].add(r["u"].value)
    assert fed, "the graph has annex links"
    for item in annex_items(store):
        want = fed.get(item, {})
        page = html(client.get("/trace" + path(item)))
        assert parse(page).strengths == want, item
        same, part = sum(1 for s in want.values() if s == "same"), sum(1 for s in want.values() if s == "part")
        n_units = len({u for m in want for u in units[m]})
        line = re.search(r'<p class="fed-by" data-measures="(\d+)" data-same="(\d+)" data-part="(\d+)" '
                         r'data-units="(\d+)">([^<]*)', page)
        assert tuple(map(int, line.groups()[:4])) == (len(want), same, part, n_units), item
        text = line.group(5).strip().rstrip(".")
        if want:
            assert text.startswith(f"Fed by {len(want)} measure{'s' if len(want) != 1 else ''} in {n_units} "
                                   f"planning unit{'s' if n_units != 1 else ''}: {same} same action, {part} in part")
            without = sum(1 for m in want if not units[m])
            assert (f"{without} of them for several or all populations" in text) == bool(without), text
        else:
            assert text.startswith("Fed by no measure") and "No measure is linked to this item" in page
        for m, strength in want.items():
            row = page[page.index(f'data-action="{m}"'):]
            row = row[:row.index("</tr>")]
            label = "same action" if strength == "same" else "in part"
            assert f'<span class="tag strength-{strength}">{label}</span>' in row
        entity = html(client.get(path(item)))
        start = entity.index(f"<h2>{text} (curated links)</h2>")
        panel = entity[start:entity.index("</section>", start)]
        for strength, title in (("same", "Same action"), ("part", "In part")):
            ms = [m for m, s in want.items() if s == strength]
            if ms:
                group = panel[panel.index(f"<h3>{title} ({len(ms)})</h3>"):]
                group = group[:group.index("</ul>")]
                assert set(re.findall(r'href="([^"]+)"', group)) == set(ms), (item, strength)
            else:
                assert f"<h3>{title} (" not in panel
        assert f'href="/trace{path(item)}">Trace this item' in panel and 'href="/curation"' in panel


def test_trace_of_a_measure_shows_the_strength_of_each_annex_item(client, store):
    by_measure: dict[str, dict[str, str]] = defaultdict(dict)
    for item, ms in feeders(store).items():
        for m, strength in ms.items():
            by_measure[m][path(item)] = strength
    both = [m for m, v in by_measure.items() if len(set(v.values())) == 2]
    for m in (both or list(by_measure))[:5]:
        page = html(client.get("/trace" + m))
        section = page[page.index("Annex 1 items it feeds"):]
        section = section[:section.index('<div class="trace-grid">')]
        got = dict((h, s) for s, h in re.findall(r'<li data-strength="(same|part)"><a href="([^"]+)"', section))
        assert got == by_measure[m], m


def test_trace_index_lists_the_annex_items_no_measure_feeds(client, store):
    fed = feeders(store)
    want = [path(i) for i in annex_items(store) if i not in fed]
    page = html(client.get("/trace/"))
    gaps = page[page.index('<section class="gaps" id="unfed">'):]
    gaps = gaps[:gaps.index("</section>")]
    assert re.search(rf'<span class="n">{len(want)}</span>', gaps)
    assert re.findall(r'<a href="/trace(/annex1/[^"]+)"', gaps) == want
    assert 'href="/curation"' in gaps


def test_curation_page_shows_the_figures_of_kg_curate_report(client, store):
    from kg import curate

    r = curate.report(store)
    page = html(client.get("/curation"))
    for x in r.layers:
        row = page[page.index(f'<tr data-layer="{x.kind}">'):]
        row = row[:row.index("</tr>")]
        cells = dict(re.findall(r'data-n="(\w+)">([^<]*)<', row))
        assert cells == {"candidates": str(x.candidates), "decided": str(x.decided), "undecided": str(x.undecided),
                         **{k: str(x.decisions.get(k, 0)) for k in ("same", "part", "none")}}, x.kind
        assert x.candidates == x.decided + x.undecided
    for key, prop in (("same", "coveredByAnnexItem"), ("part", "contributesToAnnexItem")):
        n = len(select(store, f"SELECT ?m ?i WHERE {{ ?m bkd:{prop} ?i }}"))
        assert re.search(rf'<li data-strength="{key}">.*?</span> {n} links \(<code>bkd:{prop}</code>\)', page)
    members = {r_["s"].value: int(r_["n"].value) for r_ in select(
        store, "SELECT ?s (COUNT(DISTINCT ?m) AS ?n) "
               "WHERE { ?s a bkd:SharedAction OPTIONAL { ?m bkd:sharedAction ?s } } GROUP BY ?s")}
    for s, n in members.items():
        assert re.search(rf'<a href="/trace{re.escape(path(s))}">[^<]+</a>: {n} measures?</li>', page), s
    fed = feeders(store)
    unfed = [path(i) for i in annex_items(store) if i not in fed]
    gaps = page[page.index('<section class="gaps" id="unfed">'):]
    gaps = gaps[:gaps.index("</section>")]
    assert re.findall(r'<a href="/trace(/annex1/[^"]+)"', gaps) == unfed
    untagged = {path(r_["m"].value) for r_ in select(
        store, "SELECT ?m WHERE { ?m a bkd:Measure FILTER NOT EXISTS { ?m bkd:threatClass ?t } }")}
    section = page[page.index('<section class="gaps" id="untagged">'):]
    section = section[:section.index("</section>")]
    assert re.search(rf'<span class="n">{len(untagged)}</span>', section)
    assert set(re.findall(r'<a href="(/measure/[^"]+)"', section)) == untagged
    assert 'href="/curation"' in html(client.get("/trace/"))


def test_annex_columns_of_the_csv_download_and_kg_export(client, store):
    from kg import export

    want: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"same": set(), "part": set()})
    for r in select(store, """SELECT ?m ?n ?strength WHERE {
          { ?m bkd:coveredByAnnexItem/bkd:number ?n . BIND("same" AS ?strength) }
          UNION { ?m bkd:contributesToAnnexItem/bkd:number ?n . BIND("part" AS ?strength) } }"""):
        want[path(r["m"].value)][r["strength"].value].add(r["n"].value)
    assert want, "the graph has annex links"
    resp = client.get("/measures?format=csv")
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert list(rows[0]) == export.COLUMNS
    cols = export.COLUMNS
    assert cols.index("annex_items_in_part") == cols.index("annex_items") + 1
    exported = {r["iri"]: r for r in export.measures(store)}
    for r in rows:
        got = {"same": set(filter(None, r["annex_items"].split("; "))),
               "part": set(filter(None, r["annex_items_in_part"].split("; ")))}
        assert got == want.get(path(r["iri"]), {"same": set(), "part": set()}), r["iri"]
        assert (r["annex_items"], r["annex_items_in_part"]) == (exported[r["iri"]]["annex_items"],
                                                                 exported[r["iri"]]["annex_items_in_part"])
    assert {"annex_items", "annex_items_in_part"} <= set(export.CURATED)


def test_trace_of_plain_measure_and_unknown(client):
    page = html(client.get("/trace/measure/1.1"))
    assert "Annex 1 items it feeds" in page and 'href="/annex1/4.4"' in page
    assert client.get("/trace/measure/99.9").status_code == 404
    assert client.get("/trace/country/KAZ").status_code == 404
    index = html(client.get("/trace"))
    assert 'href="/trace/shared-action/eco-tourism"' in index and 'href="/trace/annex1/3.2"' in index


def test_entity_pages_link_to_their_trace(client):
    for p in ("/measure/2.11", "/annex1/3.2", "/shared-action/eco-tourism"):
        assert f'href="/trace{p}">Trace this action' in html(client.get(p))
    theme = html(client.get("/theme/eco-tourism"))
    assert 'href="/trace/measure/2.11"' in theme and 'href="/measures?theme=eco-tourism"' in theme
    assert 'href="/trace/measure/2.11"' in html(client.get("/iucn-action/6.1"))


# ---------------------------------------------------------------- filters

def actions_where(store, pattern: str) -> set[str]:
    return {path(r["a"].value) for r in select(
        store, f"SELECT DISTINCT ?a WHERE {{ ?a a bkd:Action ; bkd:number ?n . {pattern} }}")}


@pytest.mark.parametrize("query, pattern", [
    ("theme=eco-tourism", "?a bkd:theme <{B}theme/eco-tourism>"),
    ("action_class=6.1", "?a bkd:actionClass <{B}iucn-action/6.1>"),
    ("threat=5.1.1", "?a bkd:threatClass <{B}iucn-threat/5.1.1>"),
    ("shared=ecological-corridors", "?a bkd:sharedAction <{B}shared-action/ecological-corridors>"),
    ("theme=eco-tourism&action_class=6.1",
     "?a bkd:theme <{B}theme/eco-tourism> ; bkd:actionClass <{B}iucn-action/6.1>"),
    ("theme=reintroduction-translocation&unit=syr-darya&action_class=3.3",
     "?a bkd:theme <{B}theme/reintroduction-translocation> ; bkd:actionClass <{B}iucn-action/3.3> ; "
     "bkd:planningUnit <{B}population/syr-darya>"),
    ("theme=habitat-restoration&kind=annex1", "?a bkd:theme <{B}theme/habitat-restoration> ; a bkd:Annex1Item"),
    ("annex=3.2", "?a bkd:coveredByAnnexItem <{B}annex1/3.2>"),
    ("annex_part=1.1", "?a bkd:contributesToAnnexItem <{B}annex1/1.1>"),
    ("annex_part=1.1&unit=middle-amu-darya",
     "?a bkd:contributesToAnnexItem <{B}annex1/1.1> ; bkd:planningUnit <{B}population/middle-amu-darya>"),
])
def test_curated_filters_work_and_combine(client, store, query, pattern):
    want = actions_where(store, pattern.replace("{B}", BASE))
    assert want, "the example must select something"
    page = html(client.get("/measures?" + query))
    assert set(parse(page).list_rows) == want
    assert re.search(rf'<strong id="row-count">{len(want)}</strong>', page)
    rows = list(csv.DictReader(io.StringIO(client.get("/measures?" + query + "&format=csv").get_data(as_text=True))))
    assert {path(r["iri"]) for r in rows} == want, "the CSV has exactly the filtered rows"


def test_filter_form_offers_curated_facets(client):
    page = html(client.get("/measures?theme=eco-tourism"))
    for name in ("theme", "action_class", "threat", "shared"):
        assert f'<select name="{name}">' in page
    assert '<option value="eco-tourism" selected>' in page
    assert "IUCN action class" in page and "Threat class" in page and "Shared action" in page


# ---------------------------------------------------------------- entity pages

def test_curated_section_is_separate_from_the_documents_facts(client, store):
    page = html(client.get("/measure/2.11"))
    facts = page[page.index('<table class="facts">'):]
    facts = facts[:facts.index("</table>")]
    assert "/theme/" not in facts and "sharedAction" not in facts and "curated" not in facts
    assert "/population/lower-amu-darya" in facts, "the document's facts stay in the facts table"
    start = page.index('<section class="panel curated-section" id="curated">')
    curated = page[start:page.index("</section>", start)]
    assert "Curated annotations" in curated and "curated by the project" in curated
    for r in select(store, f"""SELECT ?o ?j ?n WHERE {{ ?n a bkd:CuratedAnnotation ; rdf:subject <{BASE}measure/2.11> ;
                                   rdf:object ?o ; bkd:justification ?j }}"""):
        assert f'href="{path(r["o"].value)}"' in curated
        assert r["j"].value.replace('"', "&#34;").replace("&", "&amp;").replace("&amp;#34;", "&#34;") in curated
        assert f'href="{path(r["n"].value)}"' in curated, "each value links its annotation record"


def test_annotation_and_curated_pages_stay_readable(client, store):
    n = select(store, f"SELECT ?n WHERE {{ ?n a bkd:CuratedAnnotation ; rdf:subject <{BASE}measure/2.11> ; "
                      "rdf:predicate bkd:theme }")[0]["n"].value
    page = html(client.get(path(n)))
    assert "Curated by the project, not source text" in page and 'href="/measure/2.11"' in page
    agent = html(client.get("/agent/project-curators"))
    assert len(re.findall(r'href="/annotation/', agent)) == 0, "hundreds of records are summarised, not listed"
    assert 'href="/browse/CuratedAnnotation"' in agent
    theme = html(client.get("/theme/eco-tourism"))
    assert "Curated links from" in theme and "justification" in theme


# ---------------------------------------------------------------- a planner's path

@pytest.mark.slow
def test_planner_reaches_every_measure_of_each_theme_from_browse(client, store):
    """From /browse/Theme, follow links two steps (theme page, then its trace pages and
    filtered lists): every action of every theme is reached."""
    browse = parse(html(client.get("/browse/Theme")))
    theme_pages = sorted({h for h in browse.hrefs if h.startswith("/theme/")})
    by_theme: dict[str, set[str]] = defaultdict(set)
    for r in select(store, "SELECT ?t ?a WHERE { ?a a bkd:Action ; bkd:theme ?t }"):
        by_theme[path(r["t"].value)].add(path(r["a"].value))
    assert set(by_theme) <= set(theme_pages)
    for tp in theme_pages:
        first = parse(html(client.get(tp))).hrefs
        reached = set(first)
        for h in first:
            if h.startswith(("/trace/", "/measures?")):
                reached |= set(parse(html(client.get(h))).hrefs)
        missing = by_theme[tp] - reached
        assert not missing, (tp, sorted(missing))


# ---------------------------------------------------------------- other species

@pytest.mark.slow
def test_cami_action_of_another_species_has_its_own_column(tmp_path_factory, dist):
    """With the cross-species example loaded, the matrix gains a column for the CAMI
    programme, its cell lists the saiga action, and that action can be traced."""
    from kg import build
    from webapp import create_app

    d = tmp_path_factory.mktemp("dist-saiga")
    build.write_dist(build.load_parts(extra_data=[SAIGA]), d)
    c = create_app({"KG_DIST": str(d), "TESTING": True}).test_client()
    page = parse(html(c.get("/matrix")))
    col = f"other:{BASE}programme/cami-pow-2026-2032"
    cell = page.cells[("habitat-restoration", col)]
    assert cell["count"] == 1
    listed = parse(html(c.get(cell["href"])))
    assert len(listed.list_rows) == 1 and listed.list_rows[0].endswith("example-saiga-1")
    trace = html(c.get("/trace" + listed.list_rows[0]))
    assert "saiga" in trace.lower() and 'href="/iucn-action/2.3"' in trace
    assert html(c.get("/"))  # the home chart copes with an action outside any section
