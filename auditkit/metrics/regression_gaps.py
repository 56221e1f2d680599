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


def row_gaps(
    x: np.ndarray, w: np.ndarray, gid: np.ndarray, n_groups: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact KS and W1 between each group's values and the rest's, from rows.

    Returns
    -------
    ks, w1 : ndarray of shape (n_groups,)
        NaN for a group, or a rest, of weight 0.
    """
    if order is None:
        order = np.argsort(x, kind="stable")
    xs, ws, gs = x[order], w[order], gid[order]
    ends = np.flatnonzero(np.r_[xs[1:] != xs[:-1], True])
    xu = xs[ends]
    dx = np.diff(xu)
    cum_all = np.cumsum(ws)[ends]
    total = cum_all[-1]
    ks = np.full(n_groups, np.nan)
    w1 = np.full(n_groups, np.nan)
    for g in range(n_groups):
        cum_g = np.cumsum(np.where(gs == g, ws, 0.0))[ends]
        wg = cum_g[-1]
        if not (wg > 0 and total - wg > 0):
            continue
        diff = cum_g / wg - (cum_all - cum_g) / (total - wg)
        ks[g] = np.max(np.abs(diff))
        w1[g] = float(np.dot(np.abs(diff[:-1]), dx))
    return ks, w1


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
