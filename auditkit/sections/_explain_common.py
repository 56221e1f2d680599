"""Shared pieces of the explainability section: the attributions it works from, small helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..explanation import METHODS
from ..inputs.context import AuditContext
from ..inputs.options import SectionOptions, option, register

SECTION = "explainability"

#: Default rows attributed, per modality (a random sample beyond that; the intervals say how
#: precise the global figures are). Proxies and counterfactual flips use every row. All of
#: Adult's test split (16,281 rows) fits the tabular default.
MAX_ROWS = {"tabular": 20_000, "image": 48, "text": 24}
#: Default integration steps per modality (image and text models are costly per step).
N_STEPS = {"tabular": 50, "image": 16, "text": 16}


@register
@dataclass(frozen=True)
class ExplainOptions(SectionOptions):
    """The explainability section's options (``audit(..., options={...})``)."""

    owner = SECTION

    explain_method: str | None = option(
        None,
        kind="str",
        choices=METHODS,
        nullable=True,
        doc="The attribution method (None: integrated gradients for torch models, feature "
        "ablation for others).",
    )
    explain_max_rows: int | None = option(
        None,
        kind="int",
        low=1,
        nullable=True,
        doc="Rows attributed for the global figures, a random sample beyond (None: 20,000 for "
        "tables, 48 images, 24 texts).",
    )
    explain_n_steps: int | None = option(
        None,
        kind="int",
        low=1,
        nullable=True,
        doc="Integration steps of integrated gradients (None: 50 for tables, 16 for images "
        "and texts).",
    )
    explain_rows: Any = option(
        None,
        kind="any",
        doc="A row number, or a list of row numbers, of the evaluation data to explain one by "
        "one.",
    )
    explain_n_errors: int = option(
        5, low=0, doc="How many of the most confident errors are explained one by one."
    )
    explain_per_class: int = option(
        2, low=0, doc="Images or texts shown per class with their attributions."
    )
    explain_memory_mb: float | None = option(
        None,
        kind="float",
        low=1.0,
        nullable=True,
        doc="Memory budget in MB of one batch of attributions (None: the checkpoint's scoring "
        "budget, else 256).",
    )
    explain_devices: int | None = option(
        None,
        kind="int",
        low=1,
        nullable=True,
        doc="Processes (devices) the attributions run on (None: a checkpoint's scoring devices).",
    )
    explain_proxy_auc: float = option(
        0.7,
        low=0.0,
        high=1.0,
        doc="The single-feature AUC from which a feature that predicts a sensitive attribute "
        "may be a proxy.",
    )
    explain_proxy_share: float = option(
        0.05,
        low=0.0,
        high=1.0,
        doc="The share of the attribution from which a feature that predicts a sensitive "
        "attribute may be a proxy.",
    )
    explain_profile_threshold: float = option(
        0.1,
        low=0.0,
        high=1.0,
        doc="The gap in a feature's share of the attribution between two groups that gives a "
        "warning.",
    )
    explain_flip_threshold: float = option(
        0.01,
        low=0.0,
        high=1.0,
        doc="The share of predictions changed by a sensitive attribute alone that gives a "
        "warning.",
    )
    explain_sanity_threshold: float = option(
        0.5,
        low=-1.0,
        high=1.0,
        doc="The rank correlation with the top layer re-initialised from which the "
        "explanations get a warning.",
    )
    explain_sanity_rows: int | None = option(
        None,
        kind="int",
        low=1,
        nullable=True,
        doc="Rows the randomisation check re-attributes (None: 256 for tables, 6 images or "
        "texts).",
    )


@dataclass
class _Run:
    """The attributions the section works from."""

    modality: str
    rows: np.ndarray  # positions in ctx.X of the attributed rows
    main: np.ndarray  # indices into ``rows`` of the random sample used for global figures
    values: np.ndarray
    feature_names: list[str]
    delta: np.ndarray | None
    target: np.ndarray
    method: str
    tokens: list[list[str]] | None
    info: dict[str, Any]


# ------------------------------------------------------------------------------- plumbing
def _is_frame(X: Any) -> bool:
    import sys

    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def _pos(run: _Run, row: int) -> int:
    return int(np.searchsorted(run.rows, row))


def _class_name(ctx: AuditContext, k: int) -> str:
    classes = ctx.predictions.classes
    return str(classes[k]) if 0 <= k < len(classes) else str(k)


def _ci(lo: float, hi: float) -> tuple[float, float] | None:
    return None if not (math.isfinite(lo) and math.isfinite(hi)) else (float(lo), float(hi))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _token_values(run: _Run, i: int) -> np.ndarray:
    """Attributions of row ``i`` aligned with ``run.tokens[i]`` (padding dropped)."""
    assert run.tokens is not None
    toks = run.tokens[i]
    v = run.values[i].reshape(-1)
    return v[: len(toks)]


def _modality(ctx: AuditContext) -> str:
    if ctx.schema is not None and ctx.schema.modality in ("tabular", "image", "text"):
        return str(ctx.schema.modality)
    X = ctx.X
    if _is_frame(X):
        return "tabular"
    arr = np.asarray(X) if not hasattr(X, "detach") else X
    if getattr(arr, "dtype", None) is not None and arr.dtype == object:
        return "text"
    return "image" if getattr(arr, "ndim", 2) >= 3 else "tabular"


#: The largest finite float32: torch models are attributed on float32 tensors.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _beyond_float32(X: Any) -> str | None:
    """Return why the inputs cannot be attributed when a float feature exceeds float32's range.

    Torch models are attributed on float32 tensors; a finite value beyond about 3.4e38 would become
    infinite there and the model would be asked about inputs it was never given. The reason
    names the columns (the feature indices of an array) and their largest magnitude.
    """
    if hasattr(X, "detach"):
        return None  # a torch tensor is float32 (or integer) already
    if _is_frame(X):
        cols = [(str(c), X.iloc[:, j]) for j, c in enumerate(X.columns)]
        cols = [(c, v.to_numpy()) for c, v in cols if getattr(v.dtype, "kind", "O") == "f"]
    else:
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError):
            return None
        if arr.dtype.kind != "f" or arr.ndim == 0:
            return None
        if arr.ndim == 2:
            cols = [(f"feature {j}", arr[:, j]) for j in range(arr.shape[1])]
        else:
            cols = [("the input array", arr)]
    big: list[tuple[str, float]] = []
    for name, v in cols:
        with np.errstate(invalid="ignore"):
            a = np.abs(np.asarray(v, dtype=np.float64))
        finite = a[np.isfinite(a)]
        if finite.size and float(finite.max()) > _FLOAT32_MAX:
            big.append((name, float(finite.max())))
    if not big:
        return None
    shown = ", ".join(
        (f"'{n}'" if not n.startswith(("feature ", "the ")) else n) + f" (up to {m:.3g})"
        for n, m in big[:5]
    )
    more = f" and {len(big) - 5} more" if len(big) > 5 else ""
    return (
        "values outside the float32 range that attributions are computed in (about 3.4e38 "
        f"in magnitude): {shown}{more}; rescale these features (other units) to explain the "
        "model"
    )
