"""A fitted scikit-learn estimator or pipeline as a :class:`~.base.ModelAdapter`."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError
from .base import ModelAdapter, ModelKind


class SklearnModel(ModelAdapter):
    """A fitted scikit-learn estimator or pipeline.

    Scores come from ``predict_proba``, else ``decision_function``, else ``predict``.
    """

    kind: ModelKind = "sklearn"

    def __init__(self, est: Any, *, schema: DatasetSchema | None = None) -> None:
        super().__init__(est, name=type(est).__name__, schema=schema)
        classes = getattr(est, "classes_", None)
        self.classes_ = np.asarray(classes) if classes is not None else None
        if hasattr(est, "predict_proba"):
            self.response_method = "predict_proba"
        elif hasattr(est, "decision_function"):
            self.response_method = "decision_function"
        else:
            self.response_method = "predict"
            self.has_scores = False

    def _proba(self, X: Any) -> Any:
        est = self.raw
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
        """Clone the estimator and fit it on ``(X, y)``."""
        from sklearn.base import clone

        est = clone(self.raw)
        est.fit(X, y)
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
    except TypeError:
        pass
