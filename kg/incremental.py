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

Then the checks SHACL alone does not make readable, as kg.validate.Finding objects with
a pseudo-shape name ("check:...") instead of a shape IRI:

  check:blank-node      a blank node as entity or value (cannot be linked or reverted)
  check:outside-base    a subject outside the base (foreign namespace)
  check:reserved        a subject in the ontology, shapes, change-set or steward space
  check:unknown-property  a property the ontology does not define (typo: suggestion)
  check:foreign-value   a value outside the base with a property that is not a link
  check:dangling        a reference to an IRI under the base that nothing describes,
                        with the closest existing IRI suggested
  check:iri-clash       typing an existing entity with a class it does not have
  check:number-taken    a measure, Annex 1 item or section number already used in
                        its programme (naming the other entity and a free number)
  check:changed-value   a new value for an existing single-valued fact: needs --replace
  check:already-present facts that are already in the graph (Info)
  check:read-only-column  a curated or derived cell of a CSV row (kg.csv_import):
                        Info when it matches the graph (ignored), Violation when it
                        differs (curated links change in data/curation)
  check:rewiring        owl:sameAs, owl:equivalentClass, owl:equivalentProperty,
                        rdfs:subClassOf, rdfs:subPropertyOf: an addition describes
                        entities; it must not merge them or rewire the ontology

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
from typing import Iterable

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

from kg import rdfio, rules, sources
from kg.terms import from_ox, to_ox
from kg.config import settings
from kg.namespaces import SH, bind_all
from kg.validate import Finding, Report, _findings, _PreparedQueryGraph, load_shapes

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
# The check
# ---------------------------------------------------------------------------------

