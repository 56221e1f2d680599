"""Tabular regression reference models: an MLP that predicts a number (MSE, standardised target).

:class:`TabularRegressor` reads any tabular schema whose ``task`` is ``"regression"``, with the
preprocessing of :class:`~auditkit.models._tabular.TabularMLP` (standardised numerics, one-hot
categoricals) plus the training mean and standard deviation of the target. The network learns
the standardised target with a mean squared error loss; :meth:`TabularRegressor.forward`
un-standardises, so the module's one output *is* the predicted value in the target's units
(hours for ``adult-hours``): predictions, attributions and completeness deltas all read in
those units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from ..data._schema import DatasetSchema
from ._base import MODEL_REGISTRY
from ._tabular import TabularMLP

__all__ = ["AdultHoursMLP", "TabularRegressor", "fit_target_scaling"]


def fit_target_scaling(y: np.ndarray, name: str) -> dict[str, Any]:
    """Return the target's name, training mean and standard deviation (1 when constant)."""
    v = np.asarray(y, dtype=np.float64)
    mean = float(v.mean()) if v.size else 0.0
    std = float(v.std()) if v.size else 1.0
    return {"name": str(name), "mean": mean, "std": std if std > 1e-12 else 1.0}


class TabularRegressor(TabularMLP):
    """An MLP over encoded table rows with one output: the predicted value of a number.

    The loss is the mean squared error of the standardised target (so the learning rate does
    not depend on the target's units); the learning curves record it as ``train_loss`` and
    ``val_loss``, and the root mean squared error in the target's units as ``train_rmse`` and
    ``val_rmse``.
    """

    task = "regression"

    def __init__(
        self, *, schema: dict[str, Any], preprocessing: dict[str, Any], **hparams: Any
    ) -> None:
        super().__init__(schema=schema, preprocessing=preprocessing, **hparams)
        target = self.preprocessing.get("target") or {}
        self.target_mean = float(target.get("mean", 0.0))
        self.target_std = float(target.get("std", 1.0))

    @classmethod
    def fit_preprocessing(
        cls, X: Any, y: np.ndarray, schema: DatasetSchema, hparams: dict[str, Any]
    ) -> dict[str, Any]:
        """Return the table preprocessing plus the target's training mean and std."""
        prep = super().fit_preprocessing(X, y, schema, hparams)
        prep["target"] = fit_target_scaling(y, schema.target)
        return prep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map encoded rows to the predicted value, shape (n, 1), in the target's units."""
        out: torch.Tensor = self.net(x) * self.target_std + self.target_mean
        return out

    def _standardised_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = (out[:, 0] - self.target_mean) / self.target_std
        return F.mse_loss(z, (y.to(z.dtype) - self.target_mean) / self.target_std)

    def _accumulate(
        self, stage: str, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor
    ) -> None:
        n = int(y.shape[0])
        s = self._stats[stage]
        s[0] = s[0] + loss.detach() * n
        s[1] = s[1] + ((logits.detach()[:, 0] - y.to(logits.dtype)) ** 2).sum()
        s[2] += n

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Mean squared error of the standardised target on an augmented batch."""
        x, y = batch
        out = self(self.augment(x))
        loss = self._standardised_loss(out, y)
        self._accumulate("train", loss, out, y)
        return loss

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        """Accumulate the validation loss and squared errors."""
        x, y = batch
        out = self(x)
        self._accumulate("val", self._standardised_loss(out, y), out, y)

    def on_validation_epoch_end(self) -> None:
        """Log ``val_loss`` (early stopping) and ``val_rmse``, synchronised across ranks."""
        loss, mse = self._summary("val")
        self._last_val = (loss, mse)
        self.log("val_loss", loss, prog_bar=True, sync_dist=True)
        self.log("val_rmse", float(np.sqrt(mse)), prog_bar=True, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        """Append the epoch's losses and RMSEs (target units) to :attr:`history`."""
        loss, mse = self._summary("train", across_ranks=True)
        self.log("train_loss", loss, prog_bar=True, sync_dist=True)
        val_loss, val_mse = self._last_val
        self.history.append(
            {
                "epoch": int(self.current_epoch) + 1,
                "train_loss": loss,
                "val_loss": val_loss,
                "train_rmse": float(np.sqrt(mse)),
                "val_rmse": float(np.sqrt(val_mse)),
            }
        )


@MODEL_REGISTRY.register("adult-hours")
class AdultHoursMLP(TabularRegressor):
    """MLP regression of Adult's weekly working hours (one-hot categoricals, dropout)."""

    model_name = "adult-hours"
    dataset_name = "adult-hours"
    description = "MLP regression of UCI Adult hours-per-week (MSE, standardised target)"
    HPARAMS: ClassVar[dict[str, Any]] = {
        **TabularMLP.HPARAMS,
        "hidden": [128, 64],
        "dropout": 0.1,
        "weight_decay": 1e-4,
        "lr": 1e-3,
        "batch_size": 256,
        "max_epochs": 20,
        "patience": 4,
    }
