"""`kg curate decide` and the steward page's curation of new measures (issue 11): a
decision on a candidate pair is a change set (kg.changes.add: checked, with PROV-O
provenance, revertible), recorded as a bkd:CurationDecision and, for same/part, the
link with its bkd:CuratedAnnotation; `kg curate suggest` then treats the pair as decided.

Each test works on its own copy of a freshly built dist/ with an empty additions
directory (conftest.steward_paths), so nothing touches the developer's build."""
from __future__ import annotations

import re

import pytest

from conftest import new_measure, steward_paths
from kg import changes, cli, curate

pytestmark = pytest.mark.slow  # each decision is checked and recorded as a change set: seconds per test

BASE = "https://w3id.org/bukhara-deer/"
B = BASE + "ontology#"
PASSWORD = "correct horse battery"
TEXT = "Monitor the wetland habitat and water supply of the Bukhara Deer population in the reserves."
NEW = new_measure("9.9", "9.9", TEXT)


@pytest.fixture
def env(pristine, tmp_path, monkeypatch):
    return steward_paths(pristine, tmp_path, monkeypatch)


def store():
    from kg.store import open_store

    return open_store()


def add_measure() -> None:
    changes.add(changes.parse_input(text=NEW, fmt="turtle"), by="alice", source="test: new measure 9.9")


def first_annex(st) -> curate.Suggestion:
    return next(s for s in curate.suggest(st, for_="9.9") if s.kind == "annex")


def ask(st, text: str) -> bool:
    return bool(st.query(text))


def files(env) -> list:
    d = env["additions"]
    return sorted(d.glob("*.trig")) if d.is_dir() else []


