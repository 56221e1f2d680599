"""Confidence intervals and small-group rules shared by the performance and fairness sections.

Bootstrap, two flavours, both vectorised:

* **cell counts** (:func:`multinomial_counts`): when a statistic depends on the data only through
  the counts of a few cells (a confusion table per group), resampling ``n`` rows with
  replacement is the same in distribution as drawing the cell counts from
  ``Multinomial(n, counts / n)``. The cost is independent of ``n``.
* **row weights** (:func:`row_weight_chunks`): for statistics that need every row (ROC AUC, log
  loss), each resample is a vector of how many times each row was drawn, produced in chunks so
  memory stays bounded.

Intervals are percentile intervals (:func:`percentile_interval`); a resample where the statistic
is undefined (NaN, for example an empty group) is left out, and the interval is None when fewer
than half of the resamples define it. :func:`wilson_interval` is the closed form for a rate when
no resampling is asked for (``n_boot=0``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = [
    "flag_small",
    "multinomial_counts",
    "percentile_interval",
    "row_weight_chunks",
    "weighted_cell_draws",
    "wilson_interval",
]

#: Elements per chunk of row weights (chunk size x rows); about 32 MB of int64.
ROW_CHUNK_ELEMENTS = 4_000_000


def percentile_interval(
    boot: np.ndarray, level: float, *, min_valid: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring NaN resamples.

    Parameters
    ----------
    boot : ndarray of shape (n_boot, ...)
        Bootstrap replicates of one or more statistics.
    level : float
        Confidence level in (0, 1).
    min_valid : float, default=0.5
        Smallest share of defined (non-NaN) replicates for an interval to be given.

    Returns
    -------
    low, high : ndarray of shape boot.shape[1:]
        Bounds (numpy's "linear" quantile method on the defined replicates); NaN where
        fewer than ``min_valid * n_boot`` replicates are defined.
    """
    b = np.asarray(boot, dtype=np.float64)
    n_boot = b.shape[0]
    s = np.sort(b, axis=0)  # NaN sort to the end
    m = (~np.isnan(b)).sum(axis=0)
    alpha = (1.0 - level) / 2.0
    out = []
    for q in (alpha, 1.0 - alpha):
        h = (np.maximum(m, 1) - 1) * q
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(m - 1, 0))
        frac = h - lo
        v_lo = np.take_along_axis(s, lo[None, ...], axis=0)[0]
        v_hi = np.take_along_axis(s, hi[None, ...], axis=0)[0]
        val = v_lo + (v_hi - v_lo) * frac
        val = np.where(np.isnan(val), v_lo, val)  # inf - inf or frac 0 with NaN neighbour
        out.append(np.where(m >= max(1.0, min_valid * n_boot), val, np.nan))
    return out[0], out[1]


