"""``reduce_regression``: check the settings, send the log to the engine that holds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._core.validation import PARAM_MSG, check_int
from ..exceptions import ParameterError
from ._reduce import data_kind
from ._regression import (
    DEFAULT_HIST_BINS,
    DEFAULT_N_BLOCKS,
    RESERVED,
    RegressionCountTable,
    Spec,
)
from ._table import resolve_max_groups

__all__ = ["make_spec", "reduce_regression"]


def _name(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(
            PARAM_MSG.format(
                param=param, func="reduce_regression", expected="a column name (str)", got=value
            )
        )
    return value


def make_spec(
    *, y_true: Any, y_pred: Any, sensitive_features: Any, sample_weight: Any, row_id: Any,
    n_bins: Any, n_blocks: Any, max_groups: Any,
) -> Spec:  # fmt: skip
    """Validate the column names and settings of :func:`reduce_regression`."""
    func = "reduce_regression"
    yt, yp = _name(y_true, "y_true"), _name(y_pred, "y_pred")
    sf = [sensitive_features] if isinstance(sensitive_features, str) else sensitive_features
    if (
        not isinstance(sf, (list, tuple))
        or not sf
        or not all(isinstance(c, str) and c for c in sf)
    ):
        raise ParameterError(
            PARAM_MSG.format(
                param="sensitive_features", func=func,
                expected="a column name or a list of column names of data",
                got=sensitive_features,
            )
        )  # fmt: skip
    if len(set(sf)) != len(sf):
        dup = next(c for c in sf if list(sf).count(c) > 1)
        raise ParameterError(f"Sensitive feature {dup!r} is given more than once.")
    clash = [c for c in sf if c in RESERVED]
    if clash:
        raise ParameterError(
            f"Sensitive column {clash[0]!r} has the name of a count-table column "
            f"({', '.join(RESERVED)}); rename it before auditing."
        )
    w = None if sample_weight is None else _name(sample_weight, "sample_weight")
    rid = None if row_id is None else _name(row_id, "row_id")
    return Spec(
        features=tuple(sf), y_true=yt, y_pred=yp, sample_weight=w, row_id=rid,
        n_bins=check_int(n_bins, param="n_bins", func=func, low=1, high=1_000_000),
        n_blocks=check_int(n_blocks, param="n_blocks", func=func, low=1, high=1_000_000),
        max_groups=resolve_max_groups(max_groups, func),
    )  # fmt: skip


def reduce_regression(
    data: Any,
    *,
    y_true: str,
    y_pred: str,
    sensitive_features: str | Sequence[str],
    sample_weight: str | None = None,
    n_bins: int = DEFAULT_HIST_BINS,
    n_blocks: int = DEFAULT_N_BLOCKS,
    memory_limit: str | None = None,
    row_id: str | None = None,
    threads: int | None = None,
    max_groups: int | None = None,
) -> RegressionCountTable:
    """Reduce a regression prediction log to the regression engine's count tables.

    The group-bys run in the engine that holds the log; only the tables come back (their
    layout: :mod:`auditkit.metrics.regression`). Two passes: one aggregate (ranges, mean
    target, checks), then the group-bys (see the module docstring of
    :mod:`auditkit.scale._regression`).

    Parameters
    ----------
    data : path, glob, list of paths, or data frame
        Parquet or CSV files (read by DuckDB, out of core), a DuckDB relation, a pandas,
        Polars (eager or lazy) or PyArrow frame (through narwhals), or a PySpark DataFrame.
    y_true, y_pred : str
        Columns of the true values and of the predictions (finite numbers).
    sensitive_features : str or list of str
        Columns of the groups to compare.
    sample_weight : str, default=None
        Column of the sample weights (finite, >= 0).
    n_bins : int, default=256
        Equal-width histogram bins over the range of the predictions, of
        ``|y_pred - y_true|`` (from 0) and of the targets, shared by every group.
    n_blocks : int, default=512
        Bootstrap blocks per cell (the engine's block bootstrap).
    memory_limit : str, default=None
        DuckDB's memory budget for files (``"1GB"``); DuckDB spills to disk beyond it.
    row_id : str, default=None
        Column of a row identifier: the bootstrap block is a hash of it, so the table does not
        depend on the order of the rows. Default: the row position (in-memory frames: the
        row path's own blocks).
    threads : int, default=None
        DuckDB threads for files (default: all cores).
    max_groups : int, default=None
        Ceiling on the distinct values of each sensitive column (default
        ``auditkit._core.limits.DEFAULT_MAX_GROUPS``), checked in the first pass.

    Returns
    -------
    RegressionCountTable

    Raises
    ------
    DataValidationError
        A missing column (named, with the columns there), missing or non-finite targets,
        predictions or weights (the column and the number of rows), a sensitive column with
        missing values or too many distinct values, or a file that cannot be read.
    ParameterError
        Bad settings, or an engine that is needed but not installed.

    Examples
    --------
    >>> import pandas as pd
    >>> from auditkit.scale import reduce_regression
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "yhat": [1.5, 2.0, 2.0, 5.0],
    ...                    "g": ["a", "a", "b", "b"]})
    >>> t = reduce_regression(df, y_true="y", y_pred="yhat", sensitive_features="g")
    >>> t.n_rows, t.engine, float(t.sums["abs_residual_sum"].sum())
    (4, 'pandas', 1.5)
    """
    spec = make_spec(
        y_true=y_true, y_pred=y_pred, sensitive_features=sensitive_features,
        sample_weight=sample_weight, row_id=row_id, n_bins=n_bins, n_blocks=n_blocks,
        max_groups=max_groups,
    )  # fmt: skip
    kind = data_kind(data)
    if kind in ("counts", "regression_counts"):
        raise ParameterError(f"data is already a count table ({type(data).__name__}).")
    if kind == "path":
        from ._regression_duckdb import reduce_paths

        return reduce_paths(data, spec, memory_limit=memory_limit, threads=threads)
    if kind == "duckdb":
        from ._regression_duckdb import reduce_relation

        return reduce_relation(data, spec)
    if kind == "spark":
        from ._regression_spark import reduce_spark

        return reduce_spark(data, spec)
    from ._regression_frames import reduce_frame

    return reduce_frame(data, spec)
