"""Error text fit for a response: no file-system paths, no Python exception class names.

One scrubber for every message that leaves the app with an exception's text in it:
the SPARQL worker's engine errors (query_runner.scrub, which also makes it one short
line) and the steward pages' errors (routes.steward.public_message, which shows a
path relative to the project). The log keeps the original text.
"""
from __future__ import annotations

import re
from collections.abc import Callable

# An absolute (or ~/) path of one or more segments. Not preceded by a word character,
# ':' or '/', so IRIs (scheme://...) and words like "text/turtle" or "and/or" are kept.
_PATH = re.compile(r"(?<![\w/:.~-])~?(?:/[^\s/'\"()<>,;:]+)+/?")
# "PermissionError: ", "pyoxigraph.SyntaxError " ... (a nested exception's class name).
_EXC_NAME = re.compile(r"\b(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)\b:?\s*")


def public_text(text: str, path: Callable[[str], str] = lambda _p: "<path>") -> str:
    """`text` with each file-system path replaced by `path(match)` ("<path>" unless
    given) and exception class names dropped."""
    return _EXC_NAME.sub("", _PATH.sub(lambda m: path(m.group(0)), text))
