"""The change-set file format: one TriG file per accepted change set (its provenance
in the default graph, its triples in <base>changeset/<id>, what it replaces in
<base>changeset/<id>/removed), written by kg.changes and read back by the build.

The build (kg.parts) needs only to read these files and kg.changes needs the build, so
the format lives here, below both.
"""
from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

from kg import rdfio
from kg.config import settings
from kg.errors import BadInput
from kg.namespaces import bind_all, bkd


@dataclass
class ChangeSet:
    id: str
    by: str
    time: str
    source: str
    added: int
    removed: int
    reverts: str | None
    path: Path
    reverted_by: str | None = None

    @property
    def iri(self) -> str:
        return changeset_iri(self.id)


def changeset_iri(cs_id: str) -> str:
    return f"{settings().base}changeset/{cs_id}"


def agent_iri(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "anonymous"
    return f"{settings().base}steward/{slug}"


# Bidirectional overrides and isolates: they make a name display as another one.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def breaks(ch: str) -> bool:
    """A control character or a line / paragraph separator."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def comment(text: str) -> str:
    """Text safe inside a `# ...` line whatever it holds: every character that could end
    the line or is not printable becomes a space (the values are validated before;
    this keeps the header safe regardless)."""
    return "".join(" " if breaks(ch) or ch in BIDI_CONTROLS else ch for ch in text).strip()


def trig(cs_id: str, addition: Graph, removed: Graph, *, by: str, source: str, reverts: str | None) -> str:
    ds = Dataset()
    for prefix, ns in bind_all(Graph()).namespaces():
        ds.bind(prefix, ns)
    cs, agent, B = URIRef(changeset_iri(cs_id)), URIRef(agent_iri(by)), bkd()
    meta = ds.default_graph
    now = Literal(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), datatype=XSD.dateTime)
    meta.add((cs, RDF.type, B.ChangeSet))
    meta.add((cs, RDFS.label, Literal(f"Change set {cs_id}", lang="en")))
    meta.add((cs, DCTERMS.identifier, Literal(cs_id)))
    meta.add((cs, PROV.wasAttributedTo, agent))
    meta.add((cs, PROV.generatedAtTime, now))
    meta.add((cs, DCTERMS.source, Literal(source)))
    meta.add((cs, B.addedTriples, Literal(len(addition), datatype=XSD.integer)))
    meta.add((cs, B.removedTriples, Literal(len(removed), datatype=XSD.integer)))
    if reverts:
        meta.add((cs, B.reverts, URIRef(changeset_iri(reverts))))
    meta.add((agent, RDF.type, B.Steward))
    meta.add((agent, RDFS.label, Literal(by)))
    g = ds.graph(cs)
    for t in addition:
        g.add(t)
    if len(removed):
        r = ds.graph(URIRef(changeset_iri(cs_id) + "/removed"))
        for t in removed:
            r.add(t)
    body = ds.serialize(format="trig")
    lines = [f"Change set {cs_id}, accepted by {by} at {now}.", f"Source: {source}"]
    if reverts:
        lines.append(f"Reverts {reverts}.")
    lines.append("Written by `kg add` / `kg revert`: do not edit by hand.")
    header = "".join(f"# {comment(line)}\n" for line in lines) + "\n"
    return header + body


def read_meta(path: Path) -> ChangeSet:
    ds = load_trig(path)
    B = bkd()
    cs = next(ds.default_graph.subjects(RDF.type, B.ChangeSet), None)
    if cs is None:
        raise BadInput(f"{path}: not a change set (no bkd:ChangeSet in its default graph)")
    meta = ds.default_graph
    agent = meta.value(cs, PROV.wasAttributedTo)
    reverts = meta.value(cs, B.reverts)
    return ChangeSet(
        id=str(meta.value(cs, DCTERMS.identifier)), by=str(meta.value(agent, RDFS.label) or agent),
        time=str(meta.value(cs, PROV.generatedAtTime)), source=str(meta.value(cs, DCTERMS.source)),
        added=int(meta.value(cs, B.addedTriples) or 0), removed=int(meta.value(cs, B.removedTriples) or 0),
        reverts=str(reverts).rsplit("/", 1)[-1] if reverts else None, path=path)


def load_trig(path: Path) -> Dataset:
    ds = Dataset()
    try:
        ds.parse(data=settings().rebase(rdfio.read_text(path)), format="trig", publicID=settings().base)
    except BadInput:
        raise
    except Exception as e:
        raise BadInput(f"{path}: cannot read change set: {' '.join(str(e).split())[:200]}") from None
    return ds


def layers(paths: list[Path]) -> Iterator[tuple[str, Graph, Graph, Graph, str | None]]:
    """For the build: (id, provenance, added, removed, reverts) of each change set file,
    in id order."""
    for p in sorted(paths, key=lambda p: p.name):
        ds = load_trig(p)
        meta = read_meta(p)
        cs = URIRef(changeset_iri(meta.id))
        yield (meta.id, ds.default_graph, ds.graph(cs), ds.graph(URIRef(str(cs) + "/removed")),
               meta.reverts)
