"""Performance section: values equal scikit-learn's on random cases; intervals; findings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm

import auditkit
from auditkit.exceptions import DataValidationError
from auditkit.inputs.context import AuditConfig, AuditContext, Predictions
from auditkit.sections.performance import PerformanceSection, confusion_metrics, score_metrics
from auditkit.testing import check_section


def _preds(seed: int, k: int, n: int, *, ties: bool = False) -> Predictions:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k))
    y = np.argmax(logits + rng.normal(scale=1.5, size=(n, k)), axis=1)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if ties:
        proba = np.round(proba, 1)
        proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)
        proba = np.clip(proba, 0, 1)
        proba /= proba.sum(axis=1, keepdims=True)
    y_pred = np.argmax(proba, axis=1)
    if seed % 3 == 0:  # sometimes a class is never predicted
        y_pred = np.where(y_pred == k - 1, 0, y_pred)
    classes = tuple(f"c{i}" for i in range(k))
    return Predictions(y_true=y.astype(np.int64), y_pred=y_pred.astype(np.int64), y_proba=proba,
                       classes=classes, pos_label=1 if k == 2 else None)  # fmt: skip


def _ctx(p: Predictions, n_boot: int = 0, seed: int = 0) -> AuditContext:
    return AuditContext(config=AuditConfig(sections=("performance",), n_boot=n_boot,
                                           random_state=seed), predictions=p)  # fmt: skip


@pytest.mark.parametrize("seed", range(30))
def test_values_equal_sklearn(seed: int) -> None:
    k = [2, 2, 3, 5][seed % 4]
    n = [15, 80, 400][seed % 3]
    p = _preds(seed, k, n, ties=seed % 5 == 0)
    res = PerformanceSection().run(_ctx(p))
    get = {(m.name, m.label): m.value for m in res.metrics}
    yt, yp, proba = p.y_true, p.y_pred, p.y_proba
    assert proba is not None
    labels = list(range(k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's zero_division / missing-class warnings
        assert get[("accuracy", None)] == pytest.approx(skm.accuracy_score(yt, yp), abs=1e-12)
        assert get[("balanced_accuracy", None)] == pytest.approx(
            skm.balanced_accuracy_score(yt, yp), abs=1e-12)  # fmt: skip
        prec, rec, f1, sup = skm.precision_recall_fscore_support(yt, yp, labels=labels)
        cm = skm.confusion_matrix(yt, yp, labels=labels)
    for c in range(k):
        name = p.classes[c]
        assert get[("precision", name)] == pytest.approx(prec[c], abs=1e-12)
        assert get[("recall", name)] == pytest.approx(rec[c], abs=1e-12)
        assert get[("f1", name)] == pytest.approx(f1[c], abs=1e-12)
        assert get[("support", name)] == sup[c]
        for q in range(k):
            assert get[("confusion_count", f"true={name}; predicted={p.classes[q]}")] == cm[c, q]
    assert get[("log_loss", None)] == pytest.approx(skm.log_loss(yt, proba, labels=labels),
                                                    abs=1e-12)  # fmt: skip
    if k == 2:
        assert get[("roc_auc", None)] == pytest.approx(skm.roc_auc_score(yt, proba[:, 1]),
                                                       abs=1e-12)  # fmt: skip
        assert get[("brier_score", None)] == pytest.approx(
            skm.brier_score_loss(yt, proba[:, 1]), abs=1e-12)  # fmt: skip
    else:
        assert get[("brier_score", None)] == pytest.approx(
            skm.brier_score_loss(yt, proba, labels=labels), abs=1e-12)  # fmt: skip
        if len(np.unique(yt)) == k:
            auc = skm.roc_auc_score(yt, proba, multi_class="ovr", average="macro", labels=labels)
            assert get[("roc_auc", None)] == pytest.approx(auc, abs=1e-12)
        else:
            assert get[("roc_auc", None)] is None


def _ece_reference(conf: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for i in range(n_bins):
        last = i == n_bins - 1
        m = (conf >= edges[i]) & ((conf <= edges[i + 1]) if last else (conf < edges[i + 1]))
        if m.any():
            total += m.sum() / len(conf) * abs(conf[m].mean() - correct[m].mean())
    return total


@pytest.mark.parametrize("k", [2, 4])
def test_ece_matches_a_direct_loop(k: int) -> None:
    p = _preds(7, k, 700)
    assert p.y_proba is not None
    if k == 2:
        conf, correct = p.y_proba[:, 1], (p.y_true == 1).astype(float)
    else:
        conf = p.y_proba.max(axis=1)
        correct = (p.y_proba.argmax(axis=1) == p.y_true).astype(float)
    assert score_metrics(p)["expected_calibration_error"] == pytest.approx(
        _ece_reference(conf, correct), abs=1e-12)  # fmt: skip


def test_confusion_metrics_vectorised_over_resamples() -> None:
    cms = np.array([[[5, 1], [2, 7]], [[0, 0], [3, 4]]])
    out = confusion_metrics(cms)
    assert out["accuracy"].shape == (2,) and out["precision"].shape == (2, 2)
    assert out["precision"][1, 0] == 0.0  # 0/0 -> 0
    assert out["balanced_accuracy"][1] == pytest.approx(4 / 7)  # only the class present


def test_intervals_are_seeded_and_cover_the_estimate() -> None:
    p = _preds(3, 2, 1500)
    a = PerformanceSection().run(_ctx(p, n_boot=300, seed=1))
    b = PerformanceSection().run(_ctx(p, n_boot=300, seed=1))
    c = PerformanceSection().run(_ctx(p, n_boot=300, seed=2))
    assert a.to_dict() == b.to_dict() and a.to_dict() != c.to_dict()
    for m in a.metrics:
        if m.name in ("accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier_score"):
            assert m.ci is not None and m.ci[0] <= m.value <= m.ci[1], m.name
    # the row bootstrap's spread of accuracy matches the binomial standard error
    acc = a.get("accuracy")
    assert acc is not None and acc.ci is not None and acc.value is not None
    se = np.sqrt(acc.value * (1 - acc.value) / 1500)
    assert (acc.ci[1] - acc.ci[0]) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.15)
    auc = a.get("roc_auc")
    assert auc is not None and auc.ci is not None
    assert 0.01 < auc.ci[1] - auc.ci[0] < 0.1


def test_section_contract_findings_and_charts() -> None:
    res = check_section(PerformanceSection())
    assert res.status == "ok"
    kinds = {c.kind for c in res.charts}
    assert kinds == {"line"}
    assert {t.name for t in res.tables} == {"confusion_matrix", "per_class"}
    texts = " ".join(f.text for f in res.findings)
    assert "right" in texts and "ROC AUC" in texts and "calibrat" in texts


def test_without_scores_only_decision_metrics() -> None:
    rng = np.random.default_rng(0)
    yt, yp = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    r = auditkit.audit_predictions(yt, yp, sensitive_features=rng.choice(["a", "b"], 200),
                                   sections=["performance"], n_boot=50)  # fmt: skip
    s = r.section("performance")
    assert s is not None and s.status == "ok"
    names = {m.name for m in s.metrics}
    assert "accuracy" in names and "roc_auc" not in names and "log_loss" not in names
    assert "no scores" in s.info["scores"]


def test_undefined_precision_is_flagged() -> None:
    p = _preds(0, 3, 200)  # seed 0: the last class is never predicted
    res = PerformanceSection().run(_ctx(p))
    m = res.get("precision", label="c2")
    assert m is not None and m.value == 0.0 and "undefined" in m.flags
    assert m.reason is not None and "never predicted" in m.reason
    assert any("never predicts" in f.text for f in res.findings)


def test_binary_metric_on_multiclass_labels_is_an_error() -> None:
    rng = np.random.default_rng(0)
    yt, yp = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    with pytest.raises(DataValidationError, match=r"3 classes \(0, 1, 2\)"):
        auditkit.audit_predictions(yt, yp, sensitive_features=rng.choice(["a", "b"], 50),
                                   pos_label=1, sections=["performance"])  # fmt: skip
    with pytest.raises(DataValidationError, match="needs a binary task"):
        auditkit.audit_predictions(yt, yp, y_score=rng.random(50),
                                   sensitive_features=rng.choice(["a", "b"], 50))  # fmt: skip
