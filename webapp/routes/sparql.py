"""The SPARQL 1.1 Protocol endpoint at /sparql, read-only, in the manner of Apache
Jena Fuseki's query service.

Queries come as GET ?query=, POST application/x-www-form-urlencoded (query=) or POST
application/sparql-query, with optional repeatable default-graph-uri and
named-graph-uri. The default graph is the union of the named graphs unless
default-graph-uri says otherwise. The result format is ?format= or else the Accept
header (q-values honoured); a query is run in a worker process of the QueryRunner,
which enforces KG_QUERY_TIMEOUT and KG_QUERY_MAX_BYTES. Every answer, error or not,
carries CORS headers and Vary: Accept; errors are one readable text/plain line.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from kg.errors import BadInput
from webapp.query_runner import (GRAPH_FORMATS, RESULTS_FORMATS, EndpointBusy, QueryRunner,
                                 QueryTimeout, ResultTooLarge, ServiceRefused, UpdateRefused, WorkerCrashed, WorkerFailed)
from kg.sparql_forms import check_bounds

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
    ("application/x-turtle", "turtle"),
    ("application/json", "jsonld"),
]
FORMAT_NAMES = {
    "json": "json", "srj": "json", "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv",
    "ttl": "turtle", "turtle": "turtle", "jsonld": "jsonld", "json-ld": "jsonld",
    "nt": "ntriples", "ntriples": "ntriples", "n-triples": "ntriples",
}
SD_MEDIA = [("text/turtle", "turtle"), ("application/ld+json", "jsonld"),
            ("application/n-triples", "ntriples")]

_runner_lock = threading.Lock()


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
        media, body = runner.run(query, fmt, params.getlist("default-graph-uri") or None,
                                 params.getlist("named-graph-uri") or None)
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
        return args.get("query"), args
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        try:
            form = request.form
        except BadRequest:
            raise _HTTPError(400, "unreadable form body") from None
        if "update" in form or "update" in args:
            raise _HTTPError(403, UpdateRefused().args[0])
        params = args.copy()
        for key, values in form.lists():
            if key != "query":
                params.setlist(key, params.getlist(key) + values)
        return form.get("query", args.get("query")), params
    if mimetype == "application/sparql-query":
        charset = request.mimetype_params.get("charset", "utf-8")
        try:
            return request.get_data().decode(charset), args
        except (UnicodeDecodeError, LookupError):
            raise _HTTPError(400, f"the query body is not valid {charset} text") from None
    if mimetype == "application/sparql-update":
        raise _HTTPError(403, UpdateRefused().args[0])
    raise _HTTPError(415, f"unsupported content type {mimetype or '(none)'!r}: POST a query as "
                          "application/x-www-form-urlencoded (query=...) or as application/sparql-query")


def _no_query(method: str) -> Response:
    """No query: a browser gets the query page, an RDF client the service description,
    everyone else a 400 that says what is missing."""
    if method in ("GET", "HEAD"):
        accept = _parse_accept(request.headers.get("Accept", ""))
        html = max(_explicit_q(accept, "text/html"), _explicit_q(accept, "application/xhtml+xml"))
        rdf = max((_explicit_q(accept, m), -i, fmt) for i, (m, fmt) in enumerate(SD_MEDIA))
        if html > 0 and html >= rdf[0]:
            return _html_page()
        if rdf[0] > 0:
            return _service_description(rdf[2])
    raise _HTTPError(400, "missing query: send the SPARQL query as the 'query' parameter (GET or "
                          "form POST) or as an application/sparql-query body")


# ---------------------------------------------------------------------------
# Content negotiation.

def _parse_accept(header: str) -> list[tuple[str, str, float]]:
    out = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        if "/" not in fields[0]:
            continue
        main, sub = (x.strip().lower() for x in fields[0].split("/", 1))
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = min(1.0, max(0.0, float(f[2:])))
                except ValueError:
                    q = 0.0
        out.append((main, sub, q))
    return out


def _quality(accept, media: str) -> float:
    """q of the most specific range matching `media` (exact > type/* > */*)."""
    main, sub = media.split("/")
    best, spec = 0.0, -1
    for m, s, q in accept:
        level = 2 if (m, s) == (main, sub) else 1 if (m == main and s == "*") else 0 if m == s == "*" else -1
        if level > spec:
            best, spec = q, level
    return best


def _explicit_q(accept, media: str) -> float:
    main, sub = media.split("/")
    return max((q for m, s, q in accept if (m, s) == (main, sub)), default=0.0)


def _negotiate(form: str | None, format_param: str | None) -> str:
    if form in ("SELECT", "ASK"):
        offered, kind, names = RESULTS_MEDIA, f"{form} results", RESULTS_FORMATS
    elif form in ("CONSTRUCT", "DESCRIBE"):
        offered, kind, names = GRAPH_MEDIA, f"{form} results", GRAPH_FORMATS
    else:  # unrecognised: let the parser report it, with any format
        offered, kind, names = RESULTS_MEDIA + GRAPH_MEDIA, "results", {**RESULTS_FORMATS, **GRAPH_FORMATS}
    if format_param:
        value = format_param.strip().lower()
        fmt = FORMAT_NAMES.get(value) or dict(RESULTS_MEDIA + GRAPH_MEDIA).get(value.split(";")[0].strip())
        if fmt is None:
            raise _HTTPError(400, f"unknown format {format_param!r}: use one of "
                                  + ", ".join(sorted(FORMAT_NAMES)))
        if fmt not in names:
            raise _HTTPError(406, f"format {format_param!r} is not available for {kind}: use one of "
                                  + ", ".join(k for k, v in FORMAT_NAMES.items() if v in names))
        return fmt
    header = request.headers.get("Accept", "").strip()
    if not header:
        return offered[0][1]
    accept = _parse_accept(header)
    best, choice = 0.0, None
    for media, fmt in offered:
        q = _quality(accept, media)
        if q > best:
            best, choice = q, fmt
    if choice is None:
        types = list(dict.fromkeys(m for m, _ in offered))
        raise _HTTPError(406, f"not acceptable: {kind} are available as " + ", ".join(types)
                              + " (or choose with ?format=" + "|".join(
                                  k for k, v in FORMAT_NAMES.items() if v in names) + ")")
    return choice


# ---------------------------------------------------------------------------
# Helpers.

def _runner() -> QueryRunner:
    """The app's worker pool, created on the first query."""
    app = current_app._get_current_object()
    runner = app.extensions.get("query_runner")
    if runner is None:
        with _runner_lock:
            runner = app.extensions.get("query_runner")
            if runner is None:
                runner = make_runner(app)
                app.extensions["query_runner"] = runner
    return runner


