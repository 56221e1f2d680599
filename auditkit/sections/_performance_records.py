"""Records, tables, findings and charts of the performance section (from rows or counts).

The section (:mod:`.performance`) computes the figures; these functions turn them into the
:class:`~auditkit.result.records.MetricValue` records, tables, plain-language findings and
charts of its :class:`~auditkit.result.records.SectionResult`, in a fixed order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..metrics.stats import (
    multinomial_counts,
    percentile_interval,
    row_weight_chunks,
    weighted_cell_draws,
)
from ..result.records import Chart, Finding, MetricValue, Severity, Table
from . import _plain_language as pl
from ._performance_metrics import _roc_points, _ScorePrep, confusion_metrics

SECTION = "performance"


def _ci(lo: np.ndarray, hi: np.ndarray, idx: Any = ()) -> tuple[float, float] | None:
    a, b = float(np.asarray(lo)[idx]), float(np.asarray(hi)[idx])
    return (a, b) if np.isfinite(a) and np.isfinite(b) else None


def _finding(severity: Severity, text: str, metric: str) -> Finding:
    return Finding(SECTION, severity, text, metric)


# ------------------------------------------------------------------------ confusion matrix
def confusion_cells(
    ctx: AuditContext,
) -> tuple[int, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Return the rows, the confusion matrix of counts, and its weighted cells (or None).

    The weighted cells are the sums of the sample weights and of their squares per cell; both
    are None without sample weights (the unweighted path).
    """
    p = ctx.predictions
    k = p.n_classes
    counts = ctx.counts
    wcm: np.ndarray | None = None
    wsq: np.ndarray | None = None
    if counts is not None:
        g = counts.groups
        n = counts.n_rows
        cell = np.asarray(g["y_true"]) * k + np.asarray(g["y_pred"])
        cm = np.bincount(
            cell, weights=np.asarray(g["count"], dtype=np.float64), minlength=k * k,
        ).round().astype(np.int64).reshape(k, k)  # fmt: skip
        if "weight_sum" in g:
            wcm = np.bincount(cell, weights=g["weight_sum"], minlength=k * k).reshape(k, k)
            if "weight_sq_sum" in g:
                wsq = np.bincount(cell, weights=g["weight_sq_sum"], minlength=k * k).reshape(k, k)
    else:
        n = len(p)
        cm = np.bincount(p.y_true * k + p.y_pred, minlength=k * k).reshape(k, k)
        sw = p.sample_weight
        if sw is not None:
            cell = p.y_true * k + p.y_pred
            wcm = np.bincount(cell, weights=sw, minlength=k * k).reshape(k, k)
            wsq = np.bincount(cell, weights=sw * sw, minlength=k * k).reshape(k, k)
    return n, cm, wcm, wsq


