"""ONNX models through onnxruntime: skl2onnx exports of tables, per-column inputs, images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from auditkit.adapters import wrap
from auditkit.adapters.errors import ModelFileError
from auditkit.adapters.onnx import OnnxModel, load_onnx
from auditkit.exceptions import DataValidationError

pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
from skl2onnx import convert_sklearn  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: E402


def _table(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(),
            "income": rng.normal(3, 1, n),
            "hours": rng.normal(38, 6, n).round(),
            "group": rng.choice(["a", "b", "c"], n),
        }
    )
    y = ((X["income"] + 0.05 * (X["age"] - 40) + (X["group"] == "a")) > 3.2).astype(int)
    return X, y.to_numpy()


NUM = ["age", "income", "hours"]


def _export(model, initial_types, path: Path, *, zipmap: bool = True) -> Path:
    options = None if zipmap else {id(model): {"zipmap": False}}
    onx = convert_sklearn(model, initial_types=initial_types, options=options, target_opset=17)
    path.write_bytes(onx.SerializeToString())
    return path


@pytest.mark.parametrize(
    ("estimator", "zipmap"),
    [
        (LogisticRegression(max_iter=500), True),
        (LogisticRegression(max_iter=500), False),
        (RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0), True),
    ],
)
def test_float_input_probabilities_equal_sklearn(tmp_path: Path, estimator, zipmap) -> None:
    X, y = _table()
    est = estimator.fit(X[NUM].to_numpy(np.float32), y)
    f = _export(est, [("float_input", FloatTensorType([None, 3]))], tmp_path / "m.onnx",
                zipmap=zipmap)  # fmt: skip
    adapter = load_onnx(f, features=NUM)
    assert isinstance(adapter, OnnxModel) and adapter.mode == "matrix"
    assert adapter.classes_.tolist() == [0, 1]
    expected = est.predict_proba(X[NUM].to_numpy(np.float32))
    np.testing.assert_allclose(adapter.predict_proba(X), expected, atol=1e-5)
    assert adapter.torch_parts() is None
    d = adapter.describe()
    assert (
        d["kind"] == "onnx"
        and d["output"] in ("output_probability", "probabilities")
        and len(d["sha256"]) == 64
    )
    assert d["gradients"] is False and d["producer"].startswith("skl2onnx")


def test_per_column_inputs(tmp_path: Path) -> None:
    X, y = _table()
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("num", StandardScaler(), NUM), ("cat", OneHotEncoder(), ["group"])]
                ),
            ),  # fmt: skip
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(X, y)
    types = [(c, FloatTensorType([None, 1])) for c in NUM] + [
        ("group", StringTensorType([None, 1]))
    ]
    f = _export(pipe, types, tmp_path / "cols.onnx")
    Xf = X.astype({c: np.float32 for c in NUM})
    adapter = load_onnx(f)
    assert adapter.mode == "columns"
    np.testing.assert_allclose(adapter.predict_proba(Xf), pipe.predict_proba(Xf), atol=1e-5)
    # a column renamed in the data: input_map says where each input comes from
    renamed = Xf.rename(columns={"group": "segment"})
    with pytest.raises(DataValidationError, match="Column 'group' \\(input 'group'"):
        adapter.predict_proba(renamed)
    mapped = load_onnx(f, input_map={"group": "segment"})
    np.testing.assert_allclose(mapped.predict_proba(renamed), pipe.predict_proba(Xf), atol=1e-5)


def test_per_column_inputs_renamed_by_the_exporter(tmp_path: Path) -> None:
    """skl2onnx makes input names identifiers (``marital-status`` -> ``marital_status``)."""
    from skl2onnx.common.data_types import Int64TensorType

    X, y = _table()
    X = X.rename(columns={"hours": "hours-per-week", "group": "marital status"})
    X["hours-per-week"] = X["hours-per-week"].astype(np.int64)
    X["2nd"] = X["age"].astype(np.int64)  # a leading digit: the input is '_2nd'
    num = ["age", "income"]
    pipe = Pipeline(
        [
            ("prep", ColumnTransformer([("num", StandardScaler(), [*num, "hours-per-week", "2nd"]),
                                        ("cat", OneHotEncoder(), ["marital status"])])),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit(X, y)  # fmt: skip
    types = [(c, FloatTensorType([None, 1])) for c in num]
    types += [("hours-per-week", Int64TensorType([None, 1])), ("2nd", Int64TensorType([None, 1])),
              ("marital status", StringTensorType([None, 1]))]  # fmt: skip
    f = _export(pipe, types, tmp_path / "renamed.onnx")
    adapter = load_onnx(f)
    names = [i.name for i in adapter.inputs]
    assert {"hours_per_week", "marital_status", "_2nd"} <= set(names)
    Xf = X.astype({c: np.float32 for c in num})
    np.testing.assert_allclose(adapter.predict_proba(Xf), pipe.predict_proba(Xf), atol=1e-5)
    assert adapter.describe()["input_map"]["marital_status"] == "marital status"
    # two columns that both become the input's name: nothing is guessed
    amb = Xf.drop(columns="marital status").assign(
        **{"marital-status": Xf["marital status"], "marital.status": Xf["marital status"]}
    )
    with pytest.raises(DataValidationError, match="Column 'marital_status'"):
        load_onnx(f).predict_proba(amb)


def test_an_input_the_graph_lacks_is_named(tmp_path: Path) -> None:
    X, y = _table()
    est = LogisticRegression().fit(X[NUM].to_numpy(np.float32), y)
    f = _export(est, [("float_input", FloatTensorType([None, 3]))], tmp_path / "m.onnx")
    with pytest.raises(ModelFileError) as exc:
        load_onnx(f, input_map={"features": "x"})
    msg = str(exc.value)
    assert "'features'" in msg and "float_input" in msg and "\n" not in msg
    with pytest.raises(DataValidationError, match="takes 3 feature"):
        load_onnx(f).predict_proba(X)  # every column, 'group' included: 4 columns for 3
    with pytest.raises(DataValidationError, match="Column 'wage'"):
        load_onnx(f, features=["age", "wage", "hours"]).predict_proba(X)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_onnx(tmp_path / "absent.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x80\x04not onnx")
    with pytest.raises(ModelFileError, match="not an ONNX model") as exc:
        load_onnx(bad)
    assert "\n" not in str(exc.value)


def test_image_model_from_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(4 * 8 * 8, 3),
    ).eval()  # fmt: skip
    f = tmp_path / "img.onnx"
    torch.onnx.export(
        net, (torch.zeros(1, 1, 8, 8),), str(f), input_names=["pixels"],
        output_names=["logits"], dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}},
        dynamo=False,
    )  # fmt: skip
    imgs = np.random.default_rng(0).random((10, 1, 8, 8)).astype(np.float32)
    adapter = load_onnx(f)
    assert adapter.mode == "image" and adapter.output == "logits"
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(imgs)), dim=1).numpy()
    np.testing.assert_allclose(adapter.predict_proba(imgs), expected, atol=1e-5)
    with pytest.raises(DataValidationError, match="takes images of shape"):
        adapter.predict_proba(imgs[:, :, :4])
    import auditkit

    y = expected.argmax(1)
    res = auditkit.audit(
        adapter, imgs, y, sections=["explainability"], n_boot=10,
        options={"explain_max_rows": 4},
    )  # fmt: skip
    ex = res.section("explainability")
    assert ex.status == "ok" and ex.info["method"] == "occlusion"  # no gradients: occlusion
    assert [c.name for c in ex.charts] == ["attribution_maps"]


@pytest.mark.parametrize(
    ("head", "holds"),
    [("softmax", "proba"), ("sigmoid", "proba"), ("log_softmax", "log_proba"),
     ("none", "logits")],
)  # fmt: skip
def test_torch_exports_that_end_in_probabilities(tmp_path: Path, head: str, holds: str) -> None:
    """An output made by Softmax, Sigmoid or LogSoftmax is read as (log-)probabilities, never
    softmaxed again: the probabilities equal torch's own, whatever the output is called."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    nn = torch.nn
    torch.manual_seed(0)
    k = 1 if head == "sigmoid" else 3
    layers = [nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, k)]
    layers += {"softmax": [nn.Softmax(dim=1)], "sigmoid": [nn.Sigmoid(), nn.Flatten()],
               "log_softmax": [nn.LogSoftmax(dim=1)], "none": []}[head]  # fmt: skip
    net = nn.Sequential(*layers).eval()
    f = tmp_path / f"{head}.onnx"
    torch.onnx.export(
        net, (torch.zeros(1, 5),), str(f), input_names=["x"], output_names=["output"],
        dynamic_axes={"x": {0: "n"}, "output": {0: "n"}}, dynamo=False,
    )  # fmt: skip
    x = np.random.default_rng(1).normal(size=(30, 5)).astype(np.float32)
    with torch.no_grad():
        z = net(torch.from_numpy(x)).double()
    want = {
        "softmax": z, "log_softmax": torch.exp(z), "none": torch.softmax(z, dim=1),
        "sigmoid": torch.cat([1 - z, z], dim=1),
    }[head].numpy()  # fmt: skip
    adapter = load_onnx(f)
    assert adapter.output == holds
    np.testing.assert_allclose(adapter.predict_proba(x), want, atol=1e-5)
    np.testing.assert_allclose(adapter.predict_proba(x).sum(axis=1), 1.0, atol=1e-5)
    d = adapter.describe()
    assert d["output_holds"] == holds
    assert d["output_node"] == {"softmax": "Softmax", "sigmoid": "Sigmoid",
                                "log_softmax": "LogSoftmax", "none": None}[head]  # fmt: skip
    # the caller's word wins over the graph
    assert load_onnx(f, output="logits").output == "logits"


