"""The checks of an addition, one small named function each, behind a registry.

kg.incremental.check_addition builds one CheckContext (the addition, the store, the
schema, the neighbourhood graph; see kg.incremental) and run_checks runs every
registered check on it, in the order of CHECKS, collecting their findings. A check is
a function of the context that returns kg.validate.Finding objects whose shape is the
check's name ("check:dangling"; SHACL's own findings carry their shape's IRI). Checks
only read the context: what several of them need (the addition without its refused
triples, the existing facts, the diff of single-valued facts) is computed once,
before they run, by kg.incremental.

  check:blank-node      a blank node as entity or value (cannot be linked or reverted)
  check:outside-base    a subject outside the base (foreign namespace)
  check:reserved        a subject in the ontology, shapes, change-set or steward space
  check:rewiring        owl:sameAs, owl:equivalentClass, owl:equivalentProperty,
                        rdfs:subClassOf, rdfs:subPropertyOf: an addition describes
                        entities; it must not merge them or rewire the ontology
  check:unknown-property  a property the ontology does not define (typo: suggestion)
  check:foreign-value   a value outside the base with a property that is not a link
  check:changed-value   a new value for an existing single-valued fact: needs --replace
  shacl                 the shapes, on the neighbourhood graph, for the focus nodes
  check:dangling        a reference to an IRI under the base that nothing describes,
                        with the closest existing IRI suggested
  check:iri-clash       typing an existing entity with a class it does not have
  check:number-taken    a measure, Annex 1 item or section number already used in
                        its programme (naming the other entity and a free number)
  check:already-present facts that are already in the graph (Info)
  check:read-only-column  a curated or derived cell of a CSV row (kg.csv_import):
                        Info when it matches the graph (ignored), Violation when it
                        differs (curated links change in data/curation)

To add a check: write a function of CheckContext returning findings, with a one-line
docstring saying why it exists, decorate it with @check("check:<name>") where it
should run in the order, give it an invalid example in tests/fixtures/additions/ and
keep valid-10-measures.ttl free of it (tests/test_addition_checks.py).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS

from kg.check_support import (
    CORE_NAMESPACES,
    MAX_NAMED,
    MAX_SUGGESTIONS,
    MERGING,
    RESERVED,
    REWIRING,
    _c,
    _did_you_mean,
    _lex,
    _links_text,
    _Reader,
    _Schema,
    _shacl,
    _show,
)
from kg.config import Settings
from kg.csv_import import read_only_findings
from kg.validate import Finding, _findings


@dataclass
class CheckContext:
    """What every check reads. The first fields are given; the others are filled by
    kg.incremental (the neighbourhood) before any check runs; findings accumulate."""
    addition: Graph
    reader: _Reader                    # the current store, by index lookups
    schema: _Schema                    # what the ontology and shapes say
    settings: Settings
    replace: bool = False
    findings: list[Finding] = field(default_factory=list)
    triples: list = field(default_factory=list)     # the addition's triples of acceptable subjects, sorted
    good: Graph = field(default_factory=Graph)      # the addition minus refused subjects, blank values, rewiring
    subjects: set = field(default_factory=set)      # the IRIs good describes
    existing: dict = field(default_factory=dict)    # existing subject -> its asserted triples
    present: set = field(default_factory=set)       # asserted or inferred triples of the addition's subjects
    changes: list = field(default_factory=list)     # kg.changes.Change rows of the diff
    changed: list = field(default_factory=list)     # (subject, predicate, old, new) of single-valued facts
    removed: Graph = field(default_factory=Graph)   # the old facts a --replace takes out
    work: Graph = field(default_factory=Graph)      # the neighbourhood graph (inferred)
    focus_nodes: set = field(default_factory=set)   # what SHACL validates

    @property
    def base(self) -> str:
        return self.settings.base

    @property
    def bkd(self) -> str:
        return self.base + "ontology#"

    def under_base(self, term) -> bool:
        return isinstance(term, URIRef) and str(term).startswith(self.base)

    def reserved(self, term) -> bool:
        return self.under_base(term) and str(term)[len(self.base):].startswith(RESERVED)

    def refused(self, subject) -> bool:
        """A subject that no change set may describe: its triples are reported, not checked."""
        return isinstance(subject, BNode) or not self.under_base(subject) or self.reserved(subject)


@dataclass(frozen=True)
class Check:
    name: str                                          # the findings' shape: "check:dangling"
    why: str                                           # first line of the function's docstring
    run: Callable[[CheckContext], Iterable[Finding]]


CHECKS: list[Check] = []   # in the order they run (the order of registration)


def check(name: str) -> Callable:
    """Register a check under name, after the ones registered before it."""
    def register(fn: Callable[[CheckContext], Iterable[Finding]]):
        if any(c.name == name for c in CHECKS):
            raise ValueError(f"two checks named {name}")
        doc = (fn.__doc__ or "").strip()
        if not doc:
            raise ValueError(f"check {name} does not say why it exists (docstring)")
        CHECKS.append(Check(name, doc.splitlines()[0], fn))
        return fn
    return register


def run_checks(ctx: CheckContext) -> list[Finding]:
    """Every registered check on ctx, in order; returns (and keeps) their findings."""
    for c in CHECKS:
        ctx.findings.extend(c.run(ctx))
    return ctx.findings


# ---------------------------------------------------------------------------------
# The triples themselves: subjects, predicates, values
# ---------------------------------------------------------------------------------

@check("check:blank-node")
def blank_node(ctx: CheckContext) -> list[Finding]:
    """Blank nodes cannot be linked from elsewhere, validated as entities or reverted."""
    out = []
    for subj in sorted(set(ctx.addition.subjects()), key=str):
        if isinstance(subj, BNode):
            out.append(Finding("Violation", f"_:{subj}", None, None,
                               "A blank node cannot be an entity of the graph: use an IRI under the base "
                               f"({ctx.base}...) so the entity can be linked, validated and reverted.",
                               "check:blank-node"))
    for subj, pred, obj in ctx.triples:
        if isinstance(obj, BNode):
            out.append(Finding("Violation", str(subj), str(pred), f"_:{obj}",
                               "The value is a blank node: it cannot be linked from elsewhere or taken back "
                               "by a revert. Give it an IRI under the base and describe it there.",
                               "check:blank-node"))
    return out


@check("check:outside-base")
def outside_base(ctx: CheckContext) -> list[Finding]:
    """A change set describes the graph's own entities, never resources of other namespaces."""
    return [Finding("Violation", str(subj), None, None,
                    f"This IRI is outside the graph's base {ctx.base}: a change set describes "
                    "entities under the base only (e.g. bkdi:measure/10.1). To point to an "
                    "outside resource, link it from an entity of the graph with bkd:wikidata, "
                    "rdfs:seeAlso or dcterms:source.", "check:outside-base")
            for subj in sorted(set(ctx.addition.subjects()), key=str)
            if not isinstance(subj, BNode) and not ctx.under_base(subj)]


