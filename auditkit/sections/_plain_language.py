"""Finding sentences from numbers, for readers who are not statisticians.

Pure string functions: numbers in, one or two plain sentences out. Group labels and class names
stay plain text here; the renderers escape them. Every sentence names the group, the value and,
where there is one, the confidence interval ("95% CI 0.27-0.35").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._core.catalog import CATALOG

__all__ = [
    "accuracy_sentence",
    "auc_sentence",
    "calibration_group_sentence",
    "calibration_sentence",
    "ci_text",
    "error_gap_sentence",
    "evidence_clause",
    "people_who",
    "four_fifths_sentence",
    "gap_sentence",
    "group_phrase",
    "metric_words",
    "mitigation_sentence",
    "multiclass_gap_sentence",
    "num",
    "pct",
    "points",
    "small_groups_note",
    "small_groups_sentence",
    "weakest_class_sentence",
]


#: Plain words for metric names used in sentences.
def metric_words(metric: str) -> str:
    """Return the reader's words for a metric, from the one metric catalog."""
    spec = CATALOG.get(metric)
    return spec.words if spec is not None else metric.replace("_", " ")


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def pct(x: float | None, digits: int = 0) -> str:
    """Format a proportion as a percentage (``0.312`` -> ``"31%"``); ``"n/a"`` when undefined."""
    if not _finite(x):
        return "n/a"
    assert x is not None
    return f"{100.0 * x:.{digits}f}%"


def num(x: float | None, digits: int = 2) -> str:
    """Format a number with ``digits`` decimals; ``"n/a"`` when undefined."""
    if not _finite(x):
        return "n/a"
    assert x is not None
    return f"{x:.{digits}f}"


def points(x: float) -> str:
    """Format a difference of proportions in points (``0.01`` -> ``"1 percentage point"``)."""
    k = round(100 * x)
    return f"{k:.0f} percentage point" + ("" if abs(k) == 1 else "s")


def ci_text(
    ci: Sequence[float] | None, level: float, *, percent: bool = False, points: bool = False
) -> str:
    """Return ``"95% CI 0.27-0.35"`` (or in percent / percentage points); empty when no CI."""
    if ci is None or not (_finite(ci[0]) and _finite(ci[1])):
        return ""
    lvl = f"{100 * level:g}%"
    sep = " to " if min(ci[0], ci[1]) < 0 else "-"
    if points:
        return f"{lvl} CI {100 * ci[0]:.0f}{sep}{100 * ci[1]:.0f} points"
    if percent:
        return f"{lvl} CI {pct(ci[0])}{sep}{pct(ci[1])}"
    return f"{lvl} CI {num(ci[0])}{sep}{num(ci[1])}"


def group_phrase(
    features: Sequence[str], group: Sequence[str], *, subject: str = "people",
    capital: bool = False,
) -> str:  # fmt: skip
    """Return ``"people with sex = Female and race = Black"``."""
    parts = [f"{f} = {g}" for f, g in zip(features, group)]
    text = f"{subject} with {' and '.join(parts)}"
    return text[:1].upper() + text[1:] if capital else text


def four_fifths_sentence(
    features: Sequence[str], low_group: Sequence[str], high_group: Sequence[str], ratio: float,
    ci: Sequence[float] | None, level: float, *, subject: str = "people",
    outcome: str | None = None, threshold: float = 0.8,
) -> tuple[str, str]:  # fmt: skip
    """Return ``(severity, sentence)`` for the four-fifths rule on one grouping.

    ``"People with sex = Female are selected at 31% of the rate of people with sex = Male
    (four-fifths rule fails; 95% CI 0.27-0.35)."``
    """
    verb = f"are predicted '{outcome}'" if outcome else "are selected"
    passes = ratio >= threshold
    verdict = "four-fifths rule passes" if passes else "four-fifths rule fails"
    ci_part = ci_text(ci, level)
    inner = f"{verdict}; {ci_part}" if ci_part else verdict
    text = (
        f"{group_phrase(features, low_group, subject=subject, capital=True)} {verb} at "
        f"{pct(ratio)} of the rate of {group_phrase(features, high_group, subject=subject)} "
        f"({inner})."
    )
    if ci is not None and _finite(ci[0]) and _finite(ci[1]) and ci[0] < threshold <= ci[1]:
        text += f" The interval includes {threshold:g}, so the data cannot settle the verdict."
    return ("pass" if passes else "fail"), text


def gap_sentence(
    metric: str, features: Sequence[str], low_group: Sequence[str], low: float,
    high_group: Sequence[str], high: float, ci: Sequence[float] | None, level: float, *,
    subject: str = "people",
) -> str:  # fmt: skip
    """Return a sentence on the spread of ``metric`` across groups."""
    words = metric_words(metric)
    ci_part = ci_text(ci, level, points=True)
    return (
        f"The {words} ranges from {pct(low)} for "
        f"{group_phrase(features, low_group, subject=subject)} to {pct(high)} for "
        f"{group_phrase(features, high_group, subject=subject)}: a gap of "
        f"{points(high - low)}" + (f" ({ci_part})." if ci_part else ".")
    )


