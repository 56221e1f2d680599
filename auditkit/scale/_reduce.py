"""``reduce_predictions``: send the group-by to the data's own engine, get the counts back."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .._core.validation import PARAM_MSG, check_int, check_param
from ..exceptions import ParameterError
from ._regression import RegressionCountTable
from ._table import AUC_BINS, RESERVED, CountTable, resolve_max_groups

__all__ = ["data_kind", "reduce_predictions"]


def data_kind(data: Any) -> str:
    """Classify ``data``: counts, regression_counts, path, duckdb, spark, pandas or a frame."""
    if isinstance(data, CountTable):
        return "counts"
    if isinstance(data, RegressionCountTable):
        return "regression_counts"
    if isinstance(data, (str, os.PathLike)):
        return "path"
    if (
        isinstance(data, (list, tuple))
        and data
        and all(isinstance(d, (str, os.PathLike)) for d in data)
    ):
        return "path"
    module = type(data).__module__.split(".")[0]
    if module == "duckdb":
        return "duckdb"
    if module == "pyspark":
        return "spark"
    if module == "pandas" and type(data).__name__ == "DataFrame":
        return "pandas"
    return "frame"


def _name(value: Any, param: str, func: str) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(
            PARAM_MSG.format(param=param, func=func, expected="a column name (str)", got=value)
        )
    return value


def column_names(
    y_true: Any, y_pred: Any, y_score: Any, sensitive_features: Any, *, func: str
) -> tuple[str, str, str | None, tuple[str, ...]]:
    """Validate the column-name arguments used with ``data=``."""
    yt = _name(y_true, "y_true", func)
    yp = _name(y_pred, "y_pred", func)
    ys = None if y_score is None else _name(y_score, "y_score", func)
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
    return yt, yp, ys, tuple(sf)


def reduce_predictions(
    data: Any,
    *,
    y_true: str,
    y_pred: str,
    sensitive_features: str | Sequence[str],
    y_score: str | None = None,
    n_bins: int = 10,
    auc_bins: int = AUC_BINS,
    score_cells: bool = True,
    log_loss: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    show_progress: bool = False,
    sample_weight: str | None = None,
    max_groups: int | None = None,
) -> CountTable:
    """Reduce a prediction log to its count tables inside the engine that holds it.

    Parameters
    ----------
    data : path, glob, list of paths, or data frame
        Parquet or CSV files (read by DuckDB, out of core), a pandas, Polars (eager or lazy)
        or PyArrow frame (through narwhals), a DuckDB relation (DuckDB SQL) or a PySpark
        DataFrame (Spark's ``groupBy().agg()`` on its cluster).
    y_true, y_pred : str
        Columns of the true labels and of the decisions.
    sensitive_features : str or list of str
        Columns of the groups to compare.
    y_score : str, default=None
        Column of the positive-class score (binary tasks).
    n_bins : int, default=10
        Calibration bins.
    auc_bins : int, default=16384
        Fine bins of the ROC AUC histogram; the audit states the largest possible difference
        from the exact AUC that this resolution allows, and it is 0 when no bin mixes
        different scores of both classes.
    score_cells : bool, default=True
        Also compute the ROC AUC histogram of the performance section (a second group-by,
        over the same scan with DuckDB 2). False when only fairness is audited.
    log_loss : bool, default=False
        Also sum ``-log(score)`` and ``-log(1 - score)`` (and their squares, for the
        bootstrap) into the count table, for the exact log loss. It is the only per-row
        transcendental work of the reduction: two logarithms per row, about 0.75x the time of
        the count table itself on a 1e8-row Parquet file (``benchmarks/RESULTS.md``), hence
        on request.
    memory_limit : str, default=None
        DuckDB's memory budget for files (``"2GB"``); DuckDB spills to disk beyond it.
    threads : int, default=None
        DuckDB threads for files (default: all cores).
    show_progress : bool, default=False
        A progress bar on stderr while DuckDB reads files.
    sample_weight : str, default=None
        Column of the sample weights (finite, >= 0): adds ``weight_sum``, ``weight_sq_sum``
        and, with scores, ``weight_score_sum`` and ``weight_score_sq_sum`` to the count table,
        as the row path's :func:`auditkit.metrics.engine.count_table` does; the fairness
        metrics are then weighted (Fairlearn's ``sample_params``). The ROC histogram gets
        ``weight_sum`` and ``weight_sq_sum`` per cell and, with ``log_loss=True``, the count
        table the weighted log-loss sums (``weight_nll_pos`` ...), so the performance section
        is weighted too (scikit-learn's ``sample_weight=``).
    max_groups : int, default=None
        Ceiling on the distinct values of each sensitive column (default
        ``auditkit._core.limits.DEFAULT_MAX_GROUPS``). A first, cheap pass over the sensitive
        columns alone counts them (approximately, by HyperLogLog, for files, DuckDB, Spark and
        Polars LazyFrames; exactly for in-memory frames) and refuses a column above it before
        the group-by starts.

    Returns
    -------
    CountTable

    Raises
    ------
    DataValidationError
        A column is missing (the message names it and what is there), a group or label value
        is missing, a score is not a probability, a weight is missing, negative or not
        finite, a sensitive column has more distinct values than ``max_groups``, or a file
        cannot be read.
    ParameterError
        DuckDB is needed but not installed (the message names the extra), or bad settings.

    Examples
    --------
    >>> import pandas as pd
    >>> from auditkit.scale import reduce_predictions
    >>> df = pd.DataFrame({"y": [1, 0, 1, 1], "d": [1, 0, 0, 1], "g": ["a", "a", "b", "b"]})
    >>> table = reduce_predictions(df, y_true="y", y_pred="d", sensitive_features="g")
    >>> int(table.n_rows), table.engine
    (4, 'pandas')
    """
    func = "reduce_predictions"
    yt, yp, ys, feats = column_names(y_true, y_pred, y_score, sensitive_features, func=func)
    check_param(
        isinstance(log_loss, bool), param="log_loss", func=func, expected="True or False",
        got=log_loss,
    )  # fmt: skip
    n_bins = check_int(n_bins, param="n_bins", func=func, low=1)
    if sample_weight is not None:
        sample_weight = _name(sample_weight, "sample_weight", func)
    ceiling = resolve_max_groups(max_groups, func)
    auc_bins = check_int(auc_bins, param="auc_bins", func=func, low=1)
    kw: dict[str, Any] = {
        "features": feats, "y_true": yt, "y_pred": yp, "y_score": ys, "n_bins": n_bins,
        "auc_bins": auc_bins, "score_cells": bool(score_cells), "log_loss": bool(log_loss),
        "sample_weight": sample_weight, "max_groups": ceiling,
    }  # fmt: skip
    kind = data_kind(data)
    if kind == "counts":
        raise ParameterError("data is already a CountTable.")
    if kind == "regression_counts":
        raise ParameterError(
            "data is a RegressionCountTable (a regression log already reduced); audit it as a "
            "regression, not with reduce_predictions."
        )
    if kind == "path":
        from ._duckdb import reduce_paths

        return reduce_paths(
            data, memory_limit=memory_limit, threads=threads, show_progress=show_progress, **kw
        )
    if kind == "duckdb":
        from ._duckdb import reduce_relation

        return reduce_relation(data, **kw)
    if kind == "spark":
        from ._spark import reduce_spark

        return reduce_spark(data, **kw)
    from ._narwhals import reduce_frame

    return reduce_frame(data, **kw)
