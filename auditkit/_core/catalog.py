"""The metric catalog: one source of truth for every figure the audit reports.

Plain data, standard library only; nothing here imports the audit or the report package, so
both read it: the metric registry (``auditkit.metrics.definitions``) is checked against it, and the
traffic lights, chart reference lines, the glossary, the words of findings and the policy's
group-naming read it. Each :class:`MetricSpec` gives a name, its direction (``"higher"`` or
``"lower"`` is better, or ``"descriptive"``: neither), the unit, a plain-language description,
the kind of figure, and for disparities the per-group metric(s) they compare.

Disparities follow Fairlearn's naming (``<metric>_difference``, ``<metric>_ratio``) and come in
three methods: ``between_groups`` (largest minus smallest group value; smallest over largest),
``to_overall`` (largest gap to / smallest ratio to the whole population) and ``to_reference``
(``group - reference``, signed; ``group / reference``). An unsigned difference is better when
smaller and a ratio (at most 1) better when larger. A signed ``to_reference`` gap harms one of
the two groups whichever way it points: :func:`harm` turns it into an unsigned gap (``|d|``,
or ``min(r, 1/r)`` for a ratio) for the lights and the diff.

:data:`DEFAULT_THRESHOLDS` are the card's default traffic-light bounds, each with its source;
a policy file replaces them. The evidence rule shared by every section is here too
(:func:`evidence_p`, :func:`has_evidence`): a red or amber verdict needs a value beyond its bound,
a p-value (adjusted for the family of comparisons where there is one) below ``1 - ci_level``,
and no group too small to judge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "CATALOG",
    "DEFAULT_THRESHOLDS",
    "DISPARITY_METHODS",
    "NOT_DISTINGUISHABLE",
    "GROUP_METRICS",
    "SMALL_FLAGS",
    "MetricSpec",
    "Threshold",
    "base_metrics",
    "describe",
    "direction",
    "evidence_p",
    "evidence_word",
    "has_evidence",
    "harm",
    "is_small",
    "spec",
    "threshold",
]

Direction = Literal["higher", "lower", "descriptive"]
Task = Literal["classification", "regression"]
Kind = Literal[
    "rate",  # a share of rows (0..1)
    "score",  # a quality score (AUC, accuracy-like, F1)
    "loss",  # an error or loss (lower is better)
    "count",  # a number of rows
    "disparity_difference",  # a gap between groups
    "disparity_ratio",  # a ratio between groups
    "attack",  # a privacy attack's success
    "bound",  # a guarantee's bound (differential privacy)
    "attribution",  # an explanation figure
    "statistic",  # anything else (fold statistics, correlations)
]

#: How a disparity is taken (``MetricValue.method``).
DISPARITY_METHODS = ("between_groups", "to_overall", "to_reference")
#: Record flags that mark a group (or a comparison including one) too small to judge.
SMALL_FLAGS = frozenset({"too_small", "small_groups"})
#: What a light or finding says of a value beyond its bound without the evidence for it.
NOT_DISTINGUISHABLE = "not distinguishable from no gap with these sample sizes"


@dataclass(frozen=True)
class MetricSpec:
    """What one metric is.

    Parameters
    ----------
    name : str
        The record name (``MetricValue.name``).
    direction : {"higher", "lower", "descriptive"}
        Which way is better; ``"descriptive"``: neither (a selection rate, a count).
    kind : str
        One of :data:`Kind`.
    unit : str
        ``"share"`` (0 to 1), ``"ratio"``, ``"difference"``, ``"rows"``, ``"AUC"``,
        ``"nats"``, ``"epsilon"``, ``"score"``.
    description : str
        One plain sentence (or two) for the glossary.
    words : str
        How a sentence names it (``"false positive rate"``).
    base : tuple of str, default=()
        For disparities: the per-group metric(s) compared (equalized odds: both rates).
    task : {"classification", "regression"} or None, default=None
        The kind of model the metric is defined for; None: either (a count, an attribution, a
        privacy attack). A policy rule naming a metric of the other task fails and says so.
    """

    name: str
    direction: Direction
    kind: str
    unit: str
    description: str
    words: str = ""
    base: tuple[str, ...] = ()
    task: Task | None = None

    @property
    def greater_is_better(self) -> bool | None:
        """True, False or None, as the metric registry's ``greater_is_better``."""
        return {"higher": True, "lower": False}.get(self.direction)


CATALOG: dict[str, MetricSpec] = {}


def _add(
    name: str, direction: Direction, kind: str, unit: str, description: str, words: str = "",
    base: tuple[str, ...] = (), task: Task | None = None,
) -> None:  # fmt: skip
    CATALOG[name] = MetricSpec(
        name, direction, kind, unit, description, words or name.replace("_", " "), base, task
    )


# fmt: off
# ------------------------------------------------------------------------ performance
_add("accuracy", "higher", "score", "share",
     "Share of rows whose decision equals the true label.")
_add("balanced_accuracy", "higher", "score", "share",
     "Average of the recall of each class: accuracy when every class counts equally, so a "
     "model that ignores a rare class cannot score well (also reported per group).")
