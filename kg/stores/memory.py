"""The rdflib engine: the built dataset in an in-memory rdflib Dataset.

For tests and tiny graphs: nothing to install or start, but rdflib's pure-Python SPARQL
engine is orders of magnitude slower than Oxigraph on large graphs (docs/benchmarks.md).
Results are turned into pyoxigraph result objects through the SPARQL JSON results
format, so callers see the same types as from the other engines.

The dataset of a query is built here, never by rdflib: rdflib treats FROM <iri> of a
graph it does not hold (or an empty one) as an address to download and parse, so
`FROM <urn:no-such-graph>` failed and `FROM <http://…>` made a request. The query's
dataset clause is read from rdflib's parse and then removed, and the query runs on
a dataset of the graphs the store holds (kg.store.Store.query says which).

Literals are kept as written. rdflib's parsers rewrite a typed literal to a canonical
lexical form while reading ("01"^^xsd:integer becomes "1") unless the process-wide
rdflib.NORMALIZE_LITERALS is off, which would change every other rdflib user in the
process (the build, SHACL, other threads). So the dataset is read by Oxigraph's
parser, which changes nothing, and each literal is made with normalize=False
(from_ox below): queries see the terms the graph holds, and comparisons by value
(FILTER, ORDER BY) still work because rdflib computes a literal's value either way.
The constants of a query are still canonicalised by rdflib's SPARQL parser, so a
pattern constant written otherwise (`+5`, `1.0e0`) matches nothing here
(tests/conformance/expected-failures.txt: basic#term-8, expr-equals#eq-graph-2).
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, Literal, URIRef, Variable
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.sparql import NotBoundError

from kg import terms
from kg.stores.base import (
    Engine,
    QueryFailed,
    Result,
    Store,
    Term,
    dataset_file,
    prefixes,
    query_base,
    query_form,
    triples_result,
)
from kg.terms import to_ox

_RDFLIB = threading.Lock()


class MemoryStore(Store):
    kind = "memory"

    def __init__(self, ds: Dataset, generation: str = "") -> None:
        self._ds = ds
        self._generation = generation

    @classmethod
    def from_file(cls, dataset_nq: Path) -> MemoryStore:
        store = cls(Dataset(default_union=True), generation=str(dataset_nq.stat().st_mtime_ns))
        store.load(dataset_nq)
        return store

    def _query(self, sparql: str, default_graph, named_graphs, bindings, own_dataset: bool = False) -> Result:
        with _RDFLIB:  # rdflib's SPARQL parser (pyparsing) is not thread-safe
            return self._query_locked(sparql, default_graph, named_graphs, bindings)

    def _query_locked(self, sparql: str, default_graph, named_graphs, bindings) -> Result:
        form = query_form(sparql)  # Oxigraph's parser first: syntax errors read the same everywhere
        try:  # rdflib from here on: whatever it raises is one line (QueryFailed)
            query = prepareQuery(sparql, initNs=prefixes(), base=query_base())
            clause = query.algebra.get("datasetClause") or []
            query.algebra["datasetClause"] = None  # the dataset is chosen here, never loaded by rdflib
            if default_graph is None and named_graphs is None and clause:
                default_graph = [str(d.default) for d in clause if d.get("default") is not None]
                named_graphs = [str(d.named) for d in clause if d.get("named") is not None]
            ds = self._ds if default_graph is None and named_graphs is None else \
                self._restricted(default_graph, named_graphs)
            res = ds.query(query, initBindings={Variable(n): from_ox(t) for n, t in bindings.items()})
            if form is ox.QueryTriples:
                triples = list(cast(Graph, res.graph))
            else:
                body = res.serialize(format="json")
        except Exception as e:  # noqa: BLE001 - a library boundary: reported, never an internal error
            raise QueryFailed(engine_message(e)) from None
        if form is ox.QueryTriples:
            return triples_result(ox.Triple(*(to_ox(x) for x in t)) for t in triples)
        return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)

    def _restricted(self, default_graph: list[str] | None, named_graphs: list[str] | None) -> Dataset:
        """A dataset whose default graph is the merge of default_graph (all graphs if
        None) and whose named graphs are named_graphs (all if None): the Protocol's
        default-graph-uri / named-graph-uri, or the query's FROM / FROM NAMED. A
        graph the store does not hold is empty. The store's own graphs are only read
        (_held), never created: rdflib's Dataset.graph(name) adds an empty graph, which
        GRAPH ?g of later queries would list."""
        ds = Dataset(default_union=False)
        names = [str(c.identifier) for c in self._ds.graphs() if isinstance(c.identifier, URIRef)]
        for g in (default_graph if default_graph is not None else names):
            for t in self._held(g):
                ds.default_graph.add(t)
        for g in (named_graphs if named_graphs is not None else names):
            target = ds.graph(URIRef(g))
            for t in self._held(g):
                target.add(t)
        return ds

    def _held(self, name: str) -> Graph:
        """A read view of the store's graph `name` (empty if the store lacks it); unlike
        Dataset.graph(name), get_context does not add the graph to the store."""
        return self._ds.get_context(URIRef(name))

    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              g: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        pattern = tuple(None if x is None else from_ox(x) for x in (s, p, o))
        ctx = None if g is None else self._held(g.value)
        for qs, qp, qo, qg in self._ds.quads(cast(Any, (*pattern, ctx))):
            name = getattr(qg, "identifier", qg)
            if not isinstance(name, URIRef):
                continue
            yield ox.Quad(to_ox(qs), to_ox(qp), to_ox(qo), ox.NamedNode(str(name)))

    def graph_names(self) -> list[str]:
        return sorted(str(c.identifier) for c in self._ds.graphs()
                      if isinstance(c.identifier, URIRef) and len(c))

    def __len__(self) -> int:
        return sum(len(c) for c in self._ds.graphs())

    def load(self, dataset_nq: Path) -> None:
        """Read the file with Oxigraph's parser and keep every literal as written
        (see the module docstring); blank-node labels are kept too."""
        ds = Dataset(default_union=True)
        graphs: dict[str | None, Graph] = {None: ds.default_context}  # a built dataset has only named graphs

        def quads():
            for q in ox.parse(path=str(dataset_nq), format=ox.RdfFormat.N_QUADS):
                name = q.graph_name.value if isinstance(q.graph_name, ox.NamedNode) else None
                if name not in graphs:
                    graphs[name] = ds.graph(URIRef(cast(str, name)))  # None is in graphs from the start
                yield from_ox(q.subject), from_ox(q.predicate), from_ox(q.object), graphs[name]

        ds.addN(quads())
        self._ds = ds

    def replace_graphs(self, graphs: dict[str, Iterable[ox.Triple] | None]) -> None:
        """rdflib has no transactions: the new triples are converted first, so that a bad
        term fails before anything changes; the graphs are then replaced in turn."""
        new: dict[str, list[Any] | None] = {}
        for name, triples in graphs.items():
            new[name] = None if triples is None else [
                tuple(from_ox(cast(Any, x)) for x in (t.subject, t.predicate, t.object)) for t in triples]
        for name, converted in new.items():
            self._ds.remove_graph(URIRef(name))
            if converted:
                target = self._ds.graph(URIRef(name))
                for t in converted:
                    target.add(t)

    def generation(self) -> str:
        return self._generation


def from_ox(term: Term) -> URIRef | BNode | Literal:
    """An Oxigraph term as rdflib's, a literal with its lexical form as written."""
    return terms.from_ox(term, exact=True)


