"""Fit a reference model in memory (shared by ``train`` and cross-validation retraining).

:func:`fit_model` trains any data of the right modality with a Lightning ``Trainer`` (one
process, or several through :func:`auditkit.runtime.devices.launch`) and returns the module
and its learning curves. Training is deterministic for a given seed on a given machine:
``seed_everything(seed)``, ``Trainer(deterministic=True)``, a seeded validation split and a
seeded batch order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pytorch_lightning as pl

from .._core.rows import take_rows as _take
from .._core.validation import check_int, check_same_length, to_1d
from ..exceptions import DataValidationError, ParameterError
from ..runtime.devices import progress_bar, quiet_workers, usable_cpus
from .energy import EnergyMeter

if TYPE_CHECKING:
    from ..data._schema import DatasetSchema
    from ._base import AuditableModule
    from .dp import DPConfig

__all__ = ["fit_model", "hardware_info", "library_versions"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _torch_flags() -> Iterator[None]:
    """Restore torch's global determinism flags after ``Trainer(deterministic=True)``."""
    import torch

    det = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn_det, cudnn_bench = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_det
        torch.backends.cudnn.benchmark = cudnn_bench


@contextlib.contextmanager
def _threads(num_threads: int | None) -> Iterator[int]:
    """Use ``num_threads`` torch threads (None: torch's setting, capped at the usable CPUs)."""
    import torch

    before = torch.get_num_threads()
    wanted = before if num_threads is None else num_threads
    wanted = max(1, min(wanted, usable_cpus()))
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_info(accelerator: str | None = None, devices: int | None = None) -> dict[str, Any]:
    """Return the CPU model and count, torch threads, the GPU name (or None), the accelerator."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count() or 1,
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "accelerator": accelerator,
        "devices": devices,
        "platform": platform.platform(),
    }


def library_versions() -> dict[str, str]:
    """Return the versions of Python, auditkit, torch, PyTorch Lightning and numpy."""
    import torch

    from .._version import __version__

    return {
        "python": platform.python_version(),
        "auditkit": __version__,
        "torch": str(torch.__version__),
        "pytorch_lightning": str(pl.__version__),
        "numpy": np.__version__,
    }


def _validation_split(
    y: np.ndarray, fraction: float, seed: int, *, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of row indices into (train, validation), stratified where possible.

    ``y`` empty with ``n`` given (a regression target): a plain seeded split of ``n`` rows.
    """
    from ..data._datasets import stratified_split

    n = len(y) if n is None else n
    _, counts = np.unique(y, return_counts=True)
    if len(counts) and counts.min() >= 2:
        tr, va = stratified_split(y, fraction, seed=seed)
        if len(va) >= 1 and len(tr) >= 2:
            return tr, va
    perm = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, int(round(n * fraction))), n - 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _class_codes(y: Any, schema: DatasetSchema) -> np.ndarray:
    arr = to_1d(y, name="y")
    k = schema.n_classes
    if arr.dtype.kind in "iu" or (arr.dtype.kind == "b"):
        codes = arr.astype(np.int64)
    else:
        names = {c: i for i, c in enumerate(schema.class_names)}
        strs = [str(v) for v in arr]
        bad = [s for s in strs if s not in names]
        if bad:
            raise DataValidationError(
                f"Label {bad[0]!r} is not a class of {schema.name!r}; classes: "
                f"{', '.join(schema.class_names)} (or pass class indices 0..{k - 1})."
            )
        codes = np.asarray([names[s] for s in strs], dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= k):
        raise DataValidationError(
            f"y must hold class indices 0..{k - 1} for {schema.name!r}; got values from "
            f"{int(codes.min())} to {int(codes.max())}."
        )
    return codes


def _regression_targets(y: Any) -> np.ndarray:
    """Return a regression target as finite float64 values (errors name the row)."""
    arr = to_1d(y, name="y")
    try:
        v = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next((x for x in arr.tolist() if not _is_number(x)), arr[0])
        raise DataValidationError(
            f"y must hold numbers for a regression model; got the value {bad!r}."
        ) from None
    nonfinite = ~np.isfinite(v)
    if nonfinite.any():
        i = int(np.flatnonzero(nonfinite)[0])
        raise DataValidationError(
            f"y must hold finite numbers for a regression model; row {i} holds {float(v[i])!r}."
        )
    return v


