"""Stability of a regression: cross-validation by retraining, the spread of its errors and values.

The fold models come from
:func:`~auditkit.sections._regression_stability_folds.get_regression_folds` (retrained on
``KFold`` folds of the training data; bootstrap resamples of the evaluation data when the model
cannot be retrained). Each fold model is scored on the rows it did not train on.

Records (section ``"stability"``): per fold (``fold`` set) ``mean_absolute_error``,
``root_mean_squared_error``, ``r2_score`` and ``mean_error`` (mean of prediction minus target),
scikit-learn's values on the fold's held-out rows; across folds ``<name>_mean``, ``<name>_std``
(population standard deviation, as scikit-learn's ``std_test_score``), ``<name>_min`` and
``<name>_max``. The ``_std`` records of the mean absolute and root mean squared errors carry
Cochran's Q p-value of "every fold has the same true error" (``test="cochran_q"``; a fold's
sampling variance is ``s² / n`` with ``s²`` the within-fold variance of ``|e|`` pooled over the
folds, and for the RMSE the delta method ``var(e²) / (4 n MSE)`` with pooled ``var(e²)`` and
MSE). A spread is a warning only when it is large (standard
deviation over 5% of the mean, :data:`UNSTABLE_RELATIVE`) *and* the test says it exceeds what
sampling noise gives with folds of that size.

With retrained fold models, the section also measures how much the *prediction for the same
row* depends on the training run: every fold model predicts every evaluation row, and the
standard deviation across the ``k`` predictions of a row is summarised as
``fold_prediction_std_mean`` (with a bootstrap interval over rows; also per sensitive group),
``fold_prediction_std_p95`` and ``fold_prediction_std_max``, in the target's unit. A mean
per-row spread above a quarter of the model's RMSE (:data:`SPREAD_SHARE`) is a warning: the
individual predictions then depend noticeably on which rows the model happened to see.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .._core.catalog import NOT_DISTINGUISHABLE, evidence_word
from ..exceptions import DataValidationError
from ..inputs.context import AuditContext, RegressionPredictions
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table
from ._explain_common import _ci
from ._explain_importance import _bootstrap_means
from ._regression_stability_folds import RegressionFolds, get_regression_folds, regression_rows

__all__ = ["fold_scores", "run_regression_stability", "spread_p_value"]

SECTION = "stability"
#: Fold metrics of a regression, in record order.
METRICS = ("mean_absolute_error", "root_mean_squared_error", "r2_score", "mean_error")
_LABELS = {
    "mean_absolute_error": "mean absolute error",
    "root_mean_squared_error": "root mean squared error",
    "r2_score": "R²",
    "mean_error": "mean error (bias)",
}
#: Relative fold-to-fold standard deviation (std / mean) of an error above which it is large.
UNSTABLE_RELATIVE = 0.05
#: Mean per-row spread of the fold models' predictions, as a share of the RMSE, that warns.
SPREAD_SHARE = 0.25


def fold_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """Return scikit-learn's MAE, RMSE and R² and the mean error of one fold's held-out rows."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    r2 = float(r2_score(y, pred)) if len(y) >= 2 and np.ptp(y) > 0 else None
    return {
        "mean_absolute_error": float(mean_absolute_error(y, pred)),
        "root_mean_squared_error": float(root_mean_squared_error(y, pred)),
        "r2_score": r2,
        "mean_error": float(np.mean(pred - y)),
    }


def spread_p_value(name: str, folds: RegressionFolds) -> float | None:
    """Return Cochran's Q p-value of "every fold has the same true ``name``" (None: no test).

    For ``mean_absolute_error`` and ``root_mean_squared_error`` of retrained folds; the fold
    variances come from the within-fold variance pooled over folds (see the module docstring).
    """
    from scipy.stats import chi2

    if folds.mode != "refit" or name not in ("mean_absolute_error", "root_mean_squared_error"):
        return None
    # per fold: |e| (MAE) or e² (MSE) of the held-out rows
    parts = []
    for idx, pred in zip(folds.test_index, folds.pred):
        e = np.asarray(pred, dtype=np.float64) - folds.y[idx]
        if len(e) >= 2:
            parts.append(np.abs(e) if name == "mean_absolute_error" else e**2)
    if len(parts) < 2:
        return None
    sizes = np.asarray([len(v) for v in parts], dtype=np.float64)
    means = np.asarray([v.mean() for v in parts])
    # variance within folds, pooled (under the null every fold has the same distribution)
    within = sum(float(np.sum((v - v.mean()) ** 2)) for v in parts) / (sizes.sum() - len(parts))
    var = np.full(len(parts), max(within, 1e-300)) / sizes
    x = means
    if name == "root_mean_squared_error":  # the delta method: var(sqrt(m)) = var(m) / (4 m)
        pooled = float(np.sum(sizes * means) / sizes.sum())
        x = np.sqrt(means)
        var = var / max(4.0 * pooled, 1e-300)
    w = 1.0 / np.maximum(var, 1e-300)
    q = float(np.sum(w * (x - np.sum(w * x) / np.sum(w)) ** 2))
    return float(chi2.sf(q, len(x) - 1))


