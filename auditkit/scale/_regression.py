"""The count tables of ``reduce_regression``, engine-neutral: checks, bins, the result.

The tables are those of the contract in :mod:`auditkit.metrics.regression` (a sums table per
group cell and bootstrap block, and a histogram table per group cell, kind and bin), computed
inside the engine that holds the log: DuckDB for Parquet/CSV files and relations (out of
core), narwhals for Polars, PyArrow and pandas frames, Spark for a PySpark DataFrame. Only the
tables (a few hundred thousand rows at most) come back.

Two passes over the rows
------------------------
1. One aggregate (no group-by): the number of rows, the count of missing or non-finite
   targets, predictions and weights (refused with the column and the count before any
   grouping), the ranges of the prediction, of ``|y_pred - y_true|`` and of the target (the
   histograms' shared equal-width edges), the (weighted) mean target (``y_shift``, the
   constant that keeps R²'s total sum of squares free of cancellation), and an approximate
   count of each sensitive column's distinct values (a column over ``max_groups`` is refused
   before the group-by).
2. The group-bys, over one scan where the engine streams a scan into several aggregations
   (DuckDB 2): the sums table and the three histograms.

Exactness
---------
The sums are the same additive sums as the row path's
(:func:`auditkit.metrics.regression.regression_count_table`), added in another order, so they
agree to float rounding. The histogram edges are the row path's (``numpy.linspace`` over the
same minimum and maximum), and every engine places a value in its bin with the row path's own
arithmetic (the scaled offset, clipped and truncated, then corrected against the edges), so
the histograms, hence the median absolute error and the distribution gaps with their bounds,
are those of the row path. The bootstrap blocks: an in-memory frame (pandas, PyArrow, a Polars
DataFrame) without ``row_id`` gets the row path's own blocks (:func:`row_blocks`, same table);
files, relations, Polars LazyFrames and Spark get a fixed hash of the row position (or of
``row_id``) modulo ``n_blocks``, the engine's own hash; every value is identical, the
bootstrap intervals differ slightly from the row path's (a different split of the rows into
blocks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import DataValidationError
from ._table import check_group_counts, feature_alias

__all__ = ["HIST_KINDS", "RESERVED", "RegressionCountTable", "SUM_COLUMNS", "Spec", "row_blocks"]

#: The additive columns of the sums table (the engine's order).
SUM_COLUMNS = (
    "count", "weight_sum", "y_sum", "pred_sum", "residual_sum", "residual_sq_sum",
    "abs_residual_sum", "y_dev_sq_sum",
)  # fmt: skip
#: The histograms' kinds, in the engine's order.
HIST_KINDS = ("prediction", "abs_error", "target")
#: Defaults of the engine (``auditkit.metrics.regression_table``; the same stage cannot import it).
DEFAULT_HIST_BINS = 256
DEFAULT_N_BLOCKS = 512
#: Seed of the row path's block assignment (``metrics.regression_table._BLOCK_SEED``).
_BLOCK_SEED = 20_260_101
#: Column names of the reduced tables that a sensitive feature may not take.
RESERVED = (
    "block", "kind", "bin", "bin_low", "bin_high", "y_shift", "weight_sq_sum", *SUM_COLUMNS,
)  # fmt: skip


def row_blocks(n: int, n_blocks: int) -> np.ndarray:
    """Return the row path's bootstrap block of each of ``n`` rows (a fixed-seed generator).

    The same draws as :func:`auditkit.metrics.regression_table.row_blocks`; the tests check
    that the two agree.
    """
    gen = np.random.Generator(np.random.PCG64(_BLOCK_SEED))
    return gen.integers(0, n_blocks, size=n, dtype=np.int64)


def hist_edges(lo: float, hi: float, n_bins: int) -> np.ndarray:
    """Return the row path's equal-width edges over ``[lo, hi]`` (one bin of width 1 if equal)."""
    if not hi > lo:
        return np.linspace(lo - 0.5, lo + 0.5, n_bins + 1)
    return np.linspace(lo, hi, n_bins + 1)


