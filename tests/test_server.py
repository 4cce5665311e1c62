"""The endpoint examples of docs/web.md (curl and SPARQLWrapper) run for real against
`kg serve`, so what the documentation shows is what a user gets."""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
from pathlib import Path

WEB_PAGE = (Path(__file__).resolve().parent.parent / "docs" / "web.md").read_text(encoding="utf-8")
DOC_URL = "http://127.0.0.1:5000"


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", WEB_PAGE, re.S)


def test_readme_curl_examples(live_server, store):
    curls = [b for b in code_blocks("sh") if b.lstrip().startswith("curl")]
    assert len(curls) >= 2
    outputs = []
    for block in curls:
        cmd = block.strip().replace(DOC_URL, live_server).replace("curl ", "curl --fail --silent --show-error ", 1)
        p = subprocess.run(["bash", "-c", cmd],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        outputs.append(p.stdout)
    turtle, csv_out = outputs[0], outputs[1]
    assert "Yangibozor" in turtle and "priorityAsGiven" in turtle
    lines = csv_out.strip().splitlines()
    assert lines[0] == "number,text" and [l.split(",")[0] for l in lines[1:]] == ["4.1", "4.2"]


def test_readme_sparqlwrapper_example(live_server, store):
    (snippet,) = [b for b in code_blocks("python") if "SPARQLWrapper" in b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(snippet.replace(DOC_URL, live_server), {})
    got = [tuple(l.split()) for l in out.getvalue().splitlines()]
    res = store.query("SELECT ?n ?p WHERE { ?m a bkd:TransboundaryMeasure ; bkd:number ?n ; "
                      "bkd:priorityAsGiven ?p } ORDER BY ?n")
    assert got == [(s["n"].value, s["p"].value) for s in res] and len(got) == 11
