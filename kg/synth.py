"""Synthetic graphs shaped like the real one, for benchmarks (and `kg synth`).

synth(scale) is the shipped data plus synthetic copies of the Work Programme, as many
as make the graph (ontology, data and inferred triples) about `scale` times the size of
the shipped one. Each copy k (2, 3, ...) is a programme of its own, programme/synth-k, with its own
sections, measures, Annex 1 sections and items, planning units and sites under the
base (section/synth-k/2.0, measure/synth-k/2.10, annex1/synth-k/4.2,
annex1/section/synth-k/1.0, population/synth-k/upper-amu-darya, site/synth-k/Tj1).
Countries, places, hotspots, footnotes, the source document, the other programmes and
the controlled lists are shared, as a second programme would share them. Each copy has
the curated layer of its original (themes, IUCN classes, annex links, shared actions,
with their annotation records), and the measures of every 10th copy arrive as a change
set (named graph changeset/synth-k with PROV-O provenance), as stewards' additions do.

The copies conform to the shapes: numbers stay unique within their programme, codes
that must be unique across the graph (site codes, unit numbers) are renumbered,
labels say which copy they belong to, and each action gets its original's text with a
phrase chosen by text, copy and seed and the copy's name (so the same scale and seed
give the same graph, and texts repeat within a copy as they do in the programme).
Priorities, responsibilities, actor types and countries
are those of the action copied, so the rules infer for a copy what they infer for
its original: synth_parts() reuses that to produce the inferred triples of a large
graph without running the rules on it.
"""
from __future__ import annotations

import os
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS, XSD

from kg import build
from kg.config import settings
from kg.namespaces import bind_all, bkd
from kg.terms import to_ox

WORK_PROGRAMME = "programme/wp-2025-2032"
CHANGESET_EVERY = 10  # every 10th copy's measures arrive as a change set
PHRASES = ("", " in close cooperation with the neighbouring Range States",
           " and report on progress to the Meeting of the Signatories",
           " in the transboundary hotspots", " with the participation of local communities",
           " as far as resources allow")


@lru_cache(maxsize=4)
def _seed_parts(base: str) -> build.Parts:
    """The shipped parts (ontology, data, inferred), without change sets' effects on
    which copies are made: the copies follow the shipped data."""
    return build.load_parts()


def _copy_iri(iri: str, base: str, k: int) -> str:
    path = iri[len(base):]
    if path == WORK_PROGRAMME:
        return f"{base}programme/synth-{k}"
    if path.startswith("annex1/section/"):
        return f"{base}annex1/section/synth-{k}/{path[len('annex1/section/'):]}"
    head, _, rest = path.partition("/")
    return f"{base}{head}/synth-{k}/{rest}"


def _replicated(data: Graph, base: str) -> set[URIRef]:
    B = bkd()
    classes = {B.Measure, B.Annex1Item, B.Section, B.Site, B.PlanningUnit, B.Population,
               B.IntroducedGroup, B.CaptiveBreedingGroup}
    out = {s for c in classes for s in data.subjects(RDF.type, c) if isinstance(s, URIRef)}
    out.add(URIRef(base + WORK_PROGRAMME))
    return {s for s in out if str(s).startswith(base)}


@dataclass
class _Plan:
    """What every copy is made from: the seed and what to copy of it."""
    base: str
    seed: build.Parts
    copies: list
    annotations: list
    n_copies: int


