"""Views over the curated annotations of issue 5 (graph/curation): the index of
bkd:CuratedAnnotation nodes (justification of every curated link), the theme x planning
unit matrix, the trace of a measure, shared action or Annex 1 item (whose measures feed
it as the same action, bkd:coveredByAnnexItem, or in part, bkd:contributesToAnnexItem),
and the coverage of the curated crosswalk (issue 11, kg.curate).

Everything here that comes from a curated link carries its Note (the annotation node,
its one-line justification and the agent it is attributed to), so the pages can mark
it "curated" and keep it apart from the document's own facts."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from textwrap import shorten
from urllib.parse import urlencode

import pyoxigraph as ox

from webapp.actions import Action, ActionTable
from webapp.derived import per_graph
from webapp.describe import Link
from webapp.paging import Page, paginate
from webapp.repository import Repository, named_node
from webapp.sorting import natural_key
from webapp.state import repo

SKOS = "http://www.w3.org/2004/02/skos/core#"

PAIRS = "SELECT DISTINCT ?p ?s ?o WHERE { ?s ?p ?o . FILTER(isIRI(?o)) }"
OBJECTS = "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o . FILTER(isIRI(?o)) }"
ONE = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 1"


def expand(pname: str) -> ox.NamedNode:
    """A predefined-prefix name (bkd:theme, skos:definition) as a term to bind."""
    from kg.store import prefixes

    prefix, local = pname.split(":", 1)
    return ox.NamedNode(prefixes()[prefix] + local)


# the curated properties a trace follows (local names in bkd:)
CURATED_PROPS = ("theme", "actionClass", "threatClass", "sharedAction", "coveredByAnnexItem",
                 "contributesToAnnexItem", "targetSpecies")
# the two strengths of a link from a measure to an Annex 1 item, strongest first:
# (key, property in bkd:, how the pages say it) -- kg.curate.STRENGTHS names them alike
ANNEX_STRENGTHS = (("same", "coveredByAnnexItem", "same action"), ("part", "contributesToAnnexItem", "in part"))
STRENGTH_LABEL = {key: label for key, _, label in ANNEX_STRENGTHS}


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


class Notes:
    """Curated annotations indexed by the triple each reifies (subject, predicate, and
    the object's IRI or lexical form)."""

    def __init__(self, by_triple: dict[tuple[str, str, str], Note] | None = None) -> None:
        self.by_triple = by_triple or {}

    def note(self, s: str, p: str, o) -> Note | None:
        return self.by_triple.get((s, p, o if isinstance(o, str) else _key(o)))


class Curation:
    """The curated annotations, looked up by the subject or the object of the links they
    justify, when a page needs them: a large graph has hundreds of thousands of them,
    too many to read (and hold) for the first page that shows one."""

    # the links' subjects (or object) first, then the records: Oxigraph joins in this order
    # (the subjects come as a VALUES block opening the group: Store.query values=)
    QUERY = """SELECT ?a ?s ?p ?o ?j ?agent ?created ?attached WHERE {
              ?a rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o .
              ?a a bkd:CuratedAnnotation .
              OPTIONAL { ?a bkd:justification ?j }
              OPTIONAL { ?a prov:wasAttributedTo ?agent }
              OPTIONAL { ?a dcterms:created ?created }
              BIND(EXISTS { ?s ?p ?o } AS ?attached) }"""
    BATCH = 500  # subjects per query

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.graph = repo.base + "graph/curation"

    def about(self, subjects: Iterable[str], predicate: str = "") -> Notes:
        """The annotations of the links from these subjects (of one predicate, if given)."""
        terms = [t for t in map(named_node, dict.fromkeys(subjects)) if t is not None]
        only = {"p": ox.NamedNode(predicate)} if predicate else {}
        notes = Notes()
        for i in range(0, len(terms), self.BATCH):
            self._read(notes, values={"s": terms[i:i + self.BATCH]}, bindings=only)
        return notes

    def pointing_to(self, iri: str) -> Notes:
        """The annotations of the links to this IRI."""
        term = named_node(iri)
        return self._read(Notes(), bindings={"o": term}) if term is not None else Notes()

    def _read(self, notes: Notes, values: dict | None = None, bindings: dict | None = None) -> Notes:
        repo = self.repo
        for r in repo.store.query(self.QUERY, values=values, bindings=bindings):
            a = r["a"].value
            agent = r["agent"].value if r["agent"] is not None else ""
            notes.by_triple[(r["s"].value, r["p"].value, _key(r["o"]))] = Note(
                a, repo.local_path(a) or a, r["j"].value if r["j"] is not None else "",
                repo.label(agent) if agent else "", r["created"].value if r["created"] is not None else "",
                r["attached"].value == "true")
        return notes


def _key(term) -> str:
    """IRIs by their value, literals by their lexical form (enough to tell curated values apart)."""
    return term.value


def curation() -> Curation:
    return per_graph("curation", lambda: Curation(repo()))


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
    count: int = 0
    rank: int | None = None  # the highest priority (lowest rank) among its actions
    href: str = ""

    @property
    def css(self) -> str:
        return f"r{self.rank}" if self.rank else "rnone"


@dataclass
class AnnexCell:
    """The actions of one column that feed an Annex 1 item, by strength (an action linked
    with both strengths counts as the same action, as on the trace pages)."""
    column: Column
    same: int = 0
    part: int = 0
    same_href: str = ""
    part_href: str = ""

    @property
    def count(self) -> int:
        return self.same + self.part


@dataclass
class AnnexRow:
    item: Link     # labelled "Annex 1.1"
    slug: str      # the item's number, the value of the annex / annex_part filters
    text: str      # its text, shortened
    full: str      # its whole text
    fed: bool      # does any action feed it?


ANNEX_TEXT = 70  # characters of an Annex 1 item's text shown in its matrix row


@dataclass
class Matrix:
    """Themes x columns, computed once per graph. Cells are kept only where there are
    actions (a large graph has tens of thousands of columns, most of them empty for a
    theme); page() fills in the empty ones of the columns shown. The same columns for
    the Annex 1 items: annex_page() counts the actions of each column feeding each item."""
    columns: list[Column]
    themes: list[tuple[Link, str]]  # (theme, theme slug)
    cells: dict[tuple[str, str], Cell]  # (theme IRI, column key) -> cell
    url: str
    annex: list[AnnexRow] = field(default_factory=list)  # every Annex 1 item, in number order
    annex_cells: dict[tuple[str, str], AnnexCell] = field(default_factory=dict)  # (item IRI, column key)

    @property
    def rows(self) -> list[tuple[Link, str, list[Cell]]]:
        """Every theme with a cell per column (the whole matrix, one page)."""
        return self.page(1, len(self.columns) or 1)[1]

    def page(self, number: int, size: int) -> tuple[Page, list[tuple[Link, str, list[Cell]]]]:
        """One page of columns, and every theme's cells in them."""
        cols = paginate(self.columns, number, size)
        rows = []
        for theme, slug in self.themes:
            cells = []
            for c in cols.items:
                cell = self.cells.get((theme.iri, c.key)) or Cell(c)
                if cell.count and not cell.href:
                    cell.href = f"{self.url}?{urlencode({'theme': slug, **c.params})}"
                cells.append(cell)
            rows.append((theme, slug, cells))
        return cols, rows

    def annex_page(self, columns: list[Column]) -> list[tuple[AnnexRow, list[AnnexCell]]]:
        """Every Annex 1 item with a cell per column shown (an item no action feeds: no cells)."""
        rows = []
        for row in self.annex:
            cells = []
            for c in columns if row.fed else ():
                cell = self.annex_cells.get((row.item.iri, c.key)) or AnnexCell(c)
                if cell.same and not cell.same_href:
                    cell.same_href = f"{self.url}?{urlencode({'annex': row.slug, **c.params})}"
                if cell.part and not cell.part_href:
                    cell.part_href = f"{self.url}?{urlencode({'annex_part': row.slug, **c.params})}"
                cells.append(cell)
            rows.append((row, cells))
        return rows


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
    """Themes x planning units; each cell counts the actions with that theme in that unit.
    One pass over the actions (the page caches the result for the graph)."""
    repo = table.repo
    ranks = _ranks(repo)
    cols: dict[str, Column] = {}
    first: dict[str, int] = {}  # column key -> first action (document order) in it
    cells: dict[tuple[str, str], Cell] = {}
    annex_cells: dict[tuple[str, str], AnnexCell] = {}
    for i, a in enumerate(table.rows):
        keys = []
        for key, label, params, title in columns_of(table, a):
            if key not in cols:
                cols[key], first[key] = Column(key, label, params, title), i
            keys.append(key)
        same = set(a.annex_items)
        for item, strength in [*((i, "same") for i in a.annex_items),
                               *((i, "part") for i in a.annex_items_in_part if i not in same)]:
            for key in keys:
                acell = annex_cells.get((item, key)) or annex_cells.setdefault((item, key), AnnexCell(cols[key]))
                setattr(acell, strength, getattr(acell, strength) + 1)
        if not a.themes:
            continue
        rank = min((ranks[p] for p in a.priorities if p in ranks), default=None)
        for t in a.themes:
            for key in keys:
                cell = cells.get((t, key)) or cells.setdefault((t, key), Cell(cols[key]))
                cell.count += 1
                if rank is not None and (cell.rank is None or rank < cell.rank):
                    cell.rank = rank
    order = {"unit": 0, "section": 1, "annex1": 2, "other": 3}

    def group(c: Column) -> int:
        if "unit" in c.params:
            return order["unit"]
        if "section" in c.params:
            return order["section"]
        return order["annex1"] if c.key == "annex1" else order["other"]
    # units and sections in document order (rows are), then Annex 1, then other programmes
    columns = sorted(cols.values(), key=lambda c: (group(c), first[c.key]))
    themes = sorted({t for a in table.rows for t in a.themes}, key=lambda t: natural_key(repo.label(t)))
    links = [(Link(t, repo.label(t), repo.local_path(t) or t), table.value("theme", t)) for t in themes]
    fed = {item for item, _ in annex_cells}
    annex = [AnnexRow(Link(a.iri, f"Annex {a.number}", repo.local_path(a.iri) or a.iri), table.value("annex", a.iri),
                      shorten(a.text, ANNEX_TEXT, placeholder=" …"), a.text, a.iri in fed)
             for a in table.of_kind("annex1")]
    return Matrix(columns, links, cells, url, annex, annex_cells)


# ---------------------------------------------------------------- trace

VIA_SHOWN = 20     # per value of a trace, how many of the actions it is reached through are named
TRACE_PAGE = 100   # occurrences (or feeding measures) of a trace per page


@dataclass
class Tagged:
    """A value reached through links, with the curated notes that support it:
    (the action it is on, its annotation or None when the link is the document's own).
    Only the first VIA_SHOWN of each kind are kept (a shared action of a large graph
    has tens of thousands of occurrences); the counts are of all of them."""
    link: Link
    via: list[tuple[Link, Note | None]] = field(default_factory=list)
    extra: list[Link] = field(default_factory=list)  # e.g. the programmes of an Annex 1 item
    trace_href: str = ""
    n_curated: int = 0
    n_plain: int = 0
    strength: str = ""  # an Annex 1 item fed: "same" or "part" (ANNEX_STRENGTHS)

    @property
    def strength_label(self) -> str:
        return STRENGTH_LABEL.get(self.strength, "")

    def add(self, on: Link | None, note: Note | None, make_link=None, iri: str = "") -> None:
        """Count one more action it is reached through; keep it if under VIA_SHOWN
        (make_link(iri) builds its Link only then)."""
        if note is None:
            self.n_plain += 1
            keep = self.n_plain <= VIA_SHOWN
        else:
            self.n_curated += 1
            keep = self.n_curated <= VIA_SHOWN
        if keep:
            self.via.append((on if on is not None else make_link(iri), note))

    @property
    def curated(self) -> bool:
        return self.n_curated > 0

    @property
    def source(self) -> bool:
        return self.n_plain > 0

    @property
    def plain(self) -> list[Link]:
        """The actions it is on by the document's own facts (no curated link), as kept."""
        return [on for on, n in self.via if n is None]

    @property
    def more_curated(self) -> int:
        return max(0, self.n_curated - VIA_SHOWN)

    @property
    def more_plain(self) -> int:
        return max(0, self.n_plain - VIA_SHOWN)


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
    strength: str = ""  # a measure feeding an Annex 1 item: "same" or "part" (ANNEX_STRENGTHS)

    @property
    def strength_label(self) -> str:
        return STRENGTH_LABEL.get(self.strength, "")


@dataclass
class FedBy:
    """How an Annex 1 item is fed: measures (of both strengths), the planning units they
    are in, and the measures of several or all populations (no planning unit)."""
    measures: int = 0
    same: int = 0       # links of strength "same action"
    part: int = 0       # links of strength "in part"
    units: int = 0
    without_unit: int = 0

    @property
    def text(self) -> str:
        """"Fed by 3 measures in 2 planning units: 2 same action, 1 in part" (and the
        measures that have no planning unit)."""
        if not self.measures:
            return "Fed by no measure"
        s = "s" if self.measures != 1 else ""
        out = (f"Fed by {self.measures} measure{s} in {self.units} planning unit{'s' if self.units != 1 else ''}: "
               f"{self.same} same action, {self.part} in part")
        if self.without_unit:
            out += (f" ({self.without_unit} of them for several or all populations, in no planning unit)"
                    if self.without_unit != 1 else " (1 of them for several or all populations, in no planning unit)")
        return out


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
    occurrences: list[Row] = field(default_factory=list)  # the rows of this page
    fed_by: list[Row] = field(default_factory=list)       # the rows of this page
    fed: FedBy | None = None  # an Annex 1 item: how many measures feed it, of which strength, where
    page: Page | None = None  # where the rows sit among all occurrences (or feeding measures)
    annex: list[Tagged] = field(default_factory=list)
    shared: list[Tagged] = field(default_factory=list)
    species: list[Tagged] = field(default_factory=list)
    themes: list[Tagged] = field(default_factory=list)
    classes: list[Tagged] = field(default_factory=list)
    threats: list[Tagged] = field(default_factory=list)


class Tracer:
    """Traces, from the action table and a few link maps read once per graph (one
    the "tracer" of webapp.derived, per graph): a trace never queries per action it lists."""

    def __init__(self, table: ActionTable, cur: Curation) -> None:
        self.table, self.cur, self.repo = table, cur, table.repo
        self.bkd = self.repo.base + "ontology#"
        self._collected: dict[str, tuple] = {}  # shared action -> what _collect found for its occurrences

    @cached_property
    def covered(self) -> dict[str, list[str]]:
        """Action -> the Annex 1 items it is covered by (same action)."""
        return self._pairs("bkd:coveredByAnnexItem")

    @cached_property
    def contributes(self) -> dict[str, list[str]]:
        """Action -> the Annex 1 items it contributes to in part."""
        return self._pairs("bkd:contributesToAnnexItem")

    def annex_links(self, action: str) -> list[tuple[str, str]]:
        """(Annex 1 item, strength) of an action, strongest first; an item linked with
        both strengths counts as the stronger."""
        out: dict[str, str] = {}
        for key, links in (("same", self.covered), ("part", self.contributes)):
            for item in links.get(action, ()):
                out.setdefault(item, key)
        return list(out.items())

    @cached_property
    def feeders(self) -> dict[str, list[tuple[Action, str]]]:
        """Annex 1 item -> (action, strength) of the actions that feed it: same action
        first, then in part, each in table order."""
        out: dict[str, list[tuple[Action, str]]] = {}
        for a in {*self.covered, *self.contributes}:
            if a in self.table.by_iri:
                for item, strength in self.annex_links(a):
                    out.setdefault(item, []).append((self.table.by_iri[a], strength))
        order = {key: i for i, (key, _, _) in enumerate(ANNEX_STRENGTHS)}
        for acts in out.values():
            acts.sort(key=lambda x: (order[x[1]], x[0].sort_key))
        return out

    def fed_by(self, item: str) -> FedBy:
        """How many measures feed an Annex 1 item, of which strength, in how many planning units."""
        feeders = self.feeders.get(item, [])
        units = {u for a, _ in feeders for u in a.units}
        return FedBy(len({a.iri for a, _ in feeders}), sum(1 for _, s in feeders if s == "same"),
                     sum(1 for _, s in feeders if s == "part"), len(units),
                     len({a.iri for a, _ in feeders if not a.units}))

    @cached_property
    def unfed(self) -> list[Action]:
        """The Annex 1 items no measure feeds (neither strength), in table order."""
        return [a for a in self.table.of_kind("annex1") if a.iri not in self.feeders]

    @cached_property
    def target_species(self) -> dict[str, list[str]]:
        return self._pairs("bkd:targetSpecies")

    @cached_property
    def unit_species(self) -> dict[str, list[str]]:
        return self._pairs("bkd:species")

    @cached_property
    def unit_countries(self) -> dict[str, list[str]]:
        return self._pairs("bkd:country")

    @cached_property
    def shared_actions(self) -> list[str]:
        return [x["s"].value for x in self.repo.select("SELECT DISTINCT ?s WHERE { ?s a bkd:SharedAction }")]

    def _pairs(self, prop: str) -> dict[str, list[str]]:
        """Subject -> its IRI values of a property, for the whole graph in one query."""
        out: dict[str, list[str]] = {}
        for r in self.repo.select(PAIRS, p=expand(prop)):
            out.setdefault(r["s"].value, []).append(r["o"].value)
        return out

    def link(self, iri: str) -> Link:
        return Link(iri, self.repo.label(iri), self.repo.local_path(iri) or iri)

    def trace_href(self, iri: str) -> str:
        path = self.repo.local_path(iri)
        return "/trace" + path if path else ""

    def _objects(self, s: str, prop: str) -> list[str]:
        term = named_node(s)
        return [r["o"].value for r in self.repo.select(OBJECTS, s=term, p=expand(prop))] if term else []

    def _one(self, s: str, prop: str) -> str:
        term = named_node(s)
        rows = self.repo.select(ONE, s=term, p=expand(prop)) if term else []
        return rows[0]["o"].value if rows else ""

    def _types(self, iri: str) -> set[str]:
        return set(self._objects(iri, "rdf:type"))

    def trace(self, iri: str, page: int | None = None) -> Trace | None:
        """The trace of a shared action, measure or Annex 1 item, showing page `page` of
        its occurrences (default: the first, or the one with the action traced from)."""
        types = self._types(iri)
        if self.bkd + "SharedAction" in types:
            return self._shared(iri, page=page)
        if iri not in self.table.by_iri:
            return None
        a = self.table.by_iri[iri]
        if a.kind == "measure" and a.shared:
            sa = min(a.shared)
            t = self._shared(sa, origin=iri, page=page)
            prop = self.bkd + "sharedAction"
            t.origin, t.origin_note = self.link(iri), self.cur.about([iri], prop).note(iri, prop, sa)
            return t
        if a.kind == "annex1":
            return self._annex(a, page)
        t = Trace(self.link(iri), a.kind, text=a.text)
        t.programmes = [self.link(p) for p in sorted(a.programmes)]
        t.occurrences = [self._row(a, origin=True)]
        t.page = paginate(t.occurrences, 1, TRACE_PAGE)
        self._collect(t, [a])
        return t

    def _shared(self, sa: str, origin: str = "", page: int | None = None) -> Trace:
        t = Trace(self.link(sa), "shared", definition=self._one(sa, "skos:definition"),
                  scope_note=self._one(sa, "skos:scopeNote"))
        agent = self._one(sa, "prov:wasAttributedTo")
        t.provenance = self.repo.label(agent) if agent else ""
        members = self.table.with_value("shared", sa)
        if page is None:  # the page that shows the action traced from
            at = next((i for i, a in enumerate(members) if a.iri == origin), 0)
            page = at // TRACE_PAGE + 1
        t.page = paginate(members, page, TRACE_PAGE)
        prop = self.bkd + "sharedAction"
        notes = self.cur.about((a.iri for a in t.page.items), prop)
        t.occurrences = [self._row(a, note=notes.note(a.iri, prop, sa), origin=a.iri == origin)
                         for a in t.page.items]
        for row in t.occurrences:  # other shared actions only: this one is the page
            row.shared = [s for s in row.shared if s.iri != sa]
        if sa not in self._collected:
            self._collect(t, members)
            self._collected[sa] = (t.annex, t.species, t.themes, t.classes, t.threats)
        t.annex, t.species, t.themes, t.classes, t.threats = self._collected[sa]
        return t

    def _annex(self, item: Action, page: int | None = None) -> Trace:
        t = Trace(self.link(item.iri), "annex1", text=item.text)
        t.programmes = [self.link(p) for p in sorted(item.programmes)]
        links = self.feeders.get(item.iri, [])
        t.fed = self.fed_by(item.iri)
        t.page = paginate(links, page or 1, TRACE_PAGE)
        feeders = list({a.iri: a for a, _ in links}.values())
        notes = self.cur.about(a.iri for a in feeders)
        prop = {key: self.bkd + local for key, local, _ in ANNEX_STRENGTHS}
        t.fed_by = []
        for a, strength in t.page.items:
            row = self._row(a, note=notes.note(a.iri, prop[strength], item.iri))
            row.strength = strength
            t.fed_by.append(row)
        shared: dict[str, Tagged] = {}
        for a in feeders:
            for sa in sorted(a.shared):
                tag = shared.get(sa) or shared.setdefault(sa, Tagged(self.link(sa), trace_href=self.trace_href(sa)))
                tag.add(None, notes.note(a.iri, self.bkd + "sharedAction", sa), self.link, a.iri)
        t.shared = list(shared.values())
        self._collect(t, [item])
        return t

    def _row(self, a: Action, note: Note | None = None, origin: bool = False) -> Row:
        countries, of_unit = set(a.countries), False
        if not countries:  # the measure names none: the countries of its planning unit
            countries = {c for u in a.units for c in self.unit_countries.get(u, ())}
            of_unit = bool(countries)
        row = Row(a, self.link(a.iri), self.trace_href(a.iri),
                  [self.link(u) for u in sorted(a.units)], [self.link(s) for s in sorted(a.sections)],
                  a.given, a.responsibility,
                  sorted((self.link(x) for x in a.actors), key=lambda l: l.label),
                  sorted((self.link(x) for x in countries), key=lambda l: l.label),
                  note, [self.link(s) for s in sorted(a.shared)], origin)
        row.countries_of_unit = of_unit
        return row

    def _tag(self, bucket: dict, value: str | tuple[str, str], on: str, prop: str | None, notes: Notes,
             trace: bool = False) -> Tagged:
        """Count `on` for a value (an IRI, or (IRI, strength) for Annex 1 items)."""
        iri = value[0] if isinstance(value, tuple) else value
        tag = bucket.get(value)
        if tag is None:
            tag = bucket[value] = Tagged(self.link(iri), trace_href=self.trace_href(iri) if trace else "")
        note = notes.note(on, self.bkd + prop, iri) if prop else None
        tag.add(None, note, self.link, on)
        return tag

    def _collect(self, t: Trace, actions: list[Action]) -> None:
        """Annex items, species, themes and classes of these actions."""
        annex, species, themes, classes, threats = {}, {}, {}, {}, {}
        notes = self.cur.about(a.iri for a in actions)
        prop = {key: local for key, local, _ in ANNEX_STRENGTHS}
        for a in actions:
            for item, strength in self.annex_links(a.iri):
                # one entry per item and strength: a shared action's occurrences may feed it both ways
                tag = self._tag(annex, (item, strength), a.iri, prop[strength], notes, trace=True)
                tag.strength = strength
                if not tag.extra:
                    tag.extra = [self.link(p) for p in sorted(self.table.by_iri[item].programmes)] \
                        if item in self.table.by_iri else []
            for s in self.target_species.get(a.iri, ()):
                self._tag(species, s, a.iri, "targetSpecies", notes)
            for u in a.units:
                for s in self.unit_species.get(u, ()):
                    self._tag(species, s, a.iri, None, notes)  # the planning unit's species: the document's fact
            for v in a.themes:
                self._tag(themes, v, a.iri, "theme", notes)
            for v in a.action_classes:
                self._tag(classes, v, a.iri, "actionClass", notes)
            for v in a.threats:
                self._tag(threats, v, a.iri, "threatClass", notes)
        # species of the annex items fed (their own target species)
        items = list(dict.fromkeys(item for item, _ in annex))
        item_notes = self.cur.about(items)
        for item in items:
            for s in self.target_species.get(item, ()):
                self._tag(species, s, item, "targetSpecies", item_notes)
        by_label = lambda d: sorted(d.values(), key=lambda x: natural_key(x.link.label))  # noqa: E731
        order = {key: i for i, (key, _, _) in enumerate(ANNEX_STRENGTHS)}
        t.annex = sorted(annex.values(), key=lambda x: (natural_key(x.link.label), order.get(x.strength, 9)))
        t.species, t.themes = by_label(species), by_label(themes)
        t.classes, t.threats = by_label(classes), by_label(threats)


# ---------------------------------------------------------------- coverage of the crosswalk

def coverage_report(repo: Repository):
    """The figures of `kg curate report` on the app's graph (kg.curate.report): the
    review files' progress is read with the graph (the page caches it per graph, and a
    rebuild from the review files reloads the graph)."""
    from kg import curate

    return curate.report(repo.store)


def concept_actions(table: ActionTable, iri: str) -> tuple[str, list[Action]] | None:
    """For a theme, action class, threat class or shared action: (facet, its actions)."""
    for facet, attr in (("theme", "themes"), ("action_class", "action_classes"), ("threat", "threats"),
                        ("shared", "shared")):
        acts = table.with_value(attr, iri)
        if acts:
            return facet, acts
    return None
