"""/steward: data stewards check additions against the shapes, accept change sets
with no violations, see the history and revert. Everything else in the app stays public and
read-only; only these routes need a log-in (webapp.auth).

Routes and status codes
  GET  /steward            upload/paste form and history (log-in required: else 302 to
                           /steward/login; with no accounts configured, a page that
                           explains how to create one)
  GET  /steward/login      log-in form;  POST: 303 to /steward, or 401 (wrong name or
                           password), or 429 with Retry-After after too many failures
                           for the account or from the address (webapp.login_throttle)
  POST /steward/logout     303 to /steward/login
  POST /steward/check      parse + check, nothing written: 200 with the report (whether
                           or not it has violations); 400 bad input (the precise error); 507
                           when the check alone is larger than KG_PENDING_MAX_BYTES
  POST /steward/accept     re-checked against the CURRENT graph under the write lock
                           (kg.changes.add): 303 to /steward with a message; 409 when it
                           has violations now (or had them) (report shown); 400 unknown or
                           expired check, missing source
  POST /steward/revert/ID  303 to /steward; 400 unknown id, already reverted, no reason
  Any POST without a session: 403; with a missing or wrong CSRF token: 400; a request
  over the upload limit: 413. None of these writes anything.

Pending additions (checked, not yet accepted) stay on the server, never in the
browser, bounded in time, number and size: webapp.steward_pending.

Error pages show no absolute file paths and no Python exception names (public_message):
a path becomes relative to the project, or its file name; the log keeps the details.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from functools import partial, wraps
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS

from kg import changes, rdfio, stewards
from kg.config import settings
from kg.errors import BadInput, KGError
from webapp import auth, links
from webapp.public_text import public_text
from webapp.services import entities
from webapp.state import graph_state, repo
from webapp.steward_pending import (
    DEFAULT_MAX_BYTES,
    DEFAULT_PER_STEWARD,
    DEFAULT_TTL,
    PendingAddition,
    PendingStore,
    PendingTooLarge,
)

bp = Blueprint("steward", __name__)

FORMATS = [("", "from the file name (pasted text: Turtle)"), ("turtle", "Turtle"),
           ("json-ld", "JSON-LD"), ("csv", "CSV")]
SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}
# app.config key -> (environment variable, default)
PENDING_SETTINGS = {"STEWARD_PENDING_TTL": ("KG_PENDING_TTL", DEFAULT_TTL),
                    "STEWARD_PENDING_MAX_BYTES": ("KG_PENDING_MAX_BYTES", DEFAULT_MAX_BYTES),
                    "STEWARD_PENDING_PER_STEWARD": ("KG_PENDING_PER_STEWARD", DEFAULT_PER_STEWARD)}


@bp.record_once
def _setup(state) -> None:
    app = state.app
    auth.init_app(app)
    links.register(app)  # the |safe_href filter of every template (registered here: the app has no other hook of ours)
    for key, (env, default) in PENDING_SETTINGS.items():
        if app.config.get(key) is None:
            app.config[key] = int(os.environ.get(env) or default)
    if not app.config.get("STEWARD_PENDING_DIR"):
        env = os.environ.get("KG_PENDING_DIR")
        app.config["STEWARD_PENDING_DIR"] = env or str(graph_state(app).dist / ".pending")
    try:  # forget the checks that expired while the server was down
        _store(app.config).sweep()
    except OSError as e:
        app.logger.warning("steward: cannot sweep the pending checks: %s", e)


@bp.before_request
def _limits() -> None:
    auth.apply_upload_limit()


@bp.after_request
def _private(resp: Response) -> Response:
    """Steward pages hold CSRF tokens and unpublished data: not cached (framing is
    refused on every page by webapp.security_headers)."""
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.app_errorhandler(413)
def too_large(_e):
    limit = auth.max_upload()
    if request.path == "/sparql":
        return Response(f"request too large: the limit is {limit:,} bytes\n", 413, mimetype="text/plain")
    size = request.content_length
    told = f"The upload ({size:,} bytes) is" if size else "The upload is"
    return render_template("steward_error.html", code=413, title="Upload too large",
                           message=f"{told} over the limit of {limit:,} bytes (KG_MAX_UPLOAD_BYTES). "
                                   "Nothing was written. Split the addition into smaller files."), 413


def protected(view):
    """Log-in first (403 for a POST without a session), then the CSRF token (400)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        auth.check_csrf()
        return view(*args, **kwargs)
    return auth.login_required(wrapped)


