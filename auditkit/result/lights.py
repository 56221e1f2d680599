"""Traffic lights of an audit: the verdict of each indicator and area, from the metric catalog.

The judgment is part of the result, not of a renderer: the cards (:mod:`auditkit.report`), the
notebook summary (:mod:`auditkit.result.summary`) and the MLflow tags all read it here, so they
agree by construction. Plain data and pure functions over ``AuditResult.to_dict()``; the only
import is the metric catalog (stage 1). Directions, default thresholds and their sources come
from the catalog (:mod:`auditkit._core.catalog`), which the metric registry is checked against.

When the audit was checked against a policy, the lights come from the policy's rules alone (a
failed rule of severity ``warning`` is amber). Otherwise they come from
:data:`DEFAULT_THRESHOLDS`: each names a metric, a bound at or better than which the light is
green (``pass_at``) and a bound worse than which it is red (``fail_at``); between the two it is
amber. "Better" reads the metric's direction; a signed ``to_reference`` record is read as a gap
in either direction, which harms the group or the reference (:func:`auditkit._core.catalog.harm`).

Evidence: a record that carries a p-value (``p_adjusted``, adjusted for the family of
comparisons, or else ``p_value``) is red or amber only when the value is beyond its bound and
that p-value is below ``1 - ci_level``; beyond its bound without that evidence it gets a
neutral light that says it is "not distinguishable from no gap with these sample sizes".
Records without a p-value keep the interval rule: when the value's confidence interval reaches
across a bound, the data cannot settle the verdict, and a green or red light becomes amber.
A record flagged ``too_small`` (a group too small to judge) gets no light at all (the card lists
it in a note of its own); one flagged ``small_groups`` (a comparison that includes such a
group) gets a neutral light.

The defaults are conventions, not laws; each says where it comes from. A policy file replaces
them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._core.catalog import (
    CATALOG,
    DEFAULT_THRESHOLDS,
    NOT_DISTINGUISHABLE,
    SMALL_FLAGS,
    Threshold,
    direction,
    evidence_p,
    harm,
)

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
    "drift": "Is the evaluation data like the data the model learned from?",
    "privacy": "Could someone tell from the model who was in its training data?",
    "stability": "Do the figures hold when the data changes a little?",
}

#: Is a higher value better? True, False, or None (descriptive), read from the catalog.
DIRECTIONS: dict[str, bool | None] = {n: s.greater_is_better for n, s in CATALOG.items()}

_AUTO: Any = object()


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
    ci: Sequence[float | None] | None,
    *,
    metric: str,
    pass_at: float,
    fail_at: float,
    flags: Iterable[str] = (),
    p_value: float | None = None,
    ci_level: float = 0.95,
    up: bool | None = _AUTO,
    p_name: str = "p",
) -> tuple[Status, str]:
    """Return ``(status, reason)`` for a value against a pass and a fail bound.

    Parameters
    ----------
    value, ci : float, pair of float
        The figure and its interval (on the scale the bounds are given in).
    metric : str
        Its name; the catalog gives its direction unless ``up`` is given.
    pass_at, fail_at : float
        Green at ``pass_at`` or better, red worse than ``fail_at``, amber between.
    flags : iterable of str
        Record flags: ``too_small`` and ``small_groups`` make the light neutral.
    p_value : float, default=None
        The evidence against "no difference" (adjusted where there is an adjustment). When
        given, a value beyond a bound is red or amber only if ``p_value < 1 - ci_level``;
        otherwise the light is neutral and says the gap is not distinguishable from none. A
        value within the green bound whose interval reaches past it is amber when the p-value
        shows a gap, green otherwise (the fairness findings' rule). Without a p-value, the
        interval rule applies.
    ci_level : float, default=0.95
    up : bool or None, default=from the catalog
        Whether higher is better.
    p_name : str, default="p"
        How the reason names ``p_value`` (``"adjusted p"``).

    Examples
    --------
    >>> judge(0.85, None, metric="roc_auc", pass_at=0.8, fail_at=0.7)
    ('pass', '')
    >>> judge(0.75, [0.7, 0.83], metric="demographic_parity_ratio", pass_at=0.8, fail_at=0.8)[0]
    'warn'
    >>> judge(0.5, None, metric="demographic_parity_ratio", pass_at=0.8, fail_at=0.8,
    ...       p_value=0.4)[0]
    'info'
    """
    if up is _AUTO:
        up = direction(metric)
    if up is None:
        return "info", "this figure has no better or worse direction"
    if value is None:
        return "info", "not computed"
    fl = set(flags)
    if "too_small" in fl:
        return "info", "too few rows to judge"
    if "small_groups" in fl:
        return "info", "includes a group too small to judge (see the note on small groups)"

    def better_or_equal(a: float, b: float) -> bool:
        return a >= b if up else a <= b

    if better_or_equal(value, pass_at):
        status: Status = "pass"
    elif not better_or_equal(value, fail_at) and value != fail_at:
        status = "fail"
    else:
        status = "warn"
    reason = ""
    have_ci = ci is not None and len(ci) == 2 and ci[0] is not None and ci[1] is not None
    if have_ci:
        assert ci is not None
        lo, hi = float(ci[0]), float(ci[1])  # type: ignore[arg-type]
        worst_end, best_end = (lo, hi) if up else (hi, lo)
    if p_value is not None:
        if status in ("fail", "warn") and not p_value < 1.0 - ci_level:
            return "info", f"{NOT_DISTINGUISHABLE} ({p_name} = {p_value:.2g})"
        if status == "fail" and have_ci and better_or_equal(best_end, fail_at):
            status, reason = "warn", "the interval reaches back past the red bound"
        elif status == "pass" and have_ci and not better_or_equal(worst_end, pass_at):
            if p_value < 1.0 - ci_level:  # a gap is shown and may reach the bound: amber
                status = "warn"
                reason = (
                    f"the interval reaches past the green bound and the gap is distinguishable "
                    f"from none ({p_name} = {p_value:.2g})"
                )
            else:
                reason = "the interval reaches past the green bound, but no gap is shown"
        return status, reason
    if have_ci:
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
    if m.get("label") is not None or m.get("fold") is not None:
        return False
    if m.get("input_feature") is not None or m.get("agg") not in (None, "worst_case"):
        return False
    if t.attack is not None and m.get("attack") != t.attack:
        return False
    feature = m.get("feature")
    if t.per_feature:
        if feature is None or len(feature) != 1:
            return False
        if t.method == "to_reference":
            return m.get("method") == "to_reference" and m.get("group") is not None
        return m.get("group") is None and m.get("method") in (None, t.method)
    return feature is None and m.get("group") is None


def _ci_level(data: Mapping[str, Any], section: str) -> float:
    for s in data.get("sections") or []:
        if s.get("name") == section and isinstance(s.get("info"), Mapping):
            v = s["info"].get("ci_level")
            if isinstance(v, (int, float)) and 0 < v < 1:
                return float(v)
    v = (data.get("run") or {}).get("ci_level")
    return float(v) if isinstance(v, (int, float)) and 0 < v < 1 else 0.95


def section_info(data: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    """Return the ``info`` of section ``section`` in ``data`` (empty when absent)."""
    for s in data.get("sections") or []:
        if s.get("name") == section and isinstance(s.get("info"), Mapping):
            return s["info"]  # type: ignore[no-any-return]
    return {}


def _reference_of(info: Mapping[str, Any], feature: Sequence[Any]) -> str | None:
    """Return the reference group of a single feature, where the section's info names it."""
    refs = info.get("reference_groups")
    if isinstance(refs, Mapping) and len(feature) == 1:
        ref = refs.get(str(feature[0]))
        if ref is not None:
            return str(ref)
    return None


def judge_record(
    t: Threshold, m: Mapping[str, Any], *, info: Mapping[str, Any] | None = None,
    ci_level: float = 0.95,
) -> tuple[Status, str]:  # fmt: skip
    """Judge one metric record against a default threshold (evidence and harm included)."""
    pass_at, fail_at = t.bounds(info)
    value, ci = m.get("value"), m.get("ci")
    up: bool | None = direction(t.metric)
    if t.method == "to_reference" and m.get("method") == "to_reference":
        value, ci, up = harm(t.metric, value, ci)
    return judge(
        value, ci, metric=t.metric, pass_at=pass_at, fail_at=fail_at, flags=m.get("flags") or (),
        p_value=evidence_p(m), ci_level=ci_level, up=up,
        p_name="adjusted p" if m.get("p_adjusted") is not None else "p",
    )  # fmt: skip


def default_lights(data: Mapping[str, Any]) -> list[Light]:
    """Return the lights of :data:`DEFAULT_THRESHOLDS` for every record they judge.

    Records of groups flagged ``too_small`` get no light (the card lists them in a note).
    """
    metrics = list(data.get("metrics") or [])
    out: list[Light] = []
    has_favourable = any(m.get("name") == "favourable_impact_ratio" for m in metrics)
    for t in DEFAULT_THRESHOLDS:
        if t.metric == "demographic_parity_ratio" and has_favourable:
            continue  # the four-fifths light reads the favourable outcome's record
        info = section_info(data, t.section)
        level = _ci_level(data, t.section)
        matched = [m for m in metrics if _matches(t, m)]
        for m in matched:
            flags = set(m.get("flags") or ())
            if "too_small" in flags or (t.method == "to_reference" and flags & SMALL_FLAGS):
                continue
            ci = m.get("ci")
            status, reason = judge_record(t, m, info=info, ci_level=level)
            label = t.label
            if t.per_feature:
                label += f": {' × '.join(str(f) for f in m['feature'])}"
                if t.method == "to_reference":
                    label += f" = {' × '.join(str(g) for g in m['group'])}"
                    ref = _reference_of(info, m["feature"])
                    label += f" vs {ref}" if ref else " vs the reference group"
            if len(matched) > 1 and not t.per_feature:
                qualifier = str(m.get("label") or m.get("method") or "").split(";")[0].strip()
                label += f" ({qualifier})" if qualifier else ""
            out.append(
                Light(
                    area=t.section, label=label, status=status, value=m.get("value"),
                    ci=(ci[0], ci[1]) if ci else None, rule=t.describe(info), reason=reason,
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
