"""``auditkit audit MODEL`` and ``auditkit info MODEL`` for every kind of model file.

Each test builds a tiny model in tmp_path (no download), audits it from the command line and
checks that the accuracy in audit.json equals the accuracy of the model's own predictions,
computed with its own library (scikit-learn, onnxruntime, Lightning, transformers).
"""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.cli import main
from auditkit.report import load_result

FAST = ["--n-boot", "10", "--no-progress"]


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("auditkit: error: ") and "Traceback" not in err
    return lines[0]


def _audit(model: Path | str, out: Path, *extra: str) -> int:
    return main(["audit", str(model), *extra, *FAST, "--out", str(out)])


def _accuracy(out: Path) -> float:
    return float(load_result(out / "audit.json").section("performance").get("accuracy").value)


def _importance_names(out: Path) -> set[str]:
    ex = load_result(out / "audit.json").section("explainability")
    assert ex.status == "ok", ex.reason
    return {str(m.input_feature) for m in ex.metrics if m.name == "importance"}


# ---------------------------------------------------------------------- tables (sklearn)
NUM = ["age", "income", "hours"]


def _table(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(),
            "income": rng.normal(3, 1, n),
            "hours": rng.normal(38, 6, n).round(),
            "group": rng.choice(["a", "b"], n),
        }
    )
    noise = rng.normal(0, 0.5, n)
    df["y"] = ((df["income"] + 0.05 * (df["age"] - 40) + noise) > 3.1).astype(int)
    return df


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def _pipeline(df: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pre = ColumnTransformer([("num", StandardScaler(), NUM)])
    return Pipeline([("pre", pre), ("lr", LogisticRegression())]).fit(df, df["y"])


def test_skops_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sio = pytest.importorskip("skops.io")
    df = _table()
    train, test = df.iloc[:160], df.iloc[160:].reset_index(drop=True)
    pipe = _pipeline(train)
    f = tmp_path / "model.skops"
    sio.dump(pipe, f)
    csv = _csv(test, tmp_path / "test.csv")
    out = tmp_path / "out"
    assert _audit(f, out, "--data", str(csv), "--target", "y", "--sensitive", "group",
                  "--sections", "performance,fairness") == 0  # fmt: skip
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Model: scikit-learn model saved with skops model.skops")
    own = pipe.predict(test.drop(columns="y"))
    assert _accuracy(out) == pytest.approx(float((own == test["y"]).mean()))
    model = json.loads((out / "audit.json").read_text())["model"]
    assert model["file_format"] == "skops" and model["unpickled"] is False
    assert main(["info", str(f)]) == 0
    info = capsys.readouterr().out
    assert "skops" in info and "Pipeline" in info and "retraining: yes" in info
    assert "drift run with --train-data FILE" in info
    assert "columns age, income, hours, group, y" in info  # as the pipeline was fitted


class _Payload:
    """Unpickles into a fitted pipeline, writing a marker file on the way (code from the file)."""

    def __init__(self, marker: Path, model: object) -> None:
        self.marker, self.model = str(marker), model

    def __reduce__(self):
        return (_build_and_mark, (self.marker, self.model))


def _build_and_mark(marker: str, model: object) -> object:
    Path(marker).write_text("the pickle ran code")
    return model


def test_pickle_refused_without_allow_pickle_and_accepted_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = _table()
    pipe = _pipeline(df)
    marker = tmp_path / "marker.txt"
    f = tmp_path / "model.pkl"
    f.write_bytes(pickle.dumps(_Payload(marker, pipe)))
    csv = _csv(df, tmp_path / "data.csv")
    args = ["--data", str(csv), "--target", "y", "--sensitive", "group", "--sections",
            "performance"]  # fmt: skip
    assert _audit(f, tmp_path / "refused", *args) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--allow-pickle" in line and "model.pkl" in line
    assert not marker.exists() and not (tmp_path / "refused").exists()
    assert main(["info", str(f)]) == 0  # info says what the file is, without opening it
    info = capsys.readouterr().out
    assert "pickled model" in info and "refused without --allow-pickle" in info
    assert not marker.exists()

    out = tmp_path / "out"
    assert _audit(f, out, *args, "--allow-pickle") == 0
    assert marker.exists()  # the code in the file ran: what the flag allows
    model = json.loads((out / "audit.json").read_text())["model"]
    assert model["unpickled"] is True and model["file"] == "model.pkl"
    own = pipe.predict(df.drop(columns="y"))
    assert _accuracy(out) == pytest.approx(float((own == df["y"]).mean()))


# ---------------------------------------------------------------------------------- ONNX
def test_onnx_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    df = _table()
    train, test = df.iloc[:160], df.iloc[160:].reset_index(drop=True)
    est = LogisticRegression(max_iter=500).fit(train[NUM].to_numpy(np.float32), train["y"])
    onx = convert_sklearn(est, initial_types=[("float_input", FloatTensorType([None, 3]))],
                          target_opset=17)  # fmt: skip
    f = tmp_path / "model.onnx"
    f.write_bytes(onx.SerializeToString())
    table = test.assign(zip=np.arange(len(test)) % 7)[["age", "zip", "group", "income", "y",
                                                       "hours"]]  # fmt: skip
    csv = _csv(table, tmp_path / "test.csv")
    out = tmp_path / "out"
    # default features: every column but --target and --sensitive (here 4: one too many)
    argv = ["--data", str(csv), "--target", "y", "--sensitive", "group",
            "--sections", "performance,explainability"]  # fmt: skip
    assert _audit(f, out, *argv) == 2
    assert "--features" in _one_error_line(capsys.readouterr().err)
    assert _audit(f, out, *argv, "--features", ",".join(NUM)) == 0
    assert capsys.readouterr().out.startswith("Model: ONNX model model.onnx (tabular; 2 classes")
    sess = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
    own = sess.run(None, {"float_input": test[NUM].to_numpy(np.float32)})[0]
    assert _accuracy(out) == pytest.approx(float((own == test["y"]).mean()))
    assert _importance_names(out) == set(NUM)
    assert load_result(out / "audit.json").data["sensitive_features"] == ["group"]
    # a table of the model's columns, in its order, needs no --features
    csv2 = _csv(test[["age", "group", "income", "y", "hours"]], tmp_path / "ordered.csv")
    assert _audit(f, tmp_path / "out2", "--data", str(csv2), "--target", "y", "--sensitive",
                  "group", "--sections", "performance") == 0  # fmt: skip
    assert _accuracy(tmp_path / "out2") == _accuracy(out)
    capsys.readouterr()
    assert main(["info", str(f)]) == 0
    info = capsys.readouterr().out
    assert "ONNX model" in info and "float_input" in info and "gradients: no" in info


# ---------------------------------------------------------------------- user Lightning
NET_SOURCE = textwrap.dedent(
    """
    import torch
    import pytorch_lightning as pl


    class Net(pl.LightningModule):
        def __init__(self, n_features: int = 4, hidden: int = 8, lr: float = 0.1):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(n_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2)
            )

        def forward(self, x):
            return self.net(x)


    class Other(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.body(x)


    class ImageNet(pl.LightningModule):
        def __init__(self, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)):
            super().__init__()
            self.save_hyperparameters()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.head = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.conv(x).mean(dim=(2, 3)))
    """
)
COLS = ["a", "b", "c", "d"]


def _lightning_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=COLS)
    df.insert(2, "group", rng.choice(["x", "y"], n))  # a sensitive column between features
    df["label"] = ((df["a"] - df["b"] + 0.3 * rng.normal(size=n)) > 0).astype(int)
    return df


