"""What a test's query says about how to run and judge it, read from its tokens
(kg.sparql_lexer, so that a word inside a string or an IRI is never a keyword).

- Its text is given to the store with a BASE declaring the query file's IRI (w3c_manifest.iri_of),
  since the store takes no base IRI and the suites' queries and results use IRIs
  relative to their files (unless the query starts with an absolute BASE).
- Its own dataset (FROM / FROM NAMED), whose files must then be in the store and
  whose dataset must apply instead of the test's qt:data / qt:graphData.
- Its top-level ORDER BY keys, for comparing answers in order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from kg.sparql_lexer import Token, tokens
from w3c_manifest import iri_of


@dataclass(frozen=True)
class QueryDataset:
    default: tuple[str, ...]   # FROM IRIs
    named: tuple[str, ...]     # FROM NAMED IRIs

    def __bool__(self) -> bool:
        return bool(self.default or self.named)


def text_with_base(path: Path) -> str:
    """The query text, with the query file's IRI as its base, unless it declares an
    absolute base of its own (a second BASE is valid SPARQL, but Virtuoso rejects it)."""
    text = path.read_text(encoding="utf-8")
    toks = list(tokens(text))
    if toks and toks[0].keyword == "BASE" and len(toks) > 1 and ":" in toks[1].text:
        return text
    return f"BASE <{iri_of(path)}>\n" + text


def _top_level(toks: list[Token]) -> list[tuple[int, Token]]:
    """The tokens outside every {} group, with their index."""
    depth, out = 0, []
    for i, t in enumerate(toks):
        if t.kind == "OP" and t.text == "{":
            depth += 1
        elif t.kind == "OP" and t.text == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append((i, t))
    return out


def _resolve(tok: Token, base: str, prefixes: dict[str, str]) -> str:
    if tok.kind == "IRI":
        return urljoin(base, tok.text[1:-1])
    prefix, _, local = tok.text.partition(":")
    return prefixes[prefix] + local


def dataset_clause(path: Path) -> QueryDataset:
    """The FROM and FROM NAMED graphs of the query (IRIs resolved against its base)."""
    toks = list(tokens(text_with_base(path)))
    base, prefixes = iri_of(path), {}
    default: list[str] = []
    named: list[str] = []
    top = _top_level(toks)
    for i, t in top:
        if t.keyword == "BASE" and i + 1 < len(toks):
            base = urljoin(base, toks[i + 1].text[1:-1])
        elif t.keyword == "PREFIX" and i + 2 < len(toks):
            prefixes[toks[i + 1].text.rstrip(":")] = urljoin(base, toks[i + 2].text[1:-1])
        elif t.keyword == "FROM" and i + 1 < len(toks):
            if toks[i + 1].keyword == "NAMED":
                named.append(_resolve(toks[i + 2], base, prefixes))
            else:
                default.append(_resolve(toks[i + 1], base, prefixes))
    return QueryDataset(tuple(default), tuple(named))


def order_keys(path: Path, projected: tuple[str, ...]) -> list[str] | None | bool:
    """False without a top-level ORDER BY; the sort variables when every key is a
    projected variable (plain, ASC(?v) or DESC(?v)); None when a key is anything else."""
    toks = list(tokens(path.read_text(encoding="utf-8")))
    top = _top_level(toks)
    start = next((i for i, t in top if t.keyword == "ORDER" and i + 1 < len(toks)
                  and toks[i + 1].keyword == "BY"), None)
    if start is None:
        return False
    keys: list[str] = []
    i = start + 2
    while i < len(toks) and toks[i].keyword not in ("LIMIT", "OFFSET", "VALUES"):
        t = toks[i]
        if t.kind == "VAR":
            keys.append(t.text[1:])
            i += 1
        elif t.keyword in ("ASC", "DESC") and i + 3 < len(toks) and toks[i + 1].text == "(" \
                and toks[i + 2].kind == "VAR" and toks[i + 3].text == ")":
            keys.append(toks[i + 2].text[1:])
            i += 4
        else:
            return None
    return keys if keys and all(k in projected for k in keys) else None
