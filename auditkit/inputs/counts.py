"""The count-table path: a log reduced inside its own engine, decoded for the sections.

A log in files, a Polars, PyArrow, DuckDB or Spark frame is reduced to a small table of counts
and score sums by :func:`auditkit.scale.reduce_predictions` (or given as a ``CountTable``
reduced earlier). Its labels and groups are then encoded the same way as a log's rows.

A regression log is reduced by :func:`auditkit.scale.reduce_regression` to the regression
engine's tables (a ``RegressionCountTable``); :func:`regression_counts` turns it into the
context's :class:`~auditkit.inputs.context.RegressionCounts`, its groups written as strings the
way a log's rows are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.limits import DEFAULT_MAX_GROUPS
from ..exceptions import DataValidationError, ParameterError
from .context import AuditConfig, Counts, RegressionCounts
from .fingerprint import counts_fingerprint
from .groups import sensitive_frame
from .labels import LogLabels, encode_labels, log_labels, outcome_semantics
from .prepare import Outcome, Prepared, assemble

__all__ = ["prepare_counts", "regression_counts"]

FUNC = "audit_predictions"
#: The per-class log-loss sums of a reduction, decoded into per-cell sums.
_NLL = ("nll_pos", "nll_neg", "nll_pos_sq", "nll_neg_sq", "weight_nll_pos", "weight_nll_neg",
        "weight_nll_pos_sq", "weight_nll_neg_sq")  # fmt: skip


def prepare_counts(
    config: AuditConfig, data: Any, *, y_true: Any, y_pred: Any, y_score: Any,
    sensitive_features: Any, memory_limit: str | None, pos_label: Any, label_names: Any,
    favourable: Any, reference_groups: Any, sample_weight: Any, label_map: Any,
) -> Prepared:  # fmt: skip
    """Reduce ``data`` to count tables (unless it is one) and build the audit's context."""
    table = _table(
        config, data, y_true=y_true, y_pred=y_pred, y_score=y_score,
        sensitive_features=sensitive_features, memory_limit=memory_limit,
        sample_weight=sample_weight,
    )  # fmt: skip
    g = table.groups
    labels = log_labels(
        np.asarray(g["y_true"]), np.asarray(g["y_pred"]), pos_label=pos_label,
        label_names=label_names, label_map=label_map, max_classes=config.max_classes,
        func=FUNC,
    )  # fmt: skip
    names = labels.classes
    pos, fav, words = outcome_semantics(
        labels.values, names, pos_label=pos_label, label_names=label_names,
        favourable=favourable, func=FUNC,
    )  # fmt: skip
    if table.has_scores and len(names) != 2:
        raise DataValidationError(
            "A 1-d y_score holds the positive-class probability, which needs a binary "
            f"task; the labels have {len(names)} classes."
        )
    # the cells' group values: strings, ceilings, long labels, as on the row path
    cells = sensitive_frame(
        {f: np.asarray(g[f]) for f in table.features}, None, len(np.asarray(g["count"])),
        max_groups=config.max_groups, func=FUNC,
    )  # fmt: skip
    assert cells is not None
    counts = _decode(table, labels, cells, pos)
    scores = counts.scores
    data_info = {
        "name": str(config.provenance.get("data_name", table.source)),
        "sha256": counts_fingerprint(counts),
        "fingerprint_of": "the count table (cells and counts), not the file bytes",
        "modality": "predictions",
        "engine": counts.engine,
        "reduction": {
            "engine": counts.engine,
            "source": counts.source,
            "group_cells": int(len(counts.groups["count"])),
            "score_cells": None if scores is None else int(len(scores["count"])),
            "calibration_bins": counts.n_bins,
            "auc_bins": counts.auc_bins if scores is not None else None,
        },
    }
    empty = np.zeros(0, dtype=np.int64)
    return assemble(
        config, Outcome(empty, names, pos, fav, words), func=FUNC, y_pred=empty, y_proba=None,
        has_scores=table.has_scores, groups=cells, reference_groups=reference_groups,
        data_info=data_info, counts=counts,
        weight_source=f"column {sample_weight!r}" if sample_weight is not None else None,
    )  # fmt: skip


def _table(
    config: AuditConfig, data: Any, *, y_true: Any, y_pred: Any, y_score: Any,
    sensitive_features: Any, memory_limit: str | None, sample_weight: Any,
) -> Any:  # fmt: skip
    """Return the ``CountTable`` of ``data``, reduced here unless it is one already."""
    from ..scale._reduce import column_names, reduce_predictions
    from ..scale._table import AUC_BINS, CountTable

    if config.options.get("custom_metrics"):
        raise ParameterError(
            "custom_metrics are computed from the rows, which a reduced log does not keep; pass "
            "reduce=False to audit an in-memory frame row by row."
        )
    log_loss = bool(config.options.get("log_loss", False))
    if sample_weight is not None and (
        isinstance(data, CountTable) or not isinstance(sample_weight, str)
    ):
        raise ParameterError(
            "sample_weight of audit_predictions must name a column of data when the log is "
            "reduced to count tables"
            + (
                " (a CountTable is already reduced: pass sample_weight to reduce_predictions)."
                if isinstance(data, CountTable)
                else f"; got {type(sample_weight).__name__} (or pass reduce=False)."
            )
        )
    if isinstance(data, CountTable):
        if log_loss and data.scores is not None and not data.has_log_loss:
            raise ParameterError(
                "options={'log_loss': True} asks for the log loss, but this CountTable was "
                "reduced without its sums; reduce the log again with "
                "reduce_predictions(..., log_loss=True)."
            )
        return data
    yt, yp, ys, feats = column_names(y_true, y_pred, y_score, sensitive_features, func=FUNC)
    performance = "performance" in config.sections
    return reduce_predictions(
        data, y_true=yt, y_pred=yp, y_score=ys, sensitive_features=list(feats),
        score_cells=performance, log_loss=log_loss and performance,
        auc_bins=int(config.options.get("auc_bins", AUC_BINS)), memory_limit=memory_limit,
        show_progress=config.show_progress, sample_weight=sample_weight,
        max_groups=config.max_groups,
    )  # fmt: skip


