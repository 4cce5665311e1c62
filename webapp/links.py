"""Which values may become the href of a link: the one check for every template that
makes a link from data (an IRI, a URL in a literal).

Anyone with a change set can put any IRI in the graph, e.g.
`rdfs:seeAlso <javascript:alert(1)>`; rendered as <a href> that is script on our
origin. So only these become links: http, https and mailto URLs, and local
references (a path "/measure/2.10", "?format=ttl", "#id"). Everything else
(javascript:, data:, vbscript:, file:, a protocol-relative //host, anything with
whitespace, control characters or a backslash, which browsers strip or rewrite
before reading the scheme) is shown as plain text.

Use `safe_href(url)` in Python, and the Jinja filter `|safe_href` in templates:
`{% set h = value|safe_href %}{% if h %}<a href="{{ h }}">…</a>{% else %}…{% endif %}`.
"""
from __future__ import annotations

import re

from flask import Flask

SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def safe_href(url: object) -> str | None:
    """The URL if it is safe as an href, else None."""
    if not isinstance(url, str) or not url or _UNSAFE.search(url):
        return None
    m = _SCHEME.match(url)
    if m:
        return url if m.group(1).lower() in SCHEMES else None
    if url.startswith("//"):
        return None  # another host, without saying how
    if url[0] in "/?#":
        return url
    return None  # a relative path like "javascript%3A..." is not ours to guess about


def register(app: Flask) -> None:
    """The Jinja filter `safe_href` (idempotent)."""
    app.jinja_env.filters["safe_href"] = safe_href
