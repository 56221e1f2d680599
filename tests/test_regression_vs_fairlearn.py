"""The regression engine equals scikit-learn's metrics and Fairlearn's MetricFrame."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

fairlearn_metrics = pytest.importorskip("fairlearn.metrics")
skm = pytest.importorskip("sklearn.metrics")

from auditkit.metrics.regression import (  # noqa: E402
    regression_count_table,
    regression_from_count_table,
    regression_metrics,
)

RTOL = 1e-9


def _mean_error(y_true, y_pred, sample_weight=None):
    return float(np.average(np.asarray(y_pred) - np.asarray(y_true), weights=sample_weight))


def _mean_target(y_true, y_pred, sample_weight=None):
    return float(np.average(np.asarray(y_true), weights=sample_weight))


WEIGHTED = {
    "mean_prediction": fairlearn_metrics.mean_prediction,
    "mean_target": _mean_target,
    "mean_absolute_error": skm.mean_absolute_error,
    "mean_squared_error": skm.mean_squared_error,
    "root_mean_squared_error": skm.root_mean_squared_error,
    "r2_score": skm.r2_score,
    "mean_error": _mean_error,
    "median_absolute_error": skm.median_absolute_error,
}


def _case(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 400))
    n_feat = 1 + seed % 2
    sf = {}
    for j in range(n_feat):
        k = int(rng.integers(2, 6))
        p = rng.dirichlet(np.full(k, 3.0))
        sf[f"f{j}"] = rng.choice([f"g{i}" for i in range(k)], size=n, p=p)
    shift = {g: rng.normal(0, 2) for g in np.unique(sf["f0"])}
    y = rng.normal(50, 10, n)
    if seed % 3 == 0:
        y = np.round(y)  # ties in the target, the residuals and the medians
    pred = y + np.array([shift[g] for g in sf["f0"]]) + rng.normal(0, 5, n)
    if seed % 5 == 0:
        pred = np.round(pred, 1)
    w = None
    if seed % 4 in (1, 2):
        w = rng.exponential(1.0, n)
    elif seed % 4 == 3:
        w = rng.integers(1, 4, n).astype(float)
        w[rng.random(n) < 0.1] = 0.0  # zero weights, but no cell of weight 0 (Fairlearn raises)
        cell = pd.DataFrame(sf).astype(str).agg("|".join, axis=1).to_numpy()
        for lab in np.unique(cell):
            idx = np.flatnonzero(cell == lab)
            if w[idx].sum() == 0:
                w[idx[0]] = 1.0
    return {"y": y, "pred": pred, "sf": pd.DataFrame(sf), "w": w}


def _frame(c: dict):
    metrics = {"count": fairlearn_metrics.count, **WEIGHTED}
    params = None
    if c["w"] is not None:
        params = {m: {"sample_weight": c["w"]} for m in WEIGHTED}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # r2 of a 1-row intersection: UndefinedMetricWarning
        return fairlearn_metrics.MetricFrame(
            metrics=metrics, y_true=c["y"], y_pred=c["pred"], sensitive_features=c["sf"],
            sample_params=params,
        )  # fmt: skip


def _close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("seed", range(24))
def test_by_group_overall_and_disparities_equal_metricframe(seed: int) -> None:
    c = _case(seed)
    mf = _frame(c)
    rm = regression_metrics(c["y"], c["pred"], c["sf"], sample_weight=c["w"])
    feats = tuple(c["sf"].columns)
    grouping = feats if len(feats) > 1 else feats[0]
    for m in ["count", *WEIGHTED]:
        got = rm.by_group(m, grouping)
        want = mf.by_group[m].astype(float)
        if m == "count":  # an empty intersection has 0 rows here, NaN in MetricFrame
            want = want.fillna(0.0)
        assert list(got.index) == list(want.index)
        _close(got.to_numpy(), want.to_numpy())
        _close(rm.overall(m), float(mf.overall[m]))
    for method in ("between_groups", "to_overall"):
        d = mf.difference(method=method)
        r = mf.ratio(method=method)
        for m in ["count", *WEIGHTED]:
            _close(rm.difference(m, grouping, method), float(d[m]))
            _close(rm.ratio(m, grouping, method), float(r[m]))


@pytest.mark.parametrize("seed", range(8))
def test_single_features_of_an_intersection_equal_sklearn(seed: int) -> None:
    c = _case(2 * seed + 1)  # two features
    rm = regression_metrics(c["y"], c["pred"], c["sf"], sample_weight=c["w"])
    w = c["w"]
    for f in c["sf"].columns:
        col = c["sf"][f].to_numpy()
        for g, lab in enumerate(rm.groups(f)):
            sel = col == lab[0]
            ws = None if w is None else w[sel]
            for m, fn in WEIGHTED.items():
                if m == "r2_score" and sel.sum() < 2:
                    continue
                want = fn(c["y"][sel], c["pred"][sel], sample_weight=ws)
                _close(rm.by_group(m, f).iloc[g], want)


@pytest.mark.parametrize("seed", range(12))
def test_count_table_path_equals_rows(seed: int) -> None:
    c = _case(seed)
    rm = regression_metrics(c["y"], c["pred"], c["sf"], sample_weight=c["w"])
    sums, hist = regression_count_table(c["y"], c["pred"], c["sf"], sample_weight=c["w"])
    feats = list(c["sf"].columns)
    # partial aggregates concatenate: split the table in two and add them up again
    half = len(sums) // 2
    sums2 = pd.concat([sums.iloc[:half], sums.iloc[half:]], ignore_index=True)
    tb = regression_from_count_table(sums2, hist, sensitive_features=feats)
    mf = _frame(c)
    grouping = tuple(feats) if len(feats) > 1 else feats[0]
    for m in ["count", *WEIGHTED]:
        if m == "median_absolute_error":
            continue
        want = mf.by_group[m].astype(float)
        if m == "count":
            want = want.fillna(0.0)
        _close(tb.by_group(m, grouping).to_numpy(), want.to_numpy())
        _close(tb.overall(m), float(mf.overall[m]))
        _close(tb.difference(m, grouping), rm.difference(m, grouping))
    # the median from the histogram is within its stated bound of the exact one
    exact = mf.by_group["median_absolute_error"].astype(float).to_numpy()
    est = tb.by_group("median_absolute_error", grouping).to_numpy()
    bound = tb.bound("median_absolute_error", grouping).to_numpy()
    ok = ~np.isnan(exact)
    assert np.all(np.abs(est[ok] - exact[ok]) <= bound[ok] + 1e-9)
    o = float(mf.overall["median_absolute_error"])
    assert abs(tb.overall("median_absolute_error") - o) <= tb.bound("median_absolute_error") + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_sort_paths_for_many_groups_equal_metricframe(seed: int, monkeypatch) -> None:
    """The median and the gaps of groupings with many groups take another path; same values."""
    from auditkit.metrics import regression_eval, regression_gaps

    monkeypatch.setattr(regression_eval, "DENSE_GROUPS", 0)
    monkeypatch.setattr(regression_gaps, "DENSE_GROUPS", 0)
    c = _case(seed)
    mf = _frame(c)
    rm = regression_metrics(c["y"], c["pred"], c["sf"], sample_weight=c["w"])
    feats = tuple(c["sf"].columns)
    grouping = feats if len(feats) > 1 else feats[0]
    m = "median_absolute_error"
    _close(rm.by_group(m, grouping).to_numpy(), mf.by_group[m].astype(float).to_numpy())
    _close(rm.overall(m), float(mf.overall[m]))
