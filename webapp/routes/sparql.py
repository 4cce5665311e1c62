"""The SPARQL 1.1 Protocol endpoint at /sparql, read-only, in the manner of Apache
Jena Fuseki's query service.

Queries come as GET ?query=, POST application/x-www-form-urlencoded (query=) or POST
application/sparql-query, with optional repeatable default-graph-uri and
named-graph-uri. The default graph is the union of the named graphs unless
default-graph-uri says otherwise. The result format is ?format= when it names a format
of the query's form, else the Accept header (q-values honoured, webapp.conneg): an
unknown format= falls back to Accept, as SPARQLWrapper always sends one. RDF/XML is
written here from the worker's N-Triples. A query is run in a worker process of the
QueryRunner, which enforces KG_QUERY_TIMEOUT and KG_QUERY_MAX_BYTES. A GET without a
query gets the service description (Turtle for */*), or the query page when the
client names HTML. Every answer, error or not, carries CORS headers and Vary: Accept;
errors are one readable text/plain line.
"""
from __future__ import annotations

import math

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from kg.errors import BadInput
from kg.sparql_forms import check_bounds
from kg.store import prefixes
from webapp import conneg
from webapp.query_runner import (
    EndpointBusy,
    QueryRunner,
    QueryTimeout,
    ResultTooLarge,
    ServiceRefused,
    UpdateRefused,
    WorkerCrashed,
    WorkerFailed,
)
from webapp.services import catalogue
from webapp.sparql_editor import MINIMAL_FORM, sparql_page
from webapp.state import graph_state

bp = Blueprint("sparql", __name__)

ALLOWED = "GET, POST, OPTIONS"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": ALLOWED,
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Max-Age": "86400",
}

# Media types offered, in order of preference (ties in the Accept header go to the
# earlier one), with the format each stands for.
RESULTS_MEDIA = [
    ("application/sparql-results+json", "json"),
    ("application/sparql-results+xml", "xml"),
    ("text/csv", "csv"),
    ("text/tab-separated-values", "tsv"),
    ("application/json", "json"),
    ("application/xml", "xml"),
    ("text/xml", "xml"),
]
GRAPH_MEDIA = [
    ("text/turtle", "turtle"),
    ("application/ld+json", "jsonld"),
    ("application/n-triples", "ntriples"),
    ("application/rdf+xml", "rdfxml"),
    ("application/x-turtle", "turtle"),
    ("application/json", "jsonld"),
]
# ?format= names per query form: "xml" and "json" mean RDF/XML and JSON-LD for graphs,
# as in Fuseki (SPARQLWrapper sends format=xml with a CONSTRUCT by default).
RESULTS_NAMES = {"json": "json", "srj": "json", "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv"}
GRAPH_NAMES = {
    "ttl": "turtle", "turtle": "turtle", "jsonld": "jsonld", "json-ld": "jsonld", "json": "jsonld",
    "nt": "ntriples", "ntriples": "ntriples", "n-triples": "ntriples",
    "rdf": "rdfxml", "rdfxml": "rdfxml", "rdf+xml": "rdfxml", "xml": "rdfxml",
}
FORMAT_NAMES = {**GRAPH_NAMES, **RESULTS_NAMES}
RDFXML = "application/rdf+xml"  # written in the web process from the worker's N-Triples
SD_MEDIA = ["text/turtle", "application/ld+json", "application/n-triples", RDFXML]


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# ---------------------------------------------------------------------------
# The route.

@bp.route("/sparql", methods=["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"])
def sparql():
    try:
        resp = _handle()
    except _HTTPError as e:
        resp = _text(e.message, e.status, e.headers)
    except RequestEntityTooLarge:
        limit = int(current_app.config.get("QUERY_MAX_BODY", 1024 * 1024))
        resp = _text(f"request too large: over the limit of {limit:,} bytes (KG_QUERY_MAX_BODY)", 413)
    except Exception:  # noqa: BLE001 - never a traceback (nor a path or class name) on the wire
        current_app.logger.exception("SPARQL endpoint failure")
        resp = _text("internal error: the query could not be answered; the error has been logged", 500)
    return resp


