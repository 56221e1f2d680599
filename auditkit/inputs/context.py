"""The frozen context every section reads and the shared prediction cache."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np

from .._core.limits import DEFAULT_MAX_CLASSES, DEFAULT_MAX_GROUPS
from ..adapters.base import ModelAdapter
from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError
from .options import SectionOptions

_O = TypeVar("_O", bound=SectionOptions)

Requirement = Literal["model", "scores", "sensitive", "train_data", "gradients", "features"]


@dataclass(frozen=True)
class Predictions:
    """Labels, decisions and scores of one split, computed once and shared by every section.

    Attributes
    ----------
    y_true, y_pred : ndarray of int64
        Class indices into ``classes``.
    y_proba : ndarray of shape (n_samples, n_classes) or None
        Probabilities (None for a decision log without scores).
    classes : tuple of str
        Label names, as strings.
    pos_label : int or None
        Index of the favourable class for binary tasks.
    has_scores : bool
        False when ``y_proba`` is one-hot from hard predictions.
    sample_weight : ndarray of float64 or None
        Per-row weights (Fairlearn's ``sample_params={"sample_weight": ...}``), None for none.
    favourable : int or None
        Index of the outcome that benefits the person (binary tasks); None means ``pos_label``.
        ``pos_label`` keeps its Fairlearn meaning for the metrics; the four-fifths rule and
        the words of findings use the favourable outcome.
    label_names : tuple of str or None
        A reader's name for each class (``"high risk"``), aligned with ``classes``; None means
        the class values themselves.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    y_proba: np.ndarray | None
    classes: tuple[str, ...]
    pos_label: int | None
    has_scores: bool = True
    sample_weight: np.ndarray | None = None
    favourable: int | None = None
    label_names: tuple[str, ...] | None = None

    def label_name(self, index: int) -> str:
        """Return the reader's name of class ``index`` (its value when no name was given)."""
        if self.label_names is not None:
            return self.label_names[index]
        return self.classes[index]

    @property
    def favourable_index(self) -> int | None:
        """The favourable class index of a binary task (``favourable``, else ``pos_label``)."""
        if self.task != "binary":
            return None
        if self.favourable is not None:
            return self.favourable
        return self.pos_label if self.pos_label is not None else 1

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def task(self) -> Literal["binary", "multiclass"]:
        """``"binary"`` for two classes, else ``"multiclass"``."""
        return "binary" if self.n_classes <= 2 else "multiclass"

    @property
    def y_score(self) -> np.ndarray | None:
        """The positive-class probability for binary tasks (else None)."""
        if self.y_proba is None or self.task != "binary" or not self.has_scores:
            return None
        return self.y_proba[:, self.pos_label if self.pos_label is not None else 1]

    def __len__(self) -> int:
        return len(self.y_true)


@dataclass(frozen=True)
class RegressionPredictions:
    """True values and predictions of a regression (a model that predicts a number).

    Attributes
    ----------
    y_true, y_pred : ndarray of float64
        True values and predicted values, finite, aligned with the evaluation rows.
    sample_weight : ndarray of float64 or None
        Per-row weights, None for none.
    target : str or None
        The target's name (a column name, ``"hours-per-week"``), for the words of findings.
    unit : str or None
        The target's unit (``"hours"``, ``"EUR"``), for the words of findings and the card.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    sample_weight: np.ndarray | None = None
    target: str | None = None
    unit: str | None = None

    @property
    def task(self) -> Literal["regression"]:
        """Always ``"regression"``."""
        return "regression"

    @property
    def has_scores(self) -> bool:
        """A regression has no class scores (sections needing them are skipped)."""
        return False

    def __len__(self) -> int:
        return len(self.y_true)


@dataclass(frozen=True)
class RegressionCounts:
    """A regression log reduced to the regression engine's tables, without its rows.

    The tables follow the contract of :mod:`auditkit.metrics.regression` (the sums table
    and the optional histogram table), as columns (dict of str to ndarray).

    Attributes
    ----------
    features : tuple of str
        The sensitive features.
    sums : dict of str to ndarray
        The sums table.
    histogram : dict of str to ndarray or None
        The histogram table (median absolute error, distribution gaps, bias at equal true
        values); None when the reduction did not make one.
    engine, source : str
        As :class:`Counts`.
    """

    features: tuple[str, ...]
    sums: Mapping[str, np.ndarray]
    histogram: Mapping[str, np.ndarray] | None
    engine: str
    source: str

    @property
    def n_rows(self) -> int:
        """Number of rows of the log."""
        return int(np.asarray(self.sums["count"]).sum())

    @property
    def has_scores(self) -> bool:
        """A regression log has no class scores."""
        return False


@dataclass(frozen=True)
class Counts:
    """A prediction log reduced to count tables (by :mod:`auditkit.scale`), without its rows.

    Sections that declare ``supports_counts = True`` (performance, fairness) read it when the
    rows are absent; the orchestrator skips the others with the reason. Labels are class
    indices into ``Predictions.classes`` and sensitive values are strings, as on the row path.

    Attributes
    ----------
    features : tuple of str
        The sensitive features.
    groups : dict of str to ndarray
        The engine's count table (:mod:`auditkit.metrics.engine`): one column per feature
        (str values), ``y_true``, ``y_pred`` (class indices), ``count``, and with scores
        ``score_bin``, ``score_sum``, ``score_sq_sum``; when the reduction summed log losses,
        also ``log_loss_sum`` and ``log_loss_sq_sum`` (sums of ``-log p[y]`` and of its
        square, probabilities clipped to ``[eps, 1 - eps]`` as on the row path).
    scores : dict of str to ndarray or None
        The ROC AUC histogram of the performance section, by ``y_true`` and ``fine_bin``
        (``min(floor(score * auc_bins), auc_bins - 1)``): ``count``, ``score_min``,
        ``score_max``. None without scores, or when the performance section was not asked
        for.
    n_bins : int
        Calibration bins.
    auc_bins : int
        Fine score bins of the ROC AUC histogram.
    engine : str
        The engine that reduced the rows (``"duckdb"``, ``"polars"``, ``"spark"``...).
    source : str
        What was reduced (a file name, a glob, a frame type), for the card.
    """

    features: tuple[str, ...]
    groups: Mapping[str, np.ndarray]
    scores: Mapping[str, np.ndarray] | None
    n_bins: int
    auc_bins: int
    engine: str
    source: str

    @property
    def n_rows(self) -> int:
        """Number of rows of the log."""
        return int(np.asarray(self.groups["count"]).sum())

    @property
    def has_scores(self) -> bool:
        """True when the log had scores."""
        return "score_bin" in self.groups


@dataclass(frozen=True)
class TrainData:
    """Training data handed to the audit (privacy and stability sections)."""

    X: Any
    y: np.ndarray  # class indices aligned with the eval predictions' classes (regression: float64)
    sensitive: Any = None


@dataclass(frozen=True)
class AuditConfig:
    """Settings of one audit run (plain values)."""

    sections: tuple[str, ...]
    n_boot: int = 1000
    ci_level: float = 0.95
    random_state: int = 0
    min_group_size: int = 30
    show_progress: bool = False
    strict: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Reference group per sensitive feature (``{"race": "B"}``, values as the strings of the
    #: sensitive frame); a feature not named here takes its largest group.
    reference_groups: Mapping[str, str] = field(default_factory=dict)
    #: Where the audit came from, for the record (``command``, ``data_name``): not an option.
    provenance: Mapping[str, str] = field(default_factory=dict)
    #: Ceilings on the groups of one sensitive feature and on the classes of the target.
    max_groups: int = DEFAULT_MAX_GROUPS
    max_classes: int = DEFAULT_MAX_CLASSES


@dataclass(frozen=True)
class AuditContext:
    """Everything a section may read. Sections never modify it and never read one another.

    Attributes
    ----------
    config : AuditConfig
    predictions : Predictions
        Of the evaluation data (classification). For a regression its arrays are empty and
        ``classes`` is ``()``: read ``regression`` instead. When ``counts`` is set (a log
        reduced to count tables), its arrays are empty and only ``classes``, ``pos_label`` and
        ``has_scores`` hold.
    model : ModelAdapter or None
        None for a log of predictions.
    X : object or None
        Raw evaluation inputs (DataFrame, images, strings).
    sensitive : DataFrame or None
        Sensitive columns (string values), aligned with the evaluation rows.
    train : TrainData or None
    schema : DatasetSchema or None
    regression : RegressionPredictions or None
        The true and predicted values of a regression (``task == "regression"``), on the row
        path.
    regression_counts : RegressionCounts or None
        A regression log reduced to the regression engine's tables (rows absent).
    counts : Counts or None
        The log as count tables when its rows were reduced inside another engine (DuckDB,
        Polars, Spark); None on the row path.
    """

    config: AuditConfig
    predictions: Predictions
    model: ModelAdapter | None = None
    X: Any = None
    sensitive: Any = None
    train: TrainData | None = None
    schema: DatasetSchema | None = None
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    counts: Counts | None = None
    regression: RegressionPredictions | None = None
    regression_counts: RegressionCounts | None = None

    @property
    def task(self) -> Literal["classification", "regression"]:
        """``"regression"`` when the model predicts numbers, else ``"classification"``."""
        if self.regression is not None or self.regression_counts is not None:
            return "regression"
        return "classification"

    @property
    def n_rows(self) -> int:
        """Rows of the evaluation data (from the counts when the rows are absent)."""
        if self.regression_counts is not None:
            return self.regression_counts.n_rows
        if self.regression is not None:
            return len(self.regression)
        return self.counts.n_rows if self.counts is not None else len(self.predictions)

    def rng(self, salt: str) -> np.random.Generator:
        """Return a generator seeded from the audit seed and ``salt`` (order-independent)."""
        return np.random.default_rng([self.config.random_state, zlib.crc32(salt.encode())])

    def option(self, name: str, default: Any = None) -> Any:
        """Return a section option passed through ``audit(..., options={...})``."""
        return self.config.options.get(name, default)

    def options_for(self, cls: type[_O]) -> _O:
        """Return a section's typed options (``auditkit.inputs.options``), defaults filled in."""
        key = f"options:{cls.__module__}.{cls.__qualname__}"
        if key not in self.cache:
            self.cache[key] = cls.from_options(self.config.options)
        out: _O = self.cache[key]
        return out

    def train_predictions(self) -> Predictions | None:
        """Predictions of the model on the training data (cached), or None."""
        if self.train is None or self.model is None:
            return None
        if "train_predictions" not in self.cache:
            proba = self.model.predict_proba(self.train.X)
            p = self.predictions
            if proba.shape[1] != p.n_classes:
                raise DataValidationError(
                    f"The model gives {proba.shape[1]} classes on the training data but "
                    f"{p.n_classes} on the evaluation data."
                )
            self.cache["train_predictions"] = Predictions(
                y_true=self.train.y,
                y_pred=predict_from_proba(proba),
                y_proba=proba,
                classes=p.classes,
                pos_label=p.pos_label,
                has_scores=p.has_scores,
            )
        out: Predictions = self.cache["train_predictions"]
        return out

    def train_regression(self) -> RegressionPredictions | None:
        """Return the model's predicted values on the training data (cached), or None.

        For a regression (``task == "regression"``) with a model and training data.
        """
        if self.train is None or self.model is None or self.regression is None:
            return None
        if "train_regression" not in self.cache:
            r = self.regression
            self.cache["train_regression"] = RegressionPredictions(
                y_true=np.asarray(self.train.y, dtype=np.float64),
                y_pred=self.model.predict_values(self.train.X),
                target=r.target,
                unit=r.unit,
            )
        out: RegressionPredictions = self.cache["train_regression"]
        return out

    def missing(self, requires: tuple[str, ...]) -> str | None:
        """Return why a section with ``requires`` cannot run here, or None when it can."""
        for req in requires:
            if req == "model" and self.model is None:
                return "needs a model; only a log of predictions was given"
            if req == "scores" and self.task == "regression":
                return "needs class probabilities or scores; a regression predicts values"
            if req == "scores" and (
                not self.counts.has_scores if self.counts is not None
                else (self.predictions.y_proba is None or not self.predictions.has_scores)
            ):  # fmt: skip
                return "needs predicted probabilities or scores; none were given"
            no_rows = self.sensitive is None or self.sensitive.shape[1] == 0
            if (
                req == "sensitive"
                and no_rows
                and (self.counts is None or not self.counts.features)
                and (self.regression_counts is None or not self.regression_counts.features)
            ):
                return "needs sensitive features; none were given or declared by the dataset"
            log = self.model is None and self.X is None  # a log of decisions, no model
            if req == "train_data" and self.train is None and log:
                return "needs the model's training rows; only a log of predictions was given"
            if req == "train_data" and self.train is None:
                return (
                    "needs training data (train=(X_train, y_train), or --train-data FILE on the "
                    "command line); none was given"
                )
            if req == "features" and self.X is None:
                return "needs the model's input features; none were given"
            if req == "gradients" and (self.model is None or self.model.torch_parts() is None):
                return "needs a differentiable torch model"
        return None


def predict_from_proba(proba: np.ndarray) -> np.ndarray:
    """Return the argmax class index of each row (ties go to the lower index)."""
    return np.asarray(np.argmax(proba, axis=1), dtype=np.int64)
