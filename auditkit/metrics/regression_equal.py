"""Intervals and tests of the mean error at equal true values (the bias for the same amount).

The engine's ``mean_error_at_equal_target`` of a group is a directly standardised mean: within
each bin ``b`` of the true value, the group's mean residual ``m_gb``, averaged with the whole
population's shares ``s_b`` over the bins where the group has rows,
``v_g = sum_b s_b m_gb / S_g`` (``S_g = sum_b s_b`` over those bins). The shares are the fixed
standard population, so ``v_g`` is a weighted sum of independent cell means and its variance is
``sum_b (s_b / S_g)^2 Var(m_gb)`` with ``Var(m_gb) = sigma2_gb * sum(w^2) / sum(w)^2`` (``1 /
n_gb`` unweighted).

The within-cell variance ``sigma2_gb`` comes from the histogram's ``residual_sq_sum`` of the
true-value bins, shrunk towards the group's pooled within-bin variance with a weight of two
rows (a cell of one row has no spread of its own). A table without that column uses the
group's whole residual variance from the sums table, which is at least the pooled within-bin
variance on average (law of total variance): wider intervals, never narrower.

A group against its reference group (``to_reference``): ``d = v_g - v_ref``, standard error
``sqrt(se_g^2 + se_ref^2)`` (disjoint rows), a normal interval and the two-sided z-test of
``d = 0``. The simulations of ``tests/test_regression_fairness.py`` check the coverage and the
false-alarm rate with known truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np

from .regression_table import SUM_COLUMNS, RegressionTable
from .table import _Grouping

__all__ = ["equal_target_inference"]

_I = {name: i for i, name in enumerate(SUM_COLUMNS)}
#: Pseudo-rows of the pooled within-bin variance added to each cell's own (shrinkage).
_PRIOR_ROWS = 2.0


def equal_target_inference(
    tab: RegressionTable,
    groupings: Mapping[tuple[str, ...], _Grouping],
    refs: Mapping[tuple[str, ...], int],
    level: float = 0.95,
) -> dict[tuple[str, ...], dict[str, np.ndarray]]:
    """Return standard errors, intervals and tests of the mean error at equal true values.

    Parameters
    ----------
    tab : RegressionTable
        With the ``"target"`` histogram.
    groupings : dict
        The engine's groupings.
    refs : dict
        Reference group index per grouping.
    level : float, default=0.95

    Returns
    -------
    dict
        Per grouping: ``value``, ``se``, ``low``, ``high`` (per group) and ``diff``,
        ``diff_se``, ``diff_low``, ``diff_high``, ``p_value`` (each group against the
        reference; NaN for the reference itself), ``spread`` (``"within_bin"`` when the
        within-bin spread was known, else ``"whole_group"``). Empty without a target histogram.
    """
    if tab.hist is None or tab.edges is None or not np.all(np.isfinite(tab.edges[2])):
        return {}
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    h = tab.hist[:, 2]  # (G, B, columns) of the target histogram
    share = h[..., 1].sum(axis=0)
    total = float(share.sum())
    share = share / total if total > 0 else share
    within = bool(np.all(np.isfinite(h[..., 4])))
    out: dict[tuple[str, ...], dict[str, np.ndarray]] = {}
    for feats, grouping in groupings.items():
        g, b, k = h.shape
        agg = grouping.aggregate(h.reshape(1, g, b * k))[0].reshape(-1, b, k)  # (P, B, columns)
        w, w2, r = agg[..., 1], agg[..., 2], agg[..., 3]
        has = w > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_r = np.where(has, r / np.where(has, w, 1.0), 0.0)
            support = (share * has).sum(axis=-1)
            value = np.where(support > 0, (share * mean_r).sum(axis=-1) / support, np.nan)
            sigma2 = _cell_variance(agg, tab, grouping, has, within)
            var_mean = np.where(has, sigma2 * w2 / np.where(has, w * w, 1.0), 0.0)
            c = np.where(has, share / np.where(support > 0, support, 1.0)[:, None], 0.0)
            se = np.sqrt((c * c * var_mean).sum(axis=-1))
        se = np.where(np.isfinite(value), se, np.nan)
        ref = refs[feats]
        diff = value - value[ref]
        diff_se = np.sqrt(se * se + se[ref] ** 2)
        diff[ref] = diff_se[ref] = np.nan
        p = np.array([_two_sided(d, s) for d, s in zip(diff.tolist(), diff_se.tolist())])
        out[feats] = {
            "value": value, "se": se, "low": value - z * se, "high": value + z * se,
            "diff": diff, "diff_se": diff_se, "diff_low": diff - z * diff_se,
            "diff_high": diff + z * diff_se, "p_value": p,
            "spread": np.asarray("within_bin" if within else "whole_group"),
        }  # fmt: skip
    return out


def _cell_variance(
    agg: np.ndarray, tab: RegressionTable, grouping: _Grouping, has: np.ndarray, within: bool
) -> np.ndarray:
    """Residual variance per (group, bin) cell in row units, shape (P, B)."""
    n, w, r = agg[..., 0], agg[..., 1], agg[..., 3]
    wd = np.where(has, w, 1.0)
    if not within:  # the group's whole residual variance, from the sums table
        s = grouping.aggregate(tab.sums.sum(axis=1)[None])[0]
        gw = s[:, _I["weight_sum"]]
        gn = s[:, _I["count"]]
        gwd = np.where(gw > 0, gw, 1.0)
        mean = s[:, _I["residual_sum"]] / gwd
        v = np.maximum(s[:, _I["residual_sq_sum"]] / gwd - mean * mean, 0.0)
        v = v * np.where(gn > 1, gn / np.maximum(gn - 1.0, 1.0), 1.0)
        return np.broadcast_to(v[:, None], n.shape)
    # weighted sum of squares about the cell mean, in row units (divide by the mean weight)
    ss = np.maximum(agg[..., 4] - r * r / wd, 0.0) * np.where(has, n / wd, 0.0)
    df_pooled = np.maximum(n.sum(axis=-1) - has.sum(axis=-1), 1.0)
    pooled = ss.sum(axis=-1) / df_pooled  # (P,)
    return (ss + _PRIOR_ROWS * pooled[:, None]) / np.maximum(n - 1.0 + _PRIOR_ROWS, 1.0)


def _two_sided(d: float, se: float) -> float:
    """Two-sided normal p-value of ``d / se`` (NaN when undefined; 1 for 0 / 0)."""
    if not (math.isfinite(d) and math.isfinite(se)):
        return math.nan
    if se <= 0:
        return 1.0 if d == 0 else 0.0
    return math.erfc(abs(d) / se / math.sqrt(2.0))