_add("roc_auc", "higher", "score", "AUC",
     "Probability that a random positive row scores higher than a random negative row (0.5 "
     "is a coin flip, 1 is perfect; multiclass: one-vs-rest, macro average; also reported per "
     "group).", "ROC AUC")
_add("log_loss", "lower", "loss", "nats",
     "Average negative log-probability given to the true class (cross-entropy); lower is "
     "better, and confident mistakes cost most.")
_add("brier_score", "lower", "loss", "score",
     "Mean squared error of the predicted probabilities; lower is better.", "Brier score")
_add("expected_calibration_error", "lower", "loss", "share",
     "Average distance between the predicted probability and how often the outcome really "
     "happens, over 10 probability bins: 0.1 means the scores are off by about 10 points.")
_add("precision", "higher", "score", "share",
     "Share of the rows given a class (or a positive decision) that truly have it.")
_add("recall", "higher", "score", "share",
     "Share of the rows of a class that the model assigns to it.")
_add("f1", "higher", "score", "share", "Harmonic mean of precision and recall of a class.", "F1")
_add("support", "descriptive", "count", "rows", "Number of rows whose true label is the class.")
_add("confusion_count", "descriptive", "count", "rows",
     "Number of rows with a given true class and predicted class.")

# ------------------------------------------------------------------------ fairness: rates
_add("selection_rate", "descriptive", "rate", "share",
     "Share of rows that receive the positive decision.",
     "selection rate (share of positive decisions)")
_add("true_positive_rate", "higher", "rate", "share",
     "Share of truly positive rows that the model decides positive (recall, sensitivity).",
     "true positive rate (share of truly positive rows the model finds)")
_add("false_positive_rate", "lower", "rate", "share",
     "Share of truly negative rows that the model wrongly decides positive.",
     "false positive rate (share of truly negative rows wrongly flagged)")
_add("false_negative_rate", "lower", "rate", "share",
     "Share of truly positive rows that the model wrongly decides negative (miss rate).",
     "false negative rate (share of truly positive rows the model misses)")
_add("true_negative_rate", "higher", "rate", "share",
     "Share of truly negative rows that the model decides negative.")
_add("false_omission_rate", "lower", "rate", "share",
     "Share of the rows decided negative that are truly positive.")
_add("false_discovery_rate", "lower", "rate", "share",
     "Share of the rows decided positive that are truly negative.")
_add("count", "descriptive", "count", "rows", "Number of rows in the group.")
_add("count_difference", "descriptive", "statistic", "rows",
     "Gap between the sizes of groups: a fact of the data, not a verdict on the model.",
     "difference in group size")
_add("count_ratio", "descriptive", "statistic", "ratio",
     "Ratio of the sizes of groups (smaller over larger): a fact of the data, not a verdict on "
     "the model.", "ratio of group sizes")
_add("weight_sum", "descriptive", "count", "weight",
     "Sum of the sample weights of the rows (weighted audits).")
_add("impact_ratio", "higher", "disparity_ratio", "ratio",
     "A group's selection rate divided by the highest group's; the four-fifths rule asks for "
     "at least 0.8.", base=("selection_rate",))
_add("mean_score", "descriptive", "rate", "share",
     "Average predicted probability of the positive class.")
_add("base_rate", "descriptive", "rate", "share",
     "Share of rows whose true label is the positive class.")

#: Per-group metrics with Fairlearn-style ``_difference`` / ``_ratio`` disparities.
GROUP_METRICS = (
    "selection_rate", "true_positive_rate", "false_positive_rate", "false_negative_rate",
    "true_negative_rate", "accuracy", "precision", "expected_calibration_error",
    "false_omission_rate", "false_discovery_rate", "balanced_accuracy", "roc_auc",
)  # fmt: skip

_DIFF_TEXT = (
    "Gap in {w} between groups: between_groups, the largest minus the smallest group value; "
    "to_overall, the largest gap between a group and the whole population (both 0 when "
    "equal); to_reference, a group's value minus the reference group's (signed)."
)
_RATIO_TEXT = (
    "Ratio of {w} between groups: between_groups, the smallest group value over the largest; "
    "to_overall, the smallest ratio between a group and the whole population (both at most "
    "1, 1 when equal); to_reference, a group's value over the reference group's."
)
for _m in GROUP_METRICS:
    _w = CATALOG[_m].words.split(" (")[0]
    _add(f"{_m}_difference", "lower", "disparity_difference", "difference",
         _DIFF_TEXT.format(w=_w), f"{_w} gap", (_m,))  # fmt: skip
    _add(f"{_m}_ratio", "higher", "disparity_ratio", "ratio",
         _RATIO_TEXT.format(w=_w), f"{_w} ratio", (_m,))  # fmt: skip

_add("demographic_parity_difference", "lower", "disparity_difference", "difference",
     "Largest gap in selection rate between groups (0 means every group is selected equally "
     "often).", "selection-rate gap", ("selection_rate",))
