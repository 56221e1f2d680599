"""Scoring and Captum attributions of one torch module by several processes.

Each process runs ``Trainer.predict`` with Lightning's DDP strategy on an interleaved share of
the rows; the rows come back in their original order (see :mod:`auditkit.runtime.devices`).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core.rows import take_rows
from .._core.validation import check_int, check_param
from ..exceptions import ParameterError
from .launch import _run_inference, progress_bar
from .planning import _check_budget, _check_devices, resolve_accelerator, worker_plugins

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .attribution import AttributionRun

#: Rows of the probe that estimates the memory of a forward pass.
_PROBE_ROWS = 8


def _trainer(accelerator: str, world: int, *, inference_mode: bool, show_progress: bool) -> Any:
    import pytorch_lightning as pl

    callbacks = []
    if show_progress:
        callbacks.append(progress_bar())
    return pl.Trainer(
        accelerator=accelerator,
        devices=world,
        strategy="ddp",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=show_progress,
        inference_mode=inference_mode,
        callbacks=callbacks,
        plugins=worker_plugins(),
        default_root_dir=tempfile.gettempdir(),
    )


def _gather(parts: Sequence[dict[str, Any]], n: int, keys: Sequence[str]) -> dict[str, Any]:
    """Put the ranks' rows back in their original order; every row exactly once."""
    import torch

    idx = torch.cat([p["idx"] for p in parts]).long()
    if len(idx) != n or not bool(torch.equal(torch.sort(idx).values, torch.arange(n))):
        seen = torch.bincount(idx, minlength=n)
        raise RuntimeError(
            f"The processes returned {len(idx)} rows for {n}: {int((seen == 0).sum())} missing, "
            f"{int((seen > 1).sum())} duplicated."
        )
    order = torch.empty(n, dtype=torch.long)
    order[idx] = torch.arange(n)
    out: dict[str, Any] = {}
    for key in keys:
        vals = [p[key] for p in parts]
        if any(v is None for v in vals):
            out[key] = None
            continue
        out[key] = torch.cat(vals)[order]
    return out


