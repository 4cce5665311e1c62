"""Smoke runs of every benchmark entry point (docs/benchmarks.md): each runs as a
subprocess, the way `make bench` and a developer start it, at tiny sizes and a few
iterations, against a temporary graph (KG_DIST, KG_BENCH_DIR under pytest's tmp), and
must exit 0 and print the numbers it promises. A benchmark that crashes, or that exits
0 with an error in place of its numbers, fails here.

Nothing here judges a number beyond its being there and positive (or ordered, as
p95 >= p50): the timing targets live in the benchmark scripts, and this machine is shared.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NUM = r"-?[\d,]+(?:\.\d+)?"  # as the benchmarks print numbers: 0.09, 11,064, 1,234
N = f"({NUM})"


def number(text: str) -> float:
    return float(text.replace(",", ""))


def positive(*texts: str) -> list[float]:
    """The numbers, each asserted > 0 (a time, a size or a count that was measured)."""
    values = [number(t) for t in texts]
    assert all(v > 0 for v in values), texts
    return values


def run(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    """Run a benchmark from the repository root with `env` over a clean environment
    (no SPARQL server of the developer's); assert exit code 0; return stdout."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KG_SPARQL_")}
    base.pop("KG_BASE", None)
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                       env={**base, "KG_STORE": "oxigraph", **env})
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    """A KG_BENCH_DIR holding the 1x synthetic graph (x1) that `kg bench --scales 1`
    would generate, made once: the graph of every smoke run here."""
    d = tmp_path_factory.mktemp("bench")
    run([str(BIN / "kg"), "synth", "--scale", "1", "--seed", "1", "--out", str(d / "x1")], {})
    assert (d / "x1" / "dataset.nq").exists()
    return d


def scale_summary(out: str, store: str) -> re.Match:
    """The one-line summary `kg bench` prints per engine, with every figure measured."""
    m = re.search(rf"^x1 {store}: load {N} s, peak {N}(?: \+ server {N})? MB, queries p50 {N} ms, "
                  rf"pages max p95 {N} \(([\w ]+)\) ms, check {N} / {N} ms, serve {N} / {N} s (.*)$", out, re.M)
    assert m, out
    load, peak, server, q50, pages, _worst, c50, c95, first, home, note = m.groups()
    assert note.strip() == "", note  # an error or a failed query is written here
    positive(load, peak, q50, pages, c50, c95, first, home)
    assert number(c95) >= number(c50)
    assert (server is not None) == (store == "sparql"), m.group(0)
    return m


def query_cells(out: str, store: str) -> list[str]:
    """The cells of the `| 1× | store | p50 / p95 | ...` row of the per-query table."""
    row = re.search(rf"^\| 1× \| {store} \| (.*) \|$", out, re.M)
    assert row, out
    return row.group(1).split(" | ")


@pytest.mark.java
def test_kg_bench_measures_an_engine_and_writes_its_section(bench_dir, tmp_path):
    """`kg bench` (benchmarks/scale.py via kg/cli.py): one engine at 1x, HermiT on; the
    tables go between the markers of --output and the hand-written rest stays."""
    from kg import query as kgquery

    page = tmp_path / "benchmarks.md"
    by_hand = "# Page\n\nWritten by hand; quotes the `<!-- kg-bench -->` marker.\n\n<!-- kg-bench -->\n"
    page.write_text(by_hand + "OLD TABLE\n<!-- /kg-bench -->\n\nAfter.\n", encoding="utf-8")
    out = run([str(BIN / "kg"), "bench", "--scales", "1", "--stores", "oxigraph", "--budget", "0.3",
               "--hermit-limit", "60", "--output", str(page)], {"KG_BENCH_DIR": str(bench_dir)})
    scale_summary(out, "oxigraph")
    row = re.search(rf"^\| 1× \| {N} \| oxigraph \| {N} \|", out, re.M)
    assert row, out
    positive(*row.groups())
    names = [q.name for q in kgquery.named_queries()]
    cells = query_cells(out, "oxigraph")
    assert len(cells) == len(names), cells
    for cell in cells:  # every competency query measured: "p50 / p95"
        m = re.fullmatch(f"{N} / {N}", cell)
        assert m, cell
        p50, p95 = positive(*m.groups())
        assert p95 >= p50
    hermit = re.search(rf"HermiT.*?^\| 1× \| {N} \|$", out, re.M | re.S)
    assert hermit, out
    positive(hermit.group(1))

    text = page.read_text(encoding="utf-8")
    assert text.startswith(by_hand) and text.endswith(
        "<!-- /kg-bench -->\n\nAfter.\n"), text[:300]
    assert "OLD TABLE" not in text and "Machine:" in text and row.group(0) in text
    results = json.loads((bench_dir / "results.json").read_text())
    assert set(results["1/oxigraph"]["queries"]) == set(names)
    assert results["1/oxigraph"]["check_no_violations"] is True


