"""``auditkit.mitigate``: post-process a model with group-specific thresholds.

The thresholds are those Fairlearn's ``ThresholdOptimizer`` searches (the most accurate
group-specific thresholds over the model's scores under a parity constraint with a
tolerance), found by the exact, deterministic search of
:func:`auditkit.sections._tradeoff.fit_group_thresholds`; the result is a
:class:`~auditkit.models.mitigated.GroupThresholdModel`, which :func:`auditkit.audit` audits
like any model and which saves without pickling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import ParameterError
from .models.mitigated import _SEP, GroupThresholdModel, _jsonable
from .sections._tradeoff import CONSTRAINTS, DISPARITY, MAX_THRESHOLDS, OBJECTIVES

__all__ = ["mitigate"]


def mitigate(
    model: Any,
    X: Any,
    y: Any,
    *,
    sensitive_features: str | Sequence[str],
    constraint: str = "demographic_parity",
    objective: str = "accuracy_score",
    tolerance: float | None = 0.01,
    pos_label: Any = None,
    sample_weight: Any = None,
    drop_sensitive: bool = False,
    random_state: int | None = 0,
    max_thresholds: int = MAX_THRESHOLDS,
) -> GroupThresholdModel:
    """Return the model post-processed with group-specific decision thresholds.

    For each group (the combination of the values of the sensitive columns) a threshold on
    the model's probability of the positive class is chosen so that ``objective`` is as high
    as it can be on ``(X, y)`` while the rate the constraint equalises differs between
    groups by at most ``tolerance`` (Fairlearn's ``ThresholdOptimizer`` with ``tol``; here
    for equalized odds too). Pass data the model was not trained on (a validation set), and
    audit the result on other data still.

    Parameters
    ----------
    model : model object or path
        A binary classifier with scores: anything :func:`auditkit.audit` takes, or the path of
        a model file (then the saved model refers to that file by path and sha256).
    X : DataFrame
        Inputs, with the sensitive column(s).
    y : array-like of shape (n_samples,)
        True labels (values of the model's classes).
    sensitive_features : str or sequence of str
        Column(s) of ``X`` that define the groups. The mitigated model reads them from the X
        it is given when it predicts, so they must be columns of X (not separate arrays).
    constraint : {"demographic_parity", "equalized_odds"}, default="demographic_parity"
        Equal selection rates, or equal true and false positive rates (within ``tolerance``).
    objective : {"accuracy_score", "balanced_accuracy_score"}, default="accuracy_score"
    tolerance : float or None, default=0.01
        The largest gap allowed between two groups' rates on ``(X, y)``, in ``[0, 1]``.
        Deterministic thresholds meet parity within a tolerance rather than exactly (0 often
        leaves only "everyone" or "no one"). None: no constraint (each group's most accurate
        threshold).
    pos_label : label, default=None
        The positive class (default: the second of the model's classes, as Fairlearn).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights of the objective and the rates.
    drop_sensitive : bool, default=False
        Whether the base model is fed X without the sensitive columns (when it was trained
        without them).
    random_state : int or None, default=0
        Accepted for symmetry with :func:`auditkit.audit`; the search is exact and has no
        randomness, so the result does not depend on it.
    max_thresholds : int, default=10001
        Thresholds tried per group (the distinct scores, or that many spread over their ranks).

    Returns
    -------
    GroupThresholdModel
        A model adapter: ``audit(mitigated, X, y, sensitive_features=...)`` audits it;
        ``mitigated.save("model.json")`` writes it (JSON, plus a skops file for a scikit-learn
        base model); :func:`auditkit.load_model` reads it back.

    Raises
    ------
    ParameterError
        For an unknown constraint or objective, a tolerance outside ``[0, 1]``, sensitive
        features that are not columns of X, labels that are not the model's classes, or a
        model that is not a binary classifier with scores.
    """
    from .adapters.wrapping import wrap
    from .models.files import is_model_path, open_model

    _check_choices(constraint, objective, tolerance)
    cols = _columns(sensitive_features, X)
    source = Path(os.fsdecode(model)) if is_model_path(model) else None
    adapter = wrap(open_model(model))
    if isinstance(adapter, GroupThresholdModel):
        raise ParameterError(
            "The 'model' of mitigate is already a group-threshold model; mitigate its base "
            "model (model.base) instead."
        )
    if adapter.task != "classification" or not adapter.has_scores:
        raise ParameterError(
            f"mitigate needs a binary classifier with scores; model {adapter.name!r} "
            + ("predicts numbers." if adapter.task != "classification" else "has no scores.")
        )
    base_X = X.drop(columns=cols) if drop_sensitive else X
    proba = adapter.predict_proba(base_X)
    if proba.shape[1] != 2:
        raise ParameterError(
            f"mitigate needs a binary classifier; model {adapter.name!r} gives "
            f"{proba.shape[1]} classes."
        )
    classes = adapter.classes_ if adapter.classes_ is not None else np.array([0, 1])
    pos = _pos_index(classes, pos_label)
    y01 = _labels(y, classes, pos, len(proba))
    w = _weights(sample_weight, len(proba))
    probe = GroupThresholdModel(adapter, {}, cols, pos)
    keys = probe.groups_of(X).astype(str)
    names, codes = np.unique(keys, return_inverse=True)
    from .sections._tradeoff import fit_group_thresholds

    fit = fit_group_thresholds(
        y01, proba[:, pos], np.asarray(codes).ravel(), w, n_groups=len(names),
        constraint=constraint, objective=objective, tolerance=tolerance,
        max_thresholds=max_thresholds,
    )  # fmt: skip
    thresholds = {tuple(str(n).split(_SEP)): float(t) for n, t in zip(names, fit.thresholds)}
    info = {
        "method": "group-specific thresholds (Fairlearn ThresholdOptimizer's objective and "
        "tol semantics), exact deterministic search",
        "constraint": constraint,
        "objective": objective,
        "tolerance": tolerance,
        "n_rows": len(proba),
        "weighted": w is not None,
        "fit_objective": fit.fit_objective,
        f"fit_{DISPARITY[constraint]}": fit.fit_disparity,
    }
    return GroupThresholdModel(
        adapter, thresholds, cols, pos, drop_sensitive=drop_sensitive, info=info,
        base_source=source,
    )  # fmt: skip


def _check_choices(constraint: Any, objective: Any, tolerance: Any) -> None:
    if constraint not in CONSTRAINTS:
        raise ParameterError(
            f"The 'constraint' parameter of mitigate must be one of {', '.join(CONSTRAINTS)}; "
            f"got {constraint!r}."
        )
    if objective not in OBJECTIVES:
        raise ParameterError(
            f"The 'objective' parameter of mitigate must be one of {', '.join(OBJECTIVES)}; "
            f"got {objective!r}."
        )
    if tolerance is not None and (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, (int, float, np.floating, np.integer))
        or not 0 <= float(tolerance) <= 1
    ):
        raise ParameterError(
            f"The 'tolerance' parameter of mitigate must be a number in [0, 1] or None; got "
            f"{tolerance!r}."
        )


def _columns(sensitive_features: Any, X: Any) -> list[str]:
    names = [sensitive_features] if isinstance(sensitive_features, str) else sensitive_features
    ok = isinstance(names, (list, tuple)) and names and all(isinstance(c, str) for c in names)
    if not ok:
        raise ParameterError(
            "The 'sensitive_features' parameter of mitigate must name column(s) of X: the "
            "mitigated model reads each row's group from X when it predicts. Add the values "
            "to X as a column and pass its name (drop_sensitive=True keeps it from the base "
            f"model); got {type(sensitive_features).__name__}."
        )
    cols = list(getattr(X, "columns", []))
    missing = [c for c in names if c not in cols]
    if missing:
        raise ParameterError(
            f"The 'sensitive_features' parameter of mitigate names {missing[0]!r}, which is not "
            "a column of X" + (" (X has no named columns)" if not cols else "") + "."
        )
    return [str(c) for c in names]


def _pos_index(classes: np.ndarray, pos_label: Any) -> int:
    if pos_label is None:
        return 1
    values = list(np.asarray(classes).tolist())
    for i, c in enumerate(values):
        if c == pos_label or str(c) == str(pos_label):
            return i
    raise ParameterError(
        f"The 'pos_label' parameter of mitigate is {pos_label!r}, which is not one of the "
        f"model's classes {values}."
    )


def _labels(y: Any, classes: np.ndarray, pos: int, n: int) -> np.ndarray:
    yy = np.asarray(y)
    if yy.ndim != 1 or len(yy) != n:
        raise ParameterError(
            f"The 'y' parameter of mitigate must have {n} labels (one per row of X); got "
            f"shape {yy.shape}."
        )
    values = np.asarray(classes).tolist()
    text = [str(c) for c in values]
    ys = yy.astype(str)
    bad = ~np.isin(ys, text)
    if bad.any():
        raise ParameterError(
            f"The 'y' parameter of mitigate holds {_jsonable(yy[np.flatnonzero(bad)[0]])!r}, "
            f"which is not one of the model's classes {values}."
        )
    y01 = (ys == text[pos]).astype(np.int64)
    if len(np.unique(y01)) < 2:
        raise ParameterError(
            "The 'y' parameter of mitigate holds a single class; both are needed."
        )
    return y01


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ParameterError(
            f"The 'sample_weight' parameter of mitigate must be {n} finite, non-negative "
            "numbers that do not all equal 0."
        )
    return w
