"""Latency of the web app: every page type, and every competency query through the
SPARQL endpoint against the bare engine.

    python -m benchmarks.web [--repeat N] [--row-budget S]
                                    (from the repo root; `make bench` builds first)

Pages go through Flask's test client (no network, no WSGI server), so the numbers
are the app's own work: routing, queries, templates, serialization. Queries are
POSTed to /sparql as application/sparql-query with Accept
application/sparql-results+json, and the same query is run directly with
kg.store.Store.query (kg.store.open_store on the same dist/ and KG_STORE engine) +
Oxigraph's JSON serializer; the difference of the medians is
what the endpoint adds (HTTP handling, negotiation, the worker-process round trip).

A report, not a test: the exit code is 0 whatever the numbers say.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

PAGE_ITERATIONS = 200
QUERY_ITERATIONS = 300
ROW_BUDGET_S = 5.0          # stop a row early (but after at least MIN_SAMPLES) past this
MIN_SAMPLES = 30
WARMUP = 5
PAGE_P95_TARGET_MS = 25.0
OVERHEAD_TARGET_MS = 2.0


# ---------------------------------------------------------------------------
# Measuring.

def sample(fn, iterations: int, budget: float = ROW_BUDGET_S, warmup: int = WARMUP) -> list[float]:
    """Milliseconds per call of fn, after `warmup` unmeasured calls; a row stops after
    `budget` seconds once it has MIN_SAMPLES (or all its iterations, if fewer)."""
    for _ in range(warmup):
        fn()
    out: list[float] = []
    start = time.perf_counter()
    for _ in range(iterations):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1e6)
        if len(out) >= MIN_SAMPLES and time.perf_counter() - start > budget:
            break
    return out


def stop(proc) -> None:
    """End a server started for a benchmark: terminate, then kill after 10 s."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank on the sorted values, interpolated)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    """Aligned plain-text columns (`right`: the indexes right-aligned), readable in a terminal."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# ---------------------------------------------------------------------------
# The machine.

def machine() -> list[str]:
    import pyoxigraph

    model = "unknown"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.lower().startswith(("model name", "hardware", "cpu model")):
                model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    try:
        from importlib.metadata import version
        flask_version = version("flask")
    except Exception:  # noqa: BLE001
        flask_version = "?"
    return [f"nproc       {nproc}",
            f"CPU         {model}",
            f"python      {platform.python_version()} ({platform.python_implementation()}, {platform.machine()})",
            f"pyoxigraph  {pyoxigraph.__version__}",
            f"flask       {flask_version}"]


# ---------------------------------------------------------------------------
# What to request.

def first_of(store, cls: str, base: str, under: str = "") -> str | None:
    """Path (under the base) of the first IRI of a class, in IRI order."""
    rows = list(store.query(f"SELECT ?x WHERE {{ ?x a bkd:{cls} FILTER(STRSTARTS(STR(?x), \"{base}{under}\")) }} "
                            "ORDER BY STR(?x) LIMIT 1"))
    return rows[0]["x"].value[len(base):] if rows else None


