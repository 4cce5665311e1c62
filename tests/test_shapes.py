"""The SHACL shapes: the shipped graph conforms, and every kind of breakage is caught.

Each file in tests/fixtures/invalid/ is a small Turtle file merged with the shipped data.
Its header says what is broken and which findings the shapes must report:

    # expect: <Severity> <focus> <path> "<part of the message>"

focus is relative to the base IRI (measure/9.9), path a compact IRI (bkd:text), "^bkd:p"
for an inverse path, or "-" for none. Adding a fixture with such a header adds a test.
When a fixture expects no Violation, the merged graph must still have no violations
(the project's verdict; SHACL's sh:conforms is false as soon as there is any result).

Speed: pyshacl takes ~1 s per run, so the shipped parts are loaded once per session and
every fixture is validated once (in parallel where the machine allows), with the same
steps as kg.validate.validate_files; one test checks that validate_files agrees.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import shlex
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF

from kg import build, rdfio, rules, sources, validate
from kg.config import settings
from kg.namespaces import SH, bind_all, bkd

FIXTURES = Path(__file__).parent / "fixtures" / "invalid"
FIXTURE_FILES = sorted(FIXTURES.glob("*.ttl"))
DEFINED_CLASSES = {"TransboundaryMeasure", "PrivateSectorMeasure", "HighPriorityAction"}
EXPECTED_SHIPPED_WARNINGS = {("annex1/4.1", "priority"), ("annex1/4.2", "priority")}


# ---------------------------------------------------------------- helpers

def parse_expectations(path: Path) -> list[tuple[str, str, str | None, str]]:
    """(severity, focus IRI, path IRI or None, message part) for each '# expect:' line."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*expect:\s*(.*)$", line)
        if m:
            severity, focus, prop, *rest = shlex.split(m.group(1))
            out.append((severity, expand(focus), None if prop == "-" else expand(prop),
                        rest[0] if rest else ""))
    return out


def expand(term: str) -> str:
    if term.startswith("^"):
        return "^" + expand(term[1:])
    prefixes = {p: str(ns) for p, ns in bind_all(Graph()).namespaces()}
    prefix, sep, local = term.partition(":")
    if sep and prefix in prefixes and not term.startswith(("http:", "https:")):
        return prefixes[prefix] + local
    return settings().base + term


def merged_with(parts: build.Parts, extra: Path) -> Graph:
    """What validate_files([extra]) validates, without reloading the shipped files: the
    rules are monotone, so shipped merged graph + extra + rules(all) is the same graph."""
    g = parts.merged()
    rdfio.load_files([extra], g)
    for t in rules.infer(g):
        g.add(t)
    return g


_PARTS: build.Parts | None = None


def _validate_fixture(path: Path) -> validate.Report:
    assert _PARTS is not None
    return validate.validate_graph(merged_with(_PARTS, path))


def shape_messages() -> list[re.Pattern]:
    """Every sh:message of shapes.ttl as a regex ({?var} and {$this} match any text)."""
    shapes = validate.load_shapes()
    pats = []
    for msg in set(shapes.objects(None, SH.message)):
        parts = re.split(r"\{[?$]\w+\}", str(msg))
        pats.append(re.compile("^" + ".*?".join(re.escape(p) for p in parts) + "$", re.S))
    return pats


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def parts() -> build.Parts:
    return build.load_parts()


@pytest.fixture(scope="session")
def shipped_report(parts) -> validate.Report:
    return validate.validate_graph(parts.merged())


@pytest.fixture(scope="session")
def fixture_reports(parts) -> dict[str, validate.Report]:
    """All fixtures validated once; forked workers share the loaded parts."""
    global _PARTS
    _PARTS = parts
    workers = min(len(FIXTURE_FILES), os.cpu_count() or 1)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            reports = pool.map(_validate_fixture, FIXTURE_FILES)
    else:
        reports = [_validate_fixture(p) for p in FIXTURE_FILES]
    return {p.name: r for p, r in zip(FIXTURE_FILES, reports)}


