"""The fairness trade-off: every threshold equals Fairlearn, the group search is exact, the
operating point is the section's own, and group thresholds beat one threshold on a planted shift.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from typing import Any

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference as fl_dpd
from fairlearn.metrics import equalized_odds_difference as fl_eod
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from auditkit.sections._tradeoff import (
    CONSTRAINTS,
    OBJECTIVES,
    candidate_thresholds,
    cross_fitted_front,
    decide,
    fit_group_thresholds,
    measure,
    threshold_curve,
)
from auditkit.testing import make_context


def _case(rng: np.random.Generator, n: int, n_groups: int, decimals: int) -> tuple:
    g = np.unique(rng.integers(0, n_groups, n), return_inverse=True)[1]
    s = np.round(rng.random(n), decimals)
    y = (rng.random(n) < s).astype(np.int64)
    return y, s, g


def _fairlearn(y: np.ndarray, p: np.ndarray, g: np.ndarray, w: np.ndarray | None) -> tuple:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (
            accuracy_score(y, p, sample_weight=w),
            fl_dpd(y, p, sensitive_features=g, sample_weight=w),
            fl_eod(y, p, sensitive_features=g, sample_weight=w),
        )


@pytest.mark.parametrize("seed", range(6))
def test_every_threshold_equals_fairlearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, s, g = _case(rng, int(rng.integers(30, 200)), int(rng.integers(2, 5)), 1)
    w = rng.random(len(y)) * 3 if seed % 2 else None
    c = threshold_curve(y, s, g, w)
    assert c.thresholds[0] == np.inf and np.all(np.diff(c.thresholds[1:]) < 0)
    assert len(c.thresholds) == len(np.unique(s)) + 1  # every distinct score, and nobody
    for k, t in enumerate(c.thresholds):
        acc, dp, eo = _fairlearn(y, (s >= t).astype(int), g, w)
        assert c.accuracy[k] == pytest.approx(acc, abs=1e-12)
        assert c.demographic_parity_difference[k] == pytest.approx(dp, abs=1e-12)
        assert c.equalized_odds_difference[k] == pytest.approx(eo, abs=1e-12)


def test_a_group_without_positives_has_a_true_positive_rate_of_zero_as_in_fairlearn() -> None:
    y = np.array([0, 0, 0, 1, 0, 1, 1])
    s = np.array([0.2, 0.7, 0.9, 0.6, 0.1, 0.8, 0.4])
    g = np.array([0, 0, 0, 1, 1, 1, 1])
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 2.0])
    c = threshold_curve(y, s, g, w)
    for k, t in enumerate(c.thresholds):
        p = (s >= t).astype(int)
        assert measure(y, p, g, w) == pytest.approx(_fairlearn(y, p, g, w), abs=1e-12)
        assert c.equalized_odds_difference[k] == pytest.approx(_fairlearn(y, p, g, w)[2])


def test_many_distinct_scores_are_spread_over_their_ranks_and_stay_exact() -> None:
    rng = np.random.default_rng(3)
    y, s, g = _case(rng, 3000, 3, 12)
    thr = candidate_thresholds(s, 101)
    assert len(thr) == 101 and thr[0] == s.max() and thr[-1] == s.min()
    c = threshold_curve(y, s, g, max_thresholds=101)
    for k in (1, 50, 101):
        acc, dp, eo = _fairlearn(y, (s >= c.thresholds[k]).astype(int), g, None)
        assert (c.accuracy[k], c.demographic_parity_difference[k]) == pytest.approx((acc, dp))
        assert c.equalized_odds_difference[k] == pytest.approx(eo)


@pytest.mark.parametrize("seed", range(4))
def test_group_thresholds_are_the_exact_optimum(seed: int) -> None:
    """Against every combination of group thresholds (brute force), weights included."""
    rng = np.random.default_rng(100 + seed)
    y, s, g = _case(rng, 36, 2 + seed % 2, 1)
    w = rng.random(len(y)) + 0.2
    cands = [np.r_[np.inf, np.unique(s[g == k])] for k in range(g.max() + 1)]
    decisions = [decide(s, g, np.array(c)) for c in itertools.product(*cands)]
    measured = [measure(y, d, g, w) for d in decisions]
    for constraint, objective, tol in itertools.product(CONSTRAINTS, OBJECTIVES, (0.0, 0.1, 0.3)):
        fit = fit_group_thresholds(
            y, s, g, w, constraint=constraint, objective=objective, tolerance=tol
        )
        best = -1.0
        for d, m in zip(decisions, measured):
            if (m[1] if constraint == "demographic_parity" else m[2]) <= tol + 1e-12:
                f = accuracy_score if objective == "accuracy_score" else balanced_accuracy_score
                best = max(best, f(y, d, sample_weight=w))
        assert fit.fit_objective == pytest.approx(best, abs=1e-12), (constraint, objective, tol)
        got = measure(y, decide(s, g, fit.thresholds), g, w)
        assert (got[1] if constraint == "demographic_parity" else got[2]) <= tol + 1e-12


def test_no_constraint_gives_each_group_its_most_accurate_threshold() -> None:
    rng = np.random.default_rng(7)
    y, s, g = _case(rng, 400, 3, 2)
    fit = fit_group_thresholds(y, s, g, tolerance=None)
    for k in range(3):
        m = g == k
        curve = threshold_curve(y[m], s[m], np.zeros(m.sum(), np.int64))
        got = np.mean((s[m] >= fit.thresholds[k]) == (y[m] == 1))
        assert got == pytest.approx(curve.accuracy.max(), abs=1e-12)


def _shifted(seed: int, n: int = 4000) -> tuple:
    """Equal base rates; the model under-scores group 1 by 0.25 (a planted score shift)."""
    rng = np.random.default_rng(seed)
    g = (rng.random(n) < 0.4).astype(np.int64)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(np.int64)
    s = np.clip(p - 0.25 * g, 0, 1)
    return y, s, g


def test_planted_shift_group_thresholds_dominate_one_threshold_at_low_disparity() -> None:
    """Simulation with known truth: group thresholds (held out) beat every single threshold."""
    for seed in range(3):
        y, s, g = _shifted(seed)
        half = np.random.default_rng(seed).permutation(len(y))
        folds = (np.sort(half[: len(y) // 2]), np.sort(half[len(y) // 2 :]))
        curve = threshold_curve(y, s, g)  # every common threshold, measured on all rows
        for constraint in CONSTRAINTS:
            front = cross_fitted_front(y, s, g, folds, constraint=constraint)["group_thresholds"]
            for level in (0.05, 0.1):
                ok = curve.disparity(constraint) <= level
                best_single = curve.accuracy[ok].max()
                held_out = max(p.accuracy for p in front if p.disparity <= level)
                # the oracle-free group rule beats the best single threshold chosen on all rows
                assert held_out > best_single + 0.03, (seed, constraint, level)
            # and it reaches the Bayes accuracy of this design (0.75) within sampling error
            assert max(p.accuracy for p in front) == pytest.approx(0.75, abs=0.03)


def test_no_shift_no_gain() -> None:
    """Without a shift, group thresholds do not buy accuracy over the best common one."""
    rng = np.random.default_rng(11)
    n = 6000
    g = (rng.random(n) < 0.5).astype(np.int64)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(np.int64)
    half = rng.permutation(n)
    folds = (np.sort(half[: n // 2]), np.sort(half[n // 2 :]))
    front = cross_fitted_front(y, p, g, folds)["group_thresholds"]
    best = threshold_curve(y, p, g).accuracy.max()
    assert max(q.accuracy for q in front) <= best + 0.01


def _score(ctx: Any) -> np.ndarray:
    s = ctx.predictions.y_score
    assert s is not None
    return np.asarray(s)


def _weighted_ctx(seed: int = 0):  # type: ignore[no-untyped-def]
    ctx = make_context(n=500, seed=seed, n_boot=0)
    w = np.random.default_rng(seed).random(len(ctx.predictions.y_true)) * 2 + 0.1
    preds = dataclasses.replace(ctx.predictions, sample_weight=w)
    return dataclasses.replace(ctx, predictions=preds, cache={})


@pytest.mark.parametrize("weighted", [False, True])
def test_operating_point_equals_the_sections_own_accuracy_and_disparity(weighted: bool) -> None:
    from auditkit.sections._mitigation import what_if
    from auditkit.sections.fairness import FairnessSection

    ctx = _weighted_ctx() if weighted else make_context(n=500, n_boot=0)
    section = FairnessSection().run(ctx)
    p = ctx.predictions
    feats = tuple(str(c) for c in ctx.sensitive.columns)
    y01 = (p.y_true == 1).astype(np.int64)
    p01 = (p.y_pred == 1).astype(np.int64)
    records, findings, tables, charts, info = what_if(ctx, y01, p01, _score(ctx), feats)

    def own(name: str) -> float:
        (m,) = [m for m in section.metrics if m.name == name and m.feature in (None, feats)
                and m.group is None and m.method in (None, "between_groups")
                and m.agg in (None, "worst_case") and m.label is None]  # fmt: skip
        assert m.value is not None
        return m.value

    for c, dname in (("demographic_parity", "demographic_parity_difference"),
                     ("equalized_odds", "equalized_odds_difference")):  # fmt: skip
        today = {m.name: m.value for m in records if m.method == "today" and m.label == c}
        assert today["tradeoff_accuracy"] == pytest.approx(own("accuracy"), abs=1e-12)
        assert today["tradeoff_disparity"] == pytest.approx(own(dname), abs=1e-12)
        (chart,) = [ch for ch in charts if ch.name == f"tradeoff_{c}"]
        dot = chart.data["series"][-1]
        assert dot["x"] == [today["tradeoff_disparity"]] and dot["y"] == [
            today["tradeoff_accuracy"]
        ]
    assert info["tradeoff"]["status"] == "ok" and info["tradeoff"]["weighted"] is weighted
    # the what-if's own records come first, unchanged
    assert [m.name for m in records[:8]] == [m.name for m in section.metrics
                                             if m.name.startswith("mitigation_")]  # fmt: skip
    assert [m.value for m in records[:8]] == [m.value for m in section.metrics
                                              if m.name.startswith("mitigation_")]  # fmt: skip


def test_records_table_chart_and_findings_render() -> None:
    from auditkit.report import render_html, render_markdown
    from auditkit.result.json_io import validate_dict
    from auditkit.result.records import SectionResult
    from auditkit.sections._mitigation import what_if

    ctx = make_context(n=400, n_boot=0)
    p = ctx.predictions
    feats = tuple(str(c) for c in ctx.sensitive.columns)
    out = what_if(
        ctx, (p.y_true == 1).astype(int), (p.y_pred == 1).astype(int), _score(ctx), feats
    )
    records, findings, tables, charts, info = out
    trade = [m for m in records if m.name.startswith("tradeoff_")]
    assert {(m.label, m.method) for m in trade} == {
        (c, m) for c in CONSTRAINTS for m in ("today", "single_threshold", "group_thresholds")
    }
    assert all(m.feature == feats and m.n == len(p.y_true) for m in trade)
    (table,) = [t for t in tables if t.name == "tradeoff"]
    assert {r[1] for r in table.rows} == {"single_threshold", "group_thresholds"}
    assert all(0 <= r[4] <= 1 and 0 <= r[5] <= 1 for r in table.rows)
    tf = [f for f in findings if f.metric == "fairness.tradeoff_accuracy"]
    assert len(tf) == 2 and all(f.severity == "info" for f in tf)
    assert all(("Lowering" in f.text or "No group-specific" in f.text) for f in tf)
    assert all(ch.kind == "line" and len(ch.data["series"]) == 3 for ch in charts)
    # a result carrying them validates and renders (the line chart kind draws them)
    import auditkit

    res = auditkit.audit(ctx.model, ctx.X, p.y_true, sensitive_features=ctx.sensitive,
                         sections=["fairness"], n_boot=0,
                         options={"n_permutations": 10, "mitigation": False})  # fmt: skip
    fair = res.section("fairness")
    assert fair is not None
    fair2 = SectionResult(**{**fair.__dict__, "metrics": (*fair.metrics, *records),
                             "tables": (*fair.tables, *tables), "charts": (*fair.charts, *charts),
                             "findings": (*fair.findings, *findings)})  # fmt: skip
    res2 = dataclasses.replace(res, sections=(fair2,))
    validate_dict(res2.to_dict())
    html = render_html(res2)
    assert 'data-chart="tradeoff_demographic_parity"' in html
    assert "today: the model" in html
    assert "Trade-off" in render_markdown(res2)


def test_skipped_when_a_half_has_one_class() -> None:
    from auditkit.sections._tradeoff_results import tradeoff_results

    ctx = make_context(n=200, n_boot=0)
    p = ctx.predictions
    y = np.zeros(len(p.y_true), np.int64)
    y[0] = 1
    feats = tuple(str(c) for c in ctx.sensitive.columns)
    out = tradeoff_results(ctx, y, (p.y_pred == 1).astype(int), _score(ctx), feats)
    assert out[:4] == ([], [], [], []) and out[4]["status"] == "skipped"
    assert "single class" in out[4]["reason"]