def check_addition(addition: Graph, store, replace: bool = False):
    """Check a proposed addition against the current graph (see the module docstring).

    Returns kg.changes.CheckResult: the report (grouped by focus node in its text()),
    the changed single-valued facts as a diff, and with replace=True the old facts
    that the build takes out (result.removed)."""
    from kg.changes import Change, CheckResult, check_size

    s = settings()
    check_size(addition)  # KG_MAX_ADDITION_ENTITIES, before any work
    base = s.base
    schema = _schema()
    reader = _Reader(store, base)
    findings: list[Finding] = []
    bkd = base + "ontology#"

    def under_base(t) -> bool:
        return isinstance(t, URIRef) and str(t).startswith(base)

    def reserved(t) -> bool:
        return under_base(t) and str(t)[len(base):].startswith(RESERVED)

    # ----- 1. the shape of the triples themselves: blank nodes, namespaces, properties
    bad_subjects: set = set()
    for subj in sorted(set(addition.subjects()), key=str):
        if isinstance(subj, BNode):
            bad_subjects.add(subj)
            findings.append(Finding("Violation", f"_:{subj}", None, None,
                                    "A blank node cannot be an entity of the graph: use an IRI under the base "
                                    f"({base}...) so the entity can be linked, validated and reverted.",
                                    "check:blank-node"))
        elif not under_base(subj):
            bad_subjects.add(subj)
            findings.append(Finding("Violation", str(subj), None, None,
                                    f"This IRI is outside the graph's base {base}: a change set describes "
                                    "entities under the base only (e.g. bkdi:measure/10.1). To point to an "
                                    "outside resource, link it from an entity of the graph with bkd:wikidata, "
                                    "rdfs:seeAlso or dcterms:source.", "check:outside-base"))
        elif reserved(subj):
            bad_subjects.add(subj)
            findings.append(Finding("Violation", str(subj), None, None,
                                    "This IRI belongs to the ontology, the shapes or the change-set records: "
                                    "classes and properties are edited in ontology/bkd.ttl, shapes in "
                                    "ontology/shapes.ttl, and provenance is written by `kg add` itself. "
                                    "Describe data entities only.", "check:reserved"))

    property_names = sorted(map(str, schema.properties))
    property_hints: dict = {}  # one suggestion per unknown property, not per triple
    rewiring: set = set()
    for subj, pred, obj in sorted(addition, key=lambda t: (str(t[0]), str(t[1]), str(t[2]))):
        if subj in bad_subjects:
            continue
        focus = str(subj)
        if pred in REWIRING:
            rewiring.add((subj, pred, obj))
            findings.append(_rewiring(subj, pred, obj, reader, schema, base))
        if pred not in schema.described and not str(pred).startswith(CORE_NAMESPACES):
            if under_base(pred):
                if pred not in property_hints:
                    property_hints[pred] = _did_you_mean(str(pred), property_names)
                findings.append(Finding("Violation", focus, str(pred), None,
                                        f"{_c(pred)} is not a property of the ontology" + property_hints[pred]
                                        + " Use a property defined in ontology/bkd.ttl.", "check:unknown-property"))
            else:
                findings.append(Finding("Warning", focus, str(pred), None,
                                        f"{_c(pred)} is not defined in the ontology: the fact will be stored, but "
                                        "no shape checks it and the web app does not show it. Prefer a property "
                                        "of ontology/bkd.ttl.", "check:unknown-property"))
        if isinstance(obj, BNode):
            findings.append(Finding("Violation", focus, str(pred), f"_:{obj}",
                                    "The value is a blank node: it cannot be linked from elsewhere or taken back "
                                    "by a revert. Give it an IRI under the base and describe it there.",
                                    "check:blank-node"))
        elif isinstance(obj, URIRef) and not under_base(obj):
            if pred not in schema.links and obj not in schema.described and not str(obj).startswith(CORE_NAMESPACES):
                findings.append(Finding("Warning", focus, str(pred), str(obj),
                                        f"This value is outside the graph's base: it cannot be validated or browsed "
                                        f"here. Link to outside resources only with {_links_text(schema)}; for "
                                        "anything else use an entity under the base.", "check:foreign-value"))

    # (the refused rewiring triples stay out of the neighbourhood: the rules would
    # otherwise apply them, e.g. a chain of N sub-classes typing N entities N times)
    good = Graph()
    for t in addition:
        if t[0] not in bad_subjects and not isinstance(t[0], BNode) and not isinstance(t[2], BNode) \
                and t not in rewiring:
            good.add(t)
    subjects = {x for x in good.subjects() if isinstance(x, URIRef)}

    # ----- 2. the neighbourhood graph from the store
    existing: dict = {}        # existing subject -> its asserted triples
    present: set = set()       # asserted or inferred triples of the addition's subjects
    mentioned = {x for t in good for x in (t[0], t[2]) if isinstance(x, URIRef)}
    lookups = {x for x in mentioned if x not in schema.described}
    context: set = set()
    for iri in lookups:
        asserted = []
        for q in reader.quads(iri):
            t = (from_ox(q.subject), from_ox(q.predicate), from_ox(q.object))
            if iri in subjects:
                present.add(t)
            if q.graph_name != reader.inferred_graph:
                asserted.append(t)
        if asserted:
            existing[iri] = asserted
            context.update(asserted)

    # changed values of existing single-valued facts
    changes: list = []
    removed = bind_all(Graph())
    types_now = {x: {o for _, _, o in good.triples((x, RDF.type, None))} | {o for (_, p, o) in existing.get(x, ()) if p == RDF.type}
                 for x in subjects}
    for subj in sorted(subjects & existing.keys(), key=str):
        classes = set()
        for c in types_now[subj]:
            classes |= schema.superclasses.get(c, {c})
        single = set(schema.functional)
        for c in classes:
            single |= schema.max_one.get(c, set())
        olds: dict = {}
        for (_, p, o) in existing[subj]:
            olds.setdefault(p, set()).add(o)
        for p in sorted(set(good.predicates(subj)), key=str):
            news = set(good.objects(subj, p))
            if p not in single and p not in schema.unique_lang:
                # many-valued: adding a value is an addition; with --replace the change
                # set's values are the new set (the others go), shown in the diff
                if replace and p != RDF.type:
                    for old in sorted(olds.get(p, set()) - news, key=str):
                        changes.append(Change(str(subj), str(p), _lex(old), "(removed)"))
                        removed.add((subj, p, old))
                continue
            for new in sorted(news, key=str):
                if new in olds.get(p, ()):
                    continue
                for old in sorted(olds.get(p, ()), key=str):
                    if old in news:
                        continue
                    if p in schema.unique_lang and p not in single:
                        if not (isinstance(old, Literal) and isinstance(new, Literal) and old.language == new.language):
                            continue
                    changes.append(Change(str(subj), str(p), _lex(old), _lex(new)))
                    if replace:
                        removed.add((subj, p, old))
                    else:
                        findings.append(Finding("Violation", str(subj), str(p), _lex(new),
                                                f"This changes an existing value (the graph has {_show(old)}; see the "
                                                "diff); re-run with --replace to replace it.", "check:changed-value"))
    context -= set(removed)

    # types of every object of the neighbourhood, incoming inverse-path triples, key holders
    work = bind_all(_NeighbourhoodGraph())
    for t in schema.axioms:
        work.add(t)
    for t in good:
        if t not in removed:
            work.add(t)
    for t in context:
        work.add(t)
    focus_nodes = set(subjects)
    for p in schema.inverse:
        for _, _, o in good.triples((None, p, None)):
            if isinstance(o, URIRef) and under_base(o):
                focus_nodes.add(o)
    for f in list(focus_nodes):
        for p in schema.inverse:
            for t in reader.triples(None, p, f):
                if t not in removed:
                    work.add(t)
    objects = {o for _, _, o in work if isinstance(o, URIRef)} | {s_ for s_, _, _ in work if isinstance(s_, URIRef)}
    for o in objects - set(existing) - schema.described:
        for t in reader.triples(o, RDF.type):
            work.add(t)
    in_programme = URIRef(bkd + "inProgramme")
    # one store lookup per (key, value), not per entity: N entities sharing a value
    # would otherwise each walk the other N holders
    holders_of: dict = {}      # (key predicate, value) -> focus nodes holding it
    for p in schema.keys:
        for subj, _, value in work.triples((None, p, None)):
            if subj in focus_nodes:
                holders_of.setdefault((p, value), set()).add(subj)
    described_others: set = set()
    for (p, value), holders in holders_of.items():
        for other, _, _ in reader.triples(None, p, value):
            # another holder (for a focus node that is not itself), unless its asserted
            # triples are in the neighbourhood already (as with a --replace, minus removed)
            if other in existing or not (holders - {other}):
                continue
            work.add((other, p, value))
            if other not in described_others:
                described_others.add(other)
                for t in reader.triples(other, RDF.type):
                    work.add(t)
                for t in reader.triples(other, in_programme):
                    work.add(t)
    # The ontology's own descriptions of the terms used as values (priority:1 with its
    # notation, actor types, ...); not the whole ontology: its hundreds of labelled
    # terms would only be targets that the focus-node filter then throws away.
    for o in {o for _, p, o in work if p != RDF.type and o in schema.described}:
        for t in schema.ontology.triples((o, None, None)):
            work.add(t)
    for t in rules.infer(work):
        work.add(t)

    # ----- 3. SHACL on the neighbourhood, for the focus nodes only
    focus_list = sorted(str(f) for f in focus_nodes)
    if focus_list:
        results = _shacl(work, schema.shapes, focus_list)
        focus_set = set(focus_list)
        findings.extend(f for f in _findings(results, schema.shapes) if f.focus in focus_set)

    # ----- 4. references, clashes, numbers, repeats
    findings.extend(_dangling(good, subjects, reader, schema, base))
    findings.extend(_clashes(good, existing, schema))
    findings.extend(_numbers_taken(work, good, subjects, reader, bkd, base))
    findings.extend(_already_present(good, present, subjects))
    if getattr(addition, "read_only", ()):  # CSV rows' curated/derived cells (kg.csv_import)
        from kg.csv_import import read_only_findings

        findings.extend(read_only_findings(addition, reader.store))

    order = SEVERITY_ORDER
    findings = sorted(set(findings), key=lambda f: (order.get(f.severity, 9), f.focus, f.path or "",
                                                    f.value or "", f.message))
    return CheckResult(report=Report(findings), changes=changes, removed=removed)


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
# The extra checks
# ---------------------------------------------------------------------------------

