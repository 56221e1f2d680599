"""The statistics of the drift section: bins, the population stability index, two-sample tests.

Everything here works on one column at a time (numpy arrays), without the audit context, so it
can be checked against hand-computed and reference values.

Population stability index
--------------------------
For bins ``i`` with training (expected) proportions ``e_i`` and evaluation (actual) proportions
``a_i``::

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

Bins: for a numeric column, the deciles of the training data (``n_bins - 1`` interior edges at
the training quantiles ``1/n_bins, ..., (n_bins - 1)/n_bins``, numpy's default linear
interpolation, repeated edges merged, so a column with many equal values gets fewer bins); a
value ``x`` falls in bin ``(e_{j-1}, e_j]`` (right-closed; the outer bins are open). For a
categorical column, each category is a bin (the categories of both samples; beyond
:data:`MAX_CATEGORIES`, the rarest are pooled into one bin). Missing values (NaN, None, NaT) are
a bin of their own in both kinds. A bin empty on one side gets the proportion
:data:`PSI_EPS` (``1e-4``) instead of 0, so the logarithm is finite; the other proportions are
left as they are (not renormalised). The usual reading: below 0.1 no material shift, 0.1 to
0.25 a moderate shift, above 0.25 a large one.

Under no shift, PSI is biased upwards on few rows: it is about a symmetric chi-squared
divergence, whose expectation is close to ``(k - 1) * (1/n_train + 1/n_eval)`` for ``k``
non-empty bins (:func:`psi_by_chance`): 0.19 for ten bins and 50 evaluation rows.

Tests of "same distribution"
----------------------------
* Numeric columns: the two-sample Kolmogorov-Smirnov test of the present (non-missing) values,
  ``scipy.stats.ks_2samp`` (two-sided, ``method="auto"``: exact for small samples; conservative
  for columns with ties). When either side has missing values, the share of missing values is
  also compared (Fisher exact test, :func:`auditkit.metrics.evidence.fisher_exact`) and the
  column's p-value is the Bonferroni combination ``min(1, 2 * min(p_ks, p_missing))``, a valid
  test of "same distribution, missing values included" (test name
  ``"kolmogorov_smirnov_and_missing_share"``).
* Categorical columns (missing values a category of their own): Pearson's chi-squared test of
  homogeneity of the 2 x k table of counts, without continuity correction (equal to
  ``scipy.stats.chi2_contingency(table, correction=False)``). Categories whose smallest
  expected count is below 5 are pooled into one cell first (the pooling reads only the
  combined counts, which the test conditions on, so it keeps the test's level); a pooled cell
  still below 5 joins the smallest other category. With fewer than two cells left there is no
  test (p-value None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "MAX_CATEGORIES",
    "MISSING_LABEL",
    "MIN_EXPECTED",
    "PSI_EPS",
    "PSI_LARGE",
    "PSI_MODERATE",
    "Bins",
    "ColumnTest",
    "category_bins",
    "chi2_test",
    "column_test",
    "ks_test",
    "numeric_bins",
    "population_stability_index",
    "psi_by_chance",
    "psi_from_counts",
    "shift_word",
]

#: The proportion given to a bin empty on one side (so the PSI's logarithm is finite).
PSI_EPS = 1e-4
#: PSI below ``PSI_MODERATE`` is no material shift; above ``PSI_LARGE`` a large one.
PSI_MODERATE, PSI_LARGE = 0.1, 0.25
#: Categories kept as bins of their own; the rarest beyond are pooled.
MAX_CATEGORIES = 100
#: The smallest expected count of a cell of the chi-squared test (rarer categories are pooled).
MIN_EXPECTED = 5.0
#: The label of the missing-values bin.
MISSING_LABEL = "(missing)"
_OTHER_LABEL = "(other categories)"

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Bins:
    """The PSI's bins of one column: a label and the count of each sample per bin.

    Attributes
    ----------
    labels : tuple of str
        One label per bin (``"(0.5, 1.2]"``, a category, ``"(missing)"``).
    train, eval : ndarray of int64
        Rows of the training and of the evaluation data in each bin.
    """

    labels: tuple[str, ...]
    train: np.ndarray
    eval: np.ndarray


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def numeric_bins(train: np.ndarray, eval: np.ndarray, n_bins: int = 10) -> Bins:
    """Bin two numeric samples at the quantiles of ``train`` (missing values: their own bin).

    Parameters
    ----------
    train, eval : array-like of float of shape (n,)
        The column in the training and in the evaluation data; NaN is missing.
    n_bins : int, default=10
        Quantile bins of the training data (deciles for 10).

    Returns
    -------
    Bins
    """
    tr = np.asarray(train, dtype=np.float64)
    ev = np.asarray(eval, dtype=np.float64)
    miss_tr, miss_ev = np.isnan(tr), np.isnan(ev)
    tr_p, ev_p = tr[~miss_tr], ev[~miss_ev]
    finite = tr_p[np.isfinite(tr_p)]
    if finite.size:
        q = np.quantile(finite, np.arange(1, n_bins) / n_bins)
        edges = np.unique(q)
    else:
        edges = np.empty(0)
    k = edges.size + 1
    c_tr = np.bincount(np.searchsorted(edges, tr_p, side="left"), minlength=k)
    c_ev = np.bincount(np.searchsorted(edges, ev_p, side="left"), minlength=k)
    if edges.size == 0:
        labels = ["all values"]
    else:
        labels = [f"<= {_fmt(edges[0])}"]
        labels += [f"({_fmt(a)}, {_fmt(b)}]" for a, b in zip(edges[:-1], edges[1:])]
        labels.append(f"> {_fmt(edges[-1])}")
    if miss_tr.any() or miss_ev.any():
        labels.append(MISSING_LABEL)
        c_tr = np.append(c_tr, miss_tr.sum())
        c_ev = np.append(c_ev, miss_ev.sum())
    return Bins(tuple(labels), c_tr.astype(np.int64), c_ev.astype(np.int64))


def _is_missing(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def category_bins(
    train: Sequence[Any] | np.ndarray, eval: Sequence[Any] | np.ndarray,
    max_categories: int = MAX_CATEGORIES,
) -> Bins:  # fmt: skip
    """Count two categorical samples by category (missing values: their own bin).

    Categories are compared as strings. Bins are ordered by the training count (largest
    first), then categories seen only in the evaluation data, each by name within equal counts;
    beyond ``max_categories`` the rarest (by combined count) are pooled into one bin.

    Parameters
    ----------
    train, eval : array-like of shape (n,)
        The column in the training and in the evaluation data.
    max_categories : int, default=100
        Categories kept as bins of their own.

    Returns
    -------
    Bins
    """
    tr = np.asarray(train, dtype=object)
    ev = np.asarray(eval, dtype=object)
    miss_tr, miss_ev = _is_missing(tr), _is_missing(ev)
    s_tr = np.asarray([str(v) for v in tr[~miss_tr]], dtype=object)
    s_ev = np.asarray([str(v) for v in ev[~miss_ev]], dtype=object)
    cats, inv = np.unique(np.concatenate([s_tr, s_ev]).astype(str), return_inverse=True)
    c_tr = np.bincount(inv[: s_tr.size], minlength=cats.size)
    c_ev = np.bincount(inv[s_tr.size :], minlength=cats.size)
    order = sorted(range(cats.size), key=lambda i: (-c_tr[i], -c_ev[i], str(cats[i])))
    labels = [str(cats[i]) for i in order]
    c_tr, c_ev = c_tr[order], c_ev[order]
    if len(labels) > max_categories:
        keep = np.sort(np.argsort(-(c_tr + c_ev), kind="stable")[: max_categories - 1])
        rest = np.setdiff1d(np.arange(len(labels)), keep)
        labels = [labels[i] for i in keep] + [_OTHER_LABEL]
        c_tr = np.append(c_tr[keep], c_tr[rest].sum())
        c_ev = np.append(c_ev[keep], c_ev[rest].sum())
    if miss_tr.any() or miss_ev.any():
        labels.append(MISSING_LABEL)
        c_tr = np.append(c_tr, miss_tr.sum())
        c_ev = np.append(c_ev, miss_ev.sum())
    return Bins(tuple(labels), np.asarray(c_tr, np.int64), np.asarray(c_ev, np.int64))


def psi_from_counts(
    expected: np.ndarray, actual: np.ndarray, eps: float = PSI_EPS
) -> tuple[float, np.ndarray]:
    """Return the PSI of two count vectors over the same bins, and each bin's contribution.

    Parameters
    ----------
    expected, actual : array-like of int of shape (k,)
        Training (expected) and evaluation (actual) counts per bin.
    eps : float, default=1e-4
        The proportion of a bin empty on one side.

    Returns
    -------
    psi : float
        NaN when either sample is empty.
    contributions : ndarray of shape (k,)
        ``(a_i - e_i) * ln(a_i / e_i)`` per bin (0 for a bin empty on both sides).
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.sum() <= 0 or a.sum() <= 0:
        return float("nan"), np.full(e.shape, np.nan)
    pe = e / e.sum()
    pa = a / a.sum()
    pe = np.where(pe == 0, eps, pe)
    pa = np.where(pa == 0, eps, pa)
    contrib = (pa - pe) * np.log(pa / pe)
    contrib[(e == 0) & (a == 0)] = 0.0
    return float(contrib.sum()), contrib


