"""Views over the curated annotations of issue 5 (graph/curation): the index of
bkd:CuratedAnnotation nodes (justification of every curated link), the theme x planning
unit matrix, and the trace of a measure, shared action or Annex 1 item.

Everything here that comes from a curated link carries its Note (the annotation node,
its one-line justification and the agent it is attributed to), so the pages can mark
it "curated" and keep it apart from the document's own facts."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import current_app

from webapp.actions import Action, ActionTable
from webapp.describe import Link
from webapp.repository import Repository
from webapp.sorting import natural_key

SKOS = "http://www.w3.org/2004/02/skos/core#"

# the curated properties a trace follows (local names in bkd:)
CURATED_PROPS = ("theme", "actionClass", "threatClass", "sharedAction", "coveredByAnnexItem", "targetSpecies")


# ---------------------------------------------------------------- annotations

@dataclass(frozen=True)
class Note:
    """One bkd:CuratedAnnotation: the record that justifies one curated link."""
    iri: str
    href: str
    justification: str
    agent: str  # label of prov:wasAttributedTo
    created: str
    attached: bool = True  # the link it reifies is in the graph


class Curation:
    """Every curated annotation, indexed by the triple it reifies (subject, predicate,
    object as N-Triples term text or IRI)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.graph = repo.base + "graph/curation"
        self.by_triple: dict[tuple[str, str, str], Note] = {}
        self.nodes: set[str] = set()
        rows = repo.select("""
            SELECT ?a ?s ?p ?o ?j ?agent ?created ?attached WHERE {
              ?a a bkd:CuratedAnnotation ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o .
              OPTIONAL { ?a bkd:justification ?j }
              OPTIONAL { ?a prov:wasAttributedTo ?agent }
              OPTIONAL { ?a dcterms:created ?created }
              BIND(EXISTS { ?s ?p ?o } AS ?attached) }""")
        for r in rows:
            a = r["a"].value
            self.nodes.add(a)
            agent = r["agent"].value if r["agent"] is not None else ""
            note = Note(a, repo.local_path(a) or a, r["j"].value if r["j"] is not None else "",
                        repo.label(agent) if agent else "", r["created"].value if r["created"] is not None else "",
                        r["attached"].value == "true")
            self.by_triple[(r["s"].value, r["p"].value, _key(r["o"]))] = note

    def note(self, s: str, p: str, o) -> Note | None:
        return self.by_triple.get((s, p, o if isinstance(o, str) else _key(o)))


def _key(term) -> str:
    """IRIs by their value, literals by their lexical form (enough to tell curated values apart)."""
    return term.value


def curation() -> Curation:
    ext = current_app.extensions
    if "curation" not in ext:
        ext["curation"] = Curation(ext["kg"])
    return ext["curation"]


# ---------------------------------------------------------------- matrix

@dataclass
class Column:
    key: str
    label: str
    params: dict[str, str]
    title: str = ""


@dataclass
class Cell:
    column: Column
    actions: list[str] = field(default_factory=list)
    rank: int | None = None  # the highest priority (lowest rank) among them
    href: str = ""

    @property
    def count(self) -> int:
        return len(self.actions)

    @property
    def css(self) -> str:
        return f"r{self.rank}" if self.rank else "rnone"


@dataclass
class Matrix:
    columns: list[Column]
    rows: list[tuple[Link, str, list[Cell]]]  # (theme, theme slug, cells)


def _ranks(repo: Repository) -> dict[str, int]:
    return {r["p"].value: int(r["rank"].value) for r in repo.select("SELECT ?p ?rank WHERE { ?p bkd:rank ?rank }")}


def columns_of(table: ActionTable, a: Action) -> list[tuple[str, str, dict[str, str], str]]:
    """The matrix columns an action counts in: (key, label, list params, title)."""
    repo = table.repo
    if a.kind == "annex1":
        return [("annex1", "Annex 1 (range-wide)", {"kind": "annex1"},
                 "Annex 1: actions to be integrated in the CAMI Programme of Work")]
    if a.units:
        return [(u, repo.label(u), {"unit": table.value("unit", u)}, "planning unit") for u in sorted(a.units)]
    if a.kind == "measure" and a.sections:
        s = min(a.sections)
        return [(s, repo.label(s), {"section": table.value("section", s)}, "measures of several or all populations")]
    progs = sorted(a.programmes) or [""]
    return [(f"other:{p}", (repo.label(p) if p else "Other actions"),
             {"kind": "other", **({"programme": table.value("programme", p)} if p else {})},
             "actions of another programme or species") for p in progs]


