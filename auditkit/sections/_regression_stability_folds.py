"""Cross-validation fold models of a regression, computed once per audit (``ctx.cache``).

As :mod:`auditkit.sections._folds` for a classifier, with a regression's targets: a model that
can be retrained (``ctx.model.can_refit``: a scikit-learn regressor, the ``adult-hours``
checkpoint) is retrained on ``k`` folds of the training data (``KFold(k, shuffle=True,
random_state=seed)``: a number cannot be stratified on; the evaluation data when no training
data was given) and predicts its held-out fold; a model that cannot be retrained is
re-evaluated on ``k`` bootstrap resamples of the evaluation data instead. The stability section
reports the spread across folds; the privacy section uses the fold models as the "out"
reference models of its reference attack. Both call :func:`get_regression_folds`; the
options (``cv``, ``fold_threads``) are the classifier's
(:class:`~auditkit.sections._folds.FoldOptions`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._core.progress import progress
from .._core.rows import take_rows
from ..adapters.base import ModelAdapter
from ..exceptions import DataValidationError
from ..inputs.context import AuditContext, RegressionPredictions
from ._folds import FoldOptions, Mode, Source, _fold_threads, _torch_threads, refit_error

__all__ = ["RegressionFolds", "get_regression_folds", "regression_rows"]


def regression_rows(ctx: AuditContext) -> RegressionPredictions | None:
    """Return ``ctx.regression`` with the target's name and unit, where the data declare them.

    A regression's predictions carry the target's name and unit when the caller gave them; a
    reference checkpoint's schema declares both (``hours-per-week``, ``hours``), so the words
    of findings fall back to it.
    """
    r = ctx.regression
    schema = ctx.schema if ctx.schema is not None else getattr(ctx.model, "schema", None)
    if r is None or schema is None or not getattr(schema, "is_regression", False):
        return r
    if r.unit is not None and r.target is not None:
        return r
    return replace(r, target=r.target or schema.target, unit=r.unit or schema.unit)


@dataclass(frozen=True)
class RegressionFolds:
    """Fold models of a regression and their held-out predicted values (or resamples).

    Attributes
    ----------
    mode : {"refit", "bootstrap"}
    source : {"train", "eval"}
    k, seed : int
    splitter : str
        ``"KFold"`` or ``"bootstrap"``.
    y : ndarray of float64
        The true values of the source rows.
    test_index : tuple of ndarray
        Per fold, the held-out rows (refit) or the resampled rows (bootstrap).
    pred : tuple of ndarray
        Per fold, the predicted value of each ``test_index`` row.
    models : tuple of ModelAdapter
        The fold models (refit mode); empty for bootstrap.
    notes : tuple of str
        Plain-language notes on how the folds were made.
    """

    mode: Mode
    source: Source
    k: int
    seed: int
    splitter: str
    y: np.ndarray
    test_index: tuple[np.ndarray, ...]
    pred: tuple[np.ndarray, ...]
    models: tuple[ModelAdapter, ...]
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Number of source rows."""
        return len(self.y)

    def fold_of(self) -> np.ndarray:
        """Return, for each source row, the fold that holds it out (refit mode only)."""
        if self.mode != "refit":
            raise ValueError("Bootstrap resamples do not partition the rows.")
        out = np.full(self.n, -1, dtype=np.int64)
        for i, idx in enumerate(self.test_index):
            out[idx] = i
        return out

    def held_out_values(self) -> np.ndarray:
        """Return every source row's value predicted by the fold model that did not train on it."""
        if self.mode != "refit":
            raise ValueError("Bootstrap resamples have no held-out predictions.")
        out = np.zeros(self.n)
        for idx, p in zip(self.test_index, self.pred):
            out[idx] = p
        return out

    def models_values(self, X: Any) -> np.ndarray:
        """Return every fold model's predicted values on rows ``X``: shape (k, n_rows)."""
        if self.mode != "refit":
            raise ValueError("Bootstrap folds have no fold models.")
        return np.stack([m.predict_values(X) for m in self.models])


