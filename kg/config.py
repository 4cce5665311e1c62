"""Configuration from environment variables, read in one place.

KG_BASE  base IRI of every entity and of the ontology (default
         https://w3id.org/bukhara-deer/). The Turtle files always use the
         default; loading rewrites it, so one setting moves the whole graph.
KG_DIST  directory the build writes to and the store reads from (default dist/).
KG_ADDITIONS  directory of accepted change sets (default data/additions/).
KG_REVIEWS_DIR  directory of the crosswalk review files that the curated links follow
         from (kg.reviews; default data/curation/reviews/).
KG_MAX_ADDITION_BYTES  largest change-set file accepted (default 5 MB).
KG_MAX_ADDITION_ENTITIES  most entities (distinct subjects) in one addition (default
         2,000): checked before any other work, so one upload cannot hold the
         writer lock for minutes.
KG_STORE  the query store (kg.store): oxigraph (default; persistent, on disk in
          KG_OXIGRAPH_DIR, default <KG_DIST>/oxigraph), memory (rdflib, loaded from
          <KG_DIST>/dataset.nq at start) or sparql (a SPARQL 1.1 server:
          KG_SPARQL_QUERY_URL, KG_SPARQL_UPDATE_URL, KG_SPARQL_GSP_URL,
          KG_SPARQL_USER, KG_SPARQL_PASSWORD, KG_SPARQL_TIMEOUT seconds).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE = "https://w3id.org/bukhara-deer/"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    base: str
    root: Path
    dist: Path
    additions: Path
    max_addition_bytes: int
    max_addition_entities: int = 2_000
    store: str = "oxigraph"
    oxigraph_dir: Path | None = None
    sparql: "SparqlSettings | None" = None
    reviews: Path | None = None            # None: <data>/curation/reviews

    @property
    def ontology_dir(self) -> Path:
        return self.root / "ontology"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def reviews_dir(self) -> Path:
        return self.reviews or self.data_dir / "curation" / "reviews"

    @property
    def queries_dir(self) -> Path:
        return self.root / "queries"

    @property
    def source_text(self) -> Path:
        return self.data_dir / "source" / "UNEP-CMS-BKD-MOS3-Doc.4.txt"

    @property
    def ontology_ns(self) -> str:
        return self.base + "ontology#"

    def rebase(self, text: str) -> str:
        """Move every default-base IRI in a Turtle or SPARQL text to the configured base."""
        return text if self.base == DEFAULT_BASE else text.replace(DEFAULT_BASE, self.base)


STORE_KINDS = ("oxigraph", "memory", "sparql")


@dataclass(frozen=True)
class SparqlSettings:
    """Where a SPARQL 1.1 server answers: query (Protocol), update and Graph Store
    Protocol endpoints, with optional credentials (HTTP Basic or Digest)."""
    query_url: str
    update_url: str
    gsp_url: str
    user: str | None
    password: str | None
    timeout: float


def _sparql_settings() -> SparqlSettings | None:
    query = os.environ.get("KG_SPARQL_QUERY_URL", "").strip()
    if not query:
        return None
    return SparqlSettings(
        query_url=query,
        update_url=os.environ.get("KG_SPARQL_UPDATE_URL", "").strip() or query,
        gsp_url=os.environ.get("KG_SPARQL_GSP_URL", "").strip(),
        user=os.environ.get("KG_SPARQL_USER") or None,
        password=os.environ.get("KG_SPARQL_PASSWORD") or None,
        timeout=float(os.environ.get("KG_SPARQL_TIMEOUT", "60")))


def settings() -> Settings:
    """Current settings; read on every call so tests can change the environment."""
    base = os.environ.get("KG_BASE", DEFAULT_BASE)
    if not base.endswith(("/", "#")):
        base += "/"
    dist = Path(os.environ.get("KG_DIST", ROOT / "dist"))
    additions = Path(os.environ.get("KG_ADDITIONS", ROOT / "data" / "additions"))
    max_bytes = int(os.environ.get("KG_MAX_ADDITION_BYTES", str(5 * 1024 * 1024)))
    max_entities = int(os.environ.get("KG_MAX_ADDITION_ENTITIES", "2000"))
    store = os.environ.get("KG_STORE", "oxigraph").strip().lower() or "oxigraph"
    ox_dir = Path(os.environ["KG_OXIGRAPH_DIR"]) if os.environ.get("KG_OXIGRAPH_DIR") else None  # None: <dist>/oxigraph
    reviews = Path(os.environ["KG_REVIEWS_DIR"]) if os.environ.get("KG_REVIEWS_DIR") else None
    return Settings(base=base, root=ROOT, dist=dist, additions=additions, max_addition_bytes=max_bytes,
                    max_addition_entities=max_entities,
                    store=store, oxigraph_dir=ox_dir, sparql=_sparql_settings(), reviews=reviews)


@dataclass(frozen=True)
class QueryLimits:
    """Bounds every SPARQL query is held to before an engine sees it (kg.sparql_forms):
    KG_QUERY_MAX_LENGTH characters (default 100,000) and KG_QUERY_MAX_DEPTH levels of
    nested brackets (default 64; Oxigraph's recursive parser crashes the process on a
    few thousand)."""
    max_length: int
    max_depth: int


def query_limits() -> QueryLimits:
    return QueryLimits(max_length=int(os.environ.get("KG_QUERY_MAX_LENGTH", "100000")),
                       max_depth=int(os.environ.get("KG_QUERY_MAX_DEPTH", "64")))
