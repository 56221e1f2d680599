"""Regression metrics of a batch of group sums, disparities, and the median absolute error.

Everything is vectorised over a leading batch axis (bootstrap replicates) and the group axis.
The formulas are scikit-learn's, written on the sums of :data:`SUM_COLUMNS`.
"""

from __future__ import annotations

import numpy as np

from .evaluation import _between, _safe_div, _to_overall
from .regression_table import SUM_COLUMNS

#: Per-group regression metrics, in report order.
REGRESSION_METRICS = (
    "count", "mean_prediction", "mean_target", "mean_absolute_error", "mean_squared_error",
    "root_mean_squared_error", "r2_score", "mean_error", "median_absolute_error",
)  # fmt: skip
#: The metrics that are ratios of additive sums (bootstrap by blocks; tests by the null shift).
SUM_METRICS = tuple(m for m in REGRESSION_METRICS if m != "median_absolute_error")
#: Losses whose largest group value is the bounded group loss.
LOSSES = ("mean_absolute_error", "mean_squared_error", "root_mean_squared_error")

_I = {name: i for i, name in enumerate(SUM_COLUMNS)}
#: Up to this many groups, a median takes passes over the rows in value order, no group sort.
DENSE_GROUPS = 48


def metrics_from_sums(s: np.ndarray, y_shift: float) -> dict[str, np.ndarray]:
    """Every sum metric from sums of shape (..., len(SUM_COLUMNS)).

    A cell with no rows or a weight sum of 0 has NaN metrics (``count`` stays 0). ``r2_score``
    is scikit-learn's: NaN with fewer than 2 rows; 1 when the target is constant and the
    predictions exact, 0 when the target is constant and they are not (``force_finite``).
    """
    n = s[..., _I["count"]]
    w = s[..., _I["weight_sum"]]
    ok = (n > 0) & (w > 0)
    wd = np.where(ok, w, np.nan)

    def mean(col: str) -> np.ndarray:
        return _safe_div(s[..., _I[col]], wd)

    mse = mean("residual_sq_sum")
    dev = mean("y_sum") - y_shift
    ss_tot = s[..., _I["y_dev_sq_sum"]] - wd * dev * dev
    ss_res = s[..., _I["residual_sq_sum"]]
    tiny = 8.0 * np.finfo(np.float64).eps * np.abs(s[..., _I["y_dev_sq_sum"]])
    const = ss_tot <= tiny
    r2 = np.where(const, np.where(ss_res == 0, 1.0, 0.0), 1.0 - _safe_div(ss_res, ss_tot))
    r2 = np.where(ok & (n >= 2), r2, np.nan)
    return {
        "count": n.astype(np.float64),
        "weight_sum": w.astype(np.float64),
        "mean_prediction": mean("pred_sum"),
        "mean_target": mean("y_sum"),
        "mean_absolute_error": mean("abs_residual_sum"),
        "mean_squared_error": mse,
        "root_mean_squared_error": np.sqrt(mse),
        "r2_score": r2,
        "mean_error": mean("residual_sum"),
    }


def disparities(v: np.ndarray, o: np.ndarray, ref: int | None = None) -> dict[str, np.ndarray]:
    """Fairlearn's disparities of group values ``v`` (..., P) given overall values ``o`` (...).

    ``between_groups``: largest minus smallest group value and smallest over largest;
    ``to_overall``: largest ``|group - overall|`` and smallest ``group / overall`` folded to at
    most 1; ``to_reference`` (when ``ref`` is a group index): ``group - reference`` and
    ``group / reference`` per group (signed, shape (..., P)). Empty groups (NaN) are skipped.
    """
    d_bg, r_bg = _between(v)
    d_to, r_to = _to_overall(v, o)
    out = {
        "difference/between_groups": d_bg,
        "ratio/between_groups": r_bg,
        "difference/to_overall": d_to,
        "ratio/to_overall": r_to,
    }
    if ref is not None:
        out["difference/to_reference"] = v - v[..., ref : ref + 1]
        out["ratio/to_reference"] = _safe_div(v, v[..., ref : ref + 1])
    return out