def _is_number(x: Any) -> bool:
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return True


def _targets(cls: Any, y: Any, schema: DatasetSchema) -> np.ndarray:
    """Class codes of a classifier, float64 values of a regression model."""
    if getattr(cls, "task", "classification") == "regression":
        return _regression_targets(y)
    return _class_codes(y, schema)


def fit_model(
    name: str,
    X: Any,
    y: Any,
    *,
    schema: DatasetSchema,
    hparams: dict[str, Any] | None = None,
    seed: int = 0,
    max_epochs: int | None = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    strategy: str = "auto",
    show_progress: bool = False,
    num_threads: int | None = None,
    dp: DPConfig | None = None,
) -> tuple[AuditableModule, list[dict[str, float]]]:
    """Train reference model ``name`` in memory on ``(X, y)``; return the model and its history.

    A validation split is carved from ``(X, y)`` (seeded, stratified), the preprocessing is
    fitted on the remaining rows, and a Lightning ``Trainer`` fits the model with early stopping
    on the validation loss; the weights of the best validation epoch are restored at the end.

    Parameters
    ----------
    name : str
        A registered model (``"adult-mlp"``, ``"iris-mlp"``, ``"mnist-mlp"``,
        ``"cifar10-cnn"``, ``"imdb-lstm"``). Its class works for any data of its modality:
        the tabular models read any table described by ``schema``.
    X : DataFrame, ndarray of uint8 images, or sequence of str
        Raw training inputs.
    y : array-like of shape (n_samples,)
        Class indices into ``schema.class_names`` (or the class names themselves).
    schema : DatasetSchema
        What the data holds (features, classes).
    hparams : dict, default=None
        Hyper-parameter overrides (see the class's ``default_hparams()``).
    seed : int, default=0
        Seed of ``seed_everything``, the validation split and the batch order.
    max_epochs : int, default=None
        Overrides the ``max_epochs`` hyper-parameter.
    accelerator, devices, strategy
        Passed to ``pytorch_lightning.Trainer`` (``"auto"``: the GPU when there is one).
        Several devices with ``strategy`` ``"ddp"``, ``"ddp_spawn"``, ``"ddp_fork"``,
        ``"ddp_notebook"`` or ``"auto"`` start one process per device (spawned by auditkit,
        never by running the command line again; see :mod:`auditkit.runtime.devices`), each
        running Lightning's DDP on its share of the training rows (the batch size is per
        device); every rank validates on all validation rows. A process started by an outside
        launcher (``torchrun``) trains as its own rank. Other strategies go to Lightning as
        they are.
    show_progress : bool, default=False
        Show Lightning's progress bar (on stderr; the first process only).
    num_threads : int or None, default=None
        CPU threads torch uses while training, restored afterwards (always capped at the CPUs
        this process may use). None takes the model's ``train_threads``: one thread for the
        MLPs and the LSTM, whose small operations gain little from more and lose much when
        other jobs share the cores, torch's setting for the CNN. On a busy machine pass 1:
        threads on oversubscribed cores wait for each other and can run many times slower
        (see benchmarks/RESULTS.md). Weights are reproducible for a seed and thread count.
    dp : DPConfig, default=None
        Train with differential privacy (DP-SGD through Opacus; see :mod:`auditkit.models.dp`):
        every ``max_epochs`` epoch is run (no early stopping, the last weights are kept) and
        ``module.fit_info["dp"]`` records the privacy spent.

    Returns
    -------
    module : AuditableModule
        The trained model on the CPU, in eval mode; ``module.fit_info`` holds the training
        details (epochs, best epoch, sizes, wall time, hardware).
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy``.

    Raises
    ------
    RegistryKeyError
        For an unknown model name.
    ParameterError
        For an unknown or invalid hyper-parameter, or a schema the model cannot read.
    DataValidationError
        When ``X`` and ``y`` disagree or the inputs do not match the schema.
    """
    from . import MODEL_REGISTRY

    cls = MODEL_REGISTRY.get(name)
    seed = check_int(seed, param="seed", func="fit_model", high=2**32 - 1)
    overrides = dict(hparams or {})
    if max_epochs is not None:
        overrides["max_epochs"] = check_int(
            max_epochs, param="max_epochs", func="fit_model", low=1
        )
    from ._base import resolve_hparams

    hp = resolve_hparams(cls, overrides)
    if dp is not None:  # DP: no model selection on the validation split
        hp.update(patience=hp["max_epochs"], restore_best=False)
    cls.check_schema(schema)
    codes = _targets(cls, y, schema)
    regression = codes.dtype.kind == "f"
    n = check_same_length(X=X, y=codes)
    if n < 4:
        raise DataValidationError(f"fit_model needs at least 4 training rows; got {n}.")

    import torch

    if num_threads is not None:
        check_int(num_threads, param="num_threads", func="fit_model", low=1)
    else:
        num_threads = cls.train_threads
    from ..runtime.devices import (
        DDP_STRATEGIES,
        launched_externally,
        plan_processes,
        resolve_accelerator,
    )

    world = plan_processes(accelerator, devices, strategy)
    in_process_strategy = strategy
    if world is None and not launched_externally() and strategy in DDP_STRATEGIES:
        # One device: Lightning's DDP in this process would only start a one-process group
        # and leave it (and LOCAL_RANK, MASTER_PORT...) behind for every later run.
        in_process_strategy = "auto"
    if world is not None and dp is not None:
        raise ParameterError(
            "fit_model: differentially private training runs on one device; pass devices=1 "
            "(Opacus needs its own distributed wrapper)."
        )
    t0 = time.perf_counter()
    with quiet_workers(), _torch_flags(), _threads(num_threads) as n_threads:
        pl.seed_everything(seed, verbose=False)
        tr_idx, va_idx = _validation_split(
            codes[:0] if regression else codes,
            hp["val_fraction"], seed, n=len(codes),
        )  # fmt: skip
        X_tr, X_va = _take(X, tr_idx), _take(X, va_idx)
        prep = cls.fit_preprocessing(X_tr, codes[tr_idx], schema, hp)
        module = cls(schema=schema.to_dict(), preprocessing=prep, **hp)
        data = (
            module.encode(X_tr),
            torch.from_numpy(_as_label_tensor(codes[tr_idx])),
            module.encode(X_va),
            torch.from_numpy(_as_label_tensor(codes[va_idx])),
        )
        if world is None:  # this process: one device, or one rank of an outside launcher
            with EnergyMeter() as meter:  # NVML where there is a GPU, else an estimate
                outcome = _fit_core(
                    module, data, hp=hp, seed=seed, accelerator=accelerator, devices=devices,
                    strategy=in_process_strategy, show_progress=show_progress, dp=dp,
                    world_hint=_external_world(),
                )  # fmt: skip
        else:
            from ..runtime.devices import launch

            accel_name = resolve_accelerator(accelerator)
            payload = {
                "name": name, "schema": schema.to_dict(), "prep": prep, "hp": hp,
                "init_state": {k: v.detach().clone() for k, v in module.state_dict().items()},
                "data": data, "seed": seed, "accelerator": accel_name,
                "show_progress": show_progress,
                "threads": None if num_threads is None else n_threads,
            }  # fmt: skip
            with EnergyMeter() as meter:
                results = launch(_fit_worker, world, payload, accelerator=accel_name)
            outcome = _rank_zero_outcome(module, results)
    dp_record = outcome.pop("dp_record", None)
    module.cpu()
    module.eval()
    wall = time.perf_counter() - t0
    module.fit_info = _fit_info(
        module, outcome, seed=seed, hp=hp, split=(tr_idx, va_idx), wall=wall,
        torch_threads=n_threads if world is None else outcome["torch_threads"],
        strategy=strategy, spawned=world is not None, energy=meter.report,
    )  # fmt: skip
    if dp_record is not None:
        module.fit_info["dp"] = dp_record
    return module, list(module.history)