def _save(net, path: Path) -> Path:
    """A checkpoint as Lightning writes it (state_dict and hyper_parameters)."""
    import torch

    torch.save({"state_dict": net.state_dict(), "hyper_parameters": dict(net.hparams)}, path)
    return path


def test_user_lightning_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("pytorch_lightning")
    from auditkit.adapters.lightning import import_model_class

    src = tmp_path / "my_models.py"
    src.write_text(NET_SOURCE)
    torch.manual_seed(0)
    net = import_model_class(f"{src}:Net")()
    df = _lightning_table(300, seed=0)
    x = torch.tensor(df[COLS].to_numpy(np.float32))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    target = torch.tensor(df["label"].to_numpy().copy())
    for _ in range(60):  # seconds of training, a plain loop
        loss = torch.nn.functional.cross_entropy(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    ckpt = _save(net, tmp_path / "net.ckpt")
    test = _lightning_table(150, seed=1)
    csv = _csv(test, tmp_path / "test.csv")
    out = tmp_path / "out"
    argv = ["--data", str(csv), "--target", "label", "--sensitive", "group"]
    assert _audit(ckpt, out, "--model-class", f"{src}:Net", *argv,
                  "--sections", "performance,fairness,explainability") == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("Model: LightningModule checkpoint net.ckpt")
    with torch.no_grad():
        own = net(torch.tensor(test[COLS].to_numpy(np.float32))).argmax(1).numpy()
    assert _accuracy(out) == pytest.approx(float((own == test["label"]).mean()))
    assert _importance_names(out) == set(COLS)
    model = json.loads((out / "audit.json").read_text())["model"]
    assert model["kind"] == "lightning" and model["features"] == COLS
    # without --model-class: not an auditkit checkpoint, and the message says what to pass
    assert _audit(ckpt, tmp_path / "x", *argv) == 2
    assert "--model-class" in _one_error_line(capsys.readouterr().err)
    # a class that does not import, keys that do not fit: one line, exit 2
    for spec, needle in [(f"{src}:Nope", "Nope"), (f"{src}:Other", "Other")]:
        assert _audit(ckpt, tmp_path / "x", "--model-class", spec, *argv) == 2
        assert needle in _one_error_line(capsys.readouterr().err)
    bad_device = ["--model-class", f"{src}:Net", *argv, "--device", "tpu"]
    assert _audit(ckpt, tmp_path / "x", *bad_device) == 2
    assert "--device takes cpu" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "x").exists()
    assert main(["info", str(ckpt), "--model-class", f"{src}:Net"]) == 0
    info = capsys.readouterr().out
    assert "weights_only=True" in info and "gradients: yes" in info and "Net" in info


