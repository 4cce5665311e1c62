"""Change sets: check an addition against the live graph, accept it safely, keep its
history, take it back.

An accepted change set is one TriG file in data/additions/ (KG_ADDITIONS): its
provenance (PROV-O: agent, time, source, id) in the default graph and its triples in
the named graph <base>changeset/<id>; with --replace, the facts it replaces in
<base>changeset/<id>/removed. A revert is a change set too (bkd:reverts). The shipped
data stays the base; the build layers the active change sets on top, in id order.

Writes are safe: one process at a time holds an exclusive lock (dist/.locks/
additions.lock, so that nothing of it shows in the repository's working tree); the new
dist/ is fully written to a staging directory dist/.staging/<id>/ (same filesystem: the
staged files are renamed into dist/) before the change set's file is renamed into place
(the commit point); only then are the staged files renamed into dist/. A failure before
the commit leaves everything as it was; what a killed writer leaves behind (its staging
directory, a half-written temporary file) is removed by the next writer, under the lock,
so a running writer's files are never touched.

Provenance (--by, --source) is one line of text: a control character in the name is
refused, whitespace in the source (newlines, tabs) becomes single spaces, and the
comment header of the TriG file is written only from such one-line strings, so that
no value can end the comment and add triples of its own.
"""
from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rdflib import Graph, URIRef

from kg import build, rdfio

# the change-set file format; agent_iri, changeset_iri, layers and load_trig are re-exported (kg.changes.*)
from kg.changeset_file import (
    BIDI_CONTROLS,
    ChangeSet,
    agent_iri as agent_iri,
    breaks,
    changeset_iri as changeset_iri,
    layers as layers,
    load_trig as load_trig,
    read_meta as _read_meta,
    trig as _trig,
)

# re-exported (kg.changes.*): the check's result types
from kg.check_result import Change as Change, CheckResult, _over_limit, check_size
from kg.config import settings
from kg.csv_import import csv_to_graph
from kg.errors import BadInput, KGError, Rejected  # Rejected: re-exported (kg.changes.Rejected)
from kg.incremental import check_addition
from kg.namespaces import bind_all
from kg.store import engine, open_store
from kg.stores.oxigraph import OxigraphStore

INPUT_FORMATS = {".ttl": "turtle", ".jsonld": "json-ld", ".json": "json-ld", ".csv": "csv"}


# ---------------------------------------------------------------------------------
# Reading an addition
# ---------------------------------------------------------------------------------

def parse_input(path: Path | None = None, *, text: str | None = None, fmt: str | None = None,
                name: str | None = None) -> Graph:
    """A proposed addition from a file (Turtle, JSON-LD or CSV by extension) or from
    text (with fmt = turtle | json-ld | csv). Bad input raises BadInput, naming the
    problem precisely (size, encoding, syntax with line, CSV columns)."""
    limit = settings().max_addition_bytes
    if path is not None:
        path = Path(path)
        name = name or str(path)
        fmt = fmt or INPUT_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise BadInput(f"{name}: unknown file type '{path.suffix}' (use .ttl, .jsonld or .csv)")
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise BadInput(f"{name}: no such file") from None
        if size > limit:
            raise BadInput(f"{name}: {size:,} bytes is over the limit of {limit:,} bytes (KG_MAX_ADDITION_BYTES)")
        text = rdfio.read_text(path)
    else:
        name = name or "input"
        if text is None or not text.strip():
            raise BadInput(f"{name}: empty input")
        if len(text.encode("utf-8")) > limit:
            raise BadInput(f"{name}: over the limit of {limit:,} bytes (KG_MAX_ADDITION_BYTES)")
        if "\x00" in text:
            raise BadInput(f"{name}: binary data, expected UTF-8 text")
    if fmt == "csv":
        _check_csv_rows(text, name)
        g: Graph = csv_to_graph(text, name)
    elif fmt in ("turtle", "json-ld"):
        g = rdfio.parse_into(bind_all(Graph()), text, fmt, name)
        if len(g) == 0:
            raise BadInput(f"{name}: no triples in the input")
    else:
        raise BadInput(f"{name}: unknown format '{fmt}' (use turtle, json-ld or csv)")
    check_size(g, name)
    check_iris(g, name)
    return g


