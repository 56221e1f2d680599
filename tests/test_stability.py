"""Stability section: fold scores equal scikit-learn's cross_validate; bootstrap fallback."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import auditkit
from auditkit.adapters import SklearnModel, wrap
from auditkit.exceptions import ParameterError
from auditkit.sections import SECTIONS, AuditConfig, AuditContext, Predictions, TrainData
from auditkit.sections._folds import Folds, get_folds
from auditkit.sections.stability import StabilitySection, fairness_disparities, spread_p_value
from auditkit.testing import check_section, make_context, make_tabular


def _binary(seed, n=240):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, random_state=seed)
    return X, y


def _fold_values(res, name, feature=None):
    recs = [
        m for m in res.metrics if m.name == name and m.fold is not None and m.feature == feature
    ]
    return np.array([m.value for m in sorted(recs, key=lambda m: m.fold)])


ESTIMATORS = [
    LogisticRegression(max_iter=500),
    DecisionTreeClassifier(max_depth=4, random_state=0),
    RandomForestClassifier(n_estimators=15, random_state=0),
    GaussianNB(),
    make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=500)),
]


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("k", [3, 5])
def test_fold_scores_equal_cross_validate_binary(est, seed, k):
    X, y = _binary(seed)
    Xtr, ytr, Xte, yte = X[:160], y[:160], X[160:], y[160:]
    fitted = clone(est).fit(Xtr, ytr)
    res = auditkit.audit(
        fitted,
        Xte,
        yte,
        train=(Xtr, ytr),
        sections=["stability"],
        random_state=seed,
        options={"cv": k},
    ).section("stability")
    assert res.status == "ok" and res.info["mode"] == "refit"
    cv = StratifiedKFold(k, shuffle=True, random_state=seed)
    ref = cross_validate(
        clone(est),
        Xtr,
        ytr,
        cv=cv,
        scoring=["accuracy", "balanced_accuracy", "roc_auc", "neg_log_loss"],
    )
    np.testing.assert_array_equal(_fold_values(res, "accuracy"), ref["test_accuracy"])
    np.testing.assert_array_equal(
        _fold_values(res, "balanced_accuracy"), ref["test_balanced_accuracy"]
    )
    np.testing.assert_allclose(
        _fold_values(res, "roc_auc"), ref["test_roc_auc"], rtol=0, atol=1e-15
    )
    # sklearn's binary log-loss scorer rebuilds the negative-class column as 1 - p1, which
    # differs from the estimator's own p0 in the last bits when p0 is tiny
    np.testing.assert_allclose(_fold_values(res, "log_loss"), -ref["test_neg_log_loss"], rtol=1e-9)
    mean = res.get("accuracy_mean")
    assert mean is not None and mean.fold is None
    assert mean.value == pytest.approx(np.mean(ref["test_accuracy"]))
    assert res.get("accuracy_std").value == pytest.approx(np.std(ref["test_accuracy"]))
    assert res.get("accuracy_min").value == pytest.approx(np.min(ref["test_accuracy"]))
    assert res.get("accuracy_max").value == pytest.approx(np.max(ref["test_accuracy"]))


@pytest.mark.parametrize("seed", [0, 3])
def test_fold_scores_equal_cross_validate_multiclass_string_labels(seed):
    iris = load_iris()
    rng = np.random.default_rng(seed)
    idx = rng.permutation(150)
    X = iris.data[idx]
    y = np.asarray(iris.target_names)[iris.target[idx]]  # string labels
    est = LogisticRegression(max_iter=1000)
    fitted = clone(est).fit(X[:100], y[:100])
    res = auditkit.audit(
        fitted,
        X[100:],
        y[100:],
        train=(X[:100], y[:100]),
        sections=["stability"],
        random_state=seed,
    ).section("stability")
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    ref = cross_validate(
        clone(est),
        X[:100],
        y[:100],
        cv=cv,
        scoring=["accuracy", "balanced_accuracy", "roc_auc_ovr", "neg_log_loss"],
    )
    np.testing.assert_array_equal(_fold_values(res, "accuracy"), ref["test_accuracy"])
    np.testing.assert_array_equal(
        _fold_values(res, "balanced_accuracy"), ref["test_balanced_accuracy"]
    )
    np.testing.assert_allclose(_fold_values(res, "roc_auc"), ref["test_roc_auc_ovr"], atol=1e-15)
    np.testing.assert_allclose(
        _fold_values(res, "log_loss"), -ref["test_neg_log_loss"], rtol=1e-15
    )
    # no fairness disparities on a multiclass task
    assert not any(m.name.startswith("demographic") for m in res.metrics)


def _pipeline():
    pre = ColumnTransformer([("g", OneHotEncoder(), ["group"])], remainder="passthrough")
    return make_pipeline(pre, LogisticRegression(max_iter=500))


def test_fairness_per_fold_with_dataframe_and_sensitive_feature():
    X, y, _ = make_tabular(900, seed=4)
    Xtr, ytr, Xte, yte = X.iloc[:600], y[:600], X.iloc[600:], y[600:]
    est = _pipeline().fit(Xtr, ytr)
    res = auditkit.audit(
        est,
        Xte,
        yte,
        sensitive_features="group",
        train=(Xtr, ytr),
        sections=["stability"],
        random_state=2,
        options={"cv": 4},
    ).section("stability")
    cv = StratifiedKFold(4, shuffle=True, random_state=2)
    ref = cross_validate(
        _pipeline(),
        Xtr,
        ytr,
        cv=cv,
        scoring=["accuracy"],
        return_estimator=True,
        return_indices=True,
    )
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
    )

    for name, fn in [
        ("demographic_parity_difference", demographic_parity_difference),
        ("demographic_parity_ratio", demographic_parity_ratio),
        ("equalized_odds_difference", equalized_odds_difference),
    ]:
        want = []
        for est_i, te in zip(ref["estimator"], ref["indices"]["test"]):
            Xi = Xtr.iloc[te]
            want.append(fn(ytr[te], est_i.predict(Xi), sensitive_features=Xi["group"]))
        np.testing.assert_allclose(_fold_values(res, name, ("group",)), want, atol=1e-12)
        assert res.get(f"{name}_mean", feature=("group",)).value == pytest.approx(np.mean(want))
    assert any("four-fifths" in f.text for f in res.findings)
    kinds = {c.kind for c in res.charts}
    assert kinds == {"line", "bar"}
    bar = next(c for c in res.charts if c.kind == "bar")
    assert bar.data["reference"] == 0.8 and len(bar.data["values"]) == 4


@pytest.mark.parametrize("seed", range(8))
def test_fairness_disparities_equal_fairlearn(seed):
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
    )

    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    g = rng.choice(["a", "b", "c", "d"][: int(rng.integers(2, 5))], n)
    yt, yp = rng.integers(0, 2, n), rng.integers(0, 2, n)
    h = rng.choice(["x", "y"], n)
    got = fairness_disparities(yt, yp, {"g": g, "h": h})
    for col, sf in (("g", g), ("h", h)):
        vals, sizes = got[col]
        assert vals["demographic_parity_difference"] == pytest.approx(
            demographic_parity_difference(yt, yp, sensitive_features=sf)
        )
        assert vals["demographic_parity_ratio"] == pytest.approx(
            demographic_parity_ratio(yt, yp, sensitive_features=sf)
        )
        assert vals["equalized_odds_difference"] == pytest.approx(
            equalized_odds_difference(yt, yp, sensitive_features=sf)
        )
        assert sizes == {k: int(v) for k, v in zip(*np.unique(sf, return_counts=True))}


def test_model_that_cannot_be_retrained_gets_bootstrap():
    X, y = _binary(0)
    est = LogisticRegression(max_iter=500).fit(X[:160], y[:160])
    res = auditkit.audit(
        est.predict_proba,
        X[160:],
        y[160:],
        train=(X[:160], y[:160]),
        sections=["stability"],
        options={"cv": 4},
    ).section("stability")
    assert res.status == "ok"
    assert res.info["mode"] == "bootstrap" and res.info["data"] == "eval"
    assert any("cannot be retrained" in f.text for f in res.findings)
    assert "bootstrap" in res.info["description"]
    acc = _fold_values(res, "accuracy")
    assert len(acc) == 4
    # each value is the accuracy of the model on one bootstrap resample of the evaluation rows
    proba = est.predict_proba(X[160:])
    ok = (proba.argmax(1) == y[160:]).astype(float)
    assert all(0 <= a <= 1 for a in acc) and np.std(acc) > 0
    assert abs(np.mean(acc) - ok.mean()) < 0.1


def test_torch_module_gets_bootstrap():
    torch = pytest.importorskip("torch")
    X, y = _binary(1)
    torch.manual_seed(0)
    module = torch.nn.Linear(6, 2)
    res = auditkit.audit(
        module, X[160:].astype(np.float32), y[160:], sections=["stability"], options={"cv": 3}
    ).section("stability")
    assert res.info["mode"] == "bootstrap"
    assert "a bare torch module" in res.findings[0].text


def test_without_train_data_folds_come_from_eval_data():
    X, y = _binary(2)
    est = LogisticRegression(max_iter=500).fit(X[:160], y[:160])
    res = auditkit.audit(est, X[160:], y[160:], sections=["stability"], options={"cv": 3}).section(
        "stability"
    )
    assert res.info["mode"] == "refit" and res.info["data"] == "eval"
    assert any("No training data" in f.text for f in res.findings)
    ref = cross_validate(
        LogisticRegression(max_iter=500),
        X[160:],
        y[160:],
        scoring="accuracy",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    np.testing.assert_array_equal(_fold_values(res, "accuracy"), ref["test_score"])


def test_verdict_flip_is_flagged():
    folds = Folds(
        mode="refit",
        source="train",
        k=4,
        seed=0,
        splitter="StratifiedKFold",
        y=np.zeros(4, dtype=np.int64),
        sensitive=None,
        test_index=(),
        pred=(),
        proba=(),
        models=(),
    )
    ctx = make_context(n=50)
    per_fold = {
        ("demographic_parity_ratio", "sex"): [0.75, 0.82, 0.9, None],
        ("demographic_parity_ratio", "race"): [0.5, 0.6, 0.55, 0.7],
    }
    found = StabilitySection._findings(ctx, folds, per_fold)
    flips = [f for f in found if "flips" in f.text]
    assert len(flips) == 1 and "'sex'" in flips[0].text and flips[0].severity == "warn"
    assert "passes" in flips[0].text and "2 of 3" in flips[0].text
    same = [f for f in found if "'race'" in f.text]
    assert same and same[0].severity == "info" and "fails" in same[0].text


class _CountingModel(SklearnModel):
    refits = 0

    def refit(self, X, y, *, random_state=0):
        type(self).refits += 1
        return super().refit(X, y, random_state=random_state)


def test_fold_models_are_computed_once_and_shared():
    _CountingModel.refits = 0
    ctx = make_context(n=200, options={"cv": 3})
    model = _CountingModel(ctx.model.raw)
    ctx = AuditContext(
        config=ctx.config,
        predictions=ctx.predictions,
        model=model,
        X=ctx.X,
        sensitive=ctx.sensitive,
        train=ctx.train,
    )
    SECTIONS.get("stability").run(ctx)
    SECTIONS.get("privacy").run(ctx)
    assert _CountingModel.refits == 3
    folds = get_folds(ctx)
    assert folds.mode == "refit" and len(folds.models) == 3
    # the held-out folds partition the training rows
    assert np.array_equal(np.sort(np.concatenate(folds.test_index)), np.arange(200))


def test_section_conforms_and_is_deterministic():
    res = check_section(SECTIONS.get("stability"), make_context(n=200, options={"cv": 3}))
    assert res.status == "ok"
    assert {m.fold for m in res.metrics} == {0, 1, 2, None}


@pytest.mark.parametrize("bad", [1, 0, "5", 2.5, True])
def test_bad_cv_option(bad):
    ctx = make_context(n=100, options={"cv": bad})
    with pytest.raises(ParameterError, match="option 'cv'"):
        SECTIONS.get("stability").run(ctx)


def test_prediction_log_gets_bootstrap():
    rng = np.random.default_rng(0)
    yt = rng.integers(0, 2, 300)
    yp = np.where(rng.random(300) < 0.8, yt, 1 - yt)
    res = auditkit.audit_predictions(
        yt, yp, sensitive_features=rng.choice(["a", "b"], 300), sections=["stability"]
    ).section("stability")
    assert res.status == "ok" and res.info["mode"] == "bootstrap"
    assert not any(m.name in ("roc_auc", "log_loss") for m in res.metrics)
    assert len(_fold_values(res, "demographic_parity_ratio", ("sensitive_feature_0",))) == 5


def test_rare_class_keeps_stratified_folds():
    """A class with fewer rows than folds: still stratified, so every training part holds it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.r_[np.zeros(58, int), np.ones(2, int)]
    est = LogisticRegression().fit(X, y)
    train = TrainData(X=X, y=y)
    proba = wrap(est).predict_proba(X)
    preds = Predictions(
        y_true=y, y_pred=proba.argmax(1), y_proba=proba, classes=("0", "1"), pos_label=1
    )
    ctx = AuditContext(
        config=AuditConfig(sections=("stability",), options={"cv": 3}),
        predictions=preds,
        model=wrap(est),
        X=X,
        train=train,
    )
    res = SECTIONS.get("stability").run(ctx)
    assert res.status == "ok"
    assert res.info["splitter"] == "StratifiedKFold"
    assert any("fewer than 3 rows" in f.text for f in res.findings)
    folds = get_folds(ctx)
    for te in folds.test_index:  # the two rows of class 1 are in different folds
        assert (y[te] == 1).sum() <= 1
    # a fold whose held-out rows hold one class has no ROC AUC, and says why
    aucs = [m for m in res.metrics if m.name == "roc_auc"]
    assert any(m.value is None and m.reason for m in aucs)
    assert all(m.value is not None for m in res.metrics if m.name == "accuracy")


