"""What a SPARQL text is, without parsing it: its form (SELECT, ASK, CONSTRUCT,
DESCRIBE or an update) and whether it calls SERVICE. IRIs, strings and comments are
blanked out first, so a keyword inside them does not count. Used to refuse updates
with a clear message before any parser sees them, and by the endpoint to negotiate
result formats."""
from __future__ import annotations

import re

_LEX = re.compile(r'''<[^<>"{}|^`\\\s]*>|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\''''
                  r'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\#[^\n]*''', re.S)
_FIRST = re.compile(r"\s*(?:(?:PREFIX\s*[^\s:]*:\s*<>|BASE\s*<>)\s*)*([A-Za-z]+)", re.I)
_SERVICE = re.compile(r"(?<![\w:?$])SERVICE\b(?!\s*:)", re.I)
QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
UPDATE_FORMS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}


def _skeleton(sparql: str) -> str:
    def repl(m: re.Match) -> str:
        t = m.group(0)
        return "<>" if t[0] == "<" else " " if t[0] == "#" else '""'
    return _LEX.sub(repl, sparql)


def form(sparql: str) -> str | None:
    """SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE, or None when unrecognisable
    (the parser will then report the syntax error)."""
    m = _FIRST.match(_skeleton(sparql))
    if not m:
        return None
    word = m.group(1).upper()
    return word if word in QUERY_FORMS else "UPDATE" if word in UPDATE_FORMS else None


def uses_service(sparql: str) -> bool:
    return bool(_SERVICE.search(_skeleton(sparql)))
