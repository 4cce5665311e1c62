"""Objects derived from the graph (the action table, the curated layer's index, the
describer, the tracer, page aggregates): built on first use, once per graph, kept in
the app's state (webapp.state.GraphState.derived) under one of the names of DERIVED,
and dropped together when the graph changes (GraphState.reload)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from webapp.state import graph_state

DERIVED = ("actions", "page_cache", "describer", "void_cache", "curation", "tracer")

T = TypeVar("T")


def per_graph(key: str, make: Callable[[], T]) -> T:
    """The app's object `key` for the current graph, made by `make` the first time."""
    if key not in DERIVED:
        raise KeyError(f"{key} is not a per-graph object (add it to DERIVED so a reload drops it)")
    derived = graph_state().derived
    if key not in derived:
        derived[key] = make()
    return derived[key]
