"""Audit prediction logs larger than memory: the group-by runs in the engine that holds them.

:func:`reduce_predictions` sends the two group-bys of the audit (the fairness engine's count
table, and the score cells of the performance section) to DuckDB (Parquet/CSV files, globs,
relations), Polars, PyArrow or pandas (through narwhals) or Spark (``groupBy().agg()`` on the
cluster), and brings back a :class:`CountTable` of a few thousand rows, whatever the size of
the log. :func:`auditkit.audit_predictions` does this by itself when ``data`` is a path or a
non-pandas frame, and also accepts a :class:`CountTable`.

:func:`reduce_regression` does the same for a regression log (numbers predicted): the
regression engine's sums and histogram tables, as a :class:`RegressionCountTable`.
"""

from __future__ import annotations

from ._duckdb import resolve_paths as resolve_paths
from ._reduce import reduce_predictions as reduce_predictions
from ._regression import RegressionCountTable as RegressionCountTable
from ._regression_api import reduce_regression as reduce_regression
from ._table import AUC_BINS as AUC_BINS
from ._table import CountTable as CountTable

__all__ = [
    "AUC_BINS", "CountTable", "RegressionCountTable", "reduce_predictions", "reduce_regression",
    "resolve_paths",
]  # fmt: skip
