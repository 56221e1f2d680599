"""The reduction's result: two small tables of sufficient statistics, engine-neutral.

Every engine computes the same two group-bys over the rows (the SQL, Polars and Spark
versions write out the same expressions) and hands back only their results:

``groups`` (the fairness engine's count table, :mod:`auditkit.metrics.engine`)
    by the sensitive columns, ``y_true``, ``y_pred`` and, with scores, ``score_bin``
    ``= min(floor(score * n_bins), n_bins - 1)``: ``count``, ``score_sum``, ``score_sq_sum``.
    The performance section reads its Brier score, calibration error and reliability
    diagram from these sums too (exactly: the squared error of a row is ``score^2`` or
    ``(1 - score)^2``). With ``log_loss=True`` also ``nll_pos`` and ``nll_neg`` (sums of
    ``-log(clip(score))`` and ``-log(clip(1 - score))``, ``clip`` to ``[eps, 1 - eps]`` as on
    the row path) and ``nll_pos_sq``, ``nll_neg_sq`` (sums of their squares, for the
    bootstrap). Which of the ``pos``/``neg`` sums applies to a cell depends on whether its
    label is the positive class, which is decided after the reduction (it needs every
    label), so both are kept: two logarithms per row, which is why the exact log loss of a
    reduced log is computed on request.
    With ``sample_weight=<column>`` also ``weight_sum`` and ``weight_sq_sum`` (sums of the
    weights and of their squares) and, with scores, ``weight_score_sum`` and
    ``weight_score_sq_sum`` (sums of ``w * score`` and ``w * score^2``), exactly the columns of
    the row path's count table; the fairness engine then weights every metric. With weights
    and ``log_loss=True`` also ``weight_nll_pos``, ``weight_nll_neg`` (sums of ``w * nll``)
    and ``weight_nll_pos_sq``, ``weight_nll_neg_sq`` (sums of ``w * nll^2``), for the weighted
    log loss. The other sums stay unweighted. A missing, NaN, infinite or negative
    weight becomes NaN before the sums, so its cell's ``weight_sum`` is NaN, which the
    validation here turns into an error naming the column.
``scores`` (only with scores; the ROC AUC histogram of the performance section)
    by ``y_true`` and ``fine_bin`` ``= min(floor(score * auc_bins), auc_bins - 1)``:
    ``count``, ``score_min``, ``score_max`` (the extremes tell whether a bin that holds
    both classes holds different scores, which bounds the histogram's AUC error); with
    ``sample_weight=`` also ``weight_sum`` and ``weight_sq_sum`` (the weighted ROC AUC and its
    bootstrap).

A row whose score is missing, NaN or outside ``[0, 1]`` gets bin ``-1``, which the validation
here turns into an error naming the column. Missing group or label values come back as null
keys and are refused the same way. Nothing here imports an engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import DataValidationError

__all__ = [
    "AUC_BINS", "CountTable", "EPS", "GROUP_SUMS", "LOG_LOSS_SUMS", "ONE_MINUS_EPS", "SCORE_SUMS",
]  # fmt: skip

#: Fine score bins of the ROC AUC histogram (2**14: a bin is 6.1e-5 wide).
AUC_BINS = 16_384
#: The clip of probabilities before the log in the log loss (scikit-learn's and the row path's).
EPS = float(np.finfo(np.float64).eps)
ONE_MINUS_EPS = 1.0 - EPS
#: Aggregates of the ``groups`` table with scores, besides ``count``.
GROUP_SUMS = ("score_sum", "score_sq_sum")
#: Aggregates of the ``groups`` table with ``log_loss=True``.
LOG_LOSS_SUMS = ("nll_pos", "nll_neg", "nll_pos_sq", "nll_neg_sq")
#: Aggregates of the ``scores`` table, besides ``count``.
SCORE_SUMS = ("score_min", "score_max")
#: Aggregates of the ``groups`` table with ``sample_weight=`` (the last two with scores).
WEIGHT_SUMS = ("weight_sum", "weight_sq_sum", "weight_score_sum", "weight_score_sq_sum")
#: Aggregates of the ``groups`` table with ``sample_weight=`` and ``log_loss=True``.
WEIGHT_LOG_LOSS_SUMS = (
    "weight_nll_pos", "weight_nll_neg", "weight_nll_pos_sq", "weight_nll_neg_sq",
)  # fmt: skip
#: Aggregates of the ``scores`` table with ``sample_weight=``.
SCORE_WEIGHT_SUMS = ("weight_sum", "weight_sq_sum")
#: Column names of the reduced tables that a sensitive feature may not take.
RESERVED = (
    "y_true", "y_pred", "score_bin", "fine_bin", "count", *GROUP_SUMS, *LOG_LOSS_SUMS,
    *SCORE_SUMS, *WEIGHT_SUMS, *WEIGHT_LOG_LOSS_SUMS,
)  # fmt: skip


def check_group_counts(distinct: Mapping[str, int], max_groups: int, *, exact: bool) -> None:
    """Refuse a sensitive column with more distinct values than ``max_groups``.

    ``distinct`` comes from a cheap pass over the sensitive columns alone (an approximate
    distinct count where the engine has one), run before the group-by that would build one
    cell per group.

    Raises
    ------
    DataValidationError
        Naming the column, its count, the ceiling and the override.
    """
    for name, count in distinct.items():
        if count > max_groups:
            about = "" if exact else "about "
            # an approximate count can be some percent low: suggest a ceiling with room
            need = count if exact else int(count * 1.25)
            digits = max(len(str(need)) - 2, 0)
            suggest = -(-need // 10**digits) * 10**digits
            raise DataValidationError(
                f"Sensitive column {name!r} has {about}{count:,} distinct values, more than the "
                f"ceiling of {max_groups:,} groups per sensitive feature, so the audit stops "
                "before grouping by it. If it really is a grouping of people, raise the "
                f"ceiling with max_groups= (CLI: --max-groups), for example to {suggest:,}; "
                "otherwise give a coarser column."
            )


def resolve_max_groups(max_groups: int | None, func: str) -> int:
    """Return the ceiling on distinct values per sensitive column (default from ``_limits``)."""
    from .._core.limits import DEFAULT_MAX_GROUPS
    from .._core.validation import check_int

    if max_groups is None:
        return DEFAULT_MAX_GROUPS
    return check_int(max_groups, param="max_groups", func=func, low=1)


def check_names(
    features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    available: Sequence[str], where: str, sample_weight: str | None = None,
) -> None:  # fmt: skip
    """Raise :class:`DataValidationError` naming a column missing from ``available``."""
    from .._core.validation import check_columns

    named = [y_true, y_pred, y_score, sample_weight]
    check_columns([c for c in named if c], available, where=where)
    check_columns(list(features), available, what="Sensitive column", where=where)


def feature_alias(i: int) -> str:
    """Name of the ``i``-th sensitive column inside a reduction query."""
    return f"f{i}"


@dataclass(frozen=True)
class CountTable:
    """A prediction log reduced to its sufficient statistics inside its own engine.

    Build it with :func:`auditkit.scale.reduce_predictions`; pass it to
    :func:`auditkit.audit_predictions` as ``data=`` to audit it (labels are encoded and the
    positive class chosen there, exactly as for rows).

    Attributes
    ----------
    features : tuple of str
        The sensitive columns.
    groups : dict of str to ndarray
        One row per combination of feature values, ``y_true``, ``y_pred`` (raw label values)
        and ``score_bin``: ``count``, ``score_sum``, ``score_sq_sum`` and, with
        ``log_loss=True``, the log-loss sums listed in the module docstring.
    scores : dict of str to ndarray or None
        One row per ``y_true`` and ``fine_bin``: ``count``, ``score_min``, ``score_max``.
        None without scores, or when ``score_cells=False``.
    n_bins : int
        Calibration bins.
    auc_bins : int
        Fine bins of the ROC AUC histogram.
    engine : str
        The engine that did the group-by (``"duckdb"``, ``"polars"``, ``"pyarrow"``,
        ``"pandas"``, ``"spark"``...).
    source : str
        What was reduced (file names, a glob or a frame type).
    columns : dict
        The column names used: ``y_true``, ``y_pred``, ``y_score`` (None without scores) and
        ``sample_weight`` (None without weights).
    """

    features: tuple[str, ...]
    groups: Mapping[str, np.ndarray]
    scores: Mapping[str, np.ndarray] | None
    n_bins: int
    auc_bins: int
    engine: str
    source: str
    columns: Mapping[str, str | None]

    @property
    def n_rows(self) -> int:
        """Number of rows reduced."""
        return int(np.asarray(self.groups["count"]).sum())

    @property
    def has_scores(self) -> bool:
        """True when the log had a score column."""
        return "score_bin" in self.groups

    @property
    def has_weights(self) -> bool:
        """True when the log was reduced with ``sample_weight=`` (weighted metrics)."""
        return "weight_sum" in self.groups

    @property
    def has_log_loss(self) -> bool:
        """True when the log-loss sums were computed (``log_loss=True``)."""
        return "nll_pos" in self.groups

    def to_frame(self, which: str = "groups") -> Any:
        """Return the ``"groups"`` or ``"scores"`` table as a pandas DataFrame."""
        import pandas as pd

        if which == "groups":
            return pd.DataFrame(dict(self.groups))
        if which == "scores":
            if self.scores is None:
                raise DataValidationError("This count table has no scores.")
            return pd.DataFrame(dict(self.scores))
        raise DataValidationError(f"which must be 'groups' or 'scores'; got {which!r}.")


# ------------------------------------------------------------------ from an engine's output
def _numpy(col: Any) -> np.ndarray:
    """Convert a pyarrow column to numpy (strings as objects; dictionaries decoded)."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    out = col.to_numpy(zero_copy_only=False)
    return np.asarray(out)


