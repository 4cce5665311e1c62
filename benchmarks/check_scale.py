"""How checking an addition grows with its size: `python -m benchmarks.check_scale`.

kg.incremental.check_addition must cost O(N) in the number N of entities of the
addition (a steward's upload, `kg check`, `kg add`): a quadratic step turns a 100,000
entity upload into a denial of service of the writer lock. This script generates
additions of N new measures modelled on tests/fixtures/additions/valid-10-measures.ttl
(a new section 10.0 of the Work Programme and measures 10.1 ... 10.N, each referencing
the existing programme, planning unit, countries, a place, actor types and a priority),
checks each once against the shipped graph in an in-memory Oxigraph store and prints
the time (wall and CPU: the machine may be shared), the time per entity and the ratio
to the previous size. Measured (docs/stewardship-limits.md): 1,000 measures 6.7 s,
10,000 70 s, 100,000 797 s on one core; before the quadratic steps were removed,
9.5 s and 322 s.

Sizes over KG_MAX_ADDITION_ENTITIES are measured with the limit raised for the run (the
limit protects the server; this measures what it protects against).

    python -m benchmarks.check_scale                  # 1000, 10000, 100000
    python -m benchmarks.check_scale --sizes 1000,4000,8000

Exit code 0: a report, not a gate (tests/test_incremental.py asserts linear growth by
counting store lookups, which does not depend on the machine).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rdflib import Graph

from kg import build, rdfio
from kg.config import settings
from kg.namespaces import bind_all

DEFAULT_SIZES = (1_000, 10_000, 100_000)

PREFIXES = """@prefix bkd:        <https://w3id.org/bukhara-deer/ontology#> .
@prefix rdfs:       <http://www.w3.org/2000/01/rdf-schema#> .
@prefix measure:    <https://w3id.org/bukhara-deer/measure/> .
@prefix section:    <https://w3id.org/bukhara-deer/section/> .
@prefix programme:  <https://w3id.org/bukhara-deer/programme/> .
@prefix population: <https://w3id.org/bukhara-deer/population/> .
@prefix place:      <https://w3id.org/bukhara-deer/place/> .
@prefix country:    <https://w3id.org/bukhara-deer/country/> .
@prefix actor:      <https://w3id.org/bukhara-deer/actor-type/> .
@prefix priority:   <https://w3id.org/bukhara-deer/priority/> .

section:10.0
    a bkd:Section ;
    rdfs:label "10.0 Amu Darya basin (AFG, TJK, TKM, UZB)"@en ;
    bkd:number "10.0" ;
    bkd:text "Amu Darya basin (AFG, TJK, TKM, UZB)" ;
    bkd:inProgramme programme:wp-2025-2032 ;
    bkd:planningUnit population:upper-amu-darya ;
    bkd:concernsCountry country:AFG , country:TJK , country:TKM , country:UZB .
"""

MEASURE = """
measure:10.{n}
    a bkd:Measure ;
    rdfs:label "Measure 10.{n}"@en ;
    bkd:number "10.{n}" ;
    bkd:inProgramme programme:wp-2025-2032 ;
    bkd:inSection section:10.0 ;
    bkd:planningUnit population:upper-amu-darya ;
    bkd:text "Survey stretch {n} of the riparian (tugay) forest along the Amu Darya" ;
    bkd:priorityAsGiven "1" ;
    bkd:priority priority:1 ;
    bkd:responsibility "GOs, scientific institutions" ;
    bkd:leadActorType actor:go , actor:scientific-institution ;
    bkd:concernsCountry country:UZB , country:TKM ;
    bkd:concernsPlace place:termez .
"""


def addition_text(n: int) -> str:
    """Turtle for a new section and n new measures (n + 1 entities), numbered uniquely."""
    return PREFIXES + "".join(MEASURE.format(n=i) for i in range(1, n + 1))


def addition(n: int) -> Graph:
    """The addition of addition_text(n), parsed the way `kg check` parses it (without
    the size and entity limits: a benchmark input, not a steward's)."""
    return rdfio.parse_into(bind_all(Graph()), addition_text(n), "turtle", f"generated-{n}")


def shipped_store():
    """The shipped graph in an in-memory Oxigraph store, laid out as the build's dataset."""
    from kg.stores.oxigraph import OxigraphStore

    return OxigraphStore.in_memory(data=rdfio.serialize(build.dataset(build.load_parts()), "nquads"))


@contextmanager
def entity_limit(n: int) -> Iterator[None]:
    """KG_MAX_ADDITION_ENTITIES raised to at least n for the duration."""
    old = os.environ.get("KG_MAX_ADDITION_ENTITIES")
    if settings().max_addition_entities < n:
        os.environ["KG_MAX_ADDITION_ENTITIES"] = str(n)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("KG_MAX_ADDITION_ENTITIES", None)
        else:
            os.environ["KG_MAX_ADDITION_ENTITIES"] = old


def measure(sizes: list[int], store=None, out=print) -> list[tuple[int, int, float]]:
    """Check an addition of each size once; print and return (measures, triples, seconds)."""
    from kg.incremental import check_addition

    store = store if store is not None else shipped_store()
    check_addition(addition(3), store)  # warm-up: schema, shapes, pyshacl imports
    rows: list[tuple[int, int, float]] = []
    out(f"{'measures':>9} {'triples':>9} {'check s':>9} {'cpu s':>9} {'ms/entity':>10} {'ratio':>7}  no violations")
    for n in sizes:
        g = addition(n)
        gc.collect()
        with entity_limit(n + 1):
            t, cpu = time.perf_counter(), time.process_time()
            result = check_addition(g, store)
            seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        ratio = "" if not rows else f"{seconds / rows[-1][2]:.1f}x"
        out(f"{n:>9} {len(g):>9} {seconds:>9.2f} {cpu:>9.2f} {seconds * 1000 / (n + 1):>10.2f} {ratio:>7}  "
            f"{'yes' if result.no_violations else 'NO: ' + result.report.summary()}")
        rows.append((n, len(g), seconds))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.check_scale", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                    help="comma-separated numbers of measures (default 1000,10000,100000)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    print(f"Bukhara Deer Knowledge Graph: check time by addition size (one core, nproc {os.cpu_count()}, "
          f"KG_MAX_ADDITION_ENTITIES {settings().max_addition_entities:,})")
    measure(sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
