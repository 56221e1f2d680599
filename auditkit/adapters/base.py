"""The adapter every audit section talks to, whatever the user's model is.

``wrap(obj)`` turns a loaded auditkit checkpoint, a fitted scikit-learn estimator or pipeline, a
torch module or a ``predict_proba``-style callable into a :class:`ModelAdapter` with one
vocabulary: ``predict_proba(X) -> (n_samples, n_classes)``, ``classes_``, optional torch parts
for gradient attributions, and ``refit`` where the model can be retrained.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from .._core.validation import check_probabilities
from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError

ModelKind = Literal["checkpoint", "sklearn", "torch", "callable"]


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
    kind : {"checkpoint", "sklearn", "torch", "callable"}
    name : str
    raw : object
        The object that was wrapped.
    schema : DatasetSchema or None
    classes_ : ndarray or None
        Label values in the order of ``predict_proba``'s columns, where known.
    has_scores : bool
        False when the model only predicts labels (probabilities are then one-hot).
    """

    kind: ModelKind = "callable"
    has_scores: bool = True

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
        return {"name": self.name, "kind": self.kind, "sha256": self.fingerprint()}


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


class TorchModel(ModelAdapter):
    """A bare ``torch.nn.Module`` mapping a float tensor to logits (or probabilities)."""

    kind: ModelKind = "torch"

    def __init__(
        self,
        module: Any,
        *,
        output: Literal["logits", "proba"] = "logits",
        schema: DatasetSchema | None = None,
        batch_size: int = 4096,
    ) -> None:
        super().__init__(module, name=type(module).__name__, schema=schema)
        if output not in ("logits", "proba"):
            raise ParameterError(f"output must be 'logits' or 'proba'; got {output!r}.")
        self.output = output
        self.batch_size = batch_size
        self._independent: bool | None = None

    def _tensor(self, X: Any) -> Any:
        import torch

        if isinstance(X, torch.Tensor):
            t = X
            if t.dtype.is_floating_point and t.dtype.itemsize > 4:
                _check_float32_range(t.detach().cpu().numpy(), None, self.name)
        else:
            columns = list(X.columns) if hasattr(X, "columns") else None
            arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
            t = torch.as_tensor(_as_float32(arr, columns, self.name))
        if t.dtype.is_floating_point:
            t = t.float()
        try:
            dev = next(self.raw.parameters()).device
            t = t.to(dev)
        except StopIteration:
            pass
        return t

    def _rows_independent(self, t: Any) -> bool:
        """Whether the module's rows do not interact, probed once on the first 2+ rows seen."""
        from ..runtime.attribution import rows_independent

        if self._independent is None and len(t) >= 2:
            try:
                self._independent = rows_independent(self.raw, t)
            except Exception:  # noqa: BLE001 - a probe the module refuses: score as given
                self._independent = False
        return bool(self._independent)

    def _proba(self, X: Any) -> Any:
        import torch

        from ..runtime.attribution import score_chunk

        t = self._tensor(X)
        self.raw.eval()
        outs = []
        with torch.no_grad():
            for i in range(0, len(t), self.batch_size):
                chunk = t[i : i + self.batch_size]
                # a batch of one takes other kernels (thread-dependent last bits)
                indep = len(chunk) == 1 and self._rows_independent(t)
                o = score_chunk(self.raw, chunk, independent=indep)
                if o.ndim == 1 or o.shape[1] == 1:
                    o = o.reshape(-1)
                    o = torch.sigmoid(o) if self.output == "logits" else o
                    o = torch.stack([1 - o, o], dim=1)
                elif self.output == "logits":
                    o = torch.softmax(o, dim=1)
                outs.append(o.double().cpu())
        return torch.cat(outs).numpy() if outs else np.zeros((0, 2))

    def torch_parts(self) -> TorchParts | None:
        """Return the module itself, fed with float tensors."""
        names = list(self.schema.feature_names) if self.schema is not None else []
        return TorchParts(module=self.raw, encode=self._tensor, feature_names=names)


#: The largest finite float32: torch modules compute in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _column_name(columns: list[Any] | None, j: int) -> str:
    return f"column {str(columns[j])!r}" if columns is not None else f"feature {j}"


