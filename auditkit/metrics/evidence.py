"""Evidence for comparisons: exact and permutation tests, multiplicity control, evidence words.

Shared by the sections that compare groups (fairness first; privacy and stability can reuse it).
Everything here is vectorised over comparisons or permutations; nothing loops over rows.

Tests of "no difference"
------------------------
* :func:`fisher_exact`: two-sided Fisher exact test of two proportions ``k1/n1`` and
  ``k2/n2`` (a group against its reference group), vectorised; equal to
  ``scipy.stats.fisher_exact`` (same two-sided rule: tables whose probability is at most the
  observed one, with scipy's ``1 + 1e-14`` tolerance). Exact, so valid for groups of any size.
* :func:`null_successes`: under the null hypothesis that a rate ``k_g / n_g`` is the same in
  every group, the successes ``k_g`` given the totals are multivariate hypergeometric (the
  permutation distribution: shuffling the group labels of the trials).
  :func:`permutation_pvalue` turns draws of any statistic of the group rates (Fairlearn's
  ``between_groups`` max - min, ``to_overall`` largest gap to the overall rate, their ratios,
  equalized odds from draws made within each true-label stratum) into a Monte Carlo p-value
  ``(1 + #{T* at least as extreme as T}) / (B + 1)``, which is valid (never anti-conservative)
  for any number of draws ``B``.

Intervals
---------
:func:`newcombe_interval`: Newcombe's hybrid score interval for a signed difference of two
proportions (from the two Wilson intervals); it covers at close to the nominal rate for any
sample sizes, including a true difference of 0.

Multiplicity
------------
:func:`benjamini_hochberg` (the default of the sections) and :func:`holm` adjust a family of
p-values; each record keeps its raw ``p_value`` and gets the adjusted one as ``p_adjusted``.

Evidence words
--------------
:func:`evidence_word`: ``"strong"`` when the adjusted p-value is below 0.001, ``"moderate"``
below 0.01, ``"weak"`` below ``alpha = 1 - ci_level`` (0.05 at 95%), else ``"none"`` (the
cut points never exceed ``alpha``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Literal

import numpy as np

from .._core.catalog import EVIDENCE_CUTS
from .._core.catalog import evidence_word as _catalog_evidence_word

__all__ = [
    "EVIDENCE_CUTS",
    "Family",
    "benjamini_hochberg",
    "evidence_word",
    "fisher_exact",
    "holm",
    "newcombe_interval",
    "null_successes",
    "permutation_pvalue",
    "rates_from_successes",
]

#: Relative tolerance when comparing a permuted statistic with the observed one (ties count).
_TIE = 1e-9


# ------------------------------------------------------------------------------ Fisher exact
def _binary_search(
    f: Callable[[np.ndarray], np.ndarray], d: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Vectorised ``scipy.stats._stats_py._binary_search_for_binom_tst``.

    For each element, the index ``i`` in ``[lo, hi]`` with ``f(i) <= d < f(i + 1)`` of a
    function ascending on the range.
    """
    lo = lo.astype(np.int64).copy()
    hi = hi.astype(np.int64).copy()
    done = np.zeros(lo.shape, dtype=bool)
    out = np.zeros(lo.shape, dtype=np.int64)
    while True:
        act = ~done & (lo < hi)
        if not act.any():
            break
        mid = lo + (hi - lo) // 2
        val = np.full(lo.shape, np.nan)
        val[act] = f(mid)[act]
        less = act & (val < d)
        more = act & (val > d)
        eq = act & ~less & ~more
        lo = np.where(less, mid + 1, lo)
        hi = np.where(more, mid - 1, hi)
        out = np.where(eq, mid, out)
        done |= eq
    rest = ~done
    if rest.any():
        last = f(lo)
        out = np.where(rest, np.where(last <= d, lo, lo - 1), out)
    return out


