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
