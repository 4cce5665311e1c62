"""Security headers on every response (webapp/security_headers.py), no inline script or
style in the pages, and no filesystem path, traceback or exception class name in any
answer, including error answers (webapp/errors.py).

The browser tests load the pages in headless Chromium under the real policy and fail
on any Content-Security-Policy violation, so the policy and the pages (and YASGUI,
from npm) are kept in step."""
from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from webapp import security_headers
from webapp.state import graph_state

ROOT = Path(__file__).resolve().parents[2]
SPARQL_SELECT = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"

# Exception classes a careless handler might print (str(e) / type(e).__name__).
CLASS_NAMES = re.compile(
    r"\b(?:KGError|BadInput|RemoteError|WorkerFailed|OSError|IOError|FileNotFoundError|PermissionError|"
    r"IsADirectoryError|RuntimeError|ValueError|KeyError|TypeError|AttributeError|IndexError|"
    r"UnicodeDecodeError|SyntaxError|AssertionError|Exception)\b")


def leaks(body: str, *paths: Path) -> list[str]:
    """What in a response body gives the server away."""
    found = [f"path {p}" for p in {str(ROOT), *map(str, paths)} if p in body]
    found += [w for w in ("Traceback", "site-packages", 'File "/') if w in body]
    found += [f"class name {m}" for m in sorted(set(CLASS_NAMES.findall(body)))]
    return found


def get(client, path: str, method: str = "GET", **kw):
    kw.setdefault("headers", {"Accept": "text/html"})
    return client.open(path, method=method, **kw)


# ---------------------------------------------------------------------------------
# Headers

PAGES = ["/", "/measures", "/matrix", "/ontology", "/trace/", "/browse/Measure", "/search?q=deer",
         "/measure/2.9", "/download/", "/steward", "/steward/login", "/sparql", "/static/style.css",
         "/static/steward.css", "/favicon.ico", "/no/such/page"]


