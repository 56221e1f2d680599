"""Open a model file by what it is.

:func:`open_model` is where the public entry points (:func:`auditkit.audit`,
:func:`auditkit.explain`, the ``auditkit audit MODEL`` command) turn a path into a model object
that :func:`auditkit.adapters.wrap` accepts, and :func:`load_model` is its public form with
every option. The kind of model is recognised from the path before anything in the file runs
(:mod:`auditkit.models.kinds`): an auditkit checkpoint (loaded without unpickling, by
:func:`~auditkit.models.checkpoint.load_checkpoint`), a saved Hugging Face classifier, an ONNX
graph, a scikit-learn model saved with skops (or pickled, only when allowed) and a user's own
LightningModule checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from ..exceptions import ParameterError

__all__ = ["is_model_path", "load_model", "open_model"]

PICKLE_IN_PYTHON = (
    "{path} is a pickle file: loading it runs code chosen by whoever wrote the file, with your "
    "permissions, and auditkit never unpickles a path it is given. Re-save the model with skops "
    "(skops.io.dump) and pass the .skops file, or, only if you trust its author, use "
    "auditkit.load_model(path, allow_pickle=True) and pass the model it returns."
)


def is_model_path(model: Any) -> bool:
    """Return True when ``model`` names a file rather than being a model object."""
    return isinstance(model, (str, bytes, os.PathLike))


def open_model(model: Any, **options: Any) -> Any:
    """Return the model stored at ``model`` (a path), or ``model`` itself when it is an object.

    Parameters
    ----------
    model : str, path-like or model object
        A model file or folder (see :func:`load_model`), or any object, which is returned as
        is.
    **options
        The options of :func:`load_model`. Without ``allow_pickle=True`` a pickle file is
        refused before it is opened, with a message that points to :func:`load_model`.

    Returns
    -------
    LoadedModel, ModelAdapter or object
    """
    if not is_model_path(model):
        return model
    from .kinds import model_kind, open_model_file

    if options.get("allow_pickle") is not True and model_kind(model) == "pickle":
        from ..exceptions import UnsafeModelError

        raise UnsafeModelError(PICKLE_IN_PYTHON.format(path=os.fsdecode(model)))
    return open_model_file(model, **options)


def load_model(
    path: str | os.PathLike[str],
    *,
    model_class: str | type | None = None,
    features: Sequence[str] | None = None,
    image_size: int | tuple[int, int] | None = None,
    trust: str | Iterable[str] = (),
    allow_pickle: bool = False,
    text_column: str | None = None,
    map_location: Any = None,
    device: Any = None,
) -> Any:
    """Open a trained model from a file or folder, whatever library saved it.

    The kind is recognised from the path alone (a folder's ``config.json``, the suffix, then
    the first bytes) before anything in the file runs; nothing is ever unpickled unless
    ``allow_pickle=True``.

    ======================================= ===========================================
    path                                    opened as
    ======================================= ===========================================
    folder with ``config.json``             Hugging Face classifier (safetensors weights,
                                            tokenizer or image processor; remote code
                                            refused), class names from ``id2label``
    ``*.onnx``                              ONNX graph run by onnxruntime
    ``*.skops``                             scikit-learn model, skops' safe loader
    ``*.pkl``, ``*.pickle``, ``*.joblib``   pickled scikit-learn model, only with
                                            ``allow_pickle=True``
    ``*.ckpt``, ``*.pt``, ``*.pth``         your LightningModule with ``model_class``;
                                            else a checkpoint of :func:`auditkit.train`
    ======================================= ===========================================

    Parameters
    ----------
    path : str or path-like
        The model file or folder.
    model_class : str or type, default=None
        Your LightningModule class, ``"pkg.module:Net"`` or ``"path/to/file.py:Net"``, for a
        checkpoint it wrote (loaded with ``load_from_checkpoint``, weights only).
    features : sequence of str, default=None
        The columns fed, in order, to a LightningModule or a one-input ONNX model.
    image_size : int or (int, int), default=None
        Makes a LightningModule an image model of this size.
    trust : str or iterable of str, default=()
        Types a skops file may create besides scikit-learn, numpy and scipy.
    allow_pickle : bool, default=False
        Unpickle a ``.pkl`` / ``.joblib`` file. This runs code chosen by the file's author;
        the result's ``model`` block and the card say that the file was unpickled.
    text_column : str, default=None
        The column of a table that holds the texts (Hugging Face or auditkit text models).
    map_location : optional
        Where torch weights are loaded (as in :func:`torch.load`); None: the CPU.
    device : str or torch.device, default=None
        ``"cpu"`` or ``"cuda[:i]"``: ``map_location`` when that is None, the device of a
        Hugging Face model, and onnxruntime's CUDA provider for an ONNX model.

    Returns
    -------
    LoadedModel or ModelAdapter
        What :func:`auditkit.audit`, :func:`auditkit.explain` and :func:`auditkit.wrap` take.

    Raises
    ------
    ParameterError
        When ``path`` is not a path.
    CheckpointError
        When the model cannot be opened safely: :class:`~auditkit.exceptions.ModelFileError`
        (a missing piece, a class that does not import, keys that do not fit),
        :class:`~auditkit.exceptions.UnsafeModelError` (a pickle without ``allow_pickle``,
        remote code, untrusted types) or :class:`~auditkit.exceptions.MissingDependencyError`
        (the optional library of the kind is not installed; the message names the extra).
    """
    if not is_model_path(path):
        raise ParameterError(
            "The 'path' parameter of load_model must be the path of a model file or folder; "
            f"got {type(path).__name__}. Pass a model object to auditkit.wrap instead."
        )
    from .kinds import open_model_file

    return open_model_file(
        path, model_class=model_class, features=features, image_size=image_size, trust=trust,
        allow_pickle=allow_pickle, text_column=text_column, map_location=map_location,
        device=device,
    )  # fmt: skip
