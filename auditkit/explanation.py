"""Attributions for any model auditkit accepts, computed by Captum's classes, returned as arrays.

``explain(model, X)`` runs one of Captum's attribution methods on a loaded auditkit checkpoint, a
torch module or a scikit-learn estimator, and returns an :class:`Explanation` of plain numpy
arrays: one value per original feature for tabular data (one-hot columns folded back into their
source column), maps shaped like the images, one value per token for text. The fast path and
the batching live in :mod:`auditkit.runtime.attribution`.
"""

from __future__ import annotations

import numbers
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._core.validation import PARAM_MSG, check_int, check_param, format_available
from .exceptions import DataValidationError, OutputError, ParameterError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["Explanation", "explain", "save_maps", "METHODS"]

#: Every method :func:`explain` knows, in Captum's class order.
METHODS = (
    "integrated_gradients",
    "saliency",
    "deeplift",
    "gradient_shap",
    "feature_ablation",
    "occlusion",
    "layer_integrated_gradients",
)
#: Perturbation methods offered to models without gradients once the attribution runtime
#: (:data:`auditkit.runtime.attribution.METHODS`) has them; checked at run time.
SAMPLING_METHODS = ("shapley_value_sampling", "kernel_shap")
_FUNC = "explain"


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions of one model on some rows, as plain numpy arrays.

    Attributes
    ----------
    values : ndarray of float64
        Tabular data: shape (n_samples, n_features), one column per original feature (one-hot
        columns summed back into their source column). Images: shaped like the model's input,
        for example (n_samples, 3, 32, 32). Text: (n_samples, n_tokens), aligned with the token
        ids (the embedding attributions summed over the embedding width).
    feature_names : list of str
        Names of the columns of ``values`` (tabular), or a single descriptive name.
    delta : ndarray of shape (n_samples,) or None
        Convergence delta ``sum(attributions) - (f(x) - f(baseline))`` per row (Captum's
        definition) for integrated gradients, DeepLift, layer integrated gradients and
        GradientShap (where ``f(baseline)`` is the mean over the baseline distribution);
        None for the other methods.
    method : str
        The attribution method used.
    target : ndarray of int64, shape (n_samples,)
        The output (class index) each row's attributions explain; 0 for a regression (its one
        output, the predicted value).
    outputs : ndarray of shape (n_samples, n_outputs) or None
        The model's outputs (logits for torch models, probabilities otherwise; the predicted
        value, one column, for a regression) on the rows,
        where they were computed (for the default target or the deltas).
    encoded_values : ndarray or None
        For tabular torch models: the attributions of the encoded columns before folding.
    tokens : list of list of str or None
        Text models: the tokens of each row (from the checkpoint's vocabulary).
    info : dict
        How the attributions were computed (fast path, batch sizes, device).
    """

    values: np.ndarray
    feature_names: list[str]
    delta: np.ndarray | None
    method: str
    target: np.ndarray
    outputs: np.ndarray | None = None
    encoded_values: np.ndarray | None = None
    tokens: list[list[str]] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def importance(self) -> np.ndarray:
        """Mean absolute attribution per column of a tabular explanation, shape (n_features,)."""
        if self.values.ndim != 2:
            raise ParameterError(
                "importance() needs tabular attributions of shape (n_samples, n_features); "
                f"these have shape {self.values.shape}."
            )
        return np.abs(self.values).mean(axis=0)

    def save_maps(
        self,
        folder: str | os.PathLike[str],
        *,
        images: Any = None,
        rows: Sequence[int] | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Write the attribution maps of an image explanation as PNG files (see :func:`save_maps`).

        Parameters
        ----------
        folder : str or path-like
            Where to write ``attribution_<row>.png``; created when missing.
        images : array-like, default=None
            The input images, drawn to the left of each map.
        rows : sequence of int, default=None
            Which rows to write (default: all).
        overwrite : bool, default=False
            Replace existing files instead of raising :class:`OutputError`.

        Returns
        -------
        list of Path
        """
        return save_maps(self, folder, images=images, rows=rows, overwrite=overwrite)

    def to_frame(self) -> Any:
        """Return tabular attributions as a pandas DataFrame with one column per feature."""
        import pandas as pd

        if self.values.ndim != 2 or self.values.shape[1] != len(self.feature_names):
            raise ParameterError(
                "to_frame() needs tabular attributions (one column per feature); these have "
                f"shape {self.values.shape}."
            )
        return pd.DataFrame(self.values, columns=list(self.feature_names))


# --------------------------------------------------------------------------- model -> parts
@dataclass
class _Subject:
    """What is attributed: a module, its encoded inputs, and how to read the result."""

    module: nn.Module
    x: torch.Tensor
    kind: str  # "tabular", "image", "tokens"
    differentiable: bool
    feature_names: list[str]
    feature_groups: list[tuple[str, list[int]]] | None = None
    layer: Any = None
    decode_tokens: Any = None
    pad_id: int = 0
    unk_id: int | None = None
    special_ids: tuple[int, ...] = ()  # kept in token baselines ([CLS], [SEP]...)
    encode: Any = None
    reference: torch.Tensor | None = None
    row_independent: bool | None = None
    description: str = "model"
    masked_padding: bool = False  # the module masks ``pad_id`` (cut it: runtime.attribution)
    regression: bool = False


class _FrameCodec:
    """Raw tabular ``X`` <-> a float64 tensor, so perturbation methods can run on any estimator.

    Numeric columns pass through as float64 (exact for every float64 value and for integers up to
    2**53, so the estimator is asked about its very inputs, 1e300 included); every other column
    becomes the index of its value in the column's categories (the values seen in ``X``).
    ``decode`` rebuilds the DataFrame with the original dtypes, so the estimator sees data shaped
    like its training data.
    """

    def __init__(self, X: Any) -> None:
        import pandas as pd

        self.frame = isinstance(X, pd.DataFrame)
        if self.frame:
            self.columns = list(X.columns)
            self.dtypes = [X[c].dtype for c in self.columns]
            self.numeric = [X[c].dtype.kind in "biuf" for c in self.columns]
            self.categories: list[list[Any]] = []
            for c, num in zip(self.columns, self.numeric):
                if num:
                    self.categories.append([])
                else:
                    vals = pd.unique(X[c].to_numpy())
                    self.categories.append(sorted(vals.tolist(), key=lambda v: str(v)))
            self.feature_names = [str(c) for c in self.columns]
            self.shape: tuple[int, ...] = (len(self.columns),)
            self.dtype: Any = None
        else:
            arr = np.asarray(X)
            if arr.dtype.kind not in "biuf":
                raise DataValidationError(
                    "explain needs numeric arrays or a pandas DataFrame for this model; got an "
                    f"array of dtype {arr.dtype}."
                )
            self.shape = tuple(arr.shape[1:])
            self.dtype = arr.dtype
            self.feature_names = (
                [f"x{i}" for i in range(arr.shape[1])] if arr.ndim == 2 else ["input"]
            )

    def encode(self, X: Any) -> torch.Tensor:
        import torch

        if not self.frame:
            return torch.as_tensor(np.asarray(X, dtype=np.float64))
        cols = []
        for c, num, cats in zip(self.columns, self.numeric, self.categories):
            v = X[c].to_numpy()
            if num:
                cols.append(np.asarray(v, dtype=np.float64))
            else:
                lookup = {k: i for i, k in enumerate(cats)}
                codes = np.empty(len(v), dtype=np.float64)
                for i, val in enumerate(v.tolist()):
                    code = lookup.get(val)
                    if code is None:
                        raise DataValidationError(
                            f"Column {c!r} has value {val!r} that was not among the values the "
                            "explanation was set up with."
                        )
                    codes[i] = code
                cols.append(codes)
        return torch.as_tensor(np.column_stack(cols).astype(np.float64))

    def decode(self, t: torch.Tensor) -> Any:
        import pandas as pd

        arr = t.detach().cpu().double().numpy()
        if not self.frame:
            out = arr
            if np.dtype(self.dtype).kind in "biu":
                out = np.rint(arr)
            return out.astype(self.dtype)
        data: dict[Any, Any] = {}
        for j, (c, num, cats, dt) in enumerate(
            zip(self.columns, self.numeric, self.categories, self.dtypes)
        ):
            v = arr[:, j]
            if num:
                col = np.rint(v) if dt.kind in "biu" else v
                data[c] = pd.Series(col).astype(dt)
            else:
                idx = np.clip(np.rint(v).astype(np.int64), 0, max(len(cats) - 1, 0))
                s = pd.Series(np.asarray(cats, dtype=object)[idx])
                try:
                    s = s.astype(dt)
                except (TypeError, ValueError):
                    pass
                data[c] = s
        return pd.DataFrame(data)

    def reference(self, X: Any) -> torch.Tensor:
        """One reference row: the median of numeric columns, the most frequent category."""
        import torch

        if not self.frame:
            arr = np.asarray(X, dtype=np.float64)
            return torch.as_tensor(np.median(arr, axis=0, keepdims=True))
        enc = self.encode(X).double().numpy()
        ref = np.empty((1, enc.shape[1]))
        for j, num in enumerate(self.numeric):
            col = enc[:, j]
            if num:
                ref[0, j] = np.nanmedian(col) if np.isfinite(col).any() else 0.0
            else:
                ref[0, j] = np.bincount(col.astype(np.int64)).argmax()
        return torch.as_tensor(ref)


def _proba_module(adapter: Any, codec: _FrameCodec) -> nn.Module:
    import torch
    from torch import nn

    class ProbaModule(nn.Module):
        """``predict_proba`` of a non-torch model behind a torch forward (perturbations only)."""

        def __init__(self) -> None:
            super().__init__()

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return torch.as_tensor(adapter.predict_proba(codec.decode(t)))

    return ProbaModule()


def _values_module(adapter: Any, codec: _FrameCodec) -> nn.Module:
    import torch
    from torch import nn

    class ValuesModule(nn.Module):
        """``predict_values`` of a regressor behind a torch forward: one output, the value."""

        def __init__(self) -> None:
            super().__init__()

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return torch.as_tensor(adapter.predict_values(codec.decode(t))).reshape(-1, 1)

    return ValuesModule()


def _to_tensor(X: Any) -> torch.Tensor:
    import torch

    if isinstance(X, torch.Tensor):
        return X.detach() if X.dtype.is_floating_point else X
    arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if arr.dtype.kind in "iu":
        return torch.as_tensor(arr.astype(np.int64))
    if arr.dtype.kind not in "bf":
        raise DataValidationError(
            f"explain needs numeric inputs for a torch module; got an array of dtype {arr.dtype}."
        )
    return torch.as_tensor(np.asarray(arr, dtype=np.float32))


def _first_embedding(module: nn.Module) -> Any:
    from torch import nn

    for m in module.modules():
        if isinstance(m, nn.Embedding):
            return m
    return None


def _kind_of(x: torch.Tensor, modality: str | None = None) -> str:
    if not x.dtype.is_floating_point:
        return "tokens"
    if modality in ("image", "text", "tabular"):
        return "tokens" if modality == "text" else modality
    return "image" if x.ndim >= 3 else "tabular"


def _subject(model: Any, X: Any) -> _Subject:
    from torch import nn

    from .adapters import wrap

    if isinstance(model, nn.Module):
        x = _to_tensor(X)
        kind = _kind_of(x)
        names = (
            [f"x{i}" for i in range(x.shape[1])] if kind == "tabular" and x.ndim == 2
            else ["pixels" if kind == "image" else "tokens" if kind == "tokens" else "input"]
        )  # fmt: skip
        layer = _first_embedding(model) if kind == "tokens" else None
        return _Subject(
            module=model, x=x, kind=kind, differentiable=True, feature_names=names,
            layer=layer, encode=_to_tensor, description=f"torch module {type(model).__name__}",
        )  # fmt: skip
    from .models.files import open_model

    try:
        adapter = wrap(open_model(model))
    except ParameterError as exc:
        msg = str(exc).replace("parameter of audit", "parameter of explain")
        raise ParameterError(msg) from exc
    parts = adapter.torch_parts()
    schema = getattr(adapter, "schema", None)
    modality = getattr(schema, "modality", None)
    if parts is not None:
        x = parts.encode(X)
        x = _to_tensor(x)
        kind = _kind_of(x, modality)
        groups = parts.feature_groups if kind == "tabular" else None
        names = list(parts.feature_names) or (
            [f"x{i}" for i in range(x.shape[1])] if x.ndim == 2 else ["input"]
        )
        if kind == "tabular" and groups is None and len(names) != x.shape[1]:
            names = [f"x{i}" for i in range(x.shape[1])]
        prep = getattr(parts.module, "preprocessing", None)
        prep = prep if isinstance(prep, dict) else {}
        extras = parts.extras if isinstance(parts.extras, dict) else {}
        pad = extras.get("pad_id", prep.get("pad_index", 0))
        unk = extras.get("unk_id", prep.get("unk_index"))
        layer = parts.embedding
        if kind == "tokens" and layer is None:
            layer = _first_embedding(parts.module)
        return _Subject(
            module=parts.module, x=x, kind=kind, differentiable=True, feature_names=names,
            feature_groups=groups, layer=layer, decode_tokens=parts.decode_tokens,
            pad_id=int(pad or 0), unk_id=None if unk is None else int(unk),
            special_ids=tuple(int(i) for i in extras.get("special_ids", ())),
            encode=lambda v: _to_tensor(parts.encode(v)),
            description=f"{adapter.kind} model {adapter.name}",
            masked_padding=bool(extras.get("padding_masked", False)),
            regression=getattr(adapter, "task", "classification") == "regression",
        )  # fmt: skip
    codec = _FrameCodec(X)
    x = codec.encode(X)
    kind = "image" if x.ndim >= 3 else "tabular"
    regression = getattr(adapter, "task", "classification") == "regression"
    forward = _values_module if regression else _proba_module
    return _Subject(
        regression=regression, module=forward(adapter, codec), x=x, kind=kind,
        differentiable=False,
        feature_names=codec.feature_names, encode=codec.encode, reference=codec.reference(X),
        row_independent=True, description=f"{adapter.kind} model {adapter.name}",
    )  # fmt: skip


def _sampling_methods() -> tuple[str, ...]:
    """Return the methods of :data:`SAMPLING_METHODS` the attribution runtime implements."""
    from .runtime import attribution

    known = getattr(attribution, "METHODS", ())
    return tuple(m for m in SAMPLING_METHODS if m in known)


def available_methods(subject: _Subject) -> list[str]:
    """Return the methods that fit ``subject``, in :data:`METHODS` order.

    A model without gradients (ONNX, scikit-learn, a callable) gets the perturbation methods:
    feature ablation, Shapley value sampling and KernelSHAP for a table (the last two where the
    attribution runtime has them), occlusion for images.
    """
    per_example_ndim = subject.x.ndim - 1
    if subject.kind == "tokens":
        out = []
        if subject.differentiable and subject.layer is not None:
            out.append("layer_integrated_gradients")
        return [*out, "feature_ablation"]
    if not subject.differentiable:
        if per_example_ndim >= 2:
            return ["feature_ablation", "occlusion"]
        return ["feature_ablation", *_sampling_methods()]
    out = ["integrated_gradients", "saliency", "deeplift", "gradient_shap", "feature_ablation"]
    if per_example_ndim >= 2:
        out.append("occlusion")
    return out


def _check_method(method: Any, subject: _Subject) -> str:
    from .runtime.attribution import clean_name

    if not isinstance(method, str):
        raise ParameterError(
            PARAM_MSG.format(param="method", func=_FUNC, expected="a str", got=method)
        )
    name = clean_name(method)
    fits = available_methods(subject)
    lig_fits = "layer_integrated_gradients" in fits
    if name == "integrated_gradients" and subject.kind == "tokens" and lig_fits:
        return "layer_integrated_gradients"  # token ids: integrate at the embeddings
    if name not in METHODS and name not in _sampling_methods():
        raise ParameterError(
            f"Unknown attribution method {method!r}. Methods that fit this {subject.description}: "
            f"{format_available(fits)}."
        )
    if name not in fits:
        why = {
            "tokens": "its inputs are token ids (gradients are taken at the token embeddings)",
            "image": "it takes images",
            "tabular": "its inputs are a table",
        }[subject.kind]
        if not subject.differentiable:
            why = "it is not a differentiable torch model (perturbation methods only)"
        raise ParameterError(
            f"The {name!r} method does not fit this {subject.description}: {why}. Methods that "
            f"fit: {format_available(fits)}."
        )
    return name


def default_method(subject: _Subject) -> str:
    """Return the method :func:`explain` uses when none is named.

    Integrated gradients for a differentiable model (at the token embeddings for text); for a
    model without gradients, feature ablation on a table and occlusion on images (ablating each
    pixel alone would be one model call per pixel per row).
    """
    if subject.differentiable:
        return "integrated_gradients"
    return "occlusion" if subject.x.ndim >= 3 else "feature_ablation"


def _check_target(target: Any, n: int, n_outputs: int) -> torch.Tensor | None:
    import torch

    if target is None:
        return None
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        arr = np.full(n, int(target), dtype=np.int64)
    else:
        raw = target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else target
        arr = np.asarray(raw)
        if arr.ndim != 1 or len(arr) != n or arr.dtype.kind not in "iu":
            raise ParameterError(
                PARAM_MSG.format(
                    param="target", func=_FUNC,
                    expected=f"None, an int or {n} ints (one output index per row)",
                    got=target if np.ndim(raw) == 0 else f"array of shape {arr.shape}",
                )
            )  # fmt: skip
        arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= n_outputs)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"Target {int(arr[i])} (row {i}) is not an output of the model; it has "
            f"{n_outputs} output(s), 0..{n_outputs - 1}."
        )
    return torch.as_tensor(arr)


