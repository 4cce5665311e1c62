"""Error pages: a helpful 404 (search box and close matches), and never a traceback."""
from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException


def register(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_e):
        from webapp.routes.pages import suggestions

        path = request.path.lstrip("/")
        return render_template("error.html", code=404, title="Not found",
                               message=f"Nothing in the graph has the address /{path}.",
                               suggestions=suggestions(path), q=path.rsplit("/", 1)[-1]), 404

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        return render_template("error.html", code=e.code, title=e.name, message=e.description,
                               suggestions=[], q=""), e.code

    @app.errorhandler(Exception)
    def internal(e: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return render_template("error.html", code=500, title="Internal error",
                               message="Something went wrong on our side; the error has been logged.",
                               suggestions=[], q=""), 500
