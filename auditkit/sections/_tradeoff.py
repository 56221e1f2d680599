"""The fairness trade-off: accuracy against a disparity, over decision thresholds.

Numbers only (numpy); :mod:`._tradeoff_results` turns them into the section's records, table,
chart and findings, and :func:`auditkit.mitigate` uses :func:`fit_group_thresholds` to build a
post-processed model.

Definitions (Fairlearn's, so every value equals ``fairlearn.metrics`` on the same decisions):

* a decision is positive when the score is **at least** the threshold (``score >= t``); the
  threshold ``inf`` selects nobody;
* ``demographic_parity_difference``: the largest minus the smallest group selection rate;
* ``equalized_odds_difference``: the larger of the true-positive-rate range and the
  false-positive-rate range across groups (Fairlearn's ``agg="worst_case"``); a group with no
  positive (negative) rows has a true (false) positive rate of 0, as in Fairlearn;
* accuracy: the (weighted) share of rows whose decision equals the label.

Two families of decision rules:

* **one threshold for everyone** (:func:`threshold_curve`): every distinct score is a threshold
  (above :data:`MAX_THRESHOLDS` distinct scores, that many spread evenly over their ranks:
  each value is still exact for its threshold). Vectorised: the rows are bucketed once by the
  first threshold that selects them and the per-group counts are cumulated.
* **one threshold per group** (:func:`fit_group_thresholds`): what Fairlearn's
  ``ThresholdOptimizer`` searches (group-specific thresholds maximising an objective that is a
  sum over rows, ``accuracy_score`` or ``balanced_accuracy_score``, under a constraint on the
  group rates), with its ``tol`` semantics: the range of the constrained rate (selection rate;
  for equalized odds both the true and the false positive rate) across groups is at most
  ``tolerance``. Unlike ``ThresholdOptimizer`` the thresholds are not randomised (a
  deterministic rule can be saved and audited like any model), so parity is met within the
  tolerance rather than exactly. The search is exact: the chosen rates lie in a window
  ``[a, a + tolerance]`` whose lower end is one of the rates a group can reach, so every such
  ``a`` is tried (per group the best objective in the window is a range-maximum query over a
  sparse table). Above :data:`MAX_STARTS` candidate ``a`` (:data:`MAX_STARTS_EO` per rate for
  equalized odds) an evenly spaced subset of them is tried: the result still meets the
  tolerance, and is at least as good as the exact optimum at a tolerance smaller by the
  largest gap between two tried starts.

:func:`cross_fitted_front` sweeps the tolerance with the thresholds learned on one half of the
rows and applied to the other, both ways round (2-fold cross-fitting): every row's decision
comes from thresholds that never saw it, and the accuracy and disparity of each point are
measured on all rows, the same rows as the model's own operating point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "half_split",
    "joined_groups",
    "CONSTRAINTS",
    "DISPARITY",
    "MAX_STARTS",
    "MAX_STARTS_EO",
    "MAX_THRESHOLDS",
    "OBJECTIVES",
    "FrontPoint",
    "GroupFit",
    "ThresholdCurve",
    "candidate_thresholds",
    "credit",
    "cross_fitted_front",
    "decide",
    "fit_group_thresholds",
    "fit_single_threshold",
    "measure",
    "threshold_curve",
]

#: Constraint -> the disparity it bounds (Fairlearn's names).
DISPARITY = {
    "demographic_parity": "demographic_parity_difference",
    "equalized_odds": "equalized_odds_difference",
}
CONSTRAINTS = tuple(DISPARITY)
#: Objectives that are sums over rows (so they split over groups), as Fairlearn names them.
OBJECTIVES = ("accuracy_score", "balanced_accuracy_score")
#: At most this many thresholds per curve (or per group): above, an even spread of the ranks.
MAX_THRESHOLDS = 10_001
#: At most this many lower ends of the rate window tried (demographic parity).
MAX_STARTS = 4096
#: At most this many lower ends per rate (true and false positive rate) for equalized odds.
MAX_STARTS_EO = 128
_EPS = 1e-12


# ------------------------------------------------------------------------------ basics
def joined_groups(sensitive: Any, cols: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's intersection as text (values joined by US) and its code, vectorised."""
    import pandas as pd  # only with sensitive columns, which are a DataFrame

    codes, levels = [], []
    for c in cols:
        k, lv = pd.factorize(sensitive[c])
        codes.append(np.asarray(k, dtype=np.int64))
        levels.append([str(v) for v in np.asarray(lv, dtype=object).tolist()])
    sizes = tuple(len(lv) for lv in levels)
    if float(np.prod(np.asarray(sizes, dtype=np.float64))) < 2**62:
        cell = np.ravel_multi_index(tuple(codes), sizes) if len(cols) > 1 else codes[0]
        uniq, inv = np.unique(cell, return_inverse=True)
        parts = np.unravel_index(uniq, sizes)
    else:  # pragma: no cover - astronomically many combinations
        rows, inv = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
        uniq, parts = rows, tuple(rows[:, j] for j in range(len(cols)))
    names = np.empty(len(uniq), dtype=object)
    names[:] = ["\x1f".join(levels[j][parts[j][i]] for j in range(len(cols)))
                for i in range(len(uniq))]  # fmt: skip
    inv = np.asarray(inv).ravel()
    return names[inv], inv


