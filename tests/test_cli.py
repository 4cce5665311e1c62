"""The `kg` command as a user runs it: outputs, formats, exit codes, and one clear
line (never a traceback) for every kind of bad input."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from conftest import source_text

SRC = source_text()
WP_PART, ANNEX_PART = SRC.split("\nANNEX 1\n")


def numbered_rows(part: str) -> int:
    return len(re.findall(r"^\d+\.[1-9]\d*\t", part, re.M))


def test_stats_counts_match_source(kg):
    code, out, err = kg("stats", "--format", "json")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["measures"] == numbered_rows(WP_PART) == 66
    assert counts["annex_items"] == numbered_rows(ANNEX_PART) == 26
    assert counts["planning_units"] == 8 and counts["populations"] == 6


def test_stats_text(kg):
    code, out, _ = kg("stats")
    assert code == 0
    assert re.search(r"^measures\s+66$", out, re.M) and re.search(r"^annex items\s+26$", out, re.M)


def test_export_csv_has_one_row_per_action(kg):
    code, out, err = kg("export", "measures", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == numbered_rows(WP_PART) + numbered_rows(ANNEX_PART) == 92
    assert list(rows[0]) == ["iri", "programme", "kind", "number", "section", "planning_unit", "priority",
                             "responsibility", "actor_types", "countries", "countries_via_planning_unit", "text",
                             "themes", "iucn_action_classes", "threat_classes", "shared_action",
                             "annex_items", "annex_items_in_part"]
    by_iri = {r["iri"]: r for r in rows}
    m = by_iri["https://w3id.org/bukhara-deer/measure/3.6"]
    assert (m["priority"], m["countries"], m["planning_unit"]) == ("2-3", "TKM", "Middle Amu Darya")
    a = by_iri["https://w3id.org/bukhara-deer/annex1/4.1"]
    assert a["kind"] == "annex1" and a["priority"] == ""
    assert len({(r["kind"], r["number"]) for r in rows}) == 92, "no duplicate rows"


def test_export_json_to_file(kg, tmp_path):
    out = tmp_path / "m.json"
    code, _, err = kg("export", "measures", "--format", "json", "-o", str(out))
    assert code == 0, err
    assert len(json.loads(out.read_text())) == 92


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_query_named_in_every_format(kg, fmt):
    code, out, err = kg("query", "annex-items-without-priority", "--format", fmt)
    assert code == 0, err
    if fmt == "json":
        numbers = [b["number"]["value"] for b in json.loads(out)["results"]["bindings"]]
        assert numbers == ["4.1", "4.2"]
    else:
        assert "4.1" in out and "4.2" in out


def test_query_file_and_text(kg, tmp_path):
    f = tmp_path / "q.rq"
    f.write_text("SELECT (COUNT(?m) AS ?n) WHERE { ?m a bkd:Measure }")
    code, out, _ = kg("query", str(f), "--format", "csv")
    assert code == 0 and out.splitlines() == ["n", "66"]
    code, out, _ = kg("query", "ASK { bkdi:measure\\/2.10 a bkd:Measure }")
    assert (code, out.strip()) == (0, "true")


def test_query_list(kg):
    code, out, _ = kg("query", "--list")
    assert code == 0 and "priority1-by-planning-unit" in out and "?" in out


def test_construct_query(kg):
    code, out, _ = kg("query", "CONSTRUCT { ?s a bkd:Country } WHERE { ?s a bkd:Country }", "--format", "csv")
    _, n, _ = kg("query", "SELECT (COUNT(?s) AS ?n) WHERE { ?s a bkd:Country }", "--format", "csv")
    assert code == 0 and out.count("\n") == int(n.split()[1])


@pytest.mark.parametrize("args, pattern", [
    (["query", "SELECT * WHERE { ?s ?p ?o "], r"SPARQL syntax error at line 1, column \d+"),
    (["query", "SELECT * WHERE { ?s foo:p ?o }"], r"unknown prefix"),
    (["query", "INSERT DATA { <urn:a> <urn:b> <urn:c> }"], r"updates are not allowed"),
    (["query", "PREFIX x: <urn:x#>\nDELETE WHERE { ?s ?p ?o }"], r"updates are not allowed"),
    (["query", "no-such-query"], r"neither a named query, a file, nor SPARQL"),
    (["query", "missing.rq"], r"no query file 'missing.rq'"),
    (["query"], r"give a query"),
    (["validate", "does-not-exist.ttl"], r"does-not-exist.ttl: no such file"),
])
@pytest.mark.slow
def test_bad_input_is_one_clear_line(kg, args, pattern):
    code, out, err = kg(*args)
    assert code == 2
    assert re.search(pattern, err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content, pattern", [
    (b"@prefix ex: <http://e/> .\nex:a ex:b \"open .\n", r"syntax error: line 2, column \d+"),
    (b"", r"empty file"),
    (b"\x89PNG\x00\x00binary", r"binary file"),
    (b"\xff\xfe\x00a", r"binary file|not UTF-8"),
    (b"caf\xe9 <a> <b> .", r"not UTF-8"),
])
@pytest.mark.slow
def test_validate_rejects_unreadable_files(kg, tmp_path, content, pattern):
    f = tmp_path / "bad.ttl"
    f.write_bytes(content)
    code, _, err = kg("validate", str(f))
    assert code == 2 and re.search(pattern, err), err
    assert "Traceback" not in err


def test_validate_unknown_extension(kg, tmp_path):
    f = tmp_path / "data.xlsx"
    f.write_text("x")
    code, _, err = kg("validate", str(f))
    assert code == 2 and "unknown RDF file type" in err


def test_missing_build_is_explained(kg, tmp_path):
    code, _, err = kg("stats", env={"KG_DIST": str(tmp_path / "nothing")})
    assert code == 2 and "run `kg build` first" in err


@pytest.mark.slow
def test_build_writes_all_formats_and_base_is_configurable(kg, tmp_path):
    base = "http://127.0.0.1:5000/"
    code, out, err = kg("build", "--dist", str(tmp_path), env={"KG_BASE": base})
    assert code == 0, err
    for name in ("graph.ttl", "graph.nt", "graph.jsonld", "inferred.ttl", "dataset.nq", "build.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    nt = (tmp_path / "graph.nt").read_text()
    assert f"<{base}measure/2.10>" in nt and f"<{base}annex1/4.2>" in nt
    assert "https://w3id.org/bukhara-deer/" not in nt, "every default-base IRI is rebased"
    code, out, _ = kg("query", "SELECT ?m WHERE { ?m bkd:number \"2.10\" }", "--format", "csv",
                      env={"KG_BASE": base, "KG_DIST": str(tmp_path)})
    assert out.splitlines()[1] == f"{base}measure/2.10"
