"""Content negotiation for entity and dataset descriptions: ?format= wins, then the
Accept header (with q-values); HTML is the default, as browsers expect."""
from __future__ import annotations

import pyoxigraph as ox
from flask import Request

RDF_MEDIA = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
}
ALIASES = {"html": "text/html", "ttl": "text/turtle", "turtle": "text/turtle", "jsonld": "application/ld+json",
           "json-ld": "application/ld+json", "json": "application/ld+json", "nt": "application/n-triples",
           "ntriples": "application/n-triples"}
OFFERED = ["text/html", *RDF_MEDIA]


class NotAcceptable(Exception):
    """No representation matches what the client asked for."""


def choose(request: Request, offered: list[str] = OFFERED) -> str:
    fmt = request.args.get("format")
    if fmt:
        media = ALIASES.get(fmt.lower(), fmt.lower())
        if media not in offered:
            raise NotAcceptable(f"unknown format '{fmt}'; use one of: "
                                + ", ".join(k for k, v in ALIASES.items() if v in offered))
        return media
    if not request.accept_mimetypes:
        return offered[0]
    best = request.accept_mimetypes.best_match(offered)
    if best is None:
        raise NotAcceptable("none of the requested media types is available; this resource is offered as "
                            + ", ".join(offered))
    return best


def serialize(triples, media: str, prefixes: dict[str, str]) -> bytes:
    fmt = RDF_MEDIA[media]
    kwargs = {"prefixes": prefixes} if fmt in (ox.RdfFormat.TURTLE,) else {}
    return ox.serialize(triples, format=fmt, **kwargs)


def mimetype(media: str) -> str:
    return f"{media}; charset=utf-8" if media.startswith("text/") or media == "application/n-triples" else media
