"""Fidelity of the graph to the source text.

Quality bar: every numbered row of the source is in the graph with its verbatim
text, priority and responsibility, and nothing extra.

The source (data/source/UNEP-CMS-BKD-MOS3-Doc.4.txt) is parsed here with a parser
of its own, independent of the project code: the tables are tab-separated lines
that start with a number such as ``2.10``; the line ``ANNEX 1`` splits the document
into the Work Programme (WP) and Annex 1. Only ``kg.build`` is used, to get the
graph. Every expected value below is derived from the source text, not from the
graph.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, Literal, Namespace, URIRef

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data" / "source" / "UNEP-CMS-BKD-MOS3-Doc.4.txt"
DEFAULT_BASE = "https://w3id.org/bukhara-deer/"
BASE = DEFAULT_BASE  # the graph is built with the default base (see the fixture)
BKD = Namespace(BASE + "ontology#")

# --------------------------------------------------------------------------------------
# Parsing the source
# --------------------------------------------------------------------------------------

SUPERSCRIPTS = {"¹": 1, "²": 2, "³": 3, "⁴": 4, "⁵": 5, "⁶": 6, "⁷": 7, "⁸": 8, "⁹": 9, "⁰": 0}
SUP_CLASS = "[" + "".join(SUPERSCRIPTS) + "]"
ROW_RE = re.compile(r"^(\d+)\.(\d+)\t")
LOOSE_ROW_RE = re.compile(r"^\s*(\d+)\.(\d+)\s")  # a row-like line, with or without tab
FOOTNOTE_LINE_RE = re.compile(rf"^({SUP_CLASS}+)\s+(.*\S)\s*$")
ANNEX_SPLIT = "ANNEX 1"

WP, ANNEX = "wp", "annex"


def sup_to_int(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 10 + SUPERSCRIPTS[ch]
    return n


def markers(s: str) -> list[int]:
    """Footnote numbers of the superscript markers in s."""
    return [sup_to_int(m) for m in re.findall(rf"{SUP_CLASS}+", s)]


def normalize_text(s: str) -> str:
    """The project's verbatim rule: markers and <i> markup removed, whitespace
    collapsed, a space before , . ; : removed."""
    s = re.sub(SUP_CLASS, "", s)
    s = re.sub(r"</?i>", "", s)
    s = " ".join(s.split())
    s = re.sub(r" ([,.;:])", r"\1", s)
    return s.strip()


def cell(s: str) -> str:
    return " ".join(s.split())


@dataclass
class Row:
    part: str          # WP or ANNEX
    number: str        # as printed, e.g. "2.10"
    major: int
    minor: int
    raw: str           # the whole source line
    cells: list[str]
    lineno: int
    section: str | None = None  # number of the section row the row is listed under

    @property
    def is_section(self) -> bool:
        return self.minor == 0

    @property
    def text(self) -> str:
        return normalize_text(self.cells[1]) if len(self.cells) > 1 else ""

    @property
    def priority(self) -> str:
        return cell(self.cells[2]) if len(self.cells) > 2 else ""

    @property
    def responsibility(self) -> str:
        return cell(self.cells[3]) if len(self.cells) > 3 else ""

    @property
    def markers(self) -> list[int]:
        return markers(self.raw)

    @property
    def id(self) -> str:
        return f"{self.part}-{self.number}"


@dataclass
class Source:
    lines: list[str]
    split_at: int
    rows: list[Row] = field(default_factory=list)
    footnotes: dict[int, str] = field(default_factory=dict)       # printed footnotes
    marker_parts: dict[int, set[str]] = field(default_factory=dict)  # marker -> parts it occurs in

    @property
    def actions(self) -> list[Row]:
        return [r for r in self.rows if not r.is_section]

    @property
    def sections(self) -> list[Row]:
        return [r for r in self.rows if r.is_section]

    def actions_of(self, part: str) -> list[Row]:
        return [r for r in self.actions if r.part == part]

    def sections_of(self, part: str) -> list[Row]:
        return [r for r in self.sections if r.part == part]


def parse_source(path: Path = SOURCE) -> Source:
    lines = path.read_text(encoding="utf-8").splitlines()
    splits = [i for i, ln in enumerate(lines) if ln.strip() == ANNEX_SPLIT]
    assert len(splits) == 1, f"expected exactly one line {ANNEX_SPLIT!r}, found {len(splits)}"
    src = Source(lines=lines, split_at=splits[0])
    current: dict[str, str | None] = {WP: None, ANNEX: None}
    for i, ln in enumerate(lines):
        part = WP if i < src.split_at else ANNEX
        m = ROW_RE.match(ln)
        if m:
            row = Row(part=part, number=f"{m.group(1)}.{m.group(2)}", major=int(m.group(1)),
                      minor=int(m.group(2)), raw=ln, cells=ln.split("\t"), lineno=i + 1)
            if row.is_section:
                current[part] = row.number
            else:
                row.section = current[part]
            src.rows.append(row)
        fm = FOOTNOTE_LINE_RE.match(ln)
        if fm:
            n = sup_to_int(fm.group(1))
            assert n not in src.footnotes, f"footnote {n} printed twice"
            src.footnotes[n] = " ".join(fm.group(2).split())
        else:
            for n in markers(ln):
                src.marker_parts.setdefault(n, set()).add(part)
    return src


SRC = parse_source()


# --------------------------------------------------------------------------------------
# Readings of the printed cells, written independently of the project's code
# --------------------------------------------------------------------------------------

ACTOR_TYPES = {
    "gos": "go", "go": "go",
    "ngos": "ngo", "ngo": "ngo",
    "igos": "igo", "igo": "igo",
    "scientific institutions": "scientific-institution",
    "scientific institution": "scientific-institution",
    "scientific institutes": "scientific-institution",
    "scientific institute": "scientific-institution",
    "private business": "private-business",
    "private businesses": "private-business",
    "cms": "cms",
}
ROLE_PHRASES = {"with advice by": "advising", "possibly facilitated by": "facilitating"}
ROLE_PROPERTIES = {"lead": BKD.leadActorType, "advising": BKD.advisingActorType,
                   "facilitating": BKD.facilitatingActorType}


def actor_types(part: str) -> set[str]:
    out = set()
    for tok in re.split(r",|\band\b", part):
        tok = " ".join(tok.split()).lower()
        if not tok:
            continue
        assert tok in ACTOR_TYPES, f"unknown actor in responsibility cell: {tok!r}"
        out.add(ACTOR_TYPES[tok])
    return out


def actor_roles(responsibility: str) -> dict[str, set[str]]:
    """'GOs with advice by NGOs and scientific institutes' ->
    {lead: {go}, advising: {ngo, scientific-institution}, facilitating: {}}."""
    roles: dict[str, set[str]] = {r: set() for r in ROLE_PROPERTIES}
    pattern = re.compile(r"\s+(" + "|".join(map(re.escape, ROLE_PHRASES)) + r")\s+", re.I)
    pieces = pattern.split(responsibility)
    roles["lead"] |= actor_types(pieces[0])
    for phrase, qualified in zip(pieces[1::2], pieces[2::2]):
        roles[ROLE_PHRASES[phrase.lower()]] |= actor_types(qualified)
    return roles


COUNTRY_CODES = ("AFG", "KAZ", "TJK", "TKM", "UZB")
COUNTRY_NAMES = {"Afghanistan": "AFG", "Kazakhstan": "KAZ", "Tajikistan": "TJK",
                 "Turkmenistan": "TKM", "Uzbekistan": "UZB"}


def countries_named(text: str) -> set[str]:
    found = {c for c in COUNTRY_CODES if re.search(rf"\b{c}\b", text)}
    found |= {code for name, code in COUNTRY_NAMES.items() if re.search(rf"\b{name}\b", text)}
    return found


def priority_levels(printed: str) -> set[str]:
    return {p.strip() for p in printed.split("-") if p.strip()} if printed else set()


# --------------------------------------------------------------------------------------
# IRIs
# --------------------------------------------------------------------------------------

def action_iri(row: Row) -> URIRef:
    return URIRef(BASE + ("measure/" if row.part == WP else "annex1/") + row.number)


def section_iri(part: str, number: str) -> URIRef:
    return URIRef(BASE + ("section/" if part == WP else "annex1/section/") + number)


def iri(kind: str, key) -> URIRef:
    return URIRef(f"{BASE}{kind}/{key}")


ACTION_CLASS = {WP: BKD.Measure, ANNEX: BKD.Annex1Item}


# --------------------------------------------------------------------------------------
# The graph, built once per session
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def g():
    saved = os.environ.pop("KG_BASE", None)
    try:
        from kg import build
        graph = build.load_parts().merged()
    finally:
        if saved is not None:
            os.environ["KG_BASE"] = saved
    return graph


def literals(graph, s, p) -> list[str]:
    return sorted(str(o) for o in graph.objects(s, p))


def notes_concerning(graph, entity: URIRef) -> set[URIRef]:
    return {n for n in graph.subjects(BKD.concerns, entity)
            if (n, RDF.type, BKD.DataQualityNote) in graph}


def note_words(graph, note) -> str:
    return " ".join(str(o) for p in (RDFS.label, BKD.text) for o in graph.objects(note, p))


ACTIONS = SRC.actions
SECTIONS = SRC.sections
act = pytest.mark.parametrize("row", ACTIONS, ids=[r.id for r in ACTIONS])
sec = pytest.mark.parametrize("row", SECTIONS, ids=[r.id for r in SECTIONS])


# --------------------------------------------------------------------------------------
# The parser itself
# --------------------------------------------------------------------------------------

def test_parser_finds_every_numbered_line():
    """No row-like line of the tables escapes the parser (e.g. a row with spaces
    instead of a tab), and each table row has the four columns."""
    table_like = [i + 1 for i, ln in enumerate(SRC.lines) if LOOSE_ROW_RE.match(ln)]
    assert table_like == [r.lineno for r in SRC.rows]
    for r in SRC.rows:
        assert len(r.cells) == 4, f"line {r.lineno}: {len(r.cells)} cells"
        assert r.text, f"line {r.lineno}: empty text cell"
    # every action is listed under a section of its own part
    for r in SRC.actions:
        assert r.section is not None, f"line {r.lineno}: action before any section"


def test_parser_counts():
    """A cross-check of the parser against the document as read by a person:
    66 Work Programme measures in 9 sections, 26 Annex 1 items in 6 sections."""
    assert (len(SRC.actions_of(WP)), len(SRC.sections_of(WP))) == (66, 9)
    assert (len(SRC.actions_of(ANNEX)), len(SRC.sections_of(ANNEX))) == (26, 6)
    assert SRC.footnotes, "no printed footnotes found"
    assert any(r.markers for r in SRC.actions), "no footnote markers found in rows"


def test_actor_normalizer():
    assert actor_roles("GOs, IGOs possibly facilitated by CMS") == {
        "lead": {"go", "igo"}, "advising": set(), "facilitating": {"cms"}}
    assert actor_roles("GOs with advice by NGOs and scientific institutes") == {
        "lead": {"go"}, "advising": {"ngo", "scientific-institution"}, "facilitating": set()}
    with pytest.raises(AssertionError):
        actor_types("GOs, rangers")


# --------------------------------------------------------------------------------------
# Every numbered action row is in the graph, verbatim
# --------------------------------------------------------------------------------------

@act
def test_action_is_one_node_with_its_number(g, row):
    node, cls = action_iri(row), ACTION_CLASS[row.part]
    assert (node, RDF.type, cls) in g, f"{node} is not a {cls}"
    assert literals(g, node, BKD.number) == [row.number]
    same_number = {s for s in g.subjects(BKD.number, Literal(row.number))
                   if (s, RDF.type, cls) in g}
    assert same_number == {node}, f"several {cls} numbered {row.number}: {same_number}"


@act
def test_action_text(g, row):
    assert literals(g, action_iri(row), BKD.text) == [row.text]


@act
def test_action_priority_as_given(g, row):
    expected = [row.priority] if row.priority else []
    assert literals(g, action_iri(row), BKD.priorityAsGiven) == expected


@act
def test_action_priority_links(g, row):
    expected = {iri("priority", p) for p in priority_levels(row.priority)}
    assert set(g.objects(action_iri(row), BKD.priority)) == expected


@act
def test_action_responsibility(g, row):
    assert literals(g, action_iri(row), BKD.responsibility) == [row.responsibility]


@act
def test_action_actor_types(g, row):
    node = action_iri(row)
    expected = {role: {iri("actor-type", t) for t in types}
                for role, types in actor_roles(row.responsibility).items()}
    actual = {role: set(g.objects(node, prop)) for role, prop in ROLE_PROPERTIES.items()}
    assert actual == expected


@act
def test_action_in_section(g, row):
    assert set(g.objects(action_iri(row), BKD.inSection)) == {section_iri(row.part, row.section)}


@act
def test_action_footnotes(g, row):
    expected = {iri("footnote", n) for n in row.markers}
    assert set(g.objects(action_iri(row), BKD.hasFootnote)) == expected


@act
def test_action_countries(g, row):
    expected = {iri("country", c) for c in countries_named(row.text)}
    assert set(g.objects(action_iri(row), BKD.concernsCountry)) == expected


# --------------------------------------------------------------------------------------
# ... and nothing extra
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("part", [WP, ANNEX])
def test_no_extra_actions(g, part):
    cls = ACTION_CLASS[part]
    in_graph = set(g.subjects(RDF.type, cls))
    expected = {action_iri(r) for r in SRC.actions_of(part)}
    assert len(in_graph) == len(expected)
    assert in_graph - expected == set(), "in the graph but not in the source"
    assert expected - in_graph == set(), "in the source but not in the graph"


def test_no_extra_sections(g):
    in_graph = set(g.subjects(RDF.type, BKD.Section))
    expected = {section_iri(r.part, r.number) for r in SECTIONS}
    assert in_graph == expected


def test_no_footnote_link_without_marker(g):
    """Whatever links a footnote must be a row whose printed line carries the marker."""
    carried = {(action_iri(r) if not r.is_section else section_iri(r.part, r.number),
                iri("footnote", n)) for r in SRC.rows for n in r.markers}
    links = set(g.subject_objects(BKD.hasFootnote))
    assert links - carried == set()


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------

@sec
def test_section_row(g, row):
    node = section_iri(row.part, row.number)
    assert (node, RDF.type, BKD.Section) in g
    assert literals(g, node, BKD.number) == [row.number]
    assert literals(g, node, BKD.text) == [row.text]


@sec
def test_section_countries(g, row):
    expected = {iri("country", c) for c in countries_named(row.text)}
    assert set(g.objects(section_iri(row.part, row.number), BKD.concernsCountry)) == expected


# --------------------------------------------------------------------------------------
# Footnotes
# --------------------------------------------------------------------------------------

PRINTED = sorted(SRC.footnotes)


@pytest.mark.parametrize("n", PRINTED, ids=[f"footnote-{n}" for n in PRINTED])
def test_footnote_printed(g, n):
    node = iri("footnote", n)
    assert (node, RDF.type, BKD.Footnote) in g
    assert literals(g, node, BKD.text) == [SRC.footnotes[n]]
    assert [int(o) for o in g.objects(node, BKD.footnoteNumber)] == [n]


def test_no_extra_footnotes(g):
    assert set(g.subjects(RDF.type, BKD.Footnote)) == {iri("footnote", n) for n in PRINTED}


def test_every_marker_in_a_row_has_its_footnote_or_a_gap_note():
    """Internal consistency of the source reading: a marker in a row whose footnote
    is neither printed nor among the derived gaps would be lost."""
    for r in SRC.actions:
        for n in r.markers:
            assert n in SRC.footnotes or n in MISSING_FOOTNOTES, (r.id, n)


# --------------------------------------------------------------------------------------
# The source's gaps are recorded as data-quality notes
# --------------------------------------------------------------------------------------

def _numbering_gaps() -> list[tuple[str, str, str]]:
    """(part, section number, missing item number) where a section's item numbers
    skip a value between 1 and the highest number listed."""
    gaps = []
    for s in SRC.sections:
        minors = {r.minor for r in SRC.actions if r.part == s.part and r.section == s.number}
        for m in range(1, max(minors, default=0) + 1):
            if m not in minors:
                gaps.append((s.part, s.number, f"{s.major}.{m}"))
    return gaps


NUMBERING_GAPS = _numbering_gaps()
ALL_FOOTNOTE_NUMBERS = set(SRC.footnotes) | set(SRC.marker_parts)
MISSING_FOOTNOTES = sorted(set(range(1, max(ALL_FOOTNOTE_NUMBERS) + 1)) - set(SRC.footnotes))
EMPTY_PRIORITY = [r for r in ACTIONS if not r.priority]
UNIDENTIFIED_FOOTNOTES = {n for n, t in SRC.footnotes.items()
                          if re.search(r"could not be identified|not clearly defined", t, re.I)}
UNIDENTIFIED_ROWS = [r for r in ACTIONS if UNIDENTIFIED_FOOTNOTES & set(r.markers)]


def test_gaps_were_derived():
    """The gap lists below come from the parse; make sure the parse produced them
    (an empty parametrization would pass silently)."""
    assert NUMBERING_GAPS and MISSING_FOOTNOTES and EMPTY_PRIORITY and UNIDENTIFIED_ROWS


@pytest.mark.parametrize("gap", NUMBERING_GAPS, ids=[f"{p}-{n}" for p, _, n in NUMBERING_GAPS])
def test_missing_item_noted(g, gap):
    part, section, missing = gap
    node = section_iri(part, section)
    mentioning = [n for n in notes_concerning(g, node)
                  if re.search(rf"(?<![\d.]){re.escape(missing)}(?![\d])", note_words(g, n))]
    assert mentioning, f"no data-quality note on {node} mentions the missing item {missing}"
    phantom = URIRef(BASE + ("measure/" if part == WP else "annex1/") + missing)
    assert next(g.predicate_objects(phantom), None) is None, f"{phantom} was invented"


def _footnote_note_targets(g, n: int) -> set[URIRef]:
    """What a note on missing footnote n should concern: the rows carrying its
    marker; else the programme(s) of the part(s) where the marker is printed;
    else (marker nowhere) the neighbouring printed footnotes or the document."""
    rows = [r for r in SRC.actions if n in r.markers]
    if rows:
        return {action_iri(r) for r in rows}
    if n in SRC.marker_parts:
        return {p for part in SRC.marker_parts[n] for r in SRC.actions_of(part)
                for p in g.objects(action_iri(r), BKD.inProgramme)}
    lower = [k for k in SRC.footnotes if k < n]
    higher = [k for k in SRC.footnotes if k > n]
    targets = {iri("footnote", k) for k in (max(lower, default=None), min(higher, default=None))
               if k is not None}
    return targets | {d for r in ACTIONS for d in g.objects(action_iri(r), BKD.describedIn)}


@pytest.mark.parametrize("n", MISSING_FOOTNOTES, ids=[f"footnote-{n}" for n in MISSING_FOOTNOTES])
def test_missing_footnote_noted(g, n):
    assert (iri("footnote", n), RDF.type, BKD.Footnote) not in g, f"footnote {n} was invented"
    notes = [x for x in g.subjects(RDF.type, BKD.DataQualityNote)
             if re.search(rf"\bfootnote\s+{n}\b", note_words(g, x), re.I)]
    assert notes, f"no data-quality note mentions footnote {n}"
    targets = _footnote_note_targets(g, n)
    assert targets, f"nothing for a note on footnote {n} to concern"
    concerned = {o for x in notes for o in g.objects(x, BKD.concerns)}
    if any(n in r.markers for r in SRC.actions) or n in SRC.marker_parts:
        assert targets <= concerned, f"note on footnote {n} misses {targets - concerned}"
    else:
        assert targets & concerned, f"note on footnote {n} concerns none of {targets}"


@pytest.mark.parametrize("row", EMPTY_PRIORITY, ids=[r.id for r in EMPTY_PRIORITY])
def test_empty_priority_noted(g, row):
    assert notes_concerning(g, action_iri(row)), f"no data-quality note on {row.id}"


@pytest.mark.parametrize("row", UNIDENTIFIED_ROWS, ids=[r.id for r in UNIDENTIFIED_ROWS])
def test_unidentified_location_noted(g, row):
    kind = iri("issue-kind", "unidentified-location")
    notes = [n for n in notes_concerning(g, action_iri(row)) if (n, BKD.issueKind, kind) in g]
    assert notes, f"no unidentified-location note concerns {row.id}"
