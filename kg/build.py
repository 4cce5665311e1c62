"""Files -> one graph: ontology + SKOS schemes + curated data, plus the inferred graph.

The build writes dist/ (all files atomically):
  graph.ttl, graph.nt, graph.jsonld  everything merged (asserted + inferred)
  inferred.ttl                       only what the rules added
  shapes.ttl                         the SHACL shapes, rebased
  shapes-core.ttl                    the same without the SHACL-SPARQL constraints (for
                                     engines that implement SHACL Core only)
  dataset.nq                         the same triples in named graphs: <base>graph/ontology,
                                     graph/data, graph/curation (curated annotations, with
                                     the crosswalk links kg.crosswalk derives from the reviews),
                                     graph/changesets (provenance),
                                     changeset/<id> (one per active change set), graph/inferred
The store and the web app read dataset.nq; people read graph.ttl.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Dataset, Graph, URIRef

from kg import crosswalk, rdfio, rules, sources
from kg.config import settings
from kg.namespaces import bind_all


@dataclass
class Parts:
    ontology: Graph
    data: Graph
    inferred: Graph = field(default_factory=Graph)
    curation: Graph = field(default_factory=Graph)                # curated annotations
    provenance: Graph = field(default_factory=Graph)              # every change set's metadata
    changesets: dict[str, Graph] = field(default_factory=dict)    # active change sets, in order

    def graphs(self) -> list[tuple[str, Graph]]:
        """(named graph local name, graph) of every part, as the dataset holds them."""
        return [("graph/ontology", self.ontology), ("graph/data", self.data),
                ("graph/curation", self.curation), ("graph/changesets", self.provenance),
                *((f"changeset/{cs}", g) for cs, g in self.changesets.items()),
                ("graph/inferred", self.inferred)]

    def merged(self) -> Graph:
        g = bind_all(Graph())
        for _, part in self.graphs():
            for t in part:
                g.add(t)
        return g


def load_parts(extra_data: list[Path] | None = None, infer: bool = True,
               extra_changesets: list[Path] | None = None) -> Parts:
    ontology = rdfio.load_files(sources.ontology_files(), bind_all(Graph()))
    data = rdfio.load_files([*sources.data_files(), *(extra_data or [])], bind_all(Graph()))
    parts = Parts(ontology, data)
    parts.curation = rdfio.load_files(sources.curation_files(), bind_all(Graph()))
    parts.curation += crosswalk.triples(parts.data, parts.curation)   # links that follow from the reviews
    apply_changesets(parts, [*sources.changeset_files(), *(extra_changesets or [])])
    if infer:
        parts.inferred = rules.infer(parts.merged())
    return parts


def apply_changesets(parts: Parts, paths: list[Path]) -> None:
    """Layer the change sets on the shipped data, in id order. A reverted change set
    (and a revert itself) contributes only its provenance; a --replace first takes
    its replaced facts out of the data and of earlier change sets."""
    from kg.changes import layers

    loaded = list(layers(paths))
    reverted = {rev for *_, rev in loaded if rev}
    for cs_id, meta, added, removed, reverts in loaded:
        for t in meta:
            parts.provenance.add(t)
        if cs_id in reverted or reverts:
            continue
        for t in removed:
            parts.data.remove(t)
            parts.curation.remove(t)
            for g in parts.changesets.values():
                g.remove(t)
        parts.changesets[cs_id] = bind_all(Graph())
        for t in added:
            parts.changesets[cs_id].add(t)


def dataset(parts: Parts) -> Dataset:
    ds = Dataset()
    for name, part in parts.graphs():
        target = ds.graph(URIRef(settings().base + name))
        for t in part:
            target.add(t)
    return ds


def write_dist(parts: Parts, dist: Path, dumps: bool = True) -> dict:
    """Write dist/; without `dumps`, only what the stores and the app need (dataset.nq,
    shapes.ttl, build.json): large synthetic graphs skip the Turtle/JSON-LD dumps."""
    merged = parts.merged()
    if dumps:
        rdfio.atomic_write(dist / "graph.ttl", rdfio.serialize(merged, "turtle"))
        rdfio.atomic_write(dist / "graph.nt", rdfio.serialize(merged, "nt"))
        rdfio.atomic_write(dist / "graph.jsonld", rdfio.serialize(merged, "json-ld"))
        rdfio.atomic_write(dist / "inferred.ttl", rdfio.serialize(bind_all(parts.inferred), "turtle"))
    nquads = rdfio.serialize(dataset(parts), "nquads")
    rdfio.atomic_write(dist / "dataset.nq", nquads)
    triples = {"ontology": len(parts.ontology), "data": len(parts.data), "curation": len(parts.curation),
               "changesets": sum(len(g) for g in parts.changesets.values()),
               "inferred": len(parts.inferred), "total": len(merged)}
    return finish_dist(dist, triples, list(parts.changesets), graph_hashes(nquads))


MANIFEST = "build.json"


def finish_dist(dist: Path, triples: dict, changesets: list[str], graphs: dict[str, str], **extra) -> dict:
    """What every dist/ ends with, after its dataset.nq: the shapes, and build.json
    (counts, change sets, per-graph fingerprints), written last."""
    from kg.validate import core_shapes

    shapes = rdfio.load_files([sources.shapes_file()], bind_all(Graph()))
    rdfio.atomic_write(dist / "shapes.ttl", rdfio.serialize(shapes, "turtle"))
    rdfio.atomic_write(dist / "shapes-core.ttl", rdfio.serialize(core_shapes(shapes), "turtle"))
    manifest = {"base": settings().base, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **extra, "triples": triples, "changesets": changesets, "graphs": graphs}
    rdfio.atomic_write(dist / MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def read_manifest(dist: Path) -> dict | None:
    """The build.json of a dist/ (or of an Oxigraph generation loaded from one)."""
    try:
        return json.loads((dist / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def publish(dist: Path) -> str:
    """Make the local store show the build in dist/ (a new Oxigraph generation; nothing
    for memory). A remote SPARQL server is only written by `kg push`."""
    from kg.store import engine

    eng = engine()
    if eng.kind == "sparql":
        return "SPARQL server not updated: run `kg push` to load this build into it"
    return eng.publish(dist)


class GraphHashes:
    """A fingerprint of each named graph's N-Quads lines, in any order: which graphs a
    new build changed, so a remote store is sent only those (kg.stores.sparql). The sum
    of the lines' digests does not depend on their order, so it can be computed while
    streaming. Blank-node labels are part of the text, so a graph with blank nodes may
    look changed when it is not: that costs a re-send, never a missed change."""

    MOD = 1 << 128

    def __init__(self) -> None:
        self._sums: dict[str, int] = defaultdict(int)
        self._counts: dict[str, int] = defaultdict(int)

    def add(self, graph: str, line: bytes) -> None:
        digest = hashlib.blake2b(line.rstrip(), digest_size=16).digest()
        self._sums[graph] = (self._sums[graph] + int.from_bytes(digest, "big")) % self.MOD
        self._counts[graph] += 1

    def result(self) -> dict[str, str]:
        return {g: f"{self._counts[g]}-{self._sums[g]:032x}" for g in sorted(self._sums)}


def graph_hashes(nquads: bytes) -> dict[str, str]:
    """GraphHashes of an N-Quads text (every quad in a named graph)."""
    h = GraphHashes()
    for line in nquads.splitlines():
        body = line.rstrip()
        if not body.endswith(b" ."):
            continue
        head, _, graph = body[:-2].rstrip().rpartition(b" ")
        if graph.startswith(b"<") and graph.endswith(b">") and head:
            h.add(graph[1:-1].decode(), body)
    return h.result()