def _plan(scale: int) -> _Plan:
    if scale < 1:
        raise ValueError("scale must be at least 1")
    base = settings().base
    parts = _seed_parts(base)
    copies = sorted(_replicated(parts.data, base))  # sorted: the same order in every process
    copied = set(copies)
    annotations = sorted(cast("set[URIRef]", {a for a, _, subj in parts.curation.triples((None, RDF.subject, None))
                                               if subj in copied and str(a).startswith(base)}))
    # Each copy holds only the programme's own entities (not the ontology, countries,
    # places, ...), so reaching `scale` times the seed's size takes more copies than
    # scale - 1: as many as the size to add divided by the size of one copy.
    per_copy = sum(1 for s in [*copies, *annotations] for _ in parts.curation.triples((s, None, None))) \
        + sum(1 for s in copies for _ in parts.data.triples((s, None, None))) \
        + sum(1 for s in copies for _ in parts.inferred.triples((s, None, None)))
    seed_size = sum(len(g) for _, g in parts.graphs())
    n_copies = round((scale - 1) * seed_size / per_copy) if scale > 1 else 0
    return _Plan(base, parts, copies, annotations, n_copies)


def quads(scale: int, seed: int = 1) -> Iterator[tuple[str, Any, Any, Any]]:
    """(graph local name, s, p, o) of the synthetic graph, seed first, then copy by
    copy: a stream, so that a graph of millions of triples is never held at once."""
    plan = _plan(scale)
    for name, g in plan.seed.graphs():
        if name.startswith("changeset/"):
            name = "graph/data"  # the seed's own change sets are part of its data here
        for s, p, o in g:
            yield name, s, p, o
    for k in range(2, plan.n_copies + 2):
        yield from _copy(k, plan, seed)


def _copy(k: int, plan: _Plan, seed: int) -> Iterator[tuple[str, Any, Any, Any]]:
    B = bkd()
    base, data, copies = plan.base, plan.seed.data, plan.copies
    mapping = {s: URIRef(_copy_iri(str(s), base, k)) for s in copies}
    as_changeset = k % CHANGESET_EVERY == 0
    cs_graph = f"changeset/synth-{k}"

    def m(term):
        return mapping.get(term, term)

    added = 0
    for s in copies:
        kinds = set(data.objects(s, RDF.type))
        kind = B.Measure if B.Measure in kinds else B.Annex1Item if B.Annex1Item in kinds else None
        graph = cs_graph if as_changeset and kind == B.Measure else "graph/data"
        for _, p, o in data.triples((s, None, None)):
            if p == RDFS.label and isinstance(o, Literal):
                o = Literal(f"{o} [synthetic copy {k}]", lang=o.language)
            elif p == DCTERMS.title and isinstance(o, Literal):
                o = Literal(f"{o} [synthetic copy {k}]", lang=o.language)
            elif p == SKOS.notation and B.Site in kinds:
                code = str(o)
                o = Literal(f"{code[:2]}{k}{int(code[2:]):03d}")
            elif p == SKOS.notation and s == URIRef(base + WORK_PROGRAMME):
                o = Literal(f"Synthetic {k}")
            elif p == B.unitNumber:
                o = Literal(int(o) + 10 * k)
            elif p == B.text and kind is not None:
                o = Literal(_copy_text(str(o), k, seed))
            added += graph == cs_graph
            yield graph, mapping[s], p, m(o)
    # incoming links from shared entities are not copied: a copy's population lists its
    # own sites (hasSite is among the copied triples), nothing else points into a copy.
    for s in copies:
        for _, p, o in plan.seed.inferred.triples((s, None, None)):
            yield "graph/inferred", mapping[s], p, m(o)
    # the curated layer: links of the copied entities and their annotation records
    cur = plan.seed.curation
    for s in copies:
        for _, p, o in cur.triples((s, None, None)):
            yield "graph/curation", mapping[s], p, m(o)
    for ann in plan.annotations:
        new = URIRef(_copy_iri(str(ann), base, k))
        for _, p, o in cur.triples((ann, None, None)):
            yield "graph/curation", new, p, m(o)
    if as_changeset:
        for t in _provenance(f"synth-{k}", k, added, base):
            yield ("graph/changesets", *t)