@check("check:reserved")
def reserved(ctx: CheckContext) -> list[Finding]:
    """The ontology, shapes and provenance are edited in their files or written by `kg add`."""
    return [Finding("Violation", str(subj), None, None,
                    "This IRI belongs to the ontology, the shapes or the change-set records: "
                    "classes and properties are edited in ontology/bkd.ttl, shapes in "
                    "ontology/shapes.ttl, and provenance is written by `kg add` itself. "
                    "Describe data entities only.", "check:reserved")
            for subj in sorted(set(ctx.addition.subjects()), key=str) if ctx.reserved(subj)]


@check("check:rewiring")
def rewiring(ctx: CheckContext) -> list[Finding]:
    """Merging entities or rewiring the ontology is not a fact about an entity."""
    return [_rewiring(subj, pred, obj, ctx.reader, ctx.schema, ctx.base)
            for subj, pred, obj in ctx.triples if pred in REWIRING]


@check("check:unknown-property")
def unknown_property(ctx: CheckContext) -> list[Finding]:
    """A property the ontology does not define is a typo or a fact no shape checks."""
    names = sorted(map(str, ctx.schema.properties))
    hints: dict = {}  # one suggestion per unknown property, not per triple
    out = []
    for subj, pred, _obj in ctx.triples:
        if pred in ctx.schema.described or str(pred).startswith(CORE_NAMESPACES):
            continue
        if ctx.under_base(pred):
            if pred not in hints:
                hints[pred] = _did_you_mean(str(pred), names)
            out.append(Finding("Violation", str(subj), str(pred), None,
                               f"{_c(pred)} is not a property of the ontology" + hints[pred]
                               + " Use a property defined in ontology/bkd.ttl.", "check:unknown-property"))
        else:
            out.append(Finding("Warning", str(subj), str(pred), None,
                               f"{_c(pred)} is not defined in the ontology: the fact will be stored, but "
                               "no shape checks it and the web app does not show it. Prefer a property "
                               "of ontology/bkd.ttl.", "check:unknown-property"))
    return out


