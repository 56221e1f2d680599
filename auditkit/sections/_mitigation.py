"""Mitigation what-if: Fairlearn's ThresholdOptimizer on the model's own scores.

The evaluation rows are split in two halves (stratified by group and label where every stratum
has at least two rows). ``ThresholdOptimizer`` (``prefit=True``) wraps the model's scores in a
fitted stand-in estimator, learns group-specific thresholds on the first half, and predicts on
the second; accuracy and the disparity the constraint targets are measured on that second half
before (the model's own decisions) and after. Nothing is refitted and the model is not changed:
this is an estimate of the trade-off, not a fix. :func:`mitigation_results` turns the outcomes
into the fairness section's records, findings, table and ``info``.

:func:`what_if` is the fairness section's entry point: the what-if above, then the trade-off
curve of every threshold (:mod:`._tradeoff_results`), with their charts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..metrics.engine import group_metrics
from ..metrics.stats import wilson_interval
from ..result.records import Finding, MetricValue, Table
from . import _plain_language as pl
from ._fairness_records import SECTION, _finding
from ._tradeoff import half_split as _split
from ._tradeoff import joined_groups as _joined

__all__ = [
    "CONSTRAINTS",
    "MitigationOutcome",
    "mitigation_results",
    "threshold_what_if",
    "what_if",
]

#: Constraint -> the disparity it targets (Fairlearn names).
CONSTRAINTS = {
    "demographic_parity": "demographic_parity_difference",
    "equalized_odds": "equalized_odds_difference",
}


@dataclass(frozen=True)
class MitigationOutcome:
    """Before/after figures of one constraint on the held-out half (or why it was skipped)."""

    constraint: str
    disparity_name: str
    n_fit: int
    n_eval: int
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    disparity_before: float | None = None
    disparity_after: float | None = None
    reason: str | None = None
    #: The grid the scores were rounded to for the fit (None: used as given).
    score_grid: float | None = None


#: Above this many distinct scores, the what-if rounds the scores to :data:`SCORE_GRID`:
#: Fairlearn's ThresholdOptimizer walks every distinct score in Python (32 s on 1e6 continuous
#: scores), and thresholds 1e-4 apart change its trade-off by no more than that.
MAX_DISTINCT_SCORES = 10_001
SCORE_GRID = 1e-4


def _score_model() -> Any:
    """Return a fitted stand-in estimator whose only input column is the positive-class score.

    Built on first use so that importing auditkit does not import scikit-learn.
    """
    from sklearn.base import BaseEstimator, ClassifierMixin

    class ScoreModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
        """Scores in, ``[1 - score, score]`` out; nothing to fit."""

        def fit(self, X: Any, y: Any) -> Any:
            """Do nothing: the scores are already the model's."""
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            """Return ``[1 - score, score]``."""
            s = np.asarray(X, dtype=np.float64)[:, 0]
            return np.column_stack([1.0 - s, s])

        def predict(self, X: Any) -> np.ndarray:
            """Return 1 where the score is at least 0.5."""
            return (np.asarray(X, dtype=np.float64)[:, 0] >= 0.5).astype(np.int64)

        def __sklearn_is_fitted__(self) -> bool:
            return True

    model = ScoreModel()
    model.classes_ = np.array([0, 1])
    return model


