"""One store interface, three engines (KG_STORE): where the built graph is queried.

  oxigraph  embedded, persistent on disk (pyoxigraph): the default. `kg build` loads
            it, `kg serve` reopens it in milliseconds (kg.stores.oxigraph).
  memory    rdflib's in-memory Dataset, loaded from dist/dataset.nq at open: for
            tests and tiny graphs (kg.stores.memory).
  sparql    any SPARQL 1.1 Protocol / Graph Store Protocol server by URL: for
            organisations that already run one (kg.stores.sparql; `kg push`).

Every engine answers the same calls with the same types, so the web app, the CLI,
validation and the steward workflow never ask which one they have:

  query(sparql)      read-only SPARQL with the predefined prefixes; results are
                     pyoxigraph result objects (QuerySolutions, QueryBoolean,
                     QueryTriples) whatever the engine, so there is one result type
                     to format and serialize;
  quads(s, p, o, g)  index lookups (the incremental check);
  graph_names(), load(dataset), replace_graphs({name: triples | None}) (one
                     transaction where the engine has them), __len__.

The dataset a query sees is the same on every engine: without a dataset clause the
default graph is the union of the named graphs and every named graph can be named
in GRAPH; the query's FROM / FROM NAMED restrict it as SPARQL 1.1 section 13.2 says
(a graph the store lacks is empty, never fetched; FROM NAMED alone leaves the default
graph empty); the Protocol's default-graph-uri / named-graph-uri, when given,
replace the query's own clauses (Protocol section 2.1.4).

Syntax is checked by Oxigraph's parser (the other engines run it before sending a
query), so errors read the same (line, column, what was expected) on every backend.

The files in dist/ stay the record of what was built; publish() makes a store show a
newly built dist/ (after `kg build` and after every accepted change set), choosing per
engine how: a new on-disk generation swapped in atomically, or only the named graphs
whose content changed pushed to the server.
"""
from __future__ import annotations

from pathlib import Path

from kg.config import STORE_KINDS, settings
from kg.errors import KGError
from kg.stores.base import (
    PREFIXES,
    Engine,
    QueryFailed,
    Result,
    Store,
    Term,
    check_bindings,
    dataset_file,
    prefixes,
    query_base,
    query_form,
    syntax_message,
    triples_result,
    unknown_function,
    values_block,
    with_base,
    with_bindings,
    with_prefixes,
    with_values_block,
)
from kg.stores.memory import MemoryEngine
from kg.stores.oxigraph import OxigraphEngine
from kg.stores.sparql import SparqlEngine

__all__ = ["ENGINES", "PREFIXES", "Engine", "QueryFailed", "Result", "Store", "Term", "check_bindings",
           "dataset_file", "engine", "open_store", "prefixes", "query_base", "query_form", "syntax_message",
           "triples_result", "unknown_function", "values_block", "with_base", "with_bindings", "with_prefixes",
           "with_values_block"]

# The engine registry: KG_STORE's value -> its engine class (the names kg.config.STORE_KINDS lists).
ENGINES: dict[str, type[Engine]] = {
    "oxigraph": OxigraphEngine,
    "memory": MemoryEngine,
    "sparql": SparqlEngine,
}


def engine(kind: str | None = None) -> Engine:
    """The engine chosen by KG_STORE (or by name), looked up in ENGINES."""
    kind = (kind or settings().store).lower()
    if kind not in ENGINES:
        raise KGError(f"unknown KG_STORE '{kind}' (use one of: {', '.join(STORE_KINDS)})")
    return ENGINES[kind]()


def open_store(dist: Path | None = None, kind: str | None = None) -> Store:
    """The configured store on the graph built in dist/ (default KG_DIST)."""
    return engine(kind).open(Path(dist) if dist else settings().dist)
