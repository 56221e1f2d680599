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

Importing this package imports PyTorch Lightning; ``import auditkit`` does not.
"""

from __future__ import annotations

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
    return [
        (name, MODEL_REGISTRY.get(name).dataset_name, MODEL_REGISTRY.get(name).description)
        for name in MODEL_REGISTRY.names()
    ]
