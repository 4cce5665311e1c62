"""Integration with a real external engine: OpenLink Virtuoso (Debian's
virtuoso-opensource, installed by .ci/run) on a loopback port with a throw-away
database, used through the `sparql` store (KG_STORE=sparql).

The server not starting is a failure with its reason, never a skip: this is the test
that proves the sparql backend works with a SPARQL server people really run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kg import query as kgquery
from test_stores import canonical

pytestmark = pytest.mark.virtuoso  # every test here runs against the Virtuoso server

ROOT = Path(__file__).resolve().parent.parent
KG = Path(sys.executable).with_name("kg")
EXAMPLE = ROOT / "docs" / "examples" / "new-measure.ttl"


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    import virtuoso_server

    try:
        server = virtuoso_server.start(tmp_path_factory.mktemp("virtuoso"))
    except virtuoso_server.VirtuosoError as e:
        pytest.fail(f"Virtuoso could not start, so the sparql backend is untested: {e}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sparql_env(virtuoso, dist, tmp_path_factory):
    """Environment of a workspace whose store is the Virtuoso server, with the built
    graph pushed into it by `kg push`."""
    import shutil

    work = tmp_path_factory.mktemp("sparql-ws")
    shutil.copytree(dist, work / "dist")
    (work / "additions").mkdir()
    env = {**os.environ, "KG_STORE": "sparql", "KG_DIST": str(work / "dist"),
           "KG_ADDITIONS": str(work / "additions"),
           "KG_SPARQL_QUERY_URL": virtuoso.query_url, "KG_SPARQL_UPDATE_URL": virtuoso.update_url,
           "KG_SPARQL_GSP_URL": virtuoso.gsp_url, "KG_SPARQL_USER": virtuoso.user,
           "KG_SPARQL_PASSWORD": virtuoso.password}
    p = subprocess.run([str(KG), "push"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "pushed" in p.stdout
    return env


def _store(env: dict, kind: str):
    from kg.store import open_store

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return open_store(Path(env["KG_DIST"]), kind)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_push_loads_every_graph(sparql_env):
    remote, local = _store(sparql_env, "sparql"), _store(sparql_env, "memory")
    assert remote.graph_names() == local.graph_names()
    assert len(remote) == len(local)


@pytest.mark.parametrize("name", [q.name for q in kgquery.named_queries()])
def test_competency_query_same_on_virtuoso_as_in_memory(sparql_env, name):
    q = next(q for q in kgquery.named_queries() if q.name == name)
    remote = canonical(_store(sparql_env, "sparql").query(q.sparql))
    assert remote, f"{name}: no rows from Virtuoso"
    assert remote == canonical(_store(sparql_env, "memory").query(q.sparql))


def test_server_system_graphs_stay_out_of_the_default_graph(sparql_env):
    """Virtuoso's own graphs (virtrdf, ...) are not part of this graph's union."""
    st = _store(sparql_env, "sparql")
    res = st.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert int(next(iter(res))["n"].value) == len(_store(sparql_env, "memory"))


def test_accepted_change_set_reaches_the_server_and_revert_removes_it(sparql_env):
    env = sparql_env
    ask = "ASK { <https://w3id.org/bukhara-deer/measure/9.4> a bkd:Measure }"
    assert not bool(_store(env, "sparql").query(ask))
    p = subprocess.run([str(KG), "add", str(EXAMPLE), "--by", "Integration Test", "--source", "test_virtuoso"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    cs_id = next(Path(env["KG_ADDITIONS"]).glob("*.trig")).stem
    remote = _store(env, "sparql")
    assert bool(remote.query(ask)), "the accepted measure is on the server"
    assert f"https://w3id.org/bukhara-deer/changeset/{cs_id}" in remote.graph_names()
    prov = remote.query(f"SELECT ?who WHERE {{ <https://w3id.org/bukhara-deer/changeset/{cs_id}> "
                        "prov:wasAttributedTo/rdfs:label ?who }")
    assert [s["who"].value for s in prov] == ["Integration Test"]
    # the CLI reads through the server too
    p = subprocess.run([str(KG), "query", ask], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "true", p.stderr
    p = subprocess.run([str(KG), "revert", "latest", "--by", "Integration Test", "--source", "undo"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    remote = _store(env, "sparql")
    assert not bool(remote.query(ask))
    assert f"https://w3id.org/bukhara-deer/changeset/{cs_id}" not in remote.graph_names()
    assert len(remote) == len(_store(env, "memory"))


def test_web_app_on_the_sparql_store(sparql_env):
    from webapp import create_app

    saved = dict(os.environ)
    os.environ.update(sparql_env)
    try:
        app = create_app({"KG_DIST": sparql_env["KG_DIST"], "TESTING": True})
        client = app.test_client()
        for path in ("/", "/measures", "/measures?unit=upper-amu-darya&priority=1", "/matrix", "/trace/",
                     "/trace/measure/2.1", "/ontology", "/browse/Measure", "/search?q=monitoring", "/void",
                     "/population/upper-amu-darya", "/site/Tj1", "/hotspot/38", "/country/TKM",
                     "/actor-type/private-business", "/priority/1", "/theme/eco-tourism", "/annex1/4.2"):
            assert client.get(path).status_code == 200, path
        r = client.get("/measure/2.10")
        assert r.status_code == 200 and b"2.10" in r.data
        r = client.get("/measures?priority=1")
        assert r.status_code == 200
        r = client.get("/sparql?query=" + "ASK%20%7B%20%3Fm%20a%20bkd%3AMeasure%20%7D",
                       headers={"Accept": "application/sparql-results+json"})
        assert r.status_code == 200 and b"true" in r.data
        from webapp.state import graph_state

        runner = graph_state(app).query_runner
        if runner is not None:
            runner.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
