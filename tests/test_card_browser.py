"""The HTML card in a real browser: headless Chromium driven by Playwright.

Debian's ``chromium`` package (``.ci/run`` installs it); the tests are skipped, saying so, only
where it is absent. Each card is opened from a file with every request routed through the test:
nothing may leave the page, no console error may appear, no dialog may fire, the summary and
every section must be visible, on a desktop and a phone-sized screen, with JavaScript on and
off; a screenshot of each card and an A4 PDF are written to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import (
    HOSTILE,
    image_card_result,
    tabular_card_result,
    text_card_result,
)

from auditkit.report import AuditResult, render_html, render_markdown, write_outputs

CHROMIUM = os.environ.get("AUDITKIT_CHROMIUM") or shutil.which("chromium") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
)  # fmt: skip
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed (apt-get install chromium); the browser tests need it",
    ),  # fmt: skip
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


class Visit:
    """A page opened on a card file with every request, console message and dialog recorded."""

    def __init__(self, browser: Any, path: Path, *, width: int = 1200, height: int = 900,
                 javascript: bool = True) -> None:  # fmt: skip
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, java_script_enabled=javascript
        )
        self.page = self.context.new_page()
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.goto(self.url, wait_until="load")

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        if url == self.url:
            route.continue_()
        else:
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if u != self.url]

    def close(self) -> None:
        self.context.close()


CARDS: dict[str, Callable[[], AuditResult]] = {
    "tabular": tabular_card_result,
    "image": image_card_result,
    "text": text_card_result,
}
PARTS = ("summary", "training", "about", "glossary", "provenance")


def _write_card(tmp_path: Path, res: AuditResult, name: str) -> Path:
    paths = write_outputs(res, tmp_path / name)
    return paths["html"]


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


@pytest.mark.parametrize("kind", sorted(CARDS))
def test_card_opens_offline_with_every_part_visible(
    browser: Any, tmp_path: Path, kind: str
) -> None:
    res = CARDS[kind]()
    html_path = _write_card(tmp_path, res, kind)
    v = Visit(browser, html_path)
    try:
        page = v.page
        assert page.title().startswith("Model card")
        assert page.locator("h1").is_visible()
        for part in PARTS:
            assert page.locator(f"#{part}").is_visible(), part
        sections = page.locator("section.audit-section")
        assert sections.count() == len(res.sections)
        for i in range(sections.count()):
            assert sections.nth(i).is_visible()
        names = [sections.nth(i).get_attribute("data-section") for i in range(sections.count())]
        order = ["performance", "fairness", "explainability", "drift", "privacy", "stability"]
        assert names == sorted(names, key=lambda n: order.index(n) if n in order else 9)
        # first screen: the facts and the verdict are above the fold of a laptop screen
        for label in ("Model", "Version", "Dataset", "Date"):
            assert page.locator(".fact dt", has_text=label).first.is_visible()
        assert page.locator(".verdict").bounding_box()["y"] < 900
        assert page.locator("table.areas tr.area").count() >= 1
        # every chart has an accessible name, and drawings fit the page width
        for svg in page.locator("svg.chart-svg").all():
            assert svg.locator(":scope > title").count() == 1
            assert svg.locator(":scope > desc").count() == 1
            assert svg.get_attribute("role") == "img"
            assert svg.bounding_box()["width"] <= 1200
        if kind == "image":
            imgs = page.locator(".chart-image img")
            assert imgs.count() == 6
            assert all(img.evaluate("i => i.naturalWidth") == 28 for img in imgs.all())
        if kind == "text":
            assert page.locator("span.tok").count() > 10
        page.screenshot(path=str(tmp_path / f"card-{kind}.png"), full_page=True)
        pdf = page.pdf(format="A4", print_background=True)
        (tmp_path / f"card-{kind}.pdf").write_bytes(pdf)
        assert 1 <= _pdf_pages(pdf) <= 30
        assert v.outside_requests() == [] and v.errors == [] and v.dialogs == []
    finally:
        v.close()
    assert (tmp_path / f"card-{kind}.png").stat().st_size > 10_000


@pytest.mark.parametrize("kind", ["tabular", "text"])
def test_small_screen_and_no_javascript(browser: Any, tmp_path: Path, kind: str) -> None:
    html_path = _write_card(tmp_path, CARDS[kind](), kind)
    phone = Visit(browser, html_path, width=390, height=844)
    try:
        page = phone.page
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the page scrolls sideways: {width}px"
        for part in PARTS:
            assert page.locator(f"#{part}").is_visible()
        page.screenshot(path=str(tmp_path / f"phone-{kind}.png"))
        assert phone.outside_requests() == [] and phone.errors == []
    finally:
        phone.close()
    nojs = Visit(browser, html_path, javascript=False)
    try:
        page = nojs.page
        for part in PARTS:
            assert page.locator(f"#{part}").is_visible()
        details = page.locator("details").first  # folded parts open without scripts
        details.locator("summary").click()
        assert details.get_attribute("open") is not None
        assert nojs.outside_requests() == []
    finally:
        nojs.close()


def _hostile_result() -> AuditResult:
    """An audit of data whose column names, categories, reviews and card fields are hostile."""
    import numpy as np
    import pandas as pd

    import auditkit

    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    groups = rng.choice(np.array(HOSTILE, dtype=object), n)
    res = auditkit.audit_predictions(
        y, np.where(rng.random(n) < 0.8, y, 1 - y), y_score=rng.random(n),
        sensitive_features=pd.DataFrame({HOSTILE[0]: groups, HOSTILE[1]: groups[::-1]}),
        n_boot=20, sections=["performance", "fairness"],
        card_info={
            "overview": HOSTILE[0], "intended_use": list(HOSTILE), "limitations": HOSTILE[3],
            "owners": [{"name": HOSTILE[1], "contact": HOSTILE[2]}],
            "references": [HOSTILE[2], {"title": HOSTILE[0], "url": HOSTILE[2]}],
            "license": HOSTILE[1], "version": HOSTILE[3], "tags": list(HOSTILE),
            "ethical_considerations": [{"name": HOSTILE[0], "mitigation": HOSTILE[1]}],
        },
    )  # fmt: skip
    text = text_card_result(reviews=tuple(f"a {h} film {h}" for h in HOSTILE))
    sections = (*res.sections, *(s for s in text.sections if s.name == "explainability"))
    return AuditResult(**{**res.__dict__, "sections": sections})


def test_hostile_strings_render_as_text_and_fire_nothing(browser: Any, tmp_path: Path) -> None:
    res = _hostile_result()
    paths = write_outputs(res, tmp_path / "hostile")
    html, md = paths["html"].read_text(), paths["markdown"].read_text()
    for h in HOSTILE:
        if h == "</td>":
            assert html.count("</td>") == len(re.findall(r"<td[ >]", html))
        else:
            assert h not in html or not re.search(r"[<>\"]", h)
        assert h not in md or not re.search(r"[<>\"]", h)
    assert "<" not in md.split("\n---\n", 1)[1] and ">" not in md
    data = json.loads(paths["json"].read_text())
    assert render_html(data) == html and render_markdown(data) == md
    v = Visit(browser, paths["html"])
    try:
        page = v.page
        body = page.inner_text("body")
        for h in HOSTILE:
            assert h in body, h  # shown, as text
        assert page.locator("script").count() == 0
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        assert page.locator("a[href]:not([href^='#'])").count() == 0
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
        for summary in page.locator("details > summary").all():  # open every fold too
            summary.click()
        page.mouse.move(300, 300)
        assert v.dialogs == [] and v.errors == [] and v.outside_requests() == []
    finally:
        v.close()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["adult-mlp", "mnist-mlp", "imdb-lstm"])
def test_cards_of_tiny_reference_checkpoints(
    browser: Any, tmp_path: Path, tiny_ckpt: Any, model: str
) -> None:
    """Real audits of 1-epoch reference checkpoints: maps for images, highlights for text."""
    import auditkit

    loaded = auditkit.load_checkpoint(tiny_ckpt(model))
    res = auditkit.audit(loaded, n_boot=20, sections=["performance", "fairness",
                                                      "explainability"],
                         options={"explain_max_rows": 300})  # fmt: skip
    html_path = _write_card(tmp_path, res, model)
    v = Visit(browser, html_path)
    try:
        page = v.page
        for part in PARTS:
            assert page.locator(f"#{part}").is_visible(), part
        assert page.locator("section.audit-section").count() == len(res.sections)
        if model == "mnist-mlp":
            assert page.locator(".chart-image img").count() >= 1
        if model == "imdb-lstm":
            assert page.locator("span.tok").count() >= 1
        assert "Energy and emissions" in page.inner_text("#training")
        page.screenshot(path=str(tmp_path / f"{model}.png"), full_page=True)
        assert _pdf_pages(page.pdf(format="A4")) >= 1
        assert v.outside_requests() == [] and v.errors == [] and v.dialogs == []
    finally:
        v.close()
