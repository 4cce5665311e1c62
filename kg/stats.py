"""Counts of the graph's main kinds of entity, for `kg stats` and the home page."""
from __future__ import annotations

from typing import cast

import pyoxigraph as ox

from kg.store import Store

KINDS = [
    ("measures", "bkd:Measure"), ("annex_items", "bkd:Annex1Item"), ("sections", "bkd:Section"),
    ("programmes", "bkd:Programme"), ("planning_units", "bkd:PlanningUnit"),
    ("populations", "bkd:Population"), ("sites", "bkd:Site"), ("places", "bkd:Place"),
    ("hotspots", "bkd:TransboundaryHotspot"), ("countries", "bkd:Country"),
    ("actor_types", "bkd:ActorType"), ("footnotes", "bkd:Footnote"),
    ("quality_notes", "bkd:DataQualityNote"),
    ("transboundary_measures", "bkd:TransboundaryMeasure"),
    ("private_sector_measures", "bkd:PrivateSectorMeasure"),
]


def counts(store: Store) -> dict[str, int]:
    values = " ".join(f'("{name}" {cls})' for name, cls in KINDS)
    q = f"""SELECT ?name (COUNT(DISTINCT ?x) AS ?n) WHERE {{
        VALUES (?name ?class) {{ {values} }}
        OPTIONAL {{ ?x a ?class }} }} GROUP BY ?name"""
    found = {sol["name"].value: int(sol["n"].value) for sol in cast(ox.QuerySolutions, store.query(q))}
    out = {name: found.get(name, 0) for name, _ in KINDS}
    out["triples"] = len(store)
    return out