# ---------------------------------------------------------------------------------
# Pending additions (webapp.steward_pending) and what error pages may show
# ---------------------------------------------------------------------------------

def _store(config=None) -> PendingStore:
    c = config if config is not None else current_app.config
    return PendingStore(Path(c["STEWARD_PENDING_DIR"]), c["STEWARD_PENDING_TTL"], c["STEWARD_PENDING_MAX_BYTES"],
                        c["STEWARD_PENDING_PER_STEWARD"])


def put_pending(g: Graph, *, steward: str, name: str, replace: bool, conforms: bool) -> str:
    return _store().put(g, steward=steward, name=name, replace=replace, conforms=conforms)


def get_pending(token: str, steward: str) -> PendingAddition | None:
    return _store().get(token, steward)


def claim_pending(token: str) -> bool:
    return _store().claim(token)


def drop_pending(token: str) -> None:
    _store().drop(token)


# an absolute path (/a/b, ~/a/b) not inside a URL; and a Python exception's class name
def _short_path(path: str) -> str:
    """Relative to the project (or to the sources) when inside it, else the file name."""
    p = Path(path).expanduser()
    s = settings()
    for top in (s.project_dir, s.root):
        try:
            return str(p.resolve().relative_to(top.resolve()))
        except (ValueError, OSError, RuntimeError):
            continue
    return p.name or "(a file)"


def public_message(text: str) -> str:
    """A message fit for a page anyone with an account sees: no absolute paths, no
    exception class names (the log keeps the original)."""
    out = public_text(text, _short_path)
    if out != text:
        current_app.logger.info("steward: shown without paths: %s", text)
    return out


# ---------------------------------------------------------------------------------
# Reading the form
# ---------------------------------------------------------------------------------

def read_addition() -> tuple[Graph, str]:
    """The proposed addition from the upload or the pasted text; BadInput otherwise."""
    fmt = request.form.get("format", "")
    if fmt not in dict(FORMATS):
        raise BadInput(f"unknown format {fmt!r} (choose Turtle, JSON-LD or CSV)")
    upload = request.files.get("file")
    text = request.form.get("text", "")
    has_file = upload is not None and bool(upload.filename)
    if has_file and text.strip():
        raise BadInput("give either a file or pasted text, not both")
    if has_file:
        name = Path(upload.filename.replace("\\", "/")).name or "upload"
        limit = settings().max_addition_bytes
        raw = upload.read(limit + 1)
        if len(raw) > limit:
            raise BadInput(f"{name}: over the limit of {limit:,} bytes (KG_MAX_ADDITION_BYTES)")
        fmt = fmt or changes.INPUT_FORMATS.get(Path(name).suffix.lower(), "")
        if not fmt:
            raise BadInput(f"{name}: unknown file type '{Path(name).suffix}' "
                           "(use .ttl, .jsonld or .csv, or choose the format)")
        return changes.parse_input(text=rdfio.decode_input(raw, name), fmt=fmt, name=name), name
    if not text.strip():
        raise BadInput("nothing to check: choose a file or paste Turtle, JSON-LD or CSV")
    return changes.parse_input(text=text, fmt=fmt or "turtle", name="pasted text"), "pasted text"


# ---------------------------------------------------------------------------------
# Presenting a check
# ---------------------------------------------------------------------------------

def _in_graph(iri: str) -> bool:
    """Has the entity a page (is it a subject or object in the graph)?"""
    return entities.mentioned(repo(), iri)


def _described(iri: str) -> bool:
    return entities.described(repo(), iri)


def term(value: str | None, *, known: dict[str, bool], addition: Graph | None = None) -> dict:
    """A value for the report: its label and, if it has a page in the graph, its link."""
    if value is None:
        return {"text": "-", "href": None, "iri": None}
    r = repo()
    if value.startswith(("http://", "https://")):
        if value not in known:
            known[value] = _in_graph(value)
        href = r.local_path(value) if known[value] else None
        label = r.label(value)
        if value not in r.labels and addition is not None:  # a new entity: its label in the addition
            label = str(addition.value(URIRef(value), RDFS.label) or label)
        return {"text": label, "href": href, "iri": value, "new": not known[value] and value.startswith(r.base)}
    return {"text": value, "href": None, "iri": None}


