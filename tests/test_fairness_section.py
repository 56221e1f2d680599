"""Fairness section: records, flags, findings, charts, custom metrics, mitigation what-if."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn import metrics as flm
from fairlearn.metrics import MetricFrame

import auditkit
from auditkit.exceptions import AuditkitError, ParameterError
from auditkit.result.json_io import to_json, validate_dict
from auditkit.sections.fairness import FairnessSection
from auditkit.testing import check_section, make_context


def _log(seed: int = 0, n: int = 1200) -> dict:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["Female", "Male"], n, p=[0.4, 0.6])
    race = rng.choice(["A", "B", "C", "D"], n, p=[0.6, 0.25, 0.13, 0.02])
    score = np.clip(rng.beta(2, 3, n) + 0.15 * (sex == "Male"), 0, 1)
    y_true = np.where(rng.random(n) < score, "approved", "denied")
    y_pred = np.where(score >= 0.5, "approved", "denied")
    return {"y_true": y_true, "y_pred": y_pred, "score": score, "sex": sex, "race": race}


def _audit(d: dict, **kw: object) -> auditkit.AuditResult:
    kw.setdefault("n_boot", 100)
    return auditkit.audit_predictions(
        d["y_true"], d["y_pred"], y_score=d["score"], pos_label="approved",
        sensitive_features={"sex": d["sex"], "race": d["race"]}, sections=["fairness"], **kw,
    )  # fmt: skip


def test_section_contract_on_toy_model() -> None:
    res = check_section(FairnessSection(), make_context(n_boot=50))
    assert res.status == "ok"
    assert res.info["mitigation"]["status"] == "ok"


def test_records_equal_fairlearn() -> None:
    d = _log()
    res = _audit(d).section("fairness")
    assert res is not None and res.status == "ok"
    yt = (d["y_true"] == "approved").astype(int)
    yp = (d["y_pred"] == "approved").astype(int)
    sf = pd.DataFrame({"sex": d["sex"], "race": d["race"]})
    for feats in (["sex"], ["race"], ["sex", "race"]):
        sfx = sf[feats] if len(feats) > 1 else sf[feats[0]]
        for name in ("demographic_parity_ratio", "equalized_odds_difference",
                     "equal_opportunity_ratio"):  # fmt: skip
            for method in ("between_groups", "to_overall"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    theirs = getattr(flm, name)(yt, yp, sensitive_features=sfx, method=method)
                m = res.get(name, feature=feats, method=method)
                assert m is not None and m.value == pytest.approx(theirs, abs=1e-12)
                assert m.group is None and m.n == len(yt) and m.ci is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mf = MetricFrame(metrics={"tpr": flm.true_positive_rate, "acc": skm.accuracy_score},
                             y_true=yt, y_pred=yp, sensitive_features=sfx)  # fmt: skip
        for grp, row in mf.by_group.iterrows():
            g = list(grp) if isinstance(grp, tuple) else [grp]
            m = res.get("true_positive_rate", feature=feats, group=g)
            assert m is not None
            if np.isnan(row["tpr"]):
                assert m.value is None and m.n == 0 and "too_small" in m.flags
            else:
                assert m.value == pytest.approx(row["tpr"], abs=1e-12)
            a = res.get("accuracy", feature=feats, group=g)
            assert a is not None and (a.value is None or a.value == pytest.approx(row["acc"]))


def test_every_group_is_reported_and_small_ones_flagged() -> None:
    d = _log(1)
    res = _audit(d, min_group_size=50).section("fairness")
    assert res is not None
    counts = {tuple(m.group): m for m in res.metrics
              if m.name == "count" and m.feature == ("race",)}  # fmt: skip
    assert set(counts) == {("A",), ("B",), ("C",), ("D",)}
    small = counts[("D",)]
    assert small.value is not None and small.value < 50
    assert "too_small" in small.flags and "fewer than min_group_size=50" in str(small.reason)
    assert counts[("A",)].flags == ()
    # the intersection covers every combination (as MetricFrame), empty ones with n = 0
    inter = [m for m in res.metrics if m.name == "count" and m.feature == ("sex", "race")]
    assert len(inter) == 8
    disp = res.get("selection_rate_ratio", feature=["race"], method="between_groups")
    assert disp is not None and "small_groups" in disp.flags and "D" in str(disp.reason)
    assert any("too uncertain to judge" in f.text for f in res.findings)


def test_no_positive_labels_flags_tpr_with_reason() -> None:
    rng = np.random.default_rng(2)
    n = 400
    grp = rng.choice(["x", "y", "z"], n)
    yt = np.where(grp == "z", 0, rng.integers(0, 2, n))
    yp = rng.integers(0, 2, n)
    res = auditkit.audit_predictions(yt, yp, sensitive_features={"g": grp}, n_boot=20,
                                     sections=["fairness"]).section("fairness")  # fmt: skip
    assert res is not None
    m = res.get("true_positive_rate", feature=["g"], group=["z"])
    assert m is not None and m.value == 0.0 and "too_small" in m.flags
    assert "no positive labels" in str(m.reason)
    s = res.get("selection_rate", feature=["g"], group=["z"])
    assert s is not None and s.flags == ()


def test_four_fifths_finding_reads_plainly() -> None:
    d = _log(3)
    res = _audit(d).section("fairness")
    assert res is not None
    sex = [f for f in res.findings if "four-fifths" in f.text and "sex = " in f.text
           and "race" not in f.text]  # fmt: skip
    assert len(sex) == 1
    pattern = (
        r"^People with sex = Female are predicted 'approved' at \d+% of the rate of people "
        r"with sex = Male \(four-fifths rule (passes|fails); 95% CI \d\.\d\d-\d\.\d\d\)\."
    )
    assert re.match(pattern, sex[0].text), sex[0].text
    ratio = res.get("selection_rate_ratio", feature=["sex"], method="between_groups")
    assert ratio is not None and ratio.value is not None
    # below the threshold: "fail" when the whole interval is below it, "warn" when it reaches
    # it, "info" without evidence of a gap (the section's evidence rules)
    hi = float(re.search(r"95% CI \d\.\d\d-(\d\.\d\d)", sex[0].text).group(1))  # type: ignore[union-attr]
    if ratio.value >= 0.8:
        assert sex[0].severity == "pass"
    elif sex[0].evidence == "none":
        assert sex[0].severity == "info" and "not distinguishable" in sex[0].text
    else:
        assert sex[0].severity == ("fail" if hi < 0.8 else "warn"), (sex[0], hi)
    assert f"{100 * ratio.value:.0f}%" in sex[0].text


def test_charts_tables_and_calibration() -> None:
    d = _log(4)
    res = _audit(d).section("fairness")
    assert res is not None
    bars = [c for c in res.charts if c.kind == "bar"]
    assert {c.name for c in bars} == {"impact_ratio_sex", "impact_ratio_race"}
    assert all(c.data["reference"] == 0.8 for c in bars)
    heat = [c for c in res.charts if c.kind == "heatmap"]
    assert len(heat) == 1
    assert heat[0].data["rows"] == ["Female", "Male"] and heat[0].data["cols"] == list("ABCD")
    m = res.get("selection_rate", feature=["sex", "race"], group=["Male", "B"])
    assert m is not None and heat[0].data["values"][1][1] == m.value
    names = {t.name for t in res.tables}
    assert {"disparities", "groups_sex", "groups_race", "groups_sex_x_race", "mitigation"} <= names
    ece = res.get("expected_calibration_error", feature=["sex"], group=["Female"])
    assert ece is not None and ece.value is not None and ece.ci is not None
    female = d["sex"] == "Female"
    ms = res.get("mean_score", feature=["sex"], group=["Female"])
    assert ms is not None and ms.value == pytest.approx(d["score"][female].mean(), abs=1e-12)


def test_mitigation_records_and_skip_reason() -> None:
    d = _log(5)
    res = _audit(d).section("fairness")
    assert res is not None
    for constraint in ("demographic_parity", "equalized_odds"):
        for name in ("mitigation_accuracy_before", "mitigation_accuracy_after",
                     "mitigation_disparity_before", "mitigation_disparity_after"):  # fmt: skip
            m = res.get(name, method=constraint)
            assert m is not None and m.value is not None, (name, constraint)
            assert m.feature == ("sex", "race")
    before = res.get("mitigation_disparity_before", method="demographic_parity")
    after = res.get("mitigation_disparity_after", method="demographic_parity")
    assert before is not None and after is not None and after.value < before.value
    no_scores = auditkit.audit_predictions(d["y_true"], d["y_pred"], pos_label="approved",
                                           sensitive_features={"sex": d["sex"]}, n_boot=10,
                                           sections=["fairness"]).section("fairness")  # fmt: skip
    assert no_scores is not None and no_scores.status == "ok"
    assert no_scores.info["mitigation"]["status"] == "skipped"
    assert "scores" in no_scores.info["mitigation"]["reason"]
    assert no_scores.get("mitigation_accuracy_before") is None


def test_custom_metric_goes_through_metricframe() -> None:
    d = _log(6)
    res = _audit(d, n_boot=0, custom_metrics={"recall": skm.recall_score}).section("fairness")
    assert res is not None
    yt = (d["y_true"] == "approved").astype(int)
    yp = (d["y_pred"] == "approved").astype(int)
    mf = MetricFrame(metrics=skm.recall_score, y_true=yt, y_pred=yp, sensitive_features=d["race"])
    for grp, v in mf.by_group.items():
        m = res.get("recall", feature=["race"], group=[grp])
        assert m is not None and m.value == pytest.approx(v, abs=1e-15)
    ratio = res.get("recall_ratio", feature=["race"], method="between_groups")
    assert ratio is not None and ratio.value == pytest.approx(mf.ratio(), abs=1e-15)
    assert res.info["custom_metrics"]["names"] == ["recall"]
    # no intervals when n_boot=0
    assert all(m.ci is None for m in res.metrics if m.name == "selection_rate")
    with pytest.raises(ParameterError, match="custom_metrics"):
        _audit(d, custom_metrics={"x": 3})
    with pytest.raises(AuditkitError, match="clashes with the built-in fairness metric"):
        _audit(d, custom_metrics={"accuracy": skm.accuracy_score})


def test_multiclass_one_vs_rest_per_group() -> None:
    rng = np.random.default_rng(7)
    n = 600
    yt = rng.choice(["cat", "dog", "owl"], n)
    yp = np.where(rng.random(n) < 0.7, yt, rng.choice(["cat", "dog", "owl"], n))
    g = rng.choice(["u", "v"], n)
    res = auditkit.audit_predictions(yt, yp, sensitive_features={"g": g}, n_boot=50,
                                     sections=["fairness"]).section("fairness")  # fmt: skip
    assert res is not None and res.status == "ok"
    acc = res.get("accuracy", feature=["g"], group=["u"])
    u = g == "u"
    assert acc is not None and acc.value == pytest.approx(skm.accuracy_score(yt[u], yp[u]))
    for cls in ("cat", "dog", "owl"):
        m = res.get("true_positive_rate", feature=["g"], group=["v"], label=cls)
        mask = (g == "v") & (yt == cls)
        assert m is not None and m.value == pytest.approx(np.mean(yp[mask] == cls))
        assert res.get("selection_rate_difference", feature=["g"], label=cls,
                       method="between_groups") is not None  # fmt: skip
    assert res.get("demographic_parity_difference") is None
    assert res.info["mitigation"]["status"] == "skipped"
    assert any("right for" in f.text for f in res.findings)


def test_json_is_valid_and_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    d = _log(8, 500)
    a, b = _audit(d, random_state=3), _audit(d, random_state=3)
    assert to_json(a) == to_json(b)
    validate_dict(a.to_dict(), source="test")
    assert to_json(a) != to_json(_audit(d, random_state=4))


def test_skipped_without_sensitive_features() -> None:
    ctx = make_context()
    from dataclasses import replace

    ctx = replace(ctx, sensitive=None)
    assert ctx.missing(FairnessSection.requires) is not None


def test_plain_language_helpers() -> None:
    from auditkit.sections import _plain_language as pl

    assert pl.points(0.01) == "1 percentage point" and pl.points(0.07) == "7 percentage points"
    assert pl.ci_text((0.27, 0.35), 0.95) == "95% CI 0.27-0.35"
    assert pl.ci_text(None, 0.95) == "" and pl.pct(None) == "n/a"
    sev, text = pl.four_fifths_sentence(["sex"], ["Female"], ["Male"], 0.31, (0.27, 0.35), 0.95,
                                        subject="applicants")  # fmt: skip
    assert sev == "fail"
    assert text == ("Applicants with sex = Female are selected at 31% of the rate of applicants "
                    "with sex = Male (four-fifths rule fails; 95% CI 0.27-0.35).")  # fmt: skip
    sev, text = pl.four_fifths_sentence(["sex"], ["F"], ["M"], 0.85, (0.7, 0.95), 0.9)
    assert sev == "pass" and "cannot settle" in text and "90% CI" in text


def test_mitigation_rounds_many_distinct_scores_to_a_grid() -> None:
    """Fairlearn's ThresholdOptimizer walks every distinct score in Python; above 10,001 the
    what-if rounds the scores to 1e-4 and says so (1e6 scores: 34 s -> 8 s)."""
    from auditkit.sections._mitigation import SCORE_GRID

    rng = np.random.default_rng(3)
    n = 30_000
    sf = pd.DataFrame({"g": rng.choice(["a", "b"], n)})
    y = rng.integers(0, 2, n)
    s = np.clip(rng.random(n) * 0.6 + y * 0.3, 0, 1)
    kw = dict(sensitive_features=sf, sections=["fairness"], n_boot=0)
    res = auditkit.audit_predictions(y_true=y, y_pred=(s > 0.5).astype(int), y_score=s, **kw)
    cons = res.sections[0].info["mitigation"]["constraints"]
    assert all(c["status"] == "ok" and c["scores_rounded_to"] == SCORE_GRID for c in cons.values())
    few = np.round(s, 2)  # 101 distinct scores: used as given
    res = auditkit.audit_predictions(y_true=y, y_pred=(few > 0.5).astype(int), y_score=few, **kw)
    cons = res.sections[0].info["mitigation"]["constraints"]
    assert all("scores_rounded_to" not in c for c in cons.values())
