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
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Iterable, Iterator

import pyoxigraph as ox

from kg import build, rdfio
from kg.config import settings
from kg.errors import KGError
from kg.store import Engine, Result, Store, Term, dataset_file, prefixes

CURRENT = "CURRENT"


class OxigraphStore(Store):
    """A pyoxigraph store: on disk (a generation, read-only) or in memory."""

    kind = "oxigraph"

    def __init__(self, store: ox.Store, generation: str = "") -> None:
        self._store = store
        self._generation = generation

    @classmethod
    def in_memory(cls, dataset_nq: Path | None = None, data: bytes | None = None) -> "OxigraphStore":
        """A store in memory (tests, benchmarks, checking before anything is built)."""
        st = ox.Store()
        if dataset_nq is not None:
            st.bulk_load(path=str(dataset_nq), format=ox.RdfFormat.N_QUADS)
        if data is not None:
            st.bulk_load(data, format=ox.RdfFormat.N_QUADS)
        return cls(st)

    @property
    def ox(self) -> ox.Store:
        return self._store

    def _query(self, sparql: str, default_graph, named_graphs, bindings) -> Result:
        kwargs: dict = {"prefixes": prefixes()}
        if bindings:
            kwargs["substitutions"] = {ox.Variable(n): t for n, t in bindings.items()}
        if default_graph is None:
            kwargs["use_default_graph_as_union"] = True
        else:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graph]
        if named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
        return self._store.query(sparql, **kwargs)

    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              g: ox.NamedNode | None = None) -> Iterator[ox.Quad]:
        return self._store.quads_for_pattern(s, p, o, g)

    def graph_names(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    def __len__(self) -> int:
        return len(self._store)

    def load(self, dataset_nq: Path) -> None:
        self._store.clear()
        self._store.bulk_load(path=str(dataset_nq), format=ox.RdfFormat.N_QUADS)

    def replace_graphs(self, graphs: dict[str, Iterable[ox.Triple] | None]) -> None:
        """One SPARQL Update request: Oxigraph runs it as one transaction."""
        ops = []
        for name, triples in graphs.items():
            ops.append(f"DROP SILENT GRAPH <{name}>")
            if triples is not None:
                body = ox.serialize(list(triples), format=ox.RdfFormat.N_TRIPLES).decode()
                if body.strip():
                    ops.append(f"INSERT DATA {{ GRAPH <{name}> {{\n{body}}} }}")
        if ops:
            self._store.update(" ;\n".join(ops))

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
        if gen is None or build.read_manifest(root / gen) != build.read_manifest(dist):
            gen = self._load_and_activate(dist)
        try:
            return OxigraphStore(ox.Store.read_only(str(root / gen)), generation=gen)
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
            if gen is not None and build.read_manifest(root / gen) == build.read_manifest(dist):
                return gen  # another process loaded it while we waited
            gen = load_generation(root, dist)
            activate(root, gen)
            return gen


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
        st.bulk_load(path=str(source), format=ox.RdfFormat.N_QUADS)
        st.flush()
        st.optimize()
        del st
        if (dist / build.MANIFEST).exists():
            shutil.copyfile(dist / build.MANIFEST, path / build.MANIFEST)
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
