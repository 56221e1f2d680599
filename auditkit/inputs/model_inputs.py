"""The inputs of ``audit``: a model scored once on evaluation rows, and its training rows.

Everything that can be checked without the model (the rows, the groups, the weights, the
ceiling on classes) is checked before the model scores anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.validation import (
    PARAM_MSG,
    check_no_missing,
    check_same_length,
    format_available,
    to_1d,
)
from ..adapters import ModelAdapter, wrap
from ..exceptions import AuditkitError, DataValidationError, ParameterError
from .context import AuditConfig, RegressionPredictions, TrainData, predict_from_proba
from .fingerprint import data_fingerprint
from .groups import sensitive_frame, train_sensitive
from .labels import check_target, encode_labels, factorize, outcome_semantics
from .prepare import Outcome, Prepared, assemble, assemble_regression
from .task import model_task, refuse_class_parameters, target_name, target_values
from .weights import row_weights

__all__ = ["model_proba", "model_values", "prepare_model"]

FUNC = "audit"


def prepare_model(
    config: AuditConfig, model: Any, X: Any, y: Any, *, train: Any, sensitive_features: Any,
    pos_label: Any, label_names: Any, favourable: Any, reference_groups: Any,
    sample_weight: Any, task: str = "auto",
) -> Prepared:  # fmt: skip
    """Open and wrap ``model``, score it once on ``X`` and build the audit's context.

    ``X=None`` audits a reference checkpoint on its dataset's test split (and, without
    ``train``, on the training rows its weights were fitted on). The task (classification or
    regression) is decided here, once (:mod:`auditkit.inputs.task`).
    """
    from ..models.files import open_model

    adapter = wrap(open_model(model), task=task)
    schema = adapter.schema
    X, y, train, extra = _default_data(adapter, X, y, train)
    if y is None:
        raise ParameterError("y is required when X is given.")
    y_arr = to_1d(y, name="y")
    n = check_same_length(X=X, y=y_arr)
    if n == 0:
        raise DataValidationError("The evaluation data has no rows.")
    # the groups first: a column of IDs is refused before the model scores anything
    groups = sensitive_frame(
        sensitive_features, X, n, schema=schema, where="X", max_groups=config.max_groups,
        func=FUNC,
    )  # fmt: skip
    weights = None if sample_weight is None else row_weights(sample_weight, n, FUNC)
    adapter = model_task(adapter, y_arr, task, func=FUNC)
    if adapter.task == "regression":
        refuse_class_parameters(
            FUNC, pos_label=pos_label, label_names=label_names, favourable=favourable
        )
        return _prepare_regression(
            config, adapter, X, y, y_arr, train=train, sensitive_features=sensitive_features,
            groups=groups, weights=weights, reference_groups=reference_groups, extra=extra,
        )  # fmt: skip
    classes, uniq = _declared_classes(adapter, y_arr, config.max_classes)
    proba = model_proba(adapter, X)
    if len(proba) != n:
        raise DataValidationError(f"The model returned {len(proba)} predictions for {n} rows.")
    codes, names, values = _encode_y(adapter, y_arr, classes, uniq, proba, config.max_classes)
    pos, fav, words = outcome_semantics(
        values, names, pos_label=pos_label, label_names=label_names, favourable=favourable,
        default_pos=schema.positive_class if schema is not None else None, func=FUNC,
    )  # fmt: skip
    train_data = _train_data(
        train, X, values, sensitive_features, groups, schema=schema, config=config
    )
    data_info = {
        "name": (schema.name if schema is not None else None) or "user data",
        "sha256": data_fingerprint(X, y_arr if y_arr.dtype != object else codes, weights),
        "modality": schema.modality if schema is not None else "tabular",
        "n_train_rows": len(train_data.y) if train_data is not None else None,
        **extra,
    }
    if schema is not None:
        data_info["schema"] = schema.to_dict()
    return assemble(
        config, Outcome(codes, names, pos, fav, words), func=FUNC,
        y_pred=predict_from_proba(proba), y_proba=proba, has_scores=adapter.has_scores,
        groups=groups, reference_groups=reference_groups, data_info=data_info,
        weights=weights, weight_source=None if weights is None else "sample_weight (array)",
        model=adapter, X=X, train=train_data, schema=schema,
    )  # fmt: skip


def _prepare_regression(
    config: AuditConfig, adapter: ModelAdapter, X: Any, y: Any, y_arr: np.ndarray, *,
    train: Any, sensitive_features: Any, groups: Any, weights: np.ndarray | None,
    reference_groups: Any, extra: dict[str, Any],
) -> Prepared:  # fmt: skip
    """Score a regression once on ``X`` and build its context (``ctx.regression``)."""
    schema = adapter.schema
    y_true = target_values(y_arr, name="y")
    y_pred = model_values(adapter, X)
    if len(y_pred) != len(y_true):
        raise DataValidationError(
            f"The model returned {len(y_pred)} predictions for {len(y_true)} rows."
        )
    target = target_name(y, schema.target if schema is not None else None)
    unit = config.options.get("target_unit")
    if unit is None and schema is not None:  # a checkpoint's schema knows its target's unit
        unit = getattr(schema, "unit", None)
    train_data = _train_data(
        train, X, None, sensitive_features, groups, schema=schema, config=config
    )
    data_info: dict[str, Any] = {
        "name": (schema.name if schema is not None else None) or "user data",
        "sha256": data_fingerprint(X, y_true, weights),
        "modality": schema.modality if schema is not None else "tabular",
        "n_train_rows": len(train_data.y) if train_data is not None else None,
        **extra,
    }
    if schema is not None:
        data_info["schema"] = schema.to_dict()
    reg = RegressionPredictions(
        y_true=y_true, y_pred=y_pred, sample_weight=weights, target=target, unit=unit
    )
    return assemble_regression(
        config, func=FUNC, regression=reg, groups=groups, reference_groups=reference_groups,
        data_info=data_info, weight_source=None if weights is None else "sample_weight (array)",
        model=adapter, X=X, train=train_data, schema=schema, target=target, unit=unit,
    )  # fmt: skip


def model_values(adapter: ModelAdapter, X: Any) -> np.ndarray:
    """Return a regression's predicted values on ``X``; a user model's error is a data error.

    As :func:`model_proba`, for :meth:`~auditkit.adapters.base.ModelAdapter.predict_values`.
    """
    return _predict(adapter, adapter.predict_values, X)


def _predict(adapter: ModelAdapter, predict: Any, X: Any) -> np.ndarray:
    """Call ``predict(X)``; a user model's error becomes a DataValidationError naming it."""
    if getattr(adapter, "kind", None) == "checkpoint":
        return np.asarray(predict(X))
    try:
        out: np.ndarray = predict(X)
    except AuditkitError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of the user's model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataValidationError(
            f"The model {adapter.name!r} ({adapter.kind}) could not predict on X: "
            f"{type(exc).__name__}: {first[:300]}"
        ) from exc
    return out