def population_stability_index(
    expected: Any, actual: Any, *, n_bins: int = 10, kind: Kind | None = None,
    eps: float = PSI_EPS,
) -> float:  # fmt: skip
    """Return the population stability index of ``actual`` against ``expected``.

    Parameters
    ----------
    expected : array-like of shape (n_train,)
        The reference sample (the training data's column).
    actual : array-like of shape (n_eval,)
        The sample compared with it (the evaluation data's column).
    n_bins : int, default=10
        Quantile bins of ``expected`` for a numeric column (deciles).
    kind : {"numeric", "categorical"}, default=None
        How to bin; None: numeric when both samples are numbers, else categorical.
    eps : float, default=1e-4
        The proportion given to a bin empty on one side.

    Returns
    -------
    float
        ``sum_i (a_i - e_i) ln(a_i / e_i)`` over the bins (see the module docstring).

    Examples
    --------
    >>> population_stability_index([1, 2, 3, 4], [1, 2, 3, 4], n_bins=2)
    0.0
    """
    if kind is None:
        kind = (
            "numeric"
            if np.asarray(expected).dtype.kind in "iuf" and np.asarray(actual).dtype.kind in "iuf"
            else "categorical"
        )
    b = (
        numeric_bins(np.asarray(expected, float), np.asarray(actual, float), n_bins)
        if kind == "numeric"
        else category_bins(expected, actual)
    )
    return psi_from_counts(b.train, b.eval, eps)[0]