def _baselines(
    baselines: Any, method: str, subject: _Subject, random_state: int
) -> torch.Tensor | float | None:
    import pandas as pd
    import torch

    x = subject.x
    n = len(x)
    if baselines is None:
        if subject.kind == "tokens":
            # The same review with every word unknown: same length, so a model that masks
            # padding sees the same mask, and completeness holds at the embeddings.
            if subject.special_ids:  # [CLS], [SEP]... and padding kept, every word unknown
                keep = torch.isin(x, torch.as_tensor(subject.special_ids, dtype=x.dtype))
                keep = keep | (x == subject.pad_id)
                fill = subject.pad_id if subject.unk_id is None else subject.unk_id
                return torch.where(keep, x, torch.full_like(x, fill))
            if subject.unk_id is None:
                return torch.full_like(x[:1], subject.pad_id)
            return torch.where(x != subject.pad_id, subject.unk_id, subject.pad_id)
        if method == "gradient_shap":
            rng = np.random.default_rng(random_state)
            m = min(n, 20)
            idx = np.sort(rng.choice(n, size=m, replace=False)) if n else np.arange(0)
            return x[torch.as_tensor(idx, dtype=torch.long)].clone()
        if subject.reference is not None:
            return subject.reference
        return None
    if isinstance(baselines, numbers.Real) and not isinstance(baselines, bool):
        if subject.kind == "tokens":
            return torch.full_like(x[:1], int(float(baselines)))
        return float(baselines)
    if isinstance(baselines, pd.DataFrame) and subject.encode is not None:
        b = _to_tensor(subject.encode(baselines))
    else:
        b = _to_tensor(baselines)
    if not x.dtype.is_floating_point:
        b = b.to(x.dtype)
    else:
        b = b.to(torch.float32)
    if tuple(b.shape) == tuple(x.shape[1:]):
        b = b.unsqueeze(0)
    ok = tuple(b.shape[1:]) == tuple(x.shape[1:]) and (
        method == "gradient_shap" or b.shape[0] in (1, n)
    )
    if not ok:
        raise ParameterError(
            PARAM_MSG.format(
                param="baselines", func=_FUNC,
                expected=f"a number, one row of shape {tuple(x.shape[1:])} or one row per input "
                f"({n}, {', '.join(map(str, x.shape[1:]))})",
                got=f"an array of shape {tuple(b.shape)}",
            )
        )  # fmt: skip
    return b


