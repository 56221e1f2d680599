"""The adapter every audit section talks to, whatever the user's model is.

:class:`ModelAdapter` gives every kind of model one vocabulary: ``predict_proba(X) ->
(n_samples, n_classes)``, ``classes_``, optional torch parts (:class:`TorchParts`) for gradient
attributions, and ``refit`` where the model can be retrained. Each kind has its own module
(``sklearn``, ``torch``, ``callable``; a loaded checkpoint brings its own adapter), and
:func:`auditkit.adapters.wrap` recognises the kind of an object.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from .._core.validation import check_probabilities
from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError

ModelKind = Literal[
    "checkpoint", "sklearn", "torch", "callable", "huggingface", "onnx", "lightning"
]
Task = Literal["classification", "regression"]
#: The values of the ``task`` parameter of ``audit``, ``audit_predictions`` and ``wrap``.
TASKS = ("auto", "classification", "regression")


def check_task(task: Any, *, func: str) -> str:
    """Return ``task`` when it is ``"auto"``, ``"classification"`` or ``"regression"``.

    Raises
    ------
    ParameterError
        Naming the parameter, the function and the accepted values.
    """
    if not isinstance(task, str) or task not in TASKS:
        raise ParameterError(
            f"The 'task' parameter of {func} must be one of 'auto', 'classification' or "
            f"'regression'; got {task!r} instead."
        )
    return task


@runtime_checkable
class SupportsPredictProba(Protocol):
    """Anything with ``predict_proba(X) -> array of shape (n_samples, n_classes)``."""

    def predict_proba(self, X: Any) -> Any:
        """Return class probabilities."""


@dataclass
class TorchParts:
    """What gradient-based explanations need from a torch model.

    Attributes
    ----------
    module : torch.nn.Module
        Maps the encoded input tensor to logits of shape (n, n_classes); eval mode.
    encode : callable
        Raw ``X`` -> the module's input tensor (float features, float images, token ids).
    feature_names : list of str
        Names of the original features (tabular) or a single name ("pixels", "text").
    feature_groups : list of (str, list of int), default=None
        For tabular inputs: original feature -> encoded columns (one-hot folding).
    embedding : torch.nn.Module, default=None
        The token embedding layer of a text model (for layer attributions).
    decode_tokens : callable, default=None
        Token ids of one row -> list of token strings (text models).
    """

    module: Any
    encode: Callable[[Any], Any]
    feature_names: list[str]
    feature_groups: list[tuple[str, list[int]]] | None = None
    embedding: Any = None
    decode_tokens: Callable[[Any], list[str]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class ModelAdapter:
    """Common interface over the kinds of model auditkit accepts.

    Attributes
    ----------
    kind : {"checkpoint", "sklearn", "torch", "callable", "huggingface", "onnx", "lightning"}
    name : str
    raw : object
        The object that was wrapped.
    schema : DatasetSchema or None
    classes_ : ndarray or None
        Label values in the order of ``predict_proba``'s columns, where known.
    has_scores : bool
        False when the model only predicts labels (probabilities are then one-hot).
    task : {"classification", "regression"}
        What the model predicts: class probabilities (:meth:`predict_proba`) or numbers
        (:meth:`predict_values`).
    can_regress : bool
        Whether a model of this kind may also be read as a regression (one output taken as
        the predicted number: a torch module, an ONNX graph, a LightningModule, a callable);
        :meth:`with_task` then gives that reading. A scikit-learn estimator and a Hugging
        Face model say themselves what they are.
    """

    kind: ModelKind = "callable"
    has_scores: bool = True
    task: Task = "classification"
    can_regress: bool = False

    def __init__(self, raw: Any, *, name: str, schema: DatasetSchema | None = None) -> None:
        self.raw = raw
        self.name = name
        self.schema = schema
        self.classes_: np.ndarray | None = None

    # -- prediction -------------------------------------------------------------------------
    def _proba(self, X: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return validated probabilities of shape (n_samples, n_classes), float64."""
        p = np.asarray(self._proba(X), dtype=np.float64)
        if p.ndim == 1:
            p = np.column_stack([1.0 - p, p])
        if p.ndim != 2:
            raise DataValidationError(
                f"The model returned predictions of shape {p.shape}; expected (n_samples, "
                "n_classes) probabilities."
            )
        return check_probabilities(p, name=f"probabilities from model {self.name!r}")

    def _values(self, X: Any) -> Any:  # pragma: no cover - overridden by regressors
        raise NotImplementedError

    def predict_values(self, X: Any) -> np.ndarray:
        """Return the predicted numbers of a regression, shape (n_samples,), float64.

        Raises
        ------
        DataValidationError
            For a classifier (``task == "classification"``), or when the model returns
            something other than one finite number per row.
        """
        if self.task != "regression":
            raise DataValidationError(
                f"Model {self.name!r} is a classifier; it predicts class probabilities "
                "(predict_proba), not values."
            )
        v = np.asarray(self._values(X), dtype=np.float64)
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1:
            raise DataValidationError(
                f"Model {self.name!r} returned predictions of shape {v.shape}; a regression "
                "must return one number per row."
            )
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"Model {self.name!r} predicted a non-finite value ({v[i]!r}) for row {i}."
            )
        return v

    def with_task(self, task: str) -> ModelAdapter:
        """Return this adapter read as ``task`` (itself when it already is).

        Raises
        ------
        ParameterError
            When the model cannot be read that way (a scikit-learn regressor as a classifier,
            a classifier that has no single-output reading as a regression).
        """
        if task in ("auto", self.task):
            return self
        if task == "regression" and not self.can_regress:
            raise ParameterError(
                f"task='regression' was asked for, but model {self.name!r} ({self.kind}) is a "
                "classifier: it predicts class probabilities, not a number."
            )
        if task == "classification" and not self.can_regress:
            raise ParameterError(
                f"task='classification' was asked for, but model {self.name!r} ({self.kind}) "
                "is a regressor: it predicts a number, not classes."
            )
        out = copy.copy(self)
        out.task = "regression" if task == "regression" else "classification"
        return out

    # -- optional capabilities --------------------------------------------------------------
    def torch_parts(self) -> TorchParts | None:
        """Return the torch module and encoder for gradient methods, or None."""
        return None

    @property
    def can_refit(self) -> bool:
        """Whether :meth:`refit` can retrain the model on new data."""
        return False

    def refit(self, X: Any, y: Any, *, random_state: int = 0) -> ModelAdapter:
        """Return a new adapter trained on ``(X, y)`` with the same settings."""
        raise NotImplementedError(f"A {self.kind} model cannot be retrained.")

    def fingerprint(self) -> str | None:
        """Return a stable hash of the model where one can be computed."""
        return None

    def describe(self) -> dict[str, Any]:
        """Return plain data about the model for the result's ``model`` block."""
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "sha256": self.fingerprint()}
        if self.task == "regression":  # a classifier's block stays as it was
            d["task"] = "regression"
        return d
