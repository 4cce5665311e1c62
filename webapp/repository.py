"""Read access to the built graph for the web app: SPARQL on the store, plus the
labels every page needs.

The labels of all entities are read once, in a background thread, so that the server
answers at once whatever the size of the graph (a million-triple graph takes seconds
to scan); until they are in, a label is looked up per IRI through the store's index."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from kg.config import settings
from kg.store import Store, open_store

LABEL_PROPS = ("http://www.w3.org/2004/02/skos/core#prefLabel",
               "http://www.w3.org/2000/01/rdf-schema#label",
               "http://purl.org/dc/terms/title")
ALL_LABELS = ("SELECT ?s ?l ?rank WHERE { VALUES (?p ?rank) { "
              + " ".join(f"(<{p}> {i})" for i, p in enumerate(LABEL_PROPS))
              + ' } ?s ?p ?l . FILTER(isIRI(?s) && (LANG(?l) = "" || LANGMATCHES(LANG(?l), "en"))) }')


def named_node(iri: str) -> ox.NamedNode | None:
    """The IRI as a term for a query binding, or None when the text is not a valid
    absolute IRI (a hostile or mistyped request path): such a path names nothing."""
    try:
        return ox.NamedNode(iri)
    except ValueError:
        return None


@dataclass
class Repository:
    store: Store
    dist: Path
    base: str
    _labels: dict[str, str] = field(default_factory=dict)
    _ready: threading.Event = field(default_factory=threading.Event)
    _early: dict[str, str] = field(default_factory=dict)  # per-IRI lookups before _labels is in

    @classmethod
    def load(cls, dist: Path, wait: bool = False) -> Repository:
        repo = cls(open_store(dist), dist, settings().base)
        loader = threading.Thread(target=repo._load_labels, name="labels", daemon=True)
        loader.start()
        if wait:
            loader.join()
        return repo

    def _load_labels(self) -> None:
        try:
            self._labels = self._all_labels()
        finally:
            self._ready.set()

    @property
    def labels(self) -> dict[str, str]:
        """Every entity's label (waits for the background load)."""
        self._ready.wait()
        return self._labels

    def _all_labels(self) -> dict[str, str]:
        """One label per IRI (preferring skos:prefLabel, English or untagged)."""
        best: dict[str, tuple[int, str]] = {}
        for sol in self.store.query(ALL_LABELS):
            s, rank = sol["s"].value, int(sol["rank"].value)
            if s not in best or rank < best[s][0]:
                best[s] = (rank, sol["l"].value)
        return {s: l for s, (_, l) in best.items()}

    def label(self, iri: str) -> str:
        known = self._labels if self._ready.is_set() else self._early_label(iri)
        if iri in known:
            return known[iri]
        if iri.startswith(self.base):
            return iri[len(self.base):]
        return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri

    def _early_label(self, iri: str) -> dict[str, str]:
        """The label of one IRI by index lookups, while all labels are being loaded."""
        if iri not in self._early and iri.startswith(("http://", "https://")) and named_node(iri) is not None:
            best: tuple[int, str] | None = None
            for rank, prop in enumerate(LABEL_PROPS):
                for q in self.store.quads(ox.NamedNode(iri), ox.NamedNode(prop), None):
                    lit = q.object
                    if isinstance(lit, ox.Literal) and (not lit.language or lit.language.lower().startswith("en")):
                        if best is None or rank < best[0]:
                            best = (rank, lit.value)
            if best is not None:
                self._early[iri] = best[1]
        return self._early

    def select(self, sparql: str, **bindings: ox.NamedNode | ox.Literal
               ) -> list[dict[str, ox.NamedNode | ox.Literal | ox.BlankNode | None]]:
        """The solutions of a SELECT as dicts; keyword arguments pre-bind variables
        (the only way a request's value enters a query: kg.store.Store.query)."""
        res = self.store.query(sparql, bindings=bindings)
        names = [v.value for v in res.variables]
        return [{n: sol[n] for n in names} for sol in res]

    def local_path(self, iri: str) -> str | None:
        """The app path of an entity IRI under the base, e.g. /measure/2.10."""
        return "/" + iri[len(self.base):] if iri.startswith(self.base) else None
