"""The core library's part of the security review: additions cannot make the server
fetch anything (JSON-LD contexts, Turtle @base/@prefix, CSV cells), cannot be made
arbitrarily large, and the check-time benchmark runs.

The fetch tests point every IRI at a listener on a loopback port that records each
connection: whatever the parse does, the listener must never be contacted.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from rdflib import Graph

from loopback import Listener

ROOT = Path(__file__).resolve().parent.parent.parent
KG = Path(sys.executable).with_name("kg")
REMOTE = "remote JSON-LD contexts are not fetched: inline the context (put the object in @context)"


@pytest.fixture
def listener():
    lst = Listener()
    try:
        yield lst
    finally:
        time.sleep(0.2)  # a late connection would still be counted
        lst.close()
        assert lst.requests == [], f"the server contacted the listener: {lst.requests}"


def jsonld_documents(url: str) -> dict[str, object]:
    """JSON-LD additions whose context rdflib would fetch, in every place one can hide."""
    node = {"@id": "https://w3id.org/bukhara-deer/measure/9.4",
            "http://www.w3.org/2000/01/rdf-schema#label": "x"}
    return {
        "string context": {"@context": f"{url}/ctx", **node},
        "file context": {"@context": "file:///etc/passwd", **node},
        "relative context": {"@context": "ctx.jsonld", **node},
        "context list": {"@context": [{"@vocab": "https://w3id.org/bukhara-deer/ontology#"}, f"{url}/ctx"], **node},
        "import": {"@context": {"@import": f"{url}/import", "@vocab": "https://w3id.org/bukhara-deer/ontology#"},
                   **node},
        "nested node": {"@graph": [{**node, "http://example.org/p": {"@context": f"{url}/nested",
                                                                     "@id": "https://w3id.org/bukhara-deer/x"}}]},
        "scoped context": {"@context": {"knows": {"@id": "http://example.org/knows", "@context": f"{url}/scoped"}},
                           **node, "knows": {"@id": "https://w3id.org/bukhara-deer/y"}},
        "type-scoped import": {"@context": {"T": {"@id": "http://example.org/T",
                                                  "@context": {"@import": "file:///etc/hostname"}}},
                               **node, "@type": "T"},
        "top-level array": [{"@context": f"{url}/array", **node}],
        "escaped keyword": json.loads(json.dumps({"\u0040context": f"{url}/escaped", **node})),
    }


@pytest.mark.slow
@pytest.mark.parametrize("case", list(jsonld_documents("http://x")))
def test_jsonld_with_a_remote_context_is_refused_unfetched(listener, case):
    from kg.changes import parse_input
    from kg.errors import BadInput

    doc = jsonld_documents(listener.url)[case]
    text = json.dumps(doc)
    if case == "escaped keyword":
        text = text.replace('"@context"', '"\\u0040context"')
    with pytest.raises(BadInput) as e:
        parse_input(text=text, fmt="json-ld", name="upload.jsonld")
    assert str(e.value).startswith(f"upload.jsonld: {REMOTE}"), e.value


def test_rdflib_itself_cannot_fetch_contexts_once_kg_parsed(listener):
    """The second layer: after kg.rdfio has been used, rdflib's JSON-LD context fetcher
    refuses, even for a parse that does not go through kg.rdfio.parse_into."""
    from kg import rdfio

    rdfio.parse_into(Graph(), '{"@id": "https://w3id.org/bukhara-deer/a", "http://e/p": 1}', "json-ld", "x")
    for doc in (f'{{"@context": "{listener.url}/direct", "@id": "http://e/a"}}',
                f'{{"@context": {{"@import": "{listener.url}/direct-import"}}, "@id": "http://e/a"}}'):
        with pytest.raises(Exception) as e:
            Graph().parse(data=doc, format="json-ld")
        assert isinstance(e.value, rdfio.RemoteContextRefused) or "RemoteContextRefused" in repr(e.value), e.value


def test_inline_contexts_still_work(listener):
    from kg.changes import parse_input

    doc = {"@context": {"bkd": "https://w3id.org/bukhara-deer/ontology#",
                        "label": {"@id": "http://www.w3.org/2000/01/rdf-schema#label", "@language": "en"},
                        "knows": {"@id": "http://example.org/knows", "@context": {"@vocab": "http://example.org/"}}},
           "@id": "https://w3id.org/bukhara-deer/measure/9.4", "@type": "bkd:Measure", "label": "Measure 9.4",
           "knows": {"@id": "https://w3id.org/bukhara-deer/measure/9.3", "name": "n"}}
    g = parse_input(text=json.dumps(doc), fmt="json-ld", name="inline.jsonld")
    assert len(g) == 4


def test_jsonld_upload_through_kg_check_is_refused_unfetched(listener, kg, tmp_path):
    f = tmp_path / "addition.jsonld"
    f.write_text(json.dumps(jsonld_documents(listener.url)["import"]))
    code, out, err = kg("check", str(f))
    assert code == 2, out + err
    assert REMOTE in err


def test_turtle_base_and_prefix_fetch_nothing(listener):
    from kg.changes import parse_input

    text = (f"@base <{listener.url}/base/> .\n"
            f"@prefix remote: <{listener.url}/ns#> .\n"
            f"PREFIX other: <file:///etc/>\n"
            "<https://w3id.org/bukhara-deer/measure/9.4> remote:p <relative> , other:passwd .\n")
    g = parse_input(text=text, fmt="turtle", name="upload.ttl")
    assert {str(o) for o in g.objects()} == {f"{listener.url}/base/relative", "file:///etc/passwd"}


def test_csv_import_fetches_nothing(listener, dist):
    from kg.changes import parse_input
    from kg.errors import BadInput

    text = ("iri,kind,number,section,programme,planning_unit,text\n"
            f"{listener.url}/iri,measure,2.13,{listener.url}/section,{listener.url}/programme,"
            f"{listener.url}/unit,text\n"
            f"file:///etc/passwd,measure,2.14,2.0,file:///etc/hostname,,text\n")
    try:
        parse_input(text=text, fmt="csv", name="upload.csv")
    except BadInput:
        pass  # the cells are wrong; what matters is that nothing was fetched


# ---------------------------------------------------------------------------------
# Size
# ---------------------------------------------------------------------------------

def test_entity_limit_message(monkeypatch):
    from kg.changes import parse_input
    from kg.errors import BadInput

    monkeypatch.setenv("KG_MAX_ADDITION_ENTITIES", "3")
    text = "".join(f"<https://w3id.org/bukhara-deer/measure/9.{i}> <http://www.w3.org/2000/01/rdf-schema#label> "
                   f'"m{i}" .\n' for i in range(4))
    with pytest.raises(BadInput) as e:
        parse_input(text=text, fmt="turtle", name="big.ttl")
    assert str(e.value) == ("big.ttl: 4 entities, over the limit of 3 (KG_MAX_ADDITION_ENTITIES): "
                            "split the addition")
    monkeypatch.setenv("KG_MAX_ADDITION_ENTITIES", "4")
    assert len(parse_input(text=text, fmt="turtle", name="ok.ttl")) == 4


def test_entity_limit_default_and_setting(monkeypatch):
    from kg.config import settings

    monkeypatch.delenv("KG_MAX_ADDITION_ENTITIES", raising=False)
    assert settings().max_addition_entities == 2_000
    monkeypatch.setenv("KG_MAX_ADDITION_ENTITIES", "250")
    assert settings().max_addition_entities == 250


@pytest.mark.slow
def test_check_scale_benchmark_runs(capsys, monkeypatch):
    """Smoke run of benchmarks/check_scale.py at tiny sizes, with the entity limit below
    them (the benchmark raises it for its own run, and restores it)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks import check_scale

    monkeypatch.setenv("KG_MAX_ADDITION_ENTITIES", "4")
    assert check_scale.main(["--sizes", "3,6"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["3", "6"], out
    for r in rows:
        float(r[2]), float(r[3]), float(r[4])  # seconds, CPU seconds and ms per entity are numbers
        assert r[-1] == "yes", out
    assert os.environ["KG_MAX_ADDITION_ENTITIES"] == "4"


def test_invalid_iris_in_an_addition_are_bad_input_not_a_crash(kg, tmp_path):
    """Turtle's \\u escapes let an upload write a space, `>` or `{` into an IRI; rdflib
    takes it, no store could: refused with exit code 2 and one line."""
    bad = tmp_path / "bad.ttl"
    bad.write_text('@prefix bkd: <https://w3id.org/bukhara-deer/ontology#> .\n'
                   '<https://w3id.org/bukhara-deer/measure/a\\u0020b\\u003E{> a bkd:Measure ; bkd:number "77.1" .\n',
                   encoding="utf-8")
    code, out, err = kg("check", str(bad))
    assert code == 2, (code, err)
    assert "invalid IRI" in err and "Traceback" not in err and "internal error" not in err
