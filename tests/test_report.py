"""The result model's JSON and the HTML/Markdown cards: round trips, schema, same numbers."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from _report_fixtures import rich_result
from hypothesis import given, settings
from hypothesis import strategies as st

import auditkit
from auditkit.exceptions import OutputError
from auditkit.report import (
    AuditResult,
    _render,
    load_result,
    render_html,
    render_markdown,
    to_json,
    write_outputs,
)
from auditkit.report._charts import CHART_KINDS, render_chart
from auditkit.report._filters import fmt_ci, fmt_num, md_escape, parse_num
from auditkit.result.json_io import result_schema


# ------------------------------------------------------------------------------ helpers
def schema_validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(result_schema()).validate(data)


def display_tolerance(v: float) -> float:
    """How far a number shown with 4 significant digits may be from the JSON value."""
    if abs(v) >= 1000:
        return 0.5 + 1e-9
    return 5e-4 * abs(v) + 1e-15


class MetricRows(HTMLParser):
    """Collect the metric rows of the HTML card: ``data-metric`` index -> cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-metric") is not None:
            self.rows.append({"index": int(a["data-metric"] or -1)})
        elif tag == "td" and self.rows and a.get("class"):
            classes = (a["class"] or "").split()
            found = [c for c in classes if c.startswith("m-")]
            self._cell = found[0][2:] if found else None
            if self._cell:
                self.rows[-1][self._cell] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell and self.rows:
            self.rows[-1][self._cell] += data


def html_metric_rows(html: str) -> list[dict[str, Any]]:
    p = MetricRows()
    p.feed(html)
    return [{k: v.strip() if isinstance(v, str) else v for k, v in r.items()} for r in p.rows]


def split_md_row(line: str) -> list[str]:
    """Split a Markdown table row on unescaped pipes and unescape the cells."""
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip() for c in cells]


def md_metric_rows(md: str) -> list[dict[str, str]]:
    """The rows of every metric table of the Markdown card, in order."""
    rows = []
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("| Metric |"):
            continue
        header = split_md_row(line)
        j = i + 2
        while j < len(lines) and lines[j].startswith("|"):
            cells = split_md_row(lines[j])
            assert len(cells) == len(header), lines[j]
            rec = dict(zip(header, cells))
            group = next((v for k, v in rec.items() if k.startswith("Group")), None)
            ci_key = next(k for k in header if k.endswith("CI"))
            rows.append({"name": rec["Metric"], "group": group, "value": rec["Value"],
                         "ci": rec[ci_key], "n": rec["n"]})  # fmt: skip
            j += 1
    return rows


def assert_number_shows(text: str, value: float | int | None) -> None:
    shown = parse_num(text)
    if value is None:
        assert shown is None, text
    else:
        assert shown is not None, text
        assert abs(shown - value) <= display_tolerance(value), (text, value)


def assert_ci_shows(text: str, ci: list[float] | None) -> None:
    if ci is None:
        assert text == "n/a"
        return
    lo, hi = text.split(" – ")
    assert_number_shows(lo, ci[0])
    assert_number_shows(hi, ci[1])


def assert_cards_match_json(json_text: str, html: str, md: str) -> None:
    """Every metric record of the JSON is shown once in each card, with the same numbers."""
    data = json.loads(json_text)
    metrics = data["metrics"]
    hrows = html_metric_rows(html)
    assert sorted(r["index"] for r in hrows) == list(range(len(metrics)))
    for r in hrows:
        m = metrics[r["index"]]
        assert r["name"] == m["name"]
        assert_number_shows(r["value"], m["value"])
        assert_ci_shows(r["ci"], m["ci"])
        assert_number_shows(r["n"], m["n"])
        if m["group"] is not None:
            assert r["group"] == " × ".join(m["group"])
    mrows = md_metric_rows(md)
    assert len(mrows) == len(hrows)
    for h, mr in zip(hrows, mrows):
        m = metrics[h["index"]]
        assert mr["name"] == md_escape(m["name"])
        assert_number_shows(mr["value"], m["value"])
        assert_ci_shows(mr["ci"], m["ci"])
        assert_number_shows(mr["n"], m["n"])
        if m["group"] is not None:
            assert mr["group"] == md_escape(" × ".join(m["group"]))


