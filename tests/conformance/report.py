"""Run the W3C SPARQL query-evaluation suites on every store engine and rewrite the
engines table of docs/conformance.md.

    .venv/bin/python tests/conformance/report.py            # rewrite the table
    .venv/bin/python -m tests.conformance.report --check    # only say whether it is current
    .venv/bin/python tests/conformance/report.py --unpinned # draft pin lines for new failures

Exit status 1 when a failure is not pinned, a pinned test passes, or (--check) the
document differs from this run.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parents[1]):  # the sibling modules, and the kg package
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from locate import SuiteNotFound, suite_root  # noqa: E402
from w3c_pins import check_engine, read_pins, unpinned_lines  # noqa: E402
from w3c_table import DOC, render, replace_section, run_suites, section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="do not write; fail if the document is not current")
    ap.add_argument("--unpinned", action="store_true", help="print draft pin lines for unpinned failures")
    args = ap.parse_args(argv)
    try:
        root = suite_root()
    except SuiteNotFound as e:
        print(e, file=sys.stderr)
        return 2
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="w3c-") as tmp:
        outcomes = run_suites(root, Path(tmp))
    pins = read_pins()
    print(f"ran {sum(len(v) for v in outcomes.values())} engine tests in {time.perf_counter() - start:.1f} s")
    status = 0
    for engine, outs in outcomes.items():
        problem = check_engine(engine, outs, pins)
        if problem:
            print(problem)
            status = 1
        if args.unpinned:
            print("\n".join(unpinned_lines(engine, outs, pins)))
    body = render(outcomes, pins, root)
    doc = DOC.read_text(encoding="utf-8")
    if args.check:
        if section(doc) != body:
            print(f"{DOC} is not current: run tests/conformance/report.py")
            status = 1
    else:
        DOC.write_text(replace_section(doc, body), encoding="utf-8")
        print(f"wrote {DOC}")
    return status


if __name__ == "__main__":
    sys.exit(main())
