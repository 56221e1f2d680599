"""Policies: the TOML format, every operator, matching rules to records, JUnit XML."""

from __future__ import annotations

import operator
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import rich_result
from hypothesis import given
from hypothesis import strategies as st

import auditkit
from auditkit.exceptions import PolicyError
from auditkit.policy import OPS, Policy, PolicyVerdict, check, junit_xml
from auditkit.report import AuditResult, MetricValue, SectionResult
from auditkit.result.json_io import validate_dict

PY_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
          "==": operator.eq}  # fmt: skip


def result_with(*metrics: MetricValue, sections: tuple[SectionResult, ...] = ()) -> AuditResult:
    by: dict[str, list[MetricValue]] = {}
    for m in metrics:
        by.setdefault(m.section, []).append(m)
    secs = tuple(SectionResult(name, "ok", metrics=tuple(ms)) for name, ms in by.items())
    return AuditResult("1.0", "0.0.test", "2024-01-01T00:00:00Z", {}, {}, {}, secs + sections)


def rule(**kw: Any) -> dict[str, Any]:
    base = {"section": "performance", "metric": "accuracy", "op": ">=", "threshold": 0.5}
    base.update(kw)
    return base


def one_check(res: AuditResult, **kw: Any) -> Any:
    verdict = check(res, Policy.from_dict({"rule": [rule(**kw)]}))
    assert len(verdict.checks) == 1
    return verdict.checks[0]


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ---------------------------------------------------------------------------- operators
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("value,threshold", [(0.7, 0.8), (0.8, 0.8), (0.9, 0.8), (0.0, 0.0)])
def test_every_operator(op: str, value: float, threshold: float) -> None:
    res = result_with(MetricValue("performance", "accuracy", value))
    c = one_check(res, op=op, threshold=threshold)
    assert c.passed is PY_OPS[op](value, threshold)
    assert c.status == ("passed" if c.passed else "failed")
    assert c.actual == value and c.threshold == threshold and c.op == op
    assert "performance.accuracy" in c.message


@given(
    st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(sorted(OPS)),
)  # fmt: skip
def test_operator_property(value: float, threshold: float, op: str) -> None:
    res = result_with(MetricValue("performance", "accuracy", value))
    assert one_check(res, op=op, threshold=threshold).passed is PY_OPS[op](value, threshold)


# ------------------------------------------------------------------------------ matching
def test_absent_metric_fails_and_says_so() -> None:
    res = result_with(MetricValue("performance", "accuracy", 0.9))
    c = one_check(res, metric="acuracy")
    assert not c.passed and c.actual is None
    assert "absent" in c.message and "did you mean 'accuracy'" in c.message
    c = one_check(res, section="privacy", metric="membership_auc", op="<=", threshold=0.6)
    assert not c.passed and "no section 'privacy'" in c.message


def test_metric_of_a_skipped_section_fails_with_the_reason() -> None:
    res = result_with(
        MetricValue("performance", "accuracy", 0.9),
        sections=(SectionResult("privacy", "skipped", reason="needs training data"),),
    )
    c = one_check(res, section="privacy", metric="membership_auc", op="<=", threshold=0.6)
    assert not c.passed and "skipped" in c.message and "needs training data" in c.message


def test_undefined_value_fails_with_its_reason() -> None:
    res = result_with(MetricValue("fairness", "selection_rate", None, feature="sex",
                                  group="Other", n=0, reason="the group is empty"))  # fmt: skip
    c = one_check(res, section="fairness", metric="selection_rate", feature="sex",
                  group="Other", threshold=0.1)  # fmt: skip
    assert not c.passed and c.actual is None
    assert "undefined" in c.message and "the group is empty" in c.message


