"""The steward pages (/steward) through Flask's test client: log-in, CSRF, check,
accept, history, revert, the upload limit, bad input, and that everything else stays
public and read-only.

Each test gets its own copy of a freshly built dist/ (KG_DIST), an empty additions
directory (KG_ADDITIONS) and an accounts file (KG_STEWARDS) in temporary directories,
so nothing touches the developer's build, data/additions/ or ~/.config.
"""
from __future__ import annotations

import hashlib
import html as htmllib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TURTLE_PREFIXES as PREFIXES, steward_paths

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://w3id.org/bukhara-deer/"
PASSWORD = "correct horse battery"
TEXT_99 = "Publish an annual studbook of the captive Bukhara Deer groups."


def measure(local: str, number: str, text: str, section: str = "9.0") -> str:
    unit = " bkd:planningUnit unit:captive-breeding-groups ;" if section == "9.0" else ""
    return f"""
measure:{local} a bkd:Measure ;
    rdfs:label "Measure {number}"@en ;
    bkd:number "{number}" ;
    bkd:inProgramme programme:wp-2025-2032 ;
    bkd:inSection section:{section} ;
    bkd:text "{text}" ;
    bkd:priorityAsGiven "2" ; bkd:priority priority:2 ;
    bkd:responsibility "GOs, NGOs" ;
    bkd:leadActorType actor:go , actor:ngo ;{unit}
    bkd:describedIn document:unep-cms-bkd-mos3-doc4 .
"""


NEW_MEASURE = PREFIXES + measure("9.9", "9.9", TEXT_99)
# an existing measure given a second section that nothing describes
DANGLING = PREFIXES + "measure:2.10 bkd:inSection section:10.0 .\n"


# ---------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------

@pytest.fixture
def env(pristine, tmp_path, monkeypatch):
    paths = steward_paths(pristine, tmp_path, monkeypatch)
    from kg import stewards

    stewards.add("alice", PASSWORD)
    return paths


def make_app(env, **config):
    from webapp import create_app

    app = create_app({"KG_DIST": str(env["dist"]), "SECRET_KEY": "test", "TESTING": True, **config})
    return app


@pytest.fixture
def app(env):
    return make_app(env)


@pytest.fixture
def client(app):
    return app.test_client()


def csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, name="alice", password=PASSWORD):
    page = client.get("/steward/login")
    assert page.status_code == 200
    return client.post("/steward/login", data={"name": name, "password": password,
                                               "csrf_token": csrf(page.get_data(as_text=True))})


@pytest.fixture
def steward(client):
    """A client logged in as alice; returns (client, token of the /steward page)."""
    r = login(client)
    assert r.status_code == 303, r.get_data(as_text=True)
    page = client.get("/steward")
    assert page.status_code == 200
    return client, csrf(page.get_data(as_text=True))


def upload(client, token, content: bytes | str, filename="addition.ttl", fmt="", replace=False, **extra):
    from io import BytesIO

    data = content.encode("utf-8") if isinstance(content, str) else content
    form = {"csrf_token": token, "format": fmt, "text": "", "file": (BytesIO(data), filename), **extra}
    if replace:
        form["replace"] = "on"
    return client.post("/steward/check", data=form, content_type="multipart/form-data")


def paste(client, token, text: str, fmt="turtle"):
    return client.post("/steward/check", data={"csrf_token": token, "format": fmt, "text": text})


def pending_token(html: str) -> str:
    m = re.search(r'name="token" value="([^"]+)"', html)
    assert m, "no accept form in the page"
    return m.group(1)


def snapshot(env) -> dict:
    """What a write would change: the additions directory and the dist files."""
    add = sorted(p.name for p in env["additions"].glob("*")) if env["additions"].exists() else []
    dist = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in env["dist"].iterdir() if p.is_file()}
    return {"additions": [a for a in add if a != ".lock"], "dist": dist}


def changeset_files(env) -> list[Path]:
    return sorted(env["additions"].glob("*.trig")) if env["additions"].exists() else []


