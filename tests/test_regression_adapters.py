"""Regression adapters: every kind of model that predicts a number, read through one interface.

Each adapter's ``predict_values`` must equal the model's own prediction; ``task`` says what
the model is, and ``wrap(model, task=...)`` reads a one-output model as a regression.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from auditkit.adapters import CallableModel, SklearnModel, wrap
from auditkit.exceptions import DataValidationError, ParameterError


def _table(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "c": rng.normal(size=n)})  # fmt: skip
    y = 3.0 * X["a"] - 2.0 * X["b"] + rng.normal(scale=0.3, size=n) + 10.0
    return X, y.to_numpy()


# ------------------------------------------------------------------------------ scikit-learn
def test_sklearn_regressor_and_pipeline() -> None:
    X, y = _table()
    for est in (LinearRegression(), make_pipeline(StandardScaler(), Ridge(alpha=0.1))):
        est.fit(X, y)
        ad = wrap(est)
        assert isinstance(ad, SklearnModel) and ad.task == "regression"
        assert ad.has_scores is False and ad.classes_ is None
        np.testing.assert_array_equal(ad.predict_values(X), est.predict(X).astype(np.float64))
        assert ad.describe()["task"] == "regression"
        with pytest.raises(DataValidationError, match="regressor"):
            ad.predict_proba(X)
        assert wrap(est, task="regression") is not None
        with pytest.raises(ParameterError, match="task='classification'.*regressor"):
            wrap(est, task="classification")


def test_sklearn_pipeline_with_column_transformer_refits_on_float_y() -> None:
    X, y = _table()
    X["g"] = np.where(np.arange(len(X)) % 2 == 0, "x", "y")
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b", "c"]),
                             ("cat", OneHotEncoder(), ["g"])])  # fmt: skip
    est = make_pipeline(pre, LinearRegression()).fit(X, y)
    ad = wrap(est)
    assert ad.task == "regression" and ad.can_refit
    refit = ad.refit(X.iloc[:80], y[:80])
    assert refit.task == "regression"
    fresh = make_pipeline(pre, LinearRegression()).fit(X.iloc[:80], y[:80])
    np.testing.assert_allclose(refit.predict_values(X), fresh.predict(X))


def test_sklearn_classifier_stays_a_classifier() -> None:
    X, y = _table()
    clf = LogisticRegression().fit(X, (y > 10).astype(int))
    ad = wrap(clf)
    assert ad.task == "classification" and "task" not in ad.describe()
    with pytest.raises(ParameterError, match="task='regression'.*classifier"):
        wrap(clf, task="regression")
    with pytest.raises(DataValidationError, match="classifier"):
        ad.predict_values(X)


def test_predict_only_estimator_without_classes_is_a_regression() -> None:
    class Mean:
        def fit(self, X, y):
            self.m_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(len(X), self.m_)

    X, y = _table()
    ad = wrap(Mean().fit(X, y))
    assert ad.task == "regression"
    np.testing.assert_array_equal(ad.predict_values(X), np.full(len(X), np.mean(y)))


# ---------------------------------------------------------------------------------- callable
def test_callable_regression() -> None:
    X, _ = _table()

    def f(X):
        return X["a"].to_numpy() * 2.0

    ad = wrap(f, task="regression")
    assert isinstance(ad, CallableModel) and ad.task == "regression"
    np.testing.assert_array_equal(ad.predict_values(X), X["a"].to_numpy() * 2.0)
    assert wrap(f).task == "classification" and wrap(f).with_task("regression").task == (
        "regression"
    )
    bad = wrap(lambda X: np.where(np.arange(len(X)) == 3, np.nan, 1.0), task="regression")
    with pytest.raises(DataValidationError, match="non-finite.*row 3"):
        bad.predict_values(X)
    with pytest.raises(ParameterError, match="'task' parameter of wrap.*'regression'"):
        wrap(f, task="numbers")


# ------------------------------------------------------------------------------------- torch
def test_torch_one_output_regression_and_its_parts() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    X, _ = _table()
    ad = wrap(net, task="regression")
    assert ad.task == "regression" and ad.kind == "torch"
    with torch.no_grad():
        own = net(torch.as_tensor(X.to_numpy(np.float32).copy())).double().numpy()[:, 0]
    np.testing.assert_allclose(ad.predict_values(X), own, rtol=1e-5, atol=1e-6)
    parts = ad.torch_parts()
    assert parts is not None and parts.extras["task"] == "regression"
    out = parts.module(parts.encode(X))
    assert tuple(out.shape) == (len(X), 1)
    np.testing.assert_allclose(out.detach().double().numpy()[:, 0], own, rtol=1e-5, atol=1e-6)
    # a module returning shape (n,) gives the same column
    flat = torch.nn.Sequential(net, torch.nn.Flatten(0))
    flat_values = wrap(flat, task="regression").predict_values(X)
    np.testing.assert_allclose(flat_values, own, rtol=1e-5, atol=1e-6)
    # two outputs are not a regression
    two = torch.nn.Linear(3, 2)
    with pytest.raises(DataValidationError, match="one number per row"):
        wrap(two, task="regression").predict_values(X)
    # the classifier reading is unchanged
    assert wrap(net).task == "classification" and wrap(net).predict_proba(X).shape == (120, 2)


# -------------------------------------------------------------------------------------- ONNX
def test_onnx_linear_regression_from_skl2onnx(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    from auditkit.adapters.onnx import load_onnx

    X, y = _table()
    est = LinearRegression().fit(X.to_numpy(np.float32), y)
    onx = skl2onnx.convert_sklearn(
        est, initial_types=[("float_input", FloatTensorType([None, 3]))], target_opset=17
    )
    f = tmp_path / "lin.onnx"
    f.write_bytes(onx.SerializeToString())
    ad = load_onnx(f, features=["a", "b", "c"])
    assert ad.task == "regression" and ad.classes_ is None
    np.testing.assert_allclose(
        ad.predict_values(X), est.predict(X.to_numpy(np.float32)), rtol=1e-5, atol=1e-4
    )
    d = ad.describe()
    assert d["task"] == "regression" and d["output_holds"] == "values"
    with pytest.raises(ParameterError, match="regressor"):
        ad.with_task("classification")
    # a classifier's graph stays a classifier
    clf = LogisticRegression().fit(X.to_numpy(np.float32), (y > 10).astype(int))
    onx = skl2onnx.convert_sklearn(
        clf, initial_types=[("float_input", FloatTensorType([None, 3]))], target_opset=17
    )
    g = tmp_path / "clf.onnx"
    g.write_bytes(onx.SerializeToString())
    assert load_onnx(g).task == "classification"


# ----------------------------------------------------------------------------- Hugging Face
def _tiny_bert_regression() -> tuple[object, object]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "the", "film"]
    vocab = {w: i for i, w in enumerate(words)}
    tok = transformers.BertTokenizerFast(vocab=vocab, model_max_length=16)
    cfg = transformers.BertConfig(
        vocab_size=len(words), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=32, num_labels=1,
        problem_type="regression",
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(cfg).eval(), tok


def test_hf_regression_head(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from auditkit.adapters.hf import HuggingFaceModel, load_hf

    model, tok = _tiny_bert_regression()
    texts = ["good film", "bad film", "the film", "good good bad", "the"]
    ad = wrap((model, tok))
    assert isinstance(ad, HuggingFaceModel) and ad.task == "regression"
    assert ad.class_names == [] and ad.classes_ is None
    with torch.no_grad():
        enc = tok(texts, padding=True, return_tensors="pt")
        own = model(**enc).logits[:, 0].double().numpy()
    np.testing.assert_allclose(ad.predict_values(texts), own, rtol=1e-5, atol=1e-6)
    assert ad.describe()["task"] == "regression"
    assert ad.torch_parts().extras["task"] == "regression"
    with pytest.raises(DataValidationError, match="regression model"):
        ad.predict_proba(texts)
    # saved and loaded from a folder, still a regression
    model.save_pretrained(tmp_path / "reg", safe_serialization=True)
    tok.save_pretrained(tmp_path / "reg")
    loaded = load_hf(tmp_path / "reg")
    assert loaded.task == "regression"
    np.testing.assert_allclose(loaded.predict_values(texts), own, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------- Lightning
def test_user_lightning_regression() -> None:
    pl = pytest.importorskip("pytorch_lightning")
    torch = pytest.importorskip("torch")
    from auditkit.adapters.lightning import UserLightningModel

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def forward(self, x):
            return self.lin(x)

    torch.manual_seed(0)
    net = Net().eval()
    X, _ = _table()
    ad = wrap(net, task="regression")
    assert isinstance(ad, UserLightningModel) and ad.task == "regression"
    with torch.no_grad():
        own = net(torch.as_tensor(X.to_numpy(np.float32).copy())).double().numpy()[:, 0]
    np.testing.assert_allclose(ad.predict_values(X), own, rtol=1e-5, atol=1e-6)
    direct = UserLightningModel(net, features=["a", "b", "c"], task="regression")
    assert direct.task == "regression" and direct.schema is None
    assert tuple(direct.torch_parts().module(direct.encode(X)).shape) == (len(X), 1)
