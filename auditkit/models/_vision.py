"""Image reference models: an MLP for MNIST digits and a small CNN for CIFAR-10.

Raw images are ``uint8`` arrays of shape (n, H, W) or (n, H, W, C) (HWC, as the datasets give
them). They are scaled to [0, 1] and normalised per channel with the training mean and standard
deviation (stored as floats); the network input is a float tensor of shape (n, C, H, W).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError
from ._base import MODEL_REGISTRY, AuditableModule, mlp

__all__ = [
    "Cifar10CNN",
    "ImageModule",
    "MnistMLP",
    "encode_images",
    "fit_image_preprocessing",
    "random_crop_flip",
]


def _image_shape(schema: DatasetSchema) -> tuple[int, ...]:
    spec = schema.features[0] if len(schema.features) == 1 else None
    if spec is None or spec.kind != "image" or spec.shape is None:
        raise ParameterError(
            f"An image model needs a schema with one image feature and its shape; "
            f"{schema.name!r} has features {schema.feature_names}."
        )
    return spec.shape


def _as_images(X: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(X)
    if arr.dtype == object or arr.dtype.kind not in "uif":
        raise DataValidationError(
            f"Images must be a numeric array (uint8 pixels 0-255); got dtype {arr.dtype}."
        )
    if arr.shape[1:] != tuple(shape):
        want = ", ".join(str(s) for s in shape)
        raise DataValidationError(
            f"Images must have shape (n_samples, {want}) with pixel values 0-255; got an array "
            f"of shape {arr.shape}."
        )
    return arr


def fit_image_preprocessing(X: Any, schema: DatasetSchema) -> dict[str, Any]:
    """Per-channel mean and standard deviation of the training pixels scaled to [0, 1]."""
    shape = _image_shape(schema)
    arr = _as_images(X, shape).astype(np.float64) / 255.0
    if len(shape) == 2:
        arr = arr[..., None]
    flat = arr.reshape(-1, arr.shape[-1])
    std = flat.std(axis=0)
    return {
        "kind": "image",
        "shape": list(shape),
        "scale": 255.0,
        "mean": [float(m) for m in flat.mean(axis=0)],
        "std": [float(s) if s > 1e-12 else 1.0 for s in std],
    }


def encode_images(X: Any, prep: dict[str, Any]) -> torch.Tensor:
    """Raw images -> normalised float32 tensor of shape (n, C, H, W)."""
    shape = tuple(prep["shape"])
    arr = _as_images(X, shape).astype(np.float32) / np.float32(prep["scale"])
    if arr.ndim == 3:
        arr = arr[..., None]
    mean = np.asarray(prep["mean"], dtype=np.float32)
    std = np.asarray(prep["std"], dtype=np.float32)
    arr = (arr - mean) / std
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


def random_crop_flip(x: torch.Tensor, *, pad: int, flip: bool) -> torch.Tensor:
    """Randomly shift each image by up to ``pad`` pixels (zero fill) and mirror half of them.

    Parameters
    ----------
    x : Tensor of shape (n, C, H, W)
    pad : int
        Maximum shift; a random ``H x W`` window of the image zero-padded by ``pad``.
    flip : bool
        Mirror each image left-right with probability 1/2.
    """
    n, channels, h, w = x.shape
    if pad > 0:
        dev = x.device
        padded = F.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (n,), device=dev)
        ox = torch.randint(0, 2 * pad + 1, (n,), device=dev)
        rows = (oy[:, None] + torch.arange(h, device=dev)[None, :])[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=dev)[None, :])[:, None, None, :]
        b = torch.arange(n, device=dev)[:, None, None, None]
        c = torch.arange(channels, device=dev)[None, :, None, None]
        x = padded[b, c, rows, cols]
    if flip:
        mirror = torch.rand(n, device=x.device) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    return x


class ImageModule(AuditableModule):
    """Shared preprocessing and augmentation (``crop_padding``, ``flip``) of the image models."""

    modality = "image"
    predict_batch_size = 512

    @classmethod
    def fit_preprocessing(
        cls, X: Any, y: np.ndarray, schema: DatasetSchema, hparams: dict[str, Any]
    ) -> dict[str, Any]:
        """Per-channel pixel mean and standard deviation of the training images."""
        return fit_image_preprocessing(X, schema)

    def encode(self, X: Any) -> torch.Tensor:
        """uint8 images (n, H, W[, C]) -> normalised float tensor (n, C, H, W)."""
        return encode_images(X, self.preprocessing)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Random shift by up to ``crop_padding`` pixels, and left-right flip if ``flip``."""
        return random_crop_flip(x, pad=int(self.hp["crop_padding"]), flip=bool(self.hp["flip"]))


