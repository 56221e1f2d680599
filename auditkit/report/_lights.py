"""Traffic lights of the card: default thresholds, metric directions, and the verdict per area.

Plain data and pure functions over ``AuditResult.to_dict()``; nothing here imports the audit
package (renderers only read the result). The direction of each metric (is higher better?)
is in :data:`DIRECTIONS`; for the performance and fairness metrics it mirrors the
``greater_is_better`` metadata of the metric registry (``auditkit.audit._metrics.METRICS``), and
a test keeps the two equal. The privacy, explainability and stability figures are not in that
registry, so this module is their metadata.

When the audit was checked against a policy, the lights come from the policy's rules alone (a
failed rule of severity ``warning`` is amber). Otherwise they come from
:data:`DEFAULT_THRESHOLDS`: each names a metric, a bound at or better than which the light is
green (``pass_at``) and a bound worse than which it is red (``fail_at``); between the two it is
amber. "Better" reads the metric's direction. When the value's confidence interval reaches
across a bound, the data cannot settle the verdict, and a green or red light becomes amber.
Groups flagged ``too_small`` never get a green or red light of their own.

The defaults are conventions, not laws; each says where it comes from. A policy file replaces
them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "AREAS",
    "DEFAULT_THRESHOLDS",
    "DIRECTIONS",
    "Light",
    "Threshold",
    "area_lights",
    "default_lights",
    "direction",
    "judge",
    "policy_lights",
    "worst",
]

Status = Literal["pass", "warn", "fail", "info"]

#: Sections in the order a reader asks about them, with their plain-language question.
AREAS: dict[str, str] = {
    "performance": "How often is the model right, and can its scores be trusted?",
    "fairness": "Does the model treat groups of people differently?",
    "explainability": "What does the model rely on, and can its explanations be trusted?",
    "privacy": "Could someone tell from the model who was in its training data?",
    "stability": "Do the figures hold when the data changes a little?",
}

#: Is a higher value better? True, False, or None (descriptive: neither). Mirrors the metric
#: registry's ``greater_is_better`` for performance/fairness names (checked by a test) and is
#: the metadata for the other sections' figures.
DIRECTIONS: dict[str, bool | None] = {
    # performance
    "accuracy": True,
    "balanced_accuracy": True,
    "roc_auc": True,
    "log_loss": False,
    "brier_score": False,
    "expected_calibration_error": False,
    "precision": True,
    "recall": True,
    "f1": True,
    "support": None,
    "confusion_count": None,
    # fairness
    "selection_rate": None,
    "true_positive_rate": True,
    "false_positive_rate": False,
    "false_negative_rate": False,
    "true_negative_rate": True,
    "count": None,
    "impact_ratio": True,
    "demographic_parity_difference": False,
    "demographic_parity_ratio": True,
    "equalized_odds_difference": False,
    "equalized_odds_ratio": True,
    "equal_opportunity_difference": False,
    "equal_opportunity_ratio": True,
    "mean_score": None,
    "base_rate": None,
    "mitigation_accuracy_before": True,
    "mitigation_accuracy_after": True,
    "mitigation_disparity_before": False,
    "mitigation_disparity_after": False,
    # privacy
    "membership_auc": False,
    "membership_advantage": False,
    "membership_tpr_at_1pct_fpr": False,
    "membership_tpr_at_0_1pct_fpr": False,
    "generalization_gap_accuracy": False,
    "generalization_gap_loss": False,
    "train_accuracy": None,
    "eval_accuracy": True,
    "train_log_loss": None,
    "eval_log_loss": False,
    "dp_epsilon": False,
    "dp_delta": False,
    "membership_auc_bound": False,
    "membership_advantage_bound": False,
    "identifier_risk": False,
    # explainability
    "importance": None,
    "importance_share": None,
    "group_importance": None,
    "importance_profile_difference": False,
    "importance_rank_correlation": True,
    "proxy_auc": False,
    "proxy_score": False,
    "counterfactual_flip_rate": False,
    "completeness_delta_p50": False,
    "completeness_delta_p95": False,
    "completeness_delta_max": False,
    "completeness_delta_relative_p95": False,
    "randomization_rank_correlation": False,
}

# Disparities of every confusion rate follow the Fairlearn naming rule.
for _rate in (
    "selection_rate", "true_positive_rate", "false_positive_rate", "false_negative_rate",
    "true_negative_rate", "accuracy", "precision", "expected_calibration_error",
):  # fmt: skip
    DIRECTIONS.setdefault(f"{_rate}_difference", False)
    if _rate != "expected_calibration_error":
        DIRECTIONS.setdefault(f"{_rate}_ratio", True)


def direction(name: str) -> bool | None:
    """Return whether a higher ``name`` is better (None: neither, or unknown).

    Names that are not listed follow the house naming rule (convention 3): ``*_score``,
    ``*_ratio`` higher is better; ``*_error``, ``*_loss``, ``*_gap``, ``*_difference`` lower
    is better. Fold statistics (``accuracy_std``...) have no direction except ``_std`` (lower).
    """
    if name in DIRECTIONS:
        return DIRECTIONS[name]
    if name.endswith("_std"):
        return False
    for suffix in ("_mean", "_min", "_max"):
        if name.endswith(suffix):
            return None
    if name.endswith(("_score", "_ratio")):
        return True
    if name.endswith(("_error", "_loss", "_gap", "_difference")):
        return False
    return None


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
        Judge each single sensitive feature's between-groups record (fairness) instead of the
        whole-population record.
    attack : str, default=None
        Judge only this membership-inference attack's record.
    """

    section: str
    metric: str
    pass_at: float
    fail_at: float
    label: str
    source: str
    per_feature: bool = False
    attack: str | None = None

    def describe(self) -> str:
        """Return the rule in words: ``green ≥ 0.8, red < 0.7``."""
        up = direction(self.metric)
        good, bad = ("≥", "<") if up else ("≤", ">")
        return f"green {good} {_g(self.pass_at)}, red {bad} {_g(self.fail_at)}"


