"""The one place an audit's predictions, configuration and context are put together.

The three ways in (a model scored on rows, a log of decisions, a log reduced to count tables)
each encode their labels and resolve their groups, then call :func:`assemble`, which builds the
:class:`Predictions`, checks the reference groups, and returns the :class:`AuditContext` with
the ``model`` and ``data`` blocks of the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..adapters.base import ModelAdapter
from ..data._schema import DatasetSchema
from .context import (
    AuditConfig,
    AuditContext,
    Counts,
    Predictions,
    RegressionCounts,
    RegressionPredictions,
    TrainData,
)
from .groups import SensitiveFrame, reference_groups_of

__all__ = ["LOG_MODEL_INFO", "Outcome", "Prepared", "assemble", "assemble_regression"]

#: The ``model`` block of an audit of a log of decisions.
LOG_MODEL_INFO: dict[str, Any] = {
    "name": "none (prediction log)",
    "kind": "predictions",
    "sha256": None,
}


@dataclass(frozen=True)
class Outcome:
    """The encoded true labels and what the classes mean.

    Attributes
    ----------
    y_true : ndarray of int64
        Class indices into ``classes`` (empty when the rows were reduced to counts).
    classes : tuple of str
        The class values as strings.
    pos_label, favourable : int or None
        Class indices (see :class:`Predictions`).
    label_names : tuple of str or None
        A reader's name for each class.
    """

    y_true: np.ndarray
    classes: tuple[str, ...]
    pos_label: int | None
    favourable: int | None = None
    label_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Prepared:
    """What the sections read, and the ``model`` and ``data`` blocks of the result."""

    context: AuditContext
    model_info: dict[str, Any]
    data_info: dict[str, Any]
    #: The sensitive frame whose group codes the engine remembers for the audit.
    groups: SensitiveFrame | None = None

    def release(self) -> None:
        """Drop the group codes shared with the engine (they live for one audit)."""
        from ..metrics.engine import forget_codes

        forget_codes(None if self.groups is None else self.groups.frame)


def label_info(
    preds: Predictions, full_labels: Mapping[str, Any], reference: Mapping[str, str],
    weight_source: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Describe the outcome semantics, references and weights of an audit (data block)."""
    info: dict[str, Any] = {}
    if preds.label_names is not None:
        info["label_names"] = dict(zip(preds.classes, preds.label_names, strict=True))
    fav = preds.favourable_index
    if fav is not None:
        info["favourable_class"] = preds.classes[fav]
    info.update(group_info(full_labels, reference, weight_source))
    return info


def group_info(
    full_labels: Mapping[str, Any], reference: Mapping[str, str], weight_source: str | None
) -> dict[str, Any]:
    """Describe the references, weights and long group labels of an audit (data block)."""
    info: dict[str, Any] = {}
    if reference:
        info["reference_groups"] = dict(reference)
    if weight_source is not None:
        info["sample_weight"] = weight_source
    if full_labels:
        # long group labels are shortened everywhere in the audit; their full text, once
        info["group_labels"] = {f: dict(m) for f, m in full_labels.items()}
    return info


def assemble(
    config: AuditConfig, outcome: Outcome, *, func: str, y_pred: np.ndarray,
    y_proba: np.ndarray | None, has_scores: bool, groups: SensitiveFrame | None,
    reference_groups: Any, data_info: Mapping[str, Any], weights: np.ndarray | None = None,
    weight_source: str | None = None, model: ModelAdapter | None = None, X: Any = None,
    train: TrainData | None = None, schema: DatasetSchema | None = None,
    counts: Counts | None = None,
) -> Prepared:  # fmt: skip
    """Build the predictions, the configuration and the context of one audit.

    ``data_info`` holds what only the caller knows (the data's name, fingerprint, modality...);
    the rows, groups, task, classes and outcome semantics are added here, the same way for
    every path. ``groups`` is the sensitive frame of the rows, or of the count table's cells
    when ``counts`` is given (the context then holds no row frame).
    """
    preds = Predictions(
        y_true=outcome.y_true, y_pred=y_pred, y_proba=y_proba, classes=outcome.classes,
        pos_label=outcome.pos_label, has_scores=has_scores, sample_weight=weights,
        favourable=outcome.favourable, label_names=outcome.label_names,
    )  # fmt: skip
    reference = reference_groups_of(reference_groups, groups, func=func)
    ctx = AuditContext(
        config=dataclasses.replace(config, reference_groups=reference),
        predictions=preds,
        model=model,
        X=X,
        sensitive=groups.frame if groups is not None and counts is None else None,
        train=train,
        schema=schema,
        counts=counts,
    )
    pos = preds.pos_label
    info = {
        "n_rows": ctx.n_rows,
        "sensitive_features": list(groups.frame.columns) if groups is not None else [],
        "task": preds.task,
        "classes": list(preds.classes),
        "positive_class": preds.classes[pos] if pos is not None else None,
        **data_info,
        **label_info(
            preds, groups.full_labels if groups is not None else {}, reference, weight_source
        ),
    }
    model_info = model.describe() if model is not None else dict(LOG_MODEL_INFO)
    return Prepared(context=ctx, model_info=model_info, data_info=info, groups=groups)


#: The empty classification predictions of a regression's context (never read).
_NO_CLASSES = Predictions(
    y_true=np.zeros(0, dtype=np.int64), y_pred=np.zeros(0, dtype=np.int64), y_proba=None,
    classes=(), pos_label=None, has_scores=False,
)  # fmt: skip


def assemble_regression(
    config: AuditConfig, *, func: str, regression: RegressionPredictions | None,
    groups: SensitiveFrame | None, reference_groups: Any, data_info: Mapping[str, Any],
    weight_source: str | None = None, model: ModelAdapter | None = None, X: Any = None,
    train: TrainData | None = None, schema: DatasetSchema | None = None,
    counts: RegressionCounts | None = None, target: str | None = None,
    unit: str | None = None,
) -> Prepared:  # fmt: skip
    """Build the context of a regression (rows in ``regression``, or reduced in ``counts``).

    The ``data`` block says ``task: "regression"`` with the target's name (and unit), the
    ``model`` block ``task: "regression"``; the groups, references and weights are described
    as for a classification.
    """
    reference = reference_groups_of(reference_groups, groups, func=func)
    ctx = AuditContext(
        config=dataclasses.replace(config, reference_groups=reference),
        predictions=_NO_CLASSES,
        model=model,
        X=X,
        sensitive=groups.frame if groups is not None and counts is None else None,
        train=train,
        schema=schema,
        regression=regression,
        regression_counts=counts,
    )
    info: dict[str, Any] = {
        "n_rows": ctx.n_rows,
        "sensitive_features": list(groups.frame.columns) if groups is not None else [],
        "task": "regression",
        "target": target,
    }
    if unit is not None:
        info["unit"] = unit
    info.update(data_info)
    info.update(
        group_info(groups.full_labels if groups is not None else {}, reference, weight_source)
    )
    if model is not None:
        model_info = model.describe()
        model_info["task"] = "regression"
    else:
        model_info = {**LOG_MODEL_INFO, "task": "regression"}
    return Prepared(context=ctx, model_info=model_info, data_info=info, groups=groups)
