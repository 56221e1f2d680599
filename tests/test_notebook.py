"""Notebooks: ``repr(result)`` is one short line, ``_repr_html_`` a safe self-contained summary
that says what the card says, ``to_frame`` one row per record (also for a diff).

The HTML fragment is rendered in Chromium (Debian's ``/usr/bin/chromium``, headless) with a
network log: the page makes no request at all, and a control page with one remote image shows
that the log would catch one.
"""

from __future__ import annotations

import dataclasses
import html.parser
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _report_fixtures import (
    HOSTILE,
    rich_result,
    text_card_result,
)

import auditkit
from auditkit.report import diff_results, load_result, write_json
from auditkit.report._view import build_view
from auditkit.result import AuditResult, Finding, MetricValue, SectionResult
from auditkit.result.frame import DIFF_COLUMNS, FRAME_COLUMNS, diff_frame
from auditkit.result.summary import summarize

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)  # fmt: skip


@pytest.fixture(scope="module")
def log_result() -> AuditResult:
    """A real audit of a decision log: two sensitive features, an intersection, scores."""
    rng = np.random.default_rng(3)
    n = 1500
    df = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "race": rng.choice(["A", "B", "C"], n, p=[0.6, 0.35, 0.05]),
        }
    )
    y = rng.integers(0, 2, n)
    s = np.clip(0.4 * y + 0.6 * rng.random(n) - 0.1 * (df["sex"] == "F"), 0, 1)
    df["y"], df["p"], df["s"] = y, (s > 0.5).astype(int), s
    return auditkit.audit_predictions(
        data=df, y_true="y", y_pred="p", y_score="s", sensitive_features=["sex", "race"],
        n_boot=50,
    )  # fmt: skip


def _results(log_result: AuditResult) -> list[AuditResult]:
    return [
        rich_result(),
        rich_result(seed=1, with_policy=False),
        rich_result(seed=2, text=HOSTILE[1]),
        text_card_result(),
        log_result,
    ]


# ------------------------------------------------------------------------------------- repr
def test_repr_is_one_short_line(log_result):
    for r in _results(log_result):
        line = repr(r)
        assert "\n" not in line and len(line) < 400, line
        assert line.startswith("<AuditResult model=") and "verdict=" in line
        for s in r.sections:
            assert f"{s.name}={s.status}" in line
    line = repr(log_result)
    verdict = summarize(log_result.to_dict()).verdict_word
    assert line.endswith(f"verdict={verdict} (default thresholds)>") and "(1,500 rows)" in line


def test_repr_of_hostile_and_empty_results():
    r = AuditResult("1.0", "0", "t", {}, {"name": "m\x1b[31m\u202e" + "x" * 500}, {}, ())
    line = repr(r)
    assert "\x1b" not in line and "\u202e" not in line and len(line) < 300
    assert "sections: (none)" in line and "verdict=NOT_JUDGED" in line


# ------------------------------------------------------------------------- summary parity
def test_summary_says_what_the_card_says(log_result):
    """The notebook's judgment is the card's: verdict, areas, indicators, attention."""
    for r in _results(log_result):
        d = json.loads(auditkit.to_json(r))
        card = build_view(d)["summary"]
        s = summarize(d)
        assert (s.verdict, s.verdict_word, s.verdict_text) == (
            card["verdict"]["status"], card["verdict"]["word"], card["verdict"]["text"]
        )  # fmt: skip
        assert [(a.name, a.status, a.word, list(a.sentences), a.n_more, a.anchor)
                for a in s.areas] == [
            (a["name"], a["status"], a["word"], a["sentences"], a["n_more"], a["anchor"])
            for a in card["areas"]
        ]  # fmt: skip
        assert [(lt.label, lt.status) for lt in s.lights] == [
            (i["label"], i["status"]) for i in card["indicators"]
        ]
        shown = [f["text"] for f in s.attention][: len(card["attention"])]
        assert shown == [f["text"] for f in card["attention"]]
        assert len(s.attention) == len(card["attention"]) + card["n_attention_more"]


# --------------------------------------------------------------------------- the fragment
class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


_ALLOWED = {"div", "span", "p", "table", "caption", "thead", "tbody", "tr", "th", "td", "a",
            "ol", "ul", "li", "details", "summary", "code"}  # fmt: skip


