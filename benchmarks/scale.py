"""The engines at scale: `kg bench` (or `make bench`, or `python -m benchmarks.scale`).

    kg bench [--scales 1,10,100,1000] [--stores memory,oxigraph,sparql] [--budget 20]
             [--limit 1800] [--hermit-limit 120] [--memory-pages-max 100]
             [--output docs/benchmarks.md]

For each scale N (1, 10, 100, 1000 by default: synthetic graphs N times the shipped
one, kg.synth, seed 1) and each engine (memory, oxigraph, sparql), one child process
measures:

  load      loading the built dataset.nq into the engine (rdflib parse; a new Oxigraph
            generation on disk; `kg push` to a Virtuoso server started on loopback);
  peak MB   the child's peak resident memory (plus the Virtuoso server's, for sparql);
  queries   p50 and p95 of every competency query of queries/ (kg.store.Store.query);
  pages     p95 of the main pages through the Flask test client (app started on the
            engine; the first request of each page is a warm-up);
  check     p50 / p95 of checking a 10-measure addition (kg.incremental);
  serve     seconds from starting `kg serve` to the first 200 answer on / .

HermiT (owlready2) is timed once per scale on the whole graph, stopped after
--hermit-limit seconds. Results accumulate in .bench/results.json ($KG_BENCH_DIR: the
synthetic graphs live there too; a later run of some scales or engines replaces only
those rows); the table of everything measured is printed and written, with a
description of the machine, between the <!-- kg-bench --> markers of --output
(docs/benchmarks.md; a file without the markers is written whole).

A report, not a test: the exit code is 0 whatever the numbers say.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("KG_BENCH_DIR", ROOT / ".bench"))
RESULTS = WORK / "results.json"
ADDITION = ROOT / "benchmarks" / "additions" / "valid-10-measures.ttl"
PAGES = ("home", "measures list", "measures filtered", "measure", "section", "population", "site",
         "country", "ontology", "browse", "search", "VoID", "matrix")
MIN_SAMPLES, MAX_SAMPLES = 5, 200
CHILD_TIMEOUT_S = 3 * 3600
TARGETS = ("oxigraph queries p50 >= 20x faster than memory at 1000x; every page p95 < 200 ms; "
           "10-measure check < 200 ms at every size; `kg serve` ready < 2 s on a built store")


# ---------------------------------------------------------------------------------
# Measuring (child side)
# ---------------------------------------------------------------------------------

def _sample(fn, budget: float, warmup: int = 1) -> list[float]:
    """Milliseconds per call: at least MIN_SAMPLES calls, then until `budget` seconds."""
    for _ in range(warmup):
        t = time.perf_counter()
        fn()
        if time.perf_counter() - t > budget:  # one call over budget: it is the sample
            return [(time.perf_counter() - t) * 1000]
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < MAX_SAMPLES:
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
        spent = time.perf_counter() - start
        # enough samples, or calls so slow that MIN_SAMPLES would not fit the budget
        if spent > budget and (len(out) >= MIN_SAMPLES or out[-1] / 1000 > budget / MIN_SAMPLES):
            break
    return out


def _stats(values: list[float]) -> dict:
    from benchmarks.web import pct

    return {"p50": round(pct(values, 50), 2), "p95": round(pct(values, 95), 2), "n": len(values)}


def child(scale: int, kind: str, dist: Path, budget: float, partial: Path | None = None,
          skip: tuple[str, ...] = ()) -> dict:
    """Everything measured for one engine on one built graph, in this process. What is
    measured so far is written to `partial` after each step, so a run stopped by the
    parent's time limit still reports its finished steps."""
    os.environ["KG_DIST"], os.environ["KG_STORE"] = str(dist), kind
    from kg.build import read_manifest
    from kg.changes import parse_input
    from kg.incremental import check_addition
    from kg.store import open_store

    out: dict = {"scale": scale, "store": kind, "triples": read_manifest(dist)["triples"]["total"]}

    def step(name: str) -> None:
        out["step"] = name
        if partial is not None:
            partial.write_text(json.dumps(out))
    step("load")
    t = time.perf_counter()
    if kind == "oxigraph":
        import shutil

        from kg.stores.oxigraph import load_generation

        root = Path(tempfile.mkdtemp(dir=WORK))
        load_generation(root, dist)
        out["load_s"] = round(time.perf_counter() - t, 2)
        shutil.rmtree(root, ignore_errors=True)
        store = open_store(dist)
    elif kind == "memory":
        store = open_store(dist)
        out["load_s"] = round(time.perf_counter() - t, 2)
    else:
        from kg.stores.sparql import SparqlEngine

        SparqlEngine().publish(dist, previous=None)
        out["load_s"] = round(time.perf_counter() - t, 2)
        store = open_store(dist)

    step("check")
    addition = parse_input(ADDITION)
    result = check_addition(addition, store)
    out["check_no_violations"] = result.no_violations
    out["check"] = _stats(_sample(lambda: check_addition(addition, store), budget / 2, warmup=2))

    step("pages")
    if "pages" not in skip:
        measure_pages(out, dist, budget, step)
    measure_queries(out, store, budget, step)
    out.pop("step", None)
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def measure_pages(out: dict, dist: Path, budget: float, step) -> None:
    """The main pages through the Flask test client (the first call of each builds
    its caches and is not counted)."""
    from benchmarks.web import pages
    from webapp import create_app
    from webapp.state import graph_state

    t = time.perf_counter()
    app = create_app({"KG_DIST": str(dist), "TESTING": True})
    out["app_start_s"] = round(time.perf_counter() - t, 2)
    client = app.test_client()
    repo = graph_state(app).repo
    page_list = [*pages(repo.store, repo.base), ("matrix", "/matrix", {}, 200)]
    out["pages"] = {}
    for name, path, headers, status in page_list:
        if name not in PAGES:
            continue

        def get(path=path, headers=headers, status=status):
            r = client.get(path, headers=headers)
            assert r.status_code == status, f"{path}: {r.status_code}"
        t = time.perf_counter()
        get()  # the first request builds the page's per-graph caches: reported apart
        out.setdefault("pages_cold", {})[name] = round((time.perf_counter() - t) * 1000, 1)
        out["pages"][name] = _stats(_sample(get, budget / 8, warmup=0))
        step("pages")


