"""Loading checkpoints: predictions on raw inputs, bit-identical reloads, the adapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import auditkit
from auditkit.adapters import ModelAdapter, TorchParts, wrap
from auditkit.data import load_dataset
from auditkit.exceptions import DataValidationError, ParameterError
from auditkit.models.checkpoint import CheckpointModel, LoadedModel, load_checkpoint
from auditkit.models.files import open_model

ALL = ["adult-mlp", "iris-mlp", "mnist-mlp", "cifar10-cnn", "imdb-lstm"]
DATASET = {
    "adult-mlp": "adult",
    "iris-mlp": "iris",
    "mnist-mlp": "mnist",
    "cifar10-cnn": "cifar10",
    "imdb-lstm": "imdb",
}


def _head(X: Any, n: int) -> Any:
    return X.iloc[:n] if hasattr(X, "iloc") else X[:n]


@pytest.mark.parametrize("name", ALL)
def test_predict_proba_on_raw_test_inputs(tiny_ckpt: Any, name: str) -> None:
    model = load_checkpoint(tiny_ckpt(name))
    assert isinstance(model, LoadedModel)
    assert model.name == name
    assert not model.module.training
    ds = load_dataset(DATASET[name])
    X = _head(ds.test.X, 40)
    p = model.predict_proba(X)
    assert p.shape == (40, ds.schema.n_classes)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert model.schema == ds.schema
    # the batch size changes only float32 rounding
    np.testing.assert_allclose(model.predict_proba(X, batch_size=7), p, rtol=0, atol=1e-5)
    # the stored test metrics are what the loaded model computes on the whole test split
    full = model.predict_proba(ds.test.X)
    acc = float(np.mean(full.argmax(axis=1) == ds.test.y))
    assert model.meta["test_metrics"]["accuracy"] == pytest.approx(acc, abs=1e-12)
    assert model.meta["test_metrics"]["n"] == len(ds.test.y)


@pytest.mark.parametrize("name", ALL)
def test_reload_gives_bit_identical_predictions(tiny_ckpt: Any, name: str) -> None:
    X = _head(load_dataset(DATASET[name]).test.X, 64)
    a = load_checkpoint(tiny_ckpt(name)).predict_proba(X)
    b = load_checkpoint(tiny_ckpt(name)).predict_proba(X)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", ALL)
def test_metadata_is_complete(tiny_ckpt: Any, name: str) -> None:
    meta = load_checkpoint(tiny_ckpt(name)).meta
    for key in (
        "format_version", "model_name", "hparams", "preprocessing", "schema", "dataset",
        "history", "test_metrics", "wall_time_s", "hardware", "versions", "seed",
    ):  # fmt: skip
        assert key in meta, key
    assert meta["format_version"] == 1
    ds = load_dataset(DATASET[name])
    assert meta["dataset"]["name"] == ds.name
    assert meta["dataset"]["sha256"] == ds.sha256
    assert meta["schema"] == ds.schema.to_dict()
    assert len(meta["history"]) == 1
    row = meta["history"][0]
    assert set(row) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["val_accuracy"] <= 1
    assert meta["wall_time_s"] > 0
    assert meta["hardware"]["cpu_count"] >= 1
    assert meta["hardware"]["accelerator"] in ("cpu", "cuda", "mps")
    assert set(meta["versions"]) >= {"torch", "pytorch_lightning", "auditkit", "numpy", "python"}
    # plain data throughout (the schema may hold an infinite bin edge, e.g. Adult's age band)
    json.dumps({k: v for k, v in meta.items() if k != "schema"}, allow_nan=False)


def test_lightning_checkpoint_layout(tiny_ckpt: Any) -> None:
    raw = torch.load(tiny_ckpt("adult-mlp"), weights_only=True)
    import pytorch_lightning as pl

    assert raw["pytorch-lightning_version"] == pl.__version__
    assert isinstance(raw["epoch"], int) and isinstance(raw["global_step"], int)
    assert raw["global_step"] > 0
    hp = raw["hyper_parameters"]
    assert type(hp) is dict
    assert hp["schema"] == raw["auditkit"]["schema"]
    assert hp["preprocessing"] == raw["auditkit"]["preprocessing"]


def test_lightning_load_from_checkpoint_also_works(tiny_ckpt: Any) -> None:
    """The file is a standard Lightning checkpoint: the class's own loader reads it too."""
    from auditkit.models import MODEL_REGISTRY

    path = tiny_ckpt("iris-mlp")
    cls = MODEL_REGISTRY.get("iris-mlp")
    module = cls.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    X = load_dataset("iris").test.X
    ours = load_checkpoint(path).predict_proba(X)
    np.testing.assert_array_equal(module.predict_proba(X), ours)


