"""A bare torch module as a :class:`~auditkit.adapters.base.ModelAdapter`."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError
from .base import ModelAdapter, ModelKind, TorchParts, check_task


class TorchModel(ModelAdapter):
    """A bare ``torch.nn.Module`` mapping a float tensor to logits (or probabilities).

    As a regression (``task="regression"``) its single output is the predicted number.
    """

    kind: ModelKind = "torch"
    can_regress = True

    def __init__(
        self,
        module: Any,
        *,
        output: Literal["logits", "proba"] = "logits",
        schema: DatasetSchema | None = None,
        batch_size: int = 4096,
        task: str = "classification",
    ) -> None:
        super().__init__(module, name=type(module).__name__, schema=schema)
        if output not in ("logits", "proba"):
            raise ParameterError(f"output must be 'logits' or 'proba'; got {output!r}.")
        if check_task(task, func="TorchModel") == "regression":
            self.task = "regression"
        self.output = output
        self.batch_size = batch_size
        self._independent: bool | None = None

    def _tensor(self, X: Any) -> Any:
        import torch

        if isinstance(X, torch.Tensor):
            t = X
            if t.dtype.is_floating_point and t.dtype.itemsize > 4:
                _check_float32_range(t.detach().cpu().numpy(), None, self.name)
        else:
            columns = list(X.columns) if hasattr(X, "columns") else None
            arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
            t = torch.as_tensor(_as_float32(arr, columns, self.name))
        if t.dtype.is_floating_point:
            t = t.float()
        try:
            dev = next(self.raw.parameters()).device
            t = t.to(dev)
        except StopIteration:
            pass
        return t

    def _rows_independent(self, t: Any) -> bool:
        """Whether the module's rows do not interact, probed once on the first 2+ rows seen."""
        from ..runtime.attribution import rows_independent

        if self._independent is None and len(t) >= 2:
            try:
                self._independent = rows_independent(self.raw, t)
            except Exception:  # noqa: BLE001 - a probe the module refuses: score as given
                self._independent = False
        return bool(self._independent)

    def _raw_outputs(self, X: Any, finish: Any) -> list[Any]:
        """Run the module on ``X`` in batches; ``finish`` maps each batch's output (no grad)."""
        import torch

        from ..runtime.attribution import score_chunk

        t = self._tensor(X)
        self.raw.eval()
        outs = []
        with torch.no_grad():
            for i in range(0, len(t), self.batch_size):
                chunk = t[i : i + self.batch_size]
                # a batch of one takes other kernels (thread-dependent last bits)
                indep = len(chunk) == 1 and self._rows_independent(t)
                outs.append(finish(score_chunk(self.raw, chunk, independent=indep)))
        return outs

    def _proba(self, X: Any) -> Any:
        import torch

        def finish(o: Any) -> Any:
            if o.ndim == 1 or o.shape[1] == 1:
                o = o.reshape(-1)
                o = torch.sigmoid(o) if self.output == "logits" else o
                o = torch.stack([1 - o, o], dim=1)
            elif self.output == "logits":
                o = torch.softmax(o, dim=1)
            return o.double().cpu()

        outs = self._raw_outputs(X, finish)
        return torch.cat(outs).numpy() if outs else np.zeros((0, 2))

    def _values(self, X: Any) -> Any:
        """Return the module's output itself: one number per row (shape (n,) or (n, 1))."""
        import torch

        outs = self._raw_outputs(X, lambda o: o.double().cpu().reshape(len(o), -1))
        return torch.cat(outs).numpy() if outs else np.zeros((0, 1))

    def torch_parts(self) -> TorchParts | None:
        """Return the module itself, fed with float tensors.

        For a regression the module is wrapped to return shape (n, 1): attributions explain
        output 0, the predicted number.
        """
        names = list(self.schema.feature_names) if self.schema is not None else []
        module = one_output(self.raw) if self.task == "regression" else self.raw
        extras = {"task": "regression"} if self.task == "regression" else {}
        return TorchParts(module=module, encode=self._tensor, feature_names=names, extras=extras)


def one_output(module: Any) -> Any:
    """Wrap a regression module so that it returns shape (n, 1) (output 0 is the number)."""
    from torch import nn

    class OneOutput(nn.Module):
        """The wrapped module's prediction as a column (n, 1)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = module

        def forward(self, x: Any) -> Any:
            out = self.model(x)
            return out.reshape(len(out), -1)[:, :1]

    wrapped = OneOutput()
    wrapped.train(module.training)
    return wrapped


#: The largest finite float32: torch modules compute in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _column_name(columns: list[Any] | None, j: int) -> str:
    return f"column {str(columns[j])!r}" if columns is not None else f"feature {j}"


def _as_float32(arr: np.ndarray, columns: list[Any] | None, model: str) -> np.ndarray:
    """Convert inputs to float32 for a torch module, refusing what would not survive it.

    Raises
    ------
    DataValidationError
        When a value is not a number, or is finite but beyond float32's range (it would
        become infinite); the message names the column (or feature index) and the value.
    """
    if arr.dtype.kind in "biu" or arr.dtype in (np.float16, np.float32):
        out = np.asarray(arr, dtype=np.float32)  # every such value fits
        return out if out.flags.writeable else out.copy()  # torch refuses read-only arrays
    try:
        wide = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        where = ""
        if arr.ndim == 2:
            for j in range(arr.shape[1]):
                try:
                    np.asarray(arr[:, j], dtype=np.float64)
                except (TypeError, ValueError):
                    where = f" ({_column_name(columns, j)})"
                    break
        raise DataValidationError(
            f"The torch module {model!r} could not predict on X: it takes numbers, and the "
            f"input holds a value that is not one{where}: {exc}"
        ) from exc
    _check_float32_range(wide, columns, model)
    with np.errstate(over="ignore"):  # only infinities are left to cast, and stay infinite
        return wide.astype(np.float32)


def _check_float32_range(arr: np.ndarray, columns: list[Any] | None, model: str) -> None:
    """Raise DataValidationError when a finite value lies beyond float32's range."""
    with np.errstate(invalid="ignore"):
        over = np.isfinite(arr) & (np.abs(arr) > FLOAT32_MAX)
    if not over.any():
        return
    if arr.ndim == 2:
        j = int(np.flatnonzero(over.any(axis=0))[0])
        what = _column_name(columns, j)
        value = float(arr[over[:, j], j][0])
        n_more = int(over.any(axis=0).sum()) - 1
    else:
        what, value, n_more = "the input", float(arr[over][0]), 0
    also = f" (and {n_more} more column(s))" if n_more else ""
    raise DataValidationError(
        f"The torch module {model!r} could not predict on X: {what} holds {value:.6g}{also}, "
        "outside the float32 range (about ±3.4e38) that torch computes in; rescale it (for "
        "example to other units)."
    )


def _is_torch_module(obj: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)
