"""Server-rendered pages: home, the measures list (with CSV), class listings, search,
the ontology and the SPARQL editor."""
from __future__ import annotations

import difflib
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory, url_for

from kg import export, query, stats
from kg.config import settings
from kg.store import prefixes
from webapp.actions import FACETS, ActionTable
from webapp.chart import svg
from webapp.sorting import natural_key

bp = Blueprint("pages", __name__)
CURATED_FACETS = ("theme", "action_class", "threat", "shared")  # curated annotations, not source text

SKOS = "http://www.w3.org/2004/02/skos/core#"
BROWSE = [  # (class local name or IRI, heading) in the order the home page lists them
    ("Programme", "Programmes"), ("Section", "Sections"), ("Measure", "Measures"), ("Annex1Item", "Annex 1 items"),
    ("PlanningUnit", "Planning units"), ("Site", "Sites"), ("TransboundaryHotspot", "Transboundary hotspots"),
    ("Place", "Places"), ("Country", "Countries"), ("ActorType", "Actor types"),
    ("ResponsibilityRole", "Responsibility roles"), ("Priority", "Priorities"), ("UnitStatus", "Unit statuses"),
    ("Species", "Species"), ("SourceDocument", "Source documents"), ("Meeting", "Meetings"),
    ("Decision", "Decisions"), ("Footnote", "Footnotes"), ("DataQualityNote", "Data-quality notes"),
    ("QualityIssueKind", "Quality issue kinds"), (SKOS + "ConceptScheme", "Concept schemes"),
]
YASGUI_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "@zazuko" / "yasgui" / "build"


def repo():
    return current_app.extensions["kg"]


def table() -> ActionTable:
    ext = current_app.extensions
    if "actions" not in ext:
        ext["actions"] = ActionTable(repo())
    return ext["actions"]


def cached(key: str, make):
    """Aggregates computed once per app: the graph does not change while it is served."""
    ext = current_app.extensions.setdefault("page_cache", {})
    if key not in ext:
        ext[key] = make()
    return ext[key]


def class_iri(name: str) -> str:
    return name if "://" in name else repo().base + "ontology#" + name


@bp.route("/")
def home():
    r = repo()
    doc = cached("document", lambda: r.select("""
        SELECT ?doc ?id ?title ?date ?meeting ?mtitle ?loc ?start ?end ?goal ?decision WHERE {
          ?doc a bkd:SourceDocument ; dcterms:identifier ?id ; dcterms:title ?title ; dcterms:date ?date ;
               bkd:preparedFor ?meeting ; bkd:respondsTo ?decision .
          ?meeting dcterms:title ?mtitle ; bkd:location ?loc ; bkd:startDate ?start ; bkd:endDate ?end .
          OPTIONAL { ?prog a bkd:Programme ; bkd:overallGoal ?goal } } LIMIT 1"""))
    counts = cached("counts", lambda: stats.counts(r.store))
    chart = cached("chart", lambda: svg(table(), url_for("pages.measures")))
    browse = cached("browse", lambda: [(url_for("pages.browse", name=n.rsplit("#", 1)[-1]), h,
                                        _count(class_iri(n))) for n, h in BROWSE])
    return render_template("home.html", doc=doc[0] if doc else None, counts=counts, chart=chart, browse=browse)


def _count(cls: str) -> int:
    rows = repo().select(f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a <{cls}> }}")
    return int(rows[0]["n"].value)


@bp.route("/measures")
def measures():
    t = table()
    params = {f: [v for v in request.args.getlist(f) if v] for f in FACETS}
    q = request.args.get("q", "")
    kind = request.args.get("kind", "")
    given = [v for v in request.args.getlist("given") if v]
    rows = t.filter(params, q=q, kind=kind, given=given)
    if request.args.get("format") == "csv":
        body = export.to_csv(t.export_rows(rows))
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="bukhara-deer-measures.csv"'})
    options = cached("options", lambda: {f: t.options(f) for f in FACETS})
    givens = cached("givens", lambda: sorted({a.given or "none" for a in t.rows}, key=natural_key))
    return render_template("measures.html", rows=rows, total=len(t.rows), options=options, selected=params,
                           q=q, kind=kind, given=given, givens=givens, labels=repo().label,
                           curated_facets=CURATED_FACETS, has_other=any(a.kind == "other" for a in t.rows),
                           csv_url=url_for("pages.measures", **{**request.args.to_dict(flat=False), "format": "csv"}))


@bp.route("/browse/<name>")
def browse(name: str):
    cls = class_iri(name) if name != "ConceptScheme" else SKOS + "ConceptScheme"
    r = repo()
    members = [x["x"].value for x in r.select(f"SELECT DISTINCT ?x WHERE {{ ?x a <{cls}> . FILTER(isIRI(?x)) }}")]
    if not members and not r.select(f"SELECT ?p WHERE {{ <{cls}> ?p ?o }} LIMIT 1"):
        abort(404)
    items = sorted(((r.local_path(m) or m, r.label(m)) for m in members), key=lambda i: natural_key(i[1]))
    heading = dict((n.rsplit("#", 1)[-1], h) for n, h in BROWSE).get(name, r.label(cls))
    return render_template("browse.html", heading=heading, cls=cls, cls_label=r.label(cls), items=items)


@bp.route("/search")
def search():
    q = request.args.get("q", "").strip()
    return render_template("search.html", q=q, hits=find(q) if q else [])


def find(q: str, limit: int = 50) -> list[tuple[str, str, str]]:
    """Entities whose label or text contains every word of q: (href, label, snippet)."""
    r = repo()
    words = [w.lower() for w in q.split()]
    texts = cached("texts", lambda: {x["s"].value: x["t"].value for x in r.select(
        "SELECT ?s ?t WHERE { ?s bkd:text ?t FILTER(isIRI(?s)) }")})
    hits = []
    for iri, label in r.labels.items():
        if not iri.startswith(r.base):
            continue
        hay = f"{label} {texts.get(iri, '')}".lower()
        if all(w in hay for w in words):
            hits.append((r.local_path(iri), label, texts.get(iri, "")[:200]))
    return sorted(hits, key=lambda h: natural_key(h[1]))[:limit]


def suggestions(path: str, n: int = 5) -> list[tuple[str, str]]:
    """Existing entity pages closest to a path that was not found."""
    r = repo()
    paths = {r.local_path(i): i for i in r.labels if i.startswith(r.base)}
    return [(p, r.label(paths[p])) for p in difflib.get_close_matches(path, list(paths), n=n, cutoff=0.5)]


@bp.route("/ontology")
def ontology():
    from webapp.ontology_view import ontology_view

    return ontology_view()


def sparql_page():
    """The SPARQL editor (YASGUI, installed from npm) with every named query as an example."""
    examples = [{"name": q.name, "question": q.question, "description": q.description,
                 "sparql": settings().rebase(q.sparql)} for q in query.named_queries()]
    return render_template("sparql.html", examples=examples, yasgui=(YASGUI_DIR / "yasgui.min.js").exists(),
                           prefixes=prefixes())


@bp.route("/favicon.ico")
def favicon():
    return send_from_directory(Path(__file__).resolve().parents[1] / "static", "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)


@bp.route("/vendor/yasgui/<path:filename>")
def yasgui_asset(filename: str):
    if not YASGUI_DIR.is_dir():
        abort(404)
    return send_from_directory(YASGUI_DIR, filename, max_age=86400)
