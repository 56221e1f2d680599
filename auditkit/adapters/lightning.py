"""A user's own LightningModule: its class imported by name, its checkpoint loaded weights-only.

``load_user_lightning("my.ckpt", "pkg.module:Net")`` (or ``"path/to/file.py:Net"``) imports the
class, rebuilds the module with ``Net.load_from_checkpoint(..., weights_only=True)`` (a plain
``torch.save(state_dict)`` file is loaded into ``Net()``), and returns a
:class:`UserLightningModel`: tables become the float tensor ``forward`` takes (the columns the
caller names, in order), images (arrays or files) become image tensors resized to
``image_size`` and normalised with the module's ``mean`` / ``std`` hyper-parameters where it has
them; probabilities are the softmax of the logits (the sigmoid of a single output). Its torch
parts carry the module, so explanations use gradients.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..data._schema import DatasetSchema, FeatureSpec
from ..exceptions import DataValidationError, ParameterError
from ._files import file_sha256
from .base import ModelAdapter, TorchParts, check_task
from .errors import ModelFileError, UnsafeModelError
from .torch import _as_float32, one_output

if TYPE_CHECKING:
    import torch

__all__ = [
    "UserLightningModel",
    "import_model_class",
    "load_images",
    "load_user_lightning",
    "read_image_folder",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def import_model_class(spec: str) -> type:
    """Import ``"pkg.module:Net"`` or ``"path/to/file.py:Net"`` and return the class.

    Raises
    ------
    ModelFileError
        In one line naming the class, when the text has no ``:Class`` part, the module or file
        does not import, it has no such class, or the class is not a LightningModule.
    """
    import pytorch_lightning as pl

    if not isinstance(spec, str) or ":" not in spec or spec.endswith(":"):
        raise ModelFileError(
            f"--model-class must be 'package.module:Class' or 'path/to/file.py:Class'; got "
            f"{spec!r}."
        )
    where, _, name = spec.rpartition(":")
    try:
        if where.endswith(".py") or os.sep in where or "/" in where:
            path = Path(where).resolve()
            if not path.is_file():
                raise ModelFileError(f"Model class {spec!r}: file {where} not found.")
            mod_name = "auditkit_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
            loader = importlib.util.spec_from_file_location(mod_name, path)
            if loader is None or loader.loader is None:
                raise ModelFileError(f"Model class {spec!r}: {where} is not a Python file.")
            module = importlib.util.module_from_spec(loader)
            sys.modules[mod_name] = module  # dataclasses and pickling look modules up here
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of the user's module
        raise ModelFileError(
            f"Model class {spec!r} does not import: {type(exc).__name__}: {_one_line(exc)}"
        ) from exc
    cls = getattr(module, name, None)
    if cls is None:
        base = pl.LightningModule
        found = sorted(
            k for k, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, base) and v is not base
        )  # fmt: skip
        also = f"; LightningModules there: {', '.join(found)}" if found else ""
        raise ModelFileError(f"Model class {spec!r}: {where} has no {name!r}{also}.")
    if not (isinstance(cls, type) and issubclass(cls, pl.LightningModule)):
        raise ModelFileError(
            f"Model class {spec!r} is a {type(cls).__name__}, not a LightningModule subclass."
        )
    return cls


def _load_module(cls: type, path: Path, map_location: Any) -> Any:
    """Build the module from the checkpoint, weights-only; errors in one line."""
    import pickle

    import torch

    where = map_location if map_location is not None else "cpu"
    try:
        ckpt = torch.load(str(path), map_location=where, weights_only=True)
        if isinstance(ckpt, dict) and "pytorch-lightning_version" in ckpt:
            module = cls.load_from_checkpoint(  # type: ignore[attr-defined]
                str(path), map_location=where, weights_only=True
            )
        else:  # torch.save of a state_dict, or of {"state_dict", "hyper_parameters"}
            if not isinstance(ckpt, dict):
                raise ModelFileError(
                    f"{path} holds a {type(ckpt).__name__}, not a checkpoint or a state_dict."
                )
            state = ckpt.get("state_dict", ckpt)
            module = cls(**dict(ckpt.get("hyper_parameters") or {}))
            module.load_state_dict(state, strict=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeModelError(
            f"{path} holds pickled objects that weights-only loading refuses (auditkit never "
            f"unpickles a checkpoint): {_one_line(exc, 200)}"
        ) from exc
    except RuntimeError as exc:
        if "state_dict" in str(exc) or "size mismatch" in str(exc):
            raise ModelFileError(
                f"The checkpoint {path.name} does not fit class {cls.__name__}: {_one_line(exc)}"
            ) from exc
        raise ModelFileError(f"{path} could not be loaded: {_one_line(exc)}") from exc
    except TypeError as exc:
        raise ModelFileError(
            f"Class {cls.__name__} could not be built from the hyper-parameters in "
            f"{path.name}: {_one_line(exc)}"
        ) from exc
    except (OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{path} is not a readable checkpoint: {_one_line(exc)}") from exc
    module.eval()
    return module


class UserLightningModel(ModelAdapter):
    """A user's LightningModule whose ``forward`` maps a float tensor to logits.

    Parameters
    ----------
    module : LightningModule (or torch.nn.Module)
    features : sequence of str, default=None
        Tables: the columns fed to ``forward``, in order (default: every column of X).
    image_size : int or (int, int), default=None
        Images: the (height, width) they are resized to; setting it makes the model an image
        model. Images are arrays (n, H, W[, C]) of 0-255 values or (n, C, H, W) floats, or a
        sequence of image file paths.
    mean, std : sequence of float, default=None
        Per-channel normalisation of images scaled to [0, 1] (default: the module's ``mean`` /
        ``std`` hyper-parameters where it has them, else none).
    encode : callable, default=None
        Raw X -> the module's input tensor; wins over the above (``module.encode`` is used when
        the module has one).
    class_names : sequence of str, default=None
        Names of the outputs (default: the ``class_names`` hyper-parameter where present).
    batch_size : int, default=256
    path : path-like, default=None
        The checkpoint file.
    task : {"classification", "regression"}, default="classification"
        A regression's ``forward`` returns one number per row (shape (n,) or (n, 1)): the
        predicted value, taken as it is.
    """

    kind = "lightning"
    can_regress = True

    def __init__(
        self,
        module: Any,
        *,
        features: Sequence[str] | None = None,
        image_size: int | tuple[int, int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        encode: Any = None,
        class_names: Sequence[str] | None = None,
        batch_size: int = 256,
        path: str | os.PathLike[str] | None = None,
        model_class: str | None = None,
        task: str = "classification",
    ) -> None:
        regression = check_task(task, func="UserLightningModel") == "regression"
        hp = dict(getattr(module, "hparams", {}) or {})
        self.path = Path(os.fsdecode(path)) if path is not None else None
        self.model_class = model_class or f"{type(module).__module__}:{type(module).__qualname__}"
        self.features = list(features) if features is not None else None
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        self.image_size = tuple(int(s) for s in image_size) if image_size is not None else None
        mean = mean if mean is not None else hp.get("mean")
        std = std if std is not None else hp.get("std")
        self.mean = [float(v) for v in mean] if mean is not None else None
        self.std = [float(v) for v in std] if std is not None else None
        own = getattr(module, "encode", None)
        self._user_encode = encode if encode is not None else own if callable(own) else None
        self.batch_size = int(batch_size)
        names = list(class_names) if class_names is not None else hp.get("class_names")
        if regression:
            if class_names is not None:
                raise ParameterError(
                    "class_names name the outputs of a classifier; a regression has none."
                )
            names = None
        modality: Literal["tabular", "image"] = (
            "image" if self.image_size is not None else "tabular"
        )
        schema = None
        if (modality == "image" and not regression) or names:
            k = len(names) if names else self._n_outputs(module)
            names = [str(n) for n in names] if names else [str(i) for i in range(k)]
            feats = (
                (FeatureSpec("pixels", "image", shape=self.image_size),)
                if modality == "image"
                else tuple(FeatureSpec(f, "numeric") for f in self.features or ())
            )
            schema = DatasetSchema(
                name=self.path.name if self.path else type(module).__name__, modality=modality,
                features=feats, target="label", class_names=tuple(names),
            )  # fmt: skip
        super().__init__(module, name=type(module).__name__, schema=schema)
        if regression:
            self.task = "regression"
        self.class_names = names
        if names:
            self.classes_ = np.arange(len(names))
        self._sha: str | None = None

    def _n_outputs(self, module: Any) -> int:
        import torch

        assert self.image_size is not None
        c = len(self.mean) if self.mean else int(getattr(module, "hparams", {}).get("channels", 3))
        with torch.no_grad():
            out = module(torch.zeros(2, c, *self.image_size, device=_device(module)))
        k = int(out.reshape(2, -1).shape[1])
        return 2 if k == 1 else k

    # -- inputs ---------------------------------------------------------------------------
    def encode(self, X: Any) -> torch.Tensor:
        """Raw X -> the float tensor ``forward`` takes (see the class parameters)."""
        import torch

        if self._user_encode is not None:
            out = self._user_encode(X)
            return out if isinstance(out, torch.Tensor) else torch.as_tensor(out)
        if self.image_size is not None:
            return self._images(X)
        columns = None
        if getattr(X, "columns", None) is not None:
            have = [str(c) for c in X.columns]
            if self.features is not None:
                missing = [c for c in self.features if c not in have]
                if missing:
                    raise DataValidationError(
                        f"Column {missing[0]!r} (a feature of {self.name}) not found in the "
                        f"table; it has {', '.join(have)}."
                    )
                X = X[self.features]
            columns = [str(c) for c in X.columns]
        arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
        return torch.from_numpy(_as_float32(arr, columns, self.name))

    def _images(self, X: Any) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        assert self.image_size is not None
        if hasattr(X, "detach"):
            arr = X.detach().cpu().numpy()
        else:
            arr = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X)
        if arr.dtype.kind in "OUS":  # image files
            arr = load_images(arr.reshape(-1).tolist(), self.image_size)
        if arr.ndim == 3:
            arr = arr[:, None]  # (n, H, W) grey
        if arr.ndim != 4:
            raise DataValidationError(
                f"{self.name} takes images: an array of shape (n, H, W), (n, H, W, C) or "
                f"(n, C, H, W), or image files; got shape {arr.shape}."
            )
        if arr.shape[-1] in (1, 3, 4) and arr.shape[1] not in (1, 3, 4):
            arr = np.moveaxis(arr, -1, 1)  # NHWC -> NCHW
        scale = 255.0 if arr.dtype.kind in "iu" else 1.0
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32) / scale)
        if tuple(t.shape[2:]) != self.image_size:
            t = F.interpolate(t, size=self.image_size, mode="bilinear", align_corners=False)
        if self.mean is not None and self.std is not None:
            m = torch.as_tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
            s = torch.as_tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
            t = (t - m) / s
        return t

    # -- prediction -----------------------------------------------------------------------
    def _outputs(self, X: Any, finish: Any) -> list[Any]:
        """Run ``forward`` on ``X`` in batches; ``finish`` maps each (n, k) float64 output."""
        import torch

        x = self.encode(X)
        dev = _device(self.raw)
        outs = []
        self.raw.eval()
        with torch.no_grad():
            for s in range(0, len(x), self.batch_size):
                o = self.raw(x[s : s + self.batch_size].to(dev)).double()
                outs.append(finish(o.reshape(len(o), -1)).cpu())
        return outs

    def _proba(self, X: Any) -> Any:
        import torch

        def finish(o: Any) -> Any:
            if o.shape[1] == 1:
                p = torch.sigmoid(o[:, 0])
                return torch.stack([1 - p, p], dim=1)
            return torch.softmax(o, dim=1)

        outs = self._outputs(X, finish)
        return torch.cat(outs).numpy() if outs else np.zeros((0, 2))

    def _values(self, X: Any) -> Any:
        """Return ``forward``'s output as it is (one number per row for a regression)."""
        import torch

        outs = self._outputs(X, lambda o: o)
        return torch.cat(outs).numpy() if outs else np.zeros((0, 1))

    def torch_parts(self) -> TorchParts:
        """Return the module (it maps :meth:`encode`'s tensor to logits) and the encoder."""
        if self.image_size is not None:
            names = ["pixels"]
        else:
            names = list(self.features) if self.features is not None else []
        extras: dict[str, Any] = {"modality": "image" if self.image_size else "tabular"}
        module = self.raw
        if self.task == "regression":  # attributions explain output 0, the predicted number
            module, extras["task"] = one_output(self.raw), "regression"
        return TorchParts(module=module, encode=self.encode, feature_names=names, extras=extras)

    # -- description ----------------------------------------------------------------------
    def fingerprint(self) -> str | None:
        """Return the sha256 of the checkpoint file (None for a module in memory)."""
        if self._sha is None and self.path is not None and self.path.is_file():
            self._sha = file_sha256(self.path)
        return self._sha

    def describe(self) -> dict[str, Any]:
        """Return the class, the checkpoint, the inputs and the hyper-parameters (primitives)."""
        d = super().describe()
        hp = dict(getattr(self.raw, "hparams", {}) or {})
        d.update(
            path=str(self.path) if self.path is not None else None,
            model_class=self.model_class,
            modality="image" if self.image_size else "tabular",
            features=self.features,
            image_size=list(self.image_size) if self.image_size else None,
            normalisation={"mean": self.mean, "std": self.std} if self.mean else None,
            hparams={k: v for k, v in hp.items() if isinstance(v, (int, float, str, bool))},
            loaded_with="load_from_checkpoint(weights_only=True)",
            gradients=True,
        )
        return d


