"""``auditkit audit MODEL --data FILE --train-data FILE``: the sections that need training rows.

A user's model carries no training data, so without ``--train-data`` membership inference and
drift are skipped. With it they run on the given rows: the privacy section's members are the
training file's rows, drift compares the two files column by column, and the data block and the
card name the training file with its sha256.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli_model_kinds import NET_SOURCE, _one_error_line

from auditkit.cli import main
from auditkit.data import sha256_file
from auditkit.report import load_result

FAST = ["--n-boot", "10", "--no-progress"]
NUM = ["age", "income", "hours"]


def _table(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(),
            "income": rng.normal(3 + shift, 1, n),
            "hours": rng.normal(38, 6, n).round(),
            "group": rng.choice(["a", "b"], n),
        }
    )
    noise = rng.normal(0, 0.5, n)
    df["y"] = ((df["income"] + 0.05 * (df["age"] - 40) + noise) > 3.1).astype(int)
    return df


def _skops_model(tmp_path: Path, train: pd.DataFrame) -> Path:
    sio = pytest.importorskip("skops.io")
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    pre = ColumnTransformer([("num", "passthrough", NUM)])
    forest = RandomForestClassifier(n_estimators=30, random_state=0)  # memorises: attackable
    pipe = Pipeline([("pre", pre), ("rf", forest)]).fit(train, train["y"])
    f = tmp_path / "model.skops"
    sio.dump(pipe, f)
    return f


def test_skops_model_with_training_rows_runs_privacy_and_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = _table(400, seed=0), _table(300, seed=1, shift=1.0)  # income shifted
    f = _skops_model(tmp_path, train)
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    base = ["audit", str(f), "--data", str(test_csv), "--target", "y", "--sensitive", "group",
            "--sections", "performance,privacy,drift", *FAST]  # fmt: skip
    # without training rows: privacy and drift say why they are skipped
    assert main([*base, "--out", str(tmp_path / "none")]) == 0
    res = load_result(tmp_path / "none" / "audit.json")
    for name in ("privacy", "drift"):
        assert res.section(name).status == "skipped", name
    # with them: both run on the given rows
    out = tmp_path / "out"
    assert main([*base, "--train-data", str(train_csv), "--timings", "--out", str(out)]) == 0
    capsys.readouterr()
    res = load_result(out / "audit.json")
    assert all(s.duration_s is not None and s.duration_s >= 0 for s in res.sections)
    untimed = load_result(tmp_path / "none" / "audit.json").sections
    assert all(s.duration_s is None for s in untimed)
    priv, drift = res.section("privacy"), res.section("drift")
    assert priv.status == "ok", priv.reason
    assert drift.status == "ok", drift.reason
    auc = [m for m in priv.metrics if m.name == "membership_auc"]
    assert auc and all(m.value is not None for m in auc)
    assert max(float(m.value) for m in auc) > 0.6  # a forest remembers its training rows
    psi = {
        str(m.input_feature): float(m.value)
        for m in drift.metrics
        if m.name == "population_stability_index" and m.feature is None
    }
    assert psi["income"] > 0.25 and psi["age"] < 0.1, psi
    data = json.loads((out / "audit.json").read_text())["data"]
    assert data["train_file"] == "train.csv"
    assert data["train_file_sha256"] == sha256_file(train_csv)
    html = (out / "card.html").read_text()
    assert "Training data file" in html and data["train_file_sha256"] in html


def test_onnx_model_with_training_rows_and_chosen_features(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    train, test = _table(400, seed=0), _table(200, seed=1)
    est = LogisticRegression(max_iter=500).fit(train[NUM].to_numpy(np.float32), train["y"])
    onx = convert_sklearn(est, initial_types=[("x", FloatTensorType([None, 3]))],
                          target_opset=17)  # fmt: skip
    f = tmp_path / "model.onnx"
    f.write_bytes(onx.SerializeToString())
    # the files carry a column the model does not take, in another order in the training file
    train = train.assign(zip=np.arange(len(train)) % 7)[["zip", "hours", "group", "y", "age",
                                                         "income"]]  # fmt: skip
    test = test.assign(zip=np.arange(len(test)) % 7)
    train.to_parquet(tmp_path / "train.parquet")
    test.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "out"
    argv = ["audit", str(f), "--data", str(tmp_path / "test.csv"), "--target", "y",
            "--sensitive", "group", "--features", ",".join(NUM), "--train-data",
            str(tmp_path / "train.parquet"), "--sections", "privacy,drift", *FAST,
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    res = load_result(out / "audit.json")
    assert res.section("privacy").status == "ok", res.section("privacy").reason
    drift = res.section("drift")
    assert drift.status == "ok", drift.reason
    features = {str(m.input_feature) for m in drift.metrics if m.input_feature is not None}
    assert features == set(NUM)  # the model's inputs only


def test_bad_training_files_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = _table(200, seed=0), _table(100, seed=1)
    f = _skops_model(tmp_path, train)
    test_csv = tmp_path / "test.csv"
    test.to_csv(test_csv, index=False)
    train.drop(columns="hours").to_csv(tmp_path / "short.csv", index=False)
    train.drop(columns="y").to_csv(tmp_path / "nolabel.csv", index=False)
    base = ["audit", str(f), "--data", str(test_csv), "--target", "y", "--sensitive", "group",
            *FAST]  # fmt: skip
    cases = [
        (["--train-data", str(tmp_path / "short.csv")], ["hours", "short.csv"]),
        (["--train-data", str(tmp_path / "nolabel.csv")], ["'y'", "nolabel.csv"]),
        (["--train-data", str(tmp_path / "missing.csv")], ["missing.csv", "does not exist"]),
        (["--train-data", str(test_csv)], ["same file"]),
    ]
    for extra, needles in cases:
        out = tmp_path / "never"
        assert main([*base, *extra, "--out", str(out)]) == 2, extra
        line = _one_error_line(capsys.readouterr().err)
        for needle in needles:
            assert needle in line, (needle, line)
        assert not out.exists()
    log = ["audit", "--predictions", str(test_csv), "--y-true", "y", "--y-pred", "y",
           "--sensitive", "group", "--train-data", str(test_csv), *FAST]  # fmt: skip
    assert main([*log, "--out", str(tmp_path / "never")]) == 2
    assert "--train-data" in _one_error_line(capsys.readouterr().err)


def test_auditkit_checkpoint_takes_training_rows_only_with_a_data_file(
    tiny_ckpt, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from auditkit.data._datasets import load_dataset

    ckpt = tiny_ckpt("adult-mlp")
    ds = load_dataset("adult")
    tr = ds.train.X.iloc[:300].assign(income=ds.train.y[:300])
    te = ds.test.X.iloc[:300].assign(income=ds.test.y[:300])
    tr.to_csv(tmp_path / "train.csv", index=False)
    te.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "out"
    argv = ["audit", str(ckpt), "--data", str(tmp_path / "test.csv"), "--target", "income",
            "--train-data", str(tmp_path / "train.csv"), "--sections", "privacy,drift", *FAST]
    assert main([*argv, "--out", str(out)]) == 0
    res = load_result(out / "audit.json")
    for name in ("privacy", "drift"):
        assert res.section(name).status == "ok", res.section(name).reason
    assert res.data["train_file"] == "train.csv"
    capsys.readouterr()
    # on its own dataset the checkpoint uses the rows its weights were fitted on
    own = ["audit", str(ckpt), "--train-data", str(tmp_path / "train.csv"), *FAST]
    assert main([*own, "--out", str(tmp_path / "never")]) == 2
    assert "--train-data goes with --data FILE" in _one_error_line(capsys.readouterr().err)




def _image_folder(root: Path, n_per_class: int, seed: int, classes=("cat", "dog")) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for k, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(n_per_class):
            img = rng.integers(0, 128 + 127 * k, size=(8, 8, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / c / f"{i}.png")


def test_image_models_take_a_training_folder_or_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("pytorch_lightning")
    from auditkit.adapters.lightning import import_model_class

    src = tmp_path / "nets.py"
    src.write_text(NET_SOURCE)  # its ImageNet class
    torch.manual_seed(0)
    net = import_model_class(f"{src}:ImageNet")().eval()
    ckpt = tmp_path / "img.ckpt"
    torch.save({"state_dict": net.state_dict(), "hyper_parameters": dict(net.hparams)}, ckpt)
    _image_folder(tmp_path / "test", 12, seed=1)
    _image_folder(tmp_path / "train", 20, seed=2)
    base = ["audit", str(ckpt), "--model-class", f"{src}:ImageNet", "--image-size", "8",
            "--sections", "privacy", *FAST]  # fmt: skip
    out = tmp_path / "out"
    argv = [*base, "--data", str(tmp_path / "test"), "--train-data", str(tmp_path / "train")]
    assert main([*argv, "--out", str(out)]) == 0
    doc = json.loads((out / "audit.json").read_text())
    priv = next(s for s in doc["sections"] if s["name"] == "privacy")
    assert priv["status"] == "ok", priv.get("reason")
    assert doc["data"]["train_folder"] == "train"
    auc = {m["attack"]: m for m in doc["metrics"] if m["name"] == "membership_auc"}
    assert 0.0 <= auc["loss"]["value"] <= 1.0
    ref = auc["reference"]
    assert ref["value"] is None and "cannot be retrained" in ref["reason"]
    capsys.readouterr()
    # a training class the model does not have; a file for a folder: one line, exit 2
    _image_folder(tmp_path / "odd", 3, seed=3, classes=("cat", "bird"))
    (tmp_path / "x.csv").write_text("file,label\n")
    for train, needle in [("odd", "'bird'"), ("x.csv", "must be one too")]:
        bad = [*base, "--data", str(tmp_path / "test"), "--train-data", str(tmp_path / train)]
        assert main([*bad, "--out", str(tmp_path / "never")]) == 2
        assert needle in _one_error_line(capsys.readouterr().err)
    # images listed in tables: the training table's paths are relative to its own folder
    for split in ("test", "train"):
        rows = [{"file": f"{split}/{c}/{i}.png", "label": k, "site": "ns"[i % 2]}
                for k, c in enumerate(("cat", "dog")) for i in range(12)]  # fmt: skip
        pd.DataFrame(rows).to_csv(tmp_path / f"{split}.csv", index=False)
    out2 = tmp_path / "out2"
    argv = [*base, "--data", str(tmp_path / "test.csv"), "--target", "label", "--image-column",
            "file", "--sensitive", "site", "--train-data", str(tmp_path / "train.csv")]
    assert main([*argv, "--out", str(out2)]) == 0
    doc = json.loads((out2 / "audit.json").read_text())
    priv = next(s for s in doc["sections"] if s["name"] == "privacy")
    assert priv["status"] == "ok", priv.get("reason")
    assert doc["data"]["train_file"] == "train.csv"
