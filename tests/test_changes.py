"""The steward workflow from the command line: check, add, history, revert; exit
codes; nothing written on bad input or failure; concurrent accepts both survive."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "new-measure.ttl"
BROKEN = ROOT / "docs" / "examples" / "broken-measure.ttl"
KG = Path(sys.executable).with_name("kg")


@pytest.fixture
def ws(dist, tmp_path, monkeypatch):
    """A writable workspace: a copy of the built dist and an empty additions directory,
    used by in-process calls (monkeypatched env) and by `kg` subprocesses alike."""
    d, adds = tmp_path / "dist", tmp_path / "additions"
    shutil.copytree(dist, d)
    adds.mkdir()
    monkeypatch.setenv("KG_DIST", str(d))
    monkeypatch.setenv("KG_ADDITIONS", str(adds))

    def run(*args, stdin=None):
        p = subprocess.run([str(KG), *args], capture_output=True, text=True, cwd=ROOT, input=stdin,
                           env=os.environ.copy(), timeout=300)
        assert "Traceback" not in p.stderr, p.stderr
        return p.returncode, p.stdout, p.stderr

    run.dist, run.additions, run.tmp = d, adds, tmp_path
    return run


def snapshot(*dirs: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in dirs for p in sorted(d.rglob("*")) if p.is_file() and p.name != ".lock"}


def ask(dist: Path, sparql: str) -> str:
    from kg.store import open_store

    res = open_store(dist).query(sparql)
    return str(bool(res)).lower() if isinstance(res, bool) or not hasattr(res, "variables") else \
        "\n".join(s[0].value for s in res)


def test_check_writes_nothing(ws):
    before = snapshot(ws.dist, ws.additions)
    code, out, err = ws("check", str(EXAMPLE))
    assert code == 0, out + err
    assert "Conforms" in out
    assert snapshot(ws.dist, ws.additions) == before


def test_check_reports_violations_grouped_by_entity(ws):
    code, out, _ = ws("check", str(BROKEN))
    assert code == 1
    assert "bkdi:measure/9.5" in out and "Does not conform" in out
    assert "section/9.0" in out, "the closest existing section is suggested"


def test_add_history_revert_round_trip(ws):
    code, out, err = ws("add", str(EXAMPLE), "--by", "Test Steward", "--source", "test suite")
    assert code == 0, out + err
    files = list(ws.additions.glob("*.trig"))
    assert len(files) == 1
    cs_id = files[0].stem
    assert cs_id in out
    text = files[0].read_text()
    assert "prov:wasAttributedTo" in text and "Test Steward" in text and "test suite" in text
    assert ask(ws.dist, 'ASK { bkdi:measure\\/9.4 a bkd:Measure ; bkd:text ?t }') == "true"
    assert ask(ws.dist, f"""ASK {{ GRAPH <https://w3id.org/bukhara-deer/changeset/{cs_id}> {{
                                  bkdi:measure\\/9.4 bkd:number "9.4" }} }}""") == "true"
    code, out, _ = ws("stats", "--format", "json")
    assert '"measures": 67' in out

    code, out, _ = ws("history")
    assert code == 0 and cs_id in out and "Test Steward" in out

    code, out, err = ws("revert", cs_id, "--by", "Test Steward", "--source", "was a test")
    assert code == 0, err
    assert len(list(ws.additions.glob("*.trig"))) == 2, "the revert is recorded, nothing is deleted"
    assert ask(ws.dist, 'ASK { bkdi:measure\\/9.4 ?p ?o }') == "false"
    code, out, _ = ws("history", "--format", "json")
    assert '"reverted_by"' in out and cs_id in out
    code, _, err = ws("revert", cs_id, "--by", "x", "--source", "again")
    assert code == 2 and "already reverted" in err


def test_add_refuses_nonconforming_and_writes_nothing(ws):
    before = snapshot(ws.dist, ws.additions)
    code, out, err = ws("add", str(BROKEN), "--by", "T", "--source", "s")
    assert code == 1 and "nothing written" in err
    assert snapshot(ws.dist, ws.additions) == before


def test_number_already_taken_and_replace(ws, tmp_path):
    f = tmp_path / "dup.ttl"
    f.write_text(EXAMPLE.read_text().replace("measure:9.4", "measure:9.3").replace('"9.4"', '"9.3"')
                 .replace("Measure 9.4", "Measure 9.3"))
    code, out, _ = ws("check", str(f))
    assert code == 1 and "--replace" in out, out
    code, out, err = ws("add", str(f), "--by", "T", "--source", "correction", "--replace")
    assert code == 0, out + err
    assert ask(ws.dist, 'SELECT ?t WHERE { bkdi:measure\\/9.3 bkd:text ?t }').startswith("Keep a shared studbook")
    assert "\n" not in ask(ws.dist, 'SELECT ?t WHERE { bkdi:measure\\/9.3 bkd:text ?t }'), "old value replaced"


@pytest.mark.parametrize("name, content, pattern", [
    ("bad.ttl", b"@prefix ex: <http://e/> .\nex:a ex:b \"open .\n", r"syntax error: line 2, column \d+"),
    ("empty.ttl", b"", r"empty file"),
    ("bin.ttl", b"\x89PNG\r\n\x1a\n\x00\x00", r"binary file"),
    ("latin1.ttl", "<urn:a> <urn:b> \"caf\u00e9\" .".encode("latin-1"), r"not UTF-8"),
    ("rows.csv", b"iri,number\nx,1\n", r"column"),
    ("notes.txt", b"hello", r"unknown file type"),
])
def test_bad_input_is_refused_precisely(ws, tmp_path, name, content, pattern):
    import re

    f = tmp_path / name
    f.write_bytes(content)
    before = snapshot(ws.dist, ws.additions)
    code, _, err = ws("add", str(f), "--by", "T", "--source", "s")
    assert code == 2 and re.search(pattern, err), err
    assert snapshot(ws.dist, ws.additions) == before


def test_oversized_file_is_refused(ws, tmp_path):
    f = tmp_path / "big.ttl"
    with open(f, "wb") as out:
        out.truncate(50 * 1024 * 1024)
    code, _, err = ws("check", str(f))
    assert code == 2 and "over the limit" in err


def test_missing_provenance_is_bad_input(ws):
    code, _, err = ws("add", str(EXAMPLE), "--by", " ", "--source", "s")
    assert code == 2 and "--by" in err


def test_failure_while_building_leaves_everything_as_before(ws, monkeypatch):
    from kg import build, changes

    before = snapshot(ws.dist, ws.additions)
    real = build.write_dist

    def half_then_fail(parts, dist):
        (dist / "graph.ttl").parent.mkdir(parents=True, exist_ok=True)
        (dist / "graph.ttl").write_text("partial")
        raise OSError("disk full")

    monkeypatch.setattr(build, "write_dist", half_then_fail)
    with pytest.raises(OSError):
        changes.add(changes.parse_input(EXAMPLE), by="T", source="s")
    monkeypatch.setattr(build, "write_dist", real)
    assert snapshot(ws.dist, ws.additions) == before
    assert not list(ws.tmp.glob(".dist.staging-*")), "staging directory cleaned up"


def test_failure_at_commit_leaves_everything_as_before(ws, monkeypatch):
    from kg import changes, rdfio

    before = snapshot(ws.dist, ws.additions)
    real = rdfio.atomic_write

    def fail_in_additions(path, data):
        if Path(path).parent == ws.additions:
            raise OSError("no space left on device")
        return real(path, data)

    monkeypatch.setattr(rdfio, "atomic_write", fail_in_additions)
    with pytest.raises(OSError):
        changes.add(changes.parse_input(EXAMPLE), by="T", source="s")
    assert snapshot(ws.dist, ws.additions) == before


def test_concurrent_accepts_both_survive(ws, tmp_path):
    files = []
    for n in ("9.4", "9.5", "9.6"):
        f = tmp_path / f"m{n}.ttl"
        f.write_text(EXAMPLE.read_text().replace("9.4", n))
        files.append(f)
    procs = [subprocess.Popen([str(KG), "add", str(f), "--by", f"steward {i}", "--source", "concurrency test"],
                              cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, f in enumerate(files)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0, 0], results
    assert len(list(ws.additions.glob("*.trig"))) == 3
    numbers = ask(ws.dist, 'SELECT ?n WHERE { ?m a bkd:Measure ; bkd:number ?n FILTER(?n IN ("9.4","9.5","9.6")) }')
    assert sorted(numbers.split()) == ["9.4", "9.5", "9.6"]


def test_build_layers_changesets_from_files(ws):
    code, _, err = ws("add", str(EXAMPLE), "--by", "T", "--source", "s")
    assert code == 0, err
    shutil.rmtree(ws.dist)
    code, out, err = ws("build")
    assert code == 0, err
    assert ask(ws.dist, 'ASK { bkdi:measure\\/9.4 a bkd:Measure }') == "true"
