"""Performance section: how often and how confidently the model is right, with intervals.

Binary and multiclass: ``accuracy``, ``balanced_accuracy``, per-class ``precision``,
``recall``, ``f1`` and ``support`` (``label=<class>``), the confusion matrix (a table and
``confusion_count`` records); with scores: ``roc_auc`` (multiclass: one-vs-rest, macro),
``log_loss``, ``brier_score`` (binary: of the positive class; multiclass: summed over one-hot
classes, as scikit-learn) and ``expected_calibration_error``. Values equal scikit-learn's
(``accuracy_score``, ``balanced_accuracy_score``, ``precision_recall_fscore_support`` with its
default ``zero_division``, ``roc_auc_score``, ``log_loss``, ``brier_score_loss``); a 0/0
precision or recall is 0, as there, and flagged ``undefined``.

Expected calibration error: 10 equal-width bins on [0, 1] (a score of 1 falls in the last bin);
``sum_b (n_b / n) * |mean score_b - observed frequency_b|``. Binary: the positive-class score
against the positive label. Multiclass: the top-label confidence (the highest probability)
against whether its class is the true one (Guo et al., 2017).

With sample weights (``Predictions.sample_weight``, or the ``weight_sum`` columns of a reduced
log) every figure is weighted, as scikit-learn's ``sample_weight=``: the confusion matrix,
supports and the rates built on them are sums of weights; ROC AUC is the weighted Mann-Whitney
statistic (ties count 1/2), log loss and Brier score weighted means. The weighted expected
calibration error is ``sum_b (W_b / W) * |sum_{i in b} w_i s_i / W_b - sum_{i in b} w_i y_i /
W_b|`` with ``W_b`` the weight of bin ``b`` and ``W`` the total weight (the same bins as
unweighted); the reliability diagram shows the weighted means. Bootstrap: a confusion cell of
``N`` resampled rows gets the weight sum ``N * m + sqrt(N * v) * Z`` (``m``, ``v`` the mean and
variance of its weights, ``Z`` standard normal, clipped at 0), as the fairness engine does;
the score metrics multiply each row's resampled count by its weight. The section's ``info``
says ``"weighted": true`` and the weight total. Without weights nothing changes.

Intervals are bootstrap percentile intervals (``n_boot`` resamples, ``ctx.rng("performance")``):
metrics of the confusion matrix resample its cells from ``Multinomial(n, cells / n)``, which is
row resampling in distribution at a cost independent of ``n``; score metrics resample rows as
weight vectors in chunks (vectorised; ROC AUC as a weighted Mann-Whitney statistic over the
distinct scores).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..inputs.options import SectionOptions, register
from ..metrics.engine import DEFAULT_N_BINS
from ..result.records import Chart, Finding, MetricValue, SectionResult
from ._performance_counts import _count_scores
from ._performance_metrics import confusion_metrics, score_metrics
from ._performance_records import (
    confusion_cells,
    confusion_findings,
    confusion_intervals,
    confusion_records,
    confusion_tables,
    row_scores,
)
from ._regression_performance import run_regression_performance
from .registry import SECTIONS

__all__ = ["PerformanceOptions", "PerformanceSection", "confusion_metrics", "score_metrics"]

#: The section's ``info["weighting"]`` when the rows carry sample weights.
WEIGHTING = (
    "every figure is weighted by the sample weights, as scikit-learn's sample_weight=: the "
    "confusion matrix and supports are weight sums; ROC AUC is the weighted Mann-Whitney "
    "statistic; log loss and Brier score are weighted means; expected calibration error is "
    "sum_b (W_b / W) * |weighted mean score_b - weighted observed frequency_b|; bootstrap "
    "cells draw their weight sums as N * m + sqrt(N * v) * Z, rows their counts times "
    "their weights"
)


@register
@dataclasses.dataclass(frozen=True)
class PerformanceOptions(SectionOptions):
    """Options of the performance section: none of its own today.

    ``log_loss`` and ``auc_bins`` shape the reduction of a log (read by the public API, declared
    there); ``n_boot`` and ``ci_level`` are parameters of ``audit``. A new performance option is
    declared here with :func:`~auditkit.inputs.options.option`.
    """

    owner = "performance"


class PerformanceSection:
    """Accuracy, balanced accuracy, ROC AUC, log loss, Brier score, calibration, confusion."""

    name = "performance"
    requires: tuple[str, ...] = ()
    #: Runs from a log reduced to count tables (``ctx.counts``) as well as from rows.
    supports_counts = True

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the performance section from the context."""
        if ctx.task == "regression":
            return run_regression_performance(ctx)
        p = ctx.predictions
        cfg = ctx.config
        names = p.classes
        level = cfg.ci_level
        rng = ctx.rng("performance")
        # weighted cells (sums of the sample weights); None: the unweighted path
        n, cm, wcm, wsq = confusion_cells(ctx)
        point = confusion_metrics(cm if wcm is None else wcm)
        boot_ci = confusion_intervals(cm, wcm, wsq, cfg.n_boot, level, rng)
        shown = cm if wcm is None else wcm  # the confusion matrix as reported
        metrics = confusion_records(point, boot_ci, shown, n, names)
        tables = confusion_tables(point, boot_ci, shown, names, level, weighted=wcm is not None)
        findings = confusion_findings(point, boot_ci, shown, wcm, n, names, level)
        info = _info(ctx, wcm)
        metrics_s, findings_s, charts = _score_part(ctx, rng, info)
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(metrics + metrics_s),
            tables=tuple(tables),
            findings=tuple(findings + findings_s),
            charts=tuple(charts),
            info=info,
        )


