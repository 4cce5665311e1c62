"""Run SPARQL endpoint queries in a small pool of worker processes.

Why processes: a query cannot be interrupted once Oxigraph is evaluating it (the
work happens in Rust, outside the reach of Python signals or threads), so a
runaway query on the public endpoint is stopped the only reliable way: its worker
process is killed and a fresh one takes its place. The graph is small (it loads in
about 10 ms), so every worker holds its own copy of the store.

Lifecycle
  * The pool is created lazily by the /sparql route on the first query (not at app
    start, so apps that never serve a query, e.g. most tests, start no processes).
    The constructor starts all `workers` processes at once and waits until each has
    loaded the store; a broken dist/ therefore fails the first query loudly.
  * Processes come from the "forkserver" start method (or "spawn" where there is
    none), never a plain fork of the multi-threaded web server. The fork server
    preloads this module, pyoxigraph and kg, so a replacement worker is ready in
    a few tens of milliseconds.
  * Each worker owns one duplex Pipe. Idle workers wait in a queue.Queue; a caller
    takes one (waiting at most `timeout` seconds, else EndpointBusy), sends the
    query, polls the pipe for at most `timeout` seconds and puts the worker back.
    No lock is held while a query runs.
  * On timeout (or a crash) the caller kills the worker and returns at once; a
    background thread reaps it and starts a replacement, so the pool stays at size.
  * close() (also registered with atexit) stops every worker.
  * As with any spawn/forkserver process, a worker re-imports the server's main
    module: `flask run`, gunicorn, `python -m ...` and pytest are fine; a script
    must keep its start-up under `if __name__ == "__main__":`.

Results are serialized in the worker by Oxigraph itself into a size-limited writer:
a result that grows past `max_bytes` is stopped while it is being written, never
buffered whole.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import signal
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg.errors import BadInput, KGError
from kg.sparql_forms import check_bounds
from webapp.public_text import public_text
from webapp.worker_sandbox import confine

# Public format names -> (Oxigraph format, media type sent back).
RESULTS_FORMATS = {
    "json": ("JSON", "application/sparql-results+json; charset=utf-8"),
    "xml": ("XML", "application/sparql-results+xml; charset=utf-8"),
    "csv": ("CSV", "text/csv; charset=utf-8"),
    "tsv": ("TSV", "text/tab-separated-values; charset=utf-8"),
}
GRAPH_FORMATS = {
    "turtle": ("TURTLE", "text/turtle; charset=utf-8"),
    "jsonld": ("JSON_LD", "application/ld+json; charset=utf-8"),
    "ntriples": ("N_TRIPLES", "application/n-triples; charset=utf-8"),
}

STARTUP_TIMEOUT = 60.0  # seconds a new worker may take to load the store


class QueryTimeout(KGError):
    """The query ran longer than the endpoint's time limit; its worker was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"query stopped after {seconds:g} s (limit KG_QUERY_TIMEOUT)")
        self.seconds = seconds


