"""Recognise what a model path is, and open it with the loader of its kind.

:func:`model_kind` names the kind from the path alone (a folder's ``config.json``, the suffix,
then the first bytes), before anything in the file runs; :func:`open_model_file` calls the
loader of that kind (in :mod:`auditkit.adapters`) or, for auditkit's own checkpoints,
:func:`~auditkit.models.checkpoint.load_checkpoint`. :func:`auditkit.models.files.open_model`
and :func:`auditkit.load_model` call it.

======================== =============== ===============================================
path                     kind            loader
======================== =============== ===============================================
folder with config.json  ``huggingface`` :func:`auditkit.adapters.hf.load_hf`
``*.onnx``               ``onnx``        :func:`auditkit.adapters.onnx.load_onnx`
``*.skops``              ``skops``       :func:`auditkit.adapters.sklearn_files.load_skops`
``*.pkl`` ``*.joblib``   ``pickle``      :func:`auditkit.adapters.sklearn_files.load_pickle`
``*.ckpt`` + model_class ``lightning``   :func:`auditkit.adapters.lightning.load_user_lightning`
``*.ckpt``               ``checkpoint``  :func:`auditkit.models.checkpoint.load_checkpoint`
======================== =============== ===============================================
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import CheckpointError, ModelFileError

__all__ = ["KINDS", "model_kind", "open_model_file"]

#: Every kind of model path, in the order of the table above.
KINDS = ("huggingface", "onnx", "skops", "pickle", "lightning", "checkpoint", "group_thresholds")
_SUFFIXES = {
    ".onnx": "onnx",
    ".skops": "skops",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "pickle",
    ".ckpt": "checkpoint",
    ".pt": "checkpoint",
    ".pth": "checkpoint",
}
_ACCEPTED = (
    "a saved transformers folder (config.json), .onnx, .skops, .pkl/.joblib (with "
    "--allow-pickle), or a .ckpt (auditkit's, or your LightningModule's with --model-class)"
)
_NO_METADATA = "has no auditkit metadata"


def _sniff(p: Path) -> str | None:
    """Kind from the first bytes of a file whose suffix says nothing."""
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return None
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(p) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError):
            return None
        if "schema.json" in names:
            return "skops"
        if any(n.endswith("data.pkl") for n in names):
            return "checkpoint"  # torch.save's zip format
        return None
    if head[:1] == b"\x80":  # pickle protocol 2 and later
        return "pickle"
    if head[:1] == b"\x08":  # protobuf field 1 (ir_version): an ONNX ModelProto
        return "onnx"
    return None


def model_kind(path: str | os.PathLike[str], *, model_class: Any = None) -> str:
    """Return the kind of the model at ``path`` (one of :data:`KINDS`), from its header only.

    Raises
    ------
    ModelFileError
        When the path does not exist, is a folder without ``config.json``, a lone safetensors
        file, or of no kind auditkit opens.
    """
    p = Path(os.fsdecode(path))
    if p.is_dir():
        if (p / "config.json").is_file():
            return "huggingface"
        raise ModelFileError(
            f"{p} is a folder but not a saved transformers model (no config.json); a model is "
            f"{_ACCEPTED}."
        )
    suffix = p.suffix.lower()
    if not p.exists():
        if _SUFFIXES.get(suffix) == "checkpoint":  # load_checkpoint's own message, as before
            return "lightning" if model_class is not None else "checkpoint"
        raise ModelFileError(f"Model {p} not found (no such file or folder).")
    if suffix == ".safetensors":
        raise ModelFileError(
            f"{p} holds only weights; pass the folder that holds it with config.json and the "
            "tokenizer or image processor."
        )
    if suffix == ".json":
        from .mitigated import is_group_thresholds_file

        if is_group_thresholds_file(p):
            return "group_thresholds"
    kind = _SUFFIXES.get(suffix) or _sniff(p)
    if kind is None:
        raise ModelFileError(f"{p} is of no model kind auditkit opens; a model is {_ACCEPTED}.")
    if kind == "checkpoint" and model_class is not None:
        return "lightning"
    return kind


def open_model_file(
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
    """Open the model at ``path`` with the loader of its kind.

    Parameters
    ----------
    path : str or path-like
    model_class : str or type, default=None
        A user's LightningModule class (``"pkg.module:Net"`` or ``"file.py:Net"``) for a
        ``.ckpt`` it wrote; None: the checkpoint is auditkit's own.
    features : sequence of str, default=None
        Columns fed to a LightningModule or a one-input ONNX model.
    image_size : int or (int, int), default=None
        Images for a LightningModule.
    trust : str or iterable of str, default=()
        Types a skops file may create besides scikit-learn, numpy and scipy.
    allow_pickle : bool, default=False
        Unpickle a ``.pkl`` / ``.joblib`` file (it runs code from the file).
    text_column : str, default=None
        The text column of a Hugging Face text classifier.
    map_location : optional
        Where torch weights go (auditkit and Lightning checkpoints).
    device : str or torch.device, default=None
        ``"cpu"`` or ``"cuda[:i]"``: ``map_location`` when that is None, the device of a
        Hugging Face model, and onnxruntime's CUDA provider first for ``"cuda..."``.

    Returns
    -------
    ModelAdapter or LoadedModel
        An adapter for the new kinds; a :class:`~auditkit.models.loaded.LoadedModel` for an
        auditkit checkpoint (``wrap`` accepts both).
    """
    kind = model_kind(path, model_class=model_class)
    if map_location is None:
        map_location = device
    if kind == "huggingface":
        from ..adapters.hf import load_hf

        return load_hf(path, text_column=text_column, device=map_location)
    if kind == "onnx":
        from ..adapters.onnx import load_onnx

        cuda = str(device).startswith("cuda") if device is not None else False
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else None
        return load_onnx(path, features=features, providers=providers)
    if kind == "group_thresholds":
        from .mitigated import load_group_thresholds

        return load_group_thresholds(path, open_base=lambda src: open_model_file(src, trust=trust))
    if kind == "skops":
        from ..adapters.sklearn_files import load_skops

        return load_skops(path, trust)
    if kind == "pickle":
        from ..adapters.sklearn_files import load_pickle

        return load_pickle(path, allow_pickle=allow_pickle)
    if kind == "lightning":
        from ..adapters.lightning import load_user_lightning
        from .checkpoint import _check_archive, _read_regular_file

        name = os.fsdecode(path)
        # the checks auditkit's own checkpoints get: a regular file, size, no zip bomb
        _check_archive(_read_regular_file(Path(name), name), name)
        assert model_class is not None
        return load_user_lightning(
            path, model_class, map_location=map_location, features=features,
            image_size=image_size,
        )  # fmt: skip
    from .checkpoint import load_checkpoint

    try:
        loaded = load_checkpoint(os.fsdecode(path), map_location=map_location)
    except CheckpointError as exc:
        if _NO_METADATA not in str(exc):
            raise
        raise CheckpointError(
            f"{str(exc).rstrip('.')}. If it is your own LightningModule's checkpoint, name its "
            "class: --model-class pkg.module:Net or path/to/file.py:Net (model_class= in Python)."
        ) from None
    # a text checkpoint's texts in a table column of another name than its own
    return loaded if text_column is None else loaded.as_adapter(text_column=text_column)