@dataclass(frozen=True)
class Binning:
    """The edges of one histogram and the constants of its bin arithmetic.

    A value ``x`` falls in bin ``k0 = trunc(clip((x - e0) * factor, 0, n - 1))``, moved down
    one when ``x < edge(k0)`` (and ``k0 > 0``) or up one when ``x >= edge(k0 + 1)`` (and
    ``k0 < n - 1``), with ``edge(k) = k * step + e0``: exactly the row path's arithmetic
    (``numpy.linspace`` computes its edges as ``k * step + start``).
    """

    edges: np.ndarray
    n: int

    @property
    def e0(self) -> float:
        return float(self.edges[0])

    @property
    def factor(self) -> float:
        return self.n / (float(self.edges[-1]) - float(self.edges[0]))

    @property
    def step(self) -> float:
        return (float(self.edges[-1]) - float(self.edges[0])) / self.n


@dataclass(frozen=True)
class Plan:
    """What the first pass decides: the bins of each kind, ``y_shift`` and the row count."""

    n_rows: int
    y_shift: float
    bins: tuple[Binning, Binning, Binning]  # prediction, abs_error, target
    n_blocks: int


@dataclass(frozen=True)
class Spec:
    """The column names and settings of one reduction."""

    features: tuple[str, ...]
    y_true: str
    y_pred: str
    sample_weight: str | None
    row_id: str | None
    n_bins: int
    n_blocks: int
    max_groups: int

    @property
    def weighted(self) -> bool:
        return self.sample_weight is not None

    def named(self) -> list[str]:
        """Every column the reduction reads."""
        extra = [c for c in (self.sample_weight, self.row_id) if c is not None]
        return [self.y_true, self.y_pred, *extra, *self.features]


@dataclass(frozen=True)
class RegressionCountTable:
    """A regression log reduced to the regression engine's tables, inside its own engine.

    Build it with :func:`reduce_regression`; read it with
    :func:`auditkit.metrics.regression.regression_from_count_table` (``sums``, ``histogram``,
    ``sensitive_features=features``), or turn it into the audit's context with
    :func:`auditkit.inputs.counts.regression_counts`.

    Attributes
    ----------
    sums : dict of str to ndarray
        The sums table (the contract of :mod:`auditkit.metrics.regression`): the feature
        columns, ``block``, ``count``, ``weight_sum``, ``y_sum``, ``pred_sum``,
        ``residual_sum``, ``residual_sq_sum``, ``abs_residual_sum``, ``y_dev_sq_sum``,
        ``y_shift``; one row per occurring (group cell, block), sorted by them.
    histogram : dict of str to ndarray
        The histogram table: the feature columns, ``kind`` (``"prediction"``,
        ``"abs_error"``, ``"target"``), ``bin``, ``bin_low``, ``bin_high``, ``count``, for a
        weighted log ``weight_sum`` and ``weight_sq_sum``, and ``residual_sum``.
    features : tuple of str
        The sensitive columns.
    engine : str
        ``"duckdb"``, ``"polars"``, ``"pyarrow"``, ``"pandas"`` or ``"spark"``.
    source : str
        What was reduced (file names, or the frame's type).
    n_rows : int
        Rows of the log.
    columns : dict
        The column names used: ``y_true``, ``y_pred``, ``sample_weight`` and ``row_id`` (None
        when not given).
    n_bins, n_blocks : int
        Histogram bins and bootstrap blocks.
    blocks : str
        How rows were split into bootstrap blocks (``"row path"``: the row path's own blocks;
        otherwise the hash used).
    """

    sums: Mapping[str, np.ndarray]
    histogram: Mapping[str, np.ndarray]
    features: tuple[str, ...]
    engine: str
    source: str
    n_rows: int
    columns: Mapping[str, str | None] = field(default_factory=dict)
    n_bins: int = DEFAULT_HIST_BINS
    n_blocks: int = DEFAULT_N_BLOCKS
    blocks: str = "row path"

    @property
    def weighted(self) -> bool:
        """True when the log was reduced with ``sample_weight=``."""
        return "weight_sum" in self.histogram

    @property
    def y_shift(self) -> float:
        """The constant ``c`` of ``y_dev_sq_sum`` (the mean target)."""
        return float(np.asarray(self.sums["y_shift"])[0])

    def to_frames(self) -> tuple[Any, Any]:
        """Return the sums and histogram tables as pandas DataFrames."""
        import pandas as pd

        return pd.DataFrame(dict(self.sums)), pd.DataFrame(dict(self.histogram))


