"""OWL reasoning with HermiT (through owlready2): consistency and the defined classes.

kg.rules computes the members of the three defined classes with SPARQL, which is
fast and scales, but only mirrors the OWL axioms. This module asks a complete OWL 2
DL reasoner, so that a test can check that the rules and the ontology say the same,
and so that contradictions in the data (an individual in two disjoint classes, a
functional property with two values) are found at all: SPARQL rules never notice them.

HermiT is strict about its input, so the graph is first made OWL 2 DL in a copy
(see ``owl2_ready``); the caller's graph and the repository are never changed, and
everything HermiT and owlready2 write goes to a temporary directory that is removed.
"""
from __future__ import annotations

import io
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import owlready2
from rdflib import OWL, RDF, RDFS, XSD, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.query import ResultRow
from rdflib.term import Node

from kg.config import settings
from kg.errors import KGError
from kg.namespaces import bind_all
from kg.rules import DEFINED_CLASSES

JAVA_MISSING = "HermiT needs a Java runtime (java not found on PATH); install e.g. default-jre-headless"

GENERIC_EXPLANATION = ("HermiT found the graph inconsistent, but no single clash could be pinpointed "
                       "(no individual in two disjoint classes, no functional property with two "
                       "distinct values); look for recent changes that combine several axioms.")

# The OWL 2 datatype map (OWL 2 Structural Specification, section 4). HermiT refuses any
# other datatype, even in an annotation, so literals outside it are converted or dropped.
_XSD_NAMES = """decimal integer nonNegativeInteger nonPositiveInteger positiveInteger negativeInteger
    long int short byte unsignedLong unsignedInt unsignedShort unsignedByte double float string
    normalizedString token language Name NCName NMTOKEN boolean hexBinary base64Binary anyURI
    dateTime dateTimeStamp""".split()
OWL2_DATATYPES = frozenset({*(XSD[n] for n in _XSD_NAMES), RDF.PlainLiteral, RDF.XMLLiteral,
                            RDF.langString, RDFS.Literal, OWL.real, OWL.rational})

_BUILTIN_NS = (str(RDF), str(RDFS), str(OWL), str(XSD))
_PROPERTY_KINDS = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
_DATE_RE = re.compile(r"^(-?\d{4,}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")

# tempfile.tempdir is process-wide; owlready2 writes HermiT's input file there.
_TEMPDIR_LOCK = threading.Lock()


@dataclass
class ReasonResult:
    consistent: bool
    members: dict[str, set[str]]    # defined class local name -> member IRIs
    inferred: Graph                 # rdf:type triples of defined-class members not asserted
    seconds: float
    explanation: str | None = None  # why the graph is inconsistent (None when consistent)
    unsatisfiable: set[str] = field(default_factory=set)  # class IRIs equivalent to owl:Nothing


def reason(graph: Graph | None = None) -> ReasonResult:
    """Run HermiT over ontology + data (default: the shipped files, without the rules'
    inferences, so HermiT derives everything itself) and return consistency, the
    members of the defined classes and the rdf:type triples HermiT adds for them."""
    start = time.perf_counter()
    _require_java()
    if graph is None:
        from kg import build  # late import: lets kg.build use this module without a cycle
        graph = build.load_parts(infer=False).merged()
    bad = ill_typed_literals(graph)
    if bad:  # OWL 2: a data value that is not in its datatype makes the ontology inconsistent
        return _inconsistent(start, _explain_ill_typed(bad))
    prepared = owl2_ready(graph)
    world = _load_world(prepared)
    try:
        consistent = _run_hermit(world)
        if not consistent:
            return _inconsistent(start, explain(prepared))
        members = _members(world)
        return ReasonResult(True, members, _inferred(members, graph), time.perf_counter() - start,
                            None, _unsatisfiable(world))
    finally:
        world.close()


def _inconsistent(start: float, explanation: str) -> ReasonResult:
    """An inconsistent graph entails everything, so no members are reported."""
    return ReasonResult(False, {c: set() for c in DEFINED_CLASSES}, bind_all(Graph()),
                        time.perf_counter() - start, explanation)


