"""The fast path to Captum: one backward pass per batch, batches sized from a memory budget.

Captum's gradient methods call ``torch.autograd.grad(torch.unbind(outputs), inputs)``: one
gradient root per output row (rows x steps of them for integrated gradients). When the rows of a
batch do not interact (a model in eval mode: no batch-norm statistics, no active dropout, no
cross-row operation), the gradient of the *sum* of the target outputs over the batch with respect
to the inputs is, row by row, the gradient of each row's own target output. So we hand Captum a
forward function that returns that sum, a single number per batch, and its per-output loop runs
once. The values are Captum's: the same classes and the same arithmetic.

Whether rows interact is checked on a small probe (one row perturbed, the others must not move);
when they do, the plain Captum call is used instead (and the batch is not split).

Convergence deltas are computed per row as Captum defines them,
``sum(attributions) - (f(x) - f(baseline))``, from one extra forward pass.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._core.progress import progress_bar
from ._trim import cut_pass_size, permuted, restore_order, trim_order
from .probes import (
    _ACTIVATION_FACTOR as _ACTIVATION_FACTOR,
)
from .probes import (
    _BACKWARD_FACTOR as _BACKWARD_FACTOR,
)
from .probes import (
    activation_bytes_per_row as activation_bytes_per_row,
)
from .probes import (
    as_2d as as_2d,
)
from .probes import (
    backward_bytes_per_row as backward_bytes_per_row,
)
from .probes import (
    fast_layout as fast_layout,
)
from .probes import (
    module_device as module_device,
)
from .probes import (
    needs_cudnn_off as needs_cudnn_off,
)
from .probes import (
    preserved_buffers as preserved_buffers,
)
from .probes import (
    probe_activations as probe_activations,
)
from .probes import (
    rnn_gradient_context as rnn_gradient_context,
)
from .probes import (
    rows_independent as rows_independent,
)

#: Gradient methods that take the summed-output fast path.
GRADIENT_METHODS = (
    "integrated_gradients",
    "saliency",
    "deeplift",
    "gradient_shap",
    "layer_integrated_gradients",
)
#: Perturbation methods (no gradients; work for any model through its predictions).
PERTURBATION_METHODS = ("feature_ablation", "occlusion", "shapley_value_sampling", "kernel_shap")
METHODS = GRADIENT_METHODS + PERTURBATION_METHODS
#: Methods with a completeness (convergence) delta.
DELTA_METHODS = ("integrated_gradients", "deeplift", "gradient_shap", "layer_integrated_gradients")

#: Random permutations (Shapley value sampling) or coalitions (KernelSHAP) per row by default
#: (Captum's default).
SAMPLING_SAMPLES = 25
#: GradientShap's number of random points per row (Captum's default).
GSHAP_SAMPLES = 5
#: Copies of a lone row scored together (see :func:`forward_outputs`).
_ONE_ROW_BATCH = 8
#: Upper bound on perturbations evaluated in one forward pass (feature ablation, occlusion).
_MAX_PERTURBATIONS_PER_EVAL = 16

_QUIET = (
    r"Input Tensor \d+ did not already require gradients",
    r"Input Tensor \d+ has a dtype of",
    r"Setting forward, backward hooks and attributes on non-linear",
    r"Internal batch size cannot be less than the number of input examples",
    r"You are providing multiple inputs for Lime / Kernel SHAP",
)


@contextlib.contextmanager
def quiet_captum() -> Iterator[None]:
    """Silence the warnings Captum raises on every call that we handle on purpose."""
    with warnings.catch_warnings():
        for msg in _QUIET:
            warnings.filterwarnings("ignore", message=msg)
        yield


# --------------------------------------------------------------------------------- forwards
class Outputs2d(nn.Module):
    """The model with its output as ``(n, n_outputs)``; the plain path passes targets to Captum."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the model's outputs."""
        return as_2d(self.model(x))