def report_view(result: changes.CheckResult, addition: Graph | None = None) -> dict:
    known: dict[str, bool] = {}
    t = partial(term, known=known, addition=addition)
    groups: OrderedDict[str, list] = OrderedDict()
    for f in result.report.findings:
        groups.setdefault(f.focus, []).append(f)
    out = []
    for focus, findings in sorted(groups.items(),
                                  key=lambda kv: (min(SEVERITY_ORDER.get(f.severity, 3) for f in kv[1]), kv[0])):
        lines = [{"severity": f.severity, "path": t(f.path.lstrip("^") if f.path else None),
                  "inverse": bool(f.path and f.path.startswith("^")),
                  "value": t(f.value), "message": f.message, "shape": f.shape}
                 for f in sorted(findings, key=lambda f: SEVERITY_ORDER.get(f.severity, 3))]
        out.append({"focus": t(focus), "lines": lines})
    diff = [{"subject": t(c.subject), "predicate": t(c.predicate),
             "old": t(c.old), "new": t(c.new)} for c in result.changes]
    report = result.report
    return {"groups": out, "diff": diff, "counts": report.counts(), "summary": report.summary(),
            "shacl_conforms": report.shacl_conforms, "result_count": report.result_count,
            "no_violations": report.no_violations, "removed": len(result.removed)}


def subjects_view(g: Graph) -> list[dict]:
    """The entities the addition describes, new ones first."""
    r = repo()
    out = []
    for s in sorted({s for s in g.subjects() if isinstance(s, URIRef)}):
        iri = str(s)
        exists = _described(iri)
        label = r.label(iri) if exists or iri in r.labels else str(g.value(s, RDFS.label) or r.label(iri))
        out.append({"iri": iri, "text": label, "href": r.local_path(iri) if exists else None,
                    "new": not exists, "triples": len(list(g.predicate_objects(s)))})
    return sorted(out, key=lambda x: (not x["new"], x["iri"]))


# ---------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------

def _history() -> list:
    return list(reversed(changes.history()))


def render_index(error: str | None = None, status: int = 200):
    try:  # every visit of a logged-in steward forgets expired checks
        _store().sweep()
    except OSError as e:
        current_app.logger.warning("steward: cannot sweep the pending checks: %s", e)
    try:
        history, history_error = _history(), None
    except KGError as e:
        history, history_error = [], public_message(str(e))
    return render_template("steward.html", formats=FORMATS, history=history, history_error=history_error,
                           error=error, limit=auth.max_upload(), curation=curation_view(history)), status


# ---------------------------------------------------------------------------------
# Curation of the measures a change set added (kg.curate suggest / decide)
# ---------------------------------------------------------------------------------

CURATE_KEY = "curate_cs"     # session: the change set whose new measures the page offers to curate
SUGGESTIONS_PER_MEASURE = 5


def _new_measures(cs) -> list[str]:
    """The measures a change set types (bkd:Measure in its addition)."""
    from kg.namespaces import bkd

    added = next((a for _id, _meta, a, _removed, _rev in changes.layers([cs.path])), Graph())
    return sorted(str(m) for m in added.subjects(RDF.type, bkd().Measure) if isinstance(m, URIRef))


def curation_view(history: list) -> dict | None:
    """The undecided candidate pairs (best 5) of each new measure of the change set
    accepted last in this session, each with a form to decide it; None when there is none."""
    from flask import session

    from kg import curate

    cs_id = session.get(CURATE_KEY)
    cs = next((c for c in history if c.id == cs_id and not c.reverts and not c.reverted_by), None)
    if cs is None:
        return None
    r = repo()
    out = {"cs": cs.id, "measures": [], "error": None}
    try:
        for iri in _new_measures(cs):
            if not _described(iri):
                continue
            found = curate.suggest(r.store, for_=iri)[:SUGGESTIONS_PER_MEASURE]
            rows = []
            for s in found:
                other = s.b if s.a.iri == iri else s.a
                rows.append({"kind": s.kind, "score": f"{s.score:.3f}", "a": s.a.number, "b": s.b.number,
                             "other": curate.label(other), "other_text": curate.shorten(other.text, 120),
                             "other_href": r.local_path(other.iri)})
            out["measures"].append({"iri": iri, "label": r.label(iri), "href": r.local_path(iri), "rows": rows})
    except KGError as e:
        out["error"] = public_message(str(e))
    return out if out["measures"] or out["error"] else None


