"""The reference models: LightningModules behind one registry, each reading raw inputs.

========== ======== ==========================================================
name       dataset  model
========== ======== ==========================================================
adult-mlp  adult    MLP, one-hot categoricals, standardised numerics, dropout
adult-hours adult-hours MLP regression of hours-per-week (MSE, standardised target)
iris-mlp   iris     small MLP, weight decay, dropout
mnist-mlp  mnist    MLP over normalised pixels, dropout
cifar10-cnn cifar10 small CNN, batch norm, dropout, crop+flip augmentation
imdb-lstm  imdb     bidirectional LSTM, vocabulary built on train, dropout
========== ======== ==========================================================

The model classes and ``MODEL_REGISTRY`` load on first use (they import PyTorch Lightning), so
that the package's other modules (``kinds``, ``files``...) open an ONNX or skops file without it;
``import auditkit`` imports none of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._base import MODEL_REGISTRY as MODEL_REGISTRY
    from ._base import AuditableModule as AuditableModule
    from ._regression import AdultHoursMLP as AdultHoursMLP
    from ._regression import TabularRegressor as TabularRegressor
    from ._tabular import AdultMLP as AdultMLP
    from ._tabular import IrisMLP as IrisMLP
    from ._tabular import TabularMLP as TabularMLP
    from ._text import ImdbLSTM as ImdbLSTM
    from ._text import tokenize as tokenize
    from ._vision import Cifar10CNN as Cifar10CNN
    from ._vision import MnistMLP as MnistMLP

#: Where each lazily loaded name lives; every module is imported together, so that the
#: registry holds all the reference models whichever name is asked for first.
_LAZY = {
    "MODEL_REGISTRY": "_base", "AuditableModule": "_base", "AdultHoursMLP": "_regression",
    "TabularRegressor": "_regression", "AdultMLP": "_tabular", "IrisMLP": "_tabular",
    "TabularMLP": "_tabular", "ImdbLSTM": "_text", "tokenize": "_text",
    "Cifar10CNN": "_vision", "MnistMLP": "_vision",
}  # fmt: skip


def _load() -> None:
    for name, module in _LAZY.items():
        globals()[name] = getattr(import_module(f".{module}", __name__), name)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        _load()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MODEL_REGISTRY",
    "AdultHoursMLP",
    "AdultMLP",
    "AuditableModule",
    "Cifar10CNN",
    "ImdbLSTM",
    "IrisMLP",
    "MnistMLP",
    "TabularMLP",
    "TabularRegressor",
    "list_models",
    "tokenize",
]


def list_models() -> list[tuple[str, str, str]]:
    """Return ``(name, dataset, description)`` for every registered reference model."""
    _load()
    return [
        (name, MODEL_REGISTRY.get(name).dataset_name, MODEL_REGISTRY.get(name).description)
        for name in MODEL_REGISTRY.names()
    ]
