"""The performance section of a regression: values against scikit-learn, intervals, words."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn import metrics as skm

from auditkit.inputs.context import (
    AuditConfig,
    AuditContext,
    Predictions,
    RegressionCounts,
    RegressionPredictions,
)
from auditkit.metrics.regression import regression_count_table
from auditkit.result.records import SectionResult
from auditkit.sections._regression_performance import METRICS, fmt_amount
from auditkit.sections.performance import PerformanceSection

_EMPTY = Predictions(
    y_true=np.zeros(0, dtype=np.int64), y_pred=np.zeros(0, dtype=np.int64), y_proba=None,
    classes=(), pos_label=None, has_scores=False,
)  # fmt: skip


def _config(n_boot: int = 0, seed: int = 0, level: float = 0.95) -> AuditConfig:
    return AuditConfig(sections=("performance",), n_boot=n_boot, random_state=seed,
                       ci_level=level)  # fmt: skip


def run_rows(y, p, w=None, *, n_boot=0, seed=0, target=None, unit=None, level=0.95):
    wa = None if w is None else np.asarray(w, float)
    rp = RegressionPredictions(np.asarray(y, float), np.asarray(p, float), wa, target, unit)
    ctx = AuditContext(config=_config(n_boot, seed, level), predictions=_EMPTY, regression=rp)
    return PerformanceSection().run(ctx)


def run_counts(y, p, w=None, groups=None, *, n_boot=0, seed=0, histogram=True, options=None):
    g = np.zeros(len(y), dtype=int) if groups is None else groups
    s, h = regression_count_table(y, p, {"grp": g}, sample_weight=w, as_frame=False)
    if groups is None:  # a log reduced without sensitive features
        del s["grp"], h["grp"]
    rc = RegressionCounts(() if groups is None else ("grp",), s, h if histogram else None,
                          "numpy", "test")  # fmt: skip
    cfg = dataclasses.replace(_config(n_boot, seed), options=options or {})
    ctx = AuditContext(config=cfg, predictions=_EMPTY, regression_counts=rc)
    return PerformanceSection().run(ctx)


def _value(res: SectionResult, name: str) -> float | None:
    m = res.get(name)
    assert m is not None, name
    return m.value


def _sklearn(y, p, w) -> dict[str, float]:
    return {
        "mean_absolute_error": skm.mean_absolute_error(y, p, sample_weight=w),
        "mean_squared_error": skm.mean_squared_error(y, p, sample_weight=w),
        "root_mean_squared_error": skm.root_mean_squared_error(y, p, sample_weight=w),
        "r2_score": skm.r2_score(y, p, sample_weight=w),
        "mean_error": float(np.average(np.asarray(p) - np.asarray(y), weights=w)),
        "median_absolute_error": skm.median_absolute_error(y, p, sample_weight=w),
    }


def _case(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.choice([2, 3, 7, 50, 333, 2000]))
    kind = seed % 4
    if kind == 0:
        y = rng.normal(100, 20, n)
        p = y + rng.normal(2, 8, n)
    elif kind == 1:  # integer targets and predictions: many ties
        y = rng.integers(0, 10, n).astype(float)
        p = rng.integers(0, 10, n).astype(float)
    elif kind == 2:  # heavy tails, large scale
        y = rng.lognormal(10, 1, n)
        p = y * rng.lognormal(0, 0.3, n)
    else:
        y = rng.uniform(-5, 5, n)
        p = 0.5 * y + rng.standard_t(3, n)
    w = None
    if seed % 2:
        w = rng.exponential(1.0, n) if seed % 3 else rng.integers(1, 5, n).astype(float)
        if seed % 5 == 1 and n > 3:  # some rows of weight 0
            w[rng.random(n) < 0.3] = 0.0
            w[0] = 1.0
    return y, p, w


@pytest.mark.parametrize("seed", range(40))
def test_rows_equal_sklearn(seed: int) -> None:
    y, p, w = _case(seed)
    res = run_rows(y, p, w)
    want = _sklearn(y, p, w)
    for name in METRICS:
        got = _value(res, name)
        assert got is not None, name
        np.testing.assert_allclose(got, want[name], rtol=1e-9, atol=1e-9 * (1 + abs(want[name])),
                                   err_msg=f"{name} seed {seed}")  # fmt: skip
        assert res.get(name).n == len(y)  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", range(16))
def test_counts_equal_rows(seed: int) -> None:
    """Count tables give the same sum metrics; the median within its stated bound."""
    y, p, w = _case(seed + 100)
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c"], len(y)) if seed % 2 else None
    rows = run_rows(y, p, w)
    tab = run_counts(y, p, w, groups)
    for name in METRICS[:-1]:
        a, b = _value(rows, name), _value(tab, name)
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-9 * (1 + abs(a)), err_msg=name)
    med = tab.get("median_absolute_error")
    assert med is not None and "histogram_estimate" in med.flags
    bound = tab.info["median_absolute_error_bound"]
    assert f"±{bound:.4g}" in (med.reason or "")
    exact = _value(rows, "median_absolute_error")
    assert abs(med.value - exact) <= bound * (1 + 1e-6) + 1e-12  # type: ignore[operator]
    assert tab.info["reduced_in"] == "numpy"


def test_counts_take_the_unit_from_the_target_unit_option() -> None:
    y, p, _ = _case(0)
    res = run_counts(y, p, n_boot=20, options={"target_unit": "EUR"})
    assert res.get("mean_absolute_error").unit == "EUR"  # type: ignore[union-attr]
    assert res.info["unit"] == "EUR" and "target" not in res.info
    assert " EUR on average" in res.findings[0].text


def test_counts_without_histogram_say_why() -> None:
    y, p, _ = _case(0)
    res = run_counts(y, p, histogram=False, n_boot=50)
    med = res.get("median_absolute_error")
    assert med is not None and med.value is None and med.ci is None
    assert "histogram" in (med.reason or "")
    assert res.charts == ()
    assert _value(res, "mean_absolute_error") is not None


def test_intervals_units_and_info() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(40, 10, 800)
    p = y + rng.normal(0, 3, 800)
    res = run_rows(y, p, n_boot=200, target="hours-per-week", unit="hours")
    for name in METRICS:
        m = res.get(name)
        assert m is not None and m.ci is not None, name
        assert m.ci[0] <= m.value <= m.ci[1], name  # type: ignore[operator]
    assert res.get("mean_absolute_error").unit == "hours"  # type: ignore[union-attr]
    assert res.get("mean_squared_error").unit == "hours²"  # type: ignore[union-attr]
    assert res.get("r2_score").unit is None  # type: ignore[union-attr]
    assert res.info["task"] == "regression" and res.info["target"] == "hours-per-week"
    assert res.info["n_boot"] == 200 and "weighted" not in res.info
    # n_boot=0: no intervals
    res0 = run_rows(y, p, n_boot=0)
    assert all(m.ci is None for m in res0.metrics)
    assert res0.info["ci_method"] == "none (n_boot=0)"


def test_same_seed_same_result_other_seed_other_intervals() -> None:
    y, p, w = _case(5)
    a = run_rows(y, p, w, n_boot=100, seed=1).to_dict()
    b = run_rows(y, p, w, n_boot=100, seed=1).to_dict()
    c = run_rows(y, p, w, n_boot=100, seed=2).to_dict()
    assert a == b
    assert a["metrics"] != c["metrics"]


def test_weighted_info_and_integer_weights_are_repeated_rows() -> None:
    rng = np.random.default_rng(9)
    y = rng.normal(0, 1, 300)
    p = y + rng.normal(0.2, 1, 300)
    w = rng.integers(1, 4, 300).astype(float)
    res = run_rows(y, p, w)
    assert res.info["weighted"] is True
    assert res.info["weight_total"] == pytest.approx(w.sum())
    rep = np.repeat(np.arange(300), w.astype(int))
    plain = run_rows(y[rep], p[rep])
    for name in METRICS:
        np.testing.assert_allclose(_value(res, name), _value(plain, name), rtol=1e-9)


# ---------------------------------------------------------------------------- the words
def test_findings_in_the_targets_units() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(40, 10, 3000)
    p = y + rng.normal(1.5, 4, 3000)
    res = run_rows(y, p, n_boot=300, target="hours-per-week", unit="hours")
    texts = [f.text for f in res.findings]
    mae = _value(res, "mean_absolute_error")
    assert any(t.startswith(f"Predictions of hours-per-week are off by {mae:.2f} hours") and
               "95% interval" in t for t in texts)  # fmt: skip
    bias = next(f for f in res.findings if f.metric == "mean_error")
    assert "too much on average" in bias.text and "hours" in bias.text
    assert bias.severity == "warn" and bias.evidence == "strong"  # about 20 standard errors
    assert any("explain" in t and "R²" in t for t in texts)
    assert all(f.severity in ("info", "warn") for f in res.findings)


def test_no_bias_claim_when_the_interval_includes_zero() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, 400)
    p = y + rng.normal(0, 1, 400)
    p = p - np.mean(p - y)  # exactly unbiased
    res = run_rows(y, p, n_boot=200)
    bias = next(f for f in res.findings if f.metric == "mean_error")
    assert bias.severity == "info" and "No systematic" in bias.text
    assert "too much" not in bias.text and "too little" not in bias.text
    # a small but certain bias is stated, without amber
    p2 = y + rng.normal(-0.2, 0.1, 400)
    b2 = next(f for f in run_rows(y, p2, n_boot=200).findings if f.metric == "mean_error")
    assert "too little on average" in b2.text
    assert b2.severity == "warn"  # -0.2 with an MAE about 0.2: systematic
    p3 = y + rng.normal(0, 1, 400) + 0.12
    b3 = next(f for f in run_rows(y, p3, n_boot=200).findings if f.metric == "mean_error")
    assert b3.severity == "info"


def test_r2_below_zero_in_words() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(0, 1, 500)
    p = rng.normal(0, 1, 500)  # unrelated: R² about -1
    res = run_rows(y, p, n_boot=200)
    r2 = next(f for f in res.findings if f.metric == "r2_score")
    assert "worse than predicting the average" in r2.text and r2.severity == "warn"
    r0 = next(f for f in run_rows(y, p).findings if f.metric == "r2_score")
    assert r0.severity == "info"  # no interval, no amber


def test_fmt_amount() -> None:
    assert fmt_amount(6.2345, "hours") == "6.23 hours"
    assert fmt_amount(1234.5, "EUR") == "1,234 EUR"  # banker's rounding of .5 aside
    assert fmt_amount(0.001234, None) == "0.00123"


def test_tiny_inputs() -> None:
    res = run_rows([1.0], [2.0], n_boot=50)
    r2 = res.get("r2_score")
    assert r2 is not None and r2.value is None and "2 rows" in (r2.reason or "")
    assert _value(res, "mean_absolute_error") == 1.0
    const = run_rows([3.0, 3.0, 3.0], [3.0, 3.0, 4.0])
    assert "constant_target" in const.get("r2_score").flags  # type: ignore[union-attr]


# --------------------------------------------------------------------------------- charts
def test_chart_data() -> None:
    rng = np.random.default_rng(4)
    n = 5000
    y = rng.normal(40, 10, n)
    p = y + rng.normal(0, 3, n)
    res = run_rows(y, p, target="t", unit="h")
    sc, hist = res.charts
    assert sc.kind == "predicted_actual" and hist.kind == "histogram"
    assert len(sc.data["points"]["x"]) == 2000
    assert sum(sc.data["binned"]["n"]) == n
    assert sum(hist.data["counts"]) + hist.data["below"] + hist.data["above"] == pytest.approx(n)
    assert "(h)" in sc.data["xlabel"]
    tab = run_counts(y, p)
    names = [c.name for c in tab.charts]
    assert names == ["predicted_vs_actual", "absolute_errors"]
    binned = tab.charts[0].data["binned"]
    # the mean prediction per bin of the true value tracks the diagonal (unbiased model)
    assert np.allclose(binned["y"], binned["x"], atol=2.5)
    assert sum(binned["n"]) == n
    assert sum(tab.charts[1].data["counts"]) == pytest.approx(n)


# ------------------------------------------------------------------------------- coverage
def _truth(mu: float, sigma: float, tau: float) -> dict[str, float]:
    """Population values for y ~ N(0, tau²), pred = y + N(mu, sigma²)."""
    z = mu / sigma
    mae = sigma * math.sqrt(2 / math.pi) * math.exp(-z * z / 2) + mu * (1 - 2 * stats.norm.cdf(-z))
    mse = sigma**2 + mu**2

    def cdf_abs(t: float) -> float:
        return stats.norm.cdf((t - mu) / sigma) - stats.norm.cdf((-t - mu) / sigma)

    med = optimize.brentq(lambda t: cdf_abs(t) - 0.5, 0, 10 * sigma + abs(mu))
    return {
        "mean_absolute_error": mae, "mean_squared_error": mse,
        "root_mean_squared_error": math.sqrt(mse), "r2_score": 1 - mse / tau**2,
        "mean_error": mu, "median_absolute_error": med,
    }  # fmt: skip


def _coverage(
    reps: int, n: int, n_boot: int, seed: int, *, counts: bool = False, weighted: bool = False
) -> dict[str, float]:
    """Share of seeded repetitions whose interval holds the population value.

    ``weighted``: every row gets a weight from {1, 2, 3} independent of its values, so the
    weighted population values are the unweighted ones.
    """
    mu, sigma, tau = 0.5, 2.0, 4.0
    truth = _truth(mu, sigma, tau)
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(METRICS, 0)
    for r in range(reps):
        y = rng.normal(0, tau, n)
        p = y + rng.normal(mu, sigma, n)
        w = rng.integers(1, 4, n).astype(float) if weighted else None
        if counts:
            groups = rng.choice(["a", "b"], n)
            res = run_counts(y, p, w, groups, n_boot=n_boot, seed=r)
        else:
            res = run_rows(y, p, w, n_boot=n_boot, seed=r)
        for name in METRICS:
            ci = res.get(name).ci  # type: ignore[union-attr]
            hits[name] += int(ci is not None and ci[0] <= truth[name] <= ci[1])
    return {k: v / reps for k, v in hits.items()}


def test_interval_coverage_fast() -> None:
    """A seeded simulation with known truth: every 95% interval covers about 95% of the time."""
    cov = _coverage(reps=40, n=300, n_boot=150, seed=11)
    for name, c in cov.items():
        assert c >= 0.8, (name, c)  # 40 reps: below 0.8 has probability about 0.001


def test_interval_coverage_fast_weighted_counts() -> None:
    cov = _coverage(reps=40, n=300, n_boot=200, seed=21, counts=True, weighted=True)
    for name, c in cov.items():
        assert c >= 0.8, (name, c)


@pytest.mark.slow
@pytest.mark.parametrize(("counts", "weighted"), [(False, False), (True, True), (False, True)])
def test_interval_coverage_slow(counts: bool, weighted: bool) -> None:
    cov = _coverage(reps=400, n=400, n_boot=400, seed=12, counts=counts, weighted=weighted)
    for name, c in cov.items():
        # 400 reps: sd about 0.011; percentile bootstrap intervals run slightly narrow
        assert 0.91 <= c <= 0.985, (name, c)