def _device(module: Any) -> Any:
    import torch

    try:
        return next(module.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def load_images(paths: Sequence[Any], image_size: Sequence[int]) -> np.ndarray:
    """Read image files as RGB, resized to ``image_size`` (H, W): uint8 of shape (n, H, W, 3).

    The audit takes these arrays (not the paths) so that the card can draw each image next to
    its attribution map.
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow comes with matplotlib/torchvision
        raise ParameterError("Reading image files needs Pillow (pip install pillow).") from exc
    h, w = int(image_size[0]), int(image_size[1])
    out = np.empty((len(paths), h, w, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(os.fsdecode(path)) as im:
                img = im.convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
        except (OSError, ValueError) as exc:
            raise DataValidationError(f"Image {path} could not be read: {_one_line(exc)}") from exc
        out[i] = np.asarray(img, dtype=np.uint8)
    return out


def read_image_folder(
    directory: str | os.PathLike[str],
) -> tuple[list[str], np.ndarray, list[str]]:
    """Read a folder with one sub-folder per class: (image paths, class indices, class names).

    Classes are the sub-folders in sorted order (as torchvision's ``ImageFolder``).
    """
    root = Path(os.fsdecode(directory))
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    paths: list[str] = []
    labels: list[int] = []
    for k, c in enumerate(classes):
        for f in sorted((root / c).iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(str(f))
                labels.append(k)
    if not paths:
        raise DataValidationError(
            f"{root} holds no images in class sub-folders (one folder per class, with "
            f"{', '.join(IMAGE_SUFFIXES)} files)."
        )
    return paths, np.asarray(labels, dtype=np.int64), classes


def load_user_lightning(
    ckpt_path: str | os.PathLike[str],
    model_class: str | type,
    *,
    map_location: Any = None,
    features: Sequence[str] | None = None,
    image_size: int | tuple[int, int] | None = None,
    class_names: Sequence[str] | None = None,
    task: str = "classification",
) -> UserLightningModel:
    """Load a user's LightningModule checkpoint, weights-only, and return its adapter.

    Parameters
    ----------
    ckpt_path : str or path-like
        A Lightning checkpoint (``Trainer.save_checkpoint``) or a ``torch.save`` of the
        module's ``state_dict()``.
    model_class : str or type
        ``"package.module:Class"``, ``"path/to/file.py:Class"`` or the class itself.
    map_location : optional
        Where the weights go (as in :func:`torch.load`); default: the CPU.
    features, image_size, class_names, task
        See :class:`UserLightningModel`.

    Returns
    -------
    UserLightningModel

    Raises
    ------
    ModelFileError
        In one line: the class does not import, the checkpoint's keys do not fit it, or the file
        is missing or unreadable.
    UnsafeModelError
        When the checkpoint holds pickled objects that weights-only loading refuses.
    """
    p = Path(os.fsdecode(ckpt_path))
    if not p.is_file():
        raise ModelFileError(f"Checkpoint {p} not found (no such file).")
    spec = model_class if isinstance(model_class, str) else None
    cls = import_model_class(model_class) if isinstance(model_class, str) else model_class
    module = _load_module(cls, p, map_location)
    return UserLightningModel(
        module, features=features, image_size=image_size, class_names=class_names, path=p,
        model_class=spec, task=task,
    )  # fmt: skip
