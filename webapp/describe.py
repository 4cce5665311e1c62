"""What an entity page shows: the entity's facts, its neighbours (incoming links),
the data-quality notes that concern it, and panels specific to its kind.

Curated annotations (issue 5: facts in graph/curation, or links that a
bkd:CuratedAnnotation reifies) are kept apart from the document's own facts: they go to
`curated` / `curated_incoming`, each value with the annotation that justifies it."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from webapp.links import safe_href
from webapp.paging import Page, paginate
from webapp.repository import Repository, named_node
from webapp.services.entities import EXISTS
from webapp.sorting import natural_key

if TYPE_CHECKING:
    from webapp.curation_views import Notes

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


@dataclass(frozen=True)
class Link:
    iri: str
    label: str
    href: str | None  # local path for entities under the base, the IRI itself otherwise

    def __post_init__(self) -> None:
        # only http(s)/mailto IRIs and local paths become links; None: shown as text
        object.__setattr__(self, "href", safe_href(self.href))


@dataclass
class Value:
    text: str
    link: Link | None = None
    note: str = ""  # datatype or language, shown small
    annotation: Any = None  # curation_views.Note of a curated link: its justification


@dataclass
class Fact:
    prop: Link
    values: list[Value]
    inferred: bool = False
    page: Page | None = None  # an incoming link list shows one page of its values


@dataclass
class Panel:
    title: str
    groups: list[tuple[str, list[Link]]]
    more: list[Link] = field(default_factory=list)  # links under the panel (filtered list, matrix)
    page: Page | None = None  # when the panel lists one page of a long list
    key: str = ""  # its name in ?list=<key>&page=N


@dataclass
class Entity:
    iri: str
    label: str
    types: list[Link]
    text: str | None
    facts: list[Fact]
    incoming: list[Fact]
    notes: list[tuple[Link, str]]
    panels: list[Panel] = field(default_factory=list)
    curated: list[Fact] = field(default_factory=list)  # curated annotations, never mixed with facts
    curated_incoming: list[Fact] = field(default_factory=list)
    curated_node: bool = False  # the entity itself is curated by the project (no source facts)
    annotations_in: int = 0  # curated annotation records that point here (listed at /browse/CuratedAnnotation)
    trace_href: str = ""

    def has_type(self, local: str) -> bool:
        return any(t.iri.endswith("#" + local) for t in self.types)


# The page's queries: constant texts, the entity bound as ?iri (Store.query bindings).
FACTS = "SELECT ?iri ?p ?o ?g WHERE { GRAPH ?g { ?iri ?p ?o } }"
INCOMING = """SELECT DISTINCT ?iri ?s ?p ?g ?record WHERE { GRAPH ?g { ?s ?p ?iri } FILTER(isIRI(?s))
              BIND(EXISTS { ?s a bkd:CuratedAnnotation } AS ?record) }"""
TEXT = "SELECT ?iri ?t WHERE { ?iri bkd:text ?t } LIMIT 1"
SAME_TEXT = "SELECT ?iri ?m WHERE { ?iri bkd:text ?t . ?m bkd:text ?t . FILTER(?m != ?iri) }"
BY_PRIORITY = """SELECT ?unit ?m ?given WHERE { ?m bkd:planningUnit ?unit ; a bkd:Action .
                 OPTIONAL { ?m bkd:priorityAsGiven ?given } }"""

INCOMING_PAGE = 200  # values of one incoming property per page (the shipped graph has at most 198)
PANEL_PAGE = 100     # actions of a panel per page
HUB = 500            # an entity with more incoming links than this keeps them cached, grouped and sorted


@dataclass
class InLinks:
    """An entity's incoming links, grouped as its page shows them."""
    plain: dict[str, list[str]]    # property -> subjects, in label order (the document's facts)
    curated: dict[str, list[str]]  # property -> subjects, in label order (curated links)
    notes: list[str]               # data-quality notes that concern it
    annotations: int               # curated annotation records that point at it
    notes_in: Notes | None = None  # the curated annotations of the links to it


