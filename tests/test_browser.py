"""A real browser (headless Chromium driven by Playwright) against the real server:
`kg serve` in a subprocess on a free loopback port, serving the session-built dist/.

Each step asserts something that could fail and leaves a screenshot in
test-artifacts/browser/NN-step.png. Expected values are computed independently of
the web app, by SPARQL on the store the conftest builds.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser  # headless Chromium

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "browser"
SHOTS.mkdir(parents=True, exist_ok=True)
BASE_IRI = "https://w3id.org/bukhara-deer/"
ONT = BASE_IRI + "ontology#"
UNIT = "upper-amu-darya"          # planning unit chosen in the filter form
TIMEOUT_MS = 15_000


def _values(store, sparql: str) -> list[dict[str, str]]:
    res = store.query(sparql)
    names = [v.value for v in res.variables]
    return [{n: (sol[n].value if sol[n] is not None else "") for n in names} for sol in res]


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def server(live_server):
    return live_server


def test_browser_walkthrough(server, browser, store):
    errors: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    # Every failed same-origin request except the browser's own favicon probe.
    page.on("response", lambda r: r.status >= 400 and r.url.startswith(server)
            and not r.url.endswith("/favicon.ico") and errors.append(f"HTTP {r.status} {r.url}"))

    def shot(name: str, p=None, full_page: bool = True) -> None:
        (p or page).screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)

    # (1) Home: the document title, the chart, the counts.
    title = _values(store, "SELECT ?t WHERE { ?d a bkd:SourceDocument ; dcterms:title ?t } LIMIT 1")[0]["t"]
    n_measures = int(_values(store, "SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a bkd:Measure }")[0]["n"])
    assert n_measures == 66
    page.goto(server + "/")
    heading = page.locator("main h1").first
    heading.wait_for(state="visible")
    assert _squash(heading.inner_text()) == _squash(title)
    chart = page.locator(".chart-wrap svg").first
    assert chart.is_visible(), "the SVG chart is not visible on the home page"
    box = chart.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50, f"the chart is too small: {box}"
    assert chart.locator("rect").count() > 0, "the chart has no bars"
    measures_link = page.locator(".counts a", has_text="measures").first
    assert re.fullmatch(r"66\s+measures", _squash(measures_link.inner_text())), measures_link.inner_text()
    shot("01-home")

    # (2) Measures list: choose filters in the form and submit.
    page.locator("header nav a", has_text="Measures").click()
    page.wait_for_url(re.compile(r"/measures$"))
    total_rows = page.locator("table.measures tbody tr").count()
    page.select_option("form.filters select[name=unit]", UNIT)
    page.select_option("form.filters select[name=priority]", "1")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(re.compile(r"/measures\?"))
    qs = parse_qs(urlparse(page.url).query)
    assert qs.get("unit") == [UNIT] and qs.get("priority") == ["1"], page.url
    expected = _values(store, f"""
        SELECT ?a ?number WHERE {{
          {{ ?a a bkd:Measure }} UNION {{ ?a a bkd:Annex1Item }}
          ?a bkd:number ?number ; bkd:planningUnit <{BASE_IRI}population/{UNIT}> ;
             bkd:priority <{BASE_IRI}priority/1> }}""")
    expected_numbers = sorted(r["number"] for r in expected)
    assert expected_numbers, "the independent query found no matching measure"
    rows = page.locator("table.measures tbody tr")
    assert rows.count() == len(expected_numbers) < total_rows
    assert page.locator("#row-count").inner_text().strip() == str(len(expected_numbers))
    prio_cells = [c.strip() for c in page.locator("table.measures tbody td.prio").all_inner_texts()]
    assert prio_cells == ["1"] * len(expected_numbers), prio_cells
    shown = sorted(c.strip() for c in page.locator("table.measures tbody td.num").all_inner_texts())
    assert shown == expected_numbers
    # The form keeps the choices it was submitted with.
    assert page.locator("select[name=unit]").input_value() == UNIT
    assert page.locator("select[name=priority]").input_value() == "1"
    shot("02-measures-filtered")

    # (3) A measure's page: verbatim text and a link to its planning unit.
    first = page.locator("table.measures tbody td.num a").first
    href = first.get_attribute("href")
    number = first.inner_text().strip()
    first.click()
    page.wait_for_url(re.compile(re.escape(href) + "$"))
    iri = BASE_IRI + href.lstrip("/")
    text = _values(store, f"SELECT ?t WHERE {{ <{iri}> bkd:text ?t }}")[0]["t"]
    assert page.locator("main h1").inner_text().strip().endswith(number)
    assert page.locator("blockquote.text").inner_text().strip() == text.strip()
    unit_link = page.locator(f'table.facts a[href="/population/{UNIT}"]')
    assert unit_link.count() >= 1, "the measure page does not link to its planning unit"
    shot("03-measure")
    unit_link.first.click()
    page.wait_for_url(re.compile(rf"/population/{UNIT}$"))
    unit_label = _values(store, f"SELECT ?l WHERE {{ <{BASE_IRI}population/{UNIT}> rdfs:label ?l }}")[0]["l"]
    assert page.locator("main h1").inner_text().strip() == unit_label
    shot("04-planning-unit")

    # (4) SPARQL page: an example question runs in YASGUI and its results show in YASR.
    page.locator("header nav a", has_text="SPARQL").click()
    page.wait_for_url(re.compile(r"/sparql$"))
    page.locator("#yasgui .yasqe .CodeMirror").wait_for(state="visible")
    button = page.locator('button.example[data-name="annex-items-without-priority"]')
    assert button.is_visible()
    button.click()
    result_rows = page.locator(".yasr .yasr_results table.dataTable tbody tr")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.yasr .yasr_results table.dataTable tbody tr')]"
        ".some(r => r.innerText.includes('4.1'))", timeout=TIMEOUT_MS)
    editor_text = page.evaluate("() => window.kgYasgui.getTab().getQuery()")
    assert "FILTER NOT EXISTS" in editor_text and "bkd:Annex1Item" in editor_text
    cells = result_rows.evaluate_all(
        "rs => rs.map(r => [...r.querySelectorAll('td')].map(td => td.innerText.trim()))")
    expected_items = sorted(r["number"] for r in _values(store, """
        SELECT ?number WHERE { ?i a bkd:Annex1Item ; bkd:number ?number
                               FILTER NOT EXISTS { ?i bkd:priority ?p } }"""))
    assert expected_items == ["4.1", "4.2"]
    shown_numbers = sorted(c for row in cells for c in row if re.fullmatch(r"\d+\.\d+", c))
    assert shown_numbers == expected_items, cells
    assert all(any(f"annex1/{n}" in c for row in cells for c in row) for n in expected_items), cells
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] + 1, f"the SPARQL page overflows horizontally: {widths}"
    # Viewport only: a full-page capture resizes the viewport, and YASR re-lays its table out.
    shot("05-sparql-results", full_page=False)
    assert not errors, "errors in the browser:\n" + "\n".join(errors)
    ctx.close()

    # (5) The home page on a phone: usable, no horizontal scrolling.
    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2,
                                is_mobile=True, has_touch=True)
    try:
        p = phone.new_page()
        p.set_default_timeout(TIMEOUT_MS)
        p.goto(server + "/")
        p.locator("main h1").first.wait_for(state="visible")
        assert p.locator(".chart-wrap svg").first.is_visible()
        widths = p.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        shot("06-phone-home", p)
        assert widths[0] <= widths[1] + 1, f"horizontal overflow on a phone: scrollWidth {widths[0]} > {widths[1]}"
    finally:
        phone.close()
