"""Synthetic graphs shaped like the real one, for benchmarks (and `kg synth`).

synth(scale) is the shipped data plus synthetic copies of the Work Programme, as many
as make the graph (ontology, data and inferred triples) about `scale` times the size of
the shipped one. Each copy k (2, 3, ...) is a programme of its own, programme/synth-k, with its own
sections, measures, Annex 1 sections and items, planning units and sites under the
base (section/synth-k/2.0, measure/synth-k/2.10, annex1/synth-k/4.2,
annex1/section/synth-k/1.0, population/synth-k/upper-amu-darya, site/synth-k/Tj1).
Countries, places, hotspots, footnotes, the source document, the other programmes and
the controlled lists are shared, as a second programme would share them.

The copies conform to the shapes: numbers stay unique within their programme, codes
that must be unique across the graph (site codes, unit numbers) are renumbered,
labels say which copy they belong to, and each action gets a text derived from a real
text of the same kind (chosen with a seeded random generator, so the same scale and
seed give the same graph). Priorities, responsibilities, actor types and countries
are those of the action copied, so the rules infer for a copy what they infer for
its original: synth_parts() reuses that to produce the inferred triples of a large
graph without running the rules on it.
"""
from __future__ import annotations

import random
from functools import lru_cache

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from kg import build
from kg.config import settings
from kg.namespaces import bind_all, bkd

WORK_PROGRAMME = "programme/wp-2025-2032"
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


def _copy(g: Graph, k: int, rng: random.Random, parts: build.Parts, base: str,
          copies: set[URIRef], texts: dict, inferred_into: Graph | None) -> None:
    B = bkd()
    mapping = {s: URIRef(_copy_iri(str(s), base, k)) for s in copies}
    data = parts.data

    def m(term):
        return mapping.get(term, term)

    for s in copies:
        kinds = set(data.objects(s, RDF.type))
        kind = B.Measure if B.Measure in kinds else B.Annex1Item if B.Annex1Item in kinds else None
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
                o = Literal(rng.choice(texts[kind]).rstrip(". ") + rng.choice(PHRASES) + ".")
            g.add((mapping[s], p, m(o)))
    # incoming links from shared entities are not copied: a copy's population lists its
    # own sites (hasSite is among the copied triples), nothing else points into a copy.
    if inferred_into is not None:
        for s in copies:
            for t in parts.inferred.triples((s, None, None)):
                inferred_into.add((mapping[s], t[1], m(t[2])))


def synth_parts(scale: int, seed: int = 1) -> build.Parts:
    """Ontology, data (shipped + copies) and inferred triples of a synthetic graph about
    `scale` times the size of the shipped one; ready for kg.build.dataset()."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    base = settings().base
    parts = _seed_parts(base)
    data = bind_all(Graph())
    inferred = Graph()
    for t in parts.data:
        data.add(t)
    for t in parts.inferred:
        inferred.add(t)
    for _, g in parts.changesets.items():
        for t in g:
            data.add(t)
    B = bkd()
    texts = {kind: sorted(str(o) for s in parts.data.subjects(RDF.type, kind)
                          for o in parts.data.objects(s, B.text))
             for kind in (B.Measure, B.Annex1Item)}
    copies = _replicated(parts.data, base)
    # Each copy holds only the programme's own entities (not the ontology, countries,
    # places, ...), so reaching `scale` times the seed's size takes more copies than
    # scale - 1: as many as the size to add divided by the size of one copy.
    per_copy = sum(1 for s in copies for _ in parts.data.triples((s, None, None))) \
        + sum(1 for s in copies for _ in parts.inferred.triples((s, None, None)))
    seed_size = sum(len(g) for _, g in parts.graphs())
    n_copies = round((scale - 1) * seed_size / per_copy) if scale > 1 else 0
    for k in range(2, n_copies + 2):
        rng = random.Random(seed * 1_000_003 + k)
        _copy(data, k, rng, parts, base, copies, texts, inferred)
    return build.Parts(ontology=parts.ontology, data=data, inferred=inferred)


def synth(scale: int, seed: int = 1) -> Graph:
    """The asserted data of a synthetic graph (shipped data + copies), without
    the ontology and without inferred triples: what `kg build` would take as data."""
    return synth_parts(scale, seed).data
