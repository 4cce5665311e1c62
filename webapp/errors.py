"""Error pages: a helpful 404 (search box and close matches), and never a traceback.

What an error response may say: the status, a generic description, and (404) the path
asked for. Never an exception's class or message, a filesystem path or a traceback:
those go to the log (app.logger) only. If rendering the error page fails itself (a
broken template or graph), a plain-text line is sent instead.
"""
from __future__ import annotations

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

# A 404's path is compared with the graph's paths (difflib) and echoed in the search
# box; a longer one is cut (the compare is quadratic in the length).
MAX_ECHOED_PATH = 200


def _plain(code: int, title: str) -> Response:
    return Response(f"{code} {title}\n", code, mimetype="text/plain")


def register(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_e):
        from webapp.graph_views import suggestions

        path = request.path.lstrip("/")
        if len(path) > MAX_ECHOED_PATH:
            path = path[:MAX_ECHOED_PATH] + "…"
        try:
            return render_template("error.html", code=404, title="Not found",
                                   message=f"Nothing in the graph has the address /{path}.",
                                   suggestions=suggestions(path), q=path.rsplit("/", 1)[-1]), 404
        except Exception:  # noqa: BLE001 - a 404 stays a 404, whatever broke
            app.logger.exception("the 404 page failed on %s", request.path)
            return _plain(404, "Not found")

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        code = e.code or 500
        try:
            return render_template("error.html", code=code, title=e.name, message=e.description,
                                   suggestions=[], q=""), code
        except Exception:  # noqa: BLE001
            app.logger.exception("the %s page failed on %s", code, request.path)
            return _plain(code, e.name)

    @app.errorhandler(Exception)
    def internal(e: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        try:
            return render_template("error.html", code=500, title="Internal error",
                                   message="Something went wrong on our side; the error has been logged.",
                                   suggestions=[], q=""), 500
        except Exception:  # noqa: BLE001
            app.logger.exception("the 500 page failed on %s", request.path)
            return _plain(500, "Internal error")
