"""The ontology page: every class and property with its label, definition,
domain/range, and the SHACL constraints that apply to it.

Both come from the build being served, not from the source files: the named graph
<base>graph/ontology of the store (the ontology and its SKOS schemes) and the build's
shapes.ttl. So the page matches the graph after a rebuild, and an installed package
needs no source files to show it."""
from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox
from flask import Response, render_template, request
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from kg import rdfio
from kg.namespaces import SH, bind_all
from webapp import conneg
from webapp.derived import per_graph
from webapp.state import graph_state, repo

CONSTRAINTS = ["minCount", "maxCount", "datatype", "class", "in", "hasValue", "pattern", "minLength",
               "minInclusive", "maxInclusive", "nodeKind", "node", "uniqueLang"]


@dataclass
class Constraint:
    shape: str
    path: str | None
    rules: list[tuple[str, str]]
    severity: str
    message: str


@dataclass
class Term:
    iri: str
    anchor: str
    label: str
    definition: str
    kind: str
    domain: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)


def _built() -> tuple[Graph, Graph]:
    """The served build's ontology graph (from the store) and shapes (dist/shapes.ttl,
    already rebased by the build, so parsed as it is)."""
    state = graph_state()
    repo = state.repo
    name = ox.NamedNode(repo.base + "graph/ontology")
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in repo.store.quads(None, None, None, name)]
    onto = bind_all(Graph())
    onto.parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8"), format="nt")
    shapes = bind_all(Graph())
    shapes.parse(state.dist / "shapes.ttl", format="turtle")
    return onto, shapes


def graphs() -> tuple[Graph, Graph]:
    """(ontology, shapes) of the graph being served, read once per graph."""
    cache = per_graph("page_cache", dict)
    if "ontology_graphs" not in cache:
        cache["ontology_graphs"] = _built()
    return cache["ontology_graphs"]


def _short(g: Graph, term) -> str:
    if isinstance(term, Literal):
        return str(term)
    if isinstance(term, BNode):
        items = list(Collection(g, term)) if (term, RDF.first, None) in g else []
        return "(" + " ".join(_short(g, i) for i in items) + ")" if items else "[…]"
    try:
        return g.namespace_manager.normalizeUri(term)
    except Exception:
        return str(term)


def _constraints(shapes: Graph, node, shape_name: str, path) -> Constraint:
    rules = [(c, _short(shapes, o)) for c in CONSTRAINTS for o in shapes.objects(node, SH[c])]
    sev = shapes.value(node, SH.severity) or SH.Violation
    msg = shapes.value(node, SH.message) or ""
    return Constraint(shape_name, _short(shapes, path) if path is not None else None, rules,
                      str(sev).rsplit("#", 1)[-1], str(msg))


def terms() -> tuple[list[Term], list[Term]]:
    cache = per_graph("page_cache", dict)
    if "ontology_terms" in cache:
        return cache["ontology_terms"]
    onto, shapes = graphs()
    ns = repo().base + "ontology#"
    classes, props = [], []
    for s in sorted(set(onto.subjects(RDF.type, None))):
        if not isinstance(s, URIRef) or not str(s).startswith(ns):
            continue
        types = set(onto.objects(s, RDF.type))
        kind = ("class" if OWL.Class in types else "object property" if OWL.ObjectProperty in types
                else "datatype property" if OWL.DatatypeProperty in types
                else "annotation property" if OWL.AnnotationProperty in types else None)
        if kind is None:
            continue
        t = Term(str(s), str(s)[len(ns):], str(onto.value(s, RDFS.label) or ""),
                 str(onto.value(s, SKOS.definition) or ""), kind,
                 [_short(onto, d) for d in onto.objects(s, RDFS.domain)],
                 [_short(onto, r) for r in onto.objects(s, RDFS.range)],
                 [_short(onto, p) for p in (*onto.objects(s, RDFS.subClassOf), *onto.objects(s, RDFS.subPropertyOf))
                  if isinstance(p, URIRef)])
        if kind == "class":
            for shape in shapes.subjects(SH.targetClass, s):
                name = _short(shapes, shape)
                t.constraints.append(_constraints(shapes, shape, name, None))
                for ps in shapes.objects(shape, SH.property):
                    t.constraints.append(_constraints(shapes, ps, name, shapes.value(ps, SH.path)))
            classes.append(t)
        else:
            for ps in shapes.subjects(SH.path, s):
                owner = next(shapes.subjects(SH.property, ps), ps)
                t.constraints.append(_constraints(shapes, ps, _short(shapes, owner), s))
            props.append(t)
    cache["ontology_terms"] = (classes, props)
    return classes, props


def ontology_view():
    try:
        media = conneg.choose(request)
    except conneg.NotAcceptable as e:
        return conneg.not_acceptable(e)
    if media != "text/html":
        onto, _ = graphs()
        return Response(rdfio.serialize(onto, conneg.RDFLIB_FORMATS[media]), content_type=conneg.mimetype(media),
                        headers={"Vary": "Accept"})
    classes, props = terms()
    onto, _ = graphs()
    meta = {str(p).rsplit("/", 1)[-1].rsplit("#", 1)[-1]: str(o)
            for s in onto.subjects(RDF.type, OWL.Ontology) for p, o in onto.predicate_objects(s)}
    resp = Response(render_template("ontology.html", classes=classes, props=props, meta=meta))
    resp.vary.add("Accept")
    return resp