def wilson_interval(
    k: np.ndarray | int, n: np.ndarray | int, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``k`` successes in ``n`` trials (NaN where ``n`` is 0).

    Parameters
    ----------
    k, n : array-like of int
        Successes and trials (broadcast together).
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    low, high : ndarray
    """
    from scipy.stats import norm

    k_ = np.asarray(k, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    z = float(norm.ppf(0.5 + level / 2.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k_ / n_
        denom = 1.0 + z * z / n_
        centre = (p + z * z / (2.0 * n_)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n_ + z * z / (4.0 * n_ * n_)) / denom
    low = np.where(n_ > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n_ > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def multinomial_counts(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Resample a table of cell counts as if its rows were resampled with replacement.

    Parameters
    ----------
    counts : ndarray of int, any shape
        Cell counts summing to ``n``.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64 of shape (n_boot, *counts.shape)
        Each resample is ``Multinomial(n, counts / n)`` over the cells: the distribution of
        the cell counts of ``n`` rows drawn with replacement.
    """
    flat = np.asarray(counts, dtype=np.int64).ravel()
    n = int(flat.sum())
    out = np.zeros((n_boot, flat.size), dtype=np.int64)
    nz = np.flatnonzero(flat)
    if n > 0 and n_boot > 0:
        p = flat[nz] / n
        out[:, nz] = rng.multinomial(n, p, size=n_boot)
    return out.reshape((n_boot, *np.shape(counts)))


def weighted_cell_draws(
    draws: np.ndarray, counts: np.ndarray, weight_sum: np.ndarray,
    weight_sq_sum: np.ndarray | None, rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Resampled weight sums of cells, given resampled row counts (the fairness engine's law).

    Drawing ``N`` rows of a cell with replacement draws ``N`` of its weights, whose sum has mean
    ``N * m`` and variance ``N * v`` (``m``, ``v`` the mean and variance of the cell's weights,
    from ``weight_sum / count`` and ``weight_sq_sum / count``): each resampled weight sum is
    ``N * m + sqrt(N * v) * Z`` (``Z`` standard normal), clipped at 0, the central-limit
    approximation of the row bootstrap (exact when the weights of a cell are equal). Without
    ``weight_sq_sum`` the within-cell variance is taken as 0; when it is 0 in every cell, no
    normal draw is made, so unit weights give the unweighted resamples.

    Parameters
    ----------
    draws : ndarray of int of shape (n_boot, *counts.shape)
        Resampled row counts (:func:`multinomial_counts`).
    counts, weight_sum : ndarray
        Rows and weight sums per cell.
    weight_sq_sum : ndarray or None
        Sums of the squared weights per cell.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float64 of the shape of ``draws``
    """
    c = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(c > 0, np.asarray(weight_sum, dtype=np.float64) / c, 0.0)
        out = draws * m
        if weight_sq_sum is not None:
            v = np.where(c > 0, np.asarray(weight_sq_sum, dtype=np.float64) / c - m * m, 0.0)
            v = np.maximum(v, 0.0)
            if np.any(v > 0):  # equal weights in every cell draw nothing (unit weights:
                # the unweighted resamples, and the same random stream after them)
                out = out + np.sqrt(draws * v) * rng.standard_normal(np.shape(draws))
    return np.maximum(out, 0.0)


def row_weight_chunks(
    n: int, n_boot: int, rng: np.random.Generator, *, max_elements: int = ROW_CHUNK_ELEMENTS
) -> Iterator[np.ndarray]:
    """Yield bootstrap row weights in chunks of shape (chunk, n).

    ``w[b, i]`` is how many times row ``i`` is drawn in resample ``b`` (each row of ``w`` sums
    to ``n``). The chunk size depends only on ``n`` and ``max_elements``, so the stream of
    random numbers, and hence the result, does not depend on the machine.
    """
    chunk = max(1, min(n_boot, max_elements // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        idx += (np.arange(b, dtype=np.int64) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
        done += b


def flag_small(
    n: np.ndarray, min_group_size: int, *, denominator: np.ndarray | None = None,
    what: str = "rows",
) -> list[str | None]:  # fmt: skip
    """Return, for each group, why it is too small to judge (None when it is not).

    Parameters
    ----------
    n : array-like of int
        Rows per group.
    min_group_size : int
        Smallest group size considered large enough.
    denominator : array-like of int, default=None
        The metric's denominator per group (for example the positives for a true positive
        rate); a zero denominator makes the rate undefined (0/0).
    what : str, default="rows"
        Plain words for the denominator ("positive labels").

    Returns
    -------
    list of str or None
    """
    n_ = np.asarray(n).ravel()
    den = None if denominator is None else np.asarray(denominator).ravel()
    reasons: list[str | None] = []
    for i, size in enumerate(n_.tolist()):
        if size == 0:
            reasons.append("no rows in this group")
        elif den is not None and den[i] == 0:
            reasons.append(
                f"no {what} in this group, so the rate is 0/0 (reported as 0, as Fairlearn "
                "and scikit-learn do)"
            )
        elif size < min_group_size:
            reasons.append(f"{size} rows, fewer than min_group_size={min_group_size}")
        else:
            reasons.append(None)
    return reasons
