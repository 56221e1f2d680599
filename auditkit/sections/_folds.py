"""Cross-validation fold models, computed once per audit and shared through ``ctx.cache``.

The stability section reports how the figures move across folds; the privacy section uses
the same fold models as "out" reference models for its membership-inference attack. Neither
section reads the other's results: both call :func:`get_folds`, which trains the fold models
the first time and returns the cached :class:`Folds` afterwards.

A model that can be retrained (``ctx.model.can_refit``: scikit-learn estimators, reference
checkpoints) is retrained on ``k`` folds of the training data (``StratifiedKFold(k,
shuffle=True, random_state=seed)``, the evaluation data when no training data was given). A
model that cannot be retrained is re-evaluated on ``k`` bootstrap resamples of the evaluation
data instead.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._core.progress import progress
from .._core.rows import take_rows
from ..adapters.base import ModelAdapter
from ..exceptions import DataValidationError
from ..inputs.context import AuditContext
from ..inputs.options import SectionOptions, option, register

#: Default number of folds (``options={"cv": 5}``).
DEFAULT_CV = 5


@register
@dataclass(frozen=True)
class FoldOptions(SectionOptions):
    """The cross-validation options, shared by the privacy and stability sections."""

    owner = "privacy, stability"

    cv: int = option(
        DEFAULT_CV,
        doc="Folds of cross-validation (fold models for stability and the reference attack).",
        low=2,
        high=100,
    )
    fold_threads: int | None = option(
        None,
        kind="int",
        low=1,
        nullable=True,
        doc="Torch threads for retraining the fold models (None: 1 for checkpoints, else "
        "unchanged).",
    )


Mode = Literal["refit", "bootstrap"]
Source = Literal["train", "eval"]


@dataclass(frozen=True)
class Folds:
    """Fold models and their held-out predictions (or bootstrap re-evaluations).

    Attributes
    ----------
    mode : {"refit", "bootstrap"}
        ``"refit"``: one model retrained per fold; ``"bootstrap"``: the audited model
        re-evaluated on bootstrap resamples of the evaluation data.
    source : {"train", "eval"}
        Which rows the folds (or resamples) are drawn from.
    k : int
        Number of folds or resamples.
    seed : int
        The audit seed used for the split.
    splitter : str
        How the rows were split (``"StratifiedKFold"``, ``"KFold"`` or ``"bootstrap"``).
    y : ndarray of int64
        Class indices of the source rows.
    sensitive : DataFrame or None
        Sensitive columns of the source rows.
    test_index : tuple of ndarray
        Per fold, the held-out rows (refit) or the resampled rows (bootstrap), indices into the
        source rows.
    pred : tuple of ndarray
        Per fold, the predicted class index of each ``test_index`` row.
    proba : tuple of (ndarray or None)
        Per fold, class probabilities of the ``test_index`` rows (None without scores).
    models : tuple of ModelAdapter
        The fold models (refit mode); empty for bootstrap.
    notes : tuple of str
        Plain-language notes on how the folds were made.
    skipped : tuple of (str or None)
        Per fold (refit mode), why no model could be trained on it, or None when one was
        (empty: every fold was trained). A skipped fold has an empty ``pred``, a None
        ``proba`` and a None model.
    """

    mode: Mode
    source: Source
    k: int
    seed: int
    splitter: str
    y: np.ndarray
    sensitive: Any
    test_index: tuple[np.ndarray, ...]
    pred: tuple[np.ndarray, ...]
    proba: tuple[np.ndarray | None, ...]
    models: tuple[ModelAdapter | None, ...]
    notes: tuple[str, ...] = ()
    skipped: tuple[str | None, ...] = ()

    @property
    def n(self) -> int:
        """Number of source rows."""
        return len(self.y)

    def skip_reason(self, i: int) -> str | None:
        """Return why fold ``i`` has no model, or None when it has one."""
        return self.skipped[i] if self.skipped else None

    def _require_complete(self) -> None:
        for i in range(self.k):
            why = self.skip_reason(i)
            if why is not None:
                raise DataValidationError(f"no model could be trained on fold {i}: {why}")

    def fold_of(self) -> np.ndarray:
        """Return, for each source row, the fold that holds it out (refit mode only)."""
        if self.mode != "refit":
            raise ValueError("Bootstrap resamples do not partition the rows.")
        self._require_complete()
        out = np.full(self.n, -1, dtype=np.int64)
        for i, idx in enumerate(self.test_index):
            out[idx] = i
        return out

    def held_out_proba(self) -> np.ndarray | None:
        """Return the out-of-fold probabilities of every source row (refit mode), or None.

        Raises
        ------
        DataValidationError
            When a fold has no model (see :attr:`skipped`).
        """
        if self.mode == "refit":
            self._require_complete()
        if self.mode != "refit" or any(p is None for p in self.proba) or not self.proba:
            return None
        first = self.proba[0]
        assert first is not None
        out = np.zeros((self.n, first.shape[1]))
        for idx, p in zip(self.test_index, self.proba):
            out[idx] = p
        return out


def align_proba(proba: np.ndarray, fold_classes: Any, classes: Any, n_classes: int) -> np.ndarray:
    """Put a fold model's probability columns in the audited model's class order.

    A fold whose training rows miss a class gives fewer columns; the missing classes get
    probability 0.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.shape[1] == n_classes and (
        fold_classes is None or classes is None or np.array_equal(fold_classes, classes)
    ):
        return p
    if fold_classes is None or classes is None:
        raise DataValidationError(
            f"A fold model gives {p.shape[1]} probability columns but the audited model has "
            f"{n_classes} classes, and the classes cannot be matched."
        )
    pos = {v: i for i, v in enumerate(np.asarray(classes).tolist())}
    out = np.zeros((p.shape[0], n_classes))
    for j, c in enumerate(np.asarray(fold_classes).tolist()):
        if c not in pos:
            raise DataValidationError(
                f"A fold model predicts class {c!r}, which the audited model does not have."
            )
        out[:, pos[c]] = p[:, j]
    return out