def ask(client, sparql: str) -> bool:
    r = client.get("/sparql", query_string={"query": sparql}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["boolean"]


def text_of(r) -> str:
    body = re.sub(r"<style>.*?</style>", " ", r.get_data(as_text=True), flags=re.S)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


# ---------------------------------------------------------------------------------
# Public and read-only; log-in
# ---------------------------------------------------------------------------------

def test_public_pages_need_no_login(client):
    for path in ("/", "/measures", "/measure/2.10", "/sparql"):
        r = client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200, path
        assert "Set-Cookie" not in r.headers, f"{path} should not start a session"
    assert ask(client, f"ASK {{ <{BASE}measure/2.10> ?p ?o }}") is True
    r = client.post("/sparql", data={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1"},
                    headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200
    r = client.post("/sparql", data={"update": f"INSERT DATA {{ <{BASE}x> <{BASE}y> 1 }}"})
    assert r.status_code in (400, 403)  # the endpoint stays read-only


def test_steward_pages_need_login(client, env):
    before = snapshot(env)
    r = client.get("/steward")
    assert r.status_code == 302 and r.headers["Location"].endswith("/steward/login")
    for path in ("/steward/check", "/steward/accept", "/steward/revert/20250101T000000Z-abcdef"):
        r = client.post(path, data={"text": NEW_MEASURE, "format": "turtle", "source": "x", "reason": "x"})
        assert r.status_code == 403, path
        assert "Log in" in r.get_data(as_text=True)
    assert snapshot(env) == before


def test_no_accounts_explains_how_to_create_one(env, monkeypatch):
    monkeypatch.setenv("KG_STEWARDS", str(env["stewards"].parent / "missing.json"))
    client = make_app(env).test_client()
    for path in ("/steward", "/steward/login"):
        r = client.get(path)
        assert r.status_code == 200
        assert "kg steward add NAME" in r.get_data(as_text=True)
        assert "KG_STEWARDS" in r.get_data(as_text=True)
    r = client.post("/steward/login", data={"name": "alice", "password": PASSWORD})
    assert "No steward accounts" in r.get_data(as_text=True)
    assert client.get("/steward").status_code == 200  # still the explanation: no way in
    assert 'action="/steward/check"' not in client.get("/steward").get_data(as_text=True)


def test_login_failure_and_success(client):
    r = login(client, password="wrong password")
    assert r.status_code == 401 and "Wrong name or password" in r.get_data(as_text=True)
    r = login(client, name="mallory")
    assert r.status_code == 401
    assert client.get("/steward").status_code == 302
    r = login(client)
    assert r.status_code == 303 and r.headers["Location"].endswith("/steward")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/steward")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Logged in as <strong>alice</strong>" in html
    assert 'enctype="multipart/form-data"' in html and 'name="replace"' in html
    r = client.post("/steward/logout", data={"csrf_token": csrf(html)})
    assert r.status_code == 303
    assert client.get("/steward").status_code == 302


def test_login_next_is_local_only(client):
    page = client.get("/steward/login")
    r = client.post("/steward/login", data={"name": "alice", "password": PASSWORD, "next": "https://evil.example/",
                                            "csrf_token": csrf(page.get_data(as_text=True))})
    assert r.status_code == 303 and r.headers["Location"].endswith("/steward")


def test_removing_the_account_ends_its_session(steward, env):
    client, _ = steward
    from kg import stewards

    stewards.add("bob", PASSWORD)
    stewards.remove("alice")
    assert client.get("/steward").status_code == 302


# ---------------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------------

def test_csrf_missing_or_wrong_is_refused(steward, env):
    client, token = steward
    before = snapshot(env)
    for bad in (None, "", "forged-" + token[:20]):
        data = {"text": NEW_MEASURE, "format": "turtle"}
        if bad is not None:
            data["csrf_token"] = bad
        r = client.post("/steward/check", data=data)
        assert r.status_code == 400
        assert "security token (CSRF)" in r.get_data(as_text=True)
    # a valid check, then a forged accept and a forged revert
    r = paste(client, token, NEW_MEASURE)
    assert r.status_code == 200
    pending = pending_token(r.get_data(as_text=True))
    r = client.post("/steward/accept", data={"token": pending, "source": "test"})
    assert r.status_code == 400
    r = client.post("/steward/accept", data={"token": pending, "source": "test", "csrf_token": "x" * 43})
    assert r.status_code == 400
    assert snapshot(env)["additions"] == before["additions"] == []
    assert snapshot(env)["dist"] == before["dist"]
    # the log-in form is protected too
    fresh = make_app(env).test_client()
    r = fresh.post("/steward/login", data={"name": "alice", "password": PASSWORD})
    assert r.status_code == 400
    assert fresh.get("/steward").status_code == 302


# ---------------------------------------------------------------------------------
# Check, accept, history, revert
# ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_check_accept_history_revert(steward, env, app):
    client, token = steward
    before = snapshot(env)
    assert client.get("/measure/9.9").status_code == 404

    r = upload(client, token, NEW_MEASURE, filename="measure-9.9.ttl")
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    assert "no violations: true (0 violations" in html and 'id="accept-form"' in html
    # the two verdicts, named apart: new measures warn, so SHACL's sh:conforms is false
    assert '<span id="shacl-conforms">false</span>' in html and '<span id="no-violations">true</span>' in html
    assert "Measure 9.9" in html and "new" in html
    assert snapshot(env) == {**before, "dist": before["dist"]}  # a check writes nothing
    assert changeset_files(env) == []

    r = client.post("/steward/accept", data={"csrf_token": token, "token": pending_token(html),
                                             "source": "Steward test: studbook measure"})
    assert r.status_code == 303, r.get_data(as_text=True)
    files = changeset_files(env)
    assert len(files) == 1
    cs_id = files[0].stem
    assert r.headers["Location"].endswith(f"/steward#cs-{cs_id}")

    # the same app serves the new measure (reload_graph worked) and SPARQL sees it
    page = client.get("/measure/9.9")
    assert page.status_code == 200 and TEXT_99 in page.get_data(as_text=True)
    assert ask(client, f'ASK {{ <{BASE}measure/9.9> <{BASE}ontology#text> "{TEXT_99}" }}') is True
    assert snapshot(env)["dist"] != before["dist"]

    index = client.get("/steward")
    html = index.get_data(as_text=True)
    assert "Accepted change set" in html and 'href="/measure/9.9"' in html  # the flash message
    assert f'id="cs-{cs_id}"' in html and "Steward test: studbook measure" in html and "alice" in html
    assert f'action="/steward/revert/{cs_id}"' in html

    # the pending check was used up: accepting it again is refused
    r = client.post("/steward/accept", data={"csrf_token": token, "token": pending_token(
        upload(client, token, NEW_MEASURE).get_data(as_text=True)) + "x", "source": "again"})
    assert r.status_code == 400

    r = client.post(f"/steward/revert/{cs_id}", data={"csrf_token": token, "reason": ""})
    assert r.status_code == 400 and "Give a reason" in r.get_data(as_text=True)
    r = client.post(f"/steward/revert/{cs_id}", data={"csrf_token": token, "reason": "test revert"})
    assert r.status_code == 303
    assert client.get("/measure/9.9").status_code == 404
    assert ask(client, f"ASK {{ <{BASE}measure/9.9> ?p ?o }}") is False
    files = changeset_files(env)
    assert len(files) == 2
    revert_id = [f.stem for f in files if f.stem != cs_id][0]
    html = client.get("/steward").get_data(as_text=True)
    assert "reverted by" in html and f'id="cs-{revert_id}"' in html and "test revert" in html
    assert f'action="/steward/revert/{cs_id}"' not in html  # no second revert button

    r = client.post(f"/steward/revert/{cs_id}", data={"csrf_token": token, "reason": "twice"})
    assert r.status_code == 400 and "already reverted" in r.get_data(as_text=True)
    r = client.post("/steward/revert/nope", data={"csrf_token": token, "reason": "x"})
    assert r.status_code == 400 and "no change set" in r.get_data(as_text=True)
    assert len(changeset_files(env)) == 2


def test_broken_addition_is_reported_and_cannot_be_accepted(steward, env, app):
    client, token = steward
    before = snapshot(env)
    r = paste(client, token, DANGLING)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "no violations: false (" in html and 'id="accept-form"' not in html
    assert '<span id="shacl-conforms">false</span>' in html and '<span id="no-violations">false</span>' in html
    assert '<a href="/measure/2.10"' in html  # the entity, linked to its page
    assert 'class="sev Violation"' in html and "section/10.0" in html
    assert "cannot be accepted" in html
    # a forged accept with the server-side token of that check with violations
    pend = Path(app.config["STEWARD_PENDING_DIR"])
    tokens = [p.stem for p in pend.glob("*.json")]
    assert len(tokens) == 1
    r = client.post("/steward/accept", data={"csrf_token": token, "token": tokens[0], "source": "forged"})
    assert r.status_code == 409
    assert "Not accepted, nothing was written" in r.get_data(as_text=True)
    assert snapshot(env) == before


def test_new_entity_in_report_is_marked_new(steward):
    client, token = steward
    broken = PREFIXES + measure("10.1", "10.1", "Do something useful.", section="10.0")
    r = paste(client, token, broken)
    html = r.get_data(as_text=True)
    assert "no violations: false (" in html
    assert re.search(r'title="https://w3id.org/bukhara-deer/measure/10.1">[^<]*</span> <span class="new">new', html)


@pytest.mark.slow
def test_accept_rechecks_against_the_current_graph(steward, env):
    """Two checks that each conform, but not together: the second accept is refused (409)."""
    client, token = steward
    first = pending_token(paste(client, token, NEW_MEASURE).get_data(as_text=True))
    other = PREFIXES + measure("9.9-bis", "9.9", "Another measure with the same number.")
    second_page = paste(client, token, other).get_data(as_text=True)
    assert "no violations: true (" in second_page
    second = pending_token(second_page)
    assert client.post("/steward/accept", data={"csrf_token": token, "token": first,
                                                "source": "first"}).status_code == 303
    r = client.post("/steward/accept", data={"csrf_token": token, "token": second, "source": "second"})
    assert r.status_code == 409
    assert "no violations: false (" in r.get_data(as_text=True)
    assert len(changeset_files(env)) == 1


def test_accept_needs_source_and_a_known_token(steward, env):
    client, token = steward
    pending = pending_token(paste(client, token, NEW_MEASURE).get_data(as_text=True))
    r = client.post("/steward/accept", data={"csrf_token": token, "token": pending, "source": "  "})
    assert r.status_code == 400 and "source or justification" in r.get_data(as_text=True)
    for bad in ("", "../../etc/passwd", "A" * 32):
        r = client.post("/steward/accept", data={"csrf_token": token, "token": bad, "source": "x"})
        assert r.status_code == 400 and "unknown or has expired" in r.get_data(as_text=True)
    assert changeset_files(env) == []


def test_pending_check_belongs_to_its_steward(steward, env, app):
    client, token = steward
    pending = pending_token(paste(client, token, NEW_MEASURE).get_data(as_text=True))
    from kg import stewards

    stewards.add("bob", PASSWORD)
    other = app.test_client()
    assert login(other, name="bob").status_code == 303
    bob_token = csrf(other.get("/steward").get_data(as_text=True))
    r = other.post("/steward/accept", data={"csrf_token": bob_token, "token": pending, "source": "x"})
    assert r.status_code == 400
    assert changeset_files(env) == []


def test_expired_pending_check_is_refused(steward, env, app):
    client, token = steward
    pending = pending_token(paste(client, token, NEW_MEASURE).get_data(as_text=True))
    app.config["STEWARD_PENDING_TTL"] = -1
    r = client.post("/steward/accept", data={"csrf_token": token, "token": pending, "source": "late"})
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    assert changeset_files(env) == []


# ---------------------------------------------------------------------------------
# Bad input: a precise error, HTTP 400, nothing written
# ---------------------------------------------------------------------------------

BAD_UPLOADS = {
    "turtle syntax": ((PREFIXES + "measure:9.9 a bkd:Measure ;\n  bkd:number \"9.9\" \n  bkd:text \"x\" .\n")
                      .encode(), "broken.ttl", r"broken\.ttl: syntax error: line \d+, column \d+"),
    "not utf-8": ((PREFIXES + 'measure:9.9 rdfs:label "Ma\xdfnahme"@de .\n').encode("latin-1"), "latin1.ttl",
                  r"latin1\.ttl: not UTF-8 \(invalid byte 0xdf at offset \d+\)"),
    "empty": (b"", "empty.ttl", r"empty\.ttl: empty file"),
    "whitespace": (b"  \n\n ", "blank.ttl", r"blank\.ttl: empty file"),
    "binary": (bytes(range(256)) * 4, "image.ttl", r"image\.ttl: binary file"),
    # the same decoder as `kg check` (kg.rdfio.decode_input): UTF-16 is named as such
    "utf-16": ((PREFIXES + "measure:9.9 a bkd:Measure .\n").encode("utf-16"), "wide.ttl",
               r"wide\.ttl: not UTF-8 \(UTF-16 byte order mark at offset 0\); save the file as UTF-8"),
    "unknown type": (b"hello", "notes.txt", r"notes\.txt: unknown file type '\.txt'"),
    "csv wrong columns": (b"foo,bar\n1,2\n", "wrong.csv", r"wrong\.csv: .*column"),
    "json-ld syntax": (b'{"@id": ', "broken.jsonld", r"broken\.jsonld: syntax error"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_upload_gets_a_precise_error_and_writes_nothing(steward, env, case):
    client, token = steward
    content, filename, expected = BAD_UPLOADS[case]
    before = snapshot(env)
    r = upload(client, token, content, filename=filename)
    assert r.status_code == 400, text_of(r)
    assert "Nothing was written" in text_of(r)
    assert re.search(expected, text_of(r), re.I), text_of(r)
    assert 'id="accept-form"' not in r.get_data(as_text=True)
    assert snapshot(env) == before


def test_bad_pasted_text(steward, env):
    client, token = steward
    before = snapshot(env)
    r = paste(client, token, PREFIXES + "measure:9.9 bkd:number .\n")
    assert r.status_code == 400 and re.search(r"pasted text: syntax error: line \d+, column \d+", text_of(r))
    r = paste(client, token, "   ")
    assert r.status_code == 400 and "nothing to check" in text_of(r)
    r = upload(client, token, NEW_MEASURE, text=NEW_MEASURE)
    assert r.status_code == 400 and "not both" in text_of(r)
    r = paste(client, token, NEW_MEASURE, fmt="rdf/xml")
    assert r.status_code == 400 and "unknown format" in text_of(r)
    assert snapshot(env) == before


def test_upload_over_the_limit_gets_413(steward, env):
    client, token = steward
    before = snapshot(env)
    big = b"# padding\n" * (5 * 1024 * 1024)  # a 50 MB file against the default 5 MB limit
    r = upload(client, token, big, filename="big.ttl")
    assert r.status_code == 413
    body = text_of(r)
    assert "Upload too large" in body and "5,242,880 bytes" in body and "Nothing was written" in body
    assert snapshot(env) == before


def test_upload_limit_is_configurable(env, monkeypatch):
    monkeypatch.setenv("KG_MAX_UPLOAD_BYTES", "2000")
    client = make_app(env).test_client()
    assert login(client).status_code == 303
    token = csrf(client.get("/steward").get_data(as_text=True))
    r = paste(client, token, NEW_MEASURE + "#" * 3000)
    assert r.status_code == 413 and "2,000 bytes" in text_of(r)
    assert paste(client, token, NEW_MEASURE).status_code == 200  # under the limit


# ---------------------------------------------------------------------------------
# Accounts: kg.stewards and `kg steward add`
# ---------------------------------------------------------------------------------

def test_accounts_file_holds_hashes_only(env):
    from kg import stewards

    path = env["stewards"]
    text = path.read_text()
    assert PASSWORD not in text and re.search(r'"alice": \{\s*"hash": "(scrypt|pbkdf2)', text)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stewards.verify("alice", PASSWORD) and not stewards.verify("alice", "nope") \
        and not stewards.verify("eve", PASSWORD)


def test_cli_steward_add(tmp_path):
    exe = Path(sys.executable).with_name("kg")
    accounts = tmp_path / "cfg" / "stewards.json"
    env = {**os.environ, "KG_STEWARDS": str(accounts), "KG_STEWARD_PASSWORD": PASSWORD}
    p = subprocess.run([str(exe), "steward", "add", "carol"], capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    from kg import stewards

    assert stewards.verify("carol", PASSWORD, accounts)
    env.pop("KG_STEWARD_PASSWORD")
    p = subprocess.run([str(exe), "steward", "add", "dave"], capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 2 and "KG_STEWARD_PASSWORD" in p.stderr


def test_csv_upload_is_checked_like_turtle(steward, env):
    """A CSV in the columns of `kg export measures`: conforms with a warning (no source
    document), shown colour-coded, and can be accepted."""
    client, token = steward
    csv = ('kind,number,section,priority,responsibility,text\n'
           f'measure,9.9,9.0,2,"GOs, NGOs",{TEXT_99}\n')
    r = upload(client, token, csv, filename="new-measures.csv")
    html = r.get_data(as_text=True)
    assert r.status_code == 200, text_of(r)
    assert re.search(r"no violations: true \(0 violations, \d+ warnings", html)
    assert 'class="sev Warning"' in html and 'id="accept-form"' in html
    assert changeset_files(env) == []


@pytest.mark.slow
def test_the_same_check_is_accepted_once(steward, env, app):
    """Two tabs (or a double click) accepting one check at the same time: one change set."""
    from concurrent.futures import ThreadPoolExecutor

    client, token = steward
    pending = pending_token(paste(client, token, NEW_MEASURE).get_data(as_text=True))
    other = app.test_client()
    assert login(other).status_code == 303
    other_token = csrf(other.get("/steward").get_data(as_text=True))
    jobs = [(client, token), (other, other_token)]
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda j: j[0].post("/steward/accept", data={
            "csrf_token": j[1], "token": pending, "source": "twice"}).status_code, jobs))
    assert codes == [303, 400]
    assert len(changeset_files(env)) == 1


def test_steward_pages_are_not_cached_or_framed(steward):
    client, _ = steward
    r = client.get("/steward")
    assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Frame-Options"] == "DENY"
    assert "no-store" not in client.get("/measures").headers.get("Cache-Control", "")
