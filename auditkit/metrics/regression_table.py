"""Rows of a regression to its count table, and a count table to the dense arrays of the engine.

The layout of the two tables (the contract for DuckDB, Polars or Spark) is described in
:mod:`auditkit.metrics.regression`. This module holds the reduction (one ``np.bincount`` pass
per column, no per-row Python) and the checks of a table built elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import DataValidationError, ParameterError
from .reduction import _factorize, _sensitive_columns, _to_array, check_sample_weight
from .table import MAX_PRODUCT_GROUPS

#: The additive columns of the sums table, in the engine's order (axis -1 of the dense sums).
SUM_COLUMNS = (
    "count", "weight_sum", "y_sum", "pred_sum", "residual_sum", "residual_sq_sum",
    "abs_residual_sum", "y_dev_sq_sum",
)  # fmt: skip
#: The additive columns of the histogram table (``residual_sq_sum``, ``SUM(w * (yhat - y)^2)``
#: per bin, is optional and read for ``"target"`` only: the spread of the residuals within
#: a true-value bin, for the intervals of the mean error at equal true values; NaN when absent).
HIST_COLUMNS = ("count", "weight_sum", "weight_sq_sum", "residual_sum", "residual_sq_sum")
#: The histograms: of the predictions, of the absolute residuals ``|y_pred - y_true|``, and of
#: the true values (whose ``residual_sum`` per bin gives the mean error at equal true values).
HIST_KINDS = ("prediction", "abs_error", "target")
#: Default number of equal-width histogram bins (shared by every group).
DEFAULT_HIST_BINS = 256
#: Default number of bootstrap blocks per cell (see the block bootstrap in the engine).
DEFAULT_N_BLOCKS = 512

#: Seed of the block assignment (fixed: a table does not depend on the run).
_BLOCK_SEED = 20_260_101


def _col(table: Any, name: str) -> np.ndarray:
    c = table[name]
    return c.to_numpy() if hasattr(c, "to_numpy") else np.asarray(c)


def row_blocks(n: int, n_blocks: int) -> np.ndarray:
    """Return a bootstrap block for each of ``n`` rows, uniform and unrelated to their order.

    Drawn from a generator with a fixed seed, so the same rows give the same table; any
    assignment independent of the values serves (in SQL, a hash of a row id: ``hash(row_id) %
    512`` in DuckDB), and a log sorted by the target still spreads every block over its range.
    """
    gen = np.random.Generator(np.random.PCG64(_BLOCK_SEED))
    return gen.integers(0, n_blocks, size=n, dtype=np.int64)


def hist_edges(lo: float, hi: float, n_bins: int) -> np.ndarray:
    """Equal-width bin edges over ``[lo, hi]`` (one bin of width 1 around ``lo`` if equal)."""
    if not hi > lo:
        return np.linspace(lo - 0.5, lo + 0.5, n_bins + 1)
    return np.linspace(lo, hi, n_bins + 1)


def hist_bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: ``[edge_k, edge_k+1)``, the last bin closed; values outside clipped."""
    b = np.searchsorted(edges, x, side="right") - 1
    return np.clip(b, 0, len(edges) - 2)


@dataclass(frozen=True)
class RegressionRows:
    """Checked rows: targets, predictions, weights and the finest group of each row."""

    y_true: np.ndarray
    y_pred: np.ndarray
    weight: np.ndarray | None
    features: tuple[str, ...]
    codes: list[np.ndarray]  # level index per row, per feature
    levels: list[np.ndarray]

    @property
    def w(self) -> np.ndarray:
        """The weights (ones when unweighted)."""
        return np.ones(len(self.y_true)) if self.weight is None else self.weight


