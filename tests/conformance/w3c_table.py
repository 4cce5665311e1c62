"""The whole run (every engine, Virtuoso included) and the table of docs/conformance.md
it produces.

The table is generated, never typed: the part of docs/conformance.md between
`<!-- engines -->` and `<!-- /engines -->` is rewritten by report.py, and the
conformance test checks that it equals what the current run produces. It holds
nothing that changes from run to run (no timings), only counts, versions and the
pinned failures with their reasons.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from importlib.metadata import version
from pathlib import Path

from w3c_manifest import AREAS, read_suite
from w3c_pins import Pins
from w3c_run import Outcome, run_all

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
START, END = "<!-- engines -->", "<!-- /engines -->"


def run_suites(root: Path, workdir: Path) -> dict[str, list[Outcome]]:
    """Every test on memory, oxigraph and a fresh Virtuoso loaded with the suites'
    data (raises virtuoso_server.VirtuosoError when Virtuoso cannot start)."""
    import w3c_virtuoso

    cases = read_suite(root)
    server = w3c_virtuoso.start(workdir / "virtuoso")
    try:
        w3c_virtuoso.load(server, cases)
        return run_all(root, {"memory": None, "oxigraph": None,
                              "sparql": w3c_virtuoso.settings_for(server)}, cases)
    finally:
        server.stop()


def virtuoso_version() -> str:
    exe = shutil.which("virtuoso-t")
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "-?"], capture_output=True, text=True, timeout=10)
    m = re.search(r"Version (\S+)", out.stdout + out.stderr)
    return m.group(1) if m else "unknown version"


def engine_labels() -> dict[str, str]:
    return {"memory": f"memory (rdflib {version('rdflib')})",
            "oxigraph": f"oxigraph (pyoxigraph {version('pyoxigraph')}, in memory)",
            "sparql": f"sparql (Virtuoso {virtuoso_version()})"}


def _short(iri: str) -> str:
    return iri.rsplit("#", 1)[-1] if "#" in iri else iri.rsplit("/", 1)[-1]


def render(outcomes: dict[str, list[Outcome]], pins: Pins, root: Path) -> str:
    """The engines section: counts per area and engine, totals, pinned failures."""
    engines = list(outcomes)
    labels = engine_labels()
    cases = [o.case for o in outcomes[engines[0]]]
    source = (root / "SOURCE").read_text(encoding="utf-8").split()[-1] if (root / "SOURCE").exists() else "unknown"
    approval = Counter(c.approval for c in cases if c.runnable)
    na = Counter(c.kind[len("n/a: "):] for c in cases if c.kind.startswith("n/a"))
    lines = [
        f"Suites: w3c/rdf-tests commit `{source[:12]}`. Run on every engine: "
        f"{sum(approval.values())} tests, {approval['Approved']} of them approved "
        f"(`dawgt:Approved`) and {sum(approval.values()) - approval['Approved']} not "
        "(" + ", ".join(f"{n} {a}" for a, n in sorted(approval.items()) if a != "Approved") + "); "
        f"{sum(na.values())} not applicable (" + ", ".join(f"{n} `mf:{k}`" for k, n in sorted(na.items()))
        + ": listed in these folders, but not query evaluations); "
        f"{sum(c.kind == 'withdrawn' for c in cases)} withdrawn (`dawgt:Withdrawn`: never run nor counted).",
        "",
        "Each engine cell: approved tests passed / run, then the other tests passed / run.",
        "",
        "| area | approved | other | n/a | " + " | ".join(labels[e] for e in engines) + " |",
        "|---|---:|---:|---:|" + "---|" * len(engines),
    ]
    by_area: dict[str, dict[str, list[Outcome]]] = {e: defaultdict(list) for e in engines}
    for e in engines:
        for o in outcomes[e]:
            by_area[e][o.case.area].append(o)

    def counts(items: list[Outcome]) -> tuple[int, int, int, int, int]:
        items = [o for o in items if o.status != "withdrawn"]
        run = [o for o in items if o.status != "n/a"]
        appr = [o for o in run if o.case.approved]
        other = [o for o in run if not o.case.approved]
        return (sum(o.status == "pass" for o in appr), len(appr),
                sum(o.status == "pass" for o in other), len(other), len(items) - len(run))

    def cell(c: tuple[int, int, int, int, int]) -> str:
        return f"{c[0]} / {c[1]} · {c[2]} / {c[3]}" if c[3] else f"{c[0]} / {c[1]}"

    for area in AREAS:
        first = counts(by_area[engines[0]][area])
        lines.append(f"| {area} | {first[1]} | {first[3]} | {first[4]} | "
                     + " | ".join(cell(counts(by_area[e][area])) for e in engines) + " |")
    total = counts(outcomes[engines[0]])
    lines.append(f"| **total** | **{total[1]}** | **{total[3]}** | **{total[4]}** | "
                 + " | ".join(f"**{cell(counts(outcomes[e]))}**" for e in engines) + " |")
    lines.append("")
    for e in engines:
        c = counts(outcomes[e])
        failed = [o for o in outcomes[e] if o.status == "fail"]
        lines.append(f"**{labels[e]}**: {c[0]} of {c[1]} approved tests pass ({100 * c[0] / max(c[1], 1):.1f} %), "
                     f"{c[2]} of {c[3]} others; {len(failed)} expected failures:")
        lines.append("")
        groups: dict[str, list[str]] = defaultdict(list)
        for o in failed:
            groups[pins.get((e, o.case.iri), "NOT PINNED: " + o.reason)].append(
                f"{o.case.area}#{_short(o.case.iri)}")
        for reason, tests in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            lines.append(f"- {len(tests)} × {reason}: " + ", ".join(f"`{t}`" for t in tests))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def section(doc: str) -> str | None:
    """The current engines section of the document, or None if it has none."""
    m = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), doc, re.S)
    return m.group(1) if m else None


def replace_section(doc: str, body: str) -> str:
    if section(doc) is None:
        raise ValueError(f"docs/conformance.md has no {START} … {END} section")
    return re.sub(re.escape(START) + r"\n.*?" + re.escape(END), lambda _: f"{START}\n{body}{END}", doc, flags=re.S)
