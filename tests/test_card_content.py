"""What the stakeholder card says: traffic lights, glossary, front matter, training and energy."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
import yaml
from _report_fixtures import HOSTILE, rich_result, tabular_card_result

from auditkit.report import (
    AuditResult,
    MetricValue,
    SectionResult,
    render_html,
    render_markdown,
    to_json,
)
from auditkit.report._frontmatter import front_matter, model_index_metrics
from auditkit.report._glossary import TERMS, glossary_terms, metric_definition
from auditkit.report._view import build_view
from auditkit.result.lights import (
    AREAS,
    DEFAULT_THRESHOLDS,
    DIRECTIONS,
    default_lights,
    direction,
    judge,
    policy_lights,
)


# ---------------------------------------------------------------------------- lights
def test_directions_follow_the_metric_registry() -> None:
    from auditkit.metrics.definitions import METRICS

    for name in METRICS.names():
        info = METRICS.get(name)
        assert direction(name) == info.greater_is_better, name
        assert DIRECTIONS.get(name, direction(name)) == info.greater_is_better, name


def test_every_threshold_has_a_direction_and_a_source() -> None:
    for t in DEFAULT_THRESHOLDS:
        assert direction(t.metric) is not None, t.metric
        assert t.source and t.section in AREAS
        up = direction(t.metric)
        assert (t.pass_at >= t.fail_at) if up else (t.pass_at <= t.fail_at), t


@pytest.mark.parametrize("seed", range(20))
def test_judge_against_a_direct_reading(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for t in DEFAULT_THRESHOLDS:
        up = direction(t.metric)
        for _ in range(25):
            v = float(rng.uniform(-0.2, 1.2))
            half = float(rng.uniform(0, 0.2))
            ci = (v - half, v + half) if rng.random() < 0.7 else None
            status, _ = judge(v, ci, metric=t.metric, pass_at=t.pass_at, fail_at=t.fail_at)
            sign = 1 if up else -1
            good = sign * (v - t.pass_at) >= 0
            bad = sign * (v - t.fail_at) < 0
            want = "pass" if good else "fail" if bad else "warn"
            if ci is not None:
                lo_end = ci[0] if up else ci[1]
                hi_end = ci[1] if up else ci[0]
                if want == "pass" and sign * (lo_end - t.pass_at) < 0:
                    want = "warn"
                if want == "fail" and sign * (hi_end - t.fail_at) >= 0:
                    want = "warn"
            assert status == want, (t.metric, v, ci, status, want)


def test_judge_edge_cases() -> None:
    assert judge(None, None, metric="roc_auc", pass_at=0.8, fail_at=0.7)[0] == "info"
    assert judge(0.5, None, metric="selection_rate", pass_at=0.8, fail_at=0.7)[0] == "info"
    four = dict(metric="demographic_parity_ratio", pass_at=0.8, fail_at=0.8)
    assert judge(0.8, None, **four)[0] == "pass" and judge(0.79, None, **four)[0] == "fail"
    # a group too small to judge never drives a light (issue 14): neutral, whatever its value
    assert judge(0.95, None, flags=["too_small"], **four) == ("info", "too few rows to judge")
    assert judge(0.1, None, flags=["too_small"], **four)[0] == "info"
    assert judge(0.1, None, flags=["small_groups"], **four)[0] == "info"


def test_lights_read_the_right_records() -> None:
    res = rich_result(with_policy=False)
    lights = default_lights(res.to_dict())
    fair = [lt for lt in lights if lt.area == "fairness"]
    ratio = res.section("fairness").get(  # type: ignore[union-attr]
        "demographic_parity_ratio", feature=["sex"], method="between_groups"
    )
    assert len(fair) == 1 and fair[0].value == ratio.value  # type: ignore[union-attr]
    assert fair[0].status == ("pass" if ratio.value >= 0.8 else "fail")  # type: ignore[union-attr]
    perf = [lt for lt in lights if lt.area == "performance"]
    assert [lt.label for lt in perf] == ["Ranking quality (ROC AUC)"]


def test_with_a_policy_only_its_rules_count() -> None:
    res = rich_result(with_policy=True)
    view = build_view(json.loads(to_json(res)))
    assert view["summary"]["from_policy"]
    checks = res.policy["checks"]
    assert len(view["summary"]["indicators"]) == len(checks)
    for ind, c in zip(view["summary"]["indicators"], checks):
        want = "pass" if c["status"] == "passed" else (
            "warn" if c["severity"] == "warning" else "fail")  # fmt: skip
        assert ind["status"] == want
    words = {a["name"]: a["word"] for a in view["summary"]["areas"]}
    assert words["privacy"] == "NOT RUN" and words["stability"] == "NOT RUN"
    assert len(policy_lights(res.policy)) == len(checks)


def test_summary_areas_follow_the_reader_order_and_name_their_findings() -> None:
    res = tabular_card_result()
    html = render_html(res)
    areas = re.findall(r'<tr class="area" data-area="([a-z]+)">', html)
    assert areas == [a for a in AREAS if res.section(a) is not None]
    first = res.section("fairness").findings[0].text  # type: ignore[union-attr]
    assert first.replace("'", "&#39;") in html


# -------------------------------------------------------------------------- glossary
REFERENCE_NAMES = {
    # every name the sections report on the reference audits (performance and fairness from
    # the registry; the others from the sections' code)
    "membership_auc", "membership_advantage", "membership_tpr_at_1pct_fpr",
    "membership_tpr_at_0_1pct_fpr", "membership_auc_bound", "membership_advantage_bound",
    "generalization_gap_accuracy", "generalization_gap_loss", "train_accuracy", "eval_accuracy",
    "train_log_loss", "eval_log_loss", "identifier_risk", "dp_epsilon", "dp_delta",
    "importance", "importance_share", "group_importance", "importance_profile_difference",
    "importance_rank_correlation", "proxy_score", "proxy_auc", "counterfactual_flip_rate",
    "completeness_delta_p50", "completeness_delta_p95", "completeness_delta_max",
    "completeness_delta_relative_p95", "randomization_rank_correlation",
    "accuracy_mean", "accuracy_std", "balanced_accuracy_min", "roc_auc_max", "log_loss_std",
    "demographic_parity_ratio_mean", "equalized_odds_difference_std",
}  # fmt: skip


def test_every_metric_name_has_a_definition() -> None:
    from auditkit.metrics.definitions import METRICS

    names = set(METRICS.names())
    for name in names | REFERENCE_NAMES:
        assert metric_definition(name), name
    assert metric_definition("no_such_metric") is None


def test_glossary_terms_follow_the_result() -> None:
    res = rich_result(with_policy=False)
    terms = dict(glossary_terms(res.to_dict()))
    assert "Four-fifths rule" in terms and "Confidence interval (CI)" in terms
    assert "Membership inference" not in terms  # privacy did not run
    assert "Energy (kWh)" not in terms
    terms = dict(glossary_terms(tabular_card_result().to_dict()))
    assert "Energy (kWh)" in terms and "Learning curve" in terms
    for term, (text, triggers) in TERMS.items():
        assert text.endswith(".") and triggers, term


def test_card_glossary_lists_every_figure_shown() -> None:
    res = tabular_card_result()
    html = render_html(res)
    glossary = html[html.index('id="glossary"') : html.index('id="provenance"')]
    for name in {m.name for m in res.metrics}:
        assert f"<dt><code>{name}</code></dt>" in glossary, name


# ----------------------------------------------------------------------- front matter
def _front(md: str) -> dict[str, Any]:
    assert md.startswith("---\n")
    block = md.split("\n---\n", 1)[0][4:]
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    return data


def test_front_matter_parses_and_carries_the_json_results() -> None:
    res = tabular_card_result()
    data = json.loads(to_json(res))
    fm = _front(render_markdown(data))
    assert fm["license"] == "mit" and fm["datasets"] == ["generated"]
    assert {"auditkit", "tabular-classification", "fairness-audit"} <= set(fm["tags"])
    (entry,) = fm["model-index"]
    assert entry["name"] == data["model"]["name"]
    (result,) = entry["results"]
    assert result["task"]["type"] == "tabular-classification"
    metrics = result["metrics"]
    assert metrics == model_index_metrics(data)
    assert set(fm["metrics"]) == {m["type"] for m in metrics}
    records = data["metrics"]
    for m in metrics:
        match = [r for r in records if r["name"] == m["type"] and r["value"] == m["value"]
                 and (r["feature"] == [m["config"]] if r["section"] == "fairness"
                      else r["feature"] is None)]  # fmt: skip
        assert match, m
    headline = {"accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier_score",
                "expected_calibration_error"}  # fmt: skip
    want = {(r["name"], r["value"]) for r in records if r["section"] == "performance"
            and r["name"] in headline and r["feature"] is None and r.get("label") is None
            and r["value"] is not None}  # fmt: skip
    assert want
    assert want <= {(m["type"], m["value"]) for m in metrics}
    co2 = fm["co2_eq_emissions"]
    energy = data["model"]["training"]["energy"]
    assert co2["emissions"] == energy["co2e_g"]
    assert set(co2) == {"emissions", "source", "training_type", "geographical_location",
                        "hardware_used"}  # fmt: skip
    assert "estimated" in co2["source"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_front_matter_with_hostile_strings(hostile: str) -> None:
    res = rich_result(text=hostile, feature="f" + hostile, groups=(hostile, "b", "c"))
    res = AuditResult(**{**res.__dict__, "card_info": {"license": hostile, "tags": [hostile]}})
    data = json.loads(to_json(res))
    md = render_markdown(data)
    block = md.split("\n---\n", 1)[0]
    assert "<" not in block and ">" not in block and "[" not in block
    fm = _front(md)
    assert fm["license"] in ("other", hostile.lower()) and hostile in fm["tags"]
    assert fm["datasets"] == [data["data"]["name"]]
    assert fm["model-index"][0]["name"] == data["model"]["name"]
    assert front_matter(data) == block + "\n---\n"


def test_markdown_follows_the_hub_template() -> None:
    md = render_markdown(tabular_card_result())
    heads = re.findall(r"^## (.+)$", md, flags=re.M)
    for h in ("Summary", "Model details", "Uses", "Bias, risks and limitations",
              "Training details", "Evaluation", "Model examination", "Environmental impact",
              "Glossary", "Provenance"):  # fmt: skip
        assert h in heads, h
    order = [heads.index(h) for h in ("Uses", "Bias, risks and limitations", "Training details",
                                      "Evaluation", "Model examination",
                                      "Environmental impact", "Glossary")]  # fmt: skip
    assert order == sorted(order)
    assert "### Direct use" in md and "### Out-of-scope use" in md and "#### Factors" in md


# ------------------------------------------------------------------- training, energy
def test_training_part_shows_the_checkpoint_record() -> None:
    res = tabular_card_result()
    model = res.model
    html = render_html(res)
    part = html[html.index('id="training"') : html.index('id="about"')]
    energy = model["training"]["energy"]  # type: ignore[index]
    assert "ESTIMATED" in part and "Energy and emissions" in part
    assert energy["method"].split(";")[0].replace("'", "&#39;") in part
    assert "Learning curves (loss)" in part and "Learning curves (accuracy)" in part
    assert "Hyper-parameters" in part
    plain = rich_result(with_policy=False)
    html = render_html(plain)
    part = html[html.index('id="training"') : html.index('id="about"')]
    assert "not trained by auditkit" in part and "not provided" in part


def test_mitigation_tradeoff_chart_from_the_fairness_records() -> None:
    res = rich_result(with_policy=False)
    fair = res.section("fairness")
    assert fair is not None
    extra = []
    rng = np.random.default_rng(0)
    for constraint in ("demographic_parity", "equalized_odds"):
        vals = rng.uniform(0.05, 0.9, 4)
        for name, v in zip(
            (
                "mitigation_accuracy_before",
                "mitigation_accuracy_after",
                "mitigation_disparity_before",
                "mitigation_disparity_after",
            ),
            vals,
        ):
            extra.append(MetricValue("fairness", name, float(v), feature=["sex"],
                                     method=constraint, n=500))  # fmt: skip
    fair2 = SectionResult(**{**fair.__dict__, "metrics": (*fair.metrics, *extra)})
    res = AuditResult(**{**res.__dict__, "sections": tuple(
        fair2 if s.name == "fairness" else s for s in res.sections)})  # fmt: skip
    html = render_html(res)
    assert 'data-chart="mitigation_tradeoff"' in html
    fig = html[html.index('data-chart="mitigation_tradeoff"') :]
    fig = fig[: fig.index("</figure>")]
    assert fig.count("<circle") == 4  # before and after, two constraints
    for m in extra:
        assert f"{m.value:.4g}" in fig  # the numbers behind the chart


def test_a_trained_checkpoint_records_its_energy_and_the_card_shows_it(
    tiny_ckpt: Any, tmp_path: Any
) -> None:
    import auditkit
    from auditkit.report import write_outputs

    loaded = auditkit.load_checkpoint(tiny_ckpt("iris-mlp"))
    energy = loaded.meta["training"]["energy"]
    assert energy["label"] in ("measured", "estimated") and energy["kwh"] >= 0
    assert energy["co2e_g"] == pytest.approx(energy["kwh"] * energy["grid_intensity_g_per_kwh"])
    assert {c["name"] for c in energy["components"]} >= {"cpu"}
    res = auditkit.audit(loaded, n_boot=20, sections=["performance"])
    paths = write_outputs(res, tmp_path)
    html = paths["html"].read_text()
    part = html[html.index('id="training"') : html.index('id="about"')]
    assert "Energy and emissions" in part and energy["label"].upper() in part
    fm = _front(paths["markdown"].read_text())
    assert (
        fm["co2_eq_emissions"]["emissions"]
        == json.loads(paths["json"].read_text())["model"]["training"]["energy"]["co2e_g"]
    )
