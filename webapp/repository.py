"""Read access to the built graph for the web app: SPARQL on the in-process store,
plus the few aggregates every page needs, computed once at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from kg.config import settings
from kg.store import Store, open_store

LABEL_PROPS = ("http://www.w3.org/2004/02/skos/core#prefLabel",
               "http://www.w3.org/2000/01/rdf-schema#label",
               "http://purl.org/dc/terms/title")


@dataclass
class Repository:
    store: Store
    dist: Path
    base: str
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, dist: Path) -> "Repository":
        repo = cls(open_store(dist), dist, settings().base)
        repo.labels = repo._all_labels()
        return repo

    def _all_labels(self) -> dict[str, str]:
        """One label per IRI (preferring skos:prefLabel, English or untagged)."""
        values = " ".join(f"(<{p}> {i})" for i, p in enumerate(LABEL_PROPS))
        q = f"""SELECT ?s ?l ?rank WHERE {{ VALUES (?p ?rank) {{ {values} }} ?s ?p ?l .
                FILTER(isIRI(?s) && (LANG(?l) = "" || LANGMATCHES(LANG(?l), "en"))) }}"""
        best: dict[str, tuple[int, str]] = {}
        for sol in self.store.query(q):
            s, rank = sol["s"].value, int(sol["rank"].value)
            if s not in best or rank < best[s][0]:
                best[s] = (rank, sol["l"].value)
        return {s: l for s, (_, l) in best.items()}

    def label(self, iri: str) -> str:
        if iri in self.labels:
            return self.labels[iri]
        if iri.startswith(self.base):
            return iri[len(self.base):]
        return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri

    def select(self, sparql: str) -> list[dict[str, ox.NamedNode | ox.Literal | ox.BlankNode | None]]:
        res = self.store.query(sparql)
        names = [v.value for v in res.variables]
        return [{n: sol[n] for n in names} for sol in res]

    def local_path(self, iri: str) -> str | None:
        """The app path of an entity IRI under the base, e.g. /measure/2.10."""
        return "/" + iri[len(self.base):] if iri.startswith(self.base) else None
