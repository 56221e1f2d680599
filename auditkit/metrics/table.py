"""The engine's dense table: a count table (from rows or from any group-by) summed per cell.

:func:`table_from_counts` checks and decodes a count table into a :class:`_Table` (sufficient
statistics over the finest grouping, the intersection of all sensitive features); a
:class:`_Grouping` sums its groups into those of fewer features. :class:`Key` addresses one
quantity of the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from ..exceptions import DataValidationError, ParameterError
from .reduction import DEFAULT_N_BINS, _factorize, _label_codes

Method = Literal["between_groups", "to_overall"]
Undefined = Literal["zero", "nan"]

#: Above this many combinations, an intersection keeps only the combinations that occur.
MAX_PRODUCT_GROUPS = 100_000


class Key(NamedTuple):
    """Address of one quantity in a :class:`GroupMetrics` result.

    Attributes
    ----------
    name : str
        Metric name (``"selection_rate"``, ``"selection_rate_ratio"``,
        ``"equalized_odds_difference"``...).
    features : tuple of str or None
        The grouping (one feature, or several for an intersection); None for overall values.
    label : int or None
        Class index of a one-vs-rest view (multiclass); None otherwise.
    part : str
        ``"group"`` (one value per group), ``"overall"``, ``"between_groups"`` or
        ``"to_overall"`` (disparities).
    agg : str or None, default=None
        How a disparity over two rates is aggregated when it is not Fairlearn's default:
        ``"mean"`` for ``equalized_odds_*`` with ``agg="mean"`` (None is ``"worst_case"``).
    """

    name: str
    features: tuple[str, ...] | None
    label: int | None
    part: str
    agg: str | None = None


@dataclass(frozen=True)
class _Table:
    """Dense sufficient statistics over the finest grouping (the intersection of all features)."""

    features: tuple[str, ...]
    levels: tuple[np.ndarray, ...]
    group_codes: np.ndarray  # (G, F) level index of each group for each feature
    classes: np.ndarray
    pos: int | None
    counts: np.ndarray  # (G, K, K, B) int64
    score_sum: np.ndarray | None  # (G, K, K, B); sums of w * score when weighted
    score_sq_sum: np.ndarray | None
    complete: bool  # every combination of levels is present (MetricFrame's reindex)
    weight_sum: np.ndarray | None = None  # (G, K, K, B) sums of sample weights
    weight_sq_sum: np.ndarray | None = None  # sums of squared sample weights

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[-1])

    def default_groupings(self) -> list[tuple[str, ...]]:
        """Each single feature, then the intersection of all of them (2+ features)."""
        out: list[tuple[str, ...]] = [(f,) for f in self.features]
        if len(self.features) >= 2:
            out.append(self.features)
        return out

    def grouping(self, features: tuple[str, ...]) -> _Grouping:
        """Return how to aggregate the finest groups into the groups of ``features``."""
        unknown = [f for f in features if f not in self.features]
        if unknown or not features or len(set(features)) != len(features):
            raise ParameterError(
                f"A grouping must name distinct sensitive features among {list(self.features)}; "
                f"got {list(features)}."
            )
        idx = [self.features.index(f) for f in features]
        if idx == list(range(len(self.features))):
            return _Grouping(features, None, None, self.group_codes)
        sub = self.group_codes[:, idx]
        sizes = tuple(len(self.levels[j]) for j in idx)
        product = int(np.prod(np.asarray(sizes, dtype=np.float64)))
        if product <= MAX_PRODUCT_GROUPS:
            sub_id = np.ravel_multi_index(tuple(sub.T), sizes)
            codes = np.column_stack(np.unravel_index(np.arange(product), sizes))
        else:
            codes, sub_id = np.unique(sub, axis=0, return_inverse=True)
            sub_id = sub_id.ravel()
        order = np.argsort(sub_id, kind="stable")
        sorted_id = sub_id[order]
        starts = np.flatnonzero(np.r_[True, sorted_id[1:] != sorted_id[:-1]])
        return _Grouping(features, order, (starts, sorted_id[starts]), codes)

    def group_labels(self, grouping: _Grouping) -> list[tuple[Any, ...]]:
        idx = [self.features.index(f) for f in grouping.features]
        cols = [self.levels[j][grouping.codes[:, i]].tolist() for i, j in enumerate(idx)]
        return list(zip(*cols))


@dataclass(frozen=True)
class _Grouping:
    """The groups of some features: an aggregation of the finest groups (sum by sub-group)."""

    features: tuple[str, ...]
    order: np.ndarray | None  # finest groups sorted by sub-group; None: identity
    segments: tuple[np.ndarray, np.ndarray] | None  # (starts in order, sub-group ids)
    codes: np.ndarray  # (P, len(features)) level index per group

    @property
    def n_groups(self) -> int:
        return int(self.codes.shape[0])

    def aggregate(self, x: np.ndarray) -> np.ndarray:
        """Sum ``x`` of shape (nb, G, R) over the finest groups into (nb, P, R)."""
        if self.order is None:
            return x
        assert self.segments is not None
        starts, ids = self.segments
        out = np.zeros((x.shape[0], self.n_groups, x.shape[2]), dtype=x.dtype)
        out[:, ids, :] = np.add.reduceat(x[:, self.order, :], starts, axis=1)
        return out


def _column(table: Any, name: str) -> np.ndarray:
    col = table[name]
    return col.to_numpy() if hasattr(col, "to_numpy") else np.asarray(col)


def table_from_counts(
    table: Any,
    feats: Sequence[str],
    avail: Sequence[str],
    *,
    labels: Sequence[Any] | None,
    pos_label: Any,
    n_bins: int | None,
) -> _Table:
    """Check and sum a count table (its columns ``avail`` checked) into the dense table."""
    count = _checked_counts(table)
    keep = count > 0
    if not keep.any():
        raise DataValidationError("The count table holds no rows (every count is 0).")
    count = count[keep]
    yt = _column(table, "y_true")[keep]
    yp = _column(table, "y_pred")[keep]
    t_codes, p_codes, classes, pos = _label_codes(yt, yp, labels, pos_label)
    k = len(classes)
    has_scores = "score_bin" in avail
    b = 1
    bins = np.zeros(len(count), dtype=np.int64)
    if has_scores:
        b = DEFAULT_N_BINS if n_bins is None else int(n_bins)
        bins = _column(table, "score_bin")[keep].astype(np.int64)
        if bins.size and (bins.min() < 0 or bins.max() >= b):
            bad = bins[(bins < 0) | (bins >= b)][0]
            raise DataValidationError(
                f"The count table has score_bin {int(bad)}, outside [0, {b}); pass n_bins=."
            )
    gid, group_codes, levels, complete = _finest_groups(table, feats, keep)
    g = len(group_codes)
    flat = np.ravel_multi_index((gid, t_codes, p_codes, bins), (g, k, k, b))
    counts = np.bincount(flat, weights=count, minlength=g * k * k * b)
    counts = np.rint(counts).astype(np.int64).reshape(g, k, k, b)
    cells = _Cells(table, keep, flat, (g, k, k, b))
    w_sum, w_sq = _weight_sums(cells, avail)
    s_sum, s_sq = _score_sums(cells, avail, has_scores=has_scores, weighted=w_sum is not None)
    return _Table(
        features=tuple(str(f) for f in feats), levels=tuple(levels),
        group_codes=group_codes.astype(np.int64), classes=classes, pos=pos, counts=counts,
        score_sum=s_sum, score_sq_sum=s_sq, complete=complete, weight_sum=w_sum,
        weight_sq_sum=w_sq,
    )  # fmt: skip


def _checked_counts(table: Any) -> np.ndarray:
    """Return the ``count`` column as int64, refusing non-integers and negative counts."""
    count = _column(table, "count")
    if count.dtype.kind not in "iub":
        if (
            count.dtype.kind == "f"
            and np.all(np.isfinite(count))
            and np.all(count == np.round(count))
        ):
            count = count.astype(np.int64)
        else:
            raise DataValidationError("The count table's 'count' column must hold integers.")
    count = count.astype(np.int64, copy=False)
    if count.size and count.min() < 0:
        i = int(np.flatnonzero(count < 0)[0])
        raise DataValidationError(f"The count table has a negative count {count[i]} at row {i}.")
    return count


def _finest_groups(
    table: Any, feats: Sequence[str], keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], bool]:
    """Group index of each kept row, level codes of each group, the levels, and completeness.

    Every combination of levels is a group (``MetricFrame``'s reindex) unless there are more
    than :data:`MAX_PRODUCT_GROUPS`; then only the combinations that occur.
    """
    codes, levels = [], []
    for name in feats:
        c, lv = _factorize(_column(table, name)[keep], name=f"Sensitive feature {name!r}")
        codes.append(c)
        levels.append(lv)
    sizes = tuple(len(lv) for lv in levels)
    product = int(np.prod(np.asarray(sizes, dtype=np.float64)))
    if product <= MAX_PRODUCT_GROUPS:
        complete = True
        gid = np.ravel_multi_index(tuple(codes), sizes) if len(feats) > 1 else codes[0]
        group_codes = np.column_stack(np.unravel_index(np.arange(product), sizes))
    else:
        complete = False
        uniq, gid = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
        gid = gid.ravel()
        group_codes = uniq
    return gid, group_codes, levels, complete


class _Cells(NamedTuple):
    """Where the kept rows of a count table fall in the dense table of shape ``shape``."""

    table: Any
    keep: np.ndarray
    flat: np.ndarray
    shape: tuple[int, int, int, int]

    def sums(self, col: str, x: np.ndarray | None = None) -> np.ndarray:
        """Sum column ``col`` (or ``x``) per cell of the dense table."""
        if x is None:
            x = _column(self.table, col)[self.keep].astype(np.float64)
        size = int(np.prod(self.shape))
        return np.bincount(self.flat, weights=x, minlength=size).reshape(self.shape)


def _weight_sums(
    cells: _Cells, avail: Sequence[str]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``weight_sum`` and ``weight_sq_sum`` per cell (None when absent), checked."""
    if "weight_sum" not in avail:
        return None, None
    sums: list[np.ndarray | None] = []
    for col in ("weight_sum", "weight_sq_sum"):
        if col not in avail:
            sums.append(None)
            continue
        x = _column(cells.table, col)[cells.keep].astype(np.float64)
        bad = ~np.isfinite(x) | (x < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"The count table's {col!r} must hold finite sums >= 0; found "
                f"{float(x[i])!r} in row {i} of the cells with rows."
            )
        sums.append(cells.sums(col, x))
    w_sum, w_sq = sums
    assert w_sum is not None
    if not w_sum.sum() > 0:
        raise DataValidationError("The count table's weights sum to 0 (weight_sum).")
    return w_sum, w_sq


def _score_sums(
    cells: _Cells, avail: Sequence[str], *, has_scores: bool, weighted: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Score sums and sums of squares per cell (weighted ones for a weighted table)."""
    s_sum = s_sq = None
    sum_col, sq_col = "score_sum", "score_sq_sum"
    if weighted:
        sum_col, sq_col = "weight_score_sum", "weight_score_sq_sum"
        if has_scores and sum_col not in avail and "score_sum" in avail:
            raise DataValidationError(
                "The count table has weights (weight_sum) and score sums, but not the weighted "
                "score sums that calibration by group needs: add weight_score_sum "
                "(SUM(w * score)) and weight_score_sq_sum (SUM(w * score * score))."
            )
    if has_scores and sum_col in avail:
        s_sum = cells.sums(sum_col)
        if sq_col in avail:
            s_sq = cells.sums(sq_col)
    return s_sum, s_sq
