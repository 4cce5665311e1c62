"""Candidate links for the curated crosswalk: which pairs of actions a curator must
look at, ranked by how alike they are.

Two kinds of pair are ranked:
  annex   (Work Programme measure, Annex 1 item): does the measure feed the range-wide item?
  shared  (two measures of different sections): are they occurrences of one shared action?

The score is TF-IDF cosine similarity of the two texts over normalised words and word
pairs (scikit-learn's TfidfVectorizer; English stop words removed, plural endings
folded), plus a smaller weight for the curated themes and action classes the two have
in common (Jaccard). Every pair scoring at least CUTOFF is a candidate: it must carry a
decision in the review files (kg.reviews), and `kg curate suggest` lists the ones that
do not. The cutoff is set low enough that every link curated before the review, and
every near-verbatim pair, is above it (tests/test_candidates.py keeps that true).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations

TEXT_WEIGHT, TAG_WEIGHT = 0.8, 0.2
CUTOFF = {"annex": 0.05, "shared": 0.08}

ITEMS = """
SELECT ?a ?kind ?number ?section ?text (GROUP_CONCAT(DISTINCT STR(?tag); separator=" ") AS ?tags) WHERE {
  ?a a bkd:Action ; bkd:number ?number ; bkd:text ?text .
  { ?a a bkd:Measure . BIND("measure" AS ?kind) } UNION { ?a a bkd:Annex1Item . BIND("annex1" AS ?kind) }
  OPTIONAL { ?a bkd:inSection ?section }
  OPTIONAL { { ?a bkd:theme ?tag } UNION { ?a bkd:actionClass ?tag } }
} GROUP BY ?a ?kind ?number ?section ?text"""


@dataclass(frozen=True)
class Item:
    iri: str
    kind: str          # measure | annex1
    number: str
    section: str
    text: str
    tags: frozenset[str]


@dataclass(frozen=True)
class Pair:
    kind: str          # annex | shared
    a: Item            # the measure (annex), or the measure with the lower number (shared)
    b: Item            # the Annex 1 item (annex), or the other measure (shared)
    score: float

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.a.number, self.b.number)


def items(store) -> list[Item]:
    """The measures and Annex 1 items of the built graph (with their curated tags)."""
    out = []
    for r in store.query(ITEMS):
        def text(var: str, r=r) -> str:  # an action without tags (just added) leaves ?tags unbound
            return r[var].value if r[var] is not None else ""
        out.append(Item(r["a"].value, text("kind"), text("number"), text("section"), text("text"),
                        frozenset(t for t in text("tags").split() if t)))
    return sorted(out, key=lambda i: (i.kind, number_key(i.number)))


def number_key(number: str) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.\s]", number))


_PLURAL = re.compile(r"(?<=[a-z]{3})(ies|es|s)$")
_WORD = re.compile(r"[a-z][a-z-]{2,}")


def words(text: str) -> list[str]:
    """Lower-case words, English stop words removed, plural endings folded
    (communities -> community, areas -> area, populations -> population)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    def fold(word: str) -> str:
        m = _PLURAL.search(word)
        if not m or word.endswith("ss"):
            return word
        return word[:m.start()] + ("y" if m.group(1) == "ies" else "" if m.group(1) == "s" else "e")
    return [fold(w) for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


def analyse(text: str) -> list[str]:
    """Words and adjacent word pairs: the features of the TF-IDF vectors."""
    ws = words(text)
    return ws + [f"{a} {b}" for a, b in zip(ws, ws[1:])]


def similarity(texts: list[str]):
    """The cosine similarity matrix of the texts (TF-IDF over words and word pairs)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    return cosine_similarity(TfidfVectorizer(analyzer=analyse, sublinear_tf=True).fit_transform(texts))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def rank(all_items: list[Item]) -> list[Pair]:
    """Every annex and shared pair with its score, best first."""
    sim = similarity([i.text for i in all_items])
    index = {i.iri: n for n, i in enumerate(all_items)}

    def score(x: Item, y: Item) -> float:
        return round(TEXT_WEIGHT * float(sim[index[x.iri], index[y.iri]]) + TAG_WEIGHT * jaccard(x.tags, y.tags), 4)
    measures = [i for i in all_items if i.kind == "measure"]
    annex = [i for i in all_items if i.kind == "annex1"]
    pairs = [Pair("annex", m, a, score(m, a)) for m in measures for a in annex]
    pairs += [Pair("shared", x, y, score(x, y)) for x, y in combinations(measures, 2) if x.section != y.section]
    return sorted(pairs, key=lambda p: (-p.score, p.kind, number_key(p.a.number), number_key(p.b.number)))


def candidates(all_items: list[Item]) -> list[Pair]:
    """The pairs a curator must decide: every pair at or above its kind's cutoff."""
    return [p for p in rank(all_items) if p.score >= CUTOFF[p.kind]]
