"""The public SPARQL endpoint under attack (issue 10, parts 2, 3 and 7): federation
refused and impossible, queries bounded in size, nesting, time, memory and
concurrency, and the endpoint answering again after each attack."""
from __future__ import annotations

import shutil
import threading
import time

import pytest

from loopback import Listener
from webapp.state import graph_state

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
# a cross product of the whole graph with itself, three times: runs for hours
ENDLESS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
# doubles a string 4x per step: 111 * 4^14 characters (about 30 GB) if nothing stops it
STRING_BOMB = ('SELECT ?x WHERE { BIND("' + "a" * 111 + '" AS ?a0) '
               + " ".join(f"BIND(CONCAT(?a{i},?a{i},?a{i},?a{i}) AS ?a{i + 1})" for i in range(14))
               + " BIND(STRLEN(?a14) AS ?x) }")


def make_app(dist, **config):
    from webapp import create_app

    return create_app({"KG_DIST": str(dist), "TESTING": True, **config})


def close(app) -> None:
    state = graph_state(app)
    runner, state.query_runner = state.query_runner, None
    if runner is not None:
        runner.close()


@pytest.fixture(scope="module")
def guarded(dist):
    app = make_app(dist, QUERY_TIMEOUT=3, QUERY_WORKERS=1, QUERY_QUEUE=0, QUERY_MAX_MEMORY=768 * 2**20)
    yield app
    close(app)


def ask(client, query: str, method: str = "get"):
    if method == "get":
        return client.get("/sparql", query_string={"query": query},
                          headers={"Accept": "application/sparql-results+json"})
    return client.post("/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"})


def answers(client) -> bool:
    r = ask(client, COUNT)
    return r.status_code == 200 and b'"n"' in r.data