def make_runner(app: Flask) -> QueryRunner:
    repo = app.extensions["kg"]
    cfg = app.config
    return QueryRunner(Path(repo.dist), workers=int(cfg.get("QUERY_WORKERS", 2)),
                       timeout=float(cfg.get("QUERY_TIMEOUT", 10)),
                       max_bytes=int(cfg.get("QUERY_MAX_BYTES", 20 * 1024 * 1024)), base=repo.base,
                       memory=int(cfg.get("QUERY_MAX_MEMORY", 0)), queue_size=cfg.get("QUERY_QUEUE"))


def _text(message: str, status: int, headers: dict | None = None) -> Response:
    return Response(message.rstrip("\n") + "\n", status, headers=headers or {},
                    content_type="text/plain; charset=utf-8")


def _html_page() -> Response:
    try:
        from webapp.routes.pages import sparql_page
    except Exception:  # noqa: BLE001 - the page module is optional
        sparql_page = None
    if sparql_page is not None:
        try:
            return current_app.make_response(sparql_page())
        except Exception:  # noqa: BLE001 - a broken page still leaves a usable form
            current_app.logger.exception("sparql_page failed; serving the minimal query form")
    return Response(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>SPARQL endpoint</title>"
        "</head><body><h1>SPARQL endpoint</h1><form method=\"post\" action=\"\">"
        "<textarea name=\"query\" rows=\"12\" cols=\"80\">SELECT * WHERE { ?s ?p ?o } LIMIT 10"
        "</textarea><p><button type=\"submit\">Run query</button></p></form></body></html>",
        200, content_type="text/html; charset=utf-8")


def _service_description(fmt: str) -> Response:
    """SPARQL 1.1 Service Description of this endpoint and its dataset."""
    repo = current_app.extensions["kg"]
    try:  # the Host header is the client's text: only a valid IRI is used, as the base
        endpoint = ox.NamedNode(request.base_url).value
    except ValueError:
        endpoint = repo.base + "sparql"
    graphs = [(sol["g"].value, int(sol["n"].value)) for sol in repo.store.query(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g")]
    total = len(repo.store)
    formats = ["SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
               "SPARQL_Results_TSV", "Turtle", "JSON-LD", "N-Triples"]
    named = ",\n".join(
        f"        [ a sd:NamedGraph ; sd:name <{g}> ;\n"
        f"          sd:graph [ a sd:Graph ; void:triples {n} ] ]" for g, n in graphs)
    ttl = f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix void: <http://rdfs.org/ns/void#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix formats: <http://www.w3.org/ns/formats/> .

<> a sd:Service ;
    sd:endpoint <> ;
    dcterms:title "Bukhara Deer Knowledge Graph SPARQL endpoint (read-only)"@en ;
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
    name, media = GRAPH_FORMATS[fmt]
    triples = list(ox.parse(ttl.encode(), format=ox.RdfFormat.TURTLE, base_iri=endpoint))
    pfx = {"sd": "http://www.w3.org/ns/sparql-service-description#", "void": "http://rdfs.org/ns/void#",
           "dcterms": "http://purl.org/dc/terms/", "formats": "http://www.w3.org/ns/formats/"}
    return Response(ox.serialize(triples, format=getattr(ox.RdfFormat, name),
                                 prefixes=pfx if name == "TURTLE" else None), 200, content_type=media)