def test_every_class_smaller_than_k_falls_back_to_kfold():
    X = np.arange(8, dtype=float).reshape(-1, 1)
    y = np.r_[np.zeros(4, int), np.ones(4, int)]
    est = DecisionTreeClassifier(random_state=0).fit(X, y)
    proba = wrap(est).predict_proba(X)
    preds = Predictions(
        y_true=y, y_pred=proba.argmax(1), y_proba=proba, classes=("0", "1"), pos_label=1
    )
    ctx = AuditContext(
        config=AuditConfig(sections=("stability",), options={"cv": 5}),
        predictions=preds,
        model=wrap(est),
        X=X,
        train=TrainData(X=X, y=y),
    )
    res = SECTIONS.get("stability").run(ctx)
    assert res.info["splitter"] == "KFold"
    assert any("not stratified" in f.text for f in res.findings)


def test_dataframe_rows_keep_alignment():
    X, y, _ = make_tabular(400, seed=1)
    X = X.set_index(pd.Index(np.arange(1000, 1400)))  # a non-default index must not matter
    est = _pipeline().fit(X.iloc[:300], y[:300])
    res = auditkit.audit(
        est,
        X.iloc[300:],
        y[300:],
        train=(X.iloc[:300], y[:300]),
        sections=["stability"],
        options={"cv": 3},
    ).section("stability")
    ref = cross_validate(
        _pipeline(),
        X.iloc[:300],
        y[:300],
        scoring="accuracy",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    np.testing.assert_array_equal(_fold_values(res, "accuracy"), ref["test_score"])


# ---------------------------------------------------------------------- reference checkpoints
def test_checkpoint_folds_equal_manual_refits(tiny_ckpt):
    """A reference checkpoint is retrained per fold through Lightning; the fold scores equal
    refitting it by hand on StratifiedKFold's splits (the checkpoint analogue of
    cross_validate)."""
    from auditkit.adapters import wrap
    from auditkit.data import load_dataset
    from auditkit.models.checkpoint import load_checkpoint

    ds = load_dataset("iris")
    path = tiny_ckpt("iris-mlp")
    res = auditkit.audit(path, ds.test.X, ds.test.y, train=(ds.train.X, ds.train.y),
                         sections=["stability"], random_state=3, options={"cv": 3}
                         ).section("stability")  # fmt: skip
    assert res.status == "ok", res.reason
    assert res.info["mode"] == "refit" and res.info["splitter"] == "StratifiedKFold"
    model = wrap(load_checkpoint(path))
    want = []
    for tr, te in StratifiedKFold(3, shuffle=True, random_state=3).split(ds.train.X, ds.train.y):
        fm = model.refit(ds.train.X.iloc[tr], ds.train.y[tr], random_state=3)
        want.append(np.mean(fm.predict_proba(ds.train.X.iloc[te]).argmax(1) == ds.train.y[te]))
    np.testing.assert_allclose(_fold_values(res, "accuracy"), want)
    assert len(_fold_values(res, "log_loss")) == 3


def test_checkpoint_fairness_per_fold(tiny_ckpt):
    from auditkit.data import load_dataset

    ds = load_dataset("adult")
    res = auditkit.audit(
        tiny_ckpt("adult-mlp"),
        ds.test.X.iloc[:300],
        ds.test.y[:300],
        train=(ds.train.X.iloc[:600], ds.train.y[:600]),
        sections=["stability"],
        options={"cv": 3},
        show_progress=False,
    ).section("stability")
    assert res.status == "ok", res.reason
    feats = {m.feature for m in res.metrics if m.name == "demographic_parity_ratio"}
    assert feats == {("sex",), ("race",), ("age_band",)}
    assert len(_fold_values(res, "demographic_parity_ratio", ("sex",))) == 3


# ------------------------------------- issue 14: evidence and small groups in stability
def _folds_of(k: int, n_fold: int, rng: np.random.Generator) -> Folds:
    y = rng.integers(0, 2, size=k * n_fold).astype(np.int64)
    idx = tuple(np.arange(i * n_fold, (i + 1) * n_fold) for i in range(k))
    return Folds(mode="refit", source="train", k=k, seed=0, splitter="StratifiedKFold", y=y,
                 sensitive=None, test_index=idx, pred=(), proba=(), models=())  # fmt: skip


def _accuracy_warns(ctx, folds, accs) -> bool:
    found = StabilitySection._findings(ctx, folds, {("accuracy", None): list(accs)})
    (f,) = [f for f in found if f.metric == "stability.accuracy_std"]
    return f.severity == "warn"


def test_fold_spread_warns_only_beyond_sampling_noise() -> None:
    """Known truth: 5 folds of 150 rows. Same true accuracy 0.8 in every fold (a spread of
    0.02-0.04 is pure noise): at most 7% of 300 repetitions warn, though most exceed 0.02.
    True accuracies 0.70-0.90 across folds: at least 80% warn."""
    ctx = make_context(n=50)
    rng = np.random.default_rng(14)
    folds = _folds_of(5, 150, rng)
    big_sd = warns = 0
    for _ in range(300):
        accs = rng.binomial(150, 0.8, size=5) / 150
        big_sd += float(np.std(accs)) > 0.02
        warns += _accuracy_warns(ctx, folds, accs)
    assert big_sd > 150 and warns <= 21
    truth = np.array([0.7, 0.75, 0.8, 0.85, 0.9])
    hits = sum(_accuracy_warns(ctx, folds, rng.binomial(150, truth) / 150) for _ in range(100))
    assert hits >= 80
    found = StabilitySection._findings(
        ctx, folds, {("accuracy", None): [0.78, 0.82, 0.8, 0.76, 0.83]}
    )
    (f,) = [f for f in found if f.metric == "stability.accuracy_std"]
    assert f.severity == "info" and "not distinguishable" in f.text and f.evidence == "none"


def test_flip_ignores_folds_with_small_groups_and_reads_the_threshold() -> None:
    folds = _folds_of(3, 10, np.random.default_rng(0))
    per_fold = {("demographic_parity_ratio", "sex"): [0.75, 0.82, 0.9]}
    ctx = make_context(n=50)
    found = StabilitySection._findings(
        ctx, folds, per_fold, {("demographic_parity_ratio", "sex"): {0}}
    )
    (f,) = [f for f in found if "'sex'" in f.text]
    assert f.severity == "info" and "passes" in f.text and "left out" in f.text
    ctx = make_context(n=50, options={"four_fifths_threshold": 0.7})
    (f,) = [f for f in StabilitySection._findings(ctx, folds, per_fold) if "'sex'" in f.text]
    assert f.severity == "info" and "passes" in f.text
    ctx = make_context(n=50, options={"four_fifths_threshold": 0.85})
    (f,) = [f for f in StabilitySection._findings(ctx, folds, per_fold) if "'sex'" in f.text]
    assert f.severity == "warn" and "at least 0.85" in f.text


def test_spread_records_carry_the_evidence_the_light_reads() -> None:
    from auditkit.report import AuditResult
    from auditkit.report._view import build_view

    ctx = make_context(n=300, options={"cv": 3})
    res = StabilitySection().run(ctx)
    std = res.get("accuracy_std")
    assert std is not None and std.test == "cochran_q" and 0 <= std.p_value <= 1
    vals = [m.value for m in res.metrics if m.name == "accuracy" and m.fold is not None]
    assert std.p_value == pytest.approx(spread_p_value("accuracy", vals, get_folds(ctx)))
    # a spread beyond the light's bound without evidence gets a neutral light
    loud = type(std)(**{**std.__dict__, "value": 0.09, "p_value": 0.5})
    sec = type(res)(**{**res.__dict__, "metrics": (loud,)})
    view = build_view(AuditResult("1.0", "0", "t", {}, {}, {}, (sec,)).to_dict())
    (ind,) = view["summary"]["indicators"]
    assert ind["status"] == "info" and "not distinguishable" in ind["reason"]