def sklearn_result(seed: int = 0, n_boot: int = 50) -> AuditResult:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    n = 600
    X = rng.normal(size=(n, 3))
    sex = rng.choice(["Female", "Male"], n)
    y = (X[:, 0] + 0.5 * (sex == "Male") + rng.normal(scale=0.8, size=n) > 0).astype(int)
    model = LogisticRegression().fit(X[:400], y[:400])
    return auditkit.audit(
        model, X[400:], y[400:], sensitive_features=sex[400:], n_boot=n_boot,
        random_state=seed, sections=["performance", "fairness"],
    )  # fmt: skip


def predictions_result(seed: int = 0, n_boot: int = 50) -> AuditResult:
    rng = np.random.default_rng(seed)
    n = 800
    g = rng.choice(["a", "b", "c"], n)
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return auditkit.audit_predictions(
        y, (s > 0.5).astype(int), y_score=s, sensitive_features={"grp": g}, n_boot=n_boot,
        random_state=seed,
    )  # fmt: skip


# ----------------------------------------------------------------------- the JSON model
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_dict_and_json(seed: int, tmp_path: Path) -> None:
    res = rich_result(seed)
    d = res.to_dict()
    assert AuditResult.from_dict(d).to_dict() == d
    assert AuditResult.from_dict(json.loads(json.dumps(d))) == res
    text = to_json(res)
    path = tmp_path / "audit.json"
    path.write_text(text)
    loaded = load_result(path)
    assert to_json(loaded) == text
    assert loaded.to_dict() == json.loads(text)
    schema_validate(json.loads(text))


@pytest.mark.parametrize("make", [rich_result, sklearn_result, predictions_result])
def test_every_written_json_validates(make: Any, tmp_path: Path) -> None:
    paths = write_outputs(make(), tmp_path)
    data = json.loads(paths["json"].read_text())
    schema_validate(data)
    assert set(paths) == {"json", "html", "markdown"}
    assert {p.name for p in tmp_path.iterdir()} == {"audit.json", "card.html", "card.md"}


def test_schema_rejects_what_it_should() -> None:
    d = rich_result().to_dict()
    bad = json.loads(json.dumps(d))
    bad["metrics"][0]["value"] = "0.9"  # numbers stay numbers
    with pytest.raises(jsonschema.ValidationError):
        schema_validate(bad)
    bad = json.loads(json.dumps(d))
    bad["sections"][0]["status"] = "done"
    with pytest.raises(jsonschema.ValidationError):
        schema_validate(bad)


# --------------------------------------------------------------------- same numbers
@pytest.mark.parametrize("make", [rich_result, sklearn_result, predictions_result])
def test_card_markdown_and_json_show_the_same_numbers(make: Any, tmp_path: Path) -> None:
    paths = write_outputs(make(), tmp_path)
    assert_cards_match_json(
        paths["json"].read_text(), paths["html"].read_text(), paths["markdown"].read_text()
    )


def test_policy_numbers_match_json(tmp_path: Path) -> None:
    paths = write_outputs(rich_result(), tmp_path)
    data = json.loads(paths["json"].read_text())
    checks = data["policy"]["checks"]
    html = paths["html"].read_text()
    actual = re.findall(r'<td class="num c-actual">([^<]*)</td>', html)
    assert len(actual) == len(checks)
    for text, c in zip(actual, checks):
        assert_number_shows(text, c["actual"])
    md = paths["markdown"].read_text()
    lines = [ln for ln in md.splitlines() if ln.startswith("| rule-") or ln.startswith("| ")]
    md_checks = [split_md_row(ln) for ln in lines if split_md_row(ln)[:1] in
                 ([c["id"]] for c in checks)]  # fmt: skip
    assert len(md_checks) == len(checks)
    for cells, c in zip(md_checks, checks):
        assert_number_shows(cells[4], c["actual"])


