"""The performance section with sample weights (issue 14, part 7).

Every weighted figure equals scikit-learn's with ``sample_weight=`` on many random cases (zero,
integer and continuous weights, binary and multiclass); unit weights give the unweighted
section (values and intervals), integer weights the section of the repeated rows; a log
reduced to count tables (every engine) gives the weighted row audit's values (ROC AUC within
the stated histogram bound); the weighted bootstrap covers a known weighted truth.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

from auditkit.inputs.context import AuditConfig, AuditContext, Predictions
from auditkit.sections.performance import PerformanceSection


def _weights(rng: np.random.Generator, n: int, kind: int) -> np.ndarray:
    """0: continuous with zeros; 1: integers 0..4; 2: continuous (log-normal)."""
    if kind == 0:
        w = rng.exponential(1.0, n)
        w[rng.random(n) < 0.2] = 0.0
        return w
    if kind == 1:
        return rng.integers(0, 5, n).astype(np.float64)
    return rng.lognormal(0.0, 1.0, n)


def _case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(4000 + seed)
    k = 2 if seed % 2 == 0 else int(rng.integers(3, 5))
    n = int(rng.choice([30, 120, 400]))
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    if seed % 5 == 0:  # ties in the scores
        proba = np.round(proba, 1)
        proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)
        proba = np.clip(proba, 0.0, 1.0)
        proba /= proba.sum(axis=1, keepdims=True)
    # predictions mostly right, sometimes random, sometimes never a class
    yp = np.where(rng.random(n) < 0.6, y, rng.integers(0, k, n))
    if seed % 7 == 0:
        yp = np.where(yp == k - 1, 0, yp)
    w = _weights(rng, n, seed % 3)
    for c in range(k):  # every class keeps some weight (ROC AUC is defined)
        rows = np.flatnonzero(y == c)
        if rows.size == 0:
            y[c] = c
            rows = np.array([c])
        w[rows[0]] = max(w[rows[0]], 0.5)
    return y, yp, proba, w, k


def _run(p: Predictions, n_boot: int = 0, seed: int = 0) -> Any:
    cfg = AuditConfig(sections=("performance",), n_boot=n_boot, random_state=seed)
    return PerformanceSection().run(AuditContext(config=cfg, predictions=p))


def _preds(y: Any, yp: Any, proba: Any, k: int, w: Any) -> Predictions:
    return Predictions(
        y_true=np.asarray(y, np.int64), y_pred=np.asarray(yp, np.int64),
        y_proba=np.asarray(proba, np.float64), classes=tuple(f"c{i}" for i in range(k)),
        pos_label=1 if k == 2 else None, has_scores=True,
        sample_weight=None if w is None else np.asarray(w, np.float64),
    )  # fmt: skip


def _values(sec: Any) -> dict[tuple[Any, ...], Any]:
    return {(m.name, m.label): m.value for m in sec.metrics}


def _ece(conf: np.ndarray, correct: np.ndarray, w: np.ndarray, n_bins: int = 10) -> float:
    """Weighted ECE written out bin by bin: sum_b W_b / W * |mean_w(score) - mean_w(correct)|."""
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        wb = w[m].sum()
        if wb > 0:
            total += wb / w.sum() * abs(np.dot(w[m], conf[m]) / wb - np.dot(w[m], correct[m]) / wb)
    return total


@pytest.mark.parametrize("block", range(4))
def test_weighted_performance_equals_sklearn(block: int) -> None:
    """120 random cases: every value of the section equals scikit-learn with sample_weight."""
    for seed in range(block * 30, block * 30 + 30):
        y, yp, proba, w, k = _case(seed)
        sec = _run(_preds(y, yp, proba, k, w))
        v = _values(sec)
        assert sec.info["weighted"] is True and np.isclose(sec.info["weight_total"], w.sum())
        labels = list(range(k))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want: dict[tuple[Any, ...], float] = {
                ("accuracy", None): skm.accuracy_score(y, yp, sample_weight=w),
                ("balanced_accuracy", None): skm.balanced_accuracy_score(y, yp, sample_weight=w),
                ("log_loss", None): skm.log_loss(y, proba, labels=labels, sample_weight=w),
            }
            pr, rc, f1, sup = skm.precision_recall_fscore_support(
                y, yp, labels=labels, sample_weight=w, zero_division=0
            )
        if k == 2:
            want[("roc_auc", None)] = skm.roc_auc_score(y, proba[:, 1], sample_weight=w)
            want[("brier_score", None)] = skm.brier_score_loss(y, proba[:, 1], sample_weight=w)
            conf, correct = proba[:, 1], (y == 1).astype(float)
        else:
            want[("roc_auc", None)] = skm.roc_auc_score(
                y, proba, multi_class="ovr", average="macro", labels=labels, sample_weight=w
            )
            onehot = np.eye(k)[y]
            want[("brier_score", None)] = np.average(((onehot - proba) ** 2).sum(1), weights=w)
            conf = proba.max(axis=1)
            correct = (proba.argmax(axis=1) == y).astype(float)
        want[("expected_calibration_error", None)] = _ece(conf, correct, w)
        cm = skm.confusion_matrix(y, yp, labels=labels, sample_weight=w)
        for c in range(k):
            name = f"c{c}"
            want[("precision", name)] = pr[c]
            want[("recall", name)] = rc[c]
            want[("f1", name)] = f1[c]
            # scikit-learn's support counts rows; the weighted support is the confusion row sum
            want[("support", name)] = cm[c].sum()
            for q in range(k):
                want[("confusion_count", f"true={name}; predicted=c{q}")] = cm[c, q]
        for key, value in want.items():
            assert v[key] == pytest.approx(value, abs=1e-10), (seed, key)
        table = next(t for t in sec.tables if t.name == "confusion_matrix")
        assert np.allclose(np.array([r[1:] for r in table.rows], dtype=float), cm, atol=1e-10)


def test_unit_weights_equal_no_weights() -> None:
    """Unit weights: the same section, values and intervals (only the info says weighted)."""
    for seed in (0, 1, 5):
        y, yp, proba, _, k = _case(seed)
        a = _run(_preds(y, yp, proba, k, None), n_boot=200, seed=3)
        b = _run(_preds(y, yp, proba, k, np.ones(len(y))), n_boot=200, seed=3)
        assert len(a.metrics) == len(b.metrics)
        for ma, mb in zip(a.metrics, b.metrics, strict=True):
            assert (ma.name, ma.label) == (mb.name, mb.label)
            assert ma.value == pytest.approx(mb.value, abs=1e-12), ma.name
            assert (ma.ci is None) == (mb.ci is None)
            if ma.ci is not None:
                assert np.allclose(ma.ci, mb.ci, atol=1e-12), (seed, ma.name, ma.label)
        assert [t.rows for t in a.tables] == [t.rows for t in b.tables]
        assert [f.text for f in a.findings] == [f.text for f in b.findings]
        assert "weighted" not in a.info and b.info["weighted"] is True


def test_integer_weights_equal_repeated_rows() -> None:
    """Integer weights (zeros too): the values, tables and charts of the repeated rows."""
    for seed in range(12):
        y, yp, proba, _, k = _case(seed)
        w = np.random.default_rng(seed).integers(0, 4, len(y))
        w[np.unique(y, return_index=True)[1]] = 1  # every class keeps a row
        rep = np.repeat(np.arange(len(y)), w)
        a = _run(_preds(y, yp, proba, k, w))
        b = _run(_preds(y[rep], yp[rep], proba[rep], k, None))
        va, vb = _values(a), _values(b)
        assert va.keys() == vb.keys()
        for key, value in vb.items():
            assert va[key] == pytest.approx(value, abs=1e-10), (seed, key)
        for ta, tb in zip(a.tables, b.tables, strict=True):
            assert np.array(ta.rows, dtype=object).shape == np.array(tb.rows, dtype=object).shape
            for ra, rb in zip(ta.rows, tb.rows, strict=True):
                for xa, xb in zip(ra, rb, strict=True):
                    if isinstance(xb, (int, float)):
                        assert xa == pytest.approx(xb, abs=1e-10), (seed, ta.name)
                    elif isinstance(xb, list):
                        continue  # intervals: n rows and their weights resample differently
                    else:
                        assert xa == xb
        for ca, cb in zip(a.charts, b.charts, strict=True):
            for sa, sb in zip(ca.data["series"], cb.data["series"], strict=True):
                assert np.allclose(sa["x"], sb["x"]) and np.allclose(sa["y"], sb["y"]), ca.name


def _weighted_log(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1)
    if seed % 2:
        score = np.round(score, 2)  # many ties: histogram bins hold single values
    dec = (score > 0.5).astype(int)
    w = _weights(rng, n, seed % 3)
    return pd.DataFrame({
        "label": y, "decision": dec, "score": score, "w": w,
        "region": rng.choice(["north", "south", "east"], n),
    })  # fmt: skip


def _engines(tmp_path: Any) -> dict[str, Any]:
    import duckdb
    import polars as pl
    import pyarrow as pa

    def parquet(df: pd.DataFrame) -> str:
        p = tmp_path / "log.parquet"
        df.to_parquet(p)
        return str(p)

    return {
        "parquet": parquet,
        "duckdb-relation": lambda df: duckdb.from_arrow(pa.Table.from_pandas(df)),
        "polars": lambda df: pl.from_pandas(df),
        "polars-lazy": lambda df: pl.from_pandas(df).lazy(),
        "pandas": lambda df: df,
    }


@pytest.mark.parametrize("seed", range(3))
def test_reduced_weighted_performance_equals_the_rows(tmp_path: Any, seed: int) -> None:
    """Every engine: the reduced weighted section gives the weighted row section's values."""
    from auditkit import audit_predictions

    df = _weighted_log(seed)
    preds = Predictions(
        y_true=df.label.to_numpy(np.int64), y_pred=df.decision.to_numpy(np.int64),
        y_proba=np.column_stack([1 - df.score, df.score]), classes=("0", "1"), pos_label=1,
        has_scores=True, sample_weight=df.w.to_numpy(),
    )  # fmt: skip
    rows = _run(preds, n_boot=100, seed=3)
    want = {(m.name, m.label): (m.value, m.ci) for m in rows.metrics}
    for name, make in _engines(tmp_path).items():
        res = audit_predictions(
            data=make(df), y_true="label", y_pred="decision", y_score="score",
            sensitive_features="region", sample_weight="w", sections=["performance"],
            n_boot=100, random_state=3, options={"log_loss": True}, reduce=True,
        )  # fmt: skip
        sec = next(s for s in res.sections if s.name == "performance")
        assert sec.info["weighted"] is True, name
        assert sec.info["weight_total"] == pytest.approx(df.w.sum(), rel=1e-12)
        bound = sec.info["roc_auc_max_error"]
        got = {(m.name, m.label): (m.value, m.ci) for m in sec.metrics}
        assert got.keys() == want.keys(), name
        for key, (value, ci) in got.items():
            tol = bound + 1e-12 if key[0] == "roc_auc" else 1e-10
            assert value == pytest.approx(want[key][0], abs=tol), (name, key)
            if key[0] in ("accuracy", "balanced_accuracy", "precision", "recall", "f1"):
                # the same cells and the same random stream: the same interval
                assert np.allclose(ci, want[key][1], atol=1e-10), (name, key)
            assert (ci is None) == (want[key][1] is None), (name, key)
        # the weighted AUC bound is a bound: checked against scikit-learn directly
        auc = skm.roc_auc_score(df.label, df.score, sample_weight=df.w)
        assert abs(got[("roc_auc", None)][0] - auc) <= bound + 1e-12, name


