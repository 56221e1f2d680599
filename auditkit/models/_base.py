"""The base class of the reference models, the model registry and hyper-parameter handling.

A reference model is a :class:`pytorch_lightning.LightningModule` that also knows how to turn the
dataset's *raw* inputs (DataFrame rows, ``uint8`` images, review strings) into its input tensor.
The preprocessing is fitted on the training split by :meth:`AuditableModule.fit_preprocessing`
and stored as plain numbers and strings, so that a checkpoint holds no pickled objects.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F

from .._core.registry import Registry
from .._core.validation import format_available
from ..data._schema import DatasetSchema
from ..exceptions import ParameterError

__all__ = ["MODEL_REGISTRY", "AuditableModule", "resolve_hparams", "to_plain"]

#: Short name (``"adult-mlp"``) -> reference model class.
MODEL_REGISTRY: Registry[type[AuditableModule]] = Registry("model")

#: Hyper-parameters every reference model understands (each class adds its own and may override).
COMMON_HPARAMS: dict[str, Any] = {
    "lr": 1e-3,
    "weight_decay": 0.0,
    "batch_size": 64,
    "max_epochs": 20,
    "patience": 5,
    "val_fraction": 0.1,
    "scheduler": "none",
    "restore_best": True,
    "gradient_clip": 0.0,
    "label_smoothing": 0.0,
}
SCHEDULERS = ("none", "onecycle", "cosine")

_PRIMITIVES = (bool, int, float, str, type(None))


def to_plain(obj: Any, *, where: str = "value") -> Any:
    """Return ``obj`` as plain Python data (dict, list, str, int, float, bool, None).

    numpy scalars become Python numbers, tuples become lists. Anything else raises
    :class:`TypeError`: checkpoints must load with ``torch.load(weights_only=True)``.
    """
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (numbers.Integral, np.integer)):
        return int(obj)
    if isinstance(obj, (numbers.Real, np.floating)):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a non-string key {k!r}.")
            out[str(k)] = to_plain(v, where=f"{where}[{k!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, where=f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{where} is a {type(obj).__name__}, not plain data.")


def _check_hparam_value(name: str, value: Any, default: Any, *, owner: str) -> Any:
    expected: str
    if isinstance(default, bool):
        ok = isinstance(value, (bool, np.bool_))
        expected = "a bool"
        value = bool(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)
        expected = "an int"
        value = int(value) if ok else value
    elif isinstance(default, float):
        ok = isinstance(value, (numbers.Real, np.number)) and not isinstance(value, bool)
        ok = ok and bool(np.isfinite(float(value)))
        expected = "a finite float"
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
        expected = "a str"
    elif isinstance(default, list):
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) > 0
            for v in value
        )
        expected = "a list of positive ints"
        value = [int(v) for v in value] if ok else value
    else:  # pragma: no cover - defaults are written by us
        ok = type(value) in _PRIMITIVES
        expected = "a primitive"
    if not ok:
        raise ParameterError(
            f"The hyper-parameter {name!r} of {owner} must be {expected}. Got {value!r} instead."
        )
    return value


def resolve_hparams(
    cls: type[AuditableModule], overrides: dict[str, Any] | None
) -> dict[str, Any]:
    """Return the class defaults updated with ``overrides``, validated and plain.

    Raises
    ------
    ParameterError
        For an unknown name (the message lists the valid ones) or a value of the wrong type.
    """
    defaults = cls.default_hparams()
    hp = dict(defaults)
    for name, value in (overrides or {}).items():
        if name not in defaults:
            raise ParameterError(
                f"{name!r} is not a hyper-parameter of {cls.model_name}. "
                f"Available: {format_available(sorted(defaults))}"
            )
        hp[name] = _check_hparam_value(name, value, defaults[name], owner=cls.model_name)
    checks: list[tuple[str, bool, str]] = [
        ("lr", hp["lr"] > 0, "a float > 0"),
        ("weight_decay", hp["weight_decay"] >= 0, "a float >= 0"),
        ("batch_size", hp["batch_size"] >= 1, "an int >= 1"),
        ("max_epochs", hp["max_epochs"] >= 1, "an int >= 1"),
        ("patience", hp["patience"] >= 1, "an int >= 1"),
        ("val_fraction", 0 < hp["val_fraction"] < 1, "a float in the range (0, 1)"),
        ("gradient_clip", hp["gradient_clip"] >= 0, "a float >= 0 (0: no clipping)"),
        ("label_smoothing", 0 <= hp["label_smoothing"] < 1, "a float in the range [0, 1)"),
        ("scheduler", hp["scheduler"] in SCHEDULERS, f"one of {', '.join(SCHEDULERS)}"),
    ]
    if "dropout" in hp:
        checks.append(("dropout", 0 <= hp["dropout"] < 1, "a float in the range [0, 1)"))
    for name, ok, expected in checks:
        if not ok:
            raise ParameterError(
                f"The hyper-parameter {name!r} of {cls.model_name} must be {expected}. "
                f"Got {hp[name]!r} instead."
            )
    plain: dict[str, Any] = to_plain(hp, where="hparams")
    return plain


class AuditableModule(pl.LightningModule):
    """Base class of the reference models: a LightningModule that reads raw inputs.

    Parameters
    ----------
    schema : dict
        ``DatasetSchema.to_dict()`` of the data the model is trained on.
    preprocessing : dict
        Plain-data preprocessing fitted by :meth:`fit_preprocessing` on the training split.
    **hparams
        Hyper-parameters (primitives only); missing ones take the class defaults
        (:meth:`default_hparams`).

    Notes
    -----
    The constructor takes only plain data, so ``cls(**checkpoint["hyper_parameters"])`` (which
    is what Lightning's ``load_from_checkpoint`` does) rebuilds the model. Subclasses build their
    layers in ``__init__`` after calling ``super().__init__``, implement
    :meth:`fit_preprocessing`, :meth:`encode` and :meth:`forward` (encoded input -> logits), and
    may override :meth:`augment` (training-time augmentation of an encoded batch).
    """

    #: Registry name, for example ``"adult-mlp"``.
    model_name: ClassVar[str] = ""
    #: The bundled dataset the model is trained on by :func:`auditkit.train`.
    dataset_name: ClassVar[str] = ""
    #: ``"tabular"``, ``"image"`` or ``"text"``.
    modality: ClassVar[str] = ""
    #: ``"classification"`` (class logits) or ``"regression"`` (one output: the predicted value).
    task: ClassVar[str] = "classification"
    #: One line for ``auditkit models``.
    description: ClassVar[str] = ""
    #: The model's own hyper-parameters, merged over :data:`COMMON_HPARAMS`.
    HPARAMS: ClassVar[dict[str, Any]] = {}
    #: Rows per forward pass in :meth:`predict_proba`.
    predict_batch_size: ClassVar[int] = 1024
    #: torch threads for training when the caller does not choose (None: torch's setting).
    #: Small models gain little from a second thread and lose much when other jobs share the
    #: cores (threads wait for each other), so most reference models train on one.
    train_threads: ClassVar[int | None] = 1

    def __init__(
        self, *, schema: dict[str, Any], preprocessing: dict[str, Any], **hparams: Any
    ) -> None:
        super().__init__()
        self.hp: dict[str, Any] = resolve_hparams(type(self), hparams)
        self.schema_dict: dict[str, Any] = to_plain(schema, where="schema")
        self.schema = DatasetSchema.from_dict(self.schema_dict)
        self.preprocessing: dict[str, Any] = to_plain(preprocessing, where="preprocessing")
        # outputs of the network: one per class, or the one predicted value of a regression
        self.n_classes = self.schema.n_classes if self.task == "classification" else 1
        self.history: list[dict[str, float]] = []
        self.fit_info: dict[str, Any] = {}
        self._stats: dict[str, list[Any]] = {"train": [0.0, 0.0, 0], "val": [0.0, 0.0, 0]}
        self._last_val: tuple[float, float] = (float("nan"), float("nan"))

    # -- class-level description ------------------------------------------------------------
    @classmethod
    def default_hparams(cls) -> dict[str, Any]:
        """Return the default hyper-parameters (common ones updated with the class's own)."""
        return {**COMMON_HPARAMS, **cls.HPARAMS}

    @classmethod
    def fit_preprocessing(
        cls, X: Any, y: np.ndarray, schema: DatasetSchema, hparams: dict[str, Any]
    ) -> dict[str, Any]:  # pragma: no cover - abstract
        """Fit the preprocessing on training inputs; return it as plain data."""
        raise NotImplementedError

    @classmethod
    def check_schema(cls, schema: DatasetSchema) -> None:
        """Raise :class:`ParameterError` when the model cannot learn from data of ``schema``."""
        if schema.modality != cls.modality:
            raise ParameterError(
                f"{cls.model_name} is a {cls.modality} model; the data {schema.name!r} is "
                f"{schema.modality}."
            )
        if schema.task != cls.task:
            raise ParameterError(
                f"{cls.model_name} is a {cls.task} model; the target of {schema.name!r} "
                f"({schema.target!r}) is a {schema.task} target."
            )
        if cls.task == "classification" and schema.n_classes < 2:
            raise ParameterError(
                f"{cls.model_name} needs at least two classes; the schema of {schema.name!r} "
                f"has {schema.n_classes}."
            )

    # -- inputs ------------------------------------------------------------------------------
    def encode(self, X: Any) -> torch.Tensor:  # pragma: no cover - abstract
        """Return the network input (on the CPU) for the raw inputs ``X``."""
        raise NotImplementedError

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Return a training-time augmentation of the encoded batch ``x`` (identity here)."""
        return x

    def feature_names(self) -> list[str]:
        """Names of the original input features (tabular columns, or ``pixels``/``text``)."""
        return self.schema.feature_names

    def feature_groups(self) -> list[tuple[str, list[int]]] | None:
        """Original feature -> indices of its encoded columns (tabular models), else None."""
        return None

    def embedding_layer(self) -> nn.Module | None:
        """Return the token embedding layer (text models), else None."""
        return None

    def decode_tokens(self, ids: Any) -> list[str]:
        """Return the token strings of one encoded row (text models)."""
        raise NotImplementedError(f"{self.model_name} does not read tokens.")

    # -- prediction --------------------------------------------------------------------------
    def logits_from_encoded(
        self, x: torch.Tensor, *, batch_size: int | None = None
    ) -> torch.Tensor:
        """Return logits (float32, on the CPU) for an encoded input, in batches, without grad.

        Rows do not interact in evaluation mode, so a last batch of one row is scored inside a
        batch of copies (:func:`auditkit.runtime.attribution.score_chunk`): a batch of one takes
        other kernels, whose last bits can depend on the thread count.
        """
        from ..runtime.scoring import _local_logits

        if len(x) == 0:
            return torch.zeros((0, self.n_classes))
        return _local_logits(self, x, int(batch_size or self.predict_batch_size))

    def predict_proba(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """Return class probabilities of shape (n_samples, n_classes), float64, for raw ``X``."""
        if self.task == "regression":
            raise ParameterError(
                f"{self.model_name} is a regression model: it predicts values "
                "(predict_values), not class probabilities."
            )
        logits = self.logits_from_encoded(self.encode(X), batch_size=batch_size)
        proba: np.ndarray = torch.softmax(logits.double(), dim=1).numpy()
        return proba

    def predict_values(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """Return the predicted values of a regression model, shape (n_samples,), float64."""
        if self.task != "regression":
            raise ParameterError(
                f"{self.model_name} is a classifier: it predicts class probabilities "
                "(predict_proba), not values."
            )
        out = self.logits_from_encoded(self.encode(X), batch_size=batch_size)
        values: np.ndarray = out.double().numpy()[:, 0]
        return values

    # -- Lightning hooks ---------------------------------------------------------------------
    def _accumulate(
        self, stage: str, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor
    ) -> None:
        n = int(y.shape[0])
        s = self._stats[stage]
        s[0] = s[0] + loss.detach() * n
        s[1] = s[1] + (logits.detach().argmax(dim=1) == y).sum()
        s[2] += n

    def _summary(self, stage: str, *, across_ranks: bool = False) -> tuple[float, float]:
        """Mean loss and accuracy of ``stage``; ``across_ranks`` sums the counts of all ranks.

        Under DDP each rank sees its share of the training rows, so the epoch's training loss
        is the sum over ranks divided by the rows of all ranks (the same on every rank).
        """
        loss_sum, correct, n = self._stats[stage]
        trainer = self._trainer
        if across_ranks and trainer is not None and trainer.world_size > 1:
            t = torch.tensor(
                [float(loss_sum), float(correct), float(n)], dtype=torch.float64,
                device=self.device if self.device.type != "mps" else "cpu",
            )  # fmt: skip
            t = trainer.strategy.reduce(t, reduce_op="sum")
            loss_sum, correct, n = float(t[0]), float(t[1]), int(round(float(t[2])))
        if n == 0:
            return float("nan"), float("nan")
        return float(loss_sum) / n, float(correct) / n

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Cross-entropy (with optional label smoothing) on an augmented batch.

        The learning curve records the plain cross-entropy, comparable with the validation loss.
        """
        x, y = batch
        logits = self(self.augment(x))
        loss = F.cross_entropy(logits, y)
        smoothing = float(self.hp["label_smoothing"])
        self._accumulate("train", loss, logits, y)
        if smoothing > 0:
            return F.cross_entropy(logits, y, label_smoothing=smoothing)
        return loss

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        """Accumulate the validation loss and accuracy."""
        x, y = batch
        logits = self(x)
        self._accumulate("val", F.cross_entropy(logits, y), logits, y)

    def on_train_epoch_start(self) -> None:
        """Reset the running training statistics."""
        self._stats["train"] = [0.0, 0.0, 0]

    def on_validation_epoch_start(self) -> None:
        """Reset the running validation statistics."""
        self._stats["val"] = [0.0, 0.0, 0]

    def on_validation_epoch_end(self) -> None:
        """Log ``val_loss`` (for early stopping) and ``val_acc``, synchronised across ranks."""
        loss, acc = self._summary("val")
        self._last_val = (loss, acc)
        # Under DDP every rank validates on all validation rows (see training._fit_core), so
        # the values agree; sync_dist averages them anyway, so that early stopping and the
        # best epoch can never differ between ranks.
        self.log("val_loss", loss, prog_bar=True, sync_dist=True)
        self.log("val_acc", acc, prog_bar=True, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        """Append this epoch's training and validation loss and accuracy to :attr:`history`."""
        loss, acc = self._summary("train", across_ranks=True)
        self.log("train_loss", loss, prog_bar=True, sync_dist=True)
        val_loss, val_acc = self._last_val
        self.history.append(
            {
                "epoch": int(self.current_epoch) + 1,
                "train_loss": loss,
                "train_accuracy": acc,
                "val_loss": val_loss,
                "val_accuracy": val_acc,
            }
        )

    def configure_optimizers(self) -> Any:
        """Return AdamW (``lr``, ``weight_decay``) and the optional one-cycle/cosine schedule."""
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hp["lr"], weight_decay=self.hp["weight_decay"]
        )
        if self.hp["scheduler"] == "none":
            return opt
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched: Any
        if self.hp["scheduler"] == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=self.hp["lr"], total_steps=total
            )
        else:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def mlp(
    sizes: Sequence[int], n_out: int, *, dropout: float, batch_norm: bool = False
) -> nn.Sequential:
    """Return Linear-(BatchNorm)-ReLU-Dropout blocks over ``sizes`` and a final Linear layer."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(a, b))
        if batch_norm:
            layers.append(nn.BatchNorm1d(b))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-1], n_out))
    return nn.Sequential(*layers)