def _feature_mask(subject: _Subject) -> torch.Tensor | None:
    import torch

    if subject.kind != "tabular" or not subject.feature_groups:
        return None
    d = subject.x.shape[1]
    mask = np.full(d, -1, dtype=np.int64)
    for g, (_, cols) in enumerate(subject.feature_groups):
        mask[np.asarray(cols, dtype=np.int64)] = g
    rest = np.flatnonzero(mask < 0)
    mask[rest] = len(subject.feature_groups) + np.arange(len(rest))
    return torch.as_tensor(mask).view(1, d)


def fold_groups(
    values: np.ndarray, groups: Sequence[tuple[str, Sequence[int]]], *, grouped: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Fold encoded-column attributions back into their original features.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_encoded)
    groups : list of (name, column indices)
        Original feature -> its encoded columns (for example one-hot columns).
    grouped : bool, default=False
        True when each group was perturbed as a whole (feature ablation with a feature mask):
        every column of a group then holds the group's attribution, which is taken once.
        Otherwise (gradient methods) the columns' attributions are summed.

    Returns
    -------
    folded : ndarray of shape (n_samples, n_groups)
    names : list of str
    """
    out = np.empty((values.shape[0], len(groups)), dtype=np.float64)
    for j, (_, cols) in enumerate(groups):
        idx = np.asarray(list(cols), dtype=np.int64)
        if len(idx) == 0:
            out[:, j] = 0.0
        elif grouped:
            out[:, j] = values[:, idx[0]]
        else:
            out[:, j] = values[:, idx].sum(axis=1)
    return out, [str(g) for g, _ in groups]


def explain(
    model: Any,
    X: Any,
    *,
    method: str | None = None,
    target: Any = None,
    baselines: Any = None,
    n_steps: int = 50,
    batch_size: int | None = None,
    random_state: int = 0,
    memory_budget_mb: float = 256.0,
    show_progress: bool = False,
    devices: int | None = None,
    accelerator: str = "auto",
) -> Explanation:
    """Attribute a model's predictions to its inputs with Captum.

    Parameters
    ----------
    model : LoadedModel, ModelAdapter, torch.nn.Module, estimator or callable
        A checkpoint loaded with :func:`auditkit.load_checkpoint` or a model opened with
        :func:`auditkit.load_model` (or the path of either; a pickle is refused), a torch
        module returning logits (then ``X`` is a tensor or array), or a fitted scikit-learn
        estimator, ONNX model or ``predict_proba`` callable (perturbation methods only).
        A regression model (a scikit-learn regressor, a torch module with one output, the
        ``adult-hours`` checkpoint) is explained through its one output: the attributions are
        contributions to the predicted value, in the target's units.
    X : DataFrame, ndarray, Tensor or sequence of str
        The rows to explain, raw as the model takes them (a checkpoint encodes them itself).
    method : str, default=None
        ``"integrated_gradients"``, ``"saliency"``, ``"deeplift"``, ``"gradient_shap"``,
        ``"feature_ablation"``, ``"occlusion"`` (images) or ``"layer_integrated_gradients"``
        (token embeddings of a text model; ``"integrated_gradients"`` on token ids means this);
        for a table and a model without gradients also ``"shapley_value_sampling"`` and
        ``"kernel_shap"``. None: integrated gradients for a torch model (at the token embeddings
        for text), else feature ablation (a table) or occlusion (images).
    target : int or array-like of int, default=None
        The output explained for each row; None explains the predicted class of each row (the
        predicted value of a regression: output 0).
    baselines : number, array-like, Tensor or DataFrame, default=None
        Reference input: a number, one row, or one row per input (encoded as the model takes
        it; a DataFrame is encoded by the checkpoint). For ``gradient_shap`` a set of rows to
        draw from. None uses Captum's default (zeros) for torch models, 20 rows of ``X`` for
        GradientShap; for text, the same review with every word replaced by the unknown-word
        token (the padding token when the model has none), so its length and padding mask
        are kept; for other estimators a reference row (the median of each numeric column,
        the most frequent category of the others).
    n_steps : int, default=50
        Integration steps of integrated gradients.
    batch_size : int, default=None
        Rows per Captum call; None chooses it from ``memory_budget_mb``.
    random_state : int, default=0
        Seed of GradientShap's random draws and of the default GradientShap baselines.
    memory_budget_mb : float, default=256
        Bound on the memory of one batch of expanded evaluations (rows x ``n_steps``).
    show_progress : bool, default=False
        Show a progress bar on stderr.
    devices : int, default=None
        Attribute on this many devices (processes, through Lightning's ``Trainer.predict``),
        each taking an interleaved share of the rows; the values come back in row order.
        None or 1 runs in this process. The model must pickle. GradientShap's random draws are
        per process, so its values differ from a one-process run (equally valid).
    accelerator : str, default="auto"
        The devices' kind with ``devices`` ("cpu", "gpu", "auto").

    Returns
    -------
    Explanation

    Raises
    ------
    ParameterError
        For an unknown method, a method that does not fit the model (the message lists those
        that do), or a bad target, baseline or size parameter.

    Notes
    -----
    For models whose rows do not interact (checked on a small probe), Captum receives a forward
    function returning the target output summed over the batch: the gradients are the same as
    Captum's default call, at a fraction of its cost. Convergence deltas are computed per row.
    Rows that interact (batch norm in training mode, active dropout, cross-row operations) go
    to Captum's plain call in one batch, as splitting them would change the values.
    GradientShap draws its random points per Captum call, so its values equal Captum's
    single call with the same seed when the rows fit one call (``batch_size``).
    On a GPU, recurrent layers run without cuDNN for the attribution (cuDNN's RNN backward only
    runs in training mode), so the model stays in eval mode.

    Examples
    --------
    >>> import torch
    >>> from auditkit import explain
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    >>> e = explain(net, torch.ones(4, 3))
    >>> e.values.shape
    (4, 3)
    """
    from .runtime import attribution as _attr

    n_steps = check_int(n_steps, param="n_steps", func=_FUNC, low=1)
    if batch_size is not None:
        batch_size = check_int(batch_size, param="batch_size", func=_FUNC, low=1)
    random_state = check_int(random_state, param="random_state", func=_FUNC, low=0)
    if devices is not None:
        devices = check_int(devices, param="devices", func=_FUNC, low=1)
    check_param(
        isinstance(memory_budget_mb, numbers.Real) and not isinstance(memory_budget_mb, bool)
        and float(memory_budget_mb) > 0,
        param="memory_budget_mb", func=_FUNC, expected="a positive number", got=memory_budget_mb,
    )  # fmt: skip
    subject = _subject(model, X)
    name = _check_method(default_method(subject) if method is None else method, subject)
    x = subject.x
    if len(x) == 0:
        raise DataValidationError("explain got no rows to explain (X is empty).")
    n_outputs = _n_outputs(subject.module, x)
    tgt = _check_target(target, len(x), n_outputs)
    base = _baselines(baselines, name, subject, random_state)
    mask = _feature_mask(subject) if name in ("feature_ablation", *SAMPLING_METHODS) else None
    window = strides = None
    if name == "occlusion":
        window, strides = _attr.default_window(tuple(x.shape[1:]))
    common: dict[str, Any] = dict(
        method=name, target=tgt, baselines=base, n_steps=n_steps, layer=subject.layer,
        feature_mask=mask, sliding_window_shapes=window, strides=strides,
        batch_size=batch_size, memory_budget_mb=float(memory_budget_mb),
        random_state=random_state, show_progress=show_progress,
        check_rows=subject.row_independent is not True,
        masked_pad_id=subject.pad_id if subject.masked_padding else None,
    )  # fmt: skip
    if devices is not None and devices != 1:
        from .runtime.devices import attribute_on_devices

        run = attribute_on_devices(
            subject.module, x, devices=devices, accelerator=accelerator, **common
        )
    else:
        run = _attr.attribute(subject.module, x, **common)
    values = run.values
    encoded = None
    names = list(subject.feature_names)
    if subject.kind == "tabular" and subject.feature_groups:
        encoded = values
        values, names = fold_groups(values, subject.feature_groups, grouped=mask is not None)
    tokens = None
    if subject.kind == "tokens" and subject.decode_tokens is not None:
        ids = x.cpu().numpy()
        tokens = [list(subject.decode_tokens(row)) for row in ids]
    special: dict[str, Any] = {}
    if tokens is not None and subject.special_ids:
        assert subject.decode_tokens is not None
        ids = np.asarray(subject.special_ids, dtype=np.int64)
        special["special_tokens"] = sorted(set(subject.decode_tokens(ids)))
    info = {
        "fast_path": run.fast_path,
        "rows_per_call": run.plan.rows_per_call,
        "internal_batch_size": run.plan.internal_batch_size,
        "perturbations_per_eval": run.plan.perturbations_per_eval,
        "n_steps": n_steps if name in ("integrated_gradients", "layer_integrated_gradients")
        else None,
        "kind": subject.kind,
        "model": subject.description,
        # a regression's attributions explain its one output (a classifier's info is unchanged)
        **({"output": "the predicted value"} if subject.regression else {}),
        **run.info,
        **special,
    }  # fmt: skip
    return Explanation(
        values=values, feature_names=names, delta=run.delta, method=name, target=run.target,
        outputs=run.outputs, encoded_values=encoded, tokens=tokens, info=info,
    )  # fmt: skip


def _n_outputs(module: nn.Module, x: torch.Tensor) -> int:
    import torch

    from .runtime.attribution import as_2d, module_device, preserved_buffers

    with torch.no_grad(), preserved_buffers(module):
        return int(as_2d(module(x[: min(len(x), 2)].to(module_device(module)))).shape[1])


# ------------------------------------------------------------------------------ PNG output
def encode_png(rgb: np.ndarray) -> bytes:
    """Encode an ``(H, W, 3)`` or ``(H, W)`` uint8 array as PNG bytes (zlib, no dependencies)."""
    img = np.asarray(rgb)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ParameterError(f"encode_png needs an (H, W, 3) array; got shape {img.shape}.")
    img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[i].tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + tag + data + crc

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def attribution_map(values: np.ndarray) -> np.ndarray:
    """Collapse one example's attributions to a 2-d map (channels summed).

    ``(C, H, W)`` and ``(H, W, C)`` images (1, 3 or 4 channels) are summed over the channel
    axis; ``(H, W)`` passes; a flat vector of a square length becomes a square.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 3:
        axis = 0 if v.shape[0] in (1, 3, 4) else 2
        return v.sum(axis=axis)
    if v.ndim == 2:
        return v
    if v.ndim == 1:
        side = int(round(np.sqrt(v.size)))
        if side * side == v.size:
            return v.reshape(side, side)
    raise ParameterError(
        f"Attributions of shape {v.shape} per example cannot be drawn as an image map."
    )


def heat_rgb(amap: np.ndarray) -> np.ndarray:
    """Colour a map: positive red, negative blue, white at zero (scaled to the 99th percentile)."""
    a = np.asarray(amap, dtype=np.float64)
    scale = float(np.percentile(np.abs(a), 99)) if a.size else 0.0
    if not np.isfinite(scale) or scale <= 0:
        scale = float(np.abs(a).max()) or 1.0
    v = np.clip(a / scale, -1.0, 1.0)
    r = 255.0 * (1.0 - np.clip(-v, 0, 1))
    g = 255.0 * (1.0 - np.abs(v))
    b = 255.0 * (1.0 - np.clip(v, 0, 1))
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def image_rgb(image: Any) -> np.ndarray:
    """Return an input image as ``(H, W, 3)`` uint8 (HWC, CHW or grayscale; floats rescaled)."""
    a = np.asarray(image)
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        a = a.reshape(side, side)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.moveaxis(a, 0, 2)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype != np.uint8:
        f = a.astype(np.float64)
        lo, hi = float(np.nanmin(f)), float(np.nanmax(f))
        a = ((f - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(f)).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return a[:, :, :3]


def map_panel(values: np.ndarray, image: Any = None, *, scale: int = 3) -> np.ndarray:
    """Draw the attribution map (the image to its left, when given), enlarged ``scale`` times."""
    heat = heat_rgb(attribution_map(values))
    parts = [heat]
    if image is not None:
        img = image_rgb(image)
        if img.shape[:2] == heat.shape[:2]:
            gap = np.full((heat.shape[0], 2, 3), 255, dtype=np.uint8)
            parts = [img, gap, heat]
    panel = np.concatenate(parts, axis=1)
    return np.repeat(np.repeat(panel, scale, axis=0), scale, axis=1)


def save_maps(
    explanation: Explanation,
    folder: str | os.PathLike[str],
    *,
    images: Any = None,
    rows: Sequence[int] | None = None,
    prefix: str = "attribution",
    scale: int = 3,
    overwrite: bool = False,
) -> list[Path]:
    """Write image attribution maps as PNG files, one per row.

    Parameters
    ----------
    explanation : Explanation
        An explanation of an image model (values of shape (n, C, H, W), (n, H, W) or
        (n, H*W)).
    folder : str or path-like
        Where to write; created when missing.
    images : array-like, default=None
        The input images, drawn to the left of each map.
    rows : sequence of int, default=None
        Which rows to write (default: all).
    prefix : str, default="attribution"
        File names are ``{prefix}_{row}.png``.
    scale : int, default=3
        Enlargement factor (nearest neighbour).
    overwrite : bool, default=False
        Replace existing files; otherwise an existing file raises :class:`OutputError`.

    Returns
    -------
    list of Path
    """
    from ._core.io import atomic_write_bytes

    scale = check_int(scale, param="scale", func="save_maps", low=1, high=64)
    n = len(explanation)
    chosen = list(range(n)) if rows is None else [int(r) for r in rows]
    for r in chosen:
        if not 0 <= r < n:
            raise ParameterError(f"Row {r} is not in the explanation (it has {n} rows).")
    out = []
    folder = Path(folder)
    paths = [folder / f"{prefix}_{r}.png" for r in chosen]
    if not overwrite:
        for p in paths:
            if p.exists():
                raise OutputError(f"{p} exists; pass overwrite=True to replace it.")
    for r, p in zip(chosen, paths):
        img = None if images is None else np.asarray(images[r])
        png = encode_png(map_panel(explanation.values[r], img, scale=scale))
        out.append(atomic_write_bytes(p, png))
    return out
