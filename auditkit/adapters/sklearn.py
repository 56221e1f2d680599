"""A fitted scikit-learn estimator or pipeline as a :class:`~.base.ModelAdapter`."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError
from .base import ModelAdapter, ModelKind, Task


def sklearn_task(est: Any) -> Task:
    """Return what a scikit-learn estimator (or pipeline) predicts.

    A regressor (``sklearn.base.is_regressor``, a pipeline ending in one) predicts a number;
    so does an estimator with ``predict`` but neither ``predict_proba``, ``decision_function``
    nor ``classes_`` (and that does not declare itself a classifier).
    """
    from sklearn.base import is_classifier, is_regressor

    try:  # scikit-learn's tags need a BaseEstimator; duck-typed models have none
        regressor, classifier = is_regressor(est), is_classifier(est)
    except (AttributeError, TypeError):
        regressor, classifier = False, False
    if regressor:
        return "regression"
    if (
        classifier
        or hasattr(est, "predict_proba")
        or hasattr(est, "decision_function")
        or getattr(est, "classes_", None) is not None
    ):
        return "classification"
    return "regression" if hasattr(est, "predict") else "classification"


class SklearnModel(ModelAdapter):
    """A fitted scikit-learn estimator or pipeline.

    Scores come from ``predict_proba``, else ``decision_function``, else ``predict``. A
    regressor (:func:`sklearn_task`) predicts values with ``predict``.
    """

    kind: ModelKind = "sklearn"

    def __init__(self, est: Any, *, schema: DatasetSchema | None = None) -> None:
        super().__init__(est, name=type(est).__name__, schema=schema)
        classes = getattr(est, "classes_", None)
        self.classes_ = np.asarray(classes) if classes is not None else None
        self.task = sklearn_task(est)
        if self.task == "regression":
            self.response_method = "predict"
            self.has_scores = False
            self.classes_ = None
        elif hasattr(est, "predict_proba"):
            self.response_method = "predict_proba"
        elif hasattr(est, "decision_function"):
            self.response_method = "decision_function"
        else:
            self.response_method = "predict"
            self.has_scores = False

    def _values(self, X: Any) -> Any:
        return self.raw.predict(X)

    def _proba(self, X: Any) -> Any:
        est = self.raw
        if self.task == "regression":
            raise DataValidationError(
                f"{self.name} is a regressor: it predicts numbers (predict), not class "
                "probabilities."
            )
        if self.response_method == "predict_proba":
            return est.predict_proba(X)
        if self.response_method == "decision_function":
            d = np.asarray(est.decision_function(X), dtype=np.float64)
            if d.ndim == 1:  # binary: logistic link of the margin (not calibrated)
                return 1.0 / (1.0 + np.exp(-d))
            z = d - d.max(axis=1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        pred = np.asarray(est.predict(X))
        if self.classes_ is None:
            raise DataValidationError(
                f"{self.name} has no predict_proba, decision_function or classes_; wrap it in a "
                "callable that returns probabilities."
            )
        out = (pred[:, None] == self.classes_[None, :]).astype(np.float64)
        return out

    @property
    def can_refit(self) -> bool:
        """Scikit-learn estimators are cloned and refitted."""
        return True

    def refit(self, X: Any, y: Any, *, random_state: int = 0) -> SklearnModel:
        """Clone the estimator and fit it on ``(X, y)`` (labels; numbers for a regressor)."""
        from sklearn.base import clone

        est = clone(self.raw)
        est.fit(X, np.asarray(y, dtype=np.float64) if self.task == "regression" else y)
        return SklearnModel(est, schema=self.schema)

    def fingerprint(self) -> str | None:
        """Hash of the class name and parameters (not of the fitted state)."""
        try:
            params = repr(sorted(self.raw.get_params(deep=True).items(), key=lambda kv: kv[0]))
        except Exception:  # noqa: BLE001 - third-party get_params may fail
            return None
        return hashlib.sha256(f"{type(self.raw).__qualname__}:{params}".encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """Return the estimator's name and response method."""
        d = super().describe()
        d["response_method"] = self.response_method
        return d


def _check_fitted(est: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except NotFittedError as exc:
        raise ParameterError(
            f"The {type(est).__name__} passed to audit is not fitted; call fit first."
        ) from exc
    except (TypeError, AttributeError):  # not a BaseEstimator: duck-typed, trusted as fitted
        pass