def check_rows(
    y_true: Any, y_pred: Any, sensitive_features: Any, sample_weight: Any
) -> RegressionRows:
    """Validate regression rows (finite numbers of equal length) and factorize the groups."""
    out = []
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        arr = _to_array(v, name=name)
        try:
            arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(
                f"{name} must hold numbers for a regression audit: {exc}"
            ) from exc
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"{name} must hold finite numbers; found {float(arr[i])!r} at row {i}."
            )
        out.append(arr)
    yt, yp = out
    n = len(yt)
    if len(yp) != n:
        raise DataValidationError(f"Inputs differ in length: y_true has {n}, y_pred {len(yp)}.")
    if n == 0:
        raise DataValidationError("y_true is empty; there is nothing to audit.")
    cols = _sensitive_columns(sensitive_features, n)
    codes, levels = [], []
    for name, v in cols:
        c, lv = _factorize(v, name=f"Sensitive feature {name!r}")
        codes.append(c)
        levels.append(lv)
    w = None if sample_weight is None else check_sample_weight(sample_weight, n)
    return RegressionRows(yt, yp, w, tuple(c for c, _ in cols), codes, levels)


def reduce_rows(
    rows: RegressionRows, *, n_bins: int = DEFAULT_HIST_BINS, n_blocks: int = DEFAULT_N_BLOCKS
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Return the sums table and the histogram table of ``rows`` as dicts of numpy columns."""
    if int(n_bins) < 1 or int(n_blocks) < 1:
        raise ParameterError(
            f"n_bins and n_blocks must be ints >= 1; got n_bins={n_bins}, n_blocks={n_blocks}."
        )
    yt, yp, w = rows.y_true, rows.y_pred, rows.weight
    n = len(yt)
    sizes = [len(lv) for lv in rows.levels]
    gid = (
        np.ravel_multi_index(tuple(rows.codes), tuple(sizes)) if len(sizes) > 1 else rows.codes[0]
    )
    g_total = int(np.prod(np.asarray(sizes, dtype=np.float64)))
    r = yp - yt
    a = np.abs(r)
    shift = float(np.mean(yt)) if w is None else float(np.dot(w, yt) / w.sum())
    # sums table: one cell per (finest group, block) that holds rows
    gid = gid.astype(np.int64, copy=False)
    cell = row_blocks(n, n_blocks)
    cell += gid * n_blocks
    dev = yt - shift
    cols: list[tuple[str, np.ndarray | None]] = [
        ("count", None), ("weight_sum", w), ("y_sum", yt), ("pred_sum", yp), ("residual_sum", r),
        ("residual_sq_sum", r * r), ("abs_residual_sum", a), ("y_dev_sq_sum", dev * dev),
    ]  # fmt: skip
    if w is not None:
        cols = [(c, x if c in ("count", "weight_sum") or x is None else w * x) for c, x in cols]
    keys, totals = _cell_sums(cell, g_total * n_blocks, cols)
    sums: dict[str, np.ndarray] = _keys(rows, keys // n_blocks, sizes)
    sums["block"] = keys % n_blocks
    sums.update(totals)
    if w is None:
        sums["weight_sum"] = sums["count"].astype(np.float64)
    sums["y_shift"] = np.full(len(keys), shift)
    # histogram table: one cell per (finest group, kind, bin) that holds rows
    b = int(n_bins)
    hist_parts: list[dict[str, np.ndarray]] = []
    for k, x in enumerate((yp, a, yt)):
        e = hist_edges(float(x.min()) if k != 1 else 0.0, float(x.max()), b)
        hcell = _equal_width_bins(x, e)
        hcell += gid * b
        wcols: list[tuple[str, np.ndarray | None]] = [("count", None)]
        if w is not None:
            wcols += [("weight_sum", w), ("weight_sq_sum", w * w)]
        wcols.append(("residual_sum", r if w is None else w * r))
        if k == 2:
            wcols.append(("residual_sq_sum", r * r if w is None else w * r * r))
        hk, ht = _cell_sums(hcell, g_total * b, wcols)
        if k != 2:
            ht["residual_sq_sum"] = np.full(len(hk), np.nan)
        part = _keys(rows, hk // b, sizes)
        part["kind"] = np.full(len(hk), HIST_KINDS[k], dtype=object)
        part["bin"] = hk % b
        part["bin_low"] = e[part["bin"]]
        part["bin_high"] = e[part["bin"] + 1]
        part.update(ht)
        if w is None:
            part["weight_sum"] = ht["count"].astype(np.float64)
            part["weight_sq_sum"] = part["weight_sum"]
        hist_parts.append(part)
    hist = {c: np.concatenate([p[c] for p in hist_parts]) for c in hist_parts[0]}
    return sums, hist


def _equal_width_bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """:func:`hist_bins` for equal-width ``edges`` by arithmetic, corrected at the edges."""
    b = len(edges) - 1
    t = np.subtract(x, edges[0])
    t *= b / (edges[-1] - edges[0])
    np.clip(t, 0, b - 1, out=t)
    k = t.astype(np.int64)
    del t
    k -= (x < edges[k]) & (k > 0)
    k += (x >= edges[k + 1]) & (k < b - 1)
    return k


def _cell_sums(
    cell: np.ndarray, total: int, cols: list[tuple[str, np.ndarray | None]]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Distinct cells with rows, and the sums of each column there (``None``: the row count)."""
    if total <= 8_000_000:
        out = {}
        cnt = np.bincount(cell, minlength=total)
        keys = np.flatnonzero(cnt)
        for name, x in cols:
            out[name] = cnt[keys] if x is None else np.bincount(cell, x, minlength=total)[keys]
        return keys, out
    keys, inv = _compact(cell, total)
    m = len(keys)
    return keys, {
        name: np.bincount(inv, minlength=m) if x is None else np.bincount(inv, x, minlength=m)
        for name, x in cols
    }


def _compact(cell: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct cell ids and the index of each row's cell among them."""
    if total <= 50_000_000:
        seen = np.bincount(cell, minlength=total)
        uniq = np.flatnonzero(seen)
        lookup = np.zeros(total, dtype=np.int64)
        lookup[uniq] = np.arange(len(uniq))
        return uniq, lookup[cell]
    uniq, inv = np.unique(cell, return_inverse=True)
    return uniq, inv.ravel()


def _keys(rows: RegressionRows, gid: np.ndarray, sizes: list[int]) -> dict[str, np.ndarray]:
    codes = np.unravel_index(gid, tuple(sizes)) if len(sizes) > 1 else (gid,)
    return {f: rows.levels[j][codes[j]] for j, f in enumerate(rows.features)}


# ------------------------------------------------------------------------------ table -> dense
@dataclass(frozen=True)
class RegressionTable:
    """Dense sufficient statistics over the finest grouping (the intersection of all features).

    Attributes
    ----------
    features : tuple of str
    levels : tuple of ndarray
        The sorted levels of each feature.
    group_codes : ndarray of shape (G, F)
        Level index of each finest group for each feature.
    sums : ndarray of shape (G, n_blocks, len(SUM_COLUMNS))
        Additive sums per finest group and bootstrap block.
    y_shift : float
        The constant subtracted from ``y`` in ``y_dev_sq_sum``.
    hist : ndarray of shape (G, 3, n_bins, 5)
        Histogram counts, weight sums, squared-weight sums, residual sums and squared residual
        sums per group, kind (:data:`HIST_KINDS`) and bin (the last NaN throughout when the
        table has no ``residual_sq_sum``).
    edges : ndarray of shape (3, n_bins + 1)
        The shared bin edges of each kind's histogram.
    complete : bool
        Every combination of levels is a group (``MetricFrame``'s reindex).
    weighted : bool
    """

    features: tuple[str, ...]
    levels: tuple[np.ndarray, ...]
    group_codes: np.ndarray
    sums: np.ndarray
    y_shift: float
    hist: np.ndarray | None
    edges: np.ndarray | None
    complete: bool
    weighted: bool

    @property
    def group_sums(self) -> np.ndarray:
        """Sums per finest group, shape (G, len(SUM_COLUMNS))."""
        return self.sums.sum(axis=1)


def _checked_nonneg(table: Any, name: str, keep: np.ndarray | None = None) -> np.ndarray:
    x = _col(table, name).astype(np.float64)
    if keep is not None:
        x = x[keep]
    bad = ~np.isfinite(x) | (x < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"The count table's {name!r} must hold finite values >= 0; found {float(x[i])!r} "
            f"at row {i}."
        )
    return x


def table_from_frames(
    sums: Any, histogram: Any | None, feats: Sequence[str], *, weighted: bool | None = None
) -> RegressionTable:
    """Check and densify a sums table (and an optional histogram table).

    ``weighted`` None: weighted when ``weight_sum`` differs from ``count`` somewhere.
    """
    from .._core.validation import check_columns

    s_avail = list(sums.columns) if hasattr(sums, "columns") else list(sums.keys())
    need = [*feats, "count", *[c for c in SUM_COLUMNS if c not in ("count", "weight_sum")]]
    check_columns(need, s_avail, where="the regression sums table")
    count = _checked_nonneg(sums, "count")
    if np.any(count != np.round(count)):
        raise DataValidationError("The regression sums table's 'count' column must hold integers.")
    keep = count > 0
    if not keep.any():
        raise DataValidationError("The regression sums table holds no rows (every count is 0).")
    wsum = _checked_nonneg(sums, "weight_sum", keep) if "weight_sum" in s_avail else count[keep]
    if weighted is None:
        weighted = "weight_sum" in s_avail and not np.array_equal(wsum, count[keep])
    shift = 0.0
    if "y_shift" in s_avail:
        sh = _col(sums, "y_shift").astype(np.float64)[keep]
        if sh.size and not np.all(sh == sh[0]):
            raise DataValidationError("The regression sums table's 'y_shift' must be constant.")
        shift = float(sh[0])
    gid, group_codes, levels, complete = _groups(sums, feats, keep)
    g = len(group_codes)
    blocks = _col(sums, "block")[keep].astype(np.int64) if "block" in s_avail else None
    if blocks is None:
        blocks = np.zeros(int(keep.sum()), dtype=np.int64)
    if blocks.size and blocks.min() < 0:
        raise DataValidationError("The regression sums table's 'block' must be >= 0.")
    _, bcode = np.unique(blocks, return_inverse=True)
    nb = int(bcode.max()) + 1
    flat = gid * nb + bcode.ravel()
    dense = np.zeros((g * nb, len(SUM_COLUMNS)))
    for j, name in enumerate(SUM_COLUMNS):
        x = (
            count[keep] if name == "count"
            else wsum if name == "weight_sum"
            else _col(sums, name).astype(np.float64)[keep]
        )  # fmt: skip
        if name in ("residual_sq_sum", "abs_residual_sum", "y_dev_sq_sum"):
            x = _checked_nonneg({name: x}, name)
        dense[:, j] = np.bincount(flat, weights=x, minlength=g * nb)
    hist, edges = (None, None)
    if histogram is not None:
        hist, edges = _dense_hist(histogram, feats, levels, group_codes)
    return RegressionTable(
        tuple(str(f) for f in feats), tuple(levels), group_codes.astype(np.int64),
        dense.reshape(g, nb, len(SUM_COLUMNS)), shift, hist, edges, complete, bool(weighted),
    )  # fmt: skip


def _groups(
    table: Any, feats: Sequence[str], keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], bool]:
    """Finest group of each kept row, the level codes of each group, the levels, completeness."""
    codes, levels = [], []
    for name in feats:
        c, lv = _factorize(_col(table, name)[keep], name=f"Sensitive feature {name!r}")
        codes.append(c)
        levels.append(lv)
    sizes = tuple(len(lv) for lv in levels)
    product = int(np.prod(np.asarray(sizes, dtype=np.float64)))
    if product <= MAX_PRODUCT_GROUPS:
        gid = np.ravel_multi_index(tuple(codes), sizes) if len(feats) > 1 else codes[0]
        return gid, np.column_stack(np.unravel_index(np.arange(product), sizes)), levels, True
    uniq, gid = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
    return gid.ravel(), uniq, levels, False


def _group_index(
    table: Any, feats: Sequence[str], levels: list[np.ndarray], group_codes: np.ndarray,
    keep: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Index among ``group_codes`` of the group of each kept row of ``table`` (vectorised)."""
    import pandas as pd

    codes = []
    for j, name in enumerate(feats):
        c = pd.Index(levels[j]).get_indexer(_col(table, name)[keep])
        codes.append(np.asarray(c, dtype=np.int64))
    sizes = tuple(len(lv) for lv in levels)
    bad = np.zeros(len(codes[0]), dtype=bool)
    for c in codes:
        bad |= c < 0
    if not bad.any():
        key = np.ravel_multi_index(tuple(codes), sizes)
        known = np.ravel_multi_index(tuple(group_codes.T), sizes)
        order = np.argsort(known)
        pos = np.searchsorted(known, key, sorter=order)
        pos = np.minimum(pos, len(known) - 1)
        gid = order[pos]
        bad = known[gid] != key
    if bad.any():
        raise DataValidationError(
            "The regression histogram table names a group that the sums table does not hold."
        )
    return gid


def _dense_hist(
    hist: Any, feats: Sequence[str], levels: list[np.ndarray], group_codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the histogram table as (G, 3, B, 5) sums (:data:`HIST_COLUMNS`), and the edges.

    A kind the table lacks (``"target"`` in an older table) has NaN edges and no rows.
    """
    from .._core.validation import check_columns

    avail = list(hist.columns) if hasattr(hist, "columns") else list(hist.keys())
    check_columns([*feats, "kind", "bin", "bin_low", "bin_high", "count"], avail,
                  where="the regression histogram table")  # fmt: skip
    count = _checked_nonneg(hist, "count")
    keep = count > 0
    kind_raw = _col(hist, "kind")[keep]
    kind = np.full(len(kind_raw), -1, dtype=np.int64)
    for k, name in enumerate(HIST_KINDS):
        kind[kind_raw == name] = k
    if (kind < 0).any():
        bad = kind_raw[kind < 0][0]
        raise DataValidationError(
            f"The regression histogram table has kind {bad!r}; expected one of {HIST_KINDS}."
        )
    bins = _col(hist, "bin")[keep].astype(np.int64)
    b = int(bins.max()) + 1 if bins.size else 1
    lo, hi = _col(hist, "bin_low")[keep].astype(float), _col(hist, "bin_high")[keep].astype(float)
    nk = len(HIST_KINDS)
    edges = np.full((nk, b + 1), np.nan)
    for k in range(nk):
        sel = kind == k
        edges[k, bins[sel]] = lo[sel]
        edges[k, bins[sel] + 1] = hi[sel]
        e = edges[k]
        known = np.flatnonzero(np.isfinite(e))
        if known.size >= 2:  # equal-width bins: fill the edges of empty bins
            step = (e[known[-1]] - e[known[0]]) / (known[-1] - known[0])
            e[:] = e[known[0]] + (np.arange(b + 1) - known[0]) * step
    gid = _group_index(hist, feats, levels, group_codes, keep)
    g = len(group_codes)
    flat = (gid * nk + kind) * b + bins
    out = np.zeros((g * nk * b, len(HIST_COLUMNS)))
    for j, name in enumerate(HIST_COLUMNS):
        if name == "residual_sq_sum" and name not in avail:
            out[:, j] = np.nan
            continue
        if name in ("residual_sum", "residual_sq_sum"):
            x = _col(hist, name)[keep].astype(np.float64) if name in avail else 0.0 * count[keep]
            x = np.nan_to_num(x)  # SQL NULL for the kinds that do not fill it
        elif name in avail and name != "count":
            x = _checked_nonneg(hist, name, keep)
        else:  # the count, or the weights of an unweighted table (1 per row)
            x = count[keep]
        out[:, j] = np.bincount(flat, weights=x, minlength=g * nk * b)
    return out.reshape(g, nk, b, len(HIST_COLUMNS)), edges
