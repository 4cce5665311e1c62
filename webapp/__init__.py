"""The web browser and SPARQL endpoint of the Bukhara Deer Knowledge Graph.

Layered like RDFLib's Prez: routes (HTTP, content negotiation) -> views (what a page
shows) -> repository (SPARQL on the store). The graph is loaded once, in create_app.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from webapp.settings import load_settings


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings (tests use it for limits and paths)."""
    from webapp import errors
    from webapp.repository import Repository
    from webapp.routes import downloads, entities, pages, sparql

    app = Flask(__name__)
    app.config.update(load_settings())
    app.config.update(config or {})
    app.extensions["kg"] = Repository.load(Path(app.config["KG_DIST"]))
    for module in (pages, downloads, sparql, entities):  # entities last: it catches IRI paths
        app.register_blueprint(module.bp)
    errors.register(app)

    @app.context_processor
    def helpers():
        repo = app.extensions["kg"]
        return {"local": lambda iri: repo.local_path(iri) or iri, "label": repo.label}

    return app
