"""Expected and actual answers of a W3C test, in one plain form that can be compared
and sent between processes.

A term is a tuple: ("I", iri), ("B", label), ("L", lexical form, datatype IRI,
language tag in lower case) or, for the lossy CSV format, ("S", text). RDF 1.1 makes
a simple literal and an xsd:string literal the same term, and language tags
case-insensitive, so both are written one way here; everything else about a literal
(its lexical form, its datatype) is compared as written, term by term.

TSV is the one exception the suites make to comparing terms as written: the format
writes numbers as Turtle numbers (the csv-tsv-res answer has 1.0e6 for the data's
"1.0E6"^^xsd:double), so there numbers of the same datatype compare by value.

Expected answers are read with rdflib: SPARQL XML (.srx) and JSON (.srj) through
Result.parse, TSV through Result.parse as well, CSV as text cells, and RDF files
(.ttl, .nt, .rdf) either as a DAWG result set (rs:ResultSet) or, for CONSTRUCT, as
the expected graph. rdflib would rewrite typed literals to a canonical lexical form
while parsing ("01"^^xsd:integer to "1"); that is switched off while reading, so
that the files are read exactly as written.
"""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import rdflib
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.query import Result

from w3c_manifest import iri_of

RS = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/result-set#")
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

Term = tuple
Row = dict  # variable name -> Term (unbound variables are absent)


@dataclass
class Solutions:
    variables: tuple[str, ...]
    rows: list[Row]
    ordered: bool = False   # the expected rows are a sequence, not only a multiset
    numbers_by_value: bool = False  # TSV: numbers may be written in another lexical form


@dataclass
class Boolean:
    value: bool


@dataclass
class Triples:
    triples: list[tuple[Term, Term, Term]]


@dataclass
class CsvTable:
    """A SPARQL CSV result: the header and each row's text cells (bnodes kept as such)."""
    variables: tuple[str, ...]
    rows: list[Row]


Answer = Solutions | Boolean | Triples | CsvTable


# -- terms ---------------------------------------------------------------------------

def literal(lexical: str, datatype: str | None, lang: str | None) -> Term:
    lang = (lang or "").lower()
    return ("L", lexical, RDF_LANGSTRING if lang else (datatype or XSD_STRING), lang)


def from_rdflib(t) -> Term:
    if isinstance(t, URIRef):
        return ("I", str(t))
    if isinstance(t, BNode):
        return ("B", str(t))
    if isinstance(t, Literal):
        return literal(str(t), str(t.datatype) if t.datatype else None, t.language)
    raise TypeError(f"not an RDF term: {t!r}")


def from_oxigraph(t) -> Term:
    import pyoxigraph as ox

    if isinstance(t, ox.NamedNode):
        return ("I", t.value)
    if isinstance(t, ox.BlankNode):
        return ("B", t.value)
    if isinstance(t, ox.Literal):
        return literal(t.value, t.datatype.value, t.language)
    raise TypeError(f"not an RDF term: {t!r}")


def to_rdflib(t: Term):
    """The rdflib term of a plain term, literals exactly as written (no normalising)."""
    if t[0] == "I":
        return URIRef(t[1])
    if t[0] == "B":
        return BNode(t[1])
    if t[3]:
        return Literal(t[1], lang=t[3], normalize=False)
    return Literal(t[1], datatype=URIRef(t[2]), normalize=False)


def show(t: Term) -> str:
    """A term in N-Triples-like notation, for messages."""
    if t[0] == "I":
        return f"<{t[1]}>"
    if t[0] == "B":
        return f"_:{t[1]}"
    if t[0] == "S":
        return repr(t[1])
    if t[3]:
        return f'"{t[1]}"@{t[3]}'
    return f'"{t[1]}"' if t[2] == XSD_STRING else f'"{t[1]}"^^<{t[2]}>'


# -- expected answers ----------------------------------------------------------------

@contextmanager
def exact_literals() -> Iterator[None]:
    """rdflib keeps lexical forms as written while this is active."""
    before = rdflib.NORMALIZE_LITERALS
    rdflib.NORMALIZE_LITERALS = False
    log = logging.getLogger("rdflib.term")  # ill-typed literals are test data here, not mistakes
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        rdflib.NORMALIZE_LITERALS = before
        log.setLevel(level)


