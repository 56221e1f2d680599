from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import auditkit
from auditkit.exceptions import DataValidationError, ParameterError, RegistryKeyError
from auditkit.inputs.groups import resolve_sensitive
from auditkit.inputs.labels import encode_labels


@pytest.fixture
def tabular():
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "sex": rng.choice(["F", "M"], size=n)}
    )
    y = np.where(X["x1"] + rng.normal(scale=0.5, size=n) > 0, "approved", "denied")
    est = LogisticRegression().fit(X[["x1", "x2"]], y)

    def model(frame):
        return est.predict_proba(frame[["x1", "x2"]])

    return X, y, est, model


@pytest.mark.parametrize("kind", ["names", "series", "frame", "array", "dict"])
def test_sensitive_features_forms(tabular, kind):
    X, *_ = tabular
    forms = {
        "names": ["sex"],
        "series": X["sex"],
        "frame": X[["sex"]],
        "array": X["sex"].to_numpy(),
        "dict": {"sex": X["sex"].to_numpy()},
    }
    out = resolve_sensitive(forms[kind], X, len(X), schema=None)
    assert out.shape == (len(X), 1)
    assert out.iloc[:, 0].tolist() == X["sex"].tolist()
    if kind != "array":
        assert list(out.columns) == ["sex"]
    else:
        assert list(out.columns) == ["sensitive_feature_0"]


def test_sensitive_errors(tabular):
    X, *_ = tabular
    with pytest.raises(
        DataValidationError, match=r"Sensitive column 'Sex' not found.*did you mean"
    ):
        resolve_sensitive(["Sex"], X, len(X), schema=None)
    with pytest.raises(DataValidationError, match="have 3 rows but the data has 400"):
        resolve_sensitive(np.array(["a", "b", "c"]), X, len(X), schema=None)
    s = X["sex"].copy().astype(object)
    s.iloc[7] = None
    with pytest.raises(DataValidationError, match="'sex' has 1 missing value.*row 7"):
        resolve_sensitive(s, X, len(X), schema=None)


def test_encode_labels():
    codes, names, _ = encode_labels(np.array(["b", "a", "b"]), None)
    assert codes.tolist() == [1, 0, 1] and names == ("a", "b")
    codes, names, _ = encode_labels(np.array([True, False]), np.array([False, True]))
    assert codes.tolist() == [1, 0] and names == ("False", "True")
    with pytest.raises(DataValidationError, match=r"Label 'c' in y \(row 2\) is not one of"):
        encode_labels(np.array(["a", "b", "c"]), np.array(["a", "b"]))
    with pytest.raises(DataValidationError, match="missing value"):
        encode_labels(np.array([1.0, np.nan]), None)


def test_audit_sklearn_and_callable_agree(tabular):
    X, y, est, model = tabular
    a = auditkit.audit(
        est, X[["x1", "x2"]], y, sensitive_features=X["sex"], sections=["performance"], n_boot=20
    )
    b = auditkit.audit(
        model, X, y, sensitive_features=["sex"], sections=["performance"], n_boot=20
    )
    assert a.section("performance").status == "ok"
    va = {m.name: m.value for m in a.metrics if m.label is None}
    vb = {m.name: m.value for m in b.metrics if m.label is None}
    assert va == vb and "accuracy" in va
    assert a.data["classes"] == ["approved", "denied"]
    assert a.data["positive_class"] == "denied"
    c = auditkit.audit(
        est,
        X[["x1", "x2"]],
        y,
        sensitive_features=X["sex"],
        sections=["performance"],
        n_boot=20,
        pos_label="approved",
    )
    assert c.data["positive_class"] == "approved"