@MODEL_REGISTRY.register("mnist-mlp")
class MnistMLP(ImageModule):
    """MLP over the 784 normalised pixels of an MNIST digit, with dropout and random shifts.

    Hyper-parameters (besides the common ones): ``hidden`` (layer widths), ``dropout``,
    ``crop_padding`` (random shift of up to this many pixels while training) and ``flip``.
    """

    model_name = "mnist-mlp"
    dataset_name = "mnist"
    description = "MLP on MNIST handwritten digits (28x28 grey), dropout, random shifts"
    HPARAMS: ClassVar[dict[str, Any]] = {
        "hidden": [512, 256],
        "dropout": 0.3,
        "weight_decay": 1e-4,
        "lr": 1e-3,
        "batch_size": 64,
        "max_epochs": 40,
        "patience": 8,
        "crop_padding": 2,
        "flip": False,
    }

    def __init__(
        self, *, schema: dict[str, Any], preprocessing: dict[str, Any], **hparams: Any
    ) -> None:
        super().__init__(schema=schema, preprocessing=preprocessing, **hparams)
        n_in = int(np.prod(self.preprocessing["shape"]))
        self.net = mlp([n_in, *self.hp["hidden"]], self.n_classes, dropout=self.hp["dropout"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (n, 1, 28, 28) -> logits (n, 10)."""
        out: torch.Tensor = self.net(x.flatten(1))
        return out


class GlobalAvgPool(nn.Module):
    """Mean over the spatial dimensions: (n, C, H, W) -> (n, C).

    Written as a mean rather than ``AdaptiveAvgPool2d(1)``, whose CUDA backward has no
    deterministic implementation (training runs with ``deterministic=True``).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average each channel over height and width."""
        return x.mean(dim=(2, 3))


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


@MODEL_REGISTRY.register("cifar10-cnn")
class Cifar10CNN(ImageModule):
    """A small VGG-style CNN with batch norm, dropout and crop/flip augmentation.

    Hyper-parameters (besides the common ones): ``channels`` (width of each stage), ``convs``
    (3x3 convolutions per stage; each stage ends with 2x2 max pooling), ``dropout``,
    ``crop_padding`` and ``flip`` (augmentation).
    """

    model_name = "cifar10-cnn"
    dataset_name = "cifar10"
    description = (
        "small CNN on CIFAR-10 (32x32 colour), batch norm, dropout, crop+flip augmentation"
    )
    HPARAMS: ClassVar[dict[str, Any]] = {
        "channels": [32, 64, 128],
        "convs": [1, 1, 2],
        "dropout": 0.3,
        "weight_decay": 5e-4,
        "lr": 3e-3,
        "batch_size": 64,
        "max_epochs": 30,
        "patience": 8,
        "scheduler": "onecycle",
        "crop_padding": 4,
        "flip": True,
    }
    predict_batch_size = 256
    # convolutions are large enough to use every core (49 s with 2 threads, 93 s with 1)
    train_threads = None

    def __init__(
        self, *, schema: dict[str, Any], preprocessing: dict[str, Any], **hparams: Any
    ) -> None:
        super().__init__(schema=schema, preprocessing=preprocessing, **hparams)
        shape = self.preprocessing["shape"]
        c_in = int(shape[2]) if len(shape) == 3 else 1
        if len(self.hp["convs"]) != len(self.hp["channels"]):
            raise ParameterError(
                f"The hyper-parameters 'channels' and 'convs' of {self.model_name} must have the "
                f"same length (one entry per stage); got {self.hp['channels']} and "
                f"{self.hp['convs']}."
            )
        blocks: list[nn.Module] = []
        for c, n_conv in zip(self.hp["channels"], self.hp["convs"]):
            for _ in range(n_conv):
                blocks.append(_conv_block(c_in, c))
                c_in = c
            blocks.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            GlobalAvgPool(),
            nn.Dropout(self.hp["dropout"]),
            nn.Linear(c_in, self.n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (n, 3, 32, 32) -> logits (n, 10)."""
        out: torch.Tensor = self.head(self.features(x))
        return out
