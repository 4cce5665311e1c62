"""The web browser and SPARQL endpoint of the Bukhara Deer Knowledge Graph.

Layered like RDFLib's Prez: routes (HTTP, content negotiation) -> views (what a page
shows) -> repository (SPARQL on the store). The graph is loaded once, in create_app.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from webapp.derived import DERIVED  # noqa: F401 - part of the package's interface
from webapp.settings import load_settings
from webapp.state import GraphState, graph_state, register


def reload_graph(app: Flask) -> None:
    """Swap in the rebuilt graph after a change set was accepted or reverted: a new
    store from dist/, fresh caches, and fresh SPARQL workers (they load dist/ at start).
    Requests in flight keep the objects they already hold."""
    graph_state(app).reload()
    warm_up(app)


# Pages whose first request builds a per-graph cache (seconds on a graph of millions
# of triples; then milliseconds).
WARM_PATHS = ("/", "/measures", "/matrix", "/trace/", "/browse/Measure", "/search?q=deer", "/void")


def warm_up(app: Flask):
    """Request the cache-building pages once in a background thread, so that people
    do not wait for the aggregates of a new graph. The server answers meanwhile; a
    request that needs a cache not yet built builds it itself."""
    import threading

    if not app.config.get("WARM_UP", True) or app.config.get("TESTING"):
        return None

    def run() -> None:
        client = app.test_client()
        for path in WARM_PATHS:
            try:
                client.get(path)
            except Exception:  # noqa: BLE001 - a failing page reports itself when asked for
                pass
    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread


def _follow_store(app: Flask, every: float = 1.0) -> None:
    """Reload when another process published a new graph to the store (`kg add`,
    `kg revert` or `kg build` while the server runs): checked at most once a second,
    by reading which generation is current (a file read, not a query)."""
    import threading
    import time

    from kg.store import engine

    eng = engine()
    due = {"next": 0.0}
    lock = threading.Lock()

    @app.before_request
    def _check_generation() -> None:
        now = time.monotonic()
        if now < due["next"]:
            return
        due["next"] = now + every
        state = graph_state(app)
        seen = state.repo.store.generation()
        if not seen:
            return
        latest = eng.current_generation(state.dist)
        if latest and latest != seen:
            with lock:
                if state.repo.store.generation() == seen:
                    reload_graph(app)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings (tests use it for limits and paths)."""
    from webapp import errors, links, security_headers
    from webapp.links import safe_href
    from webapp.routes import downloads, entities, pages, sparql, steward, trace

    app = Flask(__name__)
    app.config.update(load_settings())
    app.config.update(config or {})
    register(app, GraphState.load(Path(app.config["KG_DIST"])))  # the one read of KG_DIST
    for module in (pages, downloads, sparql, steward, trace, entities):  # entities last: it catches IRI paths
        app.register_blueprint(module.bp)
    errors.register(app)
    links.register(app)
    security_headers.register(app)
    hops = security_headers.proxy_hops(app.config.get("KG_PROXY_FIX"))
    if hops:
        # Behind a reverse proxy that sets X-Forwarded-For and X-Forwarded-Proto (see
        # docs/deployment.md); without KG_PROXY_FIX no forwarding header is trusted.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    _follow_store(app)

    @app.context_processor
    def helpers():
        repo = graph_state(app).repo
        # an entity's page, or the IRI itself when it is a safe link (never javascript: etc.)
        return {"local": lambda iri: repo.local_path(iri) or safe_href(iri) or "", "label": repo.label}

    warm_up(app)  # last: the app must be complete before its first (background) request
    return app
