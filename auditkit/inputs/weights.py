"""The weights of an audit's rows (``sample_weight``), checked once."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.validation import PARAM_MSG, to_1d
from ..exceptions import DataValidationError, ParameterError

__all__ = ["check_sample_weight", "row_weights"]


def check_sample_weight(weight: Any, n: int, *, func: str) -> np.ndarray:
    """Return the weights as float64 after checking them (finite, >= 0, not all 0)."""
    try:
        arr = to_1d(weight, name="sample_weight")
    except DataValidationError:
        raise
    if arr.dtype.kind not in "iuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(
                f"sample_weight of {func} must hold numbers; got values of type "
                f"{arr.dtype} ({exc})."
            ) from exc
        if arr.dtype.kind not in "iuf":  # pragma: no cover - astype gave float64
            raise DataValidationError(f"sample_weight of {func} must hold numbers.")
    w = np.asarray(arr, dtype=np.float64)
    if len(w) != n:
        raise DataValidationError(
            f"sample_weight of {func} has {len(w):,} values but the data has {n:,} rows."
        )
    bad = ~np.isfinite(w)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"sample_weight of {func} has {int(bad.sum())} missing or infinite value(s), the "
            f"first ({w[i]!r}) at row {i}; weights must be finite numbers >= 0."
        )
    neg = w < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise DataValidationError(
            f"sample_weight of {func} has {int(neg.sum())} negative weight(s), the first "
            f"({float(w[i])!r}) at row {i}; weights must be >= 0."
        )
    if not (w > 0).any():
        raise DataValidationError(
            f"Every sample_weight of {func} is 0; at least one row needs a positive weight."
        )
    return w


def row_weights(sample_weight: Any, n: int, func: str) -> np.ndarray:
    """``sample_weight`` given as values aligned with the rows."""
    if isinstance(sample_weight, str):
        raise ParameterError(
            PARAM_MSG.format(
                param="sample_weight", func=func,
                expected="an array of one weight per row (a column name only with "
                "audit_predictions(data=...))",
                got=sample_weight,
            )
        )  # fmt: skip
    return check_sample_weight(sample_weight, n, func=func)