# ------------------------------------------------------------------------------ scoring
def _probe_bytes(module: nn.Module, x: torch.Tensor) -> float:
    """Bytes of the activations (and the input) of one row in a forward pass without grad."""
    import torch

    k = max(1, min(len(x), _PROBE_ROWS))
    total = [0]

    def count(obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            total[0] += obj.numel() * obj.element_size()
        elif isinstance(obj, (tuple, list)):
            for o in obj:
                count(o)

    def hook(_m: Any, _i: Any, out: Any) -> None:
        count(out)

    leaves = [m for m in module.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    dev = next((p.device for p in module.parameters()), torch.device("cpu"))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(x[:k].to(dev))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    row_in = x[:k].numel() * x.element_size() / k
    row_out = out.shape[-1] * 8 * 2 if out.ndim == 2 else 16  # float64 logits and softmax
    # the encoded input four times: the raw rows' encoding makes float64 intermediates
    # before the float32 tensor, and the batch is sliced from it
    return float(total[0] / k + 4 * row_in + row_out)


def batch_rows_for_budget(
    module: nn.Module, x_probe: torch.Tensor, memory_budget_mb: float
) -> int:
    """Return the rows per forward pass so that one batch's working memory stays within the budget.

    The memory of a row is estimated on a probe of a few rows: the outputs of every leaf layer
    (an upper bound of what a forward pass without gradients holds at once), four times the
    encoded input (the raw rows' encoding builds float64 intermediates, and the batch sent to
    the model is a copy) and the float64 logits and probabilities. At least one row. The
    estimate leaves out fixed costs (the model, the returned array); benchmarks/RESULTS.md
    (section "devices") compares budgets with the peak memory measured.
    """
    per_row = max(_probe_bytes(module, x_probe), 1.0)
    return max(1, int(memory_budget_mb * 2**20 // per_row))


def _make_predictor(net: nn.Module, x: torch.Tensor, task: dict[str, Any]) -> Any:
    import pytorch_lightning as pl

    from .attribution import forward_outputs

    class Predictor(pl.LightningModule):
        """predict_step: logits (or Captum attributions) of the rows whose positions it gets."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.net(z)
            return out

        def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
            (idx,) = batch
            idx = idx.cpu()
            rows = x[idx].to(self.device)
            if task["kind"] == "logits":
                # a lone row is scored inside a batch of copies, as on one device
                logits = forward_outputs(self.net, rows, rows=len(rows), device=self.device)
                return {"idx": idx, "logits": logits}
            return _attribute_rows(self.net, rows, idx, x_len=len(x), task=task)

    return Predictor()


def _predict_worker(rank: int, world: int, payload: dict[str, Any]) -> dict[str, Any]:
    """One rank of :func:`logits_on_devices` / :func:`attribute_on_devices`."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    net, x, task = payload["net"], payload["x"], payload["task"]
    predictor = _make_predictor(net, x, task)
    trainer = _trainer(
        payload["accelerator"], world, inference_mode=task["kind"] == "logits",
        show_progress=bool(payload["show_progress"]) and rank == 0,
    )  # fmt: skip
    loader = DataLoader(TensorDataset(torch.arange(len(x))), batch_size=payload["batch_size"])
    out = trainer.predict(predictor, dataloaders=loader, return_predictions=True)
    parts: list[dict[str, Any]] = list(out or [])
    keys = [k for k in (parts[0] if parts else {}) if k != "info"]
    merged: dict[str, Any] = {"idx": torch.cat([p["idx"] for p in parts]) if parts else None}
    for key in keys:
        if key == "idx":
            continue
        vals = [p[key] for p in parts]
        merged[key] = None if any(v is None for v in vals) else torch.cat(vals)
    merged["info"] = [p.get("info") for p in parts if p.get("info") is not None]
    merged["rank"] = rank
    return merged


def _prepare_net(net: nn.Module) -> nn.Module:
    """Return a copy of ``net`` on the CPU, for sending to worker processes."""
    import copy
    import pickle

    trainer = getattr(net, "_trainer", None)  # a LightningModule keeps its last Trainer
    if trainer is not None:
        setattr(net, "_trainer", None)  # noqa: B010 (not a declared attribute of nn.Module)
    try:
        cpu = copy.deepcopy(net).cpu()
        pickle.dumps(cpu)
    except Exception as exc:
        raise ParameterError(
            f"The model ({type(net).__name__}) cannot be sent to other processes ({exc}); "
            "use devices=1."
        ) from exc
    finally:
        if trainer is not None:
            setattr(net, "_trainer", trainer)  # noqa: B010
    return cpu


def logits_on_devices(
    module: nn.Module,
    x: torch.Tensor,
    *,
    devices: int,
    accelerator: str = "auto",
    batch_size: int | None = None,
    memory_budget_mb: float | None = None,
    show_progress: bool = False,
) -> torch.Tensor:
    """Return ``module(x)`` (float32 logits on the CPU) computed by ``devices`` processes.

    Each process runs ``Trainer.predict`` with Lightning's DDP strategy on its interleaved share
    of the rows; the rows come back in their original order.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a batch of ``x`` to logits ``(n, n_classes)``; rows must not interact (eval mode).
    x : Tensor
        Encoded inputs.
    devices : int
        Processes (devices) to use; 1 runs in this process.
    accelerator : str, default="auto"
        ``"cpu"``, ``"gpu"`` or ``"auto"`` (the GPUs when there are).
    batch_size : int, default=None
        Rows per forward pass in each process; None takes ``memory_budget_mb`` or 1024.
    memory_budget_mb : float, default=None
        Bound on the working memory of one batch in each process (see
        :func:`batch_rows_for_budget`).
    show_progress : bool, default=False
        Lightning's prediction progress bar (first process, on stderr).
    masked_pad_id : int, default=None
        As in :func:`~auditkit.runtime.attribution.attribute` (each process cuts the padding
        of its own rows).

    Returns
    -------
    Tensor of shape (n_samples, n_outputs), float32
    """
    devices = _check_devices(devices, "logits_on_devices")
    n = len(x)
    bs = _batch_size(module, x, batch_size, memory_budget_mb, "logits_on_devices")
    world = min(devices, max(n, 1))
    if n == 0 or world == 1:
        return _local_logits(module, x, bs)
    accel = resolve_accelerator(accelerator)
    payload = {
        "net": _prepare_net(module), "x": x.cpu(), "task": {"kind": "logits"},
        "accelerator": accel, "batch_size": bs, "show_progress": show_progress,
    }  # fmt: skip
    parts = _run_inference(_predict_worker, world, payload, accelerator=accel)
    logits: torch.Tensor = _gather(parts, n, ["logits"])["logits"]
    return logits


def _batch_size(
    module: nn.Module, x: torch.Tensor, batch_size: int | None, budget: float | None, func: str
) -> int:
    if batch_size is not None:
        return check_int(batch_size, param="batch_size", func=func, low=1)
    if budget is not None and len(x):
        return batch_rows_for_budget(module, x, _check_budget(budget, func))
    return int(getattr(module, "predict_batch_size", 1024))


def _local_logits(module: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``module(x)`` in this process, in batches (a lone last row inside a batch of copies)."""
    import torch

    from .attribution import forward_outputs

    if len(x) == 0:
        return torch.zeros((0, 0))
    dev = next((p.device for p in module.parameters()), torch.device("cpu"))
    was_training = module.training
    module.eval()
    try:
        return forward_outputs(module, x, rows=batch_size, device=dev)
    finally:
        module.train(was_training)


def chunked_proba(
    module: Any, X: Any, n: int, *, memory_budget_mb: float, batch_size: int | None = None
) -> np.ndarray:
    """Probabilities of a reference model for raw ``X``, encoded and scored chunk by chunk.

    The chunk size comes from the memory budget (:func:`batch_rows_for_budget` on the first
    rows), so neither the encoded input nor the activations of all rows are held at once.
    """
    import torch

    budget = _check_budget(memory_budget_mb, "predict_proba")
    k = module.n_classes
    out = np.empty((n, k), dtype=np.float64)
    if n == 0:
        return out
    rows = batch_size or batch_rows_for_budget(
        module, module.encode(take_rows(X, np.arange(min(n, _PROBE_ROWS)))), budget
    )
    for s in range(0, n, rows):
        e = min(n, s + rows)
        logits = module.logits_from_encoded(
            module.encode(take_rows(X, np.arange(s, e))), batch_size=rows
        )
        out[s:e] = torch.softmax(logits.double(), dim=1).numpy()
    return out


# ------------------------------------------------------------------------------ attributions
def _attribute_rows(
    net: nn.Module, rows: torch.Tensor, idx: torch.Tensor, *, x_len: int, task: dict[str, Any]
) -> dict[str, Any]:
    """Captum attributions of ``rows`` (positions ``idx`` of the whole input) under grad."""
    import torch

    from .attribution import attribute

    def per_row(t: Any) -> Any:
        if isinstance(t, torch.Tensor) and t.ndim > 0 and t.shape[0] == x_len and x_len > 1:
            return t[idx].to(rows.device)
        return t.to(rows.device) if isinstance(t, torch.Tensor) else t

    opts = dict(task["options"])
    target = opts.pop("target", None)
    baselines = opts.pop("baselines", None)
    if task["method"] == "gradient_shap":  # a distribution to draw from, not one row per input
        base = baselines.to(rows.device) if isinstance(baselines, torch.Tensor) else baselines
    else:
        base = per_row(baselines)
    with torch.enable_grad():
        run = attribute(
            net, rows, method=task["method"], target=per_row(target), baselines=base, **opts
        )

    def t(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a))

    plan = run.plan
    info = {
        "fast_path": bool(run.fast_path),
        "rows_per_call": int(plan.rows_per_call),
        "internal_batch_size": plan.internal_batch_size,
        "perturbations_per_eval": int(plan.perturbations_per_eval),
    }
    return {
        "idx": idx,
        "values": t(run.values),
        "delta": t(run.delta),
        "outputs": t(run.outputs),
        "target": t(run.target),
        "info": info,
    }


def attribute_on_devices(
    model: nn.Module,
    x: torch.Tensor,
    *,
    method: str,
    devices: int,
    accelerator: str = "auto",
    target: torch.Tensor | None = None,
    baselines: torch.Tensor | float | None = None,
    n_steps: int = 50,
    layer: nn.Module | None = None,
    feature_mask: torch.Tensor | None = None,
    sliding_window_shapes: tuple[int, ...] | None = None,
    strides: tuple[int, ...] | None = None,
    batch_size: int | None = None,
    memory_budget_mb: float = 256.0,
    random_state: int = 0,
    check_rows: bool = True,
    show_progress: bool = False,
    masked_pad_id: int | None = None,
) -> AttributionRun:
    """Captum attributions of ``model`` on ``x``, computed by ``devices`` processes.

    The drop-in multi-device form of :func:`auditkit.runtime.attribution.attribute` (same keywords,
    same :class:`~auditkit.runtime.attribution.AttributionRun` result): each process runs
    ``Trainer.predict`` (``inference_mode=False``) on its interleaved share of the rows, and
    its ``predict_step`` calls :func:`~auditkit.runtime.attribution.attribute` on them under
    ``torch.enable_grad()``. The rows come back in their original order.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``x`` to scores ``(n, n_outputs)``; sent to each process (it must pickle).
    x : Tensor
        Encoded inputs (token ids for ``layer_integrated_gradients``).
    method : str
        One of :data:`auditkit.runtime.attribution.METHODS`.
    devices : int
        Processes (devices); 1 (or a single row) runs in this process.
    accelerator : str, default="auto"
        ``"cpu"``, ``"gpu"`` or ``"auto"``.
    target, baselines, n_steps, layer, feature_mask, sliding_window_shapes, strides
        As in :func:`~auditkit.runtime.attribution.attribute`. A per-row ``target`` or
        ``baselines`` (first dimension ``n``) is split with the rows; ``layer`` must be a
        submodule of ``model`` (it is sent together with it).
    batch_size : int, default=None
        Rows per Captum call in each process; None chooses from ``memory_budget_mb``.
    memory_budget_mb : float, default=256
        Bound on the memory of one batch of expanded evaluations, in each process.
    random_state : int, default=0
        Seed of GradientShap's draws (drawn per Captum call: its values depend on how the rows
        are split, so they differ from a single process's).
    check_rows : bool, default=True
        Probe whether rows interact (see :func:`~auditkit.runtime.attribution.attribute`). Rows
        that interact cannot be split across processes; pass ``devices=1`` for such models.
    show_progress : bool, default=False
        Lightning's prediction progress bar (first process, on stderr).
    masked_pad_id : int, default=None
        As in :func:`~auditkit.runtime.attribution.attribute` (each process cuts the padding
        of its own rows).

    Returns
    -------
    AttributionRun
        ``values``, ``delta``, ``outputs`` and ``target`` in the order of ``x``; ``plan`` is
        the first process's; ``fast_path`` holds when it held in every process; ``info``
        adds ``devices``, ``accelerator`` and ``rows_per_device``.

    Raises
    ------
    ParameterError
        For an invalid ``devices``, or a model that cannot be sent to other processes.
    """
    import torch

    from .attribution import METHODS, AttributionRun, Plan, attribute

    devices = _check_devices(devices, "attribute_on_devices")
    check_param(
        method in METHODS, param="method", func="attribute_on_devices",
        expected=f"one of {', '.join(METHODS)}", got=method,
    )  # fmt: skip
    n = len(x)
    world = min(devices, max(n, 1))
    opts: dict[str, Any] = {
        "target": target, "baselines": baselines, "n_steps": n_steps, "layer": layer,
        "feature_mask": feature_mask, "sliding_window_shapes": sliding_window_shapes,
        "strides": strides, "batch_size": batch_size, "memory_budget_mb": memory_budget_mb,
        "random_state": random_state, "check_rows": check_rows, "masked_pad_id": masked_pad_id,
    }  # fmt: skip
    if world == 1:
        return attribute(model, x, method=method, show_progress=show_progress, **opts)
    accel = resolve_accelerator(accelerator)
    if layer is not None:  # send the layer inside the model, so the copy keeps it
        net, layer_name = _prepare_net(model), _submodule_name(model, layer)
        opts["layer"] = net.get_submodule(layer_name)
    else:
        net = _prepare_net(model)
    opts = {k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in opts.items()}
    payload = {
        "net": net, "x": x.detach().cpu(),
        "task": {"kind": "attribution", "method": method, "options": opts},
        "accelerator": accel, "batch_size": math.ceil(n / world),
        "show_progress": show_progress,
    }  # fmt: skip
    parts = _run_inference(_predict_worker, world, payload, accelerator=accel)
    got = _gather(parts, n, ["values", "delta", "outputs", "target"])
    infos = [i for p in sorted(parts, key=lambda p: int(p["rank"])) for i in p["info"]]
    first = infos[0] if infos else {}
    plan = Plan(
        rows_per_call=int(first.get("rows_per_call", 1)),
        internal_batch_size=first.get("internal_batch_size"),
        perturbations_per_eval=int(first.get("perturbations_per_eval", 1)),
    )

    def arr(v: torch.Tensor | None) -> np.ndarray | None:
        return None if v is None else v.numpy()

    return AttributionRun(
        values=got["values"].numpy(),
        delta=arr(got["delta"]),
        outputs=arr(got["outputs"]),
        target=got["target"].numpy(),
        fast_path=all(bool(i.get("fast_path")) for i in infos),
        plan=plan,
        info={
            "devices": world,
            "accelerator": accel,
            "rows_per_device": [len(range(r, n, world)) for r in range(world)],
        },
    )


def _submodule_name(model: nn.Module, layer: nn.Module) -> str:
    for name, sub in model.named_modules():
        if sub is layer:
            return name
    raise ParameterError(
        f"layer ({type(layer).__name__}) is not a submodule of the model; attribute_on_devices "
        "sends the model to other processes and finds the layer in it."
    )