@pytest.mark.virtuoso
def test_scale_module_measures_the_sparql_engine(bench_dir):
    """`python -m benchmarks.scale`, the same benchmark without the CLI, on the sparql
    engine: a throw-away Virtuoso (benchmarks/virtuoso_server.py) is started and loaded."""
    out = run([sys.executable, "-m", "benchmarks.scale", "--scales", "1", "--stores", "sparql",
               "--budget", "0.3", "--hermit-limit", "0", "--output", "-"], {"KG_BENCH_DIR": str(bench_dir)})
    m = scale_summary(out, "sparql")
    positive(m.group(3))  # the server's peak memory
    for cell in query_cells(out, "sparql"):
        pair = re.fullmatch(f"{N} / {N}", cell)
        assert pair, cell
        positive(*pair.groups())
    assert "written to" not in out  # --output -: no page written
    assert not list(bench_dir.glob("virtuoso-*")), "the server's directory is removed"


@pytest.mark.slow
def test_web_benchmark_reports_every_page_and_query(bench_dir):
    """`python -m benchmarks.web` (the second half of `make bench`): p50 and p95 of every
    page type, and of every competency query on the engine and through /sparql."""
    from kg import query as kgquery

    dist = bench_dir / "x1"
    out = run([sys.executable, "-m", "benchmarks.web", "--repeat", "3", "--warmup", "1"], {"KG_DIST": str(dist)})
    assert f"dist        {dist}" in out
    pages_part, queries_part = out.split("\nPages (", 1)[1].split("\nCompetency queries (", 1)
    page_rows = re.findall(rf"^(\S.*?)  +(/\S*)(?:  \[[^\]]+\])? +(\d{{3}})(?: \(want \d+\))? +(\d+) +(\d+) +{N} +{N} "
                           r"+(PASS|FAIL) *$", pages_part, re.M)
    names = [r[0] for r in page_rows]
    assert len(names) >= 20 and {"home", "measure", "404", "VoID", "entity as Turtle"} <= set(names), pages_part
    for name, path, status, size, n, p50, p95, _target in page_rows:
        assert status == ("404" if name == "404" else "200"), (name, path, status)
        assert int(n) == 3, name
        positive(size, p50, p95)
        assert number(p95) >= number(p50)
    query_rows = {m[0]: m[1:] for m in re.findall(
        rf"^([\w-]+) +(\d{{3}}) +(yes|NO) +(\d+) +{N} +{N} +{N} +{N} +(PASS|FAIL) *$", queries_part, re.M)}
    assert set(query_rows) == {q.name for q in kgquery.named_queries()}, queries_part
    for name, (status, same, n, engine, p50, p95, overhead, _target) in query_rows.items():
        assert (status, same, n) == ("200", "yes", "3"), name
        positive(engine, p50, p95)
        assert number(p95) >= number(p50)
        assert abs(number(p50) - number(engine) - number(overhead)) < 0.02, name  # overhead = difference
    total = re.search(r"^(\d+) of (\d+) rows meet their target", out, re.M)
    assert total and int(total.group(2)) == len(page_rows) + len(query_rows), out


