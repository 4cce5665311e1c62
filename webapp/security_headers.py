"""Security headers on every response, set in one place (registered by create_app).

What they are for:

- Content-Security-Policy: scripts and styles come from this server only (no inline
  script anywhere, no eval, no plugins); the pages may not be framed (clickjacking);
  forms post to this server only; <base> cannot be redirected. The SPARQL page relaxes
  what YASGUI needs (see SPARQL_PAGE below), and only there.
- X-Frame-Options: DENY, for browsers that predate frame-ancestors.
- X-Content-Type-Options: nosniff, so that a Turtle, CSV or text/plain answer (which
  can echo user input) is never sniffed into HTML or script.
- Referrer-Policy: same-origin; nothing outside needs to know which page of the graph
  a visitor came from.
- Cross-Origin-Opener-Policy: same-origin (a page opened by another site gets no
  handle on ours).
- Strict-Transport-Security, only when the request came over HTTPS (directly or, with
  KG_PROXY_FIX, as the proxy says): a plain-HTTP development server never sends it.

Headers a view or a blueprint has set already win: /sparql keeps its CORS headers, the
steward pages keep their own Cache-Control. A Content-Security-Policy set earlier is
merged directive by directive (its directives win; ours fill in the ones it does not
name), so a view's own directives and this policy make one header, not two.
"""
from __future__ import annotations

from flask import Flask, Response, request

# The policy of every page. 'self' is the origin the page was served from.
BASE_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

# The SPARQL page (YASGUI 4.6, from npm) needs two relaxations, found by loading /sparql
# in headless Chromium under BASE_POLICY and reading the CSP violations from the
# console (kept honest by tests/security/test_headers.py::test_yasgui_runs_under_the_policy):
# - style-src 'unsafe-inline': YASR's table plugin (column-resizer) injects <style>
#   elements for its resize grips and drag cursor; without it the result table's
#   columns cannot be resized. Inline *styles* only: scripts stay 'self'.
# - connect-src https://lov.linkeddata.es: YASQE completes class and property names
#   from the Linked Open Vocabularies API as one types (the editor sends LOV what is
#   typed after a prefix, as it always did). Queries go only to this server's endpoint.
# No worker, blob: or eval is needed (Papa Parse's blob worker is not used by YASR).
SPARQL_PAGE: dict[str, str] = {
    "style-src": "'self' 'unsafe-inline'",
    "connect-src": "'self' https://lov.linkeddata.es",
}

OTHER_HEADERS: dict[str, str] = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def policy_for(path: str) -> dict[str, str]:
    """The CSP directives for a request path."""
    if path == "/sparql":
        return {**BASE_POLICY, **SPARQL_PAGE}
    return dict(BASE_POLICY)


def parse_csp(value: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: sources} (first one wins, as in
    browsers)."""
    out: dict[str, str] = {}
    for part in value.split(";"):
        words = part.split()
        if words and words[0].lower() not in out:
            out[words[0].lower()] = " ".join(words[1:])
    return out


def format_csp(directives: dict[str, str]) -> str:
    return "; ".join(f"{k} {v}".rstrip() for k, v in directives.items())


def merged_csp(existing: str | None, ours: dict[str, str]) -> str:
    """Our policy with the directives of an already-set header taking precedence."""
    theirs = parse_csp(existing or "")
    return format_csp({**ours, **theirs})


def apply(resp: Response) -> Response:
    headers = resp.headers
    headers["Content-Security-Policy"] = merged_csp(headers.get("Content-Security-Policy"),
                                                    policy_for(request.path))
    for name, value in OTHER_HEADERS.items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return resp


def register(app: Flask) -> None:
    """Run `apply` after every other after_request function of the app, wherever
    create_app calls this: Flask runs them in reverse order of registration, and one
    of them (the SPARQL endpoint's 405) replaces the response object, so the headers
    must be set on the final one."""
    app.after_request_funcs.setdefault(None, []).insert(0, apply)


def proxy_hops(value=None) -> int:
    """How many reverse proxies to trust for X-Forwarded-For/-Proto: KG_PROXY_FIX (a
    config value, else the environment variable). Unset, "", "0", "false", "no": none,
    the default (the app then trusts no forwarding header). "1", "true", "yes": one."""
    import os

    from kg.errors import BadInput

    if value is None:
        value = os.environ.get("KG_PROXY_FIX", "")
    text = str(value).strip().lower()
    if text in ("", "0", "false", "no", "off", "none"):
        return 0
    if text in ("true", "yes", "on"):
        return 1
    try:
        hops = int(text)
    except ValueError:
        raise BadInput(f"KG_PROXY_FIX must be a number of proxies (0, 1, 2 ...) or true/false, "
                       f"not {value!r}") from None
    if hops < 0:
        raise BadInput(f"KG_PROXY_FIX must not be negative, not {value!r}")
    return hops
