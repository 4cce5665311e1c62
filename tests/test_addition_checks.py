"""The registry of addition checks (kg.addition_checks): names, order and reasons, and
for each check an invalid example in tests/fixtures/additions/ that it reports under
its own name and the valid example it leaves alone."""
from __future__ import annotations

from pathlib import Path

import pytest

from kg import addition_checks
from kg.addition_checks import CHECKS, check
from kg.changes import parse_input
from kg.incremental import check_addition, context_for

FIXTURES = Path(__file__).parent / "fixtures" / "additions"
VALID = "valid-10-measures.ttl"
# Every check, in the order it runs, with an addition that it reports.
EXAMPLES = {
    "check:blank-node": "blank-node.ttl",
    "check:outside-base": "foreign-namespaces.ttl",
    "check:reserved": "reserved.ttl",
    "check:rewiring": "rewiring.ttl",
    "check:unknown-property": "unknown-property.ttl",
    "check:foreign-value": "foreign-namespaces.ttl",
    "check:changed-value": "changed-value.ttl",
    "shacl": "broken-measure.ttl",
    "check:dangling": "dangling-section.ttl",
    "check:iri-clash": "iri-clash.ttl",
    "check:number-taken": "number-taken.ttl",
    "check:already-present": "already-present.ttl",
    "check:read-only-column": "read-only-column.csv",
}
BY_NAME = {c.name: c for c in CHECKS}


def test_checks_run_in_the_documented_order():
    assert [c.name for c in CHECKS] == list(EXAMPLES)
    doc = addition_checks.__doc__
    positions = [doc.index(f"\n  {name} ") for name in EXAMPLES]
    assert positions == sorted(positions), "the module docstring lists the checks in their order"


def test_every_check_says_why_in_one_line():
    for c in CHECKS:
        assert c.why == c.run.__doc__.strip().splitlines()[0], c.name
        assert 20 <= len(c.why) <= 100, c.name


def test_a_check_needs_a_new_name_and_a_reason():
    before = list(CHECKS)

    def documented(ctx):
        """A second dangling check."""
        return []

    with pytest.raises(ValueError, match="two checks named check:dangling"):
        check("check:dangling")(documented)
    with pytest.raises(ValueError, match="does not say why"):
        check("check:new")(lambda ctx: [])
    assert CHECKS == before


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_check_reports_its_invalid_example_under_its_own_name(store, name):
    ctx = context_for(parse_input(FIXTURES / EXAMPLES[name]), store)
    found = list(BY_NAME[name].run(ctx))
    assert found, f"{name} reports nothing on {EXAMPLES[name]}"
    if name == "shacl":
        assert not [f for f in found if (f.shape or "").startswith("check:")]
        assert "Violation" in {f.severity for f in found}
    else:
        assert {f.shape for f in found} == {name}


def test_the_valid_example_passes_every_check(store):
    ctx = context_for(parse_input(FIXTURES / VALID), store)
    for c in CHECKS:
        found = list(c.run(ctx))
        if c.name == "shacl":   # its missing provenance and curated tags: warnings only
            assert found and {f.severity for f in found} == {"Warning"}
        else:
            assert found == [], c.name


def test_check_addition_reports_what_the_checks_find(store):
    """check_addition is the registry run on one context: the same findings, sorted and
    without repeats."""
    addition = parse_input(FIXTURES / "foreign-namespaces.ttl")
    ctx = context_for(addition, store)
    found = {f for c in CHECKS for f in c.run(ctx)}
    report = check_addition(addition, store).report.findings
    assert set(report) == found and len(report) == len(found)
    assert {f.shape for f in report} >= {"check:outside-base", "check:foreign-value", "check:unknown-property"}
