"""What an entity page shows: the entity's facts, its neighbours (incoming links),
the data-quality notes that concern it, and panels specific to its kind.

Curated annotations (issue 5: facts in graph/curation, or links that a
bkd:CuratedAnnotation reifies) are kept apart from the document's own facts: they go to
`curated` / `curated_incoming`, each value with the annotation that justifies it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from webapp.repository import Repository
from webapp.sorting import natural_key

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


@dataclass(frozen=True)
class Link:
    iri: str
    label: str
    href: str | None  # local path for entities under the base, the IRI itself otherwise


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


@dataclass
class Panel:
    title: str
    groups: list[tuple[str, list[Link]]]
    more: list[Link] = field(default_factory=list)  # links under the panel (filtered list, matrix)


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


class Describer:
    """Builds Entity views from the repository; one instance per app."""

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
        return bool(self.repo.store.query(f"ASK {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?p <{iri}> }} }}"))

    def describe(self, iri: str) -> Entity:
        out = self.repo.select(f"""SELECT ?p ?o ?g WHERE {{ GRAPH ?g {{ <{iri}> ?p ?o }} }}""")
        types, facts, curated, text = [], {}, {}, None
        inferred_graph = self.repo.base + "graph/inferred"
        cur = self.curation
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
            note = cur.note(iri, p, r["o"])
            bucket = curated if (note is not None or r["g"].value == cur.graph) else facts
            fact = bucket.setdefault(p, Fact(self.link(p), [], inferred=r["g"].value == inferred_graph))
            value = self.value(r["o"])
            value.annotation = note
            if bucket is curated and any(v.text == value.text for v in fact.values):
                continue
            fact.values.append(value)
        incoming: dict[str, Fact] = {}
        curated_in: dict[str, Fact] = {}
        notes, annotations_in = [], set()
        for r in self.repo.select(f"""SELECT DISTINCT ?s ?p ?g WHERE {{ GRAPH ?g {{ ?s ?p <{iri}> }} FILTER(isIRI(?s)) }}"""):
            p, s = r["p"].value, r["s"].value
            if p == self.bkd + "concerns":
                if not any(n[0].iri == s for n in notes):
                    notes.append((self.link(s), self._text(s)))
                continue
            if s in cur.nodes:  # the records themselves: one summary line, not hundreds of links
                annotations_in.add(s)
                continue
            note = cur.note(s, p, iri)
            bucket = curated_in if (note is not None or r["g"].value == cur.graph) else incoming
            fact = bucket.setdefault(p, Fact(self.link(p), []))
            if not any(v.link and v.link.iri == s for v in fact.values):
                fact.values.append(Value(self.repo.label(s), self.link(s), annotation=note))
        for p in list(incoming):  # a link both curated and stated elsewhere is shown once, as curated
            if p in curated_in:
                done = {v.link.iri for v in curated_in[p].values}
                incoming[p].values = [v for v in incoming[p].values if v.link.iri not in done]
                if not incoming[p].values:
                    del incoming[p]
        # an inferred super-property (prov:wasDerivedFrom from bkd:describedIn) only repeats a fact
        shown = {v.text for f in (*facts.values(), *curated.values()) if not f.inferred for v in f.values}
        facts = {p: f for p, f in facts.items() if not f.inferred or {v.text for v in f.values} - shown}
        for f in (*facts.values(), *incoming.values(), *curated.values(), *curated_in.values()):
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
        entity.annotations_in = len(annotations_in)
        if entity.has_type("Action") or entity.has_type("SharedAction"):
            path = self.repo.local_path(iri)
            entity.trace_href = "/trace" + path if path else ""
        entity.panels = self._panels(entity)
        return entity

    def _text(self, iri: str) -> str:
        rows = self.repo.select(f"SELECT ?t WHERE {{ <{iri}> bkd:text ?t }} LIMIT 1")
        return rows[0]["t"].value if rows else ""

    def _order(self, fact: Fact) -> tuple:
        local = fact.prop.iri.rsplit("#", 1)[-1]
        return (self.ORDER.index(local) if local in self.ORDER else len(self.ORDER), fact.prop.label.lower())

    def _panels(self, e: Entity) -> list[Panel]:
        panels = []
        if any(e.has_type(t) for t in ("Theme", "ConservationActionClass", "ThreatClass", "SharedAction")):
            panel = self._concept_actions(e)
            if panel:
                panels.append(panel)
        if e.has_type("PlanningUnit"):
            panels.append(self._by_priority(e.iri))
        if e.has_type("Action") and e.text:
            same = [r["m"].value for r in self.repo.select(
                f"""SELECT ?m WHERE {{ <{e.iri}> bkd:text ?t . ?m bkd:text ?t . FILTER(?m != <{e.iri}>) }}""")]
            if same:
                panels.append(Panel("The same text elsewhere in the programme",
                                    [("", sorted((self.link(m) for m in same), key=lambda l: natural_key(l.label)))]))
        return panels

    def _by_priority(self, unit: str) -> Panel:
        groups: dict[str, list[Link]] = {}
        for r in self.repo.select(f"""SELECT ?m ?given WHERE {{ ?m bkd:planningUnit <{unit}> ; a bkd:Action .
                                      OPTIONAL {{ ?m bkd:priorityAsGiven ?given }} }}"""):
            key = r["given"].value if r["given"] is not None else "none given"
            groups.setdefault(key, []).append(self.link(r["m"].value))
        ordered = sorted(groups.items(), key=lambda kv: natural_key(kv[0]))
        return Panel("Measures by priority",
                     [(f"Priority {k}", sorted(v, key=lambda l: natural_key(l.label))) for k, v in ordered])

    def _concept_actions(self, e: Entity) -> Panel | None:
        """Every action of a theme, class or shared action, by planning unit, linked to its trace."""
        from flask import url_for

        from webapp.curation_views import columns_of, concept_actions
        from webapp.routes.pages import table

        t = table()
        found = concept_actions(t, e.iri)
        if not found:
            return None
        facet, actions = found
        groups: dict[str, list[Link]] = {}
        for a in actions:
            for _, label, _, _ in columns_of(t, a):
                path = self.repo.local_path(a.iri)
                groups.setdefault(label, []).append(Link(a.iri, self.repo.label(a.iri), "/trace" + path if path else a.iri))
        more = [Link("", f"List these {len(actions)} actions",
                     url_for("pages.measures", **{facet: t.value(facet, e.iri)})),
                Link("", "Themes × planning units", url_for("trace.matrix"))]
        return Panel(f"Actions ({len(actions)}), traced", list(groups.items()), more)
