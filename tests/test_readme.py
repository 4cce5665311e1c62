"""The README's examples are real: each `$ command` block in the examples section is
run and its output compared. Run this file as a script to refresh the README after
a deliberate change:  .venv/bin/python tests/test_readme.py"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

EXAMPLES = [
    "kg stats",
    "kg query annex-items-without-priority",
    "kg query planning-units-sharing-hotspot --format csv",
    'kg query "SELECT ?number ?priority WHERE { ?m a bkd:TransboundaryMeasure ; bkd:number ?number ; '
    'bkd:priorityAsGiven ?priority } ORDER BY ?number" --format csv',
    "kg export measures --format csv | head -3",
    "kg validate",
    "kg validate --reason | tail -1",
    "kg query 'SELECT * WHERE { ?s bkd:number ?n '",
]


STEWARD = [
    "kg check docs/examples/broken-measure.ttl",
    "kg check docs/examples/new-measure.ttl",
    'kg add docs/examples/new-measure.ttl --by "Ana Steward" --source "MOS3 workshop notes, 11 September 2024"',
    "kg query 'SELECT ?text WHERE { bkdi:measure\\/9.4 bkd:text ?text }' --format csv",
    "kg history",
    'kg revert latest --by "Ana Steward" --source "entered for the walk-through only"',
    "kg history",
]


def run(command: str, dist: Path, additions: Path | None = None) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "KG_DIST": str(dist)}
    if additions is not None:
        env["KG_ADDITIONS"] = str(additions)
    env.pop("KG_BASE", None)
    p = subprocess.run(["bash", "-c", command + " 2>&1"], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=300)
    out = p.stdout.rstrip("\n").replace(str(dist), "dist")
    return out.replace(str(additions), "data/additions") if additions is not None else out


def normalize(text: str) -> str:
    """Timings, change-set ids and times differ from run to run; everything else must match."""
    text = re.sub(r"\d+\.\d+ s\b", "N s", text)
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "ID", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", "TIME", text)


def blocks(readme: str, tag: str = "examples") -> list[tuple[str, str]]:
    section = readme.split(f"<!-- {tag} -->")[1].split(f"<!-- /{tag} -->")[0]
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"```console\n\$ (.*?)\n(.*?)```", section, re.S)]


def render(dist: Path, commands: list[str] = EXAMPLES, additions: Path | None = None) -> str:
    return "\n".join(f"```console\n$ {c}\n{run(c, dist, additions)}\n```\n" for c in commands)


def steward_workspace(dist: Path, tmp: Path) -> tuple[Path, Path]:
    """A private copy of the built graph and an empty additions directory."""
    import shutil

    d, adds = tmp / "dist", tmp / "additions"
    shutil.copytree(dist, d)
    adds.mkdir()
    return d, adds


def test_readme_steward_walkthrough_prints_what_it_says(dist, tmp_path):
    found = blocks(README.read_text(encoding="utf-8"), "steward")
    assert [c for c, _ in found] == STEWARD, "README walk-through out of date: run tests/test_readme.py"
    d, adds = steward_workspace(dist, tmp_path)
    for command, shown in found:
        assert normalize(run(command, d, adds)) == normalize(shown.rstrip("\n")), command


def test_readme_examples_print_what_it_says(dist):
    found = blocks(README.read_text(encoding="utf-8"))
    assert [c for c, _ in found] == EXAMPLES, "README examples out of date: run tests/test_readme.py"
    for command, shown in found:
        assert normalize(run(command, dist)) == normalize(shown.rstrip("\n")), command


def test_readme_lists_every_named_query():
    from kg.query import named_queries

    text = README.read_text(encoding="utf-8")
    for q in named_queries():
        assert f"`{q.name}`" in text, q.name


def _replace(text: str, tag: str, body: str) -> str:
    return re.sub(f"<!-- {tag} -->.*?<!-- /{tag} -->", lambda _: f"<!-- {tag} -->\n{body}<!-- /{tag} -->",
                  text, flags=re.S)


if __name__ == "__main__":
    import tempfile

    from kg import build, query

    with tempfile.TemporaryDirectory() as d:
        os.environ.pop("KG_BASE", None)
        build.write_dist(build.load_parts(), Path(d))
        text = _replace(README.read_text(encoding="utf-8"), "examples", render(Path(d)) + "\n")
        with tempfile.TemporaryDirectory() as w:
            wd, adds = steward_workspace(Path(d), Path(w))
            text = _replace(text, "steward", render(wd, STEWARD, adds) + "\n")
    rows = "| name | question |\n|---|---|\n" + "".join(f"| `{q.name}` | {q.question} |\n" for q in query.named_queries())
    README.write_text(_replace(text, "queries", rows), encoding="utf-8")
    print("README examples and query table refreshed")