def psi_by_chance(bins: Bins) -> float:
    """Return the PSI expected under no shift, ``(k - 1) * (1/n_train + 1/n_eval)``.

    ``k`` counts the bins the training data fills (the rows the two samples hold set the noise).
    NaN when either sample is empty.
    """
    n_tr, n_ev = int(bins.train.sum()), int(bins.eval.sum())
    if n_tr == 0 or n_ev == 0:
        return float("nan")
    k = max(int(np.count_nonzero(bins.train)), 1)
    return (k - 1) * (1.0 / n_tr + 1.0 / n_ev)


def shift_word(psi: float | None) -> str:
    """``"none"`` below 0.1, ``"moderate"`` up to 0.25, ``"large"`` above; ``"unknown"``."""
    if psi is None or not np.isfinite(psi):
        return "unknown"
    return "large" if psi > PSI_LARGE else "moderate" if psi >= PSI_MODERATE else "none"


# ----------------------------------------------------------------------------------- tests
@dataclass(frozen=True)
class ColumnTest:
    """The two-sample test of one column.

    Attributes
    ----------
    test : str
        ``"kolmogorov_smirnov"``, ``"kolmogorov_smirnov_and_missing_share"`` or
        ``"chi_squared"``.
    statistic : float or None
        The KS statistic D (of the present values) or the chi-squared statistic.
    p_value : float or None
        None when the column cannot be tested (``reason`` says why).
    dof : int or None
        Degrees of freedom of the chi-squared test.
    reason : str or None
    """

    test: str
    statistic: float | None
    p_value: float | None
    dof: int | None = None
    reason: str | None = None

    @property
    def statistic_name(self) -> str:
        """The statistic's record name: ``ks_statistic`` or ``chi2_statistic``."""
        return "chi2_statistic" if self.test == "chi_squared" else "ks_statistic"


