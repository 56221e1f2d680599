"""auditkit diff: matching records, moves against intervals, policy regressions, safe output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _report_fixtures import HOSTILE, rich_result

from auditkit.cli import main
from auditkit.policy import Policy
from auditkit.report import AuditResult, MetricValue, SectionResult, to_json
from auditkit.report._diff import diff_html, diff_markdown, diff_results


def result(*metrics: MetricValue, policy: dict[str, Any] | None = None) -> AuditResult:
    sections = tuple(
        SectionResult(name, "ok", metrics=tuple(m for m in metrics if m.section == name))
        for name in dict.fromkeys(m.section for m in metrics)
    )
    run = {"ci_level": 0.95}
    return AuditResult("1.0", "0.0.test", "2024-01-01T00:00:00Z", run, {"name": "m"},
                       {"name": "d", "sha256": "0"}, sections, policy=policy or {})  # fmt: skip


def acc(v: float | None, ci: tuple[float, float] | None = None, **kw: Any) -> MetricValue:
    return MetricValue("performance", "accuracy", v, ci=ci, n=100, **kw)


@pytest.mark.parametrize(
    "old,old_ci,new,new_ci,beyond,n_out,o_out",
    [
        (0.90, (0.85, 0.94), 0.80, (0.74, 0.86), True, True, True),  # apart
        (0.90, (0.85, 0.94), 0.86, (0.80, 0.91), False, False, False),  # overlapping, inside
        (0.90, (0.88, 0.92), 0.86, (0.80, 0.91), False, True, False),  # outside one only
        (0.90, None, 0.80, None, None, None, None),  # no intervals
        (0.90, (0.88, 0.92), 0.80, None, True, True, None),  # one interval decides
        (0.90, None, 0.89, (0.85, 0.93), False, None, False),
    ],
)
def test_move_against_intervals(
    old: float, old_ci: Any, new: float, new_ci: Any, beyond: Any, n_out: Any, o_out: Any
) -> None:
    d = diff_results(result(acc(old, old_ci)), result(acc(new, new_ci)))
    (m,) = d.moves
    assert m.status == "moved" and m.delta == pytest.approx(new - old)
    assert (m.beyond_intervals, m.new_outside_old, m.old_outside_new) == (beyond, n_out, o_out)
    assert m.better is (new > old)  # accuracy: higher is better
    assert d.beyond == ((m,) if beyond else ())


def test_direction_of_lower_is_better_metrics() -> None:
    old = MetricValue("privacy", "membership_auc", 0.6, attack="loss")
    new = MetricValue("privacy", "membership_auc", 0.55, attack="loss")
    (m,) = diff_results(result(old), result(new)).moves
    assert m.better is True
    sel = [
        MetricValue("fairness", "selection_rate", v, feature="sex", group="F") for v in (0.2, 0.3)
    ]
    (m,) = diff_results(result(sel[0]), result(sel[1])).moves
    assert m.better is None  # descriptive: neither better nor worse


def test_records_match_on_every_key_field() -> None:
    base = dict(section="privacy", name="membership_auc")
    variants = [
        MetricValue(**base, value=0.5, attack="loss"),
        MetricValue(**base, value=0.5, attack="reference"),
        MetricValue(**base, value=0.5, attack="loss", feature="sex", group="F"),
        MetricValue(**base, value=0.5, attack="loss", feature="sex", group="M"),
        MetricValue(**base, value=0.5, attack="loss", feature=["sex", "race"], group=["F", "B"]),
        MetricValue(**base, value=0.5, fold=0),
        MetricValue(**base, value=0.5, fold=1),
        MetricValue(**base, value=0.5, label="1"),
        MetricValue(**base, value=0.5, method="x"),
        MetricValue(**base, value=0.5, input_feature="age"),
    ]
    moved = [MetricValue(**{**v.__dict__, "value": 0.5 + 0.01 * (i + 1)})
             for i, v in enumerate(variants)]  # fmt: skip
    d = diff_results(result(*variants), result(*moved))
    assert d.count("moved") == len(variants) and d.count("added") == d.count("removed") == 0
    for m in d.moves:
        i = next(i for i, v in enumerate(variants)
                 if (v.feature, v.group, v.attack, v.fold, v.label, v.method, v.input_feature)
                 == (m.field("feature"), m.field("group"), m.field("attack"), m.field("fold"),
                     m.field("label"), m.field("method"), m.field("input_feature")))  # fmt: skip
        assert m.delta == pytest.approx(0.01 * (i + 1))


def test_added_removed_undefined_unchanged_and_duplicates() -> None:
    old = result(
        acc(0.9),
        acc(0.8, label="x"),
        MetricValue("performance", "roc_auc", 0.7),
        MetricValue("performance", "log_loss", None),
        acc(0.5, fold=1),
        acc(0.6, fold=1),
    )
    new = result(
        acc(0.9),
        acc(None, label="x"),
        MetricValue("performance", "brier_score", 0.1),
        MetricValue("performance", "log_loss", None),
        acc(0.5, fold=1),
        acc(0.7, fold=1),
    )
    d = diff_results(old, new)
    by = {(m.field("name"), m.field("label"), m.key[-1], m.field("fold")): m for m in d.moves}
    assert by[("accuracy", None, 0, None)].status == "unchanged"
    assert by[("accuracy", "x", 0, None)].status == "undefined"
    assert by[("roc_auc", None, 0, None)].status == "removed"
    assert by[("brier_score", None, 0, None)].status == "added"
    assert by[("log_loss", None, 0, None)].status == "unchanged"
    assert by[("accuracy", None, 0, 1)].status == "unchanged"  # first of two duplicates
    assert by[("accuracy", None, 1, 1)].delta == pytest.approx(0.1)  # second, by order


@pytest.mark.parametrize("seed", range(6))
def test_random_audits_symmetry(seed: int) -> None:
    a, b = rich_result(seed, with_policy=False), rich_result(seed + 100, with_policy=False)
    same = diff_results(a, a)
    assert all(m.status == "unchanged" for m in same.moves)
    ab, ba = diff_results(a, b), diff_results(b, a)
    fwd = {m.key: m for m in ab.moves}
    for m in ba.moves:
        f = fwd[m.key]
        assert f.status == m.status
        if m.status == "moved":
            assert f.delta == pytest.approx(-m.delta)  # type: ignore[operator]
            assert f.beyond_intervals == m.beyond_intervals
            assert (f.new_outside_old, f.old_outside_new) == (m.old_outside_new,
                                                              m.new_outside_old)  # fmt: skip
            lo, hi = f.old_ci or (-np.inf, np.inf)
            assert f.new_outside_old in (None, not (lo <= f.new <= hi))  # type: ignore[operator]
    rows = len(re.findall(r"\n\| [a-z]+\.[a-z_]+ \|", diff_markdown(ab)))
    assert rows == sum(1 for m in ab.moves if m.status != "unchanged")


POLICY = """
[[rule]]
id = "acc"
section = "performance"
metric = "accuracy"
op = ">="
threshold = 0.85

