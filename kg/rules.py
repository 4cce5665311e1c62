"""Entailments the build materializes into the inferred graph, as SPARQL rules.

They mirror the ontology: RDFS sub-property and sub-class closure, the three
defined classes of bkd.ttl, and the derived property bkd:concernsCountryViaPlanningUnit
(the countries of the sites of an action's planning unit; HermiT does not compute it:
OWL has no axiom for it that would not also type sections as actions). HermiT
(kg.reason) computes the same defined-class members from the OWL axioms; a test keeps
both in agreement. SPARQL rules scale to graphs where HermiT does not finish, and
run in milliseconds on the seed graph.
"""
from __future__ import annotations

from typing import cast

from rdflib import Graph

from kg.config import settings

PREFIXES = """PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX bkd: <https://w3id.org/bukhara-deer/ontology#>
"""

# name -> CONSTRUCT; each rule is applied until nothing new appears.
RULES: dict[str, str] = {
    "sub-property": """CONSTRUCT { ?s ?super ?o } WHERE {
        ?sub rdfs:subPropertyOf+ ?super . ?s ?sub ?o . FILTER(isIRI(?super)) }""",
    "sub-class": """CONSTRUCT { ?s a ?super } WHERE {
        ?sub rdfs:subClassOf+ ?super . ?s a ?sub . FILTER(isIRI(?super)) }""",
    "transboundary-measure": """CONSTRUCT { ?a a bkd:TransboundaryMeasure } WHERE {
        ?a a bkd:Action ; bkd:concernsCountry ?c1 , ?c2 .
        ?c1 a bkd:Country . ?c2 a bkd:Country . FILTER(?c1 != ?c2) }""",
    "private-sector-measure": """CONSTRUCT { ?a a bkd:PrivateSectorMeasure } WHERE {
        ?a a bkd:Action ; bkd:responsibleActorType <https://w3id.org/bukhara-deer/actor-type/private-business> }""",
    "high-priority-action": """CONSTRUCT { ?a a bkd:HighPriorityAction } WHERE {
        ?a a bkd:Action ; bkd:priority <https://w3id.org/bukhara-deer/priority/1> }""",
    # a derived property, not a defined class: the countries of the sites of an action's
    # planning unit (bkd:concernsCountry keeps only the countries its text names). One
    # path from the action to the country, so no cartesian product.
    "country-via-planning-unit": """CONSTRUCT { ?a bkd:concernsCountryViaPlanningUnit ?c } WHERE {
        ?a a bkd:Action ; bkd:planningUnit ?u . ?u bkd:hasSite ?site . ?site bkd:country ?c .
        FILTER(isIRI(?c)) }""",
}

DEFINED_CLASSES = ("TransboundaryMeasure", "PrivateSectorMeasure", "HighPriorityAction")


def infer(asserted: Graph) -> Graph:
    """Return only the new triples the rules entail from `asserted`, applying every rule
    until nothing new appears. The rules run on an in-memory Oxigraph store: rdflib's
    engine needs tens of milliseconds per rule even on a small graph."""
    import pyoxigraph as ox

    from kg.terms import from_ox, to_ox

    work = ox.Store()
    work.extend([ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in asserted])
    inferred = Graph()
    queries = [settings().rebase(PREFIXES + q) for q in RULES.values()]
    changed = True
    while changed:
        changed = False
        for q in queries:
            new = [ox.Quad(t.subject, t.predicate, t.object) for t in cast(ox.QueryTriples, work.query(q))]
            new = [quad for quad in new if quad not in work]
            for quad in new:
                work.add(quad)
                inferred.add((from_ox(quad.subject), from_ox(quad.predicate), from_ox(quad.object)))
                changed = True
    return inferred
