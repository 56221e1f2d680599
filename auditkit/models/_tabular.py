"""Tabular reference models: an MLP over standardised numerics and one-hot categoricals.

The preprocessing works for any tabular :class:`~auditkit.data.DatasetSchema`: numeric features
are standardised with the training mean and standard deviation (missing values become the mean),
categorical features are one-hot encoded over the categories seen in training plus an
``<unknown>`` column for everything else (unseen values and missing values).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from .._core.validation import check_columns
from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError
from ._base import MODEL_REGISTRY, AuditableModule, mlp

__all__ = [
    "UNKNOWN",
    "AdultMLP",
    "IrisMLP",
    "TabularMLP",
    "encode_table",
    "encoded_column_names",
    "fit_table_preprocessing",
]

#: Name of the one-hot column that receives unseen and missing categories.
UNKNOWN = "<unknown>"


def _as_frame(X: Any, names: list[str]) -> Any:
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if arr.ndim == 2 and arr.shape[1] == len(names):
        return pd.DataFrame(arr, columns=names)
    raise DataValidationError(
        f"Tabular input must be a pandas DataFrame with the columns {', '.join(names)} "
        f"(or a 2-d array with {len(names)} columns in that order); got "
        f"{type(X).__name__} of shape {getattr(arr, 'shape', '?')}."
    )


def _numeric_column(X: Any, name: str) -> np.ndarray:
    import pandas as pd

    s = X[name]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.float64)
    v = pd.to_numeric(s, errors="coerce")
    bad = v.isna().to_numpy() & s.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"Numeric column {name!r} holds the non-numeric value {s.iloc[i]!r} at row {i}."
        )
    return v.to_numpy(dtype=np.float64, na_value=np.nan)


def fit_table_preprocessing(
    X: Any, schema: DatasetSchema, *, max_categories: int = 100
) -> dict[str, Any]:
    """Fit standardisation and one-hot categories on training rows, as plain data.

    Parameters
    ----------
    X : DataFrame
        Training rows with the schema's feature columns.
    schema : DatasetSchema
        A tabular schema; features of kind ``"numeric"`` or ``"categorical"``.
    max_categories : int, default=100
        Keep at most this many categories per feature (the most frequent; ties by name).

    Returns
    -------
    dict
        ``{"kind": "tabular", "features": [{"name", "kind": "numeric", "mean", "std"} |
        {"name", "kind": "categorical", "categories": [str, ...]}, ...]}`` in schema order.
    """
    names = schema.feature_names
    X = _as_frame(X, names)
    check_columns(names, list(X.columns), where="the training data")
    feats: list[dict[str, Any]] = []
    for spec in schema.features:
        if spec.kind == "numeric":
            v = _numeric_column(X, spec.name)
            finite = v[np.isfinite(v)]
            mean = float(finite.mean()) if finite.size else 0.0
            std = float(finite.std()) if finite.size else 1.0
            feats.append(
                {"name": spec.name, "kind": "numeric", "mean": mean,
                 "std": std if std > 1e-12 else 1.0}
            )  # fmt: skip
        elif spec.kind == "categorical":
            s = X[spec.name]
            counts = s[s.notna()].astype(str).value_counts()
            ranked = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
            cats = sorted(str(k) for k, _ in ranked[:max_categories])
            feats.append({"name": spec.name, "kind": "categorical", "categories": cats})
        else:
            raise ParameterError(
                f"Feature {spec.name!r} is of kind {spec.kind!r}; a tabular model reads only "
                "numeric and categorical features."
            )
    return {"kind": "tabular", "features": feats}


def encoded_column_names(prep: dict[str, Any]) -> list[str]:
    """Return the encoded column names: ``age``, ``sex=Female``, ``sex=<unknown>``..."""
    out: list[str] = []
    for f in prep["features"]:
        if f["kind"] == "numeric":
            out.append(f["name"])
        else:
            out.extend(f"{f['name']}={c}" for c in [*f["categories"], UNKNOWN])
    return out


def feature_groups(prep: dict[str, Any]) -> list[tuple[str, list[int]]]:
    """Return original feature -> indices of its encoded columns."""
    groups: list[tuple[str, list[int]]] = []
    i = 0
    for f in prep["features"]:
        width = 1 if f["kind"] == "numeric" else len(f["categories"]) + 1
        groups.append((f["name"], list(range(i, i + width))))
        i += width
    return groups


def _check_float32(raw: np.ndarray, encoded: np.ndarray, name: str) -> None:
    """Refuse finite inputs that the float32 encoding would turn into infinities."""
    over = np.isfinite(raw) & ~(np.abs(encoded) <= np.finfo(np.float32).max)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise DataValidationError(
            f"Numeric column {name!r} holds {raw[i]:.6g} at row {i}, outside the float32 range "
            "(about ±3.4e38 after standardisation) that the model computes in; rescale it."
        )


def encode_table(X: Any, prep: dict[str, Any]) -> np.ndarray:
    """Encode raw rows with fitted preprocessing; return float32 of shape (n, n_encoded)."""
    import pandas as pd

    names = [f["name"] for f in prep["features"]]
    X = _as_frame(X, names)
    check_columns(names, list(X.columns), where="the data")
    n = len(X)
    blocks: list[np.ndarray] = []
    for f in prep["features"]:
        if f["kind"] == "numeric":
            raw = _numeric_column(X, f["name"])
            with np.errstate(over="ignore", invalid="ignore"):
                v = (raw - f["mean"]) / f["std"]
            _check_float32(raw, v, f["name"])
            v[~np.isfinite(v)] = 0.0  # missing -> the training mean
            blocks.append(v.reshape(n, 1))
        else:
            cats = f["categories"]
            s = X[f["name"]]
            missing = s.isna().to_numpy()
            codes = np.asarray(
                pd.Index(cats, dtype=object).get_indexer(s.astype(str).to_numpy(dtype=object)),
                dtype=np.int64,
            )
            codes[(codes < 0) | missing] = len(cats)
            onehot = np.zeros((n, len(cats) + 1), dtype=np.float64)
            onehot[np.arange(n), codes] = 1.0
            blocks.append(onehot)
    if not blocks:
        return np.zeros((n, 0), dtype=np.float32)
    return np.concatenate(blocks, axis=1).astype(np.float32)


class TabularMLP(AuditableModule):
    """A multi-layer perceptron over encoded table rows, for any tabular schema.

    Hyper-parameters (besides the common ones): ``hidden`` (layer widths), ``dropout``,
    ``batch_norm`` and ``max_categories`` (per categorical feature).
    """

    modality = "tabular"
    HPARAMS: ClassVar[dict[str, Any]] = {
        "hidden": [64, 32],
        "dropout": 0.1,
        "batch_norm": False,
        "max_categories": 100,
        "weight_decay": 1e-4,
    }
    predict_batch_size = 8192

    def __init__(
        self, *, schema: dict[str, Any], preprocessing: dict[str, Any], **hparams: Any
    ) -> None:
        super().__init__(schema=schema, preprocessing=preprocessing, **hparams)
        self.encoded_names = encoded_column_names(self.preprocessing)
        sizes = [len(self.encoded_names), *self.hp["hidden"]]
        self.net = mlp(
            sizes, self.n_classes, dropout=self.hp["dropout"], batch_norm=self.hp["batch_norm"]
        )

    @classmethod
    def fit_preprocessing(
        cls, X: Any, y: np.ndarray, schema: DatasetSchema, hparams: dict[str, Any]
    ) -> dict[str, Any]:
        """Standardisation means/stds and one-hot categories fitted on ``X``."""
        return fit_table_preprocessing(X, schema, max_categories=hparams["max_categories"])

    def encode(self, X: Any) -> torch.Tensor:
        """Raw rows (DataFrame with the schema's columns) -> float tensor (n, n_encoded)."""
        return torch.from_numpy(encode_table(X, self.preprocessing))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map encoded rows to logits (n, n_classes)."""
        out: torch.Tensor = self.net(x)
        return out

    def feature_groups(self) -> list[tuple[str, list[int]]]:
        """Original feature -> its encoded columns (one column, or one per category)."""
        return feature_groups(self.preprocessing)


@MODEL_REGISTRY.register("adult-mlp")
class AdultMLP(TabularMLP):
    """MLP for UCI Adult income (one-hot categoricals, standardised numerics, dropout)."""

    model_name = "adult-mlp"
    dataset_name = "adult"
    description = "MLP on UCI Adult census income (>50K?), one-hot categoricals, dropout"
    HPARAMS: ClassVar[dict[str, Any]] = {
        **TabularMLP.HPARAMS,
        "hidden": [128, 64],
        "dropout": 0.2,
        "weight_decay": 1e-4,
        "lr": 1e-3,
        "batch_size": 256,
        "max_epochs": 20,
        "patience": 4,
    }


@MODEL_REGISTRY.register("iris-mlp")
class IrisMLP(TabularMLP):
    """Small MLP for the Iris species (standardised measurements, weight decay)."""

    model_name = "iris-mlp"
    dataset_name = "iris"
    description = "small MLP on Iris species (3 classes), weight decay and dropout"
    # The validation split of Iris is 16 rows whose loss quickly reaches ~0: it cannot pick
    # an epoch, so the final weights are kept (restore_best=False) and strong weight decay
    # regularises instead.
    HPARAMS: ClassVar[dict[str, Any]] = {
        **TabularMLP.HPARAMS,
        "hidden": [16],
        "dropout": 0.1,
        "weight_decay": 1e-2,
        "lr": 1e-2,
        "batch_size": 16,
        "max_epochs": 60,
        "patience": 20,
        "val_fraction": 0.15,
        "restore_best": False,
    }
