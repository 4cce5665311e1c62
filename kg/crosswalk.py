"""The curated crosswalk, generated from the review decisions (kg.reviews).

The links between Work Programme measures and Annex 1 items, and the memberships of
measures in shared actions, are not written by hand: the build derives them from the
decisions in data/curation/reviews/ (or KG_REVIEWS_DIR) and adds them to graph/curation.

  annex-links.csv     same -> measure bkd:coveredByAnnexItem item
                      part -> measure bkd:contributesToAnnexItem item
                      none, or no decision yet -> nothing
  shared-actions.csv  same -> both measures bkd:sharedAction shared-action/<shared_action>
                      part, none, or no decision yet -> nothing

Every link is a direct triple plus a bkd:CuratedAnnotation that reifies it, with the
decision's reason as bkd:justification, prov:wasAttributedTo agent:project-curators,
dcterms:created (kg.reviews.REVIEW_DATE) and dcterms:source naming the review file.
Annotation IRIs are stable: annotation/annex-link-m<measure>-a<item> for an annex link,
annotation/shared-m<measure>-<shared action> for a membership (one per measure and
shared action, whichever rows put the measure there).

A decided row naming a measure or Annex 1 item that the data does not have, or a
shared action without a definition block (data/curation/shared-actions.ttl), stops the
build with a BadInput naming the file and line.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, XSD

from kg import reviews
from kg.config import settings
from kg.errors import BadInput
from kg.namespaces import bind_all, bkd, inst

PREDICATE = {"same": "coveredByAnnexItem", "part": "contributesToAnnexItem"}


def source_name(path: Path) -> str:
    """How an annotation names its review file: relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(settings().root).as_posix()
    except ValueError:
        return str(path)


def numbered(graph: Graph, cls: URIRef) -> dict[str, URIRef]:
    """number -> IRI of the instances of one class (bkd:Measure, bkd:Annex1Item)."""
    number = bkd().number
    return {str(graph.value(s, number)): s for s in graph.subjects(RDF.type, cls)
            if isinstance(s, URIRef) and graph.value(s, number) is not None}


def add_link(g: Graph, iri: URIRef, s: URIRef, p: URIRef, o: URIRef, justification: str, agent: URIRef,
             created: Literal, source: str) -> None:
    """The link (s p o) and the bkd:CuratedAnnotation `iri` that reifies it (the build's
    links here, and kg.curate.decide's change sets)."""
    B = bkd()
    g.add((s, p, o))
    for t in ((RDF.type, B.CuratedAnnotation), (RDF.subject, s), (RDF.predicate, p), (RDF.object, o),
              (B.justification, Literal(justification)), (PROV.wasAttributedTo, agent),
              (DCTERMS.created, created), (DCTERMS.source, Literal(source))):
        g.add((iri, *t))


def decided(kind: str, directory: Path | None = None) -> list[reviews.Decision]:
    return [d for d in reviews.read(kind, directory) if d.decision]


def triples(data: Graph, curation: Graph, directory: Path | None = None) -> Graph:
    """The crosswalk links and their annotations that the review decisions entail.

    `data` holds the measures and Annex 1 items (graph/data), `curation` the shared
    action definitions (graph/curation, loaded from data/curation/*.ttl)."""
    cw = _Crosswalk(data, curation)
    cw.annex_links(directory)
    cw.shared_links(directory)
    return cw.out


class _Crosswalk:
    """What turning the decisions into links needs: the numbered measures and items,
    the defined shared actions, and the graph the links go to."""

    def __init__(self, data: Graph, curation: Graph) -> None:
        self.B, self.I = bkd(), inst()
        self.measures, self.items = numbered(data, self.B.Measure), numbered(data, self.B.Annex1Item)
        prefix = str(self.I["shared-action/"])
        self.shared_actions = {str(s)[len(prefix):]: s for s in curation.subjects(RDF.type, self.B.SharedAction)
                               if isinstance(s, URIRef) and str(s).startswith(prefix)}
        self.out = bind_all(Graph())
        self.created = Literal(reviews.REVIEW_DATE, datatype=XSD.date)

    def annotate(self, iri: URIRef, s: URIRef, p: URIRef, o: URIRef, justification: str, source: str) -> None:
        add_link(self.out, iri, s, p, o, justification, self.I["agent/project-curators"], self.created, source)

    def measure(self, path: Path, d: reviews.Decision, number: str) -> URIRef:
        if number not in self.measures:
            raise BadInput(f"{path}, line {d.line}: measure {number!r} is not a measure of the Work Programme "
                           f"(no bkd:Measure numbered {number} in the data); correct the number")
        return self.measures[number]

    @staticmethod
    def once(path: Path, d: reviews.Decision, seen: dict) -> None:
        if d.key in seen:
            raise BadInput(f"{path}, line {d.line}: the pair {d.a} / {d.b} is already decided on line {seen[d.key]}; "
                           "keep one row per pair")
        seen[d.key] = d.line

    def annex_links(self, directory: Path | None) -> None:
        """measure -> Annex 1 item, for each `same` / `part` decision."""
        path = reviews.path_of("annex", directory)
        seen: dict = {}
        for d in decided("annex", directory):
            self.once(path, d, seen)
            m = self.measure(path, d, d.a)
            if d.b not in self.items:
                raise BadInput(f"{path}, line {d.line}: annex_item {d.b!r} is not an Annex 1 item "
                               f"(no bkd:Annex1Item numbered {d.b} in the data); correct the number")
            if d.decision in PREDICATE:
                self.annotate(self.I[f"annotation/annex-link-m{d.a}-a{d.b}"], m, self.B[PREDICATE[d.decision]],
                              self.items[d.b], d.reason, source_name(path))

    def shared_links(self, directory: Path | None) -> None:
        """measure ~ measure -> one membership per measure and shared action."""
        path = reviews.path_of("shared", directory)
        seen: dict = {}
        members: dict[tuple[str, str], list[tuple[str, reviews.Decision]]] = defaultdict(list)
        for d in decided("shared", directory):
            self.once(path, d, seen)
            self.measure(path, d, d.a), self.measure(path, d, d.b)
            if d.decision != "same":
                continue
            if d.shared_action not in self.shared_actions:
                raise BadInput(f"{path}, line {d.line}: shared_action {d.shared_action!r} has no definition block "
                               "(a bkd:SharedAction shared-action/<name> in data/curation/shared-actions.ttl); "
                               "define it first or correct the name")
            members[(d.a, d.shared_action)].append((d.b, d))
            members[(d.b, d.shared_action)].append((d.a, d))
        for (number, slug), rows in members.items():
            others = sorted({n for n, _ in rows}, key=reviews._key)
            reasons = list(dict.fromkeys(d.reason for _, d in sorted(rows, key=lambda r: r[1].line)))
            why = (f"Occurrence of the shared action {slug}: reviewed as the same action as measure"
                   f"{'s' if len(others) > 1 else ''} {', '.join(others)}. {' '.join(reasons)}")
            self.annotate(self.I[f"annotation/shared-m{number}-{slug}"], self.measures[number], self.B.sharedAction,
                          self.shared_actions[slug], why, source_name(path))
