"""Web settings from environment variables (documented in docs/web.md, docs/deployment.md and SECURITY.md)."""
from __future__ import annotations

import os

from kg.config import settings as kg_settings


def load_settings() -> dict:
    return {
        "KG_DIST": str(kg_settings().dist),
        "KG_BASE": kg_settings().base,
        # SPARQL endpoint limits: a query is stopped after this many seconds, or when
        # its serialized result grows past this many bytes.
        "QUERY_TIMEOUT": float(os.environ.get("KG_QUERY_TIMEOUT", "10")),
        "QUERY_MAX_BYTES": int(os.environ.get("KG_QUERY_MAX_BYTES", str(20 * 1024 * 1024))),
        "QUERY_WORKERS": int(os.environ.get("KG_QUERY_WORKERS", "2")),
        # queries admitted beyond the running ones (they wait for a worker); one more
        # gets 503 at once, so waiting queries never hold the threads pages need
        "QUERY_QUEUE": int(os.environ.get("KG_QUERY_QUEUE", "4")),
        # address-space ceiling of each query worker, in MB (0: none)
        "QUERY_MAX_MEMORY": int(os.environ.get("KG_QUERY_MAX_MEMORY", "2048")) * 2**20,
        # largest POST /sparql body, in bytes (413 above it)
        "QUERY_MAX_BODY": int(os.environ.get("KG_QUERY_MAX_BODY", str(1024 * 1024))),
        "JSON_SORT_KEYS": False,
        # build the per-graph caches (action table, counts, matrix, search index...) in
        # a background thread at start and after every reload; off in tests (TESTING)
        "WARM_UP": os.environ.get("KG_WARM_UP", "1") not in ("0", "false", "no"),
    }
