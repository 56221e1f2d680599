"""The drift section (issue 19, item 4): PSI and two-sample tests, training against evaluation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import auditkit
from auditkit.exceptions import DataValidationError, ParameterError
from auditkit.inputs.context import (
    AuditConfig,
    AuditContext,
    Predictions,
    RegressionPredictions,
    TrainData,
)
from auditkit.metrics.evidence import holm
from auditkit.sections import SECTIONS
from auditkit.sections._drift_compare import adjust, compare_column
from auditkit.sections._drift_data import frames
from auditkit.sections._drift_stats import (
    PSI_EPS,
    category_bins,
    chi2_test,
    numeric_bins,
    population_stability_index,
    psi_by_chance,
    psi_from_counts,
)
from auditkit.sections.registry import SECTION_ORDER, resolve_sections
from auditkit.testing import check_section

DRIFT = SECTIONS.get("drift")


# ------------------------------------------------------------------------------ helpers
def _context(X_tr, X_ev, *, sens_tr=None, sens_ev=None, options=None, min_group_size=30,
             regression=False, schema=None) -> AuditContext:  # fmt: skip
    n = len(X_ev)
    if regression:
        preds = Predictions(np.zeros(0, np.int64), np.zeros(0, np.int64), None, (), None)
        reg = RegressionPredictions(np.zeros(n), np.zeros(n))
        y_tr = np.zeros(len(X_tr))
    else:
        preds = Predictions(np.zeros(n, np.int64), np.zeros(n, np.int64), None, ("0", "1"), 1)
        reg = None
        y_tr = np.zeros(len(X_tr), np.int64)
    cfg = AuditConfig(sections=("drift",), options=dict(options or {}),
                      min_group_size=min_group_size)  # fmt: skip
    return AuditContext(
        config=cfg, predictions=preds, X=X_ev, sensitive=sens_ev,
        train=TrainData(X=X_tr, y=y_tr, sensitive=sens_tr), regression=reg, schema=schema,
    )  # fmt: skip


def _psi_reference(train, actual, n_bins=10, eps=PSI_EPS, kind="numeric"):
    """A plain, loop-based PSI: the definition written out, for comparison."""
    train, actual = list(train), list(actual)

    def missing(v):
        return v is None or (isinstance(v, float) and math.isnan(v))

    if kind == "numeric":
        present = [v for v in train if not missing(v)]
        edges = sorted(set(np.quantile(present, [i / n_bins for i in range(1, n_bins)]).tolist()))

        def key(v):
            if missing(v):
                return "missing"
            for j, e in enumerate(edges):
                if v <= e:
                    return j
            return len(edges)
    else:

        def key(v):
            return "missing" if missing(v) else str(v)

    keys = {key(v) for v in train} | {key(v) for v in actual}
    total = 0.0
    for k in keys:
        e = sum(1 for v in train if key(v) == k) / len(train)
        a = sum(1 for v in actual if key(v) == k) / len(actual)
        e, a = (e if e > 0 else eps), (a if a > 0 else eps)
        total += (a - e) * math.log(a / e)
    return total


def _shifted(n_tr=2000, n_ev=2000, shift=1.0, seed=0):
    rng = np.random.default_rng(seed)

    def make(n, s):
        return pd.DataFrame(
            {
                "age": rng.normal(40 + 10 * s, 10, n),
                "income": rng.lognormal(10, 0.5, n),
                "city": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
            }
        )

    return make(n_tr, 0.0), make(n_ev, shift)


# ----------------------------------------------------------------- the check
def test_a_shifted_column_has_psi_above_025_and_an_unshifted_one_below_01() -> None:
    X_tr, X_ev = _shifted(shift=0.8)
    res = DRIFT.run(_context(X_tr, X_ev))
    assert res.status == "ok"
    psi = {m.input_feature: m.value for m in res.metrics
           if m.name == "population_stability_index"}  # fmt: skip
    assert psi["age"] > 0.25
    assert psi["income"] < 0.1 and psi["city"] < 0.1
    age = res.get("population_stability_index", input_feature="age")
    assert age.p_adjusted < 0.001 and age.test == "kolmogorov_smirnov" and age.n == 2000
    ks = res.get("ks_statistic", input_feature="age")
    assert ks.value > 0.2 and ks.p_value == age.p_value
    assert res.get("chi2_statistic", input_feature="city").test == "chi_squared"
    bad = [f for f in res.findings if f.severity in ("fail", "warn")]
    assert len(bad) == 1 and bad[0].severity == "fail" and bad[0].evidence == "strong"
    assert "The evaluation data's age differs from the training data's (PSI" in bad[0].text
    assert "a large shift; KS adjusted p < 0.001" in bad[0].text
    assert "did not learn from" in bad[0].text
    assert not any("income" in f.text or "city" in f.text for f in bad)
    (chart,) = res.charts
    assert chart.kind == "bar" and chart.data["labels"][0] == "age"
    assert chart.data["reference"] == 0.25 and "age 0." in chart.description


def test_a_moderate_shift_is_amber() -> None:
    X_tr, X_ev = _shifted(shift=0.4, n_tr=5000, n_ev=5000)
    res = DRIFT.run(_context(X_tr, X_ev))
    psi = res.get("population_stability_index", input_feature="age").value
    assert 0.1 <= psi <= 0.25
    (f,) = [f for f in res.findings if f.severity in ("fail", "warn")]
    assert f.severity == "warn" and "moderate shift" in f.text


def test_no_shift_gives_a_pass() -> None:
    X_tr, X_ev = _shifted(shift=0.0)
    res = DRIFT.run(_context(X_tr, X_ev))
    assert [f.severity for f in res.findings] == ["pass"]
    assert "none of the 3 input columns shifts with evidence" in res.findings[0].text


def test_a_large_psi_on_few_rows_is_stated_as_such() -> None:
    rng = np.random.default_rng(3)
    X_tr = pd.DataFrame({"age": rng.normal(0, 1, 1000)})
    X_ev = pd.DataFrame({"age": rng.normal(0.2, 1, 15)})
    res = DRIFT.run(_context(X_tr, X_ev))
    m = res.get("population_stability_index", input_feature="age")
    assert m.value > 0.25 and m.p_adjusted > 0.05
    assert not [f for f in res.findings if f.severity in ("fail", "warn")]
    assert not [f for f in res.findings if f.severity == "pass"]
    f, first = [f for f in res.findings if f.severity == "info"]
    assert "cannot tell it from chance" in f.text and "15 evaluation rows" in f.text
    assert "sampling alone gives a PSI of about 0.6" in f.text  # 9 * (1/1000 + 1/15)
    assert "too thin to say" in first.text


# -------------------------------------------------------------------------- the PSI
def test_psi_by_hand() -> None:
    # median of 1..10 is 5.5: 50/50 in training, 80/20 in evaluation
    ev = [1, 1, 1, 2, 2, 3, 4, 5, 6, 11]
    assert population_stability_index(range(1, 11), ev, n_bins=2) == pytest.approx(
        0.3 * math.log(4), abs=1e-12
    )
    # categories, an empty bin on each side: proportions 1e-4 instead of 0
    tr = ["a"] * 6 + ["b"] * 4
    ev = ["a"] * 5 + ["c"] * 5
    want = (
        (0.5 - 0.6) * math.log(0.5 / 0.6)
        + (1e-4 - 0.4) * math.log(1e-4 / 0.4)
        + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    )
    assert population_stability_index(tr, ev) == pytest.approx(want, abs=1e-12)
    assert population_stability_index(tr, tr) == 0.0


def test_numeric_bins_are_right_closed_deciles_with_ties_merged() -> None:
    b = numeric_bins(np.arange(1.0, 11.0), np.array([1.0, 1.9, 2.0, 10.0, 99.0]), 10)
    assert b.labels[0] == "<= 1.9" and b.labels[-1] == "> 9.1" and len(b.labels) == 10
    assert b.train.tolist() == [1] * 10
    assert b.eval.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    zeros = np.r_[np.zeros(95), np.arange(1.0, 6.0)]
    b = numeric_bins(zeros, zeros, 10)  # nine deciles at 0: one edge
    assert b.labels == ("<= 0", "> 0")


@pytest.mark.parametrize("seed", range(12))
def test_psi_equals_the_reference_on_random_cases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_tr, n_ev = int(rng.integers(5, 300)), int(rng.integers(5, 300))
    n_bins = int(rng.integers(2, 15))
    if seed % 3 == 0:  # ties
        tr = rng.integers(0, 6, n_tr).astype(float)
        ev = rng.integers(0, 8, n_ev).astype(float)
    else:
        tr = rng.normal(0, 1, n_tr)
        ev = rng.normal(rng.normal(0, 0.5), rng.uniform(0.5, 2), n_ev)
    if seed % 2 == 0:  # missing values
        tr[rng.random(n_tr) < 0.1] = np.nan
        ev[rng.random(n_ev) < 0.2] = np.nan
    got = population_stability_index(tr, ev, n_bins=n_bins)
    assert got == pytest.approx(_psi_reference(tr, ev, n_bins), rel=1e-10, abs=1e-12)
    cats = np.array(["a", "b", "c", "d", None], dtype=object)
    tr_c = rng.choice(cats, n_tr, p=[0.4, 0.3, 0.2, 0.05, 0.05])
    ev_c = rng.choice(cats, n_ev, p=[0.2, 0.2, 0.2, 0.3, 0.1])
    got = population_stability_index(tr_c, ev_c)
    assert got == pytest.approx(_psi_reference(tr_c, ev_c, kind="cat"), rel=1e-10, abs=1e-12)


def test_psi_by_chance_matches_a_simulation() -> None:
    rng = np.random.default_rng(0)
    vals = []
    for _ in range(300):
        b = numeric_bins(rng.normal(size=500), rng.normal(size=200), 10)
        vals.append(psi_from_counts(b.train, b.eval)[0])
    assert np.mean(vals) == pytest.approx(psi_by_chance(b), rel=0.15)  # 9 * (1/500 + 1/200)


# ------------------------------------------------------------------------------ tests
def test_chi2_equals_scipy_and_pools_rare_categories() -> None:
    from scipy.stats import chi2_contingency

    t = chi2_test(np.array([50, 30, 20]), np.array([40, 40, 20]))
    ref = chi2_contingency(np.array([[50, 30, 20], [40, 40, 20]]), correction=False)
    assert t.statistic == pytest.approx(ref.statistic) and t.p_value == pytest.approx(ref.pvalue)
    assert t.dof == 2
    # the two rare categories (expected counts below 5) become one cell, still below 5, so it
    # joins the smallest other category
    t = chi2_test(np.array([50, 30, 20, 1, 0]), np.array([40, 40, 20, 0, 3]))
    ref = chi2_contingency(np.array([[50, 30, 21], [40, 40, 23]]), correction=False)
    assert t.statistic == pytest.approx(ref.statistic) and t.dof == 2
    # a pooled cell large enough stays a cell of its own
    t = chi2_test(np.array([50, 30, 20, 3, 2]), np.array([40, 40, 20, 4, 3]))
    ref = chi2_contingency(np.array([[50, 30, 20, 5], [40, 40, 20, 7]]), correction=False)
    assert t.statistic == pytest.approx(ref.statistic) and t.dof == 3
    one = chi2_test(np.array([10, 0]), np.array([5, 0]))
    assert one.p_value is None and "single category" in one.reason


def _rejections(kind: str, reps: int, alpha: float = 0.05) -> tuple[float, float]:
    """Share of null repetitions each test rejects (raw), and any column after Holm (FWER)."""
    rng = np.random.default_rng(2026)
    raw, family = 0, 0
    cats = np.array(["a", "b", "c", "d", "e"], dtype=object)
    for _ in range(reps):
        cols = []
        for j in range(3):
            if kind == "numeric":
                tr, ev = rng.normal(size=150), rng.normal(size=60)
                if j == 2:  # missing values at the same rate on both sides
                    tr[rng.random(150) < 0.1] = np.nan
                    ev[rng.random(60) < 0.1] = np.nan
            else:
                p = [0.5, 0.3, 0.15, 0.04, 0.01]
                tr, ev = rng.choice(cats, 150, p=p), rng.choice(cats, 60, p=p)
            cols.append(compare_column(f"c{j}", kind, tr, ev))
        raw += sum(c.p_value < alpha for c in cols if c.p_value is not None)
        family += any(c.p_adjusted < alpha for c in adjust(cols) if c.p_adjusted is not None)
    return raw / (3 * reps), family / reps


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_false_alarm_rate_is_near_alpha_without_shift(kind: str) -> None:
    raw, fwer = _rejections(kind, reps=150)
    # 450 null tests: sd of the rate about 0.01; KS with missing values and chi-squared are
    # conservative rather than liberal
    assert 0.005 <= raw <= 0.085, raw
    assert fwer <= 0.1, fwer


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_false_alarm_rate_is_near_alpha_without_shift_many_repetitions(kind: str) -> None:
    raw, fwer = _rejections(kind, reps=2000)  # 6000 tests: sd about 0.003
    assert 0.03 <= raw <= 0.062, raw
    assert fwer <= 0.062, fwer


def test_holm_is_over_the_input_columns() -> None:
    X_tr, X_ev = _shifted(shift=0.05, n_tr=400, n_ev=300)
    res = DRIFT.run(_context(X_tr, X_ev))
    recs = [m for m in res.metrics if m.name == "population_stability_index"]
    want = holm(np.array([m.p_value for m in recs]))
    assert [m.p_adjusted for m in recs] == pytest.approx(want.tolist())


# ------------------------------------------------------------- categories and missing
def test_unseen_categories_are_bins_and_named() -> None:
    rng = np.random.default_rng(1)
    X_tr = pd.DataFrame({"job": rng.choice(["a", "b", "c"], 600)})
    X_ev = pd.DataFrame({"job": np.r_[rng.choice(["a", "b", "c"], 400), ["new"] * 100]})
    res = DRIFT.run(_context(X_tr, X_ev))
    m = res.get("population_stability_index", input_feature="job")
    want = _psi_reference(X_tr["job"], X_ev["job"], kind="cat")
    assert m.value == pytest.approx(want) and m.value > 0.25
    assert res.get("chi2_statistic", input_feature="job").p_adjusted < 0.001
    texts = " ".join(f.text for f in res.findings)
    assert "categories the training data lacks" in texts and "'new': 100 rows" in texts
    assert any(f.severity == "fail" and "job" in f.text for f in res.findings)


def test_many_categories_pool_the_rarest() -> None:
    tr = [f"c{i}" for i in range(150)] * 2 + ["c0"] * 50
    ev = [f"c{i}" for i in range(150)] + ["new"]
    b = category_bins(tr, ev, max_categories=100)
    assert len(b.labels) == 100 and b.labels[0] == "c0" and b.labels[-1] == "(other categories)"
    assert b.train.sum() == len(tr) and b.eval.sum() == len(ev)


def test_missing_values_are_their_own_category() -> None:
    rng = np.random.default_rng(2)
    tr = rng.normal(size=800)
    ev = rng.normal(size=800)
    ev[:300] = np.nan  # only the share of missing values changes
    cat_tr = rng.choice(np.array(["x", "y", None], dtype=object), 800, p=[0.5, 0.45, 0.05])
    cat_ev = rng.choice(np.array(["x", "y", None], dtype=object), 800, p=[0.5, 0.45, 0.05])
    res = DRIFT.run(
        _context(pd.DataFrame({"v": tr, "k": cat_tr}), pd.DataFrame({"v": ev, "k": cat_ev}))
    )
    v = res.get("population_stability_index", input_feature="v")
    assert v.test == "kolmogorov_smirnov_and_missing_share" and v.p_adjusted < 0.001
    assert v.value == pytest.approx(_psi_reference(tr, ev))
    assert v.value > 0.25
    (table,) = [t for t in res.tables if t.name == "drift_columns"]
    row = {r[0]: r for r in table.rows}["v"]
    assert row[-2] == 0.0 and row[-1] == pytest.approx(0.375)
    bins = {r[1] for t in res.tables if t.name == "drift_bins" for r in t.rows}
    assert "(missing)" in bins
    assert "counted as their own category" in res.info["missing_values"]
    note = [f.text for f in res.findings if f.text.startswith("Missing values are counted")]
    assert note and "v (0.0% of training rows, 37.5% of evaluation rows)" in note[0]
    k = res.get("chi2_statistic", input_feature="k")
    assert k.p_adjusted > 0.05  # same categories, missing included, on both sides


def test_numeric_and_categorical_kinds_and_any_column_names() -> None:
    rng = np.random.default_rng(4)

    def make(n):
        return pd.DataFrame({
            "naïve col": rng.normal(size=n),
            3: rng.integers(0, 5, n),
            "flag": rng.random(n) < 0.3,
            "when": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 99, n), "D"),
            "cat": pd.Categorical(rng.choice(["p", "q"], n)),
            "<b>x</b>": rng.choice(["u", "v"], n).astype(object),
        })  # fmt: skip

    res = check_section(DRIFT, _context(make(300), make(200)))
    (table,) = [t for t in res.tables if t.name == "drift_columns"]
    kinds = {r[0]: r[1] for r in table.rows}
    assert kinds == {
        "naïve col": "numeric", "3": "numeric", "flag": "categorical", "when": "numeric",
        "cat": "categorical", "<b>x</b>": "categorical",
    }  # fmt: skip


# ---------------------------------------------------------------------- within groups
def test_drift_within_groups_and_small_groups() -> None:
    rng = np.random.default_rng(5)
    n_tr, n_ev = 1500, 1500
    g_tr = rng.choice(["F", "M", "X"], n_tr, p=[0.49, 0.5, 0.01])
    g_ev = rng.choice(["F", "M", "X"], n_ev, p=[0.49, 0.5, 0.01])
    # 'hours' shifts for group F only; overall it moves half as much
    hours_tr = rng.normal(40, 5, n_tr)
    hours_ev = rng.normal(40, 5, n_ev) + np.where(g_ev == "F", 6.0, 0.0)
    X_tr = pd.DataFrame({"hours": hours_tr, "sex": g_tr, "x": rng.normal(size=n_tr)})
    X_ev = pd.DataFrame({"hours": hours_ev, "sex": g_ev, "x": rng.normal(size=n_ev)})
    ctx = _context(X_tr, X_ev, sens_tr=X_tr[["sex"]], sens_ev=X_ev[["sex"]])
    res = check_section(DRIFT, ctx)
    f = res.get("population_stability_index", feature="sex", group="F", input_feature="hours")
    m = res.get("population_stability_index", feature="sex", group="M", input_feature="hours")
    assert f.value > 0.25 and f.p_adjusted < 0.001 and not f.flags
    assert m.value < 0.1 and m.p_adjusted > 0.05
    assert res.get("ks_statistic", feature="sex", group="F", input_feature="hours") is not None
    # the column that defines the groups is not compared within them
    assert res.get("population_stability_index", feature="sex", input_feature="sex") is None
    x = res.get("population_stability_index", feature="sex", group="X", input_feature="hours")
    assert x.flags == ("too_small",) and "fewer than min_group_size=30" in x.reason
    assert x.p_adjusted is None and x.p_value is not None  # reported, not in the family
    judged = [r for r in res.metrics if r.name == "population_stability_index" and r.group
              and not r.flags]  # fmt: skip
    want = holm(np.array([r.p_value for r in judged]))
    assert [r.p_adjusted for r in judged] == pytest.approx(want.tolist())
    lead = [t.text for t in res.findings if t.severity in ("fail", "warn")]
    assert any(t.startswith("Within sex = F,") and "hours" in t for t in lead)
    assert not any("sex = X" in t or "sex = M" in t for t in lead)
    small = [t.text for t in res.findings if "too small" in t.text]
    assert small and "sex = X" in small[0]
    (groups,) = [t for t in res.tables if t.name == "drift_groups"]
    assert [r[1] for r in groups.rows] == ["F", "M", "X"]


def test_groups_need_the_training_rows_sensitive_values() -> None:
    X_tr, X_ev = _shifted(shift=0.0, n_tr=300, n_ev=300)
    sens = pd.DataFrame({"s": np.where(np.arange(300) % 2, "a", "b")})
    res = DRIFT.run(_context(X_tr, X_ev, sens_tr=None, sens_ev=sens))
    assert all(m.feature is None for m in res.metrics)
    assert "evaluation rows only" in res.info["within_groups"]


# ------------------------------------------------------------------- inputs and skips
def test_a_column_absent_from_one_side_is_named() -> None:
    X_tr, X_ev = _shifted(n_tr=50, n_ev=50)
    with pytest.raises(DataValidationError, match="column 'city' is absent from the training"):
        DRIFT.run(_context(X_tr.drop(columns="city"), X_ev))
    with pytest.raises(DataValidationError, match="'income' is absent from the evaluation"):
        frames(X_tr, X_ev.drop(columns="income"))


def test_arrays_are_compared_by_position() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(300, 2)), rng.normal(size=(200, 2))
    b[:, 1] += 2
    res = DRIFT.run(_context(a, b))
    assert res.get("population_stability_index", input_feature="x1").value > 0.25
    tr, ev = frames(a, pd.DataFrame(b, columns=["u", "w"]))
    assert list(tr.columns) == ["u", "w"] and len(tr) == 300


def test_images_and_texts_are_skipped_with_the_reason() -> None:
    img = np.zeros((20, 8, 8))
    res = DRIFT.run(_context(img, img))
    assert res.status == "skipped" and "images of shape (20, 8, 8)" in res.reason
    txt = np.array(["a review", "another"] * 10, dtype=object)
    res = check_section(DRIFT, _context(txt, txt))
    assert res.status == "skipped" and "texts" in res.reason


def test_regression_reads_only_the_inputs() -> None:
    X_tr, X_ev = _shifted(shift=1.0, n_tr=400, n_ev=400)
    res = DRIFT.run(_context(X_tr, X_ev, regression=True))
    assert res.status == "ok"
    assert res.get("population_stability_index", input_feature="age").value > 0.25


def test_end_to_end_regression_audit() -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(8)
    X = pd.DataFrame({"a": rng.normal(size=600), "sex": rng.choice(["F", "M"], 600)})
    X.loc[300:, "a"] += 1.0
    y = 2 * X["a"].to_numpy() + rng.normal(size=600)
    model = make_pipeline(make_column_transformer(("passthrough", ["a"])), LinearRegression())
    model.fit(X[:300], y[:300])
    res = auditkit.audit(
        model, X[300:], y[300:], train=(X[:300], y[:300]), sensitive_features="sex",
        sections=["drift"],
    )  # fmt: skip
    assert res.data.get("task") == "regression"
    d = res.section("drift")
    assert d.status == "ok" and d.get("population_stability_index", input_feature="a").value > 0.25
    assert d.get("population_stability_index", feature="sex", group="M", input_feature="a")


def test_options_are_checked_and_read() -> None:
    X_tr, X_ev = _shifted(shift=0.2, n_tr=500, n_ev=500)
    with pytest.raises(ParameterError, match="drift_bins"):
        auditkit.audit(lambda X: np.full((len(X), 2), 0.5), X_ev, np.zeros(500, int),
                       options={"drift_bins": 1})  # fmt: skip
    five = DRIFT.run(_context(X_tr, X_ev, options={"drift_bins": 5}))
    bins = {r[1] for t in five.tables if t.name == "drift_bins" for r in t.rows if r[0] == "age"}
    ref = _psi_reference(X_tr["age"], X_ev["age"], n_bins=5)
    assert five.get("population_stability_index", input_feature="age").value == pytest.approx(ref)
    assert all(b.startswith(("<=", ">", "(")) for b in bins)
    strict = DRIFT.run(_context(X_tr, X_ev, options={"drift_alpha": 1e-300}))
    assert strict.info["alpha"] == 1e-300
    assert not [f for f in strict.findings if f.severity in ("fail", "warn")]


def test_default_order_and_skip_without_training_data() -> None:
    assert SECTION_ORDER.index("drift") == SECTION_ORDER.index("explainability") + 1
    assert SECTION_ORDER.index("drift") < SECTION_ORDER.index("privacy")
    assert "drift" in resolve_sections(None, "audit")
    ctx = _context(*_shifted(n_tr=40, n_ev=40))
    object.__setattr__(ctx, "train", None)
    assert "training data" in ctx.missing(DRIFT.requires)


# ------------------------------------------------------------------------- end to end
def test_end_to_end_audit_with_a_sklearn_model(tmp_path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(7)

    def make(n, shift):
        X = pd.DataFrame({
            "age": rng.normal(40 + shift, 10, n),
            "hours": rng.normal(40, 8, n),
            "sex": rng.choice(["F", "M"], n),
        })  # fmt: skip
        y = (X["age"] + X["hours"] + rng.normal(0, 8, n) > 80 + shift / 2).astype(int)
        return X, y.to_numpy()

    X_tr, y_tr = make(1200, 0)
    X_ev, y_ev = make(800, 9)
    pre = ColumnTransformer([("c", OneHotEncoder(), ["sex"])], remainder="passthrough")
    model = make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    res = auditkit.audit(
        model, X_ev, y_ev, train=(X_tr, y_tr), sensitive_features="sex",
        sections=["performance", "drift"], n_boot=20,
    )  # fmt: skip
    d = res.section("drift")
    assert d.status == "ok"
    assert d.get("population_stability_index", input_feature="age").value > 0.25
    assert d.get("population_stability_index", input_feature="hours").value < 0.1
    assert d.get("population_stability_index", feature="sex", group="F", input_feature="age")
    assert any(f.severity == "fail" and "age" in f.text for f in d.findings)
    path = tmp_path / "audit.json"
    path.write_text(auditkit.to_json(res), encoding="utf-8")
    assert auditkit.to_json(auditkit.load_result(path)) == path.read_text(encoding="utf-8")
    html = auditkit.render_html(res)
    assert "Drift per input column" in html and "population_stability_index" in html
    md = auditkit.render_markdown(res)
    assert "The evaluation data&#39;s age" in html or "The evaluation data's age" in html
    assert "The evaluation data's age differs" in md
    # without training data: skipped, with the reason
    res = auditkit.audit(model, X_ev, y_ev, sections=["drift"], n_boot=20)
    assert res.section("drift").status == "skipped"
    assert "--train-data FILE" in res.section("drift").reason
    # a log of decisions has no training rows to give: the reason does not ask for them
    log = auditkit.audit_predictions(y_ev, y_ev, sensitive_features=X_ev["age"] > 40, n_boot=0)
    assert log.section("drift").reason == (
        "needs the model's training rows; only a log of predictions was given"
    )


# ------------------------------------------------------------------------------ the card
def test_the_drift_view_shows_each_columns_psi_as_a_key_figure() -> None:
    from auditkit.report._view import build_view
    from auditkit.report._views import SECTION_VIEWS, register_section_view
    from auditkit.report._views.drift import DriftView
    from auditkit.result.records import AuditResult

    X_tr, X_ev = _shifted(shift=0.8, n_tr=300, n_ev=300)
    sens = pd.DataFrame({"s": np.where(np.arange(300) % 2, "a", "b")})
    res = DRIFT.run(_context(X_tr, X_ev, sens_tr=sens, sens_ev=sens))
    doc = AuditResult("1.0", "t", "1970-01-01T00:00:00Z", {}, {}, {}, (res,)).to_dict()
    old = SECTION_VIEWS.get("drift")
    register_section_view("drift", DriftView())
    try:
        (sec,) = [s for s in build_view(doc)["sections"] if s["name"] == "drift"]
    finally:
        if old is None:
            SECTION_VIEWS.pop("drift")
        else:
            SECTION_VIEWS["drift"] = old
    labels = [k["label"] for k in sec["key_figures"]]
    assert len(labels) == 3 and "input age" in labels[0]
    assert {t["title"] for t in sec["tables"]} >= {"Drift per input column"}
    assert [t["title"] for t in sec["metric_tables"]] == ["Whole population", "By s"]


def test_hostile_column_names_are_escaped_in_the_card() -> None:
    from auditkit.result.records import AuditResult

    bad = '<script>alert(1)</script>"onmouseover='
    rng = np.random.default_rng(9)
    X_tr = pd.DataFrame({bad: rng.normal(size=300), "k": rng.choice([bad, "b"], 300)})
    X_ev = pd.DataFrame({bad: rng.normal(2, 1, size=300), "k": rng.choice([bad, "c"], 300)})
    res = DRIFT.run(_context(X_tr, X_ev))
    assert any(bad in f.text for f in res.findings)
    doc = AuditResult("1.0", "t", "1970-01-01T00:00:00Z", {}, {}, {}, (res,)).to_dict()
    html = auditkit.render_html(doc)
    assert "<script>alert" not in html and '"onmouseover=' not in html


def test_identifier_columns_are_compared_but_not_judged() -> None:
    rng = np.random.default_rng(10)
    X_tr = pd.DataFrame({"customer_id": np.arange(400), "v": rng.normal(size=400)})
    X_ev = pd.DataFrame({"customer_id": np.arange(400, 700), "v": rng.normal(size=300)})
    X_tr["email"] = [f"u{i}@example.com" for i in range(400)]
    X_ev["email"] = [f"w{i}@example.com" for i in range(300)]
    res = check_section(DRIFT, _context(X_tr, X_ev))
    cid = res.get("population_stability_index", input_feature="customer_id")
    assert cid.value > 0.25 and cid.flags == ("identifier",) and cid.p_adjusted is None
    assert "direct identifier" in cid.reason
    assert not [f for f in res.findings if f.severity in ("fail", "warn")]
    texts = [f.text for f in res.findings]
    assert any(t.startswith("customer_id, email look like direct identifiers") for t in texts)
    assert not any("categories the training data lacks" in t for t in texts)
    v = res.get("population_stability_index", input_feature="v")
    assert v.p_adjusted == v.p_value  # the family holds the one judged column