_add("demographic_parity_ratio", "higher", "disparity_ratio", "ratio",
     "Smallest group selection rate divided by the largest (1 means equal; the four-fifths "
     "rule asks for at least 0.8).", "selection-rate ratio", ("selection_rate",))
_add("favourable_impact_ratio", "higher", "disparity_ratio", "ratio",
     "The four-fifths rule's figure: the lowest group's rate of the favourable outcome divided "
     "by the highest group's, among groups large enough to judge (1 means equal; the rule asks "
     "for at least 0.8).", "favourable-outcome ratio", ("selection_rate",))
_add("equalized_odds_difference", "lower", "disparity_difference", "difference",
     "The larger of the true-positive-rate gap and the false-positive-rate gap between groups "
     "(records with agg 'mean': their average): do errors fall equally on every group?",
     "error-rate gap", ("true_positive_rate", "false_positive_rate"))
_add("equalized_odds_ratio", "higher", "disparity_ratio", "ratio",
     "The smaller of the true-positive-rate ratio and the false-positive-rate ratio between "
     "groups (records with agg 'mean': their average).", "error-rate ratio",
     ("true_positive_rate", "false_positive_rate"))
_add("equal_opportunity_difference", "lower", "disparity_difference", "difference",
     "Largest gap in true positive rate between groups: do qualified people in every group "
     "get the positive decision equally often?", "true-positive-rate gap",
     ("true_positive_rate",))
_add("equal_opportunity_ratio", "higher", "disparity_ratio", "ratio",
     "Smallest group true positive rate divided by the largest.", "true-positive-rate ratio",
     ("true_positive_rate",))
_add("average_odds_difference", "lower", "disparity_difference", "difference",
     "Average of the false-positive-rate gap and the true-positive-rate gap between groups "
     "(AIF360's average odds difference; 0 when equal).", "average odds gap",
     ("false_positive_rate", "true_positive_rate"))
_add("mitigation_accuracy_before", "higher", "score", "share",
     "Accuracy on the held-out half before the what-if mitigation.")
_add("mitigation_accuracy_after", "higher", "score", "share",
     "Accuracy on the held-out half with group-specific thresholds (Fairlearn's "
     "ThresholdOptimizer).")
_add("mitigation_disparity_before", "lower", "disparity_difference", "difference",
     "The disparity the mitigation targets, on the held-out half, before it.")
_add("mitigation_disparity_after", "lower", "disparity_difference", "difference",
     "The same disparity with group-specific thresholds.")

# ------------------------------------------------------------------------ classification only
#: Metrics defined for classifiers only (class labels, probabilities, decisions), and their
#: disparities; a policy rule naming one on a regression fails with the reason.
CLASSIFICATION_METRICS = frozenset(
    n for n, s in CATALOG.items()
    if n not in ("count", "weight_sum")
)  # fmt: skip
for _n in CLASSIFICATION_METRICS:
    CATALOG[_n] = replace(CATALOG[_n], task="classification")

# ------------------------------------------------------------------------ regression
# The target's unit: ``unit="target"`` (``"target squared"`` for squared errors) is the unit of
# the predicted number (hours, EUR), which a record's ``unit`` names where it is known.
_add("mean_absolute_error", "lower", "loss", "target",
     "Average distance between the prediction and the true value, in the target's units.",
     "mean absolute error (average miss, in the target's units)", task="regression")
_add("mean_squared_error", "lower", "loss", "target squared",
     "Average squared distance between the prediction and the true value; large misses count "
     "most.", task="regression")
_add("root_mean_squared_error", "lower", "loss", "target",
     "Square root of the mean squared error, in the target's units: a typical miss, with large "
     "misses counting more than in the mean absolute error.",
     "root mean squared error (typical miss, in the target's units)", task="regression")
_add("r2_score", "higher", "score", "score",
     "Share of the variation of the true values that the predictions explain (1 is perfect, 0 "
     "no better than predicting the average; negative is worse than that).", "R²",
     task="regression")
_add("mean_error", "descriptive", "statistic", "target",
     "Average of prediction minus true value: positive when the model predicts too much on "
     "average, negative when too little (signed bias). Its gap between groups is what can be "
     "judged.", "mean error (average of prediction minus true value)", task="regression")
_add("median_absolute_error", "lower", "loss", "target",
     "Middle value of the distances between prediction and true value; insensitive to a few "
     "large misses.", task="regression")
_add("mean_prediction", "descriptive", "statistic", "target", "Average predicted value.",
     "average prediction", task="regression")
_add("mean_target", "descriptive", "statistic", "target", "Average true value.",
     "average true value", task="regression")
for _m in ("mean_absolute_error", "mean_squared_error", "root_mean_squared_error"):
    _w = CATALOG[_m].words.split(" (")[0]
    _add(f"worst_group_{_m}", "lower", "loss", CATALOG[_m].unit,
         f"The largest {_w} of any group large enough to judge (bounded group loss): how badly "
         "the model serves the group it serves worst.", f"worst group's {_w}",
         task="regression")  # fmt: skip
