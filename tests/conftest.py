"""Shared fixtures: the graph is built once per test session into a temporary dist/
(KG_DIST), so tests never depend on, or overwrite, a developer's own build."""
from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("dist")
    os.environ["KG_DIST"] = str(d)
    from kg import build

    build.write_dist(build.load_parts(), d)
    return d


@pytest.fixture(scope="session")
def store(dist):
    from kg.store import Store

    return Store.open(dist)


@pytest.fixture
def kg(dist):
    """Run the real `kg` console script in a subprocess; returns (code, stdout, stderr)."""
    exe = Path(sys.executable).with_name("kg")

    def run(*args: str, env: dict | None = None, stdin: str | None = None):
        p = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT, input=stdin,
                           env={**os.environ, "KG_DIST": str(dist), **(env or {})}, timeout=120)
        return p.returncode, p.stdout, p.stderr

    return run


def source_text() -> str:
    return SOURCE.read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(dist, tmp_path_factory):
    """The real console script `kg serve` on a free port; yields its base URL."""
    exe = Path(sys.executable).with_name("kg")
    assert exe.exists(), f"console script {exe} not found: install the project (pip install -e .)"
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    env = {**os.environ, "KG_DIST": str(dist)}
    with open(log, "wb") as out:
        # Its own process group, so the SPARQL worker processes it starts go with it.
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
        try:  # anything left in the server's own process group (query workers)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