class ResultTooLarge(KGError):
    """The serialized result grew past the endpoint's size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"result too large: over {limit} bytes (limit KG_QUERY_MAX_BYTES); "
                         "add LIMIT or narrow the query")
        self.limit = limit


class EndpointBusy(KGError):
    """Every worker stayed busy for the whole wait, or the queue was full."""

    def __init__(self, seconds: float, admitted: int = 0) -> None:
        if admitted:
            msg = (f"endpoint busy: {admitted} queries are already running or queued "
                   "(KG_QUERY_WORKERS + KG_QUERY_QUEUE); try again shortly")
        else:
            msg = f"endpoint busy: no query worker became free within {seconds:g} s; try again shortly"
        super().__init__(msg)


class UpdateRefused(BadInput):
    """A SPARQL Update sent to the read-only endpoint."""

    def __init__(self) -> None:
        super().__init__("SPARQL Update is not allowed: this endpoint is read-only "
                         "(the graph is rebuilt from its data files with `kg build`)")


class ServiceRefused(BadInput):
    """A federated query (SERVICE): the endpoint makes no outgoing requests."""

    def __init__(self) -> None:
        super().__init__("SERVICE (federated query) is not allowed: this endpoint "
                         "does not call other endpoints")


class WorkerFailed(KGError):
    """A worker died or could not start; the message says why."""


class WorkerCrashed(WorkerFailed):
    """The worker died while answering: most often the query reached the memory
    ceiling (the allocation failed and the engine aborted)."""

    def __init__(self, exitcode: int | None, memory: int) -> None:
        limit = f" (limit {memory // 2**20:,} MB, KG_QUERY_MAX_MEMORY)" if memory else ""
        super().__init__(f"the query worker stopped unexpectedly: the query most likely ran out of memory{limit}; "
                         "narrow the query and try again")
        self.exitcode = exitcode


# ---------------------------------------------------------------------------
# Cheap query-form detection (no parse): strip comments, strings and IRIs, skip
# the PREFIX/BASE prologue and read the first keyword.

# ---------------------------------------------------------------------------
# Worker process side.

def scrub(message: str) -> str:
    """An engine's error message fit for the wire: one line, at most 300 characters,
    file-system paths and exception names removed (webapp.public_text; IRIs are kept)."""
    return public_text(" ".join(message.split()))[:300] or "the engine gave no reason"


class _TooLarge(Exception):
    pass


class _LimitedWriter:
    """A binary sink for Oxigraph's serializers that refuses to grow past `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()

    def write(self, data) -> int:
        if len(self.buf) + len(data) > self.limit:
            raise _TooLarge()
        self.buf += data
        return len(data)

    def flush(self) -> None:
        pass


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker when the process that forked it (the
    fork server) goes away, so a runaway query cannot outlive a web server that was
    killed outright. The fork server exits when the web server does, but only once
    no child holds its "alive" pipe; every child inherits that pipe (so that it
    could start processes of its own, which a worker never does), so close it."""
    try:
        from multiprocessing import forkserver

        fs = forkserver._forkserver
        if fs._forkserver_alive_fd is not None:
            os.close(fs._forkserver_alive_fd)
            fs._forkserver_alive_fd = None
    except (AttributeError, OSError):
        pass
    try:
        import ctypes

        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the fork server is already gone
            os._exit(1)
    except (OSError, AttributeError):
        pass


def _worker_main(conn, dist: str, env: dict[str, str], pdeathsig: bool = False,
                 memory: int = 0) -> None:
    """Open the store, then answer requests on `conn` until None or EOF. `env` holds
    the parent's KG_* settings (the fork server may predate them). Before anything
    else the worker confines itself (webapp.worker_sandbox): no network, a memory
    ceiling of `memory` bytes, a lower CPU priority than the web process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    if pdeathsig and sys.platform.startswith("linux"):
        _die_with_parent()
    for key in [k for k in os.environ if k.startswith("KG_")]:
        del os.environ[key]
    os.environ.update(env)
    # a worker of the sparql store forwards queries to its server: it keeps the network
    # (SERVICE is still refused before a query is sent; the server answers for the rest)
    confined = confine(memory, network=env.get("KG_STORE", "oxigraph").strip().lower() != "sparql")
    os.environ["KG_DIST"] = dist
    try:
        from kg.store import open_store

        store = open_store(Path(dist))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        conn.send(("fail", f"query worker could not load the graph: {e}"))
        return
    conn.send(("ready", len(store), confined))
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        if req is None:
            return
        try:
            reply = _execute(store, *req)
        except MemoryError:
            reply = ("memory", "")
        except BaseException as e:  # noqa: BLE001 - never let the worker die on a query
            reply = ("error", f"query failed: {scrub(str(e))}")
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


def _execute(store, sparql, fmt, default_graph, named_graphs, max_bytes):
    from kg.errors import BadInput
    from kg.store import prefixes

    try:
        result = store.query(sparql, default_graph=default_graph, named_graphs=named_graphs)
    except BadInput as e:
        return ("bad", str(e))
    pfx = prefixes()
    out = _LimitedWriter(max_bytes)
    try:
        if isinstance(result, (ox.QuerySolutions, ox.QueryBoolean)):
            name, media = RESULTS_FORMATS.get(fmt, RESULTS_FORMATS["json"])
            result.serialize(output=out, format=getattr(ox.QueryResultsFormat, name))
        else:
            name, media = GRAPH_FORMATS.get(fmt, GRAPH_FORMATS["turtle"])
            ox.serialize(result, output=out, format=getattr(ox.RdfFormat, name),
                         prefixes=pfx if name != "N_TRIPLES" else None)
    except _TooLarge:
        return ("big", max_bytes)
    return ("ok", media, bytes(out.buf))


