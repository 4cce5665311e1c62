"""Shared fixtures: the graph is built once per test session into a temporary dist/
(KG_DIST), so tests never depend on, or overwrite, a developer's own build."""
from __future__ import annotations

import os
import re
import subprocess
import sys
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
