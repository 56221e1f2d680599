"""Policies on a regression's fairness: rules on regression metrics, TOML files, exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditkit.cli import main
from auditkit.inputs.context import AuditConfig, AuditContext, Predictions, RegressionPredictions
from auditkit.policy import Policy, check
from auditkit.policy.verdict import result_task
from auditkit.result.json_io import write_json
from auditkit.result.records import AuditResult, MetricValue, SectionResult
from auditkit.sections.fairness import FairnessSection

EMPTY = Predictions(np.empty(0, int), np.empty(0, int), None, (), None)


@pytest.fixture(scope="module")
def result() -> AuditResult:
    """A regression audit: women under-predicted by 3 hours; one race group too small."""
    rng = np.random.default_rng(0)
    n = 3000
    sex = rng.choice(["F", "M"], n, p=[0.4, 0.6])
    race = rng.choice(["A", "B", "Z"], n, p=[0.6, 0.39, 0.01])
    y = rng.gamma(8.0, 5.0, n)
    pred = y + rng.normal(0, 4, n) + np.where(sex == "F", -3.0, 0.0)
    pred += np.where(race == "Z", 40.0, 0.0)  # a huge gap in a group too small to judge
    ctx = AuditContext(
        config=AuditConfig(sections=("fairness",), n_boot=100, options={"n_permutations": 99}),
        predictions=EMPTY,
        regression=RegressionPredictions(y, pred, target="hours-per-week", unit="hours"),
        sensitive=pd.DataFrame({"sex": sex, "race": race}),
    )
    sec = FairnessSection().run(ctx)
    return AuditResult("1.0", "0", "2024-01-01T00:00:00Z", {}, {"task": "regression"},
                       {"task": "regression", "rows": n}, (sec,))  # fmt: skip


def toml(tmp_path: Path, *rules: dict[str, Any]) -> Path:
    lines = []
    for r in rules:
        lines.append("[[rule]]")
        for k, v in r.items():
            lines.append(f"{k} = {v!r}".replace("'", '"') if not isinstance(v, bool)
                         else f"{k} = {str(v).lower()}")  # fmt: skip
    p = tmp_path / "policy.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


def rule(metric: str, op: str, threshold: float, **kw: Any) -> dict[str, Any]:
    return {"section": "fairness", "metric": metric, "op": op, "threshold": threshold, **kw}


def test_rules_on_regression_metrics_from_toml(result: AuditResult, tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        rule("mean_absolute_error_ratio", ">=", 0.8, feature="sex", id="mae-ratio"),
        rule("mean_error_difference", "<=", 2.0, feature="sex", id="bias-gap"),
        rule("worst_group_mean_absolute_error", "<=", 10.0, feature="race", id="worst"),
        rule("prediction_ks_gap", "<=", 0.5, feature="sex", id="ks"),
        rule("mean_error_at_equal_target_difference", ">=", -2.0, feature="sex",
             method="to_reference", id="equal-target"),
    )  # fmt: skip
    verdict = check(result, Policy.from_toml(path))
    by = {c.id: c for c in verdict.checks}
    assert by["mae-ratio"].passed and by["worst"].passed and by["ks"].passed
    # the 3-hour bias of women fails both gap rules, and the message names the groups
    gap = by["bias-gap"]
    assert not gap.passed and gap.actual == pytest.approx(3.0, abs=0.6)
    assert "group 'M'" in gap.message and "group 'F'" in gap.message
    assert not by["equal-target"].passed and "sex = F" in by["equal-target"].message
    assert not verdict.passed
    # the worst group is among those large enough to judge: the too-small group Z does not count
    worst = [m for m in result.metrics if m.name == "worst_group_mean_absolute_error"
             and m.feature == ("race",)][0]  # fmt: skip
    assert "Z" not in (worst.reason or "") and worst.value < 10


def test_small_groups_drive_no_verdict_unless_asked(result: AuditResult) -> None:
    r = rule("mean_error_difference", "<=", 2.0, feature="race")
    c = check(result, Policy.from_dict({"rule": [r]})).checks[0]
    assert c.passed and "left out: 'Z'" in c.message  # judged on A and B
    c2 = check(result, Policy.from_dict({"rule": [{**r, "include_small_groups": True}]})).checks[0]
    assert not c2.passed and c2.actual > 30


def test_a_classification_rule_on_a_regression_fails_naming_the_rule(
    result: AuditResult,
) -> None:
    pol = Policy.from_dict({"rule": [
        rule("demographic_parity_ratio", ">=", 0.8, feature="sex", id="four-fifths"),
        {"section": "performance", "metric": "accuracy", "op": ">=", "threshold": 0.9,
         "id": "acc"},
    ]})  # fmt: skip
    verdict = check(result, pol)
    assert not verdict.passed
    for c in verdict.checks:
        assert not c.passed and c.actual is None
        assert f"Rule {c.id!r}" in c.message and "classification metric" in c.message
        assert "regression" in c.message and "mean_absolute_error_ratio" in c.message
    # also when the rule would match nothing at all for another reason (a warning-level rule)
    warn = Policy.from_dict({"rule": [rule("equalized_odds_difference", "<=", 0.1,
                                           severity="warning")]})  # fmt: skip
    v = check(result, warn)
    assert v.passed and not v.checks[0].passed  # a warning is reported, not a silent pass


def test_a_regression_rule_on_a_classification_fails_naming_the_rule() -> None:
    cls = AuditResult("1.0", "0", "2024-01-01T00:00:00Z", {}, {}, {}, (SectionResult(
        "fairness", "ok", metrics=(MetricValue("fairness", "demographic_parity_ratio", 0.9,
                                               feature=("sex",), method="between_groups"),),
        info={"task": "binary"}),))  # fmt: skip
    assert result_task(cls) == "classification"
    me = rule("mean_error_difference", "<=", 2.0, feature="sex", id="me")
    c = check(cls, Policy.from_dict({"rule": [me]})).checks[0]
    assert not c.passed and "Rule 'me'" in c.message and "is a regression metric" in c.message
    assert "demographic_parity_ratio" in c.message


def test_exit_codes_of_auditkit_check(result: AuditResult, tmp_path: Path) -> None:
    audit = write_json(result, tmp_path / "audit.json")
    ok = toml(tmp_path, rule("mean_absolute_error_ratio", ">=", 0.8, feature="sex"))
    assert main(["check", str(audit), "--policy", str(ok)]) == 0
    bad = toml(tmp_path, rule("mean_error_difference", "<=", 1.0, feature="sex"))
    assert main(["check", str(audit), "--policy", str(bad)]) == 1
    wrong = toml(tmp_path, rule("selection_rate_difference", "<=", 0.1, feature="sex"))
    assert main(["check", str(audit), "--policy", str(wrong)]) == 1
