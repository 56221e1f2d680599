"""Bootstrap intervals by resampling the cell counts of the finest table (see the engine)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..exceptions import ParameterError
from .evaluation import _evaluate, _safe_div
from .table import Key, Undefined, _Grouping, _Table

#: Cells x replicates per bootstrap chunk (bounds memory).
_BOOT_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class Intervals:
    """Bootstrap percentile intervals for every quantity of a :class:`GroupMetrics`.

    Attributes
    ----------
    low, high : dict of Key to ndarray
        Bounds, shaped like the point values (NaN where undefined in most resamples).
    n_boot : int
    level : float
    """

    low: dict[Key, np.ndarray]
    high: dict[Key, np.ndarray]
    n_boot: int
    level: float

    def get(self, key: Key) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(low, high)`` for ``key``."""
        return self.low[key], self.high[key]


def bootstrap_samples(
    tab: _Table,
    groupings: Sequence[_Grouping],
    undefined: Undefined,
    n_boot: int,
    rng: np.random.Generator,
) -> dict[Key, np.ndarray]:
    """Bootstrap replicates of every quantity of ``tab``, shape (n_boot, ...) per key.

    The cell counts of the finest table are drawn from ``Multinomial(n, counts / n)``; weight
    and score sums given the counts from their within-cell moments (see the engine).
    """
    if n_boot < 1:
        raise ParameterError(f"n_boot must be >= 1; got {n_boot}.")
    counts = tab.counts
    shape = counts.shape
    flat = counts.ravel()
    n = int(flat.sum())
    nz = np.flatnonzero(flat)
    rows = flat[nz]
    p = rows / n
    mean = var = None
    w_mean = w_var = w_sq_mean = None
    if tab.weight_sum is not None:
        ws = tab.weight_sum.ravel()[nz]
        w_mean = ws / rows
        w_sq_mean = w_mean * w_mean
        if tab.weight_sq_sum is not None:
            w_sq_mean = tab.weight_sq_sum.ravel()[nz] / rows
            w_var = np.maximum(w_sq_mean - w_mean * w_mean, 0.0)
    if tab.score_sum is not None:
        s = tab.score_sum.ravel()[nz]
        # per row (unweighted) or per unit of weight (weighted)
        den = rows if tab.weight_sum is None else tab.weight_sum.ravel()[nz]
        mean = _safe_div(s, den)
        mean = np.where(den > 0, mean, 0.0)
        if tab.score_sq_sum is not None:
            var = np.maximum(
                np.where(den > 0, _safe_div(tab.score_sq_sum.ravel()[nz], den), 0.0) - mean * mean,
                0.0,
            )
    chunk = max(1, min(n_boot, _BOOT_CHUNK_ELEMENTS // max(flat.size, 1)))
    parts: dict[Key, list[np.ndarray]] = {}
    done = 0
    while done < n_boot:
        nb = min(chunk, n_boot - done)
        draw = rng.multinomial(n, p, size=nb)
        cb = np.zeros((nb, flat.size), dtype=np.int64)
        cb[:, nz] = draw
        wb = None
        if w_mean is not None:
            wv = draw * w_mean
            if w_var is not None:
                wv = wv + np.sqrt(draw * w_var) * rng.standard_normal(draw.shape)
            wv = np.maximum(wv, 0.0)
            wb = np.zeros((nb, flat.size))
            wb[:, nz] = wv
            wb = wb.reshape((nb, *shape))
        sb = None
        if mean is not None:
            if w_mean is None:
                sv = draw * mean
                if var is not None:
                    sv = sv + np.sqrt(draw * var) * rng.standard_normal(draw.shape)
            else:
                assert w_sq_mean is not None
                sv = wv * mean
                if var is not None:
                    noise = np.sqrt(draw * w_sq_mean * var) * rng.standard_normal(draw.shape)
                    sv = np.clip(sv + noise, 0.0, wv)
            sb = np.zeros((nb, flat.size))
            sb[:, nz] = sv
            sb = sb.reshape((nb, *shape))
        vals, _ = _evaluate(
            tab, list(groupings), cb.reshape((nb, *shape)), sb, undefined, weights=wb
        )
        for key, v in vals.items():
            parts.setdefault(key, []).append(v)
        done += nb
    return {key: np.concatenate(v, axis=0) for key, v in parts.items()}
