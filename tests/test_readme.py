"""The documentation's examples are real: each `$ command` block between the example
markers of the pages of docs/ is run and its output compared, the query
table lists every named query, the counts of README.md and docs/model.md and the list
of named graphs are generated from the built graph (`kg stats`, `kg query`), the list of
SHACL-SPARQL constraints of docs/validation.md from ontology/shapes.ttl, and every
relative link points to a file that exists. Run this file as a script to refresh the
pages after a deliberate change:  .venv/bin/python tests/test_readme.py"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent

# The pages whose `<!-- examples -->` sections hold the examples, in this order.
EXAMPLE_PAGES = [DOCS / "model.md", DOCS / "cli.md", DOCS / "validation.md"]
STEWARD_PAGE = DOCS / "stewardship.md"      # the walk-through (`<!-- steward -->`)
QUERIES_PAGE = DOCS / "queries.md"          # the table of competency queries (`<!-- queries -->`)
MODEL_PAGE = DOCS / "model.md"              # what is in the graph, with its counts

EXAMPLES = [
    "kg stats",
    "kg query annex-items-without-priority",
    "kg query planning-units-sharing-hotspot --format csv",
    'kg query "SELECT ?number ?priority WHERE { ?m a bkd:TransboundaryMeasure ; bkd:number ?number ; '
    'bkd:priorityAsGiven ?priority } ORDER BY ?number" --format csv',
    "kg export measures --format csv | head -3",
    "kg query 'SELECT * WHERE { ?s bkd:number ?n '",
    "kg validate",
    "kg validate --reason | tail -1",
]


STEWARD = [
    "kg check docs/examples/broken-measure.ttl",
    "kg check docs/examples/new-measure.ttl",
    'kg add docs/examples/new-measure.ttl --by "Ana Steward" --source "MOS3 workshop notes, 11 September 2024"',
    "kg query 'SELECT ?text WHERE { bkdi:measure\\/9.4 bkd:text ?text }' --format csv",
    "kg history",
    'kg revert latest --by "Ana Steward" --source "entered for the walk-through only"',
    "kg history",
]


def run(command: str, dist: Path, additions: Path | None = None) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "KG_DIST": str(dist)}
    if additions is not None:
        env["KG_ADDITIONS"] = str(additions)
    env.pop("KG_BASE", None)
    p = subprocess.run(["bash", "-c", command + " 2>&1"], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=300)
    out = p.stdout.rstrip("\n").replace(str(dist), "dist")
    return out.replace(str(additions), "data/additions") if additions is not None else out


def normalize(text: str) -> str:
    """Timings, change-set ids and times differ from run to run; everything else must match."""
    text = re.sub(r"\d+\.\d+ s\b", "N s", text)
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "ID", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", "TIME", text)


def blocks(readme: str, tag: str = "examples") -> list[tuple[str, str]]:
    section = readme.split(f"<!-- {tag} -->")[1].split(f"<!-- /{tag} -->")[0]
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"```console\n\$ (.*?)\n(.*?)```", section, re.S)]


def example_blocks() -> list[tuple[str, str]]:
    """The example blocks of every page of EXAMPLE_PAGES, in order."""
    return [b for page in EXAMPLE_PAGES for b in blocks(page.read_text(encoding="utf-8"))]


def markdown_files() -> list[Path]:
    """The pages whose links are checked: the README and every page of docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def render(dist: Path, commands: list[str] = EXAMPLES, additions: Path | None = None) -> str:
    return "\n".join(f"```console\n$ {c}\n{run(c, dist, additions)}\n```\n" for c in commands)


VALIDATION_PAGE = DOCS / "validation.md"    # the list of SHACL-SPARQL constraints (`<!-- sparql-constraints -->`)

# What each named graph of dist/dataset.nq holds (kg.build.Parts.graphs); a graph the
# build adds without a line here makes the README's list fail to generate.
GRAPHS = {
    "graph/ontology": "the OWL ontology and its SKOS schemes",
    "graph/data": "the source document's content, verbatim, with its data-quality notes",
    "graph/curation": "the curated layer: themes, IUCN classes, shared actions, CAMI and its crosswalk",
    "graph/changesets": "the provenance of the accepted change sets",
    "graph/inferred": "what the rules infer (defined classes, closures)",
}
NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def kg_json(dist: Path, command: str):
    """The JSON output of a `kg` command on the built graph."""
    import json

    return json.loads(run(command, dist))