def directives(resp) -> dict[str, str]:
    values = resp.headers.getlist("Content-Security-Policy")
    assert len(values) == 1, values
    return security_headers.parse_csp(values[0])


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_page(client, path):
    r = get(client, path)
    assert r.status_code in (200, 404), (path, r.status_code)
    csp = directives(r)
    assert csp["script-src"] == "'self'"
    assert csp["default-src"] == "'self'" and csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["form-action"] == "'self'"
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    # inline styles only where YASGUI needs them
    assert ("'unsafe-inline'" in csp["style-src"]) == (path == "/sparql"), csp["style-src"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP: never


def test_headers_on_data_answers_and_errors(client):
    """Non-HTML answers (RDF, CSV, SPARQL results, text errors) and error pages carry
    the headers too; the endpoint keeps its CORS headers."""
    cases = [
        client.get("/measure/2.9", headers={"Accept": "text/turtle"}),
        client.get("/measures?format=csv"),
        client.get("/sparql", query_string={"query": SPARQL_SELECT}),
        client.get("/sparql", query_string={"query": "SELEC"}),
        client.open("/sparql", method="PROPFIND"),
        client.options("/sparql"),
        client.post("/"),
    ]
    for r in cases:
        assert r.headers["X-Content-Type-Options"] == "nosniff", r.status
        assert directives(r)["frame-ancestors"] == "'none'"
        assert r.headers["X-Frame-Options"] == "DENY"
    sparql = cases[2:6]
    assert [r.status_code for r in sparql] == [200, 400, 405, 204]
    for r in sparql:
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in r.headers["Access-Control-Allow-Methods"]
        assert "Accept" in r.headers["Vary"]


def test_steward_headers_and_policy_merge(client):
    """The steward blueprint's own headers survive, and its frame-ancestors and the
    site policy make one Content-Security-Policy header."""
    r = get(client, "/steward/login")
    assert r.headers["Cache-Control"] == "no-store"
    csp = directives(r)
    assert csp["frame-ancestors"] == "'none'" and csp["script-src"] == "'self'"


def test_policy_merge_rules():
    ours = security_headers.policy_for("/")
    merged = security_headers.parse_csp(security_headers.merged_csp(
        "frame-ancestors 'self'; img-src https://example.org", ours))
    assert merged["frame-ancestors"] == "'self'" and merged["img-src"] == "https://example.org"
    assert merged["script-src"] == "'self'"
    assert security_headers.merged_csp(None, {"a": "b", "c": "d"}) == "a b; c d"
    assert security_headers.parse_csp(" Script-Src 'self' ; script-src * ;; ") == {"script-src": "'self'"}


def test_hsts_and_forwarded_proto_only_with_proxy_fix(dist):
    from webapp import create_app

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Accept": "text/html"}
    plain = create_app({"KG_DIST": str(dist), "TESTING": True}).test_client()
    r = plain.get("/", headers=forwarded)
    assert "Strict-Transport-Security" not in r.headers  # forwarding headers are not trusted
    proxied = create_app({"KG_DIST": str(dist), "TESTING": True, "KG_PROXY_FIX": "1"}).test_client()
    r = proxied.get("/", headers=forwarded)
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"] == security_headers.HSTS
    r = proxied.get("/", headers={"Accept": "text/html"})
    assert "Strict-Transport-Security" not in r.headers


@pytest.mark.parametrize("value, hops", [(None, 0), ("", 0), ("0", 0), ("false", 0), ("1", 1),
                                         ("true", 1), ("yes", 1), (True, 1), ("2", 2)])
def test_proxy_hops(value, hops, monkeypatch):
    monkeypatch.delenv("KG_PROXY_FIX", raising=False)
    assert security_headers.proxy_hops(value) == hops


def test_proxy_hops_from_env_and_bad_values(monkeypatch):
    from kg.errors import BadInput

    monkeypatch.setenv("KG_PROXY_FIX", "1")
    assert security_headers.proxy_hops() == 1
    for bad in ("maybe", "-1"):
        with pytest.raises(BadInput, match="KG_PROXY_FIX"):
            security_headers.proxy_hops(bad)


# ---------------------------------------------------------------------------------
# No inline script or style in the pages

INLINE = [
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def _inline_scripts(body: str) -> list[str]:
    """<script> elements with content that a browser would execute."""
    out = []
    for attrs, content in re.findall(r"<script\b([^>]*)>(.*?)</script>", body, re.S | re.I):
        if "src=" in attrs:
            assert not content.strip(), attrs
            continue
        if re.search(r"type\s*=\s*[\"']application/(ld\+)?json[\"']", attrs):
            continue  # data, not executed
        out.append(attrs + content[:80])
    return out


@pytest.mark.parametrize("path", [p for p in PAGES if not p.startswith(("/static", "/favicon"))]
                         + ["/measures?page=2", "/trace/measure/2.9"])
def test_pages_have_no_inline_script_or_style(client, path):
    r = get(client, path)
    assert r.status_code in (200, 404)
    body = r.get_data(as_text=True)
    assert _inline_scripts(body) == [], path
    found = [what for rx, what in INLINE if rx.search(body)]
    assert found == [], (path, found)


def test_templates_have_no_inline_style_or_script():
    """Also the templates not reached above (steward report, history ...)."""
    for t in sorted((ROOT / "webapp" / "templates").glob("*.html")):
        text = re.sub(r"\{#.*?#\}", "", t.read_text(encoding="utf-8"), flags=re.S)  # Jinja comments
        assert _inline_scripts(text) == [], t.name
        found = [what for rx, what in INLINE if rx.search(text)]
        assert found == [], (t.name, found)


# ---------------------------------------------------------------------------------
# No paths, tracebacks or exception names in any answer

ODD_PATHS = [
    "/%00", "/%ff%fe", "/measure/%ff%fe", "/measure/2.9%00", "/..%2f..%2fetc%2fpasswd",
    "/static/../../kg/cli.py", "/static/%2e%2e/%2e%2e/pyproject.toml", "/vendor/yasgui/../../package.json",
    "/vendor/yasgui/%2e%2e%2f%2e%2e%2fpackage.json", "/" + "a" * 3000, "/" + quote("x> ?p ?o } #"),
    "/" + quote('measure/2.9"><script>alert(1)</script>'), "/browse/" + quote("x> ?p ?o } #"),
    "/trace/" + quote("x> ?p ?o } #"), "/browse/%ff", "/trace/%00", "/downloads/%00",
    "/steward/%00", "/sparql/x", "/download/build.json", "/download/..%2fbuild.json", "/download/%2e%2e",
    "/" + quote("ünïcødé/ǅ"), "//etc/passwd", "/./measures",
]
ODD_QUERIES = [
    "/?%", "/measures?%", "/measures?page=-1", "/measures?page=99999999999999999999999",
    "/measures?page=abc&unit=%ZZ&priority=%ff", "/measures?unit=" + quote("<script>alert(1)</script>"),
    "/search?q=%", "/search?q=" + "x" * 5000, "/search?q=%00", "/browse/Measure?page=%ff",
    "/measure/2.9?format=nope", "/measure/2.9?page=x&list=%ff", "/void?format=%00",
    "/sparql?query=%", "/sparql?query=SELEC", "/sparql?query=" + quote(SPARQL_SELECT) + "&format=zz",
    "/sparql?query=" + quote(SPARQL_SELECT) + "&default-graph-uri=%3Cbad",
    "/sparql?query=" + quote("LOAD <file:///etc/passwd>"),
    "/sparql?query=" + quote("SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"),
    "/sparql?query=" + quote("SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }"),
    "/sparql?update=" + quote("DROP ALL"),
]


def _crawl_cases():
    for path in PAGES + ["/void", "/.well-known/void", "/download/graph.ttl", "/trace/measure/2.9"] \
            + ODD_PATHS + ODD_QUERIES:
        yield "GET", path, {}
    for method, path in [("POST", "/"), ("DELETE", "/measures"), ("PUT", "/measure/2.9"),
                         ("PROPFIND", "/sparql"), ("PATCH", "/sparql"), ("TRACE", "/"), ("POST", "/static/style.css")]:
        yield method, path, {}
    yield "POST", "/sparql", {"data": b"\xff\xfe\x00", "content_type": "application/sparql-query"}
    yield "POST", "/sparql", {"data": "query=%ZZ%", "content_type": "application/x-www-form-urlencoded"}
    yield "POST", "/sparql", {"data": "x", "content_type": "application/sparql-query; charset=nope"}
    yield "POST", "/sparql", {"data": "{}", "content_type": "application/json"}
    yield "POST", "/sparql", {"data": "DROP ALL", "content_type": "application/sparql-update"}
    yield "POST", "/steward/login", {"data": {"name": "x", "password": "y"}}
    yield "POST", "/steward/login", {"data": "x" * 100, "content_type": "multipart/form-data; boundary=zz"}
    yield "POST", "/steward/logout", {}
    # over the steward upload limit (set small below): 413
    yield "POST", "/steward/login", {"data": {"name": "x", "password": "y" * 3000}}


@pytest.fixture(scope="module")
def crawl_app(dist):
    from webapp import create_app

    return create_app({"KG_DIST": str(dist), "TESTING": True, "STEWARD_MAX_UPLOAD_BYTES": 2000})


@pytest.mark.slow
def test_no_paths_tracebacks_or_class_names_in_any_answer(crawl_app, dist, tmp_path, monkeypatch):
    from kg import stewards

    accounts = tmp_path / "stewards.json"  # an account exists: the log-in form is live
    stewards.add("crawler", "a long enough password 1", accounts)
    monkeypatch.setenv("KG_STEWARDS", str(accounts))
    client = crawl_app.test_client()
    problems, statuses = [], {}
    for method, path, kw in _crawl_cases():
        for accept in ("text/html", "*/*", "text/turtle"):
            r = client.open(path, method=method, headers={"Accept": accept}, **kw)
            body = r.get_data(as_text=True)
            statuses.setdefault(r.status_code, 0)
            statuses[r.status_code] += 1
            if r.status_code >= 500:
                problems.append(f"{method} {path[:80]} ({accept}): {r.status_code}")
            found = leaks(body, dist, dist.parent, tmp_path)
            if found:
                problems.append(f"{method} {path[:80]} ({accept}): {found}")
            if "<script>alert(1)</script>" in body:
                problems.append(f"{method} {path[:80]} ({accept}): reflects markup unescaped")
    assert problems == []
    # the crawl reached the error answers it was meant to
    assert {200, 400, 403, 404, 405, 413} <= set(statuses), statuses


def test_the_500_page_says_nothing_about_the_error(dist):
    """An unexpected exception whose message holds a path: the page and its headers say
    only that something went wrong (the log has the rest)."""
    from webapp import create_app

    app = create_app({"KG_DIST": str(dist), "TESTING": True})

    @app.route("/__boom")
    def boom():
        raise FileNotFoundError(2, "No such file or directory", str(dist / "secret.ttl"))

    r = app.test_client().get("/__boom", headers={"Accept": "text/html"})
    body = r.get_data(as_text=True)
    assert r.status_code == 500
    assert leaks(body, dist) == [] and "secret.ttl" not in body
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_the_error_page_falls_back_to_text_when_it_cannot_render(dist, monkeypatch):
    from webapp import create_app, errors

    app = create_app({"KG_DIST": str(dist), "TESTING": True})

    def broken(*_a, **_k):
        raise OSError(f"cannot read {dist}/templates/error.html")

    monkeypatch.setattr(errors, "render_template", broken)
    for path, code in (("/no/such/page", 404), ("/", 405)):
        r = app.test_client().open(path, method="GET" if code == 404 else "POST")
        body = r.get_data(as_text=True)
        assert r.status_code == code and r.mimetype == "text/plain", (path, r.status_code)
        assert leaks(body, dist) == [], body


def test_the_404_echo_is_bounded(client):
    r = get(client, "/" + "b" * 5000)
    body = r.get_data(as_text=True)
    assert r.status_code == 404 and "b" * 200 in body and "b" * 201 not in body


# ---------------------------------------------------------------------------------
# Leaks found in other modules by this review, fixed there; kept as regression tests.

def test_sparql_500_names_no_exception(dist):
    """webapp/routes/sparql.py used to answer `internal error: {type(e).__name__}: {e}`."""
    from webapp import create_app

    app = create_app({"KG_DIST": str(dist), "TESTING": True})

    class Broken:
        def run(self, *a, **k):
            raise FileNotFoundError(2, "No such file or directory", str(dist / "oxigraph"))

        def close(self):
            pass

    graph_state(app).query_runner = Broken()
    r = app.test_client().get("/sparql", query_string={"query": SPARQL_SELECT})
    assert r.status_code == 500
    assert leaks(r.get_data(as_text=True), dist) == []


@pytest.mark.parametrize("state", ["missing", "unreadable", "a directory"])
def test_steward_setup_page_shows_no_filesystem_path(crawl_app, dist, tmp_path, monkeypatch, state):
    """The setup page (shown to anyone while no account exists) used to print the
    accounts file's absolute path, and the error reading it."""
    accounts = tmp_path / "private" / "stewards.json"
    if state == "unreadable":
        accounts.parent.mkdir()
        accounts.write_text("{not json", encoding="utf-8")
    elif state == "a directory":
        accounts.mkdir(parents=True)
    monkeypatch.setenv("KG_STEWARDS", str(accounts))
    r = get(crawl_app.test_client(), "/steward")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert str(tmp_path) not in body and leaks(body, dist, tmp_path) == []


# ---------------------------------------------------------------------------------
# The pages under the policy in a real browser

TIMEOUT_MS = 15_000
VIOLATIONS = """() => { window.__csp = []; document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber)); }"""


def _watch(page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text
            and errors.append(f"console: {m.text}"))
    page.add_init_script(f"({VIOLATIONS})()")
    return errors


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp || []")


@pytest.mark.browser
def test_pages_run_under_the_policy(live_server, browser):
    """The site's own pages: no violation, and the moved stylesheets apply."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = _watch(page)
    try:
        for path in ["/", "/measures", "/matrix", "/browse/Measure", "/measure/2.9", "/trace/",
                     "/ontology", "/search?q=deer", "/no/such/page", "/steward", "/steward/login"]:
            page.goto(live_server + path)
            page.wait_for_load_state("load")
            assert _violations(page) == [], path
            if path == "/measures":  # pager.css (was an inline <style> in base.html)
                assert page.eval_on_selector("nav.pager", "e => getComputedStyle(e).marginTop") != "0px"
            if path.startswith("/steward"):  # steward.css (was inline in steward_base.html)
                assert page.eval_on_selector(".steward-bar", "e => getComputedStyle(e).display") == "flex"
        assert errors == []
    finally:
        ctx.close()


@pytest.mark.browser
def test_yasgui_runs_under_the_policy(live_server, browser):
    """YASGUI on /sparql under its policy: it loads, runs an example query, shows the
    result table (resizable columns: injected <style>), completes a class name from
    LOV (stubbed here, never the network), and no CSP violation is reported."""
    if not (ROOT / "node_modules" / "@zazuko" / "yasgui" / "build" / "yasgui.min.js").exists():
        pytest.fail("YASGUI is not installed: run `npm ci --ignore-scripts` in the repository")
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    lov = []

    def fake_lov(route):
        lov.append(route.request.url)
        route.fulfill(status=200, content_type="application/json",
                      headers={"Access-Control-Allow-Origin": "*"},
                      body='{"total_results": 0, "page": 1, "page_size": 50, "results": []}')

    ctx.route("https://lov.linkeddata.es/**", fake_lov)
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = _watch(page)
    try:
        page.goto(live_server + "/sparql")
        page.locator(".yasqe .CodeMirror").wait_for(state="visible")
        page.locator("button.example").nth(1).click()
        page.locator(".yasr table tbody tr").first.wait_for(state="visible")
        assert page.locator(".yasr table tbody tr").count() > 0
        page.locator(".yasqe .CodeMirror").click()
        page.keyboard.press("Control+a")
        page.keyboard.press("Delete")
        page.keyboard.type("PREFIX foaf: <http://xmlns.com/foaf/0.1/>\nSELECT * WHERE { ?s a foaf:Pe")
        page.keyboard.press("Control+Space")
        deadline = time.monotonic() + 10
        while not lov and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert lov, "YASQE did not ask LOV for a completion"
        assert _violations(page) == []
        assert errors == []
    finally:
        ctx.close()