def engine_message(error: Exception) -> str:
    """One line for an evaluation error of rdflib's SPARQL engine. Its best-known case:
    an aggregate with DISTINCT over a variable that is unbound in some solution (after
    OPTIONAL) makes rdflib raise NotBoundError, where SPARQL 1.1 (section 18.5.1)
    makes that aggregate an error, i.e. unbound, as Oxigraph answers."""
    text = " ".join(str(error).split())[:300]
    hint = ""
    if isinstance(error, NotBoundError):
        hint = (" (rdflib fails on an aggregate with DISTINCT over a variable left unbound by OPTIONAL: "
                "bind it first, e.g. COALESCE(?x, \"\"), or use KG_STORE=oxigraph)")
    return f"the memory engine (rdflib) could not evaluate this query: {type(error).__name__}: {text}{hint}"


class MemoryEngine(Engine):
    kind = "memory"

    def open(self, dist: Path) -> MemoryStore:
        return MemoryStore.from_file(dataset_file(dist))

    def publish(self, dist: Path, prepared: object = None, previous: dict | None = None) -> str:
        return f"in-memory store: reads {dist}/dataset.nq when opened"

    def current_generation(self, dist: Path) -> str:
        try:
            return str((dist / "dataset.nq").stat().st_mtime_ns)
        except FileNotFoundError:
            return ""
