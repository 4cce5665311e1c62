"""Files -> one graph: ontology + SKOS schemes + curated data, plus the inferred graph.

The build writes dist/ (all files atomically):
  graph.ttl, graph.nt, graph.jsonld  everything merged (asserted + inferred)
  inferred.ttl                       only what the rules added
  shapes.ttl                         the SHACL shapes, rebased
  dataset.nq                         the same triples in named graphs
                                     <base>graph/ontology, /data, /inferred
The store and the web app read dataset.nq; people read graph.ttl.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Dataset, Graph, URIRef

from kg import rdfio, rules, sources
from kg.config import settings
from kg.namespaces import bind_all


@dataclass
class Parts:
    ontology: Graph
    data: Graph
    inferred: Graph = field(default_factory=Graph)

    def merged(self) -> Graph:
        g = bind_all(Graph())
        for part in (self.ontology, self.data, self.inferred):
            for t in part:
                g.add(t)
        return g


def graph_iri(name: str) -> URIRef:
    return URIRef(f"{settings().base}graph/{name}")


def load_parts(extra_data: list[Path] | None = None, infer: bool = True) -> Parts:
    ontology = rdfio.load_files(sources.ontology_files(), bind_all(Graph()))
    data = rdfio.load_files([*sources.data_files(), *(extra_data or [])], bind_all(Graph()))
    parts = Parts(ontology, data)
    if infer:
        parts.inferred = rules.infer(parts.merged())
    return parts


def dataset(parts: Parts) -> Dataset:
    ds = Dataset()
    for name, part in (("ontology", parts.ontology), ("data", parts.data), ("inferred", parts.inferred)):
        target = ds.graph(graph_iri(name))
        for t in part:
            target.add(t)
    return ds


def write_dist(parts: Parts, dist: Path) -> dict:
    merged = parts.merged()
    rdfio.atomic_write(dist / "graph.ttl", rdfio.serialize(merged, "turtle"))
    rdfio.atomic_write(dist / "graph.nt", rdfio.serialize(merged, "nt"))
    rdfio.atomic_write(dist / "graph.jsonld", rdfio.serialize(merged, "json-ld"))
    rdfio.atomic_write(dist / "inferred.ttl", rdfio.serialize(bind_all(parts.inferred), "turtle"))
    rdfio.atomic_write(dist / "dataset.nq", rdfio.serialize(dataset(parts), "nquads"))
    shapes = rdfio.load_files([sources.shapes_file()], bind_all(Graph()))
    rdfio.atomic_write(dist / "shapes.ttl", rdfio.serialize(shapes, "turtle"))
    manifest = {
        "base": settings().base,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "triples": {"ontology": len(parts.ontology), "data": len(parts.data),
                    "inferred": len(parts.inferred), "total": len(merged)},
    }
    rdfio.atomic_write(dist / "build.json", json.dumps(manifest, indent=2).encode())
    return manifest
