"""Every namespace of the project in one place, bound to the configured base."""
from __future__ import annotations

from typing import TypeVar

from rdflib import Graph, Namespace
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

from kg.config import settings

SH = Namespace("http://www.w3.org/ns/shacl#")
WD = Namespace("http://www.wikidata.org/entity/")
VANN = Namespace("http://purl.org/vocab/vann/")


def bkd() -> Namespace:
    """The ontology namespace (classes and properties)."""
    return Namespace(settings().ontology_ns)


def inst() -> Namespace:
    """The instance namespace: measure/2.10, site/Tj1, country/UZB ..."""
    return Namespace(settings().base)


G = TypeVar("G", bound=Graph)


def bind_all(g: G) -> G:
    """Bind the project's prefixes so serialized Turtle stays readable."""
    for prefix, ns in {
        "bkd": bkd(), "bkdi": inst(), "rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD,
        "skos": SKOS, "dcterms": DCTERMS, "prov": PROV, "sh": SH, "wd": WD, "vann": VANN,
    }.items():
        g.bind(prefix, ns, override=True, replace=True)
    return g


def sparql_prefixes() -> str:
    """PREFIX lines for queries typed by people (CLI and, later, the web editor)."""
    g = bind_all(Graph())
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in g.namespaces()
                   if p in {"bkd", "bkdi", "rdf", "rdfs", "owl", "xsd", "skos", "dcterms", "prov", "wd"})
