"""Membership-inference attacks and the ROC arithmetic the privacy section reports.

Two attacks score candidate rows (higher score = "more likely a training member"):

* :func:`loss_attack_scores`: the loss-threshold attack of Yeom et al. (2018), the negative
  per-sample cross-entropy of the target model.
* :func:`reference_attack_scores`: a reference-model attack in the spirit of offline RMIA
  (Zarifzadeh et al., 2024) that compares the target model's likelihood ratio on a candidate
  with its ratios on population rows, each ratio taken against a reference model that did
  *not* train on the row (exactly one "out" reference per candidate).

:func:`attack_metrics` and :func:`bootstrap_attack_metrics` turn member and non-member scores
into ROC AUC, membership advantage (max TPR - FPR) and TPR at fixed low FPRs, with a
stratified bootstrap (members and non-members resampled separately) computed from counts per
tie group of the scores, vectorised over resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Probabilities are clipped to this floor before the log (a zero would give an infinite loss).
PROBA_FLOOR = 1e-12
#: The FPR levels reported by default (1% and 0.1%).
DEFAULT_FPRS: tuple[float, ...] = (0.01, 0.001)


def true_class_proba(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return ``proba[i, y[i]]``: each row's probability of its true class.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
    y : ndarray of shape (n_samples,)
        Class indices.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    p = np.asarray(proba, dtype=np.float64)
    idx = np.asarray(y, dtype=np.int64)
    return p[np.arange(len(idx)), idx]


def per_sample_loss(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the cross-entropy ``-log p[y]`` of each row (probabilities floored at 1e-12)."""
    return -np.log(np.clip(true_class_proba(proba, y), PROBA_FLOOR, 1.0))


def loss_attack_scores(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the loss-threshold attack's scores: the negative per-sample loss.

    A row the model fits unusually well (low loss) is guessed to be a training member
    (Yeom et al., 2018). Thresholding this score at every value traces the attack's ROC curve.
    """
    return -per_sample_loss(proba, y)


def reference_attack_scores(
    p_target: np.ndarray,
    p_reference: np.ndarray,
    reference_index: np.ndarray,
    p_target_population: np.ndarray,
    p_reference_population: np.ndarray,
    *,
    offline_a: float = 0.3,
    gamma: float = 1.0,
) -> np.ndarray:
    """Score candidates with an offline RMIA-style likelihood-ratio test.

    For a candidate ``x`` with reference model ``j`` (a model that did not train on ``x``),
    ``p(x)`` is approximated from the single "out" reference as
    ``(1 + a) / 2 * p_j(x) + (1 - a) / 2`` (the offline approximation of Zarifzadeh et al.),
    the ratio is ``r(x) = p_target(x) / p(x)``, and the score is the fraction of population
    rows ``z`` with ``r(x) / r_j(z) > gamma``, where ``r_j(z)`` uses the same reference ``j``.
    Population rows must be out of every reference model and separate from the evaluated
    candidates.

    Parameters
    ----------
    p_target : ndarray of shape (n_candidates,)
        The target model's probability of each candidate's true class.
    p_reference : ndarray of shape (n_candidates,)
        The same probability under each candidate's own reference model.
    reference_index : ndarray of int of shape (n_candidates,)
        Which reference model (row of ``p_reference_population``) each candidate used.
    p_target_population : ndarray of shape (n_population,)
        The target model's true-class probability on the population rows.
    p_reference_population : ndarray of shape (n_references, n_population)
        Each reference model's true-class probability on the population rows.
    offline_a : float, default=0.3
        The offline approximation's coefficient (ML Privacy Meter's default).
    gamma : float, default=1.0
        The likelihood-ratio threshold.

    Returns
    -------
    ndarray of shape (n_candidates,)
        Scores in [0, 1]; higher means "more likely a member".
    """
    a = float(offline_a)
    pz_t = np.asarray(p_target_population, dtype=np.float64)
    pz_ref = np.atleast_2d(np.asarray(p_reference_population, dtype=np.float64))
    ref = np.asarray(reference_index, dtype=np.int64)
    px = (1.0 + a) / 2.0 * np.asarray(p_reference, dtype=np.float64) + (1.0 - a) / 2.0
    ratio_x = np.asarray(p_target, dtype=np.float64) / np.maximum(px, PROBA_FLOOR)
    scores = np.zeros(len(ratio_x), dtype=np.float64)
    n_pop = pz_t.shape[0]
    if n_pop == 0:
        return scores
    for j in np.unique(ref):
        pz = (1.0 + a) / 2.0 * pz_ref[j] + (1.0 - a) / 2.0
        ratio_z = np.sort(pz_t / np.maximum(pz, PROBA_FLOOR))
        sel = ref == j
        # ratio_x / ratio_z > gamma  <=>  ratio_z < ratio_x / gamma (all ratios positive)
        scores[sel] = np.searchsorted(ratio_z, ratio_x[sel] / gamma, side="left") / n_pop
    return scores


# ----------------------------------------------------------------------------------- ROC
@dataclass(frozen=True)
class RocCurve:
    """The ROC curve of one attack at every distinct threshold (highest threshold first).

    Attributes
    ----------
    fpr, tpr : ndarray
        Start at (0, 0) and end at (1, 1).
    """

    fpr: np.ndarray
    tpr: np.ndarray


def _tie_groups(s_in: np.ndarray, s_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Rank the distinct scores from highest (group 0) down; return each row's group and G."""
    scores = np.concatenate([s_in, s_out]).astype(np.float64)
    uniq, inv = np.unique(-scores, return_inverse=True)  # ascending -score = descending score
    inv = inv.reshape(-1)
    return inv[: len(s_in)], inv[len(s_in) :], len(uniq)


