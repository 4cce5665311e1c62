"""What checking an addition yields (CheckResult: the report and the diff of changed
values) and the size limit checked before any work. kg.incremental produces them and
kg.changes hands them on, so they sit below both (kg.changes re-exports them).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph

from kg.config import settings
from kg.errors import BadInput
from kg.validate import Report, compact_iri


@dataclass
class Change:
    """An existing single-valued fact that the addition gives another value."""
    subject: str
    predicate: str
    old: str
    new: str


@dataclass
class CheckResult:
    report: Report
    changes: list[Change] = field(default_factory=list)
    removed: Graph = field(default_factory=Graph)  # the facts a --replace takes out

    @property
    def no_violations(self) -> bool:
        """The project's verdict (warnings and infos allowed), not SHACL's sh:conforms."""
        return self.report.no_violations

    def text(self) -> str:
        lines = [self.report.text()]
        if self.changes:
            lines.append("Changed values (diff):")
            for c in self.changes:
                old, new = (compact_iri(v) if v.startswith(("http://", "https://")) else repr(v)
                            for v in (c.old, c.new))
                lines.append(f"  {compact_iri(c.subject)} {compact_iri(c.predicate)}\n    - {old}\n    + {new}")
        return "\n".join(lines)


def entity_count(addition: Graph) -> int:
    """The number of entities (distinct subjects) of an addition."""
    return len(set(addition.subjects()))


def check_size(addition: Graph, name: str = "the addition") -> None:
    """Refuse an addition of more than KG_MAX_ADDITION_ENTITIES entities, before any
    checking: a check takes milliseconds per entity and, in `kg add` and the web
    steward's accept, holds the writer lock."""
    limit = settings().max_addition_entities
    n = entity_count(addition)
    if n > limit:
        raise BadInput(_over_limit(name, n, limit))


def _over_limit(name: str, n: int, limit: int) -> str:
    return (f"{name}: {n:,} entities, over the limit of {limit:,} (KG_MAX_ADDITION_ENTITIES): "
            "split the addition")
