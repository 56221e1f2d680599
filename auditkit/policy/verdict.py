"""Checking a policy against an audit result: one :class:`CheckResult` per rule, a verdict.

How a rule is matched and judged (groups too small to judge, recomputed disparities, the
groups a failure names) is described in :mod:`auditkit.policy`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .._core.catalog import SMALL_FLAGS, base_metrics, metric_task
from .._core.validation import did_you_mean
from ..exceptions import PolicyError
from ..result.records import AuditResult, MetricValue
from .rules import DEFAULT_METHOD, OPS, Policy, Rule, fmt_value

__all__ = ["CheckResult", "PolicyVerdict", "check", "result_task"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one rule: value against threshold.

    Attributes
    ----------
    id : str
        The rule's id.
    metric_id : str
        ``section.metric``.
    feature, group : tuple of str or None
    op : str
    threshold : float
    actual : float or None
        The value checked (the worst one when the rule matched several records); None when no
        record matched or the value is undefined.
    status : {"passed", "failed"}
    message : str
        A sentence stating value against threshold, or why the rule could not be met.
    severity : {"error", "warning"}
    n_matched : int
        How many metric records the rule was checked against.
    """

    id: str
    metric_id: str
    feature: tuple[str, ...] | None
    op: str
    threshold: float
    actual: float | None
    status: Literal["passed", "failed"]
    message: str
    severity: Literal["error", "warning"] = "error"
    group: tuple[str, ...] | None = None
    n_matched: int = 0

    @property
    def passed(self) -> bool:
        """True when the rule is satisfied."""
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (stored in ``AuditResult.policy["checks"]``)."""
        section, _, name = self.metric_id.partition(".")
        return {
            "id": self.id,
            "metric": self.metric_id,
            "section": section,
            "name": name,
            "feature": list(self.feature) if self.feature is not None else None,
            "group": list(self.group) if self.group is not None else None,
            "op": self.op,
            "threshold": self.threshold,
            "actual": self.actual,
            "status": self.status,
            "severity": self.severity,
            "message": self.message,
            "n_matched": self.n_matched,
        }


@dataclass(frozen=True)
class PolicyVerdict:
    """The result of checking a policy: one :class:`CheckResult` per rule.

    Attributes
    ----------
    checks : tuple of CheckResult
    passed : bool
        True when no rule of severity ``"error"`` failed.
    source : str or None
        The policy file.
    """

    checks: tuple[CheckResult, ...]
    passed: bool
    source: str | None = None
    name: str | None = None
    failed: tuple[CheckResult, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failed", tuple(c for c in self.checks if not c.passed))

    def summary(self) -> str:
        """One line: ``policy passed: 5 of 5 rules`` or which rules failed."""
        n = len(self.checks)
        errors = [c for c in self.failed if c.severity == "error"]
        warnings = [c for c in self.failed if c.severity == "warning"]
        if not errors:
            text = f"policy passed: {n - len(self.failed)} of {n} rules satisfied"
            if warnings:
                text += f"; {len(warnings)} warning(s): " + ", ".join(c.id for c in warnings)
            return text
        return f"policy FAILED: {len(errors)} of {n} rules failed: " + ", ".join(
            c.id for c in errors
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data stored in ``AuditResult.policy`` and rendered in the cards."""
        return {
            "passed": self.passed,
            "source": Path(self.source).name if self.source else None,
            "name": self.name,
            "n_rules": len(self.checks),
            "n_failed": len(self.failed),
            "checks": [c.to_dict() for c in self.checks],
        }


def _record_text(m: MetricValue) -> str:
    parts = []
    if m.feature is not None:
        parts.append(" × ".join(m.feature) + (" = " + " × ".join(m.group) if m.group else ""))
    for key in ("label", "attack", "input_feature", "method", "agg"):
        v = getattr(m, key)
        if v is not None and not (key == "method" and v == DEFAULT_METHOD):
            parts.append(f"{key} {v}")
    return f" ({', '.join(parts)})" if parts else ""


def _is_small(m: MetricValue) -> bool:
    return any(f in SMALL_FLAGS for f in m.flags)


def _group_records(
    m: MetricValue, base: str, metrics: Sequence[MetricValue], *, include_small: bool
) -> list[MetricValue]:
    """Return the per-group records of ``base`` behind disparity record ``m``."""
    return [
        g for g in metrics
        if g.section == m.section and g.name == base and g.feature == m.feature
        and g.group is not None and g.label == m.label and g.method in (None, "group")
        and g.value is not None and (include_small or not _is_small(g))
    ]  # fmt: skip