def fisher_exact(
    k1: np.ndarray | int, n1: np.ndarray | int, k2: np.ndarray | int, n2: np.ndarray | int
) -> np.ndarray:
    """Two-sided Fisher exact p-values of ``k1/n1`` against ``k2/n2``, element-wise.

    The 2x2 table is ``[[k1, n1 - k1], [k2, n2 - k2]]``; the result equals
    ``scipy.stats.fisher_exact(table).pvalue`` (1.0 when a row or column of the table is 0).

    Parameters
    ----------
    k1, n1, k2, n2 : array-like of int
        Successes and trials of the two samples (broadcast together).

    Returns
    -------
    ndarray of float64
    """
    from scipy.stats import hypergeom

    a_, r1_, c_, r2_ = np.broadcast_arrays(
        *(np.asarray(np.rint(x), dtype=np.int64) for x in (k1, n1, k2, n2))
    )
    shape = a_.shape
    a, r1, c, r2 = (x.ravel() for x in (a_, r1_, c_, r2_))
    b = r1 - a
    d = r2 - c
    p = np.ones(a.shape, dtype=np.float64)
    ok = (r1 > 0) & (r2 > 0) & (a + c > 0) & (b + d > 0)
    if not ok.any():
        return p.reshape(shape)
    a, r1, r2, c, b, d = (x[ok] for x in (a, r1, r2, c, b, d))
    total = r1 + r2
    ncol = a + c
    pm = hypergeom.pmf
    # scipy computes int((n + 1) * (n1 + 1) / (n1 + n2 + 2)) in floating point
    mode = np.floor((ncol + 1) * (r1 + 1) / (total + 2)).astype(np.int64)
    pexact = pm(a, total, r1, ncol)
    pmode = pm(mode, total, r1, ncol)
    gamma = 1.0 + 1e-14
    out = np.empty(a.shape, dtype=np.float64)
    at_mode = np.abs(pexact - pmode) / np.maximum(pexact, pmode) <= 1e-14
    out[at_mode] = 1.0
    lower = ~at_mode & (a < mode)
    upper = ~at_mode & ~lower
    if lower.any():
        i = np.flatnonzero(lower)
        plower = hypergeom.cdf(a[i], total[i], r1[i], ncol[i])
        pend = pm(ncol[i], total[i], r1[i], ncol[i])
        early = pend > pexact[i] * gamma
        guess = _binary_search(
            lambda x: -pm(x, total[i], r1[i], ncol[i]), -pexact[i] * gamma, mode[i], ncol[i]
        )
        val = plower + hypergeom.sf(guess, total[i], r1[i], ncol[i])
        out[i] = np.where(early, plower, val)
    if upper.any():
        i = np.flatnonzero(upper)
        pupper = hypergeom.sf(a[i] - 1, total[i], r1[i], ncol[i])
        p0 = pm(np.zeros_like(a[i]), total[i], r1[i], ncol[i])
        early = p0 > pexact[i] * gamma
        guess = _binary_search(
            lambda x: pm(x, total[i], r1[i], ncol[i]),
            pexact[i] * gamma,
            np.zeros_like(a[i]),
            mode[i],
        )
        val = pupper + hypergeom.cdf(guess, total[i], r1[i], ncol[i])
        out[i] = np.where(early, pupper, val)
    p[ok] = np.minimum(out, 1.0)
    return p.reshape(shape)