_add("mean_error_at_equal_target", "descriptive", "statistic", "target",
     "Average of prediction minus true value compared within equal true values (true-value "
     "bins), weighted as the whole population: the bias for the same true amount, which a "
     "difference in true values between groups cannot explain.",
     "mean error at equal true values", task="regression")
_add("mean_error_at_equal_target_difference", "lower", "disparity_difference", "target",
     "Gap in the mean error at equal true values between a group and the reference group "
     "(to_reference, signed) or between the groups (between_groups): for people with the same "
     "true value, how much more or less one group is predicted than another.",
     "gap in the bias at equal true values", ("mean_error_at_equal_target",), "regression")
_add("equal_target_support", "descriptive", "statistic", "share",
     "Share of the population whose true values fall where the group has rows (the range the "
     "comparison at equal true values covers).", task="regression")
_add("prediction_ks_gap", "lower", "disparity_difference", "share",
     "Largest gap between the shares of a group and of everyone else predicted below any value "
     "(Kolmogorov-Smirnov; 0 same distribution, 1 no overlap).",
     "gap between prediction distributions (Kolmogorov-Smirnov)", task="regression")
_add("prediction_wasserstein_gap", "lower", "disparity_difference", "target",
     "How far, on average, a group's predictions must move to match everyone else's "
     "(Wasserstein-1 distance, in the target's units).",
     "gap between prediction distributions (Wasserstein-1)", task="regression")

#: Per-group regression metrics with ``_difference`` / ``_ratio`` disparities.
REGRESSION_GROUP_METRICS = (
    "mean_prediction", "mean_target", "mean_absolute_error", "mean_squared_error",
    "root_mean_squared_error", "r2_score", "mean_error", "median_absolute_error",
)  # fmt: skip
#: Regression disparities whose ratio means little (values of either sign: read the
#: difference) or that describe the data rather than the model.
_DESCRIPTIVE_RATIOS = ("mean_error", "r2_score", "mean_target")
for _m in REGRESSION_GROUP_METRICS:
    _w = CATALOG[_m].words.split(" (")[0]
    _unit = CATALOG[_m].unit
    if _m == "mean_target":
        _add(f"{_m}_difference", "descriptive", "statistic", _unit,
             "Gap in the average true value between groups (a property of the data, not of the "
             "model).", f"{_w} gap", (_m,), "regression")  # fmt: skip
    else:
        _add(f"{_m}_difference", "lower", "disparity_difference",
             "score" if _unit == "score" else _unit, _DIFF_TEXT.format(w=_w)
             + ("" if _unit == "score" else " In the target's units."), f"{_w} gap", (_m,),
             "regression")  # fmt: skip
    if _m in _DESCRIPTIVE_RATIOS:
        _add(f"{_m}_ratio", "descriptive", "statistic", "ratio",
             _RATIO_TEXT.format(w=_w) + " Values of either sign make this ratio hard to read; "
             "read the difference.", f"{_w} ratio", (_m,), "regression")  # fmt: skip
    else:
        _add(f"{_m}_ratio", "higher", "disparity_ratio", "ratio", _RATIO_TEXT.format(w=_w),
             f"{_w} ratio", (_m,), "regression")  # fmt: skip

# ------------------------------------------------------------------------ explainability
_add("importance", "descriptive", "attribution", "score",
     "Average absolute attribution of an input: how much it moves the model's output, "
     "averaged over rows.")
_add("importance_share", "descriptive", "attribution", "share",
     "An input's share of the total attribution (the shares add up to 1).")
_add("group_importance", "descriptive", "attribution", "share",
     "An input's share of the attribution within one group of people.")
_add("importance_profile_difference", "lower", "disparity_difference", "difference",
     "Largest gap between groups in an input's share of the attribution: does the model rely "
     "on different inputs for different groups?")
_add("importance_rank_correlation", "higher", "statistic", "score",
     "Lowest rank correlation between two groups' importance orderings (1: same order).")
_add("proxy_score", "lower", "statistic", "score",
     "Normalised mutual information between an input and a sensitive attribute: how much the "
     "input reveals the attribute (0: nothing, 1: everything).")
_add("proxy_auc", "lower", "score", "AUC",
     "How well the input alone predicts the sensitive attribute (ROC AUC; 0.5 is no better "
     "than chance).")
_add("counterfactual_flip_rate", "lower", "rate", "share",
     "Share of predictions that change when only the sensitive attribute is changed.")
_add("counterfactual_mean_change", "lower", "statistic", "target",
     "Average size of the change in a regression's prediction when only the sensitive "
     "attribute is changed, in the target's units.", task="regression")
_add("completeness_delta_p50", "lower", "statistic", "score",
     "Median gap between the sum of a row's attributions and the change in the model's output "
     "they should explain (integrated gradients' completeness; 0 is exact).")
_add("completeness_delta_p95", "lower", "statistic", "score",
     "The same gap at its 95th percentile over rows.")
_add("completeness_delta_max", "lower", "statistic", "score",
     "The largest such gap over the rows explained.")
