"""What the graph holds as a whole: its source document, the size and members of a
class, the class and named-graph partitions (home page, class listings, VoID and the
SPARQL service description). Kept out of the routes so they send no SPARQL."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyoxigraph as ox

if TYPE_CHECKING:
    from webapp.repository import Repository

DOCUMENT = """
    SELECT ?doc ?id ?title ?date ?meeting ?mtitle ?loc ?start ?end ?goal ?decision WHERE {
      ?doc a bkd:SourceDocument ; dcterms:identifier ?id ; dcterms:title ?title ; dcterms:date ?date ;
           bkd:preparedFor ?meeting ; bkd:respondsTo ?decision .
      ?meeting dcterms:title ?mtitle ; bkd:location ?loc ; bkd:startDate ?start ; bkd:endDate ?end .
      OPTIONAL { ?prog a bkd:Programme ; bkd:overallGoal ?goal } } LIMIT 1"""
COUNT = "SELECT ?cls (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?cls } GROUP BY ?cls"
MEMBERS = "SELECT DISTINCT ?cls ?x WHERE { ?x a ?cls . FILTER(isIRI(?x)) }"
DESCRIBED = "SELECT ?cls ?p WHERE { ?cls ?p ?o } LIMIT 1"
CLASS_PARTITIONS = "SELECT ?c (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?c FILTER(isIRI(?c)) } GROUP BY ?c"
GRAPH_SIZES = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"


def source_document(repo: Repository) -> dict | None:
    """The source document with its meeting and the programme's goal (None: not in the graph)."""
    rows = repo.select(DOCUMENT)
    return rows[0] if rows else None


def class_count(repo: Repository, cls: str) -> int:
    """How many distinct instances the class has."""
    rows = repo.select(COUNT, cls=ox.NamedNode(cls))
    return int(rows[0]["n"].value) if rows else 0


def class_members(repo: Repository, cls: str, key: Callable[[str], object]) -> list[str] | None:
    """The IRIs of the instances of a class sorted by `key` of their label (None: the
    graph says nothing about the class, so it is not one)."""
    term = ox.NamedNode(cls)
    members = [x["x"].value for x in repo.select(MEMBERS, cls=term)]
    if not members and not repo.select(DESCRIBED, cls=term):
        return None
    return sorted(members, key=lambda m: key(repo.label(m)))


def class_partitions(repo: Repository) -> list[tuple[str, int]]:
    """(class IRI, number of instances) for every class (a group-by over the whole graph)."""
    return [(r["c"].value, int(r["n"].value)) for r in repo.select(CLASS_PARTITIONS)]


def graph_sizes(repo: Repository) -> list[tuple[str, int]]:
    """(named graph IRI, number of triples) for every named graph, by IRI."""
    return [(sol["g"].value, int(sol["n"].value)) for sol in repo.store.query(GRAPH_SIZES)]
