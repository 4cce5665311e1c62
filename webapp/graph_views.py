"""What several pages derive from the graph, built once per graph (webapp.derived):
the action table, page aggregates, the tracer, the search index and the "did you mean"
suggestions of a 404. Shared by route modules, the describer and the error pages, so
it lives outside the routes (routes never import routes)."""
from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from webapp.actions import ActionTable
from webapp.curation_views import Tracer, curation
from webapp.derived import per_graph
from webapp.repository import Repository
from webapp.sorting import natural_key
from webapp.state import repo

SUGGEST_ALL = 50_000     # up to this many entity pages, a 404 compares its path with all of them


def table() -> ActionTable:
    """The action table of the current graph."""
    return per_graph("actions", lambda: ActionTable(repo()))


def cached(key: str, make: Callable[[], Any]) -> Any:
    """A page aggregate, computed once per graph."""
    ext = per_graph("page_cache", dict)
    if key not in ext:
        ext[key] = make()
    return ext[key]


def tracer() -> Tracer:
    """The tracer of the current graph (measures <-> Annex 1 items <-> shared actions)."""
    return per_graph("tracer", lambda: Tracer(table(), curation()))


class SearchIndex:
    """Every entity under the base in label order, with its lower-cased label and text:
    built once per graph, so a search is one pass of `in` over a list of strings."""

    def __init__(self, r: Repository) -> None:
        self.texts = {x["s"].value: x["t"].value for x in r.store.query(
            "SELECT ?s ?t WHERE { ?s bkd:text ?t FILTER(isIRI(?s)) }")}
        self.iris = sorted((i for i in r.labels if i.startswith(r.base)), key=lambda i: natural_key(r.labels[i]))
        self.hay = [f"{r.labels[i]} {self.texts.get(i, '')}".lower() for i in self.iris]


def search_index() -> SearchIndex:
    """The search index of the current graph."""
    return cached("search", lambda: SearchIndex(repo()))


def find(q: str) -> list[str]:
    """IRIs of the entities whose label or text contains every word of q, in label order."""
    idx = search_index()
    words = sorted({w.lower() for w in q.split()}, key=len, reverse=True)  # the longest word rules out most
    hits = [i for i, h in enumerate(idx.hay) if words[0] in h]
    for w in words[1:]:
        hits = [i for i in hits if w in idx.hay[i]]
    return [idx.iris[i] for i in hits]


def suggestions(path: str, n: int = 5) -> list[tuple[str, str]]:
    """Existing entity pages closest to a path that was not found. On a large graph only
    the pages next to the closest existing folders are compared (difflib over a million
    paths takes seconds)."""
    r = repo()
    folders, total = cached("folders", _folders)
    if total <= SUGGEST_ALL:
        candidates = [p for paths in folders.values() for p in paths]
    else:
        near = difflib.get_close_matches(path.rsplit("/", 1)[0], list(folders), n=3, cutoff=0.5)
        candidates = [p for f in near for p in folders[f]][:SUGGEST_ALL]
    return [(p, r.label(r.base + p[1:])) for p in difflib.get_close_matches(path, candidates, n=n, cutoff=0.5)]


def _folders() -> tuple[dict[str, list[str]], int]:
    """Entity page paths by their folder (/measure/2.9 is in /measure), and how many."""
    r = repo()
    out: dict[str, list[str]] = {}
    for i in r.labels:
        if i.startswith(r.base):
            path = r.local_path(i)
            out.setdefault(path.rsplit("/", 1)[0], []).append(path)
    return out, sum(len(paths) for paths in out.values())
