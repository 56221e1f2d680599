"""Every model kind through the public API: ``auditkit.load_model``, ``audit`` and ``explain``.

For each kind (a Hugging Face text classifier, an ONNX export of scikit-learn, a skops file, a
pickle with ``allow_pickle``, a user's LightningModule) the accuracy in the audit equals the
accuracy of the model's own predictions through its own library, and the explainability
records are named by the user's tokens or columns. The models are built by the adapters' tests'
builders (nothing is downloaded).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import auditkit
from auditkit.exceptions import UnsafeModelError

SECTIONS = ["performance", "fairness", "explainability"]


def _accuracy(res: auditkit.AuditResult) -> float:
    return float(res.section("performance").get("accuracy").value)


def _importance_names(res: auditkit.AuditResult) -> set[str]:
    ex = res.section("explainability")
    assert ex.status == "ok", ex.reason
    return {m.input_feature for m in ex.metrics if m.name == "importance"}


# ------------------------------------------------------------------------------ Hugging Face
@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from test_adapters_hf import _tiny_bert

    folder = tmp_path_factory.mktemp("kinds-hf") / "tiny-bert"
    model, tok = _tiny_bert(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def test_hugging_face_text(bert_dir: Path) -> None:
    from test_adapters_hf import NEG, NEUTRAL, POS, SPECIAL, _own_predictions, _texts

    texts, y = _texts(60, seed=7)
    X = pd.DataFrame({"review": texts, "group": np.where(np.arange(60) % 2, "a", "b")})
    model = auditkit.load_model(bert_dir, text_column="review")
    assert model.kind == "huggingface"
    res = auditkit.audit(
        model, X, y, sensitive_features=["group"], n_boot=0, sections=SECTIONS,
        options={"explain_max_rows": 12, "explain_sanity_rows": 3},
    )  # fmt: skip
    own = _own_predictions(bert_dir, texts)
    assert _accuracy(res) == pytest.approx(float((own == y).mean()))
    tokens = _importance_names(res)
    assert tokens and tokens <= set(POS + NEG + NEUTRAL + ["[UNK]"])  # no [CLS], [SEP]
    assert not tokens & set(SPECIAL) - {"[UNK]"}
    # labels given by name (config.id2label), and the classes named in the result
    names = np.asarray(["negative", "positive"], dtype=object)[y]
    by_name = auditkit.audit(
        model, X, names, sensitive_features=["group"], n_boot=0, sections=["performance"]
    )
    assert _accuracy(by_name) == _accuracy(res)
    assert by_name.to_dict()["data"]["schema"]["class_names"] == ["negative", "positive"]
    # the path with the default options: a list of texts
    by_path = auditkit.audit(str(bert_dir), texts, y, n_boot=0, sections=["performance"])
    assert _accuracy(by_path) == _accuracy(res)


def test_hugging_face_baselines_keep_special_tokens(bert_dir: Path) -> None:
    import torch
    from test_adapters_hf import _texts

    from auditkit.explanation import _baselines, _subject

    texts, _ = _texts(4, seed=8)
    subject = _subject(auditkit.load_model(bert_dir), texts)
    assert subject.special_ids
    base = _baselines(None, "layer_integrated_gradients", subject, 0)
    assert isinstance(base, torch.Tensor) and base.shape == subject.x.shape
    tok = auditkit.load_model(bert_dir).tokenizer
    special = torch.isin(subject.x, torch.as_tensor(subject.special_ids))
    assert torch.equal(base[special], subject.x[special])  # [CLS], [SEP], [PAD] kept
    assert bool((base[~special] == tok.unk_token_id).all())  # every word unknown
    e = auditkit.explain(str(bert_dir), texts[:2], n_steps=4)
    assert e.method == "layer_integrated_gradients" and "[CLS]" in e.info["special_tokens"]


# ------------------------------------------------------------------------------------ ONNX
def test_onnx_export_of_sklearn(tmp_path: Path) -> None:
    pytest.importorskip("skl2onnx")
    import onnxruntime as ort
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression
    from test_adapters_onnx import NUM, _export, _table

    X, y = _table(300)
    est = LogisticRegression(max_iter=500).fit(X[NUM].to_numpy(np.float32)[:200], y[:200])
    f = _export(est, [("float_input", FloatTensorType([None, 3]))], tmp_path / "m.onnx")
    Xte, yte = X.iloc[200:].reset_index(drop=True), y[200:]
    res = auditkit.audit(
        auditkit.load_model(f, features=NUM), Xte, yte, sensitive_features=["group"],
        n_boot=0, sections=SECTIONS,
    )  # fmt: skip
    session = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
    own = session.run(None, {"float_input": Xte[NUM].to_numpy(np.float32)})[0]
    assert _accuracy(res) == pytest.approx(float((np.asarray(own) == yte).mean()))
    assert set(NUM) <= _importance_names(res)
    by_path = auditkit.audit(
        str(f), Xte[NUM], yte, sensitive_features=Xte["group"], n_boot=0,
        sections=["performance"],
    )  # fmt: skip
    assert _accuracy(by_path) == _accuracy(res)
    e = auditkit.explain(str(f), Xte[NUM].head(5))
    assert e.method == "feature_ablation" and list(e.feature_names) == NUM


# ------------------------------------------------------------------------- skops and pickle
def _frame(n: int = 160) -> tuple[pd.DataFrame, np.ndarray]:
    from test_adapters_skops import _data

    A, y = _data(n)
    X = pd.DataFrame(A, columns=["w", "x", "y", "z"])
    X["group"] = np.where(np.arange(n) % 3 == 0, "a", "b")
    return X, y


COLS = ["w", "x", "y", "z"]


def test_skops_file(tmp_path: Path) -> None:
    sio = pytest.importorskip("skops.io")
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = _frame()
    pipe = make_pipeline(
        ColumnTransformer([("num", "passthrough", COLS)]), LogisticRegression()
    ).fit(X[:100], y[:100])
    f = tmp_path / "model.skops"
    sio.dump(pipe, f)
    Xte, yte = X.iloc[100:].reset_index(drop=True), y[100:]
    res = auditkit.audit(
        auditkit.load_model(f), Xte, yte, sensitive_features=["group"], n_boot=0,
        sections=SECTIONS,
    )  # fmt: skip
    assert _accuracy(res) == pytest.approx(float((pipe.predict(Xte) == yte).mean()))
    assert _importance_names(res) == set(Xte.columns)
    by_path = auditkit.audit(
        str(f), Xte, yte, sensitive_features=["group"], n_boot=0, sections=["performance"]
    )
    assert _accuracy(by_path) == _accuracy(res)
    assert list(auditkit.explain(str(f), Xte.head(4)).feature_names) == list(Xte.columns)


def test_pickle_only_through_load_model_with_allow_pickle(tmp_path: Path) -> None:
    from test_adapters_skops import _data, _Payload

    marker = tmp_path / "marker.txt"
    f = tmp_path / "model.pkl"
    f.write_bytes(pickle.dumps(_Payload(marker)))
    A, y = _data()
    for call in (
        lambda: auditkit.audit(str(f), A, y, n_boot=0),
        lambda: auditkit.explain(f, A),
        lambda: auditkit.load_model(f),
    ):
        with pytest.raises(UnsafeModelError, match="allow_pickle=True") as exc:
            call()
        assert str(f) in str(exc.value) and "\n" not in str(exc.value)
        assert not marker.exists()  # the file was never unpickled
    with pytest.raises(UnsafeModelError, match=r"auditkit\.load_model\(path, allow_pickle=True\)"):
        auditkit.audit(f, A, y, n_boot=0)
    model = auditkit.load_model(f, allow_pickle=True)
    assert marker.exists()
    res = auditkit.audit(model, A, y, sensitive_features=A[:, 3] > 0, n_boot=0, sections=SECTIONS)
    assert _accuracy(res) == pytest.approx(float((model.raw.predict(A) == y).mean()))
    assert _importance_names(res) == {"x0", "x1", "x2", "x3"}
    assert res.to_dict()["model"]["unpickled"] is True


# ------------------------------------------------------------------------- user Lightning
def test_user_lightning_module(tmp_path: Path) -> None:
    import torch

    pl = pytest.importorskip("pytorch_lightning")
    from test_adapters_lightning import COLUMNS, NET_SOURCE, _table

    src = tmp_path / "my_models.py"
    src.write_text(NET_SOURCE)
    from auditkit.adapters.lightning import import_model_class

    Net = import_model_class(f"{src}:Net")
    pl.seed_everything(0, verbose=False)
    X, y = _table(256, seed=0)
    ds = torch.utils.data.TensorDataset(
        torch.tensor(X[COLUMNS].to_numpy(np.float32)), torch.as_tensor(y)
    )
    net = Net()
    trainer = pl.Trainer(
        max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(net, torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True))
    ckpt = tmp_path / "net.ckpt"
    trainer.save_checkpoint(ckpt)
    net.eval()
    Xte, yte = _table(150, seed=2)
    model = auditkit.load_model(ckpt, model_class=f"{src}:Net", features=COLUMNS)
    res = auditkit.audit(
        model, Xte, yte, sensitive_features=["group"], n_boot=0, sections=SECTIONS
    )
    with torch.no_grad():
        own = net(torch.tensor(Xte[COLUMNS].to_numpy(np.float32))).argmax(1).numpy()
    assert _accuracy(res) == pytest.approx(float((own == yte).mean()))
    assert _importance_names(res) == set(COLUMNS)
    wrapped = auditkit.wrap(net, features=COLUMNS)
    assert wrapped.kind == "lightning"
    np.testing.assert_allclose(wrapped.predict_proba(Xte), model.predict_proba(Xte), atol=1e-6)
    with pytest.raises(auditkit.exceptions.CheckpointError, match="--model-class"):
        auditkit.audit(str(ckpt), Xte, yte, n_boot=0)  # not auditkit's: name the class


# ------------------------------------------------------------------ methods without gradients
def test_models_without_gradients_default_and_sampling_methods(monkeypatch) -> None:
    from sklearn.linear_model import LogisticRegression

    from auditkit.explanation import _subject, available_methods
    from auditkit.runtime import attribution

    rng = np.random.default_rng(0)
    images = rng.random((3, 3, 6, 6))

    def proba(x: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-np.asarray(x).reshape(len(x), -1).mean(axis=1)))
        return np.column_stack([1 - p, p])

    e = auditkit.explain(proba, images)
    assert e.method == "occlusion" and e.values.shape == images.shape
    A = rng.normal(size=(30, 3))
    clf = LogisticRegression().fit(A, (A[:, 0] > 0).astype(int))
    # the runtime has the sampling methods now: they are offered to tables without gradients
    assert available_methods(_subject(clf, A)) == [
        "feature_ablation",
        "shapley_value_sampling",
        "kernel_shap",
    ]
    monkeypatch.setattr(
        attribution, "METHODS", (*attribution.METHODS, "shapley_value_sampling", "kernel_shap")
    )
    tab = available_methods(_subject(clf, A))
    assert tab == ["feature_ablation", "shapley_value_sampling", "kernel_shap"]
    assert available_methods(_subject(proba, images)) == ["feature_ablation", "occlusion"]