def _missing_rows(col: Any, counts: np.ndarray) -> int:
    """Rows (summed ``counts``) whose key in ``col`` is null or NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bad = pc.is_null(col, nan_is_null=True) if pa.types.is_floating(col.type) else pc.is_null(col)
    mask = _numpy(bad).astype(bool)
    return int(counts[mask].sum())


def from_arrow(
    groups: Any,
    scores: Any,
    *,
    features: tuple[str, ...],
    columns: Mapping[str, str | None],
    n_bins: int,
    auc_bins: int,
    engine: str,
    source: str,
) -> CountTable:
    """Validate an engine's two result tables (pyarrow) and build a :class:`CountTable`.

    ``groups`` has the feature columns under :func:`feature_alias` names.

    Raises
    ------
    DataValidationError
        A missing group or label value, an invalid score, or no rows at all.
    """
    counts = _numpy(groups.column("count")).astype(np.int64)
    where = f" in {source}" if source else ""
    if counts.size == 0 or int(counts.sum()) == 0:
        raise DataValidationError(f"The predictions have no rows{where}.")
    for i, name in enumerate(features):
        k = _missing_rows(groups.column(feature_alias(i)), counts)
        if k:
            raise DataValidationError(
                f"Sensitive column {name!r} has {k} missing value(s){where}; fill them (for "
                "example with 'unknown') before auditing."
            )
    for key in ("y_true", "y_pred"):
        k = _missing_rows(groups.column(key), counts)
        if k:
            raise DataValidationError(
                f"{key} column {columns[key]!r} has {k} missing value(s) (NaN or None){where}; "
                "drop or fill them before auditing."
            )
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(features):
        out[name] = _numpy(groups.column(feature_alias(i)))
    out["y_true"] = _numpy(groups.column("y_true"))
    out["y_pred"] = _numpy(groups.column("y_pred"))
    sc: dict[str, np.ndarray] | None = None
    if "score_bin" in groups.column_names:
        bins = _numpy(groups.column("score_bin").fill_null(-1)).astype(np.int64)
        bad = int(counts[bins < 0].sum())
        if bad:
            example = None
            if scores is not None:
                s_min = _numpy(scores.column("score_min")).astype(np.float64)
                s_max = _numpy(scores.column("score_max")).astype(np.float64)
                example = _outside(np.r_[s_min, s_max])
            raise DataValidationError(
                f"y_score column {columns['y_score']!r} must hold probabilities in [0, 1]; "
                f"{bad} value(s){where} are missing, NaN or outside"
                + (f" (found {example!r})" if example is not None else "")
                + "."
            )
        out["score_bin"] = bins
        out["count"] = counts
        for key in GROUP_SUMS + (LOG_LOSS_SUMS if "nll_pos" in groups.column_names else ()):
            out[key] = _numpy(groups.column(key)).astype(np.float64)
    if scores is not None:
        sc = {
            "y_true": _numpy(scores.column("y_true")),
            "fine_bin": _numpy(scores.column("fine_bin")).astype(np.int64),
            "count": _numpy(scores.column("count")).astype(np.int64),
        }
        for key in SCORE_SUMS:
            sc[key] = _numpy(scores.column(key)).astype(np.float64)
        for key in SCORE_WEIGHT_SUMS:
            if key in scores.column_names:
                sc[key] = _numpy(scores.column(key)).astype(np.float64)
        if int(sc["count"].sum()) != int(counts.sum()):  # pragma: no cover - engine fault
            raise DataValidationError(
                f"The two reductions of {source or 'the log'} disagree on the number of rows "
                f"({int(counts.sum())} and {int(sc['count'].sum())}); did the data change "
                "while it was read?"
            )
    if "count" not in out:
        out["count"] = counts
    if "weight_sum" in groups.column_names:
        for key in WEIGHT_SUMS + WEIGHT_LOG_LOSS_SUMS:
            if key in groups.column_names:
                out[key] = _numpy(groups.column(key)).astype(np.float64)
        bad = ~np.isfinite(out["weight_sum"])
        if "weight_bad" in groups.column_names:  # engines whose sums skip NaN count them
            bad |= _numpy(groups.column("weight_bad")).astype(np.float64) > 0
        if bad.any():
            raise DataValidationError(
                f"sample_weight column {columns.get('sample_weight')!r} must hold finite "
                f"weights >= 0; {int(counts[bad].sum())} row(s){where} are in cells with a "
                "missing, NaN, infinite or negative weight."
            )
        if not out["weight_sum"].sum() > 0:
            raise DataValidationError(
                f"sample_weight column {columns.get('sample_weight')!r} sums to 0{where}."
            )
    return CountTable(
        features=features, groups=out, scores=sc, n_bins=n_bins, auc_bins=auc_bins,
        engine=engine, source=source, columns=dict(columns),
    )  # fmt: skip


def _outside(values: np.ndarray) -> float | None:
    """Return a finite value of ``values`` outside [0, 1], if any (for the message)."""
    v = values[np.isnan(values) | (values < 0) | (values > 1)]
    if v.size == 0:
        return None
    finite = v[np.isfinite(v)]
    return float(finite[np.argmax(np.abs(finite - 0.5))]) if finite.size else None