@pytest.fixture(scope="session")
def messages() -> list[re.Pattern]:
    return shape_messages()


# ---------------------------------------------------------------- the shipped graph

@pytest.mark.slow
def test_shipped_graph_has_no_violations_with_exactly_the_expected_warnings(shipped_report, parts):
    """No violation; the source's own gap (no priority for annex items 4.1 and 4.2)
    warns; and every warning or info concerns an entity whose gap a data-quality note
    already records, so nothing the shapes flag is left unexplained. In SHACL's terms
    the graph does not conform: it has results (warnings)."""
    r = shipped_report
    assert r.no_violations, r.text()
    assert r.shacl_conforms is False and r.result_count >= len(EXPECTED_SHIPPED_WARNINGS)
    got = {(f.focus[len(settings().base):], f.path.rsplit("#", 1)[-1]) for f in r.findings
           if f.path and f.path.endswith("#priority")}
    assert got == EXPECTED_SHIPPED_WARNINGS
    g = parts.merged()
    bkd = settings().ontology_ns
    explained = {str(o) for o in g.objects(None, URIRef(bkd + "concerns"))}
    unexplained = [f for f in r.findings if f.focus not in explained]
    assert not unexplained, "\n".join(f"{f.severity} {f.focus} {f.message}" for f in unexplained)
    c = r.counts()
    assert r.text().splitlines()[-1] == (
        f"SHACL conforms: false ({r.result_count} results); no violations: true "
        f"(0 violations, {c['Warning']} warnings, {c['Info']} infos)")


@pytest.mark.slow
def test_validate_files_matches_the_fast_path(fixture_reports):
    """The tests below use a cached merge; validate_files must give the same findings."""
    name = "duplicate-numbers.ttl"
    assert validate.validate_files([FIXTURES / name]).findings == fixture_reports[name].findings


@pytest.mark.slow
def test_report_text_and_json(fixture_reports):
    r = fixture_reports["dangling-section.ttl"]
    text = r.text()
    assert "bkdi:measure/10.1" in text and "bkd:inSection" in text
    assert re.fullmatch(r"SHACL conforms: false \(\d+ results?\); no violations: false "
                        r"\([1-9]\d* violations, \d+ warnings, \d+ infos\)", text.splitlines()[-1])
    data = r.to_json()
    assert data["conforms"] is False and data["no_violations"] is False and data["counts"]["Violation"] >= 1
    assert {"severity", "focus", "path", "value", "message", "shape"} <= set(data["findings"][0])
    assert {"severity", "focus", "path", "value", "source_shape", "source_constraint", "constraint_component",
            "messages", "details"} <= set(data["results"][0])
    assert data["result_count"] == len(data["results"]) == sum(data["counts"].values())
    assert json.loads(r.to_json_text()) == data


def test_invalid_extra_file_raises_bad_input(tmp_path):
    from kg.errors import BadInput
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle .\n", encoding="utf-8")
    with pytest.raises(BadInput):
        validate.validate_files([bad])


# ---------------------------------------------------------------- broken fixtures

@pytest.mark.slow
@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_findings(fixture, fixture_reports, messages):
    header = fixture.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# "), f"{fixture.name}: start with a comment saying what is broken"
    expected = parse_expectations(fixture)
    assert expected, f"{fixture.name}: no '# expect:' line"
    report = fixture_reports[fixture.name]
    for severity, focus, path, part in expected:
        hits = [f for f in report.findings
                if f.severity == severity and f.focus == focus and f.path == path
                and part in f.message]
        assert hits, (f"{fixture.name}: expected {severity} on {focus} {path} "
                      f"with message containing {part!r}; got:\n{report.text()}")
        for f in hits:
            assert any(p.match(f.message) for p in messages), \
                f"not a steward message from shapes.ttl: {f.message!r}"
            assert f.shape and f.shape.startswith(settings().base + "shapes#")
    if not any(e[0] == "Violation" for e in expected):
        assert report.no_violations, report.text()
    else:
        assert not report.no_violations
    assert report.shacl_conforms is False          # every fixture expects at least one result