def get_regression_folds(ctx: AuditContext) -> RegressionFolds:
    """Return the audit's :class:`RegressionFolds`, computing them on first use (cached).

    Raises
    ------
    DataValidationError
        When there are fewer rows than folds or retraining fails (the message names the fold,
        and the columns of text the model cannot take, where they are to blame). The error is
        cached too: a second caller gets it without retraining again.
    """
    k = ctx.options_for(FoldOptions).cv
    key = f"regression_folds:cv={k}"
    cached = ctx.cache.get(key)
    if isinstance(cached, DataValidationError):
        raise cached
    if cached is not None:
        out: RegressionFolds = cached
        return out
    model = ctx.model
    try:
        folds = (
            _refit(ctx, model, k) if model is not None and model.can_refit else _bootstrap(ctx, k)
        )
    except DataValidationError as exc:
        ctx.cache[key] = exc
        raise
    ctx.cache[key] = folds
    return folds


def _refit(ctx: AuditContext, model: ModelAdapter, k: int) -> RegressionFolds:
    from sklearn.model_selection import KFold

    seed = ctx.config.random_state
    notes: list[str] = []
    source: Source
    if ctx.train is not None:
        X, y, source = ctx.train.X, ctx.train.y, "train"
    else:
        assert ctx.regression is not None
        X, y, source = ctx.X, ctx.regression.y_true, "eval"
        notes.append(
            "No training data was given, so the folds were drawn from the evaluation data."
        )
    if X is None:
        raise DataValidationError("Retraining on folds needs the model's input data X.")
    y = np.asarray(y, dtype=np.float64)
    if len(y) < k:
        raise DataValidationError(
            f"Cross-validation with cv={k} folds needs at least {k} rows; the data has {len(y)}."
        )
    splits = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y))))
    test_index: list[np.ndarray] = []
    preds: list[np.ndarray] = []
    models: list[ModelAdapter] = []
    with _torch_threads(_fold_threads(ctx, model)):
        for i, (tr, te) in enumerate(
            progress(
                splits, enabled=ctx.config.show_progress, desc=f"retraining {k} folds", total=k
            )
        ):
            try:
                fm = model.refit(take_rows(X, tr), y[tr], random_state=seed)
            except Exception as exc:  # noqa: BLE001 - the user's estimator on the user's data
                raise DataValidationError(refit_error(model, X, i, exc)) from exc
            test_index.append(np.asarray(te, dtype=np.int64))
            preds.append(fm.predict_values(take_rows(X, te)))
            models.append(fm)
    return RegressionFolds(
        mode="refit", source=source, k=k, seed=seed, splitter="KFold", y=y,
        test_index=tuple(test_index), pred=tuple(preds), models=tuple(models),
        notes=tuple(notes),
    )  # fmt: skip


def _bootstrap(ctx: AuditContext, k: int) -> RegressionFolds:
    r = ctx.regression
    if r is None or len(r) == 0:
        raise DataValidationError("Bootstrap re-evaluation needs at least one evaluation row.")
    n = len(r)
    rng = ctx.rng("stability-bootstrap")
    kind = ctx.model.kind if ctx.model is not None else "prediction log"
    what = {"callable": "a callable", "torch": "a bare torch module"}.get(kind, f"a {kind}")
    notes = (
        f"The model ({what}) cannot be retrained, so it was re-evaluated on {k} bootstrap "
        "resamples of the evaluation data instead: this shows how much the figures move with "
        "the sample, not how much they move when the model is retrained.",
    )
    idx = tuple(np.asarray(rng.integers(0, n, size=n), dtype=np.int64) for _ in range(k))
    y_pred = np.asarray(r.y_pred, dtype=np.float64)
    return RegressionFolds(
        mode="bootstrap", source="eval", k=k, seed=ctx.config.random_state,
        splitter="bootstrap", y=np.asarray(r.y_true, dtype=np.float64), test_index=idx,
        pred=tuple(y_pred[i] for i in idx), models=(), notes=notes,
    )  # fmt: skip