def _summaries(name: str, values: list[float | None], unit: str | None) -> list[MetricValue]:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    out = []
    for stat, fn in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
        out.append(MetricValue(
            section=SECTION, name=f"{name}_{stat}", value=float(fn(v)) if len(v) else None,
            n=len(v), unit=unit if name != "r2_score" else None,
            reason=None if len(v) else "undefined in every fold",
        ))  # fmt: skip
    return out


def run_regression_stability(ctx: AuditContext) -> SectionResult:
    """Compute the stability section of a regression (see the module docstring)."""
    r = regression_rows(ctx)
    if r is None:
        return SectionResult(
            name=SECTION, status="skipped",
            reason="needs the rows of a regression (a log reduced to count tables has none)",
        )  # fmt: skip
    try:
        folds = get_regression_folds(ctx)
    except DataValidationError as exc:
        return SectionResult(name=SECTION, status="skipped", reason=str(exc))
    unit = r.unit
    per_fold: dict[str, list[float | None]] = {m: [] for m in METRICS}
    records: list[MetricValue] = []
    for i in range(folds.k):
        idx = folds.test_index[i]
        for name, val in fold_scores(folds.y[idx], folds.pred[i]).items():
            records.append(MetricValue(
                section=SECTION, name=name, value=val, fold=i, n=len(idx),
                unit=unit if name != "r2_score" else None,
                reason=None if val is not None else "the held-out values are constant",
            ))  # fmt: skip
            per_fold[name].append(val)
    summaries: list[MetricValue] = []
    level = float(ctx.config.ci_level)
    pvals: dict[str, float | None] = {}
    for name in METRICS:
        recs = _summaries(name, per_fold[name], unit)
        pvals[name] = spread_p_value(name, folds)
        if pvals[name] is not None:
            recs[1] = replace(recs[1], p_value=pvals[name], test="cochran_q")
        summaries += recs
    findings = [Finding(SECTION, "info", n) for n in folds.notes]
    findings += _spread_findings(folds, per_fold, pvals, level, unit)
    charts = [_chart(folds, per_fold)]
    spread_recs: list[MetricValue] = []
    if folds.mode == "refit" and ctx.X is not None:
        spread_recs, finding = _prediction_spread(ctx, folds, r)
        findings.append(finding)
    info: dict[str, Any] = {
        "mode": folds.mode, "k": folds.k, "data": folds.source, "splitter": folds.splitter,
        "seed": folds.seed, "n_rows": folds.n, "notes": list(folds.notes),
        "description": _description(folds),
    }  # fmt: skip
    return SectionResult(
        name=SECTION, status="ok", metrics=tuple(records + summaries + spread_recs),
        tables=(_table(folds, per_fold),), findings=tuple(findings), charts=tuple(charts),
        info=info,
    )  # fmt: skip


def _description(folds: RegressionFolds) -> str:
    if folds.mode == "bootstrap":
        return folds.notes[0]
    data = "training data" if folds.source == "train" else "evaluation data"
    return (
        f"The model was retrained {folds.k} times with the same settings, each time on "
        f"{folds.k - 1} of {folds.k} parts of the {data} ({folds.n} rows, shuffled with seed "
        f"{folds.seed}), and scored on the part it did not see."
    )


def _spread_findings(
    folds: RegressionFolds, per_fold: dict[str, list[float | None]],
    pvals: dict[str, float | None], level: float, unit: str | None,
) -> list[Finding]:  # fmt: skip
    out = []
    u = f" {unit}" if unit else ""
    where = "folds" if folds.mode == "refit" else "resamples"
    for name in ("mean_absolute_error", "root_mean_squared_error", "r2_score"):
        got = [v for v in per_fold[name] if v is not None]
        if len(got) < 2:
            continue
        mean, sd = float(np.mean(got)), float(np.std(got))
        uu = "" if name == "r2_score" else u
        text = (
            f"The {_LABELS[name]} ranges from {min(got):.3g} to {max(got):.3g}{uu} across "
            f"{len(got)} {where} (mean {mean:.3g}{uu}, standard deviation {sd:.3g})."
        )
        p = pvals.get(name)
        large = abs(mean) > 0 and sd / abs(mean) > UNSTABLE_RELATIVE
        sev: Severity = "info"
        if name != "r2_score" and large and p is not None and p < 1.0 - level:
            sev = "warn"
            text += (
                f" That spread is large (over {UNSTABLE_RELATIVE:.0%} of the mean) and more "
                f"than sampling noise gives (heterogeneity test p = {p:.2g}): one split's "
                "figure is not reliable on its own."
            )
        elif p is not None:
            text += (
                f" The spread is what sampling noise alone gives with folds of this size "
                f"(heterogeneity test p = {p:.2g}): "
                f"{NOT_DISTINGUISHABLE.replace('no gap', 'a stable model')}."
                if not p < 1.0 - level
                else f" The folds differ more than sampling noise gives (p = {p:.2g}), but by "
                f"less than {UNSTABLE_RELATIVE:.0%} of the mean: a small, real spread."
            )
        out.append(Finding(
            SECTION, sev, text, metric=f"{SECTION}.{name}_std",
            evidence=evidence_word(p, level) if p is not None else None,
        ))  # fmt: skip
    return out