@pytest.mark.slow
def test_every_fixture_finding_has_a_shapes_message(fixture_reports, messages):
    """No finding anywhere falls back to pyshacl's generated text."""
    for name, report in fixture_reports.items():
        for f in report.findings:
            assert any(p.match(f.message) for p in messages), (name, f)


# ---------------------------------------------------------------- the shapes file itself

def _list_members(g: Graph, node) -> set:
    out = set()
    for pred in (SH["or"], SH["and"], SH.xone, SH["not"]):
        for lst in g.objects(node, pred):
            out |= set(g.items(lst)) if pred != SH["not"] else {lst}
    return out


def test_every_shape_has_a_message():
    g = validate.load_shapes()
    operands = set()
    for s in set(g.subjects()):
        operands |= _list_members(g, s)
    shapes = (set(g.subjects(RDF.type, SH.NodeShape)) | set(g.subjects(RDF.type, SH.PropertyShape))
              | set(g.objects(None, SH.property)) | set(g.subjects(SH.path, None))
              | set(g.objects(None, SH.sparql)))
    # Operands of sh:or/sh:xone ([sh:datatype xsd:string]) are reported through the shape
    # that holds them, with its message; they need none of their own.
    missing = [s for s in shapes - operands if (s, SH.message, None) not in g]
    assert not missing, f"shapes without sh:message: {missing}"
    severities = {SH.Violation, SH.Warning, SH.Info}
    no_severity = [s for s in shapes - operands - set(g.objects(None, SH.sparql))
                   if g.value(s, SH.severity) not in severities]
    assert not no_severity, f"shapes without a deliberate sh:severity: {no_severity}"


def test_every_class_of_the_ontology_is_targeted(parts):
    g = validate.load_shapes()
    targeted = set(g.objects(None, SH.targetClass))
    ns = str(bkd())
    classes = {c for c in parts.ontology.subjects(RDF.type, OWL.Class)
               if isinstance(c, URIRef) and str(c).startswith(ns)
               and str(c)[len(ns):] not in DEFINED_CLASSES}
    assert classes, "no classes found in bkd.ttl"
    assert not classes - targeted, f"classes without a shape: {sorted(classes - targeted)}"


def test_shapes_file_uses_the_default_base():
    text = sources.shapes_file().read_text(encoding="utf-8")
    assert "https://w3id.org/bukhara-deer/shapes#" in text


@pytest.mark.slow
def test_nested_results_are_not_reported(fixture_reports):
    """The sh:node check behind bkd:concerns explains itself on the note, not on the IRI."""
    r = fixture_reports["quality-note-dangling.ttl"]
    assert not [f for f in r.findings if f.focus.endswith("measure/99.99")], r.text()


@pytest.mark.slow
def test_validation_follows_kg_base(monkeypatch):
    monkeypatch.setenv("KG_BASE", "https://example.org/bd/")
    r = validate.validate_files()
    assert r.counts()["Violation"] == 0, r.text()
    assert {"https://example.org/bd/annex1/4.1", "https://example.org/bd/annex1/4.2"} <= {f.focus for f in r.findings}
    assert all(f.focus.startswith("https://example.org/bd/") for f in r.findings)
    assert all(f.shape.startswith("https://example.org/bd/shapes#") for f in r.findings)


def test_shapes_follow_kg_base(monkeypatch):
    monkeypatch.setenv("KG_BASE", "https://example.org/bd/")
    g = validate.load_shapes()
    assert (URIRef("https://example.org/bd/shapes#ActionShape"), RDF.type, SH.NodeShape) in g
    assert (None, SH.targetClass, URIRef("https://example.org/bd/ontology#Action")) in g
    assert "https://w3id.org/bukhara-deer/" not in g.serialize(format="nt")


# ---------------------------------------------------------------- the two verdicts

