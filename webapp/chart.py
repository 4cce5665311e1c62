"""The home page's chart: measures by planning unit and printed priority, as an
inline SVG (no JavaScript, no CDN). Each bar segment links to the filtered list."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import Markup, escape

from webapp.actions import ActionTable

MAX_BARS = 40  # a large graph has thousands of planning units: the chart shows the first ones
PRIORITY_COLOURS = {"1": "#b3261e", "2": "#e8a33d", "2-3": "#c9b458", "3": "#6b9e78", "": "#9aa0a6"}


@dataclass
class Bar:
    label: str
    href_params: dict[str, str]
    counts: dict[str, int]


def bars(table: ActionTable) -> list[Bar]:
    """One bar per planning unit, plus section 1.0 (several or all populations) and Annex 1."""
    repo = table.repo
    units: dict[str, Bar] = {}
    for a in table.rows:
        if a.kind == "annex1":
            key, label, params = "annex1", "Annex 1 (range-wide)", {"kind": "annex1"}
        elif a.units:
            unit = min(a.units)
            key, label, params = unit, repo.label(unit), {"unit": table.value("unit", unit)}
        elif a.sections:
            section = min(a.sections)
            key, label, params = section, repo.label(section), {"section": table.value("section", section)}
        else:  # an action of another programme (e.g. a CAMI action of another species)
            prog = min(a.programmes) if a.programmes else ""
            key, label = ("other", prog), repo.label(prog) if prog else "Other actions"
            params = {"kind": "other", **({"programme": table.value("programme", prog)} if prog else {})}
        bar = units.setdefault(key, Bar(label, params, {}))
        bar.counts[a.given] = bar.counts.get(a.given, 0) + 1
    return list(units.values())  # rows are in document order, so bars are too


def svg(table: ActionTable, url: str) -> Markup:
    """The chart, drawn once per graph (the home page caches it). Past MAX_BARS bars it
    stops and says how many more there are, with a link to the full list."""
    data = bars(table)
    hidden = data[MAX_BARS:]
    data = data[:MAX_BARS]
    width, label_w, row_h, bar_h = 720, 260, 30, 20
    most = max((sum(b.counts.values()) for b in data), default=1)
    scale = (width - label_w - 40) / most
    parts = [f'<svg class="chart" viewBox="0 0 {width} {row_h * len(data) + 40}" role="img" '
             f'aria-label="Measures by planning unit and priority" xmlns="http://www.w3.org/2000/svg">']
    for i, b in enumerate(data):
        y = i * row_h + 4
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(b.label[:38])}</text>')
        x = label_w
        for prio in ("1", "2", "2-3", "3", ""):
            n = b.counts.get(prio, 0)
            if not n:
                continue
            w = n * scale
            params = {**b.href_params, **({"given": prio} if prio else {"given": "none"})}
            title = f"{b.label}: {n} with priority {prio or 'not given'}"
            parts.append(f'<a href="{escape(url)}?{escape(urlencode(params))}"><rect x="{x:.1f}" y="{y}" '
                         f'width="{w:.1f}" height="{bar_h}" fill="{PRIORITY_COLOURS[prio]}">'
                         f'<title>{escape(title)}</title></rect>'
                         f'<text x="{x + w / 2:.1f}" y="{y + 15}" text-anchor="middle" class="n">{n}</text></a>')
            x += w
    ly = len(data) * row_h + 20
    lx = 40
    for prio, colour in PRIORITY_COLOURS.items():
        parts.append(f'<rect x="{lx}" y="{ly - 11}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{lx + 16}" y="{ly}">{escape("priority " + prio if prio else "none given")}</text>')
        lx += 95
    parts.append("</svg>")
    if hidden:
        n = sum(sum(b.counts.values()) for b in hidden)
        parts.append(f'<p class="hint">{len(hidden)} more bars ({n} actions) are not drawn: '
                     f'see <a href="{escape(url)}">the list of all measures</a>.</p>')
    return Markup("".join(parts))
