"""Probes of a torch model before an attribution: its device, whether its rows interact, memory.

What :mod:`auditkit.runtime.attribution` measures on a few rows to plan its batches: the bytes one
evaluation holds (forward activations for perturbation methods, the tensors autograd saves for
gradient methods), whether each row's output depends on that row alone, and the layouts and
backend switches an attribution needs (channels-last convolutions, cuDNN off for RNN gradients).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

#: Rough ratio of the memory a forward+backward holds to the activations of a forward pass.
_ACTIVATION_FACTOR = 4.0
#: Ratio of a gradient pass's peak memory to the tensors autograd saves for its backward.
_BACKWARD_FACTOR = 1.5


def as_2d(out: torch.Tensor) -> torch.Tensor:
    """Return model outputs as ``(n, n_outputs)`` (a 1-d output is one column)."""
    if out.ndim == 1:
        return out.unsqueeze(1)
    if out.ndim != 2:
        raise ValueError(
            f"The model returned outputs of shape {tuple(out.shape)}; expected (n_samples, "
            "n_classes) scores or logits."
        )
    return out


def module_device(module: nn.Module) -> torch.device:
    """Return the device of the module's first parameter or buffer (CPU when it has none)."""
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


def needs_cudnn_off(module: nn.Module, device: torch.device | str) -> bool:
    """Whether attributing ``module`` on ``device`` needs cuDNN switched off.

    cuDNN's RNN kernels only run their backward pass in training mode ("cudnn RNN backward can
    only be called in training mode"); an LSTM in eval mode on a GPU must use the native kernels
    for gradients. Switching cuDNN off keeps the model in eval mode (dropout stays off).
    """
    dev = torch.device(device)
    return dev.type == "cuda" and any(isinstance(m, nn.RNNBase) for m in module.modules())


@contextlib.contextmanager
def rnn_gradient_context(module: nn.Module, device: torch.device | str) -> Iterator[bool]:
    """Disable cuDNN for the attribution when :func:`needs_cudnn_off`; yields whether it did."""
    if needs_cudnn_off(module, device):
        with torch.backends.cudnn.flags(enabled=False):
            yield True
    else:
        yield False


@contextlib.contextmanager
def preserved_buffers(model: nn.Module) -> Iterator[None]:
    """Undo what auxiliary forward passes do to buffers (batch-norm running statistics)."""
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, v in saved:
                b.copy_(v)


def fast_layout(
    model: nn.Module, x: torch.Tensor, device: torch.device
) -> tuple[nn.Module, torch.Tensor, bool]:
    """Return ``(model, x, converted)`` in the memory layout that runs the model fastest.

    On a CPU, 2-d convolutions run about 1.6x faster in the channels-last layout (oneDNN's
    native one) than in the default NCHW layout. A model with 2-d
    convolutions and a batch of images is attributed on a copy of the model converted to that
    layout (the caller's model is not touched); the values agree with the default layout to
    float32 rounding. Anything else, or a model that cannot be copied, is returned as it is.
    """
    import copy

    if device.type != "cpu" or x.ndim != 4 or not x.dtype.is_floating_point:
        return model, x, False
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return model, x, False
    try:
        fast = copy.deepcopy(model).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - an uncopyable model is attributed as it is
        return model, x, False
    return fast, x.contiguous(memory_format=torch.channels_last), True


def _perturb_row(x: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    if out.dtype.is_floating_point:
        out[0] = out[0] + 1.0
    else:
        out[0] = out[0].flip(-1) if out.ndim > 1 else out[1 % len(out)]
    return out


def rows_independent(
    model: nn.Module, x: torch.Tensor, *, n_probe: int = 8, first: torch.Tensor | None = None
) -> bool:
    """Whether each row's output depends on that row alone (so summed gradients are exact).

    Batch-norm layers or dropout in training mode fail outright. Otherwise a probe of up to
    ``n_probe`` rows is run twice (outputs must repeat) and once with its first row changed
    (the other rows' outputs must not move). ``first`` is the probe's output when the caller
    has it already.
    """
    for m in model.modules():
        if m.training and isinstance(m, nn.modules.batchnorm._BatchNorm):
            return False
        if m.training and isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0:
            return False
    k = min(len(x), n_probe)
    if k < 2:
        return True
    probe = x[:k]
    with torch.no_grad():
        o1 = (as_2d(model(probe)) if first is None else as_2d(first)).double()
        o2 = as_2d(model(probe)).double()
        o3 = as_2d(model(_perturb_row(probe))).double()
    scale = float(o1.abs().max()) if o1.numel() else 1.0
    atol = 1e-5 * max(scale, 1.0)
    if not torch.allclose(o1, o2, rtol=1e-5, atol=atol):
        return False
    return bool(torch.allclose(o1[1:], o3[1:], rtol=1e-5, atol=atol))


def activation_bytes_per_row(model: nn.Module, x: torch.Tensor, *, n_probe: int = 8) -> float:
    """Bytes a forward+backward holds per input row, estimated from a probe's activations."""
    return probe_activations(model, x, n_probe=n_probe)[0]


def probe_activations(
    model: nn.Module, x: torch.Tensor, *, n_probe: int = 8
) -> tuple[float, torch.Tensor]:
    """Run the first ``n_probe`` rows; return (bytes per row, estimated, and the outputs)."""
    k = max(1, min(len(x), n_probe))
    probe = x[:k]
    total = [0]

    def count(obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            total[0] += obj.numel() * obj.element_size()
        elif isinstance(obj, (tuple, list)):
            for o in obj:
                count(o)

    def hook(_m: nn.Module, _i: Any, out: Any) -> None:
        count(out)

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            out = model(probe)
    finally:
        for h in handles:
            h.remove()
    per_row = (total[0] + probe.numel() * 4) / k  # inputs as float32 (ids become embeddings)
    return max(per_row * _ACTIVATION_FACTOR, 64.0), out


def backward_bytes_per_row(
    model: nn.Module, x: torch.Tensor, *, layer: nn.Module | None = None, n_probe: int = 4
) -> float:
    """Bytes one evaluation holds in a forward+backward pass, measured on a probe.

    Runs the first ``n_probe`` rows with gradients on (the inputs, or ``layer``'s output for
    layer methods, require them, as in Captum's pass) and adds up the tensors autograd saves
    for the backward pass (``torch.autograd.graph.saved_tensors_hooks``, each storage once,
    the parameters left out): what a pass of ``k`` evaluations holds until its backward
    runs, recurrent layers' gate buffers included. Gradient buffers alive at once during the
    backward pass and the allocator's slack are covered by :data:`_BACKWARD_FACTOR`
    (benchmarks/RESULTS.md, section ``hf_text``, compares the plan with the peak measured).
    """
    k = max(1, min(len(x), n_probe))
    probe = x[:k].detach()
    if probe.dtype.is_floating_point and layer is None:
        probe = probe.clone().requires_grad_(True)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: set[int] = set()
    total = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr not in params and ptr not in seen:
            seen.add(ptr)
            total[0] += st.nbytes()
        return t

    def grad_out(_m: nn.Module, _i: Any, out: Any) -> Any:
        if isinstance(out, torch.Tensor) and out.dtype.is_floating_point:
            return out.detach().requires_grad_(True)
        return out

    handle = layer.register_forward_hook(grad_out) if layer is not None else None
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(probe)
    finally:
        if handle is not None:
            handle.remove()
    per_row = (total[0] + probe.numel() * probe.element_size()) / k
    return max(per_row * _BACKWARD_FACTOR, 64.0)
