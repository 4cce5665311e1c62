"""CSV change sets: rows in the columns of `kg export measures`, turned into RDF.

A steward can export the measures, edit or add rows in a spreadsheet and submit the
file back (`kg check FILE.csv`, `kg add FILE.csv`). The contract:

Columns. The header names columns of kg.export.COLUMNS, in any order, each at most
once. kind, number, section and text are required; the others may be left out (a
missing responsibility is then reported by the shapes, as for Turtle). Unknown or
repeated columns are bad input, listing the expected columns and the wrong ones.

Cells, per row (a row whose cells are all empty is skipped). A cell that begins with
an apostrophe followed by = + - @, a tab or a carriage return has that one apostrophe
removed first: the export adds it so that spreadsheets do not run the cell as a
formula (kg.csvsafe), and this undoes it, so export -> import keeps every value.
  iri            empty: derived from kind and number (measure/10.1, annex1/7.1);
                 otherwise used as given (the check refuses IRIs outside the base)
  programme      a programme's label, title, notation or IRI; empty: the Work
                 Programme 2025-2032
  kind           measure | annex1
  number         as printed, N.M (10.1)
  section        the section's label as exported ("2.0 Lower Amu Darya (TKM, UZB)",
                 "Annex 1 – 1.0 Maintain and restore habitat"), its number (2.0; an
                 Annex 1 section for kind annex1) or its IRI
  planning_unit  a planning unit's label (Upper Amu Darya) or IRI; may be empty
  priority       as printed: 1, 2, 3 or a range such as 2-3 (bkd:priorityAsGiven, and
                 bkd:priority links to each printed level); may be empty
  responsibility as printed; actor types and their roles are read from it the way the
                 data reads them: "X with advice by Y" makes Y advising, "X possibly
                 facilitated by Y" makes Y facilitating, every other named type leads;
                 names are the labels and alternative spellings of
                 ontology/vocab/actor-types.ttl
  actor_types    optional cross-check: the actor types' preferred labels separated by
                 "; "; if given, they must be the types the responsibility names
  countries      ISO codes separated by "; " (UZB; TKM)
  text           the verbatim text
  themes, iucn_action_classes, threat_classes, shared_action, annex_items,
  annex_items_in_part
                 curated (kg.export.CURATED), and any derived column (kg.export.DERIVED):
                 exported for reading only. They never become facts: a filled cell is set
                 aside (CsvAddition.read_only) and compared, at check time, with what the
                 graph has for that row, rendered as the export renders it
                 (read_only_findings): equal, it is ignored with an Info finding
                 (check:read-only-column); different, the row is refused (a Violation
                 naming the review files data/curation/reviews/*.csv, the annotations in
                 data/curation/*.ttl and `kg curate suggest`). Multi-valued cells are
                 compared as sets, so the order of "; "-separated values does not matter.
                 An empty cell is not compared. A derived cell of a new entity (a row
                 copied to make a new measure) is ignored: the build computes it.

Round trip. So `kg export --format csv` -> edit -> `kg check` / `kg add` works: an
unchanged row converts to exactly the facts the graph has (reported as already
present), its curated cells match (ignored), and only what the steward edited is new.

Each row becomes an action with rdfs:label "Measure N"@en / "Annex 1 item N"@en,
bkd:inProgramme and, for Annex 1 items, the bkd:takenFrom / bkd:toBeIntegratedInto of
the existing Annex 1 items of that programme. No bkd:describedIn: a steward's row is not
described in the source document; its provenance is the change set's (--by, --source).

Parsing. csv_to_graph reads the header, then calls, per row, the parsers of two
tables: ROW_PARSERS resolve the row's identity (required cells, kind, number,
programme, IRI, section; a wrong one skips the rest of the row) and COLUMN_PARSERS
read the optional columns (planning unit, priority, responsibility with actor types,
countries, the read-only cells), each adding facts or errors to the row.

Labels are resolved against the current graph (the shipped files plus accepted change
sets, kg.parts.load_parts without inference, cached per process), or a graph passed as
`reference`. Every problem names the line and the column, with the closest known value
suggested; all problems of a file are reported together, one per line.
"""
from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from kg import export
from kg.config import settings
from kg.csvsafe import restore
from kg.errors import BadInput
from kg.export import COLUMNS, CURATED, MULTI, READ_ONLY, SEP
from kg.namespaces import bind_all, bkd
from kg.parts import load_parts

