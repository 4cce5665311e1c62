"""The `sparql` engine on a real server: a throw-away Virtuoso (tests/virtuoso_server.py)
holding every data file of the suites once, each in a graph named by its file IRI.

The files are pushed with the project's own writer (SparqlStore.replace_graphs, one
Graph Store Protocol PUT per graph), before any test runs; each test then names its
graphs as the Protocol's dataset (w3c_engines), so the tests cannot see each other's
data.
"""
from __future__ import annotations

import sys
from pathlib import Path

from w3c_engines import plan, read_graph
from w3c_manifest import TestCase, iri_of

TESTS_DIR = Path(__file__).resolve().parent.parent  # tests/: virtuoso_server.py
REQUEST_TIMEOUT = 8.0  # seconds per HTTP request, below the runner's limit per test


def settings_for(server):
    """The SparqlSettings of the project's sparql store on this server."""
    from kg.config import SparqlSettings

    return SparqlSettings(query_url=server.query_url, update_url=server.update_url, gsp_url=server.gsp_url,
                          user=server.user, password=server.password, timeout=REQUEST_TIMEOUT)


def start(directory: Path):
    """A fresh Virtuoso in directory (raises virtuoso_server.VirtuosoError)."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    import virtuoso_server

    return virtuoso_server.start(directory)


def load(server, cases: list[TestCase]) -> int:
    """Push every file the runnable tests read; returns the number of graphs."""
    from kg.stores.sparql import SparqlStore

    files = sorted({f for c in cases if c.runnable for f in plan(c).files})
    SparqlStore(settings_for(server)).replace_graphs({iri_of(f): read_graph(f) for f in files})
    return len(files)