def _as_label_tensor(y: np.ndarray) -> np.ndarray:
    """Class codes as they are; regression targets as float32 (the network's precision)."""
    return y.astype(np.float32) if y.dtype.kind == "f" else y


def _rank_zero_outcome(module: Any, results: list[Any]) -> dict[str, Any]:
    """Load rank 0's weights and history into ``module``; return the rest of its result."""
    first: dict[str, Any] = results[0]
    module.load_state_dict(first.pop("state"))
    module.history = list(first.pop("history"))
    return first


def _fit_info(
    module: Any,
    outcome: dict[str, Any],
    *,
    seed: int,
    hp: dict[str, Any],
    split: tuple[Any, Any],
    wall: float,
    torch_threads: Any,
    strategy: str,
    spawned: bool,
    energy: Any,
) -> dict[str, Any]:
    """Return ``module.fit_info``: epochs, sizes, time, hardware, processes and energy."""
    tr_idx, va_idx = split
    epochs_run = len(module.history)
    return {
        "seed": seed,
        "epochs_run": epochs_run,
        "max_epochs": int(hp["max_epochs"]),
        "best_epoch": outcome["best_epoch"] or epochs_run,
        "stopped_early": epochs_run < int(hp["max_epochs"]),
        "global_step": int(outcome["global_step"]),
        "n_train": len(tr_idx),
        "n_val": len(va_idx),
        "fit_rows": np.sort(np.asarray(tr_idx, dtype=np.int64)),
        "wall_time_s": wall,
        "hardware": {
            **hardware_info(outcome["accelerator"], int(outcome["devices"])),
            "torch_threads": torch_threads,
        },
        "strategy": str(strategy),
        "distributed": {
            "devices": int(outcome["devices"]),
            "world_size": int(outcome["world_size"]),
            "global_rank": int(outcome["global_rank"]),
            "strategy": str(strategy),
            "launcher": "auditkit-spawn"
            if spawned
            else ("external" if outcome["world_size"] > 1 else None),
        },
        "energy": energy.to_dict() if energy is not None else None,
    }


