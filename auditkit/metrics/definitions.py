"""The metric registry: every number the performance and fairness sections report, with metadata.

Each :class:`MetricInfo` says which way is better (``greater_is_better``: True, False, or None
for descriptive numbers such as a selection rate), which model output it needs
(``response_method``), its range and unit, a one-line description for the card's glossary, and,
for the confusion-cell rates the fairness engine computes, the cells of the numerator and the
denominator. Policies, traffic lights and "better/worse" wording read this metadata instead of
hard-coding directions.

Names follow Fairlearn (``selection_rate``, ``true_positive_rate``...); disparities are
``<metric>_difference`` (lower is better) and ``<metric>_ratio`` (higher is better).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from .._core.catalog import CATALOG
from .._core.registry import Registry

__all__ = [
    "CELL_NAMES",
    "METRICS",
    "RATE_METRICS",
    "MetricInfo",
    "metric_info",
]

#: The four cells of a binary confusion table, in the engine's order (true, predicted):
#: ``tn`` = (negative, negative), ``fp`` = (negative, positive), ``fn`` = (positive, negative),
#: ``tp`` = (positive, positive).
CELL_NAMES = ("tn", "fp", "fn", "tp")

ResponseMethod = Literal["predict", "predict_proba", "none"]


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one reported metric.

    Parameters
    ----------
    name : str
        The record name (``MetricValue.name``).
    description : str
        One plain sentence for the glossary.
    greater_is_better : bool or None
        True when higher is better, False when lower is better, None when neither (a rate
        that describes the model's behaviour, a count).
    response_method : {"predict", "predict_proba", "none"}
        What the metric needs from the model: decisions, scores, or nothing (mitigation
        summaries, counts).
    range : tuple of (float or None, float or None)
        Lowest and highest possible value (None: unbounded).
    sections : tuple of str
        The sections that report it.
    numerator, denominator : tuple of str, default=None
        For confusion-cell rates: the cells (names from :data:`CELL_NAMES`) summed above and
        below the fraction. A 0/0 fraction is 0, as in Fairlearn and scikit-learn's default,
        and the record is flagged.
    unit : str, default=None
        Unit when the value is not a plain number or fraction.
    """

    name: str
    description: str
    greater_is_better: bool | None
    response_method: ResponseMethod
    range: tuple[float | None, float | None]
    sections: tuple[str, ...]
    numerator: tuple[str, ...] | None = None
    denominator: tuple[str, ...] | None = None
    unit: str | None = None


METRICS: Registry[MetricInfo] = Registry("metric")


def _add(info: MetricInfo) -> None:
    spec = CATALOG.get(info.name)  # the catalog's words (its direction is checked by a test)
    METRICS.register(info.name)(replace(info, description=spec.description) if spec else info)


def metric_info(name: str) -> MetricInfo:
    """Return the metadata of ``name`` (raises :class:`RegistryKeyError` listing the names)."""
    return METRICS.get(name)


_ALL = ("tn", "fp", "fn", "tp")
_FAIR = ("fairness",)
_BOTH = ("performance", "fairness")

#: Confusion-cell rates, in the order the engine computes and reports them.
RATE_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "selection_rate",
        "Share of rows that receive the positive (favourable) decision.",
        None, "predict", (0.0, 1.0), _FAIR, ("tp", "fp"), _ALL,
    ),
    MetricInfo(
        "true_positive_rate",
        "Share of truly positive rows that the model decides positive (recall, sensitivity).",
        True, "predict", (0.0, 1.0), _FAIR, ("tp",), ("tp", "fn"),
    ),
    MetricInfo(
        "false_positive_rate",
        "Share of truly negative rows that the model wrongly decides positive.",
        False, "predict", (0.0, 1.0), _FAIR, ("fp",), ("fp", "tn"),
    ),
    MetricInfo(
        "false_negative_rate",
        "Share of truly positive rows that the model wrongly decides negative (miss rate).",
        False, "predict", (0.0, 1.0), _FAIR, ("fn",), ("tp", "fn"),
    ),
    MetricInfo(
        "true_negative_rate",
        "Share of truly negative rows that the model decides negative (specificity).",
        True, "predict", (0.0, 1.0), _FAIR, ("tn",), ("fp", "tn"),
    ),
    MetricInfo(
        "accuracy",
        "Share of rows whose decision equals the true label.",
        True, "predict", (0.0, 1.0), _BOTH, ("tp", "tn"), _ALL,
    ),
    MetricInfo(
        "precision",
        "Share of positive decisions that are truly positive.",
        True, "predict", (0.0, 1.0), _BOTH, ("tp",), ("tp", "fp"),
    ),
    MetricInfo(
        "false_omission_rate",
        "Share of negative decisions that are truly positive: FN / (FN + TN).",
        False, "predict", (0.0, 1.0), _FAIR, ("fn",), ("fn", "tn"),
    ),
    MetricInfo(
        "false_discovery_rate",
        "Share of positive decisions that are truly negative: FP / (FP + TP).",
        False, "predict", (0.0, 1.0), _FAIR, ("fp",), ("fp", "tp"),
    ),
)  # fmt: skip

