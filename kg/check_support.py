"""What the addition checks read, below both kg.incremental (which builds the
neighbourhood and runs the checks) and kg.addition_checks (the checks): the schema
the ontology and shapes give, computed once per process and base; index lookups on
the store; pyshacl run on the neighbourhood graph for the focus nodes; the helpers
that word the findings. The method is described in kg.incremental's docstring.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from kg import rdfio, sources
from kg.config import settings
from kg.namespaces import SH, bind_all
from kg.stores.oxigraph import OxigraphStore
from kg.terms import from_ox, to_ox
from kg.validate import _PreparedQueryGraph, load_shapes

SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}

# Properties whose values may be IRIs outside the base: they link out on purpose.
LINK_PROPERTIES = ("wikidata",)  # in the ontology namespace; completed in _schema()
STANDARD_LINKS = (RDFS.seeAlso, DCTERMS.source, DCTERMS.license, SKOS.exactMatch, SKOS.closeMatch)
# Namespaces whose terms may be used as predicates or values without being declared.
CORE_NAMESPACES = (str(RDF), str(RDFS), str(OWL), str(XSD))
# Parts of the base that change sets must not write: the ontology and shapes are edited
# in their files, provenance is written by `kg add` itself.
RESERVED = ("ontology", "shapes", "changeset/", "steward/", "graph/")
# Predicates that merge identities or rewire the ontology (check:rewiring).
MERGING = (OWL.sameAs, OWL.equivalentClass, OWL.equivalentProperty)
REWIRING = MERGING + (RDFS.subClassOf, RDFS.subPropertyOf)
# At most this many "did you mean" suggestions for dangling references per check:
# each compares the IRI with every candidate of the store (difflib).
MAX_SUGGESTIONS = 100
# Other holders of a taken number named in one message ("... and 12 more").
MAX_NAMED = 5


# ---------------------------------------------------------------------------------
# What the ontology and shapes say, computed once per process and base
# ---------------------------------------------------------------------------------

@dataclass
class _Schema:
    base: str
    ontology: Graph
    axioms: list                       # rdfs:subClassOf / rdfs:subPropertyOf triples (for the rules)
    described: frozenset               # every subject of the ontology and its schemes
    properties: frozenset              # ontology properties (for suggestions)
    ranges: dict                       # property -> rdfs:range class
    superclasses: dict                 # class -> itself and all its superclasses
    functional: frozenset              # owl:FunctionalProperty
    max_one: dict                      # class -> paths with sh:maxCount 1 in its shapes
    unique_lang: frozenset             # paths with sh:uniqueLang true
    inverse: frozenset                 # predicates used in inverse paths (^p)
    keys: frozenset                    # predicates of uniqueness constraints ($this p ?v . ?other p ?v)
    links: frozenset                   # link properties (foreign values allowed)
    shapes: Graph


def _files_stamp() -> tuple:
    files = [*sources.ontology_files(), sources.shapes_file()]
    return tuple((str(p), p.stat().st_mtime_ns) for p in files)


def _schema() -> _Schema:
    return _schema_for(settings().base, _files_stamp())


@lru_cache(maxsize=4)
def _schema_for(base: str, _stamp: tuple) -> _Schema:
    onto = rdfio.load_files(sources.ontology_files(), bind_all(Graph()))
    shapes = load_shapes()
    bkd = base + "ontology#"

    axioms = [t for p in (RDFS.subClassOf, RDFS.subPropertyOf) for t in onto.triples((None, p, None))
              if isinstance(t[2], URIRef)]
    supers: dict = {}
    for c in set(onto.subjects(RDF.type, OWL.Class)) | {s for s, _, _ in onto.triples((None, RDFS.subClassOf, None))}:
        if isinstance(c, URIRef):
            supers[c] = {c, *(x for x in onto.transitive_objects(c, RDFS.subClassOf) if isinstance(x, URIRef))}
    props = {p for t in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)
             for p in onto.subjects(RDF.type, t) if isinstance(p, URIRef)}
    ranges = {p: r for p, r in onto.subject_objects(RDFS.range) if isinstance(r, URIRef)}
    functional = {p for p in onto.subjects(RDF.type, OWL.FunctionalProperty) if isinstance(p, URIRef)}

    max_one: dict = {}
    for node_shape, cls in shapes.subject_objects(SH.targetClass):
        for ps in shapes.objects(node_shape, SH.property):
            path = shapes.value(ps, SH.path)
            if isinstance(path, URIRef) and any(int(cast(Literal, m)) == 1 for m in shapes.objects(ps, SH.maxCount)):
                max_one.setdefault(cls, set()).add(path)
    unique_lang = {shapes.value(ps, SH.path) for ps in shapes.subjects(SH.uniqueLang, Literal(True))}
    inverse = {p for p in shapes.objects(None, SH.inversePath) if isinstance(p, URIRef)}

    declared = {str(p): str(ns) for p, ns in bind_all(Graph()).namespaces()}
    for decl in shapes.objects(None, SH.declare):
        declared[str(shapes.value(decl, SH.prefix))] = str(shapes.value(decl, SH.namespace))
    keys = set()
    for text in shapes.objects(None, SH.select):
        for term in re.findall(r"\$this\s+(\S+)\s+\?value", str(text)):
            if re.search(r"\?other\s+" + re.escape(term) + r"\s+\?value", str(text)):
                prefix, _, local = term.partition(":")
                if prefix in declared:
                    keys.add(URIRef(declared[prefix] + local))
    links = {URIRef(bkd + name) for name in LINK_PROPERTIES} | set(STANDARD_LINKS)
    return _Schema(
        base=base, ontology=onto, axioms=axioms, described=frozenset(onto.subjects()),
        properties=frozenset(props), ranges=ranges, superclasses=supers,
        functional=frozenset(functional), max_one={c: frozenset(v) for c, v in max_one.items()},
        unique_lang=frozenset(p for p in unique_lang if p is not None), inverse=frozenset(inverse),
        keys=frozenset(keys), links=frozenset(links), shapes=shapes)


# ---------------------------------------------------------------------------------
# Reading the store
# ---------------------------------------------------------------------------------

def _as_store(store):
    """A kg.store.Store (a bare pyoxigraph store is wrapped: tests and benchmarks)."""
    if isinstance(store, ox.Store):
        return OxigraphStore(store)
    return store


class _Reader:
    """Index lookups on the store; asserted and inferred triples kept apart (the
    inferred graph is recomputed for the neighbourhood, so that a --replace does not
    leave stale consequences behind)."""

    def __init__(self, store, base: str) -> None:
        self.store = _as_store(store)
        self.inferred_graph = ox.NamedNode(base + "graph/inferred")

    def quads(self, s=None, p=None, o=None):
        return self.store.quads(None if s is None else to_ox(s), None if p is None else to_ox(p),
                                None if o is None else to_ox(o))

    def triples(self, s=None, p=None, o=None, inferred: bool = False) -> list[tuple]:
        out = []
        for q in self.quads(s, p, o):
            if not inferred and q.graph_name == self.inferred_graph:
                continue
            out.append((from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)))
        return out

    def exists(self, iri: URIRef) -> bool:
        return next(iter(self.quads(iri)), None) is not None

    def types(self, iri) -> set:
        return {o for _, _, o in self.triples(iri, RDF.type, inferred=True)}

    def instances(self, cls: URIRef) -> list[str]:
        return sorted({str(s) for s, _, _ in self.triples(None, RDF.type, cls, inferred=True)
                       if isinstance(s, URIRef)})


# Rows a SHACL-SPARQL constraint may return per focus node (each is one finding).
ROWS_PER_FOCUS = MAX_NAMED


class _NeighbourhoodGraph(_PreparedQueryGraph):
    """The neighbourhood graph: prepared queries (kg.validate), and SHACL-SPARQL SELECTs
    limited to ROWS_PER_FOCUS rows per focus node. The uniqueness constraints return
    one row per other holder of a number: k entities sharing one would make k x k
    rows, and pyshacl deduplicates each focus node's rows in a list (k x k x k).
    A steward needs the first few to see the problem (check:number-taken counts them)."""

    def query(self, query_object, *args, **kwargs):
        # only per-focus-node queries (a SHACL-SPARQL constraint, $this bound): a
        # SPARQL-based target must find all its nodes
        bindings = kwargs.get("initBindings", args[3] if len(args) > 3 else None) or {}
        if isinstance(query_object, str) and "this" in bindings:
            query_object = _limited(query_object)
        return super().query(query_object, *args, **kwargs)


@lru_cache(maxsize=256)
def _limited(text: str) -> str:
    """A SELECT without a solution modifier gets LIMIT ROWS_PER_FOCUS; others unchanged."""
    body = re.sub(r"(?im)^\s*(PREFIX|BASE)\b[^\n]*$", "", text).strip()
    if re.match(r"(?i)SELECT\b", body) and not re.search(r"(?i)\b(LIMIT|OFFSET|ORDER\s+BY|GROUP\s+BY|HAVING)\b", body):
        return text + f"\nLIMIT {ROWS_PER_FOCUS}"
    return text


class _SetList(list):
    """A list with set-speed membership tests (and copies that keep it)."""

    def __init__(self, items=()) -> None:
        super().__init__(items)
        self._members = set(self)

    def __contains__(self, item) -> bool:
        return item in self._members

    def copy(self) -> _SetList:
        return _SetList(self)

    def append(self, item) -> None:
        super().append(item)
        self._members.add(item)


def _shacl(work: Graph, shapes: Graph, focus_list: list[str]) -> Graph:
    """pyshacl on the neighbourhood for the focus nodes only; returns the results graph.

    Same options as kg.validate.validate_graph, run through _FocusValidator so that the
    cost stays linear in the number of focus nodes (see there). Falls back to pyshacl's
    entry point if its internals move (correct, only slower for large additions)."""
    _speed_up_pyshacl()
    try:
        from pyshacl.graph_abstraction import DataGraph
        validator_class = _focus_validator_class()
    except ImportError:  # pragma: no cover - another pyshacl layout
        _conforms, results, _text = shacl_validate(
            work, shacl_graph=shapes, inference="none", advanced=True, inplace=True,
            allow_warnings=True, allow_infos=True, abort_on_first=False, meta_shacl=False,
            focus_nodes=focus_list)
        return results
    options = {"inference": "none", "advanced": True, "inplace": True, "allow_warnings": True,
               "allow_infos": True, "abort_on_first": False, "focus_nodes": focus_list}
    validator = validator_class(DataGraph.from_rdflib(work), shacl_graph=shapes, options=options)
    _conforms, results, _text = validator.run()
    return results


@lru_cache(maxsize=1)
def _focus_validator_class() -> type:
    """A pyshacl Validator without its two steps that grow quadratically with the
    number of focus nodes, same results:

    - every evaluation of every shape (also of nested sh:node / property shapes, once
      per value node) filters its focus nodes by membership in the *list* of requested
      focus nodes: N x N term comparisons (2,000 measures: 89 million, 27 s). The
      executor gets the same list with set-speed membership (_SetList).
    - the text report is built by string concatenation, one result at a time (2,000
      measures: 6,000 results, 9 s); nobody reads it (the findings come from the
      results graph), so its texts are left empty.
    """
    from pyshacl import Validator

    class _FocusValidator(Validator):
        def make_executor(self):
            executor = super().make_executor()
            if executor.focus_nodes:
                executor.focus_nodes = _SetList(executor.focus_nodes)
            return executor

        @classmethod
        def create_validation_report(cls, sg, conforms: bool, results: list):
            return super().create_validation_report(sg, conforms,
                                                    [("", node, triples) for _text, node, triples in results])

    return _FocusValidator


def _speed_up_pyshacl() -> None:
    """pyshacl tests every predicate of every shape, on every evaluation, for membership
    in a ~40-element *list* of constraint parameters (pyshacl/shape.py, Shape.validate):
    ~90,000 term comparisons, 15-20 % of a neighbourhood validation. Pre-seed its
    module-level cache with the same parameters in a list that tests membership with a
    set. Same parameters, same order, same results; skipped if pyshacl changes."""
    import pyshacl.shape as shape_module

    cached = getattr(shape_module, "CONSTRAINT_PARAMS", None)
    if isinstance(cached, tuple) and cached and isinstance(cached[0], _SetList):
        return
    try:
        from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
    except ImportError:  # pragma: no cover - another pyshacl layout: run unpatched
        return
    shape_module.CONSTRAINT_PARAMS = (  # type: ignore[attr-defined]
        _SetList(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)


# ---------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _namespaces(base: str) -> list[tuple[str, str]]:
    return sorted(((str(ns), p) for p, ns in bind_all(Graph()).namespaces()), key=lambda x: -len(x[0]))


def _c(term) -> str:
    """An IRI compacted the way kg.validate.Report.text compacts them."""
    s = str(term)
    for ns, prefix in _namespaces(settings().base):
        if s.startswith(ns) and len(s) > len(ns):
            return f"{prefix}:{s[len(ns):]}"
    return f"<{s}>"


def _lex(term) -> str:
    return f"_:{term}" if isinstance(term, BNode) else str(term)


def _show(term) -> str:
    if isinstance(term, URIRef):
        return _c(term)
    text = str(term)
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text) + (f"@{term.language}" if isinstance(term, Literal) and term.language else "")


def _did_you_mean(iri: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(iri, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {_c(close[0])}?" if close else "."


def _links_text(schema: _Schema) -> str:
    return ", ".join(sorted(_c(p) for p in schema.links))
