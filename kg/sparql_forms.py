"""What a SPARQL text is, read from its tokens (kg.sparql_lexer): its form (SELECT,
ASK, CONSTRUCT, DESCRIBE or an update), whether it calls SERVICE, whether it names
its own dataset (FROM / FROM NAMED), how deeply it nests, and whether it stays
within the limits a public server sets.

Used to refuse updates with a clear message before any parser sees them, to refuse
federation on the public endpoint, to stop oversized or deeply nested queries with a
400 before the engine sees them (Oxigraph's recursive parser crashes the process on a
few thousand nested groups), and by the endpoint to negotiate result formats.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from kg.errors import BadInput
from kg.sparql_lexer import Token, tokens

QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
UPDATE_FORMS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}
_OPEN, _CLOSE = {"{", "(", "["}, {"}", ")", "]"}



@dataclass(frozen=True)
class QueryInfo:
    form: str | None   # SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE, or None (unrecognisable)
    service: bool      # calls SERVICE somewhere (federation)
    depth: int         # deepest nesting of {}, () and []
    dataset: bool = False  # names its own dataset: FROM / FROM NAMED (section 13.2)


def _form(toks: list[Token]) -> str | None:
    """The first keyword after the prologue (PREFIX p: <iri> / BASE <iri>)."""
    i = 0
    while i < len(toks):
        kw = toks[i].keyword
        if kw == "PREFIX":
            i += 3
        elif kw == "BASE":
            i += 2
        else:
            break
    if i >= len(toks) or toks[i].keyword is None:
        return None
    word = toks[i].keyword
    return word if word in QUERY_FORMS else "UPDATE" if word in UPDATE_FORMS else None


def _depth(toks: list[Token]) -> int:
    depth = deepest = 0
    for t in toks:
        if t.kind == "OP":
            if t.text in _OPEN:
                depth += 1
                deepest = max(deepest, depth)
            elif t.text in _CLOSE:
                depth = max(0, depth - 1)
    return deepest


def _names_dataset(toks: list[Token]) -> bool:
    """A FROM keyword outside every bracket: a DatasetClause of the query (the grammar
    allows one only there, between the form and the WHERE group; a subquery has none).
    FROM inside an IRI, a string, a comment, a prefixed name or a variable is no token
    of this kind, so it does not count."""
    depth = 0
    for t in toks:
        if t.kind == "OP" and t.text in _OPEN:
            depth += 1
        elif t.kind == "OP" and t.text in _CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0 and t.keyword == "FROM":
            return True
    return False


def without_dataset_clause(sparql: str) -> str:
    """The query (codepoint escapes replaced, as a parser reads it) without its FROM /
    FROM NAMED clauses: for a server that would add them to the Protocol's dataset
    instead of letting the Protocol's replace them (Virtuoso does)."""
    from kg.sparql_lexer import unescape

    text = unescape(sparql)
    toks = list(tokens(text))
    cuts: list[tuple[int, int]] = []
    depth = 0
    for i, t in enumerate(toks):
        if t.kind == "OP" and t.text in _OPEN:
            depth += 1
        elif t.kind == "OP" and t.text in _CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0 and t.keyword == "FROM":
            j = i + 2 if i + 1 < len(toks) and toks[i + 1].keyword == "NAMED" else i + 1
            if j < len(toks) and toks[j].kind in ("IRI", "PNAME"):
                cuts.append((t.pos, toks[j].pos + len(toks[j].text)))
    for start, end in reversed(cuts):
        text = text[:start] + " " + text[end:]
    return text


def inspect(sparql: str) -> QueryInfo:
    """The query's form, SERVICE use and depth. Short texts are remembered: the app's
    own queries are a few hundred constant texts, asked for on every page."""
    return _inspect_cached(sparql) if len(sparql) <= 4096 else _inspect(sparql)


def _inspect(sparql: str) -> QueryInfo:
    toks = list(tokens(sparql))
    return QueryInfo(_form(toks), any(t.keyword == "SERVICE" for t in toks), _depth(toks),
                     _names_dataset(toks))


_inspect_cached = lru_cache(maxsize=1024)(_inspect)


class QueryTooLarge(BadInput):
    """Longer than the query length limit: refused before any parser sees it."""


class QueryTooDeep(BadInput):
    """Nested deeper than the limit: refused before any parser sees it."""


def check_bounds(sparql: str, max_length: int | None = None, max_depth: int | None = None) -> QueryInfo:
    """The query's QueryInfo, or BadInput when it is longer or nested deeper than the
    limits (default: the configured KG_QUERY_MAX_LENGTH / KG_QUERY_MAX_DEPTH)."""
    from kg.config import query_limits

    limits = query_limits()
    max_length = limits.max_length if max_length is None else max_length
    max_depth = limits.max_depth if max_depth is None else max_depth
    if len(sparql) > max_length:
        raise QueryTooLarge(f"query too long: {len(sparql):,} characters, over the limit of {max_length:,} "
                            "(KG_QUERY_MAX_LENGTH)")
    info = inspect(sparql)
    if info.depth > max_depth:
        raise QueryTooDeep(f"query nested too deeply: {info.depth} levels of brackets, over the limit of "
                           f"{max_depth} (KG_QUERY_MAX_DEPTH)")
    return info
