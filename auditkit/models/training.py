"""Train the reference models with a Lightning ``Trainer`` and write safe checkpoints.

:func:`train` trains a registered model on its bundled dataset and writes a checkpoint whose
metadata records the learning curves, the held-out test metrics, the wall time, the hardware,
the energy used (``training.energy``: measured through NVML on a GPU, estimated on CPUs; see
:mod:`auditkit.models.energy`) and the library versions. The in-memory core is
:func:`auditkit.models.fitting.fit_model`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core.rows import encode_rows
from .._core.rows import take_rows as _take
from .._core.validation import check_int, check_param
from ..exceptions import OutputError, ParameterError

if TYPE_CHECKING:
    pass
from .fitting import _test_metrics, fit_model, hardware_info, library_versions

__all__ = ["fit_model", "hardware_info", "library_versions", "train"]

logger = logging.getLogger(__name__)


def train(
    name: str,
    *,
    out: str | os.PathLike[str],
    max_epochs: int | None = None,
    seed: int = 0,
    accelerator: str = "auto",
    devices: int | str = "auto",
    strategy: str = "auto",
    show_progress: bool = False,
    limit_train_rows: int | None = None,
    overwrite: bool = False,
    num_threads: int | None = None,
    dp_epsilon: float | None = None,
    dp_delta: float | None = None,
    max_grad_norm: float = 1.0,
    **hparam_overrides: Any,
) -> Path:
    """Train a reference model on its bundled dataset and write a safe checkpoint.

    Parameters
    ----------
    name : str
        A registered model: ``"adult-mlp"``, ``"adult-hours"`` (a regression of Adult's
        ``hours-per-week``), ``"iris-mlp"``, ``"mnist-mlp"``,
        ``"cifar10-cnn"`` or ``"imdb-lstm"`` (``auditkit models`` lists them).
    out : str or path-like
        Where to write the ``.ckpt`` file (atomically).
    max_epochs : int, default=None
        Overrides the model's default number of epochs (early stopping may stop sooner).
    seed : int, default=0
        Seed of everything random in training; the same seed gives the same weights.
    accelerator, devices, strategy
        Passed to ``pytorch_lightning.Trainer``; ``"auto"`` uses the GPU when there is one.
        ``devices=2, strategy="ddp"`` trains in two processes (see :func:`fit_model`); only
        this process writes the checkpoint, whose ``training`` metadata records ``devices``,
        ``world_size``, ``strategy`` and ``launcher``. Under an outside launcher
        (``torchrun``) only the first rank writes and prints; the others return ``out``
        without writing anything.
    show_progress : bool, default=False
        Show Lightning's progress bar (the CLI turns it on).
    limit_train_rows : int, default=None
        Train on a seeded stratified subset of this many training rows (for quick runs).
    overwrite : bool, default=False
        Replace an existing ``out`` file.
    num_threads : int or None, default=None
        CPU threads torch uses while training (see :func:`fit_model`; pass 1 on a busy
        machine).
    dp_epsilon : float, default=None
        Train with differential privacy (DP-SGD with Opacus) to this target epsilon; the
        checkpoint's ``dp`` metadata records epsilon, delta, ``max_grad_norm``, the noise
        multiplier and the accountant. None: ordinary training.
    dp_delta : float, default=None
        Target delta of DP training (default ``1 / n_train``).
    max_grad_norm : float, default=1.0
        Per-sample gradient clipping bound of DP training.
    **hparam_overrides
        Hyper-parameters of the model (for example ``lr=3e-3``, ``dropout=0.1``).

    Returns
    -------
    Path
        The checkpoint path. Load it with :func:`auditkit.load_checkpoint`.

    Raises
    ------
    RegistryKeyError
        For an unknown model name (the message lists the available ones).
    ParameterError
        For an invalid parameter or hyper-parameter.
    OutputError
        When ``out`` exists (and ``overwrite`` is False) or cannot be written.

    Examples
    --------
    >>> import auditkit
    >>> path = auditkit.train("iris-mlp", out="iris.ckpt")  # doctest: +SKIP
    >>> auditkit.load_checkpoint(path).meta["test_metrics"]["accuracy"]  # doctest: +SKIP
    0.9555555555555556
    """
    from ..data import load_dataset
    from . import MODEL_REGISTRY
    from .checkpoint import FORMAT_VERSION, save_checkpoint

    cls = MODEL_REGISTRY.get(name)
    out_path = Path(out)
    if out_path.is_dir():
        raise OutputError(f"Output path {str(out_path)!r} is a folder; give a .ckpt file name.")
    if out_path.exists() and not overwrite:
        raise OutputError(
            f"Checkpoint {str(out_path)!r} already exists; pass overwrite=True (--force) to "
            "replace it."
        )
    if limit_train_rows is not None:
        check_int(limit_train_rows, param="limit_train_rows", func="train", low=4)
    dp = None
    if dp_epsilon is not None:
        from .dp import DPConfig

        dp = DPConfig.create(dp_epsilon, dp_delta, max_grad_norm)
    elif dp_delta is not None:
        raise ParameterError("train: dp_delta needs dp_epsilon (differentially private training).")
    check_param(
        isinstance(accelerator, str), param="accelerator", func="train",
        expected="a str such as 'auto', 'cpu' or 'gpu'", got=accelerator,
    )  # fmt: skip
    ds = load_dataset(cls.dataset_name)
    X, y = ds.train.X, ds.train.y
    n_split = len(y)
    keep = _kept_rows(cls.task, y, limit_train_rows, seed)
    if len(keep) < n_split:
        X, y = _take(X, keep), y[keep]
    if show_progress and _rank_zero():
        print(f"Training {name} on {cls.dataset_name} ({len(y)} rows)...", file=sys.stderr)
    module, history = fit_model(
        name, X, y, schema=ds.schema, hparams=hparam_overrides, seed=seed,
        max_epochs=max_epochs, accelerator=accelerator, devices=devices, strategy=strategy,
        show_progress=show_progress, num_threads=num_threads, dp=dp,
    )  # fmt: skip
    info = module.fit_info
    if info["distributed"]["global_rank"] != 0:
        # One rank of a run started by an outside launcher (torchrun...): the first rank
        # writes the checkpoint and prints; the others write nothing, not even a temp file.
        return out_path
    test = _test_metrics(module, ds.test.X, ds.test.y)
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        # a regression checkpoint says so; a classifier's metadata is unchanged
        **({"task": "regression"} if cls.task == "regression" else {}),
        "model_name": name,
        "model_class": type(module).__qualname__,
        "hparams": dict(module.hp),
        "preprocessing": module.preprocessing,
        "schema": module.schema_dict,
        "dataset": {
            "name": ds.name,
            "sha256": ds.sha256,
            "n_train": int(info["n_train"]),
            "n_val": int(info["n_val"]),
            "n_test": int(len(ds.test.y)),
            "limit_train_rows": limit_train_rows,
            # The rows of the training split the weights were fitted on (not the validation
            # rows, not the rows limit_train_rows left out): the privacy section's members.
            "fit_rows": encode_rows(np.asarray(keep)[info["fit_rows"]], n_split),
        },
        "history": history,
        "test_metrics": test,
        "training": {
            "epochs_run": info["epochs_run"],
            "max_epochs": info["max_epochs"],
            "best_epoch": info["best_epoch"],
            "stopped_early": info["stopped_early"],
            "global_step": info["global_step"],
            "strategy": info["strategy"],
            "devices": info["distributed"]["devices"],
            "world_size": info["distributed"]["world_size"],
            "launcher": info["distributed"]["launcher"],
            "energy": info["energy"],
        },
        "wall_time_s": float(info["wall_time_s"]),
        "hardware": info["hardware"],
        "versions": library_versions(),
        "seed": seed,
        "created_at": _created_at(),
    }
    if info.get("dp") is not None:
        meta["dp"] = info["dp"]
    path = save_checkpoint(module, out_path, meta, overwrite=overwrite)
    if show_progress:
        score = (
            f"test accuracy {test['accuracy']:.4f}" if "accuracy" in test
            else f"test RMSE {test['root_mean_squared_error']:.4g}, R² {test['r2_score']:.4f}"
        )  # fmt: skip
        print(
            f"{name}: {score} after {info['epochs_run']} epochs "
            f"({info['wall_time_s']:.1f} s) -> {path}",
            file=sys.stderr,
        )
    return path


def _kept_rows(task: str, y: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Rows of the training split to train on: all, or ``limit`` of them (seeded).

    A classifier's subset is stratified by class; a regression's is a plain seeded sample.
    """
    n = len(y)
    if limit is None or limit >= n:
        return np.arange(n)
    if task == "regression":
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(n, size=limit, replace=False))
    from ..data._datasets import stratified_split

    _, keep = stratified_split(y, limit / n, seed=seed)
    return keep


def _rank_zero() -> bool:
    from ..runtime.devices import is_rank_zero

    return is_rank_zero()


def _created_at() -> str:
    import datetime as dt

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            seconds = int(epoch)
        except ValueError as exc:
            raise ParameterError(f"SOURCE_DATE_EPOCH must be an int; got {epoch[:40]!r}.") from exc
        try:
            now = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)  # noqa: UP017 (3.10)
        except (ValueError, OverflowError, OSError) as exc:
            raise ParameterError(
                f"SOURCE_DATE_EPOCH={epoch[:40]} is out of range: it must be seconds since "
                "1970-01-01 giving a year from 1 to 9999 (253402300799 is the last)."
            ) from exc
    else:
        now = dt.datetime.now(tz=dt.timezone.utc)  # noqa: UP017 (3.10)
    return now.replace(microsecond=0).isoformat()
