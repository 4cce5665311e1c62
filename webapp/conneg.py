"""Content negotiation for entity and dataset descriptions and the SPARQL endpoint.

?format= wins when it names a representation the resource offers; an unknown or
unavailable ?format= falls back to the Accept header (SPARQLWrapper always sends
format=, and its value is not always ours), which is read as RFC 9110 §12.5.1 says:
q-values, the most specific range decides a type's q (so `text/turtle;q=0, */*`
excludes Turtle), ties go to the more specific range and then to the server's order.
No Accept header (or an unreadable one) means anything; HTML is the default, as
browsers expect. `application/json` is served as JSON-LD (JSON-LD 1.1 §9: a JSON-LD
document is JSON), with Content-Type application/ld+json."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pyoxigraph as ox
from flask import Request, Response

RDF_MEDIA = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}
# rdflib's serializer names, for the views that serialize rdflib graphs
RDFLIB_FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/n-triples": "nt",
                  "application/rdf+xml": "xml"}
ALIASES = {"html": "text/html", "ttl": "text/turtle", "turtle": "text/turtle", "jsonld": "application/ld+json",
           "json-ld": "application/ld+json", "json": "application/ld+json", "nt": "application/n-triples",
           "ntriples": "application/n-triples", "rdf": "application/rdf+xml", "xml": "application/rdf+xml",
           "rdfxml": "application/rdf+xml", "rdf-xml": "application/rdf+xml"}
# Accept-header types served as another offered type (never listed as offered themselves)
MEDIA_ALIASES = {"application/json": "application/ld+json", "application/x-turtle": "text/turtle"}
OFFERED = ["text/html", *RDF_MEDIA]
RDF_OFFERED = list(RDF_MEDIA)

# An XML QName's local part: RDF/XML writes every predicate as namespace + NCName.
_NCNAME_TAIL = re.compile(r"[^\W\d][\w.\-\u00b7]*$")


class NotAcceptable(Exception):
    """No representation matches what the client asked for."""


class NotRepresentable(NotAcceptable):
    """The chosen syntax cannot carry these triples (RDF/XML and a predicate IRI
    that does not end in an XML name)."""


# ---------------------------------------------------------------------------
# The Accept header.

def parse_accept(header: str) -> list[tuple[str, str, float]]:
    """(type, subtype, q) of each media range; malformed ranges are dropped."""
    out = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        if "/" not in fields[0]:
            continue
        main, sub = (x.strip().lower() for x in fields[0].split("/", 1))
        if not main or not sub:
            continue
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = min(1.0, max(0.0, float(f[2:])))
                except ValueError:
                    q = 0.0
        out.append((main, sub, q))
    return out


def quality(accept: list[tuple[str, str, float]], media: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching `media`: exact 2,
    type/* 1, */* 0; (0, -1) when nothing matches."""
    main, sub = media.split("/")
    best, spec = 0.0, -1
    for m, s, q in accept:
        level = 2 if (m, s) == (main, sub) else 1 if (m == main and s == "*") else 0 if m == s == "*" else -1
        if level >= 0 and (level > spec or (level == spec and q > best)):
            best, spec = q, level
    return best, spec


def explicit_q(accept: list[tuple[str, str, float]], media: str) -> float:
    """q of `media` when the client names it; 0 when only a wildcard would match."""
    main, sub = media.split("/")
    return max((q for m, s, q in accept if (m, s) == (main, sub)), default=0.0)


def best_match(header: str | None, offered: Sequence[str]) -> str | None:
    """The offered media type (or a MEDIA_ALIASES key, returned as its target) the
    header prefers; offered[0] without a usable header; None when all are refused."""
    accept = parse_accept(header or "")
    if not accept:
        return offered[0] if offered else None
    candidates = list(offered) + [a for a, target in MEDIA_ALIASES.items() if target in offered and a not in offered]
    best, rank, choice = 0.0, -1, None
    for media in candidates:
        q, spec = quality(accept, media)
        if q > best or (q == best and q > 0 and spec > rank):
            best, rank, choice = q, spec, media
    if choice is None:
        return None
    return choice if choice in offered else MEDIA_ALIASES[choice]


def choose(request: Request, offered: Sequence[str] = OFFERED) -> str:
    """The media type to answer with: ?format= when it names an offered type, else the
    Accept header; NotAcceptable (with the offered types) when neither can be served."""
    fmt = request.args.get("format")
    note = ""
    if fmt:
        value = fmt.strip().lower()
        media = ALIASES.get(value, MEDIA_ALIASES.get(value, value))
        if media in offered:
            return media
        note = f"format '{fmt}' is not offered here, and "
    best = best_match(request.headers.get("Accept"), offered)
    if best is None:
        raise NotAcceptable(note + "none of the media types in the Accept header is available; this resource is "
                            "offered as " + ", ".join(offered) + " (or ?format="
                            + "|".join(k for k, v in ALIASES.items() if v in offered) + ")")
    return best


def not_acceptable(e: NotAcceptable) -> Response:
    """The 406 (one text line, Vary: Accept) of a resource that negotiates."""
    return Response(str(e) + "\n", status=406, mimetype="text/plain", headers={"Vary": "Accept"})


# ---------------------------------------------------------------------------
# Writing.

def xml_splittable(iri: str) -> bool:
    """Can RDF/XML write this predicate (namespace + non-empty NCName local part)?"""
    return _NCNAME_TAIL.search(iri) is not None


def serialize(triples: Iterable[ox.Triple], media: str, prefixes: dict[str, str]) -> bytes:
    """Triples in `media`. RDF/XML: sorted by subject (Oxigraph groups only adjacent
    triples under one rdf:Description), NotRepresentable for a predicate it cannot
    write (Oxigraph would otherwise emit an empty element name)."""
    fmt = RDF_MEDIA[media]
    if fmt == ox.RdfFormat.RDF_XML:
        triples = sorted(triples, key=lambda t: (isinstance(t.subject, ox.BlankNode), str(t.subject)))
        for t in triples:
            if not xml_splittable(t.predicate.value):
                raise NotRepresentable(f"RDF/XML cannot write the predicate <{t.predicate.value}> (its IRI does "
                                       "not end in an XML name); ask for Turtle, N-Triples or JSON-LD")
    kwargs = {"prefixes": prefixes} if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else {}
    return ox.serialize(triples, format=fmt, **kwargs)


def ntriples_to(body: bytes, media: str, prefixes: dict[str, str]) -> bytes:
    """N-Triples re-written in `media` (lexical forms kept: parsing does not normalise)."""
    return serialize(ox.parse(body, format=ox.RdfFormat.N_TRIPLES), media, prefixes)


def mimetype(media: str) -> str:
    return f"{media}; charset=utf-8" if media.startswith("text/") or media == "application/n-triples" else media
