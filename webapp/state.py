"""The app's state in one object: the graph being served (its repository: store and
labels), the objects derived from it (webapp.derived), the SPARQL worker pool, the
log-in throttle and the dist directory everything is loaded from.

create_app registers it once; everything else reads it through graph_state() (or
repo()), never through string keys of app.extensions: this is the only module that
touches app.extensions, so what the app holds, and what a reload drops, is in one place."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:  # loaded when a graph is: `import webapp` stays light
    from webapp.repository import Repository

_KEY = "bukhara_deer_kg"  # the one entry of app.extensions this app uses


@dataclass
class GraphState:
    """What the app holds for the graph it serves; reload() swaps in a rebuilt graph."""
    dist: Path                   # the build served: the one source of the dist directory
    repo: Repository
    derived: dict[str, Any] = field(default_factory=dict)   # webapp.derived: per graph
    query_runner: Any = None     # webapp.query_runner.QueryRunner, made on the first query
    login_throttle: Any = None   # webapp.login_throttle.LoginThrottle (steward log-in)
    runner_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, dist: Path) -> GraphState:
        """The state of a freshly started app serving the build in `dist`."""
        from webapp.repository import Repository

        return cls(dist=Path(dist), repo=Repository.load(Path(dist)))

    def reload(self) -> None:
        """A new store from dist/, fresh derived objects, and no SPARQL workers (the next
        query starts fresh ones: workers load dist/ when they start). Requests in flight
        keep the objects they already hold."""
        from webapp.repository import Repository

        self.repo = Repository.load(self.dist)
        self.derived = {}
        runner, self.query_runner = self.query_runner, None
        if runner is not None:
            runner.close()


def register(app: Flask, state: GraphState) -> GraphState:
    """Make `state` the app's state (once, in create_app)."""
    if _KEY in app.extensions:
        raise RuntimeError("the app's state is already registered")
    app.extensions[_KEY] = state
    return state


def graph_state(app: Flask | None = None) -> GraphState:
    """The state of `app`, by default the app of the current request."""
    return (app if app is not None else current_app).extensions[_KEY]


def repo() -> Repository:
    """The repository of the graph the current app serves."""
    return graph_state().repo
