"""The card's glossary: plain definitions of every term and figure a non-specialist meets.

Plain data. :data:`TERMS` holds the concepts (confidence interval, four-fifths rule,
membership inference...), each with the triggers that put it in a card: a section that ran, a
metric name, or a feature of the result (``"ci"``, ``"energy"``...). :func:`metric_definition`
explains any metric name the sections report, including derived names (``<metric>_difference``,
``<metric>_ratio``, fold statistics ``<metric>_std``); a test checks that every name the
reference audits produce has a definition, and that the performance and fairness definitions
follow the metric registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["METRIC_DEFINITIONS", "TERMS", "glossary_terms", "metric_definition", "present_keys"]

#: Metric name -> plain definition.
METRIC_DEFINITIONS: dict[str, str] = {
    # performance
    "accuracy": "Share of rows whose decision equals the true label.",
    "balanced_accuracy": (
        "Average of the recall of each class: accuracy when every class counts equally, so a "
        "model that ignores a rare class cannot score well."
    ),
    "roc_auc": (
        "Probability that a random positive row scores higher than a random negative row (0.5 "
        "is a coin flip, 1 is perfect; multiclass: one-vs-rest, macro average)."
    ),
    "log_loss": (
        "Average negative log-probability given to the true class (cross-entropy); lower is "
        "better, and confident mistakes cost most."
    ),
    "brier_score": "Mean squared error of the predicted probabilities; lower is better.",
    "expected_calibration_error": (
        "Average distance between the predicted probability and how often the outcome really "
        "happens, over 10 probability bins: 0.1 means the scores are off by about 10 points."
    ),
    "precision": "Share of the rows given a class (or a positive decision) that truly have it.",
    "recall": "Share of the rows of a class that the model assigns to it.",
    "f1": "Harmonic mean of precision and recall of a class.",
    "support": "Number of rows whose true label is the class.",
    "confusion_count": "Number of rows with a given true class and predicted class.",
    # fairness
    "selection_rate": "Share of rows that receive the positive (favourable) decision.",
    "true_positive_rate": (
        "Share of truly positive rows that the model decides positive (recall, sensitivity)."
    ),
    "false_positive_rate": "Share of truly negative rows that the model wrongly decides positive.",
    "false_negative_rate": (
        "Share of truly positive rows that the model wrongly decides negative (miss rate)."
    ),
    "true_negative_rate": "Share of truly negative rows that the model decides negative.",
    "count": "Number of rows in the group.",
    "impact_ratio": (
        "A group's selection rate divided by the highest group's; the four-fifths rule asks "
        "for at least 0.8."
    ),
    "demographic_parity_difference": (
        "Largest gap in selection rate between groups (0 means every group is selected "
        "equally often)."
    ),
    "demographic_parity_ratio": (
        "Smallest group selection rate divided by the largest (1 means equal; the four-fifths "
        "rule asks for at least 0.8)."
    ),
    "equalized_odds_difference": (
        "The larger of the true-positive-rate gap and the false-positive-rate gap between "
        "groups: do errors fall equally on every group?"
    ),
    "equalized_odds_ratio": (
        "The smaller of the true-positive-rate ratio and the false-positive-rate ratio between "
        "groups."
    ),
    "equal_opportunity_difference": (
        "Largest gap in true positive rate between groups: do qualified people in every group "
        "get the favourable decision equally often?"
    ),
    "equal_opportunity_ratio": "Smallest group true positive rate divided by the largest.",
    "mean_score": "Average predicted probability of the positive class.",
    "base_rate": "Share of rows whose true label is the positive class.",
    "mitigation_accuracy_before": "Accuracy on the held-out half before the what-if mitigation.",
    "mitigation_accuracy_after": (
        "Accuracy on the held-out half with group-specific thresholds (Fairlearn's "
        "ThresholdOptimizer)."
    ),
    "mitigation_disparity_before": (
        "The disparity the mitigation targets, on the held-out half, before it."
    ),
    "mitigation_disparity_after": "The same disparity with group-specific thresholds.",
    # explainability
    "importance": (
        "Average absolute attribution of an input: how much it moves the model's output, "
        "averaged over rows."
    ),
    "importance_share": "An input's share of the total attribution (the shares add up to 1).",
    "group_importance": "An input's share of the attribution within one group of people.",
    "importance_profile_difference": (
        "Largest gap between groups in an input's share of the attribution: does the model "
        "rely on different inputs for different groups?"
    ),
    "importance_rank_correlation": (
        "Lowest rank correlation between two groups' importance orderings (1: same order)."
    ),
    "proxy_score": (
        "Normalised mutual information between an input and a sensitive attribute: how much "
        "the input reveals the attribute (0: nothing, 1: everything)."
    ),
    "proxy_auc": (
        "How well the input alone predicts the sensitive attribute (ROC AUC; 0.5 is no better "
        "than chance)."
    ),
    "counterfactual_flip_rate": (
        "Share of predictions that change when only the sensitive attribute is changed."
    ),
    "completeness_delta_p50": (
        "Median gap between the sum of a row's attributions and the change in the model's "
        "output they should explain (integrated gradients' completeness; 0 is exact)."
    ),
    "completeness_delta_p95": "The same gap at its 95th percentile over rows.",
    "completeness_delta_max": "The largest such gap over the rows explained.",
    "completeness_delta_relative_p95": (
        "The 95th-percentile completeness gap relative to the typical output change it "
        "explains (0.05 = within 5%)."
    ),
    "randomization_rank_correlation": (
        "Rank correlation between the explanations of the trained model and of a model whose "
        "weights were re-initialised; low means the explanations reflect what was learned."
    ),
    # privacy
    "membership_auc": (
        "How well an attacker tells training rows from new rows using the model's outputs "
        "(ROC AUC; 0.5 is a coin flip)."
    ),
    "membership_advantage": (
        "The attacker's best true-positive rate minus false-positive rate over thresholds "
        "(0: no advantage over guessing)."
    ),
    "membership_tpr_at_1pct_fpr": (
        "Share of training rows the attacker finds while wrongly accusing only 1% of new rows."
    ),
    "membership_tpr_at_0_1pct_fpr": (
        "Share of training rows the attacker finds while wrongly accusing only 0.1% of new rows."
    ),
    "membership_auc_bound": (
        "The highest attack ROC AUC the model's differential-privacy guarantee allows."
    ),
    "membership_advantage_bound": (
        "The highest attack advantage the model's differential-privacy guarantee allows."
    ),
    "generalization_gap_accuracy": (
        "Accuracy on the training rows minus accuracy on new rows: a large gap means the model "
        "memorised its training data."
    ),
    "generalization_gap_loss": "Log loss on new rows minus log loss on the training rows.",
    "train_accuracy": "Accuracy on the training rows.",
    "eval_accuracy": "Accuracy on the evaluation rows.",
    "train_log_loss": "Log loss on the training rows.",
    "eval_log_loss": "Log loss on the evaluation rows.",
    "identifier_risk": (
        "How much an input column looks like a direct identifier (names, e-mail addresses, "
        "ID numbers, values unique to each row)."
    ),
    "dp_epsilon": (
        "Differential-privacy budget epsilon of the training: smaller is a stronger guarantee "
        "that no single training row changes the model much."
    ),
    "dp_delta": "Differential-privacy delta: the small probability that the epsilon bound fails.",
}

_RATES = (
    "selection_rate", "true_positive_rate", "false_positive_rate", "false_negative_rate",
    "true_negative_rate", "accuracy", "precision", "expected_calibration_error",
)  # fmt: skip
for _r in _RATES:
    _words = _r.replace("_", " ")
    METRIC_DEFINITIONS.setdefault(
        f"{_r}_difference",
        f"Largest gap in {_words} between two groups (between_groups) or between a group and "
        "the whole population (to_overall).",
    )
    METRIC_DEFINITIONS.setdefault(
        f"{_r}_ratio",
        f"Smallest ratio of {_words} between two groups (between_groups) or between a group "
        "and the whole population (to_overall), as a number up to 1.",
    )

_FOLD_STATS = {
    "mean": "Average of {m} over the cross-validation folds.",
    "std": "Standard deviation of {m} over the cross-validation folds: how much it moves.",
    "min": "Lowest {m} in any cross-validation fold.",
    "max": "Highest {m} in any cross-validation fold.",
}


def metric_definition(name: str) -> str | None:
    """Return the plain definition of a metric name, or None when it is unknown.

    Examples
    --------
    >>> metric_definition("accuracy_std")
    'Standard deviation of accuracy over the cross-validation folds: how much it moves.'
    """
    if name in METRIC_DEFINITIONS:
        return METRIC_DEFINITIONS[name]
    base, _, stat = name.rpartition("_")
    if stat in _FOLD_STATS and base in METRIC_DEFINITIONS:
        return _FOLD_STATS[stat].format(m=base.replace("_", " "))
    return None


#: Concept -> (definition, triggers). A term is in a card when one of its triggers is present
#: (:func:`present_keys`); ``"*"`` means always.
TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Audit": (
        "A systematic check of a trained model's behaviour on data it did not learn from: how "
        "often it is right, for whom, why, and what it reveals.",
        ("*",),
    ),
    "Row": ("One example of the data: a person, an image or a review.", ("*",)),
    "n": ("The number of rows a figure rests on. Small n, uncertain figure.", ("*",)),
    "Confidence interval (CI)": (
        "The range within which the figure would probably fall if the audit were repeated on "
        "new data of the same kind (95% CI: in 95 of 100 repeats). A wide interval means the "
        "data cannot pin the figure down.",
        ("ci",),
    ),
    "Bootstrap": (
        "A way to get confidence intervals: the audit is recomputed many times on data "
        "resampled from the evaluation rows, and the spread of the results is the interval.",
        ("ci",),
    ),
    "Traffic light": (
        "Green (PASS), amber (WARN) or red (FAIL) against a threshold: a policy's when one was "
        "checked, otherwise auditkit's documented defaults. Amber also marks a figure whose "
        "interval reaches across a threshold, so the data cannot settle it.",
        ("*",),
    ),
    "Positive class": (
        "The outcome the audit treats as the favourable decision (for example 'income above "
        "$50K', 'loan approved').",
        ("binary",),
    ),
    "Calibration": (
        "Whether predicted probabilities mean what they say: of the rows scored 70%, about 70% "
        "should have the outcome. A reliability diagram plots this.",
        ("expected_calibration_error",),
    ),
    "ROC curve": (
        "The trade-off between finding true positives and raising false alarms as the decision "
        "threshold moves; the dashed diagonal is guessing.",
        ("roc_auc", "membership_auc"),
    ),
    "Confusion matrix": (
        "A table of true classes (rows) against predicted classes (columns): the diagonal "
        "holds the correct decisions.",
        ("confusion_count",),
    ),
    "Sensitive feature": (
        "An attribute such as sex, race or age along which the audit compares groups; it need "
        "not be an input of the model.",
        ("fairness",),
    ),
    "Group": ("The rows sharing a value of a sensitive feature (sex = Female).", ("fairness",)),
    "Intersection": (
        "Groups defined by several sensitive features at once (sex × race): unfairness can hide "
        "in intersections that each feature alone does not show.",
        ("intersection",),
    ),
    "Disparity": (
        "How far apart groups are on a metric, as a difference (0: equal) or a ratio (1: "
        "equal). 'between_groups' compares the extreme groups, 'to_overall' each group with "
        "everyone.",
        ("fairness",),
    ),
    "Four-fifths rule": (
        "A rule from US employment law: a group selected at less than 80% of the rate of the "
        "most-selected group suggests adverse impact (29 CFR 1607.4(D)).",
        ("demographic_parity_ratio", "impact_ratio"),
    ),
    "Demographic parity": (
        "Every group receives the favourable decision at the same rate.",
        ("demographic_parity_difference", "demographic_parity_ratio"),
    ),
    "Equalized odds": (
        "Every group has the same true-positive rate and the same false-positive rate: errors "
        "fall equally.",
        ("equalized_odds_difference", "equalized_odds_ratio"),
    ),
    "Equal opportunity": (
        "Every group has the same true-positive rate: truly qualified people are found equally "
        "often.",
        ("equal_opportunity_difference", "equal_opportunity_ratio"),
    ),
    "Too small (flag)": (
        "A group with too few rows (or no rows of a class) to judge: its figures are shown, "
        "flagged, but are too uncertain to draw conclusions from.",
        ("too_small",),
    ),
    "Mitigation what-if (ThresholdOptimizer)": (
        "Fairlearn's method that picks a separate decision threshold per group to meet a "
        "fairness constraint; the card shows what it would change, the model itself is not "
        "changed.",
        ("mitigation",),
    ),
    "Attribution": (
        "How much each input pushed the model's output for one row, computed with Captum "
        "(integrated gradients by default). Importance is the average size of attributions.",
        ("explainability",),
    ),
    "Integrated gradients": (
        "An attribution method: it accumulates the model's gradients along a path from a "
        "neutral baseline input to the real input; the attributions add up to the output "
        "change (completeness).",
        ("explainability",),
    ),
    "Proxy feature": (
        "An input that reveals a sensitive attribute (a postcode revealing ethnicity): a model "
        "can discriminate through it even without the attribute itself.",
        ("proxy_auc",),
    ),
    "Counterfactual flip": (
        "Changing only the sensitive attribute of a row and checking whether the decision "
        "changes.",
        ("counterfactual_flip_rate",),
    ),
    "Saliency (attribution) map": (
        "An image whose bright pixels are those that pushed the model's decision most.",
        ("images",),
    ),
    "Token highlight": (
        "Words coloured by their attribution: blue pushes toward the explained class, "
        "vermillion away from it.",
        ("tokens",),
    ),
    "Randomisation check": (
        "A sanity check of explanations: if re-initialising the model's weights leaves them "
        "unchanged, they describe the input, not the model.",
        ("randomization_rank_correlation",),
    ),
    "Membership inference": (
        "An attack that guesses whether a given row was in the training data from the model's "
        "outputs; success means the model leaks information about the people it learned from.",
        ("membership_auc",),
    ),
    "Generalisation gap": (
        "The difference between the model's performance on its training data and on new data; "
        "a large gap (overfitting) is what membership attacks exploit.",
        ("generalization_gap_accuracy",),
    ),
    "Direct identifier": (
        "A column that identifies a person on its own (name, e-mail address, ID number).",
        ("privacy",),
    ),
    "Differential privacy (epsilon)": (
        "A training guarantee that no single row changes the model much; epsilon measures how "
        "much (smaller is stronger).",
        ("dp_epsilon",),
    ),
    "Cross-validation fold": (
        "The data is split into k parts; the model is trained on k-1 and scored on the "
        "remaining one, k times. The spread over folds shows how stable the figures are.",
        ("stability",),
    ),
    "Standard deviation": (
        "The typical distance of values from their average: a measure of spread.",
        ("stability",),
    ),
    "Learning curve": (
        "The loss or accuracy after each pass over the training data (epoch), on training and "
        "validation rows; a validation curve that turns up while training keeps improving is "
        "overfitting.",
        ("history",),
    ),
    "Epoch": ("One pass of training over all the training rows.", ("history",)),
    "Energy (kWh)": (
        "Electricity used by training in kilowatt-hours, measured from the GPU's power sensor "
        "(NVML) or estimated from a documented power figure, as the card says.",
        ("energy",),
    ),
    "CO2e": (
        "Carbon-dioxide equivalent: the greenhouse-gas emissions of the electricity used, "
        "energy times the carbon intensity of the power grid (g CO2e per kWh).",
        ("energy",),
    ),
    "sha256": (
        "A fingerprint of a file or data set: any change to the input changes it, so the same "
        "fingerprint means the same input.",
        ("*",),
    ),
    "Seed": (
        "The number that fixes every random step of the audit: the same inputs and seed give "
        "the same results.",
        ("*",),
    ),
}


def present_keys(data: Mapping[str, Any]) -> set[str]:
    """Return the triggers present in a result: ran sections, metric names, chart kinds..."""
    keys = {"*"}
    for s in data.get("sections") or []:
        if s.get("status") == "ok":
            keys.add(str(s.get("name")))
        for c in s.get("charts") or []:
            keys.add(str(c.get("kind")))
        info = s.get("info") or {}
        if isinstance(info, Mapping) and isinstance(info.get("mitigation"), Mapping):
            if info["mitigation"].get("status") == "ok":
                keys.add("mitigation")
    for m in data.get("metrics") or []:
        keys.add(str(m.get("name")))
        if m.get("ci") is not None:
            keys.add("ci")
        if "too_small" in (m.get("flags") or ()):
            keys.add("too_small")
        if m.get("feature") is not None and len(m["feature"]) > 1:
            keys.add("intersection")
    ds = data.get("data") or {}
    if ds.get("task") == "binary":
        keys.add("binary")
    model = data.get("model") or {}
    if model.get("history"):
        keys.add("history")
    training = model.get("training") or {}
    if isinstance(training, Mapping) and training.get("energy"):
        keys.add("energy")
    return keys


def glossary_terms(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(term, definition)`` for every concept the card of ``data`` uses, alphabetically."""
    keys = present_keys(data)
    out = [(t, d) for t, (d, triggers) in TERMS.items() if any(k in keys for k in triggers)]
    return sorted(out, key=lambda p: p[0].lower())


def metric_glossary(names: Iterable[str]) -> list[tuple[str, str]]:
    """``(name, definition)`` for each distinct metric name, in first-seen order."""
    out = []
    for name in dict.fromkeys(names):
        text = metric_definition(name)
        out.append((name, text if text is not None else "A figure reported by the section."))
    return out