def _dangling(good: Graph, subjects: set, reader: _Reader, schema: _Schema, base: str) -> list[Finding]:
    """References under the base to IRIs that nothing describes, with the closest
    existing IRI suggested: candidates computed once per range or folder and one
    suggestion per IRI (at most MAX_SUGGESTIONS per check), whatever the number of
    references."""
    out = []
    checked: dict = {}
    hints: dict = {}
    candidates_of: dict = {}

    def candidates(key, compute) -> list[str]:
        if key not in candidates_of:
            candidates_of[key] = compute()
        return candidates_of[key]

    for subj, pred, obj in sorted(good, key=lambda t: (str(t[0]), str(t[1]), str(t[2]))):
        if not isinstance(obj, URIRef) or not str(obj).startswith(base) or obj in subjects:
            continue
        if obj in schema.described:
            continue
        if pred == PROV.wasAttributedTo and str(obj).startswith(base + "steward/"):
            continue   # a steward agent: kg.changes describes it in the change set's provenance (kg curate decide)
        if obj not in checked:
            checked[obj] = reader.exists(obj)
        if checked[obj]:
            continue
        ontology_term = pred == RDF.type or str(obj).startswith(base + "ontology#")
        rng = None if ontology_term else schema.ranges.get(pred)
        key = (obj, ontology_term, rng)
        if key not in hints:
            if len(hints) >= MAX_SUGGESTIONS:
                hints[key] = "."
            elif ontology_term:
                hints[key] = _did_you_mean(str(obj), candidates("ontology", lambda: sorted(
                    str(c) for c in schema.described if isinstance(c, URIRef) and str(c).startswith(base + "ontology#"))))
            else:
                found = candidates(("range", rng), lambda: reader.instances(rng)) if rng is not None else []
                if not found:
                    folder = str(obj)[: max(str(obj).rfind("/"), str(obj).rfind("#")) + 1]
                    found = candidates(("folder", folder), lambda: _same_folder(reader, str(obj)))
                hints[key] = _did_you_mean(str(obj), found)
        out.append(Finding("Violation", str(subj), str(pred), str(obj),
                           f"{_c(obj)} does not exist" + hints[key]
                           + " Correct the IRI, or add the entity in this change set.", "check:dangling"))
    return out


