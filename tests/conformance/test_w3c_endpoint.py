"""The W3C SPARQL 1.1 Protocol, result-format and service-description suites against
/sparql served by `kg serve` (tests/conformance/endpoint.py says how each is run and
judged). The set of failing tests must equal the pinned one
(endpoint-expected-failures.txt), so that a regression and a newly passing test both
show; docs/conformance.md must show what this run gives."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from endpoint import (
    AREAS,
    EXPECTED_FAILURES,
    Outcome,
    compare,
    entries,
    manifest,
    parse_results,
    read_expected_failures,
    run_all,
)
from endpoint_report import DOC, END, START, render, section, short
from locate import SuiteNotFound, suite_root


@pytest.fixture(scope="module")
def suite():
    try:
        return suite_root()
    except SuiteNotFound as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def outcomes(suite, tmp_path_factory) -> list[Outcome]:
    return run_all(suite, tmp_path_factory.mktemp("w3c-endpoint"))


@pytest.fixture(scope="module")
def pinned() -> dict[str, str]:
    return read_expected_failures()


def test_every_entry_of_every_manifest_has_one_outcome(suite, outcomes):
    """No test is dropped: each area's outcomes are exactly its manifest's entries."""
    for area in AREAS:
        listed = [str(t) for t in entries(manifest(suite, area))]
        got = [o.test for o in outcomes if o.area == area]
        assert listed and got == listed, area
    assert {o.status for o in outcomes} <= {"pass", "fail", "na"}


def test_the_failing_tests_are_the_pinned_ones(outcomes, pinned):
    failing = {o.test: o.detail for o in outcomes if o.status == "fail"}
    new = {short(t): d for t, d in failing.items() if t not in pinned}
    fixed = sorted(short(t) for t in pinned if t not in failing)
    assert not new and not fixed, (
        f"failing but not pinned in {EXPECTED_FAILURES.name}: {json.dumps(new, indent=1)}\n"
        f"pinned but passing now (remove them from {EXPECTED_FAILURES.name}): {fixed}")


def test_only_update_tests_are_not_applicable(outcomes):
    """'Not applicable' is kept for Protocol tests that need an update to succeed, and
    each of them got the documented refusal (checked while running)."""
    na = [o for o in outcomes if o.status == "na"]
    assert na and all(o.area == "protocol" and o.test.rsplit("#", 1)[1].startswith("update_") for o in na)
    assert all("refused as documented: 403" in o.detail and "read-only" in o.detail for o in na)


def test_result_comparison_tells_results_apart(suite):
    """The comparison the result-format tests rely on: blank nodes may be renamed, but
    not merged; a datatype, a value or a variable more is a difference."""
    body = (suite / "sparql" / "sparql11" / "json-res" / "jsonres01.srj").read_bytes()
    expected = parse_results(body, "json")
    doc = json.loads(body)
    assert compare(expected, parse_results(body.replace(b'"b0"', b'"other"'), "json")) == ""
    doc["results"]["bindings"][3]["o"]["datatype"] = "http://www.w3.org/2001/XMLSchema#decimal"
    assert compare(expected, parse_results(json.dumps(doc).encode(), "json")) != ""
    shared, split = json.loads(body), json.loads(body)
    shared["results"]["bindings"][0]["o"] = {"type": "bnode", "value": "b0"}  # two rows, one blank node
    split["results"]["bindings"][0]["o"] = {"type": "bnode", "value": "b1"}   # two blank nodes
    assert compare(parse_results(json.dumps(shared).encode(), "json"),
                   parse_results(json.dumps(split).encode(), "json")) != ""
    doc = json.loads(body)
    doc["head"]["vars"].append("x")
    assert compare(expected, parse_results(json.dumps(doc).encode(), "json")) != ""
    tsv = (suite / "sparql" / "sparql11" / "csv-tsv-res" / "csvtsv01.tsv").read_bytes()
    assert compare(parse_results(tsv, "tsv"), parse_results(tsv.replace(b"\t4\n", b"\t5\n"), "tsv")) != ""


def test_pinned_reasons_name_tests_of_the_suites(suite, pinned):
    known = {str(t) for area in AREAS for t in entries(manifest(suite, area))}
    assert set(pinned) <= known, sorted(set(pinned) - known)


def test_docs_section_is_this_run(suite, outcomes, pinned):
    assert DOC.exists(), f"{DOC} is missing: run .venv/bin/python tests/conformance/endpoint_report.py"
    current = section(DOC.read_text(encoding="utf-8"))
    assert current is not None, f"{DOC.name} must hold one {START} ... {END} section"
    assert current == render(outcomes, pinned, suite), (
        f"the endpoint section of {DOC.name} is out of date: run "
        ".venv/bin/python tests/conformance/endpoint_report.py")
    counts = Counter(o.status for o in outcomes)
    assert f"| **All** | {len(outcomes)} | {counts['pass']} | {counts['fail']} | {counts['na']} |" in current
