"""Privacy section: membership inference at chance / above chance, no leak, gap, curves, DP."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import auditkit
from auditkit.adapters import SklearnModel
from auditkit.exceptions import ParameterError
from auditkit.sections import SECTIONS, AuditContext
from auditkit.sections._folds import fold_models_proba, get_folds, take_rows
from auditkit.sections._mia import attack_metrics, reference_attack_scores, true_class_proba
from auditkit.sections.privacy import (
    _sample_rows,
    history_series,
    learning_curve_note,
)
from auditkit.testing import check_section, make_context


def _data(n, seed):
    X, y = make_classification(
        n_samples=n, n_features=8, n_informative=5, flip_y=0.2, class_sep=0.8, random_state=seed
    )
    return X, y


def _three_sets(seed=0):
    """Target-training rows, members and non-members, all from one distribution."""
    X, y = _data(1500 + 1500 + 3000, seed)
    return (X[:1500], y[:1500]), (X[1500:3000], y[1500:3000]), (X[3000:], y[3000:])


def _auc(res, attack, **kw):
    return res.get("membership_auc", attack=attack, feature=None, **kw).value


def test_attacks_at_chance_when_the_model_never_saw_either_set():
    (Xc, yc), (Xa, ya), (Xb, yb) = _three_sets(0)
    tree = DecisionTreeClassifier(random_state=0).fit(Xc, yc)  # memorises Xc only
    res = auditkit.audit(
        tree, Xb, yb, train=(Xa, ya), sections=["privacy"], n_boot=100, options={"cv": 5}
    ).section("privacy")
    assert res.status == "ok"
    assert res.info["n_members"] == res.info["n_non_members"] == 1500
    assert abs(_auc(res, "loss") - 0.5) < 0.05
    # the fold models DID train on the members (k-1 of k folds each): with one "out"
    # reference per candidate this gives nothing away
    assert abs(_auc(res, "reference") - 0.5) < 0.05


def test_a_leaky_reference_design_would_not_be_at_chance():
    """The same setting as above, scoring members against a fold model that trained on them:
    the attack separates members from non-members although the target never saw either. This
    shows the chance-level test above has the power to catch the leak."""
    (Xc, yc), (Xa, ya), (Xb, yb) = _three_sets(0)
    tree = DecisionTreeClassifier(random_state=0).fit(Xc, yc)
    ctx = make_context(n=50)
    from auditkit.adapters import wrap
    from auditkit.sections import AuditConfig, Predictions, TrainData

    model = wrap(tree)
    proba = model.predict_proba(Xb)
    preds = Predictions(
        y_true=yb, y_pred=proba.argmax(1), y_proba=proba, classes=("0", "1"), pos_label=1
    )
    ctx = AuditContext(
        config=AuditConfig(sections=("privacy",), options={"cv": 5}),
        predictions=preds,
        model=model,
        X=Xb,
        train=TrainData(X=Xa, y=ya),
    )
    folds = get_folds(ctx)
    fold_of = folds.fold_of()
    members, non_members, population = _sample_rows(
        ctx, n_train=1500, n_eval=3000, with_population=True
    )
    fp_tr = fold_models_proba(ctx, folds, take_rows(Xa, members))
    leaky_ref = (fold_of[members] + 1) % folds.k  # an "in" model for every member
    p_ref_in = true_class_proba(fp_tr[leaky_ref, np.arange(len(members))], ya[members])
    rows = np.concatenate([non_members, population])
    fp_ev = fold_models_proba(ctx, folds, Xb[rows])
    m = len(non_members)
    rng = np.random.default_rng(0)
    ref_out = rng.integers(0, folds.k, m)
    p_true = np.stack([true_class_proba(fp_ev[j], yb[rows]) for j in range(folds.k)])
    pt_tr = true_class_proba(model.predict_proba(Xa[members]), ya[members])
    pt_ev = true_class_proba(proba, yb)
    s_in = reference_attack_scores(pt_tr, p_ref_in, leaky_ref, pt_ev[population], p_true[:, m:])
    s_out = reference_attack_scores(
        pt_ev[non_members],
        p_true[ref_out, np.arange(m)],
        ref_out,
        pt_ev[population],
        p_true[:, m:],
    )
    # it fails the chance test that the real design passes
    assert abs(attack_metrics(s_in, s_out)["auc"] - 0.5) > 0.05


def test_attacks_detect_a_memorising_model():
    X, y = _data(3000, 1)
    Xtr, ytr, Xte, yte = X[:1000], y[:1000], X[1000:], y[1000:]
    tree = DecisionTreeClassifier(random_state=0).fit(Xtr, ytr)  # unpruned: memorises
    res = auditkit.audit(
        tree, Xte, yte, train=(Xtr, ytr), sections=["privacy"], n_boot=100, options={"cv": 4}
    ).section("privacy")
    for attack in ("loss", "reference"):
        auc = res.get("membership_auc", attack=attack, feature=None)
        assert auc.value > 0.6, attack
        assert auc.ci[0] > 0.55
        adv = res.get("membership_advantage", attack=attack, feature=None).value
        assert adv > 0.2
    gap = res.get("generalization_gap_accuracy").value
    assert gap == pytest.approx(1.0 - np.mean(tree.predict(Xte) == yte))
    assert any(f.severity == "warn" and "memorised" in f.text for f in res.findings)
    assert any(
        f.severity in ("warn", "fail") and "membership leak" in f.text for f in res.findings
    )


def test_regularised_model_leaks_little():
    X, y = _data(3000, 2)
    lr = LogisticRegression(max_iter=500).fit(X[:1500], y[:1500])
    res = auditkit.audit(
        lr, X[1500:], y[1500:], train=(X[:1500], y[:1500]), sections=["privacy"], n_boot=100
    ).section("privacy")
    assert abs(_auc(res, "loss") - 0.5) < 0.05
    assert abs(_auc(res, "reference") - 0.5) < 0.05


def test_records_groups_charts_and_tables():
    ctx = make_context(n=400, n_boot=30, options={"cv": 3})
    res = SECTIONS.get("privacy").run(ctx)
    names = {
        "membership_auc",
        "membership_advantage",
        "membership_tpr_at_1pct_fpr",
        "membership_tpr_at_0_1pct_fpr",
    }
    for attack in ("loss", "reference"):
        overall = [m for m in res.metrics if m.attack == attack and m.feature is None]
        assert {m.name for m in overall} == names
        assert all(m.ci is not None and m.ci[0] <= m.ci[1] for m in overall)
        groups = [m for m in res.metrics if m.attack == attack and m.feature == ("group",)]
        assert {m.group for m in groups} == {("a",), ("b",), ("c",)}
        assert {m.name for m in groups} == names
    small = [m for m in res.metrics if m.group == ("c",)]
    assert all("too_small" in m.flags for m in small)
    roc = next(c for c in res.charts if c.name == "membership_roc")
    assert roc.kind == "line" and roc.data["diagonal"] is True
    assert len(roc.data["series"]) == 2
    for s in roc.data["series"]:
        assert s["x"][0] == 0.0 and s["y"][-1] == 1.0 and np.all(np.diff(s["y"]) >= 0)
    assert next(c for c in res.charts if c.name == "membership_roc_low_fpr").data["logx"]
    table = next(t for t in res.tables if t.name == "membership_inference")
    assert len(table.rows) == 2 * (1 + 3)
    assert {"generalization_gap_accuracy", "generalization_gap_loss"} <= {
        m.name for m in res.metrics
    }


def test_generalisation_gap_values():
    ctx = make_context(n=300, n_boot=20)
    res = SECTIONS.get("privacy").run(ctx)
    est = ctx.model.raw
    acc_tr = np.mean(est.predict(ctx.train.X) == ctx.train.y)
    acc_ev = np.mean(est.predict(ctx.X) == ctx.predictions.y_true)
    from sklearn.metrics import log_loss

    ll_tr = log_loss(ctx.train.y, est.predict_proba(ctx.train.X))
    ll_ev = log_loss(ctx.predictions.y_true, est.predict_proba(ctx.X))
    assert res.get("generalization_gap_accuracy").value == pytest.approx(acc_tr - acc_ev)
    assert res.get("generalization_gap_loss").value == pytest.approx(ll_ev - ll_tr, rel=1e-9)
    ci = res.get("generalization_gap_accuracy").ci
    assert ci[0] <= acc_tr - acc_ev <= ci[1]


def test_skipped_without_training_data():
    X, y = _data(200, 3)
    lr = LogisticRegression().fit(X[:100], y[:100])
    res = auditkit.audit(lr, X[100:], y[100:], sections=["privacy"]).section("privacy")
    assert res.status == "skipped"
    assert "training data" in res.reason


def test_model_that_cannot_be_retrained_gets_the_loss_attack_only():
    X, y = _data(600, 4)
    lr = LogisticRegression().fit(X[:300], y[:300])
    res = auditkit.audit(
        lr.predict_proba,
        X[300:],
        y[300:],
        train=(X[:300], y[:300]),
        sections=["privacy"],
        n_boot=20,
    ).section("privacy")
    assert res.status == "ok"
    assert res.get("membership_auc", attack="loss").value is not None
    ref = res.get("membership_auc", attack="reference")
    assert ref.value is None and "cannot be retrained" in ref.reason
    assert any("did not run" in f.text for f in res.findings)
    assert res.info["n_non_members"] == 300  # no population needed: all eval rows are used


class _DPModel(SklearnModel):
    def describe(self):
        d = super().describe()
        d["dp"] = {"epsilon": 1.0, "delta": 0.0, "noise_multiplier": 1.1}
        return d


def test_dp_budget_and_bound_are_reported():
    X, y = _data(600, 5)
    lr = LogisticRegression().fit(X[:300], y[:300])
    res = auditkit.audit(
        _DPModel(lr), X[300:], y[300:], train=(X[:300], y[:300]), sections=["privacy"], n_boot=20
    ).section("privacy")
    e = np.exp(1.0)
    assert res.get("dp_epsilon").value == 1.0 and res.get("dp_delta").value == 0.0
    assert res.get("membership_auc_bound").value == pytest.approx(e / (1 + e))
    assert res.get("membership_advantage_bound").value == pytest.approx((e - 1) / (e + 1))
    assert res.info["dp"]["epsilon"] == 1.0
    assert any("differential privacy" in f.text for f in res.findings)


class _CheckpointLike(SklearnModel):
    kind = "checkpoint"

    def describe(self):
        d = super().describe()
        d["history"] = [
            {
                "epoch": i,
                "train_loss": 0.7 - 0.1 * i,
                "val_loss": v,
                "train_acc": 0.6 + 0.05 * i,
                "val_acc": 0.7,
            }
            for i, v in enumerate([0.6, 0.5, 0.45, 0.5, 0.6])
        ]
        return d


def test_learning_curves_from_checkpoint_history():
    ctx = make_context(n=200, n_boot=10)
    model = _CheckpointLike(ctx.model.raw)
    ctx = AuditContext(
        config=ctx.config,
        predictions=ctx.predictions,
        model=model,
        X=ctx.X,
        sensitive=ctx.sensitive,
        train=ctx.train,
    )
    res = SECTIONS.get("privacy").run(ctx)
    loss = next(c for c in res.charts if c.name == "learning_curve_loss")
    assert loss.kind == "line"
    assert {s["name"] for s in loss.data["series"]} == {"train_loss", "val_loss"}
    assert loss.data["series"][0]["x"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert any(c.name == "learning_curve_accuracy" for c in res.charts)
    assert "epoch 3" in res.info["learning_curve_note"]
    assert any(f.severity == "warn" and "overfit" in f.text for f in res.findings)


def test_history_formats_and_notes():
    e1, s1 = history_series({"train_loss": [0.5, 0.4], "val_loss": [0.55, 0.5]})
    e2, s2 = history_series(
        [
            {"epoch": 0, "train_loss": 0.5, "val_loss": 0.55},
            {"epoch": 1, "train_loss": 0.4, "val_loss": 0.5},
        ]
    )
    assert e1 == e2 == [0.0, 1.0] and s1 == s2
    assert "no clear sign" in learning_curve_note(s1)
    assert learning_curve_note({"train_loss": [0.5, 0.4]}) is None
    gap = learning_curve_note({"train_loss": [0.3, 0.1], "val_loss": [0.5, 0.45]})
    assert "mild" in gap


def test_identifier_columns_are_flagged():
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "x1": rng.normal(size=n),
            "email": [f"user{i}@example.com" for i in range(n)],
        }
    )
    y = (X["x0"] + rng.normal(scale=0.5, size=n) > 0).astype(int).to_numpy()
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline

    est = make_pipeline(
        ColumnTransformer([("num", "passthrough", ["x0", "x1"])]), LogisticRegression()
    ).fit(X.iloc[:200], y[:200])
    res = auditkit.audit(
        est, X.iloc[200:], y[200:], train=(X.iloc[:200], y[:200]), sections=["privacy"], n_boot=10
    ).section("privacy")
    risks = [m for m in res.metrics if m.name == "identifier_risk"]
    assert [m.input_feature for m in risks] == ["email"]
    assert "e-mail" in risks[0].reason
    assert any("'email'" in f.text and f.severity == "warn" for f in res.findings)


def test_images_are_not_scanned_for_identifiers():
    X, y = _data(400, 6)
    lr = LogisticRegression().fit(X[:200], y[:200])
    res = auditkit.audit(
        lr, X[200:], y[200:], train=(X[:200], y[:200]), sections=["privacy"], n_boot=10
    ).section("privacy")
    assert "not a table" in res.info["identifier_scan"]


def test_balanced_disjoint_samples():
    ctx = make_context(n=300)
    mem, non, pop = _sample_rows(ctx, n_train=300, n_eval=300, with_population=True)
    assert len(mem) == len(non) == 150 and len(pop) == 150
    assert not set(non) & set(pop)
    mem2, non2, pop2 = _sample_rows(ctx, n_train=300, n_eval=300, with_population=False)
    assert len(mem2) == len(non2) == 300 and len(pop2) == 0
    ctx = make_context(n=300, options={"privacy_max_rows": 50, "privacy_population": 20})
    mem, non, pop = _sample_rows(ctx, n_train=300, n_eval=300, with_population=True)
    assert len(mem) == len(non) == 50 and len(pop) == 20


def test_bad_option():
    ctx = make_context(n=100, options={"privacy_max_rows": 0})
    with pytest.raises(ParameterError, match="privacy_max_rows"):
        SECTIONS.get("privacy").run(ctx)


def test_section_conforms_and_is_deterministic():
    res = check_section(SECTIONS.get("privacy"), make_context(n=200, n_boot=20, options={"cv": 3}))
    assert res.status == "ok"


# ---------------------------------------------------------------------- reference checkpoints
def test_checkpoint_privacy_with_learning_curves(tiny_ckpt):
    from auditkit.data import load_dataset

    ds = load_dataset("adult")
    res = auditkit.audit(
        tiny_ckpt("adult-mlp"),
        ds.test.X.iloc[:400],
        ds.test.y[:400],
        train=(ds.train.X.iloc[:300], ds.train.y[:300]),
        sections=["privacy"],
        n_boot=50,
        options={"cv": 3},
    ).section("privacy")
    assert res.status == "ok", res.reason
    for attack in ("loss", "reference"):
        auc = res.get("membership_auc", attack=attack, feature=None)
        assert auc.value is not None and 0 <= auc.value <= 1
    assert res.get("membership_auc", attack="loss", feature=("sex",), group=("Male",))
    curve = next(c for c in res.charts if c.name == "learning_curve_loss")
    assert {s["name"] for s in curve.data["series"]} == {"train_loss", "val_loss"}
    assert not [m for m in res.metrics if m.name == "identifier_risk"]


@pytest.mark.slow
def test_checkpoint_text_model(tiny_ckpt):
    from auditkit.data import load_dataset

    ds = load_dataset("imdb")
    res = auditkit.audit(
        tiny_ckpt("imdb-lstm"),
        ds.test.X[:200],
        ds.test.y[:200],
        train=(ds.train.X[:300], ds.train.y[:300]),
        sections=["privacy", "stability"],
        n_boot=20,
        options={"cv": 3},
    )
    assert res.section("privacy").status == "ok", res.section("privacy").reason
    assert res.section("stability").info["mode"] == "refit"
    assert "not a table" in res.section("privacy").info["identifier_scan"]


# --------------------------------------------- issue 14: evidence for per-group exposure
from auditkit.report import MetricValue  # noqa: E402
from auditkit.sections.privacy import PrivacySection, auc_p_value, exposed_group  # noqa: E402


def _auc_rec(value, ci=None, group=None, flags=(), p=None):
    return MetricValue(
        "privacy",
        "membership_auc",
        value,
        feature=("sex",) if group else None,
        group=(group,) if group else None,
        ci=ci,
        attack="loss",
        flags=flags,
        p_adjusted=p,
    )


def _overall_records(auc):
    return [
        _auc_rec(auc, (auc - 0.02, auc + 0.02)),
        MetricValue("privacy", "membership_tpr_at_1pct_fpr", 0.01, attack="loss"),
    ]


def _group_warnings(records):
    out = PrivacySection._attack_findings(records, {"loss": {}}, 0.95)
    return [f for f in out if f.text.startswith("Group")]


def test_group_warning_needs_an_interval_clear_of_chance():
    base = _overall_records(0.45)
    # 0.56 is 0.11 above the overall AUC, but its own interval contains 0.5: no warning
    assert _group_warnings(base + [_auc_rec(0.56, (0.47, 0.65), "F")]) == []
    # clear of 0.5 but not distinguishable after the family adjustment: no warning
    assert _group_warnings(base + [_auc_rec(0.62, (0.55, 0.7), "F", p=0.3)]) == []
    # flagged too small: no warning, whatever the value
    assert _group_warnings(base + [_auc_rec(0.9, (0.8, 0.95), "F", ("too_small",))]) == []
    (w,) = _group_warnings(base + [_auc_rec(0.62, (0.55, 0.7), "F", p=0.0004)])
    assert "'F'" in w.text and w.severity == "warn" and w.evidence == "strong"


def test_auc_p_value_matches_the_auc_direction():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1, 200), rng.normal(0, 1, 200)
    assert auc_p_value(a, b) < 1e-6 and auc_p_value(b, a) > 0.99
    assert auc_p_value(np.zeros(5), np.zeros(5)) == 1.0


def _simulate(ctx, rng, shift_a):
    g_tr = ctx.train.sensitive["group"].astype(str).to_numpy()
    members, non_members = np.arange(len(g_tr)), np.arange(len(ctx.sensitive))
    s_in = rng.normal(0.0, 1.0, len(members)) + shift_a * (g_tr == "a")
    s_out = rng.normal(0.0, 1.0, len(non_members))
    recs = PrivacySection._group_records(ctx, "loss", s_in, s_out, members, non_members)
    overall = float(attack_metrics(s_in, s_out)["auc"])
    return exposed_group(recs, "loss", overall, ctx.config.ci_level), recs


def test_group_exposure_simulation_with_known_truth():
    """No group leaks: at most 5% of 60 logs warn. Group 'a' leaks (AUC about 0.71): the
    warning names it in at least 80% of logs. Records carry the test and Holm-adjusted p."""
    ctx = make_context(n=600, n_boot=50)
    rng = np.random.default_rng(14)
    null = [_simulate(ctx, rng, 0.0)[0] for _ in range(60)]
    assert sum(w is not None for w in null) <= 3
    hits = 0
    for _ in range(30):
        w, recs = _simulate(ctx, rng, 0.8)
        hits += w is not None and w.group == ("a",)
    assert hits >= 24
    aucs = [m for m in recs if m.name == "membership_auc"]
    assert all(m.test == "mann_whitney_u" and m.p_adjusted >= m.p_value for m in aucs)