def check_iris(addition: Graph, name: str = "the addition") -> None:
    """Refuse IRIs that are not valid RFC 3987 IRIs (a space or `>` written as \\u0020
    or \\u003E in Turtle, a bad cell in CSV): rdflib accepts them, no store or query
    could hold them. Checked with Oxigraph's own IRI parser."""
    import pyoxigraph as ox

    seen: set[str] = set()
    for triple in addition:
        for term in triple:
            if isinstance(term, URIRef) and term not in seen:
                seen.add(term)
                try:
                    ox.NamedNode(str(term))
                except ValueError as e:
                    shown = str(term).encode("unicode_escape").decode("ascii")[:120]
                    raise BadInput(f"{name}: invalid IRI <{shown}> ({e}); write IRIs without spaces, "
                                   "angle brackets, braces or quotes") from None


def _check_csv_rows(text: str, name: str) -> None:
    """The entity limit for CSV before its rows are resolved against the graph (one
    entity per non-empty row)."""
    limit = settings().max_addition_entities
    try:
        rows = sum(1 for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)) - 1
    except csv.Error:
        return  # kg.csv_import reports the malformed CSV precisely
    if rows > limit:
        raise BadInput(_over_limit(name, rows, limit))


# ---------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------

def check(addition: Graph, *, replace: bool = False, store=None) -> CheckResult:
    """Validate the addition merged with the current graph, incrementally: only the
    addition's entities and what they reference are validated (kg.incremental)."""
    store = store or open_store()
    return check_addition(addition, store, replace=replace)


# ---------------------------------------------------------------------------------
# Accepting, history, revert
# ---------------------------------------------------------------------------------

LOCK_FILE = Path(".locks") / "additions.lock"   # under dist/
STAGING = ".staging"                            # dist/.staging/<change set id>/


def lock_path() -> Path:
    return settings().dist / LOCK_FILE


def staging_root() -> Path:
    return settings().dist / STAGING


@contextmanager
def locked() -> Iterator[None]:
    """One writer at a time, across processes: an exclusive flock on
    dist/.locks/additions.lock. Waiting writers are served in turn; none is lost.
    Holding it, the writer first removes what killed writers left behind."""
    with rdfio.file_lock(lock_path()):
        clean_leftovers()
        yield


def clean_leftovers() -> list[Path]:
    """Remove the staging directories and temporary files of writers that died (killed,
    power cut): call only while holding locked(), when no other writer is running.
    Also the staging directories older versions left next to dist/
    (.dist.staging-<id>) and the lock file they kept in the additions directory.
    Returns what was removed."""
    s = settings()
    gone: list[Path] = []
    leftovers = []
    if staging_root().is_dir():
        leftovers += list(staging_root().iterdir())
    leftovers += list(s.dist.parent.glob(f".{s.dist.name}.staging-*"))
    if s.additions.is_dir():
        leftovers += [p for p in s.additions.glob(".*.trig.*.tmp") if p.is_file()]
        leftovers += [p for p in (s.additions / ".lock",) if p.is_file()]
    for p in leftovers:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        gone.append(p)
    return gone


def new_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def add(addition: Graph, *, by: str, source: str, replace: bool = False) -> tuple[ChangeSet, CheckResult]:
    """Check and, if the addition has no violations, record it and rebuild dist/. Raises
    Rejected (nothing written) when it has violations."""
    by = _name(by, "--by NAME (who adds this)")
    source = _source(source, "--source TEXT (where the facts come from, or why)")
    check_size(addition)
    with locked():

        store = open_store() if (settings().dist / "dataset.nq").exists() else _fresh_store()
        result = check(addition, replace=replace, store=store)
        if not result.no_violations:
            raise Rejected(result)
        cs = _commit(addition, result.removed, by=by, source=source, reverts=None)
    return cs, result