@pytest.mark.slow
def test_check_benchmark_reports_check_times_by_graph_size(bench_dir):
    """`python -m benchmarks.check` at 1x and 2x: check p50/p95, full validation, and the
    broken measure caught at each size."""
    out = run([sys.executable, "-m", "benchmarks.check", "--scales", "1,2", "--runs", "3", "--warmup", "1",
               "--full-limit", "60"], {"KG_DIST": str(bench_dir / "x1")})
    for scale in (1, 2):
        assert re.search(rf"^{scale}x: graph of \d+ triples ready in {NUM} s; addition has no violations; "
                         r"broken measure caught; full validation: ", out, re.M), out
    rows = re.findall(rf"^(\d+)x +(\d+) +{N} +{N} +(\d+) +(.*)$", out, re.M)
    assert [r[0] for r in rows] == ["1", "2"], out
    for _scale, triples, p50, p95, full, _target in rows:
        positive(triples, p50, p95, full)
        assert number(p95) >= number(p50)
    assert int(rows[1][1]) > int(rows[0][1])  # the synthetic graph is larger
    assert re.search(rf"^ratio {NUM} for 2x triples", rows[1][5]), rows[1]
    per_triple = re.search(r"full validation at 1x: (\d+) µs per triple", out)
    assert per_triple and int(per_triple.group(1)) > 0, out


@pytest.mark.slow
def test_check_scale_benchmark_reports_time_per_entity(bench_dir):
    """`python -m benchmarks.check_scale` at two tiny sizes, above a lowered entity limit
    (the benchmark raises the limit for its own run)."""
    out = run([sys.executable, "-m", "benchmarks.check_scale", "--sizes", "3,6"],
              {"KG_DIST": str(bench_dir / "x1"), "KG_MAX_ADDITION_ENTITIES": "4"})
    assert "KG_MAX_ADDITION_ENTITIES 4" in out
    rows = re.findall(rf"^ +(\d+) +(\d+) +{N} +{N} +{N} +(?:({NUM})x)? +(yes|NO.*)$", out, re.M)
    assert [r[0] for r in rows] == ["3", "6"], out
    for _measures, triples, seconds, cpu, per_entity, _ratio, verdict in rows:
        positive(triples, seconds, cpu, per_entity)
        assert verdict == "yes", out
    assert rows[0][5] == "" and number(rows[1][5]) > 0  # the ratio to the previous size


@pytest.mark.slow
def test_load_benchmark_reports_pages_with_and_without_attack(bench_dir):
    """`python -m benchmarks.load` with 2 attackers for 1 s per phase: a real `kg serve`,
    page p50/p95/max in both phases, the attackers' answers and the p95 under attack."""
    out = run([sys.executable, "-m", "benchmarks.load", "--clients", "2", "--seconds", "1", "--timeout", "2"],
              {"KG_DIST": str(bench_dir / "x1")})
    for phase in ("pages, no attack", "pages, 2 attackers"):
        m = re.search(rf"^{phase} +{N} +{N} +{N} +(\d+)$", out, re.M)
        assert m, out
        p50, p95, mx, n = positive(*m.groups())
        assert p50 <= p95 <= mx
    answers = re.search(r"^attack answers: (.*)$", out, re.M)
    assert answers, out
    counts = dict(part.split(": ") for part in answers.group(1).split(", "))
    assert int(counts.get("503", 0)) > 0, counts  # the attack was refused, not queued for ever
    target = re.search(rf"target: page p95 under 100 ms under attack -> (met|NOT met) \({N} ms\)", out)
    assert target and number(target.group(2)) == number(m.group(2)), out


def test_benchmarks_do_not_import_tests():
    """benchmarks/ runs without tests/: no import of a module of tests/ and no path into it."""
    test_modules = {p.stem for p in (ROOT / "tests").glob("*.py")} | {"tests", "conftest"}
    offenders = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            elif isinstance(node, ast.Constant) and node.value in ("tests", "fixtures"):
                offenders.append(f"{path.name}:{node.lineno}: {node.value!r}")
                continue
            else:
                continue
            offenders += [f"{path.name}:{node.lineno}: import {n}" for n in names if n.split(".")[0] in test_modules]
    assert not offenders, offenders
