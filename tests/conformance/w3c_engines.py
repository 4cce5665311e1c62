"""One test on one engine, through the project's Store interface (kg.store.Store).

Each test's files are loaded the way the project loads a built graph: as N-Quads, one
named graph per file, named by the file's IRI (w3c_manifest.iri_of) (memory: MemoryStore.from_file, i.e.
rdflib's N-Quads parser; oxigraph: OxigraphStore.in_memory, i.e. Oxigraph's bulk
loader; sparql: the server holds every test file once, pushed up front by the Graph
Store Protocol with SparqlStore.replace_graphs).

The project's stores take the union of their named graphs as the default graph; a
W3C test needs exactly its qt:data files there. So the test's dataset is given as
the SPARQL Protocol's dataset, Store.query(default_graph=[qt:data IRIs],
named_graphs=[qt:graphData IRIs]), unless the query names its own dataset (FROM /
FROM NAMED): then no dataset is given, and the query's must apply.
"""
from __future__ import annotations

import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from w3c_manifest import TestCase, iri_of, path_of, root_of
from w3c_query import dataset_clause, text_with_base
from w3c_results import Answer, Boolean, Solutions, Triples, from_oxigraph

ENGINES = ("memory", "oxigraph", "sparql")
RDF_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".rdf": ox.RdfFormat.RDF_XML}


@dataclass(frozen=True)
class Plan:
    """The files a test needs in the store, and the dataset to ask for."""
    files: tuple[Path, ...]
    default_graph: list[str] | None
    named_graphs: list[str] | None


def plan(case: TestCase) -> Plan:
    own = dataset_clause(case.query)
    if own:
        root = root_of(case.query)
        files = {*case.data, *case.graph_data, *(path_of(i, root) for i in own.default + own.named)}
        return Plan(tuple(sorted(files)), None, None)
    return Plan(tuple(sorted({*case.data, *case.graph_data})),
                [iri_of(p) for p in case.data], [iri_of(p) for p in case.graph_data])


def read_graph(path: Path) -> list[ox.Triple]:
    """The triples of one data file (Oxigraph's parsers), its blank nodes labelled
    apart from every other file's, as separate documents have separate blank nodes."""
    tag = f"f{zlib.crc32(iri_of(path).encode()):08x}x"

    def relabel(t):
        return ox.BlankNode(tag + t.value) if isinstance(t, ox.BlankNode) else t

    return [ox.Triple(relabel(q.subject), q.predicate, relabel(q.object))
            for q in ox.parse(path=str(path), format=RDF_FORMATS[path.suffix.lower()], base_iri=iri_of(path))]


class Loader:
    """Data files read once per process, as N-Quads of their own named graph."""

    def __init__(self) -> None:
        self._nquads: dict[Path, bytes] = {}

    def nquads(self, files: tuple[Path, ...]) -> bytes:
        out = []
        for path in files:
            if path not in self._nquads:
                g = ox.NamedNode(iri_of(path))
                quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in read_graph(path)]
                self._nquads[path] = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
            out.append(self._nquads[path])
        return b"".join(out)


def open_store(engine: str, case_plan: Plan, loader: Loader, remote=None, workdir: Path | None = None):
    """A kg.store.Store of the given engine holding the test's files."""
    if engine == "oxigraph":
        from kg.stores.oxigraph import OxigraphStore

        return OxigraphStore.in_memory(data=loader.nquads(case_plan.files))
    if engine == "memory":
        from kg.stores.memory import MemoryStore

        with tempfile.NamedTemporaryFile(suffix=".nq", dir=workdir, delete=False) as f:
            f.write(loader.nquads(case_plan.files))
        try:
            return MemoryStore.from_file(Path(f.name))
        finally:
            Path(f.name).unlink()
    if engine == "sparql":
        from kg.stores.sparql import SparqlStore

        return SparqlStore(remote)
    raise ValueError(f"unknown engine {engine}")


def to_answer(result) -> Answer:
    """The engine's pyoxigraph result object as a plain answer."""
    if isinstance(result, ox.QueryBoolean):
        return Boolean(bool(result))
    if isinstance(result, ox.QueryTriples):
        return Triples([tuple(from_oxigraph(x) for x in (t.subject, t.predicate, t.object)) for t in result])
    variables = tuple(v.value for v in result.variables)
    rows = []
    for sol in result:
        row = {}
        for v in variables:
            term = sol[v]
            if term is not None:
                row[v] = from_oxigraph(term)
        rows.append(row)
    return Solutions(variables, rows)


def run(engine: str, case: TestCase, loader: Loader, remote=None) -> Answer:
    """Run one test's query on a fresh store of the engine; exceptions propagate."""
    p = plan(case)
    store = open_store(engine, p, loader, remote)
    try:
        return to_answer(store.query(text_with_base(case.query),
                                     default_graph=p.default_graph, named_graphs=p.named_graphs))
    finally:
        store.close()
