"""Score metrics of a log reduced to count tables (no rows): exact sums and a histogram.

Used by :mod:`.performance` when ``ctx.counts`` holds the score cells of a reduced log;
:class:`_CellScores` documents the method, :func:`_count_scores` builds the section's records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..inputs.context import AuditContext, Counts
from ..metrics.stats import percentile_interval, weighted_cell_draws
from ..result.records import Chart, Finding, MetricValue
from ._performance_metrics import _ScorePrep
from ._performance_records import _ci, _score_outputs

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
