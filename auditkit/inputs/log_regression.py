"""The inputs of ``audit_predictions`` for a regression: true and predicted numbers, no model.

On rows (arrays, a pandas DataFrame, a file read into memory) the two columns are checked
(finite numbers, named on the first bad row) and kept as :class:`RegressionPredictions`. A
log reduced inside its own engine (Parquet/CSV files, Polars, DuckDB, Spark) becomes the
regression engine's tables through :func:`auditkit.scale.reduce_regression`, decoded here into
:class:`RegressionCounts` (group values as the strings of the row path).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.validation import check_same_length
from ..exceptions import DataValidationError, ParameterError
from .context import AuditConfig, RegressionCounts, RegressionPredictions
from .fingerprint import data_fingerprint
from .groups import sensitive_frame
from .prepare import Prepared, assemble_regression
from .task import is_continuous, many_numbers, target_values
from .weights import row_weights

__all__ = ["peek_task", "prepare_log_regression", "prepare_reduced_regression"]

FUNC = "audit_predictions"
#: Rows of a reduced log read to decide ``task="auto"`` (the log itself is never read whole).
PEEK_ROWS = 10_000


def prepare_log_regression(
    config: AuditConfig, y_true: Any, y_pred: Any, *, sensitive_features: Any, data: Any,
    source_name: str, sample_weight: Any, weight_source: str | None, reference_groups: Any,
    target: str,
) -> Prepared:  # fmt: skip
    """Check a regression log's rows and build its context (``ctx.regression``)."""
    yt = target_values(y_true, name="y_true")
    yp = target_values(y_pred, name="y_pred")
    n = check_same_length(y_true=yt, y_pred=yp)
    if n == 0:
        raise DataValidationError("The predictions have no rows.")
    groups = sensitive_frame(
        sensitive_features, data, n, schema=None, where=source_name,
        max_groups=config.max_groups, func=FUNC,
    )  # fmt: skip
    weights = None
    if sample_weight is not None:
        weights = row_weights(sample_weight, n, FUNC)
        weight_source = weight_source or "sample_weight (array)"
    unit = config.options.get("target_unit")
    reg = RegressionPredictions(
        y_true=yt, y_pred=yp, sample_weight=weights, target=target, unit=unit
    )
    data_info = {
        "name": str(config.provenance.get("data_name", "prediction log")),
        "sha256": data_fingerprint(yt, yp, weights),
        "modality": "predictions",
    }
    return assemble_regression(
        config, func=FUNC, regression=reg, groups=groups, reference_groups=reference_groups,
        data_info=data_info, weight_source=weight_source, target=target, unit=unit,
    )  # fmt: skip


def peek_task(task: str, data: Any, kind: str, y_true: Any, y_pred: Any) -> str:
    """Decide the task of a log that is reduced in its engine, from its first rows.

    ``task="auto"`` reads the first :data:`PEEK_ROWS` rows of the two columns (never the whole
    log); an explicit task is returned as it is.
    """
    if task != "auto" or kind == "counts":
        return "classification" if task == "auto" else task
    if not (isinstance(y_true, str) and isinstance(y_pred, str)):
        return "classification"  # the reduction refuses it, naming the parameter
    head = _head(data, kind, [y_true, y_pred])
    if head is None:
        return "classification"
    yt, yp = head[y_true], head[y_pred]
    if is_continuous(yt) or (many_numbers(yt) and is_continuous(yp)):
        return "regression"
    return "classification"


def _head(data: Any, kind: str, columns: list[str]) -> Any:
    """Return the first rows of ``columns`` as pandas (None when not read cheaply)."""
    try:
        if kind == "path":
            from ..scale._duckdb import _ident, _source_sql, connect, resolve_paths

            paths, fmt, _ = resolve_paths(data)
            con, tmp = connect()
            try:
                cols = ", ".join(_ident(c) for c in dict.fromkeys(columns))
                sql = f"SELECT {cols} FROM {_source_sql(paths, fmt)} LIMIT {PEEK_ROWS}"
                return con.sql(sql).df()
            finally:
                con.close()
                tmp.cleanup()
        if kind == "duckdb":
            return data.select(*columns).limit(PEEK_ROWS).df()
        if kind == "spark":
            return data.select(*columns).limit(PEEK_ROWS).toPandas()
        import narwhals as nw

        frame = nw.from_native(data).select(columns).head(PEEK_ROWS)
        if isinstance(frame, nw.LazyFrame):
            frame = frame.collect()
        return frame.to_pandas()
    except Exception:  # noqa: BLE001 - the reduction itself names a missing column or file
        return None