def test_cards_render_from_the_json_alone(tmp_path: Path) -> None:
    res = rich_result()
    paths = write_outputs(res, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert render_html(data) == paths["html"].read_text()
    assert render_markdown(data) == paths["markdown"].read_text()
    again = load_result(paths["json"])
    assert render_html(again) == paths["html"].read_text()


def test_header_sections_and_statuses_are_shown() -> None:
    res = rich_result()
    html, md = render_html(res), render_markdown(res)
    for text in (html, md):
        assert "toy model" in text and "generated" in text
        assert "2024-01-01T00:00:00Z" in text and "0.0.test" in text
        assert "needs training data" in text  # skipped reason
        assert "ValueError: boom" in text  # failed reason
        assert "auditkit audit model.ckpt" in text  # provenance: the command
        assert "0" * 64 in text  # model hash
        assert "Policy verdict" in text
    # sections appear in result order
    pos = [html.index(f'data-section="{s.name}"') for s in res.sections]
    assert pos == sorted(pos)
    for s in res.sections:
        assert f"## {s.name.capitalize()} (" in md


def test_every_chart_kind_is_drawn() -> None:
    html = render_html(rich_result())
    assert html.count("<svg ") == 4  # line, heatmap, 2 bars
    assert html.count("<title id=") == 4 and html.count("<desc id=") == 4
    assert html.count('src="data:image/png;base64,') == 2
    assert 'class="tok"' in html
    assert 'class="chart-error"' not in html


@pytest.mark.parametrize("kind", sorted(CHART_KINDS))
def test_malformed_chart_data_gives_a_note_not_a_crash(kind: str) -> None:
    for data in ({}, {"labels": [1], "values": [1, 2]}, {"series": [{"x": [1], "y": []}]},
                 {"rows": ["a"], "cols": ["b"], "values": [[1, 2]]},
                 {"items": [{"png_base64": "not base64!", "caption": "x"}]},
                 {"rows": [{"tokens": ["a"], "weights": []}]}):  # fmt: skip
        out = str(render_chart({"kind": kind, "title": "t", "data": data}, uid="c1"))
        assert "<script" not in out


def test_unknown_chart_kind_is_reported() -> None:
    out = render_chart({"kind": "<b>sankey</b>", "title": "t", "data": {}}, uid="c1")
    assert "cannot draw" in out and "&lt;b&gt;sankey" in out


def test_non_png_image_is_not_embedded() -> None:
    gif = "R0lGODlhAQABAAAAACw="  # a GIF header, valid base64
    out = render_chart(
        {"kind": "images", "title": "t", "data": {"items": [{"png_base64": gif, "caption": "c"}]}},
        uid="c1",
    )
    assert "<img" not in out and "not a PNG" in out


def test_markdown_tables_are_well_formed() -> None:
    md = render_markdown(rich_result(text=" | a|b \n x"))
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ---") or re.match(r"^\|( -{3,}:? \|)+$", line):
            width = len(split_md_row(line))
            assert len(split_md_row(lines[i - 1])) == width, lines[i - 1]
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                assert len(split_md_row(lines[j])) == width, lines[j]
                j += 1


def test_long_tables_fold_in_html() -> None:
    from auditkit.report import MetricValue, SectionResult

    res = rich_result(with_policy=False)
    many = tuple(MetricValue("stability", "accuracy", 0.5 + i / 1000, fold=i) for i in range(60))
    res = AuditResult(**{**res.__dict__,
                         "sections": (*res.sections, SectionResult("stability2", "ok",
                                                                   metrics=many))})  # fmt: skip
    html = render_html(res)
    assert "<summary>All 60 figures of this section</summary>" in html
    assert_cards_match_json(to_json(res), html, render_markdown(res))
    from auditkit.report import Table

    table = Table("t", "A long table", ("i", "v"), tuple((i, i / 7) for i in range(60)))
    res = AuditResult(
        **{**res.__dict__, "sections": (SectionResult("stability3", "ok", tables=(table,)),)}
    )
    assert "<summary>Show 60 rows</summary>" in render_html(res)


# -------------------------------------------------------------------------- formatting
@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_number_format_parses_back(x: float) -> None:
    assert_number_shows(fmt_num(x), x)


@given(st.integers(min_value=0, max_value=10**12))
def test_integers_show_exactly(k: int) -> None:
    assert parse_num(fmt_num(k)) == k


def test_formatting_examples() -> None:
    assert fmt_num(None) == "n/a" and fmt_num(float("nan")) == "n/a"
    assert fmt_num(0.0) == "0" and fmt_num(True) == "yes"
    assert fmt_ci([0.1, 0.25]) == "0.1 – 0.25" and fmt_ci(None) == "n/a"
    assert md_escape("a|b<c>&[x](y)`*") == r"a\|b&lt;c&gt;&amp;\[x\](y)\`\*"
    assert md_escape("line\nbreak") == "line break"
    assert math.isclose(parse_num("1,234") or 0, 1234)


# ------------------------------------------------------------------------------ writing
def test_write_outputs_writes_nothing_when_rendering_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = write_outputs(rich_result(seed=1), tmp_path)
    before = {p: p.read_bytes() for p in old.values()}

    def boom(result: Any) -> str:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(_render, "render_markdown", boom)
    with pytest.raises(RuntimeError):
        write_outputs(rich_result(seed=2), tmp_path)
    assert {p: p.read_bytes() for p in old.values()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json", "card.html", "card.md"]
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        write_outputs(rich_result(), fresh)
    assert not fresh.exists() or not any(fresh.iterdir())


def test_write_outputs_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    paths = write_outputs(rich_result(seed=1), tmp_path)
    before = paths["json"].read_bytes()
    with pytest.raises(OutputError, match="exists"):
        write_outputs(rich_result(seed=2), tmp_path, overwrite=False)
    assert paths["json"].read_bytes() == before
    write_outputs(rich_result(seed=2), tmp_path, overwrite=True)
    assert paths["json"].read_bytes() != before


def test_write_outputs_accepts_str_and_pathlike(tmp_path: Path) -> None:
    a = write_outputs(rich_result(), str(tmp_path / "a"))
    b = write_outputs(rich_result(), tmp_path / "b")
    assert a["html"].read_bytes() == b["html"].read_bytes()


def test_output_path_that_is_a_file_is_an_output_error(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        write_outputs(rich_result(), f)


def test_templates_load_from_the_package() -> None:
    from importlib import resources

    names = {p.name for p in resources.files("auditkit.templates").iterdir()}
    assert {"card.html.j2", "_macros.html.j2", "card.css", "card.md.j2"} <= names


def test_renderer_rejects_non_results() -> None:
    with pytest.raises(ValueError, match="AuditResult"):
        render_html(["not", "a", "result"])  # type: ignore[arg-type]


def _coords(svg: str) -> tuple[float, float, list[tuple[float, float]]]:
    w, h = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    pts: list[tuple[float, float]] = []
    for tag in re.findall(r"<(?:line|rect|circle|text)\b[^>]*>", svg):
        attrs = dict(re.findall(r'\b(x1|y1|x2|y2|x|y|cx|cy)="([-\d.]+)"', tag))
        for a, b in (("x", "y"), ("x1", "y1"), ("x2", "y2"), ("cx", "cy")):
            if a in attrs and b in attrs:
                pts.append((float(attrs[a]), float(attrs[b])))
    for points in re.findall(r'<polyline points="([^"]+)"', svg):
        pts += [tuple(float(v) for v in p.split(",")) for p in points.split()]  # type: ignore[misc]
    return w, h, pts


@pytest.mark.parametrize("logx", [False, True])
def test_chart_geometry_stays_inside_the_drawing(logx: bool) -> None:
    rng = np.random.default_rng(5)
    res = rich_result()
    charts = [c.to_dict() for s in res.sections for c in s.charts]
    x = np.sort(rng.uniform(1e-4, 1, 40))
    charts.append({"kind": "line", "title": "t", "data": {
        "series": [{"name": "a", "x": x.tolist(), "y": np.sqrt(x).tolist()},
                   {"name": "b", "x": x.tolist(), "y": [None, *x[1:].tolist()]}],
        "xlabel": "fpr", "ylabel": "tpr", "diagonal": True, "logx": logx}})  # fmt: skip
    charts.append({"kind": "bar", "title": "t", "data": {
        "labels": ["a", "b", "c"], "values": [-0.2, 0.4, None], "lows": [-0.3, 0.3, None],
        "highs": [-0.1, 0.5, None], "reference": 0.0, "xlabel": "", "ylabel": "",
        "horizontal": True}})  # fmt: skip
    drawn = 0
    for k, c in enumerate(charts):
        out = str(render_chart(c, uid=f"c{k}"))
        if not out.startswith("<svg"):
            continue
        drawn += 1
        w, h, pts = _coords(out)
        assert pts
        for px, py in pts:
            assert -1 <= px <= w + 1 and -1 <= py <= h + 1, (c["title"], px, py, w, h)
    assert drawn >= 6


# ------------------------------------------- issue 14: evidence, small groups, four-fifths
from auditkit.report import Finding, MetricValue, SectionResult  # noqa: E402
from auditkit.report._view import build_view  # noqa: E402

_NOT_DIST = "not distinguishable from no gap with these sample sizes"


def _fair_result(metrics: list[MetricValue], findings: tuple[Finding, ...] = (),
                 info: dict[str, Any] | None = None) -> AuditResult:  # fmt: skip
    sec = SectionResult("fairness", "ok", metrics=tuple(metrics), findings=findings,
                        info=info or {"ci_level": 0.95})  # fmt: skip
    return AuditResult("1.0", "0.test", "2024-01-01T00:00:00Z", {"ci_level": 0.95}, {},
                       {"name": "log", "n_rows": 5289}, (sec,))  # fmt: skip


def _log(ratio: float, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = 1500
    sex = np.repeat(["A", "B"], n)
    y_pred = np.concatenate([rng.random(n) < 0.5, rng.random(n) < 0.5 * ratio]).astype(int)
    y_true = rng.integers(0, 2, size=2 * n)
    return dict(y_true=y_true, y_pred=y_pred, sensitive_features={"sex": sex})


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_four_fifths_option_drives_table_chart_line_and_light(threshold: float) -> None:
    res = auditkit.audit_predictions(**_log(0.65), sections=["fairness"], n_boot=50,
                                     options={"four_fifths_threshold": threshold})  # fmt: skip
    d = res.to_dict()
    for s in d["sections"]:  # the fairness section states its threshold (older JSON lacks it)
        if s["name"] == "fairness":
            s["info"].setdefault("four_fifths_threshold", threshold)
    view = build_view(d)
    verdict = "pass" if threshold == 0.5 else "fail"
    fair = next(s for s in view["sections"] if s["name"] == "fairness")
    table = next(t for t in fair["tables"] if "four-fifths rule" in t["columns"])
    assert table["rows"][0][table["columns"].index("four-fifths rule")] == verdict
    (light,) = [i for i in view["summary"]["indicators"] if i["label"].startswith("Four-fifths")]
    assert light["status"] == verdict and f"{threshold:g}" in light["rule"]
    chart = next(c for c in fair["charts"] if c["name"].startswith("impact_ratio"))
    assert f"four-fifths rule {threshold:g}" in str(chart["drawing"])
    assert f"Reference line at {threshold:g}" in chart["text"]["note"]


def test_chart_line_falls_back_to_the_charts_own_reference_for_old_json() -> None:
    res = auditkit.audit_predictions(**_log(0.65), sections=["fairness"], n_boot=0)
    d = res.to_dict()
    for s in d["sections"]:
        s["info"].pop("four_fifths_threshold", None)
    fair = next(s for s in build_view(d)["sections"] if s["name"] == "fairness")
    chart = next(c for c in fair["charts"] if c["name"].startswith("impact_ratio"))
    assert "four-fifths rule 0.8" in str(chart["drawing"])


@pytest.mark.parametrize("p_adj", [0.4, 0.001])
def test_a_gap_without_evidence_gets_a_neutral_light(p_adj: float) -> None:
    recs = [
        MetricValue("fairness", "demographic_parity_ratio", 0.5, feature="race", ci=(0.3, 0.7),
                    method="between_groups", p_value=p_adj / 4, p_adjusted=p_adj),
        MetricValue("fairness", "false_positive_rate_difference", 0.3, feature="race",
                    group="X", ci=(0.25, 0.35), method="to_reference", p_value=p_adj / 4,
                    p_adjusted=p_adj),
    ]  # fmt: skip
    res = _fair_result(recs)
    view = build_view(res.to_dict())
    inds = view["summary"]["indicators"]
    assert len(inds) == 2
    if p_adj == 0.4:
        assert all(i["status"] == "info" and _NOT_DIST in i["reason"] for i in inds)
        assert all(i["word"] == "NO CLEAR GAP" for i in inds)
        assert view["summary"]["verdict"]["status"] not in ("fail", "warn")
        assert _NOT_DIST in render_html(res) and _NOT_DIST in render_markdown(res)
    else:
        assert [i["status"] for i in inds] == ["fail", "fail"]
        assert view["summary"]["verdict"]["status"] == "fail"
    # without any p-value (older JSON) the interval rule stands: red
    old = _fair_result([MetricValue("fairness", "demographic_parity_ratio", 0.5,
                                    feature="race", ci=(0.3, 0.7),
                                    method="between_groups")])  # fmt: skip
    (i,) = build_view(old.to_dict())["summary"]["indicators"]
    assert i["status"] == "fail"


def test_to_reference_lights_judge_a_gap_either_way() -> None:
    def light(name: str, value: float) -> str:
        res = _fair_result([MetricValue("fairness", name, value, feature="race", group="X",
                                        method="to_reference", p_adjusted=0.001)])  # fmt: skip
        (i,) = build_view(res.to_dict())["summary"]["indicators"]
        return str(i["status"])

    assert light("false_positive_rate_difference", 0.3) == "fail"  # more false alarms: harm
    # fewer false alarms than the reference: the reference group is the one harmed
    assert light("false_positive_rate_difference", -0.3) == "fail"
    assert light("false_positive_rate_difference", -0.05) == "pass"
    assert light("true_positive_rate_difference", -0.3) == "fail"  # fewer found: harm
    assert light("true_positive_rate_difference", 0.3) == "fail"  # the reference misses more
    assert light("selection_rate_ratio", 0.6) == "fail"  # descriptive: either way
    assert light("selection_rate_ratio", 1 / 0.6) == "fail"
    assert light("selection_rate_ratio", 0.95) == "pass"


def test_a_small_groups_extreme_record_drives_no_light_and_sits_in_its_note() -> None:
    """A group of 11 with extreme rates, two large groups 20 points apart in FPR."""
    g = dict(feature="race")
    recs = [
        MetricValue("fairness", "false_positive_rate", 0.42, group="X", n=2103, **g),
        MetricValue("fairness", "false_positive_rate", 0.22, group="Y", n=3175, **g),
        MetricValue("fairness", "false_positive_rate", 0.95, group="Z", n=11, **g,
                    flags=("too_small",), reason="fewer than 30 rows"),
        MetricValue("fairness", "false_positive_rate_difference", 0.20, group="X",
                    method="to_reference", ci=(0.17, 0.23), p_adjusted=1e-9, **g),
        MetricValue("fairness", "false_positive_rate_difference", 0.73, group="Z",
                    method="to_reference", ci=(0.4, 0.8), p_adjusted=0.01,
                    flags=("too_small",), **g),
        MetricValue("fairness", "equalized_odds_difference", 0.73, method="between_groups",
                    ci=(0.4, 0.8), p_adjusted=0.01, flags=("small_groups",), **g),
    ]  # fmt: skip
    findings = (
        Finding("fairness", "fail", "Group 'Z' (11 rows, too small to judge) is wrongly "
                "labelled high risk 95% of the time.", evidence="weak"),
        Finding("fairness", "warn", "A moderate gap elsewhere.", evidence="moderate"),
        Finding("fairness", "fail", "Of the people who did not reoffend, 42% of group X were "
                "labelled high risk, against 22% of group Y.", evidence="strong"),
    )  # fmt: skip
    res = _fair_result(recs, findings, {"ci_level": 0.95, "reference_groups": {"race": "Y"}})
    view = build_view(res.to_dict())
    s = view["summary"]
    labels = {i["label"]: i["status"] for i in s["indicators"]}
    assert not any("= Z" in k for k in labels)
    # 20 points: amber under the rule of thumb (green <= 0.1, red > 0.2), driven by X, not Z
    assert labels["False-positive-rate gap to the reference group: race = X vs Y"] == "warn"
    eo = next(v for k, v in labels.items() if k.startswith("Error-rate gap"))
    assert eo == "info"
    assert [f["text"][:6] for f in s["attention"]] == ["Of the", "A mode"]
    fair = next(a for a in s["areas"] if a["name"] == "fairness")
    assert fair["sentences"][0].startswith("Of the people who did not reoffend")
    sec = next(x for x in view["sections"] if x["name"] == "fairness")
    (note,) = sec["small_groups"]
    assert note["group"] == "Z" and note["n"] == "11" and "0.95" in note["figures"]
    assert [f["text"][:9] for f in sec["small_findings"]] == ["Group 'Z'"]
    html, md = render_html(res), render_markdown(res)
    for card in (html, md):
        assert "Groups too small to judge" in card and "race = Z (n = 11)" in card
    head = html[: html.index('id="sec-fairness"')]
    assert "Group &#39;Z&#39;" not in head  # neither the summary nor the attention list


def test_findings_that_name_a_small_group_move_to_its_note() -> None:
    g = dict(feature="race")
    recs = [
        MetricValue("fairness", "false_positive_rate", 0.9, group="C", n=11,
                    flags=("too_small",), **g),
        MetricValue("fairness", "false_positive_rate", 0.3, group="Caucasian", n=900, **g),
    ]  # fmt: skip
    findings = (
        Finding("fairness", "warn", "The false positive rate ranges from 30% for people with "
                "race = Caucasian to 90% for people with race = C: a gap of 60 points."),
        Finding("fairness", "warn", "People with race = Caucasian are flagged 30% of the time."),
    )  # fmt: skip
    view = build_view(_fair_result(recs, findings).to_dict())
    sec = next(x for x in view["sections"] if x["name"] == "fairness")
    assert [f["text"][:10] for f in sec["findings"]] == ["People wit"]
    assert [f["text"][:10] for f in sec["small_findings"]] == ["The false "]
    assert [f["text"][:10] for f in view["summary"]["attention"]] == ["People wit"]


def test_small_groups_note_escapes_hostile_group_names() -> None:
    bad = '<script>alert(1)</script>"onmouseover=x'
    recs = [MetricValue("fairness", "false_positive_rate", 0.9, feature="race", group=bad,
                        n=5, flags=("too_small",), reason="5 rows")]  # fmt: skip
    res = _fair_result(recs, (Finding("fairness", "warn", f"race = {bad} is extreme."),))
    html = render_html(res)
    note = html[html.index("Groups too small to judge") :]
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in note
    assert "race = &lt;script&gt;" in note  # the finding that names it sits in the note
