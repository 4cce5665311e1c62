"""A tokenizer for SPARQL 1.1 text, following the terminals of the grammar
(https://www.w3.org/TR/sparql11-query/#grammar): IRIs, prefixed names, variables,
blank-node labels, strings, numbers, language tags, keywords and punctuation.

Why a tokenizer and not patterns: what a query *is* (its form, whether it calls
SERVICE, how deeply it nests) must be judged the way a parser sees the text. A
keyword inside an IRI, a string, a comment, a prefixed name (`ex:SERVICE`) or a
variable (`?service`) is not that keyword; `SERVICE :x` and `\\u0053ERVICE <x>` are.
Codepoint escapes are replaced before tokenizing, as the specification says a
parser must (section 19.2). pyoxigraph exposes no parser or algebra, so this is the
one place that reads query text; Oxigraph itself still parses and reports errors.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

_PN_CHARS_BASE = "A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D" \
                 "\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF"
_PN_CHARS = _PN_CHARS_BASE + "_0-9\u00B7\u0300-\u036F\u203F-\u2040-"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_LOCAL = rf"(?:[{_PN_CHARS_BASE}_0-9:]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
_PN_PREFIX = rf"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"

_TOKENS = [
    ("WS", r"[ \t\r\n]+"),
    ("COMMENT", r"#[^\r\n]*"),
    ("IRI", r"<[^<>\"{}|^`\\\x00-\x20]*>"),
    ("STRING", r'"""(?:[^"\\]|\\.|"(?!""))*"""' r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
               r'|"(?:[^"\\\n\r]|\\.)*"' r"|'(?:[^'\\\n\r]|\\.)*'"),
    ("VAR", rf"[?$][{_PN_CHARS_BASE}_0-9][{_PN_CHARS_BASE}_0-9\u00B7\u0300-\u036F\u203F-\u2040]*"),
    ("BNODE", rf"_:[{_PN_CHARS_BASE}_0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"),
    ("PNAME", rf"(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?"),
    ("LANGTAG", r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*"),
    ("NUMBER", r"(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)"),
    ("WORD", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("OP", r"\^\^|\|\||&&|!=|<=|>=|[{}()\[\].,;*+\-/=<>!|^?$@]"),
    ("OTHER", r"."),
]
_LEXER = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _TOKENS), re.S)
_SKIP = {"WS", "COMMENT"}


@dataclass(frozen=True)
class Token:
    kind: str   # one of the names in _TOKENS (never WS or COMMENT)
    text: str
    pos: int = 0  # offset in the unescaped text (see unescape)

    @property
    def keyword(self) -> str | None:
        """The upper-cased word if the token is a bare word (keyword, function, `a`)."""
        return self.text.upper() if self.kind == "WORD" else None


def unescape(text: str) -> str:
    """Replace \\uXXXX and \\UXXXXXXXX codepoint escapes, as a SPARQL parser does first."""
    def repl(m: re.Match) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else m.group(0)
    return _ESCAPE.sub(repl, text)


def tokens(sparql: str) -> Iterator[Token]:
    """The significant tokens of a query or update, in order (whitespace and comments
    dropped), with their offsets in unescape(sparql). Never raises: text the grammar
    has no terminal for comes as OTHER."""
    for m in _LEXER.finditer(unescape(sparql)):
        kind = m.lastgroup or "OTHER"
        if kind not in _SKIP:
            yield Token(kind, m.group(0), m.start())