# ---------------------------------------------------------------------------
# Parent side.

@dataclass(eq=False)
class _Worker:
    proc: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])  # only effective if the server isn't running yet
        return ctx
    return multiprocessing.get_context("spawn")


class QueryRunner:
    """A pool of worker processes answering read-only SPARQL queries with limits."""

    def __init__(self, dist: Path, workers: int, timeout: float, max_bytes: int,
                 base: str | None = None, memory: int = 0, queue_size: int | None = None) -> None:
        from kg.config import settings

        self.dist = Path(dist)
        self.size = max(1, int(workers))
        self.timeout = float(timeout)
        self.max_bytes = int(max_bytes)
        self.memory = int(memory)
        # admission control: at most size + queue_size queries in the pool at once
        # (running or waiting for a worker); one more is refused at once (EndpointBusy)
        # rather than holding a server thread that pages need
        self.queue_size = self.size * 2 if queue_size is None else max(0, int(queue_size))
        self._admitted = threading.BoundedSemaphore(self.size + self.queue_size)
        self._next_respawn = 0.0
        self._respawning = 0  # replacements being started in the background
        self.confinement: dict[str, bool] = {}  # what webapp.worker_sandbox achieved in the workers
        self._warned = False
        self.base = base or settings().base
        self.env = {**{k: v for k, v in os.environ.items() if k.startswith("KG_")}, "KG_BASE": self.base}
        self._ctx = _context()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()       # guarded by _lock (spawn/close only)
        self._lock = threading.Lock()
        self._closed = False
        started = [self._start() for _ in range(self.size)]
        try:
            for w in started:
                self._await_ready(w)
                self._idle.put(w)
        except BaseException:
            self.close()
            raise
        ref = weakref.ref(self)
        atexit.register(lambda: (r := ref()) is not None and r.close())

    # -- lifecycle ----------------------------------------------------------
    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        # Only a fork-server child may use the parent-death signal: it fires when the
        # forking *thread* ends, which under "spawn" is a short-lived request thread.
        pdeathsig = self._ctx.get_start_method() == "forkserver"
        proc = self._ctx.Process(target=_worker_main, args=(child, str(self.dist), self.env, pdeathsig, self.memory),
                                 name="kg-sparql-worker", daemon=True)
        proc.start()
        child.close()
        w = _Worker(proc, parent)
        with self._lock:
            self._all.add(w)
        return w

    def _await_ready(self, w: _Worker) -> None:
        try:
            if not w.conn.poll(STARTUP_TIMEOUT):
                raise WorkerFailed(f"query worker did not start within {STARTUP_TIMEOUT:g} s")
            msg = w.conn.recv()
        except (EOFError, OSError):
            msg = ("fail", "query worker exited while starting (the server's main module must be "
                           "import-safe: start it with `flask run`, gunicorn or `python -m`, or guard "
                           "a script with `if __name__ == '__main__':`)")
        except WorkerFailed:
            self._discard(w)
            raise
        if msg[0] != "ready":
            self._discard(w)
            raise WorkerFailed(msg[1])
        self.confinement = msg[2]
        if self.confinement.get("network_isolated") is False and not self._warned:
            self._warned = True
            import logging

            logging.getLogger(__name__).warning(
                "SPARQL workers could not leave the network (no network namespaces here): SERVICE is "
                "refused from the query's tokens only")

    def _discard(self, w: _Worker) -> None:
        """Kill a worker (if still running) and forget it."""
        with self._lock:
            self._all.discard(w)
        try:
            if w.proc.is_alive():
                w.proc.kill()
        except (OSError, ValueError, AttributeError):
            pass
        w.conn.close()

    def _replace(self, w: _Worker) -> None:
        """Kill `w` now; reap it and start its successor in the background. Until the
        successor is ready it counts as one of the pool (_respawning), so _top_up does
        not start a second one; if it cannot start, _top_up tries again later."""
        with self._lock:
            self._respawning += 1
        self._discard(w)

        def work() -> None:
            try:
                w.proc.join(5)
                if self._closed:
                    return
                try:
                    new = self._start()
                    self._await_ready(new)
                except Exception:  # noqa: BLE001 - the pool runs one short until _top_up
                    return
                if self._closed:
                    self._discard(new)
                else:
                    self._idle.put(new)
            finally:
                with self._lock:
                    self._respawning -= 1

        threading.Thread(target=work, name="kg-sparql-respawn", daemon=True).start()

    def close(self) -> None:
        """Stop every worker. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        idle = set()
        while True:
            try:
                idle.add(id(self._idle.get_nowait()))
            except queue.Empty:
                break
        for w in workers:
            if id(w) in idle:
                try:
                    w.conn.send(None)
                except (OSError, ValueError):
                    pass
        for w in workers:
            if id(w) in idle:
                w.proc.join(0.5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(1)
            w.conn.close()

    # -- queries --------------------------------------------------------------
    def run(self, sparql: str, result_format: str, default_graph: list[str] | None = None,
            named_graphs: list[str] | None = None) -> tuple[str, bytes]:
        """Answer a query: (media type, body). `result_format` is a key of
        RESULTS_FORMATS or GRAPH_FORMATS; when it does not fit the query form the
        default of that form is used (JSON results, Turtle graphs).

        Refused before a worker sees it: an update, SERVICE (read from the query's
        tokens; the workers have no network either), a query over the length or
        nesting limits, a dataset IRI that is not an IRI, and a query arriving when
        size + queue_size are already in the pool (EndpointBusy)."""
        if self._closed:
            raise WorkerFailed("the query pool is closed")
        info = check_bounds(sparql)
        if info.form == "UPDATE":
            raise UpdateRefused()
        if info.service:
            raise ServiceRefused()
        for name, iris in (("default-graph-uri", default_graph), ("named-graph-uri", named_graphs)):
            for iri in iris or ():
                try:
                    ox.NamedNode(iri)
                except ValueError:
                    raise BadInput(f"{name} is not an absolute IRI: {iri!r}") from None
        if not self._admitted.acquire(blocking=False):
            raise EndpointBusy(0, self.size + self.queue_size)
        try:
            return self._run(sparql, result_format, default_graph, named_graphs)
        finally:
            self._admitted.release()

    def _run(self, sparql, result_format, default_graph, named_graphs) -> tuple[str, bytes]:
        w = self._take_worker()
        try:
            w.conn.send((sparql, result_format, default_graph, named_graphs, self.max_bytes))
            if not w.conn.poll(self.timeout):
                self._replace(w)
                raise QueryTimeout(self.timeout)
            reply = w.conn.recv()
        except QueryTimeout:
            raise
        except (EOFError, OSError):
            w.proc.join(1)
            code = w.proc.exitcode
            self._replace(w)
            raise WorkerCrashed(code, self.memory) from None
        except BaseException:
            self._replace(w)  # interrupted mid-query: the worker's state is unknown
            raise
        self._idle.put(w)
        kind = reply[0]
        if kind == "ok":
            return reply[1], reply[2]
        if kind == "bad":
            raise BadInput(reply[1])
        if kind == "big":
            raise ResultTooLarge(reply[1])
        if kind == "memory":
            raise WorkerCrashed(None, self.memory)
        raise WorkerFailed(reply[1])

    def _take_worker(self) -> _Worker:
        """An idle worker, waiting at most the query timeout; the pool is topped up
        while waiting, so a failed replacement does not leave it short for good."""
        import time

        deadline = time.monotonic() + self.timeout
        while True:
            self._top_up()
            left = deadline - time.monotonic()
            if left <= 0:
                raise EndpointBusy(self.timeout)
            try:
                return self._idle.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue

    def _top_up(self) -> None:
        """Start missing workers (their replacements failed, e.g. while dist/ was being
        rebuilt), at most once a second: the pool heals itself once the graph is back."""
        import time

        with self._lock:
            missing = self.size - len(self._all) - self._respawning
            now = time.monotonic()
            if missing <= 0 or now < self._next_respawn:
                return
            self._next_respawn = now + 1.0
        for _ in range(missing):
            w = self._start()
            try:
                self._await_ready(w)
            except WorkerFailed:
                return
            self._idle.put(w)
