"""Where kg reads its sources and writes its build (kg.config.project): one place,
in a fixed order, so a checkout, a KG_PROJECT directory and an installed wheel each
find theirs. tests/test_distribution.py runs the installed wheel itself."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kg.config import CODE_ROOT, is_project, settings, user_data_dir

PATH_SETTINGS = ("KG_PROJECT", "KG_DIST", "KG_ADDITIONS", "KG_REVIEWS_DIR", "KG_OXIGRAPH_DIR")


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """No path setting from the developer or the session; an empty working directory."""
    for name in PATH_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def layout(d: Path) -> Path:
    """A directory with the project layout (what is_project looks for)."""
    (d / "ontology").mkdir(parents=True)
    (d / "ontology" / "bkd.ttl").write_text("", encoding="utf-8")
    (d / "data").mkdir()
    (d / "queries").mkdir()
    return d


def test_checkout_the_code_runs_from_is_the_fallback(clean):
    assert is_project(CODE_ROOT)
    s = settings()
    assert (s.root, s.project_dir, s.dist) == (CODE_ROOT, CODE_ROOT, CODE_ROOT / "dist")
    assert s.additions == CODE_ROOT / "data" / "additions"


def test_working_directory_or_a_parent_with_the_layout(clean):
    proj = layout(clean / "proj")
    deep = proj / "docs" / "deeper"
    deep.mkdir(parents=True)
    os.chdir(deep)
    s = settings()
    assert (s.root, s.dist, s.additions) == (proj, proj / "dist", proj / "data" / "additions")
    assert s.queries_dir == proj / "queries"


def test_kg_project_with_its_own_sources(clean, monkeypatch):
    proj = layout(clean.parent / "mine")
    layout(clean / "other")  # the working directory's own project loses to KG_PROJECT
    os.chdir(clean / "other")
    monkeypatch.setenv("KG_PROJECT", str(proj))
    s = settings()
    assert (s.root, s.project_dir, s.dist) == (proj, proj, proj / "dist")


def test_kg_project_without_sources_reads_those_of_the_code(clean, monkeypatch):
    home = clean.parent / "state"
    monkeypatch.setenv("KG_PROJECT", str(home))
    s = settings()
    assert s.root == CODE_ROOT and s.project_dir == home
    assert (s.dist, s.additions) == (home / "dist", home / "additions")
    assert not home.exists(), "resolving a project directory creates nothing"
    monkeypatch.setenv("KG_DIST", str(clean / "elsewhere"))
    assert settings().dist == clean / "elsewhere"   # KG_DIST still wins


def test_user_data_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_data_dir() == tmp_path / "xdg" / "bukhara-deer-kg"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/not/allowed")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_data_dir() == tmp_path / "home" / ".local" / "share" / "bukhara-deer-kg"


def test_read_only_commands_on_a_missing_build_create_nothing(clean):
    missing = clean / "no-build"
    env = {k: v for k, v in os.environ.items() if k not in PATH_SETTINGS}
    env["KG_DIST"] = str(missing)
    exe = Path(sys.executable).with_name("kg")
    for args in (["stats"], ["query", "repeated-measures"], ["export", "measures"]):
        for store in ("oxigraph", "memory"):
            r = subprocess.run([str(exe), *args], cwd=clean, env={**env, "KG_STORE": store}, capture_output=True,
                               text=True, timeout=120)
            assert r.returncode == 2 and "run `kg build` first" in r.stderr, (args, store, r.stderr)
    assert not missing.exists() and list(clean.iterdir()) == []
