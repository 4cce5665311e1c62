"""The build's inputs, as graphs: ontology, data, curation, change sets and what the
rules infer (Parts), and how they lie in the dataset's named graphs.

Validation, the CSV import and the stores' callers read the graph through this module
without the build's writing side (kg.build), which uses them in turn: so this layer
sits below kg.build and kg.validate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Dataset, Graph, URIRef

from kg import crosswalk, rdfio, rules, sources
from kg.changeset_file import layers
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
