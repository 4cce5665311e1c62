"""Is an engine's answer the expected one? The comparison engine makers use.

- Solutions are multisets of rows. Blank nodes are placeholders: an answer matches
  when one renaming of its blank-node labels, the same across the whole answer,
  makes it equal to the expected rows.
- When the query orders its solutions (a top-level ORDER BY) and the expected
  answer is a sequence, the order counts too: the sequence of sort keys must be the
  expected one (rows that tie on every key may come in any order). When a key is an
  expression rather than a projected variable, the whole rows are compared in order.
- REDUCED (mf:LaxCardinality): each row may come fewer times than expected, but
  every expected row at least once and no other row.
- CONSTRUCT answers are graphs, compared by RDF graph isomorphism (rdflib.compare).
- TSV writes numbers as Turtle numbers: there, numbers of one datatype compare by
  value (the one place the suites compare values, not terms).
- CSV keeps only text; the answer is compared after turning it into CSV cells (the
  columns by name, as a CSV reader matches them to variables).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from rdflib import Graph
from rdflib.compare import isomorphic

from w3c_results import Answer, Boolean, CsvTable, Row, Solutions, Triples, as_csv, number_value, show, to_rdflib

MAX_STEPS = 200_000  # backtracking budget when matching blank nodes


def compare(expected: Answer, actual: Answer, *, order_keys: list[str] | None | bool = None,
            lax: bool = False) -> str | None:
    """None when the answer matches, else one line saying how it differs.
    order_keys: False when the query has no top-level ORDER BY, a list of variable names
    when it sorts by projected variables, None when it sorts by something else."""
    if isinstance(expected, CsvTable):
        if not isinstance(actual, Solutions):
            return f"expected solutions, got {type(actual).__name__}"
        actual = as_csv(actual)
        if set(actual.variables) != set(expected.variables):
            return f"CSV header {sorted(actual.variables)} != expected {sorted(expected.variables)}"
        return _rows(expected.rows, actual.rows, ordered=order_keys is not False,
                     keys=order_keys if isinstance(order_keys, list) else None, lax=lax)
    if type(actual) is not type(expected):
        return f"expected {type(expected).__name__}, got {type(actual).__name__}"
    if isinstance(expected, Boolean):
        return None if expected.value == actual.value else f"expected {expected.value}, got {actual.value}"
    if isinstance(expected, Triples):
        return _graphs(expected, actual)
    if set(actual.variables) != set(expected.variables):
        return f"variables {sorted(actual.variables)} != expected {sorted(expected.variables)}"
    ordered = expected.ordered and order_keys is not False
    if expected.numbers_by_value:
        expected = Solutions(expected.variables, _by_value(expected.rows), expected.ordered)
        actual = Solutions(actual.variables, _by_value(actual.rows))
    return _rows(expected.rows, actual.rows, ordered=ordered,
                 keys=order_keys if isinstance(order_keys, list) else None, lax=lax)


def _by_value(rows: list[Row]) -> list[Row]:
    return [{k: number_value(t) for k, t in row.items()} for row in rows]


def _graphs(expected: Triples, actual: Triples) -> str | None:
    g1, g2 = Graph(), Graph()
    for source, g in ((expected, g1), (actual, g2)):
        for t in source.triples:
            g.add(tuple(to_rdflib(x) for x in t))
    if isomorphic(g1, g2):
        return None
    return (f"graphs differ: {len(g2)} triples, expected {len(g1)}; "
            f"e.g. {_sample(_masked_triples(g2) - _masked_triples(g1))} unexpected, "
            f"{_sample(_masked_triples(g1) - _masked_triples(g2))} missing")


def _masked_triples(g: Graph) -> set[str]:
    from w3c_results import from_rdflib

    return {" ".join("_:" if x[0] == "B" else show(x) for x in map(from_rdflib, t)) for t in g}


def _sample(items) -> str:
    items = sorted(items)
    return "[" + "; ".join(items[:2]) + (" …" if len(items) > 2 else "") + "]" if items else "none"


def _mask(row: Row) -> tuple:
    """A row with its blank nodes made indistinguishable."""
    return tuple(sorted((k, ("B",) if t[0] == "B" else t) for k, t in row.items()))


def _rows(expected: list[Row], actual: list[Row], *, ordered: bool, keys: list[str] | None,
          lax: bool) -> str | None:
    e_masked, a_masked = Counter(map(_mask, expected)), Counter(map(_mask, actual))
    if lax:
        if set(e_masked) != set(a_masked) or any(a_masked[r] > e_masked[r] for r in a_masked):
            return _difference(e_masked, a_masked, len(expected), len(actual))
        expected = _distinct(expected)
        actual = _distinct(actual)
    elif e_masked != a_masked:
        return _difference(e_masked, a_masked, len(expected), len(actual))
    if not _isomorphic(expected, actual):
        return "rows differ in how their blank nodes are shared"
    if ordered:
        pick: Callable[[Row], tuple] = (lambda r: _mask({k: r[k] for k in keys if k in r})) if keys else _mask
        e_seq, a_seq = [pick(r) for r in expected], [pick(r) for r in actual]
        if e_seq != a_seq:
            i = next(i for i, (x, y) in enumerate(zip(e_seq, a_seq)) if x != y)
            return (f"order differs at row {i + 1}: {_fmt(actual[i])}, expected {_fmt(expected[i])}"
                    + (f" (sort keys {keys})" if keys else ""))
    return None


def _distinct(rows: list[Row]) -> list[Row]:
    seen, out = set(), []
    for r in rows:
        key = tuple(sorted(r.items()))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _isomorphic(expected: list[Row], actual: list[Row]) -> bool:
    """Is there one bijection of blank-node labels under which the multisets are equal?
    Backtracking over the rows that hold blank nodes (the others already matched)."""
    e_b = [r for r in expected if any(t[0] == "B" for t in r.values())]
    a_b = [r for r in actual if any(t[0] == "B" for t in r.values())]
    if not e_b and not a_b:
        return True
    used = [False] * len(e_b)
    steps = 0

    def extend(row_a: Row, row_e: Row, a2e: dict, e2a: dict) -> tuple[dict, dict] | None:
        if row_a.keys() != row_e.keys():
            return None
        a2e, e2a = dict(a2e), dict(e2a)
        for k, ta in row_a.items():
            te = row_e[k]
            if ta[0] == "B" and te[0] == "B":
                if a2e.get(ta[1], te[1]) != te[1] or e2a.get(te[1], ta[1]) != ta[1]:
                    return None
                a2e[ta[1]], e2a[te[1]] = te[1], ta[1]
            elif ta != te:
                return None
        return a2e, e2a

    def search(i: int, a2e: dict, e2a: dict) -> bool:
        nonlocal steps
        if i == len(a_b):
            return True
        for j, row_e in enumerate(e_b):
            steps += 1
            if steps > MAX_STEPS:
                raise RuntimeError("blank-node matching gave up (too many candidate mappings)")
            if used[j]:
                continue
            m = extend(a_b[i], row_e, a2e, e2a)
            if m is None:
                continue
            used[j] = True
            if search(i + 1, *m):
                return True
            used[j] = False
        return False

    return len(e_b) == len(a_b) and search(0, {}, {})


def _fmt(row: Row) -> str:
    return "{" + ", ".join(f"?{k}={show(t)}" for k, t in sorted(row.items())) + "}"


def _difference(e: Counter, a: Counter, n_e: int, n_a: int) -> str:
    missing = list((e - a).elements())
    extra = list((a - e).elements())

    def fmt(masked) -> str:
        return "{" + ", ".join(f"?{k}={'_:' if t == ('B',) else show(t)}" for k, t in masked) + "}"
    parts = [f"{n_a} rows, expected {n_e}"]
    if missing:
        parts.append(f"missing {len(missing)}: " + "; ".join(fmt(r) for r in missing[:2])
                     + (" …" if len(missing) > 2 else ""))
    if extra:
        parts.append(f"unexpected {len(extra)}: " + "; ".join(fmt(r) for r in extra[:2])
                     + (" …" if len(extra) > 2 else ""))
    return "; ".join(parts)