def _curves(c_in: np.ndarray, c_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC points (FPR, TPR) from per-tie-group counts, shape (B, G) -> (B, G + 1)."""
    tp = np.cumsum(c_in, axis=1)
    fp = np.cumsum(c_out, axis=1)
    shape = (c_in.shape[0], c_in.shape[1] + 1)
    tpr, fpr = np.zeros(shape), np.zeros(shape)
    np.divide(tp, tp[:, -1:], out=tpr[:, 1:])
    np.divide(fp, fp[:, -1:], out=fpr[:, 1:])
    return fpr, tpr


def _summaries(
    c_in: np.ndarray, c_out: np.ndarray, fprs: Sequence[float]
) -> dict[str, np.ndarray]:
    """AUC, advantage and TPR at each FPR level from per-tie-group counts, per batch row.

    Computed in exact integer arithmetic on the counts: with ``tp``/``fp`` the cumulative
    member/non-member counts down the tie groups, the trapezoid AUC is
    ``sum(c_out * (2 tp - c_in)) / (2 n_in n_out)`` (ties count half), the advantage is
    ``max(tp n_out - fp n_in) / (n_in n_out)`` (0 at the origin), and the TPR at FPR ``a`` is the
    largest ``tp`` with ``fp <= a n_out``, over ``n_in``.
    """
    c_in = np.asarray(c_in, dtype=np.int64)
    c_out = np.asarray(c_out, dtype=np.int64)
    tp = np.cumsum(c_in, axis=1)
    fp = np.cumsum(c_out, axis=1)
    n_in = tp[:, -1].astype(np.float64)
    n_out = fp[:, -1].astype(np.float64)
    area = np.einsum("bg,bg->b", c_out, 2 * tp - c_in).astype(np.float64)
    adv = np.maximum((tp * fp[:, -1:] - fp * tp[:, -1:]).max(axis=1), 0).astype(np.float64)
    out = {"auc": area / (2.0 * n_in * n_out), "advantage": adv / (n_in * n_out)}
    for a in fprs:
        ok = fp <= a * fp[:, -1:] * (1 + 1e-12)
        out[f"tpr_at_{a:g}"] = np.where(ok, tp, 0).max(axis=1) / n_in
    return out


def _check_scores(s_in: np.ndarray, s_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(s_in, dtype=np.float64).ravel()
    b = np.asarray(s_out, dtype=np.float64).ravel()
    if len(a) == 0 or len(b) == 0:
        raise ValueError("Attack metrics need at least one member and one non-member score.")
    return a, b


def _point_counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g_in, g_out, n_groups = _tie_groups(a, b)
    c_in = np.bincount(g_in, minlength=n_groups)[None, :]
    c_out = np.bincount(g_out, minlength=n_groups)[None, :]
    return c_in, c_out


def roc_curve_points(s_in: np.ndarray, s_out: np.ndarray) -> RocCurve:
    """Return the attack's ROC curve (members positive) at every distinct score."""
    fpr, tpr = _curves(*_point_counts(*_check_scores(s_in, s_out)))
    return RocCurve(fpr=fpr[0], tpr=tpr[0])


def attack_metrics(
    s_in: np.ndarray, s_out: np.ndarray, *, fprs: Sequence[float] = DEFAULT_FPRS
) -> dict[str, float]:
    """Return ROC AUC, membership advantage and TPR at the FPR levels ``fprs``.

    Parameters
    ----------
    s_in, s_out : array-like of shape (n_members,), (n_non_members,)
        Attack scores of members and non-members (higher = more likely member).
    fprs : sequence of float, default=(0.01, 0.001)
        FPR levels; ``tpr_at_<level>`` is the highest TPR reached with FPR at most the level.

    Returns
    -------
    dict
        ``auc`` (equals :func:`sklearn.metrics.roc_auc_score`, ties counted half),
        ``advantage`` (max over thresholds of TPR - FPR, Yeom et al.'s membership advantage at
        the best threshold) and ``tpr_at_<level>`` for each level (keys formatted with ``:g``).
    """
    c_in, c_out = _point_counts(*_check_scores(s_in, s_out))
    return {k: float(v[0]) for k, v in _summaries(c_in, c_out, fprs).items()}


def bootstrap_attack_values(
    s_in: np.ndarray,
    s_out: np.ndarray,
    *,
    n_boot: int,
    rng: np.random.Generator,
    fprs: Sequence[float] = DEFAULT_FPRS,
    batch: int = 128,
) -> dict[str, np.ndarray]:
    """Return :func:`attack_metrics`' values on ``n_boot`` stratified bootstrap resamples.

    Members and non-members are resampled separately (each with replacement, to its own size),
    so every resample keeps the balance of the original comparison. For each batch of
    resamples the draws are ``rng.integers(0, n_members, (batch, n_members))`` and then the
    same for non-members; the rows are never copied: the resampled rows are counted per tie
    group of the scores (sorted once), and every metric of every resample in the batch comes
    from cumulative sums of those counts, in exact integer arithmetic.
    """
    a, b = _check_scores(s_in, s_out)
    g_in, g_out, n_groups = _tie_groups(a, b)
    parts: dict[str, list[np.ndarray]] = {}
    done = 0
    while done < n_boot:
        m = min(batch, n_boot - done)
        offs = (np.arange(m) * n_groups)[:, None]
        c_in = np.bincount(
            (g_in[rng.integers(0, len(a), size=(m, len(a)))] + offs).ravel(),
            minlength=m * n_groups,
        ).reshape(m, n_groups)
        c_out = np.bincount(
            (g_out[rng.integers(0, len(b), size=(m, len(b)))] + offs).ravel(),
            minlength=m * n_groups,
        ).reshape(m, n_groups)
        for k, v in _summaries(c_in, c_out, fprs).items():
            parts.setdefault(k, []).append(v)
        done += m
    return {k: np.concatenate(v) for k, v in parts.items()}


def bootstrap_attack_metrics(
    s_in: np.ndarray,
    s_out: np.ndarray,
    *,
    n_boot: int,
    rng: np.random.Generator,
    ci_level: float = 0.95,
    fprs: Sequence[float] = DEFAULT_FPRS,
) -> dict[str, tuple[float, float]]:
    """Return percentile bootstrap intervals of :func:`attack_metrics`' values.

    See :func:`bootstrap_attack_values` for the resampling.

    Returns
    -------
    dict
        Metric name -> ``(low, high)``; empty when ``n_boot`` is 0.
    """
    _check_scores(s_in, s_out)
    if n_boot <= 0:
        return {}
    values = bootstrap_attack_values(s_in, s_out, n_boot=n_boot, rng=rng, fprs=fprs)
    alpha = (1.0 - ci_level) / 2.0
    out = {}
    for k, v in values.items():
        lo, hi = np.quantile(v, [alpha, 1.0 - alpha])
        out[k] = (float(lo), float(hi))
    return out


def roc_on_grid(curve: RocCurve, grid: np.ndarray) -> np.ndarray:
    """Return the highest TPR reached at FPR at most each grid value (a step curve)."""
    fpr, tpr = curve.fpr, curve.tpr
    best = np.maximum.accumulate(tpr)
    idx = np.searchsorted(fpr, grid + 1e-12, side="right") - 1
    return np.asarray(best[np.clip(idx, 0, len(best) - 1)], dtype=np.float64)


def dp_auc_bound(epsilon: float, delta: float = 0.0) -> float:
    """Return the largest membership-inference ROC AUC an (epsilon, delta)-DP model allows.

    Differential privacy bounds every attack's TPR at FPR ``x`` by
    ``min(1, e^eps x + delta, 1 - e^-eps (1 - delta - x))`` (the hypothesis-testing view of DP,
    Kairouz et al. 2015); the bound on the AUC is the area under that piecewise-linear curve,
    integrated exactly between its breakpoints. For ``delta = 0`` it equals
    ``e^eps / (1 + e^eps)``.
    """
    eps = float(epsilon)
    d = float(delta)
    if eps < 0 or not 0.0 <= d <= 1.0:
        raise ValueError(f"Invalid DP budget epsilon={epsilon!r}, delta={delta!r}.")
    if eps > 700:
        return 1.0
    e = float(np.exp(eps))
    if d == 0.0:
        return e / (1.0 + e)
    knots = np.array([0.0, 1.0, (1.0 - d) / (e + 1.0), (1.0 - d) / e, 1.0 - d])
    x = np.unique(np.clip(knots, 0.0, 1.0))
    t = np.clip(np.minimum.reduce([np.ones_like(x), e * x + d, 1.0 - (1.0 - d - x) / e]), 0.0, 1.0)
    return float(np.sum((x[1:] - x[:-1]) * (t[1:] + t[:-1]) / 2.0))


def dp_advantage_bound(epsilon: float, delta: float = 0.0) -> float:
    """Return the largest membership advantage an (epsilon, delta)-DP model allows.

    The advantage (max TPR - FPR) is at most ``(e^eps - 1 + 2 delta) / (e^eps + 1)``, where the
    two sides of the DP trade-off curve meet; capped at 1.
    """
    eps = float(epsilon)
    if eps > 700:
        return 1.0
    e = np.exp(eps)
    return float(min(1.0, (e - 1.0 + 2.0 * float(delta)) / (e + 1.0)))
