"""Cross-cutting views over the curated annotations (issue 5): the theme x planning unit
matrix, the trace of a measure, Annex 1 item or shared action, and the coverage of the
curated crosswalk (issue 11: /curation, the figures of `kg curate report`)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for

from webapp.curation_views import coverage_report, matrix as make_matrix
from webapp.graph_views import cached, repo, table, tracer
from webapp.paging import PAGE_SIZE, page_number, paginate
from webapp.sorting import natural_key

bp = Blueprint("trace", __name__)
MATRIX_COLUMNS = 30  # planning-unit columns per page of the matrix
GAPS_SHOWN = 100     # Annex 1 items no measure feeds, listed on /trace/ (all of them: /curation)
UNTAGGED_SHOWN = 200  # measures with no threat tag, listed on /curation


@bp.route("/matrix")
def matrix():
    m = cached("matrix", lambda: make_matrix(table(), url_for("pages.measures")))
    page, rows = m.page(page_number(request.args.get("page")), MATRIX_COLUMNS)
    return render_template("matrix.html", m=m, columns=page.items, rows=rows, page=page,
                           annex_rows=m.annex_page(page.items))


@bp.route("/trace")
@bp.route("/trace/")
def index():
    """What can be traced: every shared action and every Annex 1 item (a page of them)."""
    rp = repo()
    shared = cached("trace_shared", lambda: sorted(((rp.local_path(s), rp.label(s)) for s in tracer().shared_actions),
                                                    key=lambda x: natural_key(x[1])))
    items = paginate(table().of_kind("annex1"), page_number(request.args.get("page")), PAGE_SIZE)
    unfed = cached("trace_unfed", lambda: [(rp.local_path(a.iri), rp.label(a.iri), a.text) for a in tracer().unfed])
    return render_template("trace.html", t=None, shared=shared, page=items,
                           items=[(rp.local_path(a.iri), f"Annex 1 item {a.number}", a.text) for a in items.items],
                           unfed=unfed[:GAPS_SHOWN], unfed_total=len(unfed))


@bp.route("/curation")
def coverage():
    """The coverage of the curated crosswalk: the review's progress per layer, the links
    by strength, the Annex 1 items no measure feeds (a page of them), the measures with
    no threat tag. Computed once per graph (kg.curate.report)."""
    rp = repo()
    report = cached("curation_report", lambda: coverage_report(rp))
    unfed = paginate(report.unfed, page_number(request.args.get("page")), PAGE_SIZE)
    return render_template("trace.html", t=None, coverage=report, page=unfed,
                           unfed=[(rp.local_path(e.iri), rp.label(e.iri), e.text) for e in unfed.items],
                           untagged=[(rp.local_path(e.iri), rp.label(e.iri)) for e in report.untagged[:UNTAGGED_SHOWN]],
                           shared_paths={m.iri: rp.local_path(m.iri) for m in report.memberships})


@bp.route("/trace/<path:path>")
def trace(path: str):
    page = request.args.get("page")
    t = tracer().trace(repo().base + path, page_number(page) if page else None)
    if t is None:
        abort(404)
    return render_template("trace.html", t=t)
