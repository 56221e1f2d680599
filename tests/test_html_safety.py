"""Hostile strings in the data never reach the cards unescaped; the card loads nothing remote."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _report_fixtures import HOSTILE, rich_result

import auditkit
from auditkit.cli import main
from auditkit.report import AuditResult, render_html, render_markdown, write_outputs
from auditkit.report._svg import render_chart

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "nav", "ol", "ul", "li",
    "a", "section", "h1", "h2", "h3", "h4", "p", "table", "thead", "tbody", "tr", "th", "td",
    "code", "span", "strong", "em", "div", "figure", "figcaption", "details", "summary", "svg",
    "desc", "line", "text", "rect", "polyline", "circle", "img", "footer", "dl", "dt", "dd",
    "caption", "sup",
}  # fmt: skip
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "poster", "background"}


class TagAudit(HTMLParser):
    """Every tag and attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_safe_html(html: str) -> None:
    for h in HOSTILE:
        if h == "</td>":  # the card has its own cells: none may be closed by data
            assert html.count("</td>") == len(re.findall(r"<td[ >]", html))
        elif re.search(r"[<>\"&]", h):
            assert h not in html, h
    parser = TagAudit()
    parser.feed(html)
    styles = 0
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, tag
        styles += tag == "style"
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            v = (value or "").strip().lower()
            if name in URL_ATTRS:
                ok = v.startswith("#") or v.startswith("data:image/png;base64,")
                link = tag == "a" and name == "href" and re.match(r"https?://[^\s\"'<>`]+$", v)
                assert ok or link, (tag, v)
            assert "javascript:" not in v or name in ("alt", "aria-label"), (tag, name, v)
            if name == "style":
                assert "url(" not in v and "expression(" not in v
    assert styles == 1  # the card's own stylesheet
    assert_offline(html)


def assert_offline(html: str) -> None:
    # links the reader may follow (card-info references, http(s) only) load nothing by themselves
    html = re.sub(r'<a href="https?://[^"<>\s]*" rel="noopener noreferrer nofollow">[^<]*</a>',
                  "", html)  # fmt: skip
    assert re.search(r"https?:", html, re.I) is None
    assert "@import" not in html and "url(" not in html.lower()
    assert re.search(r"""(src|href)\s*=\s*["']?//""", html) is None
    assert "<link" not in html and "<script" not in html.lower()


def assert_safe_markdown(md: str) -> None:
    assert "<" not in md and ">" not in md  # no raw HTML at all: data is entity-escaped
    for h in HOSTILE:
        assert "](" + h not in md
    assert re.search(r"(?<!\\)\[", md) is None  # every bracket escaped: no links from data
    assert "](javascript:" not in md


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_strings_in_every_field(hostile: str) -> None:
    res = rich_result(text=hostile, feature="sex" + hostile,
                      groups=(hostile, "Male" + hostile, "x" + hostile))  # fmt: skip
    res = AuditResult(**{**res.__dict__, "card_info": {hostile: hostile, "uses": [hostile]}})
    html, md = render_html(res), render_markdown(res)
    assert_safe_html(html)
    assert_safe_markdown(md)
    assert html.count("&lt;script&gt;") >= (3 if "<script>" in hostile else 0)


def test_hostile_chart_payloads() -> None:
    h = HOSTILE[0] + HOSTILE[1]
    charts = [
        {"kind": "bar", "title": h, "description": h,
         "data": {"labels": [h], "values": [0.5], "xlabel": h, "ylabel": h}},
        {"kind": "line", "title": h, "data": {"series": [{"name": h, "x": [0, 1], "y": [0, 1]},
                                                         {"name": h, "x": [0, 1], "y": [1, 0]}],
                                              "xlabel": h, "ylabel": h}},
        {"kind": "heatmap", "title": h, "data": {"rows": [h], "cols": [h], "values": [[1.0]],
                                                 "xlabel": h, "ylabel": h}},
        {"kind": "images", "title": h, "data": {"items": [{"png_base64": '"><script>x',
                                                           "caption": h}]}},
        {"kind": "tokens", "title": h, "data": {"rows": [{"tokens": [h], "weights": [0.5],
                                                          "caption": h}]}},
        {"kind": h, "title": h, "data": {}},
    ]  # fmt: skip
    for c in charts:
        out = str(render_chart(c, uid="c1"))
        for s in HOSTILE[:2]:
            assert s not in out
        assert "<script" not in out and "<img src=x" not in out


def test_chart_ids_never_come_from_data() -> None:
    with pytest.raises(ValueError):
        render_chart({"kind": "bar", "title": "t", "data": {}}, uid='x" onload="alert(1)')


def test_audit_of_hostile_data_end_to_end(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400
    col = HOSTILE[0]
    y = rng.integers(0, 2, n)
    groups = rng.choice(np.array(HOSTILE, dtype=object), n)
    res = auditkit.audit_predictions(
        y, np.where(rng.random(n) < 0.8, y, 1 - y), y_score=rng.random(n),
        sensitive_features=pd.DataFrame({col: groups, HOSTILE[1]: groups[::-1]}), n_boot=20,
    )  # fmt: skip
    paths = write_outputs(res, tmp_path)
    assert_safe_html(paths["html"].read_text())
    assert_safe_markdown(paths["markdown"].read_text())


def test_cli_with_hostile_column_names_and_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 300
    col = HOSTILE[1]
    df = pd.DataFrame({
        col: rng.choice(np.array(HOSTILE, dtype=object), n),
        "label": rng.integers(0, 2, n),
        "decision": rng.integers(0, 2, n),
    })  # fmt: skip
    log = tmp_path / "log.csv"
    df.to_csv(log, index=False)
    out = tmp_path / "out"
    argv = ["audit", "--predictions", str(log), "--y-true", "label", "--y-pred", "decision",
            "--sensitive", col, "--out", str(out), "--n-boot", "10", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert_safe_html((out / "card.html").read_text())
    assert_safe_markdown((out / "card.md").read_text())


def test_templates_never_mark_data_safe() -> None:
    folder = resources.files("auditkit.templates")
    for name in ("card.html.j2", "_macros.html.j2", "card.md.j2"):
        text = folder.joinpath(name).read_text()
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text
    css = folder.joinpath("card.css").read_text()
    assert_offline(css)


def test_full_card_with_links_is_safe_and_offline() -> None:
    from _report_fixtures import tabular_card_result

    html = render_html(tabular_card_result(text=HOSTILE[0]))
    assert '<a href="https://example.org/auditkit" rel="noopener noreferrer nofollow">' in html
    assert_safe_html(html)
