"""The drift section's view of the inputs: two tables with the same columns, each column's kind.

A DataFrame is compared column by column under its own names; a 2-D numeric array under the
dataset schema's feature names where they fit, else ``x0, x1, ...``; a frame on one side and an
array on the other, by position, under the frame's names (the audit has already checked that
the shapes agree). Images (arrays of three or more dimensions) and texts are not tables:
:func:`tabular_reason` says so, and the section is skipped with that reason.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..exceptions import DataValidationError
from ._drift_stats import Kind

__all__ = ["column_values", "frames", "tabular_reason"]


def _is_frame(X: Any) -> bool:
    import sys

    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def _as_array(X: Any) -> Any:
    if hasattr(X, "detach"):  # a torch tensor
        X = X.detach().cpu().numpy()
    return np.asarray(X) if not isinstance(X, np.ndarray) else X


def _shape_words(X: Any) -> str:
    shape = getattr(X, "shape", None)
    return f" of shape {tuple(shape)}" if shape is not None else ""


def tabular_reason(X: Any, modality: str | None = None) -> str | None:
    """Return why ``X`` is not a table the section can compare, or None when it is one."""
    what = None
    if modality in ("image", "text"):
        what = "images" if modality == "image" else "texts"
    elif not _is_frame(X):
        try:
            arr = _as_array(X)
        except Exception:  # noqa: BLE001 - anything numpy cannot hold is not a table
            arr = None
        if arr is None or arr.dtype == object or arr.dtype.kind in "SU":
            what = "texts"
        elif arr.ndim >= 3:
            what = "images"
        elif arr.ndim != 2:
            what = f"an array with {arr.ndim} dimension(s)"
        elif arr.dtype.kind not in "biuf":
            what = f"an array of dtype {arr.dtype}"
    if what is None:
        return None
    return (
        "compares tabular inputs column by column (numbers and categories); these inputs are "
        f"{what}{_shape_words(X)}, so there are no columns to compare"
    )


def _names_for(X: Any, width: int, schema: Any) -> list[str]:
    names = list(getattr(schema, "feature_names", []) or []) if schema is not None else []
    if len(names) == width and len(set(names)) == width:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(width)]


def frames(X_train: Any, X_eval: Any, schema: Any = None) -> tuple[Any, Any]:
    """Return the two samples as DataFrames with the same columns in the same order.

    Raises
    ------
    DataValidationError
        When a column of one side is absent from the other (named), or the widths differ.
    """
    import pandas as pd

    f_tr, f_ev = _is_frame(X_train), _is_frame(X_eval)
    if f_tr and f_ev:
        ev_cols = [str(c) for c in X_eval.columns]
        tr_cols = [str(c) for c in X_train.columns]
        missing_tr = [c for c in ev_cols if c not in set(tr_cols)]
        missing_ev = [c for c in tr_cols if c not in set(ev_cols)]
        if missing_tr or missing_ev:
            side, col = (
                ("training", missing_tr[0]) if missing_tr else ("evaluation", missing_ev[0])
            )
            more = len(missing_tr) + len(missing_ev) - 1
            raise DataValidationError(
                f"The drift section compares the columns of the training and the evaluation "
                f"data, but column {col!r} is absent from the {side} data"
                + (f" ({more} more column(s) differ)" if more else "")
                + "; give both the same columns."
            )
        if len(set(ev_cols)) != len(ev_cols):
            raise DataValidationError("The evaluation data repeats a column name; rename it.")
        ev = X_eval.set_axis(ev_cols, axis=1)
        tr = X_train.set_axis(tr_cols, axis=1)[ev_cols]
        return tr.reset_index(drop=True), ev.reset_index(drop=True)
    if f_ev or f_tr:
        frame = X_eval if f_ev else X_train
        other = _as_array(X_train if f_ev else X_eval)
        cols = [str(c) for c in frame.columns]
        if other.ndim != 2 or other.shape[1] != len(cols):
            raise DataValidationError(
                f"The training data has {_shape_words(X_train) or 'no shape'} and the evaluation "
                f"data {_shape_words(X_eval) or 'no shape'}; give both the same columns."
            )
        a = pd.DataFrame(other, columns=cols)
        b = frame.set_axis(cols, axis=1).reset_index(drop=True)
        return (a, b) if f_ev else (b, a)
    tr, ev = _as_array(X_train), _as_array(X_eval)
    if tr.ndim != 2 or ev.ndim != 2 or tr.shape[1] != ev.shape[1]:
        raise DataValidationError(
            f"The training data has shape {tr.shape} and the evaluation data {ev.shape}; the "
            "drift section needs the same columns on both sides."
        )
    cols = _names_for(ev, ev.shape[1], schema)
    return pd.DataFrame(tr, columns=cols), pd.DataFrame(ev, columns=cols)


def _numeric(s: Any) -> np.ndarray | None:
    """Return the column as float64 with NaN for missing values, or None when it is not numeric."""
    import pandas as pd
    from pandas.api import types as t

    if t.is_bool_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype):
        return None
    if t.is_datetime64_any_dtype(s.dtype) or t.is_timedelta64_dtype(s.dtype):
        mask = s.isna().to_numpy()
        out = np.asarray(s.array.asi8, dtype=np.float64)
        out[mask] = np.nan
        return out
    if t.is_numeric_dtype(s.dtype) and not t.is_complex_dtype(s.dtype):
        return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    if s.dtype == object:
        present = s[~s.isna()].to_numpy()
        if all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in present
        ):
            return np.asarray(pd.to_numeric(s, errors="coerce"), dtype=np.float64)
    return None


def column_values(
    s_train: Any, s_eval: Any, declared: str | None = None
) -> tuple[Kind, np.ndarray, np.ndarray]:
    """Return a column's kind and its values on both sides.

    Numeric when both sides hold numbers (and the schema does not declare the column
    categorical): float64 arrays with NaN for missing values. Otherwise categorical: object
    arrays (missing values stay missing).
    """
    if declared != "categorical":
        a, b = _numeric(s_train), _numeric(s_eval)
        if a is not None and b is not None:
            return "numeric", a, b
    return "categorical", s_train.to_numpy(dtype=object), s_eval.to_numpy(dtype=object)
