"""Bootstrap replicates of the regression engine: blocks of sums, cells of histograms.

See :mod:`auditkit.metrics.regression` for why blocks (the sums) and why cells (the
histograms, whose cell counts are exactly what a row bootstrap of the binned values resamples).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from ..exceptions import ParameterError
from .regression_eval import disparities, hist_median
from .regression_gaps import hist_gaps
from .regression_table import RegressionTable
from .stats import multinomial_counts, weighted_cell_draws
from .table import Key, _Grouping

#: Replicates x cells x sums per chunk (bounds memory).
_CHUNK_ELEMENTS = 4_000_000


def block_poisson_sums(
    sums: np.ndarray, n_boot: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield chunks of replicated finest-group sums, shape (chunk, G, S).

    Each block with rows gets an independent ``Poisson(1)`` multiplicity; a replicate's group
    sums are the multiplicity-weighted sums of its blocks.
    """
    if n_boot < 1:
        raise ParameterError(f"n_boot must be >= 1; got {n_boot}.")
    g, m, k = sums.shape
    flat = sums.reshape(g * m, k)
    nz = np.flatnonzero(flat[:, 0] > 0)
    cells = flat[nz]
    gid = nz // m
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    present = gid[starts]
    chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // max(len(nz) * k, 1)))
    done = 0
    while done < n_boot:
        nb = min(chunk, n_boot - done)
        mult = rng.poisson(1.0, size=(nb, len(nz))).astype(np.float64)
        out = np.zeros((nb, g, k))
        out[:, present, :] = np.add.reduceat(mult[..., None] * cells[None], starts, axis=1)
        yield out
        done += nb


def _draws(hist: np.ndarray, n_boot: int, rng: np.random.Generator, weighted: bool) -> np.ndarray:
    """Resampled weights per (G, B) cell of one histogram ``hist`` (G, B, 3)."""
    counts = np.rint(hist[..., 0]).astype(np.int64)
    d = multinomial_counts(counts, n_boot, rng).astype(np.float64)
    if weighted:
        d = weighted_cell_draws(d, counts, hist[..., 1], hist[..., 2], rng)
    return d


def hist_replicates(
    tab: RegressionTable, groupings: Mapping[tuple[str, ...], _Grouping],
    refs: Mapping[tuple[str, ...], int], n_boot: int, rng: np.random.Generator,
) -> dict[Key, np.ndarray]:  # fmt: skip
    """Replicates of the histogram median absolute error and of the distribution gaps.

    The cell counts of each histogram are drawn from ``Multinomial(n, counts / n)`` (the row
    bootstrap of the binned values; weights by :func:`weighted_cell_draws`). From rows, the
    replicates are those of the binned statistics, centred on the binned values.
    """
    assert tab.hist is not None and tab.edges is not None
    g, b = tab.hist.shape[0], tab.hist.shape[2]
    widest = max([g, *(grouping.n_groups for grouping in groupings.values())])
    chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // (2 * widest * b)))
    parts: list[dict[Key, np.ndarray]] = []
    done = 0
    while done < n_boot:  # in chunks of replicates: (replicates, groups, bins) arrays are large
        nb = min(chunk, n_boot - done)
        parts.append(_hist_chunk(tab, groupings, refs, nb, rng))
        done += nb
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}


def _hist_chunk(
    tab: RegressionTable, groupings: Mapping[tuple[str, ...], _Grouping],
    refs: Mapping[tuple[str, ...], int], n_boot: int, rng: np.random.Generator,
) -> dict[Key, np.ndarray]:  # fmt: skip
    """:func:`hist_replicates` of ``n_boot`` replicates at once."""
    assert tab.hist is not None and tab.edges is not None
    pred = _draws(tab.hist[:, 0], n_boot, rng, tab.weighted)
    absr = _draws(tab.hist[:, 1], n_boot, rng, tab.weighted)
    out: dict[Key, np.ndarray] = {}
    o_med, _ = hist_median(absr.sum(axis=1), tab.edges[1])
    out[Key("median_absolute_error", None, None, "overall")] = o_med
    total = pred.sum(axis=1)
    for feats, grouping in groupings.items():
        med, _ = hist_median(grouping.aggregate(absr), tab.edges[1])
        out[Key("median_absolute_error", feats, None, "group")] = med
        for name, x in disparities(med, o_med, refs[feats]).items():
            kind, method = name.split("/")
            out[Key(f"median_absolute_error_{kind}", feats, None, method)] = x
        gaps = hist_gaps(grouping.aggregate(pred), total, tab.edges[0])
        for name, k in (("prediction_ks_gap", "ks"), ("prediction_wasserstein_gap", "w1")):
            out[Key(name, feats, None, "group")] = gaps[k]
            out[Key(name, feats, None, "worst_case")] = np.fmax.reduce(gaps[k], axis=-1)
    return out