_add("completeness_delta_relative_p95", "lower", "statistic", "share",
     "The 95th-percentile completeness gap relative to the typical output change it explains "
     "(0.05 = within 5%).")
_add("randomization_rank_correlation", "lower", "statistic", "score",
     "Rank correlation between the explanations of the trained model and of a model whose "
     "weights were re-initialised; low means the explanations reflect what was learned.")

# ------------------------------------------------------------------------ privacy
_add("membership_auc", "lower", "attack", "AUC",
     "How well an attacker tells training rows from new rows using the model's outputs (ROC "
     "AUC; 0.5 is a coin flip).", "membership-inference AUC")
_add("membership_advantage", "lower", "attack", "share",
     "The attacker's best true-positive rate minus false-positive rate over thresholds (0: no "
     "advantage over guessing).")
_add("membership_tpr_at_1pct_fpr", "lower", "attack", "share",
     "Share of training rows the attacker finds while wrongly accusing only 1% of new rows.")
_add("membership_tpr_at_0_1pct_fpr", "lower", "attack", "share",
     "Share of training rows the attacker finds while wrongly accusing only 0.1% of new rows.")
_add("membership_auc_bound", "lower", "bound", "AUC",
     "The highest attack ROC AUC the model's differential-privacy guarantee allows.")
_add("membership_advantage_bound", "lower", "bound", "share",
     "The highest attack advantage the model's differential-privacy guarantee allows.")
_add("generalization_gap_accuracy", "lower", "statistic", "difference",
     "Accuracy on the training rows minus accuracy on new rows: a large gap means the model "
     "memorised its training data.")
_add("generalization_gap_loss", "lower", "statistic", "difference",
     "Log loss on new rows minus log loss on the training rows.")
_add("train_accuracy", "descriptive", "score", "share", "Accuracy on the training rows.")
_add("eval_accuracy", "higher", "score", "share", "Accuracy on the evaluation rows.")
_add("train_log_loss", "descriptive", "loss", "nats", "Log loss on the training rows.")
_add("eval_log_loss", "lower", "loss", "nats", "Log loss on the evaluation rows.")
_add("train_mean_absolute_error", "descriptive", "loss", "target",
     "Mean absolute error on the training rows, in the target's units.", task="regression")
_add("eval_mean_absolute_error", "lower", "loss", "target",
     "Mean absolute error on the evaluation rows, in the target's units.", task="regression")
_add("train_root_mean_squared_error", "descriptive", "loss", "target",
     "Root mean squared error on the training rows, in the target's units.", task="regression")
_add("eval_root_mean_squared_error", "lower", "loss", "target",
     "Root mean squared error on the evaluation rows, in the target's units.",
     task="regression")
_add("generalization_gap_mae", "lower", "statistic", "target",
     "Mean absolute error on new rows minus that on the training rows, in the target's units: "
     "a large gap means the model memorised its training data.", task="regression")
_add("identifier_risk", "lower", "statistic", "score",
     "How much an input column looks like a direct identifier (names, e-mail addresses, ID "
     "numbers, values unique to each row).")
_add("dp_epsilon", "lower", "bound", "epsilon",
     "Differential-privacy budget epsilon of the training: smaller is a stronger guarantee "
     "that no single training row changes the model much.")
_add("dp_delta", "lower", "bound", "score",
     "Differential-privacy delta: the small probability that the epsilon bound fails.")

_add("fold_prediction_std_mean", "lower", "statistic", "target",
     "Average over rows of the standard deviation of a row's prediction across the models "
     "refitted on the cross-validation folds, in the target's units: how much a prediction "
     "depends on which rows the model learned from.", task="regression")
_add("fold_prediction_std_p95", "lower", "statistic", "target",
     "The same spread of a row's prediction across the folds' models at its 95th percentile "
     "over rows.", task="regression")
_add("fold_prediction_std_max", "lower", "statistic", "target",
     "The largest spread of a row's prediction across the folds' models.", task="regression")

# ------------------------------------------------------------------------ drift
_add("population_stability_index", "lower", "statistic", "score",
     "Population stability index of an input between the training rows and the evaluation "
     "rows (the sum over bins of (q - p) ln(q / p)): 0 is the same distribution; below 0.1 "
     "is commonly read as no shift, above 0.25 as a large one.", "population stability index")
_add("ks_statistic", "lower", "statistic", "score",
     "Two-sample Kolmogorov-Smirnov statistic of a numeric input: the largest gap between its "
     "distribution functions in the training and the evaluation rows (0: the same).",
     "Kolmogorov-Smirnov statistic")
_add("chi2_statistic", "lower", "statistic", "score",
     "Chi-squared statistic of a categorical input: how far its category counts in the "
     "evaluation rows are from the training rows' shares (0: the same shares).",
     "chi-squared statistic")

# ------------------------------------------------------------------------ trade-off
_add("tradeoff_accuracy", "descriptive", "score", "share",
     "Accuracy at one point of the accuracy-fairness trade-off: the decisions a mitigation "
     "method (its label) would make, on the evaluation rows.", "accuracy at a trade-off point")