def revert(cs_id: str, *, by: str, source: str) -> ChangeSet:
    """Take back an active change set (or "latest") by recording a revert change set."""
    by = _name(by, "--by NAME")
    source = _source(source, "--source TEXT (why it is taken back)")
    with locked():
        sets = {c.id: c for c in history()}
        if cs_id == "latest":  # the most recent change set still in effect
            active = [c.id for c in sets.values() if not c.reverts and not c.reverted_by]
            if not active:
                raise BadInput("no change set in effect to revert")
            cs_id = active[-1]
        if cs_id not in sets:
            close = ", ".join(sorted(sets)[-5:]) or "none yet"
            raise BadInput(f"no change set '{cs_id}' (latest: {close})")
        target = sets[cs_id]
        if target.reverts:
            raise BadInput(f"{cs_id} is itself a revert (of {target.reverts}); add the change again instead")
        if target.reverted_by:
            raise BadInput(f"{cs_id} was already reverted by {target.reverted_by}")
        return _commit(Graph(), Graph(), by=by, source=source, reverts=cs_id)


def history() -> list[ChangeSet]:
    """Every recorded change set, oldest first, with which ones were reverted."""
    d = settings().additions
    sets = [_read_meta(p) for p in sorted(d.glob("*.trig"))] if d.is_dir() else []
    by_id = {c.id: c for c in sets}
    for c in sets:
        if c.reverts and c.reverts in by_id:
            by_id[c.reverts].reverted_by = c.id
    return sets


def _require(value: str, what: str) -> None:
    if not value or not value.strip():
        raise BadInput(f"missing {what}")


def _control(text: str, allowed: str = "") -> str | None:
    """The first control character, line/paragraph separator or bidirectional control
    of text (as repr), other than the allowed ones; None if there is none. (Other
    format characters stay: zero-width joiners belong to names in Persian script.)"""
    for ch in text:
        if ch not in allowed and (breaks(ch) or ch in BIDI_CONTROLS):
            return repr(ch)
    return None


def _name(value: str | None, what: str) -> str:
    """A steward's name: one line, no control characters (it is written in the change
    set's comment header and labels its steward IRI)."""
    value = value or ""
    _require(value, what)
    bad = _control(value)
    if bad:
        raise BadInput(f"{what.split()[0]}: the name contains a control character ({bad}: a newline, tab or "
                       "similar); give the name on one line")
    return value.strip()


def _source(value: str | None, what: str) -> str:
    """The source or reason: whitespace (newlines, tabs) becomes single spaces, as the
    web form does; any other control character is refused."""
    value = value or ""
    _require(value, what)
    bad = _control(value, allowed="\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")
    if bad:
        raise BadInput(f"{what.split()[0]}: the text contains a control character ({bad}); "
                       "give plain text")
    return " ".join(value.split())


def _fresh_store():
    """The graph built from the files, in memory: for checking before any `kg build`."""
    return OxigraphStore.in_memory(data=rdfio.serialize(build.dataset(build.load_parts()), "nquads"))


def _commit(addition: Graph, removed: Graph, *, by: str, source: str, reverts: str | None) -> ChangeSet:
    s = settings()
    cs_id = new_id()
    path = s.additions / f"{cs_id}.trig"
    text = _trig(cs_id, addition, removed, by=by, source=source, reverts=reverts)
    staging = staging_root() / cs_id
    eng = engine()
    previous = build.read_manifest(s.dist)
    prepared, committed = None, False
    try:
        # 1. the new dist/, complete, in a staging directory (the file is not in place
        #    yet), and whatever the store needs before it can show it (kg.store)
        tmp_file = staging / "changeset.trig"
        rdfio.atomic_write(tmp_file, text.encode("utf-8"))
        parts = build.load_parts(extra_changesets=[tmp_file])
        build.write_dist(parts, staging)
        tmp_file.unlink()
        prepared = eng.prepare(staging)
        # 2. commit point: the change set's file appears atomically
        rdfio.atomic_write(path, text.encode("utf-8"))
        committed = True
        # 3. the staged dist files replace the old ones, one rename each, and the
        #    store switches to the new graph (readers wait for both)
        s.dist.mkdir(parents=True, exist_ok=True)
        with eng.lock(s.dist):
            for f in staging.iterdir():
                os.replace(f, s.dist / f.name)
            try:
                eng.publish(s.dist, prepared, previous)
            except KGError as e:
                raise KGError(f"change set {cs_id} was accepted and dist/ rebuilt, but the store "
                              f"was not updated: {e} (run `kg push` or `kg build` to bring it up to date)",
                              exit_code=e.exit_code) from None
    finally:
        if not committed:
            eng.discard(prepared)
        shutil.rmtree(staging, ignore_errors=True)
    return _read_meta(path)
