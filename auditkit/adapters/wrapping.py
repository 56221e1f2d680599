"""``wrap``: recognise the kind of a model object and return its adapter."""

from __future__ import annotations

from typing import Any

from ..data._schema import DatasetSchema
from ..exceptions import ParameterError
from .base import ModelAdapter, SupportsPredictProba
from .callable import CallableModel
from .sklearn import SklearnModel, _check_fitted
from .torch import TorchModel, _is_torch_module


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