def ks_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Return the two-sample Kolmogorov-Smirnov statistic and two-sided p-value (scipy's)."""
    from scipy.stats import ks_2samp

    r = ks_2samp(np.asarray(a, np.float64), np.asarray(b, np.float64), method="auto")
    return float(r.statistic), float(r.pvalue)


def _pool_cells(table: np.ndarray) -> np.ndarray:
    """Pool the categories (columns) whose smallest expected count is below MIN_EXPECTED."""
    col = table.sum(axis=0)
    table = table[:, col > 0]
    col = table.sum(axis=0)
    n = table.sum()
    if n == 0:
        return table
    least = table.sum(axis=1).min() * col / n
    rare = least < MIN_EXPECTED
    if not rare.any():
        return table
    out = table[:, ~rare]
    pooled = table[:, rare].sum(axis=1, keepdims=True)
    if out.shape[1] >= 2 and pooled.sum(axis=0)[0] * table.sum(axis=1).min() / n < MIN_EXPECTED:
        j = int(np.argmin(out.sum(axis=0)))
        out = out.copy()
        out[:, j : j + 1] += pooled
        return out
    return np.concatenate([out, pooled], axis=1)


def chi2_test(train_counts: np.ndarray, eval_counts: np.ndarray) -> ColumnTest:
    """Return Pearson's chi-squared test of homogeneity of two count vectors (rare cells pooled).

    Equal to ``scipy.stats.chi2_contingency(table, correction=False)`` on the pooled table.
    """
    from scipy.stats import chi2

    table = np.vstack([train_counts, eval_counts]).astype(np.float64)
    if table.sum(axis=1).min() == 0:
        return ColumnTest("chi_squared", None, None, reason="one of the samples has no rows")
    t = _pool_cells(table)
    if t.shape[1] < 2:
        return ColumnTest(
            "chi_squared", 0.0, None, 0,
            reason="a single category (after pooling rare ones): nothing to test",
        )  # fmt: skip
    expected = t.sum(axis=1, keepdims=True) * t.sum(axis=0, keepdims=True) / t.sum()
    stat = float(((t - expected) ** 2 / expected).sum())
    dof = t.shape[1] - 1
    return ColumnTest("chi_squared", stat, float(chi2.sf(stat, dof)), dof)


def column_test(kind: Kind, train: np.ndarray, eval: np.ndarray, bins: Bins) -> ColumnTest:
    """Return the column's two-sample test (see the module docstring).

    Parameters
    ----------
    kind : {"numeric", "categorical"}
    train, eval : ndarray
        The column's values (float64 with NaN for missing, for a numeric column).
    bins : Bins
        The column's bins (the categorical test reads its counts).
    """
    if kind == "categorical":
        return chi2_test(bins.train, bins.eval)
    from ..metrics.evidence import fisher_exact

    tr, ev = np.asarray(train, np.float64), np.asarray(eval, np.float64)
    m_tr, m_ev = np.isnan(tr), np.isnan(ev)
    tr_p, ev_p = tr[~m_tr], ev[~m_ev]
    if tr_p.size == 0 or ev_p.size == 0:
        return ColumnTest(
            "kolmogorov_smirnov", None, None,
            reason="no present (non-missing) value on one side",
        )  # fmt: skip
    d, p = ks_test(tr_p, ev_p)
    if not (m_tr.any() or m_ev.any()):
        return ColumnTest("kolmogorov_smirnov", d, p)
    p_miss = float(fisher_exact(int(m_tr.sum()), tr.size, int(m_ev.sum()), ev.size))
    return ColumnTest("kolmogorov_smirnov_and_missing_share", d, min(1.0, 2.0 * min(p, p_miss)))
