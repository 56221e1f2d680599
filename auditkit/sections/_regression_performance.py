"""Performance of a regression: how far the predicted numbers are from the true ones.

Records (whole population, ``section="performance"``): ``mean_absolute_error``,
``mean_squared_error``, ``root_mean_squared_error``, ``r2_score``, ``mean_error`` (the weighted
mean of ``y_pred - y_true``: positive when the model predicts too much) and
``median_absolute_error``. ``unit`` is the target's unit (``"<unit>²"`` for the mean squared
error; none for R²). The values come from the regression engine
(:mod:`auditkit.metrics.regression`) and equal scikit-learn's metrics with ``sample_weight``:

* rows (``ctx.regression``): :func:`~auditkit.metrics.regression.regression_metrics` with a
  single all-rows group; the median absolute error is exact (sorted rows).
* count tables (``ctx.regression_counts``, a log reduced in DuckDB, Polars or Spark):
  :func:`~auditkit.metrics.regression.regression_from_count_table`; the sum metrics are exact,
  the median absolute error comes from the histogram of absolute errors and its record carries
  the error bound (flag ``histogram_estimate``; ``reason`` says by how much it may be off). A
  table without a histogram has no median (the record says why).

Intervals are the engine's bootstrap percentile intervals (``n_boot``, ``ci_level``,
``ctx.rng("performance")``; ``n_boot=0``: none): the sum metrics by its block Poisson bootstrap
(each bootstrap block of rows gets a ``Poisson(1)`` multiplicity; with no more rows than
blocks this is the Poisson row bootstrap), the median by resampling the cells of the
absolute-error histogram (from rows on :data:`ROW_HIST_BINS` bins, so the interval's ends are
bin middles). ``tests/test_regression_performance.py`` checks the coverage of the intervals by
simulation with known truth.

Findings say in words, in the target's units, how far off the predictions typically are, how
often they are close (the median), whether the model predicts too much or too little on
average (only when the bias's interval excludes 0), and how much of the variation R²
explains. Performance alone is amber in two cases the evidence supports: a bias whose interval
excludes 0 and whose smaller end is at least :data:`MATERIAL_BIAS` of the mean absolute error
(a systematic share of the typical error), and an R² whose whole interval is below 0 (worse
than predicting the average for everyone). Nothing here is red.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..metrics.evidence import evidence_word
from ..metrics.regression import RegressionMetrics, regression_from_count_table, regression_metrics
from ..metrics.stats import percentile_interval
from ..metrics.table import Key
from ..result.records import Finding, MetricValue, SectionResult
from ._regression_performance_charts import count_charts, row_charts

__all__ = ["MATERIAL_BIAS", "METRICS", "ROW_HIST_BINS", "run_regression_performance"]

SECTION = "performance"
#: The section's records, in order.
METRICS = (
    "mean_absolute_error", "mean_squared_error", "root_mean_squared_error", "r2_score",
    "mean_error", "median_absolute_error",
)  # fmt: skip
#: Histogram bins of the absolute errors on the row path (the median's bootstrap).
ROW_HIST_BINS = 1024
#: A bias is amber when its interval excludes 0 and its smaller end is this share of the MAE.
MATERIAL_BIAS = 0.25
#: RMSE / MAE above which the findings mention large misses (normal errors: sqrt(pi / 2)).
LARGE_MISS_RATIO = 1.5

CI_METHOD = (
    "bootstrap percentile: the regression engine's block Poisson bootstrap for the sum metrics "
    "(mean absolute, squared and signed error, R²); the median absolute error by resampling "
    "the cells of the absolute-error histogram"
)
WEIGHTING = (
    "every figure is weighted by the sample weights, as scikit-learn's sample_weight=: means "
    "are weighted means, R² uses weighted sums of squares, the median absolute error is the "
    "weighted median (scikit-learn's averaged inverted cdf)"
)


def run_regression_performance(ctx: AuditContext) -> SectionResult:
    """Compute the performance section of a regression (rows or count tables).

    Parameters
    ----------
    ctx : AuditContext
        With ``ctx.regression`` (rows) or ``ctx.regression_counts`` (reduced tables).

    Returns
    -------
    SectionResult
    """
    cfg = ctx.config
    rng = ctx.rng("performance")
    target, unit = target_of(ctx)
    info: dict[str, Any] = {"task": "regression"}
    info.update({k: v for k, v in (("target", target), ("unit", unit)) if v is not None})
    if ctx.regression is not None:
        r = ctx.regression
        n = len(r.y_true)
        rm = regression_metrics(
            r.y_true, r.y_pred, np.zeros(n, dtype=np.int8), sample_weight=r.sample_weight,
            n_bins=ROW_HIST_BINS,
        )  # fmt: skip
        info["median_method"] = "exact, from the rows"
        charts = row_charts(r, ctx.rng("performance.charts"), unit=unit, target=target)
    elif ctx.regression_counts is not None:
        rc = ctx.regression_counts
        rm = _from_counts(rc.sums, rc.histogram, rc.features)
        info["reduced_in"] = rc.engine
        info["median_method"] = (
            "from the histogram of absolute errors (the record's reason gives the error bound)"
            if rc.histogram is not None
            else "not available: the count table has no histogram"
        )
        charts = count_charts(rc.histogram, unit=unit, target=target)
    else:  # pragma: no cover - the dispatch only calls this for a regression
        raise ValueError("run_regression_performance needs ctx.regression or regression_counts.")
    info.update(
        {
            "n_rows": rm.n_rows,
            "n_boot": cfg.n_boot,
            "ci_level": cfg.ci_level,
            "ci_method": CI_METHOD if cfg.n_boot > 0 else "none (n_boot=0)",
        }
    )
    if rm.weighted:
        info["weighted"] = True
        info["weight_total"] = rm.overall("weight_sum")
        info["weighting"] = WEIGHTING
    bound = _median_bound(rm)
    if bound is not None:
        info["median_absolute_error_bound"] = bound
    point = {m: _overall(rm, m) for m in METRICS}
    cis, p_bias = _intervals(rm, point, cfg.n_boot, cfg.ci_level, rng)
    metrics = _records(rm, point, cis, unit, constant=_constant_target(ctx))
    findings = _findings(point, cis, p_bias, cfg.ci_level, unit=unit, target=target,
                         median_bound=bound)  # fmt: skip
    return SectionResult(
        name=SECTION,
        status="ok",
        metrics=tuple(metrics),
        findings=tuple(findings),
        charts=tuple(charts),
        info=info,
    )


def target_of(ctx: AuditContext) -> tuple[str | None, str | None]:
    """Return the target's name and unit (``None`` when unknown).

    From the rows (``RegressionPredictions.target`` / ``.unit``), or what the count tables
    carry; the unit falls back to the audit's ``target_unit`` option.
    """
    src: Any = ctx.regression if ctx.regression is not None else ctx.regression_counts
    name = getattr(src, "target", None)
    unit = getattr(src, "unit", None) or ctx.option("target_unit")
    return (str(name) if name else None), (str(unit) if unit else None)


def _from_counts(sums: Any, histogram: Any, features: tuple[str, ...]) -> RegressionMetrics:
    """Run the engine on reduced tables: one grouping (an all-rows column when there is none)."""
    if features:
        return regression_from_count_table(
            sums, histogram, sensitive_features=list(features), groupings=[features[:1]]
        )
    col = "_all_rows"
    while col in sums or (histogram is not None and col in histogram):
        col = "_" + col
    s = {**sums, col: np.zeros(len(np.asarray(sums["count"])), dtype=np.int8)}
    h = None
    if histogram is not None:
        h = {**histogram, col: np.zeros(len(np.asarray(histogram["count"])), dtype=np.int8)}
    return regression_from_count_table(s, h, sensitive_features=[col])


def _overall(rm: RegressionMetrics, name: str) -> float:
    key = Key(name, None, None, "overall")
    if key not in rm.values:
        return float("nan")
    return float(rm.values[key])


def _median_bound(rm: RegressionMetrics) -> float | None:
    """Return the error bound of the median from a histogram (None from rows or without one)."""
    if rm.exact or Key("median_absolute_error", None, None, "overall") not in rm.values:
        return None
    b = float(rm.bound("median_absolute_error"))
    return b if math.isfinite(b) else None


def _constant_target(ctx: AuditContext) -> bool:
    r = ctx.regression
    return r is not None and len(r.y_true) > 0 and bool(np.ptp(r.y_true) == 0)


def _intervals(
    rm: RegressionMetrics, point: dict[str, float], n_boot: int, level: float,
    rng: np.random.Generator,
) -> tuple[dict[str, tuple[float, float] | None], float | None]:  # fmt: skip
    """Bootstrap intervals of the records, and the p-value of "no bias" (None: n_boot=0).

    The p-value is the two-sided Wald test of ``mean_error = 0`` with the bootstrap standard
    error (a Monte Carlo p-value could not go below ``1 / (n_boot + 1)``, so "strong"
    evidence would need more than 1000 resamples).
    """
    if n_boot <= 0:
        return {m: None for m in METRICS}, None
    samples = rm.bootstrap_samples(n_boot, rng)
    out: dict[str, tuple[float, float] | None] = {}
    for m in METRICS:
        arr = samples.get(Key(m, None, None, "overall"))
        if arr is None or not math.isfinite(point[m]):
            out[m] = None
            continue
        lo, hi = percentile_interval(np.asarray(arr, dtype=np.float64).reshape(-1), level)
        a, b = float(lo), float(hi)
        out[m] = (a, b) if math.isfinite(a) and math.isfinite(b) else None
    me = point["mean_error"]
    boot = np.asarray(samples[Key("mean_error", None, None, "overall")]).reshape(-1)
    boot = boot[np.isfinite(boot)]
    if not math.isfinite(me) or len(boot) < 2:
        return out, None
    se = float(np.std(boot, ddof=1))
    if se > 0:
        return out, math.erfc(abs(me) / se / math.sqrt(2.0))
    return out, 1.0 if me == 0 else 0.0


def _records(
    rm: RegressionMetrics, point: dict[str, float], cis: dict[str, tuple[float, float] | None],
    unit: str | None, *, constant: bool,
) -> list[MetricValue]:  # fmt: skip
    n = rm.n_rows
    out = []
    for m in METRICS:
        flags: tuple[str, ...] = ()
        reason = None
        u = unit if m != "r2_score" else None
        if m == "mean_squared_error" and unit:
            u = f"{unit}²"
        if not math.isfinite(point[m]):
            reason = _undefined(m, n)
        elif m == "median_absolute_error" and not rm.exact:
            b = float(rm.bound(m))
            flags = ("histogram_estimate",)
            reason = (
                f"from the count table's histogram of absolute errors: the exact median "
                f"absolute error lies within ±{b:.4g} of this value"
            )
        elif m == "r2_score" and constant:
            flags = ("constant_target",)
            reason = (
                "every true value is the same, so R² is 1 for exact predictions and 0 "
                "otherwise (scikit-learn's convention)"
            )
        out.append(
            MetricValue(
                section=SECTION, name=m, value=point[m], ci=cis[m], n=n, unit=u, flags=flags,
                reason=reason,
            )
        )  # fmt: skip
    return out


def _undefined(metric: str, n: int) -> str:
    if metric == "median_absolute_error":
        return "the count table has no histogram of absolute errors, which the median needs"
    if metric == "r2_score" and n < 2:
        return "R² needs at least 2 rows"
    return "undefined: the sample weights sum to 0"


# ------------------------------------------------------------------------------ findings
def fmt_amount(x: float, unit: str | None, ref: float | None = None) -> str:
    """Format a number in the target's units, with enough digits for ``ref``'s magnitude.

    Examples
    --------
    >>> fmt_amount(6.2345, "hours")
    '6.23 hours'
    >>> fmt_amount(-1234.5, None)
    '-1,234'
    """
    s = _fmt(x, ref)
    return f"{s} {unit}" if unit else s


def _fmt(x: float, ref: float | None = None) -> str:
    r = abs(ref if ref is not None and math.isfinite(ref) and ref != 0 else x)
    d = 2 if r == 0 or not math.isfinite(r) else max(0, 2 - math.floor(math.log10(r)))
    return f"{x:,.{min(d, 8)}f}"


def _interval_text(ci: tuple[float, float] | None, level: float, ref: float) -> str:
    if ci is None:
        return ""
    return f"; {level:.0%} interval {_fmt(ci[0], ref)} to {_fmt(ci[1], ref)}"


def _paren(ci: tuple[float, float] | None, level: float, ref: float) -> str:
    iv = _interval_text(ci, level, ref)
    return f" ({iv[2:]})" if iv else ""


def _findings(
    point: dict[str, float], cis: dict[str, tuple[float, float] | None], p_bias: float | None,
    level: float, *, unit: str | None, target: str | None, median_bound: float | None,
) -> list[Finding]:  # fmt: skip
    out: list[Finding] = []
    mae = point["mean_absolute_error"]
    what = f"Predictions of {target}" if target else "Predictions"
    if math.isfinite(mae):
        out.append(Finding(SECTION, "info", (
            f"{what} are off by {fmt_amount(mae, unit)} on average (mean absolute error"
            f"{_interval_text(cis['mean_absolute_error'], level, mae)})."
        ), "mean_absolute_error"))  # fmt: skip
    med = point["median_absolute_error"]
    if math.isfinite(med):
        ref = mae if math.isfinite(mae) else med
        bound = (
            f"; read from a histogram, within ±{_fmt(median_bound, ref)} of the exact value"
            if median_bound is not None else ""
        )  # fmt: skip
        out.append(Finding(SECTION, "info", (
            f"Half of the predictions are within {fmt_amount(med, unit, ref)} of the true value "
            f"(median absolute error{_interval_text(cis['median_absolute_error'], level, ref)}"
            f"{bound})."
        ), "median_absolute_error"))  # fmt: skip
    bias = _bias_finding(point, cis["mean_error"], p_bias, level, unit)
    if bias is not None:
        out.append(bias)
    rmse = point["root_mean_squared_error"]
    if math.isfinite(rmse) and math.isfinite(mae) and mae > 0 and rmse / mae >= LARGE_MISS_RATIO:
        out.append(Finding(SECTION, "info", (
            f"A few large misses weigh in: the root mean squared error "
            f"({fmt_amount(rmse, unit, mae)}) is {rmse / mae:.2f} times the mean absolute error "
            "(about 1.25 when errors are spread like a bell curve)."
        ), "root_mean_squared_error"))  # fmt: skip
    r2 = _r2_finding(point["r2_score"], cis["r2_score"], level, target)
    if r2 is not None:
        out.append(r2)
    return out


def _bias_finding(
    point: dict[str, float], ci: tuple[float, float] | None, p: float | None, level: float,
    unit: str | None,
) -> Finding | None:  # fmt: skip
    me = point["mean_error"]
    mae = point["mean_absolute_error"]
    if not math.isfinite(me):
        return None
    ref = mae if math.isfinite(mae) and mae > 0 else me
    if ci is None:
        return Finding(SECTION, "info", (
            f"The mean error (prediction minus true value) is {fmt_amount(me, unit, ref)}; "
            "without bootstrap intervals (n_boot=0) the audit cannot say whether the model "
            "predicts too much or too little on average."
        ), "mean_error")  # fmt: skip
    lo, hi = ci
    ev = evidence_word(p, 1.0 - level) if p is not None else None
    if lo <= 0.0 <= hi:
        return Finding(SECTION, "info", (
            f"No systematic over- or under-prediction is shown: the mean error is "
            f"{fmt_amount(me, unit, ref)}{_paren(ci, level, ref)}, an interval that includes 0."
        ), "mean_error", ev)  # fmt: skip
    word = "too much" if me > 0 else "too little"
    near = min(abs(lo), abs(hi))
    material = math.isfinite(mae) and mae > 0 and near >= MATERIAL_BIAS * mae
    text = (
        f"The model predicts {fmt_amount(abs(me), unit, ref)} {word} on average (mean error "
        f"{fmt_amount(me, unit, ref)}{_interval_text(ci, level, ref)})"
    )
    if math.isfinite(mae) and mae > 0:
        text += f", {abs(me) / mae:.0%} of the typical error"
    text += "."
    if material:
        text += (
            f" At least {MATERIAL_BIAS:.0%} of the typical error is a systematic shift, which "
            "a recalibration (subtracting the mean error) would remove."
        )
    return Finding(SECTION, "warn" if material else "info", text, "mean_error", ev)


def _r2_finding(
    r2: float, ci: tuple[float, float] | None, level: float, target: str | None
) -> Finding | None:
    if not math.isfinite(r2):
        return None
    of = f" of {target}" if target else " of the true values"
    iv = f"; {level:.0%} interval {ci[0]:.2f} to {ci[1]:.2f}" if ci is not None else ""
    if r2 >= 0:
        text = (
            f"The predictions explain {r2:.0%} of the variation{of} (R² {r2:.2f}{iv}); 100% "
            "would be perfect, 0% no better than predicting the average for everyone."
        )
        return Finding(SECTION, "info", text, "r2_score")
    worse = ci is not None and ci[1] < 0
    text = (
        f"The predictions are worse than predicting the average{of} for everyone (R² "
        f"{r2:.2f}{iv})"
        + (", and the interval is below 0 throughout." if worse
           else ", though the interval reaches 0 or above.")
    )  # fmt: skip
    return Finding(SECTION, "warn" if worse else "info", text, "r2_score")