def test_reduced_weighted_scores_table_has_weight_sums(tmp_path: Any) -> None:
    """The ROC histogram of a weighted reduction carries the weight sums of its cells."""
    from auditkit.scale import reduce_predictions

    df = _weighted_log(4, 2000)
    fine = np.minimum((df.score.to_numpy() * 16_384).astype(int), 16_383)
    for name, make in _engines(tmp_path).items():
        table = reduce_predictions(
            make(df), y_true="label", y_pred="decision", y_score="score",
            sensitive_features="region", sample_weight="w", log_loss=True,
        )  # fmt: skip
        sc = table.scores
        assert sc is not None
        for yv, fb, ws, wsq in zip(
            sc["y_true"], sc["fine_bin"], sc["weight_sum"], sc["weight_sq_sum"], strict=True
        ):
            m = (df.label.to_numpy() == yv) & (fine == fb)
            assert ws == pytest.approx(df.w[m].sum(), abs=1e-9), name
            assert wsq == pytest.approx((df.w[m] ** 2).sum(), abs=1e-9), name
        g = table.groups
        lp = -np.log(np.clip(df.score.to_numpy(), 2.220446049250313e-16, 1 - 2.2e-16))
        assert np.sum(g["weight_nll_pos"]) == pytest.approx(np.dot(df.w, lp), rel=1e-9), name


