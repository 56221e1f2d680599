"""Open a model file by what it is.

:func:`open_model` is where the public entry points (:func:`auditkit.audit`,
:func:`auditkit.explain`, the ``auditkit audit MODEL`` command) turn a path into a model object
that :func:`auditkit.adapters.wrap` accepts. Today that is an auditkit checkpoint, loaded
without unpickling (:func:`~auditkit.models.checkpoint.load_checkpoint`); further kinds of model
file belong here, each recognised from the file before anything in it is run.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["is_model_path", "open_model"]


def is_model_path(model: Any) -> bool:
    """Return True when ``model`` names a file rather than being a model object."""
    return isinstance(model, (str, bytes, os.PathLike))


def open_model(model: Any, *, map_location: Any = None) -> Any:
    """Return the model stored at ``model`` (a path), or ``model`` itself when it is an object.

    Parameters
    ----------
    model : str, path-like or model object
        A checkpoint written by :func:`auditkit.train` (``.ckpt``), or any object, which is
        returned as is.
    map_location : optional
        Where the weights are loaded (as in :func:`torch.load`); None: the CPU.

    Returns
    -------
    LoadedModel or object
    """
    if not is_model_path(model):
        return model
    from .checkpoint import load_checkpoint

    return load_checkpoint(os.fsdecode(model), map_location=map_location)
