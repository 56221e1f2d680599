"""Validation helpers shared by the public entry points. One message template for parameters."""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import DataValidationError, ParameterError

PARAM_MSG = "The {param!r} parameter of {func} must be {expected}. Got {got!r} instead."


def check_param(ok: bool, *, param: str, func: str, expected: str, got: Any) -> None:
    """Raise :class:`ParameterError` with the house template unless ``ok``."""
    if not ok:
        raise ParameterError(PARAM_MSG.format(param=param, func=func, expected=expected, got=got))


def check_int(
    value: Any, *, param: str, func: str, low: int = 0, high: float = float("inf")
) -> int:
    """Return ``value`` as an int in ``[low, high]`` or raise :class:`ParameterError`."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    ok = ok and low <= int(value) <= high
    hi = "inf)" if high == float("inf") else f"{int(high)}]"
    check_param(
        ok, param=param, func=func, expected=f"an int in the range [{low}, {hi}", got=value
    )
    return int(value)


def check_float_open(value: Any, *, param: str, func: str, low: float, high: float) -> float:
    """Return ``value`` as a float in the open interval ``(low, high)``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and low < float(value) < high
    check_param(
        ok, param=param, func=func, expected=f"a float in the range ({low}, {high})", got=value
    )
    return float(value)


#: The largest seed: scikit-learn and numpy's legacy seeding take 32-bit seeds, and sections
#: pass the audit's seed on to them.
MAX_SEED = 2**32 - 1


def check_random_state(seed: Any, *, func: str = "audit") -> np.random.Generator:
    """Turn an int, a Generator or None into a ``numpy.random.Generator``."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if (
        isinstance(seed, numbers.Integral)
        and not isinstance(seed, bool)
        and 0 <= int(seed) <= MAX_SEED
    ):
        return np.random.default_rng(int(seed))
    raise ParameterError(
        PARAM_MSG.format(
            param="random_state",
            func=func,
            expected=f"an int in the range [0, {MAX_SEED}], a numpy Generator or None",
            got=seed,
        )
    )


def seed_int(seed: Any, *, func: str = "audit") -> int:
    """Return a deterministic int seed from ``random_state`` (0 for None)."""
    if seed is None:
        return 0
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**31 - 1))
    check_random_state(seed, func=func)
    return int(seed)


def did_you_mean(name: str, options: Sequence[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest option, or an empty string."""
    lowered = {o.lower(): o for o in options}
    if name.lower() in lowered:
        return f" (did you mean {lowered[name.lower()]!r}?)"
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_available(options: Sequence[Any], limit: int = 30) -> str:
    """Return a comma-separated list of ``options``, cut after ``limit`` entries."""
    opts = [str(o) for o in options]
    text = ", ".join(opts[:limit])
    if len(opts) > limit:
        text += f", ... ({len(opts) - limit} more)"
    return text


def check_columns(
    columns: Sequence[str], available: Sequence[Any], *, what: str = "Column", where: str = "data"
) -> None:
    """Raise :class:`DataValidationError` naming the first missing column and what is there."""
    avail = [str(a) for a in available]
    for col in columns:
        if col not in list(available):
            raise DataValidationError(
                f"{what} {col!r} not found in {where}{did_you_mean(str(col), avail)}; "
                f"available: {format_available(avail)}"
            )


def to_1d(values: Any, *, name: str) -> np.ndarray:
    """Turn a list, Series, array or single-column frame into a 1-d numpy array."""
    if hasattr(values, "to_numpy"):
        arr = values.to_numpy()
    else:
        arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataValidationError(
            f"{name} must be one-dimensional; got an array of shape {arr.shape}."
        )
    return arr


def check_no_missing(arr: np.ndarray, *, name: str) -> None:
    """Raise if ``arr`` holds NaN or None, naming ``name`` and the first position."""
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(arr))
    elif arr.dtype.kind == "O":
        import pandas as pd

        bad = np.flatnonzero(pd.isna(arr))
    else:
        return
    if bad.size:
        raise DataValidationError(
            f"{name} has {bad.size} missing value(s) (NaN or None), the first at row {bad[0]}; "
            "drop or fill them before auditing."
        )


def check_same_length(**arrays: Any) -> int:
    """Raise if the arrays differ in length; return the common length."""
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise DataValidationError(f"Inputs differ in length: {desc} rows.")
    return next(iter(lengths.values())) if lengths else 0


def check_probabilities(proba: np.ndarray, *, name: str = "y_score") -> np.ndarray:
    """Check that ``proba`` holds probabilities in [0, 1] and rows that sum to 1 (2-d case)."""
    p = np.asarray(proba, dtype=np.float64)
    if not np.all(np.isfinite(p)):
        i = int(np.flatnonzero(~np.isfinite(p).reshape(len(p), -1).all(axis=1))[0])
        raise DataValidationError(f"{name} holds a non-finite value at row {i}.")
    if p.size and (p.min() < 0 or p.max() > 1):
        bad = p.min() if p.min() < 0 else p.max()
        i = int(np.flatnonzero(((p < 0) | (p > 1)).reshape(len(p), -1).any(axis=1))[0])
        raise DataValidationError(
            f"{name} must hold probabilities in [0, 1]; found {float(bad)!r} at row {i}."
        )
    if p.ndim == 2 and p.shape[1] > 1:
        s = p.sum(axis=1)
        if not np.allclose(s, 1.0, atol=1e-4):
            i = int(np.flatnonzero(~np.isclose(s, 1.0, atol=1e-4))[0])
            raise DataValidationError(
                f"{name} rows must sum to 1; row {i} sums to {float(s[i])!r}."
            )
    return p