def _prediction_spread(
    ctx: AuditContext, folds: RegressionFolds, r: RegressionPredictions
) -> tuple[list[MetricValue], Finding]:
    """Per evaluation row, the standard deviation of the fold models' predicted values."""
    cfg = ctx.config
    values = folds.models_values(ctx.X)  # (k, n_eval)
    s = values.std(axis=0)
    unit = r.unit or "predicted value"
    u = f" {r.unit}" if r.unit else ""
    method = f"standard deviation across the {folds.k} fold models of each row's prediction"
    lo, hi = _bootstrap_means(s[:, None], cfg.n_boot, cfg.ci_level, ctx.rng("stability-spread"))
    recs = [
        MetricValue(section=SECTION, name="fold_prediction_std_mean", value=float(s.mean()),
                    ci=_ci(float(lo[0]), float(hi[0])), n=len(s), unit=unit, method=method),
        MetricValue(section=SECTION, name="fold_prediction_std_p95",
                    value=float(np.percentile(s, 95)), n=len(s), unit=unit, method=method),
        MetricValue(section=SECTION, name="fold_prediction_std_max", value=float(s.max()),
                    n=len(s), unit=unit, method=method),
    ]  # fmt: skip
    worst: tuple[float, str, str] | None = None
    sens = ctx.sensitive
    if sens is not None and getattr(sens, "shape", (0, 0))[1] > 0:
        for col in sens.columns:
            g_of = np.asarray(sens[col].to_numpy(), dtype=object).astype(str)
            for g in sorted(set(g_of.tolist())):
                idx = np.flatnonzero(g_of == g)
                glo, ghi = _bootstrap_means(
                    s[idx, None], cfg.n_boot, cfg.ci_level, ctx.rng(f"stability-spread-{col}-{g}")
                )
                small = len(idx) < cfg.min_group_size
                val = float(s[idx].mean())
                recs.append(MetricValue(
                    section=SECTION, name="fold_prediction_std_mean", value=val,
                    feature=(str(col),), group=(g,), n=len(idx), unit=unit, method=method,
                    ci=_ci(float(glo[0]), float(ghi[0])), flags=("too_small",) if small else (),
                ))  # fmt: skip
                if not small and (worst is None or val > worst[0]):
                    worst = (val, str(col), g)
    rmse = float(np.sqrt(np.mean((np.asarray(r.y_pred) - np.asarray(r.y_true)) ** 2)))
    share = float(s.mean()) / rmse if rmse > 0 else 0.0
    what = r.target or "the value"
    text = (
        f"The {folds.k} retrained models' predictions of {what} for the same row differ by "
        f"{s.mean():.3g}{u} on average (standard deviation across the models; 95% of rows within "
        f"{np.percentile(s, 95):.3g}{u}), {share:.0%} of the model's typical error (RMSE "
        f"{rmse:.3g}{u})."
    )
    if worst is not None:
        text += f" The spread is largest for {worst[1]} = {worst[2]} ({worst[0]:.3g}{u})."
    sev: Severity = "warn" if share > SPREAD_SHARE else "pass"
    if sev == "warn":
        text += (
            f" That is over {SPREAD_SHARE:.0%} of the error: an individual's prediction depends "
            "noticeably on which rows the model happened to be trained on."
        )
    return recs, Finding(SECTION, sev, text, metric=f"{SECTION}.fold_prediction_std_mean")


def _table(folds: RegressionFolds, per_fold: dict[str, list[float | None]]) -> Table:
    unit = "fold" if folds.mode == "refit" else "resample"
    rows = []
    for name, vals in per_fold.items():
        v = [x for x in vals if x is not None]
        stats: list[float | None] = (
            [float(np.mean(v)), float(np.std(v)), float(np.min(v)), float(np.max(v))]
            if v else [None] * 4
        )  # fmt: skip
        rows.append((name, *stats, *vals))
    return Table(
        name="stability_summary", title=f"Figures across {folds.k} {unit}s",
        columns=("metric", "mean", "std", "min", "max", *(f"{unit} {i}" for i in range(folds.k))),
        rows=tuple(rows),
        note=(
            "Each fold model is scored on the rows it did not train on; std is the population "
            "standard deviation across folds." if folds.mode == "refit"
            else "The model is re-evaluated on bootstrap resamples of the evaluation data (it "
            "cannot be retrained)."
        ),
    )  # fmt: skip


def _chart(folds: RegressionFolds, per_fold: dict[str, list[float | None]]) -> Chart:
    unit = "fold" if folds.mode == "refit" else "resample"
    xs = [float(i) for i in range(folds.k)]
    return Chart(
        name="stability_performance", kind="line", title=f"Errors in each {unit}",
        data={
            "series": [{"name": _LABELS[m], "x": xs, "y": per_fold[m]}
                       for m in ("mean_absolute_error", "root_mean_squared_error")],
            "xlabel": unit, "ylabel": "error", "diagonal": False, "logx": False,
        },
        description=f"Each point is one {unit}; flat lines mean stable errors.",
    )  # fmt: skip
