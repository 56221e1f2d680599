"""Build the context of an audit without running its sections (for regression tests).

``model_context`` and ``log_context`` run ``prepare_model`` / ``prepare_log`` exactly as
``auditkit.audit`` / ``audit_predictions`` do (the settings checked first, every section's
options registered) and return the :class:`~auditkit.inputs.prepare.Prepared` inputs: its
``context`` (``ctx.task``, ``ctx.regression``...), ``data_info`` and ``model_info``.
"""

from __future__ import annotations

from typing import Any

from auditkit._api import _settings
from auditkit.inputs.log import prepare_log
from auditkit.inputs.model_inputs import prepare_model
from auditkit.inputs.prepare import Prepared


def _config(func: str, task: str = "auto", options: dict[str, Any] | None = None) -> Any:
    return _settings(
        func, 2, sections=None, n_boot=0, ci_level=0.95, random_state=0, min_group_size=30,
        show_progress=False, strict=False, options=options, custom_metrics=None,
        provenance=None, max_groups=1000, max_classes=100, task=task,
    )  # fmt: skip


def model_context(
    model: Any, X: Any, y: Any, *, task: str = "auto", options: dict[str, Any] | None = None,
    **kw: Any,
) -> Prepared:  # fmt: skip
    """Run ``prepare_model`` as ``audit`` does and return what it prepared."""
    params: dict[str, Any] = {
        "train": None, "sensitive_features": None, "pos_label": None, "label_names": None,
        "favourable": None, "reference_groups": None, "sample_weight": None,
    }  # fmt: skip
    params.update(kw)
    prepared = prepare_model(_config("audit", task, options), model, X, y, task=task, **params)
    prepared.release()
    return prepared


def log_context(
    y_true: Any, y_pred: Any, *, task: str = "auto", options: dict[str, Any] | None = None,
    **kw: Any,
) -> Prepared:  # fmt: skip
    """Run ``prepare_log`` as ``audit_predictions`` does and return what it prepared."""
    params: dict[str, Any] = {
        "y_score": None, "sensitive_features": None, "data": None, "reduce": None,
        "memory_limit": None, "pos_label": None, "label_names": None, "favourable": None,
        "reference_groups": None, "sample_weight": None, "label_map": None,
    }  # fmt: skip
    params.update(kw)
    prepared = prepare_log(
        _config("audit_predictions", task, options), y_true, y_pred, task=task, **params
    )
    prepared.release()
    return prepared
