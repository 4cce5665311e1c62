"""The curators' review of the candidate links (kg.candidates): one decision, with a
one-line reason, for every candidate pair. The review files are the record the
shipped curated links follow from, and a steward can re-run the ranking to see what
is still undecided (`kg curate suggest`).

  data/curation/reviews/annex-links.csv     measure, annex_item, score, decision, reason
  data/curation/reviews/shared-actions.csv  measure_a, measure_b, score, decision, shared_action, reason

Decisions
  annex:   same  the measure is the Annex 1 action, or its instance for one population
                 -> bkd:coveredByAnnexItem
           part  the measure contributes to the Annex 1 action in part
                 -> bkd:contributesToAnnexItem
           none  not related (no link)
  shared:  same  both measures are occurrences of one shared action, named in
                 shared_action (a bkd:SharedAction under shared-action/) -> bkd:sharedAction
           part  related (overlapping wording or purpose) but not the same action: no link
           none  not related

`score` is the ranking score when the pair was reviewed (for the reader; the ranking is
recomputed by the tests and by `kg curate suggest`). Measures and Annex items are
written by number (2.10, 6.2), as the source numbers them.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from kg.config import settings
from kg.errors import BadInput

ANNEX_FILE = "annex-links.csv"
SHARED_FILE = "shared-actions.csv"
ANNEX_COLUMNS = ["measure", "annex_item", "score", "decision", "reason"]
SHARED_COLUMNS = ["measure_a", "measure_b", "score", "decision", "shared_action", "reason"]
DECISIONS = {"same", "part", "none"}
REVIEW_DATE = "2026-11-29"     # dcterms:created of the curated links generated from the decisions


@dataclass(frozen=True)
class Decision:
    kind: str           # annex | shared
    a: str              # measure number
    b: str              # Annex 1 item number, or the other measure's number
    score: str
    decision: str       # same | part | none | "" (not yet decided)
    reason: str
    shared_action: str = ""
    line: int = field(default=0, compare=False)   # line of the review file (0: not read from one)

    @property
    def key(self) -> tuple[str, str, str]:
        a, b = (self.a, self.b) if self.kind == "annex" else sorted((self.a, self.b), key=_key)
        return (self.kind, a, b)


def _key(number: str) -> tuple:
    from kg.candidates import number_key
    return number_key(number)


def reviews_dir() -> Path:
    """data/curation/reviews/, or KG_REVIEWS_DIR."""
    return settings().reviews_dir


def path_of(kind: str, directory: Path | None = None) -> Path:
    """The review file of one kind (annex or shared)."""
    return (directory or reviews_dir()) / (ANNEX_FILE if kind == "annex" else SHARED_FILE)


def read(kind: str, directory: Path | None = None) -> list[Decision]:
    """The decisions of one review file (annex or shared); BadInput names a bad row."""
    path = path_of(kind, directory)
    if not path.exists():
        return []
    columns = ANNEX_COLUMNS if kind == "annex" else SHARED_COLUMNS
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            raise BadInput(f"{path}: columns must be {', '.join(columns)}")
        for line, row in enumerate(reader, start=2):
            row = {k: v or "" for k, v in row.items() if k}   # a short row: missing cells are empty
            d = Decision(kind, row[columns[0]].strip(), row[columns[1]].strip(), row["score"].strip(),
                         row["decision"].strip(), " ".join(row["reason"].split()),
                         row.get("shared_action", "").strip(), line)
            if d.decision and d.decision not in DECISIONS:
                raise BadInput(f"{path}, line {line}: decision {d.decision!r} (use same, part or none)")
            if d.decision and not d.reason:
                raise BadInput(f"{path}, line {line}: a decision needs a one-line reason")
            if kind == "shared" and d.decision == "same" and not d.shared_action:
                raise BadInput(f"{path}, line {line}: 'same' needs the shared_action it is an occurrence of")
            out.append(d)
    return out


def write(kind: str, decisions: list[Decision], directory: Path | None = None) -> Path:
    """Write a review file, best-scored first (kg.rdfio.atomic_write)."""
    from kg.rdfio import atomic_write

    path = path_of(kind, directory)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ANNEX_COLUMNS if kind == "annex" else SHARED_COLUMNS)
    for d in sorted(decisions, key=lambda d: (-float(d.score or 0), _key(d.a), _key(d.b))):
        if kind == "annex":
            w.writerow([d.a, d.b, d.score, d.decision, d.reason])
        else:
            w.writerow([d.a, d.b, d.score, d.decision, d.shared_action, d.reason])
    atomic_write(path, buf.getvalue().encode("utf-8"))
    return path
