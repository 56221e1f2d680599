"""A loaded reference model and the adapter the audit sections talk to.

:func:`auditkit.models.checkpoint.load_checkpoint` and :func:`auditkit.models.training.train`
return a :class:`LoadedModel`; its :meth:`~LoadedModel.as_adapter` is a :class:`CheckpointModel`
(probabilities, torch parts, retraining through :func:`auditkit.models.fitting.fit_model`).
The file format itself (safe save and load) is :mod:`auditkit.models.checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..adapters.base import ModelAdapter, ModelKind, TorchParts

if TYPE_CHECKING:
    import torch

    from ._base import AuditableModule

from ..data._schema import DatasetSchema
from ..exceptions import ParameterError

__all__ = ["CheckpointModel", "LoadedModel"]


def _weights_sha256(module: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    for key, value in module.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class LoadedModel:
    """A reference model loaded from a checkpoint (or retrained in memory), with its metadata.

    Attributes
    ----------
    module : AuditableModule
        The LightningModule, in eval mode; ``module(encode(X))`` returns logits.
    meta : dict
        The checkpoint's ``auditkit`` metadata (plain data).
    schema : DatasetSchema
        The schema of the data the model was trained on.
    name : str
        The registered model name, for example ``"adult-mlp"``.
    path : Path or None
        The checkpoint file (None for a model retrained in memory).
    sha256 : str
        Hash of the checkpoint file (of the weights for a model retrained in memory).
    """

    def __init__(
        self, module: AuditableModule, meta: dict[str, Any], *, path: Path | None, sha256: str
    ) -> None:
        self.module = module
        self.meta = meta
        self.schema = DatasetSchema.from_dict(meta["schema"])
        self.name: str = meta["model_name"]
        self.path = path
        self.sha256 = sha256

    @property
    def n_classes(self) -> int:
        """Number of classes (columns of :meth:`predict_proba`)."""
        return self.schema.n_classes

    @property
    def class_names(self) -> list[str]:
        """Class names in the order of :meth:`predict_proba`'s columns."""
        return list(self.schema.class_names)

    def encode(self, X: Any) -> torch.Tensor:
        """Return the network input for raw ``X`` (float features/images, or token ids)."""
        return self.module.encode(X)

    def predict_proba(
        self,
        X: Any,
        *,
        batch_size: int | None = None,
        memory_budget_mb: float | None = None,
        devices: int | None = None,
        accelerator: str = "auto",
        strategy: str = "ddp",
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return class probabilities for the dataset's raw inputs.

        Parameters
        ----------
        X : DataFrame, ndarray of uint8, or sequence of str
            Tabular rows with the schema's columns (extra columns are ignored), images of the
            schema's shape (pixels 0-255), or raw review strings.
        batch_size : int, default=None
            Rows per forward pass (a model-specific default, or chosen from
            ``memory_budget_mb``).
        memory_budget_mb : float, default=None
            Bound, in MiB, on the working memory of scoring (per process): the rows are
            encoded and scored in chunks whose size comes from the memory one row takes,
            estimated on a probe of a few rows (activations of every layer, the encoded input,
            the probabilities). The returned array and ``X`` itself are not counted. None:
            encode all rows at once and score them in batches of ``batch_size``.
        devices : int, default=None
            Score in this many processes (devices) through Lightning's ``Trainer.predict``
            with the DDP strategy; the rows come back in their order. None or 1: this process.
        accelerator : str, default="auto"
            ``"cpu"``, ``"gpu"`` or ``"auto"`` (the GPUs when there are), with ``devices``.
        strategy : str, default="ddp"
            ``"ddp"`` (or ``"ddp_spawn"``, ``"ddp_fork"``, ``"ddp_notebook"``: the same here,
            auditkit spawns the processes).
        show_progress : bool, default=False
            Lightning's progress bar (stderr) with ``devices``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64

        Raises
        ------
        DataValidationError
            When a column is missing (named), images have the wrong shape, or texts are not
            strings.
        ParameterError
            For an invalid ``devices``, ``memory_budget_mb`` or ``strategy``.

        Notes
        -----
        Each row's probabilities do not depend on the other rows of its batch, but BLAS
        libraries pick their kernels by batch shape: very small batches (a few rows) can move
        the last bit of a float32 logit. With the default batch size, several devices give
        the probabilities of one device exactly (checked in the tests).
        """
        import torch

        from .._core.validation import check_int
        from ..runtime import planning, scoring

        func = "predict_proba"
        if devices is not None:
            devices = check_int(devices, param="devices", func=func, low=1)
        if strategy not in planning.DDP_STRATEGIES:
            raise ParameterError(
                f"The 'strategy' parameter of {func} must be one of "
                f"{', '.join(planning.DDP_STRATEGIES)}. Got {strategy!r} instead."
            )
        if memory_budget_mb is not None:
            memory_budget_mb = planning._check_budget(memory_budget_mb, func)
        if batch_size is not None:
            batch_size = check_int(batch_size, param="batch_size", func=func, low=1)
        if devices is not None and devices > 1:
            logits = scoring.logits_on_devices(
                self.module, self.module.encode(X), devices=devices, accelerator=accelerator,
                batch_size=batch_size, memory_budget_mb=memory_budget_mb,
                show_progress=show_progress,
            )  # fmt: skip
            proba: np.ndarray = torch.softmax(logits.double(), dim=1).numpy()
            return proba
        if (
            memory_budget_mb is not None
            and not isinstance(X, (str, bytes))
            and hasattr(X, "__len__")
        ):
            return scoring.chunked_proba(
                self.module, X, len(X), memory_budget_mb=memory_budget_mb, batch_size=batch_size
            )
        return self.module.predict_proba(X, batch_size=batch_size)

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"`` (the model predicts a number)."""
        return str(self.module.task)

    def predict_values(
        self,
        X: Any,
        *,
        batch_size: int | None = None,
        devices: int | None = None,
        accelerator: str = "auto",
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return the predicted values of a regression model, float64 of shape (n_samples,).

        In the target's units (the network un-standardises its output). ``devices`` scores in
        that many processes as :meth:`predict_proba` does; rows are encoded at once (a
        regression has one output per row, so scoring needs little memory beyond the input).

        Raises
        ------
        ParameterError
            For a classifier (use :meth:`predict_proba`) or an invalid ``devices``.
        """
        from .._core.validation import check_int
        from ..runtime import scoring

        if self.task != "regression":
            raise ParameterError(
                f"{self.name} is a classifier: it predicts class probabilities "
                "(predict_proba), not values."
            )
        if batch_size is not None:
            batch_size = check_int(batch_size, param="batch_size", func="predict_values", low=1)
        if devices is not None:
            devices = check_int(devices, param="devices", func="predict_values", low=1)
        if devices is not None and devices > 1:
            out = scoring.logits_on_devices(
                self.module, self.module.encode(X), devices=devices, accelerator=accelerator,
                batch_size=batch_size, memory_budget_mb=None, show_progress=show_progress,
            )  # fmt: skip
            values: np.ndarray = out.double().numpy()[:, 0]
            return values
        return self.module.predict_values(X, batch_size=batch_size)

    def predict(self, X: Any) -> np.ndarray:
        """Return predicted class indices (argmax of :meth:`predict_proba`)."""
        return np.asarray(self.predict_proba(X).argmax(axis=1), dtype=np.int64)

    def as_adapter(
        self,
        *,
        devices: int | None = None,
        accelerator: str = "auto",
        strategy: str = "ddp",
        memory_budget_mb: float | None = None,
        text_column: str | None = None,
    ) -> Any:
        """Return the :class:`~auditkit.models.checkpoint_model.CheckpointModel` the sections use.

        ``devices``, ``accelerator``, ``strategy`` and ``memory_budget_mb`` are the scoring
        options of :meth:`predict_proba`, used for every prediction the audit makes.
        ``text_column`` (text models) names the column of a table that holds the texts, when
        it is not the checkpoint's own text column (``schema.feature_names[0]``).
        """
        return CheckpointModel(
            self, devices=devices, accelerator=accelerator, strategy=strategy,
            memory_budget_mb=memory_budget_mb, text_column=text_column,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """Return plain data about the model (see :meth:`CheckpointModel.describe`)."""
        return self.as_adapter().describe()

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "in memory"
        return f"LoadedModel({self.name!r}, {where}, sha256={self.sha256[:12]})"


class CheckpointModel(ModelAdapter):
    """Adapter over a :class:`LoadedModel`: probabilities, torch parts, retraining.

    Attributes
    ----------
    loaded : LoadedModel
    classes_ : ndarray
        ``np.arange(n_classes)``: the columns of ``predict_proba`` are the class indices of the
        schema's ``class_names``.
    """

    kind: ModelKind = "checkpoint"
    has_scores = True

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        devices: int | None = None,
        accelerator: str = "auto",
        strategy: str = "ddp",
        memory_budget_mb: float | None = None,
        text_column: str | None = None,
    ) -> None:
        super().__init__(loaded, name=loaded.name, schema=loaded.schema)
        self.loaded = loaded
        if text_column is not None and (
            not isinstance(text_column, str) or loaded.module.modality != "text"
        ):
            raise ParameterError(
                f"text_column names the text column of a table for a text model; "
                f"{loaded.name} is a {loaded.module.modality} model (got {text_column!r})."
                if isinstance(text_column, str)
                else f"text_column must be a column name (str); got {text_column!r}."
            )
        #: The table column the texts are read from (None: the checkpoint's own text column).
        self.text_column = text_column
        if loaded.task == "regression":  # one predicted value per row, no classes or scores
            self.task = "regression"
            self.has_scores = False
        self.classes_ = np.arange(loaded.n_classes) if self.task == "classification" else None
        #: Scoring options passed to :meth:`LoadedModel.predict_proba` (devices, memory budget).
        self.scoring: dict[str, Any] = {
            "devices": devices,
            "accelerator": accelerator,
            "strategy": strategy,
            "memory_budget_mb": memory_budget_mb,
        }

    def _texts(self, X: Any) -> Any:
        """Return ``X``, or its column :attr:`text_column` when that is set and X is a table."""
        if self.text_column is None or getattr(X, "columns", None) is None:
            return X
        from ._text import text_column_of

        return text_column_of(X, self.text_column)

    def _encode(self, X: Any) -> torch.Tensor:
        return self.loaded.encode(self._texts(X))

    def _proba(self, X: Any) -> Any:
        return self.loaded.predict_proba(self._texts(X), **self.scoring)

    def _values(self, X: Any) -> Any:
        opts = {k: self.scoring[k] for k in ("devices", "accelerator")}
        return self.loaded.predict_values(self._texts(X), **opts)

    def torch_parts(self) -> TorchParts:
        """Return the module (encoded input -> logits), its encoder and the feature layout."""
        m = self.loaded.module
        text = m.modality == "text"
        return TorchParts(
            module=m,
            encode=self._encode,
            feature_names=m.feature_names(),
            feature_groups=m.feature_groups(),
            embedding=m.embedding_layer(),
            decode_tokens=m.decode_tokens if text else None,
            extras={"modality": m.modality, "model_name": self.loaded.name},
        )

    @property
    def can_refit(self) -> bool:
        """Reference models retrain with :func:`auditkit.models.training.fit_model`."""
        return True

    def refit(
        self, X: Any, y: Any, *, random_state: int = 0, **hparam_overrides: Any
    ) -> CheckpointModel:
        """Retrain the same architecture with the same hyper-parameters on ``(X, y)``.

        The preprocessing is refitted on ``X`` and a validation split is carved from it, as in
        training. ``hparam_overrides`` (for example ``max_epochs=5``) change hyper-parameters.
        Returns a new in-memory model; this one is unchanged.
        """
        from .fitting import fit_model

        hp = {**self.loaded.meta["hparams"], **hparam_overrides}
        module, history = fit_model(
            self.loaded.name, self._texts(X), y, schema=self.loaded.schema, hparams=hp,
            seed=random_state,
        )  # fmt: skip
        info = module.fit_info
        meta = {
            **{k: v for k, v in self.loaded.meta.items() if k not in ("test_metrics", "dp")},
            "hparams": dict(module.hp),
            "preprocessing": module.preprocessing,
            "history": history,
            "test_metrics": None,
            "seed": random_state,
            "wall_time_s": float(info["wall_time_s"]),
            "hardware": info["hardware"],
            "training": {
                "epochs_run": info["epochs_run"],
                "max_epochs": info["max_epochs"],
                "best_epoch": info["best_epoch"],
                "stopped_early": info["stopped_early"],
                "global_step": info["global_step"],
                "strategy": info["strategy"],
            },
            "refit_of": self.loaded.sha256,
        }
        original = dict(self.loaded.meta.get("dataset") or {})
        original.pop("fit_rows", None)  # the original's fitted rows, not this refit's
        meta["dataset"] = {
            **original,
            "n_train": int(info["n_train"]),
            "n_val": int(info["n_val"]),
            "refit": True,
        }
        return CheckpointModel(
            LoadedModel(module, meta, path=None, sha256=_weights_sha256(module)),
            text_column=self.text_column, **self.scoring,
        )  # fmt: skip

    def fingerprint(self) -> str | None:
        """Return the checkpoint file's sha256 (of the weights for a model retrained in memory)."""
        return self.loaded.sha256

    def describe(self) -> dict[str, Any]:
        """Return the model's name, kind, hash, training record and test metrics (plain data).

        A model trained with differential privacy adds ``dp``: ``epsilon`` (spent), ``delta``,
        ``max_grad_norm``, ``noise_multiplier``, ``accountant`` and the rest of the record.
        """
        meta = self.loaded.meta
        training = dict(meta.get("training") or {})
        training.update(
            {
                "wall_time_s": meta.get("wall_time_s"),
                "hardware": meta.get("hardware"),
                "versions": meta.get("versions"),
                "seed": meta.get("seed"),
                "created_at": meta.get("created_at"),
            }
        )
        return {
            "name": self.loaded.name,
            "kind": self.kind,
            "sha256": self.loaded.sha256,
            "path": str(self.loaded.path) if self.loaded.path is not None else None,
            "format_version": meta.get("format_version"),
            "model_name": self.loaded.name,
            "model_class": meta.get("model_class"),
            "modality": self.loaded.module.modality,
            "dataset": meta.get("dataset"),
            "hparams": meta.get("hparams"),
            "history": meta.get("history"),
            "test_metrics": meta.get("test_metrics"),
            "training": training,
            # load_checkpoint refused weights that differ from a recorded digest
            "weights_digest": "checked: the weights match the digest recorded when saved"
            if meta.get("weights_sha256")
            else "absent: the checkpoint predates weight digests, so its weights were not checked",
            **({"dp": dict(meta["dp"])} if isinstance(meta.get("dp"), dict) else {}),
        }