def _country(parts: build.Parts, drop: frozenset[URIRef] = frozenset()) -> Graph:
    """The ontology and one shipped country (the smallest entity the shapes judge),
    without the properties in drop."""
    kaz = URIRef(settings().base + "country/KAZ")
    g = Graph()
    for t in parts.ontology:
        g.add(t)
    for t in parts.data.triples((kaz, None, None)):
        if t[1] not in drop:
            g.add(t)
    assert len(g) > len(parts.ontology), "country/KAZ is not in the shipped data"
    return g


def _pyshacl(g: Graph) -> tuple[bool, Graph]:
    """pyshacl itself, with SHACL's own meaning of sh:conforms (no allow_warnings); on a
    copy that caches parsed SPARQL (kg.validate), which changes the speed, not the answer."""
    from pyshacl import validate as shacl_validate

    work = validate._PreparedQueryGraph()
    for t in g:
        work.add(t)
    conforms, results, _ = shacl_validate(work, shacl_graph=validate.load_shapes(), inference="none",
                                          advanced=True, meta_shacl=False, inplace=True)
    return conforms, results


def test_clean_graph_conforms_and_has_no_violations(parts):
    r = validate.validate_graph(_country(parts))
    assert r.shacl_conforms is True and r.no_violations is True, r.text()
    assert r.to_json()["conforms"] is True and r.to_json()["result_count"] == 0
    assert r.text() == "SHACL conforms: true (0 results); no violations: true (0 violations, 0 warnings, 0 infos)"


def test_advice_only_graph_does_not_conform_but_has_no_violations(parts):
    """SHACL 3.6.1: any result, whatever its severity, makes sh:conforms false."""
    g = _country(parts, frozenset({URIRef(str(bkd()) + "wikidata")}))
    r = validate.validate_graph(g)
    assert r.findings and {f.severity for f in r.findings} <= {"Warning", "Info"}, r.text()
    assert r.shacl_conforms is False and r.no_violations is True
    data = json.loads(r.to_json_text())
    assert data["conforms"] is False and data["no_violations"] is True
    assert data["conforms"] == _pyshacl(g)[0]
    assert r.text().splitlines()[-1].startswith("SHACL conforms: false (1 result); no violations: true (0 violations, ")


def test_violation_fails_both_verdicts(parts):
    g = _country(parts, frozenset({URIRef("http://www.w3.org/2004/02/skos/core#notation")}))
    r = validate.validate_graph(g)
    assert any(f.severity == "Violation" for f in r.findings), r.text()
    assert r.shacl_conforms is False and r.no_violations is False
    assert json.loads(r.to_json_text())["conforms"] is False and not r.to_json()["no_violations"]


@pytest.mark.slow
def test_json_results_are_pyshacls(parts):
    """Counts and results come from pyshacl's results graph, not from the merged findings."""
    g = merged_with(parts, FIXTURES / "duplicate-numbers.ttl")
    data = validate.validate_graph(g).to_json()
    conforms, results = _pyshacl(g)
    top = set(results.objects(None, SH.result))
    assert data["conforms"] is conforms is False
    assert data["result_count"] == len(top) == len(data["results"]) > 0
    nested = sum(len(r["details"]) for r in data["results"])
    assert len(top) + nested == len(set(results.subjects(RDF.type, SH.ValidationResult)))
    by_severity = {s: sum(1 for r in top if results.value(r, SH.resultSeverity) == SH[s])
                   for s in validate.SEVERITIES}
    assert data["counts"] == by_severity
    got = sorted((r["focus"], r["path"], r["constraint_component"], r["severity"]) for r in data["results"])
    want = sorted((str(results.value(r, SH.focusNode)),
                   None if results.value(r, SH.resultPath) is None else str(results.value(r, SH.resultPath)),
                   str(results.value(r, SH.sourceConstraintComponent)), str(results.value(r, SH.resultSeverity)))
                  for r in top)
    assert got == want
    assert len(data["findings"]) <= data["result_count"]


