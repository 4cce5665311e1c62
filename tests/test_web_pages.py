"""The web browser through Flask's test client: every page type, every content type,
reachability of every entity from home, filters and CSV, and bad requests."""
from __future__ import annotations

import csv
import io
import json
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from rdflib import Graph, URIRef

from conftest import html

BASE = "https://w3id.org/bukhara-deer/"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def links(page: str) -> list[str]:
    p = Links()
    p.feed(page)
    return p.hrefs


def test_home_shows_document_counts_and_chart(client, store):
    page = html(client.get("/"))
    assert "UNEP/CMS/BKD/MOS3/Doc.4" in page and "Almaty" in page and "2024-09-10" in page
    assert "to restore and maintain Bukhara Deer populations" in page
    assert re.search(r"<strong>66</strong> measures", page) and re.search(r"<strong>26</strong> Annex 1 items", page)
    svg = page[page.index("<svg"):page.index("</svg>")]
    bar_total = sum(int(n) for n in re.findall(r'class="n">(\d+)</text>', svg))
    assert bar_total == 92, "the chart counts every measure and annex item once"


@pytest.mark.slow
def test_every_entity_is_reachable_from_home(client, store):
    """Breadth-first crawl of local links from the home page."""
    seen, queue = set(), deque(["/"])
    while queue:
        url = queue.popleft()
        path = urlsplit(url).path
        if path in seen or not path.startswith("/") or path.startswith(("/sparql", "/download/", "/vendor", "/static")):
            continue
        seen.add(path)
        resp = client.get(path)
        if resp.status_code == 200 and resp.content_type.startswith("text/html"):
            queue.extend(h for h in links(resp.get_data(as_text=True)) if h.startswith("/"))
    entities = {r["x"].value for r in _select(store, "SELECT DISTINCT ?x WHERE { ?x a ?c FILTER(isIRI(?x)) }")}
    missing = sorted(e for e in entities if e.startswith(BASE) and "/ontology" not in e
                     and "/" + e[len(BASE):] not in seen)
    assert not missing, f"not reachable from home: {missing[:10]}"


def _select(store, q):
    res = store.query(q)
    names = [v.value for v in res.variables]
    return [{n: s[n] for n in names} for s in res]


@pytest.mark.parametrize("path, expected", [
    ("/measure/2.10",
     ["Reintroduce Bukhara Deer in the Yangibozor and Urgench sections", "Lower Amu Darya", "Uzbekistan"]),
    ("/annex1/4.2", ["Implement coordinated monitoring", "Annex 1 item 4.2 has no priority"]),
    ("/section/4.0", ["Upper Amu Darya (AFG, TJK, UZB)", "Measure 4.10", "section 4.0 omits Turkmenistan"]),
    ("/annex1/section/1.0", ["Maintain and restore habitat", "Annex 1 item 1.3", "item 1.4 is missing"]),
    ("/population/upper-amu-darya", ["Measures by priority", "Priority 1", "Tm2", "Transboundary Hotspot 5"]),
    ("/planning-unit/captive-breeding-groups", ["Captive", "Romit", "Measure 9.1"]),
    ("/site/Tj1", ["Beshai Palangon", "Tajikistan", "Upper Amu Darya"]),
    ("/hotspot/38", ["Lower Amu Darya", "Middle Amu Darya"]),
    ("/country/TKM", ["Turkmenistan", "Q874", "Measure 8.3"]),
    ("/actor-type/private-business", ["Private business", "Measure 2.11", "Annex 1 item 3.4"]),
    ("/actor-type/cms", ["facilitating actor type of", "Measure 1.4"]),
    ("/priority/1", ["High importance and urgency", "Measure 1.1"]),
    ("/place/labr", ["Lower Amu Darya Biosphere Reserve", "Measure 2.2"]),
    ("/footnote/3", ["could not be identified", "Measure 6.3"]),
    ("/quality-note/annex1-item-1.4-missing", ["Missing item", "Annex 1 item 1.3"]),
    ("/document/unep-cms-bkd-mos3-doc4", ["2024-08-10", "MOS3"]),
    ("/scheme/priority", ["Priority levels", "1 – high"]),
])
def test_entity_pages_show_facts_neighbours_and_notes(client, path, expected):
    page = html(client.get(path))
    for text in expected:
        assert text in page, f"{path}: {text!r} missing"
    assert "?format=ttl" in page and "?format=jsonld" in page


def test_repeated_measure_links_its_other_occurrences(client):
    page = html(client.get("/measure/2.11"))
    for n in ("3.5", "4.8", "5.9", "6.7", "7.8"):
        assert f'href="/measure/{n}"' in page


