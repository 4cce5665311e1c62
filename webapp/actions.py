"""The table of actions (measures, Annex 1 items and, when the graph holds them, actions of
other programmes) behind the measures list, its filters and its CSV download. Loaded once
per graph (the "actions" of webapp.derived, dropped on reload) together with inverted indexes,
so filtering a list of hundreds of thousands of actions is set arithmetic, not a scan.
Curated facets (theme, classes, shared action) come from the curated annotations
(graph/curation)."""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pyoxigraph as ox

from kg import export
from kg.results import term_text
from webapp.repository import Repository
from webapp.sorting import natural_key

# One query per property instead of one query with an OPTIONAL per property: the
# OPTIONALs multiply (countries x actors x programmes rows per action) on a large graph.
ACTIONS = """
SELECT ?a ?kind ?number ?text ?given ?responsibility WHERE {
  ?a a bkd:Action ; bkd:number ?number ; bkd:text ?text .
  OPTIONAL { ?a a bkd:Measure . BIND("measure" AS ?isMeasure) }
  OPTIONAL { ?a a bkd:Annex1Item . BIND("annex1" AS ?isAnnex) }
  BIND(COALESCE(?isMeasure, ?isAnnex, "other") AS ?kind)
  OPTIONAL { ?a bkd:priorityAsGiven ?given }
  OPTIONAL { ?a bkd:responsibility ?responsibility }
}"""
# attribute of Action -> the property (path) that holds its IRIs
SOURCE_PROPERTIES = {"sections": "bkd:inSection", "units": "bkd:planningUnit", "priorities": "bkd:priority",
              "countries": "bkd:concernsCountry", "actors": "bkd:responsibleActorType",
              "programmes": "bkd:inProgramme|bkd:takenFrom|bkd:toBeIntegratedInto"}
# derived by the build's rules (graph/inferred): the countries of the sites of the
# action's planning unit, apart from the countries its text names (issue 11)
DERIVED_PROPERTIES = {"unit_countries": "bkd:concernsCountryViaPlanningUnit"}
# curated annotations (issue 5): only their IRI values count
# the Annex 1 items an action feeds, as the same action (the CSV's annex_items) or in part
# (annex_items_in_part)
CURATED = {"themes": "bkd:theme", "action_classes": "bkd:actionClass", "threats": "bkd:threatClass",
           "shared": "bkd:sharedAction", "annex_items": "bkd:coveredByAnnexItem",
           "annex_items_in_part": "bkd:contributesToAnnexItem"}
PROPERTIES = {**SOURCE_PROPERTIES, **DERIVED_PROPERTIES, **CURATED}
# one query per property, written once from the constants above
PROPERTY_QUERIES = {attr: f"SELECT ?a ?v WHERE {{ ?a {prop} ?v . {'FILTER(isIRI(?v))' if attr in CURATED else ''} }}"
                    for attr, prop in PROPERTIES.items()}

# filter name -> attribute of Action holding IRIs; values in URLs are the IRI's last segment
FACETS = {"unit": "units", "priority": "priorities", "country": "countries", "actor": "actors",
          "section": "sections", "programme": "programmes", "unit_country": "unit_countries",
          # curated annotations (issue 5)
          "theme": "themes", "action_class": "action_classes", "threat": "threats", "shared": "shared",
          # Annex 1 item numbers (annex=1.1): fed as the same action, or in part
          "annex": "annex_items", "annex_part": "annex_items_in_part"}
# how the country filter reads a country (URL parameter country_scope): named in the
# text (bkd:concernsCountry), through the planning unit's sites
# (bkd:concernsCountryViaPlanningUnit), or either; "text" when absent or unknown
COUNTRY_SCOPES = {"text": "named in the text", "unit": "through the planning unit", "either": "either"}
KIND_ORDER = {"measure": 0, "annex1": 1}
MAX_OPTIONS = 200  # a filter <select> lists at most this many values (the most frequent)
CSV_BATCH = 500    # actions per export query when streaming a CSV download


@dataclass
class Action:
    """One action; the IRI collections are sorted tuples (hundreds of thousands of
    actions: a tuple is a quarter of the size of a set, and the empty one is shared)."""
    iri: str
    kind: str
    number: str
    text: str
    given: str = ""
    responsibility: str = ""  # as printed
    units: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()        # named in the text
    unit_countries: tuple[str, ...] = ()   # of the sites of its planning unit (derived)
    actors: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    action_classes: tuple[str, ...] = ()
    threats: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    annex_items: tuple[str, ...] = ()          # Annex 1 items it feeds as the same action
    annex_items_in_part: tuple[str, ...] = ()  # Annex 1 items it feeds in part

    @property
    def sort_key(self) -> tuple:
        return (KIND_ORDER.get(self.kind, 2), *natural_key(self.number))