def matrix(table: ActionTable, url: str) -> Matrix:
    """Themes x planning units; each cell counts the actions with that theme in that unit."""
    repo = table.repo
    ranks = _ranks(repo)
    cols: dict[str, Column] = {}
    order = {"unit": 0, "section": 1, "annex1": 2, "other": 3}
    placed: dict[str, list[str]] = {}
    for a in table.rows:
        keys = []
        for key, label, params, title in columns_of(table, a):
            cols.setdefault(key, Column(key, label, params, title))
            keys.append(key)
        placed[a.iri] = keys

    def group(c: Column) -> int:
        if "unit" in c.params:
            return order["unit"]
        if "section" in c.params:
            return order["section"]
        return order["annex1"] if c.key == "annex1" else order["other"]
    # units and sections in document order (rows are), then Annex 1, then other programmes
    first = {k: i for i, k in reversed(list(enumerate(k for keys in placed.values() for k in keys)))}
    columns = sorted(cols.values(), key=lambda c: (group(c), first[c.key]))
    themes = {t for a in table.rows for t in a.themes}
    rows = []
    for t in sorted(themes, key=lambda t: natural_key(repo.label(t))):
        slug = table.value("theme", t)
        cells = {c.key: Cell(c) for c in columns}
        for a in table.rows:
            if t not in a.themes:
                continue
            rank = min((ranks[p] for p in a.priorities if p in ranks), default=None)
            for key in placed[a.iri]:
                cell = cells[key]
                cell.actions.append(a.iri)
                if rank is not None and (cell.rank is None or rank < cell.rank):
                    cell.rank = rank
        for cell in cells.values():
            cell.href = f"{url}?{urlencode({'theme': slug, **cell.column.params})}"
        rows.append((Link(t, repo.label(t), repo.local_path(t) or t), slug, [cells[c.key] for c in columns]))
    return Matrix(columns, rows)


# ---------------------------------------------------------------- trace

@dataclass
class Tagged:
    """A value reached through links, with the curated notes that support it:
    (the action it is on, its annotation or None when the link is the document's own)."""
    link: Link
    via: list[tuple[Link, Note | None]] = field(default_factory=list)
    extra: list[Link] = field(default_factory=list)  # e.g. the programmes of an Annex 1 item
    trace_href: str = ""

    @property
    def curated(self) -> bool:
        return any(n is not None for _, n in self.via)

    @property
    def source(self) -> bool:
        return any(n is None for _, n in self.via)

    @property
    def plain(self) -> list[Link]:
        """The actions it is on by the document's own facts (no curated link)."""
        return [on for on, n in self.via if n is None]


@dataclass
class Row:
    """One action in a trace: an occurrence of a shared action, or a measure feeding an item."""
    action: Action
    link: Link
    trace_href: str
    unit: list[Link]
    section: list[Link]
    given: str
    responsibility: str
    actors: list[Link]
    countries: list[Link]
    note: Note | None = None  # the curated link that puts it in this trace
    shared: list[Link] = field(default_factory=list)
    origin: bool = False  # the action the trace was asked for
    countries_of_unit: bool = False  # countries shown are those of the planning unit


@dataclass
class Trace:
    subject: Link
    kind: str  # "shared", "measure", "annex1", "action"
    text: str = ""
    definition: str = ""
    scope_note: str = ""
    provenance: str = ""  # for a curated node: who curated it
    origin: Link | None = None
    origin_note: Note | None = None
    programmes: list[Link] = field(default_factory=list)
    occurrences: list[Row] = field(default_factory=list)
    fed_by: list[Row] = field(default_factory=list)
    annex: list[Tagged] = field(default_factory=list)
    shared: list[Tagged] = field(default_factory=list)
    species: list[Tagged] = field(default_factory=list)
    themes: list[Tagged] = field(default_factory=list)
    classes: list[Tagged] = field(default_factory=list)
    threats: list[Tagged] = field(default_factory=list)


