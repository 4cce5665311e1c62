"""Objects derived from the graph (the action table, the curated layer's index, the
describer, the tracer, page aggregates): built on first use, once per graph, kept in
app.extensions under one of the names of DERIVED, and dropped together when the graph
changes (webapp.reload_graph)."""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import current_app

DERIVED = ("actions", "page_cache", "describer", "void_cache", "curation", "tracer")

T = TypeVar("T")


def per_graph(key: str, make: Callable[[], T]) -> T:
    """The app's object `key` for the current graph, made by `make` the first time."""
    if key not in DERIVED:
        raise KeyError(f"{key} is not a per-graph object (add it to DERIVED so a reload drops it)")
    ext = current_app.extensions
    if key not in ext:
        ext[key] = make()
    return ext[key]
