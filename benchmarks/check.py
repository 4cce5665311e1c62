"""Benchmark of incremental change-set checking: `python -m benchmarks.check`.

Checks a realistic addition (benchmarks/additions/valid-10-measures.ttl: a new
section 10.0 of the Work Programme with 10 measures referencing existing programme,
planning unit, countries, places, actor types and priorities) against

  1x    the shipped graph, and
  100x  a synthetic graph 100 times its size (kg.synth: 99 more programmes shaped like
        the Work Programme),

each loaded into an in-memory Oxigraph store (kg.stores.oxigraph) with the same named
graphs as the build's dataset. It reports p50/p95 of the check over 20 runs after 5
warm-up runs, and, for comparison, one full pyshacl validation of the whole graph
(kg.validate.validate_graph), which at 100x is stopped after 60 s. A broken measure
(benchmarks/additions/broken-measure.ttl) is checked at each size to show that the
small neighbourhood still catches it.

Targets: a check under 100 ms at 1x; growth far below linear (the 100x / 1x ratio of
the check time close to 1, where the graph grows 100 times). Exit code 0: this is a
report, not a gate.

    python -m benchmarks.check [--scales 1,100] [--runs 20] [--warmup 5] [--full-limit 60]
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pyoxigraph as ox

from benchmarks.web import pct
from kg import build, rdfio, validate
from kg.changes import parse_input
from kg.incremental import check_addition
from kg.store import Store
from kg.stores.oxigraph import OxigraphStore
from kg.synth import synth_parts

ROOT = Path(__file__).resolve().parent.parent
ADDITION = ROOT / "benchmarks" / "additions" / "valid-10-measures.ttl"
BROKEN = ROOT / "benchmarks" / "additions" / "broken-measure.ttl"
RUNS, WARMUP = 20, 5
FULL_LIMIT_S = 60.0
TARGET_MS = 100.0


def store_of(parts: build.Parts) -> Store:
    """The parts in named graphs, as kg.build.dataset() lays them out, in memory."""
    return OxigraphStore.in_memory(data=rdfio.serialize(build.dataset(parts), "nquads"))


def time_checks(store: Store, addition, runs: int = RUNS, warmup: int = WARMUP) -> tuple[float, float, object]:
    """p50 and p95 (ms) of `runs` checks after `warmup` unmeasured ones, and the last result."""
    gc.collect()
    for _ in range(warmup):
        check_addition(addition, store)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = check_addition(addition, store)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), pct(times, 95), result


def _full(parts: build.Parts, conn) -> None:
    t = time.perf_counter()
    report = validate.validate_graph(parts.merged())
    conn.send(((time.perf_counter() - t) * 1000, report.summary()))


def full_validation(parts: build.Parts, limit_s: float | None) -> tuple[float | None, str]:
    """One full pyshacl run; in a forked child when a time limit applies, so that it
    can be stopped."""
    if limit_s is None or "fork" not in multiprocessing.get_all_start_methods():
        t = time.perf_counter()
        report = validate.validate_graph(parts.merged())
        return (time.perf_counter() - t) * 1000, report.summary()
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_full, args=(parts, child))
    proc.start()
    if parent.poll(limit_s):
        ms, summary = parent.recv()
        proc.join()
        return ms, summary
    proc.terminate()
    proc.join()
    return None, f"stopped after {limit_s:.0f} s"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Sizes, runs and the full-validation limit; small values give a quick run."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.check", description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,100", metavar="N,M",
                    help="graph sizes, 1 (the shipped graph) first, then synthetic ones (default 1,100)")
    ap.add_argument("--runs", type=int, default=RUNS, metavar="N", help=f"measured checks per size (default {RUNS})")
    ap.add_argument("--warmup", type=int, default=WARMUP, metavar="N",
                    help=f"unmeasured checks per size first (default {WARMUP})")
    ap.add_argument("--full-limit", type=float, default=FULL_LIMIT_S, metavar="S",
                    help=f"stop the full validation of a synthetic graph after S seconds (default {FULL_LIMIT_S:g})")
    args = ap.parse_args(argv)
    try:
        args.scales = [int(s) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        ap.error("--scales: comma-separated whole numbers")
    if not args.scales or args.scales[0] != 1 or any(s < 1 for s in args.scales):
        ap.error("--scales must start with 1 (the shipped graph: the baseline of the ratio)")
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be positive and --warmup zero or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("Bukhara Deer Knowledge Graph: incremental check benchmark")
    print(f"nproc       {os.cpu_count()}")
    print(f"python      {platform.python_version()} ({platform.python_implementation()}, {platform.machine()})")
    print(f"pyoxigraph  {ox.__version__ if hasattr(ox, '__version__') else '?'}")
    print(f"addition    {ADDITION.relative_to(ROOT)} ({args.runs} runs after {args.warmup} warm-up runs)")
    print(f"targets     check p50 < {TARGET_MS:.0f} ms at 1x; Nx/1x check-time ratio far below N (PASS under 2)")
    addition = parse_input(ADDITION)
    broken = parse_input(BROKEN)
    print(f"            {len(addition)} triples, {len(set(addition.subjects()))} entities")
    print()

    rows = []
    per_triple = 0.0
    for scale in args.scales:
        t = time.perf_counter()
        parts = build.load_parts() if scale == 1 else synth_parts(scale)
        made = time.perf_counter() - t
        store = store_of(parts)
        triples = len(store)
        p50, p95, result = time_checks(store, addition, args.runs, args.warmup)
        caught = check_addition(broken, store)
        caught_text = ("caught" if not caught.no_violations else "MISSED")
        if scale == 1:
            full_ms, full_note = full_validation(parts, None)
            per_triple = full_ms / triples
        else:
            estimate = per_triple * triples / 1000
            if estimate > args.full_limit * 2:
                full_ms, full_note = None, f"skipped: ~{estimate:.0f} s estimated at the 1x rate"
            else:
                full_ms, full_note = full_validation(parts, args.full_limit)
        rows.append((scale, triples, p50, p95, full_ms, full_note, result.no_violations, caught_text, made))
        print(f"{scale}x: graph of {triples} triples ready in {made:.1f} s; addition "
              f"{'has no violations' if result.no_violations else 'HAS VIOLATIONS'}; broken measure {caught_text}; "
              f"full validation: {full_note}", flush=True)

    print()
    head = f"{'graph':<6} {'triples':>8} {'check p50 ms':>13} {'check p95 ms':>13} {'full validation ms':>19}  target"
    print(head)
    print("-" * len(head))
    base_p50 = rows[0][2]
    for scale, triples, p50, p95, full_ms, _full_note, _ok, _caught, _made in rows:
        full = f"{full_ms:.0f}" if full_ms is not None else "-"
        if scale == 1:
            target = f"p50 < {TARGET_MS:.0f} ms: {'PASS' if p50 < TARGET_MS else 'FAIL'}"
        else:
            ratio = p50 / base_p50
            target = f"ratio {ratio:.2f} for {triples / rows[0][1]:.0f}x triples: {'PASS' if ratio < 2 else 'FAIL'}"
        print(f"{str(scale) + 'x':<6} {triples:>8} {p50:>13.1f} {p95:>13.1f} {full:>19}  {target}")
    for scale, _triples, _p50, _p95, full_ms, full_note, _ok, _caught, _made in rows:
        if full_ms is None:
            print(f"({scale}x full validation {full_note})")
    print(f"(full validation at 1x: {rows[0][4] / rows[0][1] * 1000:.0f} µs per triple)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