def test_feature_group_and_method_select_the_record() -> None:
    res = result_with(
        MetricValue("fairness", "selection_rate", 0.3, feature="sex", group="Female"),
        MetricValue("fairness", "selection_rate", 0.5, feature="sex", group="Male"),
        MetricValue("fairness", "selection_rate", 0.4),
        MetricValue(
            "fairness", "selection_rate", 0.2, feature=["sex", "race"], group=["Female", "Black"]
        ),  # fmt: skip
        MetricValue(
            "fairness", "demographic_parity_ratio", 0.6, feature="sex", method="between_groups"
        ),  # fmt: skip
        MetricValue(
            "fairness", "demographic_parity_ratio", 0.75, feature="sex", method="to_overall"
        ),  # fmt: skip
        MetricValue(
            "fairness", "demographic_parity_ratio", 0.9, feature="race", method="between_groups"
        ),  # fmt: skip
    )
    fair = {"section": "fairness"}
    assert one_check(res, **fair, metric="selection_rate").actual == 0.4  # whole population
    assert one_check(res, **fair, metric="selection_rate", feature="sex",
                     group="Female").actual == 0.3  # fmt: skip
    assert one_check(res, **fair, metric="selection_rate", feature=["sex", "race"],
                     group=["Female", "Black"]).actual == 0.2  # fmt: skip
    dpr = {**fair, "metric": "demographic_parity_ratio", "threshold": 0.8}
    c = one_check(res, **dpr, feature="sex")
    assert c.actual == 0.6 and not c.passed  # between_groups by default
    assert one_check(res, **dpr, feature="sex", method="to_overall").actual == 0.75
    assert one_check(res, **dpr, feature="race").passed
    c = one_check(res, **dpr)  # no feature: the whole population, which has none
    assert not c.passed and "absent for the whole population" in c.message
    assert "race" in c.message and "sex" in c.message


def test_several_matching_records_must_all_pass() -> None:
    res = result_with(
        MetricValue("performance", "recall", 0.9, label="cat"),
        MetricValue("performance", "recall", 0.6, label="dog"),
    )
    c = one_check(res, metric="recall", threshold=0.8)
    assert not c.passed and c.actual == 0.6 and "dog" in c.message and "1 of 2" in c.message
    assert one_check(res, metric="recall", threshold=0.8, label="cat").passed
    c = one_check(res, metric="recall", threshold=0.5)
    assert c.passed and c.actual == 0.6 and c.n_matched == 2


def test_warning_rules_do_not_fail_the_verdict() -> None:
    res = result_with(MetricValue("performance", "accuracy", 0.6))
    pol = Policy.from_dict({"rule": [rule(threshold=0.9, severity="warning"), rule()]})
    v = check(res, pol)
    assert v.passed and len(v.failed) == 1 and "warning" in v.summary()
    pol = Policy.from_dict({"rule": [rule(threshold=0.9), rule()]})
    assert not check(res, pol).passed


def test_check_accepts_a_dict_and_a_path(tmp_path: Path) -> None:
    res = rich_result(with_policy=False)
    p = write(tmp_path, '[[rule]]\nsection = "performance"\nmetric = "accuracy"\n'
                        'op = ">="\nthreshold = 0.1\n')  # fmt: skip
    a = check(res, p)
    b = check(res.to_dict(), Policy.from_toml(p))
    assert a.passed and a.to_dict() == b.to_dict()


def test_verdict_is_stored_in_a_valid_result() -> None:
    res = rich_result()
    assert res.policy["passed"] in (True, False)
    assert len(res.policy["checks"]) == 3
    validate_dict(res.to_dict())


def test_audit_applies_a_policy(tmp_path: Path) -> None:
    import numpy as np

    p = write(tmp_path, '[[rule]]\nsection = "performance"\nmetric = "nonexistent"\n'
                        'op = ">="\nthreshold = 0.1\n')  # fmt: skip
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    res = auditkit.audit_predictions(y, y, sensitive_features=rng.choice(["a", "b"], 200),
                                     n_boot=10, policy=p)  # fmt: skip
    assert res.policy["passed"] is False and res.policy["source"] == "policy.toml"
    assert "absent" in res.policy["checks"][0]["message"]


def test_lazy_exports() -> None:
    assert auditkit.Policy is Policy and auditkit.check is check