def test_in_memory_session(tmp_path: Path) -> None:
    import onnxruntime as ort

    X, y = _table()
    est = LogisticRegression().fit(X[NUM].to_numpy(np.float32), y)
    f = _export(est, [("float_input", FloatTensorType([None, 3]))], tmp_path / "m.onnx")
    session = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
    adapter = OnnxModel(session, features=NUM)
    expected = est.predict_proba(X[NUM].to_numpy(np.float32))
    np.testing.assert_allclose(adapter.predict_proba(X), expected, atol=1e-5)
    assert adapter.classes_.tolist() == [0, 1]  # from the ZipMap's keys
    assert adapter.fingerprint() is None and adapter.describe()["path"] is None
    with pytest.raises(ModelFileError, match="'nope' is not an input"):
        OnnxModel(session, input_map={"nope": "age"})
    wrapped = wrap(session, features=NUM)
    assert isinstance(wrapped, OnnxModel) and wrapped.kind == "onnx"
    np.testing.assert_allclose(wrapped.predict_proba(X), expected, atol=1e-5)


def test_audit_accuracy_and_perturbation_explanations(tmp_path: Path) -> None:
    import auditkit

    X, y = _table(300)
    est = LogisticRegression(max_iter=500).fit(X[NUM].to_numpy(np.float32)[:200], y[:200])
    f = _export(est, [("float_input", FloatTensorType([None, 3]))], tmp_path / "m.onnx")
    Xte, yte = X.iloc[200:].reset_index(drop=True), y[200:]
    res = auditkit.audit(
        load_onnx(f, features=NUM), Xte, yte, sensitive_features=["group"],
        sections=["performance", "explainability"], n_boot=50,
    )  # fmt: skip
    own = est.predict(Xte[NUM].to_numpy(np.float32))
    assert res.section("performance").get("accuracy").value == pytest.approx(
        float((own == yte).mean())
    )
    ex = res.section("explainability")
    assert ex.status == "ok" and ex.info["method"] == "feature_ablation"
    names = {m.input_feature for m in ex.metrics if m.name == "importance"}
    assert set(NUM) <= names