@bp.post("/steward/decide")
@protected
def decide():
    """Decide one suggested pair: recorded as a change set (kg.curate.decide, as `kg curate decide`)."""
    from kg import curate

    form = {k: " ".join(request.form.get(k, "").split()) for k in ("kind", "a", "b", "decision", "reason",
                                                                     "shared_action")}
    if not form["reason"]:
        return render_index("Give a reason for the decision. Nothing was written.", 400)
    problem = _same_dist()
    if problem:
        return render_index(problem, 500)
    try:
        done = curate.decide(repo().store, form["kind"], form["a"], form["b"], form["decision"], form["reason"],
                             auth.current_steward(), shared_action=form["shared_action"])
    except changes.Rejected as e:
        return render_index(public_message(e.result.text()), 409)
    except BadInput as e:
        return render_index(f"{public_message(str(e))} (nothing written)", 400)
    from webapp import reload_graph

    reload_graph(current_app)
    r, s, cs = repo(), done.suggestion, done.changeset
    link = ", ".join(f'<a href="{escape(r.local_path(i.iri))}">{escape(r.label(i.iri))}</a>' for i in (s.a, s.b))
    flash(Markup(f"Decided {escape(s.kind)} pair {link}: <strong>{escape(s.decision)}</strong>; recorded as change "
                 f"set <a href=\"#cs-{escape(cs.id)}\"><code>{escape(cs.id)}</code></a>."), "ok")
    return redirect(url_for("steward.index") + "#curation", 303)


@bp.route("/steward")
def index():
    if not auth.accounts_configured() and auth.current_steward() is None:
        return render_setup()
    if auth.current_steward() is None:
        return redirect(url_for("steward.login"))
    return render_index()