@bp.after_app_request
def _endpoint_headers(resp: Response) -> Response:
    """CORS and Vary on every /sparql response, including those Flask makes itself
    (a method the route does not list, e.g. PROPFIND, gets the endpoint's own 405)."""
    if request.path != "/sparql":
        return resp
    if resp.status_code == 405 and resp.mimetype != "text/plain":
        resp = _text(f"method {request.method} not allowed: the SPARQL endpoint accepts GET, POST "
                     "and OPTIONS", 405)
    if resp.status_code == 405:
        resp.headers["Allow"] = ALLOWED
    resp.headers.update(CORS)
    resp.vary.add("Accept")
    return resp


def _handle() -> Response:
    method = request.method
    if method == "OPTIONS":
        resp = Response(status=204, headers={"Allow": ALLOWED})
        del resp.headers["Content-Type"]
        return resp
    if method not in ("GET", "HEAD", "POST"):
        raise _HTTPError(405, f"method {method} not allowed: the SPARQL endpoint accepts GET, POST and "
                              "OPTIONS", {"Allow": ALLOWED})
    query, params = _read_request()
    if query is None:
        return _no_query(method)
    if not query.strip():
        raise _HTTPError(400, "missing query: the query is empty")
    try:
        info = check_bounds(query)
    except BadInput as e:
        raise _HTTPError(400, str(e)) from None
    if info.form == "UPDATE":
        raise _HTTPError(403, UpdateRefused().args[0])
    if info.service:
        raise _HTTPError(400, ServiceRefused().args[0])
    fmt = _negotiate(info.form, params.get("format"))
    runner = _runner()
    try:
        media, body = runner.run(query, "ntriples" if fmt == "rdfxml" else fmt,
                                 params.getlist("default-graph-uri") or None,
                                 params.getlist("named-graph-uri") or None)
        if fmt == "rdfxml" and media.startswith("application/n-triples"):
            media, body = RDFXML, _rdfxml(body, runner.max_bytes)
    except UpdateRefused as e:
        raise _HTTPError(403, str(e)) from None
    except BadInput as e:
        raise _HTTPError(400, str(e)) from None
    except QueryTimeout as e:
        raise _HTTPError(503, str(e), {"Retry-After": str(max(1, math.ceil(e.seconds)))}) from None
    except (EndpointBusy, WorkerCrashed) as e:
        raise _HTTPError(503, str(e), {"Retry-After": "1"}) from None
    except WorkerFailed as e:  # e.g. the graph is being rebuilt: details in the log only
        current_app.logger.error("SPARQL worker failure: %s", e)
        raise _HTTPError(503, "the query could not be run right now (the graph may be being rebuilt); "
                              "try again shortly", {"Retry-After": "5"}) from None
    except ResultTooLarge as e:
        raise _HTTPError(400, str(e)) from None
    return Response(body, 200, content_type=media)


def _rdfxml(ntriples: bytes, max_bytes: int) -> bytes:
    """A graph result as RDF/XML, held to the same size limit as the worker's output."""
    try:
        body = conneg.ntriples_to(ntriples, RDFXML, prefixes())
    except conneg.NotRepresentable as e:
        raise _HTTPError(406, f"{e} (the result was not sent)") from None
    if len(body) > max_bytes:
        raise ResultTooLarge(max_bytes)
    return body


