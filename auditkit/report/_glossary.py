"""The card's glossary: plain definitions of every term and figure a non-specialist meets.

Plain data. Metric definitions come from the metric catalog (:mod:`auditkit._core.catalog`).
:data:`TERMS` holds the concepts (confidence interval, four-fifths rule,
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

from .._core.catalog import CATALOG, describe
from ._regression import REGRESSION_TERMS, is_regression, regression_definition

__all__ = ["METRIC_DEFINITIONS", "TERMS", "glossary_terms", "metric_definition", "present_keys"]

#: Metric name -> plain definition, read from the metric catalog (one source of truth).
METRIC_DEFINITIONS: dict[str, str] = {name: s.description for name, s in CATALOG.items()}


def metric_definition(name: str) -> str | None:
    """Return the plain definition of a metric name, or None when it is unknown.

    The metric catalog's description; for a regression figure the catalog does not hold, the
    card's own words (:func:`auditkit.report._regression.regression_definition`).

    Examples
    --------
    >>> metric_definition("accuracy_std")
    'Standard deviation of accuracy over the cross-validation folds: how much it moves.'
    """
    return describe(name) or regression_definition(name)


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
        "checked, otherwise auditkit's documented defaults. Where a figure has no p-value, amber "
        "also marks one whose interval reaches across a threshold. A neutral (grey) light marks "
        "a figure beyond its threshold without the evidence of a real gap, or a comparison "
        "with a group too small to judge. The overall verdict is the worst light the card "
        "shows.",
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
        "everyone, 'to_reference' each group with the reference group.",
        ("fairness",),
    ),
    "Four-fifths rule": (
        "A rule from US employment law: a group that receives the favourable outcome at less "
        "than 80% of the rate of the most-favoured group suggests adverse impact (29 CFR "
        "1607.4(D)). auditkit applies it to the outcome that benefits the person (the "
        "'favourable' outcome), among groups large enough to judge.",
        ("demographic_parity_ratio", "impact_ratio", "favourable_impact_ratio"),
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
    "Reference group": (
        "The group every other group of a sensitive feature is compared with in 'to_reference' "
        "records (the largest group unless the audit names one): a difference is the group's "
        "value minus the reference's, a ratio the group's value over the reference's.",
        ("to_reference",),
    ),
    "p-value": (
        "How surprising the observed gap would be if there were no real difference between "
        "the groups: a small p-value (below 5% at a 95% confidence level) is evidence of a real "
        "gap. A large gap with a large p-value is 'not distinguishable from no gap with these "
        "sample sizes', and gets a neutral light.",
        ("p_value",),
    ),
    "Adjusted p-value": (
        "A card makes dozens of comparisons, and some would look significant by chance alone; "
        "the adjusted p-value (Holm or Benjamini-Hochberg, as the section says) controls for "
        "the whole family of comparisons. Lights and verdicts read it.",
        ("p_adjusted",),
    ),
    "Exact test": (
        "A test of 'no difference' whose p-value is computed exactly from the counts (Fisher's "
        "exact test), so it stays valid for small groups.",
        ("test:fisher_exact", "test:exact", "test:binomial_exact"),
    ),
    "Permutation test": (
        "A test of 'no difference' that reshuffles the group labels many times and counts how "
        "often a gap at least as large appears by chance; valid for any group size.",
        ("test:permutation",),
    ),
    "Mann-Whitney test": (
        "A test of whether one set of scores tends to be higher than another (here: training "
        "rows against new rows under a membership attack); its statistic is the attack's ROC "
        "AUC, and its p-value says how surprising that AUC would be if the attack were at "
        "chance.",
        ("test:mann_whitney_u",),
    ),
    "Heterogeneity test (Cochran's Q)": (
        "A test of whether figures measured on several cross-validation folds differ by more "
        "than the sampling noise of folds that size; a spread it cannot tell from noise gets a "
        "neutral light.",
        ("test:cochran_q",),
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
        if "histogram_estimate" in (m.get("flags") or ()):
            keys.add("histogram_estimate")
        for k in ("p_value", "p_adjusted"):
            if m.get(k) is not None:
                keys.add(k)
        if m.get("test"):
            keys.add(f"test:{m['test']}")
        if m.get("method") == "to_reference":
            keys.add("to_reference")
        if m.get("feature") is not None and len(m["feature"]) > 1:
            keys.add("intersection")
    ds = data.get("data") or {}
    if ds.get("task") == "binary":
        keys.add("binary")
    if is_regression(data):
        keys.add("task:regression")
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
    terms = {**TERMS, **REGRESSION_TERMS}
    out = [(t, d) for t, (d, triggers) in terms.items() if any(k in keys for k in triggers)]
    return sorted(out, key=lambda p: p[0].lower())


def metric_glossary(names: Iterable[str]) -> list[tuple[str, str]]:
    """``(name, definition)`` for each distinct metric name, in first-seen order."""
    out = []
    for name in dict.fromkeys(names):
        text = metric_definition(name)
        out.append((name, text if text is not None else "A figure reported by the section."))
    return out
