"""The production HTTP server of `kg serve`: waitress, configured in this one place to
stay reachable with slow or idle clients (docs/deployment.md).

Settings (each: keyword argument > environment variable > default):

threads                 KG_SERVE_THREADS            16, or more
    Request threads. A /sparql request holds its thread while it waits for a query
    worker and while the query runs (up to KG_QUERY_TIMEOUT each); the endpoint
    admits KG_QUERY_WORKERS + KG_QUERY_QUEUE queries at once and refuses more (503),
    so the default is the larger of 16 and those + 8: at least 8 threads are always
    left for pages.
connection_limit        KG_SERVE_CONNECTION_LIMIT   1000
    Open connections before waitress stops accepting more (its default, 100, let 110
    idle sockets make the site unreachable). An idle or half-sent connection costs a
    socket and a few KB, not a thread: threads only serve complete requests.
channel_timeout         KG_SERVE_CHANNEL_TIMEOUT    30
    Seconds a connection may stay silent (no request in progress) before it is
    closed: idle keep-alive connections, and clients that connect and send nothing
    or half a request line (waitress default 120).
cleanup_interval        KG_SERVE_CLEANUP_INTERVAL   10
    How often (s) silent connections are looked for; one is closed between
    channel_timeout and channel_timeout + cleanup_interval after its last byte.
backlog                 KG_SERVE_BACKLOG            2048
    Connections the kernel queues before accept (capped by net.core.somaxconn).
max_request_header_size KG_SERVE_MAX_HEADER_BYTES   65536
    Request line + headers; a GET /sparql?query= longer than this gets 431 (POST
    long queries). waitress default 256 KB.
max_request_body_size   KG_SERVE_MAX_BODY_BYTES     10 MB, or more
    Request bodies: waitress answers 413 itself, before the app reads a byte. The
    default is 10 MiB, raised to the steward upload limit (KG_MAX_UPLOAD_BYTES,
    default 5 MB) + 1 MiB if that is larger, so that an upload between the two gets
    the steward page's own readable 413. waitress default 1 GB.

Always: asyncore_use_poll (select() fails above 1024 file descriptors),
expose_tracebacks off, proxy headers ignored (waitress's trusted_proxy is unset; see
KG_PROXY_FIX in create_app for running behind a proxy), and the soft limit on open
files is raised towards connection_limit + 256 when the hard limit allows.
"""
from __future__ import annotations

import os
from typing import Any

from kg.errors import BadInput

IDENT = "bukhara-deer-kg"
MIB = 1024 * 1024

DEFAULTS: dict[str, int] = {
    "threads": 16,
    "connection_limit": 1000,
    "channel_timeout": 30,
    "cleanup_interval": 10,
    "backlog": 2048,
    "max_request_header_size": 64 * 1024,
    "max_request_body_size": 10 * MIB,
}
ENV: dict[str, str] = {
    "threads": "KG_SERVE_THREADS",
    "connection_limit": "KG_SERVE_CONNECTION_LIMIT",
    "channel_timeout": "KG_SERVE_CHANNEL_TIMEOUT",
    "cleanup_interval": "KG_SERVE_CLEANUP_INTERVAL",
    "backlog": "KG_SERVE_BACKLOG",
    "max_request_header_size": "KG_SERVE_MAX_HEADER_BYTES",
    "max_request_body_size": "KG_SERVE_MAX_BODY_BYTES",
}
# Fixed: not worth a knob.
FIXED: dict[str, Any] = {
    "asyncore_use_poll": True,
    "expose_tracebacks": False,
    "clear_untrusted_proxy_headers": True,
    "ident": IDENT,
}


def _positive(name: str, value: Any, source: str) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise BadInput(f"{source} must be a whole number, not {value!r}") from None
    if n < 1:
        raise BadInput(f"{source} must be at least 1, not {value!r}")
    return n


# Threads kept free for pages above the SPARQL queries the endpoint admits at once.
PAGE_THREADS = 8


def options(upload_limit: int | None = None, sparql_slots: int | None = None,
            **overrides: int | None) -> dict[str, Any]:
    """The waitress keyword arguments: DEFAULTS, then the KG_SERVE_* environment, then
    `overrides` that are not None. `upload_limit` is the steward upload limit in bytes
    (the default body limit stays above it); `sparql_slots` how many /sparql requests
    the endpoint lets wait or run at once (the default thread count stays above it)."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown server settings: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = dict(DEFAULTS)
    if upload_limit:
        out["max_request_body_size"] = max(out["max_request_body_size"], int(upload_limit) + MIB)
    if sparql_slots:
        out["threads"] = max(out["threads"], int(sparql_slots) + PAGE_THREADS)
    for key, var in ENV.items():
        if os.environ.get(var, "").strip():
            out[key] = _positive(key, os.environ[var], var)
    for key, value in overrides.items():
        if value is not None:
            out[key] = _positive(key, value, key.replace("_", "-"))
    out.update(FIXED)
    return out


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open files to `wanted` if the hard limit allows (never
    lowers it); returns the soft limit in force."""
    try:
        import resource
    except ImportError:  # not on this platform
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def describe(opts: dict[str, Any]) -> str:
    """One line for the start-up message."""
    return (f"{opts['threads']} threads, up to {opts['connection_limit']} connections, idle ones closed "
            f"after {opts['channel_timeout']} s, request bodies up to {opts['max_request_body_size']:,} bytes")


def serve(app, host: str, port: int, threads: int | None = None, announce=None, **overrides: int | None) -> None:
    """Serve `app` with waitress until interrupted. `announce(text)`, if given, is
    called with a one-line summary of the settings just before serving."""
    import waitress

    cfg = getattr(app, "config", {})
    slots = int(cfg.get("QUERY_WORKERS", 2)) + int(cfg.get("QUERY_QUEUE", 4))
    opts = options(upload_limit=cfg.get("STEWARD_MAX_UPLOAD_BYTES"), sparql_slots=slots,
                   threads=threads, **overrides)
    raise_fd_limit(opts["connection_limit"] + 256)
    if announce is not None:
        announce(describe(opts))
    waitress.serve(app, host=host, port=port, **opts)