def _refit_targets(model: ModelAdapter, y_codes: np.ndarray) -> np.ndarray:
    """Labels to retrain on: the estimator's own label values for scikit-learn, else indices."""
    classes = model.classes_
    if model.kind == "sklearn" and classes is not None:
        return np.asarray(classes)[y_codes]
    return y_codes


def _splits(y: np.ndarray, k: int, seed: int) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Split the rows into ``k`` folds, stratified by class whenever scikit-learn allows it.

    ``StratifiedKFold`` needs only the largest class to have ``k`` rows; a class with fewer
    rows then has them in different folds, so every fold's training part holds it unless it
    has a single row. ``KFold`` is used only when every class has fewer than ``k`` rows.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if n < k:
        raise DataValidationError(
            f"Cross-validation with cv={k} folds needs at least {k} rows; the data has {n}."
        )
    counts = np.bincount(y)
    counts = counts[counts > 0]
    if counts.max() >= k:
        skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            # "The least populated class in y has only m members": handled as described above
            warnings.simplefilter("ignore", UserWarning)
            return "StratifiedKFold", list(skf.split(np.zeros(n), y))
    kf = KFold(n_splits=k, shuffle=True, random_state=seed)
    return "KFold", list(kf.split(np.zeros(n)))


def _class_name(ctx: AuditContext, code: int) -> str:
    classes = ctx.predictions.classes
    return str(classes[code]) if 0 <= code < len(classes) else str(code)


_NOT_A_NUMBER = re.compile(r"could not convert string to float: (?P<value>.+)$")


