"""Performance metrics as arrays: the confusion-matrix metrics and the score metrics of rows.

:func:`confusion_metrics` works on stacks of confusion matrices (point values and bootstrap
replicates alike); :class:`_ScorePrep` computes ROC AUC, log loss, Brier score and expected
calibration error of rows for any stack of row weights (the point estimate is all ones, a
bootstrap replicate a resampled count vector). The formulas are in :mod:`.performance`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs.context import Predictions
from ..metrics.engine import DEFAULT_N_BINS, score_bins

__all__ = ["confusion_metrics", "score_metrics"]

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