# ------------------------------------------------------------------------ the first pass
#: Names of the first pass's aggregates, in the order every engine returns them.
STATS = (
    "n", "bad_y", "bad_p", "bad_w", "y_min", "y_max", "p_min", "p_max", "a_max", "w_sum",
    "wy_sum",
)  # fmt: skip


def plan_from_stats(stats: Mapping[str, Any], spec: Spec, where: str) -> Plan:
    """Check the first pass's aggregates and decide the bins and ``y_shift``.

    Raises
    ------
    DataValidationError
        No rows; missing or non-finite targets, predictions or weights (naming the column
        and the count); weights summing to 0.
    """
    n = int(stats["n"] or 0)
    if n == 0:
        raise DataValidationError(f"The predictions have no rows in {where}.")
    for key, col, what in (
        ("bad_y", spec.y_true, "y_true"), ("bad_p", spec.y_pred, "y_pred"),
    ):  # fmt: skip
        k = int(stats[key] or 0)
        if k:
            raise DataValidationError(
                f"{what} column {col!r} must hold finite numbers for a regression audit; {k:,} "
                f"of {n:,} row(s) in {where} are missing, NaN, infinite or not numbers; drop "
                "or fill them before auditing."
            )
    if spec.sample_weight is not None:
        k = int(stats["bad_w"] or 0)
        if k:
            raise DataValidationError(
                f"sample_weight column {spec.sample_weight!r} must hold finite weights >= 0; "
                f"{k:,} of {n:,} row(s) in {where} are missing, NaN, infinite, negative or not "
                "numbers."
            )
    w_sum = float(stats["w_sum"]) if spec.weighted else float(n)
    if spec.sample_weight is not None and not w_sum > 0:
        raise DataValidationError(
            f"sample_weight column {spec.sample_weight!r} sums to 0 in {where}."
        )
    shift = float(stats["wy_sum"]) / w_sum
    if not math.isfinite(shift):  # pragma: no cover - finite inputs overflowing a double
        raise DataValidationError(f"The mean of y_true column {spec.y_true!r} is not finite.")
    b = spec.n_bins
    bins = (
        Binning(hist_edges(float(stats["p_min"]), float(stats["p_max"]), b), b),
        Binning(hist_edges(0.0, float(stats["a_max"]), b), b),
        Binning(hist_edges(float(stats["y_min"]), float(stats["y_max"]), b), b),
    )
    return Plan(n, shift, bins, spec.n_blocks)


def check_distinct(counts: Mapping[str, int], spec: Spec, *, exact: bool) -> None:
    """Refuse a sensitive column with more distinct values than the ceiling."""
    check_group_counts(dict(counts), spec.max_groups, exact=exact)


# ------------------------------------------------------------------------ the result
def _numpy(col: Any) -> np.ndarray:
    from ._table import _numpy as arrow_numpy

    return arrow_numpy(col)


def _sort_order(keys: list[np.ndarray]) -> np.ndarray:
    """Row order sorting by ``keys`` (the first most significant), for tidy tables."""
    import pandas as pd

    codes = []
    for k in keys:
        try:
            c, _ = pd.factorize(k, sort=True)
        except TypeError:  # values that do not sort together: first appearance
            c, _ = pd.factorize(k)
        codes.append(np.asarray(c))
    return np.lexsort(tuple(reversed(codes))) if codes else np.zeros(0, dtype=np.int64)