def multiclass_gap_sentence(
    features: Sequence[str], low_group: Sequence[str], low: float,
    high_group: Sequence[str], high: float, ci: Sequence[float] | None, level: float, *,
    subject: str = "people",
) -> str:  # fmt: skip
    """Return a sentence on the accuracy gap across groups (multiclass)."""
    ci_part = ci_text(ci, level, points=True)
    hi_phrase = group_phrase(features, high_group, subject=subject)
    lo_phrase = group_phrase(features, low_group, subject=subject)
    return (
        f"The model is right for {pct(high)} of {hi_phrase}"
        f" but only {pct(low)} of {lo_phrase}: a gap of "
        f"{points(high - low)}" + (f" ({ci_part})." if ci_part else ".")
    )


def small_groups_sentence(
    features: Sequence[str], groups: Sequence[Sequence[str]], min_group_size: int,
    *, limit: int = 4,
) -> str:  # fmt: skip
    """Return a sentence listing the groups too small to judge."""
    shown = "; ".join(" and ".join(f"{f} = {g}" for f, g in zip(features, grp))
                      for grp in groups[:limit])  # fmt: skip
    more = f" and {len(groups) - limit} more" if len(groups) > limit else ""
    k = len(groups)
    noun = "group" if k == 1 else "groups"
    verb = "has" if k == 1 else "have"
    return (
        f"{k} {noun} by {' × '.join(features)} {verb} fewer than {min_group_size} rows or no "
        f"rows of a class ({shown}{more}): their figures are shown, flagged 'too_small', but are "
        "too uncertain to judge."
    )


def calibration_group_sentence(
    features: Sequence[str], group: Sequence[str], mean_score: float, base_rate: float,
    ece: float, *, subject: str = "people", outcome: str | None = None,
) -> str:  # fmt: skip
    """Return a sentence on the group whose scores are least calibrated."""
    what = f"'{outcome}'" if outcome else "the positive outcome"
    direction = "over-estimate" if mean_score > base_rate else "under-estimate"
    return (
        f"Scores are least reliable for {group_phrase(features, group, subject=subject)}: they "
        f"give {what} a {pct(mean_score)} chance on average where {pct(base_rate)} of these rows "
        f"have it, so they {direction} it (expected calibration error {num(ece)})."
    )


def mitigation_sentence(
    constraint: str, disparity_name: str, before: float, after: float, acc_before: float,
    acc_after: float, features: Sequence[str],
) -> str:  # fmt: skip
    """Return a sentence on the ThresholdOptimizer what-if."""
    nice = constraint.replace("_", " ")
    change = "fall" if after < before else "rise"
    return (
        f"What if group-specific thresholds enforced {nice} (Fairlearn's ThresholdOptimizer "
        f"over {' × '.join(features)}, fitted on one half of the evaluation data and measured "
        f"on the other)? The {disparity_name.replace('_', ' ')} would {change} from "
        f"{num(before)} to {num(after)} while accuracy goes from {pct(acc_before, 1)} to "
        f"{pct(acc_after, 1)}."
    )


def accuracy_sentence(
    acc: float, acc_ci: Sequence[float] | None, bal: float, bal_ci: Sequence[float] | None,
    level: float, n: int,
) -> str:  # fmt: skip
    """Return a sentence on accuracy and balanced accuracy."""
    a = ci_text(acc_ci, level, percent=True)
    b = ci_text(bal_ci, level, percent=True)
    return (
        f"On {n:,} evaluation rows the model is right {pct(acc, 1)} of the time"
        + (f" ({a})" if a else "")
        + f"; counting every class equally (balanced accuracy) it is right {pct(bal, 1)}"
        + (f" ({b})." if b else ".")
    )


def auc_sentence(auc: float, ci: Sequence[float] | None, level: float, multiclass: bool) -> str:
    """Return a sentence on ROC AUC."""
    c = ci_text(ci, level)
    what = (
        "a row of a class scores higher for that class than a row of another class"
        if multiclass
        else "a random positive row scores higher than a random negative one"
    )
    quality = (
        "very well" if auc >= 0.9 else "well" if auc >= 0.8 else "fairly" if auc >= 0.7
        else "weakly"
    )  # fmt: skip
    return (
        f"The scores separate the classes {quality}: ROC AUC {num(auc)}"
        + (f" ({c})" if c else "")
        + f", the chance that {what}."
    )


