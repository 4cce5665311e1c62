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

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF

from kg import rules
from kg.addition_checks import CheckContext, run_checks
from kg.check_result import Change, CheckResult, check_size

# What the checks read lives in kg.check_support.
from kg.check_support import REWIRING, SEVERITY_ORDER, _lex, _NeighbourhoodGraph, _Reader, _Schema, _schema
from kg.config import settings
from kg.namespaces import bind_all
from kg.terms import from_ox
from kg.validate import Report

# ---------------------------------------------------------------------------------
# The check: the neighbourhood, then the registered checks (kg.addition_checks)
# ---------------------------------------------------------------------------------

def check_addition(addition: Graph, store, replace: bool = False):
    """Check a proposed addition against the current graph (see the module docstring).

    Returns kg.changes.CheckResult: the report (grouped by focus node in its text()),
    the changed single-valued facts as a diff, and with replace=True the old facts
    that the build takes out (result.removed)."""
    ctx = context_for(addition, store, replace)
    order = SEVERITY_ORDER
    findings = sorted(set(run_checks(ctx)), key=lambda f: (order.get(f.severity, 9), f.focus, f.path or "",
                                                           f.value or "", f.message))
    return CheckResult(report=Report(findings), changes=ctx.changes, removed=ctx.removed)


def context_for(addition: Graph, store, replace: bool = False) -> CheckContext:
    """The CheckContext of an addition, neighbourhood built, before any check runs:
    what check_addition hands to kg.addition_checks (and tests run single checks on)."""
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