# ------------------------------------------------------------------------- the TOML file
def test_issue_format_reads_exactly(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
[[rule]]
section = "fairness"
metric = "demographic_parity_ratio"
feature = "race"        # optional; a list for an intersection
op = ">="               # >=, >, <=, <, ==
threshold = 0.8

[[rule]]
section = "fairness"
metric = "selection_rate"
feature = ["sex", "race"]
group = ["Female", "Black"]
op = ">"
threshold = 0.1
id = "intersection-floor"
severity = "warning"
description = "Black women are not shut out."
""",
    )
    pol = Policy.from_toml(p)
    assert len(pol.rules) == 2
    r1, r2 = pol.rules
    assert (r1.id, r1.feature, r1.op, r1.threshold, r1.severity) == (
        "rule-1",
        ("race",),
        ">=",
        0.8,
        "error",
    )
    assert (r2.id, r2.feature, r2.group, r2.severity) == (
        "intersection-floor",
        ("sex", "race"),
        ("Female", "Black"),
        "warning",
    )
    assert Policy.from_dict(pol.to_dict()).rules == pol.rules
    assert r1.condition() == "fairness.demographic_parity_ratio[race] >= 0.8"


MALFORMED = [
    ("not toml", "[[rule]\nsection = ", None, "not valid TOML"),
    ("missing key", '[[rule]]\nsection = "fairness"\nmetric = "x"\nop = ">="\n', 1, "threshold"),
    ("unknown op", '[[rule]]\nsection = "a"\nmetric = "x"\nop = "=>"\nthreshold = 1\n', 1, "op"),
    ("string threshold",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = "0.8"\n', 1, "threshold"),
    ("bool threshold",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = true\n', 1, "threshold"),
    ("nan threshold",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = nan\n', 1, "threshold"),
    ("feature type",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = 1\nfeature = 3\n', 1,
     "feature"),
    ("section type", '[[rule]]\nsection = 1\nmetric = "x"\nop = ">="\nthreshold = 1\n', 1,
     "section"),
    ("typo key",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = 1\nfeatures = "s"\n', 1,
     "features"),
    ("group without feature",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = 1\ngroup = "F"\n', 1,
     "group"),
    ("group length",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = 1\nfeature = "s"\n'
     'group = ["F", "B"]\n', 1, "group"),
    ("severity", '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = 1\n'
     'severity = "fatal"\n', 1, "severity"),
    ("second rule",
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = 1\n'
     '[[rule]]\nsection = "a"\nmetric = "x"\nop = ">="\n', 2, "threshold"),
    ("duplicate id",
     '[[rule]]\nid = "r"\nsection = "a"\nmetric = "x"\nop = ">="\nthreshold = 1\n'
     '[[rule]]\nid = "r"\nsection = "a"\nmetric = "y"\nop = ">="\nthreshold = 1\n', 2, "id"),
    ("no rules", 'name = "empty"\n', None, "no [[rule]]"),
    ("rules misspelt", '[[rules]]\nsection = "a"\n', None, "rules"),
]  # fmt: skip


@pytest.mark.parametrize("label,text,rule_no,key", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_name_file_rule_and_key(
    tmp_path: Path, label: str, text: str, rule_no: int | None, key: str
) -> None:
    p = write(tmp_path, text, name="gate.toml")
    with pytest.raises(PolicyError) as info:
        Policy.from_toml(p)
    msg = str(info.value)
    assert "gate.toml" in msg
    if rule_no is not None:
        assert f"rule {rule_no}" in msg
    assert key in msg
    assert isinstance(info.value, ValueError)


def test_unreadable_policy_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        Policy.from_toml(tmp_path / "missing.toml")
    with pytest.raises(PolicyError, match="Cannot read"):
        Policy.from_toml(tmp_path)  # a folder
    p = tmp_path / "latin1.toml"
    p.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(PolicyError, match="latin1.toml"):
        Policy.from_toml(p)


# ----------------------------------------------------------------------------- JUnit XML
def test_junit_has_one_testcase_per_rule() -> None:
    res = rich_result(text="<&>")
    pol = Policy.from_dict({"rule": [
        rule(), rule(threshold=0.99), rule(metric="missing"),
        rule(threshold=0.99, severity="warning"),
        {"section": "fairness", "metric": "selection_rate", "feature": "sex",
         "group": "Other", "op": ">=", "threshold": 0.0},
    ]})  # fmt: skip
    v: PolicyVerdict = check(res, pol)
    root = ET.fromstring(junit_xml(v))
    cases = root.findall(".//testcase")
    assert len(cases) == len(pol.rules)
    assert [c.get("name") for c in cases] == [r.id for r in pol.rules]
    failures = [c for c in cases if c.find("failure") is not None]
    errors = [c for c in v.checks if not c.passed and c.severity == "error"]
    assert len(failures) == len(errors) == int(root.find("testsuite").get("failures"))
    for case, c in zip(cases, v.checks):
        f = case.find("failure")
        if f is not None:
            assert f.get("message") == c.message and f.text == c.message
    assert int(root.get("tests")) == len(pol.rules)


# ------------------------------------------------------- issue 14: groups behind the number
def _race_result(*extra: MetricValue) -> AuditResult:
    """FPR by race: two large groups 0.42 / 0.07 and a group of 11 at 0.95."""
    recs = [
        MetricValue("fairness", "false_positive_rate", 0.42, feature="race", group="X", n=2103),
        MetricValue("fairness", "false_positive_rate", 0.07, feature="race", group="Y", n=3175),
        MetricValue("fairness", "false_positive_rate", 0.95, feature="race", group="Z", n=11,
                    flags=("too_small",), reason="fewer than 30 rows"),
        MetricValue("fairness", "false_positive_rate", 0.25),
        MetricValue("fairness", "false_positive_rate_ratio", 0.07 / 0.95, feature="race",
                    method="between_groups", flags=("small_groups",)),
        MetricValue("fairness", "false_positive_rate_difference", 0.95 - 0.07, feature="race",
                    method="between_groups", flags=("small_groups",)),
        *extra,
    ]  # fmt: skip
    return result_with(*recs)


def test_policy_failure_names_the_two_groups() -> None:
    res = _race_result()
    c = one_check(res, section="fairness", metric="false_positive_rate_ratio", feature="race",
                  op=">=", threshold=0.8)  # fmt: skip
    assert not c.passed
    # judged over the large groups: 0.07 / 0.42, not the small group's 0.07 / 0.95
    assert c.actual == pytest.approx(0.07 / 0.42)
    assert "race: group 'X' 0.42, n=2,103 vs group 'Y' 0.07, n=3,175" in c.message
    assert "is below 0.8" in c.message
    assert "'Z' (n=11)" in c.message and "left out" in c.message


def test_small_groups_drive_no_verdict_unless_the_rule_asks() -> None:
    res = _race_result()
    kw = dict(section="fairness", metric="false_positive_rate_difference", feature="race",
              op="<=", threshold=0.4)  # fmt: skip
    c = one_check(res, **kw)
    assert c.passed and c.actual == pytest.approx(0.35)  # 0.42 - 0.07 over the large groups
    c = one_check(res, include_small_groups=True, **kw)
    assert not c.passed and c.actual == pytest.approx(0.88)
    assert "group 'Z' 0.95, n=11" in c.message  # the small group now named as the extreme
    # a per-group rule on the small group itself is set aside, and says how to judge it
    c = one_check(res, section="fairness", metric="false_positive_rate", feature="race",
                  group="Z", op="<=", threshold=0.5)  # fmt: skip
    assert c.passed and c.actual is None and "include_small_groups" in c.message
    c = one_check(res, section="fairness", metric="false_positive_rate", feature="race",
                  group="Z", op="<=", threshold=0.5, include_small_groups=True)  # fmt: skip
    assert not c.passed and c.actual == 0.95
    with pytest.raises(PolicyError, match="include_small_groups"):
        Policy.from_dict({"rule": [rule(include_small_groups="yes")]})


def test_to_reference_rule_names_the_group_and_the_reference() -> None:
    ref = [
        MetricValue("fairness", "false_positive_rate_difference", 0.35, feature="race",
                    group="X", method="to_reference"),
        MetricValue("fairness", "false_positive_rate_difference", 0.88, feature="race",
                    group="Z", method="to_reference", flags=("too_small",)),
    ]  # fmt: skip
    res = _race_result(*ref)
    c = one_check(res, section="fairness", metric="false_positive_rate_difference",
                  feature="race", method="to_reference", op="<=", threshold=0.1)  # fmt: skip
    assert not c.passed and c.actual == 0.35 and c.n_matched == 2
    assert "group 'X' 0.42, n=2,103 vs reference 'Y' 0.07, n=3,175" in c.message
    assert "1 record(s) of groups too small to judge were set aside" in c.message


def test_agg_mean_records_match_only_rules_that_ask_for_them() -> None:
    eo = dict(section="fairness", metric="equalized_odds_difference", feature="race")
    res = result_with(
        MetricValue("fairness", "equalized_odds_difference", 0.3, feature="race",
                    method="between_groups"),
        MetricValue("fairness", "equalized_odds_difference", 0.12, feature="race",
                    method="between_groups", agg="mean"),
    )  # fmt: skip
    c = one_check(res, op="<=", threshold=0.2, **eo)
    assert not c.passed and c.n_matched == 1 and c.actual == 0.3
    c = one_check(res, op="<=", threshold=0.2, agg="mean", **eo)
    assert c.passed and c.n_matched == 1 and c.actual == 0.12 and "agg mean" in c.message