def _overall(m: MetricValue, base: str, metrics: Sequence[MetricValue]) -> float | None:
    for g in metrics:
        if (g.section == m.section and g.name == base and g.feature is None
                and g.group is None and g.label == m.label):  # fmt: skip
            return g.value
    return None


def _disparity(
    m: MetricValue, base: str, metrics: Sequence[MetricValue], *, include_small: bool
) -> float | None:
    """Recompute ``m``'s disparity for one base metric over the groups it may judge."""
    vals = [g.value for g in _group_records(m, base, metrics, include_small=include_small)]
    xs = [float(v) for v in vals if v is not None]
    if len(xs) < 2:
        return None
    ratio = m.name.endswith("_ratio")
    if m.method == "to_overall":
        o = _overall(m, base, metrics)
        if o is None:
            return None
        if not ratio:
            return max(abs(x - o) for x in xs)
        if o == 0 or min(xs) == 0:
            return None
        return min(min(x / o, o / x) for x in xs)
    if not ratio:
        return max(xs) - min(xs)
    return min(xs) / max(xs) if max(xs) > 0 else None


def _recomputed(
    m: MetricValue, metrics: Sequence[MetricValue]
) -> tuple[float, list[MetricValue]] | None:
    """``m`` recomputed over the groups large enough to judge, and the groups left out.

    For a between_groups / to_overall record flagged ``small_groups``: the same definition
    (Fairlearn's) over the per-group records not flagged too small; equalized odds takes the
    worst case of its two rates (their mean for ``agg="mean"`` and average odds).
    """
    bases = base_metrics(m.name)
    if not bases or m.method not in (None, "between_groups", "to_overall"):
        return None
    parts = [_disparity(m, b, metrics, include_small=False) for b in bases]
    if any(p is None for p in parts):
        return None
    xs = [float(p) for p in parts if p is not None]
    if m.agg == "mean" or m.name.startswith("average_odds"):
        value = sum(xs) / len(xs)
    else:
        value = min(xs) if m.name.endswith("_ratio") else max(xs)
    left_out = [
        g for b in bases for g in _group_records(m, b, metrics, include_small=True)
        if _is_small(g)
    ]  # fmt: skip
    return value, left_out


def _n(x: int | None) -> str:
    return "n=?" if x is None else f"n={x:,}"


def _groups_text(
    m: MetricValue, metrics: Sequence[MetricValue], result: AuditResult, *, include_small: bool
) -> str:
    """Name the groups behind a disparity: ``race: group 'X' 0.42, n=2,103 vs group 'Y' ...``."""
    bases = base_metrics(m.name)
    if not bases or m.feature is None:
        return ""
    feat = " × ".join(m.feature)

    def label(g: MetricValue) -> str:
        return "'" + " × ".join(g.group or ()) + "'"

    if m.method == "to_reference" and m.group is not None:
        recs = _group_records(m, bases[0], metrics, include_small=True)
        own = next((g for g in recs if g.group == m.group), None)
        sec = result.section(m.section)
        refs = (sec.info.get("reference_groups") if sec is not None else None) or {}
        ref_name = refs.get(feat) if isinstance(refs, Mapping) else None
        others = [g for g in recs if g.group != m.group]
        ref = next((g for g in others if " × ".join(g.group or ()) == str(ref_name)), None)
        if ref is None and ref_name is None and others:
            ref = max(others, key=lambda g: g.n or 0)  # the default reference: largest group
        if own is None or ref is None:
            return ""
        return (
            f" ({feat}: group {label(own)} {fmt_value(own.value)}, {_n(own.n)} vs reference "
            f"{label(ref)} {fmt_value(ref.value)}, {_n(ref.n)})"
        )
    best: tuple[float, MetricValue, MetricValue] | None = None
    for b in bases:  # the base metric with the widest spread drives a worst-case disparity
        recs = _group_records(m, b, metrics, include_small=include_small)
        if len(recs) < 2:
            continue
        lo = min(recs, key=lambda g: g.value)  # type: ignore[arg-type, return-value]
        hi = max(recs, key=lambda g: g.value)  # type: ignore[arg-type, return-value]
        spread = float(hi.value) - float(lo.value)  # type: ignore[arg-type]
        if best is None or spread > best[0]:
            best = (spread, lo, hi)
    if best is None:
        return ""
    _, lo, hi = best
    base = f"{hi.name}: " if len(bases) > 1 else ""
    return (
        f" ({feat}: {base}group {label(hi)} {fmt_value(hi.value)}, {_n(hi.n)} vs group "
        f"{label(lo)} {fmt_value(lo.value)}, {_n(lo.n)})"
    )