@pytest.mark.parametrize("how, media, fmt", [
    ({"headers": {"Accept": "text/turtle"}}, "text/turtle", "turtle"),
    ({"headers": {"Accept": "application/ld+json"}}, "application/ld+json", "json-ld"),
    ({"headers": {"Accept": "application/n-triples"}}, "application/n-triples", "nt"),
    ({"headers": {"Accept": "application/rdf+xml"}}, "application/rdf+xml", "xml"),
    ({"headers": {"Accept": "application/json"}}, "application/ld+json", "json-ld"),
    ({"headers": {"Accept": "application/rdf+xml, text/turtle;q=0.8, */*;q=0.1"}}, "application/rdf+xml", "xml"),
    ({"headers": {"Accept": "text/html;q=0, */*"}}, "text/turtle", "turtle"),
    ({"query_string": {"format": "ttl"}}, "text/turtle", "turtle"),
    ({"query_string": {"format": "rdf"}}, "application/rdf+xml", "xml"),
    ({"query_string": {"format": "xlsx"}, "headers": {"Accept": "text/turtle"}}, "text/turtle", "turtle"),
    ({"query_string": {"format": "jsonld"}}, "application/ld+json", "json-ld"),
    ({"headers": {"Accept": "text/html;q=0.5, text/turtle;q=0.9"}}, "text/turtle", "turtle"),
])
def test_entity_content_negotiation(client, how, media, fmt):
    resp = client.get("/measure/3.6", **how)
    assert resp.status_code == 200 and resp.mimetype == media
    assert "Accept" in resp.headers.get("Vary", "")
    g = Graph().parse(data=resp.get_data(as_text=True), format=fmt)
    m = URIRef(BASE + "measure/3.6")
    assert (m, URIRef(BASE + "ontology#priorityAsGiven"), None) in g
    assert str(g.value(m, URIRef(BASE + "ontology#priorityAsGiven"))) == "2-3"