MAX_ERRORS = 20
REQUIRED = ("kind", "number", "section", "text")
KINDS = {"measure": ("Measure", "measure/", "Measure {}"),
         "annex1": ("Annex1Item", "annex1/", "Annex 1 item {}")}
DEFAULT_PROGRAMME = "programme/wp-2025-2032"
CURATION_HOWTO = ("curated links are not changed through CSV rows: the curated layer follows the review "
                  "files data/curation/reviews/*.csv (annex links: annex-links.csv; shared actions: "
                  "shared-actions.csv) and the justified annotations in data/curation/*.ttl (themes.ttl, "
                  "action-classes.ttl, threats.ttl); change the link there (`kg curate suggest` lists the "
                  "candidate pairs still to decide) and rebuild. In this file, leave the cell as exported "
                  "or empty")
DERIVED_HOWTO = ("derived columns are computed from other facts of the graph: change those facts (the "
                 "columns it is derived from) instead. In this file, leave the cell as exported or empty")
ADVICE = re.compile(r"\s+with advice by\s+", re.I)
FACILITATED = re.compile(r"\s+possibly facilitated by\s+", re.I)


@lru_cache(maxsize=4)
def _current_graph(base: str, _changesets: tuple) -> Graph:
    return load_parts(infer=False).merged()


def _reference() -> Graph:
    from kg import sources

    return _current_graph(settings().base, tuple(p.name for p in sources.changeset_files()))


class _Lookup:
    """Labels of the graph's programmes, sections, planning units, countries and actor
    types, for resolving cells."""

    def __init__(self, g: Graph) -> None:
        B = bkd()
        self.g = g
        self.base = settings().base

        def labelled(cls, *preds):
            out: dict[str, URIRef] = {}
            classes = set(g.transitive_subjects(RDFS.subClassOf, cls))
            for s in {x for c in classes for x in g.subjects(RDF.type, c)}:
                if not isinstance(s, URIRef):
                    continue
                for p in preds:
                    for o in g.objects(s, p):
                        out.setdefault(str(o), s)
                out.setdefault(str(s), s)
            return out

        self.programmes = labelled(B.Programme, RDFS.label, DCTERMS.title, SKOS.notation)
        self.sections = labelled(B.Section, RDFS.label)
        self.units = labelled(B.PlanningUnit, RDFS.label)
        self.countries = {str(o): s for s in g.subjects(RDF.type, B.Country) for o in g.objects(s, SKOS.notation)}
        self.countries.update({str(s): s for s in g.subjects(RDF.type, B.Country)})
        self.actors: dict[str, URIRef] = {}       # any spelling, lower case -> actor type
        self.actor_labels: dict[URIRef, str] = {}  # actor type -> preferred label
        for a in g.subjects(RDF.type, B.ActorType):
            for p in (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel, SKOS.notation):
                for o in g.objects(a, p):
                    self.actors.setdefault(str(o).lower(), cast(URIRef, a))
            pref = g.value(a, SKOS.prefLabel)
            self.actor_labels[cast(URIRef, a)] = str(pref) if pref is not None else str(a)

    def section(self, cell: str, kind: str, programme: URIRef) -> URIRef | None:
        if cell in self.sections:
            return self.sections[cell]
        if re.fullmatch(r"[1-9][0-9]*\.0", cell):
            annex = kind == "annex1"
            for s in self.g.subjects(bkd().number, Literal(cell)):
                if (s, RDF.type, bkd().Section) in self.g and (s, bkd().inProgramme, programme) in self.g \
                        and str(s).startswith(self.base + "annex1/section/") == annex:
                    return cast(URIRef, s)
        return None

    def annex_links(self, programme: URIRef) -> list[tuple[URIRef, URIRef]]:
        """The takenFrom / toBeIntegratedInto values of the existing Annex 1 items of a
        programme (the most common value of each)."""
        B = bkd()
        out = []
        items = [s for s in self.g.subjects(B.inProgramme, programme) if (s, RDF.type, B.Annex1Item) in self.g]
        for p in (B.takenFrom, B.toBeIntegratedInto):
            values = [o for s in items for o in self.g.objects(s, p)]
            if values:
                out.append((p, cast(URIRef, max(set(values), key=lambda v: (values.count(v), str(v))))))
        return out


@dataclass(frozen=True)
class ReadOnlyCell:
    """A filled curated or derived cell of a CSV row, set aside for comparison with the
    graph at check time (it never becomes a fact)."""
    line: int
    iri: str
    what: str      # "measure 2.1" / "Annex 1 item 1.1"
    column: str
    value: str


