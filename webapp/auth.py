"""Steward log-in and CSRF protection for the /steward pages (no extra dependency).

- Accounts: kg.stewards (a JSON file of password hashes outside the repository,
  KG_STEWARDS). The web app never writes it.
- Sessions: Flask's signed session cookie (HttpOnly, SameSite=Lax; Secure when
  KG_SESSION_COOKIE_SECURE=1, for a server behind HTTPS) holding the
  steward's name and a CSRF token. The signing key is KG_SECRET_KEY; when it is not
  set, a random key is made at start-up, so every session ends when the server
  restarts (and several server processes would not share sessions).
- CSRF: every steward form carries the session's random token in a hidden field
  `csrf_token`; every POST to /steward* is refused with 400 unless it matches
  (hmac.compare_digest). Log-in rotates the token.
- Size limit: STEWARD_MAX_UPLOAD_BYTES (from KG_MAX_UPLOAD_BYTES, default 5 MB, or
  MAX_CONTENT_LENGTH when a caller sets that) is applied to each /steward request
  (request.max_content_length and max_form_memory_size, Flask >= 3.1): a larger
  upload or pasted text gets 413. It is per request rather than app-wide so that the
  SPARQL endpoint keeps its own error handling.

The public pages and /sparql never look at any of this.
"""
from __future__ import annotations

import hmac
import os
import secrets
from functools import wraps

from flask import Flask, abort, current_app, redirect, request, session, url_for

from kg import stewards

CSRF_FIELD = "csrf_token"
DEFAULT_MAX_UPLOAD = 5 * 1024 * 1024


def init_app(app: Flask) -> None:
    """Security settings; values already in app.config (tests) win over the environment."""
    if not app.config.get("SECRET_KEY"):
        key = os.environ.get("KG_SECRET_KEY")
        app.config["SECRET_KEY"] = key or secrets.token_hex(32)
        app.config["STEWARD_EPHEMERAL_KEY"] = not key
        if not key:
            app.logger.warning("KG_SECRET_KEY is not set: a random key signs the steward sessions, "
                               "so they end when the server restarts")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config.setdefault("SESSION_COOKIE_NAME", "bkd_steward")
    if os.environ.get("KG_SESSION_COOKIE_SECURE", "") in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True  # behind HTTPS: the cookie never goes over plain HTTP
    if not app.config.get("STEWARD_MAX_UPLOAD_BYTES"):
        app.config["STEWARD_MAX_UPLOAD_BYTES"] = int(
            app.config.get("MAX_CONTENT_LENGTH")
            or os.environ.get("KG_MAX_UPLOAD_BYTES", str(DEFAULT_MAX_UPLOAD)))
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_steward"] = current_steward


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """400 unless the POSTed token matches the session's. Reading the form may raise
    413 first, which is what an oversized upload should get."""
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400, description="The form's security token (CSRF) is missing, wrong or expired. "
                               "Nothing was changed. Reload the page and try again.")


def current_steward() -> str | None:
    """The logged-in steward, if the account still exists (removing an account ends
    its sessions)."""
    name = session.get("steward")
    if not name:
        return None
    try:
        return name if stewards.exists(name) else None
    except Exception:  # a malformed accounts file: nobody is logged in
        return None


def log_in(name: str) -> None:
    session.clear()
    session["steward"] = name
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def log_out() -> None:
    session.clear()


def accounts_configured() -> bool:
    try:
        return bool(stewards.load())
    except Exception:
        return False


def login_required(view):
    """GET without a session: redirect to the log-in page; any other method: 403."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_steward() is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("steward.login", next=request.full_path.rstrip("?")))
            abort(403, description="Log in as a steward first (/steward/login). Nothing was changed.")
        return view(*args, **kwargs)
    return wrapped


def safe_next(target: str | None) -> str:
    """Only local /steward paths are followed after log-in (no open redirect)."""
    if target and target.startswith("/steward") and not target.startswith("//"):
        return target
    return url_for("steward.index")


def max_upload() -> int:
    return int(current_app.config.get("STEWARD_MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD)


def apply_upload_limit() -> None:
    limit = max_upload()
    request.max_content_length = limit
    request.max_form_memory_size = limit
