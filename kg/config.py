"""Configuration from environment variables, read in one place.

KG_BASE  base IRI of every entity and of the ontology (default
         https://w3id.org/bukhara-deer/). The Turtle files always use the
         default; loading rewrites it, so one setting moves the whole graph.
KG_PROJECT  the project directory (see project() below): where dist/ and the change
         sets are kept, and where ontology/, data/ and queries/ are read from when it has
         them.
KG_DIST  directory the build writes to and the store reads from (default <project>/dist/).
KG_ADDITIONS  directory of accepted change sets (default <project>/data/additions/, or
         <project>/additions/ when the project directory has no sources of its own).
KG_REVIEWS_DIR  directory of the crosswalk review files that the curated links follow
         from (kg.reviews; default data/curation/reviews/ of the sources).
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

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from kg.errors import KGError

DEFAULT_BASE = "https://w3id.org/bukhara-deer/"
# The directory holding the kg package: a source checkout when kg runs from one (plain or
# editable install), site-packages when installed from a wheel (never written to).
CODE_ROOT = Path(__file__).resolve().parent.parent
# Where a wheel carries ontology/, data/ and queries/ (copied there by setup.py at build
# time; a checkout has no such directory).
PACKAGED = Path(__file__).resolve().parent / "_resources"
APP_NAME = "bukhara-deer-kg"


def is_project(directory: Path) -> bool:
    """A directory with the project's layout: the ontology, the data and the queries."""
    return ((directory / "ontology" / "bkd.ttl").is_file() and (directory / "data").is_dir()
            and (directory / "queries").is_dir())


@dataclass(frozen=True)
class Project:
    """Where the sources are read from (root: ontology/, data/, queries/) and where the
    files kg writes go by default (home: dist/, the change sets). They differ only when
    the sources are the read-only copy packaged with the code."""
    root: Path
    home: Path
    sources_elsewhere: bool = False        # home has no sources of its own (no data/ to add to)

    @property
    def additions(self) -> Path:
        return self.home / "additions" if self.sources_elsewhere else self.home / "data" / "additions"


def user_data_dir() -> Path:
    """The per-user directory for builds and change sets of an installed package:
    $XDG_DATA_HOME/bukhara-deer-kg, else ~/.local/share/bukhara-deer-kg."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / APP_NAME


def _code_sources() -> Path | None:
    """The sources that came with the code: its checkout, else the packaged copy."""
    if is_project(CODE_ROOT):
        return CODE_ROOT
    return PACKAGED if is_project(PACKAGED) else None


def project() -> Project:
    """The project directory for the current environment and working directory (see
    _project; cached per those, since settings() is read on every query)."""
    try:
        cwd = os.getcwd()
    except OSError:  # the working directory was deleted: nothing to find from it
        cwd = "/"
    return _project(os.environ.get("KG_PROJECT", "").strip(), cwd,
                    os.environ.get("XDG_DATA_HOME", ""), os.environ.get("HOME", ""))


@functools.lru_cache(maxsize=16)
def _project(given: str, cwd: str, _xdg: str, _home: str) -> Project:
    """The one place that decides the project directory, in this order:
    1. KG_PROJECT: that directory (its own sources when it has the layout, else the
       sources that came with the code);
    2. the working directory or the nearest parent with the project layout (a checkout);
    3. the checkout the code runs from (a source or editable install);
    4. the sources packaged in the wheel, read-only, with dist/ and the change sets in
       the per-user data directory (user_data_dir), never inside site-packages.
    Only computes paths: nothing is created here."""
    if given:
        home = Path(given).expanduser().resolve()
        if is_project(home):
            return Project(home, home)
        sources = _code_sources()
        if sources is None:
            raise KGError(f"KG_PROJECT={home} has no ontology/, data/ and queries/, "
                          "and the installed package carries none")
        return Project(sources, home, sources_elsewhere=True)
    here = Path(cwd).resolve()
    for d in (here, *here.parents):
        if is_project(d):
            return Project(d, d)
    if is_project(CODE_ROOT):
        return Project(CODE_ROOT, CODE_ROOT)
    if is_project(PACKAGED):
        return Project(PACKAGED, user_data_dir(), sources_elsewhere=True)
    raise KGError("no project directory: set KG_PROJECT, or run kg inside a checkout "
                  "(a directory with ontology/, data/ and queries/)")


# Kept for code that means "the sources" (benchmarks, older imports): the checkout the
# code runs from. Use settings().root for the sources actually in use.
ROOT = CODE_ROOT


@dataclass(frozen=True)
class Settings:
    base: str
    root: Path                             # the sources: ontology/, data/, queries/
    dist: Path
    additions: Path
    max_addition_bytes: int
    max_addition_entities: int = 2_000
    store: str = "oxigraph"
    oxigraph_dir: Path | None = None
    sparql: SparqlSettings | None = None
    reviews: Path | None = None            # None: <data>/curation/reviews
    home: Path | None = None               # the project directory (dist/, change sets); None: root

    @property
    def project_dir(self) -> Path:
        """Where dist/ and the change sets go by default (the checkout, or the per-user
        directory of an installed package)."""
        return self.home or self.root

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
    proj = project()
    dist = Path(os.environ.get("KG_DIST") or proj.home / "dist")
    additions = Path(os.environ.get("KG_ADDITIONS") or proj.additions)
    max_bytes = int(os.environ.get("KG_MAX_ADDITION_BYTES", str(5 * 1024 * 1024)))
    max_entities = int(os.environ.get("KG_MAX_ADDITION_ENTITIES", "2000"))
    store = os.environ.get("KG_STORE", "oxigraph").strip().lower() or "oxigraph"
    ox_dir = Path(os.environ["KG_OXIGRAPH_DIR"]) if os.environ.get("KG_OXIGRAPH_DIR") else None  # None: <dist>/oxigraph
    reviews = Path(os.environ["KG_REVIEWS_DIR"]) if os.environ.get("KG_REVIEWS_DIR") else None
    return Settings(base=base, root=proj.root, home=proj.home, dist=dist, additions=additions,
                    max_addition_bytes=max_bytes, max_addition_entities=max_entities,
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
