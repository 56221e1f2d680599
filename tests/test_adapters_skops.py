"""Saved scikit-learn models: skops' safe loader, and pickle files refused unless allowed."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from auditkit.adapters.errors import ModelFileError, UnsafeModelError
from auditkit.adapters.sklearn_files import SavedSklearnModel, load_pickle, load_skops

sio = pytest.importorskip("skops.io")


def _data(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


class ThresholdClassifier(ClassifierMixin, BaseEstimator):
    """A custom estimator: a type that is not scikit-learn's."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-np.asarray(X)[:, 0]))
        return np.column_stack([1 - p, p])


def test_skops_pipeline_loads_and_predicts_like_the_original(tmp_path: Path) -> None:
    X, y = _data()
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    f = tmp_path / "model.skops"
    sio.dump(pipe, f)
    adapter = load_skops(f)
    assert isinstance(adapter, SavedSklearnModel)
    np.testing.assert_array_equal(adapter.predict_proba(X), pipe.predict_proba(X))
    d = adapter.describe()
    assert d["file_format"] == "skops" and d["unpickled"] is False and d["kind"] == "sklearn"
    assert len(d["file_sha256"]) == 64 and d["path"] == str(f)


def test_skops_audit_accuracy_equals_sklearn(tmp_path: Path) -> None:
    import auditkit

    X, y = _data()
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:80], y[:80])
    f = tmp_path / "model.skops"
    sio.dump(pipe, f)
    res = auditkit.audit(load_skops(f), X[80:], y[80:], sections=["performance"])
    acc = res.section("performance").get("accuracy").value
    assert acc == pytest.approx(float((pipe.predict(X[80:]) == y[80:]).mean()))
    assert res.to_dict()["model"]["file_format"] == "skops"


def test_skops_untrusted_type_is_refused_with_the_trust_flag(tmp_path: Path) -> None:
    X, y = _data()
    f = tmp_path / "custom.skops"
    sio.dump(ThresholdClassifier().fit(X, y), f)
    with pytest.raises(UnsafeModelError) as exc:
        load_skops(f)
    msg = str(exc.value)
    assert "ThresholdClassifier" in msg and "--trust" in msg and "\n" not in msg
    name = [t for t in sio.get_untrusted_types(file=f) if t.endswith("ThresholdClassifier")][0]
    adapter = load_skops(f, trusted=name)
    assert adapter.describe()["trusted_types"] == [name]
    assert adapter.predict_proba(X).shape == (len(X), 2)


def test_skops_missing_file_and_not_a_skops_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_skops(tmp_path / "absent.skops")
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a readable skops file"):
        load_skops(bad)


# ---------------------------------------------------------------------------------- pickle
def _build_and_mark(marker: str) -> LogisticRegression:
    Path(marker).write_text("the pickle ran code")
    X, y = _data()
    return LogisticRegression().fit(X, y)


class _Payload:
    """Unpickles into a fitted model, writing a marker file on the way (code from the file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (_build_and_mark, (self.marker,))


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_pickle_is_refused_without_allow_pickle_and_never_runs(
    tmp_path: Path, suffix: str
) -> None:
    marker = tmp_path / "marker.txt"
    f = tmp_path / f"model{suffix}"
    f.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(UnsafeModelError) as exc:
        load_pickle(f)
    msg = str(exc.value)
    assert "--allow-pickle" in msg and "runs code" in msg and str(f) in msg
    assert "\n" not in msg
    assert not marker.exists()


def test_pickle_loads_with_allow_pickle_and_says_so(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    f = tmp_path / "model.pkl"
    f.write_bytes(pickle.dumps(_Payload(marker)))
    adapter = load_pickle(f, allow_pickle=True)
    assert marker.exists()  # the code in the file ran: that is what the flag allows
    X, _ = _data()
    assert adapter.predict_proba(X).shape == (len(X), 2)
    d = adapter.describe()
    assert d["unpickled"] is True and d["file_format"] == "joblib"
    import json

    import auditkit
    from auditkit.report import write_outputs

    _, y = _data()
    paths = write_outputs(auditkit.audit(adapter, X, y, sections=["performance"]), tmp_path)
    assert json.loads(paths["json"].read_text())["model"]["unpickled"] is True
    assert "| Model unpickled | yes |" in (tmp_path / "card.md").read_text()


def test_pickle_of_something_else_is_named(tmp_path: Path) -> None:
    f = tmp_path / "thing.pkl"
    f.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(ModelFileError, match="holds a dict, not a fitted scikit-learn"):
        load_pickle(f, allow_pickle=True)
