"""Run the W3C endpoint suites (Protocol, JSON/CSV/TSV results, service description)
against `kg serve` and rewrite the endpoint section of docs/conformance.md, the part
between <!-- endpoint --> and <!-- /endpoint --> (the rest of the page is another
report's).

    .venv/bin/python tests/conformance/endpoint_report.py

tests/conformance/test_w3c_endpoint.py checks that the section is what a run gives,
so the page cannot drift from the endpoint's behaviour.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

from endpoint import AREAS, SUITE_BASE, Outcome, read_expected_failures, run_all
from locate import SuiteNotFound, suite_root

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
START, END = "<!-- endpoint -->", "<!-- /endpoint -->"
NEW_DOC = ("# SPARQL conformance\n\nThe W3C SPARQL test suites, run against the query engines and against the "
           "HTTP endpoint.\n\n<!-- engines -->\n<!-- /engines -->\n\n" + START + "\n" + END + "\n")
AREA_NAMES = {"protocol": "Protocol (`protocol/`)", "json-res": "JSON results (`json-res/`)",
              "csv-tsv-res": "CSV and TSV results (`csv-tsv-res/`)",
              "service-description": "Service description (`service-description/`)"}


def short(test: str) -> str:
    """A test IRI without the suites' common base: protocol/manifest#query_get."""
    return test[len(SUITE_BASE):] if test.startswith(SUITE_BASE) else test


def source(suite: Path) -> str:
    """Which copy of the suites was run: the w3c/rdf-tests commit in its SOURCE file."""
    try:
        text = (suite / "SOURCE").read_text(encoding="utf-8")
    except FileNotFoundError:
        return "w3c/rdf-tests (no SOURCE file in the copy)"
    commit = next((w for w in text.split() if len(w) == 40 and all(c in "0123456789abcdef" for c in w)), None)
    return f"w3c/rdf-tests at commit {commit[:12]}" if commit else "w3c/rdf-tests"


def render(outcomes: list[Outcome], pinned: dict[str, str], suite: Path) -> str:
    """The section's text (between the markers): the counts per area, every failure
    with its reason, every test not applicable and why."""
    counts = Counter((o.area, o.status) for o in outcomes)
    lines = [
        "## The SPARQL endpoint over HTTP",
        "",
        "The W3C SPARQL 1.1 Protocol, result-format and service-description tests, sent as HTTP requests "
        "to `/sparql` as `kg serve` answers them: one server per test dataset, on a dist/ holding that "
        "dataset's files as named graphs (`tests/conformance/test_w3c_endpoint.py`; this section is "
        "written by `tests/conformance/endpoint_report.py`). Suites: " + source(suite) + ".",
        "",
        "| Area | Tests | Passed | Failed | Not applicable |",
        "|---|---:|---:|---:|---:|",
    ]
    for area in AREAS:
        n = sum(counts[(area, s)] for s in ("pass", "fail", "na"))
        lines.append(f"| {AREA_NAMES[area]} | {n} | {counts[(area, 'pass')]} | {counts[(area, 'fail')]} "
                     f"| {counts[(area, 'na')]} |")
    total = Counter(o.status for o in outcomes)
    lines.append(f"| **All** | {len(outcomes)} | {total['pass']} | {total['fail']} | {total['na']} |")
    refusals = [o.test.rsplit("#", 1)[1] for o in outcomes if o.status == "pass" and o.area == "protocol"
                and o.test.rsplit("#", 1)[1].startswith("bad_") and "update" in o.test.rsplit("#", 1)[1]]
    if refusals:
        lines += ["", f"The {len(refusals)} Protocol tests of malformed update requests ("
                  + ", ".join(f"`{n}`" for n in refusals) + ") expect a 4xx and pass because this endpoint "
                  "answers every update request with a 4xx."]
    failed = [o for o in outcomes if o.status == "fail"]
    lines += ["", "### Expected failures", ""]
    if failed:
        lines.append("Pinned in `tests/conformance/endpoint-expected-failures.txt`; the test fails when this "
                     "list changes either way.")
        lines.append("")
        for o in failed:
            reason = pinned.get(o.test) or f"not pinned: {o.detail}"
            lines.append(f"- `{short(o.test)}`: {reason}")
    else:
        lines.append("None.")
    na = [o for o in outcomes if o.status == "na"]
    lines += ["", "### Not applicable: the endpoint is read-only", ""]
    if na:
        details = sorted({o.detail for o in na})
        lines.append(f"{len(na)} Protocol tests need a SPARQL Update to succeed. Each one's update request was "
                     "sent and got the refusal `docs/web.md` documents; the test fails if it does not:")
        lines.append("")
        lines += [f"- `{short(o.test)}`" for o in na]
        lines.append("")
        lines += [f"> {d.split('refused as documented: ', 1)[-1]}" for d in details]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def section(text: str) -> str | None:
    """The text between the endpoint markers, or None when they are missing."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        return None
    return text[text.index(START) + len(START):text.index(END)].strip("\n") + "\n"


def with_section(text: str, body: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{body.rstrip(chr(10))}\n{END}{tail}"


def write_doc(body: str, doc: Path = DOC) -> None:
    """Replace only the endpoint section; the page is created (with both sections'
    markers) when it does not exist yet. Written through a temporary file and a
    rename, and re-read just before, so another report's edits are kept."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else NEW_DOC
    if section(text) is None:
        raise SystemExit(f"{doc}: the markers {START} and {END} must each appear once, in that order")
    tmp = doc.with_name(f".{doc.name}.{os.getpid()}.tmp")
    tmp.write_text(with_section(text, body), encoding="utf-8")
    tmp.replace(doc)


def main() -> int:
    try:
        suite = suite_root()
    except SuiteNotFound as e:
        print(e, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="w3c-endpoint-") as work:
        outcomes = run_all(suite, Path(work))
    body = render(outcomes, read_expected_failures(), suite)
    write_doc(body)
    counts = Counter(o.status for o in outcomes)
    print(f"{DOC}: endpoint section rewritten ({counts['pass']} passed, {counts['fail']} failed, "
          f"{counts['na']} not applicable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