def calibration_sentence(ece: float, ci: Sequence[float] | None, level: float) -> str:
    """Return a sentence on the overall expected calibration error."""
    c = ci_text(ci, level)
    verdict = "well calibrated" if ece < 0.05 else "somewhat miscalibrated" if ece < 0.1 else (
        "poorly calibrated"
    )  # fmt: skip
    return (
        f"The predicted probabilities are {verdict}: on average they are off by "
        f"{points(ece)} from the observed frequencies "
        f"(expected calibration error {num(ece, 3)}" + (f"; {c})." if c else ").")
    )


def weakest_class_sentence(label: str, recall: float, precision: float) -> str:
    """Return a sentence on the class the model finds least well."""
    return (
        f"The model finds class '{label}' least well: it recognises {pct(recall)} of the rows "
        f"of that class, and {pct(precision)} of the rows it assigns to '{label}' are right."
    )


#: First words that make a class name read as what a person did or is ("did not reoffend",
#: "was hired"): such a name follows "who"; any other is quoted as a label.
_VERB_STARTS = frozenset(
    "did does do was were is are has have had will would can could not never".split()
)


def people_who(label: str, *, subject: str = "people") -> str:
    """Return ``"people who did not reoffend"`` or ``"people whose true label is 'low risk'"``.

    A class name reads as a clause when its first word is an auxiliary verb or "not"
    ("did not reoffend", "was hired") or when it is one word ending in "ed" ("defaulted",
    "reoffended"); otherwise it is quoted as the true label.
    """
    words = label.strip().split()
    clause = bool(words) and (
        words[0].lower() in _VERB_STARTS
        or (len(words) == 1 and words[0].lower().endswith("ed") and words[0].isalpha())
    )
    if clause:
        return f"{subject} who {label.strip()}"
    return f"{subject} whose true label is '{label}'"


def _times(hi: float, lo: float, ci: Sequence[float] | None, level: float) -> str:
    if not (_finite(hi) and _finite(lo)) or lo <= 0:
        return ""
    ci_part = ""
    if ci is not None and _finite(ci[0]) and _finite(ci[1]):
        ci_part = f" ({100 * level:g}% CI {ci[0]:.1f}-{ci[1]:.1f})"
    return f": {hi / lo:.1f} times as often{ci_part}"


def error_gap_sentence(
    features: Sequence[str], high_group: Sequence[str], high: float, low_group: Sequence[str],
    low: float, *, true_label: str, decided_label: str, ratio_ci: Sequence[float] | None,
    diff_ci: Sequence[float] | None, level: float, subject: str = "people",
) -> str:  # fmt: skip
    """Return a reader's sentence on a gap in an error rate between two groups.

    ``"Of the people who did not reoffend, 42% of those with race = A were wrongly labelled
    'high risk', against 22% of those with race = B: 1.9 times as often (95% CI 1.7-2.1); a
    gap of 20 percentage points (95% CI 17-23 points)."`` ``ratio_ci`` is the interval of
    ``high / low`` and ``diff_ci`` of ``high - low``.
    """
    hi_who = " and ".join(f"{f} = {g}" for f, g in zip(features, high_group))
    lo_who = " and ".join(f"{f} = {g}" for f, g in zip(features, low_group))
    gap_ci = ci_text(diff_ci, level, points=True)
    return (
        f"Of the {people_who(true_label, subject=subject)}, {pct(high)} of those with {hi_who} "
        f"were wrongly labelled '{decided_label}', against {pct(low)} of those with {lo_who}"
        f"{_times(high, low, ratio_ci, level)}; a gap of {points(high - low)}"
        + (f" ({gap_ci})." if gap_ci else ".")
    )


def evidence_clause(
    severity: str, reaches: bool, p_adjusted: float | None, alpha: float, threshold_text: str
) -> str:
    """Return the sentence that says what the evidence supports (empty for a warning/failure).

    ``reaches``: the gap (or its interval) reaches the threshold; ``threshold_text``: the
    threshold in words ("the 10-point threshold").
    """
    if severity in ("warn", "fail"):
        return ""
    p_txt = "" if p_adjusted is None else f" (adjusted p = {p_adjusted:.2g})"
    if p_adjusted is None or p_adjusted >= alpha:
        return " It is not distinguishable from no gap with these sample sizes" + p_txt + "."
    if not reaches:
        return f" The gap is real{p_txt} but smaller than {threshold_text}."
    return ""


def small_groups_note(
    parts: Sequence[tuple[Sequence[str], Sequence[Sequence[str]]]], min_group_size: int,
    *, limit: int = 4,
) -> str:  # fmt: skip
    """Return one note listing the groups too small to judge, grouping by grouping."""
    texts = [small_groups_sentence(f, g, min_group_size, limit=limit) for f, g in parts]
    return (
        " ".join(texts)
        + " They are left out of the verdicts and the ranking of the findings above."
    )
