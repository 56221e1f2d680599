"""The inputs of ``audit_predictions``: a log of decisions (and scores), with no model.

Arrays, a pandas DataFrame and files or frames read into memory are audited row by row here;
a log reduced to count tables inside its own engine goes to :mod:`auditkit.inputs.counts`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.validation import (
    PARAM_MSG,
    check_columns,
    check_probabilities,
    check_same_length,
    to_1d,
)
from ..exceptions import DataValidationError, ParameterError
from .context import AuditConfig
from .fingerprint import data_fingerprint, small_codes
from .groups import sensitive_frame
from .labels import log_labels, outcome_semantics
from .log_regression import peek_task, prepare_log_regression, prepare_reduced_regression
from .prepare import Outcome, Prepared, assemble
from .task import log_task, refuse_class_parameters, target_name
from .weights import row_weights

__all__ = ["prepare_log"]

FUNC = "audit_predictions"


def prepare_log(
    config: AuditConfig, y_true: Any, y_pred: Any, *, y_score: Any, sensitive_features: Any,
    data: Any, reduce: bool | None, memory_limit: str | None, pos_label: Any,
    label_names: Any, favourable: Any, reference_groups: Any, sample_weight: Any,
    label_map: Any, task: str = "auto",
) -> Prepared:  # fmt: skip
    """Encode a log of decisions and build the audit's context (see ``audit_predictions``).

    The task is decided here, once (:mod:`auditkit.inputs.task`): a log whose target (and
    predictions) are continuous numbers is a regression.
    """
    source_name = "the predictions"
    weight_source: str | None = None
    target = y_true if isinstance(y_true, str) and data is not None else None
    class_params = {
        "pos_label": pos_label,
        "label_names": label_names,
        "favourable": favourable,
        "label_map": label_map,
        "y_score": y_score,
    }
    if data is not None:
        from ..scale._reduce import data_kind

        kind = data_kind(data)
        if reduce is not None and not isinstance(reduce, bool):
            raise ParameterError(
                PARAM_MSG.format(
                    param="reduce", func=FUNC, expected="True, False or None", got=reduce
                )
            )
        if kind == "counts" or (reduce if reduce is not None else kind != "pandas"):
            if peek_task(task, data, kind, y_true, y_pred) == "regression":
                refuse_class_parameters(FUNC, **class_params)
                return prepare_reduced_regression(
                    config, data, y_true=y_true, y_pred=y_pred,
                    sensitive_features=sensitive_features, sample_weight=sample_weight,
                    memory_limit=memory_limit, reference_groups=reference_groups,
                )  # fmt: skip
            from .counts import prepare_counts

            return prepare_counts(
                config, data, y_true=y_true, y_pred=y_pred, y_score=y_score,
                sensitive_features=sensitive_features, memory_limit=memory_limit,
                pos_label=pos_label, label_names=label_names, favourable=favourable,
                reference_groups=reference_groups, sample_weight=sample_weight,
                label_map=label_map,
            )  # fmt: skip
        data, source_name = _rows_of(data, kind, (y_true, y_pred, y_score, sample_weight),
                                     sensitive_features)  # fmt: skip
        y_true, y_pred, y_score = (data[c] if isinstance(c, str) else c
                                   for c in (y_true, y_pred, y_score))  # fmt: skip
        if isinstance(sample_weight, str):
            weight_source = f"column {sample_weight!r}"
            sample_weight = data[sample_weight]
    if y_true is None or y_pred is None:
        raise ParameterError("audit_predictions needs both y_true and y_pred.")
    yt = _column_1d(y_true, "y_true")
    yp = _column_1d(y_pred, "y_pred")
    n = check_same_length(y_true=yt, y_pred=yp)
    if n == 0:
        raise DataValidationError("The predictions have no rows.")
    if sensitive_features is None:
        raise ParameterError("audit_predictions needs sensitive_features (the groups to compare).")
    if log_task(task, yt, yp, func=FUNC) == "regression":
        refuse_class_parameters(FUNC, **class_params)
        return prepare_log_regression(
            config, yt, yp, sensitive_features=sensitive_features, data=data,
            source_name=source_name, sample_weight=sample_weight, weight_source=weight_source,
            reference_groups=reference_groups, target=target or target_name(yt),
        )  # fmt: skip
    labels = log_labels(
        yt, yp, pos_label=pos_label, label_names=label_names, label_map=label_map,
        max_classes=config.max_classes, func=FUNC,
    )  # fmt: skip
    names, values = labels.classes, labels.values
    groups = sensitive_frame(
        sensitive_features, data, n, schema=None, where=source_name,
        max_groups=config.max_groups, func=FUNC,
    )  # fmt: skip
    weights = None
    if sample_weight is not None:
        weights = row_weights(sample_weight, n, FUNC)
        weight_source = weight_source or "sample_weight (array)"
    pos, fav, words = outcome_semantics(
        values, names, pos_label=pos_label, label_names=label_names, favourable=favourable,
        func=FUNC,
    )  # fmt: skip
    proba = None if y_score is None else _scores(y_score, n, names, pos)
    data_info = {
        "name": str(config.provenance.get("data_name", "prediction log")),
        "sha256": data_fingerprint(
            *small_codes(labels.y_true, labels.y_pred, k=len(names)),
            np.asarray(names, dtype=object),
            proba,
            weights,
        ),
        "modality": "predictions",
    }
    return assemble(
        config, Outcome(labels.y_true, names, pos, fav, words), func=FUNC,
        y_pred=labels.y_pred, y_proba=proba, has_scores=proba is not None, groups=groups,
        reference_groups=reference_groups, data_info=data_info, weights=weights,
        weight_source=weight_source,
    )  # fmt: skip


def _rows_of(
    data: Any, kind: str, columns: tuple[Any, ...], sensitive_features: Any
) -> tuple[Any, str]:
    """Return the rows of ``data`` as a pandas DataFrame with the named columns, and its name."""
    import pandas as pd

    source_name = "the predictions"
    if kind == "path":
        from ..scale._duckdb import read_rows

        wanted = [c for c in columns if isinstance(c, str)]
        sf = [sensitive_features] if isinstance(sensitive_features, str) else (
            list(sensitive_features) if isinstance(sensitive_features, (list, tuple)) else []
        )  # fmt: skip
        data, source_name = read_rows(data, [*wanted, *[c for c in sf if isinstance(c, str)]])
    elif not isinstance(data, pd.DataFrame):
        data = _to_pandas(data)
    cols = [c for c in columns if isinstance(c, str)]
    check_columns(cols, list(data.columns), where="the predictions")
    return data, source_name


def _scores(y_score: Any, n: int, names: tuple[str, ...], pos: int | None) -> np.ndarray:
    """``y_score`` as probabilities, one column per class."""
    s = np.asarray(
        y_score.to_numpy() if hasattr(y_score, "to_numpy") else y_score, dtype=np.float64
    )
    if len(s) != n:
        raise DataValidationError(f"y_score has {len(s)} rows but y_true has {n}.")
    check_probabilities(s, name="y_score")
    if s.ndim == 1:
        if len(names) != 2:
            raise DataValidationError(
                "A 1-d y_score holds the positive-class probability, which needs a binary "
                f"task; the labels have {len(names)} classes."
            )
        assert pos is not None
        proba = np.empty((n, 2))
        proba[:, pos] = s
        proba[:, 1 - pos] = 1.0 - s
        return proba
    if s.shape[1] != len(names):
        raise DataValidationError(
            f"y_score has {s.shape[1]} columns but the labels have {len(names)} classes."
        )
    return s


def _column_1d(values: Any, name: str) -> Any:
    """Keep a Series (its Arrow strings factorize fast); make the rest 1-d arrays."""
    import pandas as pd

    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, pd.DataFrame) and values.shape[1] == 1:
        return values.iloc[:, 0].reset_index(drop=True)
    return to_1d(values, name=name)


def _to_pandas(data: Any) -> Any:
    """Collect a Polars, PyArrow, DuckDB, Spark or other narwhals-supported frame to pandas."""
    module = type(data).__module__.split(".")[0]
    if module == "pyspark":
        return data.toPandas()
    if module == "duckdb":
        return data.df()
    try:
        import narwhals as nw

        frame = nw.from_native(data)
    except (TypeError, ImportError) as exc:
        raise ParameterError(
            f"The 'data' parameter of audit_predictions must be a data frame; got "
            f"{type(data).__name__}."
        ) from exc
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas()
