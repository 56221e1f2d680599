"""The task of an audit, decided once: a classification or a regression.

``task="auto"`` (the default of ``audit`` and ``audit_predictions``) decides from what the model
is and what the target holds:

- a model that says it predicts numbers is a regression: a scikit-learn regressor (or a
  pipeline ending in one; an estimator with ``predict`` but no ``predict_proba``,
  ``decision_function`` or ``classes_``), a Hugging Face model whose ``problem_type`` is
  ``"regression"``, an ONNX graph ending in a regressor node;
- a model that may be read either way (a torch module, an ONNX graph, a LightningModule, a
  callable) is a regression when the target is continuous, a classifier otherwise (a one-output
  torch module with 0/1 labels stays a binary classifier);
- a log of decisions is a regression when its target is continuous, or when its predictions
  are continuous and its target holds many distinct numbers (an integer target such as hours
  per week).

A target is *continuous* when it holds real numbers (not booleans), some of them with a
fraction, and more than :data:`~auditkit.inputs.labels.CONTINUOUS_MIN_VALUES` distinct values.
A continuous target with a model that only classifies, or with ``task="classification"``, is
refused in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..adapters.base import TASKS, ModelAdapter, Task, check_task
from ..exceptions import DataValidationError, ParameterError
from .labels import CONTINUOUS_MIN_VALUES

__all__ = [
    "TASKS",
    "check_task",
    "is_continuous",
    "log_task",
    "many_numbers",
    "model_task",
    "numbers",
    "refuse_class_parameters",
    "target_name",
    "target_values",
]

#: Rows looked at first when counting distinct values (the whole column only when needed).
_SAMPLE = 100_000


def numbers(values: Any) -> np.ndarray | None:
    """Return ``values`` as a float64 array when it holds real numbers (not bools), else None.

    Missing values (NaN, None) become NaN; any other value that is not a number (a string, a
    bool) gives None. Text and categorical columns are answered from their dtype, without
    reading their values.
    """
    import pandas as pd

    if isinstance(values, pd.DataFrame) and values.shape[1] == 1:
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series) and not (
        pd.api.types.is_numeric_dtype(values.dtype) or values.dtype == object
    ):
        return None  # strings, categories, dates: never the numbers of a regression
    if isinstance(values, pd.Series) and pd.api.types.is_bool_dtype(values.dtype):
        return None
    arr = _plain(values)
    if arr.ndim != 1:
        return None
    if arr.dtype.kind in "iuf":
        return np.asarray(arr, dtype=np.float64)
    if arr.dtype.kind != "O" or arr.size == 0:
        return None
    if any(isinstance(v, (str, bytes, bool, np.bool_)) for v in arr[:100].tolist()):
        return None  # text or booleans: answered from the first values
    kind = pd.api.types.infer_dtype(arr, skipna=True)
    if kind not in ("floating", "integer", "mixed-integer-float", "empty"):
        return None
    out = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce")
    return np.asarray(out, dtype=np.float64)


def _plain(values: Any) -> np.ndarray:
    """Return ``values`` as a 1-d array; pandas' nullable numbers become float64 with NaN."""
    import pandas as pd

    if isinstance(values, pd.DataFrame) and values.shape[1] == 1:
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        dt = values.dtype
        if pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return values.to_numpy()
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    return arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr


def _distinct_over(x: np.ndarray, limit: int) -> bool:
    """Whether the finite values of ``x`` hold more than ``limit`` distinct values."""
    import pandas as pd

    head = x[:_SAMPLE]
    if np.unique(head[np.isfinite(head)]).size > limit:
        return True
    if x.size <= _SAMPLE:
        return False
    return pd.unique(x[np.isfinite(x)]).size > limit  # hashing: one pass, no sort


def _has_fraction(x: np.ndarray) -> bool:
    """Whether a finite value of ``x`` has a fraction (chunked: stops at the first one)."""
    step = 1 << 20
    for s in range(0, x.size, step):
        c = x[s : s + step]
        c = c[np.isfinite(c)]
        if (c != np.round(c)).any():
            return True
    return False


def is_continuous(values: Any) -> bool:
    """Whether ``values`` is a continuous target (numbers, with fractions, many distinct)."""
    dtype = getattr(values, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "") in "iub":
        return False  # integers have no fractions (and bools are labels)
    x = numbers(values)
    if x is None or not _has_fraction(x):
        return False
    return _distinct_over(x, CONTINUOUS_MIN_VALUES)


def many_numbers(values: Any) -> bool:
    """Whether ``values`` holds real numbers with more than ten distinct values."""
    x = numbers(values)
    return x is not None and _distinct_over(x, CONTINUOUS_MIN_VALUES)


