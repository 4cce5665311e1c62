"""Questions about one entity by its IRI: its triples (for the RDF views of its page)
and whether the graph mentions or describes it (steward checks). Kept out of the routes
so they send no SPARQL."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pyoxigraph as ox

from webapp.repository import named_node

if TYPE_CHECKING:
    from webapp.repository import Repository

TRIPLES = "CONSTRUCT { ?iri ?p ?o } WHERE { ?iri ?p ?o }"
EXISTS = "ASK { { ?iri ?p ?o } UNION { ?s ?p ?iri } }"  # also the describer's
DESCRIBED = "ASK { ?iri ?p ?o }"


def triples(repo: Repository, iri: str) -> list[ox.Triple]:
    """The triples with the entity as subject."""
    return list(repo.store.query(TRIPLES, bindings={"iri": ox.NamedNode(iri)}))


def _ask(repo: Repository, sparql: str, iri: str) -> bool:
    """An ASK about one IRI, bound as a term (False when the text is not an IRI)."""
    term = named_node(iri)
    return term is not None and bool(repo.store.query(sparql, bindings={"iri": term}))


def mentioned(repo: Repository, iri: str) -> bool:
    """Is the entity a subject or an object in the graph (has it a page)?"""
    return _ask(repo, EXISTS, iri)


def described(repo: Repository, iri: str) -> bool:
    """Is the entity the subject of a triple?"""
    return _ask(repo, DESCRIBED, iri)