_FAIL_WORDS = {
    ">=": "is below", ">": "is not above", "<=": "is above", "<": "is not below",
    "==": "is not equal to",
}  # fmt: skip


def _absent_message(rule: Rule, metrics: Sequence[MetricValue], result: AuditResult) -> str:
    sec = result.section(rule.section)
    if sec is None:
        return (
            f"{rule.metric_id} is absent: the audit has no section {rule.section!r} "
            f"(sections: {', '.join(s.name for s in result.sections) or 'none'})."
        )
    if sec.status != "ok":
        return (
            f"{rule.metric_id} is absent: section {rule.section!r} was {sec.status}"
            + (f" ({sec.reason})" if sec.reason else "") + "."
        )  # fmt: skip
    same_name = [m for m in metrics if m.section == rule.section and m.name == rule.metric]
    if not same_name:
        names = sorted({m.name for m in metrics if m.section == rule.section})
        return f"{rule.metric_id} is absent from the result{did_you_mean(rule.metric, names)}."
    feats = sorted({" × ".join(m.feature) if m.feature else "(whole population)"
                    for m in same_name})  # fmt: skip
    methods = sorted({m.method for m in same_name if m.method is not None})
    want = " × ".join(rule.feature) if rule.feature else "the whole population"
    if rule.group is not None:
        want += " = " + " × ".join(rule.group)
    return (
        f"{rule.metric_id} is absent for {want}"
        + (f" with method {rule.method}" if rule.method else "")
        + f"; the result has it for: {', '.join(feats)}"
        + (f" (methods: {', '.join(methods)})" if methods else "") + "."
    )  # fmt: skip


#: Metrics a message suggests for each task when a rule names one of the other task.
_EXAMPLES = {
    "regression": "mean_absolute_error_ratio, mean_error_difference, "
    "worst_group_mean_absolute_error, prediction_ks_gap, r2_score",
    "classification": "demographic_parity_ratio, equalized_odds_difference, accuracy, roc_auc",
}
_TASK_WORDS = {
    "regression": "a regression (a model that predicts a number)",
    "classification": "a classification (a model that predicts classes)",
}


def result_task(result: AuditResult) -> str:
    """Return ``"regression"`` or ``"classification"``: the kind of model the audit is of.

    Read from ``data["task"]`` or ``model["task"]`` (written for a regression), else from a
    section's ``info["task"]``; a result that says nothing is a classification.
    """
    for where in (result.data, result.model):
        if isinstance(where, Mapping) and where.get("task") == "regression":
            return "regression"
    for s in result.sections:
        if isinstance(s.info, Mapping) and s.info.get("task") == "regression":
            return "regression"
    return "classification"


def _task_mismatch(rule: Rule, result: AuditResult) -> str | None:
    """Return the message of a rule naming a metric of the other task, or None."""
    want = metric_task(rule.metric)
    task = result_task(result)
    if want is None or want == task:
        return None
    return (
        f"Rule {rule.id!r}: {rule.metric_id} is a {want} metric, but this audit is of "
        f"{_TASK_WORDS[task]}, so the rule cannot be checked. Name a {task} metric instead "
        f"(for example {_EXAMPLES[task]})."
    )


