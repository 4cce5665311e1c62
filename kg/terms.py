"""Conversion of RDF terms between rdflib (parsing, SHACL) and Oxigraph (queries)."""
from __future__ import annotations

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

_XSD_STRING = str(XSD.string)


def to_ox(term):
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(term)


def from_ox(term, exact: bool = False):
    """An Oxigraph term as rdflib's. exact keeps a typed literal's lexical form as
    written (normalize=False: the memory store must not rewrite "01" as "1");
    otherwise rdflib canonicalises it."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    dt = term.datatype.value
    # A plain "..." in Turtle is xsd:string in RDF 1.1; rdflib keeps it without datatype.
    if dt == _XSD_STRING:
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(dt), normalize=False) if exact else \
        Literal(term.value, datatype=URIRef(dt))
