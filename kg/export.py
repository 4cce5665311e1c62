"""Tabular exports: one row per action (Work Programme measure or Annex 1 item).

The columns are the contract for CSV change sets too (a steward can edit an export
and submit rows back), so they are named and ordered here only.

Every CSV of rows is written by `csv_writer` (kg.csvsafe): a cell beginning with
= + - @, a tab or a carriage return gets a leading apostrophe, so that a spreadsheet
does not run it as a formula; kg.csv_import removes it again.
"""
from __future__ import annotations

import io
import json
from typing import IO, cast

import pyoxigraph as ox

from kg import csvsafe
from kg.results import term_text
from kg.store import Store

COLUMNS = ["iri", "programme", "kind", "number", "section", "planning_unit", "priority",
           "responsibility", "actor_types", "countries", "countries_via_planning_unit", "text",
           # curated annotations (data/curation), not source text
           "themes", "iucn_action_classes", "threat_classes", "shared_action",
           "annex_items", "annex_items_in_part"]
# read-only in CSV change sets (kg.csv_import refuses a row that fills one). annex_items:
# the Annex 1 items (numbers) covering the same action (bkd:coveredByAnnexItem);
# annex_items_in_part: those the measure contributes to in part (bkd:contributesToAnnexItem)
CURATED = ("themes", "iucn_action_classes", "threat_classes", "shared_action", "annex_items", "annex_items_in_part")
# derived by the build's rules (graph/inferred), read-only in CSV change sets too:
# countries_via_planning_unit, the countries of the sites of the action's planning unit
# (bkd:concernsCountryViaPlanningUnit; `countries` are those its text names)
DERIVED = ("countries_via_planning_unit",)
READ_ONLY = CURATED + DERIVED

SEP = "; "
MULTI = ("actor_types", "countries", "countries_via_planning_unit", "themes", "iucn_action_classes",
         "threat_classes", "annex_items", "annex_items_in_part")

MEASURES = """
SELECT ?iri ?programme ?kind ?number ?section ?planning_unit ?priority ?responsibility
       (GROUP_CONCAT(DISTINCT ?actorLabel; separator="; ") AS ?actor_types)
       (GROUP_CONCAT(DISTINCT ?countryCode; separator="; ") AS ?countries)
       (GROUP_CONCAT(DISTINCT ?unitCountryCode; separator="; ") AS ?countries_via_planning_unit) ?text
       (GROUP_CONCAT(DISTINCT ?themeLabel; separator="; ") AS ?themes)
       (GROUP_CONCAT(DISTINCT ?actionCode; separator="; ") AS ?iucn_action_classes)
       (GROUP_CONCAT(DISTINCT ?threatCode; separator="; ") AS ?threat_classes) ?shared_action
       (GROUP_CONCAT(DISTINCT ?annexSame; separator="; ") AS ?annex_items)
       (GROUP_CONCAT(DISTINCT ?annexPart; separator="; ") AS ?annex_items_in_part)
WHERE {
  ?iri a bkd:Action ; bkd:number ?number ; bkd:text ?text ; bkd:inProgramme ?prog .
  ?prog rdfs:label ?programme .
  OPTIONAL { ?iri bkd:inSection/rdfs:label ?section }
  { ?iri a bkd:Measure . BIND("measure" AS ?kind) } UNION { ?iri a bkd:Annex1Item . BIND("annex1" AS ?kind) }
  UNION { ?iri a bkd:ProgrammeAction . BIND("programme-action" AS ?kind) }
  OPTIONAL { ?iri bkd:theme/skos:prefLabel ?themeLabel }
  OPTIONAL { ?iri bkd:actionClass/skos:notation ?actionCode }
  OPTIONAL { ?iri bkd:threatClass/skos:notation ?threatCode }
  OPTIONAL { ?iri bkd:sharedAction/rdfs:label ?shared_action }
  OPTIONAL { ?iri bkd:coveredByAnnexItem/bkd:number ?annexSame }
  OPTIONAL { ?iri bkd:contributesToAnnexItem/bkd:number ?annexPart }
  OPTIONAL { ?iri bkd:planningUnit/rdfs:label ?planning_unit }
  OPTIONAL { ?iri bkd:priorityAsGiven ?priority }
  OPTIONAL { ?iri bkd:responsibility ?responsibility }
  OPTIONAL { ?iri bkd:responsibleActorType/skos:prefLabel ?actorLabel }
  OPTIONAL { ?iri bkd:concernsCountry/skos:notation ?countryCode }
  OPTIONAL { ?iri bkd:concernsCountryViaPlanningUnit/skos:notation ?unitCountryCode }
}
GROUP BY ?iri ?programme ?kind ?number ?section ?planning_unit ?priority ?responsibility ?text ?shared_action
"""


def _number_key(number: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in number.split("."))


def measures(store: Store) -> list[dict[str, str]]:
    rows = [{c: term_text(sol[c]) for c in COLUMNS} for sol in cast(ox.QuerySolutions, store.query(MEASURES))]
    for r in rows:  # GROUP_CONCAT order is engine-defined: sort for stable output
        for c in MULTI:
            r[c] = SEP.join(sorted(filter(None, r[c].split(SEP))))
    order = {"measure": 0, "annex1": 1}
    rows.sort(key=lambda r: (order.get(r["kind"], 2), r["programme"], _number_key(r["number"])))
    return rows


def csv_writer(out: IO[str]) -> csvsafe.DictWriter:
    """The writer of every CSV of rows (here and the web's download): COLUMNS, with
    formula-leading cells neutralised."""
    return csvsafe.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")


def to_csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv_writer(buf)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_json(rows: list[dict[str, str]]) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False)