_add("tradeoff_disparity", "descriptive", "statistic", "difference",
     "The disparity between groups at the same point of the accuracy-fairness trade-off.",
     "disparity at a trade-off point")

_FOLD_STATS = {
    "mean": ("descriptive", "Average of {m} over the cross-validation folds."),
    "std": ("lower",
            "Standard deviation of {m} over the cross-validation folds: how much it moves."),
    "min": ("descriptive", "Lowest {m} in any cross-validation fold."),
    "max": ("descriptive", "Highest {m} in any cross-validation fold."),
}
# fmt: on


def spec(name: str) -> MetricSpec | None:
    """Return the catalog entry of ``name``, fold statistics (``accuracy_std``) included.

    Examples
    --------
    >>> spec("accuracy_std").direction
    'lower'
    >>> spec("no_such_metric") is None
    True
    """
    if name in CATALOG:
        return CATALOG[name]
    base, _, stat = name.rpartition("_")
    if stat in _FOLD_STATS and base in CATALOG:
        d, text = _FOLD_STATS[stat]
        b = CATALOG[base]
        return MetricSpec(
            name, d, "statistic", b.unit, text.format(m=b.words), name, (base,), b.task  # type: ignore[arg-type]
        )  # fmt: skip
    return None


def direction(name: str) -> bool | None:
    """Return whether a higher ``name`` is better (None: descriptive, or unknown).

    Names not in the catalog follow the house naming rule (convention 3): ``*_score``,
    ``*_ratio`` higher is better; ``*_error``, ``*_loss``, ``*_gap``, ``*_difference``, ``*_std``
    lower is better.
    """
    s = spec(name)
    if s is not None:
        return s.greater_is_better
    if name.endswith("_std"):
        return False
    if name.endswith(("_mean", "_min", "_max")):
        return None
    if name.endswith(("_score", "_ratio")):
        return True
    if name.endswith(("_error", "_loss", "_gap", "_difference")):
        return False
    return None


def metric_task(name: str) -> Task | None:
    """Return the kind of model ``name`` is defined for (None: either, or unknown).

    Examples
    --------
    >>> metric_task("demographic_parity_ratio"), metric_task("mean_error_difference")
    ('classification', 'regression')
    >>> metric_task("count") is None
    True
    """
    s = spec(name)
    return s.task if s is not None else None


def describe(name: str) -> str | None:
    """Return the plain description of ``name`` (None when the catalog does not know it)."""
    s = spec(name)
    return s.description if s is not None else None


def base_metrics(name: str) -> tuple[str, ...]:
    """Return the per-group metric(s) a disparity compares (empty for other names)."""
    s = spec(name)
    return s.base if s is not None else ()


# ------------------------------------------------------------------------ evidence
def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def evidence_p(record: Mapping[str, Any] | Any) -> float | None:
    """Return the record's adjusted p-value, else its raw p-value, else None.

    Accepts a ``MetricValue`` or its ``to_dict()`` form.
    """
    get = record.get if isinstance(record, Mapping) else (lambda k: getattr(record, k, None))
    for key in ("p_adjusted", "p_value"):
        v: Any = get(key)
        if _finite(v):
            return float(v)
    return None


def has_evidence(p: float | None, ci_level: float = 0.95) -> bool | None:
    """Whether ``p`` is below ``1 - ci_level`` (None when there is no p-value)."""
    if p is None:
        return None
    return p < 1.0 - ci_level


#: Cut points of the evidence words (each at most ``alpha``): strong below the first,
#: moderate below the second, weak below ``alpha``, none otherwise.
EVIDENCE_CUTS = (0.001, 0.01)


def evidence_word(p: float | None, ci_level: float = 0.95) -> str | None:
    """Return ``Finding.evidence`` for a p-value: strong, moderate, weak or none.

    With ``alpha = 1 - ci_level``: below 0.001 strong, below 0.01 moderate (each cut at most
    ``alpha``), below ``alpha`` weak, else none; None without a p-value (NaN reads "none").
    """
    if p is None:
        return None
    alpha = round(1.0 - ci_level, 12)  # 1 - 0.95 is 0.050000000000000044 in binary
    strong, moderate = (min(c, alpha) for c in EVIDENCE_CUTS)
    if not math.isfinite(p) or p >= alpha:
        return "none"
    return "strong" if p < strong else "moderate" if p < moderate else "weak"


def is_small(flags: Iterable[str]) -> bool:
    """Whether record flags mark a group (or a comparison with one) too small to judge."""
    return any(f in SMALL_FLAGS for f in flags)