class TargetSum(nn.Module):
    """The target output summed over the batch: shape ``(1,)`` (``(2,)`` with ``halves``).

    ``target`` arrives as an additional forward argument, so Captum expands it along with the
    inputs (steps, noise samples, input/baseline halves) in the same order. With ``halves`` the
    two halves of the batch are summed separately: DeepLift runs inputs and baselines as one
    batch and splits the model's output into those two halves.
    """

    def __init__(self, model: nn.Module, *, halves: bool = False) -> None:
        super().__init__()
        self.model = model
        self.halves = halves
        self.recorded: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the summed target outputs (and keep the per-row ones in ``recorded``)."""
        sel = as_2d(self.model(x)).gather(1, target.view(-1, 1)).view(-1)
        self.recorded = sel.detach()
        if self.halves:
            n = sel.shape[0] // 2
            return torch.stack([sel[:n].sum(), sel[n:].sum()])
        return sel.sum().view(1)


@dataclass
class Plan:
    """How the rows are batched: rows per Captum call and Captum's ``internal_batch_size``."""

    rows_per_call: int
    internal_batch_size: int | None = None
    perturbations_per_eval: int = 1
    expanded_per_call: int = 0
    budget_rows: int = 0
    pass_rows: int = 0


def plan_batches(
    n_rows: int,
    *,
    expansion: int,
    bytes_per_row: float,
    memory_budget_mb: float,
    batch_size: int | None = None,
    splittable: bool = True,
    step_chunked: bool = False,
    n_perturbations: int = 1,
    batch_perturbations: bool = False,
    pass_bytes_per_row: float | None = None,
) -> Plan:
    """Choose batch sizes so that ``rows x expansion`` evaluations stay within the budget.

    Parameters
    ----------
    n_rows : int
        Rows to attribute.
    expansion : int
        Evaluations per row in one Captum call (``n_steps`` for integrated gradients, 2 for
        DeepLift, the noise samples for GradientShap, 1 otherwise).
    bytes_per_row : float
        Estimated memory of one evaluation.
    memory_budget_mb : float
        Bound on the memory of one batch.
    batch_size : int, default=None
        Rows per call requested by the user (overrides the row part of the plan).
    splittable : bool, default=True
        False when rows interact: then all rows and all steps go into one call, as in Captum's
        plain call (splitting would change the values, for example batch-norm statistics).
    step_chunked : bool, default=False
        Whether the method can split its expansion (integrated gradients' ``n_steps``) through
        ``internal_batch_size``.
    n_perturbations : int, default=1
        Perturbations a perturbation method evaluates (bounds ``perturbations_per_eval``).
    batch_perturbations : bool, default=False
        Evaluate several perturbations per forward pass (``perturbations_per_eval`` from the
        budget). Worth it on a GPU; on a CPU one perturbation per pass is faster (bigger
        batches only add memory traffic), so it stays off there.
    pass_bytes_per_row : float, default=None
        Measured bytes one evaluation holds in a gradient pass
        (:func:`~auditkit.runtime.probes.backward_bytes_per_row`). When given, it sizes the
        passes (``internal_batch_size`` and the evaluations of one call), while
        ``bytes_per_row`` still bounds the rows per call. None: ``bytes_per_row`` sizes both.
    """
    budget_rows = max(1, int(memory_budget_mb * 1024 * 1024 // max(bytes_per_row, 1.0)))
    # evaluations one gradient pass may hold (the forward estimate when not measured)
    pass_rows = budget_rows
    if pass_bytes_per_row is not None:
        pass_rows = max(1, int(memory_budget_mb * 2**20 // max(pass_bytes_per_row, 1.0)))
    if not splittable:
        rows = n_rows
    elif batch_size is not None:
        rows = min(n_rows, batch_size)
    elif step_chunked:
        # As many rows per call as one step of them fits the budget: Captum then splits the
        # steps (``internal_batch_size``) instead of us splitting the rows, so its per-call
        # work (the quadrature's nodes and weights, the setup) is paid once for all the rows.
        rows = min(n_rows, budget_rows, pass_rows)
    else:
        rows = min(n_rows, max(1, min(budget_rows, pass_rows) // max(expansion, 1)))
    rows = max(rows, 1)
    ibs = None
    if step_chunked and splittable and rows * expansion > pass_rows:
        # Samples per pass from the budget (whole steps of the call's rows): small passes
        # cost a transformer on a CPU up to twice the time (benchmarks/RESULTS.md, hf_text).
        ibs = max(rows, (pass_rows // rows) * rows)
    ppe = 1
    if n_perturbations > 1 and splittable and batch_perturbations:
        ppe = int(min(n_perturbations, _MAX_PERTURBATIONS_PER_EVAL, max(1, budget_rows // rows)))
    expanded = rows * (expansion if ibs is None else max(1, ibs // rows)) * ppe
    return Plan(rows, ibs, ppe, expanded, budget_rows, pass_rows)


# --------------------------------------------------------------------------------- the run
@dataclass
class AttributionRun:
    """What :func:`attribute` returns (numpy arrays on the CPU)."""

    values: np.ndarray
    delta: np.ndarray | None
    outputs: np.ndarray | None
    target: np.ndarray
    fast_path: bool
    plan: Plan
    info: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def intraop_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (None: unchanged), then restore the setting."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed numpy's and torch's global generators for Captum's sampling, then restore them."""
    np_state = np.random.get_state()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % (2**32))
        try:
            yield
        finally:
            np.random.set_state(np_state)


def forward_outputs(
    model: nn.Module, x: torch.Tensor, *, rows: int, device: torch.device,
    independent: bool = True,
) -> torch.Tensor:  # fmt: skip
    """All outputs ``(n, n_outputs)`` of ``model`` on ``x``, on the CPU, in chunks of ``rows``.

    A chunk of one row takes other kernels (matrix-vector) whose last bits can depend on the
    thread count; when rows do not interact (``independent``), such a row is scored inside a
    batch of copies of itself, as the rows of a full chunk are.
    """
    outs = []
    with torch.no_grad():
        for s in range(0, len(x), max(rows, 1)):
            out = as_2d(score_chunk(model, x[s : s + rows].to(device), independent=independent))
            outs.append(out.detach().float().cpu())
    if not outs:
        return torch.zeros((0, 1))
    return torch.cat(outs)


def score_chunk(model: nn.Module, chunk: torch.Tensor, *, independent: bool) -> torch.Tensor:
    """Return ``model(chunk)``, scoring a lone row inside a batch of copies of itself.

    The copies are only used when the model's rows do not interact (``independent``); the
    lone row's own output is returned.
    """
    if not independent or len(chunk) != 1:
        return model(chunk)
    out: torch.Tensor = model(chunk.expand(_ONE_ROW_BATCH, *chunk.shape[1:]))
    return out[:1]


def _rows(t: torch.Tensor | None, s: int, e: int, n: int) -> torch.Tensor | None:
    """Slice a per-row tensor; a broadcast (1, ...) tensor or None passes unchanged."""
    if t is None or t.ndim == 0 or t.shape[0] != n or n == 1:
        return t
    return t[s:e]


def attribute(
    model: nn.Module,
    x: torch.Tensor,
    *,
    method: str,
    target: torch.Tensor | None = None,
    baselines: torch.Tensor | float | None = None,
    n_steps: int = 50,
    layer: nn.Module | None = None,
    feature_mask: torch.Tensor | None = None,
    sliding_window_shapes: tuple[int, ...] | None = None,
    strides: tuple[int, ...] | None = None,
    n_samples: int = SAMPLING_SAMPLES,
    batch_size: int | None = None,
    memory_budget_mb: float = 256.0,
    random_state: int = 0,
    show_progress: bool = False,
    check_rows: bool = True,
    progress_desc: str | None = None,
    num_threads: int | None = None,
    masked_pad_id: int | None = None,
) -> AttributionRun:
    """Attribute ``model``'s target outputs on ``x`` with Captum, batched and fast.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``x`` to scores of shape (n, n_outputs); its device is used.
    x : Tensor
        Encoded inputs (float features or images; token ids for ``layer_integrated_gradients``).
    method : str
        One of :data:`METHODS`.
    target : Tensor of int64, default=None
        Output index per row; None for the highest-scoring output.
    baselines : Tensor or float, default=None
        Reference inputs: a scalar, one row ``(1, ...)`` or one row per input. For
        ``gradient_shap`` a distribution ``(m, ...)`` to draw from. None: Captum's default
        (zeros), or the zero token id for layer methods.
    n_steps : int, default=50
        Integration steps.
    layer : Module, default=None
        The layer of layer methods (a text model's token embedding).
    feature_mask : Tensor, default=None
        Feature groups for ``feature_ablation``, ``shapley_value_sampling`` and
        ``kernel_shap`` (shape ``(1, ...)``).
    sliding_window_shapes, strides : tuple of int, default=None
        Occlusion window and stride (per-example shape).
    n_samples : int, default=25
        Random permutations (``shapley_value_sampling``) or coalitions (``kernel_shap``) per
        row, drawn from torch's generator seeded with ``random_state``. Captum's
        ShapleyValueSampling draws one set of permutations per call, shared by the call's rows:
        when the rows are split into several calls, each call draws its own (KernelSHAP draws
        per row either way).
    batch_size : int, default=None
        Rows per Captum call; None chooses from ``memory_budget_mb``.
    memory_budget_mb : float, default=256
        Bound on the memory one batch of expanded evaluations may take. Gradient passes are
        budgeted by the tensors autograd saves for the backward pass, measured on a probe of
        4 rows (:func:`~auditkit.runtime.probes.backward_bytes_per_row`); the rows per call
        and perturbation passes by 4x the forward activations. The default is unchanged
        (benchmarks/RESULTS.md, ``hf_text``, compares the estimate with the peak measured).
    random_state : int, default=0
        Seed for GradientShap's, Shapley value sampling's and KernelSHAP's random draws.
    show_progress : bool, default=False
        A progress bar over the rows.
    check_rows : bool, default=True
        Probe whether rows interact; False asserts they do not (models known to be
        row-independent).
    progress_desc : str, default=None
        The progress bar's label.
    num_threads : int, default=None
        torch intra-op threads for the attribution (restored afterwards); None keeps torch's
        setting (``torch.set_num_threads``), as Captum's own call does. The values do not
        depend on it.
    masked_pad_id : int, default=None
        For token ids right-padded with this id that the model masks out (a transformer given
        ``attention_mask = ids != pad``): ``layer_integrated_gradients`` then attributes the
        rows in order of length, each call on its rows' real tokens only (the padding columns
        cut), and puts the values back in row order with zeros on the padding. A masked
        padding column changes no output and its input equals its baseline, so the values are
        those of the full-width call (to float rounding) at a fraction of the cost. None (and
        every other method) attributes the full width.

    Returns
    -------
    AttributionRun
    """
    device = module_device(model)
    n = len(x)
    x = x.to(device)
    channels_last = False
    if method in PERTURBATION_METHODS:
        # Forward passes only: the outputs agree with the default layout to float32 rounding.
        # Gradients are left in the default layout, where they are Captum's to the bit: at a
        # tie in a max pool, another layout may route the gradient to another pixel.
        model, x, channels_last = fast_layout(model, x, device)
    with rnn_gradient_context(model, device) as cudnn_off:
        # Outputs are needed for the default target and for the deltas of integrated
        # gradients and GradientShap (DeepLift's come from its own forward pass).
        need_outputs = target is None or method in (
            "integrated_gradients", "layer_integrated_gradients", "gradient_shap"
        )  # fmt: skip
        bpr, one_call, independent, outputs = _probe_rows(
            model, x, method=method, memory_budget_mb=memory_budget_mb, check_rows=check_rows,
            need_outputs=need_outputs, device=device,
        )  # fmt: skip
        if target is None:
            assert outputs is not None
            target = outputs.argmax(dim=1)
        target = target.to(torch.long).cpu()
        fast = independent and method in GRADIENT_METHODS
        lig = fast and method == "layer_integrated_gradients"
        trim = trim_order(x, masked_pad_id) if lig else None
        if trim is not None:
            x, target, outputs, baselines = permuted(trim.order, x, target, outputs, baselines)
        plan_bpr = _plan_bytes_per_row(model, x, bpr, method=method, layer=layer, fast=fast)
        expansion = {
            "integrated_gradients": n_steps,
            "layer_integrated_gradients": n_steps,
            "deeplift": 2,
            "gradient_shap": GSHAP_SAMPLES,
        }.get(method, 1)
        plan = plan_batches(
            n,
            expansion=expansion,
            bytes_per_row=bpr,
            pass_bytes_per_row=None if plan_bpr == bpr else plan_bpr,
            memory_budget_mb=memory_budget_mb,
            batch_size=batch_size,
            splittable=independent,
            step_chunked=method in ("integrated_gradients", "layer_integrated_gradients"),
            n_perturbations=_n_perturbations(
                method, x, feature_mask, sliding_window_shapes, strides, n_samples
            ),
            batch_perturbations=device.type != "cpu",
        )
        baselines, feature_mask = _on_device(baselines, feature_mask, x, method, device)
        fwd = TargetSum(model, halves=method == "deeplift") if fast else Outputs2d(model)
        call = _CaptumCall(
            method=method, fwd=fwd, plan=plan, fast=fast, n_steps=n_steps, layer=layer,
            feature_mask=feature_mask, sliding_window_shapes=sliding_window_shapes,
            strides=strides, n_samples=n_samples,
        )  # fmt: skip
        bar = progress_bar(
            enabled=show_progress, desc=progress_desc or f"explain ({method})", total=n
        )
        try:
            threads = num_threads
            with seeded(random_state, device), quiet_captum(), intraop_threads(threads):
                values, deltas = _attribute_chunks(
                    call, model, x, target, baselines, outputs, device=device,
                    independent=independent, bar=bar,
                    lengths=None if trim is None else trim.lengths,
                )  # fmt: skip
        finally:
            bar.close()
        if trim is not None:
            x, target, outputs, values, deltas = restore_order(
                trim, x, target, outputs, values, deltas
            )
    assert values is not None or n == 0
    if values is None:
        values = torch.zeros_like(x, dtype=torch.float32).cpu()
    delta_arr = torch.cat(deltas).double().numpy() if deltas else None
    return AttributionRun(
        values=values.double().numpy(),
        delta=delta_arr,
        outputs=None if outputs is None else outputs.double().numpy(),
        target=target.numpy().astype(np.int64),
        fast_path=fast,
        plan=plan,
        info={
            "rows_independent": None if one_call and check_rows else independent,
            "cudnn_disabled": cudnn_off,
            "intraop_threads": torch.get_num_threads() if threads is None else threads,
            "device": str(device),
            "bytes_per_row": bpr,
            "pass_bytes_per_row": plan_bpr,
            "channels_last": channels_last,
            "padding_trimmed": trim is not None,
        },
    )


def _on_device(
    baselines: Any, feature_mask: torch.Tensor | None, x: torch.Tensor, method: str,
    device: torch.device,
) -> tuple[Any, torch.Tensor | None]:  # fmt: skip
    """Move tensor baselines and the feature mask to ``device`` (baselines in ``x``'s dtype)."""
    if isinstance(baselines, torch.Tensor):
        baselines = baselines.to(device)
        same_kind = baselines.dtype == x.dtype or not x.dtype.is_floating_point
        if method != "gradient_shap" and not same_kind:
            baselines = baselines.to(x.dtype)
    return baselines, None if feature_mask is None else feature_mask.to(device)


def _probe_rows(
    model: nn.Module,
    x: torch.Tensor,
    *,
    method: str,
    memory_budget_mb: float,
    check_rows: bool,
    need_outputs: bool,
    device: torch.device,
) -> tuple[float, bool, bool, torch.Tensor | None]:
    """Bytes per row, whether one call takes every row, whether rows interact, the outputs."""
    with preserved_buffers(model):
        bpr, first = probe_activations(model, x)
        n = len(x)
        # A perturbation method whose rows all fit one call does not need to know: it
        # passes Captum the targets and never splits the rows.
        one_call = method in PERTURBATION_METHODS and n * bpr <= memory_budget_mb * 2**20
        independent = (not check_rows) or one_call or rows_independent(model, x, first=first)
        outputs: torch.Tensor | None = None
        if need_outputs:
            rows_fwd = max(1, min(n, int(memory_budget_mb * 2**20 // bpr)))
            outputs = forward_outputs(
                model, x, rows=rows_fwd if independent else n, device=device,
                independent=independent,
            )  # fmt: skip
    return bpr, one_call, independent, outputs


def _plan_bytes_per_row(
    model: nn.Module, x: torch.Tensor, bpr: float, *, method: str, layer: nn.Module | None,
    fast: bool,
) -> float:  # fmt: skip
    """Bytes per evaluation the plan budgets: ``bpr``, or a gradient pass's, measured.

    A gradient pass holds what autograd saves for the backward pass: measured on the probe
    rather than the forward activations times a margin (attention layers keep about their
    outputs, recurrent layers far more).
    """
    if not fast or len(x) == 0:
        return bpr
    with preserved_buffers(model):
        return backward_bytes_per_row(
            model, x, layer=layer if method == "layer_integrated_gradients" else None
        )


def _n_perturbations(
    method: str,
    x: torch.Tensor,
    feature_mask: torch.Tensor | None,
    sliding_window_shapes: tuple[int, ...] | None,
    strides: tuple[int, ...] | None,
    n_samples: int = SAMPLING_SAMPLES,
) -> int:
    """Forward passes a perturbation method makes per row (1 for gradient methods)."""
    n_features = (
        int(feature_mask.max().item()) + 1 if feature_mask is not None
        else int(np.prod(x.shape[1:]))
    )  # fmt: skip
    if method == "feature_ablation":
        return n_features
    if method == "shapley_value_sampling":
        return n_samples * n_features
    if method == "kernel_shap":
        return n_samples
    if method == "occlusion":
        return _count_windows(tuple(x.shape[1:]), sliding_window_shapes, strides)
    return 1


@dataclass(frozen=True)
class _CaptumCall:
    """One Captum method, set up for a run: what each chunk of rows is attributed with."""

    method: str
    fwd: nn.Module
    plan: Plan
    fast: bool
    n_steps: int
    layer: nn.Module | None
    feature_mask: torch.Tensor | None
    sliding_window_shapes: tuple[int, ...] | None
    strides: tuple[int, ...] | None
    n_samples: int = SAMPLING_SAMPLES

    @property
    def want_delta(self) -> bool:
        """Whether Captum returns the convergence delta (the slow path of delta methods)."""
        return (not self.fast) and self.method in DELTA_METHODS


def _attribute_chunks(
    call: _CaptumCall,
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    baselines: Any,
    outputs: torch.Tensor | None,
    *,
    device: torch.device,
    independent: bool,
    bar: Any,
    lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
    """Attribute ``x`` chunk by chunk (``plan.rows_per_call`` rows); the values and deltas.

    With ``lengths`` (rows sorted by decreasing real length, padding masked), each chunk is cut
    to its longest row; the values of the cut columns are 0.
    """
    n = len(x)
    method = call.method
    values: torch.Tensor | None = None
    deltas: list[torch.Tensor] = []
    for s in range(0, n, call.plan.rows_per_call):
        e = min(n, s + call.plan.rows_per_call)
        xs = x[s:e]
        ts = target[s:e].to(device)
        bs: Any = baselines
        if isinstance(baselines, torch.Tensor):
            bs = _rows(baselines, s, e, n)
        width = x.shape[1]
        ibs = None
        if lengths is not None:
            width = max(1, int(lengths[s]))
            xs = xs[:, :width]
            if isinstance(bs, torch.Tensor) and bs.ndim == 2 and bs.shape[1] == x.shape[1]:
                bs = bs[:, :width]
            ibs = cut_pass_size(call.plan.internal_batch_size, e - s, x.shape[1], width)
        res, bs = _captum_attribute(call, xs, bs, ts, ibs)
        delta = None
        if call.want_delta:
            res, delta = res
        attr = res.detach()
        if method == "layer_integrated_gradients":
            attr = _sum_extra_dims(attr, xs)
        if values is None:
            shape = (n, *attr.shape[1:])
            if lengths is not None:
                shape = (n, x.shape[1], *attr.shape[2:])
            values = torch.zeros(shape, dtype=attr.dtype)  # the cut padding stays 0
        if lengths is not None:
            values[s:e, :width] = attr.cpu()
        else:
            values[s:e] = attr.cpu()
        if delta is not None:
            deltas.append(delta.detach().reshape(-1).cpu())
        elif method == "deeplift" and isinstance(call.fwd, TargetSum):
            sel = call.fwd.recorded  # [f(x)[t]; f(baseline)[t]] from DeepLift's pass
            assert sel is not None
            gap = (sel[: e - s] - sel[e - s :]).double().cpu()
            total = attr.double().reshape(e - s, -1).sum(dim=1).cpu()
            deltas.append(total - gap)
        elif method in DELTA_METHODS:
            assert outputs is not None
            deltas.append(
                _completeness_delta(
                    model,
                    method,
                    attr,
                    outputs[s:e],
                    ts,
                    bs,
                    xs,
                    device,
                    independent=independent,
                )  # fmt: skip
            )
        bar.update(e - s)
    return values, deltas


def _captum_attribute(
    call: _CaptumCall, xs: torch.Tensor, bs: Any, ts: torch.Tensor, ibs: int | None = None
) -> tuple[Any, Any]:
    """Captum's ``attribute`` of one chunk, and the baselines it used (DeepLift fills them).

    ``ibs`` overrides the plan's ``internal_batch_size`` (a chunk cut to fewer tokens).
    """
    from captum.attr import (
        DeepLift,
        FeatureAblation,
        GradientShap,
        IntegratedGradients,
        KernelShap,
        LayerIntegratedGradients,
        Occlusion,
        Saliency,
        ShapleyValueSampling,
    )

    method, fwd, plan, want_delta = call.method, call.fwd, call.plan, call.want_delta
    kw: dict[str, Any] = {"additional_forward_args": (ts,)} if call.fast else {"target": ts}
    if method == "integrated_gradients":
        res = IntegratedGradients(fwd).attribute(
            xs, baselines=bs, n_steps=call.n_steps,
            internal_batch_size=plan.internal_batch_size,
            return_convergence_delta=want_delta, **kw,
        )  # fmt: skip
    elif method == "layer_integrated_gradients":
        if call.layer is None:
            raise ValueError("layer_integrated_gradients needs a layer.")
        if bs is None:
            bs = torch.zeros_like(xs)
        res = LayerIntegratedGradients(fwd, call.layer).attribute(
            xs, baselines=bs, n_steps=call.n_steps,
            internal_batch_size=plan.internal_batch_size if ibs is None else ibs,
            return_convergence_delta=want_delta, **kw,
        )  # fmt: skip
    elif method == "saliency":
        res = Saliency(fwd).attribute(xs, abs=True, **kw)
    elif method == "deeplift":
        if bs is None:
            bs_full = torch.zeros_like(xs)
        elif isinstance(bs, torch.Tensor):
            bs_full = bs.expand_as(xs).contiguous() if bs.shape[0] == 1 else bs
        else:
            bs_full = torch.full_like(xs, float(bs))
        res = DeepLift(fwd).attribute(
            xs, baselines=bs_full, return_convergence_delta=want_delta, **kw
        )
        bs = bs_full
    elif method == "gradient_shap":
        dist = bs if isinstance(bs, torch.Tensor) else torch.zeros_like(xs[:1])
        res = GradientShap(fwd).attribute(
            xs, baselines=dist, n_samples=GSHAP_SAMPLES, stdevs=0.0,
            return_convergence_delta=False, **kw,
        )  # fmt: skip
    elif method == "feature_ablation":
        res = FeatureAblation(fwd).attribute(
            xs, baselines=bs, target=ts, feature_mask=call.feature_mask,
            perturbations_per_eval=plan.perturbations_per_eval,
        )  # fmt: skip
    elif method in ("shapley_value_sampling", "kernel_shap"):
        cls = ShapleyValueSampling if method == "shapley_value_sampling" else KernelShap
        res = cls(fwd).attribute(
            xs, baselines=bs, target=ts, feature_mask=call.feature_mask,
            n_samples=call.n_samples, perturbations_per_eval=plan.perturbations_per_eval,
        )  # fmt: skip
    elif method == "occlusion":
        if call.sliding_window_shapes is None:
            raise ValueError("occlusion needs sliding_window_shapes.")
        res = Occlusion(fwd).attribute(
            xs, sliding_window_shapes=call.sliding_window_shapes, strides=call.strides,
            baselines=bs, target=ts, perturbations_per_eval=plan.perturbations_per_eval,
        )  # fmt: skip
    else:  # pragma: no cover - validated by the caller
        raise ValueError(f"Unknown method {method!r}.")
    return res, bs


def _sum_extra_dims(attr: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum layer attributions over the dimensions the input does not have (embedding width)."""
    if tuple(attr.shape[: x.ndim]) != tuple(x.shape):
        raise ValueError(
            f"Layer attributions of shape {tuple(attr.shape)} do not line up with inputs of "
            f"shape {tuple(x.shape)}; the layer must keep the batch-first token layout."
        )
    extra = tuple(range(x.ndim, attr.ndim))
    return attr.sum(dim=extra) if extra else attr


def _completeness_delta(
    model: nn.Module,
    method: str,
    attr: torch.Tensor,
    out_x: torch.Tensor,
    target: torch.Tensor,
    baselines: Any,
    xs: torch.Tensor,
    device: torch.device,
    *,
    independent: bool = True,
) -> torch.Tensor:
    """``sum(attributions) - (f(x) - f(baseline))`` per row (Captum's convergence delta).

    For GradientShap, ``f(baseline)`` is the mean over the baseline distribution (completeness
    in expectation; Captum's own delta is per random sample).
    """
    t = target.cpu().view(-1, 1)
    fx = out_x.gather(1, t).view(-1).double()
    if isinstance(baselines, torch.Tensor):
        b = baselines
    elif baselines is None:
        b = torch.zeros_like(xs[:1])
    else:
        b = torch.full_like(xs[:1], float(baselines))
    ob = forward_outputs(
        model, b, rows=max(len(b), 1), device=device, independent=independent
    ).double()
    if method == "gradient_shap":
        fb = ob.mean(dim=0, keepdim=True).expand(len(t), -1).gather(1, t).view(-1)
    elif ob.shape[0] == 1:
        fb = ob.expand(len(t), -1).gather(1, t).view(-1)
    else:
        fb = ob.gather(1, t).view(-1)
    total = attr.detach().double().reshape(len(t), -1).sum(dim=1).cpu()
    return total - (fx - fb)


def _count_windows(
    shape: tuple[int, ...], window: tuple[int, ...] | None, strides: tuple[int, ...] | None
) -> int:
    if window is None:
        return 1
    st = strides if strides is not None else tuple(1 for _ in window)
    count = 1
    for d, w, s in zip(shape, window, st):
        count *= max(1, (d - w) // max(s, 1) + 1)
    return count


def default_window(shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Occlusion window and stride for one example of ``shape``: about an 8x8 grid of patches.

    A leading channel axis (1 or 3 channels of a ``(C, H, W)`` image) is occluded whole.
    """
    if len(shape) == 3 and shape[0] in (1, 3, 4):
        h, w = max(1, shape[1] // 8), max(1, shape[2] // 8)
        return (shape[0], h, w), (shape[0], h, w)
    if len(shape) == 3 and shape[2] in (1, 3, 4):
        h, w = max(1, shape[0] // 8), max(1, shape[1] // 8)
        return (h, w, shape[2]), (h, w, shape[2])
    win = tuple(max(1, d // 8) for d in shape)
    return win, win


def reinitialized_copy(
    module: nn.Module, *, top: int | None = 1, random_state: int = 0
) -> nn.Module:
    """Return a deep copy of ``module`` with its top ``top`` parametrised layers reset.

    ``top=None`` re-initialises every layer (Adebayo et al.'s full model randomisation).
    Layers are taken in registration order, the last registered being the top.
    """
    import copy

    clone = copy.deepcopy(module)
    layers = [
        m for m in clone.modules()
        if any(True for _ in m.parameters(recurse=False)) and hasattr(m, "reset_parameters")
    ]  # fmt: skip
    chosen = layers if top is None else layers[-top:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        for m in chosen:
            reset: Callable[[], None] = m.reset_parameters  # type: ignore[assignment]
            reset()
    return clone


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each row of ``a`` with the same row of ``b`` (NaN if flat)."""
    ra = _average_ranks(a)
    rb = _average_ranks(b)
    ra = ra - ra.mean(axis=1, keepdims=True)
    rb = rb - rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ra * rb).sum(axis=1) / den
    return np.where(den > 0, r, math.nan)


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks (from 1) within each row, ties sharing their mean rank; a row with NaN is all NaN.

    ``scipy.stats.rankdata(a, axis=1)`` in numpy: every rank is a whole or half number, so the
    values are the same to the bit.
    """
    x = np.asarray(a)
    m, n = x.shape
    out = np.empty((m, n), dtype=np.float64)
    if n == 0:
        return out
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    new = np.ones((m, n), dtype=bool)
    new[:, 1:] = xs[:, 1:] != xs[:, :-1]
    starts = np.flatnonzero(new)  # runs of equal values, row by row (a row starts a run)
    ends = np.r_[starts[1:], m * n] - 1
    mean_rank = 0.5 * ((starts % n) + (ends % n) + 2)
    run = np.cumsum(new.ravel()) - 1
    np.put_along_axis(out, order, mean_rank[run].reshape(m, n), axis=1)
    if x.dtype.kind in "fc":
        out[np.isnan(x).any(axis=1)] = np.nan
    return out


def clean_name(name: str) -> str:
    """Return a method name in snake_case (``"Integrated Gradients"`` -> ...)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())