def threshold_what_if(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray,
    sensitive: Any,
    rng: np.random.Generator,
    *,
    constraints: tuple[str, ...] = ("demographic_parity", "equalized_odds"),
) -> list[MitigationOutcome]:
    """Fit ThresholdOptimizer on half the rows and score it on the other half.

    Scores with more than :data:`MAX_DISTINCT_SCORES` distinct values are rounded to
    :data:`SCORE_GRID` first (the outcome's ``score_grid`` says so).

    Parameters
    ----------
    y_true, y_pred : ndarray of int of shape (n_samples,)
        Binary labels and the model's decisions, 1 = the positive class.
    y_score : ndarray of shape (n_samples,)
        The positive-class probability.
    sensitive : DataFrame
        Sensitive columns (their intersection defines the groups).
    rng : numpy.random.Generator
        Drives the split and the randomised thresholds.
    constraints : tuple of str
        Keys of :data:`CONSTRAINTS`.

    Returns
    -------
    list of MitigationOutcome
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    yt = np.asarray(y_true, dtype=np.int64)
    yp = np.asarray(y_pred, dtype=np.int64)
    score = np.asarray(y_score, dtype=np.float64)
    grid = None
    if len(np.unique(score)) > MAX_DISTINCT_SCORES:
        grid = SCORE_GRID
        score = np.round(score / grid) * grid
    cols = list(sensitive.columns)
    joined, group = _joined(sensitive, cols)
    # strata = (group, label); only the partition matters to the split, not the codes' order
    fit_idx, eval_idx = _split(group * 2 + (yt != 0), rng)
    seed = int(rng.integers(0, 2**31 - 1))
    out = []
    for constraint in constraints:
        disparity = CONSTRAINTS[constraint]
        base: dict[str, Any] = {
            "constraint": constraint, "disparity_name": disparity,
            "n_fit": len(fit_idx), "n_eval": len(eval_idx), "score_grid": grid,
        }  # fmt: skip
        if len(np.unique(yt[fit_idx])) < 2 or len(np.unique(yt[eval_idx])) < 2:
            out.append(MitigationOutcome(**base, reason="a half of the data has a single class"))
            continue
        opt = ThresholdOptimizer(
            estimator=_score_model(), constraints=constraint, prefit=True,
            predict_method="predict_proba",
        )  # fmt: skip
        sf_fit = joined[fit_idx]
        sf_eval = joined[eval_idx]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                opt.fit(score[fit_idx, None], yt[fit_idx], sensitive_features=sf_fit)
                after = np.asarray(
                    opt.predict(score[eval_idx, None], sensitive_features=sf_eval,
                                random_state=seed),
                    dtype=np.int64,
                )  # fmt: skip
        except (ValueError, KeyError) as exc:
            out.append(
                MitigationOutcome(**base, reason=f"ThresholdOptimizer could not fit: {exc}")
            )
            continue
        sf_e = sensitive.iloc[eval_idx].reset_index(drop=True)
        feats = tuple(cols)
        before_gm = group_metrics(yt[eval_idx], yp[eval_idx], sf_e, labels=[0, 1], pos_label=1,
                                  groupings=[feats])  # fmt: skip
        after_gm = group_metrics(yt[eval_idx], after, sf_e, labels=[0, 1], pos_label=1,
                                 groupings=[feats])  # fmt: skip
        out.append(
            MitigationOutcome(
                **base,
                accuracy_before=before_gm.overall("accuracy"),
                accuracy_after=after_gm.overall("accuracy"),
                disparity_before=before_gm.disparity(disparity, feats),
                disparity_after=after_gm.disparity(disparity, feats),
            )
        )
    return out


# ------------------------------------------------------------------- the section's outputs
def mitigation_results(
    outcomes: list[MitigationOutcome], feats: tuple[str, ...], level: float
) -> tuple[list[MetricValue], list[Finding], list[Table], dict[str, Any]]:
    """Return the records, findings, table and ``info`` of the what-if's outcomes.

    Accuracies get Wilson intervals at ``level`` over the measured half; a skipped constraint
    appears in ``info`` only, with its reason.
    """
    records: list[MetricValue] = []
    findings: list[Finding] = []
    rows = []
    info: dict[str, Any] = {
        "status": "ok",
        "method": "ThresholdOptimizer (prefit on scores), "
        "fitted on one half and measured on the other",
        "constraints": {},
    }
    for o in outcomes:
        if o.reason is not None:
            info["constraints"][o.constraint] = {"status": "skipped", "reason": o.reason}
            continue
        info["constraints"][o.constraint] = {"status": "ok", "n_fit": o.n_fit, "n_eval": o.n_eval}
        if o.score_grid is not None:
            info["constraints"][o.constraint]["scores_rounded_to"] = o.score_grid
        records += _outcome_records(o, feats, level)
        findings.append(_outcome_finding(o, feats))
        rows.append(
            (
                o.constraint,
                o.disparity_name,
                o.disparity_before,
                o.disparity_after,
                o.accuracy_before,
                o.accuracy_after,
                o.n_fit,
                o.n_eval,
            )
        )
    tables = [_table(rows)] if rows else []
    return records, findings, tables, info


def _outcome_records(
    o: MitigationOutcome, feats: tuple[str, ...], level: float
) -> list[MetricValue]:
    """Accuracy (with Wilson intervals) and disparity before and after, for one constraint."""
    assert o.accuracy_before is not None and o.accuracy_after is not None
    records = []
    for name, val in (
        ("mitigation_accuracy_before", o.accuracy_before),
        ("mitigation_accuracy_after", o.accuracy_after),
    ):
        lo, hi = wilson_interval(round(val * o.n_eval), o.n_eval, level)
        records.append(
            MetricValue(
                section=SECTION,
                name=name,
                value=val,
                feature=feats,
                ci=(float(lo), float(hi)),
                n=o.n_eval,
                method=o.constraint,
            )
        )
    for name, disp in (
        ("mitigation_disparity_before", o.disparity_before),
        ("mitigation_disparity_after", o.disparity_after),
    ):
        records.append(
            MetricValue(
                section=SECTION,
                name=name,
                value=disp,
                feature=feats,
                n=o.n_eval,
                method=o.constraint,
            )
        )
    return records


def _outcome_finding(o: MitigationOutcome, feats: tuple[str, ...]) -> Finding:
    """Return the plain-language trade-off of one constraint."""
    assert o.accuracy_before is not None and o.accuracy_after is not None
    assert o.disparity_before is not None and o.disparity_after is not None
    return _finding(
        "info",
        pl.mitigation_sentence(
            o.constraint,
            o.disparity_name,
            o.disparity_before,
            o.disparity_after,
            o.accuracy_before,
            o.accuracy_after,
            feats,
        ),
        "fairness.mitigation_disparity_after",
    )


def _table(rows: list[tuple[Any, ...]]) -> Table:
    """Return the what-if table: one row per constraint that was fitted."""
    return Table(
        name="mitigation",
        title="What if: Fairlearn ThresholdOptimizer",
        columns=(
            "constraint",
            "disparity",
            "before",
            "after",
            "accuracy before",
            "accuracy after",
            "rows fitted",
            "rows measured",
        ),
        rows=tuple(rows),
        note="Group-specific thresholds learned on one half of the evaluation data and "
        "measured on the other half; the model itself is unchanged.",
    )


def what_if(
    ctx: Any,
    y01: np.ndarray,
    p01: np.ndarray,
    score: np.ndarray,
    feats: tuple[str, ...],
    *,
    gap: float = 0.1,
) -> tuple[list[MetricValue], list[Finding], list[Table], list[Any], dict[str, Any]]:
    """Run the ThresholdOptimizer what-if and the trade-off curve (binary task with scores).

    Returns the records, findings, tables, charts and ``info`` of both: the what-if's exactly
    as :func:`threshold_what_if` and :func:`mitigation_results` give them, then the
    trade-off's (:func:`._tradeoff_results.tradeoff_results`), whose ``info`` is
    ``info["tradeoff"]``.

    Parameters
    ----------
    ctx : AuditContext
    y01, p01 : ndarray of int
        Labels and the model's decisions, 1 = the positive class.
    score : ndarray
        The positive-class score.
    feats : tuple of str
        The sensitive features.
    gap : float, default=0.1
        The section's ``fairness_gap_threshold`` (the trade-off's findings quote the cost of
        bringing the disparity under it).
    """
    from ._tradeoff_results import tradeoff_results

    outcomes = threshold_what_if(y01, p01, score, ctx.sensitive, ctx.rng("mitigation"))
    records, findings, tables, info = mitigation_results(outcomes, feats, ctx.config.ci_level)
    t_rec, t_find, t_tab, t_charts, info["tradeoff"] = tradeoff_results(
        ctx, y01, p01, score, feats, gap=gap
    )
    return records + t_rec, findings + t_find, tables + t_tab, t_charts, info