def test_merged_findings_keep_the_raw_count():
    """Results that merge into one finding are still counted one by one."""
    f = validate.Finding("Warning", "https://w3id.org/bukhara-deer/x", None, None, "m", None)
    raw = validate.Result("http://www.w3.org/ns/shacl#Warning", f.focus, None, None, None, None,
                          "http://www.w3.org/ns/shacl#MinCountConstraintComponent", ("m",))
    r = validate.Report([f], [raw, raw], False)
    assert r.counts() == {"Violation": 0, "Warning": 2, "Info": 0} and r.result_count == 2
    assert r.text().splitlines()[-2].startswith("(2 SHACL results shown as 1 findings")
    assert r.to_json()["result_count"] == 2 and len(r.to_json()["findings"]) == 1


# ---------------------------------------------------------------- SHACL-SPARQL, documented

VALIDATION_PAGE = Path(__file__).parent.parent / "docs" / "validation.md"


def test_validation_page_lists_exactly_the_sparql_constraints():
    """A SHACL-Core-only engine skips sh:sparql constraints silently, so docs/validation.md
    lists each (shape, severity, first sentence of its message); read here straight from
    the Turtle file, independently of kg.validate."""
    g = Graph().parse(sources.shapes_file(), format="turtle")
    constraints = list(g.subject_objects(SH.sparql))
    assert constraints, "no sh:sparql constraint in shapes.ttl"
    want = sorted((str(shape).rsplit("#", 1)[-1],
                   str(g.value(shape, SH.severity) or SH.Violation).rsplit("#", 1)[-1],
                   re.split(r"(?<=[.!?])\s", " ".join(str(g.value(c, SH.message)).split()), maxsplit=1)[0])
                  for shape, c in constraints)
    text = VALIDATION_PAGE.read_text(encoding="utf-8")
    section = text.split("<!-- sparql-constraints -->")[1].split("<!-- /sparql-constraints -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| `shapes:")]
    got = sorted((shape.strip("`")[len("shapes:"):], severity, what.replace("&#124;", "|"))
                 for shape, severity, what in rows)
    assert got == want
    assert re.search(rf"holds {len(constraints)} SHACL-SPARQL constraints", section)


# ---------------------------------------------------------------- SHACL Core only

def _result_keys(results: Graph, *, without_sparql: bool = False) -> set[tuple]:
    """What a result says, independent of blank-node ids of the shapes graph it came from."""
    sparql = SH.SPARQLConstraintComponent
    out = set()
    for r in results.objects(None, SH.result):
        component = results.value(r, SH.sourceConstraintComponent)
        if without_sparql and component == sparql:
            continue
        out.add((results.value(r, SH.focusNode), results.value(r, SH.resultPath), results.value(r, SH.value),
                 component, results.value(r, SH.resultSeverity),
                 tuple(sorted(str(m) for m in results.objects(r, SH.resultMessage)))))
    return out


@pytest.mark.slow
def test_core_shapes_agree_with_the_full_shapes_minus_sparql(parts, dist):
    """dist/shapes-core.ttl (kg build) with SHACL Core only (advanced=False) reports exactly
    what the full shapes report minus the SHACL-SPARQL results."""
    from pyshacl import validate as shacl_validate

    core = Graph().parse(dist / "shapes-core.ttl", format="turtle")
    full = validate.load_shapes()
    assert not list(core.objects(None, SH.sparql)) and list(full.objects(None, SH.sparql))
    assert len(core) < len(full)
    g = merged_with(parts, FIXTURES / "duplicate-numbers.ttl")
    runs = {}
    for name, shapes, advanced in (("full", full, True), ("core", core, False)):
        work = validate._PreparedQueryGraph()
        for t in g:
            work.add(t)
        runs[name] = shacl_validate(work, shacl_graph=shapes, inference="none", advanced=advanced,
                                    meta_shacl=False, inplace=True)[1]
    full_keys = _result_keys(runs["full"])
    core_keys = _result_keys(runs["core"])
    assert any(k[3] == SH.SPARQLConstraintComponent for k in full_keys), "the fixture needs a SPARQL result"
    assert core_keys, "the fixture needs a SHACL Core result"
    assert core_keys == _result_keys(runs["full"], without_sparql=True)