def test_browser_accept_gets_html(client):
    resp = client.get("/measure/3.6", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.mimetype == "text/html"


def test_unacceptable_and_unknown_format(client):
    resp = client.get("/measure/3.6", headers={"Accept": "image/png"})
    assert resp.status_code == 406 and "Accept" in resp.headers["Vary"]
    assert "application/rdf+xml" in resp.get_data(as_text=True)
    # an unknown format= falls back to Accept; 406 only when that cannot be served either
    assert client.get("/measure/3.6?format=xlsx").mimetype == "text/html"
    resp = client.get("/measure/3.6?format=xlsx", headers={"Accept": "image/png"})
    assert resp.status_code == 406 and "format 'xlsx'" in resp.get_data(as_text=True)


def test_measures_filters_combine_and_show_in_url(client, store):
    page = html(client.get("/measures?unit=upper-amu-darya&priority=1"))
    shown = set(re.findall(r'href="/measure/([\d.]+)"', page))
    expected = {r["n"].value for r in _select(store, """SELECT ?n WHERE {
                ?m bkd:planningUnit bkdi:population\\/upper-amu-darya ;
                bkd:priority bkdi:priority\\/1 ; bkd:number ?n }""")}
    assert shown == expected == {"4.1", "4.2", "4.3", "4.4"}
    assert 'value="upper-amu-darya" selected' in page


@pytest.mark.parametrize("query, expected", [
    ("country=TKM&actor=private-business", set()),
    ("country=TKM", {"2.1", "2.2", "2.9", "3.1", "3.4", "3.6", "3.7", "8.3"}),
    ("actor=cms&kind=annex1", {"5.1", "5.2", "5.3"}),
    ("q=feral+dogs", {"2.3", "3.6"}),
    ("programme=wp-2021-2026&given=none", {"4.1", "4.2"}),
    ("section=section/8.0", {"8.1", "8.2", "8.3"}),
    ("section=annex1/section/6.0", {"6.1", "6.2"}),
    ("priority=2&priority=3&unit=syr-darya", {"6.3", "6.4", "6.5", "6.6", "6.7"}),
])
def test_measures_filters(client, query, expected):
    page = html(client.get("/measures?" + query))
    rows = set(re.findall(r'<td class="num"><a href="/(?:measure|annex1)/([\d.]+)"', page))
    assert rows == expected, query


def test_csv_download_has_exactly_the_filtered_rows(client):
    q = "unit=zarafshon&priority=1"
    page = html(client.get("/measures?" + q))
    shown = re.findall(r'<td class="num"><a href="/measure/([\d.]+)"', page)
    resp = client.get("/measures?" + q + "&format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["number"] for r in rows] == shown and len(rows) == 6
    assert all(r["priority"] == "1" and r["planning_unit"] == "Zarafshon" for r in rows)
    link = re.search(r'href="([^"]*format=csv[^"]*)"', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query)["unit"] == ["zarafshon"]


def test_unfiltered_csv_equals_cli_export(client, kg):
    _, out, _ = kg("export", "measures", "--format", "csv")
    assert client.get("/measures?format=csv").get_data(as_text=True) == out


def test_ontology_page_lists_terms_with_constraints(client):
    page = html(client.get("/ontology"))
    for term in ("Measure", "Annex1Item", "TransboundaryMeasure", "concernsCountry", "priorityAsGiven"):
        assert f'id="{term}"' in page
    assert "sh:minCount" in page and "sh:class" in page and "Warning" in page
    ttl = client.get("/ontology", headers={"Accept": "text/turtle"})
    assert ttl.mimetype == "text/turtle" and "owl:Ontology" in ttl.get_data(as_text=True)
    xml = client.get("/ontology", headers={"Accept": "application/rdf+xml"})
    assert xml.mimetype == "application/rdf+xml" and "Accept" in xml.headers["Vary"]
    assert Graph().parse(data=xml.data, format="xml").isomorphic(Graph().parse(data=ttl.data, format="turtle"))


def test_browse_lists_instances(client):
    page = html(client.get("/browse/Site"))
    assert page.count('href="/site/') == 13
    assert client.get("/browse/NoSuchClass").status_code == 404


def test_search(client):
    page = html(client.get("/search?q=Tigrovaya"))
    assert 'href="/site/Tj1"' in page and 'href="/measure/4.3"' in page
    assert "0 results" in html(client.get("/search?q=zzzqqq"))


def test_unknown_iri_gives_helpful_404(client):
    resp = client.get("/measure/2.99")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert 'name="q"' in page and 'href="/measure/2.9"' in page, "suggests close matches and offers search"
    assert "Traceback" not in page


def test_downloads_and_void(client):
    page = html(client.get("/download/"))
    for name in ("graph.ttl", "graph.nt", "graph.jsonld", "graph.rdf", "dataset.nq", "shapes.ttl"):
        assert f"/download/{name}" in page
    nt = client.get("/download/graph.nt")
    assert nt.status_code == 200 and nt.mimetype == "application/n-triples"
    nt_graph = Graph().parse(data=nt.get_data(as_text=True), format="nt")
    assert len(nt_graph) > 3000
    rdf = client.get("/download/graph.rdf")
    assert rdf.status_code == 200 and rdf.mimetype == "application/rdf+xml"
    assert Graph().parse(data=rdf.data, format="xml").isomorphic(nt_graph)
    assert client.get("/download/graph.rdf", headers={"If-None-Match": rdf.headers["ETag"]}).status_code == 304
    js = client.get("/download/graph.jsonld")
    assert js.mimetype == "application/ld+json" and json.loads(js.get_data())
    assert client.get("/download/../build.json").status_code == 404
    void = client.get("/.well-known/void")
    assert void.mimetype == "text/turtle"
    g = Graph().parse(data=void.get_data(as_text=True), format="turtle")
    q = "SELECT ?e ?n WHERE { ?d <http://rdfs.org/ns/void#sparqlEndpoint> ?e ; " \
        "<http://rdfs.org/ns/void#classPartition> ?p . " \
        "?p <http://rdfs.org/ns/void#class> <" + BASE + "ontology#Measure> ; <http://rdfs.org/ns/void#entities> ?n }"
    (endpoint, n), = list(g.query(q))
    assert str(endpoint).endswith("/sparql") and int(n) == 66
    assert client.get("/void?format=jsonld").mimetype == "application/ld+json"
    assert len(Graph().parse(data=client.get("/void?format=rdf").data, format="xml")) == len(g)


def test_graph_loaded_once_not_per_request(app, client, monkeypatch):
    from webapp import repository

    def fail(*a, **k):
        raise AssertionError("the store was reopened during a request")

    monkeypatch.setattr(repository, "open_store", fail)
    for path in ("/", "/measures", "/measure/1.1", "/ontology"):
        assert client.get(path).status_code == 200


def test_caches_are_warmed_in_the_background(dist):
    """Outside tests, create_app builds the per-graph caches in a background thread,
    so the first visitor of a large graph does not wait for them."""
    import time

    from webapp import DERIVED, create_app
    from webapp.state import graph_state

    app = create_app({"KG_DIST": str(dist)})  # not TESTING: warm-up on
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not {"actions", "page_cache"} <= set(graph_state(app).derived):
        time.sleep(0.05)
    assert {"actions", "page_cache"} <= set(graph_state(app).derived) & set(DERIVED)
    cold = create_app({"KG_DIST": str(dist), "TESTING": True})
    time.sleep(0.5)
    assert "actions" not in graph_state(cold).derived, "no warm-up in tests"