def prepare_reduced_regression(
    config: AuditConfig, data: Any, *, y_true: Any, y_pred: Any, sensitive_features: Any,
    sample_weight: Any, memory_limit: str | None, reference_groups: Any,
) -> Prepared:  # fmt: skip
    """Reduce a regression log in its engine and build its context (``ctx.regression_counts``).

    The reduction is :func:`auditkit.scale.reduce_regression` (the sums table and the
    histogram of the regression engine, :mod:`auditkit.metrics.regression`).

    Raises
    ------
    ParameterError
        When ``data`` is a classification ``CountTable``, ``sample_weight`` is not a column
        name, or ``custom_metrics`` are asked for (they need rows).
    """
    from ..scale._reduce import column_names
    from ..scale._table import CountTable

    if isinstance(data, CountTable):
        raise ParameterError(
            "task='regression' was given with a CountTable, which holds the counts of a "
            "classification; reduce the regression log again (or pass its rows)."
        )
    if config.options.get("custom_metrics"):
        raise ParameterError(
            "custom_metrics are computed from the rows, which a reduced log does not keep; pass "
            "reduce=False to audit an in-memory frame row by row."
        )
    if sample_weight is not None and not isinstance(sample_weight, str):
        raise ParameterError(
            "sample_weight of audit_predictions must name a column of data when the log is "
            f"reduced in its engine; got {type(sample_weight).__name__} (or pass reduce=False)."
        )
    yt, yp, _, feats = column_names(y_true, y_pred, None, sensitive_features, func=FUNC)
    reduced = _reduce_regression(
        data, y_true=yt, y_pred=yp, sensitive_features=list(feats),
        sample_weight=sample_weight, memory_limit=memory_limit,
    )  # fmt: skip
    counts, cells = _decode(reduced, config)
    unit = config.options.get("target_unit")
    data_info = {
        "name": str(config.provenance.get("data_name", counts.source)),
        "sha256": _fingerprint(counts),
        "fingerprint_of": "the reduced tables (cells and sums), not the file bytes",
        "modality": "predictions",
        "engine": counts.engine,
        "reduction": {
            "engine": counts.engine,
            "source": counts.source,
            "group_cells": int(len(np.asarray(counts.sums["count"]))),
            "histogram_cells": None
            if counts.histogram is None
            else int(len(np.asarray(next(iter(counts.histogram.values()))))),
        },
    }
    return assemble_regression(
        config, func=FUNC, regression=None, groups=cells, reference_groups=reference_groups,
        data_info=data_info, counts=counts, target=yt, unit=unit,
        weight_source=f"column {sample_weight!r}" if sample_weight is not None else None,
    )  # fmt: skip


def _reduce_regression(data: Any, **kwargs: Any) -> Any:
    """Reduce the log in its engine (:func:`auditkit.scale.reduce_regression`)."""
    from ..scale import reduce_regression

    return reduce_regression(data, **kwargs)


def _decode(reduced: Any, config: AuditConfig) -> tuple[RegressionCounts, Any]:
    """Decode the group values as the strings of the row path; return the counts and groups."""
    from .counts import regression_counts

    counts = regression_counts(reduced, max_groups=config.max_groups, func=FUNC)
    n_sums = len(np.asarray(counts.sums["count"]))
    cells = sensitive_frame(
        {f: counts.sums[f] for f in counts.features}, None, n_sums,
        max_groups=config.max_groups, func=FUNC,
    )  # fmt: skip
    assert cells is not None
    return counts, cells


def _fingerprint(counts: RegressionCounts) -> str:
    """sha256 of the sums table, independent of the order of its rows."""
    import pandas as pd

    frame = pd.DataFrame({k: np.asarray(v) for k, v in counts.sums.items()})
    keys = list(counts.features)
    if keys:
        frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return data_fingerprint(frame)