def pages(store, base: str) -> list[tuple[str, str, dict, int]]:
    """(name, path, headers, expected status) for every page type."""
    def entity(cls: str, fallback: str, under: str = "") -> str:
        return "/" + (first_of(store, cls, base, under) or fallback)

    measure = entity("Measure", "measure/4.1")
    return [
        ("home", "/", {}, 200),
        ("measures list", "/measures", {}, 200),
        ("measures filtered", "/measures?unit=upper-amu-darya&priority=1", {}, 200),
        ("measures CSV", "/measures?format=csv", {}, 200),
        ("measure", measure, {}, 200),
        ("annex item", entity("Annex1Item", "annex1/4.1"), {}, 200),
        ("section", entity("Section", "section/4.0", "section/"), {}, 200),
        ("population", entity("Population", "population/upper-amu-darya"), {}, 200),
        ("site", entity("Site", "site/darqad"), {}, 200),
        ("hotspot", entity("TransboundaryHotspot", "hotspot/1"), {}, 200),
        ("country", entity("Country", "country/AFG"), {}, 200),
        ("actor type", entity("ActorType", "actor-type/ngo"), {}, 200),
        ("priority", entity("Priority", "priority/1"), {}, 200),
        ("quality note", entity("DataQualityNote", "quality-note/1"), {}, 200),
        ("ontology", "/ontology", {}, 200),
        ("browse", "/browse/Measure", {}, 200),
        ("search", "/search?q=monitoring", {}, 200),
        ("404", "/no/such/entity", {}, 404),
        ("entity as Turtle", measure, {"Accept": "text/turtle"}, 200),
        ("entity as JSON-LD", measure, {"Accept": "application/ld+json"}, 200),
        ("VoID", "/.well-known/void", {}, 200),
    ]