def test_user_lightning_module_on_an_image_folder(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("pytorch_lightning")
    from PIL import Image

    from auditkit.adapters.lightning import import_model_class

    src = tmp_path / "my_models.py"
    src.write_text(NET_SOURCE)
    torch.manual_seed(0)
    net = import_model_class(f"{src}:ImageNet")().eval()
    ckpt = _save(net, tmp_path / "img.ckpt")
    imgs = np.random.default_rng(0).integers(0, 256, size=(8, 8, 8, 3), dtype=np.uint8)
    for k, c in enumerate(["cat", "dog"]):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(imgs[k * 4 + i]).save(tmp_path / "imgs" / c / f"{i}.png")
    out = tmp_path / "out"
    assert _audit(ckpt, out, "--model-class", f"{src}:ImageNet", "--data",
                  str(tmp_path / "imgs"), "--image-size", "8", "--sections",
                  "performance,explainability") == 0  # fmt: skip
    x = (torch.as_tensor(imgs, dtype=torch.float32).permute(0, 3, 1, 2) / 255 - 0.5) / 0.25
    with torch.no_grad():
        own = net(x).argmax(1).numpy()
    y = np.repeat([0, 1], 4)
    assert _accuracy(out) == pytest.approx(float((own == y).mean()))
    data = json.loads((out / "audit.json").read_text())
    ex = next(s for s in data["sections"] if s["name"] == "explainability")
    assert ex["status"] == "ok" and data["data"]["schema"]["class_names"] == ["cat", "dog"]
    assert data["model"]["image_size"] == [8, 8]
    # an image folder without --image-size: one line
    assert _audit(ckpt, tmp_path / "y", "--model-class", f"{src}:ImageNet", "--data",
                  str(tmp_path / "imgs")) == 2  # fmt: skip


def test_user_lightning_module_on_images_listed_in_a_table(tmp_path: Path) -> None:
    """--image-column: image paths in a CSV whose other columns are the label and the groups."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("pytorch_lightning")
    from PIL import Image

    from auditkit.adapters.lightning import import_model_class

    src = tmp_path / "my_models.py"
    src.write_text(NET_SOURCE)
    torch.manual_seed(0)
    net = import_model_class(f"{src}:ImageNet")().eval()
    ckpt = _save(net, tmp_path / "img.ckpt")
    n = 40
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    (tmp_path / "pics").mkdir()
    for i in range(n):
        Image.fromarray(imgs[i]).save(tmp_path / "pics" / f"{i}.png")
    y = rng.integers(0, 2, n)
    table = pd.DataFrame({"file": [f"pics/{i}.png" for i in range(n)], "label": y,
                          "site": rng.choice(["north", "south"], n)})  # fmt: skip
    table.to_csv(tmp_path / "images.csv", index=False)
    out = tmp_path / "out"
    assert _audit(ckpt, out, "--model-class", f"{src}:ImageNet", "--data",
                  str(tmp_path / "images.csv"), "--target", "label", "--image-column", "file",
                  "--sensitive", "site", "--image-size", "8", "--sections",
                  "performance,fairness") == 0  # fmt: skip
    x = (torch.as_tensor(imgs, dtype=torch.float32).permute(0, 3, 1, 2) / 255 - 0.5) / 0.25
    with torch.no_grad():
        own = net(x).argmax(1).numpy()
    assert _accuracy(out) == pytest.approx(float((own == y).mean()))
    data = json.loads((out / "audit.json").read_text())
    fair = next(s for s in data["sections"] if s["name"] == "fairness")
    assert fair["status"] in ("ok", "warn", "fail"), fair.get("reason")
    groups = {m["group"][0] for m in data["metrics"] if m["section"] == "fairness"
              and m.get("feature") == ["site"] and m.get("group")}  # fmt: skip
    assert {"north", "south"} <= groups
    # a path that is not a file: one line, exit 2
    table.loc[3, "file"] = "pics/missing.png"
    table.to_csv(tmp_path / "bad.csv", index=False)
    assert _audit(ckpt, tmp_path / "z", "--model-class", f"{src}:ImageNet", "--data",
                  str(tmp_path / "bad.csv"), "--target", "label", "--image-column", "file",
                  "--image-size", "8") == 2  # fmt: skip


# -------------------------------------------------------------------------- Hugging Face
POS = ["good", "great", "fine", "lovely", "superb"]
NEG = ["bad", "awful", "poor", "dull", "boring"]
NEUTRAL = ["the", "film", "was", "a", "plot", "and", "actors", "story", "very", "quite"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _texts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(2))
        words = list(rng.choice(NEUTRAL, size=int(rng.integers(3, 9))))
        words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POS if y else NEG)))
        if rng.random() < 0.15:
            words.append(str(rng.choice(NEG if y else POS)))
        texts.append(" ".join(words))
        labels.append(y)
    return texts, np.asarray(labels)


def _tiny_bert(folder: Path) -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    vocab = {w: i for i, w in enumerate(SPECIAL + POS + NEG + NEUTRAL)}
    tok = transformers.BertTokenizerFast(vocab=vocab, model_max_length=32)
    cfg = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, num_labels=2,
        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg)
    texts, y = _texts(160, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    for step in range(30):
        idx = np.arange(step * 16, step * 16 + 16) % len(texts)
        enc = tok([texts[i] for i in idx], padding=True, truncation=True, return_tensors="pt")
        loss = model(**enc, labels=torch.as_tensor(y[idx])).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)


def test_hugging_face_text_classifier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    folder = tmp_path / "tiny-bert"
    _tiny_bert(folder)
    capsys.readouterr()  # transformers' progress bar while saving
    texts, y = _texts(90, seed=2)
    names = np.asarray(["negative", "positive"])[y]  # labels by the model's own class names
    group = np.where(np.arange(len(texts)) % 3 == 0, "a", "b")
    csv = _csv(pd.DataFrame({"review": texts, "lang": group, "label": names}),
               tmp_path / "reviews.csv")  # fmt: skip
    out = tmp_path / "out"
    argv = ["--data", str(csv), "--target", "label", "--sensitive", "lang"]
    assert _audit(folder, out, *argv, "--sections", "performance") == 2  # no --text-column
    assert "--text-column" in _one_error_line(capsys.readouterr().err)
    assert _audit(folder, out, *argv, "--text-column", "review",
                  "--sections", "performance,fairness") == 0  # fmt: skip
    assert capsys.readouterr().out.startswith(
        "Model: Hugging Face model tiny-bert (text; 2 classes: negative, positive)"
    )
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, return_tensors="pt")
        own = model(**enc).logits.argmax(dim=1).numpy()
    assert _accuracy(out) == pytest.approx(float((own == y).mean()))
    assert main(["info", str(folder)]) == 0
    info = capsys.readouterr().out
    assert "BertForSequenceClassification" in info and "BertTokenizer" in info
    assert "negative, positive" in info and "gradients: yes" in info
    # a tokenizer missing from the folder: one line naming it
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer_config.json").unlink()
    for extra in ("vocab.txt", "special_tokens_map.json"):
        (folder / extra).unlink(missing_ok=True)
    assert main(["info", str(folder)]) == 2
    assert "tokenizer" in _one_error_line(capsys.readouterr().err)


def test_hugging_face_explanations_are_named_by_tokens(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    folder = tmp_path / "tiny-bert"
    _tiny_bert(folder)
    texts, y = _texts(40, seed=3)
    csv = _csv(pd.DataFrame({"review": texts, "label": y}), tmp_path / "reviews.csv")
    out = tmp_path / "out"
    assert _audit(folder, out, "--data", str(csv), "--target", "label", "--text-column",
                  "review", "--sections", "explainability") == 0  # fmt: skip
    words = set(POS + NEG + NEUTRAL)
    assert _importance_names(out) & words


# ----------------------------------------------------------------------------- bad input
def test_other_kinds_need_a_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sio = pytest.importorskip("skops.io")
    df = _table()
    f = tmp_path / "model.skops"
    sio.dump(_pipeline(df), f)
    out = tmp_path / "out"
    cases = [
        ([], "--data FILE --target COL"),
        (["--data", "adult"], "bundled datasets go with auditkit checkpoints"),
        (["--data", str(_csv(df, tmp_path / "d.csv"))], "--target"),
        (["--devices", "2"], "--devices"),
        (["--features", "age"], "--features"),
        (["--model-class", "x:Net"], "--model-class"),
        (["--device", "cuda"], "--device goes with a LightningModule"),
    ]
    for extra, needle in cases:
        assert _audit(f, out, *extra) == 2, extra
        assert needle in _one_error_line(capsys.readouterr().err), extra
    assert not out.exists()
    bad = tmp_path / "model.xyz"
    bad.write_text("hello")
    assert _audit(bad, out) == 2
    assert "of no model kind" in _one_error_line(capsys.readouterr().err)
    assert main(["info", str(tmp_path / "absent.onnx")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err)


def test_hugging_face_image_classifier_on_an_image_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from PIL import Image

    cfg = transformers.ViTConfig(
        image_size=8, patch_size=4, num_channels=3, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=16, num_labels=3,
        id2label={0: "cat", 1: "dog", 2: "bird"}, label2id={"cat": 0, "dog": 1, "bird": 2},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(cfg).eval()
    proc = transformers.ViTImageProcessor(size={"height": 8, "width": 8})
    folder = tmp_path / "vit"
    model.save_pretrained(folder, safe_serialization=True)
    proc.save_pretrained(folder)
    imgs = np.random.default_rng(0).integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)
    for k, c in enumerate(["bird", "dog"]):  # sub-folders named by the model's classes
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(imgs[k * 3 + i]).save(tmp_path / "imgs" / c / f"{i}.png")
    capsys.readouterr()
    out = tmp_path / "out"
    assert _audit(folder, out, "--data", str(tmp_path / "imgs"), "--sections",
                  "performance") == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("Model: Hugging Face model vit (image; 3 classes")
    with torch.no_grad():
        px = proc(list(imgs), return_tensors="pt")["pixel_values"]
        own = model(pixel_values=px).logits.argmax(1).numpy()
    y = np.repeat([2, 1], 3)  # bird, dog in the model's own class indices
    assert _accuracy(out) == pytest.approx(float((own == y).mean()))
    (tmp_path / "imgs" / "fish").mkdir()
    Image.fromarray(imgs[0]).save(tmp_path / "imgs" / "fish" / "0.png")
    assert _audit(folder, tmp_path / "x", "--data", str(tmp_path / "imgs")) == 2
    assert "'fish'" in _one_error_line(capsys.readouterr().err)
    assert main(["info", str(folder)]) == 0
    assert "ViTImageProcessor" in capsys.readouterr().out