def _same_folder(reader: _Reader, iri: str) -> list[str]:
    """Existing typed IRIs in the same folder (measure/..., site/...): the candidates
    for a suggestion when the property has no declared range."""
    folder = iri[: max(iri.rfind("/"), iri.rfind("#")) + 1]
    seen = set()
    for q in reader.quads(None, RDF.type, None):
        v = q.subject.value if isinstance(q.subject, ox.NamedNode) else ""
        if v.startswith(folder):
            seen.add(v)
    return sorted(seen)


def _clashes(good: Graph, existing: dict, schema: _Schema) -> list[Finding]:
    """An existing entity typed with a class that is neither one of its classes, a
    superclass of one, nor a refinement (subclass) of one."""
    out = []
    for subj, _, cls in good.triples((None, RDF.type, None)):
        if subj not in existing:
            continue
        old = {o for (_, p, o) in existing[subj] if p == RDF.type}
        if not old or cls in old:
            continue
        old_closure = set().union(*(schema.superclasses.get(c, {c}) for c in old))
        new_closure = schema.superclasses.get(cls, {cls})
        if cls in old_closure or new_closure & old:
            continue
        names = ", ".join(sorted(_c(c) for c in old))
        out.append(Finding("Violation", str(subj), str(RDF.type), str(cls),
                           f"{_c(subj)} already exists as {names}; it cannot also be a {_c(cls)}. "
                           "Use a new IRI for the new entity (or correct the class).", "check:iri-clash"))
    return out


def _numbers_taken(work: Graph, good: Graph, subjects: set, reader: _Reader, bkd: str, base: str) -> list[Finding]:
    """A new number that another action (of the same kind) or section of the same
    programme already has, with a free number suggested.

    Linear in the addition: the holders of a number are looked up once per number and
    kind (not once per entity holding it), the next free number once per kind,
    programme and head (10 in 10.3), and a message names at most MAX_NAMED others."""
    number, in_programme, in_section = URIRef(bkd + "number"), URIRef(bkd + "inProgramme"), URIRef(bkd + "inSection")
    kinds = [(URIRef(bkd + "Measure"), "Measure"), (URIRef(bkd + "Annex1Item"), "Annex 1 item"),
             (URIRef(bkd + "Section"), "Section")]
    annex_sections = base + "annex1/section/"
    types_of: dict = {}
    programmes_of: dict = {}
    holders_of: dict = {}
    qualified_of: dict = {}
    next_free: dict = {}

    def types(other) -> set:
        if other not in types_of:
            types_of[other] = reader.types(other) | set(work.objects(other, RDF.type))
        return types_of[other]

    def programmes(other) -> set:
        if other not in programmes_of:
            programmes_of[other] = ({o for _, _, o in reader.triples(other, in_programme, inferred=True)}
                                    | set(work.objects(other, in_programme)))
        return programmes_of[other]

    def holders(value) -> set:
        if value not in holders_of:
            holders_of[value] = ({o for o, _, _ in reader.triples(None, number, value, inferred=True)}
                                 | set(good.subjects(number, value)))
        return holders_of[value]

    def group_of(cls, other) -> tuple:
        """What must agree for two holders of a number to clash, besides the programme:
        the kind and, for sections, the side of Annex 1."""
        return cls, str(other).startswith(annex_sections) if cls.endswith("#Section") else None

    def qualified(value, group: tuple) -> list[str]:
        """The holders of value in group (kind, side of Annex 1, programme), sorted. The
        holders of a value are sorted into their groups once, whatever the number of
        groups asked for (as many as the addition has programmes)."""
        if value not in qualified_of:
            by_group: dict = {}
            for other in holders(value):
                for cls, _name in kinds:
                    if cls in types(other):
                        for prog in programmes(other):
                            by_group.setdefault(group_of(cls, other) + (prog,), []).append(str(other))
            qualified_of[value] = {g: sorted(members) for g, members in by_group.items()}
        return qualified_of[value].get(group, [])

    out = []
    for subj in sorted(subjects, key=str):
        if (subj, number, None) not in good:
            continue
        kind = next(((k, name) for k, name in kinds if (subj, RDF.type, k) in work), None)
        programme = work.value(subj, in_programme)
        value = work.value(subj, number)
        if kind is None or programme is None or value is None:
            continue
        if holders(value) <= {subj}:
            continue
        cls, name = kind
        group = group_of(cls, subj) + (programme,)
        same = qualified(value, group)
        count = len(same) - (str(subj) in same)
        if not count:
            continue
        named = [o for o in same[: MAX_NAMED + 1] if o != str(subj)][:MAX_NAMED]
        listed = ", ".join(_c(o) for o in named) + (f" and {count - len(named)} more" if count > len(named) else "")
        hint = ""
        if name != "Section" and "." in str(value):
            head = str(value).split(".")[0]
            if (group, head) not in next_free:
                used, k, misses = 0, 1, 0
                while misses < 6:
                    taken = bool(qualified(Literal(f"{head}.{k}"), group))
                    used, misses = (k, 0) if taken else (used, misses + 1)
                    k += 1
                next_free[(group, head)] = used + 1
            section = work.value(subj, in_section)
            where = f" in {_c(section)}" if section is not None else ""
            hint = f" The next free number{where} is {head}.{next_free[(group, head)]}."
        out.append(Finding("Violation", str(subj), str(number), str(value),
                           f"{name} number {value} is already taken in {_c(programme)} by "
                           f"{listed}. Choose another number or, to change that "
                           f"entity, use its IRI.{hint}", "check:number-taken"))
    return out