def _parse(fragment: str) -> _Tags:
    p = _Tags()
    p.feed(fragment)
    p.close()
    return p


@pytest.mark.parametrize("hostile", HOSTILE)
def test_fragment_escapes_every_string(hostile):
    r = rich_result(text=hostile)
    frag = r._repr_html_()
    p = _parse(frag)
    assert {t for t, _ in p.tags} <= _ALLOWED
    for _, attrs in p.tags:
        assert set(attrs) <= {"id", "class", "style", "href", "scope"}, attrs
        if "href" in attrs:
            assert str(attrs["href"]).startswith("#auditkit-")
    assert hostile in "".join(p.text)  # shown as text, never as markup
    assert "<script" not in frag.lower() and "<img" not in frag.lower()


def test_fragment_has_no_hidden_characters_and_is_bounded():
    secs = tuple(
        SectionResult(
            f"custom_{k}", "ok",
            metrics=tuple(MetricValue(f"custom_{k}", f"m{i}", i / 7) for i in range(300)),
            findings=tuple(
                Finding(f"custom_{k}", "warn", f"gap {i} \u202e\x1b[2J") for i in range(80)
            ),
        )
        for k in range(20)
    )  # fmt: skip
    r = AuditResult("1.0", "0", "t", {}, {"name": "m"}, {"name": "d"}, secs)
    frag = r._repr_html_()
    assert "\u202e" not in frag and "\x1b" not in frag and "\\u202e" in frag
    assert len(frag) < 80_000  # 6,000 records, 1,600 findings
    assert "And 1,588 more." in frag  # the attention list is capped at 12


def test_fragment_links_reach_their_sections(log_result):
    for r in (rich_result(), log_result):
        p = _parse(r._repr_html_())
        ids = [a["id"] for _, a in p.tags if "id" in a]
        assert len(ids) == len(set(ids))
        hrefs = [str(a["href"])[1:] for _, a in p.tags if "href" in a]
        assert hrefs and set(hrefs) <= set(ids)
        assert all(i.startswith(ids[0]) for i in ids)  # one prefix per result
    assert (
        _parse(rich_result(seed=0)._repr_html_()).tags[0][1]["id"]
        != _parse(log_result._repr_html_()).tags[0][1]["id"]
    )


def _page(tmp_path: Path, body: str, name: str) -> Path:
    page = tmp_path / name
    page.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>notebook</title>'
        f"</head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return page


