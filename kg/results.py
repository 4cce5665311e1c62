"""Query results as a text table, CSV or SPARQL JSON: one place that turns Oxigraph
results into what people and programs read."""
from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox

from kg.store import prefixes


def term_text(term, compact: bool = False) -> str:
    """The lexical form of a term; IRIs optionally shortened with the known prefixes."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        if compact:
            for p, ns in sorted(prefixes().items(), key=lambda kv: -len(kv[1])):
                if term.value.startswith(ns):
                    return f"{p}:{term.value[len(ns):]}"
        return term.value
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return term.value


def rows(result) -> tuple[list[str], list[list]]:
    """Variables and rows of a SELECT (or ASK, as one boolean row) result."""
    if isinstance(result, ox.QueryBoolean):
        return ["boolean"], [[ox.Literal(str(bool(result)).lower())]]
    if isinstance(result, ox.QueryTriples):
        return ["subject", "predicate", "object"], [[t.subject, t.predicate, t.object] for t in result]
    names = [v.value for v in result.variables]
    return names, [[sol[n] for n in names] for sol in result]


def as_table(names: list[str], data: list[list]) -> str:
    cells = [[term_text(t, compact=True) for t in r] for r in data]
    widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
    widths = [min(w, 80) for w in widths]

    def fmt(r: list[str]) -> str:
        return "  ".join(c[:80].ljust(w) for c, w in zip(r, widths)).rstrip()

    lines = [fmt(names), fmt(["-" * w for w in widths]), *(fmt(c) for c in cells)]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines)


def as_csv(names: list[str], data: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for r in data:
        w.writerow([term_text(t) for t in r])
    return buf.getvalue()


def _json_term(t) -> dict:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    d = {"type": "literal", "value": t.value}
    if t.language:
        d["xml:lang"] = t.language
    elif t.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        d["datatype"] = t.datatype.value
    return d


def as_json(names: list[str], data: list[list], boolean: bool | None = None) -> str:
    """SPARQL 1.1 Query Results JSON."""
    if boolean is not None:
        return json.dumps({"head": {}, "boolean": boolean}, indent=2)
    bindings = [{n: _json_term(t) for n, t in zip(names, r) if t is not None} for r in data]
    return json.dumps({"head": {"vars": names}, "results": {"bindings": bindings}},
                      indent=2, ensure_ascii=False)