def test_missing_column_is_named(tiny_ckpt: Any) -> None:
    model = load_checkpoint(tiny_ckpt("adult-mlp"))
    X = load_dataset("adult").test.X.head(5).drop(columns=["education"])
    with pytest.raises(DataValidationError, match="'education' not found"):
        model.predict_proba(X)


def test_extra_columns_and_column_order_do_not_matter(tiny_ckpt: Any) -> None:
    model = load_checkpoint(tiny_ckpt("adult-mlp"))
    X = load_dataset("adult").test.X.head(20)
    shuffled = X[list(reversed(X.columns))].assign(extra=1)
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(X))


def test_unseen_category_goes_to_unknown_bucket(tiny_ckpt: Any) -> None:
    model = load_checkpoint(tiny_ckpt("adult-mlp"))
    X = load_dataset("adult").test.X.head(3).copy()
    X["workclass"] = ["Martian", None, "Private"]
    enc = model.encode(X).numpy()
    groups = dict(model.as_adapter().torch_parts().feature_groups)
    cols = groups["workclass"]
    block = enc[:, cols]
    np.testing.assert_array_equal(block.sum(axis=1), 1.0)
    assert block[0, -1] == 1.0 and block[1, -1] == 1.0 and block[2, -1] == 0.0
    assert np.isfinite(model.predict_proba(X)).all()


def test_image_shape_error(tiny_ckpt: Any) -> None:
    model = load_checkpoint(tiny_ckpt("mnist-mlp"))
    with pytest.raises(DataValidationError, match=r"\(n_samples, 28, 28\)"):
        model.predict_proba(np.zeros((2, 32, 32, 3), dtype=np.uint8))


def test_text_input_errors(tiny_ckpt: Any) -> None:
    model = load_checkpoint(tiny_ckpt("imdb-lstm"))
    with pytest.raises(DataValidationError, match="row 1"):
        model.predict_proba(["fine", None])
    with pytest.raises(DataValidationError, match="single string"):
        model.predict_proba("one review")
    p = model.predict_proba(["", "great great great", "<br /><br />"])  # empty rows work
    assert p.shape == (3, 2) and np.isfinite(p).all()


@pytest.mark.parametrize("name", ALL)
def test_adapter_contract(tiny_ckpt: Any, name: str) -> None:
    loaded = load_checkpoint(tiny_ckpt(name))
    adapter = loaded.as_adapter()
    assert isinstance(adapter, CheckpointModel) and isinstance(adapter, ModelAdapter)
    assert adapter.kind == "checkpoint" and adapter.has_scores and adapter.can_refit
    assert adapter.loaded is loaded
    assert adapter.schema == loaded.schema
    np.testing.assert_array_equal(adapter.classes_, np.arange(loaded.schema.n_classes))
    assert wrap(adapter) is adapter
    assert wrap(loaded).kind == "checkpoint"
    assert wrap(open_model(str(tiny_ckpt(name)))).fingerprint() == loaded.sha256
    with pytest.raises(ParameterError, match="file name"):
        wrap(str(tiny_ckpt(name)))  # files are opened by open_model, not by wrap
    X = _head(load_dataset(DATASET[name]).test.X, 16)
    np.testing.assert_array_equal(adapter.predict_proba(X), loaded.predict_proba(X))

    parts = adapter.torch_parts()
    assert isinstance(parts, TorchParts)
    x = parts.encode(X)
    assert isinstance(x, torch.Tensor)
    with torch.no_grad():
        logits = parts.module(x)
    probs = torch.softmax(logits.double(), dim=1).numpy()
    np.testing.assert_allclose(probs, loaded.predict_proba(X), rtol=0, atol=1e-12)
    assert parts.feature_names == loaded.schema.feature_names

    d = adapter.describe()
    for key in ("name", "kind", "sha256", "format_version", "model_name", "dataset", "hparams",
                "history", "test_metrics", "training"):  # fmt: skip
        assert key in d, key
    assert d["sha256"] == loaded.sha256 and d["kind"] == "checkpoint"
    for key in ("wall_time_s", "hardware", "versions", "epochs_run"):
        assert key in d["training"], key
    json.dumps(d, allow_nan=False)


