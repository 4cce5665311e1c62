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

import json
import time
from pathlib import Path

from rdflib import Graph

from kg import rdfio, sources
from kg.config import settings
from kg.manifest import (  # re-exported
    MANIFEST,
    GraphHashes as GraphHashes,
    graph_hashes,
    read_manifest as read_manifest,
)
from kg.namespaces import bind_all
from kg.parts import (
    Parts,
    dataset,
    load_parts as load_parts,  # re-exported (kg.build.load_parts)
)
from kg.store import engine
from kg.validate import core_shapes


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


def finish_dist(dist: Path, triples: dict, changesets: list[str], graphs: dict[str, str], **extra) -> dict:
    """What every dist/ ends with, after its dataset.nq: the shapes, and build.json
    (counts, change sets, per-graph fingerprints), written last."""
    shapes = rdfio.load_files([sources.shapes_file()], bind_all(Graph()))
    rdfio.atomic_write(dist / "shapes.ttl", rdfio.serialize(shapes, "turtle"))
    rdfio.atomic_write(dist / "shapes-core.ttl", rdfio.serialize(core_shapes(shapes), "turtle"))
    manifest = {"base": settings().base, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **extra, "triples": triples, "changesets": changesets, "graphs": graphs}
    rdfio.atomic_write(dist / MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def publish(dist: Path) -> str:
    """Make the local store show the build in dist/ (a new Oxigraph generation; nothing
    for memory). A remote SPARQL server is only written by `kg push`."""
    eng = engine()
    if eng.remote:
        return "SPARQL server not updated: run `kg push` to load this build into it"
    return eng.publish(dist)
