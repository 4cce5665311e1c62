"""Dereferenceable IRIs: every entity IRI under the base is served at the same path.
Browsers get HTML; clients asking for Turtle, JSON-LD (also as application/json),
N-Triples or RDF/XML (Accept or ?format=; webapp.conneg) get the entity's triples from
the same URL (200, Vary: Accept; no 303)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from kg.store import prefixes
from webapp import conneg
from webapp.derived import per_graph
from webapp.describe import Describer
from webapp.paging import page_number
from webapp.services import entities as entity_service
from webapp.state import repo

bp = Blueprint("entities", __name__)


def describer() -> Describer:
    return per_graph("describer", lambda: Describer(repo()))


@bp.route("/<path:path>")
def entity(path: str):
    d = describer()
    iri = d.repo.base + path
    if not d.exists(iri):
        abort(404)
    try:
        media = conneg.choose(request)
    except conneg.NotAcceptable as e:
        return conneg.not_acceptable(e)
    if media != "text/html":
        triples = entity_service.triples(d.repo, iri)
        try:
            body = conneg.serialize(triples, media, prefixes())
        except conneg.NotRepresentable as e:
            return conneg.not_acceptable(e)
        return Response(body, content_type=conneg.mimetype(media),
                        headers={"Vary": "Accept", "Access-Control-Allow-Origin": "*"})
    page = (request.args.get("list", ""), page_number(request.args.get("page")))
    resp = Response(render_template("entity.html", e=d.describe(iri, page), path=path))
    resp.headers["Vary"] = "Accept"
    return resp
