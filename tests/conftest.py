"""Shared fixtures: the graph is built once per test session into a temporary dist/
(KG_DIST), so tests never depend on, or overwrite, a developer's own build."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data" / "source" / "UNEP-CMS-BKD-MOS3-Doc.4.txt"

# The test tiers (docs/development.md): what a test needs beyond the virtualenv, and the
# slow ones. `make test-fast` deselects all four; `make test` runs everything. The Makefile
# runs pytest with --strict-markers, and tests/test_tiers.py checks that a test needing one
# of these tools carries its marker.
MARKERS = {
    "browser": "needs Chromium (headless, driven by Playwright): the `browser` fixture",
    "java": "needs a Java runtime (HermiT through owlready2)",
    "virtuoso": "needs OpenLink Virtuoso (virtuoso-t): tests/virtuoso_server.py",
    "slow": "takes a second or more, or is in a module taking more than about 5 s (measured with "
            "--durations on 2 cores); kept out of `make test-fast`",
}


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("dist")
    os.environ["KG_DIST"] = str(d)
    from kg import build

    build.write_dist(build.load_parts(), d)
    build.publish(d)
    return d


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A dist/ of the shipped data alone (no change sets), built once per module, for
    tests that copy it and write change sets into the copy."""
    tmp = tmp_path_factory.mktemp("pristine")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KG_ADDITIONS", str(tmp / "no-additions"))
        mp.setenv("KG_DIST", str(tmp / "dist"))
        from kg import build

        build.write_dist(build.load_parts(), tmp / "dist")
    return tmp / "dist"


# Settings a steward test must not inherit from the developer's environment.
STEWARD_SETTINGS = ("KG_SECRET_KEY", "KG_PENDING_DIR", "KG_SESSION_DIR", "KG_MAX_UPLOAD_BYTES",
                    "KG_SESSION_COOKIE_SECURE", "KG_LOGIN_MAX_FAILURES", "KG_LOGIN_MAX_FAILURES_PER_ADDRESS",
                    "KG_LOGIN_LOCKOUT", "KG_LOGIN_WINDOW", "KG_PENDING_MAX_BYTES", "KG_PENDING_PER_STEWARD")


def steward_paths(pristine: Path, tmp_path: Path, monkeypatch) -> dict:
    """A copy of the pristine dist/, empty additions and accounts for one steward test,
    set in the environment before the app is made (kg.config reads it on every call)."""
    dist = tmp_path / "dist"
    shutil.copytree(pristine, dist)
    paths = {"dist": dist, "additions": tmp_path / "additions", "stewards": tmp_path / "conf" / "stewards.json"}
    monkeypatch.setenv("KG_DIST", str(dist))
    monkeypatch.setenv("KG_ADDITIONS", str(paths["additions"]))
    monkeypatch.setenv("KG_STEWARDS", str(paths["stewards"]))
    for name in STEWARD_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return paths


@pytest.fixture(scope="session")
def store(dist):
    from kg.store import open_store

    return open_store(dist)


@pytest.fixture
def kg(dist):
    """Run the real `kg` console script in a subprocess; returns (code, stdout, stderr)."""
    exe = Path(sys.executable).with_name("kg")

    def run(*args: str, env: dict | None = None, stdin: str | None = None):
        p = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT, input=stdin,
                           env={**os.environ, "KG_DIST": str(dist), **(env or {})}, timeout=120)
        return p.returncode, p.stdout, p.stderr

    return run


# Prefixes for the small Turtle additions the steward tests submit.
TURTLE_PREFIXES = """@prefix bkd:       <https://w3id.org/bukhara-deer/ontology#> .
@prefix rdfs:      <http://www.w3.org/2000/01/rdf-schema#> .
@prefix measure:   <https://w3id.org/bukhara-deer/measure/> .
@prefix section:   <https://w3id.org/bukhara-deer/section/> .
@prefix programme: <https://w3id.org/bukhara-deer/programme/> .
@prefix document:  <https://w3id.org/bukhara-deer/document/> .
@prefix priority:  <https://w3id.org/bukhara-deer/priority/> .
@prefix actor:     <https://w3id.org/bukhara-deer/actor-type/> .
@prefix unit:      <https://w3id.org/bukhara-deer/planning-unit/> .
"""


def new_measure(local: str, number: str, text: str) -> str:
    """Turtle (with TURTLE_PREFIXES) of one complete new measure in section 9.0: what the
    steward tests submit as an addition."""
    text = text.replace('"', '\\"')  # a Turtle string
    return TURTLE_PREFIXES + f"""
measure:{local} a bkd:Measure ;
    rdfs:label "Measure {number}"@en ;
    bkd:number "{number}" ;
    bkd:inProgramme programme:wp-2025-2032 ;
    bkd:inSection section:9.0 ;
    bkd:text "{text}" ;
    bkd:priorityAsGiven "2" ; bkd:priority priority:2 ;
    bkd:responsibility "GOs, NGOs" ;
    bkd:leadActorType actor:go , actor:ngo ; bkd:planningUnit unit:captive-breeding-groups ;
    bkd:describedIn document:unep-cms-bkd-mos3-doc4 .
"""


def source_text() -> str:
    return SOURCE.read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(env: dict, log: Path):
    """The real console script `kg serve` on a free loopback port, in its own process
    group (so its SPARQL workers stop with it); yields the base URL."""
    exe = Path(sys.executable).with_name("kg")
    assert exe.exists(), f"console script {exe} not found: install the project (pip install -e .)"
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`kg serve` exited with {proc.returncode} before serving:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"`kg serve` did not answer on {url} within 30 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(scope="session")
def live_server(dist, tmp_path_factory):
    """`kg serve` on the session-built dist; yields its base URL."""
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with running_server({**os.environ, "KG_DIST": str(dist)}, log) as url:
        yield url


CHROMIUM = Path(os.environ.get("KG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; fails (never skips) when missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package "
                    "(apt-get install chromium) or point KG_CHROMIUM at a Chromium binary")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.fail(f"Playwright for Python is not installed ({e}): pip install -e '.[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def app(dist):
    """The web app on the session-built graph (test files may override it)."""
    from webapp import create_app

    return create_app({"KG_DIST": str(dist), "TESTING": True})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def html(resp) -> str:
    """The body of a successful HTML response."""
    assert resp.status_code == 200, resp.status_code
    assert resp.content_type.startswith("text/html")
    return resp.get_data(as_text=True)