class CsvAddition(Graph):
    """The facts of CSV rows, with the filled read-only cells they carried
    (read_only), which kg.incremental.check_addition compares with the graph."""

    read_only: tuple = ()


def _cell_values(column: str, value: str):
    """A cell as compared: multi-valued columns as a set of values, others stripped."""
    if column in MULTI:
        return frozenset(v.strip() for v in value.split(SEP.strip()) if v.strip())
    return value.strip()


def _current_rows(store, iris: list[str]) -> dict[str, dict[str, str]]:
    """The rows the export gives for these IRIs (kg.export.MEASURES), as exported."""
    import pyoxigraph as ox

    from kg.results import term_text

    out: dict[str, dict[str, str]] = {}
    if not iris:
        return out
    for sol in store.query(export.MEASURES, values={"iri": [ox.NamedNode(i) for i in iris]}):
        row = {c: term_text(sol[c]) for c in COLUMNS}   # as kg.export.measures reads them
        out[row["iri"]] = row
    return out


def read_only_findings(addition: Graph, store) -> list:
    """Info findings for the filled read-only cells that match the graph's current
    values (ignored), Violations for those that differ (see the module docstring).
    `store` is a kg.store.Store."""
    from kg.validate import Finding

    cells = getattr(addition, "read_only", ())
    if not cells:
        return []
    current = _current_rows(store, sorted({c.iri for c in cells}))
    out = []
    for c in cells:
        now = current.get(c.iri, {}).get(c.column, "")
        curated = c.column in CURATED
        if not curated and c.iri not in current:
            out.append(Finding("Info", c.iri, None, c.value,
                               f"derived column {c.column} of {c.what} is computed by the build for a new "
                               "entity: ignored", "check:read-only-column"))
            continue
        if _cell_values(c.column, c.value) == _cell_values(c.column, now):
            out.append(Finding("Info", c.iri, None, c.value,
                               f"{'curated' if curated else 'derived'} column {c.column} of {c.what} matches the "
                               "graph: ignored", "check:read-only-column"))
            continue
        has = repr(now) if now else "no value"
        out.append(Finding("Violation", c.iri, None, c.value,
                           f"line {c.line}: {'curated' if curated else 'derived'} column {c.column} of {c.what} "
                           f"differs from the graph (which has {has}): "
                           f"{CURATION_HOWTO if curated else DERIVED_HOWTO}.", "check:read-only-column"))
    return out


def _suggest(value: str, known) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def read_actor_types(responsibility: str, lookup: _Lookup) -> tuple[dict[str, list[URIRef]], list[str]]:
    """Actor types by role ('lead', 'advising', 'facilitating') from a responsibility
    cell, and the names that are no known actor type."""
    text = responsibility.strip()
    facilitating = advising = ""
    parts = FACILITATED.split(text, maxsplit=1)
    if len(parts) == 2:
        text, facilitating = parts
    parts = ADVICE.split(text, maxsplit=1)
    if len(parts) == 2:
        text, advising = parts
    roles: dict[str, list[URIRef]] = {"lead": [], "advising": [], "facilitating": []}
    unknown: list[str] = []
    for role, chunk in (("lead", text), ("advising", advising), ("facilitating", facilitating)):
        for name in re.split(r",|\band\b|;", chunk):
            name = name.strip()
            if not name:
                continue
            actor = lookup.actors.get(name.lower())
            if actor is None:
                unknown.append(name)
            elif actor not in roles[role]:
                roles[role].append(actor)
    return roles, unknown


def csv_to_graph(text: str, name: str, reference: Graph | None = None) -> CsvAddition:
    """Rows in the columns of `kg export measures` as RDF (see the module docstring),
    with the filled read-only cells set aside in .read_only. Raises BadInput naming
    every wrong line and column."""
    s = settings()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = _header(reader, name)
    state = _Import(lookup=_Lookup(reference if reference is not None else _reference()), base=s.base,
                    default_programme=URIRef(s.base + DEFAULT_PROGRAMME))
    g = bind_all(CsvAddition())
    for line, row in _rows(reader, header, name, state.errors):
        r = _Row(state, line, row)
        if not all(parse(r) for parse in ROW_PARSERS):
            continue
        r.facts = _identity_facts(r)
        for parse in COLUMN_PARSERS:
            parse(r)
        assert r.iri is not None  # set by _iri, one of ROW_PARSERS
        for p, o in r.facts:
            g.add((r.iri, p, o))
    errors = state.errors
    if errors:
        shown = errors[:MAX_ERRORS] + ([f"... and {len(errors) - MAX_ERRORS} more"] if len(errors) > MAX_ERRORS else [])
        raise BadInput("\n".join(f"{name}: {e}" for e in shown))
    if len(g) == 0:
        raise BadInput(f"{name}: no rows after the header")
    g.read_only = tuple(state.read_only)
    return g