# --------------------------------------------------------------------------------------
# Java and HermiT
# --------------------------------------------------------------------------------------

def _require_java() -> None:
    """Fail with an actionable message before owlready2 fails with a Java stack trace."""
    if shutil.which(owlready2.JAVA_EXE) is None:
        raise KGError(JAVA_MISSING, exit_code=2)


def _load_world(g: Graph) -> owlready2.World:
    """A fresh in-memory World per run: the default world would accumulate the triples
    (and inferences) of every earlier run in the same process. owlready2 cannot read
    Turtle, so the graph goes in as N-Triples."""
    world = owlready2.World()
    nt = g.serialize(format="nt", encoding="utf-8")
    try:
        world.get_ontology("http://reasoning.invalid/input").load(fileobj=io.BytesIO(nt), format="ntriples")
    except owlready2.OwlReadyOntologyParsingError as e:
        world.close()
        cause = f" ({e.__cause__})" if e.__cause__ else ""
        raise KGError(f"owlready2 could not read the graph for HermiT{cause}", exit_code=2) from None
    return world


def _run_hermit(world: owlready2.World) -> bool:
    """Classify with HermiT; False when the ontology is inconsistent. owlready2 leaves its
    input file behind when HermiT fails, so it is pointed at a directory we remove."""
    with tempfile.TemporaryDirectory(prefix="kg-reason-") as tmp, _TEMPDIR_LOCK:
        saved, tempfile.tempdir = tempfile.tempdir, tmp
        try:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return False
        except owlready2.OwlReadyJavaError as e:
            raise KGError(f"HermiT could not reason over the graph: {_java_message(e)}", exit_code=2) from None
        except FileNotFoundError:  # java vanished between the check and the run
            raise KGError(JAVA_MISSING, exit_code=2) from None
        finally:
            tempfile.tempdir = saved
    return True