def kg_rows(dist: Path, sparql: str) -> list[dict[str, str]]:
    """The solutions of `kg query SPARQL --format csv`, as dicts."""
    import csv
    import io
    import shlex

    return list(csv.DictReader(io.StringIO(run(f"kg query {shlex.quote(sparql)} --format csv", dist))))


def named_graphs(dist: Path) -> dict[str, int]:
    """Named graph (relative to the base) -> its triples, as the store reads dataset.nq."""
    rows = kg_rows(dist, "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    base = "https://w3id.org/bukhara-deer/"
    return {r["g"][len(base):] if r["g"].startswith(base) else r["g"]: int(r["n"]) for r in rows}


def readme_facts(dist: Path) -> str:
    """The README's counts table and list of named graphs, from `kg stats` and the store."""
    stats = kg_json(dist, "kg stats --format json")
    cells = [(k.replace("_", " "), f"{v:,}") for k, v in stats.items()]
    half = (len(cells) + 1) // 2
    left, right = cells[:half], cells[half:] + [("", "")] * (2 * half - len(cells))
    table = "| | count | | count |\n|---|--:|---|--:|\n" + "".join(
        f"| {a} | {b} | {c} | {d} |\n" for (a, b), (c, d) in zip(left, right))
    graphs = named_graphs(dist)
    order = [g for g in GRAPHS if g in graphs] + sorted(set(graphs) - set(GRAPHS))
    count = NUMBERS[len(graphs)] if len(graphs) < len(NUMBERS) else str(len(graphs))
    lines = "".join(f"| `{g}` | {graphs[g]:,} | {GRAPHS[g]} |\n" for g in order)
    later = [g for g in GRAPHS if g not in graphs]
    (row,) = kg_rows(dist, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")   # the default graph
    union = int(row["n"])
    text = (f"`kg stats` on the built graph:\n\n{table}\n"
            f"`dist/dataset.nq` holds {count} named graphs under the base IRI "
            f"`https://w3id.org/bukhara-deer/`; the default graph of `kg query` and of the "
            f"SPARQL endpoint is their union ({union:,} triples):\n\n"
            f"| named graph | triples | what it holds |\n|---|--:|---|\n{lines}\n"
            + (f"Accepted change sets add {' and '.join(f'`{g}`' for g in later)} (their provenance) and "
               f"one `changeset/<id>` each ([stewardship.md](docs/stewardship.md)).\n" if later else ""))
    return text.rstrip("\n") + "\n"


def contents_table(dist: Path) -> str:
    """docs/model.md's table of contents, counts from `kg stats` and the store."""
    s = kg_json(dist, "kg stats --format json")
    (row,) = kg_rows(dist, """SELECT
        (COUNT(DISTINCT ?wp) AS ?wpSections) (COUNT(DISTINCT ?an) AS ?annexSections) WHERE {
        { ?m a bkd:Measure ; bkd:inSection ?wp } UNION { ?i a bkd:Annex1Item ; bkd:inSection ?an } }""")
    units = {r["kind"]: int(r["n"]) for r in kg_rows(dist, """SELECT ?kind (COUNT(DISTINCT ?u) AS ?n) WHERE {
        VALUES (?kind ?class) { ("introduced" bkd:IntroducedGroup) ("captive" bkd:CaptiveBreedingGroup) }
        ?u a ?class } GROUP BY ?kind""")}
    hotspots = sorted((r["code"] for r in kg_rows(dist, "SELECT ?code WHERE { ?h a bkd:TransboundaryHotspot ; "
                                                   "skos:notation ?code }")), key=float)
    source = kg_rows(dist, """SELECT ?code ?wd WHERE { GRAPH bkdi:graph\\/data {
        ?c a bkd:Country ; skos:notation ?code ; bkd:wikidata ?wd } }""")
    named = ", ".join(f"{r['code']} {r['wd'].rsplit('/', 1)[-1]}"
                      for r in sorted(source, key=lambda r: int(r["wd"].rsplit("/Q", 1)[-1])))
    (notes,) = kg_rows(dist, "SELECT (COUNT(DISTINCT ?n) AS ?n) WHERE { GRAPH bkdi:graph\\/data "
                             "{ ?n a bkd:DataQualityNote } }")
    wp, annex, n_notes = int(row["wpSections"]), int(row["annexSections"]), int(notes["n"])
    group = lambda n, what: f"{n} {what}" + ("s" if n != 1 else "")  # noqa: E731
    rows = [
        ("measures of sections 1.0-9.0", f"{s['measures']}", "source, verbatim"),
        ("Annex 1 range-wide items", f"{s['annex_items']}", "source, verbatim (item 1.4 is missing in the source)"),
        ("sections", f"{s['sections']}: {wp} of the Work Programme + {annex} of Annex 1", "source"),
        ("planning units", f"{s['planning_units']}: {s['populations']} populations + "
         f"{group(units.get('introduced', 0), 'introduced group')} + "
         f"{group(units.get('captive', 0), 'captive breeding group')}", "paragraph 3"),
        (f"sites (Tj1 … Kz4), transboundary hotspots ({', '.join(hotspots)}), named places",
         f"{s['sites']}, {s['hotspots']}, {s['places']}", "paragraph 3 and measure texts"),
        ("countries", f"{s['countries']}: the {len(source)} the source names + "
         f"{s['countries'] - len(source)} more CAMI Range States",
         f"ISO 3166-1 alpha-3 codes, Wikidata items (source: {named}); curated layer"),
        ("footnotes, data-quality notes", f"{s['footnotes']}, {s['quality_notes']}",
         f"source; {n_notes} notes record its gaps, {s['quality_notes'] - n_notes} the curated layer's"),
    ]
    return "| | count | from |\n|---|---|---|\n" + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]


def sparql_constraints_list() -> str:
    """docs/validation.md's list of the SHACL-SPARQL constraints of ontology/shapes.ttl."""
    from kg import validate

    rows = validate.sparql_constraints()
    body = "".join(f"| `shapes:{iri.rsplit('#', 1)[-1]}` | {severity} "
                   f"| {first_sentence(msg).replace('|', '&#124;')} |\n"
                   for iri, severity, msg in rows)
    return (f"`ontology/shapes.ttl` holds {len(rows)} SHACL-SPARQL constraints:\n\n"
            f"| shape | severity | what it checks (the first sentence of its message) |\n|---|---|---|\n{body}")


def tagged(text: str, tag: str) -> str:
    """The text between `<!-- tag -->` and `<!-- /tag -->`, without its surrounding blank lines."""
    return text.split(f"<!-- {tag} -->")[1].split(f"<!-- /{tag} -->")[0].strip("\n") + "\n"


def steward_workspace(dist: Path, tmp: Path) -> tuple[Path, Path]:
    """A private copy of the built graph and an empty additions directory."""
    import shutil

    d, adds = tmp / "dist", tmp / "additions"
    shutil.copytree(dist, d)
    adds.mkdir()
    return d, adds


@pytest.mark.slow
def test_readme_steward_walkthrough_prints_what_it_says(dist, tmp_path):
    found = blocks(STEWARD_PAGE.read_text(encoding="utf-8"), "steward")
    assert [c for c, _ in found] == STEWARD, "walk-through of docs/stewardship.md out of date: run tests/test_readme.py"
    d, adds = steward_workspace(dist, tmp_path)
    for command, shown in found:
        assert normalize(run(command, d, adds)) == normalize(shown.rstrip("\n")), command


@pytest.mark.java
def test_readme_examples_print_what_it_says(dist):
    found = example_blocks()
    assert [c for c, _ in found] == EXAMPLES, "examples in docs/ out of date: run tests/test_readme.py"
    for command, shown in found:
        assert normalize(run(command, dist)) == normalize(shown.rstrip("\n")), command


def test_readme_lists_every_named_query():
    from kg.query import named_queries

    text = QUERIES_PAGE.read_text(encoding="utf-8")
    for q in named_queries():
        assert f"`{q.name}`" in text, q.name


def _table_rows(text: str, heading: str) -> dict[str, list[str]]:
    """First column -> the other cells, of the first table under a `## heading`."""
    section = text.split(f"\n## {heading}\n")[1].split("\n## ")[0]
    return {cells[0]: cells[1:] for line in section.splitlines() if line.startswith("| ")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}


def test_readme_counts_and_named_graphs_are_generated(dist):
    """README.md's counts table and named graphs are those of the built graph."""
    assert tagged(README.read_text(encoding="utf-8"), "facts") == readme_facts(dist), \
        "README.md's counts or named graphs out of date: run tests/test_readme.py"


def test_readme_named_graphs_are_those_of_the_build(dist):
    """The list is read from the store; the build's manifest and the dataset agree with it."""
    import json

    graphs = named_graphs(dist)
    manifest = json.loads((dist / "build.json").read_text(encoding="utf-8"))
    base = manifest["base"]
    assert {base + g for g in graphs} == set(manifest["graphs"])
    assert sum(graphs.values()) == kg_json(dist, "kg stats --format json")["triples"] == manifest["triples"]["total"]
    in_nq = {line.rsplit(" ", 2)[-2] for line in (dist / "dataset.nq").read_text(encoding="utf-8").splitlines()
             if line.strip()}
    assert in_nq == {f"<{base}{g}>" for g in graphs}


def test_model_page_counts_match_the_graph(dist):
    """The table of docs/model.md is generated from the graph; its source-side figures
    (the countries the source names, the notes of its gaps) are also checked against the
    data files, so that the generator cannot drift from them."""
    import rdflib

    table = tagged(MODEL_PAGE.read_text(encoding="utf-8"), "contents")
    assert table == contents_table(dist), "docs/model.md's table out of date: run tests/test_readme.py"
    rows = _table_rows(MODEL_PAGE.read_text(encoding="utf-8"), "Contents")
    bkd = rdflib.Namespace("https://w3id.org/bukhara-deer/ontology#")
    g = rdflib.Graph().parse(ROOT / "data" / "quality-notes.ttl")
    notes = re.search(r"source; (\d+) notes record its gaps", rows["footnotes, data-quality notes"][1]).group(1)
    assert int(notes) == len(set(g.subjects(rdflib.RDF.type, bkd.DataQualityNote)))
    g = rdflib.Graph().parse(ROOT / "data" / "countries.ttl")
    countries = set(g.subjects(rdflib.RDF.type, bkd.Country))
    linked = {(str(g.value(c, rdflib.SKOS.notation)), str(g.value(c, bkd.wikidata))) for c in countries}
    named = set(re.findall(r"\b([A-Z]{3}) (Q\d+)", rows["countries"][1]))
    assert {(c, f"http://www.wikidata.org/entity/{q}") for c, q in named} == linked
    assert re.match(rf"\d+: the {len(named)} the source names", rows["countries"][0])


def test_cli_page_names_the_named_graphs_of_the_build():
    """docs/cli.md's `kg build` row and the README's GRAPHS are kg.build's named graphs."""
    from rdflib import Graph

    from kg import build

    names = {n for n, _ in build.Parts(Graph(), Graph(), changesets={"<id>": Graph()}).graphs()}
    assert set(GRAPHS) == names - {"changeset/<id>"}
    row = next(line for line in (DOCS / "cli.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `kg build"))
    assert set(re.findall(r"`((?:graph|changeset)/[^`]+)`", row)) == names


def test_validation_page_lists_the_sparql_constraints_generated():
    """docs/validation.md's list is the generated one (tests/test_shapes.py checks it
    against the shapes independently)."""
    assert tagged(VALIDATION_PAGE.read_text(encoding="utf-8"), "sparql-constraints") == sparql_constraints_list(), \
        "docs/validation.md's SHACL-SPARQL list out of date: run tests/test_readme.py"


def test_curation_page_counts_match_the_graph(kg):
    """The figures of docs/curation.md: themes, CAMI species and Range States."""
    text = re.sub(r"\s+", " ", (DOCS / "curation.md").read_text(encoding="utf-8"))
    themes = int(re.search(r"\): (\d+) conservation themes", text).group(1))
    assert "plus the six Annex 1 headings" in text
    species, states = map(int, re.search(r"the (\d+) CAMI species .*? and (\d+) Range States", text).groups())
    code, out, err = kg("query", "SELECT (COUNT(DISTINCT ?s) AS ?species) (COUNT(DISTINCT ?c) AS ?states) "
                        "WHERE { bkdi:programme\\/cami-pow-2026-2032 bkd:species ?s ; bkd:rangeState ?c }",
                        "--format", "csv")
    assert code == 0, err
    assert out.split() == ["species,states", f"{species},{states}"]
    code, out, err = kg("query",
                        "SELECT (COUNT(DISTINCT ?t) AS ?n) WHERE { ?t skos:topConceptOf bkdi:scheme\\/themes }",
                        "--format", "csv")
    assert code == 0, err
    assert out.split() == ["n", str(themes + 6)]


def test_curation_page_states_the_ranking_of_the_crosswalk():
    """The weights and cutoffs that docs/curation.md gives are kg.candidates'."""
    from kg import candidates

    text = re.sub(r"\s+", " ", (DOCS / "curation.md").read_text(encoding="utf-8"))
    section = text.split("## How the crosswalk is reviewed")[1]
    weights = re.search(r"with weight ([\d.]+), plus .*? with weight ([\d.]+)\.", section).groups()
    assert tuple(map(float, weights)) == (candidates.TEXT_WEIGHT, candidates.TAG_WEIGHT)
    cut = re.search(r"at least ([\d.]+) \(measure/Annex 1 item\) or ([\d.]+) \(measure/measure\)", section).groups()
    assert tuple(map(float, cut)) == (candidates.CUTOFF["annex"], candidates.CUTOFF["shared"])


def test_readme_common_uses_are_real_commands():
    """Every `kg …` line of the README's shell blocks parses, and names existing queries."""
    import shlex

    from kg.cli import parser
    from kg.query import named_queries

    names = {q.name for q in named_queries()}
    commands = [re.sub(r"\s+# .*$", "", line)
                for block in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
                for line in block.splitlines() if line.startswith("kg ")]
    assert len(commands) >= 5
    for command in commands:
        args = shlex.split(command)[1:]
        parser().parse_args(args)                  # an unknown command or option exits: the test fails
        if args[0] == "query" and len(args) > 1 and re.fullmatch(r"[a-z0-9][a-z0-9-]*", args[1]):
            assert args[1] in names, command
        for arg in args:
            if re.fullmatch(r"[\w./-]+\.(ttl|csv|jsonld)", arg) and "/" in arg:
                assert (ROOT / arg).exists(), command


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_point_to_existing_files():
    broken = []
    for page in markdown_files():
        text = page.read_text(encoding="utf-8")
        prose = re.sub(r"```.*?```", "", text, flags=re.S)       # code blocks are not links
        prose = re.sub(r"`[^`\n]*`", "", prose)                   # nor inline code
        for target in LINK.findall(prose):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
                continue                                          # http(s), mailto: and anchors
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve()
            where = f"{page.relative_to(ROOT)}: {target}"
            if not dest.exists():
                broken.append(where)
            elif anchor and dest.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", re.sub(r"```.*?```", "", dest.read_text(encoding="utf-8"),
                                                           flags=re.S), re.M)
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(where + " (no such heading)")
    assert not broken, broken