def _rewiring(subj, pred, obj, reader: _Reader, schema: _Schema, base: str) -> Finding:
    """owl:sameAs / owl:equivalentClass / owl:equivalentProperty would merge two
    entities (every fact of one becomes a fact of the other, for the build's rules,
    HermiT and anyone reading the dump); rdfs:subClassOf / rdfs:subPropertyOf would
    make a data entity a class or a property of the ontology. Neither is a fact about
    an entity, which is all a change set may hold."""
    if isinstance(obj, URIRef) and obj in schema.described:
        what = f"{_c(obj)} (a term of the ontology)"
    elif isinstance(obj, URIRef) and str(obj).startswith(base):
        kinds = sorted(_c(o) for _, _, o in reader.triples(obj, RDF.type)
                       if isinstance(o, URIRef) and o in schema.described)
        what = (f"{_c(obj)} (an existing {', '.join(kinds[:3])})" if kinds
                else f"{_c(obj)} (an existing entity)" if reader.exists(obj) else _c(obj))
    else:
        what = _show(obj) if not isinstance(obj, BNode) else f"_:{obj}"
    if pred in MERGING:
        message = (f"{_c(pred)} would merge {_c(subj)} with {what}: every fact of one would become a fact "
                   "of the other. A change set describes entities; it cannot merge them or the ontology's "
                   "terms. To link to the same thing elsewhere use skos:exactMatch or bkd:wikidata; to "
                   "correct an entity, change its facts (with --replace).")
    else:
        message = (f"{_c(pred)} would rewire the ontology: it makes {_c(subj)} a "
                   f"{'class' if pred == RDFS.subClassOf else 'property'} under {what}. Classes and properties "
                   "are edited in ontology/bkd.ttl, not in a change set; give a data entity its class with "
                   "rdf:type (a).")
    return Finding("Violation", str(subj), str(pred), _lex(obj), message, "check:rewiring")


def _already_present(good: Graph, present: set, subjects: set) -> list[Finding]:
    out = []
    for subj in sorted(subjects, key=str):
        mine = list(good.triples((subj, None, None)))
        old = [t for t in mine if t in present]
        if not old:
            continue
        if len(old) == len(mine):
            out.append(Finding("Info", str(subj), None, None,
                               f"All {len(mine)} facts of this entity are already in the graph; nothing to add.",
                               "check:already-present"))
            continue
        for _, p, o in old:
            out.append(Finding("Info", str(subj), str(p), _lex(o),
                               "Already in the graph; nothing to add.", "check:already-present"))
    return out


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