def _default_data(
    adapter: ModelAdapter, X: Any, y: Any, train: Any
) -> tuple[Any, Any, Any, dict[str, Any]]:
    """``X``, ``y``, ``train`` and the data block's extra keys (a checkpoint's own split)."""
    if X is not None:
        return X, y, train, {}
    loaded = getattr(adapter, "loaded", None)
    schema = adapter.schema
    if loaded is None or schema is None:
        raise ParameterError(
            "X and y are required unless the model is a reference checkpoint "
            "(which is then audited on its dataset's test split)."
        )
    from ..data import load_dataset

    ds = load_dataset(schema.name)
    extra: dict[str, Any] = {"split": "test", "dataset_sha256": ds.sha256}
    if train is None:
        from .._core.rows import reference_train

        train, extra["train_rows"] = reference_train(loaded, ds)
    return ds.test.X, ds.test.y, train, extra


def _declared_classes(
    adapter: ModelAdapter, y_arr: np.ndarray, max_classes: int
) -> tuple[Any, np.ndarray | None]:
    """Return the classes the model or its dataset declares, else ``y``'s labels (checked)."""
    schema = adapter.schema
    classes = adapter.classes_
    named = _class_names(adapter)
    if named is not None and y_arr.dtype.kind in "OUS":
        classes = np.asarray(named, dtype=object)  # labels given by class name
    if classes is None and schema is not None:
        classes = (
            np.arange(schema.n_classes)
            if np.asarray(y_arr).dtype.kind in "iu"
            else np.asarray(schema.class_names, dtype=object)
        )
    if classes is not None:
        return classes, None
    check_no_missing(y_arr, name="y")
    _, uniq = factorize(y_arr, name="y")
    check_target(uniq, name="y", func=FUNC)
    if len(uniq) > max_classes:
        raise DataValidationError(
            f"y holds {len(uniq):,} distinct labels, more than the ceiling of "
            f"{max_classes:,} classes (max_classes={max_classes}); pass "
            f"max_classes={len(uniq)} if the task really has that many classes."
        )
    return None, uniq


def _class_names(adapter: ModelAdapter) -> tuple[str, ...] | None:
    """Return the names of the model's classes when its schema names class indices 0..k-1.

    An auditkit checkpoint, a Hugging Face classifier (``config.id2label``) and a
    LightningModule given ``class_names`` predict class indices and name them in their schema;
    labels may then be given by name, and the card names the classes.
    """
    schema, classes = adapter.schema, adapter.classes_
    if schema is None or not schema.class_names or classes is None:
        return None
    k = len(schema.class_names)
    arr = np.asarray(classes)
    if arr.dtype.kind not in "iu" or not np.array_equal(arr, np.arange(k)):
        return None
    return tuple(schema.class_names)


