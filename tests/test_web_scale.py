"""The web app on a synthetic graph (kg synth, 3 times the shipped one): long lists are
paginated (page links, a total, the filters kept in the URL), the CSV of a filtered
list streams every row, and aggregates over the whole graph are computed once per
graph (no store query on a second request), then again after a reload."""
from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import html
from webapp.describe import INCOMING
from webapp.state import graph_state

BASE = "https://w3id.org/bukhara-deer/"
BKD = BASE + "ontology#"


@pytest.fixture(scope="module")
def synth_dist(tmp_path_factory):
    from kg import synth

    d = tmp_path_factory.mktemp("synth3")
    synth.write_dist(3, 1, d)
    return d


def make_app(dist):
    from webapp import create_app

    app = create_app({"KG_DIST": str(dist), "TESTING": True})
    _ = graph_state(app).repo.labels  # wait for the background label load
    return app


@pytest.fixture(scope="module")
def app(synth_dist):
    return make_app(synth_dist)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@contextmanager
def queries(app):
    """The SPARQL texts the app sends to its store while the block runs."""
    store = graph_state(app).repo.store
    sent: list[str] = []
    real = store.query

    def query(sparql, **kw):
        sent.append(sparql)
        return real(sparql, **kw)

    store.query = query
    try:
        yield sent
    finally:
        del store.query


def count(app, pattern: str) -> int:
    res = graph_state(app).repo.store.query(f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {pattern} }}")
    return int(next(iter(res))["n"].value)


def next_link(page: str) -> str | None:
    m = re.search(r'<a rel="next" href="([^"]+)"', page)
    return unescape(m.group(1)) if m else None


def walk(client, url: str, row: str) -> tuple[list[str], list[str]]:
    """Follow the "next" links from url; (every row matched by the regex `row`, the URLs)."""
    rows, urls = [], []
    while url:
        urls.append(url)
        page = html(client.get(url))
        rows += re.findall(row, page)
        url = next_link(page)
        assert len(urls) < 50, "the pages end"
    return rows, urls


MEASURE_ROW = r'<td class="num"><a href="(/[^"]+)"'


def test_measures_list_pages_through_the_filtered_rows_once(app, client):
    want = count(app, "?x a bkd:Measure ; bkd:number ?n ; bkd:text ?t")
    assert want > 200, "the synthetic graph needs more than two pages"
    first = html(client.get("/measures?kind=measure"))
    assert re.search(rf'<strong id="row-count">{want}</strong>', first)
    assert f"rows 1–100 of {want}" in first
    assert len(re.findall(MEASURE_ROW, first)) == 100
    rows, urls = walk(client, "/measures?kind=measure", MEASURE_ROW)
    assert len(rows) == len(set(rows)) == want, "every row on exactly one page"
    assert all(parse_qs(urlsplit(u).query).get("kind") == ["measure"] for u in urls[1:]), "filters stay in the URL"
    last = html(client.get(urls[-1]))
    assert f"of {want}" in last and next_link(last) is None
    assert f"rows {want - (want - 1) % 100}–{want} of {want}" in html(client.get("/measures?kind=measure&page=999")), \
        "a page past the end shows the last one"


def test_filtered_csv_streams_every_row_in_list_order(app, client, monkeypatch):
    from webapp import actions

    monkeypatch.setattr(actions, "CSV_BATCH", 7)  # several export queries
    listed, _ = walk(client, "/measures?kind=annex1", MEASURE_ROW)
    resp = client.get("/measures?kind=annex1&format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv" and resp.is_streamed
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert ["/" + r["iri"][len(BASE):] for r in rows] == listed
    assert len(rows) == count(app, "?x a bkd:Annex1Item ; bkd:number ?n ; bkd:text ?t") > 7


def test_browse_and_search_show_totals_and_pages(app, client):
    want = count(app, "?x a bkd:Measure FILTER(isIRI(?x))")
    page = html(client.get("/browse/Measure"))
    assert f'<span class="n">{want}</span>' in page and f"rows 1–100 of {want}" in page
    items, _ = walk(client, "/browse/Measure", r'<li><a href="(/measure/[^"]+)"')
    assert len(items) == len(set(items)) == want
    hits, urls = walk(client, "/search?q=measure", r'<li><a href="(/[^"]+)"')
    assert len(urls) > 1 and len(hits) == len(set(hits))
    assert f"{len(hits)} results for" in html(client.get("/search?q=measure"))


def test_incoming_links_are_paged_per_property(app, client, monkeypatch):
    from webapp import describe

    monkeypatch.setattr(describe, "INCOMING_PAGE", 50)
    lead = BKD + "leadActorType"
    want = {"/" + r["x"].value[len(BASE):] for r in graph_state(app).repo.store.query(
        f"SELECT DISTINCT ?x WHERE {{ ?x <{lead}> <{BASE}actor-type/go> }}")}
    assert len(want) > 100
    got: set[str] = set()
    url = "/actor-type/go"
    for n in range(1, 50):  # noqa: B007  (n: the pages walked, checked after the loop)
        page = html(client.get(url))
        row = re.search(r"lead actor type of</th><td>(.*?)</td></tr>", page, re.S).group(1)
        got |= set(re.findall(r'<li><a href="([^"]+)"', row))
        m = re.search(r'<a rel="next" href="([^"]+)"', row)
        if not m:
            break
        url = unescape(m.group(1))
        assert parse_qs(urlsplit(url).query)["list"] == [lead]
    assert got == want and n == -(-len(want) // 50)


@pytest.mark.parametrize("path", ["/", "/measures", "/measures?unit=upper-amu-darya&priority=1",
                                  "/measures?q=monitoring", "/matrix", "/matrix?page=2", "/trace/", "/browse/Measure",
                                  "/search?q=habitat",
                                  "/void", "/measures?page=3"])
def test_aggregates_are_computed_once_per_graph(app, client, path):
    client.get(path)
    with queries(app) as sent:
        assert client.get(path).status_code == 200
    assert sent == [], f"{path} queried the store again: {sent[:1]}"


def test_large_entity_keeps_its_links_and_reload_drops_every_cache(synth_dist, monkeypatch):
    from webapp import describe, reload_graph

    monkeypatch.setattr(describe, "HUB", 100)
    app = make_app(synth_dist)
    c = app.test_client()
    html(c.get("/measures"))
    html(c.get("/actor-type/go"))
    with queries(app) as sent:
        html(c.get("/actor-type/go?page=2&list=" + BKD + "leadActorType"))
    assert sent and not any(q == INCOMING for q in sent), "the incoming links of a large entity are read once"
    reload_graph(app)
    _ = graph_state(app).repo.labels
    with queries(app) as sent:
        html(c.get("/measures"))
        html(c.get("/actor-type/go"))
    assert any("bkd:Action" in q for q in sent), "a reloaded graph gets a new action table"
    assert any(q == INCOMING for q in sent), "and its large entities are read again"
