"""Recognising a model path's kind and opening it with the right loader (models/kinds.py)."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from auditkit.adapters.errors import ModelFileError, UnsafeModelError
from auditkit.exceptions import CheckpointError
from auditkit.models.kinds import model_kind, open_model_file


def _fitted() -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), X


def _marker_payload(marker: Path) -> bytes:
    class Payload:
        def __reduce__(self):
            return (Path.write_text, (marker, "ran"))

    return pickle.dumps(Payload())


def test_folder_and_file_kinds(tmp_path: Path) -> None:
    hf = tmp_path / "bert"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert model_kind(hf) == "huggingface"
    with pytest.raises(ModelFileError, match="has no safetensors weights"):
        open_model_file(hf)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFileError, match="no config.json"):
        model_kind(empty)
    (tmp_path / "w.safetensors").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="holds only weights"):
        model_kind(tmp_path / "w.safetensors")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelFileError, match="of no model kind") as exc:
        model_kind(tmp_path / "notes.txt")
    assert "--allow-pickle" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(ModelFileError, match="not found"):
        model_kind(tmp_path / "absent.onnx")


def test_onnx_and_skops_by_suffix_and_by_content(tmp_path: Path) -> None:
    pytest.importorskip("skl2onnx")
    sio = pytest.importorskip("skops.io")
    from skl2onnx import to_onnx

    est, X = _fitted()
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(to_onnx(est, X[:1], target_opset=17).SerializeToString())
    skops_file = tmp_path / "m.skops"
    sio.dump(est, skops_file)
    for f, kind in ((onnx_file, "onnx"), (skops_file, "skops")):
        renamed = tmp_path / f"model-{kind}.bin"
        renamed.write_bytes(f.read_bytes())
        assert model_kind(f) == kind and model_kind(renamed) == kind
        adapter = open_model_file(renamed)
        assert adapter.kind == ("onnx" if kind == "onnx" else "sklearn")
        np.testing.assert_allclose(adapter.predict_proba(X), est.predict_proba(X), atol=1e-5)


def test_pickle_is_refused_by_suffix_and_by_content(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    for name in ("m.pkl", "m.joblib", "m.model"):
        f = tmp_path / name
        f.write_bytes(_marker_payload(marker))
        assert model_kind(f) == "pickle"
        with pytest.raises(UnsafeModelError, match="--allow-pickle"):
            open_model_file(f)
    assert not marker.exists()
    est, X = _fitted()
    f = tmp_path / "est.pkl"
    f.write_bytes(pickle.dumps(est))
    adapter = open_model_file(f, allow_pickle=True)
    assert adapter.describe()["unpickled"] is True


def test_checkpoints_auditkit_or_user_lightning(tmp_path: Path) -> None:
    src = tmp_path / "user_net.py"
    src.write_text(
        textwrap.dedent(
            """
            import torch
            import pytorch_lightning as pl


            class Net(pl.LightningModule):
                def __init__(self):
                    super().__init__()
                    self.lin = torch.nn.Linear(3, 2)

                def forward(self, x):
                    return self.lin(x)
            """
        )
    )
    from auditkit.adapters.lightning import import_model_class

    net = import_model_class(f"{src}:Net")()
    ckpt = tmp_path / "user.ckpt"
    torch.save({"state_dict": net.state_dict(), "pytorch-lightning_version": "2.6.0"}, ckpt)
    assert model_kind(ckpt) == "checkpoint"
    assert model_kind(ckpt, model_class="x:Net") == "lightning"
    with pytest.raises(CheckpointError) as exc:
        open_model_file(ckpt)
    msg = str(exc.value)
    assert "no auditkit metadata" in msg and "--model-class" in msg and "\n" not in msg
    adapter = open_model_file(ckpt, model_class=f"{src}:Net")
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    with torch.no_grad():
        own = torch.softmax(net.eval()(torch.from_numpy(X)).double(), 1).numpy()
    np.testing.assert_allclose(adapter.predict_proba(X), own, atol=1e-6)
