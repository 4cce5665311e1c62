"""The throw-away OpenLink Virtuoso 7 server of the integration tests: the one that
benchmarks/virtuoso_server.py defines, so tests and benchmarks share one copy (the
benchmarks never import from tests/, so the code lives there)."""
from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # benchmarks/ is not installed: import it from the checkout
    sys.path.insert(0, _ROOT)

from benchmarks.virtuoso_server import Virtuoso, VirtuosoError, start  # noqa: E402,F401
