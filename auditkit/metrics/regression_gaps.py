"""Gaps between the prediction distributions of a group and the rest of the population.

Each group is compared with **all other rows** (group against rest), so a grouping of ``P``
groups gives ``P`` comparisons and every group has a number of its own (pairwise gaps between
every two groups grow as ``P**2`` and say less about who is treated differently).

* Kolmogorov-Smirnov: ``sup_x |F_g(x) - F_rest(x)|`` with the (weighted) empirical cdfs;
  unweighted it is ``scipy.stats.ks_2samp(group, rest).statistic``.
* Wasserstein-1: ``integral |F_g - F_rest| dx``, ``scipy.stats.wasserstein_distance`` (which
  takes weights).

From rows both are exact. From a histogram on shared edges they come with a bound:

* KS: at the bin edges the cdfs are exact, so the largest gap there, ``L``, is a lower bound;
  inside a bin each cdf rises by at most the bin's share, which gives an upper bound ``U``. The
  value is ``(L + U) / 2`` and the bound ``(U - L) / 2``.
* W1: each bin's mass is placed at its middle; moving every value of both distributions by at
  most half a bin changes W1 by at most one bin width, the bound.

Intervals and p-values use the histogram (the table has no rows):

* Bootstrap: the (group, bin) cell counts of the finest groups are drawn from
  ``Multinomial(n, counts / n)``, which is exactly the distribution of the cell counts when
  ``n`` rows are drawn with replacement, so the interval is the exact row bootstrap of the
  binned statistic (weights: :func:`weighted_cell_draws`, its central-limit approximation).
* Permutation: under "the group's predictions come from the same distribution as everyone's",
  shuffling the group labels of the rows makes the group's bin counts multivariate
  hypergeometric given the pooled counts and the group's size: the exact permutation
  distribution of the binned statistic (weights enter through each bin's mean weight, an
  approximation). The p-value is ``(1 + #{T* >= T}) / (B + 1)``.
"""

from __future__ import annotations

import numpy as np

from .evaluation import _safe_div
from .evidence import permutation_pvalue

__all__ = ["gap_permutation_pvalues", "hist_gaps", "row_gaps"]

#: Up to this many groups, the exact gaps take one pass over the rows per group.
DENSE_GROUPS = 48


