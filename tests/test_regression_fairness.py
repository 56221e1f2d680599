"""The fairness section of a regression: values, record shapes, findings, and simulations.

Values equal Fairlearn's MetricFrame with scikit-learn's regression metrics (weights included)
from rows and from count tables; the statistical claims (interval coverage, false-alarm rate,
power, the bias at equal true values) are checked by simulations with known truth.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditkit.exceptions import ParameterError
from auditkit.inputs.context import (
    AuditConfig,
    AuditContext,
    Predictions,
    RegressionCounts,
    RegressionPredictions,
)
from auditkit.metrics.regression import regression_count_table
from auditkit.result.records import AuditResult, MetricValue, SectionResult
from auditkit.sections.fairness import FairnessSection

fairlearn_metrics = pytest.importorskip("fairlearn.metrics")
skm = pytest.importorskip("sklearn.metrics")

EMPTY = Predictions(np.empty(0, int), np.empty(0, int), None, (), None)


def run(
    y: Any, pred: Any, sensitive: dict[str, Any], *, w: Any = None, counts: bool = False,
    n_boot: int = 0, unit: str | None = None, target: str | None = None,
    drop_sq: bool = False, no_hist: bool = False, **config: Any,
) -> SectionResult:  # fmt: skip
    """Run the section on rows (or on the count tables of the same rows)."""
    options = config.pop("options", {"n_permutations": 99})
    cfg = AuditConfig(sections=("fairness",), n_boot=n_boot, options=options, **config)
    sens = pd.DataFrame({k: np.asarray(v).astype(str) for k, v in sensitive.items()})
    if counts:
        sums, hist = regression_count_table(y, pred, sens, sample_weight=w, as_frame=False)
        if drop_sq:
            del hist["residual_sq_sum"]
        rc = RegressionCounts(
            tuple(sens.columns), sums, None if no_hist else hist, "numpy", "test"
        )
        ctx = AuditContext(config=cfg, predictions=EMPTY, regression_counts=rc)
    else:
        rp = RegressionPredictions(
            np.asarray(y, float), np.asarray(pred, float), w, target=target, unit=unit
        )
        ctx = AuditContext(config=cfg, predictions=EMPTY, regression=rp, sensitive=sens)
    return FairnessSection().run(ctx)


def find(res: SectionResult, name: str, **kw: Any) -> list[MetricValue]:
    out = []
    for m in res.metrics:
        if m.name != name:
            continue
        if all(getattr(m, k) == (tuple(v) if isinstance(v, list) else v) for k, v in kw.items()):
            out.append(m)
    return out


# ------------------------------------------------------------------------ against Fairlearn
def _mean_error(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    return float(np.average(np.asarray(y_pred) - np.asarray(y_true), weights=sample_weight))


def _mean_target(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    return float(np.average(np.asarray(y_true), weights=sample_weight))


WEIGHTED = {
    "mean_prediction": fairlearn_metrics.mean_prediction,
    "mean_target": _mean_target,
    "mean_absolute_error": skm.mean_absolute_error,
    "root_mean_squared_error": skm.root_mean_squared_error,
    "r2_score": skm.r2_score,
    "mean_error": _mean_error,
}


def _case(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(80, 400))
    sf = {}
    for j in range(1 + seed % 2):
        k = int(rng.integers(2, 5))
        sf[f"f{j}"] = rng.choice([f"g{i}" for i in range(k)], n, p=rng.dirichlet(np.full(k, 3.0)))
    y = rng.gamma(3.0, 10.0, n)
    shift = {g: rng.normal(0, 2) for g in np.unique(sf["f0"])}
    pred = y + np.array([shift[g] for g in sf["f0"]]) + rng.normal(0, 5, n)
    w = rng.exponential(1.0, n) if seed % 2 else None
    return {"y": y, "pred": pred, "sf": sf, "w": w}


@pytest.mark.parametrize("counts", [False, True])
@pytest.mark.parametrize("seed", range(10))
def test_values_equal_metricframe(seed: int, counts: bool) -> None:
    c = _case(seed)
    res = run(c["y"], c["pred"], c["sf"], w=c["w"], counts=counts, min_group_size=1)
    params = None if c["w"] is None else {m: {"sample_weight": c["w"]} for m in WEIGHTED}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = fairlearn_metrics.MetricFrame(
            metrics={"count": fairlearn_metrics.count, **WEIGHTED}, y_true=c["y"],
            y_pred=c["pred"], sensitive_features=pd.DataFrame(c["sf"]), sample_params=params,
        )  # fmt: skip
    feats = tuple(c["sf"])
    for name in ["count", *WEIGHTED]:
        got = find(res, name, feature=None)[0].value
        np.testing.assert_allclose(got, mf.overall[name], rtol=1e-9)
        for grp, want in mf.by_group[name].items():
            grp_t = grp if isinstance(grp, tuple) else (grp,)
            rec = find(res, name, feature=feats, group=grp_t)
            assert len(rec) == 1, (name, grp_t)
            if np.isnan(want):
                assert rec[0].value is None
            else:
                np.testing.assert_allclose(rec[0].value, want, rtol=1e-9, atol=1e-12)
        if name == "count":
            continue
        for method in ("between_groups", "to_overall"):
            d = find(res, f"{name}_difference", feature=feats, method=method)[0]
            r = find(res, f"{name}_ratio", feature=feats, method=method)[0]
            np.testing.assert_allclose(d.value, mf.difference(method=method)[name], rtol=1e-9)
            np.testing.assert_allclose(r.value, mf.ratio(method=method)[name], rtol=1e-9)


def test_single_features_of_an_intersection_equal_sklearn() -> None:
    c = _case(3)
    c["sf"]["f1"] = np.random.default_rng(0).choice(["u", "v"], len(c["y"]))
    res = run(c["y"], c["pred"], c["sf"], w=c["w"], min_group_size=1)
    for f, vals in c["sf"].items():
        for lab in np.unique(vals):
            s = vals == lab
            want = skm.mean_absolute_error(c["y"][s], c["pred"][s], sample_weight=c["w"][s])
            got = find(res, "mean_absolute_error", feature=(f,), group=(lab,))[0].value
            np.testing.assert_allclose(got, want, rtol=1e-9)
    assert find(res, "mean_error", feature=("f0", "f1"))  # the intersection is there


def test_count_tables_give_the_rows_numbers() -> None:
    c = _case(5)
    rows = run(c["y"], c["pred"], c["sf"], w=c["w"], n_boot=50)
    tab = run(c["y"], c["pred"], c["sf"], w=c["w"], n_boot=50, counts=True)
    by = {(m.name, m.feature, m.group, m.method): m for m in tab.metrics}
    for m in rows.metrics:
        other = by[(m.name, m.feature, m.group, m.method)]
        if m.name.startswith("prediction_"):  # from the histogram: within its stated bound
            continue
        if m.value is None:
            assert other.value is None
        else:
            np.testing.assert_allclose(other.value, m.value, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------ shapes and words
def _planted(seed: int = 0, n: int = 3000, bias: float = -2.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n, p=[0.4, 0.6])
    race = rng.choice(["A", "B", "C", "Z"], n, p=[0.5, 0.3, 0.19, 0.01])
    y = rng.gamma(8.0, 5.0, n)
    pred = y + rng.normal(0, 4, n) + np.where(sex == "F", bias, 0.0)
    return {"y": y, "pred": pred, "sf": {"sex": sex, "race": race}}


def test_record_shapes_match_the_classification_section() -> None:
    c = _planted()
    res = run(c["y"], c["pred"], c["sf"], n_boot=100, unit="hours", target="hours-per-week")
    assert res.status == "ok" and res.info["task"] == "regression"
    assert res.info["target_std"] > 0 and res.info["unit"] == "hours"
    # group records: feature/group tuples, intervals, units, too_small flags with a reason
    g = find(res, "mean_absolute_error", feature=("race",), group=("Z",))[0]
    assert g.flags == ("too_small",) and "fewer than min_group_size=30" in (g.reason or "")
    f = find(res, "mean_error", feature=("sex",), group=("F",))[0]
    assert f.ci is not None and f.unit == "hours" and f.n == int((c["sf"]["sex"] == "F").sum())
    assert find(res, "r2_score", feature=("sex",), group=("F",))[0].unit is None
    # disparities: every method, with p-values and the test
    for method in ("between_groups", "to_overall"):
        d = find(res, "mean_error_difference", feature=("sex",), method=method)[0]
        assert d.group is None and d.p_value is not None and d.p_adjusted >= d.p_value
        assert d.test == "null_shifted_bootstrap" and d.ci is not None
    race = find(res, "mean_absolute_error_ratio", feature=("race",), method="between_groups")
    assert race[0].flags == ("small_groups",) and "Z" in race[0].reason
    ref = find(res, "mean_error_difference", feature=("sex",), method="to_reference")
    assert [m.group for m in ref] == [("F",)]  # M, the largest group, is the reference
    assert ref[0].test == "bootstrap_wald" and ref[0].p_value < 1e-6  # no 1/(B+1) floor
    assert res.info["reference_groups"]["sex"] == "M"
    eq = find(res, "mean_error_at_equal_target_difference", feature=("sex",))[0]
    assert eq.method == "to_reference" and eq.test == "z_test" and eq.p_adjusted < 0.01
    assert -3.0 < eq.value < -1.0 and eq.ci[0] < eq.value < eq.ci[1] and eq.unit == "hours"
    # bounded group loss and the largest distribution gap: over judgeable groups, group None
    worst = find(res, "worst_group_mean_absolute_error", feature=("race",))[0]
    assert worst.group is None and "Z" not in worst.reason and worst.ci is not None
    ks = find(res, "prediction_ks_gap", feature=("sex",), group=None)[0]
    assert ks.p_value is not None and ks.test == "permutation"
    assert len(find(res, "prediction_wasserstein_gap", feature=("race",))) == 4 + 1
    # the result validates against the JSON schema and renders through the records' to_dict
    from auditkit.result.json_io import validate_dict

    result = AuditResult("1.0", "0", "2024-01-01T00:00:00Z", {}, {"task": "regression"},
                         {"task": "regression"}, (res,))  # fmt: skip
    validate_dict(result.to_dict())


def test_findings_state_the_bias_for_the_same_true_value_with_evidence() -> None:
    c = _planted()
    res = run(c["y"], c["pred"], c["sf"], n_boot=200, unit="hours", target="hours-per-week")
    top = res.findings[0]
    assert top.severity in ("warn", "fail") and top.evidence == "strong"
    assert top.metric == "fairness.mean_error_at_equal_target_difference"
    assert "same true hours-per-week" in top.text and "less on average" in top.text
    assert "hours" in top.text and "adjusted p" in top.text
    # the group too small to judge never leads; it is listed in a note at the end
    assert all("race = Z" not in f.text for f in res.findings[:-1])
    assert res.findings[-1].severity == "info" and "race = Z" in res.findings[-1].text
    # without a bias: nothing beyond info
    calm = run(c["y"], c["y"] + np.random.default_rng(1).normal(0, 4, len(c["y"])), c["sf"],
               n_boot=200)  # fmt: skip
    assert all(f.severity == "info" for f in calm.findings)


def test_a_large_gap_without_evidence_is_stated_as_such() -> None:
    rng = np.random.default_rng(3)
    n = 80
    g = np.repeat(["a", "b"], n // 2)
    y = rng.gamma(4.0, 10.0, n)
    pred = y + rng.normal(0, 40, n) + np.where(g == "a", 6.0, 0.0)  # big gap, bigger noise
    res = run(y, pred, {"g": g}, n_boot=200)
    bias = [f for f in res.findings if "mean_error" in (f.metric or "")][0]
    assert bias.severity == "info" and "not distinguishable from no gap" in bias.text


def test_reference_groups_and_their_errors() -> None:
    c = _planted()
    res = run(c["y"], c["pred"], c["sf"], reference_groups={"sex": "F", "race": "B"})
    assert [m.group for m in find(res, "mean_error_difference", feature=("sex",),
                                  method="to_reference")] == [("M",)]  # fmt: skip
    assert res.info["reference_groups"]["sex × race"] == "F × B"
    with pytest.raises(ParameterError, match="not a sensitive feature"):
        run(c["y"], c["pred"], c["sf"], reference_groups={"age": "x"})
    with pytest.raises(ParameterError, match="reference_groups"):
        run(c["y"], c["pred"], c["sf"], reference_groups={"sex": "X"})


def test_count_table_without_target_histogram_or_spread() -> None:
    c = _planted(n=1500)
    res = run(c["y"], c["pred"], c["sf"], counts=True, n_boot=50, drop_sq=True)
    rows = run(c["y"], c["pred"], c["sf"], n_boot=50)
    a = find(res, "mean_error_at_equal_target_difference", feature=("sex",))[0]
    b = find(rows, "mean_error_at_equal_target_difference", feature=("sex",))[0]
    np.testing.assert_allclose(a.value, b.value, rtol=1e-9)
    assert a.ci[1] - a.ci[0] >= b.ci[1] - b.ci[0]  # the whole-group spread is conservative
    assert "conservative" in res.info["equal_target"] and res.info["reduced_in"] == "numpy"


# ------------------------------------------------------------------------ simulations
def _null_case(rng: np.random.Generator, n: int) -> tuple[Any, Any, Any]:
    g = rng.choice(["a", "b", "c"], n)
    y = rng.gamma(4.0, 10.0, n)
    # same residual distribution in every group (a shrinking model, so residuals depend on y)
    pred = 0.8 * y + 0.2 * 40.0 + rng.normal(0, 5, n)
    return y, pred, g


def _simulate_null(n_rep: int, n: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    cover = alarm = alarm_eq = cover_eq = 0
    ps = []
    for r in range(n_rep):
        y, pred, g = _null_case(rng, n)
        res = run(y, pred, {"g": g}, n_boot=199, random_state=r)
        d = find(res, "mean_error_difference", feature=("g",), method="to_reference")[0]
        cover += d.ci[0] <= 0.0 <= d.ci[1]
        alarm += d.p_value <= 0.05
        ps.append(d.p_value)
        e = find(res, "mean_error_at_equal_target_difference", feature=("g",))[0]
        cover_eq += e.ci[0] <= 0.0 <= e.ci[1]
        alarm_eq += e.p_value <= 0.05
    return {
        "cover": cover / n_rep, "alarm": alarm / n_rep, "cover_eq": cover_eq / n_rep,
        "alarm_eq": alarm_eq / n_rep, "p_below_half": float(np.mean(np.asarray(ps) <= 0.5)),
    }  # fmt: skip


def test_no_disparity_intervals_cover_zero_and_false_alarms_near_alpha() -> None:
    """(a) No disparity: 200 replicates of 300 rows in 3 groups.

    A rate of 5% is estimated with a standard error of 1.5 points and 95% coverage with 1.5
    points; the bounds allow about 2.5 standard errors.
    """
    s = _simulate_null(200, 300, 101)
    print(s)
    assert 0.90 <= s["cover"] <= 0.99 and s["alarm"] <= 0.09
    assert 0.90 <= s["cover_eq"] <= 0.99 and s["alarm_eq"] <= 0.09
    assert 0.38 <= s["p_below_half"] <= 0.62  # p-values spread over [0, 1]


@pytest.mark.slow
def test_no_disparity_larger_simulation() -> None:
    s = _simulate_null(800, 400, 202)
    print(s)
    # the percentile bootstrap of a difference of means of ~130 rows runs a little narrow
    assert 0.92 <= s["cover"] <= 0.97 and 0.03 <= s["alarm"] <= 0.07
    assert 0.93 <= s["cover_eq"] <= 0.97 and 0.03 <= s["alarm_eq"] <= 0.07


def test_planted_bias_is_found_and_estimated() -> None:
    """(b) A bias of -2 (0.1 standard deviation of the target) in one group of two."""
    rng = np.random.default_rng(7)
    n_rep, truth = 100, -2.0
    found = found_eq = cover_eq = 0
    est = []
    for r in range(n_rep):
        n = 1200
        g = rng.choice(["F", "M"], n)
        y = rng.gamma(4.0, 5.0, n)
        pred = y + rng.normal(0, 4, n) + np.where(g == "F", truth, 0.0)
        res = run(y, pred, {"sex": g}, n_boot=199, random_state=r, reference_groups={"sex": "M"})
        d = find(res, "mean_error_difference", feature=("sex",), method="to_reference")[0]
        e = find(res, "mean_error_at_equal_target_difference", feature=("sex",))[0]
        found += d.p_adjusted <= 0.05
        found_eq += e.p_adjusted <= 0.05
        cover_eq += e.ci[0] <= truth <= e.ci[1]
        est.append(e.value)
    print(found / n_rep, found_eq / n_rep, cover_eq / n_rep, np.mean(est))
    assert found / n_rep >= 0.95 and found_eq / n_rep >= 0.95
    assert abs(np.mean(est) - truth) < 0.15 and cover_eq / n_rep >= 0.88


def test_equal_true_value_bias_is_not_confused_with_different_targets() -> None:
    """(c) Groups with different true values, a model that shrinks towards the mean, no bias
    at equal true values: the naive mean error gap is large, the one at equal values is not."""
    rng = np.random.default_rng(11)
    n = 6000
    g = rng.choice(["F", "M"], n)
    y = rng.gamma(4.0, 10.0, n) + np.where(g == "F", -10.0, 0.0) + 20.0
    pred = 0.6 * y + 0.4 * y.mean() + rng.normal(0, 3, n)
    res = run(y, pred, {"sex": g}, n_boot=199, unit="EUR")
    naive = find(res, "mean_error_difference", feature=("sex",), method="to_reference")[0]
    eq = find(res, "mean_error_at_equal_target_difference", feature=("sex",))[0]
    assert abs(naive.value) > 3.0 and naive.p_adjusted < 0.05
    # near 0: what is left is the bins' width (true values differ a little within a bin, and a
    # model that shrinks errs by 0.4 per unit of true value), far below the 0.1-sd threshold
    assert abs(eq.value) < 0.25 and abs(eq.ci[0]) < 0.6 and abs(eq.ci[1]) < 0.6
    assert abs(eq.value) < 0.02 * res.info["target_std"]
    bias = [f for f in res.findings if f.metric and "mean_error" in f.metric][0]
    assert bias.severity == "info"  # no unfairness claimed for the same true amount


def test_custom_metrics_of_a_regression_through_metricframe() -> None:
    c = _planted(n=600)

    def max_error(y_true: Any, y_pred: Any) -> float:
        return float(np.max(np.abs(np.asarray(y_pred) - np.asarray(y_true))))

    res = run(c["y"], c["pred"], c["sf"], options={"custom_metrics": {"max_miss": max_error}})
    got = find(res, "max_miss", feature=("sex",), group=("F",))[0].value
    s = c["sf"]["sex"] == "F"
    assert got == pytest.approx(max_error(c["y"][s], c["pred"][s]))
    assert res.info["custom_metrics"]["names"] == ["max_miss"]
    with pytest.raises(ParameterError, match="clashes"):
        run(c["y"], c["pred"], c["sf"], options={"custom_metrics": {"mean_error": max_error}})
    tab = run(c["y"], c["pred"], c["sf"], counts=True,
              options={"custom_metrics": {"max_miss": max_error}})  # fmt: skip
    assert tab.info["custom_metrics"]["status"] == "skipped"


def test_count_table_without_histogram_falls_back_to_the_plain_mean_error() -> None:
    c = _planted(n=2000)
    res = run(c["y"], c["pred"], c["sf"], counts=True, n_boot=100, no_hist=True)
    assert not find(res, "prediction_ks_gap") and not find(res, "mean_error_at_equal_target")
    assert "not computed" in res.info["distribution_gaps"]
    top = res.findings[0]
    assert top.metric == "fairness.mean_error_difference" and top.severity == "warn"
    assert "Without a histogram of the true values" in top.text


def test_same_seed_same_section_and_weights_accepted() -> None:
    c = _case(1)  # weighted
    a = run(c["y"], c["pred"], c["sf"], w=c["w"], n_boot=60)
    b = run(c["y"], c["pred"], c["sf"], w=c["w"], n_boot=60)
    assert a.to_dict() == b.to_dict() and a.info["weighted"] is True


def test_without_the_bootstrap_findings_say_no_test_ran() -> None:
    c = _planted(n=1000)
    res = run(c["y"], c["pred"], c["sf"], n_boot=0, counts=True, no_hist=True)
    assert all(f.severity == "info" for f in res.findings)
    assert "No test was run" in res.findings[0].text
