"""A steward's round trip in a real browser (headless Chromium driven by Playwright)
against the real server: `kg serve` in a subprocess with its own KG_DIST,
KG_ADDITIONS, KG_STEWARDS (one account, made by `kg steward add`) and KG_SECRET_KEY.

log in -> a bad file gets a precise error -> pasted Turtle with violations gets
the report (entity linked to its page), no accept -> upload a Turtle file with a new measure
-> the report says it has no violations -> give the source and accept -> the new measure's page
shows its text -> back to /steward -> revert -> the page is gone (404).

Each step leaves a screenshot in test-artifacts/steward/NN-step.png.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import new_measure, running_server

pytestmark = pytest.mark.browser  # headless Chromium

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "steward"
SHOTS.mkdir(parents=True, exist_ok=True)
TIMEOUT_MS = 15_000
NAME, PASSWORD = "Steward Tester", "browser-test-password"
TEXT = "Publish an annual studbook of the captive Bukhara Deer groups."
TURTLE = new_measure("9.9", "9.9", TEXT)
DANGLING = """@prefix bkd: <https://w3id.org/bukhara-deer/ontology#> .
<https://w3id.org/bukhara-deer/measure/2.10> bkd:inSection <https://w3id.org/bukhara-deer/section/10.0> .
"""


@pytest.fixture(scope="module")
def steward_server(tmp_path_factory):
    """`kg serve` with its own graph, change-set directory, accounts and secret key."""
    exe = Path(sys.executable).with_name("kg")
    assert exe.exists(), f"console script {exe} not found: install the project (pip install -e .)"
    tmp = tmp_path_factory.mktemp("steward-server")
    env = {**os.environ, "KG_DIST": str(tmp / "dist"), "KG_ADDITIONS": str(tmp / "additions"),
           "KG_STEWARDS": str(tmp / "config" / "stewards.json"), "KG_SECRET_KEY": "browser-test-secret"}
    for var in ("KG_PENDING_DIR", "KG_MAX_UPLOAD_BYTES", "KG_BASE"):
        env.pop(var, None)
    for args in (["build"], ["steward", "add", NAME]):
        p = subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={**env, "KG_STEWARD_PASSWORD": PASSWORD}, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"kg {' '.join(args)} failed: {p.stderr}"
    with running_server(env, tmp / "serve.log") as url:
        yield {"url": url, "tmp": tmp, "additions": tmp / "additions"}


def test_upload_report_accept_page_revert(steward_server, browser):
    from playwright.sync_api import expect

    url, tmp = steward_server["url"], steward_server["tmp"]
    good = tmp / "measure-9.9.ttl"
    good.write_text(TURTLE, encoding="utf-8")
    bad = tmp / "broken.ttl"
    bad.write_text(TURTLE.replace('bkd:number "9.9" ;', 'bkd:number "9.9"'), encoding="utf-8")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)

    def shot(name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    try:
        # 1. the steward page asks for a log-in; the public pages do not
        page.goto(url + "/steward")
        assert page.url.startswith(url + "/steward/login")
        expect(page.get_by_role("heading", name="Steward log-in")).to_be_visible()
        shot("01-login")
        page.get_by_label("Name").fill(NAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(url + "/steward")
        expect(page.locator(".steward-bar")).to_contain_text(f"Logged in as {NAME}")
        expect(page.get_by_text("No change sets yet")).to_be_visible()
        shot("02-steward")

        # 2. a file with a syntax error: the precise error, nothing written
        page.locator("input[name=file]").set_input_files(str(bad))
        page.get_by_role("button", name="Check").click()
        error = page.locator(".error-box")
        expect(error).to_contain_text("broken.ttl: syntax error: line")
        expect(error).to_contain_text("Nothing was written")
        assert page.locator("#accept-form").count() == 0
        shot("03-bad-input")
        assert list(steward_server["additions"].glob("*.trig")) == []

        # 3. pasted Turtle that breaks an existing measure: the violations, the entity linked
        page.goto(url + "/steward")
        page.get_by_role("textbox", name="Paste").fill(DANGLING)
        page.get_by_role("button", name="Check").click()
        expect(page.locator("#verdict")).to_contain_text("no violations: false")
        focus = page.locator("table.report tr.focus").first
        expect(focus.get_by_role("link", name="Measure 2.10")).to_have_attribute("href", "/measure/2.10")
        expect(page.locator("span.sev.Violation").first).to_be_visible()
        assert page.locator("#accept-form").count() == 0
        shot("04-violations")

        # 4. upload the new measure: the report says it conforms
        page.goto(url + "/steward")
        page.locator("input[name=file]").set_input_files(str(good))
        page.get_by_role("button", name="Check").click()
        expect(page.locator("#verdict")).to_have_text(re.compile(
            r"^SHACL conforms: false \(\d+ results?\); "
            r"no violations: true \(0 violations, \d+ warnings, 0 infos\)$"))
        expect(page.locator("#accept-form")).to_be_visible()
        expect(page.get_by_text("Measure 9.9", exact=True).first).to_be_visible()
        shot("05-report")
        assert list(steward_server["additions"].glob("*.trig")) == []  # checking writes nothing

        # 5. accept with a source
        page.get_by_label("Source / justification").fill("Browser test: a studbook measure")
        page.get_by_role("button", name="Accept").click()
        page.wait_for_url(url + "/steward#cs-*")
        flash = page.locator(".flash.ok")
        expect(flash).to_contain_text("Accepted change set")
        files = list(steward_server["additions"].glob("*.trig"))
        assert len(files) == 1
        cs_id = files[0].stem
        row = page.locator(f"tr#cs-{cs_id}")
        expect(row).to_contain_text("Browser test: a studbook measure")
        expect(row).to_contain_text(NAME)
        expect(row).to_contain_text("active")
        shot("06-accepted")

        # 6. the new measure's page exists and shows its text
        flash.get_by_role("link", name="Measure 9.9").click()
        page.wait_for_url(url + "/measure/9.9")
        expect(page.get_by_role("heading", level=1)).to_have_text("Measure 9.9")
        expect(page.locator("blockquote.text")).to_have_text(TEXT)
        shot("07-new-measure")

        # 7. back to /steward and revert it
        page.goto(url + "/steward")
        row = page.locator(f"tr#cs-{cs_id}")
        row.get_by_placeholder("reason").fill("Browser test: taken back")
        row.get_by_role("button", name="Revert").click()
        page.wait_for_url(url + "/steward#cs-*")
        expect(page.locator(".flash.ok")).to_contain_text(f"Reverted {cs_id}")
        expect(page.locator(f"tr#cs-{cs_id}")).to_contain_text("reverted by")
        assert len(list(steward_server["additions"].glob("*.trig"))) == 2
        shot("08-reverted")

        # 8. the page is gone
        response = page.goto(url + "/measure/9.9")
        assert response is not None and response.status == 404
        shot("09-gone")
    finally:
        page.close()