# ---------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Iterations and time limits; small values give a quick run (the smoke test's)."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.web", description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, metavar="N",
                    help=f"measured calls per page and per query (default {PAGE_ITERATIONS} per page, "
                         f"{QUERY_ITERATIONS} per query)")
    ap.add_argument("--row-budget", type=float, default=ROW_BUDGET_S, metavar="S",
                    help=f"stop a row after S seconds, once it has {MIN_SAMPLES} samples (default {ROW_BUDGET_S:g})")
    ap.add_argument("--warmup", type=int, default=WARMUP, metavar="N",
                    help=f"unmeasured calls before each row (default {WARMUP})")
    args = ap.parse_args(argv)
    for name in ("repeat", "warmup"):
        value = getattr(args, name)
        if value is not None and value < (1 if name == "repeat" else 0):
            ap.error(f"--{name} must be {'positive' if name == 'repeat' else 'zero or more'}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    page_n = args.repeat or PAGE_ITERATIONS
    query_n = args.repeat or QUERY_ITERATIONS
    root = Path(__file__).resolve().parent.parent
    os.chdir(root)
    sys.path.insert(0, str(root))
    os.environ.setdefault("KG_DIST", str(root / "dist"))
    dist = Path(os.environ["KG_DIST"])
    if not (dist / "dataset.nq").exists():
        print(f"no built graph in {dist}: run `kg build` (or `make bench`) first")
        return 0

    import pyoxigraph as ox

    from kg import query as kgquery
    from kg.store import open_store
    from webapp import create_app
    from webapp.state import graph_state

    began = time.perf_counter()
    print("Bukhara Deer Knowledge Graph: web latency benchmark")
    print("\n".join(machine()))
    print(f"dist        {dist}")
    print(f"targets     every page p95 < {PAGE_P95_TARGET_MS:g} ms; SPARQL endpoint overhead "
          f"(endpoint p50 - engine p50) < {OVERHEAD_TARGET_MS:g} ms")
    print(f"iterations  {page_n} per page, {query_n} per query "
          f"(after {args.warmup} warm-up calls; a row stops after {args.row_budget:g} s)")

    t = time.perf_counter()
    app = create_app()
    print(f"app start   {(time.perf_counter() - t) * 1000:.0f} ms (create_app: loads the graph)")
    client = app.test_client()
    repo = graph_state(app).repo
    store = open_store(dist)  # the engine itself, as the app's KG_STORE opens it
    base = repo.base

    # -- pages -----------------------------------------------------------------
    rows, failures = [], 0
    for name, path, headers, status in pages(store, base):
        first = client.get(path, headers=headers)  # warm-up: the app caches aggregates on first use
        got = first.status_code
        ok_status = got == status
        size = len(first.data)

        def call(path=path, headers=headers):
            r = client.get(path, headers=headers)
            r.close()

        times = sample(call, page_n, args.row_budget, args.warmup)
        p50, p95 = pct(times, 50), pct(times, 95)
        ok = ok_status and p95 < PAGE_P95_TARGET_MS
        failures += not ok
        rows.append([name, path + (f"  [{headers['Accept']}]" if headers else ""),
                     f"{got}" + ("" if ok_status else f" (want {status})"), f"{size}", f"{len(times)}",
                     f"{p50:.2f}", f"{p95:.2f}", "PASS" if ok else "FAIL"])
    print(f"\nPages (Flask test client; target p95 < {PAGE_P95_TARGET_MS:g} ms)")
    print(table(["page", "path", "status", "bytes", "n", "p50 ms", "p95 ms", "target"], rows,
                right={3, 4, 5, 6}))

    # -- SPARQL ------------------------------------------------------------------
    qrows = []
    json_fmt = ox.QueryResultsFormat.JSON
    for nq in kgquery.named_queries():
        body = nq.sparql.encode("utf-8")
        hdrs = {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"}
        first = client.post("/sparql", data=body, headers=hdrs)  # warm-up: starts the worker pool
        endpoint_bytes = first.data

        def engine(sparql=nq.sparql):
            res = store.query(sparql)
            if isinstance(res, (ox.QuerySolutions, ox.QueryBoolean)):
                return res.serialize(format=json_fmt)
            return ox.serialize(res, format=ox.RdfFormat.TURTLE)

        engine_bytes = engine()

        def endpoint(body=body, hdrs=hdrs):
            r = client.post("/sparql", data=body, headers=hdrs)
            r.close()

        eng = sample(engine, query_n, args.row_budget, args.warmup)
        end = sample(endpoint, query_n, args.row_budget, args.warmup)
        e50, p50, p95 = pct(eng, 50), pct(end, 50), pct(end, 95)
        overhead = p50 - e50
        ok = first.status_code == 200 and overhead < OVERHEAD_TARGET_MS
        failures += not ok
        same = "yes" if _same_results(endpoint_bytes, engine_bytes) else "NO"
        qrows.append([nq.name, f"{first.status_code}", same, f"{len(end)}", f"{e50:.2f}", f"{p50:.2f}",
                      f"{p95:.2f}", f"{overhead:.2f}", "PASS" if ok else "FAIL"])
    print(f"\nCompetency queries (POST /sparql, application/sparql-results+json, vs Store.query + "
          f"JSON serialization; target overhead p50 < {OVERHEAD_TARGET_MS:g} ms)")
    print("(same rows: the endpoint's JSON holds the engine's solutions; the parts of a GROUP_CONCAT "
          "are compared as sets, since their order is unspecified)")
    print(table(["query", "status", "same rows", "n", "engine p50", "endpoint p50", "endpoint p95",
                 "overhead p50", "target"], qrows, right={3, 4, 5, 6, 7}))

    runner = app.extensions.get("query_runner")
    if runner is not None:
        runner.close()
    store.close()
    total = len(rows) + len(qrows)
    print(f"\n{total - failures} of {total} rows meet their target"
          + ("" if not failures else f"; {failures} FAIL") + f" (run took {time.perf_counter() - began:.1f} s)")
    return 0


def _same_results(a: bytes, b: bytes) -> bool:
    """Do two SPARQL JSON results hold the same solutions (order-insensitive)?"""
    import json

    try:
        ja, jb = json.loads(a), json.loads(b)
    except ValueError:
        return a == b
    if "boolean" in ja or "boolean" in jb:
        return ja.get("boolean") == jb.get("boolean")

    def norm(j):
        # GROUP_CONCAT without an order may list its parts in any order: compare them as sets.
        rows = [{k: {**v, "value": "; ".join(sorted(v.get("value", "").split("; ")))} for k, v in r.items()}
                for r in j.get("results", {}).get("bindings", [])]
        return sorted(json.dumps(r, sort_keys=True) for r in rows)

    return ja.get("head", {}).get("vars") == jb.get("head", {}).get("vars") and norm(ja) == norm(jb)


if __name__ == "__main__":
    sys.exit(main())
