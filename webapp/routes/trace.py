"""Cross-cutting views over the curated annotations (issue 5): the theme x planning unit
matrix and the trace of a measure, Annex 1 item or shared action."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, url_for

from webapp.curation_views import Tracer, curation, matrix as make_matrix
from webapp.routes.pages import cached, repo, table
from webapp.sorting import natural_key

bp = Blueprint("trace", __name__)


@bp.route("/matrix")
def matrix():
    m = cached("matrix", lambda: make_matrix(table(), url_for("pages.measures")))
    return render_template("matrix.html", m=m)


def tracer() -> Tracer:
    ext = current_app.extensions
    if "tracer" not in ext:
        ext["tracer"] = Tracer(table(), curation())
    return ext["tracer"]


@bp.route("/trace")
@bp.route("/trace/")
def index():
    """What can be traced: every shared action and every Annex 1 item."""
    rp = repo()
    shared = [x["s"].value for x in rp.select("SELECT DISTINCT ?s WHERE { ?s a bkd:SharedAction }")]
    items = [a for a in table().rows if a.kind == "annex1"]
    return render_template("trace.html", t=None,
                           shared=sorted(((rp.local_path(s), rp.label(s)) for s in shared), key=lambda x: natural_key(x[1])),
                           items=[(rp.local_path(a.iri), f"Annex 1 item {a.number}", a.text) for a in items])


@bp.route("/trace/<path:path>")
def trace(path: str):
    t = tracer().trace(repo().base + path)
    if t is None:
        abort(404)
    return render_template("trace.html", t=t)