[[rule]]
id = "acc-warn"
section = "performance"
metric = "accuracy"
op = ">="
threshold = 0.95
severity = "warning"
"""


def _write(tmp_path: Path, name: str, res: AuditResult) -> Path:
    p = tmp_path / name
    p.write_text(to_json(res))
    return p


def test_cli_exit_codes_on_policy_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pol = tmp_path / "policy.toml"
    pol.write_text(POLICY)
    good = _write(tmp_path, "good.json", result(acc(0.96, (0.94, 0.98))))
    bad = _write(tmp_path, "bad.json", result(acc(0.80, (0.75, 0.84))))
    assert main(["diff", str(good), str(bad), "--policy", str(pol)]) == 1
    out = capsys.readouterr()
    assert "POLICY REGRESSION" in out.out and "regression: acc:" in out.err
    assert "| acc | " in out.out and "REGRESSION" in out.out
    assert main(["diff", str(bad), str(good), "--policy", str(pol)]) == 0  # fixed, not regressed
    assert "fixed" in capsys.readouterr().out
    assert main(["diff", str(good), str(good), "--policy", str(pol)]) == 0
    # a warning-severity rule that regresses is reported, but is not exit 1
    mid = _write(tmp_path, "mid.json", result(acc(0.90, (0.88, 0.92))))
    assert main(["diff", str(good), str(mid), "--policy", str(pol)]) == 0
    assert "regression (warning only)" in capsys.readouterr().out
    # without --policy: the verdicts stored in the two JSON files are compared
    from auditkit.policy import check

    policy = Policy.from_toml(pol)
    stored = [result(acc(v, ci)) for v, ci in ((0.96, (0.94, 0.98)), (0.8, (0.75, 0.84)))]
    stored = [AuditResult(**{**r.__dict__, "policy": check(r, policy).to_dict()}) for r in stored]
    a, b = _write(tmp_path, "a.json", stored[0]), _write(tmp_path, "b.json", stored[1])
    assert main(["diff", str(a), str(b)]) == 1
    assert "verdicts stored" in capsys.readouterr().out


def test_cli_outputs_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", rich_result(0, with_policy=False))
    b = _write(tmp_path, "b.json", rich_result(1, with_policy=False))
    assert (
        main(["diff", str(a), str(b), "--format", "html", "--out", str(tmp_path / "d.html")]) == 0
    )
    html = (tmp_path / "d.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Moves larger than the intervals" in html
    assert main(["diff", str(a), str(b), "--out", str(tmp_path / "d.md")]) == 0
    assert (tmp_path / "d.md").read_text().startswith("# Audit diff: a.json → b.json")
    capsys.readouterr()
    assert main(["diff", str(a), str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["diff", str(a), str(b), "--format", "pdf"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\nop = '=>'\n")
    assert main(["diff", str(a), str(b), "--policy", str(bad)]) == 2
    assert main(["diff", str(a), str(b), "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("hostile", HOSTILE)
def test_diff_reports_escape_hostile_strings(hostile: str) -> None:
    a = rich_result(0, text=hostile, feature="f" + hostile, groups=(hostile, "b" + hostile, "c"))
    b = rich_result(1, text=hostile, feature="f" + hostile, groups=(hostile, "b" + hostile, "c"))
    d = diff_results(a, b, old_name=hostile, new_name=hostile)
    html, md = diff_html(d), diff_markdown(d)
    if re.search(r"[<>\"]", hostile) and hostile != "</td>":
        assert hostile not in html
    assert html.count("</td>") == len(re.findall(r"<td[ >]", html))
    assert "<script" not in html.lower() and "<" not in md and ">" not in md.replace("→", "")
    assert re.search(r"(?<!\\)\[", md) is None
    json.dumps([m.key for m in d.moves])  # keys stay plain data


def test_signed_to_reference_moves_read_the_harmful_direction() -> None:
    from auditkit.report import AuditResult, MetricValue, SectionResult
    from auditkit.report._diff import diff_results

    def res(name: str, v: float) -> AuditResult:
        m = MetricValue("fairness", name, v, feature="race", group="X", method="to_reference")
        return AuditResult("1.0", "0", "t", {}, {}, {}, (SectionResult("fairness", "ok",
                           metrics=(m,)),))  # fmt: skip

    # FPR gap to the reference from +0.05 to -0.02: the group is no longer over-flagged
    assert (
        diff_results(
            res("false_positive_rate_difference", 0.05),
            res("false_positive_rate_difference", -0.02),
        )
        .moves[0]
        .better
        is True
    )
    # TPR gap from -0.05 to -0.15: the group's qualified people are found less often
    assert (
        diff_results(
            res("true_positive_rate_difference", -0.05),
            res("true_positive_rate_difference", -0.15),
        )
        .moves[0]
        .better
        is False
    )
    # selection-rate gap from -0.2 to +0.1: closer to parity on a descriptive metric
    assert (
        diff_results(res("selection_rate_difference", -0.2), res("selection_rate_difference", 0.1))
        .moves[0]
        .better
        is True
    )