# ------------------------------------------------------------------------------ median |r|
def grouped_weighted_median(
    x: np.ndarray, w: np.ndarray, gid: np.ndarray, n_groups: int, order: np.ndarray | None = None,
    *, presorted: bool = False,
) -> np.ndarray:  # fmt: skip
    """Weighted median of ``x`` per group, as scikit-learn's ``median_absolute_error``.

    scikit-learn's ``_weighted_percentile(..., average=True)`` ("averaged inverted cdf"): with
    the values sorted and ``t`` half of the weight, take the first value whose cumulative weight
    reaches ``t``; when the cumulative weight equals ``t`` exactly, average it with the next value
    of positive weight. With unit weights this is ``np.median``. NaN for a group of weight 0.

    Parameters
    ----------
    x, w : ndarray of shape (n,)
        Values and weights.
    gid : ndarray of int of shape (n,)
        Group of each value, in ``[0, n_groups)``.
    order : ndarray, default=None
        ``np.argsort(x)`` when already known (shared by several groupings).
    presorted : bool, default=False
        The rows are already in value order (``order`` is ignored).
    """
    if presorted:
        if n_groups <= DENSE_GROUPS:
            return _median_dense(x, w, gid, n_groups)
        order = np.arange(len(x))
    elif order is None:
        order = np.argsort(x, kind="stable")
    if n_groups <= DENSE_GROUPS:
        return _median_dense(x[order], w[order], gid[order], n_groups)
    small = np.uint8 if n_groups <= 256 else np.uint16 if n_groups <= 65536 else np.int64
    o = order[np.argsort(gid[order].astype(small), kind="stable")]  # by group, then value
    g_o, x_o, w_o = gid[o], x[o], w[o]
    cum = np.cumsum(w_o)
    bounds = np.searchsorted(g_o, np.arange(n_groups + 1))
    start, end = bounds[:-1], bounds[1:]
    base = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    total = np.where(end > start, cum[np.maximum(end - 1, 0)], 0.0) - base
    out = np.full(n_groups, np.nan)
    for g in np.flatnonzero((end > start) & (total > 0)).tolist():
        c = cum[start[g] : end[g]] - base[g]
        t = 0.5 * c[-1]
        i = min(int(np.searchsorted(c, t)), len(c) - 1)
        if c[i] - t > np.finfo(np.float64).eps:
            out[g] = x_o[start[g] + i]
        else:
            j = min(int(np.searchsorted(c, c[i], side="right")), len(c) - 1)
            out[g] = 0.5 * (x_o[start[g] + i] + x_o[start[g] + j])
    return out


def _median_dense(xs: np.ndarray, ws: np.ndarray, gs: np.ndarray, n_groups: int) -> np.ndarray:
    """:func:`grouped_weighted_median` of rows already in value order, one pass per group.

    The running weight of a group over all rows in value order only grows at the group's own
    rows, and adding the zeros of the other rows leaves its sums bit for bit those of the
    group's own cumulative sum, so the same rows are picked as from the group alone.
    """
    out = np.full(n_groups, np.nan)
    eps = np.finfo(np.float64).eps
    for g in range(n_groups):
        c = np.cumsum(ws * (gs == g)) if n_groups > 1 else np.cumsum(ws)
        t = 0.5 * c[-1]
        if not t > 0:
            continue
        i = min(int(np.searchsorted(c, t)), len(c) - 1)
        if c[i] - t > eps:
            out[g] = xs[i]
        else:
            j = min(int(np.searchsorted(c, c[i], side="right")), len(c) - 1)
            if gs[j] != g or ws[j] == 0:  # no later row of the group with weight
                j = i
            out[g] = 0.5 * (xs[i] + xs[j])
    return out


def hist_median(counts: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median from histograms, with a bound on its error.

    Parameters
    ----------
    counts : ndarray of shape (..., B)
        Weight (or row count) per bin.
    edges : ndarray of shape (B + 1,)
        The bin edges (values of bin ``k`` lie in ``[edges[k], edges[k + 1]]``).

    Returns
    -------
    value, bound : ndarray of shape counts.shape[:-1]
        The middle of the range that must hold the exact median, and half its width: the exact
        (averaged inverted cdf) median is within ``bound`` of ``value``. The range is the bin
        where the cumulative weight passes one half; when it reaches one half at a bin's end
        (within 1e-9 relative), it runs to the end of the next non-empty bin, since the median
        may then average two values. NaN where the weight is 0.
    """
    c = np.cumsum(counts, axis=-1)
    total = c[..., -1:]
    t = 0.5 * total
    tol = 1e-9 * total
    i = np.argmax(c >= t - tol, axis=-1)
    lo = edges[i]
    hit = np.abs(np.take_along_axis(c, i[..., None], axis=-1) - t)[..., 0] <= tol[..., 0]
    # next non-empty bin after i: first k > i with c[k] > c[i] + tol
    ci = np.take_along_axis(c, i[..., None], axis=-1)
    after = (c > ci + tol) & (np.arange(c.shape[-1]) > i[..., None])
    j = np.where(after.any(axis=-1), np.argmax(after, axis=-1), i)
    hi = edges[np.where(hit, j, i) + 1]
    ok = total[..., 0] > 0
    return np.where(ok, 0.5 * (lo + hi), np.nan), np.where(ok, 0.5 * (hi - lo), np.nan)
