"""Reading and writing RDF files: rebasing, readable parse errors, atomic writes.

Every parse of RDF text goes through parse_into, which never fetches anything: rdflib's
JSON-LD parser would download a string @context and an @import (a request from the
server to any address a steward names, and a file:// context reveals which files
exist), so JSON-LD with a non-inline context is refused before rdflib sees it, and
rdflib's context fetcher is replaced by one that refuses (_no_remote_contexts).
Turtle's @prefix / @base are plain strings to rdflib: nothing to fetch.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from rdflib import Dataset, Graph

from kg.config import settings
from kg.errors import BadInput

# rdflib logs "does not look like a valid URI" for each bad IRI it parses; the input
# check (kg.changes.check_iris) refuses such IRIs with one clear message instead.
logging.getLogger("rdflib.term").setLevel(logging.ERROR)

FORMATS = {".ttl": "turtle", ".nt": "nt", ".jsonld": "json-ld", ".json": "json-ld",
           ".trig": "trig", ".nq": "nquads", ".rdf": "xml", ".owl": "xml"}


def rdf_format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise BadInput(f"{path}: unknown RDF file type '{path.suffix}' "
                       f"(use one of {', '.join(sorted(FORMATS))})") from None


def read_text(path: Path) -> str:
    """Read a UTF-8 text file (decode_input), refusing unreadable paths with a clear message."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a file") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror})") from None
    return decode_input(raw, str(path))


UTF8_BOM = b"\xef\xbb\xbf"
OTHER_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32",
              b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}  # longest first: UTF-32 LE starts like UTF-16 LE


def decode_input(data: bytes, name: str) -> str:
    """The one decoder of input (data files, change sets, uploads; CLI and web), so
    that a file is read the same everywhere: UTF-8, with a UTF-8 byte order mark
    dropped (editors on Windows write one); anything else is BadInput naming the
    file and, for an encoding error, the byte offset."""
    if not data:
        raise BadInput(f"{name}: empty file")
    for bom, encoding in OTHER_BOMS.items():
        if data.startswith(bom):
            raise BadInput(f"{name}: not UTF-8 ({encoding} byte order mark at offset 0); save the file as UTF-8")
    skip = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0  # offsets below count in the file as given
    nul = data.find(b"\x00", skip)
    if nul >= 0:
        raise BadInput(f"{name}: binary file (NUL byte at offset {nul}), "
                       "expected UTF-8 text (Turtle, JSON-LD, CSV or another RDF syntax)")
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"{name}: not UTF-8 (invalid byte 0x{data[skip + e.start]:02x} at offset {skip + e.start}); "
                       "save the file as UTF-8") from None
    if not text.strip():
        raise BadInput(f"{name}: empty file")
    return text


def _syntax_message(err: Exception) -> str:
    """rdflib's messages span lines and repeat the input; keep what and where
    (line and column)."""
    src, pos = getattr(err, "_str", None), getattr(err, "_i", None)
    why = getattr(err, "_why", None)
    if isinstance(src, (bytes, str)) and isinstance(pos, int) and why:
        if isinstance(src, bytes):
            line, start = src.count(b"\n", 0, pos) + 1, src.rfind(b"\n", 0, pos)
        else:
            line, start = src.count("\n", 0, pos) + 1, src.rfind("\n", 0, pos)
        col = pos - (start + 1) + 1
        return f"line {line}, column {col}: {why}"
    if hasattr(err, "lineno") and hasattr(err, "colno"):  # JSON-LD: json.JSONDecodeError
        return f"line {err.lineno}, column {err.colno}: {getattr(err, 'msg', err)}"
    msg = str(err)
    at = re.search(r"at line (\d+)", msg)
    reason = re.search(r"Bad syntax \((.*?)\)", msg, re.S)
    if reason:
        return f"line {at.group(1) if at else '?'}: {reason.group(1)}"
    return " ".join(msg.split())[:300]


REMOTE_CONTEXT = "remote JSON-LD contexts are not fetched: inline the context (put the object in @context)"


class RemoteContextRefused(ValueError):
    """rdflib was about to fetch a JSON-LD context (see _no_remote_contexts)."""


def parse_into(g: Graph, text: str, fmt: str, name: str) -> Graph:
    """Parse rebased text into g; a syntax error becomes BadInput naming file and line.
    JSON-LD whose context is not inline is refused (nothing is fetched)."""
    _no_remote_contexts()
    if fmt == "json-ld":
        check_jsonld_contexts(text, name)
    try:
        g.parse(data=settings().rebase(text), format=fmt, publicID=settings().base)
    except RemoteContextRefused:
        raise BadInput(f"{name}: {REMOTE_CONTEXT}") from None
    except Exception as e:  # rdflib raises many exception types for bad syntax
        raise BadInput(f"{name}: syntax error: {_syntax_message(e)}") from None
    return g


def check_jsonld_contexts(text: str, name: str) -> None:
    """Refuse JSON-LD with a context rdflib would fetch: an @context that is (or lists)
    a string -- an IRI, relative or file: -- or an @import, anywhere in the document
    (top level, nested node objects, scoped contexts of term definitions). Walks the
    parsed JSON iteratively, so deep nesting costs no recursion."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise BadInput(f"{name}: syntax error: {_syntax_message(e)}") from None
    except RecursionError:
        raise BadInput(f"{name}: syntax error: JSON nested too deeply") from None
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if "@import" in node:
            raise BadInput(f"{name}: {REMOTE_CONTEXT} (found \"@import\": {_short(node['@import'])})")
        ctx = node.get("@context")
        for item in ctx if isinstance(ctx, list) else [ctx]:
            if isinstance(item, str):
                raise BadInput(f"{name}: {REMOTE_CONTEXT} (found \"@context\": {_short(item)})")
        stack.extend(node.values())


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _refuse_fetch(source, *args, **kwargs):
    """Stands in for rdflib's source_to_json where rdflib fetches JSON-LD contexts."""
    raise RemoteContextRefused(str(source)[:200])


def _no_remote_contexts() -> None:
    """Second layer under check_jsonld_contexts: rdflib (7.x) has no setting to turn
    context fetching off, and rdflib.plugins.shared.jsonld.context calls its module's
    source_to_json only to fetch a context (string @context or @import). Replace that
    name in that module, once per process: any JSON-LD parse in the process then
    fails instead of fetching."""
    try:
        from rdflib.plugins.shared.jsonld import context as jsonld_context
    except ImportError:  # pragma: no cover - another rdflib layout; the JSON check stays
        return
    if getattr(jsonld_context, "source_to_json", None) is not _refuse_fetch:
        jsonld_context.source_to_json = _refuse_fetch


def load_files(paths: Iterable[Path], into: Graph | None = None) -> Graph:
    g = into if into is not None else Graph()
    for p in paths:
        p = Path(p)
        parse_into(g, read_text(p), rdf_format(p), str(p))
    return g


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory, fsync, rename: readers see
    the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def serialize(g: Graph | Dataset, fmt: str) -> bytes:
    out = g.serialize(format=fmt, encoding="utf-8")
    return out if isinstance(out, bytes) else out.encode("utf-8")


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on the file path (created if missing), across processes: one
    holder at a time; waiting ones are served in turn. The kernel releases it when
    the holder dies, so a killed writer never leaves a stale lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def directory_lock(directory: Path) -> AbstractContextManager[None]:
    """file_lock on directory/.lock."""
    return file_lock(directory / ".lock")
