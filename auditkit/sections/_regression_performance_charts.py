"""The charts of a regression's performance: predicted against actual, and the errors.

Two chart kinds drawn by the report (:mod:`auditkit.report._charts.regression`):

* ``predicted_actual``: from rows, a uniform sample of up to :data:`MAX_POINTS` rows (``points``)
  and the mean prediction in each of up to :data:`N_TRUE_BINS` equal-width bins of the true
  value (``binned``: x the mean true value of the bin, y its mean prediction, ``n`` its rows;
  weighted means with sample weights). From count tables (no rows), the binned means alone,
  from the histogram of true values (kind ``"target"``): a bin's mean prediction is its mean
  true value plus its mean residual (``residual_sum`` over its weight); the table does not hold
  the mean true value of a bin, so the bin's middle stands for it (off by at most half a bin of
  the table's histogram, stated in the chart's note).
* ``histogram``: from rows, the prediction minus the true value in :data:`N_ERROR_BINS` bins
  over the central 99% of the errors (rows outside are counted in ``below`` / ``above``); from
  count tables, the absolute error ``|prediction - true value|`` from the table's histogram
  (the signed error is not in the table), labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..inputs.context import RegressionPredictions
from ..result.records import Chart

__all__ = ["MAX_POINTS", "N_ERROR_BINS", "N_TRUE_BINS", "count_charts", "row_charts"]

#: Rows drawn in the predicted-against-actual chart (a uniform sample beyond this).
MAX_POINTS = 2000
#: Bins of the true value for the mean prediction.
N_TRUE_BINS = 24
#: Bins of the error histogram.
N_ERROR_BINS = 40


def _r(x: Any) -> list[float | None]:
    """Numbers rounded to 6 significant digits (small JSON), NaN as None."""
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in np.asarray(x, float).tolist()]


def _labels(unit: str | None, target: str | None) -> tuple[str, str, str]:
    what = target or "the target"
    u = f" ({unit})" if unit else ""
    return f"true {what}{u}", f"predicted {what}{u}", u


def row_charts(
    r: RegressionPredictions, rng: np.random.Generator, *, unit: str | None, target: str | None
) -> list[Chart]:
    """Return the predicted-against-actual chart and the error histogram of rows."""
    yt, yp = r.y_true, r.y_pred
    w = r.sample_weight if r.sample_weight is not None else np.ones(len(yt))
    n = len(yt)
    xlabel, ylabel, u = _labels(unit, target)
    idx = np.arange(n) if n <= MAX_POINTS else np.sort(rng.choice(n, MAX_POINTS, replace=False))
    edges = np.linspace(float(yt.min()), float(yt.max()), N_TRUE_BINS + 1)
    if edges[-1] == edges[0]:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    b = np.clip(np.searchsorted(edges, yt, side="right") - 1, 0, len(edges) - 2)
    k = len(edges) - 1
    wsum = np.bincount(b, weights=w, minlength=k)
    cnt = np.bincount(b, minlength=k)
    keep = wsum > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.bincount(b, weights=w * yt, minlength=k)[keep] / wsum[keep]
        my = np.bincount(b, weights=w * yp, minlength=k)[keep] / wsum[keep]
    sampled = f"a uniform sample of {len(idx):,} of the {n:,} rows" if n > len(idx) else (
        f"all {n:,} rows"
    )  # fmt: skip
    scatter = Chart(
        name="predicted_vs_actual",
        kind="predicted_actual",
        title="Predicted against true values",
        description=(
            f"Each dot is a row ({sampled}); the line is the mean prediction within each of "
            f"{int(keep.sum())} bins of the true value, and the dashed diagonal is perfect "
            "prediction. Dots above the diagonal are predicted too high, below too low."
        ),
        data={
            "points": {"x": _r(yt[idx]), "y": _r(yp[idx])},
            "binned": {"x": _r(mx), "y": _r(my), "n": cnt[keep].astype(int).tolist()},
            "xlabel": xlabel,
            "ylabel": ylabel,
            "n_rows": n,
        },
    )
    return [scatter, _residual_histogram(yp - yt, w, r.sample_weight is not None, u)]


def _residual_histogram(res: np.ndarray, w: np.ndarray, weighted: bool, u: str) -> Chart:
    lo, hi = (float(v) for v in np.quantile(res, [0.005, 0.995]))
    if not hi > lo:
        lo, hi = float(res.min()), float(res.max())
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, N_ERROR_BINS + 1)
    inside = (res >= lo) & (res <= hi)
    counts, _ = np.histogram(res[inside], bins=edges, weights=w[inside])
    below, above = float(w[res < lo].sum()), float(w[res > hi].sum())
    return Chart(
        name="residuals",
        kind="histogram",
        title="Errors: prediction minus true value",
        description=(
            f"How {'the weight of the rows' if weighted else 'many rows'} spread over the "
            "error (prediction minus true value): right of 0 the model predicted too much, "
            "left too little. The central 99% of the errors is shown."
        ),
        data={
            "edges": _r(edges),
            "counts": _r(counts),
            "below": below,
            "above": above,
            "xlabel": f"prediction minus true value{u}",
            "ylabel": "weight of rows" if weighted else "rows",
            "reference": 0.0,
            "reference_label": "no error",
        },
    )


def _hist_kind(hist: Mapping[str, Any], kind: str) -> tuple[np.ndarray, ...] | None:
    """One histogram kind summed over the groups, on all its bins: edges, weight, residual, rows.

    The bins are equal-width and shared by every group (the table's contract), so the edges of
    bins without rows follow from those with rows.
    """
    kinds = np.asarray(hist["kind"]).astype(str)
    sel = kinds == kind
    if not sel.any():
        return None
    bins = np.asarray(hist["bin"])[sel].astype(np.int64)
    cnt = np.asarray(hist["count"], dtype=np.float64)[sel]
    wcol = hist.get("weight_sum")
    w = cnt if wcol is None else np.asarray(wcol, dtype=np.float64)[sel]
    rcol = hist.get("residual_sum")
    res = np.zeros(len(bins)) if rcol is None else np.nan_to_num(np.asarray(rcol, float)[sel])
    m = int(bins.max()) + 1
    lo = np.asarray(hist["bin_low"], dtype=np.float64)[sel]
    hi = np.asarray(hist["bin_high"], dtype=np.float64)[sel]
    j = int(np.argmin(bins))
    step = float(hi[j] - lo[j])
    edges = lo[j] + (np.arange(m + 1) - bins[j]) * step
    dense = [np.bincount(bins, weights=x, minlength=m) for x in (w, res, cnt)]
    return edges, dense[0], dense[1], dense[2]


def _merge(n_bins: int, target: int) -> tuple[np.ndarray, int]:
    """Return the merged bin of each of ``n_bins`` bins (at most ``target``), and the step."""
    per = max(1, math.ceil(n_bins / target))
    return np.arange(n_bins) // per, per


def count_charts(
    hist: Mapping[str, Any] | None, *, unit: str | None, target: str | None
) -> list[Chart]:
    """Return the binned predicted-against-actual chart and the absolute-error histogram."""
    if hist is None:
        return []
    xlabel, ylabel, u = _labels(unit, target)
    weighted = hist.get("weight_sum") is not None
    out: list[Chart] = []
    t = _hist_kind(hist, "target")
    if t is not None:
        edges, w, res, cnt = t
        g, _ = _merge(len(w), N_TRUE_BINS)
        k = int(g.max()) + 1
        mid = 0.5 * (edges[:-1] + edges[1:])
        ws = np.bincount(g, weights=w, minlength=k)
        keep = ws > 0
        mx = np.bincount(g, weights=w * mid, minlength=k)[keep] / ws[keep]
        my = mx + np.bincount(g, weights=res, minlength=k)[keep] / ws[keep]
        half = float(edges[1] - edges[0]) / 2
        n_bin = np.bincount(g, weights=cnt, minlength=k)[keep].round().astype(int).tolist()
        out.append(Chart(
            name="predicted_vs_actual",
            kind="predicted_actual",
            title="Mean prediction against the true value",
            description=(
                "The mean prediction within each bin of the true value (from the count "
                "table's histogram of true values: the bin's middle plus its mean error), "
                "against the dashed diagonal of perfect prediction. The table holds no rows, "
                f"so no dots; each bin's position on the true-value axis is within ±{half:.4g} "
                "of its mean true value."
            ),
            data={
                "binned": {"x": _r(mx), "y": _r(my), "n": n_bin},
                "xlabel": xlabel, "ylabel": ylabel, "n_rows": int(round(cnt.sum())),
            },
        ))  # fmt: skip
    a = _hist_kind(hist, "abs_error")
    if a is not None:
        edges, w, _, _ = a
        g, per = _merge(len(w), N_ERROR_BINS)
        k = int(g.max()) + 1
        merged = np.r_[edges[:-1][::per], edges[-1]]
        out.append(Chart(
            name="absolute_errors",
            kind="histogram",
            title="Absolute errors: |prediction - true value|",
            description=(
                f"How {'the weight of the rows' if weighted else 'many rows'} spread over the "
                "size of the error, from the count table's histogram of absolute errors (the "
                "table does not keep the sign of the errors)."
            ),
            data={
                "edges": _r(merged),
                "counts": _r(np.bincount(g, weights=w, minlength=k)),
                "xlabel": f"absolute error{u}",
                "ylabel": "weight of rows" if weighted else "rows",
            },
        ))  # fmt: skip
    return out