class ActionTable:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        shared: dict[str, str] = {}  # one string object per distinct IRI (memory on large graphs)
        by_iri: dict[str, Action] = {}
        for r in repo.store.query(ACTIONS):
            iri = r["a"].value
            if iri not in by_iri:
                by_iri[iri] = Action(iri, r["kind"].value, r["number"].value, r["text"].value)
            if r["given"] is not None:
                by_iri[iri].given = shared.setdefault(r["given"].value, r["given"].value)
            if r["responsibility"] is not None and not by_iri[iri].responsibility:
                by_iri[iri].responsibility = shared.setdefault(r["responsibility"].value, r["responsibility"].value)
        for attr in PROPERTIES:
            values: dict[str, set[str]] = {}
            for r in repo.store.query(PROPERTY_QUERIES[attr]):
                a = r["a"].value
                if a in by_iri:
                    v = r["v"].value
                    values.setdefault(a, set()).add(shared.setdefault(v, v))
            for a, vs in values.items():
                setattr(by_iri[a], attr, tuple(sorted(vs)))
        self.rows: list[Action] = sorted(by_iri.values(), key=lambda a: a.sort_key)
        self.by_iri = by_iri
        self.has_other = any(a.kind == "other" for a in self.rows)
        # attribute -> IRI -> positions in self.rows (ascending), and the same by URL value
        self.positions: dict[str, dict[str, list[int]]] = {attr: {} for attr in PROPERTIES}
        self._kinds: dict[str, list[int]] = {}
        self._givens: dict[str, list[int]] = {}
        for i, a in enumerate(self.rows):
            for attr, index in self.positions.items():
                for iri in getattr(a, attr):
                    index.setdefault(iri, []).append(i)
            self._kinds.setdefault(a.kind, []).append(i)
            self._givens.setdefault(a.given or "none", []).append(i)
        self._by_value: dict[str, dict[str, list[int]]] = {}
        for facet, attr in FACETS.items():
            merged: dict[str, list[int]] = {}
            for iri, pos in self.positions[attr].items():
                merged.setdefault(self.value(facet, iri), []).extend(pos)
            self._by_value[facet] = merged
        either: dict[str, set[int]] = {}
        for facet in ("country", "unit_country"):
            for v, pos in self._by_value[facet].items():
                either.setdefault(v, set()).update(pos)
        self._countries = {"text": self._by_value["country"], "unit": self._by_value["unit_country"],
                           "either": {v: sorted(pos) for v, pos in either.items()}}
        self._hay: list[str] | None = None

    def value(self, facet: str, iri: str) -> str:
        """The short value a URL uses for an IRI: its last path segment, except for
        sections, which need their path (section/2.0 and annex1/section/2.0 differ)."""
        if facet == "section":
            return iri[len(self.repo.base):] if iri.startswith(self.repo.base) else iri
        return iri.rstrip("/").rsplit("/", 1)[-1]

    def with_value(self, attr: str, iri: str) -> list[Action]:
        """The actions whose attribute holds this IRI, in table order (an index lookup)."""
        return [self.rows[i] for i in self.positions[attr].get(iri, ())]

    def of_kind(self, kind: str) -> list[Action]:
        """The actions of one kind ("measure", "annex1", "other"), in table order."""
        return [self.rows[i] for i in self._kinds.get(kind, ())]

    def options(self, facet: str) -> list[tuple[str, str, int]]:
        """(value, label, count) for the values of a facet, for the filter form: at most
        MAX_OPTIONS, the most frequent, in label order (a large graph has tens of
        thousands of sections; nobody picks from such a list, the URL still filters)."""
        counts = {iri: len(pos) for iri, pos in self.positions[FACETS[facet]].items()}
        keep = sorted(counts, key=lambda i: -counts[i])[:MAX_OPTIONS] if len(counts) > MAX_OPTIONS else counts
        opts = [(self.value(facet, i), self.repo.label(i), counts[i]) for i in keep]
        return sorted(opts, key=lambda o: natural_key(o[1]))

    def givens(self) -> list[str]:
        """The priorities as printed ("1", "2-3", "none"), for the filter form."""
        return sorted(self._givens, key=natural_key)

    def filter(self, params: dict[str, list[str]], q: str = "", kind: str = "",
               given: list[str] | None = None, country_scope: str = "text") -> list[Action]:
        """Values within one facet are alternatives (OR); facets combine (AND).
        `given` filters on the priority as printed ("1", "2-3", or "none");
        `country_scope` (a key of COUNTRY_SCOPES) says how the country facet reads a country."""
        chosen: set[int] | None = None
        countries = self._countries.get(country_scope, self._countries["text"])
        groups = [(countries if f == "country" else self._by_value[f], vals) for f, vals in params.items() if vals]
        if kind:
            groups.append(({kind: self._kinds.get(kind, [])}, [kind]))
        if given:
            groups.append((self._givens, given))
        for index, vals in groups:
            hit = {i for v in vals for i in index.get(v, ())}
            chosen = hit if chosen is None else chosen & hit
        needle = q.strip().lower()
        if not needle:
            return self.rows if chosen is None else [self.rows[i] for i in sorted(chosen)]
        hay = self.haystacks()
        candidates = range(len(self.rows)) if chosen is None else sorted(chosen)
        return [self.rows[i] for i in candidates if needle in hay[i]]

    def haystacks(self) -> list[str]:
        """Lower-cased "number text" of every row, for the text filter (built on first use)."""
        if self._hay is None:
            self._hay = [f"{a.number} {a.text}".lower() for a in self.rows]
        return self._hay

    def csv(self, actions: list[Action]) -> Iterator[str]:
        """The `kg export measures` rows of exactly these actions (same columns), as CSV
        text in chunks: one export query per CSV_BATCH actions, so the download of a
        large filtered list streams instead of building every row first."""
        buf = io.StringIO()
        writer = export.csv_writer(buf)  # formula-leading cells neutralised (kg.csvsafe)
        writer.writeheader()
        for start in range(0, len(actions), CSV_BATCH):
            chunk = actions[start:start + CSV_BATCH]
            rows = self._export_rows(chunk)
            writer.writerows(rows[a.iri] for a in chunk if a.iri in rows)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    def _export_rows(self, actions: list[Action]) -> dict[str, dict[str, str]]:
        out = {}
        for sol in self.repo.store.query(export.MEASURES, values={"iri": [ox.NamedNode(a.iri) for a in actions]}):
            row = {c: term_text(sol[c]) for c in export.COLUMNS}
            for c in export.MULTI:  # GROUP_CONCAT order is engine-defined: sorted, as in kg export
                row[c] = export.SEP.join(sorted(filter(None, row[c].split(export.SEP))))
            out[row["iri"]] = row
        return out