def confusion_intervals(
    cm: np.ndarray,
    wcm: np.ndarray | None,
    wsq: np.ndarray | None,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return bootstrap percentile bounds of every confusion metric (empty for ``n_boot=0``)."""
    boot_ci: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if n_boot > 0:
        draws = multinomial_counts(cm, n_boot, rng)
        if wcm is not None:
            draws = weighted_cell_draws(draws, cm, wcm, wsq, rng)
        for key, arr in confusion_metrics(draws).items():
            boot_ci[key] = percentile_interval(arr, level)
    return boot_ci


def _undefined_reason(key: str, cls: str) -> str:
    """Why a 0/0 precision, recall or F1 of class ``cls`` is reported as 0."""
    if key == "precision":
        return (
            f"class '{cls}' is never predicted, so precision is 0/0 (reported as 0, as "
            "scikit-learn does)"
        )
    return f"class '{cls}' has no rows, so {key} is 0/0 (reported as 0, as scikit-learn does)"


def confusion_records(
    point: dict[str, np.ndarray],
    boot_ci: dict[str, tuple[np.ndarray, np.ndarray]],
    shown: np.ndarray,
    n: int,
    names: Any,
) -> list[MetricValue]:
    """Return the accuracy, per-class and ``confusion_count`` records."""
    metrics: list[MetricValue] = []
    for key in ("accuracy", "balanced_accuracy"):
        ci = _ci(*boot_ci[key]) if key in boot_ci else None
        metrics.append(MetricValue(section=SECTION, name=key, value=float(point[key]), ci=ci, n=n))
    support = point["support"]
    predicted = shown.sum(axis=0)
    k = len(shown)
    for c in range(k):
        for key in ("precision", "recall", "f1"):
            ci = _ci(*boot_ci[key], c) if key in boot_ci else None
            undefined = (
                (key == "precision" and predicted[c] == 0)
                or (key == "recall" and support[c] == 0)
                or (key == "f1" and support[c] == 0 and predicted[c] == 0)
            )
            metrics.append(
                MetricValue(
                    section=SECTION,
                    name=key,
                    value=float(point[key][c]),
                    ci=ci,
                    n=n,
                    label=names[c],
                    flags=("undefined",) if undefined else (),
                    reason=_undefined_reason(key, names[c]) if undefined else None,
                )
            )
        metrics.append(
            MetricValue(
                section=SECTION, name="support", value=float(support[c]), n=n, label=names[c]
            )
        )
    for t in range(k):
        for q in range(k):
            metrics.append(
                MetricValue(
                    section=SECTION,
                    name="confusion_count",
                    value=float(shown[t, q]),
                    n=n,
                    label=f"true={names[t]}; predicted={names[q]}",
                )
            )
    return metrics


def confusion_tables(
    point: dict[str, np.ndarray],
    boot_ci: dict[str, tuple[np.ndarray, np.ndarray]],
    shown: np.ndarray,
    names: Any,
    level: float,
    weighted: bool,
) -> list[Table]:
    """Return the confusion-matrix table and the per-class table."""
    k = len(shown)
    support = point["support"]
    tables = [
        Table(
            name="confusion_matrix",
            title="Confusion matrix (rows: true class)",
            columns=("true \\ predicted", *names),
            rows=tuple(
                (names[t], *[float(x) if weighted else int(x) for x in shown[t]]) for t in range(k)
            ),
            note="Each cell sums the sample weights of the rows with that true class and "
            "that prediction."
            if weighted
            else "Each cell counts the rows with that true class and that prediction.",
        ),
    ]
    cols = ["class", "support"]
    for key in ("precision", "recall", "f1"):
        cols += [key, f"{key} {100 * level:g}% CI"]
    rows = []
    for c in range(k):
        row: list[Any] = [names[c], float(support[c]) if weighted else int(support[c])]
        for key in ("precision", "recall", "f1"):
            ci = _ci(*boot_ci[key], c) if key in boot_ci else None
            row += [float(point[key][c]), list(ci) if ci else None]
        rows.append(tuple(row))
    tables.append(
        Table(
            name="per_class",
            title="Per-class precision, recall and F1",
            columns=tuple(cols),
            rows=tuple(rows),
        )
    )
    return tables


def confusion_findings(
    point: dict[str, np.ndarray],
    boot_ci: dict[str, tuple[np.ndarray, np.ndarray]],
    shown: np.ndarray,
    wcm: np.ndarray | None,
    n: int,
    names: Any,
    level: float,
) -> list[Finding]:
    """Return the findings on accuracy, the majority baseline and the weakest class."""
    support = point["support"]
    predicted = shown.sum(axis=0)
    acc_ci = _ci(*boot_ci["accuracy"]) if "accuracy" in boot_ci else None
    bal_ci = _ci(*boot_ci["balanced_accuracy"]) if "balanced_accuracy" in boot_ci else None
    findings = [
        _finding(
            "info",
            pl.accuracy_sentence(
                float(point["accuracy"]),
                acc_ci,
                float(point["balanced_accuracy"]),
                bal_ci,
                level,
                n,
            ),
            "performance.accuracy",
        ),
    ]
    majority = float(support.max() / (n if wcm is None else wcm.sum()))
    if float(point["accuracy"]) <= majority + 0.01:
        findings.append(
            _finding(
                "warn",
                f"Always predicting the most common class ('{names[int(support.argmax())]}')"
                f" would be right {pl.pct(majority, 1)} of the time, about as often as the "
                "model.",
                "performance.accuracy",
            )
        )
    present = np.flatnonzero(support > 0)
    weakest = int(present[np.argmin(point["recall"][present])])
    findings.append(
        _finding(
            "warn" if point["recall"][weakest] < 0.5 else "info",
            pl.weakest_class_sentence(
                names[weakest],
                float(point["recall"][weakest]),
                float(point["precision"][weakest]),
            ),
            "performance.recall",
        )
    )
    never = [names[c] for c in range(len(shown)) if predicted[c] == 0 and support[c] > 0]
    if never:
        findings.append(
            _finding(
                "warn",
                "The model never predicts "
                + ", ".join(f"'{x}'" for x in never)
                + " although the data has rows of it.",
                "performance.precision",
            )
        )
    return findings


# ---------------------------------------------------------------------------- score metrics
def row_scores(
    ctx: AuditContext, rng: np.random.Generator
) -> tuple[list[MetricValue], list[Finding], list[Chart]]:
    """Compute the score metrics of rows with scores (point values and row bootstrap)."""
    p = ctx.predictions
    cfg = ctx.config
    level = cfg.ci_level
    n = len(p)
    prep = _ScorePrep(p)
    point = {k: float(v[0]) for k, v in prep.evaluate(np.ones((1, n), np.int64)).items()}
    cis: dict[str, tuple[float, float] | None] = {}
    if cfg.n_boot > 0:
        parts: dict[str, list[np.ndarray]] = {}
        for w in row_weight_chunks(n, cfg.n_boot, rng):
            for key, v in prep.evaluate(w).items():
                parts.setdefault(key, []).append(v)
        for key, chunks in parts.items():
            lo, hi = percentile_interval(np.concatenate(chunks), level)
            cis[key] = _ci(lo, hi)
    if p.sample_weight is None:
        absent = [p.classes[c] for c in range(p.n_classes) if not np.any(p.y_true == c)]
    else:  # a class whose rows all weigh 0 is absent from the weighted data
        wt = np.bincount(p.y_true, weights=p.sample_weight, minlength=p.n_classes)
        absent = [p.classes[c] for c in range(p.n_classes) if not wt[c] > 0]
    roc = _roc_points(p) if p.task == "binary" and np.isfinite(point["roc_auc"]) else None
    return _score_outputs(ctx, point, cis, n, absent, prep.reliability(), roc)


def _score_outputs(
    ctx: AuditContext,
    point: dict[str, float],
    cis: dict[str, tuple[float, float] | None],
    n: int,
    absent: list[str],
    rel: dict[str, list[Any]],
    roc: dict[str, list[float]] | None,
    auc_note: tuple[tuple[str, ...], str | None] = ((), None),
) -> tuple[list[MetricValue], list[Finding], list[Chart]]:
    """Build the records, findings and charts of the score metrics (rows or counts)."""
    p = ctx.predictions
    level = ctx.config.ci_level
    metrics = []
    for key in ("roc_auc", "log_loss", "brier_score", "expected_calibration_error"):
        value = point[key]
        reason = None
        flags: tuple[str, ...] = ()
        if key == "roc_auc" and not np.isfinite(value):
            reason = "undefined: the evaluation data has no rows of class " + ", ".join(
                f"'{a}'" for a in absent
            )
        elif key == "roc_auc":
            flags, reason = auc_note
        metrics.append(
            MetricValue(
                section=SECTION, name=key, value=value, ci=cis.get(key), n=n, flags=flags,
                reason=reason,
            )
        )  # fmt: skip
    findings = []
    if np.isfinite(point["roc_auc"]):
        findings.append(
            _finding(
                "info",
                pl.auc_sentence(point["roc_auc"], cis.get("roc_auc"), level, p.task != "binary"),
                "performance.roc_auc",
            )
        )
    ece = point["expected_calibration_error"]
    findings.append(
        _finding(
            "warn" if ece >= 0.1 else "info",
            pl.calibration_sentence(ece, cis.get("expected_calibration_error"), level),
            "performance.expected_calibration_error",
        )
    )
    charts = [
        Chart(
            name="reliability",
            kind="line",
            title="Reliability diagram",
            data={
                "series": [{"name": "model", "x": rel["mean_score"], "y": rel["observed"]}],
                "xlabel": "mean predicted probability"
                if p.task == "binary"
                else "mean top-label confidence",
                "ylabel": "observed frequency",
                "diagonal": True,
                "logx": False,
            },
            description="Points on the diagonal are perfectly calibrated; one point per "
            "non-empty probability bin.",
        )
    ]
    if roc is not None:
        charts.append(
            Chart(
                name="roc_curve",
                kind="line",
                title="ROC curve",
                data={
                    "series": [{"name": f"AUC {point['roc_auc']:.3f}", **roc}],
                    "xlabel": "false positive rate",
                    "ylabel": "true positive rate",
                    "diagonal": True,
                    "logx": False,
                },
                description="The diagonal is a model that guesses at random.",
            )
        )
    return metrics, findings, charts