class Tracer:
    def __init__(self, table: ActionTable, cur: Curation) -> None:
        self.table, self.cur, self.repo = table, cur, table.repo
        self.bkd = self.repo.base + "ontology#"

    def link(self, iri: str) -> Link:
        return Link(iri, self.repo.label(iri), self.repo.local_path(iri) or iri)

    def trace_href(self, iri: str) -> str:
        path = self.repo.local_path(iri)
        return "/trace" + path if path else ""

    def _objects(self, s: str, prop: str) -> list[str]:
        return [r["o"].value for r in self.repo.select(f"SELECT DISTINCT ?o WHERE {{ <{s}> {prop} ?o . FILTER(isIRI(?o)) }}")]

    def _one(self, s: str, prop: str) -> str:
        rows = self.repo.select(f"SELECT ?o WHERE {{ <{s}> {prop} ?o }} LIMIT 1")
        return rows[0]["o"].value if rows else ""

    def _types(self, iri: str) -> set[str]:
        return set(self._objects(iri, "a"))

    def trace(self, iri: str) -> Trace | None:
        types = self._types(iri)
        if self.bkd + "SharedAction" in types:
            return self._shared(iri)
        if iri not in self.table.by_iri:
            return None
        a = self.table.by_iri[iri]
        if a.kind == "measure" and a.shared:
            sa = min(a.shared)
            t = self._shared(sa, origin=iri)
            t.origin, t.origin_note = self.link(iri), self.cur.note(iri, self.bkd + "sharedAction", sa)
            return t
        if a.kind == "annex1":
            return self._annex(a)
        t = Trace(self.link(iri), a.kind, text=a.text)
        t.programmes = [self.link(p) for p in sorted(a.programmes)]
        t.occurrences = [self._row(a, origin=True)]
        self._collect(t, [a])
        return t

    def _shared(self, sa: str, origin: str = "") -> Trace:
        t = Trace(self.link(sa), "shared", definition=self._one(sa, "skos:definition"),
                  scope_note=self._one(sa, "skos:scopeNote"))
        agent = self._one(sa, "prov:wasAttributedTo")
        t.provenance = self.repo.label(agent) if agent else ""
        members = [a for a in self.table.rows if sa in a.shared]
        t.occurrences = [self._row(a, note=self.cur.note(a.iri, self.bkd + "sharedAction", sa), origin=a.iri == origin)
                         for a in members]
        for row in t.occurrences:  # other shared actions only: this one is the page
            row.shared = [s for s in row.shared if s.iri != sa]
        self._collect(t, members)
        return t

    def _annex(self, item: Action) -> Trace:
        t = Trace(self.link(item.iri), "annex1", text=item.text)
        t.programmes = [self.link(p) for p in sorted(item.programmes)]
        feeders = [self.table.by_iri[r["m"].value] for r in self.repo.select(
            f"SELECT DISTINCT ?m WHERE {{ ?m bkd:coveredByAnnexItem <{item.iri}> }}") if r["m"].value in self.table.by_iri]
        feeders.sort(key=lambda a: a.sort_key)
        t.fed_by = [self._row(a, note=self.cur.note(a.iri, self.bkd + "coveredByAnnexItem", item.iri)) for a in feeders]
        shared: dict[str, Tagged] = {}
        for a in feeders:
            for sa in sorted(a.shared):
                tag = shared.setdefault(sa, Tagged(self.link(sa), trace_href=self.trace_href(sa)))
                tag.via.append((self.link(a.iri), self.cur.note(a.iri, self.bkd + "sharedAction", sa)))
        t.shared = list(shared.values())
        self._collect(t, [item])
        return t

    def _row(self, a: Action, note: Note | None = None, origin: bool = False) -> Row:
        countries, of_unit = set(a.countries), False
        if not countries:  # the measure names none: the countries of its planning unit
            countries = {c for u in a.units for c in self._objects(u, "bkd:country")}
            of_unit = bool(countries)
        row = Row(a, self.link(a.iri), self.trace_href(a.iri),
                  [self.link(u) for u in sorted(a.units)], [self.link(s) for s in sorted(a.sections)],
                  a.given, self._one(a.iri, "bkd:responsibility"),
                  sorted((self.link(x) for x in a.actors), key=lambda l: l.label),
                  sorted((self.link(x) for x in countries), key=lambda l: l.label),
                  note, [self.link(s) for s in sorted(a.shared)], origin)
        row.countries_of_unit = of_unit
        return row

    def _tag(self, bucket: dict[str, Tagged], value: str, on: str, prop: str | None, trace: bool = False) -> Tagged:
        tag = bucket.setdefault(value, Tagged(self.link(value), trace_href=self.trace_href(value) if trace else ""))
        note = self.cur.note(on, self.bkd + prop, value) if prop else None
        tag.via.append((self.link(on), note))
        return tag

    def _collect(self, t: Trace, actions: list[Action]) -> None:
        """Annex items, species, themes and classes of these actions."""
        annex, species, themes, classes, threats = {}, {}, {}, {}, {}
        for a in actions:
            for item in self._objects(a.iri, "bkd:coveredByAnnexItem"):
                tag = self._tag(annex, item, a.iri, "coveredByAnnexItem", trace=True)
                if not tag.extra:
                    tag.extra = [self.link(p) for p in sorted(self.table.by_iri[item].programmes)] \
                        if item in self.table.by_iri else []
            for s in self._objects(a.iri, "bkd:targetSpecies"):
                self._tag(species, s, a.iri, "targetSpecies")
            for u in sorted(a.units):
                for s in self._objects(u, "bkd:species"):
                    self._tag(species, s, a.iri, None)  # the planning unit's species: the document's fact
            for v in sorted(a.themes):
                self._tag(themes, v, a.iri, "theme")
            for v in sorted(a.action_classes):
                self._tag(classes, v, a.iri, "actionClass")
            for v in sorted(a.threats):
                self._tag(threats, v, a.iri, "threatClass")
        # species of the annex items fed (their own target species)
        for item in annex:
            for s in self._objects(item, "bkd:targetSpecies"):
                self._tag(species, s, item, "targetSpecies")
        by_label = lambda d: sorted(d.values(), key=lambda x: natural_key(x.link.label))  # noqa: E731
        t.annex, t.species, t.themes = by_label(annex), by_label(species), by_label(themes)
        t.classes, t.threats = by_label(classes), by_label(threats)


def concept_actions(table: ActionTable, iri: str) -> tuple[str, list[Action]] | None:
    """For a theme, action class, threat class or shared action: (facet, its actions)."""
    for facet, attr in (("theme", "themes"), ("action_class", "action_classes"), ("threat", "threats"),
                        ("shared", "shared")):
        acts = [a for a in table.rows if iri in getattr(a, attr)]
        if acts:
            return facet, acts
    return None