def test_tabular_feature_groups_cover_encoded_columns(tiny_ckpt: Any) -> None:
    loaded = load_checkpoint(tiny_ckpt("adult-mlp"))
    parts = loaded.as_adapter().torch_parts()
    assert parts.feature_groups is not None
    names = [n for n, _ in parts.feature_groups]
    assert names == loaded.schema.feature_names
    cols = [c for _, idx in parts.feature_groups for c in idx]
    width = parts.encode(load_dataset("adult").test.X.head(2)).shape[1]
    assert cols == list(range(width))
    prep = {f["name"]: f for f in loaded.meta["preprocessing"]["features"]}
    for n, idx in parts.feature_groups:
        expected = 1 if prep[n]["kind"] == "numeric" else len(prep[n]["categories"]) + 1
        assert len(idx) == expected
    assert parts.embedding is None and parts.decode_tokens is None


def test_text_parts(tiny_ckpt: Any) -> None:
    loaded = load_checkpoint(tiny_ckpt("imdb-lstm"))
    parts = loaded.as_adapter().torch_parts()
    assert isinstance(parts.embedding, torch.nn.Embedding)
    assert parts.embedding is loaded.module.embedding
    ids = parts.encode(["The film was great!<br />Really good, the film."])
    assert ids.dtype == torch.int64
    assert ids.shape == (1, loaded.meta["preprocessing"]["max_len"])
    assert parts.decode_tokens is not None
    toks = parts.decode_tokens(ids[0])
    vocab = set(loaded.meta["preprocessing"]["vocab"])
    expected = ["the", "film", "was", "great", "really", "good", "the", "film"]
    assert toks == [t if t in vocab else "<unk>" for t in expected]
    assert parts.feature_names == ["text"]


def test_image_parts(tiny_ckpt: Any) -> None:
    loaded = load_checkpoint(tiny_ckpt("cifar10-cnn"))
    parts = loaded.as_adapter().torch_parts()
    x = parts.encode(load_dataset("cifar10").test.X[:4])
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
    assert parts.feature_groups is None and parts.embedding is None


def test_refit_retrains_in_memory(tiny_ckpt: Any) -> None:
    adapter = load_checkpoint(tiny_ckpt("iris-mlp")).as_adapter()
    ds = load_dataset("iris")
    new = adapter.refit(ds.train.X, ds.train.y, random_state=3, max_epochs=2)
    assert isinstance(new, CheckpointModel) and new is not adapter
    assert new.loaded.path is None
    assert new.loaded.meta["seed"] == 3
    assert len(new.loaded.meta["history"]) == 2
    assert new.fingerprint() != adapter.fingerprint()
    assert new.loaded.meta["hparams"]["hidden"] == adapter.loaded.meta["hparams"]["hidden"]
    p = new.predict_proba(ds.test.X)
    assert p.shape == (45, 3)
    again = adapter.refit(ds.train.X, ds.train.y, random_state=3, max_epochs=2)
    assert again.fingerprint() == new.fingerprint()  # same seed, same weights
    json.dumps(new.describe(), allow_nan=False)


def test_map_location_cpu_and_top_level_names(tiny_ckpt: Any) -> None:
    model = auditkit.load_checkpoint(tiny_ckpt("iris-mlp"), map_location="cpu")
    assert isinstance(model, auditkit.LoadedModel)
    assert all(p.device.type == "cpu" for p in model.module.parameters())
    assert "iris-mlp" in repr(model)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_map_location_cuda(tiny_ckpt: Any) -> None:
    model = load_checkpoint(tiny_ckpt("iris-mlp"), map_location="cuda")
    assert next(model.module.parameters()).is_cuda
    X = load_dataset("iris").test.X
    np.testing.assert_allclose(
        model.predict_proba(X), load_checkpoint(tiny_ckpt("iris-mlp")).predict_proba(X), atol=1e-5
    )


def test_cli_info(tiny_ckpt: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.cli import main

    path = tiny_ckpt("imdb-lstm")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "imdb-lstm" in out and "train_loss" in out and "accuracy" in out
    assert main(["info", str(path), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["model_name"] == "imdb-lstm"
    assert meta["preprocessing"]["vocab_size"] == len(
        load_checkpoint(path).meta["preprocessing"]["vocab"]
    )
    assert meta["sha256"] == load_checkpoint(path).sha256


def test_cli_info_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.cli import main

    assert main(["info", str(tmp_path / "none.ckpt")]) == 2
    assert "does not exist" in capsys.readouterr().err
