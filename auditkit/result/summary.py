"""The first screen of an audit as plain data: verdict, lights, attention list, sections.

The verdict, one light per area, the indicator lights, what needs attention, and the sections
in the reader's order.

One place for the judgment that every view shows: the notebook summary
(:meth:`AuditResult._repr_html_ <auditkit.result.records.AuditResult._repr_html_>`), the MLflow
tags (:mod:`auditkit.mlflow`) and the card's summary (:mod:`auditkit.report`) agree by
construction. It reads ``AuditResult.to_dict()`` data only; the lights come from
:mod:`.lights` (the metric catalog's default thresholds, or the checked policy's rules).

Rules (the card's):

- an area's light is the worst of its indicator lights and, without a policy, of its own
  findings' severities; with a policy, an area no rule covers is not judged (``NO RULE``);
- a section that did not run is ``NOT RUN`` and judges nothing;
- the verdict is the worst light shown (judged areas and indicators), ``NOT JUDGED`` when none;
- findings about groups too small to judge drive no light and no headline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .lights import AREAS, Light, area_lights, default_lights, policy_lights, worst

__all__ = [
    "AreaLight",
    "SectionEntry",
    "Summary",
    "about_small_groups",
    "rank_findings",
    "section_anchor",
    "section_order",
    "small_pattern",
    "summarize",
    "verdict_of",
]

_PLAIN_ID = re.compile(r"[a-z][a-z0-9_]{0,40}")
_SEVERITY_ORDER = {"fail": 0, "warn": 1, "pass": 2, "info": 3}
_EVIDENCE_ORDER = {"strong": 0, "moderate": 1, "weak": 2, "none": 3}
#: Words for the lights in the verdict text.
_LIGHT_WORDS = (("fail", "red"), ("warn", "amber"), ("pass", "green"), ("info", "neutral"))
#: The word of a light (``info`` is not judged).
LIGHT_WORD = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "info": "NOT JUDGED"}
_POLICY_WORDS = {"fail": "FAILED", "warn": "PASSED WITH WARNINGS", "pass": "PASSED"}


@dataclass(frozen=True)
class SectionEntry:
    """One section of the result in the reader's order.

    ``anchor`` is the id of the section in the HTML card (``card.html#sec-fairness``);
    ``findings`` are its findings (plain dicts, ``small`` set on those about groups too small
    to judge), in the result's order.
    """

    name: str
    status: str
    reason: str
    anchor: str
    n_metrics: int
    findings: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class AreaLight:
    """The light of one area (a known section): ``status`` and the word shown.

    ``word`` is ``NOT RUN`` for a section that did not run and ``NO RULE`` for an area a
    checked policy does not cover; ``sentences`` are the one or two findings that explain it.
    """

    name: str
    status: str
    word: str
    anchor: str
    sentences: tuple[str, ...]
    n_more: int

    @property
    def judged(self) -> bool:
        """Whether the area's light counts towards the verdict."""
        return self.word not in ("NOT RUN", "NO RULE")


@dataclass(frozen=True)
class Summary:
    """The first screen of an audit (see :func:`summarize`)."""

    verdict: str
    verdict_word: str
    verdict_text: str
    from_policy: bool
    policy_source: str
    areas: tuple[AreaLight, ...]
    lights: tuple[Light, ...]
    attention: tuple[Mapping[str, Any], ...]
    sections: tuple[SectionEntry, ...]


def section_order(names: Sequence[str]) -> list[str]:
    """Sections in the reader's order (known areas first), others after in result order."""
    rank = {a: i for i, a in enumerate(AREAS)}
    order = list(names)
    return sorted(order, key=lambda n: (rank.get(n, len(rank)), order.index(n)))


def section_anchor(name: str, position: int) -> str:
    """Return the card's id of a section: ``sec-<name>`` (``sec-<position>`` for odd names)."""
    return f"sec-{name}" if _PLAIN_ID.fullmatch(name) else f"sec-{position}"


def small_pattern(metrics: Sequence[Mapping[str, Any]]) -> re.Pattern[str] | None:
    """Match the way findings name a group flagged too small (``race = C``, ``'C' of 'race'``)."""
    alts = []
    for m in metrics:
        if "too_small" not in (m.get("flags") or ()) or not m.get("feature") or not m.get("group"):
            continue
        pairs = [f"{f} = {g}" for f, g in zip(m["feature"], m["group"])]
        alts.append(re.escape(" and ".join(pairs)) + r"(?![\w-])")
        alts.append(re.escape(" × ".join(map(str, m["feature"])) + " = "
                              + " × ".join(map(str, m["group"]))) + r"(?![\w-])")  # fmt: skip
        if len(m["group"]) == 1:
            alts.append(re.escape(f"'{m['group'][0]}' of '{m['feature'][0]}'"))
    if not alts:
        return None
    return re.compile("|".join(dict.fromkeys(alts)))


def about_small_groups(f: Mapping[str, Any], small: re.Pattern[str] | None = None) -> bool:
    """Whether a finding is about groups too small to judge (it then drives no light).

    The result model has no field for it: a finding is about them when its words say so
    ("too small", "too_small") or when it names a group the section flagged too small.
    """
    text = str(f.get("text", ""))
    low = text.lower()
    if "too small" in low or "too_small" in low:
        return True
    return small is not None and small.search(text) is not None


def rank_findings(findings: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Sort findings by severity, then evidence (strong > moderate > weak > none), stably.

    Findings about groups too small to judge (``small`` set) are left out.
    """
    return sorted(
        (f for f in findings if not f.get("small")),
        key=lambda f: (
            _SEVERITY_ORDER.get(str(f.get("severity")), 9),
            _EVIDENCE_ORDER.get(str(f.get("evidence") or "none"), 3),
        ),
    )


def _count_text(statuses: Sequence[str]) -> str:
    parts = [f"{sum(1 for x in statuses if x == k)} {w}" for k, w in _LIGHT_WORDS
             if any(x == k for x in statuses)]  # fmt: skip
    return ", ".join(parts)


def verdict_of(area_statuses: Sequence[str], indicator_statuses: Sequence[str]) -> tuple[str, str]:
    """Return ``(status, text)``: the worst of the lights shown, and a text that counts them.

    ``area_statuses`` are the lights of the areas that were judged, ``indicator_statuses`` the
    indicator lights; the status is :func:`~.lights.worst` of all of them (``info`` when none).
    """
    shown = [*area_statuses, *indicator_statuses]
    status = worst(shown) if shown else "info"
    parts = []
    if area_statuses:
        parts.append(f"areas: {_count_text(area_statuses)}")
    if indicator_statuses:
        parts.append(f"indicators: {_count_text(indicator_statuses)}")
    text = "; ".join(parts) if parts else "no indicator could be judged"
    return status, text[:1].upper() + text[1:]


def _sections(d: Mapping[str, Any]) -> list[SectionEntry]:
    metrics = [m for m in d.get("metrics") or [] if isinstance(m, Mapping)]
    by_section: dict[str, list[Mapping[str, Any]]] = {}
    for m in metrics:
        by_section.setdefault(str(m.get("section", "")), []).append(m)
    raw: dict[str, Mapping[str, Any]] = {
        str(s.get("name", "")): s for s in d.get("sections") or [] if isinstance(s, Mapping)
    }
    for name in by_section:  # metrics whose section has no entry are still shown
        raw.setdefault(name, {"name": name, "status": "ok"})
    out = []
    for i, name in enumerate(section_order(list(raw))):
        s = raw[name]
        recs = by_section.get(name, [])
        small = small_pattern(recs)
        findings = tuple(
            {**f, "section": name, "small": about_small_groups(f, small)}
            for f in s.get("findings") or []
            if isinstance(f, Mapping)
        )
        out.append(
            SectionEntry(
                name=name,
                status=str(s.get("status", "")),
                reason=str(s.get("reason") or ""),
                anchor=section_anchor(name, i + 1),
                n_metrics=len(recs),
                findings=findings,
            )
        )
    return out


def _area(s: SectionEntry, status: str, from_policy: bool) -> AreaLight:
    """Return the light of one known section (the card's summary row)."""
    findings = [f for f in s.findings if not f["small"]]
    if s.status != "ok":
        words = {"skipped": "skipped", "failed": "failed"}.get(s.status, s.status)
        sentences = [f"Not run ({words}): {s.reason}" if s.reason else f"Not run ({words})."]
        return AreaLight(s.name, "info", "NOT RUN", s.anchor, tuple(sentences),
                         max(0, len(findings) - 1))  # fmt: skip
    bad = [f for f in rank_findings(findings) if f.get("severity") in ("fail", "warn")]
    if bad:
        sentences = [str(f.get("text", "")) for f in bad[:2]]
    elif findings:
        sentences = [str(findings[0].get("text", ""))]
    elif any(f["small"] for f in s.findings):
        sentences = ["Every finding of this section is about groups too small to judge "
                     "(see their note in the section)."]  # fmt: skip
    else:
        sentences = ["The section reported no finding."]
    word = "NO RULE" if from_policy and status == "info" else LIGHT_WORD.get(status, status)
    return AreaLight(s.name, status, word, s.anchor, tuple(sentences),
                     max(0, len(findings) - len(sentences)))  # fmt: skip


def summarize(data: Mapping[str, Any]) -> Summary:
    """Return the first screen of an audit from ``AuditResult.to_dict()`` data.

    Parameters
    ----------
    data : mapping
        The result's plain data (``result.to_dict()`` or a parsed ``audit.json``).

    Returns
    -------
    Summary
        ``verdict`` is ``"fail"``, ``"warn"``, ``"pass"`` or ``"info"`` (not judged), with the
        card's word (``PASS``...; ``PASSED``/``FAILED``... when a policy was checked) and a text
        that counts the lights; ``attention`` lists the failures and warnings, most severe and
        best supported first.
    """
    policy = data.get("policy") if isinstance(data.get("policy"), Mapping) else {}
    assert isinstance(policy, Mapping)
    from_policy = bool(policy.get("checks"))
    lights = policy_lights(policy) if from_policy else default_lights(data)
    sections = _sections(data)
    sev_by_area = {s.name: [str(f.get("severity")) for f in s.findings if not f["small"]]
                   for s in sections}  # fmt: skip
    area_status = area_lights(lights, sev_by_area, from_policy=from_policy)
    areas = tuple(_area(s, area_status[s.name], from_policy) for s in sections if s.name in AREAS)
    status, text = verdict_of([a.status for a in areas if a.judged], [lt.status for lt in lights])
    if from_policy:
        word = _POLICY_WORDS.get(status, "NOT JUDGED")
        basis = f"the rules of the policy {policy.get('source') or ''}".rstrip()
    else:
        word = LIGHT_WORD.get(status, status)
        basis = "auditkit's default thresholds (no policy was checked)"
    attention = rank_findings(
        [f for s in sections for f in s.findings if f.get("severity") in ("fail", "warn")]
    )
    return Summary(
        verdict=status,
        verdict_word=word,
        verdict_text=f"{text}, judged against {basis}.",
        from_policy=from_policy,
        policy_source=str(policy.get("source") or ""),
        areas=areas,
        lights=tuple(lights),
        attention=tuple(attention),
        sections=tuple(sections),
    )