def _read_request():
    """The query text (None when absent) and the parameters (format, graph IRIs).
    Raises for updates, unsupported bodies and undecodable input."""
    args = request.args
    if request.method == "POST":
        limit = int(current_app.config.get("QUERY_MAX_BODY", 1024 * 1024))
        if (request.content_length or 0) > limit:
            raise _HTTPError(413, f"request too large: {request.content_length:,} bytes, over the limit of "
                                  f"{limit:,} (KG_QUERY_MAX_BODY)")
        request.max_content_length = limit  # a body without Content-Length stops there too
        request.max_form_memory_size = limit
    if request.method in ("GET", "HEAD"):
        if "update" in args:
            raise _HTTPError(403, UpdateRefused().args[0])
        _one_query(args.getlist("query"))
        return args.get("query"), args
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        try:
            form = request.form
        except BadRequest:
            raise _HTTPError(400, "unreadable form body") from None
        if "update" in form or "update" in args:
            raise _HTTPError(403, UpdateRefused().args[0])
        _one_query(form.getlist("query") + args.getlist("query"))
        params = args.copy()
        for key, values in form.lists():
            if key != "query":
                params.setlist(key, params.getlist(key) + values)
        return form.get("query", args.get("query")), params
    if mimetype == "application/sparql-query":
        charset = request.mimetype_params.get("charset", "utf-8")
        if charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise _HTTPError(415, "the query body must be UTF-8 (the SPARQL 1.1 Protocol sends queries as UTF-8), "
                                  f"not {charset!r}")
        _one_query(args.getlist("query") + [""])
        try:
            return request.get_data().decode(charset), args
        except (UnicodeDecodeError, LookupError):
            raise _HTTPError(400, f"the query body is not valid {charset} text") from None
    if mimetype == "application/sparql-update":
        raise _HTTPError(403, UpdateRefused().args[0])
    raise _HTTPError(415, f"unsupported content type {mimetype or '(none)'!r}: POST a query as "
                          "application/x-www-form-urlencoded (query=...) or as application/sparql-query")


def _one_query(queries: list[str]) -> None:
    """A request carries exactly one query (SPARQL 1.1 Protocol §2.1: a second `query`
    parameter, or one beside a direct POST body, is a client error, not the first wins)."""
    if len(queries) > 1:
        raise _HTTPError(400, f"{len(queries)} queries in one request: send exactly one query "
                              "(one `query` parameter, or the body of a direct POST)")


def _no_query(method: str) -> Response:
    """No query: a browser (a client that names HTML) gets the query page; any other
    GET whose Accept allows RDF, */* and no Accept included, gets the service
    description, as from Fuseki; the rest (POST, or Accept: results types only) a 400
    that says what is missing."""
    if method in ("GET", "HEAD"):
        header = request.headers.get("Accept", "")
        accept = conneg.parse_accept(header)
        html = max(conneg.explicit_q(accept, "text/html"), conneg.explicit_q(accept, "application/xhtml+xml"))
        rdf = max((conneg.explicit_q(accept, m) for m in SD_MEDIA), default=0.0)
        if html > 0 and html >= rdf:
            return _html_page()
        media = conneg.best_match(header, SD_MEDIA)
        if media is not None:
            return _service_description(media)
    raise _HTTPError(400, "missing query: send the SPARQL query as the 'query' parameter (GET or "
                          "form POST) or as an application/sparql-query body")


# ---------------------------------------------------------------------------
# Content negotiation.

def _negotiate(form: str | None, format_param: str | None) -> str:
    """The result format: ?format= when it names one of the form's formats (a name or a
    media type), else the Accept header; 406 listing the types when neither fits."""
    if form in ("SELECT", "ASK"):
        offered, kind, names = RESULTS_MEDIA, f"{form} results", RESULTS_NAMES
    elif form in ("CONSTRUCT", "DESCRIBE"):
        offered, kind, names = GRAPH_MEDIA, f"{form} results", GRAPH_NAMES
    else:  # unrecognised: let the parser report it, with any format
        offered, kind, names = RESULTS_MEDIA + GRAPH_MEDIA, "results", FORMAT_NAMES
    by_media: dict[str, str] = {}
    for m, f in offered:  # in the server's order of preference; a media type's first format wins
        by_media.setdefault(m, f)
    note = ""
    if format_param:
        value = format_param.strip().lower()
        fmt = names.get(value) or by_media.get(value.split(";")[0].strip())
        if fmt is not None:
            return fmt
        note = f"format {format_param!r} is not offered for {kind}, and "
    media = conneg.best_match(request.headers.get("Accept", ""), list(by_media))
    if media is None:
        types = list(dict.fromkeys(m for m, _ in offered))
        raise _HTTPError(406, f"{note}not acceptable: {kind} are available as " + ", ".join(types)
                              + " (or choose with ?format=" + "|".join(names) + ")")
    return by_media[media]


