"""The default engine: Oxigraph, embedded and persistent on disk.

The store lives in KG_OXIGRAPH_DIR (default dist/oxigraph/) as *generations*:
gen-<stamp>/ is one RocksDB database, bulk-loaded from a built dataset.nq and never
written again; the file CURRENT names the generation in use. Publishing a new build
loads a new generation next to the old one and then replaces CURRENT in one rename,
so readers (the web app, its SPARQL workers, the CLI; each opens read-only) always
see a complete graph, and no reader ever shares a database with a writer (RocksDB
does not allow that). The generation before the current one is kept for readers that
have not yet reopened; older ones are deleted.

Opening notices a dist/ built without the store (its build.json differs from the one
the generation was loaded from) and loads a generation first, so the files in dist/
and the store cannot drift apart.

Datatype fidelity: Oxigraph keeps typed literals in a canonical form of their value:
"2"^^xsd:nonNegativeInteger (every type derived from xsd:integer) comes back as
"2"^^xsd:integer, "02"^^xsd:integer as "2", "1"^^xsd:boolean as "true" (an open
upstream issue, oxigraph/oxigraph#526). Each generation therefore keeps, next to the
database, the quads whose literal Oxigraph would change, as the dataset gives them
(ExactLiterals, written at load with blank-node labels kept, so they match the
database's). quads() and CONSTRUCT/DESCRIBE results put those literals back, so the
graph that comes out is the graph that was built; a SELECT binds the canonical term
(equal in value; see docs/stores.md).
"""
from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pyoxigraph
import pyoxigraph as ox

from kg import manifest, rdfio
from kg.config import settings
from kg.errors import KGError
from kg.stores.base import Engine, Result, Store, Term, dataset_file, prefixes, query_base, triples_result

CURRENT = "CURRENT"
EXACT = "exact-literals.nq"   # in a generation: the quads whose literal Oxigraph canonicalises
_XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_STRING = _XSD + "string"
_XSD_TYPED = b"^^<" + _XSD.encode()


class ExactLiterals:
    """The literals of a dataset that Oxigraph stores in another form, by triple:
    (subject, predicate, canonical literal) -> the literal as the dataset gives it.
    A key two different literals map to (rare: the same subject and predicate with,
    say, "2"^^xsd:int and "2"^^xsd:short) cannot be told apart and is left canonical."""

    def __init__(self) -> None:
        self.quads: list[ox.Quad] = []          # as given, blank-node labels as stored
        self._by_triple: dict[tuple, ox.Literal | None] = {}

    @classmethod
    def scan(cls, quads: Iterable[ox.Quad]) -> ExactLiterals:
        """The quads (of a dataset about to be stored) whose literal Oxigraph changes."""
        found = cls()
        found.add(q for q in quads if _may_change(q.object))
        return found

    def add(self, quads: Iterable[ox.Quad]) -> None:
        quads = [q for q in quads if _may_change(q.object)]
        for q, canon in zip(quads, canonical([cast(ox.Literal, q.object) for q in quads])):  # _may_change: literals
            if canon == q.object:
                continue
            self.quads.append(q)
            key = (q.subject, q.predicate, canon)
            known = self._by_triple.get(key, q.object)
            self._by_triple[key] = cast(ox.Literal, q.object) if known == q.object else None

    def drop_graphs(self, names: set[str]) -> None:
        """Forget the quads of the given graphs (they are being replaced)."""
        kept = [q for q in self.quads if not (isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value in names)]
        self.quads, self._by_triple = [], {}
        self.add(kept)

    def __bool__(self) -> bool:
        return bool(self._by_triple)

    def exact(self, s, p, o):
        """The object as the dataset gives it (o itself when Oxigraph kept it)."""
        if isinstance(o, ox.Literal) and self._by_triple:
            return self._by_triple.get((s, p, o)) or o
        return o

    def write(self, path: Path) -> None:
        rdfio.atomic_write(path, cast(bytes, ox.serialize(self.quads, format=ox.RdfFormat.N_QUADS)))

    @classmethod
    def read(cls, path: Path) -> ExactLiterals:
        found = cls()
        found.add(ox.parse(path=str(path), format=ox.RdfFormat.N_QUADS))
        return found


def _may_change(term) -> bool:
    """A literal of an XSD datatype other than xsd:string: the ones Oxigraph may store
    in a canonical form (language-tagged and plain strings are kept as given)."""
    return (isinstance(term, ox.Literal) and not term.language
            and term.datatype.value.startswith(_XSD) and term.datatype.value != _XSD_STRING)


