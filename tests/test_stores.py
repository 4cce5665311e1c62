"""The store interface (kg.store) on the local engines: the same answers from rdflib
(memory) and Oxigraph for every competency query and every call of the interface;
the on-disk Oxigraph store's generations; configuration errors."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg import query as kgquery, results
from kg.errors import BadInput, KGError

ROOT = Path(__file__).resolve().parent.parent
KG = Path(sys.executable).with_name("kg")
LOCAL = ("memory", "oxigraph")


def canonical(result) -> list[tuple]:
    """Rows as a sorted multiset of text cells. GROUP_CONCAT's order is not specified
    by SPARQL 1.1 (18.5.1.7), so a cell that is a list ("a, b" or "a; b") is compared
    as the sorted list of its items."""
    names, rows = results.rows(result)

    def cell(t) -> str:
        text = results.term_text(t)
        for sep in ("; ", ", "):
            if sep in text and not text.endswith("."):
                return sep.join(sorted(text.split(sep)))
        return text
    return sorted(tuple(cell(t) for t in r) for r in rows)


@pytest.fixture(scope="module")
def stores(dist):
    from kg.store import open_store

    return {kind: open_store(dist, kind) for kind in LOCAL}


# ---------------------------------------------------------------------------------
# Engine-neutral queries

@pytest.mark.parametrize("name", [q.name for q in kgquery.named_queries()])
def test_every_competency_query_same_answer_on_memory_and_oxigraph(stores, name):
    q = next(q for q in kgquery.named_queries() if q.name == name)
    mem, oxi = (canonical(stores[k].query(q.sparql)) for k in LOCAL)
    assert oxi, f"{name} returns nothing on Oxigraph"
    assert mem == oxi


def test_queries_use_only_standard_sparql():
    """No rdflib-only or Oxigraph-only extension functions in queries/ (XSD casts such
    as xsd:integer(...) are SPARQL 1.1, 17.5)."""
    for q in kgquery.named_queries():
        calls = {c for c in re.findall(r"\b([a-z]+:[A-Za-z_]+)\s*\(", q.sparql) if not c.startswith("xsd:")}
        assert not calls, f"{q.name} calls {calls}: use SPARQL 1.1 built-ins only"


# ---------------------------------------------------------------------------------
# The interface, on each local engine

@pytest.mark.parametrize("kind", LOCAL)
def test_select_ask_construct_give_pyoxigraph_results(stores, kind):
    st = stores[kind]
    sel = st.query("SELECT ?m WHERE { ?m a bkd:Measure } ORDER BY ?m LIMIT 3")
    assert isinstance(sel, ox.QuerySolutions) and [v.value for v in sel.variables] == ["m"]
    assert len(list(sel)) == 3
    ask = st.query("ASK { <https://w3id.org/bukhara-deer/measure/1.1> a bkd:Measure }")
    assert isinstance(ask, ox.QueryBoolean) and bool(ask)
    con = st.query("CONSTRUCT { ?m bkd:number ?n } WHERE { ?m a bkd:Measure ; bkd:number ?n }")
    assert isinstance(con, ox.QueryTriples) and len(list(con)) == 66


@pytest.mark.parametrize("kind", LOCAL)
def test_syntax_errors_and_updates_are_bad_input(stores, kind):
    with pytest.raises(BadInput, match=r"line 2, column \d+"):
        stores[kind].query("SELECT ?x\nWHERE { ?x a bkd:Measure ")
    with pytest.raises(BadInput, match="updates are not allowed"):
        stores[kind].query("DELETE WHERE { ?s ?p ?o }")
    with pytest.raises(BadInput, match="unknown prefix"):
        stores[kind].query("SELECT * WHERE { ?x a nope:Thing }")


@pytest.mark.parametrize("kind", LOCAL)
def test_quads_graph_names_and_size(stores, kind, dist):
    st = stores[kind]
    base = "https://w3id.org/bukhara-deer/"
    m = ox.NamedNode(base + "measure/1.1")
    quads = list(st.quads(m, None, None))
    assert quads and all(q.subject == m for q in quads)
    graphs = {q.graph_name.value for q in quads}
    assert base + "graph/data" in graphs and base + "graph/inferred" in graphs
    typed = list(st.quads(None, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                          ox.NamedNode(base + "ontology#Measure")))
    assert len({q.subject for q in typed}) == 66
    assert set(st.graph_names()) >= {base + "graph/ontology", base + "graph/data", base + "graph/inferred"}
    lines = sum(1 for line in (dist / "dataset.nq").read_text().splitlines() if line.strip())
    assert len(st) == lines


@pytest.mark.parametrize("kind", LOCAL)
def test_protocol_dataset_restricts_the_default_graph(stores, kind):
    st = stores[kind]
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?m a bkd:Measure }"
    base = "https://w3id.org/bukhara-deer/"
    only_onto = int(next(iter(st.query(q, default_graph=[base + "graph/ontology"])))["n"].value)
    everything = int(next(iter(st.query(q)))["n"].value)
    assert only_onto == 0 and everything > 0
    named = st.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", default_graph=[],
                     named_graphs=[base + "graph/data"])
    assert [s["g"].value for s in named] == [base + "graph/data"]


@pytest.mark.parametrize("kind", LOCAL)
def test_replace_and_remove_graph(dist, tmp_path, kind):
    from kg.store import open_store
    from kg.stores.oxigraph import OxigraphStore

    d = tmp_path / "dist"
    d.mkdir()
    shutil.copy(dist / "dataset.nq", d / "dataset.nq")
    st = open_store(d, "memory") if kind == "memory" else OxigraphStore.in_memory(d / "dataset.nq")
    g = "https://w3id.org/bukhara-deer/graph/test"
    t = ox.Triple(ox.NamedNode("https://w3id.org/bukhara-deer/x"), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                  ox.Literal("x"))
    st.add_graph(g, [t])
    assert g in st.graph_names() and len(list(st.quads(t.subject, None, None))) == 1
    st.replace_graphs({g: [ox.Triple(t.subject, t.predicate, ox.Literal("y"))]})
    assert [q.object.value for q in st.quads(t.subject, None, None)] == ["y"]
    st.remove_graph(g)
    assert g not in st.graph_names() and not list(st.quads(t.subject, None, None))


# ---------------------------------------------------------------------------------
# The persistent Oxigraph store

@pytest.mark.slow
def test_build_loads_a_generation_that_reopens_read_only(tmp_path):
    env = {**os.environ, "KG_DIST": str(tmp_path / "dist"), "KG_STORE": "oxigraph"}
    p = subprocess.run([str(KG), "build", "--no-validate"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    root = tmp_path / "dist" / "oxigraph"
    gen = (root / "CURRENT").read_text().strip()
    assert gen in p.stdout and (root / gen).is_dir()
    p = subprocess.run([str(KG), "query", "SELECT (COUNT(*) AS ?n) WHERE { ?m a bkd:Measure }", "--format", "csv"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 0 and p.stdout.split() == ["n", "66"], p.stderr
    assert (root / "CURRENT").read_text().strip() == gen, "a query must not reload the store"


def test_generations_switch_atomically_and_old_ones_are_pruned(dist, tmp_path, monkeypatch):
    from kg.store import open_store
    from kg.stores import oxigraph

    d = tmp_path / "dist"
    shutil.copytree(dist, d)
    monkeypatch.delenv("KG_OXIGRAPH_DIR", raising=False)
    first = open_store(d, "oxigraph")
    eng = oxigraph.OxigraphEngine()
    gens = []
    for i in range(3):
        meta = json.loads((d / "build.json").read_text())
        (d / "build.json").write_text(json.dumps({**meta, "built": f"build {i}"}))  # a new build
        eng.publish(d)
        gens.append(oxigraph.current(d / "oxigraph"))
    assert len(set(gens)) == 3
    kept = sorted(p.name for p in (d / "oxigraph").glob("gen-*"))
    assert kept == sorted(gens[-2:]), "the current generation and the one before it are kept"
    again = open_store(d, "oxigraph")
    assert again.generation() == gens[-1] != first.generation()
    assert len(again) == len(first)


def test_a_dist_built_without_the_store_is_loaded_on_open(dist, tmp_path):
    from kg.store import open_store

    d = tmp_path / "dist"
    d.mkdir()
    for f in ("dataset.nq", "build.json"):
        shutil.copy(dist / f, d / f)
    st = open_store(d, "oxigraph")
    assert (d / "oxigraph" / "CURRENT").exists() and len(st) > 0


# ---------------------------------------------------------------------------------
# Configuration errors: one line, an exit code, no traceback

def test_unknown_store_kind_is_a_clear_error(dist):
    env = {**os.environ, "KG_DIST": str(dist), "KG_STORE": "postgres"}
    p = subprocess.run([str(KG), "stats"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert p.returncode == 2 and "unknown KG_STORE 'postgres'" in p.stderr and "Traceback" not in p.stderr


def test_sparql_store_without_url_or_server_is_a_clear_error(dist):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KG_SPARQL")}
    env.update(KG_DIST=str(dist), KG_STORE="sparql")
    p = subprocess.run([str(KG), "stats"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert p.returncode == 2 and "KG_SPARQL_QUERY_URL" in p.stderr and "Traceback" not in p.stderr
    env["KG_SPARQL_QUERY_URL"] = "http://127.0.0.1:9/sparql"  # discard port: nothing listens
    p = subprocess.run([str(KG), "stats"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert p.returncode == 3 and "unreachable" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run([str(KG), "push"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert p.returncode == 3 and "unreachable" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_running_app_follows_a_change_set_added_from_the_cli(dist, tmp_path, monkeypatch):
    """`kg add` in another process publishes a new generation; the running web app
    notices it (within a second) and shows the new measure."""
    import time

    from webapp import create_app

    d, adds = tmp_path / "dist", tmp_path / "additions"
    shutil.copytree(dist, d)
    adds.mkdir()
    monkeypatch.setenv("KG_DIST", str(d))
    monkeypatch.setenv("KG_ADDITIONS", str(adds))
    monkeypatch.setenv("KG_STORE", "oxigraph")
    app = create_app({"KG_DIST": str(d), "TESTING": True})
    client = app.test_client()
    assert client.get("/measure/9.4").status_code == 404
    p = subprocess.run([str(KG), "add", str(ROOT / "docs" / "examples" / "new-measure.ttl"), "--by", "T",
                        "--source", "test"],
                       capture_output=True, text=True, env=dict(os.environ), cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    time.sleep(1.1)
    assert client.get("/measure/9.4").status_code == 200


def test_the_engine_registry_names_every_kind_once():
    """kg.store.ENGINES is the one place a KG_STORE name becomes an engine: every name
    kg.config accepts has its engine there, named as it is registered."""
    from kg.config import STORE_KINDS
    from kg.store import ENGINES, Engine, engine

    assert list(ENGINES) == list(STORE_KINDS)
    for name, cls in ENGINES.items():
        assert issubclass(cls, Engine) and cls.kind == name
        assert type(engine(name.upper())) is cls
    assert [n for n, cls in ENGINES.items() if cls.remote] == ["sparql"]
    with pytest.raises(KGError, match="unknown KG_STORE 'nosuch'"):
        engine("nosuch")
