"""Dumps of the whole graph and a VoID / DCAT description of the dataset.

The build writes the dumps to dist/; graph.rdf (RDF/XML) is made here from graph.nt
on first request, once per graph file: RDF/XML carries triples only, so like
graph.ttl it is the union of the named graphs (dataset.nq keeps the graph names)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, abort, render_template, request, send_from_directory, url_for
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD

from kg import stats
from kg.store import prefixes
from webapp import conneg
from webapp.derived import per_graph
from webapp.graph_views import cached
from webapp.services import catalogue
from webapp.state import graph_state

bp = Blueprint("downloads", __name__)
VOID = Namespace("http://rdfs.org/ns/void#")

DUMPS = {  # file in dist/ -> (media type, description)
    "graph.ttl": ("text/turtle", "The whole graph (ontology, SKOS schemes, data, inferred), Turtle"),
    "graph.nt": ("application/n-triples", "The whole graph, N-Triples"),
    "graph.jsonld": ("application/ld+json", "The whole graph, JSON-LD"),
    "graph.rdf": ("application/rdf+xml", "The whole graph, RDF/XML (triples only: the union of the named graphs)"),
    "dataset.nq": ("application/n-quads", "The same triples in named graphs (ontology, data, inferred), N-Quads"),
    "inferred.ttl": ("text/turtle", "Only the inferred triples (SPARQL rules), Turtle"),
    "shapes.ttl": ("text/turtle", "The SHACL shapes the data conforms to, Turtle"),
}
CONVERTED = {"graph.rdf": "graph.nt"}  # dump -> the dist/ file it is written from
VOID_MEDIA = ["text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml"]


@bp.route("/download/")
def index():
    repo = graph_state().repo
    files = []
    for name, (media, desc) in DUMPS.items():
        if name in CONVERTED:
            if (repo.dist / CONVERTED[name]).exists():
                try:
                    files.append((name, media, desc, len(converted(repo.dist, name)[0])))
                except conneg.NotRepresentable:  # a predicate RDF/XML cannot write: not offered
                    pass
        elif (repo.dist / name).exists():
            files.append((name, media, desc, (repo.dist / name).stat().st_size))
    return render_template("downloads.html", files=files)


@bp.route("/download/<name>")
def dump(name: str):
    if name not in DUMPS:
        abort(404)
    repo = graph_state().repo
    media = DUMPS[name][0]
    if name in CONVERTED:
        if not (repo.dist / CONVERTED[name]).exists():
            abort(404)
        try:
            body, etag = converted(repo.dist, name)
        except conneg.NotRepresentable as e:
            return conneg.not_acceptable(e)
        resp = Response(body, mimetype=media)
        resp.set_etag(etag)
        resp.cache_control.public = True
        resp.cache_control.max_age = 300
        return resp.make_conditional(request)
    return send_from_directory(repo.dist, name, mimetype=media, as_attachment=False, max_age=300)


def converted(dist: Path, name: str) -> tuple[bytes, str]:
    """A dump written from another dist/ file (body, ETag), made once per version of
    that file (its size and mtime are in the cache key, so a rebuild is picked up)."""
    source = dist / CONVERTED[name]
    st = source.stat()

    def make() -> tuple[bytes, str]:
        body = conneg.serialize(ox.parse(path=str(source), format=ox.RdfFormat.N_TRIPLES),
                                DUMPS[name][0], prefixes())
        return body, hashlib.sha256(body).hexdigest()[:32]
    return cached(f"dump {name} {st.st_size} {st.st_mtime_ns}", make)


@bp.route("/void")
@bp.route("/.well-known/void")
def void():
    try:
        media = conneg.choose(request, VOID_MEDIA)
    except conneg.NotAcceptable as e:
        return conneg.not_acceptable(e)
    fmt = conneg.RDFLIB_FORMATS[media]
    cache = per_graph("void_cache", dict)
    key = (request.host_url, fmt)  # the description names this server's endpoint and dump URLs
    if key not in cache:
        cache[key] = description().serialize(format=fmt, encoding="utf-8")
    body = cache[key]
    return Response(body, content_type=conneg.mimetype(media),
                    headers={"Vary": "Accept", "Access-Control-Allow-Origin": "*"})


def description() -> Graph:
    """VoID + DCAT: size, class partitions, the endpoint, the dumps, provenance, licence."""
    repo = graph_state().repo
    ds = URIRef(repo.base + "dataset")
    g = Graph()
    for p, ns in (("void", VOID), ("dcat", DCAT), ("dcterms", DCTERMS), ("xsd", XSD)):
        g.bind(p, ns)
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.title, Literal("Bukhara Deer Knowledge Graph", lang="en")))
    g.add((ds, DCTERMS.description, Literal(
        "The CMS Draft Work Programme for the Bukhara Deer (2025-2032), UNEP/CMS/BKD/MOS3/Doc.4, as RDF: "
        "measures, Annex 1 range-wide items, planning units, sites, hotspots, countries, actors, priorities.",
        lang="en")))
    g.add((ds, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")))
    g.add((ds, DCTERMS.source, URIRef(repo.base + "document/unep-cms-bkd-mos3-doc4")))
    g.add((ds, VOID.uriSpace, Literal(repo.base)))
    g.add((ds, VOID.vocabulary, URIRef(repo.base + "ontology#")))
    counts = cached("counts", lambda: stats.counts(repo.store))  # shared with the home page
    g.add((ds, VOID.triples, Literal(counts["triples"], datatype=XSD.integer)))
    endpoint = URIRef(url_for("sparql.sparql", _external=True))
    g.add((ds, VOID.sparqlEndpoint, endpoint))
    service = BNode()
    g.add((ds, DCAT.accessService, service))
    g.add((service, RDF.type, DCAT.DataService))
    g.add((service, DCAT.endpointURL, endpoint))
    for name, (media, desc) in DUMPS.items():
        url = URIRef(url_for("downloads.dump", name=name, _external=True))
        g.add((ds, VOID.dataDump, url))
        dist = BNode()
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCAT.downloadURL, url))
        g.add((dist, DCAT.mediaType, URIRef("https://www.iana.org/assignments/media-types/" + media)))
        g.add((dist, DCTERMS.description, Literal(desc, lang="en")))
    partitions = cached("class_partitions", lambda: catalogue.class_partitions(repo))
    for cls, n in partitions:  # a group-by over the whole graph: once per graph, whatever the format
        part = BNode()
        g.add((ds, VOID.classPartition, part))
        g.add((part, VOID["class"], URIRef(cls)))
        g.add((part, VOID.entities, Literal(n, datatype=XSD.integer)))
    return g