def measure_queries(out: dict, store, budget: float, step) -> None:
    """Every competency query; last, since at the largest scales some take minutes
    and the parent's time limit may stop the run (its finished steps are kept)."""
    from kg import query as kgquery
    from kg.errors import KGError

    step("queries")
    out["queries"] = {}
    for q in _cheapest_first(kgquery.named_queries(), out["store"], out["scale"]):
        try:
            out["queries"][q.name] = _stats(_sample(lambda q=q: list(store.query(q.sparql)), budget / 4))
        except KGError as e:  # an engine's own limit (reported per query, the run goes on)
            out.setdefault("query_errors", {})[q.name] = " ".join(str(e).split())[:300]
        step("queries")


def _cheapest_first(queries: list, kind: str, scale: int) -> list:
    """The queries in order of their p50 on this engine at the largest smaller scale
    measured: if the time limit stops the run, it stops the slowest ones."""
    earlier = [r for k, r in load_results().items()
               if r.get("store") == kind and r.get("scale", scale) < scale and r.get("queries")]
    if not earlier:
        return queries
    last = max(earlier, key=lambda r: r["scale"])["queries"]
    return sorted(queries, key=lambda q: last.get(q.name, {}).get("p50", float("inf")))


def serve_ready(dist: Path, kind: str, env: dict, timeout: float = 180) -> tuple[float | None, float | None]:
    """Seconds from starting `kg serve` to its first 200 answer (an entity page: the
    server is up and answering), and to its first 200 on the home page (which needs
    the per-graph aggregates: built in the background from start-up). None: not
    within timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "KG_DIST": str(dist), "KG_STORE": kind}
    t = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("kg")), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found: list[float | None] = []
    try:
        for path in ("/measure/1.1", "/"):
            found.append(None)
            while time.perf_counter() - t < timeout and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
                        if r.status == 200:
                            found[-1] = round(time.perf_counter() - t, 2)
                            break
                except OSError:
                    time.sleep(0.05)
        return found[0], found[1]
    finally:
        from benchmarks.web import stop

        stop(proc)


def hermit(dist: Path, limit: float) -> float | None:
    """Seconds HermiT takes on the whole graph (None: stopped after `limit`)."""
    code = ("import sys, time; from rdflib import Dataset, Graph; from kg import reason;"
            "ds = Dataset(); ds.parse(sys.argv[1], format='nquads'); g = Graph();"
            "[g.add(t) for c in ds.graphs() for t in c]; t = time.perf_counter();"
            "r = reason.reason(g); print(time.perf_counter() - t)")
    try:
        p = subprocess.run([sys.executable, "-c", code, str(dist / "dataset.nq")], capture_output=True,
                           text=True, timeout=limit, cwd=ROOT)
        return round(float(p.stdout.strip().splitlines()[-1]), 1) if p.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return None


# ---------------------------------------------------------------------------------
# Orchestrating (parent side)
# ---------------------------------------------------------------------------------

def ensure_graph(scale: int, seed: int = 1) -> Path:
    """.bench/xN: the synthetic graph of that scale, generated once."""
    dist = WORK / f"x{scale}"
    from kg.build import read_manifest

    meta = read_manifest(dist) or {}
    if meta.get("synthetic") == {"scale": scale, "seed": seed} and (dist / "dataset.nq").exists():
        return dist
    subprocess.run([str(Path(sys.executable).with_name("kg")), "synth", "--scale", str(scale),
                    "--seed", str(seed), "--out", str(dist)], check=True, cwd=ROOT,
                   env={**os.environ, "KG_STORE": "oxigraph"})
    return dist


def run_child(scale: int, kind: str, dist: Path, budget: float, env: dict, limit: float,
              skip: tuple[str, ...] = ()) -> dict:
    partial = WORK / f"partial-{scale}-{kind}.json"
    partial.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.scale", "--child", str(scale), kind, str(dist), "--budget", str(budget),
           "--partial", str(partial), *(["--skip", ",".join(skip)] if skip else [])]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=limit)
        if p.returncode == 0:
            return json.loads(p.stdout.strip().splitlines()[-1])
        error = (p.stderr.strip().splitlines() or ["failed"])[-1][:200]
    except subprocess.TimeoutExpired:
        error = f"stopped after {limit:.0f} s"
    try:
        row = json.loads(partial.read_text())
    except (FileNotFoundError, ValueError):
        row = {"scale": scale, "store": kind}
    row["error"] = f"{error} (during {row.pop('step', 'start')})"
    return row


def _virtuoso_hwm_mb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def measure(scales: list[int], kinds: list[str], budget: float, hermit_limit: float, limit: float,
            memory_pages_max: int) -> dict:
    results = load_results()
    for scale in scales:
        dist = ensure_graph(scale)
        for kind in kinds:
            print(f"x{scale} {kind} ...", flush=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("KG_SPARQL_")}
            server = None
            if kind == "sparql":
                from benchmarks import virtuoso_server

                server = virtuoso_server.start(Path(tempfile.mkdtemp(dir=WORK, prefix="virtuoso-")))
                env.update(KG_SPARQL_QUERY_URL=server.query_url, KG_SPARQL_UPDATE_URL=server.update_url,
                           KG_SPARQL_GSP_URL=server.gsp_url, KG_SPARQL_USER=server.user,
                           KG_SPARQL_PASSWORD=server.password, KG_SPARQL_TIMEOUT="3600")
            try:
                skip = ("pages",) if kind == "memory" and scale > memory_pages_max else ()
                row = run_child(scale, kind, dist, budget, env, limit, skip)
                if skip:
                    row["skipped"] = f"pages and serve not measured on memory above {memory_pages_max}x"
                elif "error" not in row or "pages" in row:
                    row["serve_s"], row["home_cold_s"] = serve_ready(dist, kind, env)
                if server is not None:
                    hwm = _virtuoso_hwm_mb(server.process.pid)
                    if hwm and "peak_mb" in row:
                        row["server_peak_mb"] = hwm
            finally:
                if server is not None:
                    server.stop()
                    import shutil
                    shutil.rmtree(server.directory, ignore_errors=True)
            row["measured"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
            results[f"{scale}/{kind}"] = row
            save_results(results)
            print(summary_line(row), flush=True)
        smaller = [r for k, r in results.items() if k.endswith("/hermit") and r["scale"] < scale]
        if hermit_limit > 0 and not any(r["seconds"] is None for r in smaller):
            results[f"{scale}/hermit"] = {"scale": scale, "seconds": hermit(dist, hermit_limit),
                                          "limit": hermit_limit}
            save_results(results)
        elif hermit_limit > 0:  # it was already stopped on a smaller graph
            results[f"{scale}/hermit"] = {"scale": scale, "seconds": None, "limit": hermit_limit,
                                          "note": "not run: stopped on a smaller graph"}
            save_results(results)
    return results


def load_results() -> dict:
    try:
        return json.loads(RESULTS.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def save_results(results: dict) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))


# ---------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------

def _q(row: dict, key: str) -> float | None:
    qs = row.get("queries") or {}
    return statistics.median(v[key] for v in qs.values()) if qs else None


def _cells(row: dict) -> dict[str, str]:
    """The summary cells of one row; what was not measured is a dash."""
    qs, pages, check = row.get("queries") or {}, row.get("pages") or {}, row.get("check")
    worst = max(pages.items(), key=lambda kv: kv[1]["p95"]) if pages else None
    peak = f"{row['peak_mb']:,}" if row.get("peak_mb") else "—"
    if row.get("server_peak_mb"):
        peak += f" + server {row['server_peak_mb']:,}"
    return {
        "load": _fmt(row.get("load_s")), "peak": peak, "q50": _fmt(_q(row, "p50")),
        "q95": _fmt(max(v["p95"] for v in qs.values()) if qs else None),
        "pages": f"{_fmt(worst[1]['p95'])} ({worst[0]})" if worst else "—",
        "check": f"{_fmt(check['p50'])} / {_fmt(check['p95'])}" if check else "—",
        "serve": f"{_fmt(row.get('serve_s'))} / {_fmt(row.get('home_cold_s'))}",
        "note": "; ".join(x for x in (row.get("error"), row.get("skipped"),
                                       *(f"{q} failed: {m[:160]}" for q, m in (row.get("query_errors") or {}).items()))
                          if x),
    }


def summary_line(row: dict) -> str:
    c = _cells(row)
    return (f"x{row['scale']} {row['store']}: load {c['load']} s, peak {c['peak']} MB, queries p50 {c['q50']} ms, "
            f"pages max p95 {c['pages']} ms, check {c['check']} ms, serve {c['serve']} s {c['note']}")


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}{unit}" if v >= 100 else f"{v:.1f}{unit}" if v >= 1 else f"{v:.2f}{unit}"


def tables(results: dict) -> str:
    rows = sorted((r for k, r in results.items() if not k.endswith("/hermit")),
                  key=lambda r: (r["scale"], ["memory", "oxigraph", "sparql"].index(r["store"])))
    head = ("| scale | triples | store | load s | peak MB | queries p50 ms (median) | queries p95 ms (max) "
            "| pages p95 ms (max) | check p50 / p95 ms | serve: first answer / home cold, s | notes |\n|" + "---|" * 11)
    lines = [head]
    for r in rows:
        c = _cells(r)
        lines.append(f"| {r['scale']}× | {r.get('triples', 0):,} | {r['store']} | {c['load']} | {c['peak']} "
                     f"| {c['q50']} | {c['q95']} | {c['pages']} | {c['check']} | {c['serve']} | {c['note']} |")
    out = ["\n".join(lines)]
    ratios = []
    for scale in sorted({r["scale"] for r in rows}):
        mem, oxi = results.get(f"{scale}/memory"), results.get(f"{scale}/oxigraph")
        if mem and oxi and mem.get("queries") and oxi.get("queries"):
            common = [q for q in oxi["queries"] if q in mem["queries"]]
            per = sorted(mem["queries"][q]["p50"] / max(oxi["queries"][q]["p50"], 1e-3) for q in common)
            ratios.append(f"| {scale}× | {statistics.median(per):,.0f}× | {per[0]:,.0f}× | {per[-1]:,.0f}× |")
    if ratios:
        out.append("Oxigraph against rdflib (memory), per competency query, ratio of the p50s:\n\n"
                   "| scale | median | slowest gain | largest gain |\n|---|---|---|---|\n" + "\n".join(ratios))
    herm = sorted((r for k, r in results.items() if k.endswith("/hermit")), key=lambda r: r["scale"])
    if herm:
        def secs(r: dict) -> str:
            return _fmt(r["seconds"]) if r["seconds"] is not None else f"stopped after {r['limit']:.0f} s"
        out.append("HermiT (owlready2) on the whole graph, JVM start included:\n\n| scale | seconds |\n|---|---|\n"
                   + "\n".join(f"| {r['scale']}× | {secs(r)} |" for r in herm))
    names = sorted({q for r in rows for q in (r.get("queries") or {})})
    if names:
        detail = ["| scale | store | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for r in rows:
            qs = r.get("queries") or {}
            detail.append(f"| {r['scale']}× | {r['store']} | " + " | ".join(
                f"{_fmt(qs[q]['p50'])} / {_fmt(qs[q]['p95'])}" if q in qs else "—" for q in names) + " |")
        out.append("Every competency query, p50 / p95 ms:\n\n" + "\n".join(detail))
    pages = ["| scale | store | " + " | ".join(PAGES) + " |", "|---|---|" + "---|" * len(PAGES)]
    for r in rows:
        if r.get("pages"):
            pages.append(f"| {r['scale']}× | {r['store']} | " + " | ".join(
                _fmt(r["pages"].get(p, {}).get("p95")) for p in PAGES) + " |")
    out.append("Every main page, p95 ms (Flask test client; after its first request):\n\n" + "\n".join(pages))
    cold = ["| scale | store | " + " | ".join(PAGES) + " |", "|---|---|" + "---|" * len(PAGES)]
    for r in rows:
        if r.get("pages_cold"):
            cold.append(f"| {r['scale']}× | {r['store']} | " + " | ".join(
                _fmt(r["pages_cold"].get(p)) for p in PAGES) + " |")
    if len(cold) > 2:
        out.append("First request of each page after start, ms (builds the per-graph caches; "
                   "`kg serve` builds them in the background at start):\n\n" + "\n".join(cold))
    return "\n\n".join(out)


def section(results: dict) -> str:
    """The generated part of the page: where the numbers come from, the machine, the
    targets and the tables."""
    from benchmarks.web import machine

    return "\n".join([
        "Written by `kg bench` (`make bench`); numbers from the last run of each row "
        "(.bench/results.json). Graphs from `kg synth --scale N --seed 1`.", "",
        "Machine:", "", "```", *machine(), f"memory      {_mem_total()}", "```", "",
        f"Targets: {TARGETS}.", "", tables(results)])


def document(results: dict) -> str:
    """A whole page of the results, for an --output without the markers."""
    return "\n".join(["# Benchmarks: the engines from 1× to 1,000×", "", section(results), ""])


def _mem_total() -> str:
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        return f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        return "unknown"


SECTION = "kg-bench"  # docs/benchmarks.md: the generated part lies between <!-- kg-bench --> markers


def write_report(path: Path, results: dict) -> None:
    """The tables into `path`: between its markers when it has them, each alone on its
    line (the rest of the page is written by hand and may quote them), else the whole
    page."""
    import re

    old = path.read_text(encoding="utf-8") if path.exists() else ""
    m = re.search(rf"^<!-- {SECTION} -->\n.*?^<!-- /{SECTION} -->$", old, re.M | re.S)
    if m:
        body = f"<!-- {SECTION} -->\n{section(results)}\n<!-- /{SECTION} -->"
        path.write_text(old[:m.start()] + body + old[m.end():], encoding="utf-8")
    else:
        path.write_text(document(results), encoding="utf-8")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m benchmarks.scale` (kg/cli.py gives `kg bench` the same)."""
    p.add_argument("--scales", default="1,10,100,1000", help="comma-separated scales (default 1,10,100,1000)")
    p.add_argument("--stores", default="memory,oxigraph,sparql", help="engines (default memory,oxigraph,sparql)")
    p.add_argument("--output", default="docs/benchmarks.md",
                   help="where the tables go: between the file's <!-- kg-bench --> markers ('-' for none)")
    p.add_argument("--budget", type=float, default=20.0, help="seconds per measured row, at most (default 20)")
    p.add_argument("--limit", type=float, default=1800.0, help="seconds per engine and scale, at most (default 1800)")
    p.add_argument("--memory-pages-max", type=int, default=100,
                   help="largest scale at which pages and serve are measured on memory (default 100)")
    p.add_argument("--hermit-limit", type=float, default=120.0, help="stop HermiT after this many seconds (0: skip)")


def main(args: argparse.Namespace) -> int:
    scales = [int(s) for s in str(args.scales).split(",") if s.strip()]
    kinds = [s.strip() for s in str(args.stores).split(",") if s.strip()]
    results = measure(scales, kinds, args.budget, getattr(args, "hermit_limit", 120.0),
                      getattr(args, "limit", 1800.0), getattr(args, "memory_pages_max", 100))
    print(tables(results))
    if args.output and args.output != "-":
        write_report(Path(args.output), results)
        print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    add_arguments(p)
    p.add_argument("--child", nargs=3, metavar=("SCALE", "STORE", "DIST"),
                   help="(internal) measure one engine on one graph in this process; prints JSON")
    p.add_argument("--partial", help="(internal, with --child) where finished steps are written")
    p.add_argument("--skip", default="", help="(internal, with --child) steps not measured, e.g. pages")
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    if a.child:
        print(json.dumps(child(int(a.child[0]), a.child[1], Path(a.child[2]), a.budget,
                               Path(a.partial) if a.partial else None, tuple(filter(None, a.skip.split(","))))))
    else:
        sys.exit(main(a))