def half_split(strata: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half/half split, stratified when every stratum has two rows or more."""
    n = len(strata)
    _, codes, counts = np.unique(strata, return_inverse=True, return_counts=True)
    perm = rng.permutation(n)
    if counts.min() >= 2:
        order = perm[np.argsort(codes[perm], kind="stable")]
        # alternate rows within each stratum between the halves
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        first = np.r_[0, np.cumsum(counts)[:-1]]
        within = rank - first[codes]
        fit = within % 2 == 0
    else:
        fit = np.zeros(n, dtype=bool)
        fit[perm[: n // 2]] = True
    return np.flatnonzero(fit), np.flatnonzero(~fit)


def candidate_thresholds(score: np.ndarray, max_thresholds: int = MAX_THRESHOLDS) -> np.ndarray:
    """Return the thresholds tried, highest first: the distinct scores (or an even spread).

    Parameters
    ----------
    score : ndarray of shape (n_samples,)
    max_thresholds : int
        Above this many distinct scores, keep this many, evenly spread over their ranks
        (always the highest and the lowest).

    Returns
    -------
    ndarray of float64, decreasing
    """
    u = np.unique(np.asarray(score, dtype=np.float64))[::-1]
    if len(u) > max_thresholds:
        keep = np.unique(np.round(np.linspace(0, len(u) - 1, max_thresholds)).astype(np.int64))
        u = u[keep]
    return u


def _cut_counts(
    score: np.ndarray,
    y: np.ndarray,
    group: np.ndarray,
    w: np.ndarray,
    thr: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the weight of selected positives and negatives per cut and group.

    Cut ``k`` (``0..K``) selects the rows with ``score >= thr[k - 1]`` (cut 0: nobody), for
    decreasing ``thr`` of length ``K``. Shapes ``(K + 1, n_groups)``.
    """
    k = len(thr)
    # first cut that selects a row: K - (number of thresholds <= score) + 1, in 1..K+1
    first = k - np.searchsorted(thr[::-1], score, side="right") + 1
    idx = first * n_groups + group
    size = (k + 2) * n_groups
    pos = np.bincount(idx, weights=w * (y == 1), minlength=size).reshape(k + 2, n_groups)
    neg = np.bincount(idx, weights=w * (y != 1), minlength=size).reshape(k + 2, n_groups)
    return np.cumsum(pos, axis=0)[: k + 1], np.cumsum(neg, axis=0)[: k + 1]


def _rates(
    pos: np.ndarray, neg: np.ndarray, p_tot: np.ndarray, n_tot: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the selection, true and false positive rates (0 where undefined, as Fairlearn)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = p_tot + n_tot
        sr = np.where(tot > 0, (pos + neg) / np.where(tot > 0, tot, 1.0), 0.0)
        tpr = np.where(p_tot > 0, pos / np.where(p_tot > 0, p_tot, 1.0), 0.0)
        fpr = np.where(n_tot > 0, neg / np.where(n_tot > 0, n_tot, 1.0), 0.0)
    return sr, tpr, fpr


def _weights(w: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if w is None else np.asarray(w, dtype=np.float64)


def _range(a: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Max minus min over the present groups (last axis)."""
    hi = np.where(present, a, -np.inf).max(axis=-1)
    lo = np.where(present, a, np.inf).min(axis=-1)
    return np.asarray(hi - lo)


# ------------------------------------------------------------------ one common threshold
@dataclass(frozen=True)
class ThresholdCurve:
    """Accuracy and disparities of every common threshold (row ``k``: ``score >= thresholds[k]``).

    ``thresholds[0]`` is ``inf`` (nobody selected); the others decrease.
    """

    thresholds: np.ndarray
    accuracy: np.ndarray
    selection_rate: np.ndarray  # (K + 1, n_groups)
    true_positive_rate: np.ndarray
    false_positive_rate: np.ndarray
    demographic_parity_difference: np.ndarray
    equalized_odds_difference: np.ndarray

    def disparity(self, constraint: str) -> np.ndarray:
        """Return the disparity the constraint bounds, per threshold."""
        return np.asarray(getattr(self, DISPARITY[constraint]))


def threshold_curve(
    y: np.ndarray,
    score: np.ndarray,
    group: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    thresholds: np.ndarray | None = None,
    max_thresholds: int = MAX_THRESHOLDS,
) -> ThresholdCurve:
    """Return accuracy and disparities for every common threshold, exactly.

    Parameters
    ----------
    y : ndarray of int of shape (n_samples,)
        1 = the positive class.
    score : ndarray of shape (n_samples,)
    group : ndarray of int of shape (n_samples,)
        Group codes ``0..G-1`` (the intersection of the sensitive features).
    sample_weight : ndarray, default=None
    thresholds : ndarray, default=None
        Decreasing thresholds to evaluate (default :func:`candidate_thresholds`).
    max_thresholds : int

    Returns
    -------
    ThresholdCurve
    """
    y = np.asarray(y)
    s = np.asarray(score, dtype=np.float64)
    g = np.asarray(group, dtype=np.int64)
    w = _weights(sample_weight, len(y))
    n_groups = int(g.max()) + 1 if len(g) else 0
    thr = candidate_thresholds(s, max_thresholds) if thresholds is None else thresholds
    pos, neg = _cut_counts(s, y, g, w, thr, n_groups)
    p_tot, n_tot = _totals(y, g, w, n_groups, 1), _totals(y, g, w, n_groups, 0)
    sr, tpr, fpr = _rates(pos, neg, p_tot, n_tot)
    present = (p_tot + n_tot) > 0
    total = float(w.sum())
    acc = (pos.sum(axis=1) + (n_tot.sum() - neg.sum(axis=1))) / total if total > 0 else pos[:, 0]
    return ThresholdCurve(
        thresholds=np.r_[np.inf, thr],
        accuracy=acc,
        selection_rate=sr,
        true_positive_rate=tpr,
        false_positive_rate=fpr,
        demographic_parity_difference=_range(sr, present),
        equalized_odds_difference=np.maximum(_range(tpr, present), _range(fpr, present)),
    )


def _totals(y: np.ndarray, g: np.ndarray, w: np.ndarray, n_groups: int, label: int) -> np.ndarray:
    m = (y == 1) if label == 1 else (y != 1)
    return np.bincount(g, weights=w * m, minlength=n_groups).astype(np.float64)


def fit_single_threshold(curve: ThresholdCurve, constraint: str, tolerance: float | None) -> float:
    """Return the most accurate common threshold whose disparity is at most ``tolerance``.

    Ties go to the smaller disparity, then the higher threshold; ``None``: no constraint.
    Nobody selected (``inf``) always has a disparity of 0, so one always exists.
    """
    acc = curve.accuracy
    disp = curve.disparity(constraint)
    ok = np.ones(len(acc), bool) if tolerance is None else disp <= tolerance + _EPS
    order = np.lexsort((np.arange(len(acc)), disp, -np.where(ok, acc, -np.inf)))
    return float(curve.thresholds[order[0]])


# ------------------------------------------------------------------ one threshold per group
def credit(y: np.ndarray, w: np.ndarray, objective: str) -> np.ndarray:
    """Return each row's share of the objective when its decision is right.

    ``accuracy_score``: ``w / sum(w)``; ``balanced_accuracy_score``: ``w / (2 W_pos)`` for a
    positive row and ``w / (2 W_neg)`` for a negative one (scikit-learn's definition).
    """
    if objective == "accuracy_score":
        return w / w.sum()
    wp, wn = float(w[y == 1].sum()), float(w[y != 1].sum())
    return np.where(y == 1, w / (2 * wp) if wp > 0 else 0.0, w / (2 * wn) if wn > 0 else 0.0)


@dataclass
class _Options:
    """Per group: the thresholds tried (``inf`` first), their objective and rates."""

    thresholds: list[np.ndarray] = field(default_factory=list)
    objective: list[np.ndarray] = field(default_factory=list)
    rates: dict[str, list[np.ndarray]] = field(default_factory=dict)
    #: Built on first use by :func:`_solve`: sparse tables and the window starts tried.
    tables: list[np.ndarray] = field(default_factory=list)
    starts: dict[str, np.ndarray] = field(default_factory=dict)


def _group_options(
    y: np.ndarray,
    score: np.ndarray,
    group: np.ndarray,
    w: np.ndarray,
    cr: np.ndarray,
    n_groups: int,
    max_thresholds: int,
) -> _Options:
    opts = _Options(rates={"sr": [], "tpr": [], "fpr": []})
    for gi in range(n_groups):
        m = group == gi
        yg, sg = y[m], score[m]
        thr = candidate_thresholds(sg, max_thresholds)
        zeros = np.zeros(len(yg), np.int64)
        pos, neg = _cut_counts(sg, yg, zeros, w[m], thr, 1)
        cpos, cneg = _cut_counts(sg, yg, zeros, cr[m], thr, 1)
        obj = cpos[:, 0] + (cneg[-1, 0] if len(thr) else 0.0) - cneg[:, 0]
        if not len(thr):  # a group absent from these rows: nobody to decide for
            obj = np.zeros(1)
        p_tot = np.array([w[m][yg == 1].sum()])
        n_tot = np.array([w[m][yg != 1].sum()])
        sr, tpr, fpr = _rates(pos[:, 0], neg[:, 0], p_tot, n_tot)
        opts.thresholds.append(np.r_[np.inf, thr])
        opts.objective.append(obj)
        opts.rates["sr"].append(sr)
        opts.rates["tpr"].append(tpr)
        opts.rates["fpr"].append(fpr)
    return opts


def _sparse_argmax(v: np.ndarray) -> np.ndarray:
    """Return the sparse table of range argmaxes of ``v``, shape ``(levels, len(v))``.

    ``[j, i]`` is the argmax of ``v[i : i + 2**j]`` (the first on ties; windows that run past
    the end are cut at it).
    """
    n = len(v)
    levels = max(1, int(np.floor(np.log2(max(n, 1)))) + 1)
    table = np.empty((levels, n), np.int64)
    table[0] = np.arange(n)
    for j in range(1, levels):
        half = 1 << (j - 1)
        a = table[j - 1]
        b = a[np.minimum(np.arange(n) + half, n - 1)]
        table[j] = np.where(v[b] > v[a], b, a)
    return table


def _range_argmax(table: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Argmax of ``v[lo:hi]`` for each pair (``hi > lo``; others: any index)."""
    n = table.shape[1]
    length = np.maximum(hi - lo, 1)
    j = np.minimum(np.floor(np.log2(length)).astype(np.int64), table.shape[0] - 1)
    a = table[j, np.minimum(lo, n - 1)]
    b = table[j, np.clip(hi - (1 << j), 0, n - 1)]
    return np.where(v[b] > v[a], b, a)


def _starts(values: list[np.ndarray], cap: int) -> np.ndarray:
    u = np.unique(np.concatenate(values))
    if len(u) > cap:
        u = u[np.unique(np.round(np.linspace(0, len(u) - 1, cap)).astype(np.int64))]
    return u


def _window(rate: np.ndarray, starts: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Index range ``[lo, hi)`` of the (nondecreasing) ``rate`` inside ``[a, a + tol]``."""
    lo = np.searchsorted(rate, starts - _EPS, side="left")
    hi = np.searchsorted(rate, starts + tol + _EPS, side="right")
    return lo, hi


def _solve(opts: _Options, constraint: str, tolerance: float | None) -> np.ndarray:
    """Return each group's chosen option index (see the module docstring)."""
    n_groups = len(opts.objective)
    if tolerance is None:
        return np.array([int(np.argmax(o)) for o in opts.objective], np.int64)
    if not opts.tables:
        opts.tables = [_sparse_argmax(o) for o in opts.objective]
        opts.starts = {
            "sr": _starts(opts.rates["sr"], MAX_STARTS),
            "tpr": _starts(opts.rates["tpr"], MAX_STARTS_EO),
            "fpr": _starts(opts.rates["fpr"], MAX_STARTS_EO),
        }
    if constraint == "demographic_parity":
        a = opts.starts["sr"]
        shape: tuple[int, ...] = a.shape
        ranges = [_window(opts.rates["sr"][gi], a, tolerance) for gi in range(n_groups)]
    else:
        at, af = opts.starts["tpr"], opts.starts["fpr"]
        shape = (len(at), len(af))
        ranges = []
        for gi in range(n_groups):
            lt, ht = _window(opts.rates["tpr"][gi], at, tolerance)
            lf, hf = _window(opts.rates["fpr"][gi], af, tolerance)
            ranges.append(
                (np.maximum(lt[:, None], lf[None, :]), np.minimum(ht[:, None], hf[None, :]))
            )
    total = np.zeros(shape)
    ok = np.ones(shape, bool)
    picks = []
    hi_rate = np.full(shape, -np.inf)
    lo_rate = np.full(shape, np.inf)
    key = "sr" if constraint == "demographic_parity" else "tpr"
    for gi, (lo, hi) in enumerate(ranges):
        ok &= hi > lo
        k = _range_argmax(opts.tables[gi], opts.objective[gi], lo, hi)
        picks.append(k)
        total += opts.objective[gi][k]
        r = opts.rates[key][gi][k]
        hi_rate, lo_rate = np.maximum(hi_rate, r), np.minimum(lo_rate, r)
    score = np.where(ok, total, -np.inf).ravel()
    spread = (hi_rate - lo_rate).ravel()
    best = int(np.lexsort((spread, -score))[0])
    return np.array([int(p.ravel()[best]) for p in picks], np.int64)


@dataclass(frozen=True)
class GroupFit:
    """Group-specific thresholds: ``thresholds[g]`` for group code ``g`` (``inf``: nobody)."""

    thresholds: np.ndarray
    constraint: str
    objective: str
    tolerance: float | None
    #: The objective and the disparity on the rows the thresholds were learned on.
    fit_objective: float
    fit_disparity: float


def fit_group_thresholds(
    y: np.ndarray,
    score: np.ndarray,
    group: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    n_groups: int | None = None,
    constraint: str = "demographic_parity",
    objective: str = "accuracy_score",
    tolerance: float | None = 0.0,
    max_thresholds: int = MAX_THRESHOLDS,
) -> GroupFit:
    """Return the group thresholds that maximise ``objective`` under the constraint.

    Parameters
    ----------
    y, score, group, sample_weight
        As for :func:`threshold_curve`.
    n_groups : int, default=None
        Number of group codes (default: the largest code + 1).
    constraint : {"demographic_parity", "equalized_odds"}
    objective : {"accuracy_score", "balanced_accuracy_score"}
    tolerance : float or None, default=0.0
        The largest range of the constrained rate(s) across groups; None: no constraint
        (each group its own best threshold).
    max_thresholds : int
        Thresholds tried per group (see :func:`candidate_thresholds`).

    Returns
    -------
    GroupFit
    """
    y = np.asarray(y)
    s = np.asarray(score, dtype=np.float64)
    g = np.asarray(group, dtype=np.int64)
    w = _weights(sample_weight, len(y))
    ng = (int(g.max()) + 1 if len(g) else 0) if n_groups is None else n_groups
    opts = _group_options(y, s, g, w, credit(y, w, objective), ng, max_thresholds)
    pick = _solve(opts, constraint, tolerance)
    thr = np.array([opts.thresholds[gi][k] for gi, k in enumerate(pick)])
    fit_obj = float(sum(opts.objective[gi][k] for gi, k in enumerate(pick)))
    acc, dp, eo = measure(y, decide(s, g, thr), g, w, ng)
    return GroupFit(
        thresholds=thr, constraint=constraint, objective=objective, tolerance=tolerance,
        fit_objective=fit_obj, fit_disparity=dp if constraint == "demographic_parity" else eo,
    )  # fmt: skip


def decide(score: np.ndarray, group: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Return the decisions ``score >= thresholds[group]`` as 0/1."""
    return (np.asarray(score, dtype=np.float64) >= thresholds[group]).astype(np.int64)


def measure(
    y: np.ndarray,
    decisions: np.ndarray,
    group: np.ndarray,
    sample_weight: np.ndarray | None = None,
    n_groups: int | None = None,
) -> tuple[float, float, float]:
    """Return (accuracy, demographic parity difference, equalized odds difference).

    Fairlearn's definitions, over the groups that have rows (weights included).
    """
    y = np.asarray(y)
    d = np.asarray(decisions)
    g = np.asarray(group, dtype=np.int64)
    w = _weights(sample_weight, len(y))
    ng = (int(g.max()) + 1 if len(g) else 0) if n_groups is None else n_groups
    sel = d == 1
    pos = np.bincount(g, weights=w * (sel & (y == 1)), minlength=ng)
    neg = np.bincount(g, weights=w * (sel & (y != 1)), minlength=ng)
    p_tot, n_tot = _totals(y, g, w, ng, 1), _totals(y, g, w, ng, 0)
    sr, tpr, fpr = _rates(pos, neg, p_tot, n_tot)
    present = (p_tot + n_tot) > 0
    acc = float(np.sum(w * (d == (y == 1))) / w.sum())
    eo = float(max(_range(tpr, present), _range(fpr, present)))
    return acc, float(_range(sr, present)), eo


# ------------------------------------------------------------------ the cross-fitted sweep
@dataclass(frozen=True)
class FrontPoint:
    """One point of a trade-off curve, measured on all rows with cross-fitted decisions.

    ``tolerance`` is None for the unconstrained point; ``thresholds`` holds the thresholds
    learned on each half (one per fold: a float for one common threshold, an array per group).
    """

    method: str
    constraint: str
    tolerance: float | None
    accuracy: float
    disparity: float
    thresholds: tuple[object, ...]


def cross_fitted_front(
    y: np.ndarray,
    score: np.ndarray,
    group: np.ndarray,
    folds: tuple[np.ndarray, np.ndarray],
    sample_weight: np.ndarray | None = None,
    *,
    constraint: str = "demographic_parity",
    n_steps: int = 10,
    extra_tolerances: Sequence[float] = (),
    max_thresholds: int = MAX_THRESHOLDS,
) -> dict[str, list[FrontPoint]]:
    """Sweep the tolerance for both methods, learning on one half and measuring on the other.

    The tolerances are ``0, d/n_steps, ..., d`` where ``d`` is the largest disparity of the
    unconstrained rules on either half, and ``extra_tolerances`` below ``d`` (increasing), then
    no constraint. Each point's decisions come, for
    each row, from the rule learned on the other half; its accuracy and disparity are
    measured on all rows.

    Returns
    -------
    dict
        ``{"single_threshold": [...], "group_thresholds": [...]}``, in the order of the
        tolerances.
    """
    y = np.asarray(y)
    s = np.asarray(score, dtype=np.float64)
    g = np.asarray(group, dtype=np.int64)
    w = _weights(sample_weight, len(y))
    ng = int(g.max()) + 1 if len(g) else 0
    halves = [(folds[0], folds[1]), (folds[1], folds[0])]
    curves = [threshold_curve(y[a], s[a], g[a], w[a], max_thresholds=max_thresholds)
              for a, _ in halves]  # fmt: skip
    opts = [
        _group_options(y[a], s[a], g[a], w[a], credit(y[a], w[a], "accuracy_score"), ng,
                       max_thresholds)
        for a, _ in halves
    ]  # fmt: skip

    def single(i: int, tol: float | None) -> float:
        return fit_single_threshold(curves[i], constraint, tol)

    def per_group(i: int, tol: float | None) -> np.ndarray:
        pick = _solve(opts[i], constraint, tol)
        return np.array([opts[i].thresholds[gi][k] for gi, k in enumerate(pick)])

    d_max = 0.0
    for i, (a, _) in enumerate(halves):
        t1 = single(i, None)
        d_max = max(d_max, measure(y[a], (s[a] >= t1).astype(int), g[a], w[a], ng)[_K[constraint]])
        tg = per_group(i, None)
        d_max = max(d_max, measure(y[a], decide(s[a], g[a], tg), g[a], w[a], ng)[_K[constraint]])
    grid = [d_max * j / n_steps for j in range(n_steps + 1)]
    grid += [float(t) for t in extra_tolerances if 0 <= t < d_max]
    tols: list[float | None] = [*sorted(set(grid)), None]
    out: dict[str, list[FrontPoint]] = {"single_threshold": [], "group_thresholds": []}
    for tol in tols:
        for method in out:
            dec = np.zeros(len(y), np.int64)
            learned: list[object] = []
            for i, (_, b) in enumerate(halves):
                if method == "single_threshold":
                    t = single(i, tol)
                    dec[b] = s[b] >= t
                    learned.append(t)
                else:
                    tg = per_group(i, tol)
                    dec[b] = decide(s[b], g[b], tg)
                    learned.append(tg)
            m = measure(y, dec, g, w, ng)
            out[method].append(FrontPoint(method, constraint, tol, m[0], m[_K[constraint]],
                                          tuple(learned)))  # fmt: skip
    return out


_K = {"demographic_parity": 1, "equalized_odds": 2}