def _g(x: float) -> str:
    return f"{x:g}"


_RULE_OF_THUMB = "auditkit default (a rule of thumb); set your own in a policy"

#: The default thresholds, used when no policy was checked.
DEFAULT_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "performance",
        "roc_auc",
        0.8,
        0.7,
        "Ranking quality (ROC AUC)",
        "Hosmer & Lemeshow, Applied Logistic Regression (2000): 0.7-0.8 acceptable, "
        "0.8 and above excellent discrimination",
    ),
    Threshold(
        "performance",
        "expected_calibration_error",
        0.05,
        0.1,
        "Reliability of the probabilities (expected calibration error)",
        _RULE_OF_THUMB,
    ),
    Threshold(
        "fairness",
        "demographic_parity_ratio",
        0.8,
        0.8,
        "Four-fifths rule (selection-rate ratio)",
        "US EEOC Uniform Guidelines on Employee Selection Procedures, 29 CFR 1607.4(D)",
        per_feature=True,
    ),
    Threshold(
        "fairness",
        "equalized_odds_difference",
        0.1,
        0.2,
        "Error-rate gap between groups (equalized odds difference)",
        _RULE_OF_THUMB,
        per_feature=True,
    ),
    Threshold(
        "explainability",
        "completeness_delta_relative_p95",
        0.05,
        0.2,
        "Explanations add up (completeness, 95th percentile)",
        "auditkit default; the explainability section's own 5% limit",
    ),
    Threshold(
        "explainability",
        "randomization_rank_correlation",
        0.5,
        0.8,
        "Explanations depend on the trained weights (randomisation check)",
        "Adebayo et al., Sanity Checks for Saliency Maps (2018); auditkit's 0.5 limit",
    ),
    Threshold(
        "privacy",
        "membership_auc",
        0.6,
        0.8,
        "Membership-inference attack success (ROC AUC, loss attack)",
        "auditkit default; the privacy section's warning (0.6) and failure (0.8) levels",
        attack="loss",
    ),
    Threshold(
        "privacy",
        "generalization_gap_accuracy",
        0.05,
        0.1,
        "Training vs new-data accuracy gap (overfitting)",
        "auditkit default; the privacy section's 5-point overfitting limit",
    ),
    Threshold(
        "privacy",
        "dp_epsilon",
        1.0,
        10.0,
        "Differential-privacy budget (epsilon)",
        "Common guidance: epsilon up to 1 is a strong guarantee, above 10 a weak one",
    ),
    Threshold(
        "stability",
        "accuracy_std",
        0.02,
        0.05,
        "Spread of accuracy across folds (standard deviation)",
        "auditkit default; the stability section's 0.02 limit",
    ),
)


@dataclass(frozen=True)
class Light:
    """One traffic light of the card's summary (all display text except ``value``/``ci``)."""

    area: str
    label: str
    status: Status
    value: float | None
    ci: tuple[float, float] | None
    rule: str
    reason: str
    source: str