# ----------------------------------------------------------------------------- intervals
def newcombe_interval(
    k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for ``k1/n1 - k2/n2`` (his method 10), element-wise.

    Built from the two Wilson intervals; covers the signed difference at close to the nominal
    rate for any sample sizes, including a true difference of 0 (Newcombe 1998, Statistics
    in Medicine 17:873). NaN where either sample is empty.
    """
    from .stats import wilson_interval

    k1_, n1_, k2_, n2_ = (np.asarray(x, dtype=np.float64) for x in (k1, n1, k2, n2))
    l1, u1 = wilson_interval(k1_, n1_, level)
    l2, u2 = wilson_interval(k2_, n2_, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = np.where(n1_ > 0, k1_ / np.where(n1_ > 0, n1_, 1.0), np.nan)
        p2 = np.where(n2_ > 0, k2_ / np.where(n2_ > 0, n2_, 1.0), np.nan)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


# ------------------------------------------------------------------------------ permutation
def null_successes(
    successes: np.ndarray, trials: np.ndarray, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw successes per group under "the rate is the same in every group".

    Given the trials ``n_g`` of each group and the total successes ``K``, shuffling which
    trials are successes makes ``(k_1, ..., k_G)`` multivariate hypergeometric.

    Parameters
    ----------
    successes, trials : ndarray of shape (G,)
        Observed successes and trials per group (counts; rounded to integers).
    n_draws : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64 of shape (n_draws, G)
    """
    n = np.maximum(np.rint(np.asarray(trials, dtype=np.float64)), 0).astype(np.int64)
    k = int(np.clip(np.rint(np.asarray(successes, dtype=np.float64)).sum(), 0, n.sum()))
    out = np.zeros((n_draws, n.size), dtype=np.int64)
    nz = np.flatnonzero(n)
    if nz.size == 0 or n_draws == 0:
        return out
    if nz.size == 1:
        out[:, nz[0]] = k
        return out
    out[:, nz] = rng.multivariate_hypergeometric(n[nz], k, size=n_draws, method="marginals")
    return out


def rates_from_successes(
    successes: np.ndarray, trials: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """Rates ``k / n`` with Fairlearn's conventions: 0 for 0/0, NaN for a group without rows.

    ``successes`` may carry leading dimensions (draws); ``trials`` and ``rows`` are per group.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(n > 0, k / np.where(n > 0, n, 1.0), 0.0)
    return np.where(np.asarray(rows) > 0, r, np.nan)


def permutation_pvalue(
    observed: float, draws: np.ndarray, *, larger_is_extreme: bool = True
) -> float | None:
    """Monte Carlo p-value ``(1 + #{T* as extreme as T}) / (B + 1)``; None when T is undefined.

    A draw whose statistic is undefined (NaN: for example a ratio 0/0 when every rate is 0,
    which is no disparity) counts as not extreme.
    """
    t = float(observed)
    if not np.isfinite(t):
        return None
    d = np.asarray(draws, dtype=np.float64).ravel()
    tol = _TIE * max(1.0, abs(t))
    with np.errstate(invalid="ignore"):
        hits = (d >= t - tol) if larger_is_extreme else (d <= t + tol)
    return float((1 + int(np.sum(hits))) / (d.size + 1))


# ------------------------------------------------------------------------------ multiplicity
def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (controls the family-wise error rate); NaN stays NaN."""
    p_ = np.asarray(p, dtype=np.float64)
    out = np.full(p_.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p_))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p_[ok], kind="stable")]
    adj = np.maximum.accumulate((m - np.arange(m)) * p_[order])
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values; control the false discovery rate).

    Equals ``statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]``; NaN stays NaN.
    """
    p_ = np.asarray(p, dtype=np.float64)
    out = np.full(p_.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p_))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p_[ok], kind="stable")]
    ranked = p_[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.minimum(adj, 1.0)
    return out


Adjustment = Literal["benjamini_hochberg", "holm"]


class Family:
    """A family of hypotheses, each tested once, adjusted together.

    Records that test the same hypothesis (a difference and a ratio of the same pair, a rate
    and its complement) share one key, so the family counts the hypothesis once.
    """

    def __init__(self, method: Adjustment = "benjamini_hochberg") -> None:
        self.method: Adjustment = method
        self._p: dict[Hashable, float] = {}
        self._adj: dict[Hashable, float] | None = None

    def add(self, key: Hashable, p: float | None) -> None:
        """Add the p-value of hypothesis ``key`` (None: not tested; ignored)."""
        if p is None or not np.isfinite(p):
            return
        self._p.setdefault(key, float(p))
        self._adj = None

    def __contains__(self, key: Hashable) -> bool:
        return key in self._p

    def __len__(self) -> int:
        return len(self._p)

    def p(self, key: Hashable) -> float | None:
        """Return the raw p-value of ``key``."""
        return self._p.get(key)

    def adjusted(self, key: Hashable) -> float | None:
        """Return the adjusted p-value of ``key`` within the whole family."""
        if key not in self._p:
            return None
        if self._adj is None:
            keys = list(self._p)
            vals = np.array([self._p[k] for k in keys])
            fn = benjamini_hochberg if self.method == "benjamini_hochberg" else holm
            self._adj = dict(zip(keys, fn(vals).tolist()))
        return self._adj[key]


def evidence_word(p_adjusted: float | None, alpha: float = 0.05) -> str:
    """Return ``"strong"``/``"moderate"``/``"weak"``/``"none"`` for an adjusted p-value.

    The catalog's rule (:func:`auditkit._core.catalog.evidence_word`, cut points 0.001 and
    0.01, each at most ``alpha``, then ``alpha``); None is ``"none"``.
    """
    return _catalog_evidence_word(p_adjusted, 1.0 - alpha) or "none"
