"""The regression engine: gaps, bounds, disparities to a reference, bootstrap and tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auditkit._core.catalog import CATALOG
from auditkit.exceptions import DataValidationError, ParameterError
from auditkit.metrics.regression import (
    regression_count_table,
    regression_from_count_table,
    regression_metrics,
)
from auditkit.metrics.table import Key


def _data(seed: int, n: int = 600, shift: float = 0.0, k: int = 3, weights: bool = False):
    rng = np.random.default_rng(seed)
    g = rng.choice([f"g{i}" for i in range(k)], size=n)
    y = rng.gamma(4.0, 10.0, n)
    pred = y + rng.normal(0, 5, n) + np.where(g == "g0", shift, 0.0)
    w = rng.exponential(1.0, n) if weights else None
    return y, pred, g, w


@pytest.mark.parametrize("seed", range(6))
def test_gaps_from_rows_equal_scipy(seed: int) -> None:
    y, pred, g, _ = _data(seed, shift=3.0 * (seed % 2), k=2 + seed % 4)
    if seed % 3 == 0:
        pred = np.round(pred)  # ties
    rm = regression_metrics(y, pred, g)
    gaps = rm.distribution_gaps("sensitive_feature_0")
    for i, (lab,) in enumerate(rm.groups("sensitive_feature_0")):
        a, b = pred[g == lab], pred[g != lab]
        ks = stats.ks_2samp(a, b).statistic
        np.testing.assert_allclose(gaps["prediction_ks_gap"].iloc[i], ks, rtol=1e-12)
        w1 = stats.wasserstein_distance(a, b)
        np.testing.assert_allclose(gaps["prediction_wasserstein_gap"].iloc[i], w1, rtol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_weighted_gaps_equal_scipy_and_repeated_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, pred, g, _ = _data(seed, n=300)
    w = rng.integers(1, 4, len(y)).astype(float)
    rm = regression_metrics(y, pred, g, sample_weight=w)
    gaps = rm.distribution_gaps("sensitive_feature_0")
    rep = np.repeat(np.arange(len(y)), w.astype(int))
    for i, (lab,) in enumerate(rm.groups("sensitive_feature_0")):
        s, r = g == lab, g != lab
        w1 = stats.wasserstein_distance(pred[s], pred[r], w[s], w[r])
        np.testing.assert_allclose(gaps["prediction_wasserstein_gap"].iloc[i], w1, rtol=1e-9)
        # integer weights = repeated rows, which ks_2samp takes
        ks = stats.ks_2samp(pred[rep][g[rep] == lab], pred[rep][g[rep] != lab]).statistic
        np.testing.assert_allclose(gaps["prediction_ks_gap"].iloc[i], ks, rtol=1e-12)


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("n_bins", [8, 64, 256])
def test_gaps_and_median_from_histogram_within_their_bounds(weights: bool, n_bins: int) -> None:
    y, pred, g, w = _data(n_bins, shift=4.0, weights=weights)
    sf = pd.DataFrame({"g": g, "h": np.where(y > 40, "hi", "lo")})
    exact = regression_metrics(y, pred, sf, sample_weight=w)
    sums, hist = regression_count_table(y, pred, sf, sample_weight=w, n_bins=n_bins)
    tb = regression_from_count_table(sums, hist, sensitive_features=["g", "h"])
    fast = regression_metrics(
        y, pred, sf, sample_weight=w, n_bins=n_bins, order_statistics="histogram"
    )
    pd.testing.assert_frame_equal(fast.to_frame(), tb.to_frame())
    for f in (("g",), ("h",), ("g", "h")):
        for m in ("prediction_ks_gap", "prediction_wasserstein_gap", "median_absolute_error"):
            v = exact.by_group(m, f).to_numpy()
            est = tb.by_group(m, f).to_numpy()
            bound = tb.bound(m, f).to_numpy()
            assert np.all(np.abs(est - v) <= bound + 1e-9), (f, m)
            assert np.all(exact.bound(m, f).to_numpy() == 0)
    if n_bins == 256:  # the bounds shrink with the bins
        assert float(tb.bound("median_absolute_error")) < 0.1


def test_to_reference_worst_group_and_facts() -> None:
    y, pred, g, _ = _data(1, n=2000, shift=-4.0)
    rm = regression_metrics(y, pred, {"grp": g}, reference={"grp": "g1"})
    assert rm.reference_group("grp") == ("g1",)
    me = rm.by_group("mean_error", "grp")
    d = rm.difference("mean_error", "grp", method="to_reference")
    np.testing.assert_allclose(d.to_numpy(), me.to_numpy() - me["g1"], rtol=1e-12)
    r = rm.ratio("mean_absolute_error", "grp", method="to_reference")
    mae = rm.by_group("mean_absolute_error", "grp")
    np.testing.assert_allclose(r.to_numpy(), mae.to_numpy() / mae["g1"], rtol=1e-12)
    grp, val = rm.worst_group("mean_absolute_error", "grp")
    assert val == mae.max() and grp == (mae.idxmax(),)
    worst = rm.values[Key("worst_group_mean_squared_error", ("grp",), None, "worst_case")]
    assert float(worst) == rm.by_group("mean_squared_error", "grp").max()
    facts = {f["group"]: f for f in rm.facts("grp")}
    g0 = facts[("g0",)]
    assert g0["mean_error"] < 0 and "less than their own true values" in g0["text"]
    sel = g == "g0"
    np.testing.assert_allclose(g0["relative_error"], (pred[sel] - y[sel]).mean() / y[sel].mean())
    # default reference: the largest group
    rm2 = regression_metrics(y, pred, {"grp": g})
    counts = rm2.by_group("count", "grp")
    assert rm2.reference_group("grp") == (counts.idxmax(),)


def test_bootstrap_intervals_cover_the_point_values() -> None:
    y, pred, g, w = _data(3, n=800, shift=2.0, weights=True)
    rm = regression_metrics(y, pred, pd.DataFrame({"a": g, "b": y > 40}), sample_weight=w)
    iv = rm.bootstrap(200, np.random.default_rng(0))
    for key in (
        Key("mean_error", ("a",), None, "group"),
        Key("mean_absolute_error_difference", ("a", "b"), None, "between_groups"),
        Key("r2_score", None, None, "overall"),
        Key("root_mean_squared_error_ratio", ("b",), None, "to_overall"),
        Key("prediction_wasserstein_gap", ("a",), None, "group"),
        Key("median_absolute_error", ("a",), None, "group"),
    ):
        lo, hi = iv.get(key)
        v = rm.values[key]
        assert np.all(lo <= hi)
        if "gap" not in key.name and "median" not in key.name:
            assert np.all((lo <= v) & (v <= hi)), key
    # same seed, same intervals
    iv2 = rm.bootstrap(200, np.random.default_rng(0))
    k = Key("mean_error", ("a",), None, "group")
    np.testing.assert_array_equal(iv.get(k)[0], iv2.get(k)[0])


def test_block_bootstrap_matches_row_bootstrap_spread() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    y = rng.normal(0, 1, n)
    pred = y + rng.standard_t(3, n)
    g = rng.choice(["a", "b"], n)
    rm = regression_metrics(y, pred, g, n_blocks=256)
    key = Key("mean_error", ("sensitive_feature_0",), None, "group")
    boot = rm.bootstrap_samples(400, rng)[key]
    r = pred - y
    se = np.array([r[g == lab].std() / np.sqrt((g == lab).sum()) for lab in ("a", "b")])
    np.testing.assert_allclose(boot.std(axis=0), se, rtol=0.15)


def test_pvalues_find_a_real_shift_and_adjust() -> None:
    y, pred, g, _ = _data(7, n=900, shift=3.0)
    rm = regression_metrics(y, pred, {"grp": g})
    pv = rm.pvalues(199, np.random.default_rng(1))
    p, adj = pv[Key("mean_error_difference", ("grp",), None, "between_groups")]
    assert p < 0.01 and adj >= p
    assert pv[Key("mean_error_ratio", ("grp",), None, "between_groups")] == (p, adj)
    ks_p, _ = pv[Key("prediction_ks_gap", ("grp",), 0, "group")]
    assert 0 < ks_p <= 1
    ref = rm._ref[("grp",)]
    others = [i for i in range(3) if i != ref]
    assert Key("mean_error_difference", ("grp",), others[0], "to_reference") in pv
    assert Key("mean_error_difference", ("grp",), ref, "to_reference") not in pv


def _false_alarms(n_rep: int, n: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    hits_me = hits_ks = 0
    for _ in range(n_rep):
        g = rng.choice(["a", "b", "c"], n)
        y = rng.gamma(4.0, 10.0, n)
        # no group difference in the metrics, but unequal spread (the test must allow it)
        pred = y + rng.normal(0, np.where(g == "a", 8.0, 4.0))
        rm = regression_metrics(y, pred, {"g": g}, n_bins=32)
        pv = rm.pvalues(199, rng, n_perm=199)
        hits_me += pv[Key("mean_error_difference", ("g",), None, "between_groups")][0] <= 0.05
        y2 = rng.gamma(4.0, 10.0, n)
        rm2 = regression_metrics(y2, y2 + rng.normal(0, 4, n), {"g": g}, n_bins=32)
        pv2 = rm2.pvalues(49, rng, n_perm=199)
        hits_ks += pv2[Key("prediction_ks_gap", ("g",), 0, "group")][0] <= 0.05
    return hits_me / n_rep, hits_ks / n_rep


def test_false_alarm_rate_at_most_nominal() -> None:
    fa_me, fa_ks = _false_alarms(300, 300, 12)
    assert fa_me <= 0.07, fa_me
    assert fa_ks <= 0.07, fa_ks


@pytest.mark.slow
def test_false_alarm_rate_with_weights() -> None:
    """Exponential weights (about 50 effective rows per group): still near 5%.

    300 replicates estimate a rate of 5% with a standard error of 1.3 points; the bound is
    5% plus 2.4 standard errors.
    """
    rng = np.random.default_rng(13)
    hits = 0
    for _ in range(300):
        g = rng.choice(["a", "b", "c"], 300)
        y = rng.gamma(4.0, 10.0, 300)
        pred = y + rng.normal(0, np.where(g == "a", 8.0, 4.0))
        w = rng.exponential(1.0, 300)
        rm = regression_metrics(y, pred, {"g": g}, sample_weight=w, n_bins=16)
        samples = rm.bootstrap_samples(199, rng)
        key = Key("mean_error_difference", ("g",), None, "between_groups")
        hits += rm.pvalues(199, rng, samples=samples, n_perm=9)[key][0] <= 0.05
    assert hits / 300 <= 0.08, hits / 300


def test_power_and_coverage_of_the_mean_error_difference() -> None:
    rng = np.random.default_rng(21)
    true_gap = 2.0
    cover = power = 0
    n_rep = 200
    for _ in range(n_rep):
        n = 400
        g = rng.choice(["a", "b"], n)
        y = rng.gamma(4.0, 10.0, n)
        pred = y + rng.standard_t(4, n) * 3 + np.where(g == "a", true_gap, 0.0)
        rm = regression_metrics(y, pred, {"g": g}, n_bins=32)
        boot = rm.bootstrap_samples(300, rng)
        key = Key("mean_error_difference", ("g",), None, "between_groups")
        lo, hi = np.percentile(boot[key], [2.5, 97.5])
        cover += lo <= true_gap <= hi
        pv = rm.pvalues(300, rng, samples=boot, n_perm=99)
        power += pv[key][0] <= 0.05
    print(f"coverage {cover / n_rep:.3f}, power {power / n_rep:.3f}")
    assert 0.90 <= cover / n_rep <= 0.99, cover / n_rep
    assert power / n_rep >= 0.8, power / n_rep


def test_errors_name_the_problem() -> None:
    with pytest.raises(DataValidationError, match="finite"):
        regression_metrics([1.0, np.nan], [1.0, 2.0], ["a", "b"])
    with pytest.raises(DataValidationError, match="differ in length"):
        regression_metrics([1.0, 2.0], [1.0], ["a", "b"])
    with pytest.raises(DataValidationError, match="numbers"):
        regression_metrics(["x", "y"], [1.0, 2.0], ["a", "b"])
    rm = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.5, 3.0], ["a", "b", "b"])
    with pytest.raises(ParameterError, match="order_statistics"):
        regression_metrics([1.0, 2.0], [1.0, 2.0], ["a", "b"], order_statistics="approx")
    with pytest.raises(ParameterError, match="method"):
        rm.difference("mean_error", "sensitive_feature_0", method="pairwise")
    with pytest.raises(ParameterError, match="No grouping"):
        rm.by_group("mean_error", "sex")
    with pytest.raises(ParameterError, match="reference group"):
        regression_metrics([1.0, 2.0], [1.0, 2.0], {"s": ["a", "b"]}, reference={"s": "z"})
    sums, _ = regression_count_table([1.0, 2.0], [1.0, 2.0], {"s": ["a", "b"]})
    tb = regression_from_count_table(sums.drop(columns=["block"]), sensitive_features="s")
    with pytest.raises(ParameterError, match="histogram"):
        tb.overall("median_absolute_error")
    with pytest.raises(DataValidationError):
        regression_from_count_table(sums.drop(columns=["y_sum"]), sensitive_features="s")
    sums, hist = regression_count_table([1.0, 2.0], [1.0, 2.0], {"s": ["a", "b"]})
    hist.loc[0, "s"] = "zzz"
    with pytest.raises(DataValidationError, match="histogram table names a group"):
        regression_from_count_table(sums, hist, sensitive_features="s")
    hist.loc[0, "s"], hist.loc[0, "kind"] = "a", "residuals"
    with pytest.raises(DataValidationError, match="kind 'residuals'"):
        regression_from_count_table(sums, hist, sensitive_features="s")


def test_catalog_entries_are_complete() -> None:
    regression = {n: s for n, s in CATALOG.items() if s.task == "regression"}
    for name in ("mean_absolute_error", "r2_score", "mean_error", "median_absolute_error",
                 "worst_group_mean_absolute_error", "prediction_ks_gap",
                 "prediction_wasserstein_gap", "mean_error_at_equal_target",
                 "equal_target_support", "mean_error_difference"):  # fmt: skip
        assert name in regression, name
    for name, s in regression.items():
        assert s.direction in ("higher", "lower", "descriptive")
        assert s.kind and s.unit and s.description.endswith(".")
        if name.startswith("train_"):  # the training rows' own figures only describe them
            assert s.direction == "descriptive", name
        elif name.endswith(("_error", "_gap")) and name != "mean_error" and "at_equal" not in name:
            assert s.direction == "lower", name
    assert CATALOG["mean_error"].direction == "descriptive"


@pytest.mark.parametrize("dense", [True, False])
def test_row_gaps_both_algorithms_equal_scipy(dense: bool, monkeypatch) -> None:
    from auditkit.metrics import regression_gaps

    monkeypatch.setattr(regression_gaps, "DENSE_GROUPS", 1000 if dense else 0)
    rng = np.random.default_rng(1)
    for it in range(150):
        n, p = int(rng.integers(5, 200)), int(rng.integers(2, 7))
        x = np.round(rng.normal(size=n), int(rng.integers(0, 3)))
        g = rng.integers(0, p, n)  # some groups may be empty
        integer = it % 2 == 1
        w = rng.integers(0, 4, n).astype(float) if integer else rng.exponential(size=n)
        ks, w1 = regression_gaps.row_gaps(x, w, g, p)
        for k in range(p):
            s, r = g == k, g != k
            if w[s].sum() == 0 or w[r].sum() == 0:
                assert np.isnan(ks[k]) and np.isnan(w1[k])
                continue
            want = stats.wasserstein_distance(x[s], x[r], w[s], w[r])
            np.testing.assert_allclose(w1[k], want, rtol=1e-9, atol=1e-12)
            if integer:
                rep = np.repeat(np.arange(n), w.astype(int))
                want = stats.ks_2samp(x[rep][g[rep] == k], x[rep][g[rep] != k]).statistic
                np.testing.assert_allclose(ks[k], want, rtol=1e-12, atol=1e-15)


def test_duckdb_group_by_gives_the_same_metrics() -> None:
    """The tables' contract: a GROUP BY in DuckDB, as the module docstring writes it."""
    duckdb = pytest.importorskip("duckdb")
    y, pred, g, w = _data(9, n=3000, shift=3.0, weights=True)
    log = pd.DataFrame({"row_id": np.arange(len(y)), "y": y, "yhat": pred, "sex": g, "w": w})
    con = duckdb.connect()
    con.register("log", log)
    sums = con.execute(
        """SELECT sex, hash(row_id) % 64 AS block, COUNT(*) AS count, SUM(w) AS weight_sum,
           SUM(w * y) AS y_sum, SUM(w * yhat) AS pred_sum, SUM(w * (yhat - y)) AS residual_sum,
           SUM(w * (yhat - y) * (yhat - y)) AS residual_sq_sum,
           SUM(w * ABS(yhat - y)) AS abs_residual_sum,
           SUM(w * (y - 40.0) * (y - 40.0)) AS y_dev_sq_sum, 40.0 AS y_shift
           FROM log GROUP BY ALL"""
    ).df()
    hist = con.execute(
        """WITH v AS (SELECT sex, w, 'prediction' AS kind, yhat AS x FROM log UNION ALL
                      SELECT sex, w, 'abs_error' AS kind, ABS(yhat - y) AS x FROM log),
           r AS (SELECT kind, CASE WHEN kind = 'abs_error' THEN 0 ELSE MIN(x) END AS lo,
                        MAX(x) AS hi FROM v GROUP BY kind),
           b AS (SELECT v.*, r.lo, (r.hi - r.lo) / 32 AS width,
                        LEAST(GREATEST(CAST(FLOOR((x - r.lo) / ((r.hi - r.lo) / 32)) AS INTEGER),
                              0), 31) AS bin
                 FROM v JOIN r USING (kind))
           SELECT sex, kind, bin, ANY_VALUE(lo + bin * width) AS bin_low,
                  ANY_VALUE(lo + (bin + 1) * width) AS bin_high, COUNT(*) AS count,
                  SUM(w) AS weight_sum, SUM(w * w) AS weight_sq_sum
           FROM b GROUP BY sex, kind, bin"""
    ).df()
    tb = regression_from_count_table(sums, hist, sensitive_features="sex")
    rows = regression_metrics(y, pred, {"sex": g}, sample_weight=w)
    for m in ("mean_absolute_error", "root_mean_squared_error", "r2_score", "mean_error"):
        np.testing.assert_allclose(
            tb.by_group(m, "sex").to_numpy(), rows.by_group(m, "sex").to_numpy(), rtol=1e-9
        )
        np.testing.assert_allclose(tb.overall(m), rows.overall(m), rtol=1e-9)
    for m in ("median_absolute_error", "prediction_ks_gap", "prediction_wasserstein_gap"):
        gap = np.abs(tb.by_group(m, "sex").to_numpy() - rows.by_group(m, "sex").to_numpy())
        assert np.all(gap <= tb.bound(m, "sex").to_numpy() + 1e-9), m
    iv = tb.bootstrap(100, np.random.default_rng(0))
    lo, hi = iv.get(Key("mean_error_difference", ("sex",), None, "between_groups"))
    assert lo <= tb.difference("mean_error", "sex") <= hi


