"""What an entity page shows: the entity's facts, its neighbours (incoming links),
the data-quality notes that concern it, and panels specific to its kind."""
from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Fact:
    prop: Link
    values: list[Value]
    inferred: bool = False


@dataclass
class Panel:
    title: str
    groups: list[tuple[str, list[Link]]]


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
        self.repo = repo
        self.bkd = repo.base + "ontology#"

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
        types, facts, text = [], {}, None
        inferred_graph = self.repo.base + "graph/inferred"
        for r in out:
            p = r["p"].value
            if p == RDF_TYPE:
                types.append(self.link(r["o"].value))
                continue
            local = p[len(self.bkd):] if p.startswith(self.bkd) else None
            if local == "text":
                text = r["o"].value
            if local in self.HIDDEN:
                continue
            fact = facts.setdefault(p, Fact(self.link(p), [], inferred=r["g"].value == inferred_graph))
            fact.values.append(self.value(r["o"]))
        incoming: dict[str, Fact] = {}
        notes = []
        for r in self.repo.select(f"""SELECT DISTINCT ?s ?p WHERE {{ ?s ?p <{iri}> . FILTER(isIRI(?s)) }}"""):
            p, s = r["p"].value, r["s"].value
            if p == self.bkd + "concerns":
                notes.append((self.link(s), self._text(s)))
                continue
            incoming.setdefault(p, Fact(self.link(p), [])).values.append(Value(self.repo.label(s), self.link(s)))
        # an inferred super-property (prov:wasDerivedFrom from bkd:describedIn) only repeats a fact
        shown = {v.text for f in facts.values() if not f.inferred for v in f.values}
        facts = {p: f for p, f in facts.items() if not f.inferred or {v.text for v in f.values} - shown}
        for f in (*facts.values(), *incoming.values()):
            f.values.sort(key=lambda v: natural_key(v.text))
        entity = Entity(iri, self.repo.label(iri), sorted(types, key=lambda t: t.label), text,
                        sorted(facts.values(), key=self._order), sorted(incoming.values(), key=self._order),
                        notes)
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