def finish(
    sums: Any, hists: Sequence[Any], plan: Plan, spec: Spec, *, engine: str, source: str,
    blocks: str,
) -> RegressionCountTable:  # fmt: skip
    """Build the :class:`RegressionCountTable` from an engine's results (pyarrow tables).

    ``sums`` has the feature columns under :func:`feature_alias` names, ``block``, and the
    additive sums (``weight_sum`` only when weighted); ``hists`` one table per kind of
    :data:`HIST_KINDS` with the feature aliases, ``bin``, ``count``, ``residual_sum``,
    ``residual_sq_sum`` and,
    when weighted, ``weight_sum`` and ``weight_sq_sum``.

    Raises
    ------
    DataValidationError
        A sensitive column with missing values (naming it and the count), or a count that
        disagrees with the first pass (the data changed between the passes).
    """
    from ._table import _missing_rows

    count = _numpy(sums.column("count")).astype(np.int64)
    for i, name in enumerate(spec.features):
        k = _missing_rows(sums.column(feature_alias(i)), count)
        if k:
            raise DataValidationError(
                f"Sensitive column {name!r} has {k:,} missing value(s) in {source}; fill them "
                "(for example with 'unknown') before auditing."
            )
    if int(count.sum()) != plan.n_rows:  # pragma: no cover - the data changed under us
        raise DataValidationError(
            f"The two passes over {source} disagree on the number of rows ({plan.n_rows:,} and "
            f"{int(count.sum()):,}); did the data change while it was read?"
        )
    feats = [_numpy(sums.column(feature_alias(i))) for i in range(len(spec.features))]
    block = _numpy(sums.column("block")).astype(np.int64)
    order = _sort_order([*feats, block])
    out: dict[str, np.ndarray] = {f: v[order] for f, v in zip(spec.features, feats, strict=True)}
    out["block"] = block[order]
    out["count"] = count[order]
    for name in SUM_COLUMNS[1:]:
        if name == "weight_sum" and not spec.weighted:
            out[name] = out["count"].astype(np.float64)
        else:
            out[name] = _numpy(sums.column(name)).astype(np.float64)[order]
    out["y_shift"] = np.full(len(order), plan.y_shift)
    parts = []
    for k, (table, binning) in enumerate(zip(hists, plan.bins, strict=True)):
        parts.append(_hist_part(table, k, binning, spec))
    hist = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    return RegressionCountTable(
        sums=out, histogram=hist, features=spec.features, engine=engine, source=source,
        n_rows=plan.n_rows,
        columns={"y_true": spec.y_true, "y_pred": spec.y_pred,
                 "sample_weight": spec.sample_weight, "row_id": spec.row_id},
        n_bins=spec.n_bins, n_blocks=spec.n_blocks, blocks=blocks,
    )  # fmt: skip


def _hist_part(table: Any, k: int, binning: Binning, spec: Spec) -> dict[str, np.ndarray]:
    feats = [_numpy(table.column(feature_alias(i))) for i in range(len(spec.features))]
    b = _numpy(table.column("bin")).astype(np.int64)
    order = _sort_order([*feats, b])
    part: dict[str, np.ndarray] = {f: v[order] for f, v in zip(spec.features, feats, strict=True)}
    part["kind"] = np.full(len(order), HIST_KINDS[k], dtype=object)
    part["bin"] = b[order]
    part["bin_low"] = binning.edges[part["bin"]]
    part["bin_high"] = binning.edges[part["bin"] + 1]
    part["count"] = _numpy(table.column("count")).astype(np.int64)[order]
    target = HIST_KINDS[k] == "target"  # residual_sq_sum: for the true-value bins only
    names: tuple[str, ...] = ("residual_sum", "residual_sq_sum") if target else ("residual_sum",)
    if spec.weighted:
        names = ("weight_sum", "weight_sq_sum", *names)
    for name in names:
        part[name] = _numpy(table.column(name)).astype(np.float64)[order]
    if not target:  # as the row path: NaN where it is not read
        part["residual_sq_sum"] = np.full(len(order), np.nan)
    return part