def judge(
    value: float | None,
    ci: Sequence[float] | None,
    *,
    metric: str,
    pass_at: float,
    fail_at: float,
    flags: Iterable[str] = (),
) -> tuple[Status, str]:
    """Return ``(status, reason)`` for a value against a pass and a fail bound.

    Examples
    --------
    >>> judge(0.85, None, metric="roc_auc", pass_at=0.8, fail_at=0.7)
    ('pass', '')
    >>> judge(0.75, [0.7, 0.83], metric="demographic_parity_ratio", pass_at=0.8, fail_at=0.8)[0]
    'warn'
    """
    up = direction(metric)
    if up is None:
        return "info", "this figure has no better or worse direction"
    if value is None:
        return "info", "not computed"

    def better_or_equal(a: float, b: float) -> bool:
        return a >= b if up else a <= b

    if better_or_equal(value, pass_at):
        status: Status = "pass"
    elif not better_or_equal(value, fail_at) and value != fail_at:
        status = "fail"
    else:
        status = "warn"
    reason = ""
    if "too_small" in set(flags) and status != "warn":
        return "warn", "too few rows to judge"
    if ci is not None and len(ci) == 2 and ci[0] is not None and ci[1] is not None:
        lo, hi = float(ci[0]), float(ci[1])
        worst_end, best_end = (lo, hi) if up else (hi, lo)
        if status == "pass" and not better_or_equal(worst_end, pass_at):
            status, reason = "warn", "the interval reaches past the green bound"
        elif status == "fail" and better_or_equal(best_end, fail_at):
            status, reason = "warn", "the interval reaches back past the red bound"
    return status, reason


_ORDER: dict[str, int] = {"fail": 0, "warn": 1, "pass": 2, "info": 3}


def worst(statuses: Iterable[str]) -> Status:
    """Return the most severe of ``statuses`` (``fail`` > ``warn`` > ``pass`` > ``info``)."""
    found = sorted(statuses, key=lambda s: _ORDER.get(s, 9))
    if not found or found[0] not in _ORDER:
        return "info"
    return found[0]  # type: ignore[return-value]


def _matches(t: Threshold, m: Mapping[str, Any]) -> bool:
    if m.get("section") != t.section or m.get("name") != t.metric:
        return False
    if m.get("group") is not None or m.get("label") is not None or m.get("fold") is not None:
        return False
    if m.get("input_feature") is not None:
        return False
    if t.attack is not None and m.get("attack") != t.attack:
        return False
    feature = m.get("feature")
    if t.per_feature:
        return (
            feature is not None
            and len(feature) == 1
            and m.get("method") in (None, "between_groups")
        )
    return feature is None


def default_lights(data: Mapping[str, Any]) -> list[Light]:
    """Return the lights of :data:`DEFAULT_THRESHOLDS` for every record they judge."""
    metrics = list(data.get("metrics") or [])
    out: list[Light] = []
    for t in DEFAULT_THRESHOLDS:
        for m in metrics:
            if not _matches(t, m):
                continue
            ci = m.get("ci")
            status, reason = judge(
                m.get("value"), ci, metric=t.metric, pass_at=t.pass_at, fail_at=t.fail_at,
                flags=m.get("flags") or (),
            )  # fmt: skip
            label = t.label
            if t.per_feature:
                label += f": {' × '.join(str(f) for f in m['feature'])}"
            if sum(1 for x in metrics if _matches(t, x)) > 1 and not t.per_feature:
                qualifier = str(m.get("label") or m.get("method") or "").split(";")[0].strip()
                label += f" ({qualifier})" if qualifier else ""
            out.append(
                Light(
                    area=t.section, label=label, status=status, value=m.get("value"),
                    ci=(ci[0], ci[1]) if ci else None, rule=t.describe(), reason=reason,
                    source=t.source,
                )
            )  # fmt: skip
    rank = {a: i for i, a in enumerate(AREAS)}
    out.sort(key=lambda lt: rank.get(lt.area, 99))
    return out


def policy_lights(policy: Mapping[str, Any]) -> list[Light]:
    """One light per rule of a checked policy (``AuditResult.policy``)."""
    out = []
    for c in policy.get("checks") or []:
        failed = c.get("status") != "passed"
        status: Status = ("warn" if c.get("severity") == "warning" else "fail") if failed else (
            "pass"
        )  # fmt: skip
        feature = c.get("feature")
        label = str(c.get("id") or c.get("metric") or "")
        where = f" ({' × '.join(str(f) for f in feature)})" if feature else ""
        out.append(
            Light(
                area=str(c.get("section") or str(c.get("metric", "")).partition(".")[0]),
                label=f"{label}: {c.get('metric', '')}{where}",
                status=status,
                value=c.get("actual"),
                ci=None,
                rule=f"{c.get('op', '')} {c.get('threshold')}",
                reason=str(c.get("message") or ""),
                source=str(policy.get("source") or "policy"),
            )
        )
    return out


def area_lights(
    lights: Sequence[Light], findings_by_area: Mapping[str, Sequence[str]], *,
    from_policy: bool,
) -> dict[str, Status]:  # fmt: skip
    """Return the light of each area: the worst of its indicator lights.

    Without a policy the sections' own finding severities count too (a section that reports a
    failure is red even where no default threshold covers it); with a policy only its rules
    count, and an area no rule covers is ``info`` (not judged).
    """
    out: dict[str, Status] = {}
    for area in AREAS:
        statuses: list[str] = [lt.status for lt in lights if lt.area == area]
        if not from_policy:
            statuses += [
                s for s in findings_by_area.get(area, ()) if s in ("pass", "warn", "fail")
            ]
        out[area] = worst(statuses)
    return out