def _header(reader, name: str) -> list[str]:
    """The header's columns; BadInput listing the expected and the wrong ones."""
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        raise BadInput(f"{name}: no CSV header ({e or 'empty'})") from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    repeated = sorted({h for h in header if header.count(h) > 1})
    missing = [c for c in REQUIRED if c not in header]
    if unknown or repeated or missing:
        wrong = []
        if unknown:
            wrong.append("unknown: " + ", ".join(repr(h) for h in unknown))
        if repeated:
            wrong.append("repeated: " + ", ".join(repeated))
        if missing:
            wrong.append("missing: " + ", ".join(missing))
        raise BadInput(f"{name}: line 1: wrong columns ({'; '.join(wrong)}). Expected the columns of "
                       f"`kg export measures`: {', '.join(COLUMNS)} (required: {', '.join(REQUIRED)}; "
                       "any order)")
    return header


def _rows(reader, header: list[str], name: str, errors: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line, cells by column) of each row that is not empty, cells restored
    (kg.csvsafe) and stripped; a row with the wrong number of cells is an error."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise BadInput(f"{name}: line {start}: malformed CSV ({e})") from None
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(f"line {start}: {len(cells)} cells for {len(header)} columns")
            continue
        yield start, {h: restore(c).strip() for h, c in zip(header, cells)}


@dataclass
class _Import:
    """What the parsers share across the rows of one file."""
    lookup: _Lookup
    base: str
    default_programme: URIRef
    errors: list[str] = field(default_factory=list)
    read_only: list[ReadOnlyCell] = field(default_factory=list)
    seen: dict[URIRef, int] = field(default_factory=dict)   # IRI -> line that gave it


@dataclass
class _Row:
    """One row as its parsers read it: its cells, then what they resolved."""
    file: _Import
    line: int
    cells: dict[str, str]
    kind: str = ""
    number: str = ""
    programme: URIRef | None = None
    iri: URIRef | None = None
    section: URIRef | None = None
    facts: list = field(default_factory=list)

    def err(self, column: str, message: str) -> None:
        self.file.errors.append(f"line {self.line}, column {column}: {message}")

    @property
    def label(self) -> str:
        """"Measure 2.1" / "Annex 1 item 1.1"."""
        return KINDS[self.kind][2].format(self.number)


# ----- the row's identity: each parser returns False to skip the rest of the row

def _required(r: _Row) -> bool:
    """kind, number, section and text, without which a row is no action."""
    for col in REQUIRED:
        if not r.cells.get(col):
            r.err(col, "empty; this column is required")
    return all(r.cells.get(c) for c in REQUIRED)


def _kind(r: _Row) -> bool:
    r.kind = r.cells["kind"]
    if r.kind not in KINDS:
        r.err("kind", f"{r.kind!r} is not a kind; use 'measure' or 'annex1'")
        return False
    return True


def _number(r: _Row) -> bool:
    r.number = r.cells["number"]
    if not re.fullmatch(r"[1-9][0-9]*\.[1-9][0-9]*", r.number):
        r.err("number", f"{r.number!r} is not an action number as printed (N.M, e.g. 10.1)")
        return False
    return True


def _programme(r: _Row) -> bool:
    given, programmes = r.cells.get("programme"), r.file.lookup.programmes
    r.programme = programmes.get(given) if given else r.file.default_programme
    if r.programme is None:
        r.err("programme", f"unknown programme {given!r}" + _suggest(given or "", programmes))
        return False
    return True


def _iri(r: _Row) -> bool:
    given = r.cells.get("iri")
    r.iri = URIRef(given) if given else URIRef(r.file.base + KINDS[r.kind][1] + r.number)
    if r.iri in r.file.seen:
        r.err("number" if not given else "iri", f"{r.iri} is already given on line {r.file.seen[r.iri]}")
        return False
    r.file.seen[r.iri] = r.line
    return True


