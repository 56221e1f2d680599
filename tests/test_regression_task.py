"""The task of an audit, decided once in the inputs stage, and the context of a regression.

The sections of a regression are other work; these tests read the :class:`AuditContext` that
``prepare_model`` / ``prepare_log`` build (the task, the values equal to the model's own
predictions, the groups, weights and training rows), the ``data`` and ``model`` blocks, and the
errors of each wrong combination.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _regression_context import log_context, model_context
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import auditkit
from auditkit.exceptions import DataValidationError, ParameterError
from auditkit.inputs.task import is_continuous, log_task


def _table(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "sex": rng.choice(["f", "m"], n),
            "race": rng.choice(["A", "B", "C"], n),
        }
    )
    y = pd.Series(3.0 * X["a"] - X["b"] + 2.0 * (X["sex"] == "f") + rng.normal(size=n) + 50,
                  name="price")  # fmt: skip
    return X, y


NUM = ["a", "b"]


def _pipeline() -> Any:
    pre = ColumnTransformer([("num", StandardScaler(), NUM),
                             ("cat", OneHotEncoder(), ["sex", "race"])])  # fmt: skip
    return make_pipeline(pre, Ridge(alpha=0.5))


# --------------------------------------------------------------------------- task detection
def test_continuous_targets() -> None:
    rng = np.random.default_rng(0)
    assert is_continuous(rng.normal(size=50))
    assert not is_continuous(rng.integers(0, 5, 50).astype(float))  # class labels as floats
    assert not is_continuous(np.r_[np.zeros(20), np.ones(20), 0.5])  # few distinct values
    assert not is_continuous(np.array(["1.5", "2.5"] * 20))  # text is never a target number
    assert not is_continuous(rng.random(50) < 0.5)  # booleans are labels
    assert is_continuous(pd.Series(rng.normal(size=50)).astype("Float64"))
    hours = rng.integers(1, 99, 500)
    assert log_task("auto", hours, hours + rng.normal(size=500), func="f") == "regression"
    assert log_task("auto", hours, hours, func="f") == "classification"  # integer decisions
    y01 = rng.integers(0, 2, 500)
    assert log_task("auto", y01, rng.random(500), func="f") == "classification"  # scores


def test_sklearn_regressor_context_and_blocks() -> None:
    X, y = _table()
    est = LinearRegression().fit(X[NUM], y)
    w = np.linspace(0.5, 2.0, len(y))
    p = model_context(
        est, X[NUM], y, sensitive_features=X[["sex", "race"]], sample_weight=w,
        reference_groups={"race": "B"}, train=(X[NUM].iloc[:100], y.iloc[:100]),
        options={"target_unit": "EUR"},
    )  # fmt: skip
    ctx = p.context
    assert ctx.task == "regression" and ctx.model is not None and ctx.model.task == "regression"
    r = ctx.regression
    assert r is not None and r.y_true.dtype == np.float64 and r.y_pred.dtype == np.float64
    np.testing.assert_array_equal(r.y_pred, est.predict(X[NUM]))
    np.testing.assert_array_equal(r.y_true, y.to_numpy())
    np.testing.assert_array_equal(r.sample_weight, w)
    assert r.target == "price" and r.unit == "EUR"
    assert ctx.predictions.classes == () and len(ctx.predictions) == 0
    assert ctx.n_rows == len(y) and list(ctx.sensitive.columns) == ["sex", "race"]
    assert ctx.config.reference_groups["race"] == "B"
    assert ctx.train is not None and ctx.train.y.dtype == np.float64
    tr = ctx.train_regression()
    np.testing.assert_array_equal(tr.y_pred, est.predict(X[NUM].iloc[:100]))
    d = p.data_info
    assert d["task"] == "regression" and d["target"] == "price" and d["unit"] == "EUR"
    assert d["n_rows"] == len(y) and d["sensitive_features"] == ["sex", "race"]
    assert d["reference_groups"] == {"race": "B"} and d["n_train_rows"] == 100
    assert d["sample_weight"] == "sample_weight (array)"
    assert "classes" not in d and "positive_class" not in d
    assert p.model_info["task"] == "regression" and p.model_info["kind"] == "sklearn"
    assert ctx.missing(("scores",)) is not None


def test_pipeline_regressor_and_refit_with_float_y() -> None:
    X, y = _table()
    est = _pipeline().fit(X, y)
    ctx = model_context(est, X, y, sensitive_features=["sex"]).context
    assert ctx.task == "regression"
    np.testing.assert_array_equal(ctx.regression.y_pred, est.predict(X))
    refit = ctx.model.refit(X.iloc[:150], y.iloc[:150].to_numpy())
    assert refit.task == "regression" and refit.predict_values(X).shape == (len(X),)


def test_classifier_json_has_no_task_key() -> None:
    X, y = _table()
    yc = (y > y.median()).astype(int)
    p = model_context(LogisticRegression().fit(X[NUM], yc), X[NUM], yc, sensitive_features=X.sex)
    assert p.context.task == "classification"
    assert p.data_info["task"] == "binary" and "task" not in p.model_info
    assert list(p.data_info)[:5] == [
        "n_rows",
        "sensitive_features",
        "task",
        "classes",
        "positive_class",
    ]


def test_torch_one_output_regression_and_binary_classifier() -> None:
    torch = pytest.importorskip("torch")
    X, y = _table()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    ctx = model_context(net, X[NUM], y, sensitive_features=X.sex).context
    assert ctx.task == "regression" and ctx.model.kind == "torch"
    with torch.no_grad():
        own = net(torch.as_tensor(X[NUM].to_numpy(np.float32).copy())).double().numpy()[:, 0]
    np.testing.assert_allclose(ctx.regression.y_pred, own, rtol=1e-5, atol=1e-6)
    # the same module with 0/1 labels stays a binary classifier (as before)
    y01 = (y > y.median()).astype(int).to_numpy()
    ctx = model_context(net, X[NUM], y01, sensitive_features=X.sex).context
    assert ctx.task == "classification" and ctx.predictions.classes == ("0", "1")
    # two outputs and a continuous y: not a regression
    with pytest.raises(DataValidationError, match="one number per row"):
        model_context(torch.nn.Linear(2, 2), X[NUM], y, sensitive_features=X.sex)


def test_callable_regression() -> None:
    X, y = _table()

    def f(X: Any) -> np.ndarray:
        return 3.0 * X["a"].to_numpy() + 50.0

    ctx = model_context(f, X[NUM], y, task="regression", sensitive_features=X.sex).context
    assert ctx.task == "regression" and ctx.model.kind == "callable"
    np.testing.assert_array_equal(ctx.regression.y_pred, f(X))
    # auto reads a callable as a regression when y is continuous
    assert model_context(f, X[NUM], y, sensitive_features=X.sex).context.task == "regression"


def test_onnx_regressor_from_a_file(tmp_path: Any) -> None:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    X, y = _table()
    est = LinearRegression().fit(X[NUM].to_numpy(np.float32), y)
    onx = skl2onnx.convert_sklearn(
        est, initial_types=[("float_input", FloatTensorType([None, 2]))], target_opset=17
    )
    f = tmp_path / "lin.onnx"
    f.write_bytes(onx.SerializeToString())
    p = model_context(str(f), X[NUM], y, sensitive_features=X.sex)
    assert p.context.task == "regression" and p.model_info["task"] == "regression"
    np.testing.assert_allclose(
        p.context.regression.y_pred, est.predict(X[NUM].to_numpy(np.float32)), rtol=1e-5,
        atol=1e-4,
    )  # fmt: skip


def test_hf_regression_head() -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "the", "film"]
    tok = transformers.BertTokenizerFast(
        vocab={w: i for i, w in enumerate(words)}, model_max_length=16
    )
    cfg = transformers.BertConfig(
        vocab_size=len(words), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=32, num_labels=1,
        problem_type="regression",
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg).eval()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words[5:], 4)) for _ in range(40)]
    y = rng.normal(size=40)
    group = np.where(np.arange(40) % 2 == 0, "a", "b")
    ctx = model_context((model, tok), texts, y, sensitive_features=group).context
    assert ctx.task == "regression" and ctx.model.kind == "huggingface"
    with torch.no_grad():
        enc = tok(texts, padding=True, return_tensors="pt")
        own = model(**enc).logits[:, 0].double().numpy()
    np.testing.assert_allclose(ctx.regression.y_pred, own, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------ errors
def test_continuous_y_with_a_classifier_is_refused() -> None:
    X, y = _table()
    clf = LogisticRegression().fit(X[NUM], (y > y.median()).astype(int))
    with pytest.raises(DataValidationError, match="continuous.*LogisticRegression.*classifier"):
        model_context(clf, X[NUM], y, sensitive_features=X.sex)
    with pytest.raises(ParameterError, match="task='regression'.*classifier"):
        model_context(clf, X[NUM], y, task="regression", sensitive_features=X.sex)


def test_explicit_classification_with_a_regressor_or_continuous_y() -> None:
    X, y = _table()
    est = LinearRegression().fit(X[NUM], y)
    with pytest.raises(ParameterError, match="task='classification'.*regressor"):
        model_context(est, X[NUM], y, task="classification", sensitive_features=X.sex)
    with pytest.raises(DataValidationError, match="continuous.*task='classification'"):
        log_context(y, y + 1.0, task="classification", sensitive_features=X.sex)


@pytest.mark.parametrize("bad", ["Regression", "numbers", 1, None])
def test_bad_task_value_is_refused_before_scoring(bad: Any) -> None:
    X, y = _table(n=40)

    def never(X: Any) -> Any:
        raise AssertionError("scored")

    with pytest.raises(ParameterError, match=r"'task' parameter of audit\b"):
        auditkit.audit(never, X[NUM], y, sensitive_features=X.sex, task=bad)
    with pytest.raises(ParameterError, match="'task' parameter of audit_predictions"):
        auditkit.audit_predictions(y, y, sensitive_features=X.sex, task=bad)


def test_non_finite_values_are_named() -> None:
    X, y = _table()
    y_bad = y.copy()
    y_bad.iloc[7] = np.inf
    est = LinearRegression().fit(X[NUM], y)
    with pytest.raises(DataValidationError, match=r"y has 1 missing or infinite.*row 7"):
        model_context(est, X[NUM], y_bad, sensitive_features=X.sex)
    y_nan = y.copy()
    y_nan.iloc[3] = np.nan
    with pytest.raises(DataValidationError, match=r"y_true has 1 missing.*\(nan\) at row 3"):
        log_context(y_nan, y, sensitive_features=X.sex)
    pred = y.to_numpy().copy()
    pred[11] = -np.inf
    with pytest.raises(DataValidationError, match=r"y_pred has 1 .*row 11"):
        log_context(y, pred, sensitive_features=X.sex)
    with pytest.raises(DataValidationError, match=r"y_pred must hold numbers.*row 0 holds 'x'"):
        log_context(y, np.array(["x"] * len(y), dtype=object), task="regression",
                    sensitive_features=X.sex)  # fmt: skip
    with pytest.raises(DataValidationError, match=r"non-finite value.*row 2"):
        model_context(lambda X: np.where(np.arange(len(X)) == 2, np.nan, 1.0), X[NUM], y,
                      task="regression", sensitive_features=X.sex)  # fmt: skip


def test_class_parameters_are_refused_for_a_regression() -> None:
    X, y = _table()
    est = LinearRegression().fit(X[NUM], y)
    with pytest.raises(ParameterError, match="pos_label=1 is about classes.*regression"):
        model_context(est, X[NUM], y, sensitive_features=X.sex, pos_label=1)
    with pytest.raises(ParameterError, match="y_score=.*regression"):
        log_context(y, y + 1, sensitive_features=X.sex, y_score=np.full(len(y), 0.5))


# ------------------------------------------------------------------------------------- logs
def test_log_rows_from_a_frame_with_weights_references_and_ceilings() -> None:
    X, y = _table()
    df = X.assign(y=y.to_numpy(), yhat=y.to_numpy() + np.linspace(-1, 1, len(y)),
                  w=np.linspace(1, 3, len(y)))  # fmt: skip
    p = log_context(
        "y", "yhat", data=df, sensitive_features=["sex", "race"], sample_weight="w",
        reference_groups={"sex": "m"}, options={"target_unit": "hours"},
    )  # fmt: skip
    ctx = p.context
    assert ctx.task == "regression" and ctx.model is None
    np.testing.assert_array_equal(ctx.regression.y_pred, df["yhat"].to_numpy())
    np.testing.assert_array_equal(ctx.regression.sample_weight, df["w"].to_numpy())
    assert ctx.regression.target == "y" and ctx.regression.unit == "hours"
    d = p.data_info
    assert d["task"] == "regression" and d["target"] == "y" and d["unit"] == "hours"
    assert d["sample_weight"] == "column 'w'" and d["reference_groups"] == {"sex": "m"}
    assert p.model_info == {"name": "none (prediction log)", "kind": "predictions",
                            "sha256": None, "task": "regression"}  # fmt: skip
    with pytest.raises(DataValidationError, match="race.*max_groups|max_groups.*race"):
        auditkit.audit_predictions(
            "y", "yhat", data=df, sensitive_features=["race"], max_groups=2, n_boot=0
        )
    with pytest.raises(ParameterError, match="nobody"):
        log_context("y", "yhat", data=df, sensitive_features=["sex"],
                    reference_groups={"sex": "nobody"})  # fmt: skip


def test_log_of_arrays_names_the_target() -> None:
    rng = np.random.default_rng(3)
    y = pd.Series(rng.normal(size=100), name="premium")
    p = log_context(y, y.to_numpy() * 1.1, sensitive_features=rng.choice(["a", "b"], 100))
    assert p.data_info["target"] == "premium"
    p = log_context(y.to_numpy(), y.to_numpy(), sensitive_features=rng.choice(["a", "b"], 100))
    assert p.data_info["target"] == "target" and "unit" not in p.data_info


def test_audit_result_blocks_and_json() -> None:
    X, y = _table()
    est = LinearRegression().fit(X[NUM], y)
    res = auditkit.audit(est, X[NUM], y, sensitive_features=X.sex, n_boot=0,
                         sections=["performance"])  # fmt: skip
    doc = json.loads(auditkit.to_json(res))
    assert doc["data"]["task"] == "regression" and doc["model"]["task"] == "regression"
    res = auditkit.audit_predictions(y, est.predict(X[NUM]), sensitive_features=X.sex,
                                     n_boot=0, sections=["fairness"])  # fmt: skip
    doc = json.loads(auditkit.to_json(res))
    assert doc["data"]["task"] == "regression" and doc["model"]["task"] == "regression"


# ------------------------------------------------------------------------- the reduced path
def test_a_reduced_regression_log_becomes_the_context(tmp_path: Any) -> None:
    """A Parquet log reduced in its engine: the context holds its tables, equal to the rows'."""
    X, y = _table()
    f = tmp_path / "log.parquet"
    X.assign(y=y, yhat=y + 0.5).to_parquet(f)
    p = log_context("y", "yhat", data=str(f), sensitive_features=["sex"], sample_weight=None,
                    memory_limit="1GB", options={"target_unit": "EUR"})  # fmt: skip
    ctx = p.context
    assert ctx.task == "regression" and ctx.regression is None and ctx.n_rows == 300
    rc = ctx.regression_counts
    assert rc.features == ("sex",) and set(rc.sums["sex"].tolist()) == {"f", "m"}
    assert set(rc.histogram["sex"].tolist()) == {"f", "m"}
    for g in ("f", "m"):  # the sums of each group are the rows' sums
        rows = (X["sex"] == g).to_numpy()
        cells = rc.sums["sex"] == g
        assert int(rc.sums["count"][cells].sum()) == int(rows.sum())
        np.testing.assert_allclose(rc.sums["y_sum"][cells].sum(), y[rows].sum(), rtol=1e-12)
        np.testing.assert_allclose(rc.sums["residual_sum"][cells].sum(), 0.5 * rows.sum(),
                                   rtol=1e-9)  # fmt: skip
    assert p.data_info["task"] == "regression" and p.data_info["engine"] == rc.engine
    assert p.data_info["target"] == "y" and p.data_info["unit"] == "EUR"
    # a classification log still takes the count-table path
    y01 = (y > y.median()).astype(int)
    g = tmp_path / "clf.parquet"
    X.assign(y=y01, yhat=y01).to_parquet(g)
    p = log_context("y", "yhat", data=str(g), sensitive_features=["sex"])
    assert p.context.task == "classification" and p.context.counts is not None