def _check_rule(rule: Rule, metrics: Sequence[MetricValue], result: AuditResult) -> CheckResult:
    matched = [m for m in metrics if rule.matches(m)]

    def out(status: Literal["passed", "failed"], actual: float | None, msg: str) -> CheckResult:
        return CheckResult(
            id=rule.id, metric_id=rule.metric_id, feature=rule.feature, op=rule.op,
            threshold=rule.threshold, actual=actual, status=status, message=msg,
            severity=rule.severity, group=rule.group, n_matched=len(matched),
        )  # fmt: skip

    mismatch = _task_mismatch(rule, result)
    if mismatch is not None:
        return out("failed", None, mismatch)
    if not matched:
        return out("failed", None, _absent_message(rule, metrics, result))
    # Groups too small to judge drive no verdict unless the rule asks for them.
    judged: list[MetricValue] = []
    set_aside: list[MetricValue] = []
    notes: dict[int, str] = {}
    for m in matched:
        if rule.include_small_groups or not _is_small(m):
            judged.append(m)
        elif "too_small" in m.flags or m.method == "to_reference" or m.group is not None:
            set_aside.append(m)
        else:  # a disparity that includes a small group: judge it on the large groups
            again = _recomputed(m, metrics)
            if again is None:
                set_aside.append(m)
                continue
            value, left_out = again
            m2 = replace(m, value=value, flags=(), ci=None, p_value=None, p_adjusted=None)
            names = ", ".join(
                dict.fromkeys(f"'{' × '.join(g.group or ())}' ({_n(g.n)})" for g in left_out)
            )
            notes[id(m2)] = (
                f"; computed over the groups large enough to judge (left out: {names}; "
                "include_small_groups = true judges them too)"
            )
            judged.append(m2)
    if not judged:
        shown = ", ".join(_record_text(m).strip(" ()") or m.id for m in set_aside[:3])
        return out(
            "passed", None,
            f"{rule.metric_id} was not judged: every matching record is about groups too small "
            f"to judge ({shown}); set include_small_groups = true in the rule to judge them.",
        )  # fmt: skip
    undefined = [m for m in judged if m.value is None]
    if undefined:
        m = undefined[0]
        return out(
            "failed", None,
            f"{rule.metric_id}{_record_text(m)} is undefined"
            + (f": {m.reason}" if m.reason else "") + f"; the rule needs {rule.op} "
            f"{fmt_value(rule.threshold)}.",
        )  # fmt: skip
    cmp = OPS[rule.op]
    small_ok = rule.include_small_groups
    aside = (
        f" {len(set_aside)} record(s) of groups too small to judge were set aside."
        if set_aside else ""
    )  # fmt: skip
    failing = [m for m in judged if not cmp(m.value, rule.threshold)]  # type: ignore[arg-type]
    if failing:
        m = failing[0]
        extra = f" ({len(failing)} of {len(judged)} records fail)" if len(judged) > 1 else ""
        who = _groups_text(m, metrics, result, include_small=small_ok)
        return out(
            "failed", m.value,
            f"{rule.metric_id}{_record_text(m)} = {fmt_value(m.value)}{who} "
            f"{_FAIL_WORDS[rule.op]} {fmt_value(rule.threshold)}; the rule requires {rule.op} "
            f"{fmt_value(rule.threshold)}"
            f"{extra}{notes.get(id(m), '')}.{aside}",
        )  # fmt: skip
    # all pass: report the record closest to the threshold
    worst = min(judged, key=lambda m: abs(m.value - rule.threshold))  # type: ignore[operator]
    extra = f" (all {len(judged)} records)" if len(judged) > 1 else ""
    return out(
        "passed", worst.value,
        f"{rule.metric_id}{_record_text(worst)} = {fmt_value(worst.value)}, which satisfies "
        f"{rule.op} {fmt_value(rule.threshold)}{extra}{notes.get(id(worst), '')}.{aside}",
    )  # fmt: skip


def check(
    result: AuditResult | Mapping[str, Any], policy: Policy | str | os.PathLike[str]
) -> PolicyVerdict:
    """Check an audit result against a policy.

    Parameters
    ----------
    result : AuditResult or dict
        The audit result (or its ``to_dict()`` form).
    policy : Policy or path
        A :class:`Policy` or the path of a policy TOML file.

    Returns
    -------
    PolicyVerdict
        One check per rule; ``passed`` is False when a rule of severity ``"error"`` failed.
        A rule whose metric is absent from the result fails.

    Examples
    --------
    >>> from auditkit.report import AuditResult, MetricValue, SectionResult
    >>> res = AuditResult("1.0", "0", "2024-01-01T00:00:00Z", {}, {}, {}, (SectionResult(
    ...     "performance", "ok", metrics=(MetricValue("performance", "accuracy", 0.91),)),))
    >>> pol = Policy.from_dict({"rule": [{"section": "performance", "metric": "accuracy",
    ...                                   "op": ">=", "threshold": 0.9}]})
    >>> check(res, pol).passed
    True
    """
    if isinstance(result, Mapping):
        result = AuditResult.from_dict(dict(result))
    if not isinstance(result, AuditResult):
        raise PolicyError(f"check expects an AuditResult; got {type(result).__name__}.")
    if not isinstance(policy, Policy):
        policy = Policy.from_toml(policy)
    metrics = result.metrics
    checks = tuple(_check_rule(r, metrics, result) for r in policy.rules)
    passed = all(c.passed for c in checks if c.severity == "error")
    return PolicyVerdict(checks=checks, passed=passed, source=policy.source, name=policy.name)