def _section(r: _Row) -> bool:
    given, lookup = r.cells["section"], r.file.lookup
    assert r.programme is not None  # set by _programme, which runs first
    r.section = lookup.section(given, r.kind, r.programme)
    if r.section is None:
        if not given.startswith(r.file.base):
            r.err("section", f"unknown section {given!r}" + _suggest(given, lookup.sections))
            return False
        r.section = URIRef(given)
    return True


ROW_PARSERS: tuple[Callable[[_Row], bool], ...] = (_required, _kind, _number, _programme, _iri, _section)


def _identity_facts(r: _Row) -> list:
    """The facts of the required columns, and the Annex 1 links of an Annex 1 item."""
    B = bkd()
    facts = [(RDF.type, B[KINDS[r.kind][0]]), (RDFS.label, Literal(r.label, lang="en")),
             (B.number, Literal(r.number)), (B.inProgramme, r.programme), (B.inSection, r.section),
             (B.text, Literal(r.cells["text"]))]
    if r.kind == "annex1":
        assert r.programme is not None  # set by _programme
        facts += r.file.lookup.annex_links(r.programme)
    return facts


# ----- the optional columns: each adds facts or errors, the row goes on

def _planning_unit(r: _Row) -> None:
    given, units = r.cells.get("planning_unit"), r.file.lookup.units
    if not given:
        return
    unit = units.get(given)
    if unit is None:
        r.err("planning_unit", f"unknown planning unit {given!r}"
              + _suggest(given, [k for k in units if not k.startswith("http")]))
    else:
        r.facts.append((bkd().planningUnit, unit))


def _priority(r: _Row) -> None:
    given = r.cells.get("priority")
    if not given:
        return
    m = re.fullmatch(r"([123])(?:-([123]))?", given)
    if not m or (m.group(2) and m.group(2) <= m.group(1)):
        r.err("priority", f"{given!r} is not a priority as printed: 1, 2, 3 or a range such as 2-3")
        return
    r.facts.append((bkd().priorityAsGiven, Literal(given)))
    for level in filter(None, m.groups()):
        r.facts.append((bkd().priority, URIRef(f"{r.file.base}priority/{level}")))


def _responsibility(r: _Row) -> None:
    """responsibility and actor_types: the actor types by role, cross-checked."""
    B, lookup, given = bkd(), r.file.lookup, r.cells.get("responsibility")
    if not given:
        if r.cells.get("actor_types"):
            r.err("actor_types", "actor types without a responsibility; give the responsibility as printed")
        return
    r.facts.append((B.responsibility, Literal(given)))
    roles, unknown_names = read_actor_types(given, lookup)
    for n in unknown_names:
        r.err("responsibility", f"{n!r} is not a known actor type" + _suggest(n.lower(), lookup.actors))
    prop = {"lead": B.leadActorType, "advising": B.advisingActorType, "facilitating": B.facilitatingActorType}
    for role, actors in roles.items():
        for a in actors:
            r.facts.append((prop[role], a))
    if r.cells.get("actor_types") and not unknown_names:
        named = {lookup.actor_labels[a] for actors in roles.values() for a in actors}
        listed = {x.strip() for x in r.cells["actor_types"].split(SEP.strip()) if x.strip()}
        if named != listed:
            r.err("actor_types", f"{'; '.join(sorted(listed))!r} disagrees with the responsibility "
                  f"{given!r}, which names {'; '.join(sorted(named))!r}. Correct one of "
                  "the two (actor_types may also be left empty)")


def _countries(r: _Row) -> None:
    countries = r.file.lookup.countries
    for code in (c.strip() for c in r.cells.get("countries", "").split(SEP.strip())):
        if not code:
            continue
        country = countries.get(code)
        if country is None:
            r.err("countries", f"unknown country code {code!r}" + _suggest(code.upper(), countries)
                  + " (ISO 3166-1 alpha-3 codes separated by '; ')")
        else:
            r.facts.append((bkd().concernsCountry, country))


def _read_only(r: _Row) -> None:
    """Curated and derived cells: set aside for the check, never facts."""
    what = r.label.replace("Measure", "measure")
    for col in READ_ONLY:
        if r.cells.get(col):
            r.file.read_only.append(ReadOnlyCell(r.line, str(r.iri), what, col, r.cells[col]))


COLUMN_PARSERS: tuple[Callable[[_Row], None], ...] = (_planning_unit, _priority, _responsibility, _countries,
                                                      _read_only)


assert set(MULTI) <= set(COLUMNS)