def _external_world() -> int:
    """World size of a run started by an outside launcher (``torchrun``...), else 1."""
    from ..runtime.devices import launched_externally

    if not launched_externally():
        return 1
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def _fit_core(
    module: AuditableModule,
    data: tuple[Any, Any, Any, Any],
    *,
    hp: dict[str, Any],
    seed: int,
    accelerator: str,
    devices: Any,
    strategy: Any,
    show_progress: bool,
    dp: DPConfig | None,
    world_hint: int,
    plugins: list[Any] | None = None,
) -> dict[str, Any]:
    """Fit ``module`` on encoded ``(x_tr, y_tr, x_va, y_va)`` with a Lightning Trainer.

    With several processes (``world_hint > 1``) Lightning gives each rank its share of the
    training rows (``DistributedSampler``), while every rank validates on *all* validation rows
    (a one-replica ``DistributedSampler``, which Lightning leaves in place): the validation loss
    is then the same on every rank, so early stopping and the best epoch agree.
    """
    import torch
    from pytorch_lightning.callbacks import EarlyStopping
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    x_tr, y_tr, x_va, y_va = data
    bs = int(hp["batch_size"])
    per_rank = -(-len(y_tr) // max(1, world_hint))
    gen = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        TensorDataset(x_tr, y_tr), batch_size=bs, shuffle=True, generator=gen,
        drop_last=per_rank > bs,  # no 1-row last batch (batch norm needs 2 rows)
    )  # fmt: skip
    val_ds = TensorDataset(x_va, y_va)
    every_rank: DistributedSampler[Any] | None = (
        DistributedSampler(val_ds, num_replicas=1, rank=0, shuffle=False)
        if world_hint > 1
        else None
    )
    val_loader = DataLoader(val_ds, batch_size=max(bs, 256), sampler=every_rank)
    dp_state = None
    if dp is not None:
        from .dp import make_private

        train_loader, dp_state = make_private(
            module, train_loader, dp, epochs=int(hp["max_epochs"]), seed=seed
        )
    best = _BestWeights()
    callbacks: list[Any] = [EarlyStopping(monitor="val_loss", mode="min", patience=hp["patience"])]
    if hp["restore_best"]:
        callbacks.append(best)
    if show_progress:
        callbacks.append(progress_bar())
    with tempfile.TemporaryDirectory() as tmp:
        trainer = pl.Trainer(
            max_epochs=hp["max_epochs"],
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            deterministic=True,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=show_progress,
            num_sanity_val_steps=0,
            # Opacus clips per sample under DP; otherwise the model's own clipping, if any
            gradient_clip_val=(hp["gradient_clip"] or None) if dp is None else None,
            log_every_n_steps=max(1, min(50, len(train_loader))),
            default_root_dir=tmp,
            callbacks=callbacks,
            plugins=plugins,
        )
        trainer.fit(module, train_loader, val_loader)
    dp_record = None
    if dp_state is not None:
        from .dp import finish_private

        dp_record = finish_private(module, dp_state)
    return {
        "best_epoch": best.best_epoch if hp["restore_best"] else 0,
        "global_step": int(trainer.global_step),
        "accelerator": type(trainer.accelerator).__name__.replace("Accelerator", "").lower(),
        "devices": int(trainer.num_devices),
        "world_size": int(trainer.world_size),
        "global_rank": int(trainer.global_rank),
        "torch_threads": int(torch.get_num_threads()),
        "dp_record": dp_record,
    }


