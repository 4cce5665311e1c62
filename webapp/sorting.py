"""Natural sort: 2.9 before 2.10, "Measure 9.1" before "Measure 10.1"."""
from __future__ import annotations

import re


def natural_key(text: str) -> tuple:
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", text) if t)