def _decode(table: Any, labels: LogLabels, cells: Any, pos: int | None) -> Counts:
    """Decode a reduction's count tables: labels as class indices, groups as strings."""
    g = table.groups
    codes_t = labels.y_true
    groups: dict[str, np.ndarray] = {
        f: cells.frame[f].to_numpy(dtype=object) for f in table.features
    }
    groups["y_true"], groups["y_pred"] = codes_t, labels.y_pred
    skip = {*table.features, "y_true", "y_pred", *_NLL}
    for key in g:  # counts, score sums, and the weight sums of a weighted reduction
        if key not in skip:
            groups[key] = np.asarray(g[key])
    if table.has_log_loss and pos is not None:
        # each cell's label decides which of the two sums is its -log p[y]
        is_pos = codes_t == pos
        groups["log_loss_sum"] = np.where(is_pos, g["nll_pos"], g["nll_neg"])
        groups["log_loss_sq_sum"] = np.where(is_pos, g["nll_pos_sq"], g["nll_neg_sq"])
        if "weight_nll_pos" in g:  # the weighted sums of a weighted reduction
            groups["weight_log_loss_sum"] = np.where(
                is_pos, g["weight_nll_pos"], g["weight_nll_neg"]
            )
            groups["weight_log_loss_sq_sum"] = np.where(
                is_pos, g["weight_nll_pos_sq"], g["weight_nll_neg_sq"]
            )
    scores = None
    if table.scores is not None:
        sc = table.scores
        st, _, _ = encode_labels(np.asarray(sc["y_true"]), labels.values, name="y_true")
        scores = {
            "y_true": st, "fine_bin": sc["fine_bin"], "count": sc["count"],
            "score_min": sc["score_min"], "score_max": sc["score_max"],
        }  # fmt: skip
        scores.update({k: sc[k] for k in ("weight_sum", "weight_sq_sum") if k in sc})
    return Counts(
        features=table.features, groups=groups, scores=scores, n_bins=table.n_bins,
        auc_bins=table.auc_bins, engine=table.engine, source=table.source,
    )  # fmt: skip


def regression_counts(
    table: Any, *, max_groups: int = DEFAULT_MAX_GROUPS, func: str = FUNC
) -> RegressionCounts:
    """Turn a reduced regression log into the context's :class:`RegressionCounts`.

    Parameters
    ----------
    table : RegressionCountTable
        From :func:`auditkit.scale.reduce_regression` (now, or reduced earlier and passed
        as ``data=``).
    max_groups : int, default=DEFAULT_MAX_GROUPS
        Ceiling on the distinct values of each sensitive column (as for rows).
    func : str, default="audit_predictions"
        The entry point named in the messages.

    Returns
    -------
    RegressionCounts
        The same sums and histogram tables (the contract of
        :mod:`auditkit.metrics.regression`), with each sensitive column's values as the
        strings the row path gives them (:func:`auditkit.inputs.groups.sensitive_frame`: the
        same text for the same value in both tables; long labels shortened).

    Raises
    ------
    ParameterError
        ``table`` is not a ``RegressionCountTable``.
    DataValidationError
        A sensitive column over the ceiling, or two values with the same text.
    """
    from ..scale._regression import RegressionCountTable

    if not isinstance(table, RegressionCountTable):
        raise ParameterError(
            "regression_counts needs a RegressionCountTable (from "
            f"auditkit.scale.reduce_regression); got {type(table).__name__!r}."
        )
    sums = {k: np.asarray(v) for k, v in table.sums.items()}
    hist = {k: np.asarray(v) for k, v in table.histogram.items()}
    n_s, n_h = len(sums["count"]), len(hist["count"])
    # one pass over the values of both tables: the same value gets the same text in each
    both = {f: np.concatenate([_objects(sums[f]), _objects(hist[f])]) for f in table.features}
    cells = sensitive_frame(both, None, n_s + n_h, max_groups=max_groups, func=func)
    assert cells is not None
    for f in table.features:
        text = cells.frame[f].to_numpy(dtype=object)
        sums[f], hist[f] = text[:n_s], text[n_s:]
    return RegressionCounts(
        features=tuple(table.features), sums=sums, histogram=hist, engine=table.engine,
        source=table.source,
    )  # fmt: skip


def _objects(values: np.ndarray) -> np.ndarray:
    """``values`` as an object array (ints, bools and strings keep their Python values)."""
    return values if values.dtype == object else values.astype(object)
