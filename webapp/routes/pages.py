"""Server-rendered pages: home, the measures list (with CSV), class listings, search,
the ontology and the SPARQL editor."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory, url_for

from kg import stats
from webapp.actions import COUNTRY_SCOPES, FACETS
from webapp.chart import svg
from webapp.derived import per_graph
from webapp.graph_views import cached, find, repo, search_index, table
from webapp.paging import PAGE_SIZE, page_number, paginate
from webapp.repository import named_node
from webapp.services import catalogue
from webapp.sorting import natural_key
from webapp.sparql_editor import yasgui_dir

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
SEARCH_PAGE_SIZE = 50    # search hits per page


def class_iri(name: str) -> str:
    return name if "://" in name else repo().base + "ontology#" + name


@bp.route("/")
def home():
    r = repo()
    doc = cached("document", lambda: catalogue.source_document(r))
    counts = cached("counts", lambda: stats.counts(r.store))
    chart = cached("chart", lambda: svg(table(), url_for("pages.measures")))
    browse = cached("browse", lambda: [(url_for("pages.browse", name=n.rsplit("#", 1)[-1]), h,
                                        _count(class_iri(n))) for n, h in BROWSE])
    return render_template("home.html", doc=doc, counts=counts, chart=chart, browse=browse)


def _count(cls: str) -> int:
    return catalogue.class_count(repo(), cls)


@bp.app_template_global()
def page_url(n: int, **extra: str) -> str:
    """This request's URL showing page n: its other parameters (the filters) stay in it."""
    args = request.args.to_dict(flat=False)
    args.update({"page": [str(n)], **{k: [v] for k, v in extra.items()}})
    return request.path + "?" + urlencode(args, doseq=True)


@bp.route("/measures")
def measures():
    t = table()
    params = {f: [v for v in request.args.getlist(f) if v] for f in FACETS}
    q = request.args.get("q", "")
    kind = request.args.get("kind", "")
    given = [v for v in request.args.getlist("given") if v]
    country_scope = request.args.get("country_scope", "")
    country_scope = country_scope if country_scope in COUNTRY_SCOPES else "text"
    rows = t.filter(params, q=q, kind=kind, given=given, country_scope=country_scope)
    if request.args.get("format") == "csv":  # all matching rows, streamed
        return Response(t.csv(rows), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="bukhara-deer-measures.csv"'})
    options = cached("options", lambda: {f: t.options(f) for f in FACETS})
    page = paginate(rows, page_number(request.args.get("page")), PAGE_SIZE)
    csv_args = {k: v for k, v in request.args.to_dict(flat=False).items() if k != "page"}
    return render_template("measures.html", rows=page.items, page=page, total=len(t.rows), options=options,
                           selected=params, q=q, kind=kind, given=given, givens=t.givens(), labels=repo().label,
                           country_scope=country_scope, country_scopes=COUNTRY_SCOPES,
                           curated_facets=CURATED_FACETS, has_other=t.has_other,
                           csv_url=url_for("pages.measures", **{**csv_args, "format": "csv"}))


@bp.route("/browse/<name>")
def browse(name: str):
    cls = class_iri(name) if name != "ConceptScheme" else SKOS + "ConceptScheme"
    r = repo()
    if named_node(cls) is None:
        abort(404)
    known = per_graph("page_cache", dict)
    members = known.get(("browse", cls))
    if members is None:  # only classes that exist are kept: made-up names cannot fill the cache
        members = _members(cls)
        if members is None:
            abort(404)
        known[("browse", cls)] = members
    page = paginate(members, page_number(request.args.get("page")), PAGE_SIZE)
    items = [(r.local_path(m) or m, r.label(m)) for m in page.items]
    heading = dict((n.rsplit("#", 1)[-1], h) for n, h in BROWSE).get(name, r.label(cls))
    return render_template("browse.html", heading=heading, cls=cls, cls_label=r.label(cls), items=items, page=page)


def _members(cls: str) -> list[str] | None:
    """The instances of a class in label order (None: no such class), computed once per
    graph: sorting a class of 250,000 measures is too slow for every request."""
    return catalogue.class_members(repo(), cls, natural_key)


@bp.route("/search")
def search():
    q = request.args.get("q", "").strip()
    hits = paginate(find(q) if q else [], page_number(request.args.get("page")), SEARCH_PAGE_SIZE)
    r = repo()
    texts = search_index().texts
    shown = [(r.local_path(i), r.label(i), texts.get(i, "")[:200]) for i in hits.items]
    return render_template("search.html", q=q, hits=shown, page=hits)


@bp.route("/ontology")
def ontology():
    from webapp.ontology_view import ontology_view

    return ontology_view()


@bp.route("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder, "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)


@bp.route("/vendor/yasgui/<path:filename>")
def yasgui_asset(filename: str):
    directory = yasgui_dir()
    if directory is None:
        abort(404)
    return send_from_directory(directory, filename, max_age=86400)
