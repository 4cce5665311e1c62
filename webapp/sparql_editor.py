"""The SPARQL editor page (YASGUI with the named queries as examples): the SPARQL
endpoint shows it to a browser's GET and the pages blueprint serves YASGUI's files, so
it lives outside both route modules (routes never import routes)."""
from __future__ import annotations

from pathlib import Path

from flask import render_template

from kg import query
from kg.config import CODE_ROOT, settings
from kg.store import prefixes

# YASGUI comes from npm, never committed: a wheel carries the two files the page loads
# (setup.py copies them in when they were installed before the wheel was built); a
# checkout serves them from node_modules/. Without either the page shows a plain form.
YASGUI_DIRS = (Path(__file__).resolve().parent / "vendor" / "yasgui",
               CODE_ROOT / "node_modules" / "@zazuko" / "yasgui" / "build")


# What the endpoint shows a browser when the editor page itself fails: still a usable form.
MINIMAL_FORM = (
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>SPARQL endpoint</title>"
    "</head><body><h1>SPARQL endpoint</h1><form method=\"post\" action=\"\">"
    "<textarea name=\"query\" rows=\"12\" cols=\"80\">SELECT * WHERE { ?s ?p ?o } LIMIT 10"
    "</textarea><p><button type=\"submit\">Run query</button></p></form></body></html>")


def yasgui_dir() -> Path | None:
    """The directory YASGUI is served from, or None when it is not installed."""
    return next((d for d in YASGUI_DIRS if (d / "yasgui.min.js").is_file()), None)


def sparql_page() -> str:
    """The SPARQL editor (YASGUI, installed from npm) with every named query as an example."""
    examples = [{"name": q.name, "question": q.question, "description": q.description,
                 "sparql": settings().rebase(q.sparql)} for q in query.named_queries()]
    return render_template("sparql.html", examples=examples, yasgui=yasgui_dir() is not None,
                           prefixes=prefixes())