def _encode_y(
    adapter: ModelAdapter, y_arr: np.ndarray, classes: Any, uniq: np.ndarray | None,
    proba: np.ndarray, max_classes: int,
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:  # fmt: skip
    """Encode ``y`` against the model's classes (``uniq``: y's labels when none is declared)."""
    if classes is None:
        assert uniq is not None
        classes = (
            uniq
            if len(uniq) == proba.shape[1]
            else (np.arange(proba.shape[1]) if y_arr.dtype.kind in "iub" else None)
        )
        if classes is None:
            raise DataValidationError(
                f"The model returns {proba.shape[1]} probability columns but y has "
                f"{len(uniq)} distinct labels; pass y as class indices 0..{proba.shape[1] - 1}."
            )
    codes, names, values = encode_labels(y_arr, classes, name="y")
    named = _class_names(adapter)
    if named is not None and len(named) == len(names):
        names = named
    if proba.shape[1] != len(names):
        raise DataValidationError(
            f"The model returns {proba.shape[1]} probability columns but has {len(names)} classes."
        )
    if len(names) > max_classes:
        raise DataValidationError(
            f"The model has {len(names):,} classes, more than the ceiling of {max_classes:,} "
            f"(max_classes={max_classes}); pass max_classes={len(names)} to audit it."
        )
    return codes, names, values


def model_proba(adapter: ModelAdapter, X: Any) -> np.ndarray:
    """Return the model's probabilities on ``X``; a user model's own error becomes a data error.

    A scikit-learn estimator, torch module or callable that cannot score ``X`` (NaN in ``X``,
    columns it was not fitted on, a callable that raises) is the caller's input problem, so it
    is reported as :class:`DataValidationError` naming the model (the original exception is
    chained). A reference checkpoint's own failures are left alone: they are auditkit's.
    """
    return _predict(adapter, adapter.predict_proba, X)


def _train_data(
    train: Any, X: Any, values: np.ndarray | None, sensitive_features: Any, groups: Any, *,
    schema: Any, config: AuditConfig,
) -> TrainData | None:  # fmt: skip
    """Return the training rows (privacy, stability), aligned with ``X``, encoded like ``y``.

    ``values`` are the classes ``y_train`` is encoded against; None for a regression, whose
    ``y_train`` is kept as finite float64 numbers.
    """
    if train is None:
        return None
    if not (isinstance(train, (tuple, list)) and len(train) == 2):
        raise ParameterError(
            PARAM_MSG.format(
                param="train", func=FUNC, expected="a tuple (X_train, y_train)",
                got=type(train).__name__,
            )
        )  # fmt: skip
    ytr = to_1d(train[1], name="y_train")
    check_same_length(X_train=train[0], y_train=ytr)
    X_train = _align_train(X, train[0])
    if values is None:
        tr_codes = target_values(ytr, name="y_train")
    else:
        tr_codes, _, _ = encode_labels(ytr, values, name="y_train")
    tr_sens = train_sensitive(
        sensitive_features, None if groups is None else groups.frame, X_train, len(ytr),
        schema=schema, max_groups=config.max_groups, func=FUNC,
    )  # fmt: skip
    return TrainData(X=X_train, y=tr_codes, sensitive=tr_sens)


def _align_train(X: Any, X_train: Any) -> Any:
    """Return ``X_train`` with the columns of ``X`` in its order, or refuse what cannot match.

    The privacy and stability sections score and refit the model on the training rows: a column
    the evaluation data lacks (or has extra) would fail there, deep inside the estimator.
    """
    cols, tr_cols = getattr(X, "columns", None), getattr(X_train, "columns", None)
    if cols is not None and tr_cols is not None:
        want, have = list(cols), list(tr_cols)
        if want == have:
            return X_train
        missing = [c for c in want if c not in set(have)]
        extra = [c for c in have if c not in set(want)]
        if not missing and not extra and len(set(have)) == len(have):
            return X_train[want]
        parts = []
        if missing:
            parts.append(f"lacks {_names(missing)}")
        if extra:
            parts.append(f"has {_names(extra)} that X does not")
        if not parts:
            parts.append("repeats a column name")
        raise DataValidationError(
            "The training data (train=(X_train, y_train)) must have the columns of X; X_train "
            + " and ".join(parts)
            + "."
        )
    shape, tr_shape = getattr(X, "shape", None), getattr(X_train, "shape", None)
    if shape is not None and tr_shape is not None and tuple(shape[1:]) != tuple(tr_shape[1:]):
        raise DataValidationError(
            f"The training data's rows have shape {tuple(tr_shape[1:])}, X's rows "
            f"{tuple(shape[1:])}: train=(X_train, y_train) must be shaped like X."
        )
    return X_train


def _names(cols: list[Any]) -> str:
    word = "columns" if len(cols) > 1 else "column"
    return f"{word} {format_available([repr(str(c)[:60]) for c in cols], limit=5)}"
