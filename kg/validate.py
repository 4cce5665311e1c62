"""SHACL validation of the graph against ontology/shapes.ttl, as plain findings.

Why this module exists rather than calling pyshacl directly:
- the shapes must be loaded through kg.rdfio so that KG_BASE rebases them like the data;
- the data graph must hold the ontology (sh:targetClass bkd:Action reaches measures only
  through rdfs:subClassOf) and the rules-inferred triples, and pyshacl must not infer
  anything itself (inference="none"): what is validated is exactly what the build ships;
- callers (CLI, web app, tests) need structured findings, so the SHACL results graph is
  read triple by triple instead of parsing pyshacl's text report.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF
from rdflib.plugins.sparql import prepareQuery

from kg import rdfio, sources
from kg.namespaces import SH, bind_all
from kg.parts import load_parts

SEVERITIES = ("Violation", "Warning", "Info")


@dataclass(frozen=True)
class Finding:
    severity: str          # "Violation" | "Warning" | "Info"
    focus: str             # IRI of the focus node, or "_:b..." for a blank node
    path: str | None       # property IRI (full; compacted only in Report.text)
    value: str | None      # offending value: IRI or literal lexical form
    message: str           # the shape's sh:message, written for a data steward
    shape: str | None      # IRI of the named shape (for inline property shapes: their node shape)


@dataclass(frozen=True)
class Result:
    """One sh:ValidationResult exactly as pyshacl reports it: nothing merged, dropped or
    compacted, so that `kg validate --format json` can be checked against pyshacl.
    Terms: an IRI as is, a blank node as "_:id", a literal in N-Triples form."""
    severity: str                          # IRI: sh:Violation, sh:Warning or sh:Info
    focus: str | None
    path: str | None                       # IRI, or "_:id" of a complex path
    value: str | None
    source_shape: str | None               # IRI, or "_:id" of an inline shape
    source_constraint: str | None          # the sh:sparql node of a SHACL-SPARQL result
    constraint_component: str | None       # IRI, e.g. sh:MinCountConstraintComponent
    messages: tuple[str, ...]              # every sh:resultMessage, sorted
    details: tuple[Result, ...] = ()     # results nested under sh:detail


def compact_iri(s: str | None) -> str:
    """An IRI shortened with the project's prefixes for reports. The longest matching
    namespace wins; local names may contain "/" (bkdi:measure/2.10): this is a
    report for people, not Turtle."""
    if s is None:
        return "-"
    if s.startswith("^"):
        return "^" + compact_iri(s[1:])
    namespaces = sorted(((str(ns), p) for p, ns in bind_all(Graph()).namespaces()), key=lambda x: -len(x[0]))
    for ns, prefix in namespaces:
        if s.startswith(ns) and len(s) > len(ns):
            return f"{prefix}:{s[len(ns):]}"
    return s if s.startswith("_:") else f"<{s}>"


def _is_check(f: Finding) -> bool:
    """A finding of the steward's own checks (kg.incremental, shape "check:..."), not SHACL's."""
    return (f.shape or "").startswith("check:")


@dataclass
class Report:
    """Two verdicts that must not be confused.

    shacl_conforms is SHACL's sh:conforms (SHACL 1.0, section 3.6.1): false as soon as
    there is any validation result, whatever its severity. no_violations is the
    project's verdict: warnings and infos are advice, only a Violation refuses the data.

    findings are for people (top-level results, identical ones merged); results are the
    raw pyshacl results, when the report comes from one pyshacl run (None for a report
    assembled by kg.incremental, whose SHACL part covers the addition's nodes only).
    """
    findings: list[Finding]
    results: list[Result] | None = None
    shacl_conforms: bool | None = None

    def __post_init__(self) -> None:
        if self.shacl_conforms is None:
            self.shacl_conforms = self.result_count == 0

    @property
    def no_violations(self) -> bool:
        """The project's verdict: no Violation (warnings and infos allowed)."""
        return not any(f.severity == "Violation" for f in self.findings)

    @property
    def result_count(self) -> int:
        """Validation results as SHACL counts them: pyshacl's top-level results, or, for an
        assembled report, its findings that come from the shapes."""
        if self.results is not None:
            return len(self.results)
        return sum(1 for f in self.findings if not _is_check(f))

    def counts(self) -> dict[str, int]:
        """Per severity, of the raw results when there are any (merging findings for
        display must not change the counts), else of the findings."""
        if self.results is not None:
            c = Counter(r.severity.rsplit("#", 1)[-1] for r in self.results)
        else:
            c = Counter(f.severity for f in self.findings)
        return {s: c.get(s, 0) for s in SEVERITIES}

    def summary(self) -> str:
        """Both verdicts on one line; an assembled report also says how many of its
        findings come from the steward's checks rather than from the shapes."""
        c, n = self.counts(), self.result_count
        checks = 0 if self.results is not None else sum(1 for f in self.findings if _is_check(f))
        more = f", plus {checks} finding{'' if checks == 1 else 's'} of the steward checks" if checks else ""
        return (f"SHACL conforms: {str(self.shacl_conforms).lower()} ({n} result{'' if n == 1 else 's'}{more}); "
                f"no violations: {str(self.no_violations).lower()} ({c['Violation']} violations, "
                f"{c['Warning']} warnings, {c['Info']} infos)")

    def text(self) -> str:
        """Findings grouped by focus node (worst first), IRIs compacted with the project's
        prefixes; the last line is the summary."""
        compact = compact_iri
        lines: list[str] = []
        by_focus: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_focus.setdefault(f.focus, []).append(f)
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        worst = {focus: min(rank.get(f.severity, 9) for f in fs) for focus, fs in by_focus.items()}
        for focus in sorted(by_focus, key=lambda k: (worst[k], k)):
            lines.append(compact(focus))
            for f in by_focus[focus]:
                if f.value is None:
                    value = "-"
                elif f.value.startswith(("http://", "https://", "urn:", "_:")):
                    value = compact(f.value)
                else:
                    value = repr(f.value)
                lines.append(f"  {f.severity:<9} {compact(f.path)} {value}: {f.message}")
        if self.results is not None and len(self.findings) != len(self.results):
            lines.append(f"({len(self.results)} SHACL results shown as {len(self.findings)} findings: "
                         "identical results merged; --format json lists every result)")
        lines.append(self.summary())
        return "\n".join(lines)

    def to_json(self) -> dict:
        """conforms is pyshacl's sh:conforms; no_violations the project's verdict; results
        every pyshacl result (result_count of them); findings the merged display lines."""
        return {"conforms": self.shacl_conforms, "no_violations": self.no_violations,
                "result_count": self.result_count, "counts": self.counts(),
                "results": None if self.results is None else [_result_json(r) for r in self.results],
                "findings": [asdict(f) for f in self.findings]}

    def to_json_text(self) -> str:
        """to_json() as indented JSON text (what `kg validate --format json` prints)."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)


def _result_json(r: Result) -> dict:
    """A Result as JSON-ready values (lists, not tuples, so that it round-trips)."""
    return {**asdict(r), "messages": list(r.messages), "details": [_result_json(d) for d in r.details]}


def load_shapes() -> Graph:
    """The shapes graph, rebased to the configured KG_BASE like every other file."""
    return rdfio.load_files([sources.shapes_file()], bind_all(Graph()))


def sparql_constraints(shapes: Graph | None = None) -> list[tuple[str, str, str]]:
    """(shape IRI, severity, message) of every SHACL-SPARQL constraint (sh:sparql), sorted.

    These need an engine that implements SHACL-SPARQL: a SHACL-Core-only engine skips
    them without a word, so docs/validation.md lists them (a test keeps it exact)."""
    g = shapes if shapes is not None else load_shapes()
    out = []
    for shape, constraint in g.subject_objects(SH.sparql):
        severity = g.value(shape, SH.severity) or SH.Violation     # SHACL: the shape's severity
        out.append((str(shape), str(severity).rsplit("#", 1)[-1], str(g.value(constraint, SH.message) or "")))
    return sorted(out)


def core_shapes(shapes: Graph) -> Graph:
    """The shapes without their SHACL-SPARQL constraints (dist/shapes-core.ttl), for an
    engine that implements SHACL Core only: what it reports with them is what the full
    shapes report minus the sh:sparql results, which such an engine must run otherwise."""
    drop: set = set()
    stack = list(shapes.objects(None, SH.sparql))
    while stack:                       # each constraint and the blank nodes it holds
        node = stack.pop()
        if node not in drop:
            drop.add(node)
            stack.extend(o for o in shapes.objects(node, None) if isinstance(o, BNode))
    out = Graph()
    for prefix, ns in shapes.namespaces():
        out.bind(prefix, ns)
    for s, p, o in shapes:
        if p != SH.sparql and s not in drop:
            out.add((s, p, o))
    return out


def _term(node) -> str | None:
    if node is None:
        return None
    if isinstance(node, BNode):
        return f"_:{node}"
    return str(node)


def _shape_name(shape, shapes: Graph) -> str | None:
    """IRI of the shape a result comes from; for an inline (blank) property shape, the
    named node shape that holds it, so that every finding can be traced in shapes.ttl."""
    seen = set()
    while isinstance(shape, BNode) and shape not in seen:
        seen.add(shape)
        shape = shapes.value(predicate=SH.property, object=shape)
    return str(shape) if isinstance(shape, URIRef) else None


def _path(path, results: Graph, shapes: Graph) -> str | None:
    """A property IRI, "^IRI" for an inverse path, the first alternative of an
    alternative path (the one a steward should add); other complex paths stay blank."""
    if path is None or isinstance(path, URIRef):
        return None if path is None else str(path)
    for g in (results, shapes):
        inverse = g.value(path, SH.inversePath)
        if isinstance(inverse, URIRef):
            return f"^{inverse}"
        alternatives = g.value(path, SH.alternativePath)
        if alternatives is not None:
            first = g.value(alternatives, RDF.first)
            if isinstance(first, URIRef):
                return str(first)
    return _term(path)


def _raw_term(node) -> str | None:
    """A term of the results graph as is: IRI, "_:id", or a literal in N-Triples form."""
    if node is None or isinstance(node, (URIRef, BNode)):
        return _term(node)
    return node.n3()


def _raw_result(r, results: Graph) -> Result:
    return Result(
        severity=str(results.value(r, SH.resultSeverity)),
        focus=_raw_term(results.value(r, SH.focusNode)),
        path=_raw_term(results.value(r, SH.resultPath)),
        value=_raw_term(results.value(r, SH.value)),
        source_shape=_raw_term(results.value(r, SH.sourceShape)),
        source_constraint=_raw_term(results.value(r, SH.sourceConstraint)),
        constraint_component=_raw_term(results.value(r, SH.sourceConstraintComponent)),
        messages=tuple(sorted(str(m) for m in results.objects(r, SH.resultMessage))),
        details=tuple(sorted((_raw_result(d, results) for d in results.objects(r, SH.detail)),
                             key=_result_key)),
    )


def _result_key(r: Result) -> tuple:
    return (SEVERITIES.index(r.severity.rsplit("#", 1)[-1]) if r.severity.rsplit("#", 1)[-1] in SEVERITIES
            else 9, r.focus or "", r.path or "", r.value or "", r.source_shape or "", r.messages)


def raw_results(results: Graph) -> list[Result]:
    """Every top-level result of pyshacl's report (objects of sh:result), nested ones under
    details; sorted so that the JSON output is deterministic."""
    return sorted((_raw_result(r, results) for r in set(results.objects(None, SH.result))), key=_result_key)


def _findings(results: Graph, shapes: Graph) -> list[Finding]:
    """Read sh:ValidationResult nodes; sorted so reports and tests are deterministic."""
    out: set[Finding] = set()
    # Results nested under sh:detail (why an sh:node check failed) are explained by their
    # parent result, whose message says what to fix; report only top-level results.
    nested = set(results.objects(None, SH.detail))
    for r in results.subjects(RDF.type, SH.ValidationResult):
        if r in nested:
            continue
        severity = results.value(r, SH.resultSeverity)
        path = results.value(r, SH.resultPath)
        source = results.value(r, SH.sourceShape)
        shape = _shape_name(source, shapes)
        messages = sorted(str(m) for m in results.objects(r, SH.resultMessage)
                          if isinstance(m, Literal) and m.language in (None, "en"))
        # pyshacl reports a SPARQL constraint's own (more specific) message next to the
        # message of the shape that holds it: prefer the constraint's.
        own = {str(m) for m in shapes.objects(source, SH.message)} if source is not None else set()
        messages = [m for m in messages if m not in own] or messages
        out.add(Finding(
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            focus=_term(results.value(r, SH.focusNode)) or "",
            path=_path(path, results, shapes),
            value=_term(results.value(r, SH.value)),
            message=messages[0] if messages else "(no message)",
            shape=shape,
        ))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda f: (order.get(f.severity, 9), f.focus, f.path or "",
                                      f.value or "", f.message))


@lru_cache(maxsize=256)
def _prepared(text: str):
    return prepareQuery(text)


class _PreparedQueryGraph(Graph):
    """A data graph that parses each SPARQL text once.

    pyshacl sends the text of a SHACL-SPARQL constraint once per focus node and rdflib
    parses it every time: on the shipped graph that parsing took ~15 s of ~16 s.
    Prepared queries are reusable with different initBindings, so caching is safe.
    """

    def query(self, query_object, *args, **kwargs):
        if isinstance(query_object, str):
            query_object = _prepared(query_object)
        return super().query(query_object, *args, **kwargs)


def validate_graph(data: Graph) -> Report:
    """Validate a graph that already holds ontology + data (+ inferred triples).

    inference="none": the build's rules already materialized what should be inferred,
    and RDFS inference by pyshacl would hide mistyped references (any IRI used with
    bkd:inSection would become a bkd:Section through rdfs:range).
    The shapes hold SHACL-SPARQL constraints (sh:sparql: unique numbers per programme and
    kind, agreement of an action with its section; docs/validation.md lists them), which
    pyshacl always evaluates; a SHACL-Core-only engine would silently skip them.
    advanced=True turns on SHACL Advanced Features as well (the shapes use none today).
    """
    # Our own copy, so inplace=True (which keeps pyshacl from cloning the graph into a
    # plain Graph and losing the query cache) can never touch the caller's graph.
    work = _PreparedQueryGraph()
    for t in data:
        work.add(t)
    shapes = load_shapes()
    # allow_warnings/allow_infos stay off: with them pyshacl answers conforms=true despite
    # warnings, which is not SHACL's sh:conforms; the project's verdict is no_violations.
    conforms, results, _text = shacl_validate(
        work, shacl_graph=shapes, inference="none", advanced=True, inplace=True,
        abort_on_first=False, meta_shacl=False)
    return Report(_findings(results, shapes), raw_results(results), bool(conforms))


def validate_files(extra: list[Path] | None = None) -> Report:
    """Validate what the build would ship: ontology + data + extra files + inferred triples.

    Extra files are merged as data before the rules run, so their consequences are
    validated too. Unreadable or malformed files raise kg.errors.BadInput.
    """
    parts = load_parts(extra_data=[Path(p) for p in (extra or [])])
    return validate_graph(parts.merged())
