"""The query store: the built dataset loaded into an embedded Oxigraph store.

Oxigraph answers this graph's queries in well under a millisecond where rdflib's
SPARQL engine needs tens of milliseconds, so every read path (CLI, exports, web)
goes through here. The store is rebuilt from dist/ (itself rebuilt from files).
"""
from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox

from kg.config import settings
from kg.errors import BadInput, KGError

PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "wd": "http://www.wikidata.org/entity/",
}

_UPDATE = re.compile(r"^\s*(?:(?:PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)\s*)*"
                     r"(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.I)


def prefixes() -> dict[str, str]:
    """Prefixes predefined for every query: the standard ones plus bkd: and bkdi:."""
    s = settings()
    return {**PREFIXES, "bkd": s.ontology_ns, "bkdi": s.base}


class Store:
    """Read-only access to the built graph (the union of its named graphs)."""

    def __init__(self, ox_store: ox.Store) -> None:
        self._store = ox_store

    @classmethod
    def open(cls, dist: Path | None = None) -> "Store":
        path = (dist or settings().dist) / "dataset.nq"
        if not path.exists():
            raise KGError(f"no built graph at {path}: run `kg build` first")
        store = ox.Store()
        store.bulk_load(path=str(path), format=ox.RdfFormat.N_QUADS)
        return cls(store)

    @property
    def ox(self) -> ox.Store:
        """The underlying Oxigraph store, for index lookups that need no SPARQL text."""
        return self._store

    def __len__(self) -> int:
        return len(self._store)

    def query(self, sparql: str):
        """Run a read-only SPARQL query; a syntax error or an update is bad input."""
        if is_update(sparql):
            raise BadInput("updates are not allowed: this store is read-only "
                           "(change the data files and run `kg build`)")
        try:
            return self._store.query(settings().rebase(sparql), prefixes=prefixes(),
                                     use_default_graph_as_union=True)
        except SyntaxError as e:
            raise BadInput(syntax_message(sparql, str(e))) from None


def is_update(sparql: str) -> bool:
    return bool(_UPDATE.match(_strip_comments(sparql)))


def _strip_comments(sparql: str) -> str:
    return "\n".join(line for line in sparql.splitlines() if not line.lstrip().startswith("#"))


def syntax_message(sparql: str, error: str) -> str:
    """One readable line from Oxigraph's parser error: where, what it expected, and
    the text at that point. Its raw message lists Unicode character classes."""
    m = re.match(r"error at (\d+):(\d+): (.*)", error, re.S)
    if not m:
        return f"SPARQL syntax error: {' '.join(error.split())[:300]}"
    line, col, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    if "Prefix not found" in rest:
        what = "unknown prefix (declare it with PREFIX or use a predefined one: " + ", ".join(sorted(prefixes())) + ")"
    else:
        tokens = [t for t in re.findall(r'"[^"]+"|\b[A-Z][A-Za-z]+\b', re.sub(r"\[[^\]]*\]", "", rest))]
        what = "expected " + (", ".join(dict.fromkeys(tokens)) if tokens else "something else")
    lines = sparql.splitlines() or [""]
    near = lines[line - 1][max(0, col - 21):col + 19].strip() if 0 < line <= len(lines) else ""
    return f"SPARQL syntax error at line {line}, column {col}: {what}" + (f" (near \"{near}\")" if near else "")