def _fit_worker(rank: int, world: int, payload: dict[str, Any]) -> dict[str, Any]:
    """One rank of a multi-device :func:`fit_model`, started by :func:`launch`.

    Builds the model from plain data with the parent's initial weights, fits it with
    Lightning's DDP strategy as rank ``rank`` of ``world``; the first rank returns the weights,
    the learning curves and the run's record, the others only their rank.
    """
    from ..runtime.devices import worker_plugins
    from . import MODEL_REGISTRY

    cls = MODEL_REGISTRY.get(payload["name"])
    module = cls(schema=payload["schema"], preprocessing=payload["prep"], **payload["hp"])
    module.load_state_dict(payload["init_state"])
    threads = payload["threads"]
    with quiet_workers(), _torch_flags(), _threads(threads):
        pl.seed_everything(int(payload["seed"]), verbose=False)
        outcome = _fit_core(
            module, payload["data"], hp=payload["hp"], seed=int(payload["seed"]),
            accelerator=payload["accelerator"], devices=world, strategy="ddp",
            show_progress=bool(payload["show_progress"]) and rank == 0, dp=None,
            world_hint=world, plugins=worker_plugins(),
        )  # fmt: skip
    if rank != 0:
        return {"rank": rank}
    module.cpu()
    return {
        **outcome,
        "rank": rank,
        "state": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
        "history": [dict(h) for h in module.history],
    }


class _BestWeights(pl.Callback):
    """Keep the weights of the lowest validation loss and restore them when fitting ends."""

    def __init__(self) -> None:
        super().__init__()
        self.best_loss = float("inf")
        self.best_epoch = 0
        self.state: dict[str, Any] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Remember the weights when the validation loss improves."""
        loss = trainer.callback_metrics.get("val_loss")
        if loss is None or trainer.sanity_checking:
            return
        value = float(loss)
        if value < self.best_loss:
            self.best_loss = value
            self.best_epoch = int(trainer.current_epoch) + 1
            self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Load the best weights back into the model."""
        if self.state is not None:
            pl_module.load_state_dict(self.state)


def _test_metrics(module: AuditableModule, X: Any, y: np.ndarray) -> dict[str, Any]:
    if module.task == "regression":
        pred = module.predict_values(X)
        err = pred - np.asarray(y, dtype=np.float64)
        ss_tot = float(np.sum((y - np.mean(y)) ** 2))
        return {
            "mean_absolute_error": float(np.mean(np.abs(err))),
            "root_mean_squared_error": float(np.sqrt(np.mean(err**2))),
            "r2_score": 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan"),
            "n": int(len(y)),
        }
    proba = module.predict_proba(X)
    p_true = np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0)
    return {
        "accuracy": float(np.mean(proba.argmax(axis=1) == y)),
        "loss": float(-np.mean(np.log(p_true))),
        "n": int(len(y)),
    }
