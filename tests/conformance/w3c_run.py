"""Running the suites on the engines: one worker process per engine, one test at a
time, each with a time limit.

A query that runs away (a property path on rdflib, say) cannot be interrupted inside
a Python process, so each engine's tests run in a worker process that is killed and
replaced when a test passes its time limit; the test fails with "timeout". The
engines' workers run side by side; the answers are judged here (w3c_compare).
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from w3c_compare import compare
from w3c_manifest import TestCase, read_suite
from w3c_query import order_keys
from w3c_results import Answer, CsvTable, Solutions, load_expected

TIMEOUT = 10.0  # seconds per test


@dataclass(frozen=True)
class Outcome:
    engine: str
    case: TestCase
    status: str          # "pass", "fail", "n/a" or "withdrawn" (not counted)
    reason: str = ""
    seconds: float = 0.0


def _serve(conn, engine: str, remote) -> None:
    """Worker process: answer tests sent over the pipe until None arrives."""
    warnings.simplefilter("ignore")  # rdflib warns and logs about the suites' ill-typed
    logging.getLogger("rdflib").setLevel(logging.CRITICAL)  # literals, which are on purpose
    from w3c_engines import Loader, run

    loader = Loader()
    while True:
        case = conn.recv()
        if case is None:
            return
        start = time.perf_counter()
        try:
            answer = run(engine, case, loader, remote)
            conn.send(("ok", answer, time.perf_counter() - start))
        except Exception as e:  # the test fails with the engine's error text
            conn.send(("error", f"{type(e).__name__}: {' '.join(str(e).split())[:300]}",
                       time.perf_counter() - start))


class Worker:
    """A worker process for one engine, restarted after a timeout."""

    def __init__(self, engine: str, remote=None) -> None:
        self.engine, self.remote = engine, remote
        self._ctx = mp.get_context("spawn")  # no fork of a process running threads
        self._start()

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, self.engine, self.remote), daemon=True)
        self._proc.start()
        child.close()

    def ask(self, case: TestCase, timeout: float) -> tuple[str, object, float]:
        start = time.perf_counter()
        self._conn.send(case)
        if self._conn.poll(timeout):
            try:
                return self._conn.recv()
            except EOFError:
                pass
            reason = f"worker died (exit code {self._proc.exitcode})"
        else:
            reason = "timeout"
        self.close(kill=True)
        self._start()
        return ("error", reason, time.perf_counter() - start)

    def close(self, kill: bool = False) -> None:
        if not kill:
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._conn.close()


def expected_answers(cases: list[TestCase]) -> dict[str, Answer | str]:
    """Each runnable test's expected answer, or why it could not be read."""
    out: dict[str, Answer | str] = {}
    for case in cases:
        if case.runnable:
            try:
                out[case.iri] = load_expected(case.result)
            except Exception as e:
                out[case.iri] = f"cannot read the expected result {case.result}: {e}"
    return out


def judge(engine: str, case: TestCase, expected: Answer | str, reply: tuple[str, object, float]) -> Outcome:
    kind, payload, seconds = reply
    if isinstance(expected, str):
        return Outcome(engine, case, "fail", expected, seconds)
    if kind != "ok":
        return Outcome(engine, case, "fail", str(payload), seconds)
    keys = order_keys(case.query, expected.variables) if isinstance(expected, (Solutions, CsvTable)) else False
    try:
        diff = compare(expected, payload, order_keys=keys, lax=case.lax)
    except RuntimeError as e:
        diff = str(e)
    return Outcome(engine, case, "fail" if diff else "pass", diff or "", seconds)


def run_engine(engine: str, cases: list[TestCase], expected: dict[str, Answer | str],
               remote=None, timeout: float = TIMEOUT) -> list[Outcome]:
    outcomes = []
    worker = Worker(engine, remote)
    try:
        for case in cases:
            if case.kind == "withdrawn":
                outcomes.append(Outcome(engine, case, "withdrawn"))
                continue
            if not case.runnable:
                outcomes.append(Outcome(engine, case, "n/a", case.kind[len("n/a: "):]))
                continue
            outcomes.append(judge(engine, case, expected[case.iri], worker.ask(case, timeout)))
    finally:
        worker.close()
    return outcomes


def run_all(root: Path, engines: dict[str, object], cases: list[TestCase] | None = None,
            timeout: float = TIMEOUT) -> dict[str, list[Outcome]]:
    """Every test on every engine ({engine: remote settings or None}), the engines in
    parallel; {engine: outcomes in suite order}."""
    cases = read_suite(root) if cases is None else cases
    expected = expected_answers(cases)
    results: dict[str, list[Outcome]] = {}
    errors: dict[str, BaseException] = {}

    def one(engine: str) -> None:
        try:
            results[engine] = run_engine(engine, cases, expected, engines[engine], timeout)
        except BaseException as e:  # re-raised below, in the caller's thread
            errors[engine] = e

    threads = [threading.Thread(target=one, args=(e,), name=f"w3c-{e}") for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        engine, error = next(iter(errors.items()))
        raise RuntimeError(f"the {engine} run broke off: {error!r}") from error
    return {e: results[e] for e in engines}