_PROBE = ox.NamedNode("urn:x-kg:probe")


def canonical(literals: list[ox.Literal]) -> list[ox.Literal]:
    """Each literal as Oxigraph stores it: what a scratch store gives back."""
    st = ox.Store()
    st.extend(ox.Quad(ox.NamedNode(f"urn:x-kg:{i}"), _PROBE, lit) for i, lit in enumerate(literals))
    out: list[ox.Literal] = list(literals)
    for q in st:
        out[int(q.subject.value.rsplit(":", 1)[1])] = q.object
    return out


def load_quads(st: ox.Store, dataset_nq: Path | None = None, data: bytes | None = None) -> ExactLiterals:
    """Bulk-load N-Quads into st keeping the file's blank-node labels (bulk_load would
    rename them), and return the literals Oxigraph changed on the way."""
    kwargs = {"path": str(dataset_nq)} if dataset_nq is not None else {"input": data}
    st.bulk_extend(ox.parse(format=ox.RdfFormat.N_QUADS, **kwargs))
    # only lines with an XSD datatype can change: parse those (N-Quads is one quad a line)
    with (open(dataset_nq, "rb") if dataset_nq is not None else BytesIO(data or b"")) as f:
        typed = b"".join(line for line in f if _XSD_TYPED in line)
    return ExactLiterals.scan(ox.parse(typed, format=ox.RdfFormat.N_QUADS))


class OxigraphStore(Store):
    """A pyoxigraph store: on disk (a generation, read-only) or in memory."""

    kind = "oxigraph"

    def __init__(self, store: ox.Store, generation: str = "", exact: ExactLiterals | None = None) -> None:
        self._store = store
        self._generation = generation
        self._exact = exact if exact is not None else ExactLiterals()

    @classmethod
    def in_memory(cls, dataset_nq: Path | None = None, data: bytes | None = None) -> OxigraphStore:
        """A store in memory (tests, benchmarks, checking before anything is built)."""
        st = ox.Store()
        exact = ExactLiterals()
        if dataset_nq is not None:
            exact.add(load_quads(st, dataset_nq=dataset_nq).quads)
        if data is not None:
            exact.add(load_quads(st, data=data).quads)
        return cls(st, exact=exact)

    @property
    def ox(self) -> ox.Store:
        return self._store

    def _query(self, sparql: str, default_graph, named_graphs, bindings, own_dataset: bool = False) -> Result:
        """The dataset (kg.store.Store.query): with use_default_graph_as_union Oxigraph
        ignores the query's FROM, so the flag is set only when the query names no
        dataset; without it Oxigraph applies FROM / FROM NAMED as SPARQL says. The
        Protocol's lists replace the query's clauses, both parts of them: Oxigraph's
        default_graph alone would keep the query's FROM NAMED, and the reverse."""
        kwargs: dict = {"prefixes": prefixes(), "base_iri": query_base()}
        if bindings:
            kwargs["substitutions"] = {ox.Variable(n): t for n, t in bindings.items()}
        protocol = default_graph is not None or named_graphs is not None
        if protocol or not own_dataset:
            if default_graph is None:
                kwargs["use_default_graph_as_union"] = True
            else:
                kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graph]
            if named_graphs is not None:
                kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
            elif own_dataset:
                kwargs["named_graphs"] = list(self._store.named_graphs())
        result = self._store.query(sparql, **kwargs)
        if isinstance(result, ox.QueryTriples) and self._exact:
            exact = self._exact.exact
            return triples_result(ox.Triple(t.subject, t.predicate, exact(t.subject, t.predicate, t.object))
                                  for t in result)
        return result

    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              g: pyoxigraph.NamedNode | None = None) -> Iterator[pyoxigraph.Quad]:  # the ox property hides ox here
        """Index lookups; literals as the dataset gives them (ExactLiterals). Oxigraph
        matches a pattern's literal by its canonical form, i.e. by value."""
        quads = self._store.quads_for_pattern(cast(Any, s), cast(Any, p), o, g)
        if not self._exact:
            return quads
        exact = self._exact.exact
        return (ox.Quad(q.subject, q.predicate, exact(q.subject, q.predicate, q.object), q.graph_name)
                for q in quads)

    def graph_names(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    def __len__(self) -> int:
        return len(self._store)

    def load(self, dataset_nq: Path) -> None:
        self._store.clear()
        self._exact = load_quads(self._store, dataset_nq=dataset_nq)

    def replace_graphs(self, graphs: dict[str, Iterable[pyoxigraph.Triple] | None]) -> None:
        """One SPARQL Update request: Oxigraph runs it as one transaction. INSERT DATA
        gives blank nodes new labels, so only the exact literals of triples without
        blank nodes are remembered for the new graphs."""
        ops, added = [], []
        for name, triples in graphs.items():
            ops.append(f"DROP SILENT GRAPH <{name}>")
            if triples is not None:
                triples = list(triples)
                added += [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(name)) for t in triples
                          if isinstance(t.subject, ox.NamedNode)]
                body = cast(bytes, ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)).decode()
                if body.strip():
                    ops.append(f"INSERT DATA {{ GRAPH <{name}> {{\n{body}}} }}")
        if ops:
            self._store.update(" ;\n".join(ops))
            self._exact.drop_graphs(set(graphs))
            self._exact.add(added)

    def generation(self) -> str:
        return self._generation

    def close(self) -> None:
        self._store = ox.Store()  # drops the reference to the database (closes it)


