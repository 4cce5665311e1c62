"""Steward log-in and CSRF protection for the /steward pages (no extra dependency).

- Accounts: kg.stewards (a JSON file of password hashes outside the repository,
  KG_STEWARDS). The web app never writes it.
- Sessions: Flask's signed session cookie (HttpOnly, SameSite=Lax) holding the
  steward's name, the account's session epoch, a session id and a CSRF token. The
  signing key is KG_SECRET_KEY; when it is not set, a random key is made at start-up,
  so every session ends when the server restarts (and several server processes would
  not share sessions). A session counts only while (1) the account exists, (2) its
  epoch is the account's current one (a new password or `kg steward logout NAME`
  changes it) and (3) its server-side record exists (webapp.steward_sessions; log-out
  deletes it), so a copied cookie is worthless after log-out or a password change.
- Secure cookie: always when KG_SESSION_COOKIE_SECURE=1; otherwise on every response
  to a request that came over HTTPS (request.is_secure, which honours
  X-Forwarded-Proto only with ProxyFix), so a cookie set over HTTPS never travels
  over plain HTTP.
- Log-in throttling: webapp.login_throttle, KG_LOGIN_* settings (see init_app).
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
from pathlib import Path

from flask import Flask, abort, current_app, g, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from kg import stewards
from webapp.login_throttle import LoginThrottle
from webapp.state import graph_state
from webapp.steward_sessions import DEFAULT_MAX_AGE, DEFAULT_PER_STEWARD, SessionRecords

CSRF_FIELD = "csrf_token"
DEFAULT_MAX_UPLOAD = 5 * 1024 * 1024
# app.config key -> (environment variable, default)
LOGIN_SETTINGS = {
    "LOGIN_MAX_FAILURES": ("KG_LOGIN_MAX_FAILURES", 5),                         # per account
    "LOGIN_MAX_FAILURES_PER_ADDRESS": ("KG_LOGIN_MAX_FAILURES_PER_ADDRESS", 20),  # per client address
    "LOGIN_WINDOW": ("KG_LOGIN_WINDOW", 900),                                   # seconds failures count
    "LOGIN_LOCKOUT": ("KG_LOGIN_LOCKOUT", 900),                                 # seconds refused
    "LOGIN_TRACKED_MAX": ("KG_LOGIN_TRACKED_MAX", 10_000),                      # accounts + addresses kept
}
SESSION_SETTINGS = {
    "STEWARD_SESSION_MAX_AGE": ("KG_SESSION_MAX_AGE", DEFAULT_MAX_AGE),
    "STEWARD_SESSIONS_PER_STEWARD": ("KG_SESSIONS_PER_STEWARD", DEFAULT_PER_STEWARD),
}


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie flags are app-wide; this one adds Secure per request, for HTTPS
    requests, without touching app.config from request threads."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return has_request_context() and request.is_secure


def _env_int(app: Flask, settings: dict[str, tuple[str, int]]) -> None:
    for key, (env, default) in settings.items():
        if app.config.get(key) is None:
            app.config[key] = int(os.environ.get(env) or default)


def init_app(app: Flask) -> None:
    """Security settings; values already in app.config (tests) win over the environment."""
    if not app.config.get("SECRET_KEY"):
        key = os.environ.get("KG_SECRET_KEY")
        app.config["SECRET_KEY"] = key or secrets.token_hex(32)
        app.config["STEWARD_EPHEMERAL_KEY"] = not key
        if not key:
            app.logger.warning("KG_SECRET_KEY is not set: a random key signs the steward sessions, "
                               "so they end when the server restarts")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):  # Flask's default: ours unless a caller chose one
        app.config["SESSION_COOKIE_NAME"] = "bkd_steward"
    if os.environ.get("KG_SESSION_COOKIE_SECURE", "") in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True  # behind HTTPS: the cookie never goes over plain HTTP
    app.session_interface = HttpsAwareSessionInterface()
    if not app.config.get("STEWARD_MAX_UPLOAD_BYTES"):
        app.config["STEWARD_MAX_UPLOAD_BYTES"] = int(
            app.config.get("MAX_CONTENT_LENGTH")
            or os.environ.get("KG_MAX_UPLOAD_BYTES", str(DEFAULT_MAX_UPLOAD)))
    _env_int(app, LOGIN_SETTINGS)
    _env_int(app, SESSION_SETTINGS)
    if not app.config.get("STEWARD_SESSION_DIR"):
        app.config["STEWARD_SESSION_DIR"] = (os.environ.get("KG_SESSION_DIR")
                                             or str(graph_state(app).dist / ".sessions"))
    c = app.config
    graph_state(app).login_throttle = LoginThrottle(
        max_account=c["LOGIN_MAX_FAILURES"], max_address=c["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        window=c["LOGIN_WINDOW"], lockout=c["LOGIN_LOCKOUT"], max_keys=c["LOGIN_TRACKED_MAX"])
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_steward"] = current_steward


def throttle() -> LoginThrottle:
    return graph_state().login_throttle


def session_records() -> SessionRecords:
    c = current_app.config
    return SessionRecords(Path(c["STEWARD_SESSION_DIR"]), c["STEWARD_SESSION_MAX_AGE"],
                          c["STEWARD_SESSIONS_PER_STEWARD"])


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


def _same(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and hmac.compare_digest(a.encode(), b.encode())


def _session_steward() -> str | None:
    name = session.get("steward")
    if not name:
        return None
    try:
        epoch = stewards.epoch(name)  # None: the account was removed
    except Exception:  # a malformed accounts file: nobody is logged in
        return None
    if not _same(session.get("epoch"), epoch):
        return None  # the password changed, or `kg steward logout`
    if not session_records().valid(session.get("sid"), name):
        return None  # logged out (record deleted) or expired
    return name


def current_steward() -> str | None:
    """The logged-in steward, or None (see the module docstring); worked out once per
    request."""
    if "steward_checked" not in g:
        g.steward_checked = _session_steward()
    return g.steward_checked


def log_in(name: str) -> None:
    old = session.get("sid")
    if old:
        session_records().delete(old)
    session.clear()
    session["steward"] = name
    session["epoch"] = stewards.epoch(name)
    session["sid"] = session_records().create(name)
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    g.pop("steward_checked", None)


def log_out() -> None:
    """Ends the session on the server too: its record is deleted."""
    session_records().delete(session.get("sid"))
    session.clear()
    g.pop("steward_checked", None)


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
    if target and target.startswith("/steward") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("steward.index")


def max_upload() -> int:
    return int(current_app.config.get("STEWARD_MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD)


def apply_upload_limit() -> None:
    limit = max_upload()
    request.max_content_length = limit
    request.max_form_memory_size = limit
