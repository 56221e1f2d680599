"""Regressions of the stability section on odd data (found by benchmarks/fuzz.py).

Was: a fold whose training rows held one class made LogisticRegression raise and the section
was recorded ``failed`` with scikit-learn's text (fuzz seed 7656); a text column the model
cannot take made the refit raise "could not convert string to float: 'q'" (seed 4224).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier

import auditkit
from auditkit.adapters import wrap
from auditkit.exceptions import DataValidationError
from auditkit.report import to_json
from auditkit.sections import SECTIONS, AuditConfig, AuditContext, Predictions, TrainData
from auditkit.sections._folds import get_folds


def context(est, X, y, *, cv=5, train=True, sections=("stability",)):  # type: ignore[no-untyped-def]
    model = wrap(est)
    proba = model.predict_proba(X)
    preds = Predictions(
        y_true=y, y_pred=proba.argmax(1), y_proba=proba, classes=("0", "1"), pos_label=1
    )
    return AuditContext(
        config=AuditConfig(sections=sections, options={"cv": cv}),
        predictions=preds,
        model=model,
        X=X,
        train=TrainData(X=X, y=y) if train else None,
    )


def one_row_class(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.zeros(n, dtype=int)
    y[rng.integers(n)] = 1  # class 1 has a single row: its fold trains on class 0 only
    return X, y


@pytest.mark.parametrize("seed", range(4))
def test_fold_with_one_class_in_training_is_skipped_with_a_reason(seed: int) -> None:
    X, y = one_row_class(seed=seed)
    est = LogisticRegression().fit(X, y)
    ctx = context(est, X, y)
    res = SECTIONS.get("stability").run(ctx)
    assert res.status == "ok"
    folds = get_folds(ctx)
    skipped = [i for i in range(folds.k) if folds.skip_reason(i) is not None]
    assert len(skipped) == 1
    (i,) = skipped
    assert 1 in y[folds.test_index[i]]  # the fold that holds the lonely row out
    recs = [m for m in res.metrics if m.fold == i]
    assert {m.name for m in recs} == {"accuracy", "balanced_accuracy", "roc_auc", "log_loss"}
    for m in recs:
        assert m.value is None and m.flags == ("skipped",)
        assert "one class only ('0')" in (m.reason or "")
    assert any("could not be retrained" in f.text for f in res.findings)
    # the other folds equal scikit-learn's cross-validation on the same stratified splits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        want = cross_val_score(LogisticRegression(), X, y, cv=iter(
            [s for j, s in enumerate(splits) if j != i]), scoring="accuracy")  # fmt: skip
    got = [m.value for m in sorted(res.metrics, key=lambda m: m.fold or 0)
           if m.name == "accuracy" and m.fold is not None and m.fold != i]  # fmt: skip
    np.testing.assert_allclose(got, want)
    mean = next(m for m in res.metrics if m.name == "accuracy_mean")
    assert mean.n == 4 and mean.value == pytest.approx(np.mean(want))


def test_fold_with_one_class_through_audit_validates() -> None:
    X, y = one_row_class(seed=3)
    est = LogisticRegression().fit(X, y)
    sens = np.where(np.arange(len(y)) % 2 == 0, "a", "b")
    res = auditkit.audit(est, X, y, sensitive_features={"g": sens}, train=(X, y),
                         sections=["stability", "privacy"], n_boot=2)  # fmt: skip
    to_json(res)
    by_name = {s.name: s for s in res.sections}
    assert by_name["stability"].status == "ok"
    # the privacy section's reference attack needs every fold model; it says which is missing
    priv = by_name["privacy"]
    assert priv.status == "ok", priv.reason
    why = priv.info.get("reference_attack", "")
    assert "fold" in why and "one class only" in why, why


def test_every_fold_one_class_skips_the_section() -> None:
    """Evaluation rows of one class, no training data: no fold can be retrained."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    est = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    y = np.ones(30, dtype=int)
    res = SECTIONS.get("stability").run(context(est, X, y, train=False))
    assert res.status == "skipped"
    assert "No model could be trained on any of the 5" in (res.reason or "")
    assert "one class only ('1')" in (res.reason or "")


def test_estimator_that_trains_on_one_class_keeps_its_folds() -> None:
    """A decision tree can be fitted on one class: such folds are kept, not skipped."""
    X, y = one_row_class(seed=2)
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    ctx = context(est, X, y)
    res = SECTIONS.get("stability").run(ctx)
    assert res.status == "ok"
    assert get_folds(ctx).skipped == ()
    assert all(m.value is not None for m in res.metrics if m.name == "accuracy")


@pytest.mark.parametrize("estimator", [DecisionTreeClassifier, LogisticRegression])
def test_text_column_the_model_cannot_take_names_the_column(estimator: type) -> None:
    """Training data with a text column the model was not fitted on (fuzz seed 4224).

    The audit refuses training data whose columns are not X's before any section runs (the
    stability refit would fail on it, and so would privacy's scoring), naming the column.
    """
    rng = np.random.default_rng(0)
    n = 60
    X = pd.DataFrame({"x": rng.normal(size=n), "colour<b>": rng.choice(["p", "q"], n),
                      "z": rng.normal(size=n)})  # fmt: skip
    y = (X["x"] > 0).astype(int).to_numpy()
    est = estimator().fit(X[["x", "z"]], y)
    with pytest.raises(DataValidationError, match="has column 'colour<b>' that X does not"):
        auditkit.audit(est, X[["x", "z"]], y, train=(X, y), n_boot=2,
                       sections=["performance", "stability"])  # fmt: skip


def test_too_few_rows_for_the_folds_skips_the_section() -> None:
    X = np.arange(8, dtype=float).reshape(-1, 2)
    y = np.array([0, 1, 0, 1])
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    res = auditkit.audit(est, X, y, sections=["performance", "stability"], n_boot=2)
    stab = {s.name: s for s in res.sections}["stability"]
    assert stab.status == "skipped"
    assert stab.reason == "Cross-validation with cv=5 folds needs at least 5 rows; the data has 4."