# ---------------------------------------------------------------------------
# Helpers.

def _runner() -> QueryRunner:
    """The app's worker pool, created on the first query."""
    app = current_app._get_current_object()
    state = graph_state(app)
    runner = state.query_runner
    if runner is None:
        with state.runner_lock:
            runner = state.query_runner
            if runner is None:
                runner = state.query_runner = make_runner(app)
    return runner


def make_runner(app: Flask) -> QueryRunner:
    state = graph_state(app)
    repo = state.repo
    cfg = app.config
    return QueryRunner(state.dist, workers=int(cfg.get("QUERY_WORKERS", 2)),
                       timeout=float(cfg.get("QUERY_TIMEOUT", 10)),
                       max_bytes=int(cfg.get("QUERY_MAX_BYTES", 20 * 1024 * 1024)), base=repo.base,
                       memory=int(cfg.get("QUERY_MAX_MEMORY", 0)), queue_size=cfg.get("QUERY_QUEUE"))


def _text(message: str, status: int, headers: dict | None = None) -> Response:
    return Response(message.rstrip("\n") + "\n", status, headers=headers or {},
                    content_type="text/plain; charset=utf-8")


def _html_page() -> Response:
    try:
        return current_app.make_response(sparql_page())
    except Exception:  # noqa: BLE001 - a broken page still leaves a usable form
        current_app.logger.exception("sparql_page failed; serving the minimal query form")
    return Response(MINIMAL_FORM, 200, content_type="text/html; charset=utf-8")


def _service_description(media: str) -> Response:
    """SPARQL 1.1 Service Description of this endpoint and its dataset, in `media`."""
    repo = graph_state().repo
    try:  # the Host header is the client's text: only a valid IRI is used, as the base
        endpoint = ox.NamedNode(request.base_url).value
    except ValueError:
        endpoint = repo.base + "sparql"
    graphs = catalogue.graph_sizes(repo)
    total = len(repo.store)
    formats = ["SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
               "SPARQL_Results_TSV", "Turtle", "JSON-LD", "N-Triples", "RDF_XML"]
    named = ",\n".join(
        f"        [ a sd:NamedGraph ; sd:name <{g}> ;\n"
        f"          sd:graph [ a sd:Graph ; void:triples {n} ] ]" for g, n in graphs)
    comment = ("Without FROM, FROM NAMED, default-graph-uri or named-graph-uri, the default graph is the union "
               "of the named graphs and GRAPH reaches every named graph. FROM and default-graph-uri make the "
               "listed graphs the default graph; FROM NAMED and named-graph-uri restrict the named graphs to "
               "those listed.")
    ttl = f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix void: <http://rdfs.org/ns/void#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix formats: <http://www.w3.org/ns/formats/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

<> a sd:Service ;
    sd:endpoint <> ;
    dcterms:title "Bukhara Deer Knowledge Graph SPARQL endpoint (read-only)"@en ;
    rdfs:comment "{comment}"@en ;
    sd:supportedLanguage sd:SPARQL11Query ;
    sd:feature sd:UnionDefaultGraph ;
    sd:resultFormat {", ".join("formats:" + f for f in formats)} ;
    sd:defaultDataset [
        a sd:Dataset ;
        sd:defaultGraph [ a sd:Graph ;
            dcterms:description "The union of all named graphs."@en ;
            void:triples {total} ] ;
        sd:namedGraph
{named}
    ] .
"""
    triples = list(ox.parse(ttl.encode(), format=ox.RdfFormat.TURTLE, base_iri=endpoint))
    pfx = {"sd": "http://www.w3.org/ns/sparql-service-description#", "void": "http://rdfs.org/ns/void#",
           "dcterms": "http://purl.org/dc/terms/", "formats": "http://www.w3.org/ns/formats/",
           "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}
    return Response(conneg.serialize(triples, media, pfx), 200, content_type=conneg.mimetype(media))