def _java_message(err: Exception) -> str:
    """The first lines of a Java error, not the whole stack trace."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip() and not ln.strip().startswith("at ")]
    return " ".join(lines[1:3] or lines[:1])[:400]


def _members(world: owlready2.World) -> dict[str, set[str]]:
    """Members of each defined class, asserted or inferred; instances() includes the
    instances of subclasses, so a class HermiT finds below a defined class counts too."""
    ns = settings().ontology_ns
    out: dict[str, set[str]] = {}
    for name in DEFINED_CLASSES:
        cls = world[ns + name]
        out[name] = {i.iri for i in cls.instances()} if cls is not None else set()
    return out


def _inferred(members: dict[str, set[str]], asserted: Graph) -> Graph:
    """Only what HermiT adds: a member whose type is already asserted is left out."""
    ns = settings().ontology_ns
    g = bind_all(Graph())
    for name, iris in members.items():
        cls = URIRef(ns + name)
        for iri in iris:
            if (URIRef(iri), RDF.type, cls) not in asserted:
                g.add((URIRef(iri), RDF.type, cls))
    return g


def _unsatisfiable(world: owlready2.World) -> set[str]:
    """Named classes that can have no member: legal OWL, but almost always a modelling error."""
    return {c.iri for c in world.inconsistent_classes() if hasattr(c, "iri")}


# --------------------------------------------------------------------------------------
# Making the graph acceptable to HermiT (in a copy)
# --------------------------------------------------------------------------------------

def owl2_ready(graph: Graph) -> Graph:
    """A copy of graph that HermiT and owlready2 accept: datatypes inside the OWL 2
    datatype map, every used property declared, every typed IRI an owl:NamedIndividual."""
    g = Graph()
    for s, p, o in graph:
        t = _owl2_triple(s, p, o)
        if t is not None:
            g.add(t)
    _declare_properties(g)
    _declare_individuals(g)
    _distinct_countries(g)
    return g


def _distinct_countries(g: Graph) -> None:
    """Countries are identified by distinct ISO 3166 codes, so they are distinct
    individuals. OWL has no unique-name assumption: without this, a country added
    later would not count as a second country for bkd:TransboundaryMeasure."""
    countries = sorted(cast("set[URIRef]", set(g.subjects(RDF.type, URIRef(settings().ontology_ns + "Country")))))
    if len(countries) > 1:
        node, members = BNode(), BNode()
        Collection(g, members, cast("list[Node]", countries))
        g.add((node, RDF.type, OWL.AllDifferent))
        g.add((node, OWL.distinctMembers, members))


def _date_to_datetime(lex: str) -> Literal | None:
    m = _DATE_RE.match(lex.strip())
    return Literal(f"{m.group(1)}T00:00:00{m.group(2) or ''}", datatype=XSD.dateTime) if m else None


def _gyear_to_integer(lex: str) -> Literal | None:
    return Literal(int(lex), datatype=XSD.integer) if re.fullmatch(r"-?\d{4,}", lex.strip()) else None


# Unsupported datatype -> (OWL 2 datatype, literal conversion). Converting instead of
# dropping keeps the values, so a functional date property with two dates still clashes.
_CONVERSIONS: dict[URIRef, tuple[URIRef, Callable[[str], Literal | None]]] = {
    XSD.date: (XSD.dateTime, _date_to_datetime),
    XSD.gYear: (XSD.integer, _gyear_to_integer),
}


def _owl2_triple(s, p, o):
    """The triple with its datatype mapped into OWL 2, or None to drop it."""
    if isinstance(o, Literal) and o.datatype is not None and o.datatype not in OWL2_DATATYPES:
        target = _CONVERSIONS.get(o.datatype)
        o = target[1](str(o)) if target else None
        return None if o is None else (s, p, o)
    if isinstance(o, URIRef) and str(o).startswith(str(XSD)) and o not in OWL2_DATATYPES:
        # a datatype used in an axiom (rdfs:range xsd:date): map it like its literals
        target = _CONVERSIONS.get(o)
        return (s, p, target[0]) if target else None
    return (s, p, o)


def _declare_properties(g: Graph) -> None:
    """Declare every undeclared property as an annotation property: OWL 2 DL requires a
    declaration, and annotations never change what the reasoner entails."""
    declared = {s for kind in _PROPERTY_KINDS for s in g.subjects(RDF.type, kind)}
    for p in undeclared_properties(g, declared):
        g.add((p, RDF.type, OWL.AnnotationProperty))


def undeclared_properties(g: Graph, declared: set | None = None) -> set[URIRef]:
    """Properties used in g but declared neither object, datatype nor annotation
    property (RDF, RDFS and OWL's own vocabulary excepted)."""
    if declared is None:
        declared = {s for kind in _PROPERTY_KINDS for s in g.subjects(RDF.type, kind)}
    return {p for p in set(g.predicates())
            if isinstance(p, URIRef) and p not in declared and not str(p).startswith(_BUILTIN_NS)}


def _declare_individuals(g: Graph) -> None:
    """owlready2 only treats an IRI as an individual (and reports its inferred types)
    when it is typed owl:NamedIndividual."""
    for s, cls in list(g.subject_objects(RDF.type)):
        if isinstance(s, URIRef) and isinstance(cls, URIRef) and not str(cls).startswith(_BUILTIN_NS):
            g.add((s, RDF.type, OWL.NamedIndividual))


# --------------------------------------------------------------------------------------
# Explaining an inconsistency
# --------------------------------------------------------------------------------------

# HermiT (through owlready2) only says "inconsistent". These queries look for the usual
# culprits in the asserted graph, with types read off rdf:type, rdfs:domain and
# rdfs:range and closed under rdfs:subClassOf / rdfs:subPropertyOf.
_TYPES = """
    { ?x a ?t0 }
    UNION { ?x ?p0 [] . ?p0 rdfs:subPropertyOf* ?q0 . ?q0 rdfs:domain ?t0 }
    UNION { [] ?p0 ?x . ?p0 rdfs:subPropertyOf* ?q0 . ?q0 rdfs:range ?t0 . ?q0 a owl:ObjectProperty }
"""

_DISJOINT = f"""
SELECT DISTINCT ?x ?a ?b WHERE {{
    {{ ?a owl:disjointWith ?b }} UNION {{ ?b owl:disjointWith ?a }}
    UNION {{ ?all a owl:AllDisjointClasses ; owl:members/rdf:rest*/rdf:first ?a , ?b . FILTER(?a != ?b) }}
    {{ SELECT DISTINCT ?x ?a WHERE {{ {_TYPES.replace('?t0', '?ta').replace('?p0', '?pa').replace('?q0', '?qa')}
                                   ?ta rdfs:subClassOf* ?a . FILTER(isIRI(?x)) }} }}
    {{ SELECT DISTINCT ?x ?b WHERE {{ {_TYPES.replace('?t0', '?tb').replace('?p0', '?pb').replace('?q0', '?qb')}
                                   ?tb rdfs:subClassOf* ?b . FILTER(isIRI(?x)) }} }}
    FILTER(STR(?a) < STR(?b))
}} ORDER BY ?x ?a ?b"""

_NOTHING = f"""
SELECT DISTINCT ?x WHERE {{ {_TYPES} ?t0 rdfs:subClassOf* owl:Nothing . }} ORDER BY ?x"""

_FUNCTIONAL = """
SELECT DISTINCT ?x ?p ?v1 ?v2 WHERE {
    ?p a owl:FunctionalProperty .
    ?x ?p ?v1 , ?v2 .
    FILTER(STR(?v1) < STR(?v2))
    FILTER(isLiteral(?v1) || EXISTS { ?d owl:distinctMembers/rdf:rest*/rdf:first ?v1 , ?v2 }
                          || EXISTS { ?v1 owl:differentFrom ?v2 } || EXISTS { ?v2 owl:differentFrom ?v1 })
} ORDER BY ?x ?p"""

_NS = {"rdf": RDF, "rdfs": RDFS, "owl": OWL}


def _rows(g: Graph, select: str) -> list[ResultRow]:
    """The solutions of a SELECT on g (with the prefixes of _NS)."""
    return [cast(ResultRow, r) for r in g.query(select, initNs=_NS)]


def explain(g: Graph) -> str:
    """One or more sentences naming the clashing individuals and classes, or a generic
    sentence when none of the usual culprits is present."""
    short = _shortener()
    found = [f"{short(r.x)} is both {short(r.a)} and {short(r.b)}, which are disjoint classes"
             for r in _rows(g, _DISJOINT)]
    found += [f"{short(r.x)} is a member of a class equivalent to owl:Nothing" for r in _rows(g, _NOTHING)]
    found += [f"{short(r.x)} has two values for the functional property {short(r.p)}: "
              f"{short(r.v1)} and {short(r.v2)}" for r in _rows(g, _FUNCTIONAL)]
    if not found:
        return GENERIC_EXPLANATION
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return "Inconsistent: " + "; ".join(found[:5]) + more + "."


def ill_typed_literals(g: Graph) -> list[tuple]:
    """Triples whose literal is not a valid value of its datatype ("abc"^^xsd:integer).
    owlready2 cannot even load them, and in OWL 2 they make the ontology inconsistent."""
    return sorted((t for t in g if isinstance(t[2], Literal) and t[2].ill_typed), key=str)


def _explain_ill_typed(bad: list[tuple]) -> str:
    short = _shortener()
    found = [f"{short(s)} {short(p)} {short(o)} is not a valid {short(o.datatype)}" for s, p, o in bad]
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return "Inconsistent: ill-typed literal: " + "; ".join(found[:5]) + more + "."


def _shortener() -> Callable[[object], str]:
    """Readable names (bkd:Measure, <.../measure/1.1>) with the configured base."""
    nsm = bind_all(Graph()).namespace_manager

    def short(term) -> str:
        return "a blank node" if isinstance(term, BNode) else term.n3(nsm)
    return short
