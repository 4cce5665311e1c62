"""`kg serve` stays reachable with slow and idle clients (webapp/server.py).

Each test starts the real console script on a free loopback port (conftest's
running_server) and talks to it over raw sockets: half-open connections (connected,
nothing or half a request sent), a request over the body or header limit, and slow
SPARQL queries holding request threads. Everything is bounded in count and time, and
only 127.0.0.1 is used."""
from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import pytest

from conftest import running_server
from webapp import server

HALF_OPEN = 150          # more than waitress's default connection_limit (100)
OPEN_WITHIN = 20.0       # seconds to open them all, at most
ANSWER_WITHIN = 5.0      # a normal page must answer this fast meanwhile


def _env(dist, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_SERVE_")}
    return {**env, "KG_DIST": str(dist), **extra}


def _port(url: str) -> int:
    return urllib.parse.urlsplit(url).port


@contextmanager
def half_open(port: int, n: int = HALF_OPEN):
    """n connections that never finish a request: a third send nothing, a third half a
    request line, a third a request line and part of the headers. Closed on exit."""
    socks: list[socket.socket] = []
    deadline = time.monotonic() + OPEN_WITHIN
    try:
        for i in range(n):
            if time.monotonic() > deadline:
                break
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            socks.append(s)
            if i % 3 == 1:
                s.sendall(b"GE")
            elif i % 3 == 2:
                s.sendall(b"GET /measures HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/")
        assert len(socks) == n, f"opened only {len(socks)} of {n} connections in {OPEN_WITHIN:g} s"
        yield socks
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


def timed_get(url: str, timeout: float = ANSWER_WITHIN) -> tuple[int, float]:
    """(status, seconds) of a GET; status 0 when there was no answer within timeout."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/html"}),
                                    timeout=timeout) as r:
            r.read()
            return r.status, time.monotonic() - start
    except urllib.error.HTTPError as e:
        return e.code, time.monotonic() - start
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0, time.monotonic() - start


def raw(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send bytes, read the answer until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        chunks, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


# ---------------------------------------------------------------------------------

def test_site_answers_with_150_half_open_connections(dist, tmp_path):
    with running_server(_env(dist), tmp_path / "serve.log") as url:
        with half_open(_port(url)):
            status, took = timed_get(url + "/")
            assert status == 200 and took < ANSWER_WITHIN, (status, took)
            status, took = timed_get(url + "/measures")
            assert status == 200 and took < ANSWER_WITHIN, (status, took)
        # and after they are gone
        assert timed_get(url + "/")[0] == 200


@pytest.mark.slow
def test_waitress_defaults_would_have_failed(dist, tmp_path):
    """The same attack against waitress's old connection limit (100): the site is
    unreachable while the connections stay open. (Shows that the test above tests.)"""
    env = _env(dist, KG_SERVE_CONNECTION_LIMIT="100")
    with running_server(env, tmp_path / "serve.log") as url:
        with half_open(_port(url)):
            status, _ = timed_get(url + "/", timeout=3)
            assert status == 0, "expected no answer with connection_limit=100"


@pytest.mark.slow
def test_silent_connections_are_closed_after_channel_timeout(dist, tmp_path):
    env = _env(dist, KG_SERVE_CHANNEL_TIMEOUT="2", KG_SERVE_CLEANUP_INTERVAL="1")
    with running_server(env, tmp_path / "serve.log") as url:
        with half_open(_port(url), n=6) as socks:
            start = time.monotonic()
            for s in socks:
                s.settimeout(max(0.1, 10 - (time.monotonic() - start)))
                try:
                    data = s.recv(1024)
                except ConnectionResetError:
                    data = b""
                except TimeoutError:
                    pytest.fail("a silent connection was still open after 10 s (channel_timeout 2 s)")
                assert data == b"", data  # closed without an answer
            assert time.monotonic() - start < 10


def test_bodies_and_headers_over_the_limits_get_413_and_431(dist, tmp_path):
    env = _env(dist, KG_SERVE_MAX_BODY_BYTES=str(3 * 1024 * 1024))
    with running_server(env, tmp_path / "serve.log") as url:
        port = _port(url)
        # the Content-Length alone is refused, before any of the body is sent
        answer = raw(port, b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: application/sparql-query\r\n"
                           b"Content-Length: 4194304\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b"\r\n", 1)[0].split()[1:2] == [b"413"], answer[:200]
        assert b"exceeds max_body" in body and b"Traceback" not in body
        answer = raw(port, b"GET /search?q=" + b"x" * (70 * 1024) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert answer.split(b"\r\n", 1)[0].split()[1:2] == [b"431"], answer[:200]  # waitress answers as HTTP/1.0
        # a body under the limit still reaches the endpoint
        query = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}).encode()
        with urllib.request.urlopen(urllib.request.Request(
                url + "/sparql", data=query, headers={"Accept": "application/sparql-results+json"}),
                timeout=30) as r:
            assert r.status == 200 and b"true" in r.read()


HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.mark.slow
def test_pages_are_not_starved_by_waiting_sparql_queries(dist, tmp_path):
    """Eight slow queries at once, one query worker and room for seven to wait
    (KG_QUERY_QUEUE): the queries hold eight request threads (waiting for the worker,
    or running until the timeout), and a page still answers at once (the old default
    was 8 threads: it waited until the queries gave up)."""
    env = _env(dist, KG_QUERY_WORKERS="1", KG_QUERY_QUEUE="7", KG_QUERY_TIMEOUT="4")
    with running_server(env, tmp_path / "serve.log") as url:
        statuses: list[int] = []

        def query() -> None:
            data = urllib.parse.urlencode({"query": HEAVY}).encode()
            try:
                with urllib.request.urlopen(urllib.request.Request(url + "/sparql", data=data), timeout=30) as r:
                    statuses.append(r.status)
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                statuses.append(0)

        threads = [threading.Thread(target=query, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # all eight are in (waiting or running)
        try:
            status, took = timed_get(url + "/measures")
            assert status == 200 and took < 3, (status, took)
        finally:
            for t in threads:
                t.join(30)
        assert len(statuses) == 8 and all(s in (200, 503) for s in statuses), statuses
        assert 503 in statuses  # the queries really did time out or wait: the test tested


# ---------------------------------------------------------------------------------
# The settings themselves

def test_server_options_defaults_env_and_arguments(monkeypatch):
    for var in server.ENV.values():
        monkeypatch.delenv(var, raising=False)
    opts = server.options()
    assert opts["threads"] == 16 and opts["connection_limit"] == 1000
    assert opts["channel_timeout"] == 30 and opts["cleanup_interval"] == 10
    assert opts["backlog"] == 2048 and opts["max_request_header_size"] == 65536
    assert opts["max_request_body_size"] == 10 * 1024 * 1024
    assert opts["asyncore_use_poll"] is True and opts["expose_tracebacks"] is False
    monkeypatch.setenv("KG_SERVE_THREADS", "24")
    monkeypatch.setenv("KG_SERVE_CHANNEL_TIMEOUT", "45")
    opts = server.options(threads=None, connection_limit=500)
    assert opts["threads"] == 24 and opts["channel_timeout"] == 45 and opts["connection_limit"] == 500
    assert server.options(threads=4)["threads"] == 4  # an argument (--threads) beats the environment


def test_default_threads_stay_above_the_admitted_sparql_queries(monkeypatch):
    monkeypatch.delenv("KG_SERVE_THREADS", raising=False)
    assert server.options(sparql_slots=6)["threads"] == 16      # 2 workers + 4 queued: the default
    assert server.options(sparql_slots=20)["threads"] == 28     # 8 left for pages
    assert server.options(sparql_slots=20, threads=10)["threads"] == 10


def test_body_limit_stays_above_the_steward_upload_limit(monkeypatch):
    monkeypatch.delenv("KG_SERVE_MAX_BODY_BYTES", raising=False)
    assert server.options(upload_limit=5 * 1024 * 1024)["max_request_body_size"] == 10 * 1024 * 1024
    assert server.options(upload_limit=20 * 1024 * 1024)["max_request_body_size"] == 21 * 1024 * 1024
    monkeypatch.setenv("KG_SERVE_MAX_BODY_BYTES", "2000000")
    assert server.options(upload_limit=20 * 1024 * 1024)["max_request_body_size"] == 2000000


@pytest.mark.parametrize("value", ["0", "-3", "many", "1.5"])
def test_bad_server_settings_are_one_clear_error(monkeypatch, value):
    from kg.errors import BadInput

    monkeypatch.setenv("KG_SERVE_CONNECTION_LIMIT", value)
    with pytest.raises(BadInput, match="KG_SERVE_CONNECTION_LIMIT"):
        server.options()


def test_kg_serve_reports_a_bad_setting_in_one_line(kg):
    code, out, err = kg("serve", "--port", "1", env={"KG_SERVE_THREADS": "lots"})
    assert code == 2 and "KG_SERVE_THREADS" in err and "Traceback" not in err
