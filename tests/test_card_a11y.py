"""Accessibility of the cards: axe-core (WCAG 2.2 AA rules) in headless Chromium.

axe-core comes from npm: ``make test`` installs the pinned version into ``.venv/npm`` (or set
``AUDITKIT_AXE`` to an ``axe.min.js``). Each card is checked in the light and the dark colour
scheme: no violation of impact "serious" or "critical" may remain, and the card makes no
request. The tests are skipped, saying why, where Chromium, Playwright or axe-core is absent.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _report_fixtures import image_card_result, tabular_card_result, text_card_result

from auditkit.report import AuditResult, write_outputs

CHROMIUM = os.environ.get("AUDITKIT_CHROMIUM") or shutil.which("chromium") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
)  # fmt: skip
AXE = Path(
    os.environ.get("AUDITKIT_AXE")
    or Path(sys.prefix) / "npm" / "node_modules" / "axe-core" / "axe.min.js"
)
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
#: The rule sets checked: WCAG 2.0-2.2 A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install "
                       "chromium); the accessibility tests need it"),
    pytest.mark.skipif(not AXE.is_file(), reason=f"axe-core is not installed ({AXE}; make test "
                       "installs it with npm)"),
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


def axe_violations(
    browser: Any, html: Path, scheme: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return axe's violations on the card in ``scheme``, and the requests it made."""
    ctx = browser.new_context(color_scheme=scheme, viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    url = html.resolve().as_uri()
    requests: list[str] = []

    def route(r: Any) -> None:
        requests.append(r.request.url)
        r.continue_() if r.request.url == url else r.abort()

    page.route("**/*", route)
    try:
        page.goto(url, wait_until="load")
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        res = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
        )
    finally:
        ctx.close()
    return list(res["violations"]), [u for u in requests if u != url]


def _log_result() -> AuditResult:
    import auditkit

    rng = np.random.default_rng(1)
    n = 3000
    group = rng.choice(["north", "south", "east", "a very long region name " * 3], n)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    return auditkit.audit_predictions(
        y, pred, y_score=np.clip(pred * 0.6 + rng.random(n) * 0.4, 0, 1),
        sensitive_features={"region": group, "age band": rng.choice(["<30", "30-60", ">60"], n)},
        n_boot=30,
    )  # fmt: skip


CARDS: dict[str, Callable[[], AuditResult]] = {
    "tabular": tabular_card_result,
    "image": image_card_result,
    "text": text_card_result,
    "log": _log_result,
}


def _check(browser: Any, html: Path) -> None:
    for scheme in ("light", "dark"):
        violations, requests = axe_violations(browser, html, scheme)
        bad = [
            f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes: "
            f"{v['nodes'][0]['target']} {v['nodes'][0].get('failureSummary', '')[:200]})"
            for v in violations if v["impact"] in ("serious", "critical")
        ]  # fmt: skip
        assert bad == [], f"{html.name} ({scheme}): {bad}"
        assert requests == []


@pytest.mark.parametrize("kind", sorted(CARDS))
def test_card_has_no_serious_accessibility_violation(browser: Any, tmp_path: Path, kind: str):
    paths = write_outputs(CARDS[kind](), tmp_path / kind)
    _check(browser, paths["html"])


def test_a_violation_is_reported(browser: Any, tmp_path: Path) -> None:
    """The check itself works: a page with a known contrast failure is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!doctype html><html lang="en"><head><title>x</title></head><body><main>'
        '<p style="color:#777;background:#888">low contrast</p></main></body></html>',
        encoding="utf-8",
    )
    violations, _ = axe_violations(browser, page, "light")
    assert "color-contrast" in {v["id"] for v in violations}


@pytest.mark.slow
@pytest.mark.parametrize(
    "model", ["adult-mlp", "iris-mlp", "mnist-mlp", "cifar10-cnn", "imdb-lstm"]
)
def test_reference_model_cards_have_no_serious_violation(
    browser: Any, tmp_path: Path, tiny_ckpt: Any, model: str
) -> None:
    """Real audits of the five reference models (1-epoch checkpoints)."""
    import auditkit

    res = auditkit.audit(
        auditkit.load_checkpoint(tiny_ckpt(model)), n_boot=20,
        sections=["performance", "fairness", "explainability"],
        options={"explain_max_rows": 200},
    )  # fmt: skip
    paths = write_outputs(res, tmp_path / model)
    _check(browser, paths["html"])
