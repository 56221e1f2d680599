"""Plain-data description of a dataset: features, kinds, categories, target, sensitive columns."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

FeatureKind = Literal["numeric", "categorical", "image", "text"]
Modality = Literal["tabular", "image", "text"]


@dataclass(frozen=True)
class FeatureSpec:
    """One input feature.

    Parameters
    ----------
    name : str
        Column name (tabular) or a descriptive name ("pixels", "text").
    kind : {"numeric", "categorical", "image", "text"}
        How the feature is encoded.
    categories : tuple of str, default=None
        The known categories of a categorical feature (from the training split).
    shape : tuple of int, default=None
        The shape of one example for images (for example ``(28, 28)`` or ``(32, 32, 3)``).
    """

    name: str
    kind: FeatureKind
    categories: tuple[str, ...] | None = None
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "categories": list(self.categories) if self.categories is not None else None,
            "shape": list(self.shape) if self.shape is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        """Build a spec from :meth:`to_dict` output."""
        cats = d.get("categories")
        shape = d.get("shape")
        return cls(
            name=str(d["name"]),
            kind=d["kind"],
            categories=tuple(str(c) for c in cats) if cats is not None else None,
            shape=tuple(int(s) for s in shape) if shape is not None else None,
        )


@dataclass(frozen=True)
class DerivedColumn:
    """A sensitive column derived from a numeric feature by binning (for example an age band).

    ``bins`` are the right-open edges; the labels have one entry fewer than the edges. An open
    outer edge is infinite; :meth:`to_dict` writes it as the string ``"inf"`` (``"-inf"``)
    so the plain data survives JSON, which has no infinity.
    """

    name: str
    source: str
    bins: tuple[float, ...]
    labels: tuple[str, ...]

    def compute(self, values: Any) -> np.ndarray:
        """Return the band label of each value as strings."""
        v = np.asarray(values, dtype=np.float64)
        idx = np.searchsorted(np.asarray(self.bins[1:-1]), v, side="right")
        return np.asarray(self.labels, dtype=object)[idx]

    def to_dict(self) -> dict[str, Any]:
        """Return plain data."""
        return {
            "name": self.name,
            "source": self.source,
            "bins": [_edge_out(b) for b in self.bins],
            "labels": list(self.labels),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DerivedColumn:
        """Build from :meth:`to_dict` output."""
        bins = _edges_in(d["bins"])
        labels = tuple(str(x) for x in d["labels"])
        if len(labels) != len(bins) - 1:
            raise ValueError(
                f"derived column {d['name']!r} has {len(bins)} bin edges and {len(labels)} "
                "labels; it needs one label fewer than edges"
            )
        return cls(name=str(d["name"]), source=str(d["source"]), bins=bins, labels=labels)


#: How :meth:`DerivedColumn.to_dict` writes infinite edges (JSON has no infinity).
_INFINITE_EDGES = {"inf": math.inf, "-inf": -math.inf}


def _edge_out(b: float) -> float | str:
    b = float(b)
    if math.isinf(b):
        return "inf" if b > 0 else "-inf"
    return b


def _edges_in(bins: Any) -> tuple[float, ...]:
    """Read bin edges written by :meth:`DerivedColumn.to_dict`.

    Numbers, the strings ``"inf"`` and ``"-inf"``, and (in audit results written before the
    strings) ``null`` as an open outer edge: first ``-inf``, last ``inf``.
    """
    if isinstance(bins, (str, bytes)) or not isinstance(bins, Sequence):
        raise TypeError(f"derived column bins must be a list, not {type(bins).__name__}")
    out = []
    last = len(bins) - 1
    for i, b in enumerate(bins):
        if b is None and i in (0, last):
            v = -math.inf if i == 0 else math.inf
        elif isinstance(b, str) and b.strip().lower() in _INFINITE_EDGES:
            v = _INFINITE_EDGES[b.strip().lower()]
        elif isinstance(b, (int, float)) and not isinstance(b, bool):
            v = float(b)
        else:
            raise ValueError(f"derived column bin edge {b!r} is not a number, 'inf' or '-inf'")
        if math.isnan(v):
            raise ValueError("derived column bin edges must not be NaN")
        out.append(v)
    if any(a >= b for a, b in zip(out, out[1:])):
        raise ValueError(f"derived column bin edges must increase; got {out}")
    return tuple(out)


@dataclass(frozen=True)
class DatasetSchema:
    """What a dataset holds, as plain data (stored in checkpoints and audit results).

    Parameters
    ----------
    name : str
        Dataset name (``"adult"``) or the file name for user tables.
    modality : {"tabular", "image", "text"}
        The kind of input.
    features : tuple of FeatureSpec
        Input features in model order.
    target : str
        Name of the label column.
    class_names : tuple of str
        Label names; class ``i`` of ``y`` is ``class_names[i]``.
    sensitive : tuple of str
        Sensitive columns: names of features or of ``derived`` columns.
    derived : tuple of DerivedColumn, default=()
        Sensitive columns computed from features (for example Adult's ``age_band``).
    positive_class : str, default=None
        The favourable outcome for binary tasks (defaults to the last class).
    task : {"classification", "regression"}, default="classification"
        What the target is: class labels, or a number (then ``class_names`` is empty and
        ``y`` holds float64 values).
    unit : str, default=None
        The unit of a regression target (``"hours"``), for the words of findings.

    Notes
    -----
    :meth:`to_dict` writes ``task`` and ``unit`` only for a regression, so the plain data of a
    classification schema (in checkpoints and audit results) is what it always was.
    """

    name: str
    modality: Modality
    features: tuple[FeatureSpec, ...]
    target: str
    class_names: tuple[str, ...]
    sensitive: tuple[str, ...] = ()
    derived: tuple[DerivedColumn, ...] = field(default_factory=tuple)
    positive_class: str | None = None
    task: Literal["classification", "regression"] = "classification"
    unit: str | None = None

    @property
    def feature_names(self) -> list[str]:
        """Names of the input features in order."""
        return [f.name for f in self.features]

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for a regression)."""
        return len(self.class_names)

    @property
    def is_regression(self) -> bool:
        """True when the target is a number (``task == "regression"``)."""
        return self.task == "regression"

    def feature(self, name: str) -> FeatureSpec:
        """Return the spec of feature ``name``."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def sensitive_frame(self, X: Any, columns: tuple[str, ...] | list[str] | None = None) -> Any:
        """Return a DataFrame of sensitive columns (as strings) computed from raw tabular ``X``."""
        import pandas as pd

        from .._core.validation import check_columns

        cols = list(self.sensitive if columns is None else columns)
        derived = {d.name: d for d in self.derived}
        out: dict[str, Any] = {}
        for c in cols:
            if c in derived:
                d = derived[c]
                check_columns([d.source], list(X.columns), where="the data")
                out[c] = d.compute(X[d.source].to_numpy())
            else:
                check_columns([c], list(X.columns), what="Sensitive column", where="the data")
                out[c] = X[c].astype(str).to_numpy()
        return pd.DataFrame(out, index=X.index)

    def to_dict(self) -> dict[str, Any]:
        """Return the schema as plain data."""
        return {
            "name": self.name,
            "modality": self.modality,
            "features": [f.to_dict() for f in self.features],
            "target": self.target,
            "class_names": list(self.class_names),
            "sensitive": list(self.sensitive),
            "derived": [d.to_dict() for d in self.derived],
            "positive_class": self.positive_class,
            # only for a regression: a classification schema keeps its plain data unchanged
            **({"task": self.task, "unit": self.unit} if self.task == "regression" else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetSchema:
        """Build a schema from :meth:`to_dict` output.

        Raises
        ------
        KeyError, TypeError or ValueError
            When ``d`` is not the plain data :meth:`to_dict` writes (for example a feature
            that is not a mapping, or values nested too deeply to read).
        """
        _mapping(d, "schema")
        for key in ("features", "derived"):
            for item in d.get(key) or ():
                _mapping(item, f"schema {key} entry")
        try:
            return cls(
                name=str(d["name"]),
                modality=d["modality"],
                features=tuple(FeatureSpec.from_dict(f) for f in d["features"]),
                target=str(d["target"]),
                class_names=tuple(str(c) for c in d["class_names"]),
                sensitive=tuple(str(s) for s in d.get("sensitive", ())),
                derived=tuple(DerivedColumn.from_dict(x) for x in d.get("derived", ())),
                positive_class=d.get("positive_class"),
                task=_task(d.get("task", "classification")),
                unit=None if d.get("unit") is None else str(d.get("unit")),
            )
        except RecursionError as exc:
            raise ValueError("the schema holds values nested too deeply to read") from exc


def _task(value: Any) -> Literal["classification", "regression"]:
    """Read a schema's ``task`` (ValueError for anything else)."""
    if value == "classification":
        return "classification"
    if value == "regression":
        return "regression"
    raise ValueError(f"schema task must be 'classification' or 'regression', not {value!r}")


def _mapping(value: Any, what: str) -> None:
    """Raise TypeError unless ``value`` is a mapping (a JSON object)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(value).__name__}")


@dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes
    ----------
    X : DataFrame, ndarray of uint8, or ndarray of str (object)
        Raw inputs: a DataFrame for tabular data, ``uint8`` images, raw review strings.
    y : ndarray of int64 or float64
        Class indices into ``schema.class_names``; for a regression, the target values
        (float64).
    """

    X: Any
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    """A dataset with fixed ``train`` and ``test`` splits and its schema.

    Attributes
    ----------
    name : str
    train, test : Split
    schema : DatasetSchema
    sha256 : str
        Hash of the source files the splits were read from.
    description : str
        How the splits were made and where the data comes from.
    """

    name: str
    train: Split
    test: Split
    schema: DatasetSchema
    sha256: str
    description: str = ""

    def sensitive(self, split: str = "test") -> Any:
        """Return the sensitive columns of ``split`` as a DataFrame (tabular), or None."""
        part = self.train if split == "train" else self.test
        if self.schema.modality != "tabular" or not self.schema.sensitive:
            return None
        return self.schema.sensitive_frame(part.X)