RDF_FORMATS = {".ttl": "turtle", ".nt": "nt", ".rdf": "xml"}


def load_expected(path: Path) -> Answer:
    """The expected answer of a test, from its mf:result file."""
    suffix = path.suffix.lower()
    with exact_literals():
        if suffix in (".srx", ".srj", ".tsv"):
            fmt = {".srx": "xml", ".srj": "json", ".tsv": "tsv"}[suffix]
            with open(path, "rb") as f:
                answer = _from_result(Result.parse(f, format=fmt))
            if suffix == ".tsv" and isinstance(answer, Solutions):
                answer.numbers_by_value = True  # TSV writes 1.0E6 as the Turtle number 1.0e6
            return answer
        if suffix == ".csv":
            return _read_csv(path.read_text(encoding="utf-8"))
        if suffix in RDF_FORMATS:
            g = Graph()
            g.parse(path, format=RDF_FORMATS[suffix], publicID=iri_of(path))
            rs = next(g.subjects(RDF.type, RS.ResultSet), None)
            if rs is None:
                return Triples([tuple(from_rdflib(x) for x in t) for t in g])
            return _from_result_graph(g, rs)
    raise ValueError(f"unknown result format: {path}")


def _from_result(res: Result) -> Answer:
    if res.type == "ASK":
        return Boolean(bool(res.askAnswer))
    variables = tuple(str(v) for v in res.vars or ())
    rows = [{str(k): from_rdflib(v) for k, v in b.items() if v is not None} for b in res.bindings]
    return Solutions(variables, rows, ordered=True)


def _from_result_graph(g: Graph, rs) -> Answer:
    """A DAWG result set written in RDF (rs:ResultSet); ordered when its solutions have
    rs:index."""
    boolean = g.value(rs, RS.boolean)
    if boolean is not None:
        return Boolean(boolean.toPython() is True or str(boolean) == "true")
    variables = tuple(str(v) for v in g.objects(rs, RS.resultVariable))
    solutions = list(g.objects(rs, RS.solution))
    indexed = [g.value(s, RS.index) for s in solutions]
    ordered = bool(solutions) and all(i is not None for i in indexed)
    if ordered:
        solutions = [s for _, s in sorted(zip((int(i) for i in indexed), solutions), key=lambda p: p[0])]
    rows = []
    for s in solutions:
        rows.append({str(g.value(b, RS.variable)): from_rdflib(g.value(b, RS.value))
                     for b in g.objects(s, RS.binding)})
    return Solutions(variables, rows, ordered=ordered)


def _read_csv(text: str) -> CsvTable:
    """SPARQL 1.1 CSV: a header of names, then text cells; empty means unbound, _:x a
    blank node (the only thing CSV still tells apart)."""
    table = list(csv.reader(io.StringIO(text)))
    header = tuple(table[0]) if table else ()
    rows = []
    for line in table[1:]:
        row = {}
        for name, cell in zip(header, line):
            if cell != "":
                row[name] = ("B", cell[2:]) if cell.startswith("_:") else ("S", cell)
        rows.append(row)
    return CsvTable(header, rows)


def as_csv(answer: Solutions) -> CsvTable:
    """What the CSV format keeps of solutions: IRIs and lexical forms as text."""
    rows = [{k: (t if t[0] == "B" else ("S", t[1])) for k, t in row.items()} for row in answer.rows]
    return CsvTable(answer.variables, rows)


NUMERIC = {f"http://www.w3.org/2001/XMLSchema#{t}" for t in ("integer", "decimal", "double", "float")}


def number_value(t: Term) -> Term:
    """A numeric literal with its lexical form replaced by its value (for TSV)."""
    if t[0] != "L" or t[2] not in NUMERIC:
        return t
    from decimal import Decimal, InvalidOperation

    try:
        value = float(t[1]) if t[2].endswith(("double", "float")) else Decimal(t[1])
    except (ValueError, InvalidOperation):
        return t
    return ("L", repr(value) if isinstance(value, float) else str(value.normalize()), t[2], "")