def test_r2_with_a_large_offset_keeps_its_precision() -> None:
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    y = 1e6 + rng.normal(0, 1, 500)
    pred = y + rng.normal(0, 0.5, 500)
    g = rng.choice(["a", "b"], 500)
    rm = regression_metrics(y, pred, g)
    for i, (lab,) in enumerate(rm.groups("sensitive_feature_0")):
        want = skm.r2_score(y[g == lab], pred[g == lab])
        np.testing.assert_allclose(rm.by_group("r2_score", "sensitive_feature_0").iloc[i], want,
                                   rtol=1e-9)  # fmt: skip


def test_mean_error_at_equal_target_values() -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    g = rng.choice(["F", "M"], n)
    y = rng.gamma(4.0, 10.0, n) + np.where(g == "F", -10.0, 0.0)
    w = rng.exponential(1.0, n)
    # a model that shrinks towards the mean: mean errors differ by group, not at equal values
    pred = 0.5 * y + 0.5 * y.mean() + rng.normal(0, 2, n)
    rm = regression_metrics(y, pred, {"sex": g}, sample_weight=w, n_bins=64)
    plain = rm.by_group("mean_error", "sex").to_numpy()
    eq = rm.values[Key("mean_error_at_equal_target", ("sex",), None, "group")]
    assert abs(plain[0] - plain[1]) > 3.0 and abs(eq[0] - eq[1]) < 1.0
    # the same number, computed directly: bins of y, mean residual per bin, population shares
    edges = np.linspace(y.min(), y.max(), 65)
    b = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, 63)
    share = np.bincount(b, w, 64) / w.sum()
    for i, lab in enumerate(["F", "M"]):
        s = g == lab
        wb = np.bincount(b[s], w[s], 64)
        rb = np.bincount(b[s], (w * (pred - y))[s], 64)
        has = wb > 0
        want = (share[has] * rb[has] / wb[has]).sum() / share[has].sum()
        np.testing.assert_allclose(eq[i], want, rtol=1e-9)
    # a real shift shows at equal values, and the facts word it
    rm2 = regression_metrics(y, pred + np.where(g == "F", -4.0, 0.0), {"sex": g}, n_bins=64)
    facts = {f["group"]: f for f in rm2.facts("sex")}
    gap = facts[("F",)]["mean_error_at_equal_target"] - facts[("M",)]["mean_error_at_equal_target"]
    assert -5.0 < gap < -3.0
    assert facts[("F",)]["text_at_equal_target"].startswith("Compared with rows of the same true")
    # the table path gives the same, and a table without the target histogram has none
    sums, hist = regression_count_table(y, pred, {"sex": g}, sample_weight=w, n_bins=64)
    tb = regression_from_count_table(sums, hist, sensitive_features="sex")
    np.testing.assert_allclose(
        tb.values[Key("mean_error_at_equal_target", ("sex",), None, "group")], eq, rtol=1e-12
    )
    old = regression_from_count_table(
        sums,
        hist[hist["kind"] != "target"].drop(columns=["residual_sum"]),
        sensitive_features="sex",
    )
    assert Key("mean_error_at_equal_target", ("sex",), None, "group") not in old.values
    assert np.isnan(old.facts("sex")[0]["mean_error_at_equal_target"])