def _info(ctx: AuditContext, wcm: np.ndarray | None) -> dict[str, Any]:
    """Return the section's ``info`` before the score metrics add theirs."""
    p = ctx.predictions
    cfg = ctx.config
    names = p.classes
    info: dict[str, Any] = {
        "task": p.task,
        "classes": list(names),
        "positive_class": names[p.pos_label] if p.pos_label is not None else None,
        "n_boot": cfg.n_boot,
        "ci_level": cfg.ci_level,
        "ci_method": "bootstrap percentile (confusion cells: multinomial; scores: row resampling)"
        if cfg.n_boot > 0
        else "none (n_boot=0)",
        "ece_binning": f"{DEFAULT_N_BINS} equal-width bins on [0, 1]; "
        + ("positive-class score" if p.task == "binary" else "top-label confidence"),
        "has_scores": bool(p.has_scores and p.y_proba is not None),
    }
    if wcm is not None:
        info["weighted"] = True
        info["weight_total"] = float(wcm.sum())
        info["weighting"] = WEIGHTING
    return info


def _score_part(
    ctx: AuditContext, rng: np.random.Generator, info: dict[str, Any]
) -> tuple[list[MetricValue], list[Finding], list[Chart]]:
    """Return the score metrics' records, findings and charts (rows or counts); fill ``info``."""
    p = ctx.predictions
    counts = ctx.counts
    if counts is not None:
        info["has_scores"] = counts.has_scores
        info["reduced_in"] = counts.engine
        if counts.scores is not None:
            metrics, findings, charts, info_s = _count_scores(ctx, counts, rng)
            info.update(info_s)
            return metrics, findings, charts
        info["scores"] = (
            "the score cells were not computed" if counts.has_scores
            else "no scores: ROC AUC, log loss, Brier score and calibration need them"
        )  # fmt: skip
        return [], [], []
    if p.has_scores and p.y_proba is not None:
        return row_scores(ctx, rng)
    info["scores"] = "no scores: ROC AUC, log loss, Brier score and calibration need them"
    return [], [], []


SECTIONS.register("performance")(PerformanceSection())
