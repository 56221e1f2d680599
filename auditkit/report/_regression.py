"""What the card says of a regression (a model that predicts a number), from the JSON alone.

A regression result has ``data["task"] == "regression"`` (and ``model["task"]``). The card
names the target and its unit (read from the data block, else from the performance section's
``info``), explains every regression figure in words (:func:`regression_definition`, used where
the metric catalog has no entry) and reads the direction of each figure: a signed figure such
as ``mean_error`` (prediction minus true value) is neither better nor worse when larger, and is
never judged as a loss (:data:`REGRESSION_DIRECTIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "REGRESSION_DIRECTIONS",
    "REGRESSION_QUESTIONS",
    "REGRESSION_TERMS",
    "SIGNED_FIGURES",
    "is_regression",
    "regression_definition",
    "regression_direction",
    "target_of",
]

#: Plain definitions of the regression figures (the card's glossary).
_BASE: dict[str, str] = {
    "mean_absolute_error": (
        "Mean absolute error (MAE): the average distance between the prediction and the true "
        "value, in the target's units. 'Off by 6 hours on average'. Lower is better."
    ),
    "mean_squared_error": (
        "Mean squared error (MSE): the average of the squared distances between prediction "
        "and true value, in the target's units squared; large misses count much more than "
        "small ones. Lower is better."
    ),
    "root_mean_squared_error": (
        "Root mean squared error (RMSE): the square root of the mean squared error, back in "
        "the target's units. Never below the MAE; far above it when a few misses are large."
    ),
    "r2_score": (
        "R² (coefficient of determination): the share of the variation of the true values "
        "that the predictions explain. 1 is perfect, 0 is no better than predicting the "
        "average for everyone, below 0 is worse than that."
    ),
    "mean_error": (
        "Mean error: the average of prediction minus true value, in the target's units. "
        "Positive: the model predicts too much on average; negative: too little; 0: no "
        "systematic bias (misses may still be large both ways). Neither larger nor smaller is "
        "better: the card reads its distance from 0."
    ),
    "median_absolute_error": (
        "Median absolute error: half of the predictions are closer to the true value than "
        "this, half further. Unlike the MAE it is not pulled up by a few large misses."
    ),
    "count": "The number of rows in the group.",
    "mean_prediction": "The group's average predicted value, in the target's units.",
    "mean_target": "The group's average true value, in the target's units.",
    "mean_error_at_equal_target": (
        "Mean error at equal true values: the group's average of prediction minus true value, "
        "compared only with rows of the same true value (bins of the true value, weighted as "
        "the whole population). It answers 'for the same true amount, is this group predicted "
        "more or less?', which a plain mean error can confuse with the group having different "
        "true values."
    ),
    "equal_target_support": (
        "The share of the population whose true values fall where the group has rows: the "
        "range the comparison at equal true values covers."
    ),
    "prediction_ks_gap": (
        "Kolmogorov-Smirnov gap: the largest difference, at any value, between the share of a "
        "group and the share of everyone else predicted below that value. 0: the same spread "
        "of predictions; 1: no overlap at all."
    ),
    "prediction_wasserstein_gap": (
        "Wasserstein gap (earth mover's distance): how far, on average and in the target's "
        "units, a group's predictions would have to move to match everyone else's."
    ),
}
_WORDS = {
    "mean_absolute_error": "mean absolute error", "mean_squared_error": "mean squared error",
    "root_mean_squared_error": "root mean squared error", "r2_score": "R²",
    "mean_error": "mean error", "median_absolute_error": "median absolute error",
    "count": "number of rows", "mean_prediction": "mean prediction",
    "mean_target": "mean true value", "mean_error_at_equal_target":
    "mean error at equal true values",
}  # fmt: skip
_LOSSES = ("mean_absolute_error", "mean_squared_error", "root_mean_squared_error")
_FOLD = {
    "mean": "Average of the {m} over the cross-validation folds.",
    "std": "Standard deviation of the {m} over the cross-validation folds: how much it moves.",
    "min": "Lowest {m} in any cross-validation fold.",
    "max": "Highest {m} in any cross-validation fold.",
}

#: Directions (is a higher value better?) of regression figures where the naming rule misleads:
#: signed figures and the data's own figures are descriptive (None).
REGRESSION_DIRECTIONS: dict[str, bool | None] = {
    "mean_absolute_error": False, "mean_squared_error": False,
    "root_mean_squared_error": False, "r2_score": True, "median_absolute_error": False,
    "mean_error": None, "mean_error_ratio": None, "r2_score_ratio": None,
    "mean_prediction": None, "mean_target": None, "mean_target_difference": None,
    "mean_target_ratio": None, "count": None, "count_difference": None, "count_ratio": None,
    "mean_error_at_equal_target": None, "equal_target_support": None,
    "prediction_ks_gap": False, "prediction_wasserstein_gap": False,
    **{f"worst_group_{m}": False for m in _LOSSES},
}  # fmt: skip

#: What an area asks of a regression, where it differs from a classification's question.
REGRESSION_QUESTIONS = {
    "performance": "How far are the predictions from the true values, and do they lean one way?",
}

#: Signed figures whose distance from 0 is what matters (a bias either way): a diff reads a
#: move towards 0 as better.
SIGNED_FIGURES = frozenset({"mean_error", "mean_error_at_equal_target"})

#: Concepts of a regression card: term -> (definition, triggers), as the glossary's TERMS.
REGRESSION_TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Regression": (
        "A model that predicts a number (an amount, a duration, a price) rather than a class. "
        "Its errors are distances in the target's units, and the audit reports how large they "
        "are, whether they lean one way, and whether they differ between groups.",
        ("task:regression",),
    ),
    "Target": (
        "The number the model predicts (its 'true value' is what really happened); the card "
        "gives its name and unit where known.",
        ("task:regression",),
    ),
    "Error (residual)": (
        "Prediction minus true value for one row: positive when the model predicted too much, "
        "negative when too little.",
        ("mean_error", "mean_absolute_error"),
    ),
    "Bounded group loss (worst-group loss)": (
        "The largest error of any group (for example the highest mean absolute error): a "
        "fairness criterion that asks every group's error to stay under a bound, rather than "
        "groups to be equal.",
        tuple(f"worst_group_{m}" for m in _LOSSES),
    ),
    "Predicted-against-actual chart": (
        "Each dot is a row, placed at its true value (across) and its prediction (up); on the "
        "dashed diagonal a prediction is exact. The line follows the average prediction at "
        "each true value: below the diagonal at high values means high values are predicted "
        "too low.",
        ("predicted_actual",),
    ),
    "Histogram error bound": (
        "A figure computed from a count table's histogram instead of the rows (a median, a "
        "distribution gap) can only be placed within a bin: the card states the largest "
        "possible distance from the exact value.",
        ("histogram_estimate", "prediction_ks_gap"),
    ),
}


def is_regression(data: Mapping[str, Any]) -> bool:
    """Whether the result is that of a regression (``data.task`` or ``model.task``)."""
    for block in ("data", "model"):
        b = data.get(block)
        if isinstance(b, Mapping) and b.get("task") == "regression":
            return True
    return False


def target_of(data: Mapping[str, Any]) -> tuple[str, str]:
    """Return the target's name and unit (``""`` when unknown) of a regression result.

    The data block's ``target`` (a name, or ``{"name", "unit"}``), ``target_name``,
    ``target_unit`` or ``unit``; else the performance section's ``info`` (``target``, ``unit``).
    """
    name: Any = None
    unit: Any = None
    ds = data.get("data") if isinstance(data.get("data"), Mapping) else {}
    assert isinstance(ds, Mapping)
    t = ds.get("target")
    if isinstance(t, Mapping):
        name, unit = t.get("name"), t.get("unit")
    else:
        name = t or ds.get("target_name")
    unit = unit or ds.get("target_unit") or ds.get("unit")
    for s in data.get("sections") or []:
        info = s.get("info") if isinstance(s, Mapping) else None
        if s.get("name") == "performance" and isinstance(info, Mapping):
            name = name or info.get("target")
            unit = unit or info.get("unit")
    return (str(name) if name else ""), (str(unit) if unit else "")


def _base_and_suffix(name: str) -> tuple[str, str] | None:
    for suffix in ("_difference", "_ratio"):
        if name.endswith(suffix) and name[: -len(suffix)] in _BASE:
            return name[: -len(suffix)], suffix
    return None


def regression_definition(name: str) -> str | None:
    """Return the plain definition of a regression figure (None for other names).

    Examples
    --------
    >>> regression_definition("mean_error_difference")[:40]
    'How far apart groups are in mean error: '
    """
    if name in _BASE:
        return _BASE[name]
    if name.startswith("worst_group_") and name[12:] in _LOSSES:
        words = _WORDS[name[12:]]
        return (
            f"The largest {words} of any group (bounded group loss): the group the model "
            "serves worst, in the target's units."
        )
    pair = _base_and_suffix(name)
    if pair is not None:
        base, suffix = pair
        words = _WORDS.get(base, base.replace("_", " "))
        if suffix == "_difference":
            return (
                f"How far apart groups are in {words}: the largest minus the smallest group "
                "value ('between groups'), the largest distance of a group from everyone "
                "('to overall'), or a group's value minus the reference group's ('to "
                "reference'). 0 is equal."
            )
        sign = (
            " A ratio of values that can be negative (mean error, R²) means little: read the "
            "difference." if base in ("mean_error", "r2_score") else ""
        )  # fmt: skip
        return (
            f"The {words} of one group divided by another's (smallest over largest, or a "
            f"group's over the reference group's). 1 is equal.{sign}"
        )
    base, _, stat = name.rpartition("_")
    if stat in _FOLD and base in _WORDS:
        return _FOLD[stat].format(m=_WORDS[base])
    return None


def regression_direction(name: str) -> tuple[bool, bool | None]:
    """Return ``(known, up)``: whether the name is a regression figure, and its direction."""
    if name in REGRESSION_DIRECTIONS:
        return True, REGRESSION_DIRECTIONS[name]
    return False, None