def row_gaps(
    x: np.ndarray, w: np.ndarray, gid: np.ndarray, n_groups: int, order: np.ndarray | None = None,
    *, presorted: bool = False,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Exact KS and W1 between each group's values and the rest's, from rows.

    Up to :data:`DENSE_GROUPS` groups, one cumulative sum over the sorted rows per group (fast
    sequential passes). With more groups, one sort per grouping, then work proportional to the
    rows: with ``c`` the cumulative weight
    of everyone at the distinct values, ``D_g = F_g - F_rest = a_g C_g - c / R_g`` (``R_g`` the
    rest's weight, ``a_g = 1 / W_g + 1 / R_g``) is, between two values of group ``g``, a
    decreasing function of ``c``. So the largest ``|D_g|`` of such a stretch is at one of its
    ends (KS), and ``integral |D_g| dx`` over it is two prefix-sum differences split where
    ``D_g`` changes sign (W1), found by a binary search in ``c``.

    Parameters
    ----------
    x, w : ndarray of shape (n,)
        Values and weights.
    gid : ndarray of int of shape (n,)
        Group of each row, in ``[0, n_groups)``.
    order : ndarray, default=None
        ``np.argsort(x)`` when already known.
    presorted : bool, default=False
        The rows are already in value order (``order`` is ignored).

    Returns
    -------
    ks, w1 : ndarray of shape (n_groups,)
        NaN for a group, or a rest, of weight 0.
    """
    if presorted:
        if n_groups <= DENSE_GROUPS:
            return _row_gaps_dense(x, w, gid, n_groups, None)
        order = np.arange(len(x))
    elif order is None:
        order = np.argsort(x, kind="stable")
    if n_groups <= DENSE_GROUPS:
        return _row_gaps_dense(x, w, gid, n_groups, order)
    xs = x[order]
    new_run = np.r_[False, xs[1:] != xs[:-1]]
    run = np.empty(len(x), dtype=np.int64)
    run[order] = np.cumsum(new_run)
    starts_u = np.flatnonzero(np.r_[True, new_run[1:]])
    xu = xs[starts_u]
    u = len(xu)
    c = np.add.reduceat(w[order], starts_u) if u < len(x) else w[order]
    c = np.cumsum(c)
    total = c[-1]
    dx = np.diff(xu)
    p1 = np.r_[0.0, np.cumsum(dx)]  # p1[k] = sum of dx[j], j < k
    p2 = np.r_[0.0, np.cumsum(c[:-1] * dx)]
    small = np.uint8 if n_groups <= 256 else np.uint16 if n_groups <= 65536 else np.int64
    o = order[np.argsort(gid[order].astype(small), kind="stable")]  # by group, then value
    g_o, r_o = gid[o], run[o]
    cw = np.cumsum(w[o])
    bounds = np.searchsorted(g_o, np.arange(n_groups + 1))
    at = np.where(bounds > 0, cw[np.maximum(bounds - 1, 0)], 0.0)  # weight before each group
    base, wg = at[:-1], np.diff(at)
    # the last row of each (group, value): where group g reaches C_g at run r
    last = np.flatnonzero(np.r_[(g_o[1:] != g_o[:-1]) | (r_o[1:] != r_o[:-1]), True])
    sg, sr = g_o[last], r_o[last]
    cg = cw[last] - base[sg]
    nxt = np.r_[sr[1:], u]
    nxt = np.where(np.r_[sg[1:] != sg[:-1], True], u, nxt)
    # stretches: [r, next r of the group) with C_g; and [0, first r) with C_g = 0
    first = np.flatnonzero(np.r_[True, sg[1:] != sg[:-1]])
    seg_g = np.r_[sg, sg[first]]
    seg_s = np.r_[sr, np.zeros(len(first), dtype=np.int64)]
    seg_e = np.r_[nxt, sr[first]]
    seg_c = np.r_[cg, np.zeros(len(first))]
    keep = np.flatnonzero(seg_e > seg_s)
    keep = keep[np.argsort(seg_g[keep].astype(small), kind="stable")]  # stretches by group
    seg_g, seg_s, seg_e, seg_c = seg_g[keep], seg_s[keep], seg_e[keep], seg_c[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        ks, w1, ok = _stretch_gaps(seg_g, seg_s, seg_e, seg_c, c, p1, p2, total - wg, wg, n_groups)
    return np.where(ok, ks, np.nan), np.where(ok, np.maximum(w1, 0.0), np.nan)


def _row_gaps_dense(
    x: np.ndarray, w: np.ndarray, gid: np.ndarray, n_groups: int, order: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`row_gaps` by one cumulative sum over the sorted rows per group."""
    xs, ws, gs = (x, w, gid) if order is None else (x[order], w[order], gid[order])
    ends = np.flatnonzero(np.r_[xs[1:] != xs[:-1], True])
    ties = len(ends) < len(xs)
    dx = np.diff(xs[ends] if ties else xs)
    cum_all = np.cumsum(ws)
    cum_all = cum_all[ends] if ties else cum_all
    total = cum_all[-1]
    ks = np.full(n_groups, np.nan)
    w1 = np.full(n_groups, np.nan)
    buf = np.empty(len(cum_all))
    for g in range(n_groups):
        cum_g = np.cumsum(np.where(gs == g, ws, 0.0))
        cum_g = cum_g[ends] if ties else cum_g
        wg = cum_g[-1]
        rest = total - wg
        if not (wg > 0 and rest > 0):
            continue
        # F_g - F_rest = C_g / W_g - (C - C_g) / R = C_g (1 / W_g + 1 / R) - C / R, in place
        cum_g *= 1.0 / wg + 1.0 / rest
        np.multiply(cum_all, 1.0 / rest, out=buf)
        np.subtract(cum_g, buf, out=buf)
        np.abs(buf, out=buf)
        ks[g] = buf.max()
        w1[g] = float(np.dot(buf[:-1], dx))
    return ks, w1


def _stretch_gaps(
    seg_g: np.ndarray, seg_s: np.ndarray, seg_e: np.ndarray, seg_c: np.ndarray, c: np.ndarray,
    p1: np.ndarray, p2: np.ndarray, rest: np.ndarray, wg: np.ndarray, n_groups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """KS and W1 per group from its stretches ``[seg_s, seg_e)`` (sorted by group, see above)."""
    u = len(c)
    ok = (wg > 0) & (rest > 0)
    a = 1.0 / wg + 1.0 / rest
    rg = np.where(ok, rest, np.nan)[seg_g]
    level = a[seg_g] * seg_c  # D = level - c / R on the stretch
    big = np.maximum(np.abs(level - c[seg_s] / rg), np.abs(level - c[seg_e - 1] / rg))
    big = np.where(np.isnan(big), -1.0, big)
    lo = np.searchsorted(seg_g, np.arange(n_groups))
    has = lo < np.searchsorted(seg_g, np.arange(n_groups), side="right")
    ks = np.zeros(n_groups)
    if len(big):
        ks = np.where(has, np.maximum.reduceat(big, np.minimum(lo, len(big) - 1)), 0.0)
    t = np.clip(np.searchsorted(c, level * rg, side="right"), seg_s, seg_e)
    e1 = np.minimum(seg_e, u - 1)
    t1 = np.minimum(t, e1)
    s1 = np.minimum(seg_s, e1)
    pos = level * (p1[t1] - p1[s1]) - (p2[t1] - p2[s1]) / rg
    neg = (p2[e1] - p2[t1]) / rg - level * (p1[e1] - p1[t1])
    w1 = np.bincount(seg_g, weights=np.nan_to_num(pos + neg), minlength=n_groups)
    return ks, w1, ok


def hist_gaps(group: np.ndarray, total: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """KS and W1 from histograms, each with its error bound.

    Parameters
    ----------
    group : ndarray of shape (..., P, B)
        Weight per bin of each group.
    total : ndarray of shape (..., B)
        Weight per bin of the whole population.
    edges : ndarray of shape (B + 1,)

    Returns
    -------
    dict
        ``ks``, ``ks_bound``, ``w1``, ``w1_bound``, each of shape (..., P).
    """
    rest = total[..., None, :] - group
    rest = np.maximum(rest, 0.0)
    wg = group.sum(axis=-1, keepdims=True)
    wr = rest.sum(axis=-1, keepdims=True)
    ok = (wg[..., 0] > 0) & (wr[..., 0] > 0)
    pg, pr = _safe_div(group, wg), _safe_div(rest, wr)
    cg, cr = np.cumsum(pg, axis=-1), np.cumsum(pr, axis=-1)
    d_end = cg - cr  # gap at the right edge of each bin
    d_start = d_end - pg + pr  # at the left edge
    low = np.max(np.abs(d_end), axis=-1)
    high = np.maximum(np.max(np.abs(d_start + pg), axis=-1), np.max(np.abs(d_start - pr), axis=-1))
    high = np.maximum(high, low)
    mids = 0.5 * (edges[1:] + edges[:-1])
    w1 = np.sum(np.abs(d_end[..., :-1]) * np.diff(mids), axis=-1)
    width = float(np.max(np.diff(edges)))
    nan = np.nan
    return {
        "ks": np.where(ok, 0.5 * (low + high), nan),
        "ks_bound": np.where(ok, 0.5 * (high - low), nan),
        "w1": np.where(ok, w1, nan),
        "w1_bound": np.where(ok, width, nan),
    }


def gap_permutation_pvalues(
    group: np.ndarray, group_counts: np.ndarray, total: np.ndarray, total_counts: np.ndarray,
    edges: np.ndarray, n_perm: int, rng: np.random.Generator,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Permutation p-values of the histogram KS and W1 of each group against the rest.

    Parameters
    ----------
    group, group_counts : ndarray of shape (P, B)
        Weight and rows per bin of each group (with weights, both the observed and the permuted
        statistics weigh each row by its bin's mean weight).
    total, total_counts : ndarray of shape (B,)
        Weight and rows per bin of everyone.

    Returns
    -------
    dict
        ``ks`` and ``w1``: p-values of shape (P,), NaN where the statistic is undefined.
    """
    mean_w = np.where(total_counts > 0, _safe_div(total, total_counts), 0.0)
    obs = hist_gaps(group_counts * mean_w, total_counts * mean_w, edges)
    pooled = np.rint(total_counts).astype(np.int64)
    out = {"ks": np.full(len(group), np.nan), "w1": np.full(len(group), np.nan)}
    for g in range(len(group)):
        n_g = int(round(float(group_counts[g].sum())))
        if n_g == 0 or n_g == int(pooled.sum()):
            continue
        draw = rng.multivariate_hypergeometric(pooled, n_g, size=n_perm).astype(np.float64)
        null = hist_gaps((draw * mean_w)[:, None, :], total[None, :], edges)
        for k in ("ks", "w1"):
            p = permutation_pvalue(float(obs[k][g]), null[k][:, 0])
            out[k][g] = np.nan if p is None else p
    return out
