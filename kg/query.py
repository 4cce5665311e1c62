"""Named competency queries (queries/*.rq) and running any query by name, file or text."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pyoxigraph as ox

from kg import results
from kg.config import settings
from kg.errors import BadInput
from kg.store import Store


@dataclass(frozen=True)
class NamedQuery:
    name: str
    question: str      # the "# Question:" line
    description: str   # further leading comment lines, if any
    sparql: str
    path: Path


def _header(text: str) -> tuple[str, str]:
    """Question and description from a query's leading comment block."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    question = lines[0].removeprefix("Question:").strip() if lines else ""
    return question, " ".join(l for l in lines[1:] if l)


def named_queries() -> list[NamedQuery]:
    out = []
    for p in sorted(settings().queries_dir.glob("*.rq")):
        text = p.read_text(encoding="utf-8")
        out.append(NamedQuery(p.stem, *_header(text), text, p))
    return out


def resolve(arg: str) -> str:
    """A query given as NAME (of queries/), a FILE path, or SPARQL text."""
    qdir = settings().queries_dir
    looks_like_name = len(arg) < 256 and not any(c.isspace() or c in "{}" for c in arg)
    for cand in ((qdir / arg, qdir / f"{arg}.rq") if looks_like_name else ()):
        if cand.is_file():
            return cand.read_text(encoding="utf-8")
    if "\n" not in arg and len(arg) < 256 and (arg.endswith((".rq", ".sparql")) or "/" in arg and " " not in arg):
        p = Path(arg)
        if p.is_file():
            return p.read_text(encoding="utf-8")
        if arg.endswith((".rq", ".sparql")):
            names = ", ".join(q.name for q in named_queries())
            raise BadInput(f"no query file '{arg}' (named queries: {names})")
    if not any(c.isspace() or c == "{" for c in arg):  # a name or path, not a query
        names = ", ".join(q.name for q in named_queries())
        raise BadInput(f"'{arg}' is neither a named query, a file, nor SPARQL (named queries: {names})")
    return arg


def run(store: Store, sparql: str, fmt: str = "table") -> str:
    """Run a query and format its result (table, csv or json for SELECT/ASK;
    Turtle-like N-Triples for CONSTRUCT/DESCRIBE)."""
    res = store.query(sparql)
    if isinstance(res, ox.QueryTriples):
        if fmt == "table":
            names, data = results.rows(res)
            return results.as_table(names, data)
        return cast(bytes, ox.serialize(list(res), format=ox.RdfFormat.N_TRIPLES)).decode()
    if isinstance(res, ox.QueryBoolean):
        if fmt == "json":
            return results.as_json([], [], boolean=bool(res))
        return "true" if bool(res) else "false"
    names, data = results.rows(res)
    if fmt == "csv":
        return results.as_csv(names, data)
    if fmt == "json":
        return results.as_json(names, data)
    return results.as_table(names, data)
