"""The table of actions (measures, Annex 1 items and, when the graph holds them, actions of
other programmes) behind the measures list, its filters and its CSV download. Loaded once
at start-up; filtering is in memory. Curated facets (theme, classes, shared action) come
from the curated annotations (graph/curation)."""
from __future__ import annotations

from dataclasses import dataclass, field

from kg import export
from webapp.repository import Repository
from webapp.sorting import natural_key

ROWS = """
SELECT ?a ?kind ?number ?text ?section ?unit ?priority ?given ?country ?actor ?programme WHERE {
  ?a a bkd:Action ; bkd:number ?number ; bkd:text ?text .
  OPTIONAL { ?a bkd:inSection ?section }
  OPTIONAL { ?a a bkd:Measure . BIND("measure" AS ?isMeasure) }
  OPTIONAL { ?a a bkd:Annex1Item . BIND("annex1" AS ?isAnnex) }
  BIND(COALESCE(?isMeasure, ?isAnnex, "other") AS ?kind)
  OPTIONAL { ?a bkd:planningUnit ?unit }
  OPTIONAL { ?a bkd:priority ?priority }
  OPTIONAL { ?a bkd:priorityAsGiven ?given }
  OPTIONAL { ?a bkd:concernsCountry ?country }
  OPTIONAL { ?a bkd:responsibleActorType ?actor }
  OPTIONAL { ?a bkd:inProgramme|bkd:takenFrom|bkd:toBeIntegratedInto ?programme }
}"""

# filter name -> attribute of Action holding IRIs; values in URLs are the IRI's last segment
FACETS = {"unit": "units", "priority": "priorities", "country": "countries", "actor": "actors",
          "section": "sections", "programme": "programmes",
          # curated annotations (issue 5)
          "theme": "themes", "action_class": "action_classes", "threat": "threats", "shared": "shared"}
# curated facet attribute -> the property that holds it
CURATED = {"themes": "bkd:theme", "action_classes": "bkd:actionClass", "threats": "bkd:threatClass",
           "shared": "bkd:sharedAction"}
KIND_ORDER = {"measure": 0, "annex1": 1}


@dataclass
class Action:
    iri: str
    kind: str
    number: str
    text: str
    given: str = ""
    units: set[str] = field(default_factory=set)
    priorities: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)
    actors: set[str] = field(default_factory=set)
    sections: set[str] = field(default_factory=set)
    programmes: set[str] = field(default_factory=set)
    themes: set[str] = field(default_factory=set)
    action_classes: set[str] = field(default_factory=set)
    threats: set[str] = field(default_factory=set)
    shared: set[str] = field(default_factory=set)

    @property
    def sort_key(self) -> tuple:
        return (KIND_ORDER.get(self.kind, 2), *natural_key(self.number))


class ActionTable:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        by_iri: dict[str, Action] = {}
        for r in repo.select(ROWS):
            iri = r["a"].value
            a = by_iri.get(iri) or by_iri.setdefault(iri, Action(iri, r["kind"].value, r["number"].value, r["text"].value))
            if r["given"] is not None:
                a.given = r["given"].value
            if r["section"] is not None:
                a.sections.add(r["section"].value)
            for var, attr in (("unit", "units"), ("priority", "priorities"), ("country", "countries"),
                              ("actor", "actors"), ("programme", "programmes")):
                if r[var] is not None:
                    getattr(a, attr).add(r[var].value)
        for attr, prop in CURATED.items():
            for r in repo.select(f"SELECT ?a ?v WHERE {{ ?a {prop} ?v . FILTER(isIRI(?v)) }}"):
                if r["a"].value in by_iri:
                    getattr(by_iri[r["a"].value], attr).add(r["v"].value)
        self.rows = sorted(by_iri.values(), key=lambda a: a.sort_key)
        self.by_iri = by_iri
        self._export: dict[str, dict[str, str]] | None = None

    def value(self, facet: str, iri: str) -> str:
        """The short value a URL uses for an IRI: its last path segment, except for
        sections, which need their path (section/2.0 and annex1/section/2.0 differ)."""
        if facet == "section":
            return iri[len(self.repo.base):] if iri.startswith(self.repo.base) else iri
        return iri.rstrip("/").rsplit("/", 1)[-1]

    def options(self, facet: str) -> list[tuple[str, str, int]]:
        """(value, label, count) for every value of a facet, for the filter form."""
        counts: dict[str, int] = {}
        for a in self.rows:
            for iri in getattr(a, FACETS[facet]):
                counts[iri] = counts.get(iri, 0) + 1
        opts = [(self.value(facet, i), self.repo.label(i), n) for i, n in counts.items()]
        return sorted(opts, key=lambda o: natural_key(o[1]))

    def filter(self, params: dict[str, list[str]], q: str = "", kind: str = "",
               given: list[str] | None = None) -> list[Action]:
        """Values within one facet are alternatives (OR); facets combine (AND).
        `given` filters on the priority as printed ("1", "2-3", or "none")."""
        out = []
        needle = q.strip().lower()
        for a in self.rows:
            if kind and a.kind != kind:
                continue
            if given and (a.given or "none") not in given:
                continue
            if any(vals and not ({self.value(f, i) for i in getattr(a, FACETS[f])} & set(vals))
                   for f, vals in params.items()):
                continue
            if needle and needle not in f"{a.number} {a.text}".lower():
                continue
            out.append(a)
        return out

    def export_rows(self, actions: list[Action]) -> list[dict[str, str]]:
        """The `kg export measures` rows of exactly these actions, same columns."""
        if self._export is None:
            self._export = {r["iri"]: r for r in export.measures(self.repo.store)}
        return [self._export[a.iri] for a in actions if a.iri in self._export]
