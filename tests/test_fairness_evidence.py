"""Evidence behind the fairness findings: tests, multiplicity, intervals, the story they tell.

Simulations with known truth: under no disparity the card raises (almost) no red or amber
fairness finding and the signed to-reference intervals cover 0 at the nominal rate; with a
true 10-point gap in true positive rate it raises one and the interval covers the gap.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auditkit.exceptions import ParameterError
from auditkit.inputs.context import AuditConfig, AuditContext, Predictions
from auditkit.metrics.evidence import (
    Family,
    benjamini_hochberg,
    evidence_word,
    fisher_exact,
    holm,
    null_successes,
    permutation_pvalue,
    rates_from_successes,
)
from auditkit.result.records import SectionResult
from auditkit.sections.fairness import FairnessSection

DISPARITY_METHODS = ("between_groups", "to_overall", "to_reference")


def _run(
    y: np.ndarray, yp: np.ndarray, sens: dict[str, np.ndarray], *, n_boot: int = 200,
    refs: dict[str, str] | None = None, favourable: int | None = None,
    label_names: tuple[str, ...] | None = None, classes: tuple[str, ...] = ("0", "1"),
    seed: int = 0, score: np.ndarray | None = None, **options: object,
) -> SectionResult:  # fmt: skip
    options.setdefault("n_permutations", 500)
    cfg = AuditConfig(
        sections=("fairness",), n_boot=n_boot, random_state=seed, options=options,
        reference_groups=refs or {},
    )  # fmt: skip
    pred = Predictions(
        y_true=np.asarray(y, dtype=np.int64), y_pred=np.asarray(yp, dtype=np.int64),
        y_proba=None if score is None else np.c_[1 - score, score], classes=classes,
        pos_label=1 if len(classes) == 2 else None, has_scores=score is not None,
        favourable=favourable, label_names=label_names,
    )  # fmt: skip
    ctx = AuditContext(config=cfg, predictions=pred, sensitive=pd.DataFrame(sens))
    return FairnessSection().run(ctx)


def _log(
    rng: np.random.Generator, sizes: dict[str, int], tpr: dict[str, float],
    fpr: dict[str, float], base: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    g = np.concatenate([[k] * v for k, v in sizes.items()])
    y = (rng.random(g.size) < base).astype(np.int64)
    p = np.where(y == 1, [tpr[x] for x in g], [fpr[x] for x in g])
    yp = (rng.random(g.size) < p).astype(np.int64)
    return g, y, yp


# ---------------------------------------------------------------------------- the tests
def test_fisher_exact_equals_scipy() -> None:
    rng = np.random.default_rng(0)
    for hi in (8, 60, 5000):
        n1 = rng.integers(0, hi, 400)
        n2 = rng.integers(0, hi, 400)
        k1 = rng.binomial(n1, rng.random(400))
        k2 = rng.binomial(n2, rng.random(400))
        got = fisher_exact(k1, n1, k2, n2)
        want = [stats.fisher_exact([[a, b - a], [c, d - c]]).pvalue
                for a, b, c, d in zip(k1, n1, k2, n2)]  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert float(fisher_exact(0, 0, 3, 5)) == 1.0


def test_section_fisher_p_values_equal_scipy() -> None:
    rng = np.random.default_rng(1)
    g, y, yp = _log(rng, {"a": 300, "b": 200, "c": 50}, {"a": 0.7, "b": 0.6, "c": 0.5},
                    {"a": 0.3, "b": 0.2, "c": 0.4})  # fmt: skip
    res = _run(y, yp, {"g": g}, refs={"g": "b"})
    ref = g == "b"
    for grp in ("a", "c"):
        m = res.get("false_positive_rate_difference", feature=["g"], group=[grp],
                    method="to_reference")  # fmt: skip
        assert m is not None and m.test == "fisher_exact"
        neg_g, neg_r = (g == grp) & (y == 0), ref & (y == 0)
        table = [[int(yp[neg_g].sum()), int((1 - yp[neg_g]).sum())],
                 [int(yp[neg_r].sum()), int((1 - yp[neg_r]).sum())]]  # fmt: skip
        assert m.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)
        assert m.value == pytest.approx(yp[neg_g].mean() - yp[neg_r].mean(), abs=1e-12)
        r = res.get("false_positive_rate_ratio", feature=["g"], group=[grp], method="to_reference")
        assert r is not None and r.p_value == m.p_value
        assert r.value == pytest.approx(yp[neg_g].mean() / yp[neg_r].mean(), rel=1e-12)


def test_multiplicity_adjustments() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 (m = 4)
    np.testing.assert_allclose(benjamini_hochberg(p)[:4], [0.02, 0.04, 0.04, 0.02], rtol=1e-12)
    np.testing.assert_allclose(holm(p)[:4], [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    assert np.isnan(benjamini_hochberg(p)[4]) and np.isnan(holm(p)[4])
    fam = Family()
    for k, v in zip("abcd", p[:4]):
        fam.add(k, float(v))
    fam.add("a", 0.9)  # the same hypothesis counts once
    assert len(fam) == 4 and fam.adjusted("b") == pytest.approx(0.04)
    assert [evidence_word(x) for x in (0.0005, 0.005, 0.02, 0.05, None)] == [
        "strong", "moderate", "weak", "none", "none",
    ]  # fmt: skip
    assert evidence_word(0.02, alpha=0.01) == "none"


def test_permutation_p_values_are_uniform_under_no_difference() -> None:
    rng = np.random.default_rng(2)
    n_groups = np.array([400, 250, 120, 60])
    rows = n_groups
    ps = []
    for _ in range(400):
        k = rng.binomial(n_groups, 0.3)
        v = rates_from_successes(k, n_groups, rows)
        obs = np.nanmax(v) - np.nanmin(v)
        draws = rates_from_successes(null_successes(k, n_groups, 400, rng), n_groups, rows)
        ps.append(permutation_pvalue(obs, draws.max(axis=1) - draws.min(axis=1)))
    ps_ = np.asarray(ps)
    assert stats.kstest(ps_, "uniform").pvalue > 0.01
    assert np.mean(ps_ < 0.05) <= 0.07
    counts, _ = np.histogram(ps_, bins=5, range=(0, 1))
    assert counts.min() >= 50 and counts.max() <= 110  # 80 expected per bin


def test_fisher_holds_its_false_alarm_rate() -> None:
    rng = np.random.default_rng(3)
    n1, n2 = rng.integers(5, 400, 4000), rng.integers(5, 400, 4000)
    p = fisher_exact(rng.binomial(n1, 0.2), n1, rng.binomial(n2, 0.2), n2)
    assert np.mean(p < 0.05) <= 0.05


def _simulate(n_logs: int, gap: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    alarms = cover = p_alarms = 0
    for i in range(n_logs):
        g, y, yp = _log(rng, {"a": 2000, "b": 2000}, {"a": 0.6, "b": 0.6 + gap},
                        {"a": 0.3, "b": 0.3})  # fmt: skip
        res = _run(y, yp, {"g": g}, n_boot=200, refs={"g": "a"}, seed=i,
                   n_permutations=200)  # fmt: skip
        if any(f.severity in ("fail", "warn") for f in res.findings):
            alarms += 1
        m = res.get("true_positive_rate_difference", feature=["g"], group=["b"],
                    method="to_reference")  # fmt: skip
        assert m is not None and m.ci is not None
        cover += m.ci[0] <= gap <= m.ci[1]
        if gap == 0 and any(
            r.p_adjusted is not None and r.p_adjusted < 0.05
            for r in res.metrics if r.method in DISPARITY_METHODS
        ):  # fmt: skip
            p_alarms += 1
    return {"alarm": alarms / n_logs, "cover": cover / n_logs, "p_alarm": p_alarms / n_logs}


def _check_null(r: dict[str, float]) -> None:
    assert r["alarm"] <= 0.07, r
    assert 0.92 <= r["cover"] <= 0.98, r
    assert r["p_alarm"] <= 0.07, r


def _check_gap(r: dict[str, float]) -> None:
    assert r["alarm"] >= 0.80, r
    assert 0.92 <= r["cover"] <= 0.98, r


def test_simulation_fast() -> None:
    _check_null(_simulate(150, 0.0, seed=10))
    _check_gap(_simulate(150, 0.10, seed=11))


@pytest.mark.slow
def test_simulation_full() -> None:
    _check_null(_simulate(500, 0.0, seed=20))
    _check_gap(_simulate(500, 0.10, seed=21))


def test_false_alarms_hold_where_intervals_reach_the_threshold() -> None:
    """Small logs, where intervals reach the gap threshold: only the evidence holds alarms."""
    rng = np.random.default_rng(12)
    alarms = 0
    n_logs = 150
    for i in range(n_logs):
        g, y, yp = _log(rng, {"a": 150, "b": 120, "c": 90}, dict.fromkeys("abc", 0.6),
                        dict.fromkeys("abc", 0.3))  # fmt: skip
        res = _run(y, yp, {"g": g}, n_boot=100, seed=i, n_permutations=200)
        alarms += any(f.severity in ("fail", "warn") for f in res.findings)
    assert alarms / n_logs <= 0.07


def test_small_group_sits_in_its_note_and_the_large_gap_leads() -> None:
    rng = np.random.default_rng(4)
    sizes = {"A": 3000, "B": 2000, "C": 11}
    g, y, yp = _log(rng, sizes, {"A": 0.6, "B": 0.6, "C": 1.0}, {"A": 0.42, "B": 0.22, "C": 1.0})
    c_rows = g == "C"
    y[c_rows] = np.r_[np.zeros(6), np.ones(5)].astype(np.int64)
    yp[c_rows] = 1
    res = _run(y, yp, {"race": g}, label_names=("did not reoffend", "reoffended"), favourable=0)
    judged = [f for f in res.findings if f.severity in ("fail", "warn")]
    assert judged, [f.text for f in res.findings]
    first = judged[0]
    assert "race = A" in first.text and "race = B" in first.text and "= C" not in first.text
    assert first.evidence == "strong"
    fpr = [f for f in judged if "who did not reoffend" in f.text]
    assert fpr and re.search(
        r"Of the people who did not reoffend, 4\d% of those with race = A were wrongly "
        r"labelled 'reoffended', against 2\d% of those with race = B: \d\.\d times as often "
        r"\(95% CI \d\.\d-\d\.\d\)", fpr[0].text), fpr[0].text  # fmt: skip
    assert not any("= C" in f.text for f in res.findings if f.severity != "info")
    notes = [f for f in res.findings if "race = C" in f.text]
    assert len(notes) == 1 and notes[0].severity == "info" and "too_small" in notes[0].text
    assert res.findings.index(notes[0]) > res.findings.index(first)
    rec = res.get("false_positive_rate_difference", feature=["race"], group=["C"],
                  method="to_reference")  # fmt: skip
    assert rec is not None and "small_groups" in rec.flags and rec.p_value is not None


def test_every_disparity_record_carries_its_evidence() -> None:
    rng = np.random.default_rng(5)
    g, y, yp = _log(rng, {"a": 500, "b": 300, "c": 100}, {"a": 0.7, "b": 0.6, "c": 0.5},
                    {"a": 0.3, "b": 0.2, "c": 0.4})  # fmt: skip
    h = rng.choice(["x", "y"], g.size)
    res = _run(y, yp, {"g": g, "h": h})
    disp = [m for m in res.metrics if m.method in DISPARITY_METHODS]
    assert {m.method for m in disp} == set(DISPARITY_METHODS)
    for m in disp:
        assert m.p_value is not None and m.p_adjusted is not None and m.test, m
        assert 0 <= m.p_value <= m.p_adjusted <= 1
    assert {m.test for m in disp} == {"fisher_exact", "permutation"}
    assert all(
        m.test == "permutation"
        for m in disp
        if m.method != "to_reference" and m.name != "favourable_impact_ratio"
    )
    (ff,) = [m for m in disp if m.name == "favourable_impact_ratio" and m.feature == ("g",)]
    assert ff.test == "fisher_exact" and ff.group is None
    ev = res.info["evidence"]
    assert "Benjamini-Hochberg" in ev["multiple_comparisons"] and ev["family_size"] > 10
    # every non-reference group with rows, every rate; the reference group has none
    refs = res.info["reference_groups"]
    how = res.info["reference_groups_chosen"]
    assert refs["g"] == "a" and how["g"] == "largest group (500 rows)"
    pairs = pd.Series(list(zip(g, h))).value_counts()
    assert refs["g × h"] == " × ".join(pairs.index[0])
    assert how["g × h"] == f"largest group ({pairs.iloc[0]} rows)"
    for feats, ref in (("g", "a"), ("h", refs["h"])):
        tr = {m.group for m in disp if m.method == "to_reference" and m.feature == (feats,)}
        assert (ref,) not in tr and len(tr) == len(set(locals()[feats])) - 1
    names = {m.name for m in disp if m.method == "to_reference"}
    for rate in (
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",  # fmt: skip
        "false_negative_rate",
        "true_negative_rate",
        "accuracy",
        "precision",
    ):
        assert {f"{rate}_difference", f"{rate}_ratio"} <= names


def test_reference_groups_given_and_for_intersections() -> None:
    rng = np.random.default_rng(6)
    g, y, yp = _log(rng, {"A": 400, "B": 200, "C": 150}, dict.fromkeys("ABC", 0.6),
                    dict.fromkeys("ABC", 0.3))  # fmt: skip
    h = rng.choice(["x", "y"], g.size)
    res = _run(y, yp, {"race": g, "sex": h}, refs={"race": "B", "sex": "y"})
    info, how = res.info["reference_groups"], res.info["reference_groups_chosen"]
    assert info["race"] == "B" and how["race"] == "given in reference_groups"
    assert info["race × sex"] == "B × y"
    for grp in ("A", "C"):
        m = res.get("selection_rate_difference", feature=["race"], group=[grp],
                    method="to_reference")  # fmt: skip
        assert m is not None
        want = yp[g == grp].mean() - yp[g == "B"].mean()
        assert m.value == pytest.approx(want, abs=1e-12)
    assert res.get("selection_rate_difference", feature=["race"], group=["B"],
                   method="to_reference") is None  # fmt: skip
    one = _run(y, yp, {"race": g, "sex": h}, refs={"race": "C"})
    assert one.info["reference_groups_chosen"]["race × sex"].startswith("largest group")
    with pytest.raises(ParameterError, match="'race'.*'Z'"):
        _run(y, yp, {"race": g}, refs={"race": "Z"})
    with pytest.raises(ParameterError, match="not a sensitive feature"):
        _run(y, yp, {"race": g}, refs={"age": "old"})
    with pytest.raises(ParameterError, match="n_permutations"):
        _run(y, yp, {"race": g}, n_permutations=0)


def test_multiclass_to_reference_and_evidence() -> None:
    rng = np.random.default_rng(7)
    n = 900
    y = rng.integers(0, 3, n)
    g = rng.choice(["u", "v", "w"], n, p=[0.5, 0.3, 0.2])
    yp = np.where(rng.random(n) < np.where(g == "w", 0.4, 0.8), y, rng.integers(0, 3, n))
    res = _run(y, yp, {"g": g}, classes=("cat", "dog", "owl"))
    m = res.get("accuracy_difference", feature=["g"], group=["w"], method="to_reference")
    assert m is not None and m.test == "fisher_exact"
    assert m.value == pytest.approx(np.mean(yp[g == "w"] == y[g == "w"])
                                    - np.mean(yp[g == "u"] == y[g == "u"]))  # fmt: skip
    per_class = res.get("true_positive_rate_difference", feature=["g"], group=["w"],
                        label="dog", method="to_reference")  # fmt: skip
    assert per_class is not None and per_class.p_value is not None
    lead = [f for f in res.findings if f.severity == "warn"]
    assert lead and "g = w" in lead[0].text and "right for" in lead[0].text
    assert lead[0].evidence in ("strong", "moderate")


def test_label_names_and_favourable_outcome_change_words_and_four_fifths() -> None:
    rng = np.random.default_rng(8)
    g, y, yp = _log(rng, {"A": 1500, "B": 1500}, {"A": 0.8, "B": 0.5},
                    {"A": 0.45, "B": 0.2})  # fmt: skip
    names = ("low risk", "high risk")
    pos = _run(y, yp, {"race": g}, label_names=names)  # favourable: the positive class
    neg = _run(y, yp, {"race": g}, label_names=names, favourable=0, four_fifths_threshold=0.9)
    sr = {k: yp[g == k].mean() for k in "AB"}
    fav_pos = min(sr.values()) / max(sr.values())
    fav_neg = min(1 - v for v in sr.values()) / max(1 - v for v in sr.values())
    for res, want, thr in ((pos, fav_pos, 0.8), (neg, fav_neg, 0.9)):
        table = next(t for t in res.tables if t.name == "disparities")
        row = table.rows[0]
        assert row[table.columns.index("favourable impact ratio")] == pytest.approx(want)
        verdict = row[table.columns.index("four-fifths rule")]
        assert f"threshold {thr:g}" in table.note
        assert verdict == ("pass" if want >= thr else "fail"), (verdict, want, thr)
        assert all(c.data["reference"] == thr for c in res.charts if c.kind == "bar")
        ff = next(f for f in res.findings if "four-fifths" in f.text)
        assert f"{100 * want:.0f}% of the rate" in ff.text
        assert ff.severity == verdict and "interval includes" not in ff.text
    assert fav_pos != pytest.approx(fav_neg)
    assert "predicted 'high risk'" in next(f.text for f in pos.findings if "four-fifths" in f.text)
    ff_neg = next(f.text for f in neg.findings if "four-fifths" in f.text)
    assert "predicted 'low risk'" in ff_neg and "race = A are" in ff_neg  # A is less often low
    bar = next(c for c in neg.charts if c.kind == "bar")
    assert bar.data["values"][0] == pytest.approx(fav_neg)  # A's favourable impact ratio
    fpr = next(f.text for f in neg.findings if "wrongly labelled 'high risk'" in f.text)
    fpr_a = yp[(g == "A") & (y == 0)].mean()
    assert fpr.startswith(f"Of the people whose true label is 'low risk', {100 * fpr_a:.0f}% of "
                          "those with race = A")  # fmt: skip
    fnr = next(f.text for f in neg.findings if "wrongly labelled 'low risk'" in f.text)
    assert fnr.startswith("Of the people whose true label is 'high risk'")
    assert neg.info["favourable_outcome"] == "low risk"
    assert pos.info["favourable_outcome"] == "high risk"


def test_people_who_wording() -> None:
    from auditkit.sections._plain_language import people_who

    assert people_who("did not reoffend") == "people who did not reoffend"
    assert people_who("reoffended", subject="defendants") == "defendants who reoffended"
    assert people_who("low risk") == "people whose true label is 'low risk'"
    assert people_who("1") == "people whose true label is '1'"


def _cells(tn: int, fp: int, fn: int, tp: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.zeros(tn + fp), np.ones(fn + tp)].astype(np.int64)
    yp = np.r_[np.zeros(tn), np.ones(fp), np.zeros(fn), np.ones(tp)].astype(np.int64)
    return y, yp


def test_a_large_gap_without_evidence_is_said_so() -> None:
    ya, pa = _cells(140, 60, 80, 120)  # A: 400 rows, FPR 30%
    yb, pb = _cells(11, 9, 8, 12)  # B: 40 rows, FPR 45%: 15 points higher
    y, yp = np.r_[ya, yb], np.r_[pa, pb]
    g = np.array(["A"] * 400 + ["B"] * 40)
    res = _run(y, yp, {"g": g})
    gap = res.get("false_positive_rate_difference", feature=["g"], group=["B"],
                  method="to_reference")  # fmt: skip
    assert gap is not None and gap.value == pytest.approx(0.15)
    assert gap.p_value == pytest.approx(stats.fisher_exact([[9, 11], [60, 140]]).pvalue)
    assert gap.p_adjusted is not None and gap.p_adjusted >= 0.05
    f = next(x for x in res.findings if "wrongly labelled '1'" in x.text)
    assert f.text.startswith("Of the people whose true label is '0', 45% of those with g = B")
    assert f.severity == "info" and f.evidence == "none"
    assert "not distinguishable from no gap with these sample sizes" in f.text
    assert not any(x.severity in ("fail", "warn") for x in res.findings)


def test_newcombe_interval_equals_the_published_values() -> None:
    from auditkit.metrics.evidence import newcombe_interval

    # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10
    for k1, n1, k2, n2, lo, hi in ((56, 70, 48, 80, 0.0524, 0.3339),
                                   (9, 10, 3, 10, 0.1705, 0.8090),
                                   (5, 56, 0, 29, -0.0381, 0.1926)):  # fmt: skip
        got = newcombe_interval(k1, n1, k2, n2, 0.95)
        assert float(got[0]) == pytest.approx(lo, abs=1e-4)
        assert float(got[1]) == pytest.approx(hi, abs=1e-4)


def test_new_engine_quantities_carry_evidence() -> None:
    """Balanced accuracy by group and equalized odds agg='mean' (when the engine gives them)."""
    rng = np.random.default_rng(13)
    g, y, yp = _log(rng, {"a": 600, "b": 400, "c": 200}, {"a": 0.8, "b": 0.6, "c": 0.7},
                    {"a": 0.2, "b": 0.4, "c": 0.3})  # fmt: skip
    res = _run(y, yp, {"g": g})
    ba = res.get("balanced_accuracy_difference", feature=["g"], group=["b"],
                 method="to_reference")  # fmt: skip
    if res.get("balanced_accuracy", feature=["g"], group=["a"]) is None:
        pytest.skip("this engine has no balanced accuracy by group")
    assert ba is not None and ba.test == "permutation"
    want = 0.5 * (yp[(g == "b") & (y == 1)].mean() + 1 - yp[(g == "b") & (y == 0)].mean())
    want -= 0.5 * (yp[(g == "a") & (y == 1)].mean() + 1 - yp[(g == "a") & (y == 0)].mean())
    assert ba.value == pytest.approx(want, abs=1e-12)
    assert ba.p_value is not None and ba.p_value < 0.01 and ba.ci is not None
    assert ba.ci[0] <= ba.value <= ba.ci[1]
    for m in res.metrics:
        if m.method in ("between_groups", "to_overall") and (
            m.agg == "mean" or m.name.startswith(("balanced_accuracy", "average_odds"))
        ):
            assert m.p_value is not None and m.test, m


def test_calibration_warns_only_with_evidence() -> None:
    rng = np.random.default_rng(14)
    alarms = 0
    for i in range(60):
        g = np.array(["a"] * 600 + ["b"] * 40)
        score = rng.random(g.size)
        y = (rng.random(g.size) < score).astype(np.int64)  # calibrated scores
        res = _run(y, (score >= 0.5).astype(np.int64), {"g": g}, n_boot=20, seed=i,
                   score=score, mitigation=False)  # fmt: skip
        alarms += any(f.severity in ("warn", "fail") for f in res.findings)
    assert alarms / 60 <= 0.07
    g = np.array(["a"] * 600 + ["b"] * 300)
    score = rng.random(g.size)
    y = (rng.random(g.size) < np.where(g == "b", 0.6 * score, score)).astype(np.int64)
    res = _run(y, (score >= 0.5).astype(np.int64), {"g": g}, n_boot=20, score=score,
               mitigation=False)  # fmt: skip
    f = next(x for x in res.findings if x.metric == "fairness.expected_calibration_error")
    assert f.severity == "warn" and "g = b" in f.text and f.evidence == "strong"


def test_four_fifths_verdict_follows_the_interval_and_the_evidence() -> None:
    def log(sel_b: int, n: int) -> SectionResult:
        ya, pa = _cells(n // 4, n // 4, n // 4, n // 4)  # A: half selected
        yb, pb = _cells(n // 2 - sel_b // 2, sel_b // 2, n // 2 - (sel_b - sel_b // 2),
                        sel_b - sel_b // 2)  # fmt: skip
        g = np.array(["A"] * n + ["B"] * n)
        return _run(np.r_[ya, yb], np.r_[pa, pb], {"g": g}, n_boot=400)

    cases = (
        (log(594, 1500), "warn", "borderline"),  # ratio 0.79, interval reaches 0.8
        (log(500, 1500), "fail", "fail"),  # ratio 0.67, interval below 0.8
        (log(14, 40), "info", "inconclusive"),  # ratio 0.70 on 40 rows: no evidence
    )
    for res, sev, verdict in cases:
        f = next(x for x in res.findings if "four-fifths" in x.text)
        table = next(t for t in res.tables if t.name == "disparities")
        assert (f.severity, table.rows[0][table.columns.index("four-fifths rule")]) == (
            sev, verdict,
        ), f.text  # fmt: skip
        if sev == "warn":
            assert "cannot settle" in f.text and f.evidence == "strong"
        if sev == "info":
            assert f.evidence == "none" and "not distinguishable from no gap" in f.text
    res = log(640, 1500)  # ratio 0.853: passes
    f = next(x for x in res.findings if "four-fifths" in x.text)
    assert f.severity == "pass"


# ------------------------------------------------------- ROC AUC and calibration by group
def _score_evidence(
    y: np.ndarray, s: np.ndarray, g: np.ndarray, *, seed: int, n_perm: int = 500,
    w: np.ndarray | None = None,
) -> tuple[dict[tuple[str, str], float], object]:  # fmt: skip
    """p-values of the ROC AUC and ECE disparity records of one log, and the engine."""
    from auditkit.metrics.engine import group_metrics
    from auditkit.sections import _fairness_evidence as fe

    gm = group_metrics(
        y, (s > 0.5).astype(int), {"g": g}, y_score=s, roc_auc=True, sample_weight=w
    )
    ev = fe.Evidence(
        gm, fe.resolve_references(gm, {}), None, np.random.default_rng(seed), 0.95,
        n_permutations=n_perm,
    )  # fmt: skip
    ev.test_disparities()
    out = {}
    for (name, _f, _l, part, _a), (hyp, p, test) in ev._record_p.items():
        if name.startswith(("roc_auc_", "expected_calibration_error_")):
            assert test == "permutation" and p is not None and hyp in ev.family
            assert ev.family.adjusted(hyp) is not None
            out[(name, part)] = p
    return out, (gm, ev)


def test_roc_auc_and_calibration_disparities_carry_p_values() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    g = rng.choice(["a", "b", "c"], n)
    y = rng.integers(0, 2, n)
    s = np.clip(rng.random(n) * 0.7 + y * 0.3, 0, 1)
    res = _run(y, (s > 0.5).astype(int), {"g": g}, n_boot=20, score=s)
    recs = [
        m for m in res.metrics
        if m.name.startswith(("roc_auc_", "expected_calibration_error_"))
        and m.method in DISPARITY_METHODS
    ]  # fmt: skip
    assert {m.name for m in recs} >= {
        "roc_auc_difference",
        "roc_auc_ratio",
        "expected_calibration_error_difference",
    }
    for m in recs:
        assert m.test == "permutation" and 0 < m.p_value <= 1 and m.p_adjusted >= m.p_value
    ev_info = res.info["evidence"]
    assert "roc_auc" in ev_info and "expected_calibration_error" in ev_info
    assert ev_info["auc_permutations"]["g"] >= 200
    # no subsample at this size: the tested AUCs are the records' own, equal to scikit-learn
    from sklearn.metrics import roc_auc_score

    _, (gm, ev) = _score_evidence(y, s, g, seed=1)
    obs, o, null = ev.score_null(("g",), "roc_auc")
    want = [roc_auc_score(y[g == k], s[g == k]) for k in ("a", "b", "c")]
    np.testing.assert_allclose(obs, want, rtol=1e-12)
    assert o == pytest.approx(roc_auc_score(y, s), rel=1e-12)
    assert null.shape == (3, ev.auc_permutations[("g",)])
    # ECE on observed counts with cell-mean scores is close to the record's exact value
    e_obs, _, _ = ev.score_null(("g",), "expected_calibration_error")
    rec = gm.values[next(k for k in gm.values if k.name == "expected_calibration_error"
                         and k.features == ("g",) and k.part == "group")]  # fmt: skip
    np.testing.assert_allclose(e_obs, rec, atol=0.01)


def test_roc_auc_and_calibration_p_values_are_uniform_under_no_difference() -> None:
    rng = np.random.default_rng(7)
    ps: dict[tuple[str, str], list[float]] = {}
    for i in range(200):
        n = 240
        g = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
        y = rng.integers(0, 2, n)
        s = 1 / (1 + np.exp(-(rng.normal(size=n) + y)))  # same score law in every group
        got, _ = _score_evidence(y, s, g, seed=i, n_perm=200)
        for k, p in got.items():
            ps.setdefault(k, []).append(p)
    assert {k[0] for k in ps} >= {"roc_auc_difference", "expected_calibration_error_difference"}
    for k, v in ps.items():
        a = np.asarray(v)
        assert stats.kstest(a, "uniform").pvalue > 0.001, k
        assert np.mean(a < 0.05) <= 0.09, k  # the false-alarm rate is not above ~5%


def test_a_real_auc_gap_is_detected() -> None:
    rng = np.random.default_rng(3)
    hits, hits_w = 0, 0
    d = {"a": 1.466, "b": 0.545}  # AUC Phi(d / sqrt 2): 0.85 and 0.65
    for i in range(20):
        g = np.repeat(["a", "b"], 500)
        y = rng.integers(0, 2, g.size)
        z = rng.normal(size=g.size) + y * np.where(g == "a", d["a"], d["b"])
        s = 1 / (1 + np.exp(-z))
        got, _ = _score_evidence(y, s, g, seed=i)
        hits += got[("roc_auc_difference", "between_groups")] < 0.01
        w = rng.uniform(0.5, 2.0, g.size)  # weights travel with their rows
        got_w, _ = _score_evidence(y, s, g, seed=i, w=w)
        hits_w += got_w[("roc_auc_difference", "between_groups")] < 0.01
    assert hits >= 18 and hits_w >= 18


def test_roc_auc_test_subsamples_large_logs() -> None:
    from auditkit.sections import _fairness_evidence as fe

    rng = np.random.default_rng(5)
    n = 40_000
    g = rng.choice(["a", "b"], n)
    y = rng.integers(0, 2, n)
    s = rng.random(n)
    _, (_gm, ev) = _score_evidence(y, s, g, seed=0, n_perm=2000)
    b = ev.auc_permutations[("g",)]
    assert b == fe._AUC_MIN_PERM
    assert ev.auc_subsample[("g",)] * b <= fe._AUC_BUDGET