for _m in RATE_METRICS:
    _add(_m)
    _add(
        MetricInfo(
            f"{_m.name}_difference",
            f"Largest gap in {_m.name.replace('_', ' ')} between two groups (between_groups) "
            "or between a group and the whole population (to_overall).",
            False, "predict", (0.0, 1.0), _FAIR,
        )
    )  # fmt: skip
    _add(
        MetricInfo(
            f"{_m.name}_ratio",
            f"Smallest ratio of {_m.name.replace('_', ' ')} between two groups (between_groups) "
            "or between a group and the whole population (to_overall), as a number <= 1.",
            True, "predict", (0.0, 1.0), _FAIR,
        )
    )  # fmt: skip

_OTHERS = (
    MetricInfo("count", "Number of rows.", None, "none", (0.0, None), _FAIR),
    MetricInfo(
        "impact_ratio",
        "A group's selection rate divided by the highest group selection rate (the "
        "four-fifths rule asks for at least 0.8).",
        True, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "demographic_parity_difference",
        "Largest gap in selection rate between groups (Fairlearn's demographic parity "
        "difference).",
        False, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "demographic_parity_ratio",
        "Smallest selection rate divided by the largest (Fairlearn's demographic parity ratio).",
        True, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "equalized_odds_difference",
        "The larger of the true-positive-rate gap and the false-positive-rate gap between "
        "groups (Fairlearn, agg='worst_case'); records with agg='mean' take their mean.",
        False, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "equalized_odds_ratio",
        "The smaller of the true-positive-rate ratio and the false-positive-rate ratio "
        "between groups (Fairlearn, agg='worst_case'); records with agg='mean' take their "
        "mean.",
        True, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "average_odds_difference",
        "Mean of the false-positive-rate gap and the true-positive-rate gap (AIF360's average "
        "odds difference, here between groups or to the whole population, as Fairlearn's "
        "differences).",
        False, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "equal_opportunity_difference",
        "Largest gap in true positive rate between groups.",
        False, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "equal_opportunity_ratio",
        "Smallest true positive rate divided by the largest.",
        True, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "mean_score",
        "Average predicted probability of the positive class.",
        None, "predict_proba", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "base_rate",
        "Share of rows whose true label is the positive class.",
        None, "none", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "expected_calibration_error",
        "Average distance between predicted probability and observed frequency over 10 "
        "equal-width probability bins, weighted by the rows in each bin.",
        False, "predict_proba", (0.0, 1.0), _BOTH,
    ),
    MetricInfo(
        "expected_calibration_error_difference",
        "Largest gap in expected calibration error between groups.",
        False, "predict_proba", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "balanced_accuracy",
        "Average of the recall of each class (accuracy when every class counts equally).",
        True, "predict", (0.0, 1.0), _BOTH,
    ),
    MetricInfo(
        "balanced_accuracy_difference",
        "Largest gap in balanced accuracy between two groups (between_groups) or between a "
        "group and the whole population (to_overall).",
        False, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "balanced_accuracy_ratio",
        "Smallest ratio of balanced accuracy between two groups (between_groups) or between a "
        "group and the whole population (to_overall), as a number <= 1.",
        True, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "roc_auc",
        "Probability that a random positive row scores higher than a random negative row "
        "(multiclass: one-vs-rest, macro average).",
        True, "predict_proba", (0.0, 1.0), _BOTH,
    ),
    MetricInfo(
        "roc_auc_difference",
        "Largest gap in ROC AUC between two groups (between_groups) or between a group and "
        "the whole population (to_overall).",
        False, "predict_proba", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "roc_auc_ratio",
        "Smallest ratio of ROC AUC between two groups (between_groups) or between a group and "
        "the whole population (to_overall), as a number <= 1.",
        True, "predict_proba", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "weight_sum",
        "Sum of the sample weights of the rows (weighted audits).",
        None, "none", (0.0, None), _FAIR,
    ),
    MetricInfo(
        "log_loss",
        "Average negative log-probability given to the true class (cross-entropy).",
        False, "predict_proba", (0.0, None), ("performance",),
    ),
    MetricInfo(
        "brier_score",
        "Mean squared error of the predicted probabilities (binary: of the positive class; "
        "multiclass: summed over the one-hot classes, as scikit-learn).",
        False, "predict_proba", (0.0, 2.0), ("performance",),
    ),
    MetricInfo(
        "recall",
        "Share of the rows of a class that the model assigns to it.",
        True, "predict", (0.0, 1.0), ("performance",),
    ),
    MetricInfo(
        "f1",
        "Harmonic mean of precision and recall of a class.",
        True, "predict", (0.0, 1.0), ("performance",),
    ),
    MetricInfo(
        "support", "Number of rows whose true label is the class.", None, "none", (0.0, None),
        ("performance",),
    ),
    MetricInfo(
        "confusion_count",
        "Number of rows with a given true class and predicted class.",
        None, "predict", (0.0, None), ("performance",),
    ),
    MetricInfo(
        "mitigation_accuracy_before",
        "Accuracy on the held-out half before Fairlearn's ThresholdOptimizer.",
        True, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "mitigation_accuracy_after",
        "Accuracy on the held-out half after Fairlearn's ThresholdOptimizer.",
        True, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "mitigation_disparity_before",
        "The disparity the constraint targets (demographic_parity_difference or "
        "equalized_odds_difference) on the held-out half, before mitigation.",
        False, "predict", (0.0, 1.0), _FAIR,
    ),
    MetricInfo(
        "mitigation_disparity_after",
        "The same disparity after Fairlearn's ThresholdOptimizer.",
        False, "predict", (0.0, 1.0), _FAIR,
    ),
)  # fmt: skip

for _m in _OTHERS:
    _add(_m)
