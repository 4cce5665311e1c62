"""The wheel works on its own: built from this tree, installed (not editable) into a
fresh virtual environment and run from an empty directory, far from the checkout.

This is what `pip install .` gives a user: the ontology, data, queries, templates and
static files must come from the package, builds and change sets go to the per-user
data directory (never into site-packages), and read-only commands write nothing.
About a minute: the wheel, a venv, its dependencies from the configured package
index, one `kg build`, one `kg serve`."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
YASGUI_FILES = [ROOT / "node_modules" / "@zazuko" / "yasgui" / "build" / n for n in ("yasgui.min.js", "yasgui.min.css")]
HAS_YASGUI = all(p.is_file() for p in YASGUI_FILES)
BKD = "https://w3id.org/bukhara-deer/ontology#"


def _version() -> str:
    """The version pyproject.toml gives the distribution (kg/__init__.py's __version__)."""
    return re.search(r'^__version__ = "([^"]+)"', (ROOT / "kg" / "__init__.py").read_text(), re.M).group(1)


def _tree_copy(dest: Path) -> Path:
    """The working tree's files (tracked and new, not ignored) in dest, plus YASGUI's two
    files when npm installed them: the wheel is built there, so the shared checkout gets
    no build/ directory and no other build can interfere."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                                capture_output=True, timeout=60).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.fail(f"git is needed to list the files of the tree: {e}")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():  # a tracked file deleted in the working tree is not built
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for p in YASGUI_FILES if HAS_YASGUI else []:
        target = dest / p.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)
    return dest


@dataclass
class Installed:
    wheel: Path
    bin: Path
    site: Path
    tmp: Path

    def env(self, name: str) -> dict[str, str]:
        """An environment of its own (home, XDG data directory) without any KG_ setting
        of the developer or of the test session."""
        home = self.tmp / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KG_", "VIRTUAL_ENV", "PYTHON"))}
        return {**env, "HOME": str(home), "XDG_DATA_HOME": str(self.tmp / name / "xdg"), "KG_WARM_UP": "0"}

    def kg(self, *args: str, env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / "kg"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)


def _files(top: Path) -> set[str]:
    """Every file under top except bytecode (compiled lazily by Python, not by kg)."""
    return {str(p.relative_to(top)) for p in top.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    tmp = tmp_path_factory.mktemp("distribution")
    src = _tree_copy(tmp / "src")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(tmp / "wheels")],
                           cwd=src, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel, = (tmp / "wheels").glob("bukhara_deer_kg-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KG_", "VIRTUAL_ENV", "PYTHONPATH"))}
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                             cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    site, = venv.glob("lib/python*/site-packages")
    return Installed(wheel, venv / "bin", site, tmp)


def test_wheel_carries_the_sources_and_the_web_files(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    res = "kg/_resources/"
    expected = {res + str(p.relative_to(ROOT))
                for top in ("ontology", "queries", "data") for p in (ROOT / top).rglob("*")
                if p.is_file() and p.suffix in {".ttl", ".rq", ".csv", ".txt"} and "additions" not in p.parts}
    assert res + "ontology/bkd.ttl" in expected and res + "data/source/UNEP-CMS-BKD-MOS3-Doc.4.txt" in expected
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if n.startswith(res + "data/additions")], "change sets are not package data"
    web = {f"webapp/templates/{p.name}" for p in (ROOT / "webapp" / "templates").iterdir()}
    web |= {f"webapp/static/{p.name}" for p in (ROOT / "webapp" / "static").iterdir()}
    assert web <= names, sorted(web - names)
    vendor = {"webapp/vendor/yasgui/yasgui.min.js", "webapp/vendor/yasgui/yasgui.min.css"}
    assert (vendor <= names) if HAS_YASGUI else not (vendor & names)
    assert not [n for n in names if n.startswith(("ontology/", "data/", "queries/", "dist/", "node_modules/"))]
    # the installed package is the wheel, not the checkout
    where = subprocess.run([str(installed.bin / "python"), "-c",
                            "import kg, webapp; print(kg.__file__, webapp.__file__)"],
                           cwd=installed.tmp, capture_output=True, text=True, timeout=60, env=installed.env("where"))
    assert where.returncode == 0, where.stderr
    assert all(Path(f).is_relative_to(installed.site) for f in where.stdout.split()), where.stdout


def test_read_only_commands_write_nothing(installed):
    """Before any build: the commands that only read answer (or fail clearly) and
    create no file anywhere, neither in the per-user directory nor in site-packages."""
    env = installed.env("read-only")
    work = installed.tmp / "read-only" / "work"
    work.mkdir()
    home, xdg = Path(env["HOME"]), Path(env["XDG_DATA_HOME"])
    site_before = _files(installed.site)

    version = installed.kg("--version", env=env, cwd=work)
    assert version.returncode == 0 and version.stdout.strip() == f"kg {_version()}", version
    listed = installed.kg("query", "--list", env=env, cwd=work)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == sorted(p.stem for p in (ROOT / "queries").glob("*.rq"))
    for args in (("stats",), ("query", "priority1-by-planning-unit"), ("export", "measures")):
        r = installed.kg(*args, env=env, cwd=work)
        assert r.returncode == 2 and "run `kg build` first" in r.stderr, (args, r)
        assert str(xdg / "bukhara-deer-kg" / "dist") in r.stderr, r.stderr  # the per-user directory
    valid = installed.kg("validate", env=env, cwd=work)
    assert valid.returncode == 0 and "no violations: true" in valid.stdout, valid

    assert _files(work) == set() and _files(home) == set() and not xdg.exists()
    assert _files(installed.site) == site_before


@pytest.fixture(scope="module")
def built(installed):
    """`kg build` of the packaged graph from an empty directory, into the per-user one."""
    env = installed.env("built")
    work = installed.tmp / "built" / "work"
    work.mkdir()
    site_before = _files(installed.site)
    r = installed.kg("build", env=env, cwd=work)
    assert r.returncode == 0, r.stderr
    dist = Path(env["XDG_DATA_HOME"]) / "bukhara-deer-kg" / "dist"
    assert f"built {dist}/" in r.stdout, r.stdout
    assert {"dataset.nq", "graph.ttl", "shapes.ttl", "build.json"} <= {p.name for p in dist.iterdir()}
    assert _files(work) == set() and _files(installed.site) == site_before
    return env, work, dist


def test_build_stats_and_queries(installed, built):
    env, work, dist = built
    measures = Graph().parse(ROOT / "data" / "measures.ttl")
    n_measures = len(set(measures.subjects(RDF.type, URIRef(BKD + "Measure"))))
    stats = installed.kg("stats", "--format", "json", env=env, cwd=work)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["measures"] == n_measures > 0
    q = installed.kg("query", "priority1-by-planning-unit", "--format", "csv", env=env, cwd=work)
    assert q.returncode == 0, q.stderr
    head, *rows = q.stdout.splitlines()
    assert head.split(",")[:3] == ["unit", "unitLabel", "measures"] and rows
    assert any("Zarafshon" in row for row in rows)
    # the curated links name their review files as in the repository, not by a site-packages path
    src = installed.kg("query", "SELECT DISTINCT ?s WHERE { ?a a bkd:CuratedAnnotation ; ?p ?s . "
                       'FILTER(isLiteral(?s) && CONTAINS(STR(?s), "reviews/")) }', "--format", "csv",
                       env=env, cwd=work)
    assert src.returncode == 0, src.stderr
    assert sorted(src.stdout.split()[1:]) == ["data/curation/reviews/annex-links.csv",
                                              "data/curation/reviews/shared-actions.csv"], src.stdout


def test_the_packaged_graph_is_the_checkouts(built, pristine):
    """The wheel's build has the named graphs and the triple counts of a build of this
    tree without change sets (conftest's pristine dist/)."""
    from kg.build import read_manifest

    _, _, dist = built
    mine, theirs = read_manifest(dist), read_manifest(pristine)
    assert mine["triples"] == theirs["triples"] and mine["triples"]["total"] > 0
    assert sorted(mine["graphs"]) == sorted(theirs["graphs"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, accept: str = "text/html") -> tuple[int, str, str]:
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")


class Server:
    """`kg serve` of the installed package, in its own process group."""

    def __init__(self, installed: Installed, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([str(installed.bin / "kg"), "serve", "--port", str(self.port)], cwd=cwd,
                                         env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"kg serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if _get(self.url + "/")[0] == 200:
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"kg serve did not answer within 60 s:\n{self.log.read_text()}")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)


def _question(name: str) -> str:
    first = (ROOT / "queries" / f"{name}.rq").read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("#").strip().removeprefix("Question:").strip()


PAGES = {  # path -> text the page shows when it really rendered the graph
    "/": "Draft Work Programme for the Bukhara Deer (2025-2032)",
    "/measures": 'href="/measure/2.10"',
    "/matrix": "Themes × planning units",
    "/browse/Measure": 'href="/measure/2.10"',
    "/search?q=deer": 'href="/measure/',
    "/trace/": "Trace an action",
    "/ontology": 'id="Measure"',
    "/measure/2.10": "Measure 2.10</h1>",
    "/download/": "graph.ttl",
}


def test_serve_every_main_page(installed, built):
    env, work, dist = built
    site_before = _files(installed.site)
    with Server(installed, env, work, installed.tmp / "serve.log") as server:
        for path, text in PAGES.items():
            status, ctype, body = _get(server.url + path)
            assert status == 200 and ctype.startswith("text/html"), (path, status, body[:500])
            assert text in body and "</html>" in body, (path, body[:500])
        _, _, onto = _get(server.url + "/ontology")
        assert "sh:minCount" in onto and 'id="Theme"' in onto   # the shapes and the built ontology graph
        status, ctype, sparql = _get(server.url + "/sparql")
        assert status == 200 and ctype.startswith("text/html")
        assert _question("priority1-by-planning-unit") in sparql   # the packaged queries as examples
        yasgui_js = _get(server.url + "/vendor/yasgui/yasgui.min.js", accept="*/*")
        if HAS_YASGUI:
            assert 'src="/vendor/yasgui/yasgui.min.js"' in sparql and yasgui_js[0] == 200
        else:
            assert "YASGUI editor is not installed" in sparql and yasgui_js[0] == 404
        for path in ("/static/style.css", "/favicon.ico", "/download/graph.ttl"):
            assert _get(server.url + path, accept="*/*")[0] == 200, path
        q = urllib.parse.quote("SELECT (COUNT(?m) AS ?n) WHERE { ?m a bkd:Measure }")
        status, ctype, body = _get(f"{server.url}/sparql?query={q}", accept="application/sparql-results+json")
        assert status == 200 and int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) > 0, body[:500]
    assert _files(installed.site) == site_before


def test_sparql_page_without_yasgui(installed, built):
    """A wheel built without npm's YASGUI: the page renders with a plain form and a note."""
    env, work, dist = built
    vendor = installed.site / "webapp" / "vendor"
    if HAS_YASGUI:  # take the copy out of this installation, as a wheel built without npm lacks it
        shutil.rmtree(vendor)
    assert not vendor.exists()
    with Server(installed, env, work, installed.tmp / "serve-plain.log") as server:
        status, _, page = _get(server.url + "/sparql")
        assert status == 200 and "YASGUI editor is not installed" in page and 'id="plain-query"' in page
        assert _get(server.url + "/vendor/yasgui/yasgui.min.js", accept="*/*")[0] == 404