def refit_error(model: ModelAdapter, X: Any, fold: int, exc: BaseException) -> str:
    """Return a plain message for a failed retraining, naming the column where one is to blame.

    A table column of text that the estimator cannot take as numbers is the common cause
    (scikit-learn: "could not convert string to float: 'q'").
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    where = f"Retraining {model.name} on fold {fold} for cross-validation failed: {text}"
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "dtypes"):
        return where + "."
    m = _NOT_A_NUMBER.search(text)
    if m is None:
        return where + "."
    value = m.group("value").strip().strip("'\"")
    textual = [j for j, dt in enumerate(X.dtypes) if dt.kind not in "biufcmM"]
    hit = [j for j in textual if (X.iloc[:, j].astype(str) == value).any()]
    blamed = [str(columns[j]) for j in (hit or textual)]
    if not blamed:
        return where + "."
    names = ", ".join(repr(c) for c in blamed[:5]) + (" ..." if len(blamed) > 5 else "")
    word = "column" if len(blamed) == 1 else "columns"
    verb = "holds" if len(blamed) == 1 else "hold"
    return (
        f"{where} ({word} {names} of the data {verb} text that {model.name} does not take; "
        "give the audit the columns the model was trained on, or a pipeline that encodes them)."
    )


def _fold_threads(ctx: AuditContext, model: ModelAdapter) -> int | None:
    """Torch threads for retraining: ``options["fold_threads"]``, else 1 for checkpoints.

    The reference models take small batches through small layers; on a CPU, extra intra-op
    threads only add synchronisation, and when other processes share the cores they slow
    training down by an order of magnitude (measured in benchmarks/bench_privacy.py).
    """
    n = ctx.options_for(FoldOptions).fold_threads
    if n is not None:
        return n
    return 1 if model.kind == "checkpoint" else None


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (no change for None), restoring the setting."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def get_folds(ctx: AuditContext) -> Folds:
    """Return the audit's :class:`Folds`, computing them on first use (cached in ``ctx.cache``).

    Raises
    ------
    ParameterError
        When ``options["cv"]`` is not an int in [2, 100].
    DataValidationError
        When there are fewer rows than folds, when retraining fails on a fold whose training
        rows hold several classes (the message names the columns of text the model cannot
        take, where they are to blame), or when no fold could be retrained. The error is
        cached too: a second caller gets it without retraining again.
    """
    k = ctx.options_for(FoldOptions).cv
    key = f"folds:cv={k}"
    cached = ctx.cache.get(key)
    if isinstance(cached, DataValidationError):
        raise cached
    if cached is not None:
        out: Folds = cached
        return out
    model = ctx.model
    try:
        folds = (
            _refit_folds(ctx, model, k)
            if model is not None and model.can_refit
            else _bootstrap_folds(ctx, k)
        )
    except DataValidationError as exc:
        ctx.cache[key] = exc
        raise
    ctx.cache[key] = folds
    return folds


def _refit_folds(ctx: AuditContext, model: ModelAdapter, k: int) -> Folds:
    seed = ctx.config.random_state
    notes = []
    source: Source
    if ctx.train is not None:
        X, y, sens, source = ctx.train.X, ctx.train.y, ctx.train.sensitive, "train"
    else:
        X, y, sens, source = ctx.X, ctx.predictions.y_true, ctx.sensitive, "eval"
        notes.append(
            "No training data was given, so the folds were drawn from the evaluation data."
        )
    if X is None:
        raise DataValidationError("Retraining on folds needs the model's input data X.")
    y = np.asarray(y, dtype=np.int64)
    splitter, splits = _splits(y, k, seed)
    if splitter == "KFold":
        notes.append(f"Every class has fewer than {k} rows, so the folds are not stratified "
                     "(KFold).")  # fmt: skip
    elif np.bincount(y)[np.bincount(y) > 0].min() < k:
        notes.append(
            f"A class has fewer than {k} rows: its rows are in different folds, so some "
            "held-out folds have none of it."
        )
    targets = _refit_targets(model, y)
    n_classes = ctx.predictions.n_classes
    test_index: list[np.ndarray] = []
    preds: list[np.ndarray] = []
    probas: list[np.ndarray | None] = []
    models: list[ModelAdapter | None] = []
    skipped: list[str | None] = []
    with _torch_threads(_fold_threads(ctx, model)):
        for i, (tr, te) in enumerate(
            progress(
                splits, enabled=ctx.config.show_progress, desc=f"retraining {k} folds", total=k
            )
        ):
            test_index.append(np.asarray(te, dtype=np.int64))
            try:
                fm = model.refit(take_rows(X, tr), targets[tr], random_state=seed)
            except Exception as exc:  # noqa: BLE001 - the user's estimator on the user's data
                present = np.unique(y[tr])
                if len(present) >= 2:
                    raise DataValidationError(refit_error(model, X, i, exc)) from exc
                skipped.append(
                    f"its {len(tr)} training rows hold one class only "
                    f"({_class_name(ctx, int(present[0]))!r}) and {model.name} cannot be "
                    "trained on one class"
                    if len(present)
                    else "it has no training rows"
                )
                preds.append(np.zeros(0, dtype=np.int64))
                probas.append(None)
                models.append(None)
                continue
            p = align_proba(
                fm.predict_proba(take_rows(X, te)), fm.classes_, model.classes_, n_classes
            )
            probas.append(p)
            preds.append(np.asarray(np.argmax(p, axis=1), dtype=np.int64))
            models.append(fm)
            skipped.append(None)
    n_skipped = sum(r is not None for r in skipped)
    if n_skipped == k:
        raise DataValidationError(
            f"No model could be trained on any of the {k} cross-validation folds: fold 0: "
            f"{skipped[0]}."
        )
    if n_skipped:
        notes.append(
            f"{n_skipped} of {k} folds could not be retrained and are left out of the "
            "spread: "
            + "; ".join(f"fold {i}: {r}" for i, r in enumerate(skipped) if r is not None)
            + "."
        )
    return Folds(
        mode="refit",
        source=source,
        k=k,
        seed=seed,
        splitter=splitter,
        y=y,
        sensitive=sens,
        test_index=tuple(test_index),
        pred=tuple(preds),
        proba=tuple(probas),
        models=tuple(models),
        notes=tuple(notes),
        skipped=tuple(skipped) if n_skipped else (),
    )


def _bootstrap_folds(ctx: AuditContext, k: int) -> Folds:
    p = ctx.predictions
    n = len(p)
    if n == 0:
        raise DataValidationError("Bootstrap re-evaluation needs at least one evaluation row.")
    rng = ctx.rng("stability-bootstrap")
    kind = ctx.model.kind if ctx.model is not None else "prediction log"
    what = {"callable": "a callable", "torch": "a bare torch module"}.get(kind, f"a {kind}")
    notes = [
        f"The model ({what}) cannot be retrained, so it was re-evaluated on {k} bootstrap "
        "resamples of the evaluation data instead: this shows how much the figures move with "
        "the sample, not how much they move when the model is retrained."
    ]
    idx = [np.asarray(rng.integers(0, n, size=n), dtype=np.int64) for _ in range(k)]
    proba = p.y_proba if p.has_scores else None
    return Folds(
        mode="bootstrap",
        source="eval",
        k=k,
        seed=ctx.config.random_state,
        splitter="bootstrap",
        y=np.asarray(p.y_true, dtype=np.int64),
        sensitive=ctx.sensitive,
        test_index=tuple(idx),
        pred=tuple(p.y_pred[i] for i in idx),
        proba=tuple(proba[i] if proba is not None else None for i in idx),
        models=(),
        notes=tuple(notes),
    )


def fold_models_proba(ctx: AuditContext, folds: Folds, X: Any) -> np.ndarray:
    """Return every fold model's probabilities on rows ``X``: shape (k, n_rows, n_classes)."""
    if folds.mode != "refit":
        raise ValueError("Bootstrap folds have no fold models.")
    folds._require_complete()
    model = ctx.model
    classes = model.classes_ if model is not None else None
    n_classes = ctx.predictions.n_classes
    return np.stack(
        [
            align_proba(m.predict_proba(X), m.classes_, classes, n_classes)
            for m in folds.models
            if m is not None
        ]
    )