def test_audit_input_errors(tabular):
    X, y, est, model = tabular
    with pytest.raises(DataValidationError, match="differ in length"):
        auditkit.audit(est, X[["x1", "x2"]], y[:-1])
    with pytest.raises(RegistryKeyError, match="not a registered section"):
        auditkit.audit(est, X[["x1", "x2"]], y, sections=["fairnes"])
    with pytest.raises(ParameterError, match="'n_boot' parameter of audit must be an int"):
        auditkit.audit(est, X[["x1", "x2"]], y, n_boot=-1)
    with pytest.raises(ParameterError, match="'pos_label' parameter"):
        auditkit.audit(est, X[["x1", "x2"]], y, pos_label="maybe", sections=["performance"])
    with pytest.raises(ParameterError, match="not fitted"):
        auditkit.audit(LogisticRegression(), X[["x1", "x2"]], y)
    with pytest.raises(ParameterError, match="X and y are required"):
        auditkit.audit(est)

    def bad(frame):
        return np.full((len(frame), 2), 0.7)

    with pytest.raises(DataValidationError, match="rows must sum to 1"):
        auditkit.audit(bad, X, y, sections=["performance"])


def test_audit_predictions_skips_model_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the two JSONs compared below
    rng = np.random.default_rng(1)
    n = 300
    yt = rng.integers(0, 2, n)
    yp = rng.integers(0, 2, n)
    sex = rng.choice(["F", "M"], n)
    r = auditkit.audit_predictions(yt, yp, sensitive_features={"sex": sex}, n_boot=10)
    names = [s.name for s in r.sections]
    assert names[:2] == ["performance", "fairness"]
    for s in r.sections:
        if s.name in ("explainability", "privacy"):
            assert s.status == "skipped" and "model" in s.reason
    stability = r.section("stability")
    assert stability.status == "ok" and "bootstrap" in stability.findings[0].text
    df = pd.DataFrame({"t": yt, "p": yp, "sex": sex})
    r2 = auditkit.audit_predictions("t", "p", data=df, sensitive_features="sex", n_boot=10)
    assert auditkit.to_json(r2) == auditkit.to_json(r)
    with pytest.raises(ParameterError, match="needs sensitive_features"):
        auditkit.audit_predictions(yt, yp)
    with pytest.raises(DataValidationError, match=r"probabilities in \[0, 1\]; found 1.5"):
        auditkit.audit_predictions(yt, yp, y_score=np.full(n, 1.5), sensitive_features=sex)


# ------------------------------------------------------- training data shaped like X
def _lr_case() -> tuple[Any, Any, Any, Any, Any]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a <b>": rng.normal(size=120), "b": rng.normal(size=120)})
    y = (X["a <b>"] > 0).astype(int).to_numpy()
    est = LogisticRegression().fit(X.iloc[:80], y[:80])
    return est, X.iloc[80:], y[80:], X.iloc[:80], y[:80]


def test_training_columns_in_another_order_are_aligned_to_x() -> None:
    est, X, y, Xtr, ytr = _lr_case()
    res = auditkit.audit(est, X, y, train=(Xtr[["b", "a <b>"]], ytr), n_boot=5,
                         sections=["stability"], options={"cv": 3})  # fmt: skip
    ref = auditkit.audit(est, X, y, train=(Xtr, ytr), n_boot=5, sections=["stability"],
                         options={"cv": 3})  # fmt: skip
    assert res.sections[0].status == "ok", res.sections[0].reason
    assert [m.value for m in res.sections[0].metrics] == [m.value for m in ref.sections[0].metrics]


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.assign(extra=1.0), r"X_train has column 'extra' that X does not"),
        (lambda d: d.drop(columns=["b"]), r"X_train lacks column 'b'"),
        (lambda d: d.to_numpy()[:, :1], r"shape \(1,\), X's rows \(2,\)"),
    ],
)
def test_training_data_with_other_columns_is_refused_naming_them(change: Any, match: str) -> None:
    from auditkit.exceptions import DataValidationError

    est, X, y, Xtr, ytr = _lr_case()
    with pytest.raises(DataValidationError, match=match):
        auditkit.audit(est, X, y, train=(change(Xtr), ytr), sections=["privacy"])
