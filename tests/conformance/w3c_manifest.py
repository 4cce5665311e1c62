"""The W3C SPARQL query-evaluation tests, read from the suites' manifest.ttl files.

Read with rdflib, as the manifests are Turtle in the mf:/qt:/dawgt: vocabularies.
Only the tests a manifest lists in mf:entries exist (a test described but not listed
is not part of the suite), and a test marked dawgt:Withdrawn is never run nor
counted, as by every engine maker. Everything else is run; its approval status is kept so that
approved tests and the others (Proposed, NotClassified, none given) are counted apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rdflib import RDF, Graph, Namespace
from rdflib.collection import Collection

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
DAWGT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-dawg#")

# The folders the engines are run on: SPARQL 1.0 query evaluation and the SPARQL 1.1
# query areas, plus the two result-format areas (their tests are query evaluations
# whose expected answers are written as TSV, CSV or SPARQL JSON).
SPARQL10 = ("algebra", "ask", "basic", "bnode-coreference", "boolean-effective-value", "bound", "cast",
            "construct", "dataset", "distinct", "expr-builtin", "expr-equals", "expr-ops", "graph", "i18n",
            "open-world", "optional", "optional-filter", "reduced", "regex", "solution-seq", "sort",
            "triple-match", "type-promotion")
SPARQL11 = ("aggregates", "bind", "bindings", "cast", "construct", "exists", "functions", "grouping",
            "negation", "project-expression", "property-path", "subquery", "csv-tsv-res", "json-res")
AREAS = tuple(f"sparql10/{a}" for a in SPARQL10) + tuple(f"sparql11/{a}" for a in SPARQL11)

# The test kinds an engine runs; every other kind listed in these folders (syntax
# tests) is counted as not applicable.
RUN_KINDS = {MF.QueryEvaluationTest: "eval", MF.CSVResultFormatTest: "csv"}


@dataclass(frozen=True)
class TestCase:
    """One manifest entry: what to load, what to ask, what must come back."""

    __test__ = False  # not a pytest test class

    iri: str
    area: str                        # e.g. "sparql10/dataset", "sparql11/property-path"
    name: str
    kind: str                        # "eval", "csv", "withdrawn", or "n/a: <why>"
    approval: str                    # "Approved", "Proposed", "NotClassified", ...
    query: Path | None = None
    data: tuple[Path, ...] = ()      # qt:data: the default graph
    graph_data: tuple[Path, ...] = ()  # qt:graphData: named graphs, named by their file's IRI
    result: Path | None = None
    lax: bool = False                # mf:resultCardinality mf:LaxCardinality (REDUCED)
    requires: tuple[str, ...] = field(default=())

    @property
    def approved(self) -> bool:
        return self.approval == "Approved"

    @property
    def runnable(self) -> bool:
        return self.kind in ("eval", "csv")


# The IRI the suites' files are known by, as in Oxigraph's own test runner: the
# published location of w3c/rdf-tests, mapped to the local copy. Not file: IRIs,
# since Virtuoso resolves a relative IRI against file:///a/b as file:/a/... (it drops
# the empty authority), and not this machine's paths in any message.
SUITE_IRI = "https://w3c.github.io/rdf-tests/"


def _sparql_folder(parts: tuple[str, ...]) -> int:
    """The index of the suites' sparql/ folder in a path of one of their files."""
    return max(k for k in range(len(parts) - 1) if parts[k] == "sparql" and parts[k + 1] in ("sparql10", "sparql11"))


def iri_of(path: Path) -> str:
    """The IRI of a file of the suites (its path from the sparql/ folder)."""
    parts = path.resolve().parts
    return SUITE_IRI + "/".join(parts[_sparql_folder(parts):])


def path_of(iri: str, root: Path) -> Path:
    """The local file of a suite IRI, in the copy at root."""
    if not iri.startswith(SUITE_IRI):
        raise ValueError(f"not a file of the test suites: {iri}")
    from urllib.parse import unquote

    return root / unquote(iri[len(SUITE_IRI):])


def root_of(path: Path) -> Path:
    """The suites' root folder (the one holding sparql/) of one of its files."""
    parts = path.resolve().parts
    return Path(*parts[:_sparql_folder(parts)])


def read_area(root: Path, area: str) -> list[TestCase]:
    """The tests one folder's manifest lists, in its order (withdrawn ones marked so)."""
    manifest = root / "sparql" / area / "manifest.ttl"
    g = Graph()
    g.parse(manifest, format="turtle", publicID=iri_of(manifest))

    def _path(term) -> Path | None:
        return None if term is None else path_of(str(term), root)

    lists = [g.value(head, MF.entries) for head in g.subjects(RDF.type, MF.Manifest)]  # <> or []
    tests = [t for lst in lists if lst is not None for t in Collection(g, lst)]
    out: list[TestCase] = []
    for test in tests:
        approval = g.value(test, DAWGT.approval)
        status = str(approval).rsplit("#", 1)[-1] if approval is not None else "NotClassified"
        kinds = set(g.objects(test, RDF.type))
        run = next((RUN_KINDS[k] for k in kinds if k in RUN_KINDS), None)
        name = str(g.value(test, MF.name) or test)
        if status == "Withdrawn":  # listed, but counted by no one
            out.append(TestCase(str(test), area, name, "withdrawn", status))
            continue
        if run is None:
            kind = ", ".join(sorted(str(k).rsplit("#", 1)[-1] for k in kinds))
            out.append(TestCase(str(test), area, name, f"n/a: {kind}", status))
            continue
        action = g.value(test, MF.action)
        out.append(TestCase(
            iri=str(test), area=area, name=name, kind=run, approval=status,
            query=_path(g.value(action, QT.query)),
            data=tuple(sorted(_path(d) for d in g.objects(action, QT.data))),
            graph_data=tuple(sorted(_path(d) for d in g.objects(action, QT.graphData))),
            result=_path(g.value(test, MF.result)),
            lax=(test, MF.resultCardinality, MF.LaxCardinality) in g,
            requires=tuple(sorted(str(r).rsplit("#", 1)[-1] for r in g.objects(test, MF.requires)))))
    return out


def read_suite(root: Path, areas: tuple[str, ...] = AREAS) -> list[TestCase]:
    """Every test of the areas the engines are run on."""
    return [t for area in areas for t in read_area(root, area)]
