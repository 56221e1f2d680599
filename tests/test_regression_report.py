"""The card of a regression result: header, glossary, lights, fairness tables, charts, escaping."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from auditkit.cli import main
from auditkit.inputs.context import AuditConfig, AuditContext, Predictions, RegressionPredictions
from auditkit.metrics.regression import regression_metrics
from auditkit.metrics.table import Key
from auditkit.report import AuditResult, MetricValue, SectionResult, render_html, render_markdown
from auditkit.report._charts import chart_numbers, render_chart
from auditkit.report._diff import diff_results
from auditkit.report._glossary import glossary_terms, metric_definition
from auditkit.report._view import build_view
from auditkit.result.json_io import to_json
from auditkit.result.lights import default_lights, direction, judge
from auditkit.result.records import SCHEMA_VERSION
from auditkit.sections.performance import PerformanceSection

_EMPTY = Predictions(
    y_true=np.zeros(0, dtype=np.int64), y_pred=np.zeros(0, dtype=np.int64), y_proba=None,
    classes=(), pos_label=None, has_scores=False,
)  # fmt: skip
HOSTILE_GROUP = "<script>alert(1)</script>"
TARGET = "a|b"


def _data(seed: int = 0, n: int = 1500):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", HOSTILE_GROUP], n)
    y = rng.gamma(5.0, 8.0, n)
    p = y + rng.normal(0, 4, n) - np.where(sex == "F", 2.0, 0.0)
    return y, p, sex


def _performance(y, p, *, unit="hours", target=TARGET, n_boot=100) -> SectionResult:
    rp = RegressionPredictions(y, p, None, target, unit)
    cfg = AuditConfig(sections=("performance",), n_boot=n_boot)
    return PerformanceSection().run(AuditContext(config=cfg, predictions=_EMPTY, regression=rp))


def _fairness(y, p, sex, unit="hours") -> SectionResult:
    """Fairness records of a regression built by hand, in the shapes the section writes."""
    rm = regression_metrics(y, p, {"sex": sex})
    rng = np.random.default_rng(1)
    ci = rm.bootstrap(100, rng)
    pv = rm.pvalues(100, np.random.default_rng(2), samples=rm.bootstrap_samples(100, rng))
    f = ("sex",)
    recs: list[MetricValue] = []
    units = {"mean_prediction", "mean_target", "mean_absolute_error", "root_mean_squared_error",
             "mean_error", "mean_error_at_equal_target"}  # fmt: skip
    groups = rm.groups("sex")
    counts = rm.values[Key("count", f, None, "group")]
    for name in ("count", "mean_prediction", "mean_target", "mean_absolute_error",
                 "root_mean_squared_error", "mean_error", "r2_score",
                 "mean_error_at_equal_target"):  # fmt: skip
        key = Key(name, f, None, "group")
        for i, g in enumerate(groups):
            c = None
            if key in ci.low and name != "count":
                c = (float(ci.low[key][i]), float(ci.high[key][i]))
            u = unit if name in units else None
            recs.append(MetricValue("fairness", name, float(rm.values[key][i]), feature=f,
                                    group=g, ci=c, n=int(counts[i]), unit=u))  # fmt: skip
    for name in ("mean_absolute_error", "mean_error", "r2_score"):
        for kind in ("difference", "ratio"):
            key = Key(f"{name}_{kind}", f, None, "between_groups")
            p_raw, p_adj = pv[key]
            recs.append(MetricValue("fairness", key.name, float(rm.values[key]), feature=f,
                                    method="between_groups", ci=(float(ci.low[key]),
                                    float(ci.high[key])), p_value=p_raw, p_adjusted=p_adj,
                                    unit=unit if kind == "difference" and name != "r2_score"
                                    else None))  # fmt: skip
    worst_g, worst_v = rm.worst_group("mean_absolute_error", "sex")
    recs.append(MetricValue("fairness", "worst_group_mean_absolute_error", worst_v, feature=f,
                            group=worst_g, agg="worst_case", unit=unit))  # fmt: skip
    for i, g in enumerate(groups):
        key = Key("prediction_ks_gap", f, None, "group")
        p_raw, p_adj = pv[Key("prediction_ks_gap", f, i, "group")]
        recs.append(MetricValue("fairness", "prediction_ks_gap", float(rm.values[key][i]),
                                feature=f, group=g, p_value=p_raw, p_adjusted=p_adj))  # fmt: skip
    facts = [x for x in rm.facts("sex") if x["text_at_equal_target"]]
    findings = ()
    if facts:
        from auditkit.result.records import Finding

        findings = (Finding("fairness", "info", facts[0]["text_at_equal_target"],
                            "mean_error_at_equal_target"),)  # fmt: skip
    return SectionResult("fairness", "ok", metrics=tuple(recs), findings=findings,
                         info={"task": "regression"})  # fmt: skip


def regression_result(seed: int = 0, *, unit: str = "hours") -> AuditResult:
    y, p, sex = _data(seed)
    perf = _performance(y, p, unit=unit)
    fair = _fairness(y, p, sex, unit=unit)
    return AuditResult(
        schema_version=SCHEMA_VERSION, tool_version="0.0", created_at="2026-01-01T00:00:00Z",
        run={"seed": 0, "n_boot": 100, "ci_level": 0.95, "sections": ["performance", "fairness"]},
        model={"name": "predictions", "kind": "predictions", "task": "regression"},
        data={"name": "toy", "n_rows": len(y), "task": "regression", "target": TARGET,
              "unit": unit, "sensitive_features": ["sex"], "classes": [],
              "positive_class": None},
        sections=(perf, fair),
    )  # fmt: skip


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return regression_result()


@pytest.fixture(scope="module")
def cards(result: AuditResult) -> tuple[str, str]:
    d = result.to_dict()
    return render_html(d), render_markdown(d)


def test_header_says_regression_and_names_the_target(result: AuditResult) -> None:
    view = build_view(result.to_dict())
    assert view["fact"]["Task"] == "Regression: the model predicts a|b (in hours)"
    details = dict(view["details"])
    assert details["Target"] == TARGET and details["Unit of the target"] == "hours"
    assert "Classes" not in details and "Positive class" not in details
    assert view["fact"]["Model"] == "none: a log of predictions was audited"
    prov = dict(view["provenance"])
    assert "Data target" not in prov and "Data unit" not in prov and "Model task" not in prov
    perf = next(s for s in view["sections"] if s["name"] == "performance")
    assert perf["question"].startswith("How far are the predictions from the true values")
    key = {k["label"]: k["value"] for k in perf["key_figures"]}
    assert key["R²"] and key["Mean absolute error (MAE)"].endswith(" hours")


def test_header_without_a_target_name() -> None:
    d = regression_result().to_dict()
    del d["data"]["target"], d["data"]["unit"]
    for s in d["sections"]:
        s["info"].pop("target", None)
        s["info"].pop("unit", None)
    assert build_view(d)["fact"]["Task"] == "Regression: the model predicts a number"
    # the performance section's info names the target when the data block does not
    d2 = regression_result().to_dict()
    del d2["data"]["target"], d2["data"]["unit"]
    assert build_view(d2)["fact"]["Task"] == "Regression: the model predicts a|b (in hours)"


def test_every_string_is_escaped(cards: tuple[str, str]) -> None:
    html, md = cards
    assert HOSTILE_GROUP not in html and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a|b" in html  # the target, as text
    # Markdown: no raw HTML, and the target's pipe cannot break a table
    assert HOSTILE_GROUP not in md
    assert re.search(r"(?<!\\)a\|b", md) is None
    assert "a\\|b" in md


def test_glossary_explains_every_regression_figure(result: AuditResult) -> None:
    d = result.to_dict()
    names = {m["name"] for m in d["metrics"]}
    for name in names:
        assert metric_definition(name), name
    for name in ("mean_absolute_error", "mean_squared_error", "root_mean_squared_error",
                 "r2_score", "mean_error", "median_absolute_error",
                 "worst_group_mean_absolute_error", "prediction_ks_gap",
                 "prediction_wasserstein_gap", "mean_error_at_equal_target",
                 "mean_absolute_error_difference", "mean_error_ratio",
                 "root_mean_squared_error_std"):  # fmt: skip
        assert metric_definition(name), name
    assert "too much" in metric_definition("mean_error")  # type: ignore[operator]
    terms = dict(glossary_terms(d))
    for t in ("Regression", "Target", "Error (residual)", "Predicted-against-actual chart",
              "Bounded group loss (worst-group loss)"):  # fmt: skip
        assert t in terms, t
    assert "Positive class" not in terms


def test_mean_error_is_never_judged_as_a_loss(result: AuditResult) -> None:
    assert direction("mean_error") is None and direction("mean_error_ratio") is None
    assert direction("mean_absolute_error") is False and direction("r2_score") is True
    assert judge(5.0, (4.0, 6.0), metric="mean_error", pass_at=0.0, fail_at=1.0)[0] == "info"
    lights = default_lights(result.to_dict())
    # the bias itself is never a light; its gap between groups is a fairness figure
    assert not any("(mean error)" in lt.label.lower() for lt in lights)
    assert all(lt.area == "fairness" for lt in lights if "mean error" in lt.label.lower())
    # a diff reads a bias moving towards 0 as better, whatever its sign
    a = result.to_dict()
    b = json.loads(json.dumps(a))
    for m in b["metrics"]:
        if m["name"] == "mean_error" and m["feature"] is None:
            m["value"] = -0.5 * m["value"]
    move = next(mv for mv in diff_results(a, b).moves if mv.key[1] == "mean_error"
                and mv.status == "moved")  # fmt: skip
    assert move.better is True


def test_verdict_is_not_red_from_performance_alone(result: AuditResult) -> None:
    view = build_view(result.to_dict())
    perf = next(a for a in view["summary"]["areas"] if a["name"] == "performance")
    assert perf["status"] in ("info", "warn", "pass")


def test_fairness_tables_of_groups_and_gaps(result: AuditResult) -> None:
    view = build_view(result.to_dict())
    fair = next(s for s in view["sections"] if s["name"] == "fairness")
    titles = [t["title"] for t in fair["tables"]]
    assert titles == ["Groups by sex at a glance", "Gaps between groups by sex"]
    groups, gaps = fair["tables"]
    assert groups["columns"] == [
        "Group", "Rows", "Mean prediction (hours)", "Mean true value (hours)", "MAE (hours)",
        "RMSE (hours)", "Mean error (hours)", "R²", "Mean error at equal true values (hours)",
    ]  # fmt: skip
    assert sorted(r[0] for r in groups["rows"]) == sorted(["F", HOSTILE_GROUP])
    assert all("–" in r[4] for r in groups["rows"])  # value with its interval
    assert gaps["columns"][-2:] == ["p-value", "Adjusted p"]
    figs = [r[0] for r in gaps["rows"]]
    assert "mean_absolute_error_difference" in figs and "prediction_ks_gap" in figs
    assert "mean_error_ratio" not in figs  # a ratio of signed values means little
    assert "worst_group_mean_absolute_error" in figs
    row = gaps["rows"][figs.index("mean_absolute_error_difference")]
    assert row[1] == "between groups" and row[5] != "n/a"


def test_fairness_tables_in_both_cards(cards: tuple[str, str]) -> None:
    html, md = cards
    for text in ("Groups by sex at a glance", "Gaps between groups by sex", "Adjusted p"):
        assert text in html and text in md
    assert "| Group | Rows | Mean prediction (hours) |" in md


def test_charts_drawn_accessibly_and_tabulated(result: AuditResult, cards) -> None:
    html, md = cards
    perf = result.section("performance")
    assert perf is not None
    for c in perf.charts:
        svg = str(render_chart(c.to_dict(), uid="c9"))
        assert svg.startswith('<svg class="chart-svg" role="img"')
        assert '<title id="c9-title">' in svg and '<desc id="c9-desc">' in svg
        table = chart_numbers(c.to_dict())
        assert table["rows"], c.kind
    assert "Chart: Predicted against true values" in md
    assert "| Mean true value | Mean prediction | Difference | Rows |" in md
    assert "Chart: Errors: prediction minus true value" in md
    assert 'class="chart-error"' not in html


def test_chart_kinds_escape_their_strings() -> None:
    chart = {
        "kind": "predicted_actual", "title": "<b>t</b>", "description": "<i>d</i>",
        "data": {"binned": {"x": [1, 2], "y": [1.5, 2.5], "n": [3, 4]},
                 "points": {"x": [1, 2], "y": [1, 3]}, "xlabel": "<x>", "ylabel": "a&b"},
    }  # fmt: skip
    svg = str(render_chart(chart, uid="c1"))
    assert "<b>" not in svg and "<i>" not in svg and "<x>" not in svg and "a&b" not in svg
    assert "&lt;x&gt;" in svg and "a&amp;b" in svg
    hist = {"kind": "histogram", "title": "h", "data": {
        "edges": [0, 1, 2], "counts": [3, 4], "xlabel": "</text><script>", "reference": 0,
        "reference_label": "<r>", "below": 2, "above": 0}}  # fmt: skip
    svg = str(render_chart(hist, uid="c2"))
    assert "<script>" not in svg and "<r>" not in svg and "2 below" in svg
    bad = {"kind": "histogram", "title": "h", "data": {"edges": [0, 1], "counts": [1, 2]}}
    assert "Chart could not be drawn" in str(render_chart(bad, uid="c3"))


def test_front_matter_says_regression(cards: tuple[str, str]) -> None:
    _, md = cards
    front = yaml.safe_load(md.split("---\n")[1])
    assert "tabular-regression" in front["tags"]
    d = regression_result().to_dict()
    d["data"]["modality"] = "predictions"  # a prediction log is tabular
    assert "tabular-regression" in render_markdown(d).split("---\n")[1]
    res = front["model-index"][0]["results"][0]
    assert res["task"]["type"] == "tabular-regression"
    types = {m["type"] for m in res["metrics"]}
    assert {"mean_absolute_error", "r2_score", "mean_absolute_error_difference"} <= types


def test_render_command_gives_the_same_card(result: AuditResult, tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    path.write_text(to_json(result), encoding="utf-8")
    assert main(["render", str(path), "--out", str(tmp_path)]) == 0
    d = json.loads(path.read_text(encoding="utf-8"))
    assert (tmp_path / "card.html").read_text(encoding="utf-8") == render_html(d)
    assert (tmp_path / "card.md").read_text(encoding="utf-8") == render_markdown(d)
    assert "Regression: the model predicts a|b (in hours)" in render_html(d)


def test_a_classification_card_has_no_regression_parts() -> None:
    m = MetricValue("performance", "accuracy", 0.8, ci=(0.7, 0.9), n=100)
    res = AuditResult("1.0", "0", "t", {}, {}, {"task": "binary"},
                      (SectionResult("performance", "ok", metrics=(m,)),))  # fmt: skip
    view = build_view(res.to_dict())
    assert view["fact"]["Task"] == "binary"
    assert "Target" not in dict(view["details"])
    assert "Regression" not in dict(glossary_terms(res.to_dict()))


def test_a_hostile_target_and_unit_are_escaped_everywhere() -> None:
    y, p, _ = _data(3, n=300)
    target, unit = '"><img src=x onerror=alert(1)>', "</text><script>x</script>"
    perf = _performance(y, p, unit=unit, target=target, n_boot=20)
    res = AuditResult(
        schema_version=SCHEMA_VERSION, tool_version="0.0", created_at="2026-01-01T00:00:00Z",
        run={"seed": 0, "n_boot": 20, "ci_level": 0.95}, model={"task": "regression"},
        data={"task": "regression", "target": target, "unit": unit, "n_rows": 300},
        sections=(perf,),
    )  # fmt: skip
    html, md = render_html(res.to_dict()), render_markdown(res.to_dict())
    for bad in ("<img", "<script"):
        assert bad not in html, bad
        assert bad not in md.split("---\n", 2)[2], bad
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_card_from_count_tables_draws_binned_charts() -> None:
    from auditkit.inputs.context import RegressionCounts
    from auditkit.metrics.regression import regression_count_table

    y, p, sex = _data(4, n=2000)
    s, h = regression_count_table(y, p, {"sex": sex}, as_frame=False)
    rc = RegressionCounts(("sex",), s, h, "duckdb", "log.parquet")
    cfg = AuditConfig(sections=("performance",), n_boot=50, options={"target_unit": "EUR"})
    perf = PerformanceSection().run(AuditContext(config=cfg, predictions=_EMPTY,
                                                 regression_counts=rc))  # fmt: skip
    res = AuditResult(
        schema_version=SCHEMA_VERSION, tool_version="0.0", created_at="2026-01-01T00:00:00Z",
        run={"seed": 0, "n_boot": 50, "ci_level": 0.95}, model={"task": "regression"},
        data={"task": "regression", "target": "price", "unit": "EUR", "n_rows": 2000},
        sections=(perf,),
    )  # fmt: skip
    html, md = render_html(res.to_dict()), render_markdown(res.to_dict())
    assert 'class="chart-error"' not in html
    assert "Mean prediction against the true value" in html
    assert "Absolute errors: |prediction - true value|" in html
    assert "Absolute errors: \\|prediction - true value\\|" in md  # escaped in Markdown
    assert "read from a histogram" in html and "histogram_estimate" in html
    assert "Histogram error bound" in dict(glossary_terms(res.to_dict()))