@check("check:foreign-value")
def foreign_value(ctx: CheckContext) -> list[Finding]:
    """Values outside the base cannot be validated or browsed; only link properties point out."""
    schema = ctx.schema
    return [Finding("Warning", str(subj), str(pred), str(obj),
                    f"This value is outside the graph's base: it cannot be validated or browsed "
                    f"here. Link to outside resources only with {_links_text(schema)}; for "
                    "anything else use an entity under the base.", "check:foreign-value")
            for subj, pred, obj in ctx.triples
            if isinstance(obj, URIRef) and not ctx.under_base(obj) and pred not in schema.links
            and obj not in schema.described and not str(obj).startswith(CORE_NAMESPACES)]


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


# ---------------------------------------------------------------------------------
# Against the current graph
# ---------------------------------------------------------------------------------

@check("check:changed-value")
def changed_value(ctx: CheckContext) -> list[Finding]:
    """A changed single-valued fact is never silent: it needs --replace (see the diff)."""
    if ctx.replace:
        return []
    return [Finding("Violation", str(subj), str(p), _lex(new),
                    f"This changes an existing value (the graph has {_show(old)}; see the "
                    "diff); re-run with --replace to replace it.", "check:changed-value")
            for subj, p, old, new in ctx.changed]


@check("shacl")
def shacl(ctx: CheckContext) -> list[Finding]:
    """The shapes of ontology/shapes.ttl, on the neighbourhood graph, for the focus nodes only."""
    focus_list = sorted(str(f) for f in ctx.focus_nodes)
    if not focus_list:
        return []
    results = _shacl(ctx.work, ctx.schema.shapes, focus_list)
    focus_set = set(focus_list)
    return [f for f in _findings(results, ctx.schema.shapes) if f.focus in focus_set]


@check("check:dangling")
def dangling(ctx: CheckContext) -> list[Finding]:
    """A reference under the base to an IRI that nothing describes is a typo or a missing entity."""
    return _dangling(ctx.good, ctx.subjects, ctx.reader, ctx.schema, ctx.base)


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
                    str(c) for c in schema.described
                    if isinstance(c, URIRef) and str(c).startswith(base + "ontology#"))))
            else:
                found = candidates(("range", rng), lambda rng=rng: reader.instances(rng)) if rng is not None else []
                if not found:
                    folder = str(obj)[: max(str(obj).rfind("/"), str(obj).rfind("#")) + 1]
                    found = candidates(("folder", folder), lambda obj=obj: _same_folder(reader, str(obj)))
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


@check("check:iri-clash")
def iri_clash(ctx: CheckContext) -> list[Finding]:
    """An existing IRI given an unrelated class would make one entity two different things."""
    schema, out = ctx.schema, []
    for subj, _, cls in ctx.good.triples((None, RDF.type, None)):
        if subj not in ctx.existing:
            continue
        old = {o for (_, p, o) in ctx.existing[subj] if p == RDF.type}
        if not old or cls in old:
            continue
        old_closure = set().union(*(schema.superclasses.get(c, {c}) for c in old))
        new_closure = schema.superclasses.get(cls, {cls})
        if cls in old_closure or new_closure & old:
            continue   # a superclass of one of its classes, or a refinement (subclass) of one
        names = ", ".join(sorted(_c(c) for c in old))
        out.append(Finding("Violation", str(subj), str(RDF.type), str(cls),
                           f"{_c(subj)} already exists as {names}; it cannot also be a {_c(cls)}. "
                           "Use a new IRI for the new entity (or correct the class).", "check:iri-clash"))
    return out


@check("check:number-taken")
def number_taken(ctx: CheckContext) -> list[Finding]:
    """A number names an action or section within its programme: another holder makes it ambiguous."""
    index = _Numbers(ctx)
    out = []
    for subj in sorted(ctx.subjects, key=str):
        if (subj, index.number, None) not in ctx.good:
            continue
        kind = next(((k, name) for k, name in index.kinds if (subj, RDF.type, k) in ctx.work), None)
        programme = ctx.work.value(subj, index.in_programme)
        value = ctx.work.value(subj, index.number)
        if kind is None or programme is None or value is None or index.holders(value) <= {subj}:
            continue
        cls, name = kind
        group = index.group_of(cls, subj) + (programme,)
        same = index.qualified(value, group)
        count = len(same) - (str(subj) in same)
        if not count:
            continue
        named = [o for o in same[: MAX_NAMED + 1] if o != str(subj)][:MAX_NAMED]
        listed = ", ".join(_c(o) for o in named) + (f" and {count - len(named)} more" if count > len(named) else "")
        hint = ""
        if name != "Section" and "." in str(value):
            section = ctx.work.value(subj, index.in_section)
            where = f" in {_c(section)}" if section is not None else ""
            head = str(value).split(".")[0]
            hint = f" The next free number{where} is {head}.{index.next_free(group, head)}."
        out.append(Finding("Violation", str(subj), str(index.number), str(value),
                           f"{name} number {value} is already taken in {_c(programme)} by "
                           f"{listed}. Choose another number or, to change that "
                           f"entity, use its IRI.{hint}", "check:number-taken"))
    return out


