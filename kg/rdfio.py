"""Reading and writing RDF files: rebasing, readable parse errors, atomic writes."""
from __future__ import annotations

import fcntl
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from rdflib import Dataset, Graph

from kg.config import settings
from kg.errors import BadInput

FORMATS = {".ttl": "turtle", ".nt": "nt", ".jsonld": "json-ld", ".json": "json-ld",
           ".trig": "trig", ".nq": "nquads", ".rdf": "xml", ".owl": "xml"}


def rdf_format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise BadInput(f"{path}: unknown RDF file type '{path.suffix}' "
                       f"(use one of {', '.join(sorted(FORMATS))})") from None


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, refusing binaries and other encodings with a clear message."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a file") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror})") from None
    if b"\x00" in raw:
        raise BadInput(f"{path}: binary file, expected UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 (invalid byte at offset {e.start})") from None
    if not text.strip():
        raise BadInput(f"{path}: empty file")
    return text


def _syntax_message(err: Exception) -> str:
    """rdflib's messages span lines and repeat the input; keep what and where
    (line and column)."""
    src, pos = getattr(err, "_str", None), getattr(err, "_i", None)
    why = getattr(err, "_why", None)
    if isinstance(src, (bytes, str)) and isinstance(pos, int) and why:
        nl = b"\n" if isinstance(src, bytes) else "\n"
        line = src.count(nl, 0, pos) + 1
        col = pos - (src.rfind(nl, 0, pos) + 1) + 1
        return f"line {line}, column {col}: {why}"
    if hasattr(err, "lineno") and hasattr(err, "colno"):  # JSON-LD: json.JSONDecodeError
        return f"line {err.lineno}, column {err.colno}: {getattr(err, 'msg', err)}"
    msg = str(err)
    line = re.search(r"at line (\d+)", msg)
    reason = re.search(r"Bad syntax \((.*?)\)", msg, re.S)
    if reason:
        return f"line {line.group(1) if line else '?'}: {reason.group(1)}"
    return " ".join(msg.split())[:300]


def parse_into(g: Graph, text: str, fmt: str, name: str) -> Graph:
    """Parse rebased text into g; a syntax error becomes BadInput naming file and line."""
    try:
        g.parse(data=settings().rebase(text), format=fmt, publicID=settings().base)
    except Exception as e:  # rdflib raises many exception types for bad syntax
        raise BadInput(f"{name}: syntax error: {_syntax_message(e)}") from None
    return g


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
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive flock on directory/.lock, across processes: one writer at a time;
    waiting ones are served in turn."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