def _copy_text(text: str, k: int, seed: int) -> str:
    """The text of an action in copy k: the original's, with a phrase chosen by the
    text, copy and seed, and the copy's name. Texts repeated within the Work Programme
    (the eco-tourism measure of every population) stay repeated within each copy, as
    a real programme repeats them; across copies they differ, as other programmes'
    texts would, so no text is shared by thousands of actions."""
    phrase = PHRASES[zlib.crc32(f"{seed}/{k}/{text}".encode()) % len(PHRASES)]
    return f"{text.rstrip('. ')}{phrase} (synthetic programme {k})."


def _provenance(cs_id: str, k: int, added: int, base: str) -> list[tuple]:
    """What `kg add` records of a change set (PROV-O), for a synthetic one."""
    B = bkd()
    cs = URIRef(f"{base}changeset/{cs_id}")
    agent = URIRef(f"{base}steward/synthetic-steward")
    return [(cs, RDF.type, B.ChangeSet), (cs, RDFS.label, Literal(f"Change set {cs_id}", lang="en")),
            (cs, DCTERMS.identifier, Literal(cs_id)), (cs, PROV.wasAttributedTo, agent),
            (cs, PROV.generatedAtTime, Literal(f"2026-01-01T00:00:{k % 60:02d}Z", datatype=XSD.dateTime)),
            (cs, DCTERMS.source, Literal(f"synthetic programme {k} (kg synth)")),
            (cs, B.addedTriples, Literal(added, datatype=XSD.integer)),
            (cs, B.removedTriples, Literal(0, datatype=XSD.integer)),
            (agent, RDF.type, B.Steward), (agent, RDFS.label, Literal("Synthetic steward"))]


def synth_parts(scale: int, seed: int = 1) -> build.Parts:
    """The synthetic graph as build.Parts (rdflib graphs): for tests and small scales;
    write_dist() streams large ones to a file instead."""
    seed_parts = _seed_parts(settings().base)
    out = build.Parts(ontology=seed_parts.ontology, data=bind_all(Graph()), inferred=Graph(),
                      curation=bind_all(Graph()))
    by_name = {"graph/data": out.data, "graph/inferred": out.inferred, "graph/curation": out.curation,
               "graph/changesets": out.provenance, "graph/ontology": None}
    for name, s, p, o in quads(scale, seed):
        if name == "graph/ontology":
            continue
        g = by_name.get(name)
        if g is None:
            g = out.changesets.setdefault(name.removeprefix("changeset/"), bind_all(Graph()))
        g.add((s, p, o))
    return out


def write_dist(scale: int, seed: int, dist: Path) -> dict:
    """Stream the synthetic graph into dist/ as the build would leave it for the stores
    and the app (dataset.nq, shapes.ttl, build.json; no Turtle/JSON-LD dumps), without
    holding it in memory."""
    base = settings().base
    dist.mkdir(parents=True, exist_ok=True)
    hashes, counts = build.GraphHashes(), Counter[str]()
    changesets: dict[str, None] = {}  # the change-set graphs, in order of appearance
    tmp = dist / ".dataset.nq.tmp"
    bnodes: dict = {}  # blank nodes numbered in order of appearance: the same bytes every run

    def term(t) -> str:
        if isinstance(t, BNode):
            return bnodes.setdefault(t, f"_:b{len(bnodes)}")
        return str(to_ox(t))
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for name, s, p, o in quads(scale, seed):
            line = f"{term(s)} {term(p)} {term(o)} <{base}{name}> .\n"
            f.write(line)
            hashes.add(base + name, line.encode())
            counts[name.split("/")[0] if name.startswith("changeset/") else name] += 1
            if name.startswith("changeset/"):
                changesets[name] = None
    os.replace(tmp, dist / "dataset.nq")
    triples = {"ontology": counts["graph/ontology"], "data": counts["graph/data"],
               "curation": counts["graph/curation"], "changesets": counts["changeset"],
               "inferred": counts["graph/inferred"], "total": sum(counts.values())}
    return build.finish_dist(dist, triples, [c.removeprefix("changeset/") for c in changesets],
                             hashes.result(), synthetic={"scale": scale, "seed": seed})