def harm(
    name: str, value: float | None, ci: Sequence[float | None] | None
) -> tuple[float | None, tuple[float, float] | None, bool]:
    """Return a signed ``to_reference`` record on a "gap" scale: ``(value, ci, up)``.

    A gap to the reference harms one of the two groups whichever way it points: a group with
    more false alarms than the reference is harmed, and so is the reference when the group has
    fewer. A difference therefore becomes ``|group - reference|``, lower is better (``up``
    False); a ratio becomes ``min(r, 1/r)``, higher is better (``up`` True), so one bound such
    as 0.8 reads the same for every base metric and both directions. Intervals map the same
    way (an interval across 0, or across 1 for a ratio, starts at no gap).

    Examples
    --------
    >>> harm("false_positive_rate_difference", 0.2, (0.1, 0.3))
    (0.2, (0.1, 0.3), False)
    >>> harm("true_positive_rate_difference", -0.2, (-0.3, -0.1))
    (0.2, (0.1, 0.3), False)
    >>> harm("selection_rate_ratio", 2.0, (1.6, 2.5))
    (0.5, (0.4, 0.625), True)
    """
    lo, hi = (None, None) if ci is None else (ci[0], ci[1])
    ok_ci = _finite(lo) and _finite(hi)
    if name.endswith("_difference"):
        if value is None:
            return None, None, False
        c = None
        if ok_ci:
            a, b = float(lo), float(hi)  # type: ignore[arg-type]
            c = (0.0 if a <= 0.0 <= b else min(abs(a), abs(b)), max(abs(a), abs(b)))
        return abs(value), c, False

    def inv(x: float) -> float:
        return math.inf if x == 0 else 1.0 / x

    if value is None:
        return None, None, True
    v = min(value, inv(value))
    c4 = None
    if ok_ci:
        a, b = float(lo), float(hi)  # type: ignore[arg-type]
        if a <= 1.0 <= b:
            c4 = (min(a, inv(b)), 1.0)
        else:
            ends = sorted((min(a, inv(a)), min(b, inv(b))))
            c4 = (ends[0], ends[1])
    return v, c4, True


# ------------------------------------------------------------------------ thresholds
@dataclass(frozen=True)
class Threshold:
    """A default traffic-light rule.

    Parameters
    ----------
    section, metric : str
        The metric records it judges.
    pass_at : float
        Green at this value or better.
    fail_at : float
        Red when worse than this value; amber between the two bounds.
    label : str
        What the indicator is called on the card.
    source : str
        Where the bounds come from.
    per_feature : bool, default=False
        Judge each single sensitive feature's disparity record instead of the
        whole-population record.
    attack : str, default=None
        Judge only this membership-inference attack's record.
    method : str, default="between_groups"
        With ``per_feature``: which disparity records (``"to_reference"``: one per group,
        judged on the :func:`harm` scale).
    option : str, default=None
        A key of the section's ``info`` whose value replaces both bounds (the fairness
        section's ``four_fifths_threshold``).
    scale : str, default=None
        A key of the section's ``info`` whose value multiplies both bounds: a bound in the
        target's units given relative to the target's spread (``"target_std"``, the standard
        deviation of the true values), so that one default fits hours, prices and scores.
        Without that value in ``info`` the bounds are read as they are.
    """

    section: str
    metric: str
    pass_at: float
    fail_at: float
    label: str
    source: str
    per_feature: bool = False
    attack: str | None = None
    method: str = "between_groups"
    option: str | None = None
    scale: str | None = None

    def up(self) -> bool | None:
        """Whether higher is better for the figure this rule compares."""
        if self.method == "to_reference":
            return self.metric.endswith("_ratio")
        return direction(self.metric)

    def bounds(self, info: Mapping[str, Any] | None = None) -> tuple[float, float]:
        """``(pass_at, fail_at)``, with the section option applied where one is set."""
        if self.option is not None and info is not None and _finite(info.get(self.option)):
            v = float(info[self.option])
            return v, v
        k = self._scale(info)
        if k is not None:
            return self.pass_at * k, self.fail_at * k
        return self.pass_at, self.fail_at

    def _scale(self, info: Mapping[str, Any] | None) -> float | None:
        if self.scale is None or info is None:
            return None
        v: Any = info.get(self.scale)
        return float(v) if _finite(v) and float(v) > 0 else None

    def describe(self, info: Mapping[str, Any] | None = None) -> str:
        """Return the rule in words: ``green ≥ 0.8, red < 0.7``."""
        pass_at, fail_at = self.bounds(info)
        good, bad = ("≥", "<") if self.up() else ("≤", ">")
        text = f"green {good} {pass_at:.4g}, red {bad} {fail_at:.4g}"
        if self._scale(info) is not None:
            what = self.scale.replace("target_std", "the target's standard deviation")  # type: ignore[union-attr]
            text += f" ({self.pass_at:g} and {self.fail_at:g} × {what})"
        if self.method == "to_reference":
            text += " (a gap to the reference group in either direction)"
        return text


_RULE_OF_THUMB = "auditkit default (a rule of thumb); set your own in a policy"
_RATIO_OF_ERRORS = (
    "auditkit default, by analogy with the four-fifths rule: one group's typical miss at most "
    "1.25 times another's is green, more than 1.5 times is red; set your own in a policy"
)
_STANDARDISED = (
    "auditkit default: a gap of 0.1 standard deviation of the target is green, above 0.2 "
    "(Cohen's 'small' effect size) red; set your own in target units in a policy"
)
_FOUR_FIFTHS = "US EEOC Uniform Guidelines on Employee Selection Procedures, 29 CFR 1607.4(D)"