class _Numbers:
    """Who holds which number, for check:number-taken, linear in the addition: the
    holders of a number are looked up once per number and kind (not once per entity
    holding it), the next free number once per kind, programme and head (10 in 10.3)."""

    def __init__(self, ctx: CheckContext) -> None:
        bkd = ctx.bkd
        self.number, self.in_programme = URIRef(bkd + "number"), URIRef(bkd + "inProgramme")
        self.in_section = URIRef(bkd + "inSection")
        self.kinds = [(URIRef(bkd + "Measure"), "Measure"), (URIRef(bkd + "Annex1Item"), "Annex 1 item"),
                      (URIRef(bkd + "Section"), "Section")]
        self.annex_sections = ctx.base + "annex1/section/"
        self.reader, self.work, self.good = ctx.reader, ctx.work, ctx.good
        self.types_of: dict = {}
        self.programmes_of: dict = {}
        self.holders_of: dict = {}
        self.qualified_of: dict = {}
        self.next_free_of: dict = {}

    def types(self, other) -> set:
        if other not in self.types_of:
            self.types_of[other] = self.reader.types(other) | set(self.work.objects(other, RDF.type))
        return self.types_of[other]

    def programmes(self, other) -> set:
        if other not in self.programmes_of:
            self.programmes_of[other] = ({o for _, _, o in self.reader.triples(other, self.in_programme, inferred=True)}
                                         | set(self.work.objects(other, self.in_programme)))
        return self.programmes_of[other]

    def holders(self, value) -> set:
        if value not in self.holders_of:
            self.holders_of[value] = ({o for o, _, _ in self.reader.triples(None, self.number, value, inferred=True)}
                                      | set(self.good.subjects(self.number, value)))
        return self.holders_of[value]

    def group_of(self, cls, other) -> tuple:
        """What must agree for two holders of a number to clash, besides the programme:
        the kind and, for sections, the side of Annex 1."""
        return cls, str(other).startswith(self.annex_sections) if cls.endswith("#Section") else None

    def qualified(self, value, group: tuple) -> list[str]:
        """The holders of value in group (kind, side of Annex 1, programme), sorted. The
        holders of a value are sorted into their groups once, whatever the number of
        groups asked for (as many as the addition has programmes)."""
        if value not in self.qualified_of:
            by_group: dict = {}
            for other in self.holders(value):
                for cls, _name in self.kinds:
                    if cls in self.types(other):
                        for prog in self.programmes(other):
                            by_group.setdefault(self.group_of(cls, other) + (prog,), []).append(str(other))
            self.qualified_of[value] = {g: sorted(members) for g, members in by_group.items()}
        return self.qualified_of[value].get(group, [])

    def next_free(self, group: tuple, head: str) -> int:
        """The number after the last used one under head (six misses in a row end the search)."""
        if (group, head) not in self.next_free_of:
            used, k, misses = 0, 1, 0
            while misses < 6:
                taken = bool(self.qualified(Literal(f"{head}.{k}"), group))
                used, misses = (k, 0) if taken else (used, misses + 1)
                k += 1
            self.next_free_of[(group, head)] = used + 1
        return self.next_free_of[(group, head)]


@check("check:already-present")
def already_present(ctx: CheckContext) -> list[Finding]:
    """Facts already in the graph add nothing; saying so makes a re-submitted export readable."""
    out = []
    for subj in sorted(ctx.subjects, key=str):
        mine = list(ctx.good.triples((subj, None, None)))
        old = [t for t in mine if t in ctx.present]
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


@check("check:read-only-column")
def read_only_column(ctx: CheckContext) -> list[Finding]:
    """Curated and derived CSV cells never become facts: they must match the graph or stay empty."""
    if not getattr(ctx.addition, "read_only", ()):  # CSV rows' curated/derived cells (kg.csv_import)
        return []
    return read_only_findings(ctx.addition, ctx.reader.store)
