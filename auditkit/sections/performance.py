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
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..inputs.context import SECTIONS, AuditContext, Counts, Predictions
from ..metrics.engine import DEFAULT_N_BINS, score_bins
from ..metrics.stats import (
    multinomial_counts,
    percentile_interval,
    row_weight_chunks,
    weighted_cell_draws,
)
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table
from . import _plain_language as pl

__all__ = ["PerformanceSection", "confusion_metrics", "score_metrics"]

SECTION = "performance"
#: The section's ``info["weighting"]`` when the rows carry sample weights.
WEIGHTING = (
    "every figure is weighted by the sample weights, as scikit-learn's sample_weight=: the "
    "confusion matrix and supports are weight sums; ROC AUC is the weighted Mann-Whitney "
    "statistic; log loss and Brier score are weighted means; expected calibration error is "
    "sum_b (W_b / W) * |weighted mean score_b - weighted observed frequency_b|; bootstrap "
    "cells draw their weight sums as N * m + sqrt(N * v) * Z, rows their counts times "
    "their weights"
)
_EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------ confusion-matrix metrics
def confusion_metrics(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of confusion matrices ``cm`` of shape (..., K, K) (rows: true, columns: predicted).

    Returns
    -------
    dict
        ``accuracy`` and ``balanced_accuracy`` of shape (...); ``precision``, ``recall``,
        ``f1`` and ``support`` of shape (..., K). A 0/0 fraction is 0 (scikit-learn's default);
        balanced accuracy averages the recall of the classes present in ``y_true``, as
        ``balanced_accuracy_score`` does.
    """
    c = np.asarray(cm, dtype=np.float64)
    n = c.sum(axis=(-2, -1))
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    support = c.sum(axis=-1)
    predicted = c.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(n > 0, tp.sum(axis=-1) / n, np.nan)
        recall_raw = tp / support
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, recall_raw, 0.0)
        f_den = 2 * tp + (predicted - tp) + (support - tp)
        f1 = np.where(f_den > 0, 2 * tp / f_den, 0.0)
        present = support > 0
        balanced = np.where(
            present.any(axis=-1),
            np.where(present, recall_raw, 0.0).sum(axis=-1) / present.sum(axis=-1),
            np.nan,
        )
    return {
        "accuracy": accuracy,
        "balanced_accuracy": balanced,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
    }


# --------------------------------------------------------------------------- score metrics
class _ScorePrep:
    """Everything the weighted score metrics need, computed once from the rows.

    Rows are kept sorted by the calibration score (binary: the positive-class score, which also
    orders them for ROC AUC and groups them by calibration bin), so one gather of the bootstrap
    weights serves every metric of a binary task.
    """

    def __init__(self, p: Predictions, n_bins: int = DEFAULT_N_BINS) -> None:
        assert p.y_proba is not None
        #: sample weights in row order (None: unweighted, today's path)
        self.sw = None if p.sample_weight is None else np.asarray(p.sample_weight, np.float64)
        proba = np.asarray(p.y_proba, dtype=np.float64)
        y = np.asarray(p.y_true, dtype=np.int64)
        n, k = proba.shape
        self.n = n
        self.binary = p.task == "binary"
        onehot = np.zeros((n, k))
        onehot[np.arange(n), y] = 1.0
        p_true = np.clip(proba, _EPS, 1 - _EPS)[np.arange(n), y]
        log_loss_rows = -np.log(p_true)
        if self.binary:
            pos = p.pos_label if p.pos_label is not None else 1
            conf = proba[:, pos]
            correct = (y == pos).astype(np.float64)
            brier_rows = (correct - conf) ** 2
        else:
            brier_rows = ((onehot - proba) ** 2).sum(axis=1)
            top = np.argmax(proba, axis=1)
            conf = proba[np.arange(n), top]
            correct = (top == y).astype(np.float64)
        order = np.argsort(conf, kind="stable")
        self.order = order
        self.conf_sorted = conf[order]
        self.correct_sorted = correct[order]
        self.gap_sorted = self.conf_sorted - self.correct_sorted
        self.log_loss_sorted = log_loss_rows[order]
        self.brier_sorted = brier_rows[order]
        bins = score_bins(self.conf_sorted, n_bins)  # non-decreasing along the order
        self.bin_starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        self.bin_ids = bins[self.bin_starts]
        self.n_bins = n_bins
        if self.binary:  # the same order serves ROC AUC
            self.auc_parts = [self._auc_prep(None, self.correct_sorted, self.conf_sorted)]
        else:
            self.auc_parts = []
            for c in range(k):
                o = np.argsort(proba[:, c], kind="stable")
                self.auc_parts.append(self._auc_prep(o, onehot[o, c], proba[o, c]))

    @staticmethod
    def _auc_prep(
        order: np.ndarray | None, pos: np.ndarray, sorted_scores: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Positions of the positives in score order and, with ties, their tie runs."""
        s = sorted_scores
        is_pos = pos > 0.5
        pidx = np.flatnonzero(is_pos)
        neg = (~is_pos).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        if len(starts) == len(s):
            return order, neg, pidx, None, None
        run = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1  # run index of each position
        ends = np.r_[starts[1:], len(s)] - 1
        return order, neg, pidx, starts[run[pidx]], ends[run[pidx]]

    @staticmethod
    def _auc(
        ws: np.ndarray,
        part: tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray | None, Any],
    ) -> np.ndarray:
        """Weighted Mann-Whitney AUC; ``ws`` are integer weights in ascending score order.

        For a positive row, the negatives below it count 1 and tied negatives 1/2: with ``C``
        the running sum of negative weights, that is ``(C[run start - 1] + C[run end]) / 2``.
        """
        _, neg, pidx, run_start, run_end = part
        cneg = np.cumsum(ws * neg, axis=1)
        wp = ws[:, pidx].astype(np.float64)
        if run_start is None:
            below = cneg[:, pidx].astype(np.float64)
        else:
            cpad = np.concatenate([np.zeros((ws.shape[0], 1), dtype=cneg.dtype), cneg], axis=1)
            below = 0.5 * (cpad[:, run_start] + cpad[:, run_end + 1]).astype(np.float64)
        num = np.einsum("ij,ij->i", wp, below)
        den = wp.sum(axis=1) * cneg[:, -1].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / den, np.nan)

    def evaluate(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Score metrics for row weights ``w`` of shape (b, n) (each row sums to ``n``).

        With sample weights, each row's bootstrap count is multiplied by its sample weight.
        """
        if self.sw is not None:
            w = w * self.sw
        ws = w[:, self.order]
        total = ws.sum(axis=1).astype(np.float64)
        aucs = []
        for part in self.auc_parts:
            aucs.append(self._auc(ws if part[0] is None else w[:, part[0]], part))
        wf = ws.astype(np.float64)
        gap = np.add.reduceat(wf * self.gap_sorted, self.bin_starts, axis=1)
        return {
            "roc_auc": aucs[0] if self.binary else np.mean(np.stack(aucs), axis=0),
            "log_loss": (wf @ self.log_loss_sorted) / total,
            "brier_score": (wf @ self.brier_sorted) / total,
            "expected_calibration_error": np.abs(gap).sum(axis=1) / total,
        }

    def reliability(self) -> dict[str, list[Any]]:
        """Mean score, observed frequency and rows per non-empty bin (point estimate)."""
        if self.sw is not None:  # weighted means; bins of zero weight are left out
            sw = self.sw[self.order]
            wb = np.add.reduceat(sw, self.bin_starts)
            rows = np.add.reduceat(np.ones(self.n), self.bin_starts)
            keep = np.flatnonzero(wb > 0)
            conf = np.add.reduceat(sw * self.conf_sorted, self.bin_starts)[keep] / wb[keep]
            obs = np.add.reduceat(sw * self.correct_sorted, self.bin_starts)[keep] / wb[keep]
            return {
                "bin": self.bin_ids[keep].tolist(),
                "mean_score": conf.tolist(),
                "observed": obs.tolist(),
                "count": rows[keep].astype(int).tolist(),
                "weight": wb[keep].tolist(),
            }
        cnt = np.add.reduceat(np.ones(self.n), self.bin_starts)
        conf = np.add.reduceat(self.conf_sorted, self.bin_starts) / cnt
        obs = np.add.reduceat(self.correct_sorted, self.bin_starts) / cnt
        return {
            "bin": self.bin_ids.tolist(),
            "mean_score": conf.tolist(),
            "observed": obs.tolist(),
            "count": cnt.astype(int).tolist(),
        }


def score_metrics(p: Predictions) -> dict[str, float]:
    """ROC AUC, log loss, Brier score and ECE of predictions with scores (point estimates)."""
    prep = _ScorePrep(p)
    vals = prep.evaluate(np.ones((1, prep.n), dtype=np.int64))
    return {k: float(v[0]) for k, v in vals.items()}


def _roc_points(p: Predictions, max_points: int = 200) -> dict[str, list[float]]:
    assert p.y_proba is not None
    pos = p.pos_label if p.pos_label is not None else 1
    s = p.y_proba[:, pos]
    y = (p.y_true == pos).astype(np.float64)
    if p.sample_weight is not None:  # rows of zero weight are not in the weighted curve
        nz = np.asarray(p.sample_weight) > 0
        s, y = s[nz], y[nz]
    order = np.argsort(-s, kind="stable")
    ss, yy = s[order], y[order]
    last = np.r_[np.flatnonzero(ss[1:] != ss[:-1]), len(ss) - 1]
    if p.sample_weight is not None:
        sw = np.asarray(p.sample_weight, dtype=np.float64)[nz][order]
        tp = np.cumsum(sw * yy)[last]
        fp = np.cumsum(sw * (1 - yy))[last]
        tpr = np.r_[0.0, tp / tp[-1] if tp[-1] > 0 else tp]
        fpr = np.r_[0.0, fp / fp[-1] if fp[-1] > 0 else fp]
        if len(tpr) > max_points:
            keep = np.unique(np.linspace(0, len(tpr) - 1, max_points).round().astype(int))
            tpr, fpr = tpr[keep], fpr[keep]
        return {"x": fpr.tolist(), "y": tpr.tolist()}
    tp = np.cumsum(yy)[last]
    fp = np.cumsum(1 - yy)[last]
    tpr = np.r_[0.0, tp / max(tp[-1], 1)]
    fpr = np.r_[0.0, fp / max(fp[-1], 1)]
    if len(tpr) > max_points:
        keep = np.unique(np.linspace(0, len(tpr) - 1, max_points).round().astype(int))
        tpr, fpr = tpr[keep], fpr[keep]
    return {"x": fpr.tolist(), "y": tpr.tolist()}


# ---------------------------------------------------------------------------------- section
def _ci(lo: np.ndarray, hi: np.ndarray, idx: Any = ()) -> tuple[float, float] | None:
    a, b = float(np.asarray(lo)[idx]), float(np.asarray(hi)[idx])
    return (a, b) if np.isfinite(a) and np.isfinite(b) else None


def _finding(severity: Severity, text: str, metric: str) -> Finding:
    return Finding(SECTION, severity, text, metric)


class PerformanceSection:
    """Accuracy, balanced accuracy, ROC AUC, log loss, Brier score, calibration, confusion."""

    name = "performance"
    requires: tuple[str, ...] = ()
    #: Runs from a log reduced to count tables (``ctx.counts``) as well as from rows.
    supports_counts = True

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the performance section from the context."""
        p = ctx.predictions
        cfg = ctx.config
        k = p.n_classes
        names = p.classes
        level = cfg.ci_level
        rng = ctx.rng("performance")
        counts = ctx.counts
        # weighted cells (sums of the sample weights); None: today's unweighted path
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
                    wsq = np.bincount(cell, weights=g["weight_sq_sum"], minlength=k * k).reshape(
                        k, k
                    )
        else:
            n = len(p)
            cm = np.bincount(p.y_true * k + p.y_pred, minlength=k * k).reshape(k, k)
            sw = p.sample_weight
            if sw is not None:
                cell = p.y_true * k + p.y_pred
                wcm = np.bincount(cell, weights=sw, minlength=k * k).reshape(k, k)
                wsq = np.bincount(cell, weights=sw * sw, minlength=k * k).reshape(k, k)
        weighted = wcm is not None
        point = confusion_metrics(cm if wcm is None else wcm)
        boot_ci: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if cfg.n_boot > 0:
            draws = multinomial_counts(cm, cfg.n_boot, rng)
            if wcm is not None:
                draws = weighted_cell_draws(draws, cm, wcm, wsq, rng)
            for key, arr in confusion_metrics(draws).items():
                boot_ci[key] = percentile_interval(arr, level)
        shown = cm if wcm is None else wcm  # the confusion matrix as reported
        metrics: list[MetricValue] = []
        for key in ("accuracy", "balanced_accuracy"):
            ci = _ci(*boot_ci[key]) if key in boot_ci else None
            metrics.append(
                MetricValue(section=SECTION, name=key, value=float(point[key]), ci=ci, n=n)
            )
        support = point["support"]
        predicted = shown.sum(axis=0)
        for c in range(k):
            for key in ("precision", "recall", "f1"):
                ci = _ci(*boot_ci[key], c) if key in boot_ci else None
                undefined = (
                    (key == "precision" and predicted[c] == 0)
                    or (key == "recall" and support[c] == 0)
                    or (key == "f1" and support[c] == 0 and predicted[c] == 0)
                )
                reason = None
                if undefined:
                    reason = (
                        f"class '{names[c]}' is never predicted, so precision is 0/0 (reported "
                        "as 0, as scikit-learn does)"
                        if key == "precision"
                        else f"class '{names[c]}' has no rows, so {key} is 0/0 (reported as 0, "
                        "as scikit-learn does)"
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
                        reason=reason,
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
        tables = [
            Table(
                name="confusion_matrix",
                title="Confusion matrix (rows: true class)",
                columns=("true \\ predicted", *names),
                rows=tuple(
                    (names[t], *[float(x) if weighted else int(x) for x in shown[t]])
                    for t in range(k)
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
        never = [names[c] for c in range(k) if predicted[c] == 0 and support[c] > 0]
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
        charts: list[Chart] = []
        info: dict[str, Any] = {
            "task": p.task,
            "classes": list(names),
            "positive_class": names[p.pos_label] if p.pos_label is not None else None,
            "n_boot": cfg.n_boot,
            "ci_level": level,
            "ci_method": "bootstrap percentile (confusion cells: multinomial; scores: row "
            "resampling)"
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
        if counts is not None:
            info["has_scores"] = counts.has_scores
            info["reduced_in"] = counts.engine
            if counts.scores is not None:
                metrics_s, findings_s, charts_s, info_s = _count_scores(ctx, counts, rng)
                metrics += metrics_s
                findings += findings_s
                charts += charts_s
                info.update(info_s)
            else:
                info["scores"] = (
                    "the score cells were not computed" if counts.has_scores
                    else "no scores: ROC AUC, log loss, Brier score and calibration need them"
                )  # fmt: skip
        elif p.has_scores and p.y_proba is not None:
            metrics_s, findings_s, charts_s = self._scores(ctx, rng)
            metrics += metrics_s
            findings += findings_s
            charts += charts_s
        else:
            info["scores"] = "no scores: ROC AUC, log loss, Brier score and calibration need them"
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(metrics),
            tables=tuple(tables),
            findings=tuple(findings),
            charts=tuple(charts),
            info=info,
        )

    @staticmethod
    def _scores(
        ctx: AuditContext, rng: np.random.Generator
    ) -> tuple[list[MetricValue], list[Finding], list[Chart]]:
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


# -------------------------------------------------------------- from count tables (no rows)
#: Cells x replicates per bootstrap chunk of the score cells (bounds memory).
_CELL_CHUNK_ELEMENTS = 2_000_000
#: Most resampling cells of the ROC AUC bootstrap on count tables (adjacent fine bins pooled).
_BOOT_CELLS = 1024


class _CellScores:
    """Score metrics of a log reduced to count tables (``Counts``), and their bootstrap.

    Brier score, calibration error, the reliability diagram and (when the reduction summed
    it) the log loss come from the count table: its cells are collapsed to (true class,
    calibration bin) cells with exact sums of the score, of its square and of ``-log p[y]``,
    so the point values are exact (the squared error of a row is ``score^2``, or
    ``1 - 2 score + score^2`` for the positive class). ROC AUC is the Mann-Whitney statistic of
    the fine-bin histogram (``Counts.scores``): rows in the same fine bin count as ties (1/2).
    It equals the exact AUC when no fine bin holds different scores of both classes, and
    differs from it by at most ``sum_b pos_b * neg_b / (2 P N)`` over the bins that do
    (:meth:`auc_bound`, from each bin's smallest and largest score).
    """

    def __init__(
        self, groups: Mapping[str, np.ndarray], sc: Mapping[str, np.ndarray], pos: int,
        n_cal: int,
    ) -> None:  # fmt: skip
        # calibration cells: (calibration bin, class), in that fixed order
        is_pos = np.asarray(groups["y_true"]) == pos
        key = np.asarray(groups["score_bin"], dtype=np.int64) * 2 + is_pos
        size = 2 * n_cal

        def total(name: str) -> np.ndarray:
            w = np.asarray(groups[name], dtype=np.float64)
            return np.bincount(key, weights=w, minlength=size)

        cnt = np.rint(total("count")).astype(np.int64)
        keep = np.flatnonzero(cnt > 0)
        self.n_cal = n_cal
        self.cal_cnt = cnt[keep]
        self.cal_bin = keep // 2
        self.cal_pos = (keep % 2).astype(np.float64)
        self.s_sum = total("score_sum")[keep]
        self.sq_sum = total("score_sq_sum")[keep]
        y = self.cal_pos
        # sum of (score - y)^2 over the cell, y in {0, 1}
        self.brier_sum = self.sq_sum - 2.0 * y * self.s_sum + y * self.cal_cnt
        self.has_log_loss = "log_loss_sum" in groups
        self.loss_sum = total("log_loss_sum")[keep] if self.has_log_loss else None
        self.loss_sq_sum = total("log_loss_sq_sum")[keep] if self.has_log_loss else None
        self.n = int(self.cal_cnt.sum())
        # weighted: the same cells with sums of w, w^2, w * score, w * score^2, w * (-log p[y])
        self.weighted = "weight_sum" in groups
        if self.weighted:
            self.cal_w = total("weight_sum")[keep]
            self.cal_wsq = total("weight_sq_sum")[keep] if "weight_sq_sum" in groups else None
            self.ws_sum = total("weight_score_sum")[keep]
            self.wsq_sum = total("weight_score_sq_sum")[keep]
            self.wbrier_sum = self.wsq_sum - 2.0 * y * self.ws_sum + y * self.cal_w
            has_wl = "weight_log_loss_sum" in groups
            self.has_log_loss = self.has_log_loss and has_wl
            self.wloss_sum = total("weight_log_loss_sum")[keep] if has_wl else None
            self.wloss_sq_sum = total("weight_log_loss_sq_sum")[keep] if has_wl else None
        # fine cells: (fine bin, class), one canonical order whatever the engine returned
        fcnt = np.asarray(sc["count"], dtype=np.int64)
        fine = np.asarray(sc["fine_bin"], dtype=np.int64)
        fpos = np.asarray(sc["y_true"]) == pos
        fkeep = np.flatnonzero(fcnt > 0)
        order = fkeep[np.lexsort((fpos[fkeep], fine[fkeep]))]
        self.cnt, self.fine, self.is_pos = fcnt[order], fine[order], fpos[order]
        self.s_min = np.asarray(sc["score_min"], dtype=np.float64)[order]
        self.s_max = np.asarray(sc["score_max"], dtype=np.float64)[order]
        self.fw: np.ndarray | None = None  # weight sums of the fine cells (weighted)
        self.fwsq: np.ndarray | None = None
        if self.weighted:
            self.fw = np.asarray(sc["weight_sum"], dtype=np.float64)[order]
            if "weight_sq_sum" in sc:
                self.fwsq = np.asarray(sc["weight_sq_sum"], dtype=np.float64)[order]
        self.auc_part = _ScorePrep._auc_prep(
            None, self.is_pos.astype(np.float64), self.fine.astype(np.float64)
        )
        self.run_starts = np.flatnonzero(np.r_[True, self.fine[1:] != self.fine[:-1]])

    def _mass(self) -> np.ndarray:
        """Per fine cell: its rows, or its weight sum when weighted."""
        return self.cnt if self.fw is None else self.fw

    def point(self) -> dict[str, float]:
        """Point values from the exact sums."""
        if self.weighted:
            w = float(self.cal_w.sum())
            gap = np.bincount(
                self.cal_bin, weights=self.ws_sum - self.cal_w * self.cal_pos,
                minlength=self.n_cal,
            )  # fmt: skip
            auc = _ScorePrep._auc(self._mass()[None, :], self.auc_part)[0]
            wl = self.wloss_sum
            return {
                "roc_auc": float(auc),
                "log_loss": float(wl.sum() / w) if wl is not None else np.nan,
                "brier_score": float(self.wbrier_sum.sum() / w),
                "expected_calibration_error": float(np.abs(gap).sum() / w),
            }
        n = float(self.n)
        gap = np.bincount(
            self.cal_bin, weights=self.s_sum - self.cal_cnt * self.cal_pos, minlength=self.n_cal
        )
        auc = _ScorePrep._auc(self.cnt[None, :], self.auc_part)[0]
        return {
            "roc_auc": float(auc),
            "log_loss": float(self.loss_sum.sum() / n) if self.loss_sum is not None else np.nan,
            "brier_score": float(self.brier_sum.sum() / n),
            "expected_calibration_error": float(np.abs(gap).sum() / n),
        }

    def bootstrap(
        self, n_boot: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """Bootstrap replicates of the score metrics, shape (n_boot,) each.

        Brier score, calibration error and log loss: each replicate draws the calibration
        cells' counts from ``Multinomial(n, counts / n)`` and their sums from a normal law with
        the cell's within-cell mean and variance (exact for the score and ``-log p[y]``, whose
        squares are summed; the delta method for the squared error), as the fairness engine
        does for score sums. ROC AUC: the fine cells are merged into at most
        :data:`_BOOT_CELLS` resampling cells by pooling ``m`` adjacent fine bins (``m`` the
        smallest power of 2 that does it), whose counts are drawn from their own multinomial;
        the replicates are moved by the difference between the fine and the pooled point
        values, so the interval is centred on the fine histogram's value while its width
        comes from the resampling.
        """
        out = self._cal_bootstrap(n_boot, rng)
        out["roc_auc"] = self._auc_bootstrap(n_boot, rng)
        return out

    def _cal_bootstrap(self, n_boot: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if self.weighted:
            return self._cal_bootstrap_weighted(n_boot, rng)
        c = self.cal_cnt.astype(np.float64)
        mu_s = self.s_sum / c
        var_s = np.maximum(self.sq_sum / c - mu_s * mu_s, 0.0)
        # squared error (s - y)^2: mean exact, variance by the delta method
        mu_b = self.brier_sum / c
        var_b = 4.0 * (mu_s - self.cal_pos) ** 2 * var_s
        moments = [("s", mu_s, var_s), ("b", mu_b, var_b)]
        if self.loss_sum is not None and self.loss_sq_sum is not None:
            mu_l = self.loss_sum / c
            moments.append(("l", mu_l, np.maximum(self.loss_sq_sum / c - mu_l * mu_l, 0.0)))
        onehot = np.zeros((len(c), self.n_cal))
        onehot[np.arange(len(c)), self.cal_bin] = 1.0
        prob = c / c.sum()
        w = rng.multinomial(self.n, prob, size=n_boot).astype(np.float64)
        total = w.sum(axis=1)
        sums = {
            name: w * mu + np.sqrt(w * var) * rng.standard_normal(w.shape)
            for name, mu, var in moments
        }
        gap = (sums["s"] - w * self.cal_pos) @ onehot
        out = {
            "brier_score": sums["b"].sum(axis=1) / total,
            "expected_calibration_error": np.abs(gap).sum(axis=1) / total,
        }
        if "l" in sums:
            out["log_loss"] = sums["l"].sum(axis=1) / total
        return out

    def _cal_bootstrap_weighted(
        self, n_boot: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """Resample the weighted calibration cells (the fairness engine's law).

        Counts ``N ~ Multinomial``; weight sums ``N * m + sqrt(N * v) * Z`` (clipped at 0);
        each weighted sum of a per-row quantity ``x`` (score, squared error, ``-log p[y]``)
        ``W * mu + sqrt(N * E[w^2] * var) * Z``, ``mu`` and ``var`` the weighted mean and
        variance of ``x`` in the cell (weights and ``x`` taken as independent in a cell).
        """
        c = self.cal_cnt.astype(np.float64)
        cw = self.cal_w
        with np.errstate(divide="ignore", invalid="ignore"):
            m_w = cw / c
            w_sq_mean = self.cal_wsq / c if self.cal_wsq is not None else m_w * m_w
            mu_s = np.where(cw > 0, self.ws_sum / cw, 0.0)
            var_s = np.maximum(np.where(cw > 0, self.wsq_sum / cw, 0.0) - mu_s * mu_s, 0.0)
            mu_b = np.where(cw > 0, self.wbrier_sum / cw, 0.0)
            moments = [("s", mu_s, var_s), ("b", mu_b, 4.0 * (mu_s - self.cal_pos) ** 2 * var_s)]
            if self.wloss_sum is not None and self.wloss_sq_sum is not None:
                mu_l = np.where(cw > 0, self.wloss_sum / cw, 0.0)
                var_l = np.where(cw > 0, self.wloss_sq_sum / cw, 0.0) - mu_l * mu_l
                moments.append(("l", mu_l, np.maximum(var_l, 0.0)))
        onehot = np.zeros((len(c), self.n_cal))
        onehot[np.arange(len(c)), self.cal_bin] = 1.0
        draw = rng.multinomial(self.n, c / c.sum(), size=n_boot).astype(np.float64)
        wv = weighted_cell_draws(draw, self.cal_cnt, cw, self.cal_wsq, rng)
        total = wv.sum(axis=1)
        sums = {
            name: wv * mu + np.sqrt(draw * w_sq_mean * var) * rng.standard_normal(draw.shape)
            for name, mu, var in moments
        }
        gap = (sums["s"] - wv * self.cal_pos) @ onehot
        with np.errstate(divide="ignore", invalid="ignore"):
            out = {
                "brier_score": sums["b"].sum(axis=1) / total,
                "expected_calibration_error": np.abs(gap).sum(axis=1) / total,
            }
            if "l" in sums:
                out["log_loss"] = sums["l"].sum(axis=1) / total
        return out

    def _auc_bootstrap(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        m = 1
        while len(np.unique(self._coarse_key(m))) > _BOOT_CELLS:
            m *= 2
        uniq, inv = np.unique(self._coarse_key(m), return_inverse=True)
        inv = inv.ravel()
        nc = len(uniq)
        cnt = np.bincount(inv, weights=self.cnt.astype(np.float64), minlength=nc)
        coarse_fine = np.zeros(nc, dtype=np.int64)
        coarse_fine[inv] = self.fine // m
        is_pos = np.zeros(nc, dtype=bool)
        is_pos[inv] = self.is_pos
        part = _ScorePrep._auc_prep(None, is_pos.astype(np.float64), coarse_fine.astype(float))
        if self.fw is not None:
            return self._auc_bootstrap_weighted(n_boot, rng, inv, nc, cnt, part)
        fine_auc = _ScorePrep._auc(self.cnt[None, :], self.auc_part)[0]
        shift = fine_auc - float(_ScorePrep._auc(np.rint(cnt).astype(np.int64)[None, :], part)[0])
        prob = cnt / cnt.sum()
        chunk = max(1, min(n_boot, _CELL_CHUNK_ELEMENTS // max(nc, 1)))
        parts: list[np.ndarray] = []
        done = 0
        while done < n_boot:
            b = min(chunk, n_boot - done)
            parts.append(_ScorePrep._auc(rng.multinomial(self.n, prob, size=b), part) + shift)
            done += b
        return np.concatenate(parts)

    def _auc_bootstrap_weighted(
        self, n_boot: int, rng: np.random.Generator, inv: np.ndarray, nc: int,
        cnt: np.ndarray, part: Any,
    ) -> np.ndarray:  # fmt: skip
        """Weighted ROC AUC replicates.

        Multinomial counts of the pooled cells, and their weight sums drawn as
        ``N * m + sqrt(N * v) * Z`` (clipped at 0).
        """
        assert self.fw is not None
        w = np.bincount(inv, weights=self.fw, minlength=nc)
        wsq = None if self.fwsq is None else np.bincount(inv, weights=self.fwsq, minlength=nc)
        fine_auc = _ScorePrep._auc(self.fw[None, :], self.auc_part)[0]
        shift = fine_auc - float(_ScorePrep._auc(w[None, :], part)[0])
        rows = np.rint(cnt).astype(np.int64)
        prob = cnt / cnt.sum()
        chunk = max(1, min(n_boot, _CELL_CHUNK_ELEMENTS // max(nc, 1)))
        parts: list[np.ndarray] = []
        done = 0
        while done < n_boot:
            b = min(chunk, n_boot - done)
            draw = rng.multinomial(self.n, prob, size=b)
            wv = weighted_cell_draws(draw, rows, w, wsq, rng)
            parts.append(_ScorePrep._auc(wv, part) + shift)
            done += b
        return np.concatenate(parts)

    def _coarse_key(self, m: int) -> np.ndarray:
        """One integer per fine cell: (fine bin // m, class), in that order."""
        return (self.fine // m) * 2 + self.is_pos

    def auc_bound(self) -> float:
        """Largest possible difference between the histogram AUC and the exact AUC."""
        st = self.run_starts
        mass = self._mass()
        n_pos = np.add.reduceat(mass * self.is_pos, st).astype(np.float64)
        n_neg = np.add.reduceat(mass * ~self.is_pos, st).astype(np.float64)
        lo = np.minimum.reduceat(self.s_min, st)
        hi = np.maximum.reduceat(self.s_max, st)
        mixed = (n_pos > 0) & (n_neg > 0) & (lo < hi)
        den = n_pos.sum() * n_neg.sum()
        return float((n_pos[mixed] * n_neg[mixed]).sum() / (2.0 * den)) if den > 0 else 0.0

    def reliability(self) -> dict[str, list[Any]]:
        """Mean score, observed frequency and rows per non-empty calibration bin."""
        if self.weighted:  # weighted means; bins of zero weight are left out
            rows = np.bincount(self.cal_bin, weights=self.cal_cnt.astype(np.float64))
            wb = np.bincount(self.cal_bin, weights=self.cal_w)
            conf = np.bincount(self.cal_bin, weights=self.ws_sum)
            obs = np.bincount(self.cal_bin, weights=self.cal_w * self.cal_pos)
            nz = np.flatnonzero(wb > 0)
            return {
                "bin": nz.tolist(),
                "mean_score": (conf[nz] / wb[nz]).tolist(),
                "observed": (obs[nz] / wb[nz]).tolist(),
                "count": rows[nz].astype(int).tolist(),
                "weight": wb[nz].tolist(),
            }
        cnt = np.bincount(self.cal_bin, weights=self.cal_cnt.astype(np.float64))
        conf = np.bincount(self.cal_bin, weights=self.s_sum)
        obs = np.bincount(self.cal_bin, weights=self.cal_cnt * self.cal_pos)
        nz = np.flatnonzero(cnt > 0)
        return {
            "bin": nz.tolist(),
            "mean_score": (conf[nz] / cnt[nz]).tolist(),
            "observed": (obs[nz] / cnt[nz]).tolist(),
            "count": cnt[nz].astype(int).tolist(),
        }

    def roc(self, max_points: int = 200) -> dict[str, list[float]]:
        """ROC points at each fine-bin threshold, from the highest scores down."""
        st = self.run_starts
        if self.fw is not None:  # fine bins of zero weight are not in the weighted curve
            tp = np.add.reduceat(self.fw * self.is_pos, st)[::-1]
            fp = np.add.reduceat(self.fw * ~self.is_pos, st)[::-1]
            keep = (tp + fp) > 0
            tp, fp = tp[keep].cumsum(), fp[keep].cumsum()
            tpr = np.r_[0.0, tp / tp[-1] if tp[-1] > 0 else tp]
            fpr = np.r_[0.0, fp / fp[-1] if fp[-1] > 0 else fp]
        else:
            tp = np.add.reduceat(self.cnt * self.is_pos, st)[::-1].cumsum()
            fp = np.add.reduceat(self.cnt * ~self.is_pos, st)[::-1].cumsum()
            tpr = np.r_[0.0, tp / max(int(tp[-1]), 1)]
            fpr = np.r_[0.0, fp / max(int(fp[-1]), 1)]
        if len(tpr) > max_points:
            keep = np.unique(np.linspace(0, len(tpr) - 1, max_points).round().astype(int))
            tpr, fpr = tpr[keep], fpr[keep]
        return {"x": fpr.tolist(), "y": tpr.tolist()}


#: Why a reduced log has no log loss unless asked (the metric's reason, and the card's).
LOG_LOSS_ON_REQUEST = (
    "not computed: the reduction of a log sums log losses only on request "
    "(options={'log_loss': True}, --log-loss, or reduce_predictions(..., log_loss=True)), "
    "which costs two logarithms per row"
)


def _count_scores(
    ctx: AuditContext, counts: Counts, rng: np.random.Generator
) -> tuple[list[MetricValue], list[Finding], list[Chart], dict[str, Any]]:
    """Compute the score metrics of a log reduced to count tables (``ctx.counts``)."""
    p = ctx.predictions
    cfg = ctx.config
    assert counts.scores is not None and p.pos_label is not None
    cells = _CellScores(counts.groups, counts.scores, p.pos_label, counts.n_bins)
    point = cells.point()
    cis: dict[str, tuple[float, float] | None] = {}
    if cfg.n_boot > 0:
        for key, reps in cells.bootstrap(cfg.n_boot, rng).items():
            lo, hi = percentile_interval(reps, cfg.ci_level)
            cis[key] = _ci(lo, hi)
    absent = [
        p.classes[c] for c in range(p.n_classes)
        if not np.any(np.asarray(counts.groups["y_true"]) == c)
    ]  # fmt: skip
    if cells.weighted:  # a class whose rows all weigh 0 is absent from the weighted data
        wt = np.bincount(
            np.asarray(counts.groups["y_true"], dtype=np.int64),
            weights=counts.groups["weight_sum"], minlength=p.n_classes,
        )  # fmt: skip
        absent = [p.classes[c] for c in range(p.n_classes) if not wt[c] > 0]
    bound = cells.auc_bound() if np.isfinite(point["roc_auc"]) else 0.0
    bins = f"{counts.auc_bins:,}"
    note: tuple[tuple[str, ...], str | None] = (
        (("approximate",), f"from a histogram of {bins} score bins: at most {bound:.2g} from the "
         "exact value") if bound > 0 else ((), None)
    )  # fmt: skip
    roc = cells.roc() if np.isfinite(point["roc_auc"]) else None
    metrics, findings, charts = _score_outputs(
        ctx, point, cis, cells.n, absent, cells.reliability(), roc, note
    )
    if not cells.has_log_loss:
        metrics = [
            dataclasses.replace(m, value=None, reason=LOG_LOSS_ON_REQUEST)
            if m.name == "log_loss" else m
            for m in metrics
        ]  # fmt: skip
    info = {
        "roc_auc_method": f"Mann-Whitney statistic of a histogram of {bins} equal-width score "
        "bins per class (rows in one bin count as ties); exact when no bin mixes different "
        "scores of both classes",
        "roc_auc_max_error": bound,
        "score_cells": len(cells.cnt),
        "log_loss": "exact sums of -log p[y] from the reduction"
        if cells.has_log_loss
        else LOG_LOSS_ON_REQUEST,
        "ci_method": "bootstrap percentile (confusion and calibration cells: multinomial with "
        "normal within-cell sums; ROC histogram: multinomial)"
        if cfg.n_boot > 0
        else "none (n_boot=0)",
    }
    return metrics, findings, charts, info


SECTIONS.register("performance")(PerformanceSection())
