"""The pinned expectations: which W3C tests each engine is known to fail, and why
(tests/conformance/expected-failures.txt).

The conformance test asserts that the failing tests of an engine are exactly the
pinned ones, so a regression (a new failure) and an improvement (a pinned test that
now passes) both stop the build, each with the reason to read.

File format: one line per engine and test, `<engine> <test IRI> <reason>`, separated
by whitespace (the reason is the rest of the line); `#` starts a comment line.
"""
from __future__ import annotations

from pathlib import Path

from w3c_engines import ENGINES
from w3c_run import Outcome

PINS = Path(__file__).resolve().parent / "expected-failures.txt"

Pins = dict[tuple[str, str], str]  # (engine, test IRI) -> reason


class BadPins(ValueError):
    """The pinned-failures file does not say what it must."""


def read_pins(path: Path = PINS) -> Pins:
    pins: Pins = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            raise BadPins(f"{path.name}:{n}: want '<engine> <test IRI> <reason>', got {line!r}")
        engine, iri, reason = parts
        if engine not in ENGINES:
            raise BadPins(f"{path.name}:{n}: unknown engine {engine!r} (one of {', '.join(ENGINES)})")
        if (engine, iri) in pins:
            raise BadPins(f"{path.name}:{n}: {engine} {iri} is pinned twice")
        pins[(engine, iri)] = reason.strip()
    return pins


def check_engine(engine: str, outcomes: list[Outcome], pins: Pins) -> str | None:
    """None when the engine fails exactly the pinned tests, else what changed."""
    failed = {o.case.iri: o for o in outcomes if o.status == "fail"}
    known = {o.case.iri for o in outcomes}
    pinned = {iri: reason for (e, iri), reason in pins.items() if e == engine}
    new = sorted(set(failed) - set(pinned))
    fixed = sorted(set(pinned) & known - set(failed))
    unknown = sorted(set(pinned) - known)
    if not (new or fixed or unknown):
        return None
    lines = [f"{engine}: the failing W3C tests are not the pinned ones "
             f"(tests/conformance/expected-failures.txt):"]
    lines += [f"  NEW FAILURE  {iri}\n      {failed[iri].reason}" for iri in new]
    lines += [f"  NOW PASSES   {iri}   (was pinned: {pinned[iri]}) - remove its line" for iri in fixed]
    lines += [f"  NOT A TEST   {iri}   (pinned, but no such test is run)" for iri in unknown]
    return "\n".join(lines)


def unpinned_lines(engine: str, outcomes: list[Outcome], pins: Pins) -> list[str]:
    """Pin lines for the failures not pinned yet, with the failure text as a draft
    reason (to be replaced by the cause)."""
    return [f"{engine}  {o.case.iri}  TODO: {o.reason[:160]}" for o in outcomes
            if o.status == "fail" and (engine, o.case.iri) not in pins]