class OxigraphEngine(Engine):
    kind = "oxigraph"

    def root(self, dist: Path) -> Path:
        """KG_OXIGRAPH_DIR, or oxigraph/ inside the dist/ being opened."""
        return settings().oxigraph_dir or Path(dist) / "oxigraph"

    def open(self, dist: Path) -> OxigraphStore:
        root = self.root(dist)
        gen = current(root)
        if gen is None or not _shows(root / gen, dist):
            dataset_file(dist)  # no build: say so before the lock creates any directory
            gen = self._load_and_activate(dist)
        try:
            return OxigraphStore(ox.Store.read_only(str(root / gen)), generation=gen,
                                 exact=ExactLiterals.read(root / gen / EXACT))
        except OSError as e:
            raise KGError(f"cannot open the Oxigraph store {root / gen}: {e} "
                          "(run `kg build` to rebuild it)") from None

    def prepare(self, staged: Path) -> str:
        # a staged dist/ is loaded into the store of the real dist/, not yet in use
        return load_generation(self.root(settings().dist), staged)

    def publish(self, dist: Path, prepared: object = None, previous: dict | None = None) -> str:
        """With a prepared generation: switch to it (the caller holds lock());
        without: load dist/ into a new generation if the current one is not of it."""
        root = self.root(dist)
        if prepared is None:
            gen = self._load_and_activate(dist)
        else:
            gen = str(prepared)
            activate(root, gen)
        return f"Oxigraph store {root / gen}"

    def current_generation(self, dist: Path) -> str:
        return current(self.root(dist)) or ""

    def lock(self, dist: Path):
        return rdfio.directory_lock(self.root(dist))

    def discard(self, prepared: object) -> None:
        if prepared:
            shutil.rmtree(self.root(settings().dist) / str(prepared), ignore_errors=True)

    def _load_and_activate(self, dist: Path) -> str:
        root = self.root(dist)
        with rdfio.directory_lock(root):
            gen = current(root)
            if gen is not None and _shows(root / gen, dist):
                return gen  # another process loaded it while we waited
            gen = load_generation(root, dist)
            activate(root, gen)
            return gen


def _shows(generation: Path, dist: Path) -> bool:
    """The generation was loaded from this build (same build.json), by a version that
    keeps the exact literals (a generation without EXACT is loaded again)."""
    return (generation / EXACT).exists() and manifest.read_manifest(generation) == manifest.read_manifest(dist)


def current(root: Path) -> str | None:
    """The generation in use, or None if the store was never loaded."""
    try:
        gen = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return gen if gen and (root / gen).is_dir() else None


def load_generation(root: Path, dist: Path) -> str:
    """Bulk-load dist/dataset.nq into a new generation directory (not yet in use)."""
    source = dataset_file(dist)
    root.mkdir(parents=True, exist_ok=True)
    gen = "gen-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
    path = root / gen
    try:
        st = ox.Store(str(path))
        exact = load_quads(st, dataset_nq=source)
        st.flush()
        st.optimize()
        del st
        exact.write(path / EXACT)
        if (dist / manifest.MANIFEST).exists():
            shutil.copyfile(dist / manifest.MANIFEST, path / manifest.MANIFEST)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return gen


def activate(root: Path, gen: str) -> None:
    """Point CURRENT at gen (one atomic rename), then delete the generations older
    than the one before it (newer ones may be being prepared by another process)."""
    before = current(root)
    rdfio.atomic_write(root / CURRENT, (gen + "\n").encode())
    oldest_kept = min(g for g in (gen, before) if g)
    for d in root.glob("gen-*"):
        if d.name < oldest_kept and d.is_dir():
            shutil.rmtree(d, ignore_errors=True)