def test_weighted_reduced_log_loss_needs_the_weighted_sums() -> None:
    """An unweighted reduction has no weighted sums; the section then says why it lacks them."""
    from auditkit.scale import reduce_predictions

    df = _weighted_log(5, 500)
    table = reduce_predictions(
        df, y_true="label", y_pred="decision", y_score="score", sensitive_features="region",
        log_loss=True,
    )  # fmt: skip
    assert "weight_nll_pos" not in table.groups and "weight_sum" not in (table.scores or {})


def _population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Rows whose weighted accuracy is known: weights 1 or 5, accuracy depends on the weight."""
    w = np.where(rng.random(n) < 0.7, 1.0, 5.0)
    y = rng.integers(0, 2, n)
    right = rng.random(n) < np.where(w == 1, 0.6, 0.9)
    yp = np.where(right, y, 1 - y)
    score = np.clip(np.where(yp == 1, 0.7, 0.3) + rng.normal(0, 0.1, n), 0, 1)
    return y, yp, score, w


#: sum_w P(w) w acc(w) / sum_w P(w) w with P(w=1) = 0.7, P(w=5) = 0.3.
TRUE_ACCURACY = (0.7 * 0.6 + 1.5 * 0.9) / (0.7 + 1.5)


@pytest.mark.slow
def test_weighted_intervals_cover_the_weighted_truth() -> None:
    """The 95% interval of the weighted accuracy covers the weighted truth in 91-99% of logs,
    on rows and on reduced logs (the engine's normal law for the cell weight sums)."""
    from auditkit import audit_predictions

    rng = np.random.default_rng(11)
    hits_rows = hits_red = 0
    n_logs = 200
    for i in range(n_logs):
        y, yp, score, w = _population(rng, 400)
        sec = _run(_preds(y, yp, np.column_stack([1 - score, score]), 2, w), n_boot=300, seed=i)
        ci = next(m.ci for m in sec.metrics if m.name == "accuracy")
        hits_rows += ci[0] <= TRUE_ACCURACY <= ci[1]
        df = pd.DataFrame({"y": y, "d": yp, "s": score, "w": w, "g": "all"})
        red = audit_predictions(
            data=df, y_true="y", y_pred="d", sensitive_features="g", sample_weight="w",
            sections=["performance"], n_boot=300, random_state=i, reduce=True,
        )  # fmt: skip
        sec = next(s for s in red.sections if s.name == "performance")
        ci = next(m.ci for m in sec.metrics if m.name == "accuracy")
        hits_red += ci[0] <= TRUE_ACCURACY <= ci[1]
    assert 0.91 <= hits_rows / n_logs <= 0.99, hits_rows
    assert 0.91 <= hits_red / n_logs <= 0.99, hits_red


@pytest.mark.parametrize("reduce", [False, True])
def test_fairness_and_performance_agree_on_the_weighted_accuracy(reduce: bool) -> None:
    """A weighted audit states one overall accuracy: the fairness section's is the performance
    section's (both weighted), on rows and on a reduced log."""
    from auditkit import audit_predictions

    df = _weighted_log(8, 1500)
    res = audit_predictions(
        data=df, y_true="label", y_pred="decision", y_score="score",
        sensitive_features="region", sample_weight="w", n_boot=0, reduce=reduce,
        sections=["performance", "fairness"],
    )  # fmt: skip
    perf = next(m.value for m in res.section("performance").metrics if m.name == "accuracy")
    fair = next(
        m.value for m in res.section("fairness").metrics
        if m.name == "accuracy" and m.feature is None and m.method is None
    )  # fmt: skip
    want = skm.accuracy_score(df.label, df.decision, sample_weight=df.w)
    assert perf == pytest.approx(want, abs=1e-12) and fair == pytest.approx(want, abs=1e-12)
    unweighted = skm.accuracy_score(df.label, df.decision)
    assert abs(perf - unweighted) > 1e-6  # the weights matter in this log


@pytest.mark.spark
@pytest.mark.slow
def test_weighted_spark_reduction_gives_the_weighted_performance(spark: Any) -> None:
    """Spark's reduction carries the same weight sums; its section equals the weighted rows."""
    from pyspark.sql import types as T

    from auditkit import audit_predictions
    from auditkit.scale import reduce_predictions

    df = _weighted_log(6, 1500)
    schema = T.StructType([
        T.StructField("label", T.LongType()), T.StructField("decision", T.LongType()),
        T.StructField("score", T.DoubleType()), T.StructField("w", T.DoubleType()),
        T.StructField("region", T.StringType()),
    ])  # fmt: skip
    rows = [tuple(r) for r in df.astype(object).itertuples(index=False)]
    sdf = spark.createDataFrame(rows, schema=schema)
    kw: dict[str, Any] = {
        "y_true": "label", "y_pred": "decision", "y_score": "score",
        "sensitive_features": "region", "sample_weight": "w", "log_loss": True,
    }  # fmt: skip
    table = reduce_predictions(sdf, **kw)
    ref = reduce_predictions(df, **kw)
    assert table.scores is not None and ref.scores is not None

    def by_key(sc: Any) -> dict[tuple[int, int], tuple[float, float]]:
        return {
            (int(a), int(b)): (float(c), float(d))
            for a, b, c, d in zip(
                sc["y_true"], sc["fine_bin"], sc["weight_sum"], sc["weight_sq_sum"], strict=True
            )
        }

    a, b = by_key(table.scores), by_key(ref.scores)
    assert a.keys() == b.keys()
    for key, v in a.items():
        assert np.allclose(v, b[key], rtol=1e-12, atol=1e-12), key
    for col in ("weight_nll_pos", "weight_nll_neg", "weight_nll_pos_sq", "weight_nll_neg_sq"):
        assert np.sum(table.groups[col]) == pytest.approx(np.sum(ref.groups[col]), rel=1e-12)
    res = audit_predictions(
        data=table, sections=["performance"], n_boot=0, options={"log_loss": True}
    )
    got = _values(res.section("performance"))
    preds = Predictions(
        y_true=df.label.to_numpy(np.int64), y_pred=df.decision.to_numpy(np.int64),
        y_proba=np.column_stack([1 - df.score, df.score]), classes=("0", "1"), pos_label=1,
        has_scores=True, sample_weight=df.w.to_numpy(),
    )  # fmt: skip
    rows_sec = _run(preds)
    bound = res.section("performance").info["roc_auc_max_error"]
    for key, value in _values(rows_sec).items():
        tol = bound + 1e-12 if key[0] == "roc_auc" else 1e-10
        assert got[key] == pytest.approx(value, abs=tol), key


def _auc_population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Rows whose weighted ROC AUC is known: weights 1 or 5 (P = 0.7, 0.3), the score's
    separation depends on the weight (z ~ N(mu[y, w], 1), score = sigmoid(z))."""
    w = np.where(rng.random(n) < 0.7, 1.0, 5.0)
    y = rng.integers(0, 2, n)
    mu = np.where(y == 1, np.where(w == 1, 0.3, 1.5), 0.0)
    z = mu + rng.standard_normal(n)
    return y, (z > 0.7).astype(int), 1.0 / (1.0 + np.exp(-z)), w


def _true_weighted_auc() -> float:
    """sum_{a, b} pi(a) pi(b) Phi((mu1[a] - mu0[b]) / sqrt 2), pi(a) = P(w=a) a / E[w]."""
    from scipy.stats import norm

    pi = {1.0: 0.7 / 2.2, 5.0: 1.5 / 2.2}
    mu1 = {1.0: 0.3, 5.0: 1.5}
    return sum(pi[a] * pi[b] * norm.cdf(mu1[a] / np.sqrt(2)) for a in pi for b in pi)


@pytest.mark.slow
def test_weighted_auc_intervals_cover_the_weighted_truth() -> None:
    """The 95% interval of the weighted ROC AUC covers the known weighted AUC in 91-99% of
    logs, on rows (weighted row bootstrap) and reduced logs (pooled histogram cells)."""
    from auditkit import audit_predictions

    truth = _true_weighted_auc()
    rng = np.random.default_rng(12)
    hits = {False: 0, True: 0}
    n_logs = 200
    for i in range(n_logs):
        y, yp, score, w = _auc_population(rng, 400)
        df = pd.DataFrame({"y": y, "d": yp, "s": score, "w": w, "g": "all"})
        for red in (False, True):
            res = audit_predictions(
                data=df, y_true="y", y_pred="d", y_score="s", sensitive_features="g",
                sample_weight="w", sections=["performance"], n_boot=300, random_state=i,
                reduce=red,
            )  # fmt: skip
            ci = next(m.ci for m in res.section("performance").metrics if m.name == "roc_auc")
            hits[red] += ci[0] <= truth <= ci[1]
    assert 0.91 <= hits[False] / n_logs <= 0.99, hits
    assert 0.91 <= hits[True] / n_logs <= 0.99, hits
