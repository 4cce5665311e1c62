"""Real clients against a real `kg serve` (waitress on a loopback port): SPARQLWrapper
and rdflib's SPARQLStore with their default settings, Raptor's `rapper` on every dump
and on an entity IRI, and Comunica (JavaScript) through node. Every answer is compared
with the same query run on kg.store directly, never with a number written here.

A missing client fails the test, naming what installs it: `make system-deps` (rapper,
node), `make node_modules/.installed` (Comunica, npm ci), the .venv step of the
Makefile (SPARQLWrapper)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path
from xml.dom.minidom import Document

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

pytestmark = pytest.mark.slow  # a real server and external clients (rapper, node)

ROOT = Path(__file__).resolve().parent.parent
COMUNICA = ROOT / "node_modules" / "@comunica" / "query-sparql"
COMUNICA_SCRIPT = Path(__file__).with_name("comunica_query.js")
SRX = "http://www.w3.org/2005/sparql-results#"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

PREFIX = "PREFIX bkd: <https://w3id.org/bukhara-deer/ontology#>\n"
SELECT = PREFIX + "SELECT ?n ?p WHERE { ?m a bkd:TransboundaryMeasure ; bkd:number ?n ; bkd:priorityAsGiven ?p }"
ASK_YES = PREFIX + "ASK { ?m a bkd:Measure }"
ASK_NO = PREFIX + "ASK { ?m a bkd:NoSuchClass }"
CONSTRUCT = PREFIX + ("CONSTRUCT { ?m bkd:priorityAsGiven ?p ; a bkd:Measure } "
                      "WHERE { ?m a bkd:Measure ; bkd:priorityAsGiven ?p }")
MEASURE = "measure/2.10"

# rapper's parser for each media type of the dumps; JSON-LD is the one it cannot read
RAPPER_SYNTAX = {"text/turtle": "turtle", "application/n-triples": "ntriples", "application/rdf+xml": "rdfxml",
                 "application/n-quads": "nquads"}
RDFLIB_SYNTAX = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
                 "application/n-quads": "nquads", "application/ld+json": "json-ld"}


# ---------------------------------------------------------------------------
# What kg.store itself answers.

def _describe(base: str) -> str:
    return f"DESCRIBE <{base}{MEASURE}>"


def store_rows(store, query: str) -> Counter:
    """SELECT solutions as a multiset of tuples of (variable, lexical value)."""
    solutions = store.query(query)
    names = solutions.variables
    return Counter(tuple(sorted((v.value, s[v].value) for v in names if s[v] is not None)) for s in solutions)


def store_graph(store, query: str) -> rdflib.Graph:
    """A CONSTRUCT/DESCRIBE answer of the store, as an rdflib graph (via N-Triples)."""
    triples = list(store.query(query))
    assert triples, f"the store answered nothing to {query!r}: the comparison would be empty"
    return rdflib.Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")


def store_ask(store, query: str) -> bool:
    return bool(store.query(query))


def same_graph(got: rdflib.Graph, expected: rdflib.Graph) -> None:
    assert len(got) == len(expected), (len(got), len(expected))
    assert isomorphic(got, expected)


@pytest.fixture(scope="module")
def endpoint(live_server) -> str:
    return live_server + "/sparql"


@pytest.fixture(scope="module")
def base(store) -> str:
    from kg.config import settings

    return settings().base


# ---------------------------------------------------------------------------
# SPARQLWrapper, default settings (GET, XML: format=xml and RDF/XML for graphs).

def _sparqlwrapper(endpoint: str, query: str):
    try:
        from SPARQLWrapper import SPARQLWrapper
    except ImportError as e:
        pytest.fail(f"SPARQLWrapper is not installed ({e}): pip install -e '.[dev]' (the Makefile's .venv step)")
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    return client.query()


def test_sparqlwrapper_select(endpoint, store):
    result = _sparqlwrapper(endpoint, SELECT)
    doc = result.convert()
    assert isinstance(doc, Document), type(doc)
    rows = Counter()
    for r in doc.getElementsByTagNameNS(SRX, "result"):
        rows[tuple(sorted((b.getAttribute("name"), b.firstChild.firstChild.data)
                          for b in r.getElementsByTagNameNS(SRX, "binding")))] += 1
    expected = store_rows(store, SELECT)
    assert rows == expected and len(expected) > 1


def test_sparqlwrapper_ask(endpoint, store):
    for query in (ASK_YES, ASK_NO):
        doc = _sparqlwrapper(endpoint, query).convert()
        (node,) = doc.getElementsByTagNameNS(SRX, "boolean")
        assert (node.firstChild.data == "true") is store_ask(store, query)


@pytest.mark.parametrize("form", ["construct", "describe"])
def test_sparqlwrapper_construct_describe(endpoint, store, base, form):
    query = CONSTRUCT if form == "construct" else _describe(base)
    result = _sparqlwrapper(endpoint, query)
    assert result.info()["content-type"].startswith("application/rdf+xml")
    got = result.convert()
    assert isinstance(got, rdflib.Graph)
    same_graph(got, store_graph(store, query))


# ---------------------------------------------------------------------------
# rdflib's SPARQLStore, default settings (GET, Accept: SPARQL XML results / RDF/XML).

@pytest.fixture(scope="module")
def remote(endpoint) -> rdflib.Graph:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    return rdflib.Graph(store=SPARQLStore(endpoint))


def test_sparqlstore_select(remote, store):
    got = Counter(tuple(sorted((str(v), str(row[v])) for v in row.labels if row[v] is not None))
                  for row in remote.query(SELECT))
    expected = store_rows(store, SELECT)
    assert got == expected and len(expected) > 1


def test_sparqlstore_ask(remote, store):
    for query in (ASK_YES, ASK_NO):
        assert remote.query(query).askAnswer is store_ask(store, query)


@pytest.mark.parametrize("form", ["construct", "describe"])
def test_sparqlstore_construct_describe(remote, store, base, form):
    query = CONSTRUCT if form == "construct" else _describe(base)
    got = rdflib.Graph()
    for t in remote.query(query):
        got.add(t)
    same_graph(got, store_graph(store, query))


# ---------------------------------------------------------------------------
# rapper (Raptor): every dump in each syntax it reads, and an entity's RDF/XML.

def _rapper() -> str:
    exe = shutil.which("rapper")
    if exe is None:
        pytest.fail("rapper not found: run `make system-deps` (Debian package raptor2-utils)")
    return exe


def rapper_count(args: list[str]) -> int:
    p = subprocess.run([_rapper(), "--count", *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Error" not in p.stderr, p.stderr
    (n,) = re.findall(r"Parsing returned (\d+) triple", p.stderr)
    return int(n)


def rapper_ntriples(args: list[str]) -> tuple[rdflib.Graph, str]:
    """What rapper parsed, written by rapper as N-Triples, and its stderr."""
    p = subprocess.run([_rapper(), "--output", "ntriples", *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return rdflib.Graph().parse(data=p.stdout, format="nt"), p.stderr


def rdflib_count(body: bytes, media: str) -> int:
    fmt = RDFLIB_SYNTAX[media]
    if fmt == "nquads":
        ds = rdflib.Dataset()
        ds.parse(data=body, format="nquads")
        return sum(len(g) for g in ds.graphs())
    return len(rdflib.Graph().parse(data=body, format=fmt))


def test_rapper_reads_every_dump(live_server, dist):
    from webapp.routes.downloads import DUMPS

    index = urllib.request.urlopen(live_server + "/download/", timeout=30).read().decode()
    listed = re.findall(r'href="/download/([^"]+)"', index)
    assert set(listed) == set(DUMPS), listed  # the test build writes every dump
    unread = []
    for name in listed:
        media = DUMPS[name][0]
        url = f"{live_server}/download/{name}"
        if media not in RAPPER_SYNTAX:
            unread.append(name)
            continue
        with urllib.request.urlopen(url, timeout=60) as r:
            assert r.headers.get_content_type() == media
            body = r.read()
        expected = rdflib_count(body, media)
        assert expected > 0, name
        assert rapper_count(["--input", RAPPER_SYNTAX[media], url]) == expected, name
    assert unread == ["graph.jsonld"]  # rapper has no JSON-LD parser; any other dump must be read


def test_rapper_rdfxml_dump_is_the_whole_graph(live_server):
    """graph.rdf holds the same triples as graph.nt (RDF/XML carries no graph names)."""
    nt = urllib.request.urlopen(live_server + "/download/graph.nt", timeout=60).read()
    got, _ = rapper_ntriples(["--input", "rdfxml", live_server + "/download/graph.rdf"])
    same_graph(got, rdflib.Graph().parse(data=nt, format="nt"))


@pytest.mark.parametrize("how", [[], ["--guess"]])
def test_rapper_dereferences_an_entity(live_server, store, base, how):
    """rapper's own Accept header (RDF/XML first, */*;q=0.1; or every syntax it reads
    with --guess) gets RDF from the entity IRI, never the HTML page."""
    iri = base + MEASURE
    url = f"{live_server}/{MEASURE}"
    got, err = rapper_ntriples([*how, url])
    expected = store_graph(store, f"CONSTRUCT {{ <{iri}> ?p ?o }} WHERE {{ <{iri}> ?p ?o }}")
    # the served triples are about the IRI under the server's base, as the store's are
    same_graph(got, expected)
    assert rapper_count([*how, url]) == len(expected)
    if not how:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/rdf+xml"})) as r:
            assert r.headers.get_content_type() == "application/rdf+xml" and "Accept" in r.headers["Vary"]


# ---------------------------------------------------------------------------
# Comunica (@comunica/query-sparql) through node.

def comunica(endpoint: str, form: str, query: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: run `make system-deps` (Debian package npm brings nodejs)")
    if not COMUNICA.is_dir():
        pytest.fail(f"Comunica is not installed ({COMUNICA} missing): run `make node_modules/.installed` (npm ci)")
    p = subprocess.run([node, str(COMUNICA_SCRIPT), endpoint, form, query], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _rdflib_term(t: dict):
    if t["type"] == "NamedNode":
        return rdflib.URIRef(t["value"])
    if t["type"] == "BlankNode":
        return rdflib.BNode()
    if t["language"]:
        return rdflib.Literal(t["value"], lang=t["language"])
    if t["datatype"] == XSD_STRING:  # RDF 1.1: a simple literal, as rdflib parses one
        return rdflib.Literal(t["value"])
    return rdflib.Literal(t["value"], datatype=rdflib.URIRef(t["datatype"]))


def test_comunica_select_and_ask(endpoint, store):
    rows = comunica(endpoint, "select", SELECT)["rows"]
    got = Counter(tuple(sorted((v, t["value"]) for v, t in row.items())) for row in rows)
    expected = store_rows(store, SELECT)
    assert got == expected and len(expected) > 1
    for query in (ASK_YES, ASK_NO):
        assert comunica(endpoint, "ask", query)["boolean"] is store_ask(store, query)


@pytest.mark.parametrize("form", ["construct", "describe"])
def test_comunica_construct_describe(endpoint, store, base, form):
    query = CONSTRUCT if form == "construct" else _describe(base)
    got = rdflib.Graph()
    for s, p, o in comunica(endpoint, "graph", query)["triples"]:
        got.add((_rdflib_term(s), _rdflib_term(p), _rdflib_term(o)))
    same_graph(got, store_graph(store, query))
