"""The scale generator: `kg synth --scale N` is deterministic, shaped like the real
graph (programmes, sections, measures, curated layer, change sets) and conforms."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # synthetic graphs generated and validated: seconds per test

ROOT = Path(__file__).resolve().parent.parent
KG = Path(sys.executable).with_name("kg")


def synth(tmp: Path, scale: int, seed: int = 1) -> Path:
    out = tmp / f"x{scale}-s{seed}"
    env = {**os.environ, "KG_STORE": "oxigraph"}
    p = subprocess.run([str(KG), "synth", "--scale", str(scale), "--seed", str(seed), "--out", str(out)],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


def digest(path: Path) -> str:
    """Of the dataset up to blank-node names (the ontology's OWL restrictions have
    some): canonicalized by Oxigraph, quads sorted."""
    import pyoxigraph as ox

    ds = ox.Dataset(ox.parse(path=str(path), format=ox.RdfFormat.N_QUADS))
    ds.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return hashlib.sha256("\n".join(sorted(str(q) for q in ds)).encode()).hexdigest()


@pytest.fixture(scope="module")
def x3(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("synth"), 3)


def test_same_scale_and_seed_give_the_same_graph(x3, tmp_path):
    again = synth(tmp_path, 3)
    assert digest(again / "dataset.nq") == digest(x3 / "dataset.nq")
    other = synth(tmp_path, 3, seed=2)
    assert digest(other / "dataset.nq") != digest(x3 / "dataset.nq")


def test_size_is_about_n_times_the_shipped_graph(x3, dist):
    shipped = json.loads((dist / "build.json").read_text())["triples"]["total"]
    total = json.loads((x3 / "build.json").read_text())["triples"]["total"]
    assert 2.7 * shipped <= total <= 3.3 * shipped


def test_copies_are_shaped_like_the_work_programme(x3):
    from kg.store import open_store

    st = open_store(x3, "oxigraph")

    def count(q: str) -> int:
        return int(next(iter(st.query(q)))["n"].value)
    programmes = count("SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?m a bkd:Measure ; bkd:inProgramme ?p }")
    assert programmes >= 3  # the ontology and shared entities are not copied: more copies than N - 1
    assert count("SELECT (COUNT(*) AS ?n) WHERE { ?m a bkd:Measure }") == 66 * programmes
    assert count("SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a bkd:Measure ; bkd:theme ?t }") >= 60 * programmes
    assert count("SELECT (COUNT(*) AS ?n) WHERE { ?a a bkd:CuratedAnnotation }") >= 400 * programmes
    assert count("SELECT (COUNT(*) AS ?n) WHERE { ?m a bkd:Measure ; bkd:text ?t FILTER(STRLEN(?t) > 40) }") \
        == 66 * programmes


def test_every_tenth_copy_arrives_as_a_change_set(monkeypatch):
    from kg import synth as synth_module

    monkeypatch.setattr(synth_module, "CHANGESET_EVERY", 2)
    parts = synth_module.synth_parts(3)
    assert parts.changesets and all(int(cs.split("-")[1]) % 2 == 0 for cs in parts.changesets)
    cs = parts.changesets["synth-2"]
    assert len(cs) > 500
    assert not list(parts.data.triples((next(iter(cs.subjects())), None, None))), "moved, not copied"
    assert len(list(parts.provenance.subjects())) >= 2  # the change set and its steward


def test_synthetic_graph_conforms_to_the_shapes(monkeypatch):
    from kg import synth as synth_module, validate

    monkeypatch.setattr(synth_module, "CHANGESET_EVERY", 2)
    report = validate.validate_graph(synth_module.synth_parts(2).merged())
    assert report.no_violations, report.text()[:2000]