def service_queries(url: str) -> list[str]:
    return [
        f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"PREFIX : <{url}> SELECT * WHERE {{ SERVICE :x {{ ?s ?p ?o }} }}",
        f"PREFIX l: <{url}> SELECT * WHERE {{ ?s ?p ?o .SERVICE l:x {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ # comment\n SERVICE\n<{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }} }}",
        f"ASK {{ FILTER EXISTS {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * WHERE {{ VALUES ?e {{ <{url}> }} SERVICE ?e {{ ?s ?p ?o }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    ]


def test_federation_is_refused_and_nothing_is_contacted(guarded):
    client = guarded.test_client()
    with Listener() as listener:
        for q in service_queries(listener.url):
            for method in ("get", "post"):
                r = ask(client, q, method)
                assert r.status_code == 400, (q, r.status_code, r.data)
                assert b"SERVICE (federated query) is not allowed" in r.data
        time.sleep(0.3)
        assert listener.contacts == 0
    assert answers(client)


def test_workers_cannot_reach_the_network_even_if_a_query_got_through(guarded):
    """The second wall: a SERVICE query handed straight to a worker (past the check)
    reaches no address, because the worker has no network."""
    client = guarded.test_client()
    assert answers(client)
    runner = graph_state(guarded).query_runner
    assert runner is not None
    with Listener() as listener:
        w = runner._take_worker()
        try:
            w.conn.send((f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}", "json", None, None, 10**6))
            assert w.conn.poll(10)
            kind, *rest = w.conn.recv()
        finally:
            runner._idle.put(w)
        time.sleep(0.3)
        assert listener.contacts == 0, "a worker reached the loopback listener"
        assert kind == "error", (kind, rest)
    # as root (CI) or with user namespaces, the workers really left the network
    assert runner.confinement == {"network_isolated": True, "memory_limited": True, "lower_priority": True}


def test_deep_nesting_is_400_before_the_engine(guarded):
    client = guarded.test_client()
    for depth in (100, 5000):
        q = "SELECT * WHERE " + "{" * depth + " ?s ?p ?o " + "}" * depth
        r = ask(client, q, "post")
        assert r.status_code == 400
        assert b"nested too deeply" in r.data and b"KG_QUERY_MAX_DEPTH" in r.data
    r = ask(client, "SELECT * WHERE { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }", "post")
    assert r.status_code == 400
    assert answers(client)


def test_overlong_query_is_400_and_oversized_body_is_413(guarded):
    client = guarded.test_client()
    long_query = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 200_000
    r = client.post("/sparql", data=long_query.encode(), content_type="application/sparql-query")
    assert r.status_code == 400 and b"query too long" in r.data and b"KG_QUERY_MAX_LENGTH" in r.data
    big = b"SELECT * WHERE { ?s ?p ?o } #" + b"x" * (2 * 1024 * 1024)
    r = client.post("/sparql", data=big, content_type="application/sparql-query")
    assert r.status_code == 413 and b"KG_QUERY_MAX_BODY" in r.data
    r = client.post("/sparql", data={"query": big.decode()})
    assert r.status_code == 413
    assert answers(client)


def test_memory_bomb_stops_its_worker_not_the_server(guarded):
    client = guarded.test_client()
    r = ask(client, STRING_BOMB, "post")
    assert r.status_code == 503, r.data
    assert b"memory" in r.data
    deadline = time.monotonic() + 20
    while not answers(client):
        assert time.monotonic() < deadline, "the endpoint did not come back after a worker crash"
        time.sleep(0.2)


@pytest.mark.slow
def test_admission_control_refuses_at_once_when_full(guarded):
    """One worker, no queue: while a slow query runs, the next gets 503 at once
    (it does not hold a server thread for the whole timeout)."""
    client = guarded.test_client()
    assert answers(client)
    slow: dict = {}

    def run_slow() -> None:
        slow["r"] = guarded.test_client().post("/sparql", data={"query": ENDLESS})
    t = threading.Thread(target=run_slow)
    t.start()
    time.sleep(0.5)
    started = time.monotonic()
    r = ask(client, COUNT)
    waited = time.monotonic() - started
    assert r.status_code == 503 and r.headers.get("Retry-After") == "1"
    assert b"endpoint busy" in r.data
    assert waited < 1.0, waited
    t.join(20)
    assert slow["r"].status_code == 503 and b"stopped after" in slow["r"].data
    deadline = time.monotonic() + 20
    while not answers(client):
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.slow
def test_endpoint_recovers_once_the_graph_is_rebuilt(tmp_path, monkeypatch):
    from kg import build

    d = tmp_path / "dist"
    monkeypatch.setenv("KG_DIST", str(d))
    build.write_dist(build.load_parts(), d)
    build.publish(d)
    app = make_app(d, QUERY_TIMEOUT=3, QUERY_WORKERS=1)
    try:
        client = app.test_client()
        assert answers(client)
        shutil.rmtree(d)
        ask(client, ENDLESS)  # times out: its worker is replaced, and cannot load a graph now
        r = ask(client, COUNT)
        assert r.status_code in (200, 503)
        assert b"Traceback" not in r.data
        build.write_dist(build.load_parts(), d)
        build.publish(d)
        deadline = time.monotonic() + 30
        while not answers(client):
            assert time.monotonic() < deadline, "the endpoint did not recover after the rebuild"
            time.sleep(0.5)
    finally:
        close(app)


def test_cli_refuses_deep_nesting_without_crashing(kg):
    q = "SELECT * WHERE " + "{" * 5000 + " ?s ?p ?o " + "}" * 5000
    code, out, err = kg("query", q)
    assert code == 2, (code, err[-300:])
    assert "nested too deeply" in err
    assert "Traceback" not in err


def test_host_header_cannot_inject_into_the_service_description(guarded):
    import pyoxigraph as ox

    client = guarded.test_client()
    for host in ('evil> a <http://x/> . <http://x/', 'a"b', "x\\y", "h{o}st"):
        r = client.get("/sparql", headers={"Accept": "text/turtle", "Host": host})
        assert r.status_code in (200, 400)
        if r.status_code == 200:
            triples = list(ox.parse(r.data, format=ox.RdfFormat.TURTLE))
            services = [t for t in triples if t.object == ox.NamedNode(
                "http://www.w3.org/ns/sparql-service-description#Service")]
            assert len(services) == 1
            assert not any("http://x/" in str(t) for t in triples)