def _as_float32(arr: np.ndarray, columns: list[Any] | None, model: str) -> np.ndarray:
    """Convert inputs to float32 for a torch module, refusing what would not survive it.

    Raises
    ------
    DataValidationError
        When a value is not a number, or is finite but beyond float32's range (it would
        become infinite); the message names the column (or feature index) and the value.
    """
    if arr.dtype.kind in "biu" or arr.dtype in (np.float16, np.float32):
        out = np.asarray(arr, dtype=np.float32)  # every such value fits
        return out if out.flags.writeable else out.copy()  # torch refuses read-only arrays
    try:
        wide = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        where = ""
        if arr.ndim == 2:
            for j in range(arr.shape[1]):
                try:
                    np.asarray(arr[:, j], dtype=np.float64)
                except (TypeError, ValueError):
                    where = f" ({_column_name(columns, j)})"
                    break
        raise DataValidationError(
            f"The torch module {model!r} could not predict on X: it takes numbers, and the "
            f"input holds a value that is not one{where}: {exc}"
        ) from exc
    _check_float32_range(wide, columns, model)
    with np.errstate(over="ignore"):  # only infinities are left to cast, and stay infinite
        return wide.astype(np.float32)


def _check_float32_range(arr: np.ndarray, columns: list[Any] | None, model: str) -> None:
    """Raise DataValidationError when a finite value lies beyond float32's range."""
    with np.errstate(invalid="ignore"):
        over = np.isfinite(arr) & (np.abs(arr) > FLOAT32_MAX)
    if not over.any():
        return
    if arr.ndim == 2:
        j = int(np.flatnonzero(over.any(axis=0))[0])
        what = _column_name(columns, j)
        value = float(arr[over[:, j], j][0])
        n_more = int(over.any(axis=0).sum()) - 1
    else:
        what, value, n_more = "the input", float(arr[over][0]), 0
    also = f" (and {n_more} more column(s))" if n_more else ""
    raise DataValidationError(
        f"The torch module {model!r} could not predict on X: {what} holds {value:.6g}{also}, "
        "outside the float32 range (about ±3.4e38) that torch computes in; rescale it (for "
        "example to other units)."
    )


class CallableModel(ModelAdapter):
    """A function ``f(X) -> probabilities`` (shape (n,) for the positive class, or (n, k))."""

    kind: ModelKind = "callable"

    def __init__(self, fn: Callable[[Any], Any], *, schema: DatasetSchema | None = None) -> None:
        super().__init__(fn, name=getattr(fn, "__name__", type(fn).__name__), schema=schema)

    def _proba(self, X: Any) -> Any:
        return self.raw(X)


def wrap(
    model: Any, *, schema: DatasetSchema | None = None, output: str = "logits"
) -> ModelAdapter:
    """Return a :class:`ModelAdapter` for ``model``.

    Parameters
    ----------
    model : LoadedModel, estimator, torch.nn.Module or callable
        A checkpoint loaded with :func:`auditkit.load_checkpoint`, a fitted
        scikit-learn estimator or pipeline, a torch module returning logits, or a callable
        returning probabilities.
    schema : DatasetSchema, default=None
        Feature schema for models that do not carry one.
    output : {"logits", "proba"}, default="logits"
        What a torch module returns.

    Raises
    ------
    ParameterError
        When ``model`` is none of the above.
    """
    if isinstance(model, ModelAdapter):
        return model
    import os

    if isinstance(model, (str, bytes, os.PathLike)):
        raise ParameterError(
            f"wrap takes a model object, not the file name {os.fsdecode(model)!r}; open the "
            "file with auditkit.load_checkpoint, or pass the path to auditkit.audit or "
            "auditkit.explain."
        )
    adapter_factory = getattr(model, "as_adapter", None)
    if callable(adapter_factory):  # auditkit.models.checkpoint.LoadedModel
        adapter: ModelAdapter = adapter_factory()
        return adapter
    if _is_torch_module(model):
        return TorchModel(model, output=output, schema=schema)  # type: ignore[arg-type]
    if hasattr(model, "fit") and (
        hasattr(model, "predict_proba")
        or hasattr(model, "decision_function")
        or hasattr(model, "predict")
    ):
        _check_fitted(model)
        return SklearnModel(model, schema=schema)
    if isinstance(model, SupportsPredictProba):
        return CallableModel(model.predict_proba, schema=schema)
    if callable(model):
        return CallableModel(model, schema=schema)
    raise ParameterError(
        "The 'model' parameter of audit must be a loaded checkpoint, a fitted scikit-learn "
        "estimator, a torch module or a callable returning probabilities. "
        f"Got {type(model).__name__} instead."
    )


def _is_torch_module(obj: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


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
