"""``wrap``: recognise the kind of a model object and return its adapter."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ..data._schema import DatasetSchema
from ..exceptions import ParameterError
from .base import ModelAdapter, SupportsPredictProba, check_task
from .callable import CallableModel
from .sklearn import SklearnModel, _check_fitted
from .torch import TorchModel, _is_torch_module


def wrap(
    model: Any,
    *,
    schema: DatasetSchema | None = None,
    output: str = "logits",
    text_column: str | None = None,
    features: Sequence[str] | None = None,
    task: str = "auto",
) -> ModelAdapter:
    """Return a :class:`ModelAdapter` for ``model``.

    Parameters
    ----------
    model : LoadedModel, estimator, torch.nn.Module, callable, or a model of another library
        A checkpoint loaded with :func:`auditkit.load_checkpoint` or a model loaded with
        :func:`auditkit.load_model`, a fitted scikit-learn estimator or pipeline, a torch
        module returning logits, a callable returning probabilities, a Hugging Face
        classifier with its tokenizer or image processor as a pair ``(model, tokenizer)``, an
        ``onnxruntime.InferenceSession``, or your own LightningModule.
    schema : DatasetSchema, default=None
        Feature schema for models that do not carry one.
    output : {"logits", "proba"}, default="logits"
        What a torch module returns.
    text_column : str, default=None
        The column of a table that holds the texts, for a Hugging Face text classifier (or a
        text checkpoint whose own text column has another name).
    features : sequence of str, default=None
        The columns fed, in order, to an ONNX model with one input or to a LightningModule
        (default: the schema's features, else every column of the table).
    task : {"auto", "classification", "regression"}, default="auto"
        What the model predicts. ``"auto"``: a scikit-learn regressor (or a pipeline ending in
        one) and a Hugging Face model whose ``problem_type`` is ``"regression"`` are
        regressions, anything else a classifier (the audit also reads a one-output torch,
        ONNX or Lightning model, or a callable, as a regression when its target is
        continuous). ``"regression"`` reads such a model's single output, or a callable's
        return value, as the predicted number.

    Raises
    ------
    ParameterError
        When ``model`` is none of the above, a Hugging Face model comes without its
        tokenizer or image processor, ``task`` is not one of its values, or the model cannot
        be read as ``task`` (a scikit-learn regressor as a classifier...).
    """
    check_task(task, func="wrap")
    return _wrap(
        model, schema=schema, output=output, text_column=text_column, features=features
    ).with_task(task)


def _wrap(
    model: Any, *, schema: DatasetSchema | None, output: str, text_column: str | None,
    features: Sequence[str] | None,
) -> ModelAdapter:  # fmt: skip
    """Return the adapter of ``model``'s kind (see :func:`wrap`)."""
    if isinstance(model, ModelAdapter):
        return model
    import os

    if isinstance(model, (str, bytes, os.PathLike)):
        raise ParameterError(
            f"wrap takes a model object, not the file name {os.fsdecode(model)!r}; open the "
            "file with auditkit.load_model, or pass the path to auditkit.audit or "
            "auditkit.explain."
        )
    adapter_factory = getattr(model, "as_adapter", None)
    if callable(adapter_factory):  # auditkit.models.checkpoint.LoadedModel
        adapter: ModelAdapter = (
            adapter_factory() if text_column is None else adapter_factory(text_column=text_column)
        )
        return adapter
    if features is None and schema is not None:
        features = schema.feature_names
    other = _other_library(model, text_column=text_column, features=features, schema=schema)
    if other is not None:
        return other
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


def _other_library(
    model: Any, *, text_column: str | None, features: Sequence[str] | None,
    schema: DatasetSchema | None,
) -> ModelAdapter | None:  # fmt: skip
    """Return the adapter of a Hugging Face, onnxruntime or user Lightning model, else None.

    Checked before the torch-module test (a transformers model and a LightningModule are torch
    modules). A library that is not imported cannot have made ``model``, so none is imported.
    """
    transformers = sys.modules.get("transformers")
    if transformers is not None:
        pretrained = transformers.PreTrainedModel
        if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], pretrained):
            from .hf import HuggingFaceModel

            net, pre = model
            if hasattr(pre, "convert_ids_to_tokens"):  # a tokenizer
                return HuggingFaceModel(net, pre, text_column=text_column)
            if pre is None or isinstance(pre, (str, bytes)):
                raise ParameterError(
                    "wrap((model, processor)) takes the model's tokenizer or image processor "
                    f"as the second item; got {type(pre).__name__}."
                )
            return HuggingFaceModel(net, image_processor=pre)
        if isinstance(model, pretrained):
            raise ParameterError(
                f"A Hugging Face model ({type(model).__name__}) needs its tokenizer or image "
                "processor: wrap((model, tokenizer)), or "
                "auditkit.adapters.hf.HuggingFaceModel(model, tokenizer); or save both with "
                "save_pretrained into one folder and pass auditkit.load_model(folder)."
            )
    onnxruntime = sys.modules.get("onnxruntime")
    if onnxruntime is not None and isinstance(model, onnxruntime.InferenceSession):
        from .onnx import OnnxModel

        return OnnxModel(model, features=features, schema=schema)
    mro = type(model).__mro__
    if any(c.__name__ == "LightningModule" for c in mro) and not type(model).__module__.startswith(
        "auditkit."
    ):
        from .lightning import UserLightningModel

        return UserLightningModel(model, features=features)
    return None