def test_readme_is_a_short_front_page():
    text = README.read_text(encoding="utf-8")
    assert text.count("\n") < 250
    assert "make run    # creates .venv, installs, builds and validates the graph" in text
    assert "make test   # creates .venv, installs, runs the whole test suite" in text
    for page in ["model", "cli", "queries", "web", "curation", "stewardship", "stores", "validation",
                 "sources", "benchmarks", "deployment", "steward-security", "stewardship-limits"]:
        assert f"](docs/{page}.md)" in text, page
    assert "](SECURITY.md)" in text
    for page in markdown_files():
        assert not re.search(r"/work/main|/home/\w", page.read_text(encoding="utf-8")), page


def _replace(text: str, tag: str, body: str) -> str:
    return re.sub(f"<!-- {tag} -->.*?<!-- /{tag} -->", lambda _: f"<!-- {tag} -->\n{body}<!-- /{tag} -->",
                  text, flags=re.S)


if __name__ == "__main__":
    import tempfile

    from kg import build, query

    with tempfile.TemporaryDirectory() as d:
        os.environ.pop("KG_BASE", None)
        build.write_dist(build.load_parts(), Path(d))
        for page in EXAMPLE_PAGES:
            text = page.read_text(encoding="utf-8")
            commands = [c for c, _ in blocks(text)]
            page.write_text(_replace(text, "examples", render(Path(d), commands) + "\n"), encoding="utf-8")
        README.write_text(_replace(README.read_text(encoding="utf-8"), "facts", readme_facts(Path(d)) + "\n"),
                          encoding="utf-8")
        MODEL_PAGE.write_text(_replace(MODEL_PAGE.read_text(encoding="utf-8"), "contents",
                                       contents_table(Path(d)) + "\n"), encoding="utf-8")
        with tempfile.TemporaryDirectory() as w:
            wd, adds = steward_workspace(Path(d), Path(w))
            text = _replace(STEWARD_PAGE.read_text(encoding="utf-8"), "steward", render(wd, STEWARD, adds) + "\n")
            STEWARD_PAGE.write_text(text, encoding="utf-8")
    rows = "| name | question |\n|---|---|\n" + "".join(f"| `{q.name}` | {q.question} |\n"
                                                      for q in query.named_queries())
    QUERIES_PAGE.write_text(_replace(QUERIES_PAGE.read_text(encoding="utf-8"), "queries", rows), encoding="utf-8")
    VALIDATION_PAGE.write_text(_replace(VALIDATION_PAGE.read_text(encoding="utf-8"), "sparql-constraints",
                                        sparql_constraints_list() + "\n"), encoding="utf-8")
    print("examples, walk-through, counts, named graphs, query table and SHACL-SPARQL list refreshed")
