"""Token attributions cut to each row's real tokens (padding the model masks).

A transformer given ``attention_mask = ids != pad`` ignores its right padding: a padding
column changes no output and its input equals its baseline, so its attribution is 0 and the
other columns' values do not depend on it. :func:`auditkit.runtime.attribution.attribute`
therefore sorts the rows by real length (:func:`trim_order`, :func:`permuted`), attributes each
chunk cut to its longest row with proportionally more samples per pass
(:func:`cut_pass_size`), and puts the values back in row order (:func:`restore_order`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Trim", "cut_pass_size", "permuted", "restore_order", "trim_order"]


@dataclass(frozen=True)
class Trim:
    """Rows by decreasing real length (token ids before the right padding)."""

    order: torch.Tensor
    inverse: torch.Tensor
    lengths: torch.Tensor  # real length of each row, in ``order``


def trim_order(x: torch.Tensor, pad: int | None) -> Trim | None:
    """Return the length order of right-padded token ids, or None when nothing can be cut."""
    if pad is None or x.ndim != 2 or x.dtype.is_floating_point or len(x) == 0:
        return None
    real = (x != pad).cpu()
    cols = torch.arange(1, x.shape[1] + 1)
    lengths = (real * cols).amax(dim=1)  # last real position + 1 (0 for an all-pad row)
    if bool((lengths == x.shape[1]).all()):
        return None  # no padding to cut
    order = torch.sort(lengths, descending=True, stable=True).indices
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return Trim(order=order, inverse=inverse, lengths=lengths[order])


def permuted(
    idx: torch.Tensor, x: torch.Tensor, target: torch.Tensor, outputs: torch.Tensor | None,
    baselines: Any,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, Any]:  # fmt: skip
    """Return ``x``, the targets, the outputs and per-row baselines reordered by ``idx``."""
    per_row = (
        isinstance(baselines, torch.Tensor)
        and baselines.ndim > 0
        and (baselines.shape[0] == len(x) and len(x) > 1)
    )
    return (
        x[idx.to(x.device)],
        target[idx],
        None if outputs is None else outputs[idx.to(outputs.device)],
        baselines[idx.to(baselines.device)] if per_row else baselines,
    )


def cut_pass_size(ibs: int | None, rows: int, full: int, width: int) -> int | None:
    """Return the samples per pass of a chunk cut from ``full`` to ``width`` tokens.

    A pass's memory grows at least linearly with the tokens (the attention's part
    quadratically), so ``full / width`` times the planned samples (whole steps of the chunk's
    rows) stay within the planned bytes.
    """
    if ibs is None or width >= full:
        return ibs
    grown = int(ibs * full // width)
    return max(rows, (grown // rows) * rows)


def restore_order(
    trim: Trim, x: torch.Tensor, target: torch.Tensor, outputs: torch.Tensor | None,
    values: torch.Tensor | None, deltas: list[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None,
           list[torch.Tensor]]:  # fmt: skip
    """Undo :func:`permuted`: inputs, targets, outputs, values and deltas in row order."""
    x, target, outputs, _ = permuted(trim.inverse, x, target, outputs, None)
    if values is not None:
        values = values[trim.inverse]
    if deltas:
        deltas = [torch.cat(deltas)[trim.inverse]]
    return x, target, outputs, values, deltas
