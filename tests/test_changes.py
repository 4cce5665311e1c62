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
    """Every file's digest, except the writers' lock (dist/.locks/, empty)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in dirs for p in sorted(d.rglob("*"))
            if p.is_file() and p.name != ".lock" and ".locks" not in p.relative_to(d).parts}


def ask(dist: Path, sparql: str) -> str:
    from kg.store import open_store

    res = open_store(dist).query(sparql)
    return str(bool(res)).lower() if isinstance(res, bool) or not hasattr(res, "variables") else \
        "\n".join(s[0].value for s in res)


def test_check_writes_nothing(ws):
    before = snapshot(ws.dist, ws.additions)
    code, out, err = ws("check", str(EXAMPLE))
    assert code == 0, out + err
    assert "no violations: true (" in out
    assert snapshot(ws.dist, ws.additions) == before


def test_check_reports_violations_grouped_by_entity(ws):
    code, out, _ = ws("check", str(BROKEN))
    assert code == 1
    assert "bkdi:measure/9.5" in out and "no violations: false (" in out
    assert "section/9.0" in out, "the closest existing section is suggested"


@pytest.mark.slow
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


@pytest.mark.slow
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
@pytest.mark.slow
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
    assert not list(ws.tmp.glob(".dist.staging-*")), "nothing staged next to dist/"
    assert not list((ws.dist / ".staging").glob("*")), "staging directory cleaned up"


@pytest.mark.slow
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


@pytest.mark.slow
def test_concurrent_accepts_both_survive(ws, tmp_path):
    files = []
    for n in ("9.4", "9.5", "9.6"):
        f = tmp_path / f"m{n}.ttl"
        f.write_text(EXAMPLE.read_text().replace("9.4", n))
        files.append(f)
    procs = [subprocess.Popen([str(KG), "add", str(f), "--by", f"steward {i}", "--source", "concurrency test"],
                              cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for i, f in enumerate(files)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0, 0], results
    assert len(list(ws.additions.glob("*.trig"))) == 3
    numbers = ask(ws.dist, 'SELECT ?n WHERE { ?m a bkd:Measure ; bkd:number ?n FILTER(?n IN ("9.4","9.5","9.6")) }')
    assert sorted(numbers.split()) == ["9.4", "9.5", "9.6"]


@pytest.mark.slow
def test_build_layers_changesets_from_files(ws):
    code, _, err = ws("add", str(EXAMPLE), "--by", "T", "--source", "s")
    assert code == 0, err
    shutil.rmtree(ws.dist)
    code, out, err = ws("build")
    assert code == 0, err
    assert ask(ws.dist, 'ASK { bkdi:measure\\/9.4 a bkd:Measure }') == "true"


# ---------------------------------------------------------------------------------
# Provenance text cannot break out of the change set's comment header
# ---------------------------------------------------------------------------------

INJECTED = "x\n<https://w3id.org/bukhara-deer/measure/9.9> <http://www.w3.org/2000/01/rdf-schema#label> \"pwned\" .\n#"


@pytest.mark.parametrize("by, source, part", [
    (INJECTED, "s", "--by: the name contains a control character ('\\n'"),
    ("x\r# y", "s", "--by: the name contains a control character ('\\r'"),
    ("tab\there", "s", "--by: the name contains a control character ('\\t'"),
    ("x\u2028y", "s", "--by: the name contains a control character"),
    ("a\u202eb", "s", "--by: the name contains a control character"),
    ("T", "from \x1b[31mred\x1b[0m", "--source: the text contains a control character ('\\x1b')"),
    ("T", "nul\x00byte", "--source: the text contains a control character"),
])
def test_control_characters_in_provenance_are_refused(ws, by, source, part):
    from kg import changes
    from kg.errors import BadInput

    before = snapshot(ws.dist, ws.additions)
    with pytest.raises(BadInput) as e:
        changes.add(changes.parse_input(EXAMPLE), by=by, source=source)
    assert part in str(e.value)
    assert snapshot(ws.dist, ws.additions) == before, "nothing written"
    assert not list(ws.additions.glob("*.trig"))


def test_newline_in_by_is_refused_on_the_command_line(ws):
    before = snapshot(ws.dist, ws.additions)
    code, _, err = ws("add", str(EXAMPLE), "--by", INJECTED, "--source", "s")
    assert code == 2 and "control character" in err, err
    assert snapshot(ws.dist, ws.additions) == before


@pytest.mark.slow
def test_source_whitespace_becomes_one_line(ws):
    from rdflib import URIRef

    from kg import changes

    cs, _ = changes.add(changes.parse_input(EXAMPLE), by="  Test Steward ",
                        source="MOS3 notes,\n<https://w3id.org/bukhara-deer/x> <urn:p> <urn:o> .\r\n\tp. 4")
    text = cs.path.read_text(encoding="utf-8")
    header = text.split("\n\n", 1)[0].splitlines()
    assert all(line.startswith("# ") for line in header), header
    assert header[1] == "# Source: MOS3 notes, <https://w3id.org/bukhara-deer/x> <urn:p> <urn:o> . p. 4"
    assert cs.by == "Test Steward"
    assert cs.source == "MOS3 notes, <https://w3id.org/bukhara-deer/x> <urn:p> <urn:o> . p. 4"
    # the change set holds exactly the example's triples, nothing from the provenance
    ds = changes.load_trig(cs.path)
    assert len(ds.graph(URIRef(changes.changeset_iri(cs.id)))) == len(changes.parse_input(EXAMPLE))
    assert not [q for q in ds.quads((None, None, None, None)) if URIRef("urn:p") in q or URIRef("urn:o") in q]


def test_the_header_is_safe_even_for_unchecked_values():
    """_trig is given validated values by add/revert; written directly it still keeps
    every header line a comment."""
    from rdflib import Dataset, Graph
    from rdflib.namespace import RDFS

    from kg import changes

    text = changes._trig("20250101T000000Z-abcdef", Graph(), Graph(), by=INJECTED, source="a\rb\u2028c\x85d",
                         reverts=None)
    header = text.split("\n\n", 1)[0]
    assert len(header.splitlines()) == 3 and all(line.startswith("# ") for line in header.splitlines()), header
    ds = Dataset()
    ds.parse(data=text, format="trig")
    assert not [q for q in ds.quads((None, None, None, None)) if "9.9" in str(q[0])], "no injected triple"
    # the raw name survives only as the steward's label, a literal
    labels = [str(o) for s, p, o, _g in ds.quads((None, RDFS.label, None, None)) if "steward/" in str(s)]
    assert labels == [INJECTED]


# ---------------------------------------------------------------------------------
# Where writers keep their lock and staging files; what killed writers leave behind
# ---------------------------------------------------------------------------------

def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.slow
def test_writers_keep_their_files_under_dist(ws):
    outside = {p for p in tree(ws.tmp) if not p.startswith("dist")}
    code, out, err = ws("add", str(EXAMPLE), "--by", "T", "--source", "s")
    assert code == 0, out + err
    new = {p for p in tree(ws.tmp) if not p.startswith("dist")} - outside
    assert {p for p in new if not (p.startswith("additions/") and p.endswith(".trig"))} == set(), new
    assert (ws.dist / ".locks" / "additions.lock").is_file()
    assert not (ws.additions / ".lock").exists()
    assert list((ws.dist / ".staging").iterdir()) == [], "staging emptied"


@pytest.mark.slow
def test_leftovers_of_killed_writers_are_removed_by_the_next_writer(ws):
    """Simulated: what a writer killed mid-way leaves (this version's staging folder,
    an old version's staging folder next to dist/ and its lock in the additions
    directory, a temporary change-set file); the next writer removes all of it."""
    staged = ws.dist / ".staging" / "20250101T000000Z-dead01"
    staged.mkdir(parents=True)
    (staged / "dataset.nq").write_bytes(b"x" * 1000)
    old_staging = ws.tmp / ".dist.staging-20250101T000000Z-dead02"
    old_staging.mkdir()
    (old_staging / "graph.ttl").write_text("partial")
    (ws.additions / ".lock").write_text("")
    tmp_trig = ws.additions / ".20250101T000000Z-dead03.trig.k2j3h4.tmp"
    tmp_trig.write_text("partial")
    unrelated = ws.tmp / ".dist.notes"
    unrelated.write_text("not a writer's")

    code, out, err = ws("add", str(EXAMPLE), "--by", "T", "--source", "s")
    assert code == 0, out + err
    for p in (staged, old_staging, ws.additions / ".lock", tmp_trig):
        assert not p.exists(), p
    assert unrelated.exists(), "only writers' leftovers are removed"
    assert sorted(p.suffix for p in ws.additions.iterdir()) == [".trig"]


@pytest.mark.slow
def test_a_running_writers_staging_folder_is_not_removed(ws):
    """Leftovers are removed under the lock only: while a writer holds it, another
    writer waits and cannot touch its staging folder."""
    import threading

    from kg import changes

    mine = ws.dist / ".staging" / "in-progress"
    entered, release, waited = threading.Event(), threading.Event(), []

    def holder():
        with changes.locked():
            mine.mkdir(parents=True)
            (mine / "dataset.nq").write_text("being written")
            entered.set()
            release.wait(30)
            waited.append(mine.exists())
            shutil.rmtree(mine)

    t = threading.Thread(target=holder)
    t.start()
    assert entered.wait(30)
    p = subprocess.Popen([str(KG), "revert", "latest", "--by", "T", "--source", "s"], cwd=ROOT,
                         env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import time

        time.sleep(1.5)
        assert p.poll() is None, "the second writer waits for the lock"
        assert mine.exists()
    finally:
        release.set()
        t.join(30)
        p.communicate(timeout=120)
    assert waited == [True]


@pytest.mark.slow
def test_a_killed_kg_add_is_cleaned_up_by_the_next(ws, tmp_path):
    """A real kill: `kg add` is stopped with SIGKILL while its staging folder exists;
    nothing is committed, and the next `kg add` removes the folder and succeeds."""
    import signal
    import time

    staging = ws.dist / ".staging"
    for _attempt in range(3):
        p = subprocess.Popen([str(KG), "add", str(EXAMPLE), "--by", "T", "--source", "killed"], cwd=ROOT,
                             env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            if staging.is_dir() and any(d.is_dir() and any(d.iterdir()) for d in staging.iterdir()):
                os.kill(p.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        p.wait(30)
        if p.returncode == -signal.SIGKILL:
            break
        # it finished before the staging folder was seen: take it back and retry
        for f in ws.additions.glob("*.trig"):
            f.unlink()
    assert p.returncode == -signal.SIGKILL, "could not stop `kg add` mid-way"
    left = list(staging.iterdir())
    assert left, "the killed writer left its staging folder"
    assert not list(ws.additions.glob("*.trig")), "nothing committed"
    assert not list(ws.tmp.glob(".dist.staging-*")), "nothing next to dist/"

    code, out, err = ws("add", str(EXAMPLE), "--by", "T", "--source", "after the kill")
    assert code == 0, out + err
    assert list(staging.iterdir()) == [], "leftover removed"
    assert len(list(ws.additions.glob("*.trig"))) == 1
    assert ask(ws.dist, 'ASK { bkdi:measure\\/9.4 a bkd:Measure }') == "true"


def test_gitignore_covers_the_writers_files():
    paths = ["dist/.locks/additions.lock", "dist/.staging/20250101T000000Z-abcdef/dataset.nq",
             ".dist.staging-20250101T000000Z-abcdef/dataset.nq", "data/additions/.lock",
             "data/additions/.20250101T000000Z-abcdef.trig.x1y2.tmp"]
    p = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert sorted(p.stdout.split()) == sorted(paths), p.stdout + p.stderr
    p = subprocess.run(["git", "check-ignore", "--no-index", "data/additions/20250101T000000Z-abcdef.trig"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 1, "accepted change sets stay tracked"


# ---------------------------------------------------------------------------------
# The entity limit
# ---------------------------------------------------------------------------------

def test_entity_limit_applies_to_check_and_add(ws, monkeypatch):
    monkeypatch.setenv("KG_MAX_ADDITION_ENTITIES", "0")
    before = snapshot(ws.dist, ws.additions)
    for cmd in (["check", str(EXAMPLE)], ["add", str(EXAMPLE), "--by", "T", "--source", "s"]):
        code, _, err = ws(*cmd)
        assert code == 2, err
        assert "1 entities, over the limit of 0 (KG_MAX_ADDITION_ENTITIES): split the addition" in err
    assert snapshot(ws.dist, ws.additions) == before


def test_entity_limit_counts_csv_rows_before_resolving_them(ws, monkeypatch):
    from kg import changes
    from kg.errors import BadInput

    monkeypatch.setenv("KG_MAX_ADDITION_ENTITIES", "2")
    rows = "".join(f"measure,9.{i},9.0,text {i}\n" for i in range(4, 7))
    with pytest.raises(BadInput, match=r"stdin: 3 entities, over the limit of 2 \(KG_MAX_ADDITION_ENTITIES\)"):
        changes.parse_input(text="kind,number,section,text\n" + rows, fmt="csv", name="stdin")