class Describer:
    """Builds Entity views from the repository; one instance per graph
    (the "describer" of webapp.derived, dropped on reload)."""

    # Facts shown first, in this order; the rest follow alphabetically.
    ORDER = ["number", "inProgramme", "inSection", "planningUnit", "priorityAsGiven", "priority",
             "responsibility", "leadActorType", "advisingActorType", "facilitatingActorType",
             "concernsCountry", "concernsPlace", "hasFootnote"]
    HIDDEN = {"text", "responsibleActorType"}  # text is shown as the body; the super-property repeats the roles

    def __init__(self, repo: Repository) -> None:
        from webapp.curation_views import Curation

        self.repo = repo
        self.bkd = repo.base + "ontology#"
        self.curation = Curation(repo)
        self._hubs: dict[str, InLinks] = {}  # entities linked from more than HUB subjects

    def link(self, iri: str) -> Link:
        return Link(iri, self.repo.label(iri), self.repo.local_path(iri) or iri)

    def value(self, term) -> Value:
        if isinstance(term, ox.NamedNode):
            return Value(self.repo.label(term.value), self.link(term.value))
        if isinstance(term, ox.BlankNode):
            return Value("(anonymous node)")
        note = term.language or ("" if term.datatype.value == XSD_STRING else term.datatype.value.rsplit("#", 1)[-1])
        return Value(term.value, None, note)

    def exists(self, iri: str) -> bool:
        """Is the IRI a subject or object of the graph? False for text that is not an IRI."""
        term = named_node(iri)
        return term is not None and bool(self.repo.store.query(EXISTS, bindings={"iri": term}))

    def describe(self, iri: str, page: tuple[str, int] = ("", 1)) -> Entity:
        """The entity's page; `page` = (list, n) shows page n of one of its long lists
        (an incoming property's IRI, "actions" or "same-text"), the others at page 1."""
        out = self.repo.select(FACTS, iri=ox.NamedNode(iri))
        types, facts, curated, text = [], {}, {}, None
        inferred_graph = self.repo.base + "graph/inferred"
        cur = self.curation
        notes_out = cur.about([iri])
        seen: set[tuple[str, str, str]] = set()
        for r in out:
            p = r["p"].value
            if p == RDF_TYPE:
                if not any(t.iri == r["o"].value for t in types):
                    types.append(self.link(r["o"].value))
                continue
            local = p[len(self.bkd):] if p.startswith(self.bkd) else None
            if local == "text":
                text = r["o"].value
            if local in self.HIDDEN:
                continue
            if (p, str(r["o"]), r["g"].value) in seen:
                continue
            seen.add((p, str(r["o"]), r["g"].value))
            note = notes_out.note(iri, p, r["o"])
            bucket = curated if (note is not None or r["g"].value == cur.graph) else facts
            fact = bucket.setdefault(p, Fact(self.link(p), [], inferred=r["g"].value == inferred_graph))
            value = self.value(r["o"])
            value.annotation = note
            if bucket is curated and any(v.text == value.text for v in fact.values):
                continue
            fact.values.append(value)
        listed, number = page
        inl = self.incoming(iri)

        def facts_of(groups: dict[str, list[str]], curated: bool) -> dict[str, Fact]:
            out = {}
            for p, subjects in groups.items():
                pg = paginate(subjects, number if listed == p else 1, INCOMING_PAGE)
                values = [Value(self.repo.label(s), self.link(s),
                                annotation=inl.notes_in.note(s, p, iri) if curated else None)
                          for s in pg.items]
                out[p] = Fact(self.link(p), values, page=pg if pg.pages > 1 else None)
            return out
        incoming, curated_in = facts_of(inl.plain, False), facts_of(inl.curated, True)
        # by label: the store's order differs between engines
        notes = sorted(((self.link(n), self._text(n)) for n in inl.notes), key=lambda x: natural_key(x[0].label))
        # an inferred super-property (prov:wasDerivedFrom from bkd:describedIn) only repeats a fact
        shown = {v.text for f in (*facts.values(), *curated.values()) if not f.inferred for v in f.values}
        facts = {p: f for p, f in facts.items() if not f.inferred or {v.text for v in f.values} - shown}
        for f in (*facts.values(), *curated.values()):  # incoming lists come sorted
            f.values.sort(key=lambda v: natural_key(v.text))
        curated_node = bool(curated) and not any(not f.inferred for f in facts.values())
        if curated_node:  # nothing here is the document's: one table, and the page says it is curated
            facts, curated = {**facts, **curated}, {}
        entity = Entity(iri, self.repo.label(iri), sorted(types, key=lambda t: t.label), text,
                        sorted(facts.values(), key=self._order), sorted(incoming.values(), key=self._order),
                        notes)
        entity.curated = sorted(curated.values(), key=self._order)
        entity.curated_incoming = sorted(curated_in.values(), key=self._order)
        entity.curated_node = curated_node
        entity.annotations_in = inl.annotations
        if entity.has_type("Action") or entity.has_type("SharedAction"):
            path = self.repo.local_path(iri)
            entity.trace_href = "/trace" + path if path else ""
        entity.panels = self._panels(entity, page)
        return entity

    def incoming(self, iri: str) -> InLinks:
        """The entity's incoming links. Most entities have a few; a country, actor type or
        priority of a large graph has hundreds of thousands: those are read, grouped and
        sorted once per graph and kept (a first probe with LIMIT tells which is which)."""
        if iri in self._hubs:
            return self._hubs[iri]
        def rows(limit: int | None) -> list[tuple[str, str, str, bool]]:
            found = self.repo.store.query(INCOMING, bindings={"iri": ox.NamedNode(iri)})
            return [(r["s"].value, r["p"].value, r["g"].value, r["record"].value == "true")
                    for r in islice(found, limit)]
        found = rows(HUB + 1)
        if len(found) <= HUB:
            return self._group(iri, found)
        self._hubs[iri] = self._group(iri, rows(None))
        return self._hubs[iri]

    def _group(self, iri: str, rows: list[tuple[str, str, str, bool]]) -> InLinks:
        """A subject is a curated link of a property when an annotation justifies it or it
        is in the curation graph (then it is not listed again among the document's links)."""
        cur = self.curation
        notes_in = cur.pointing_to(iri)
        notes: dict[str, None] = {}
        annotations: set[str] = set()
        kinds: dict[str, dict[str, bool]] = {}  # property -> subject -> curated?
        for s, p, g, record in rows:
            if p == self.bkd + "concerns":
                notes[s] = None
            elif record:  # the annotation records themselves: one summary line, not hundreds of links
                annotations.add(s)
            else:
                seen = kinds.setdefault(p, {})
                seen[s] = seen.get(s, False) or g == cur.graph or notes_in.note(s, p, iri) is not None
        keys: dict[str, tuple] = {}

        def by_label(subjects: list[str]) -> list[str]:
            for s in subjects:
                if s not in keys:
                    keys[s] = natural_key(self.repo.label(s))
            return sorted(subjects, key=keys.__getitem__)
        plain = {p: by_label([s for s, c in seen.items() if not c]) for p, seen in kinds.items()}
        curated = {p: by_label([s for s, c in seen.items() if c]) for p, seen in kinds.items()}
        return InLinks({p: v for p, v in plain.items() if v}, {p: v for p, v in curated.items() if v},
                       list(notes), len(annotations), notes_in)

    def _text(self, iri: str) -> str:
        rows = self.repo.select(TEXT, iri=ox.NamedNode(iri))
        return rows[0]["t"].value if rows else ""

    def _order(self, fact: Fact) -> tuple:
        local = fact.prop.iri.rsplit("#", 1)[-1]
        return (self.ORDER.index(local) if local in self.ORDER else len(self.ORDER), fact.prop.label.lower())

    def _panels(self, e: Entity, page: tuple[str, int]) -> list[Panel]:
        panels = []
        listed, number = page
        if any(e.has_type(t) for t in ("Theme", "ConservationActionClass", "ThreatClass", "SharedAction")):
            panel = self._concept_actions(e, number if listed == "actions" else 1)
            if panel:
                panels.append(panel)
        if e.has_type("PlanningUnit"):
            panels.append(self._by_priority(e.iri))
        if e.has_type("Annex1Item"):
            panels.append(self._fed_by(e.iri))
        if e.has_type("Action") and e.text:
            same = [r["m"].value for r in self.repo.select(SAME_TEXT, iri=ox.NamedNode(e.iri))]
            if same:
                links = sorted((self.link(m) for m in same), key=lambda l: natural_key(l.label))
                pg = paginate(links, number if listed == "same-text" else 1, PANEL_PAGE)
                panels.append(Panel("The same text elsewhere in the programme", [("", pg.items)],
                                    page=pg if pg.pages > 1 else None, key="same-text"))
        return panels

    def _fed_by(self, item: str) -> Panel:
        """The measures that feed an Annex 1 item, as the same action or in part (curated
        links; the tracer's per-graph map, no query per page)."""
        from flask import url_for

        from webapp.curation_views import ANNEX_STRENGTHS
        from webapp.graph_views import tracer

        tr = tracer()
        links = tr.feeders.get(item, [])
        groups = []
        for key, _, label in ANNEX_STRENGTHS:
            acts = [a for a, strength in links if strength == key]
            if acts:
                groups.append((f"{label[0].upper()}{label[1:]} ({len(acts)})",
                               [self.link(a.iri) for a in acts[:PANEL_PAGE]]))
        path = self.repo.local_path(item)
        more = ([Link("", "Trace this item", "/trace" + path)] if path else []) + \
            [Link("", "Coverage of the crosswalk", url_for("trace.coverage"))]
        return Panel(tr.fed_by(item).text + " (curated links)", groups, more, key="fed-by")

    def _by_priority(self, unit: str) -> Panel:
        groups: dict[str, list[Link]] = {}
        for r in self.repo.select(BY_PRIORITY, unit=ox.NamedNode(unit)):
            key = r["given"].value if r["given"] is not None else "none given"
            groups.setdefault(key, []).append(self.link(r["m"].value))
        ordered = sorted(groups.items(), key=lambda kv: natural_key(kv[0]))
        return Panel("Measures by priority",
                     [(f"Priority {k}", sorted(v, key=lambda l: natural_key(l.label))) for k, v in ordered])

    def _concept_actions(self, e: Entity, number: int) -> Panel | None:
        """The actions of a theme, class or shared action (a page of them), by planning
        unit, linked to their trace."""
        from flask import url_for

        from webapp.curation_views import columns_of, concept_actions
        from webapp.graph_views import table

        t = table()
        found = concept_actions(t, e.iri)
        if not found:
            return None
        facet, actions = found
        pg = paginate(actions, number, PANEL_PAGE)
        groups: dict[str, list[Link]] = {}
        for a in pg.items:
            for _, label, _, _ in columns_of(t, a):
                path = self.repo.local_path(a.iri)
                groups.setdefault(label, []).append(Link(a.iri, self.repo.label(a.iri),
                                                         "/trace" + path if path else a.iri))
        more = [Link("", f"List these {len(actions)} actions",
                     url_for("pages.measures", **{facet: t.value(facet, e.iri)})),
                Link("", "Themes × planning units", url_for("trace.matrix"))]
        return Panel(f"Actions ({len(actions)}), traced", list(groups.items()), more,
                     page=pg if pg.pages > 1 else None, key="actions")