#: The default thresholds, used when no policy was checked.
DEFAULT_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "performance", "roc_auc", 0.8, 0.7, "Ranking quality (ROC AUC)",
        "Hosmer & Lemeshow, Applied Logistic Regression (2000): 0.7-0.8 acceptable, "
        "0.8 and above excellent discrimination",
    ),
    Threshold(
        "performance", "expected_calibration_error", 0.05, 0.1,
        "Reliability of the probabilities (expected calibration error)", _RULE_OF_THUMB,
    ),
    Threshold(
        "fairness", "favourable_impact_ratio", 0.8, 0.8,
        "Four-fifths rule (favourable-outcome ratio)", _FOUR_FIFTHS, per_feature=True,
        option="four_fifths_threshold",
    ),
    # for audits written before favourable_impact_ratio existed (read only when it is absent)
    Threshold(
        "fairness", "demographic_parity_ratio", 0.8, 0.8,
        "Four-fifths rule (selection-rate ratio)", _FOUR_FIFTHS, per_feature=True,
        option="four_fifths_threshold",
    ),
    Threshold(
        "fairness", "equalized_odds_difference", 0.1, 0.2,
        "Error-rate gap between groups (equalized odds difference)", _RULE_OF_THUMB,
        per_feature=True,
    ),
    Threshold(
        "fairness", "selection_rate_ratio", 0.8, 0.8,
        "Selection rate against the reference group (four-fifths rule)", _FOUR_FIFTHS,
        per_feature=True, method="to_reference", option="four_fifths_threshold",
    ),
    Threshold(
        "fairness", "false_positive_rate_difference", 0.1, 0.2,
        "False-positive-rate gap to the reference group", _RULE_OF_THUMB, per_feature=True,
        method="to_reference",
    ),
    Threshold(
        "fairness", "true_positive_rate_difference", 0.1, 0.2,
        "True-positive-rate gap to the reference group", _RULE_OF_THUMB, per_feature=True,
        method="to_reference",
    ),
    # regression fairness: relative (ratios) or in the target's units (scaled by its spread)
    Threshold(
        "fairness", "mean_absolute_error_ratio", 0.8, 2.0 / 3.0,
        "Typical miss of the best- against the worst-served group (mean absolute error ratio)",
        _RATIO_OF_ERRORS, per_feature=True,
    ),
    Threshold(
        "fairness", "mean_error_difference", 0.1, 0.2,
        "Gap in the average over- or under-prediction between groups (mean error difference)",
        _STANDARDISED, per_feature=True, scale="target_std",
    ),
    Threshold(
        "fairness", "mean_error_at_equal_target_difference", 0.1, 0.2,
        "Bias at equal true values against the reference group", _STANDARDISED,
        per_feature=True, method="to_reference", scale="target_std",
    ),
    Threshold(
        "fairness", "prediction_ks_gap", 0.1, 0.2,
        "Gap between a group's predictions and everyone else's (Kolmogorov-Smirnov, worst group)",
        "auditkit default (a rule of thumb): a 10-point gap between the shares predicted below "
        "some value; set your own in a policy", per_feature=True,
    ),
    Threshold(
        "explainability", "completeness_delta_relative_p95", 0.05, 0.2,
        "Explanations add up (completeness, 95th percentile)",
        "auditkit default; the explainability section's own 5% limit",
    ),
    Threshold(
        "explainability", "randomization_rank_correlation", 0.5, 0.8,
        "Explanations depend on the trained weights (randomisation check)",
        "Adebayo et al., Sanity Checks for Saliency Maps (2018); auditkit's 0.5 limit",
    ),
    Threshold(
        "privacy", "membership_auc", 0.6, 0.8,
        "Membership-inference attack success (ROC AUC, loss attack)",
        "auditkit default; the privacy section's warning (0.6) and failure (0.8) levels",
        attack="loss",
    ),
    Threshold(
        "privacy", "generalization_gap_accuracy", 0.05, 0.1,
        "Training vs new-data accuracy gap (overfitting)",
        "auditkit default; the privacy section's 5-point overfitting limit",
    ),
    Threshold(
        "privacy", "dp_epsilon", 1.0, 10.0, "Differential-privacy budget (epsilon)",
        "Common guidance: epsilon up to 1 is a strong guarantee, above 10 a weak one",
    ),
    Threshold(
        "stability", "accuracy_std", 0.02, 0.05,
        "Spread of accuracy across folds (standard deviation)",
        "auditkit default; the stability section's 0.02 limit",
    ),
)  # fmt: skip


def threshold(section: str, metric: str, *, method: str = "between_groups") -> Threshold:
    """Return the default threshold of ``section.metric`` (sections read their limits here).

    Raises
    ------
    KeyError
        When no default threshold names the metric.
    """
    for t in DEFAULT_THRESHOLDS:
        if t.section == section and t.metric == metric and t.method == method:
            return t
    raise KeyError(f"no default threshold for {section}.{metric} ({method})")