def render_setup(status: int = 200):
    path = stewards.accounts_path()
    try:
        stewards.load()
        problem = None
    except KGError as e:
        current_app.logger.warning("steward accounts file: %s", e)
        problem = public_message(str(e).replace(str(path), path.name))
    return render_template("steward_setup.html", path=path.name, problem=problem), status


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{-(-seconds // 60)} minutes"


def throttled(next_url: str, name: str, wait: int):
    """429: too many failures for this account or from this address."""
    until = (datetime.now(timezone.utc) + timedelta(seconds=wait)).strftime("%H:%M UTC")
    error = (f"Too many failed log-in attempts for this account or from this address. Log-in is blocked "
             f"for {_wait_text(wait)} (until {until}); the password was not checked. Try again then.")
    resp = Response(render_template("steward_login.html", next=next_url, name=name, error=error), 429)
    resp.headers["Retry-After"] = str(wait)
    return resp


@bp.route("/steward/login", methods=["GET", "POST"])
def login():
    if not auth.accounts_configured():
        return render_setup()
    next_url = auth.safe_next(request.values.get("next"))
    if request.method == "GET":
        if auth.current_steward():
            return redirect(next_url)
        return render_template("steward_login.html", next=next_url, error=None, name="")
    auth.check_csrf()
    name = request.form.get("name", "").strip()[:200]
    address = request.remote_addr or "unknown"
    throttle = auth.throttle()
    wait = throttle.retry_after(name, address)
    if wait:  # refused before the password is looked at: a right one would not help either
        return throttled(next_url, name, wait)
    if stewards.verify(name, request.form.get("password", "")):
        throttle.succeeded(name)
        auth.log_in(name)
        flash(f"Logged in as {name}.", "ok")
        return redirect(next_url, 303)
    throttle.failed(name, address)
    current_app.logger.info("steward log-in failed for %r from %s", name, address)
    return render_template("steward_login.html", next=next_url, name=name,
                           error="Wrong name or password."), 401


@bp.post("/steward/logout")
def logout():
    if auth.current_steward() is not None:
        auth.check_csrf()
    auth.log_out()
    return redirect(url_for("steward.login"), 303)


@bp.post("/steward/check")
@protected
def check():
    replace = request.form.get("replace") == "on"
    try:
        addition, name = read_addition()
        result = changes.check(addition, replace=replace)
    except BadInput as e:
        return render_template("steward_report.html", error=public_message(str(e)), report=None, name=None), 400
    try:
        token = put_pending(addition, steward=auth.current_steward(), name=name, replace=replace,
                            conforms=result.no_violations)
    except PendingTooLarge as e:
        return render_template("steward_report.html", report=None, name=name, error=(
            f"This check needs {e.size:,} bytes on the server until it is accepted, over the "
            f"{e.limit:,} bytes left for checks awaiting acceptance (KG_PENDING_MAX_BYTES). "
            "Nothing was stored or written: split the addition into smaller ones.")), 507
    return render_template("steward_report.html", error=None, report=report_view(result, addition), name=name,
                           triples=len(addition), subjects=subjects_view(addition), replace=replace,
                           token=token if result.no_violations else None)


def _same_dist() -> str | None:
    """kg.changes writes to $KG_DIST; the app serves app.config['KG_DIST']: they must agree."""
    served, written = Path(current_app.config["KG_DIST"]).resolve(), settings().dist.resolve()
    if served != written:
        current_app.logger.error("steward: the app serves %s but change sets rebuild %s", served, written)
        return ("Configuration error: the app serves another data directory than change sets rebuild "
                "(set KG_DIST for both; the server log names them). Nothing was written.")
    return None


@bp.post("/steward/accept")
@protected
def accept():
    steward = auth.current_steward()
    pending = get_pending(request.form.get("token", ""), steward)
    if pending is None:
        return render_template("steward_report.html", report=None, name=None,
                               error="This check is unknown or has expired: check the addition again. "
                                     "Nothing was written."), 400
    source = " ".join(request.form.get("source", "").split())
    if not source:
        return render_template("steward_report.html", report=None, name=pending.name,
                               error="Give the source or justification of the addition. Nothing was written."), 400
    problem = _same_dist()
    if problem:
        return render_template("steward_report.html", report=None, name=pending.name, error=problem), 500
    new = [s for s in subjects_view(pending.graph) if s["new"]]
    if not claim_pending(pending.token):
        return render_template("steward_report.html", report=None, name=pending.name,
                               error="This check is already being accepted (or was just accepted): see the "
                                     "history. Nothing more was written."), 400
    try:
        cs, _result = changes.add(pending.graph, by=steward, source=source, replace=pending.replace)
    except changes.Rejected as e:
        drop_pending(pending.token)
        return render_template("steward_report.html", error=None, report=report_view(e.result, pending.graph),
                               name=pending.name, triples=len(pending.graph),
                               subjects=subjects_view(pending.graph), replace=pending.replace, token=None,
                               rejected=True), 409
    except BadInput as e:
        drop_pending(pending.token)
        return render_template("steward_report.html", report=None, name=pending.name,
                               error=public_message(str(e))), 400
    except BaseException:
        drop_pending(pending.token)
        raise
    drop_pending(pending.token)
    from flask import session

    from webapp import reload_graph

    reload_graph(current_app)
    session[CURATE_KEY] = cs.id   # the index then offers the new measures' suggestions
    r = repo()
    links = ", ".join(f'<a href="{escape(r.local_path(s["iri"]))}">{escape(r.label(s["iri"]))}</a>' for s in new)
    flash(Markup(f"Accepted change set <a href=\"#cs-{escape(cs.id)}\"><code>{escape(cs.id)}</code></a>: "
                 f"{cs.added} triples added, {cs.removed} replaced."
                 + (f" New: {links}." if links else "")), "ok")
    return redirect(url_for("steward.index") + f"#cs-{cs.id}", 303)


@bp.post("/steward/revert/<cs_id>")
@protected
def revert(cs_id: str):
    reason = " ".join(request.form.get("reason", "").split())
    if not reason:
        return render_index(f"Give a reason to revert {cs_id}. Nothing was written.", 400)
    problem = _same_dist()
    if problem:
        return render_index(problem, 500)
    try:
        cs = changes.revert(cs_id, by=auth.current_steward(), source=reason)
    except BadInput as e:
        return render_index(f"{public_message(str(e))} (nothing written)", 400)
    from webapp import reload_graph

    reload_graph(current_app)
    flash(Markup(f"Reverted <code>{escape(cs_id)}</code>, recorded as change set "
                 f"<a href=\"#cs-{escape(cs.id)}\"><code>{escape(cs.id)}</code></a>."), "ok")
    return redirect(url_for("steward.index") + f"#cs-{cs.id}", 303)

