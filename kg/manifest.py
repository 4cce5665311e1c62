"""build.json, the manifest every dist/ ends with, and the per-graph fingerprints it
holds. The stores read it to tell which build they show, so it lives apart from the
build (which uses the stores): a leaf both can import.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

MANIFEST = "build.json"


def read_manifest(dist: Path) -> dict | None:
    """The build.json of a dist/ (or of an Oxigraph generation loaded from one)."""
    try:
        return json.loads((dist / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


class GraphHashes:
    """A fingerprint of each named graph's N-Quads lines, in any order: which graphs a
    new build changed, so a remote store is sent only those (kg.stores.sparql). The sum
    of the lines' digests does not depend on their order, so it can be computed while
    streaming. Blank-node labels are part of the text, so a graph with blank nodes may
    look changed when it is not: that costs a re-send, never a missed change."""

    MOD = 1 << 128

    def __init__(self) -> None:
        self._sums: dict[str, int] = defaultdict(int)
        self._counts: dict[str, int] = defaultdict(int)

    def add(self, graph: str, line: bytes) -> None:
        digest = hashlib.blake2b(line.rstrip(), digest_size=16).digest()
        self._sums[graph] = (self._sums[graph] + int.from_bytes(digest, "big")) % self.MOD
        self._counts[graph] += 1

    def result(self) -> dict[str, str]:
        return {g: f"{self._counts[g]}-{self._sums[g]:032x}" for g in sorted(self._sums)}


def graph_hashes(nquads: bytes) -> dict[str, str]:
    """GraphHashes of an N-Quads text (every quad in a named graph)."""
    h = GraphHashes()
    for line in nquads.splitlines():
        body = line.rstrip()
        if not body.endswith(b" ."):
            continue
        head, _, graph = body[:-2].rstrip().rpartition(b" ")
        if graph.startswith(b"<") and graph.endswith(b">") and head:
            h.add(graph[1:-1].decode(), body)
    return h.result()
