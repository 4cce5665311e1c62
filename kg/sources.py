"""Which files make up the graph: the ontology, its SKOS schemes, the curated data."""
from __future__ import annotations

from pathlib import Path

from kg.config import settings


def ontology_files() -> list[Path]:
    s = settings()
    return [s.ontology_dir / "bkd.ttl", s.ontology_dir / "curation.ttl",
            *sorted((s.ontology_dir / "vocab").glob("*.ttl"))]


def data_files() -> list[Path]:
    """The document's own facts, as read from the source."""
    return sorted(settings().data_dir.glob("*.ttl"))


def curation_files() -> list[Path]:
    """Curated annotations (themes, classifications, shared-action definitions, CAMI):
    the project's readings, kept apart from the document's facts. The crosswalk links
    (annex links, shared-action memberships) are not files: kg.crosswalk derives them
    from the review decisions (kg.reviews)."""
    return sorted((settings().data_dir / "curation").glob("*.ttl"))


def shapes_file() -> Path:
    return settings().ontology_dir / "shapes.ttl"


def changeset_files() -> list[Path]:
    """Accepted change sets, in id (= time) order."""
    d = settings().additions
    return sorted(d.glob("*.trig")) if d.is_dir() else []