def _chromium(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """Render ``page`` headless; return the DOM and the URLs the page asked the network for."""
    assert CHROMIUM is not None
    netlog = tmp_path / f"{page.stem}.netlog.json"
    profile = tmp_path / f"{page.stem}.profile"
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", f"--log-net-log={netlog}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    # the browser's own background requests have no origin; a page's have its (file://) origin
    urls = [
        e["params"]["url"] for e in log["events"]
        if e.get("type") == start and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    ]  # fmt: skip
    return out.stdout, urls


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_fragment_renders_in_chromium_without_network_requests(tmp_path):
    r = rich_result(text=HOSTILE[1])
    frag = r._repr_html_()
    dom, urls = _chromium(_page(tmp_path, frag, "fragment.html"), tmp_path)
    assert urls == []
    assert "PASSED WITH WARNINGS" in dom and "Needs attention" in dom
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert html.escape(HOSTILE[1], quote=False) in dom  # the hostile text is text in the DOM
    # control: the same check sees a page's request to the network
    control = _page(tmp_path, frag + '<img alt="" src="http://127.0.0.1:9/control.png">', "c.html")
    _, urls = _chromium(control, tmp_path)
    assert urls == ["http://127.0.0.1:9/control.png"]


AXE = Path(
    os.environ.get("AUDITKIT_AXE")
    or Path(sys.prefix) / "npm" / "node_modules" / "axe-core" / "axe.min.js"
)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@pytest.mark.skipif(not AXE.is_file(), reason=f"axe-core is not installed ({AXE})")
def test_fragment_has_no_serious_accessibility_violation(tmp_path):
    """axe-core (WCAG 2.2 AA and best practices) in the light and the dark colour scheme."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    page_path = _page(tmp_path, f"<main><h1>Notebook</h1>{rich_result()._repr_html_()}</main>",
                      "axe.html")  # fmt: skip
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for scheme in ("light", "dark"):
                ctx = browser.new_context(color_scheme=scheme)
                page = ctx.new_page()
                page.goto(page_path.as_uri())
                page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
                res = page.evaluate(
                    "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", tags
                )
                ctx.close()
                bad = [(v["id"], v["impact"]) for v in res["violations"]
                       if v["impact"] in ("serious", "critical")]  # fmt: skip
                assert bad == [], (scheme, bad)
        finally:
            browser.close()


# ------------------------------------------------------------------------------- to_frame
def test_to_frame_has_one_row_per_record_in_a_stable_column_order(log_result, tmp_path):
    df = log_result.to_frame()
    assert tuple(df.columns) == FRAME_COLUMNS
    assert len(df) == len(log_result.metrics) > 100
    for row, m in zip(df.itertuples(index=False), log_result.metrics):
        assert (row.section, row.name) == (m.section, m.name)
        assert (row.value == m.value) if m.value is not None else math.isnan(row.value)
        assert (row.n if row.n is not pd.NA else None) == m.n
        if m.ci is not None:
            assert (row.ci_low, row.ci_high) == m.ci
        if m.feature is None:
            assert pd.isna(row.feature) and pd.isna(row.group)
        else:
            assert row.feature == " × ".join(m.feature)
        assert row.flags == ",".join(m.flags)
    assert df["value"].dtype == "float64" and str(df["n"].dtype) == "Int64"
    inter = df[df["feature"] == "sex × race"]
    assert len(inter) > 0 and inter["group"].dropna().str.contains(" × ").all()
    assert df["p_adjusted"].notna().any()
    # the supported way from a file, and a flat file pandas reads back
    write_json(log_result, tmp_path / "audit.json")
    again = auditkit.load_result(tmp_path / "audit.json").to_frame()
    pd.testing.assert_frame_equal(again, df, check_exact=False, rtol=1e-9)
    df.to_json(tmp_path / "metrics.json", orient="records")
    flat = pd.read_json(tmp_path / "metrics.json", orient="records")
    assert list(flat.columns) == list(FRAME_COLUMNS) and len(flat) == len(df)
    records = log_result.to_records()
    assert len(records) == len(df) and all(tuple(r) == FRAME_COLUMNS for r in records)
    assert pd.DataFrame(records, columns=list(FRAME_COLUMNS))["value"].equals(df["value"])


def test_to_frame_of_an_empty_result_keeps_the_columns():
    df = AuditResult("1.0", "0", "t", {}, {}, {}, ()).to_frame()
    assert tuple(df.columns) == FRAME_COLUMNS and len(df) == 0


def test_diff_to_frame(log_result):
    old = rich_result(seed=0)
    secs = list(old.sections)
    perf = secs[0]
    moved = tuple(dataclasses.replace(m, value=m.value + 0.05) if m.name == "accuracy" and
                  m.value is not None else m for m in perf.metrics)  # fmt: skip
    secs[0] = dataclasses.replace(perf, metrics=moved[:-1])  # one record removed
    new = dataclasses.replace(old, sections=tuple(secs))
    d = diff_results(old, new)
    df = diff_frame(d)
    assert tuple(df.columns) == DIFF_COLUMNS and len(df) == len(d.moves)
    acc = df[(df["name"] == "accuracy") & df["feature"].isna()].iloc[0]
    assert acc["status"] == "moved" and acc["delta"] == pytest.approx(0.05)
    assert acc["better"] is True or bool(acc["better"])
    assert (df["status"] == "removed").sum() == 1
    assert str(df["beyond_intervals"].dtype) == "boolean"
    assert set(df["status"]) <= {"moved", "unchanged", "added", "removed", "undefined"}
    pd.testing.assert_frame_equal(d.to_frame(), df)  # the method users call on a diff


def test_load_result_roundtrip_keeps_repr(tmp_path, log_result):
    write_json(log_result, tmp_path / "a.json")
    again = load_result(tmp_path / "a.json")
    assert repr(again) == repr(log_result)
    assert again._repr_html_() == log_result._repr_html_()
