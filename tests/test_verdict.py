"""The card's verdict is the worst light it shows, by construction (issue 14, part 5).

Many random results (sections run or skipped, findings of every severity and evidence, records
judged by the default thresholds with and without intervals, p-values and small-group flags,
and sometimes a checked policy) are turned into the card's view; the verdict must equal the
worst of the lights the summary shows, and its text must count those same lights.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import auditkit
from auditkit._core.catalog import DEFAULT_THRESHOLDS
from auditkit.report import AuditResult, Finding, MetricValue, SectionResult, render_html
from auditkit.report._view import build_view, rank_findings
from auditkit.result.lights import AREAS, worst

_SEVERITIES = ("info", "pass", "warn", "fail")
_EVIDENCE = (None, "none", "weak", "moderate", "strong")
_WORDS = {"fail": "red", "warn": "amber", "pass": "green", "info": "neutral"}


def _record(rng: np.random.Generator, t: Any) -> MetricValue:
    value = float(rng.uniform(-0.3, 1.2))
    half = float(rng.uniform(0, 0.3))
    ci = (value - half, value + half) if rng.random() < 0.6 else None
    p = float(rng.uniform(0, 1)) if rng.random() < 0.5 else None
    flags = [(), ("too_small",), ("small_groups",)][int(rng.choice(3, p=[0.7, 0.15, 0.15]))]
    feature = group = method = None
    if t.per_feature:
        feature = (str(rng.choice(["sex", "race"])),)
        method = t.method
        if t.method == "to_reference":
            group = (str(rng.choice(["A", "B", "C"])),)
    return MetricValue(
        t.section, t.metric, None if rng.random() < 0.05 else value, feature=feature,
        group=group, ci=ci, method=method, flags=flags, p_value=p,
        p_adjusted=None if p is None else min(1.0, 3 * p), attack=t.attack,
    )  # fmt: skip


def _random_result(seed: int) -> AuditResult:
    rng = np.random.default_rng(seed)
    sections = []
    for area in AREAS:
        if rng.random() < 0.2:
            continue
        if rng.random() < 0.15:
            sections.append(SectionResult(area, "skipped", reason="not asked"))
            continue
        metrics = [
            _record(rng, t) for t in DEFAULT_THRESHOLDS if t.section == area
            for _ in range(int(rng.integers(0, 3)))
        ]  # fmt: skip
        findings = [
            Finding(
                area, str(rng.choice(_SEVERITIES)),  # type: ignore[arg-type]
                f"finding {k}" + (" about a group too small to judge" if rng.random() < 0.2
                                  else ""),
                evidence=_EVIDENCE[int(rng.integers(0, len(_EVIDENCE)))],
            )
            for k in range(int(rng.integers(0, 5)))
        ]  # fmt: skip
        info = {"four_fifths_threshold": float(rng.choice([0.7, 0.8, 0.9]))}
        sections.append(SectionResult(area, "ok", metrics=tuple(metrics),
                                      findings=tuple(findings), info=info))  # fmt: skip
    policy: dict[str, Any] = {}
    if rng.random() < 0.3:
        checks = [
            {"id": f"r{k}", "metric": "fairness.demographic_parity_ratio", "section": "fairness",
             "name": "demographic_parity_ratio", "op": ">=", "threshold": 0.8,
             "actual": float(rng.uniform(0, 1)),
             "status": str(rng.choice(["passed", "failed"])),
             "severity": str(rng.choice(["error", "warning"])), "message": "m"}
            for k in range(int(rng.integers(1, 4)))
        ]  # fmt: skip
        passed = all(c["status"] == "passed" or c["severity"] == "warning" for c in checks)
        policy = {"passed": passed, "source": "p.toml", "checks": checks}
    return AuditResult("1.0", "0.test", "2024-01-01T00:00:00Z", {"ci_level": 0.95}, {}, {},
                       tuple(sections), policy=policy)  # fmt: skip


def _shown(view: dict[str, Any]) -> tuple[list[str], list[str]]:
    s = view["summary"]
    areas = [a["status"] for a in s["areas"] if a["word"] not in ("NOT RUN", "NO RULE")]
    return areas, [i["status"] for i in s["indicators"]]


@pytest.mark.parametrize("seed", range(300))
def test_verdict_is_the_worst_light_shown(seed: int) -> None:
    res = _random_result(seed)
    view = build_view(res.to_dict())
    areas, indicators = _shown(view)
    verdict = view["summary"]["verdict"]
    assert verdict["status"] == (worst(areas + indicators) if areas + indicators else "info")
    # the text counts exactly the lights shown
    for part, statuses in (("areas", areas), ("indicators", indicators)):
        m = re.search(part + r": ([^;,.]+(?:, [^;,.]+)*)", verdict["text"].lower())
        if not statuses:
            assert m is None
            continue
        assert m is not None, verdict["text"]
        counted = dict((w, int(n)) for n, w in re.findall(r"(\d+) (\w+)", m.group(1)))
        want = {_WORDS[k]: statuses.count(k) for k in _WORDS if statuses.count(k)}
        assert counted == want, (verdict["text"], statuses)
    if res.policy:
        word = {"fail": "FAILED", "warn": "PASSED WITH WARNINGS", "pass": "PASSED"}
        assert verdict["word"] == word[verdict["status"]]
        assert (verdict["status"] == "fail") == (not res.policy["passed"])


@pytest.mark.parametrize("seed", range(40))
def test_attention_list_ranked_by_severity_then_evidence(seed: int) -> None:
    res = _random_result(seed)
    view = build_view(res.to_dict())
    att = view["summary"]["attention"]
    assert all(f["severity"] in ("fail", "warn") and not f["small"] for f in att)
    assert all("too small" not in f["text"] for f in att)
    order = {"fail": 0, "warn": 1}
    ev = {"strong": 0, "moderate": 1, "weak": 2, "none": 3, "": 3}
    keys = [(order[f["severity"]], ev[f["evidence"]]) for f in att]
    assert keys == sorted(keys)
    # stable: ties keep the sections' own order
    every = [f for s in view["sections"] for f in s["findings"]
             if f["severity"] in ("fail", "warn")]  # fmt: skip
    assert att == rank_findings(every)[: len(att)]


def test_rank_is_stable_and_drops_small_group_findings() -> None:
    fs = [
        {"severity": "warn", "evidence": "weak", "text": "a", "small": False},
        {"severity": "fail", "evidence": "", "text": "b", "small": False},
        {"severity": "warn", "evidence": "strong", "text": "c", "small": False},
        {"severity": "fail", "evidence": "strong", "text": "d", "small": True},
        {"severity": "warn", "evidence": "weak", "text": "e", "small": False},
    ]
    assert [f["text"] for f in rank_findings(fs)] == ["b", "c", "a", "e"]


def test_the_card_prints_the_verdict_it_computes() -> None:
    res = _random_result(3)
    html = render_html(res)
    v = build_view(res.to_dict())["summary"]["verdict"]
    assert f"verdict-{v['status']}" in html and v["text"] in html.replace("&#39;", "'")


@pytest.mark.parametrize("seed", range(10))
def test_judge_with_evidence_against_a_direct_reading(seed: int) -> None:
    """Red or amber only beyond the bound, with p below 1 - ci_level, and no small group;
    beyond the bound without that evidence: neutral, with the words."""
    from auditkit.result.lights import judge

    rng = np.random.default_rng(seed)
    for t in DEFAULT_THRESHOLDS:
        up = t.up()
        for _ in range(40):
            v = float(rng.uniform(-0.5, 1.5))
            half = float(rng.uniform(0, 0.3))
            ci = (v - half, v + half) if rng.random() < 0.5 else None
            p = float(rng.uniform(0, 0.2))
            level = float(rng.choice([0.9, 0.95, 0.99]))
            flags = [(), ("too_small",), ("small_groups",)][int(rng.choice(3, p=[0.8, 0.1, 0.1]))]
            status, reason = judge(v, ci, metric=t.metric, pass_at=t.pass_at,
                                   fail_at=t.fail_at, flags=flags, p_value=p, ci_level=level,
                                   up=up)  # fmt: skip
            sign = 1 if up else -1
            beyond = sign * (v - t.pass_at) < 0
            if flags:
                assert status == "info"
            elif not beyond:
                # within the green bound: amber only when a gap is shown (p below 1 - level)
                # and the interval reaches past the bound
                worst_end = None if ci is None else (ci[0] if up else ci[1])
                reaches = worst_end is not None and sign * (worst_end - t.pass_at) < 0
                assert status == ("warn" if reaches and p < 1 - level else "pass")
            elif p >= 1 - level:
                assert status == "info" and "not distinguishable from no gap" in reason
            else:
                bad = sign * (v - t.fail_at) < 0
                assert status == ("fail" if bad else "warn") or (
                    status == "warn" and ci is not None and sign * (
                        (ci[1] if up else ci[0]) - t.fail_at) >= 0)  # fmt: skip


# ---------------------------------------------------------------- the card under known truth
def _tpr_gap_log(seed: int, gap: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = 4000
    g = np.repeat(["A", "B"], n // 2)
    y = rng.integers(0, 2, n)
    tpr = np.where(g == "A", 0.7, 0.7 - gap)
    p = np.where(y == 1, rng.random(n) < tpr, rng.random(n) < 0.2).astype(int)
    return dict(y_true=y, y_pred=p, sensitive_features={"g": g})


def _card_alarm_rates(gap: float, n_logs: int) -> tuple[float, float]:
    """Share of simulated logs whose card shows a red/amber fairness light, and verdict."""
    lights = verdicts = 0
    for seed in range(n_logs):
        res = auditkit.audit_predictions(
            **_tpr_gap_log(seed, gap), sections=["fairness"], n_boot=100, random_state=seed
        )
        view = build_view(res.to_dict())
        inds = view["summary"]["indicators"]
        lights += any(
            str(i["area"]).lower() == "fairness" and i["status"] in ("fail", "warn") for i in inds
        )
        verdicts += view["summary"]["verdict"]["status"] in ("fail", "warn")
    return lights / n_logs, verdicts / n_logs


def test_card_lights_follow_known_truth(n_null: int = 300, n_gap: int = 200) -> None:
    """No disparity: at most 7% of cards raise a red/amber fairness light or verdict; a true
    10-point TPR gap at n=4,000: at least 80% do (measured: 0.7% and 98%)."""
    lights, verdict = _card_alarm_rates(0.0, n_null)
    assert lights <= 0.07 + 1.0 / n_null and verdict <= 0.07 + 1.0 / n_null
    lights, verdict = _card_alarm_rates(0.10, n_gap)
    assert lights >= 0.80 and verdict >= 0.80
