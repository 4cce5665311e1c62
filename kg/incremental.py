"""Incremental checking of an addition (a proposed change set) against the live graph.

What "incremental" means here. Validating the whole graph costs ~120 µs per triple with
pyshacl and grows linearly with the graph; an addition of ten measures should not pay
for the hundreds of thousands of triples it does not touch. So the addition is checked
on a *neighbourhood graph* built for it, which holds exactly what the shapes need to
judge the addition's entities:

1. the ontology and its SKOS schemes (parsed once per process and base);
2. the addition itself (minus the facts a --replace takes out);
3. for every IRI the addition mentions, as subject or object: its asserted triples
   in the store (so an addition that gives an existing measure one more property is
   validated as the whole measure, and a referenced section brings its number,
   programme and planning unit for the SHACL-SPARQL agreement constraints);
4. the rdf:types of the objects of all those triples (sh:class, sh:node);
5. for the shapes' inverse paths (^bkd:hasSite, ^bkd:includesHotspot): the store's
   incoming triples of that predicate for the focus nodes, with their subjects' types;
6. for the shapes' uniqueness constraints (bkd:number, skos:notation, ...; read from
   the SHACL-SPARQL texts): the other entities in the store holding the same value,
   with their types and programme;
7. what kg.rules infers from all of the above (sub-class and sub-property closure,
   defined classes).

pyshacl then runs on that graph with the addition's subjects as focus nodes (plus the
objects of inverse-path predicates, whose counts the addition can change). Its cost
depends on the size of the addition, not of the graph: every lookup in the store is an
index lookup by subject, by (predicate, object) or by (subject, predicate).

Then the checks, beside SHACL, that make an addition's problems readable, as
kg.validate.Finding objects with a pseudo-shape name ("check:...") instead of a shape
IRI: one small function each in kg.addition_checks, registered in the order they run
(its docstring lists them). check_addition builds their CheckContext (the addition,
the store, the schema, the neighbourhood graph) and runs them.

Cost. Everything above is O(N) in the size of the addition: one index lookup per
mentioned IRI, set and dict membership (never list scans), results grouped per value
(numbers) or per IRI (suggestions) instead of per entity, and pyshacl run once for all
focus nodes through _focus_validator_class, which removes pyshacl's two quadratic steps.
An addition over KG_MAX_ADDITION_ENTITIES entities is refused before any of it runs.
benchmarks/check_scale.py measures it; tests/test_incremental.py counts the work.

The store is read through kg.store.Store.quads (index lookups) rather than SPARQL
text: lookups are faster than query parsing, and terms never go through the KG_BASE
text rebasing of Store.query.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from kg import rdfio, rules, sources
from kg.changes import Change
from kg.terms import from_ox, to_ox
from kg.config import settings
from kg.namespaces import SH, bind_all
from kg.validate import Report, _PreparedQueryGraph, load_shapes

if TYPE_CHECKING:
    from kg.addition_checks import CheckContext

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
            if isinstance(path, URIRef) and any(int(m) == 1 for m in shapes.objects(ps, SH.maxCount)):
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
        from kg.stores.oxigraph import OxigraphStore
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


# ---------------------------------------------------------------------------------
# The check: the neighbourhood, then the registered checks (kg.addition_checks)
# ---------------------------------------------------------------------------------

def check_addition(addition: Graph, store, replace: bool = False):
    """Check a proposed addition against the current graph (see the module docstring).

    Returns kg.changes.CheckResult: the report (grouped by focus node in its text()),
    the changed single-valued facts as a diff, and with replace=True the old facts
    that the build takes out (result.removed)."""
    from kg.addition_checks import run_checks
    from kg.changes import CheckResult

    ctx = context_for(addition, store, replace)
    order = SEVERITY_ORDER
    findings = sorted(set(run_checks(ctx)), key=lambda f: (order.get(f.severity, 9), f.focus, f.path or "",
                                                           f.value or "", f.message))
    return CheckResult(report=Report(findings), changes=ctx.changes, removed=ctx.removed)


def context_for(addition: Graph, store, replace: bool = False) -> CheckContext:
    """The CheckContext of an addition, neighbourhood built, before any check runs:
    what check_addition hands to kg.addition_checks (and tests run single checks on)."""
    from kg.addition_checks import CheckContext
    from kg.changes import check_size

    s = settings()
    check_size(addition)  # KG_MAX_ADDITION_ENTITIES, before any work
    ctx = CheckContext(addition=addition, reader=_Reader(store, s.base), schema=_schema(), settings=s,
                       replace=replace, removed=bind_all(Graph()))
    _accepted(ctx)
    context = _existing(ctx)
    _diff(ctx)
    _neighbourhood(ctx, context - set(ctx.removed))
    return ctx


def _accepted(ctx: CheckContext) -> None:
    """ctx.triples (sorted, of acceptable subjects) and ctx.good: the addition without
    refused subjects, blank values and rewiring triples, which stay out of the
    neighbourhood (the rules would otherwise apply them, e.g. a chain of N sub-classes
    typing N entities N times)."""
    ctx.triples = [t for t in sorted(ctx.addition, key=lambda t: (str(t[0]), str(t[1]), str(t[2])))
                   if not ctx.refused(t[0])]
    for t in ctx.addition:
        if not ctx.refused(t[0]) and not isinstance(t[2], BNode) and t[1] not in REWIRING:
            ctx.good.add(t)
    ctx.subjects = {x for x in ctx.good.subjects() if isinstance(x, URIRef)}


def _existing(ctx: CheckContext) -> set:
    """ctx.existing and ctx.present from one index lookup per mentioned IRI; returns the
    asserted triples of those IRIs (the neighbourhood's context)."""
    mentioned = {x for t in ctx.good for x in (t[0], t[2]) if isinstance(x, URIRef)}
    lookups = {x for x in mentioned if x not in ctx.schema.described}
    context: set = set()
    for iri in lookups:
        asserted = []
        for q in ctx.reader.quads(iri):
            t = (from_ox(q.subject), from_ox(q.predicate), from_ox(q.object))
            if iri in ctx.subjects:
                ctx.present.add(t)
            if q.graph_name != ctx.reader.inferred_graph:
                asserted.append(t)
        if asserted:
            ctx.existing[iri] = asserted
            context.update(asserted)
    return context


def _diff(ctx: CheckContext) -> None:
    """The changed values of existing facts: ctx.changes (the diff), ctx.changed (the
    single-valued ones, for check:changed-value) and, with --replace, ctx.removed."""
    good, schema = ctx.good, ctx.schema
    types_now = {x: {o for _, _, o in good.triples((x, RDF.type, None))}
                 | {o for (_, p, o) in ctx.existing.get(x, ()) if p == RDF.type} for x in ctx.subjects}
    for subj in sorted(ctx.subjects & ctx.existing.keys(), key=str):
        single = _single_valued(schema, types_now[subj])
        olds: dict = {}
        for (_, p, o) in ctx.existing[subj]:
            olds.setdefault(p, set()).add(o)
        for p in sorted(set(good.predicates(subj)), key=str):
            news = set(good.objects(subj, p))
            if p not in single and p not in schema.unique_lang:
                # many-valued: adding a value is an addition; with --replace the change
                # set's values are the new set (the others go), shown in the diff
                if ctx.replace and p != RDF.type:
                    for old in sorted(olds.get(p, set()) - news, key=str):
                        ctx.changes.append(Change(str(subj), str(p), _lex(old), "(removed)"))
                        ctx.removed.add((subj, p, old))
                continue
            for new in sorted(news, key=str):
                if new not in olds.get(p, ()):
                    _changed(ctx, subj, p, new, olds.get(p, ()), news, single)


def _single_valued(schema: _Schema, types: set) -> set:
    """The properties an entity of these types has at most one value of."""
    classes = set()
    for c in types:
        classes |= schema.superclasses.get(c, {c})
    single = set(schema.functional)
    for c in classes:
        single |= schema.max_one.get(c, set())
    return single


def _changed(ctx: CheckContext, subj, p, new, olds, news: set, single: set) -> None:
    """The old values that a new value of a single-valued (or one-per-language) fact replaces."""
    for old in sorted(olds, key=str):
        if old in news:
            continue
        if p in ctx.schema.unique_lang and p not in single:
            if not (isinstance(old, Literal) and isinstance(new, Literal) and old.language == new.language):
                continue
        ctx.changes.append(Change(str(subj), str(p), _lex(old), _lex(new)))
        ctx.changed.append((subj, p, old, new))
        if ctx.replace:
            ctx.removed.add((subj, p, old))


def _neighbourhood(ctx: CheckContext, context: set) -> None:
    """ctx.work, the neighbourhood graph (items 1-7 of the module docstring), and
    ctx.focus_nodes, what SHACL validates in it."""
    work = bind_all(_NeighbourhoodGraph())
    for t in ctx.schema.axioms:
        work.add(t)
    for t in ctx.good:
        if t not in ctx.removed:
            work.add(t)
    for t in context:
        work.add(t)
    ctx.focus_nodes = set(ctx.subjects)
    for p in ctx.schema.inverse:
        for _, _, o in ctx.good.triples((None, p, None)):
            if isinstance(o, URIRef) and ctx.under_base(o):
                ctx.focus_nodes.add(o)
    for f in list(ctx.focus_nodes):
        for p in ctx.schema.inverse:
            for t in ctx.reader.triples(None, p, f):
                if t not in ctx.removed:
                    work.add(t)
    objects = {o for _, _, o in work if isinstance(o, URIRef)} | {s_ for s_, _, _ in work if isinstance(s_, URIRef)}
    for o in objects - set(ctx.existing) - ctx.schema.described:
        for t in ctx.reader.triples(o, RDF.type):
            work.add(t)
    _key_holders(ctx, work)
    # The ontology's own descriptions of the terms used as values (priority:1 with its
    # notation, actor types, ...); not the whole ontology: its hundreds of labelled
    # terms would only be targets that the focus-node filter then throws away.
    for o in {o for _, p, o in work if p != RDF.type and o in ctx.schema.described}:
        for t in ctx.schema.ontology.triples((o, None, None)):
            work.add(t)
    for t in rules.infer(work):
        work.add(t)
    ctx.work = work


def _key_holders(ctx: CheckContext, work: Graph) -> None:
    """The other entities holding a focus node's value of a uniqueness key, with their
    types and programme: one store lookup per (key, value), not per entity (N entities
    sharing a value would otherwise each walk the other N holders)."""
    in_programme = URIRef(ctx.bkd + "inProgramme")
    holders_of: dict = {}      # (key predicate, value) -> focus nodes holding it
    for p in ctx.schema.keys:
        for subj, _, value in work.triples((None, p, None)):
            if subj in ctx.focus_nodes:
                holders_of.setdefault((p, value), set()).add(subj)
    described_others: set = set()
    for (p, value), holders in holders_of.items():
        for other, _, _ in ctx.reader.triples(None, p, value):
            # another holder (for a focus node that is not itself), unless its asserted
            # triples are in the neighbourhood already (as with a --replace, minus removed)
            if other in ctx.existing or not (holders - {other}):
                continue
            work.add((other, p, value))
            if other not in described_others:
                described_others.add(other)
                for t in ctx.reader.triples(other, RDF.type):
                    work.add(t)
                for t in ctx.reader.triples(other, in_programme):
                    work.add(t)


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

    def copy(self) -> "_SetList":
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
            return super().create_validation_report(sg, conforms, [("", node, triples) for _text, node, triples in results])

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
    shape_module.CONSTRAINT_PARAMS = (_SetList(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)


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
