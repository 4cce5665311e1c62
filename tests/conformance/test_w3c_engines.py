"""The W3C SPARQL query-evaluation suites, run through the project's Store interface
on every engine (memory, oxigraph, sparql on a real Virtuoso), as engine makers run
them (see w3c_*.py and docs/conformance.md).

Every engine must fail exactly the tests pinned in expected-failures.txt, and the
table of docs/conformance.md must be the one this run produces. A missing suite or a
Virtuoso that does not start is a failure, never a skip.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from locate import SuiteNotFound, suite_root
from w3c_engines import ENGINES
from w3c_manifest import AREAS, read_suite
from w3c_pins import check_engine, read_pins
from w3c_table import DOC, render, run_suites, section

# Not this module's business; bounded here so that a slow run shows as a failure.
BUDGET_SECONDS = 110


@pytest.fixture(scope="module")
def root() -> Path:
    try:
        return suite_root()
    except SuiteNotFound as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def run(root, tmp_path_factory) -> tuple[dict, float]:
    import virtuoso_server

    start = time.perf_counter()
    try:
        outcomes = run_suites(root, tmp_path_factory.mktemp("w3c"))
    except virtuoso_server.VirtuosoError as e:
        pytest.fail(f"Virtuoso could not start, so the sparql engine is untested: {e}", pytrace=False)
    return outcomes, time.perf_counter() - start


def test_the_suites_are_read(root):
    """The manifests name the tests the table counts (a broken reader would make every
    engine 'pass' nothing and still match an empty pin list)."""
    cases = read_suite(root)
    runnable = [c for c in cases if c.runnable]
    assert len(runnable) >= 500, f"only {len(runnable)} query-evaluation tests read from {root}"
    assert all(c.query is not None and c.query.exists() for c in runnable)
    assert all(c.result is not None and c.result.exists() for c in runnable)
    empty = sorted(set(AREAS) - {c.area for c in runnable})
    assert not empty, f"no query-evaluation test read in {empty}"


@pytest.mark.virtuoso
def test_the_run_fits_its_budget(run):
    _, seconds = run
    assert seconds < BUDGET_SECONDS, f"the conformance run took {seconds:.0f} s (budget {BUDGET_SECONDS} s)"


@pytest.mark.virtuoso
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_fails_exactly_the_pinned_tests(run, engine):
    outcomes, _ = run
    assert engine in outcomes, f"{engine} was not run"
    assert sum(o.status == "pass" for o in outcomes[engine]) > 0, f"{engine} passed no test at all"
    problem = check_engine(engine, outcomes[engine], read_pins())
    assert problem is None, problem


@pytest.mark.virtuoso
def test_conformance_doc_is_generated_from_this_run(run, root):
    outcomes, _ = run
    current = section(DOC.read_text(encoding="utf-8"))
    assert current is not None, f"{DOC} has no <!-- engines --> section"
    assert current == render(outcomes, read_pins(), root), \
        "docs/conformance.md is not what this run produces: run `.venv/bin/python tests/conformance/report.py`"