def test_cli_decide_annex_same_then_revert(env, capsys):
    add_measure()
    s = first_annex(store())
    item = s.b.number
    code = cli.main(["curate", "decide", "annex", "9.9", item, "--decision", "same",
                     "--reason", "Both monitor the wetland habitat.", "--by", "Bob Curator"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "recorded as change set" in out.out
    st = store()
    m, a = f"<{BASE}measure/9.9>", f"<{BASE}annex1/{item}>"
    ann = f"<{BASE}annotation/annex-link-m9.9-a{item}>"
    assert ask(st, f"ASK {{ {m} <{B}coveredByAnnexItem> {a} }}")
    assert ask(st, f"""ASK {{ {ann} a <{B}CuratedAnnotation> ;
        <http://www.w3.org/1999/02/22-rdf-syntax-ns#subject> {m} ;
        <{B}justification> "Both monitor the wetland habitat." ;
        <http://www.w3.org/ns/prov#wasAttributedTo> <{BASE}steward/bob-curator> }}""")
    assert ask(st, f'ASK {{ ?d a <{B}CurationDecision> ; <{B}decision> "same" ; <{B}decidesPair> {m}, {a} }}')
    # suggest no longer lists the pair; with --all it shows the decision
    assert all(x.b.number != item for x in curate.suggest(st, for_="9.9") if x.kind == "annex")
    decided = [x for x in curate.suggest(st, for_="9.9", decided=True) if x.kind == "annex" and x.b.number == item]
    assert decided and decided[0].decision == "same"
    assert curate.report(st).layer("annex").decisions["same"] >= 1
    # deciding it again is refused, nothing written
    n = len(files(env))
    assert cli.main(["curate", "decide", "annex", "9.9", item, "--decision", "part",
                     "--reason", "again", "--by", "bob"]) == 2
    assert "already decided" in capsys.readouterr().err and len(files(env)) == n
    # the history names it; kg revert latest takes it back
    assert "curation decision" in changes.history()[-1].source
    assert cli.main(["revert", "latest", "--by", "bob", "--source", "test: take the decision back"]) == 0
    st = store()
    assert not ask(st, f"ASK {{ {m} <{B}coveredByAnnexItem> {a} }}")
    assert not ask(st, f"ASK {{ {ann} ?p ?o }}")
    assert any(x.b.number == item for x in curate.suggest(st, for_="9.9") if x.kind == "annex")


def test_cli_decide_none_records_the_decision_without_a_link(env, capsys):
    add_measure()
    s = first_annex(store())
    assert cli.main(["curate", "decide", "annex", "9.9", f"annex {s.b.number}", "--decision", "none",
                     "--reason", "Different actions.", "--by", "alice"]) == 0, capsys.readouterr().err
    st = store()
    m = f"<{BASE}measure/9.9>"
    assert not ask(st, f"ASK {{ {m} <{B}coveredByAnnexItem>|<{B}contributesToAnnexItem> ?item }}")
    assert ask(st, f'ASK {{ ?d a <{B}CurationDecision> ; <{B}decision> "none" ; '
                   f'<{B}decisionReason> "Different actions." ; <{B}decidesPair> {m} }}')
    assert all(x.b.number != s.b.number for x in curate.suggest(st, for_="9.9") if x.kind == "annex")


@pytest.mark.parametrize("args, message", [
    (["annex", "9.9", "99.9", "--decision", "same", "--reason", "x"], "no Annex 1 item 99.9"),
    (["annex", "77.7", "1.1", "--decision", "same", "--reason", "x"], "no measure 77.7"),
    (["annex", "9.9", "1.1", "--decision", "same", "--reason", "  "], "missing --reason"),
    (["shared", "9.9", "9.9", "--decision", "none", "--reason", "x"], "one measure twice"),
    (["shared", "1.1", "1.2", "--decision", "same", "--reason", "x"], "not a candidate pair|--shared-action"),
])
def test_cli_decide_bad_input_writes_nothing(env, capsys, args, message):
    add_measure()
    n = len(files(env))
    assert cli.main(["curate", "decide", *args, "--by", "bob"]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert len(files(env)) == n


def test_cli_decide_missing_reason_is_a_usage_error(env, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["curate", "decide", "annex", "2.10", "6.2", "--decision", "same", "--by", "bob"])
    assert e.value.code == 2 and files(env) == []


# ---------------------------------------------------------------- the steward page

def csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


@pytest.fixture
def client(env):
    from kg import stewards
    from webapp import create_app

    stewards.add("alice", PASSWORD)
    app = create_app({"KG_DIST": str(env["dist"]), "SECRET_KEY": "test", "TESTING": True})
    c = app.test_client()
    page = c.get("/steward/login")
    r = c.post("/steward/login", data={"name": "alice", "password": PASSWORD,
                                       "csrf_token": csrf(page.get_data(as_text=True))})
    assert r.status_code == 303
    return c


def test_web_accept_then_decide_a_suggestion(client, env):
    token = csrf(client.get("/steward").get_data(as_text=True))
    r = client.post("/steward/check", data={"csrf_token": token, "format": "turtle", "text": NEW})
    html = r.get_data(as_text=True)
    pending = re.search(r'name="token" value="([^"]+)"', html).group(1)
    r = client.post("/steward/accept", data={"csrf_token": token, "token": pending, "source": "web test"})
    assert r.status_code == 303
    html = client.get("/steward").get_data(as_text=True)
    assert 'id="curation"' in html and 'action="/steward/decide"' in html
    forms = re.findall(r'<form method="post" action="/steward/decide".*?</form>', html, re.S)
    assert 0 < len(forms) <= 5 and all('name="csrf_token"' in f for f in forms)
    annex = next(f for f in forms if 'name="kind" value="annex"' in f)
    item = re.search(r'name="b" value="([^"]+)"', annex).group(1)
    form = {"csrf_token": token, "kind": "annex", "a": "9.9", "b": item, "decision": "part", "reason": ""}

    n = len(files(env))
    r = client.post("/steward/decide", data=form)             # no reason
    assert r.status_code == 400 and "Give a reason" in r.get_data(as_text=True) and len(files(env)) == n
    r = client.post("/steward/decide", data={**form, "b": "99.9", "reason": "x"})   # unknown pair
    assert r.status_code == 400 and "nothing written" in r.get_data(as_text=True) and len(files(env)) == n
    r = client.post("/steward/decide", data={**form, "reason": "x", "csrf_token": "wrong"})
    assert r.status_code == 400 and len(files(env)) == n

    r = client.post("/steward/decide", data={**form, "reason": "Overlapping habitat monitoring."})
    assert r.status_code == 303 and r.headers["Location"].endswith("/steward#curation")
    assert len(files(env)) == n + 1
    html = client.get("/steward").get_data(as_text=True)
    assert "Decided annex pair" in html and "part" in html
    assert f'name="b" value="{item}"' not in re.sub(r'name="kind" value="shared".*?</form>', "", html, flags=re.S)
    page = client.get("/measure/9.9").get_data(as_text=True)
    assert f"/annex1/{item}" in page
