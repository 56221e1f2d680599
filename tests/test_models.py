"""The reference models: registry, hyper-parameters, preprocessing as plain data, encoders."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch

from auditkit.data import DatasetSchema, FeatureSpec, list_datasets
from auditkit.exceptions import DataValidationError, ParameterError, RegistryKeyError
from auditkit.models import MODEL_REGISTRY, AuditableModule, list_models, tokenize
from auditkit.models._base import resolve_hparams, to_plain
from auditkit.models._tabular import (
    UNKNOWN,
    encode_table,
    encoded_column_names,
    feature_groups,
    fit_table_preprocessing,
)
from auditkit.models._text import build_vocab, encode_texts
from auditkit.models._vision import encode_images, fit_image_preprocessing

NAMES = ["adult-hours", "adult-mlp", "iris-mlp", "mnist-mlp", "cifar10-cnn", "imdb-lstm"]


def test_registry_holds_the_reference_models() -> None:
    assert sorted(MODEL_REGISTRY.names()) == sorted(NAMES)
    for name in NAMES:
        cls = MODEL_REGISTRY.get(name)
        assert issubclass(cls, AuditableModule) and issubclass(cls, pl.LightningModule)
        assert cls.model_name == name
        assert cls.dataset_name in list_datasets()
        assert cls.modality in ("tabular", "image", "text")
        assert cls.description and cls.__doc__
    assert [n for n, _, _ in list_models()] == MODEL_REGISTRY.names()


def test_unknown_model_lists_available() -> None:
    with pytest.raises(RegistryKeyError, match="Available: adult-hours, adult-mlp") as info:
        MODEL_REGISTRY.get("adult-mpl")
    assert "did you mean 'adult-mlp'" in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_default_hparams_are_primitive_and_regularised(name: str) -> None:
    cls = MODEL_REGISTRY.get(name)
    hp = cls.default_hparams()
    assert to_plain(hp) == hp

    def primitive(v: Any) -> bool:
        if isinstance(v, list):
            return all(primitive(x) for x in v)
        return type(v) in (bool, int, float, str, type(None))

    assert all(primitive(v) for v in hp.values())
    assert hp.get("dropout", 0) > 0 or hp["weight_decay"] > 0
    assert resolve_hparams(cls, None) == hp


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"learning_rate": 0.1}, "'learning_rate' is not a hyper-parameter of adult-mlp"),
        ({"lr": "fast"}, "'lr' of adult-mlp must be a finite float"),
        ({"lr": 0.0}, "'lr' of adult-mlp must be a float > 0"),
        ({"lr": float("nan")}, "finite float"),
        ({"batch_size": 2.5}, "'batch_size' of adult-mlp must be an int"),
        ({"batch_size": True}, "'batch_size' of adult-mlp must be an int"),
        ({"hidden": [64, 0]}, "list of positive ints"),
        ({"hidden": "64"}, "list of positive ints"),
        ({"val_fraction": 1.0}, r"range \(0, 1\)"),
        ({"dropout": 1.0}, r"range \[0, 1\)"),
        ({"scheduler": "step"}, "one of none, onecycle, cosine"),
        ({"restore_best": 1}, "must be a bool"),
        ({"gradient_clip": -1.0}, "'gradient_clip' of adult-mlp must be a float >= 0"),
        ({"label_smoothing": 1.0}, r"'label_smoothing' of adult-mlp must be a float in the range"),
    ],
)
def test_invalid_hparams(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        resolve_hparams(MODEL_REGISTRY.get("adult-mlp"), overrides)


def test_hparam_ints_accepted_for_floats_and_numpy_values_made_plain() -> None:
    hp = resolve_hparams(MODEL_REGISTRY.get("adult-mlp"), {"lr": 1, "batch_size": np.int64(8)})
    assert type(hp["lr"]) is float and hp["lr"] == 1.0
    assert type(hp["batch_size"]) is int


def test_to_plain_rejects_objects() -> None:
    assert to_plain({"a": (np.float32(1.5), np.int8(2), np.bool_(True))}) == {"a": [1.5, 2, True]}
    with pytest.raises(TypeError, match=r"x\['b'\] is a object"):
        to_plain({"b": object()}, where="x")
    with pytest.raises(TypeError, match="non-string key"):
        to_plain({1: 2})


# ------------------------------------------------------------------------------------ tabular
def _weird_table(seed: int, n: int = 200) -> tuple[pd.DataFrame, DatasetSchema]:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "<script>", "blue é"], size=n).astype(object)
    colour[rng.random(n) < 0.1] = None
    amount = rng.normal(50, 20, size=n)
    amount[rng.random(n) < 0.1] = np.nan
    df = pd.DataFrame(
        {
            "amount ($)": amount,
            "colour": colour,
            "count": rng.integers(0, 5, size=n),
            "flag": rng.random(n) < 0.3,
        }
    )
    schema = DatasetSchema(
        name="weird.csv",
        modality="tabular",
        features=(
            FeatureSpec("amount ($)", "numeric"),
            FeatureSpec("colour", "categorical", ("<script>", "blue é", "green", "red")),
            FeatureSpec("count", "numeric"),
            FeatureSpec("flag", "categorical", ("False", "True")),
        ),
        target="y",
        class_names=("no", "yes"),
    )
    return df, schema


@pytest.mark.parametrize("seed", range(6))
def test_tabular_preprocessing_matches_sklearn(seed: int) -> None:
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train, schema = _weird_table(seed)
    test, _ = _weird_table(seed + 100, n=80)
    test.loc[0, "colour"] = "purple"  # unseen category
    prep = fit_table_preprocessing(train, schema)
    assert to_plain(prep) == prep
    enc = encode_table(test, prep)
    assert enc.dtype == np.float32
    names = encoded_column_names(prep)
    assert enc.shape == (80, len(names))
    groups = dict(feature_groups(prep))
    assert list(groups) == schema.feature_names

    for col in ("amount ($)", "count"):
        scaler = StandardScaler().fit(train[[col]].to_numpy(dtype=float))
        expected = scaler.transform(test[[col]].to_numpy(dtype=float))[:, 0]
        expected = np.where(np.isnan(expected), 0.0, expected)  # missing -> training mean
        np.testing.assert_allclose(enc[:, groups[col][0]], expected, rtol=1e-5, atol=1e-5)

    for col in ("colour", "flag"):
        cats = sorted(train[col].dropna().astype(str).unique())
        ohe = OneHotEncoder(categories=[cats], handle_unknown="ignore", sparse_output=False)
        values = test[[col]].astype(str).where(test[[col]].notna(), "__missing__")
        ohe.fit(np.asarray(cats, dtype=object).reshape(-1, 1))
        expected = ohe.transform(values.to_numpy(dtype=object))
        block = enc[:, groups[col]]
        np.testing.assert_array_equal(block[:, :-1], expected)
        np.testing.assert_array_equal(block[:, -1], 1.0 - expected.sum(axis=1))
        assert names[groups[col][-1]] == f"{col}={UNKNOWN}"


def test_tabular_max_categories_keeps_most_frequent() -> None:
    df = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]})
    schema = DatasetSchema("t", "tabular", (FeatureSpec("c", "categorical"),), "y", ("0", "1"))
    prep = fit_table_preprocessing(df, schema, max_categories=2)
    assert prep["features"][0]["categories"] == ["a", "b"]
    enc = encode_table(pd.DataFrame({"c": ["c", "a"]}), prep)
    np.testing.assert_array_equal(enc, [[0, 0, 1], [1, 0, 0]])


def test_tabular_errors_name_the_column() -> None:
    train, schema = _weird_table(0)
    prep = fit_table_preprocessing(train, schema)
    with pytest.raises(DataValidationError, match="'colour' not found"):
        encode_table(train.drop(columns=["colour"]), prep)
    bad = train.copy()
    bad["count"] = bad["count"].astype(object)
    bad.loc[3, "count"] = "many"
    with pytest.raises(
        DataValidationError, match="'count' holds the non-numeric value 'many' at row 3"
    ):
        encode_table(bad, prep)
    with pytest.raises(DataValidationError, match="DataFrame with the columns"):
        encode_table(np.zeros((3, 2)), prep)


def test_tabular_accepts_array_in_schema_order() -> None:
    train, schema = _weird_table(1)
    prep = fit_table_preprocessing(train, schema)
    np.testing.assert_array_equal(
        encode_table(train.to_numpy(dtype=object), prep), encode_table(train, prep)
    )


def test_tabular_rejects_non_tabular_feature_kind() -> None:
    schema = DatasetSchema(
        "t", "tabular", (FeatureSpec("img", "image", shape=(2, 2)),), "y", ("a", "b")
    )
    with pytest.raises(ParameterError, match="'img' is of kind 'image'"):
        fit_table_preprocessing(pd.DataFrame({"img": [1, 2]}), schema)


# ------------------------------------------------------------------------------------ images
@pytest.mark.parametrize("shape", [(28, 28), (32, 32, 3)])
def test_image_preprocessing(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(20, *shape), dtype=np.uint8)
    schema = DatasetSchema(
        "imgs", "image", (FeatureSpec("pixels", "image", shape=shape),), "y", ("a", "b")
    )
    prep = fit_image_preprocessing(X, schema)
    assert to_plain(prep) == prep
    channels = shape[2] if len(shape) == 3 else 1
    scaled = (X.astype(np.float64) / 255).reshape(20, shape[0], shape[1], channels)
    np.testing.assert_allclose(prep["mean"], scaled.mean(axis=(0, 1, 2)), rtol=1e-10)
    np.testing.assert_allclose(prep["std"], scaled.std(axis=(0, 1, 2)), rtol=1e-10)
    x = encode_images(X, prep)
    assert x.shape == (20, channels, shape[0], shape[1]) and x.dtype == torch.float32
    expected = (scaled - np.asarray(prep["mean"])) / np.asarray(prep["std"])
    np.testing.assert_allclose(x.numpy(), expected.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
    with pytest.raises(DataValidationError, match="shape"):
        encode_images(X[:, :10], prep)
    with pytest.raises(DataValidationError, match="numeric array"):
        encode_images(np.array([["a"]], dtype=object), prep)


def _cifar_module(**hp: Any) -> Any:
    cls = MODEL_REGISTRY.get("cifar10-cnn")
    schema = DatasetSchema(
        "c", "image", (FeatureSpec("pixels", "image", shape=(32, 32, 3)),), "y",
        tuple(str(i) for i in range(10)),
    )  # fmt: skip
    prep = {
        "kind": "image",
        "shape": [32, 32, 3],
        "scale": 255.0,
        "mean": [0.0] * 3,
        "std": [1.0] * 3,
    }
    return cls(schema=schema.to_dict(), preprocessing=prep, **hp)


def test_cifar_augmentation_is_crop_and_flip() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 3, 32, 32)
    assert torch.equal(_cifar_module(crop_padding=0, flip=False).augment(x), x)
    flipped = _cifar_module(crop_padding=0, flip=True).augment(x)
    same = [torch.equal(flipped[i], x[i]) for i in range(16)]
    mirrored = [torch.equal(flipped[i], x[i].flip(2)) for i in range(16)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(same) and any(mirrored)
    pad = 4
    cropped = _cifar_module(crop_padding=pad, flip=False).augment(x)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    for i in range(16):  # every output is some 32x32 window of the zero-padded input
        windows = [
            torch.equal(cropped[i], padded[i, :, dy : dy + 32, dx : dx + 32])
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
        ]
        assert any(windows)


def test_cifar_channels_and_convs_must_agree() -> None:
    with pytest.raises(ParameterError, match="same length"):
        _cifar_module(channels=[8, 16], convs=[1])


# -------------------------------------------------------------------------------------- text
def test_tokenize() -> None:
    assert tokenize("Great film!<br /><br />I'd watch it AGAIN.") == [
        "great", "film", "i'd", "watch", "it", "again",
    ]  # fmt: skip
    assert tokenize("") == []
    assert tokenize("<br />") == []
    assert tokenize("rock'n'roll 10/10") == ["rock'n", "roll", "10", "10"]


def test_vocab_and_encoding() -> None:
    texts = ["a b b c", "b c d", "c e"]
    vocab = build_vocab(texts, min_freq=2, max_size=10)
    assert vocab == ["<pad>", "<unk>", "b", "c"]  # b and c appear 3 times: ties by word
    prep = {
        "kind": "text", "vocab": vocab, "max_len": 3, "pad_index": 0, "unk_index": 1,
        "lowercase": True, "token_pattern": r"[a-z0-9]+(?:'[a-z]+)?", "remove": ["<br />"],
    }  # fmt: skip
    ids = encode_texts(["B c z q", "c", ""], prep)
    assert ids.dtype == torch.int64
    np.testing.assert_array_equal(ids.numpy(), [[2, 3, 1], [3, 0, 0], [0, 0, 0]])
    assert build_vocab(texts, min_freq=1, max_size=3) == ["<pad>", "<unk>", "b", "c", "a"]


def test_vocab_order_is_frequency_then_word() -> None:
    vocab = build_vocab(["z z y y x"], min_freq=1, max_size=10)
    assert vocab == ["<pad>", "<unk>", "y", "z", "x"]


def test_imdb_forward_handles_all_padding_rows() -> None:
    cls = MODEL_REGISTRY.get("imdb-lstm")
    schema = DatasetSchema("t", "text", (FeatureSpec("text", "text"),), "y", ("neg", "pos"))
    prep = cls.fit_preprocessing(["good film", "bad film"], np.array([1, 0]), schema,
                                 cls.default_hparams())  # fmt: skip
    m = cls(schema=schema.to_dict(), preprocessing=prep, max_len=8, min_freq=1).eval()
    p = m.predict_proba(["", "film", "unknown words only"])
    assert p.shape == (3, 2) and np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_schema_modality_checked(name: str) -> None:
    cls = MODEL_REGISTRY.get(name)
    other = "text" if cls.modality != "text" else "tabular"
    schema = DatasetSchema("x", other, (FeatureSpec("f", "numeric"),), "y", ("a", "b"))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=f"{name} is a {cls.modality} model"):
        cls.check_schema(schema)