def log_task(task: str, y_true: Any, y_pred: Any, *, func: str) -> Task:
    """Decide the task of a log of decisions (see the module docstring).

    Raises
    ------
    DataValidationError
        For ``task="classification"`` with a continuous ``y_true``.
    """
    if task == "regression":
        return "regression"
    continuous = is_continuous(y_true)
    if task == "classification":
        if continuous:
            raise DataValidationError(
                f"y_true holds continuous values (numbers with fractions, more than "
                f"{CONTINUOUS_MIN_VALUES} distinct), but {func} was given task="
                "'classification', which needs class labels. Audit it as a regression "
                "(task='regression' or 'auto'; --task regression), or give class labels (for "
                "example a binned target)."
            )
        return "classification"
    if continuous or (many_numbers(y_true) and is_continuous(y_pred)):
        return "regression"
    return "classification"


def model_task(adapter: ModelAdapter, y: Any, task: str, *, func: str) -> ModelAdapter:
    """Return ``adapter`` read as the audit's task, decided from the model and ``y``.

    Raises
    ------
    ParameterError
        When the model cannot be read as an explicit ``task`` (from
        :meth:`~auditkit.adapters.base.ModelAdapter.with_task`).
    DataValidationError
        When ``y`` is continuous but the model is a classifier, or ``task="classification"``
        is given with a continuous ``y``.
    """
    if task != "auto":
        adapter = adapter.with_task(task)
        if task == "classification" and is_continuous(y):
            raise DataValidationError(
                f"y holds continuous values (numbers with fractions, more than "
                f"{CONTINUOUS_MIN_VALUES} distinct), but {func} was given task="
                "'classification', which needs class labels; audit it with task='regression' "
                "(--task regression), or give class labels."
            )
        return adapter
    if adapter.task == "regression":
        return adapter
    if not is_continuous(y):
        return adapter
    if adapter.can_regress:
        return adapter.with_task("regression")
    raise DataValidationError(
        f"y holds continuous values (numbers with fractions, more than "
        f"{CONTINUOUS_MIN_VALUES} distinct), a regression target, but the model "
        f"{adapter.name!r} ({adapter.kind}) is a classifier: it predicts class probabilities, "
        "not a number. Audit a regressor, or give class labels."
    )


def target_values(values: Any, *, name: str, where: str = "") -> np.ndarray:
    """Return the values of a regression's target or predictions as float64, all finite.

    Raises
    ------
    DataValidationError
        Naming ``name`` (and ``where``) and the first row that is not a finite number.
    """
    at = f" of {where}" if where else ""
    x = numbers(values)
    if x is None:
        arr = _plain(values)
        if arr.ndim != 1:
            raise DataValidationError(
                f"{name}{at} must be one-dimensional; got an array of shape {arr.shape}."
            )
        row, bad = _first_not_number(arr)
        raise DataValidationError(
            f"{name}{at} must hold numbers for a regression; row {row} holds {bad!r}."
        )
    nonfinite = ~np.isfinite(x)
    if nonfinite.any():
        i = int(np.flatnonzero(nonfinite)[0])
        raise DataValidationError(
            f"{name}{at} has {int(nonfinite.sum()):,} missing or infinite value(s), the first "
            f"({float(x[i])!r}) at row {i}; a regression needs a finite number on every row: "
            "drop or fill them."
        )
    return x


def _first_not_number(arr: np.ndarray) -> tuple[int, Any]:
    import numbers as _numbers

    for i, v in enumerate(arr.tolist()):
        if v is None or isinstance(v, (bool, np.bool_)) or not isinstance(v, _numbers.Real):
            v = v.item() if isinstance(v, np.generic) else v
            return i, v
    return 0, arr[0] if arr.size else None  # pragma: no cover - numbers() said otherwise


def refuse_class_parameters(func: str, **given: Any) -> None:
    """Refuse the parameters of classes (``pos_label``...) given to a regression.

    Raises
    ------
    ParameterError
        Naming the first parameter that is not None.
    """
    for name, value in given.items():
        if value is not None:
            shown = repr(value) if isinstance(value, (str, int, float, bool)) else "..."
            what = "scores of classes" if name == "y_score" else "classes"
            raise ParameterError(
                f"{name}={shown[:60]} is about {what}, but this {func} is a regression (it "
                f"predicts a number): leave {name} unset, or pass task='classification' for "
                "class labels."
            )


def target_name(y: Any, default: str | None = None) -> str:
    """Return the target's name: a named column's name, else ``default``, else ``"target"``."""
    name = getattr(y, "name", None)
    if isinstance(name, str) and name.strip():
        return name
    return default if default else "target"
