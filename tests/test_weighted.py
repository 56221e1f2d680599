"""Sample weights in the count-table engine, and the quantities added beside them.

Oracles: Fairlearn's ``MetricFrame(..., sample_params={name: {"sample_weight": w}})`` and its
weighted module functions (``demographic_parity_*``, ``equalized_odds_*`` with both ``agg``,
``equal_opportunity_*``), scikit-learn's weighted ``confusion_matrix``,
``balanced_accuracy_score`` and ``roc_auc_score``, on many random cases (weights with zeros,
integer and continuous weights, tiny groups, every label type). The count-table path (an
external group-by) equals the row path, and the weighted bootstrap covers a known truth at
its nominal rate.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn import metrics as flm
from fairlearn.metrics import MetricFrame

from auditkit.exceptions import DataValidationError
from auditkit.metrics.engine import Key, count_table, from_count_table, group_metrics

TOL = 1e-10
#: 240 random cases in 12 chunks; the default run takes the first 2 (40 cases), the rest are
#: marked slow (Fairlearn's MetricFrame is about 0.25 s per case).
CHUNK = 20
CHUNKS = [pytest.param(c, marks=pytest.mark.slow) if c >= 2 else c for c in range(12)]
RATES = (
    "selection_rate", "true_positive_rate", "false_positive_rate", "false_negative_rate",
    "true_negative_rate", "accuracy", "precision", "false_omission_rate",
    "false_discovery_rate", "balanced_accuracy",
)  # fmt: skip


def _cell_rate(num: str, den: tuple[str, ...], neg: Any, pos: Any) -> Any:
    """A rate from scikit-learn's weighted confusion matrix (0/0 is 0, Fairlearn's rule)."""

    def f(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        cm = skm.confusion_matrix(y_true, y_pred, labels=[neg, pos], sample_weight=sample_weight)
        cells = {"tn": cm[0, 0], "fp": cm[0, 1], "fn": cm[1, 0], "tp": cm[1, 1]}
        d = sum(cells[c] for c in den)
        return float(cells[num] / d) if d > 0 else 0.0

    return f


def _oracles(neg: Any, pos: Any) -> dict[str, Any]:
    return {
        "selection_rate": functools.partial(flm.selection_rate, pos_label=pos),
        "true_positive_rate": functools.partial(flm.true_positive_rate, pos_label=pos),
        "false_positive_rate": functools.partial(flm.false_positive_rate, pos_label=pos),
        "false_negative_rate": functools.partial(flm.false_negative_rate, pos_label=pos),
        "true_negative_rate": functools.partial(flm.true_negative_rate, pos_label=pos),
        "accuracy": skm.accuracy_score,
        "precision": functools.partial(skm.precision_score, pos_label=pos, zero_division=0),
        "false_omission_rate": _cell_rate("fn", ("fn", "tn"), neg, pos),
        "false_discovery_rate": _cell_rate("fp", ("fp", "tp"), neg, pos),
        "balanced_accuracy": skm.balanced_accuracy_score,
    }


def _labels(rng: np.random.Generator, kind: str, z: np.ndarray) -> tuple[np.ndarray, Any, Any]:
    if kind == "int01":
        return z.astype(np.int64), 0, 1
    if kind == "bool":
        return z.copy(), False, True
    if kind == "pm1":
        return np.where(z, 1, -1), -1, 1
    return np.where(z, "yes", "no").astype(object), "no", "yes"


def _weights(rng: np.random.Generator, n: int, kind: int) -> np.ndarray:
    if kind == 0:
        w = rng.exponential(1.0, n)
    elif kind == 1:
        w = rng.integers(0, 4, n).astype(np.float64)
    else:
        w = rng.lognormal(0.0, 1.0, n)
    w[rng.random(n) < 0.2] = 0.0  # zeros everywhere
    return w


def _case(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = int(rng.choice([6, 25, 80, 300]))
    kind = ["int01", "bool", "str", "pm1"][seed % 4]
    z_true = rng.random(n) < rng.uniform(0.05, 0.95)
    z_pred = np.where(rng.random(n) < rng.uniform(0.0, 0.5), rng.random(n) < 0.5, z_true)
    y_true, neg, pos = _labels(rng, kind, z_true)
    y_pred = _labels(rng, kind, z_pred)[0]
    feats = {}
    for j in range(1 + (seed // 4) % 2):
        levels = int(rng.integers(1, 5))
        p = rng.dirichlet(np.full(levels, 0.8))
        feats[f"f{j}"] = np.asarray([f"g{i}" for i in rng.choice(levels, n, p=p)], dtype=object)
    sf = pd.DataFrame(feats)
    w = _weights(rng, n, seed % 3)
    # Fairlearn's selection_rate is 0/0 and accuracy_score raises on a group whose weights sum
    # to 0; give the first row of each occurring combination a weight (zeros stay elsewhere)
    first = ~sf.duplicated().to_numpy()
    w[first] = np.maximum(w[first], 0.5)
    return {"y_true": y_true, "y_pred": y_pred, "neg": neg, "pos": pos, "sf": sf, "w": w}


def _close(a: Any, b: Any, tol: float = TOL) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return bool(np.all((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= tol)))


def _sf(case: dict[str, Any], feats: tuple[str, ...]) -> Any:
    sf = case["sf"][list(feats)]
    return sf if len(feats) > 1 else sf[feats[0]]


@pytest.mark.parametrize("chunk", CHUNKS)
def test_weighted_metricframe_equal(chunk: int) -> None:
    for seed in range(chunk * CHUNK, (chunk + 1) * CHUNK):
        case = _case(seed)
        gm = group_metrics(
            case["y_true"], case["y_pred"], case["sf"], labels=[case["neg"], case["pos"]],
            pos_label=case["pos"], sample_weight=case["w"],
        )  # fmt: skip
        assert gm.weighted
        fns = _oracles(case["neg"], case["pos"])
        for feats in gm.groupings:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mf = MetricFrame(
                    metrics=fns, y_true=case["y_true"], y_pred=case["y_pred"],
                    sensitive_features=_sf(case, feats),
                    sample_params={m: {"sample_weight": case["w"]} for m in fns},
                )  # fmt: skip
                diffs = {m: mf.difference(method=m) for m in ("between_groups", "to_overall")}
                ratios = {m: mf.ratio(method=m) for m in ("between_groups", "to_overall")}
            occurs = gm.counts(feats) > 0
            for name in RATES:
                ours = gm.by_group(name, feats)
                theirs = mf.by_group[name]
                assert list(ours.index) == list(theirs.index), (seed, name, feats)
                assert _close(ours.to_numpy()[occurs], theirs.to_numpy()[occurs]), (
                    seed, name, feats, ours, theirs,
                )  # fmt: skip
                assert np.isnan(ours.to_numpy()[~occurs]).all()
                assert _close(gm.overall(name), mf.overall[name]), (seed, name)
                for method in ("between_groups", "to_overall"):
                    assert _close(gm.difference(name, feats, method), diffs[method][name]), (
                        seed, name, feats, method,
                    )  # fmt: skip
                    assert _close(gm.ratio(name, feats, method), ratios[method][name]), (
                        seed, name, feats, method,
                    )  # fmt: skip
            np.testing.assert_allclose(
                gm.weight_sums(feats),
                pd.Series(case["w"]).groupby([_sf(case, feats)] if len(feats) == 1 else
                                             [case["sf"][f] for f in feats]).sum()
                .reindex(gm.by_group("count", feats).index, fill_value=0.0).to_numpy(),
                rtol=1e-12,
            )  # fmt: skip
            assert gm.counts(feats).sum() == len(case["w"])  # count stays a number of rows


MODULE = (
    "demographic_parity_difference", "demographic_parity_ratio", "equal_opportunity_difference",
    "equal_opportunity_ratio",
)  # fmt: skip


@pytest.mark.parametrize(
    "chunk", [pytest.param(c, marks=pytest.mark.slow) if c else c for c in range(40)]
)
def test_weighted_module_functions_equal(chunk: int) -> None:
    # each module function builds a MetricFrame (about 1.5 s per case for all of them): the
    # default run takes 6 cases, the slow run 240
    for seed in range(chunk * 6, (chunk + 1) * 6):
        case = _case(seed)
        yt = (np.asarray(case["y_true"]) == case["pos"]).astype(np.int64)
        yp = (np.asarray(case["y_pred"]) == case["pos"]).astype(np.int64)
        gm = group_metrics(yt, yp, case["sf"], labels=[0, 1], sample_weight=case["w"])
        for feats in gm.groupings:
            sf = case["sf"][list(feats)]
            for method in ("between_groups", "to_overall"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for name in MODULE:
                        theirs = getattr(flm, name)(
                            yt, yp, sensitive_features=sf, method=method, sample_weight=case["w"]
                        )
                        assert _close(gm.disparity(name, feats, method), theirs), (seed, name)
                    for name in ("equalized_odds_difference", "equalized_odds_ratio"):
                        for agg in ("worst_case", "mean"):
                            theirs = getattr(flm, name)(
                                yt, yp, sensitive_features=sf, method=method,
                                sample_weight=case["w"], agg=agg,
                            )  # fmt: skip
                            ours = gm.disparity(name, feats, method, agg=agg)  # type: ignore[arg-type]
                            assert _close(ours, theirs), (seed, name, agg, method, ours, theirs)


def test_unit_weights_equal_no_weights() -> None:
    for seed in range(20):
        case = _case(seed)
        args = (case["y_true"], case["y_pred"], case["sf"])
        a = group_metrics(*args, labels=[case["neg"], case["pos"]], pos_label=case["pos"])
        b = group_metrics(*args, labels=[case["neg"], case["pos"]], pos_label=case["pos"],
                          sample_weight=np.ones(len(case["w"])))  # fmt: skip
        for key, v in a.values.items():
            assert _close(v, b.values[key], 1e-12), key
        c = group_metrics(*args, labels=[case["neg"], case["pos"]], pos_label=case["pos"],
                          sample_weight=np.full(len(case["w"]), 3.5))  # fmt: skip
        for key, v in a.values.items():
            assert _close(v, c.values[key], 1e-12), key


def test_integer_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(5)
    n = 200
    yt, yp = rng.integers(0, 2, n), rng.integers(0, 2, n)
    sf = rng.choice(["a", "b", "c"], n)
    score = rng.random(n)
    w = rng.integers(0, 4, n)
    a = group_metrics(yt, yp, sf, y_score=score, sample_weight=w, roc_auc=True)
    rep = np.repeat(np.arange(n), w)
    b = group_metrics(yt[rep], yp[rep], sf[rep], y_score=score[rep], roc_auc=True)
    for key, v in b.values.items():
        if key.name == "count":
            continue
        assert _close(a.values[key], v, 1e-10), key


# ------------------------------------------------------------------- new quantities, unweighted
@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_agg_mean_and_average_odds_equal_fairlearn(seed: int) -> None:
    case = _case(seed)
    yt = (np.asarray(case["y_true"]) == case["pos"]).astype(np.int64)
    yp = (np.asarray(case["y_pred"]) == case["pos"]).astype(np.int64)
    gm = group_metrics(yt, yp, case["sf"], labels=[0, 1])
    for feats in gm.groupings:
        sf = case["sf"][list(feats)]
        for method in ("between_groups", "to_overall"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for name in ("equalized_odds_difference", "equalized_odds_ratio"):
                    theirs = getattr(flm, name)(
                        yt, yp, sensitive_features=sf, method=method, agg="mean"
                    )
                    assert _close(gm.disparity(name, feats, method, agg="mean"), theirs)
                mf = MetricFrame(
                    metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate},
                    y_true=yt, y_pred=yp, sensitive_features=_sf(case, feats),
                )  # fmt: skip
                d = mf.difference(method=method)
            # AIF360's average odds difference, (FPR gap + TPR gap) / 2, with Fairlearn's gaps
            aod = gm.disparity("average_odds_difference", feats, method)
            assert _close(aod, (d["fpr"] + d["tpr"]) / 2)


def test_average_odds_difference_is_aif360s_for_two_groups() -> None:
    # AIF360: 0.5 * ((FPR_u - FPR_p) + (TPR_u - TPR_p)); between two groups whose two gaps
    # have the same sign, the between_groups value is its absolute value
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(200):
        n = 120
        yt, yp = rng.integers(0, 2, n), rng.integers(0, 2, n)
        g = rng.choice(["p", "u"], n)
        gm = group_metrics(yt, yp, g)
        r = {
            k: [skm.confusion_matrix(yt[g == x], yp[g == x], labels=[0, 1]) for x in ("p", "u")]
            for k in ("cm",)
        }["cm"]
        tpr = [c[1, 1] / c[1].sum() for c in r]
        fpr = [c[0, 1] / c[0].sum() for c in r]
        d_f, d_t = fpr[1] - fpr[0], tpr[1] - tpr[0]
        aif = 0.5 * (d_f + d_t)
        ours = gm.disparity("average_odds_difference", "sensitive_feature_0")
        assert ours >= abs(aif) - 1e-12
        if d_f * d_t >= 0:
            assert _close(ours, abs(aif), 1e-12)
            checked += 1
    assert checked > 50


@pytest.mark.parametrize("seed", range(40))
def test_roc_auc_by_group_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    n = int(rng.choice([10, 50, 400]))
    score = rng.random(n)
    if seed % 2:
        score = np.round(score, 1)  # many ties
    yt = (rng.random(n) < score).astype(int)
    yp = (score > 0.5).astype(int)
    sf = pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.integers(0, 2, n)})
    w = None if seed % 3 == 0 else _weights(rng, n, seed % 3)
    gm = group_metrics(yt, yp, sf, y_score=score, sample_weight=w, roc_auc=True)
    ww = np.ones(n) if w is None else w

    def auc(mask: np.ndarray) -> float:
        if len(np.unique(yt[mask & (ww > 0)])) < 2:
            return float("nan")
        return float(skm.roc_auc_score(yt[mask], score[mask], sample_weight=ww[mask]))

    assert _close(gm.overall("roc_auc"), auc(np.ones(n, bool)))
    for feats in gm.groupings:
        expected = [
            auc(np.logical_and.reduce([sf[f].to_numpy() == v for f, v in zip(feats, grp)]))
            for grp in gm.groups(feats)
        ]
        assert _close(gm.by_group("roc_auc", feats).to_numpy(), expected), (feats, expected)
        v = np.asarray(expected)
        if np.isfinite(v).any():
            assert _close(gm.difference("roc_auc", feats), np.nanmax(v) - np.nanmin(v))
    assert gm.roc_auc_reason is None
    # the count table keeps bins, not ranks: no roc_auc there, with the reason
    ext = from_count_table(count_table(yt, yp, sf, y_score=score, sample_weight=w),
                           sensitive_features=["a", "b"])  # fmt: skip
    assert "ranks" in str(ext.roc_auc_reason)
    with pytest.raises(Exception, match="roc_auc"):
        ext.overall("roc_auc")


# ------------------------------------------------------------------- count tables and errors
@pytest.mark.parametrize("seed", range(10))
def test_external_weighted_group_by_equals_rows(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    n = 500
    score = rng.beta(2, 3, n)
    df = pd.DataFrame({
        "sex": rng.choice(["F", "M"], n), "race": rng.choice(["a", "b", "c"], n),
        "y_true": (rng.random(n) < score).astype(int), "y_pred": (score > 0.4).astype(int),
        "score": score, "w": _weights(rng, n, seed % 3),
    })  # fmt: skip
    df.loc[0, "w"] = 1.0
    df["score_bin"] = np.minimum(np.floor(df["score"] * 10), 9).astype(int)
    df["ws"], df["wss"], df["w2"] = df.w * df.score, df.w * df.score**2, df.w**2
    df["ss"] = df.score**2
    grouped = df.groupby(["sex", "race", "y_true", "y_pred", "score_bin"], as_index=False).agg(
        count=("w", "size"), score_sum=("score", "sum"), score_sq_sum=("ss", "sum"),
        weight_sum=("w", "sum"), weight_sq_sum=("w2", "sum"), weight_score_sum=("ws", "sum"),
        weight_score_sq_sum=("wss", "sum"),
    )  # fmt: skip
    ref = group_metrics(
        df.y_true, df.y_pred, df[["sex", "race"]], y_score=df.score, sample_weight=df.w
    )
    for ext in (
        from_count_table(grouped, sensitive_features=["sex", "race"]),
        from_count_table(
            pd.concat(
                [
                    count_table(
                        d.y_true, d.y_pred, d[["sex", "race"]], y_score=d.score, sample_weight=d.w
                    )
                    for d in (df.iloc[:200], df.iloc[200:])
                ]
            ),
            sensitive_features=["sex", "race"],
        ),  # fmt: skip
    ):
        assert ext.values.keys() == ref.values.keys()
        for key, v in ref.values.items():
            assert _close(ext.values[key], v, 1e-12), key
    # without the weighted score sums, a weighted table with scores is refused
    with pytest.raises(DataValidationError, match="weight_score_sum"):
        from_count_table(grouped.drop(columns=["weight_score_sum"]),
                         sensitive_features=["sex", "race"])  # fmt: skip
    # calibration is weighted: mean score = sum(w s) / sum(w)
    assert _close(ref.overall("mean_score"), np.average(df.score, weights=df.w), 1e-12)
    bs = ref.by_group("base_rate", "sex")
    assert _close(bs["F"], np.average(df.y_true[df.sex == "F"], weights=df.w[df.sex == "F"]))


def test_bad_weights_are_refused_with_the_row() -> None:
    yt, yp, g = [1, 0, 1], [1, 1, 0], ["a", "b", "a"]
    for w, match in (
        ([1.0, -1.0, 2.0], "row 1"),
        ([1.0, np.nan, 2.0], "row 1"),
        ([1.0, 2.0], "2 rows"),
        ([0.0, 0.0, 0.0], "sums to 0"),
        ([1.0, np.inf, 1.0], "row 1"),
    ):
        with pytest.raises(DataValidationError, match=match):
            group_metrics(yt, yp, g, sample_weight=w)
    tab = count_table(yt, yp, g, sample_weight=[1.0, 2.0, 3.0])
    tab.loc[0, "weight_sum"] = -1.0
    with pytest.raises(DataValidationError, match="weight_sum"):
        from_count_table(tab, sensitive_features=["sensitive_feature_0"])


def test_group_with_zero_weight_is_empty() -> None:
    # documented: a group whose weights sum to 0 has no metrics (NaN), like an empty one; its
    # rows are still counted
    yt, yp = np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])
    g = np.array(["a", "a", "b", "b"])
    gm = group_metrics(yt, yp, g, sample_weight=[1.0, 2.0, 0.0, 0.0])
    assert gm.counts("sensitive_feature_0").tolist() == [2, 2]
    assert np.isnan(gm.by_group("selection_rate", "sensitive_feature_0")["b"])
    assert gm.difference("selection_rate", "sensitive_feature_0") == 0.0


# ------------------------------------------------------------------- bootstrap with weights
def test_unit_weights_give_the_unweighted_count_intervals() -> None:
    rng = np.random.default_rng(2)
    n = 300
    yt, yp = rng.integers(0, 2, n), rng.integers(0, 2, n)
    g = rng.choice(["a", "b"], n)
    a = group_metrics(yt, yp, g).bootstrap(200, np.random.default_rng(0))
    b = group_metrics(yt, yp, g, sample_weight=np.ones(n)).bootstrap(200, np.random.default_rng(0))
    for key, lo in a.low.items():
        assert _close(lo, b.low[key], 1e-12) and _close(a.high[key], b.high[key], 1e-12), key


def _weighted_population(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Rows whose weighted TPR per group is known: weights 1 or 5, TPR depends on the weight."""
    g = rng.choice(["a", "b"], n, p=[0.6, 0.4])
    w = np.where(rng.random(n) < 0.7, 1.0, 5.0)
    y = (rng.random(n) < 0.4).astype(int)
    # P(pred = 1 | y = 1, g, w): a: 0.5 (w=1), 0.8 (w=5); b: 0.6 (w=1), 0.3 (w=5)
    p1 = np.where(g == "a", np.where(w == 1, 0.5, 0.8), np.where(w == 1, 0.6, 0.3))
    pred = np.where(y == 1, rng.random(n) < p1, rng.random(n) < 0.2).astype(int)
    return {"g": g, "w": w, "y": y, "pred": pred}


#: Weighted TPR = sum_w P(w) w p(w) / sum_w P(w) w, with P(w=1) = 0.7, P(w=5) = 0.3.
TRUE_TPR = {
    "a": (0.7 * 1 * 0.5 + 0.3 * 5 * 0.8) / (0.7 + 1.5),
    "b": (0.7 * 1 * 0.6 + 0.3 * 5 * 0.3) / (0.7 + 1.5),
}


def test_weighted_bootstrap_covers_the_truth() -> None:
    rng = np.random.default_rng(123)
    reps, hits_a, hits_b, hits_d = 150, 0, 0, 0
    true_d = TRUE_TPR["a"] - TRUE_TPR["b"]
    for _ in range(reps):
        d = _weighted_population(rng, 1500)
        gm = group_metrics(d["y"], d["pred"], {"g": d["g"]}, sample_weight=d["w"])
        iv = gm.bootstrap(300, rng)
        key_g = Key("true_positive_rate", ("g",), None, "group")
        lo, hi = iv.low[key_g], iv.high[key_g]
        hits_a += lo[0] <= TRUE_TPR["a"] <= hi[0]
        hits_b += lo[1] <= TRUE_TPR["b"] <= hi[1]
        key_d = Key("true_positive_rate_difference", ("g",), None, "between_groups")
        hits_d += iv.low[key_d] <= true_d <= iv.high[key_d]
    for hits in (hits_a, hits_b, hits_d):
        assert 0.90 <= hits / reps <= 0.99, (hits_a, hits_b, hits_d)


# ------------------------------------------------------------------- the fairness section
def test_fairness_section_uses_the_sample_weights() -> None:
    from auditkit.inputs.context import AuditConfig, AuditContext, Predictions
    from auditkit.sections.fairness import FairnessSection

    rng = np.random.default_rng(8)
    n = 600
    score = rng.random(n)
    yt = (rng.random(n) < score).astype(np.int64)
    yp = (score > 0.5).astype(np.int64)
    g = rng.choice(["a", "b"], n)
    w = _weights(rng, n, 2)
    p = Predictions(
        y_true=yt, y_pred=yp, y_proba=np.column_stack([1 - score, score]), classes=("0", "1"),
        pos_label=1, sample_weight=w,
    )  # fmt: skip
    cfg = AuditConfig(sections=("fairness",), n_boot=20, random_state=0,
                      options={"mitigation": False})  # fmt: skip
    res = FairnessSection().run(
        AuditContext(config=cfg, predictions=p, sensitive=pd.DataFrame({"g": g}))
    )
    got = {(m.name, m.group, m.method, m.agg): m.value for m in res.metrics if m.feature}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics={"true_positive_rate": flm.true_positive_rate,
                     "selection_rate": flm.selection_rate},
            y_true=yt, y_pred=yp, sensitive_features=g,
            sample_params={m: {"sample_weight": w} for m in ("true_positive_rate",
                                                              "selection_rate")},
        )  # fmt: skip
        eo_mean = flm.equalized_odds_difference(yt, yp, sensitive_features=g, sample_weight=w,
                                                agg="mean")  # fmt: skip
    for grp in ("a", "b"):
        assert _close(got[("true_positive_rate", (grp,), None, None)],
                      mf.by_group["true_positive_rate"][grp])  # fmt: skip
        assert _close(got[("selection_rate", (grp,), None, None)],
                      mf.by_group["selection_rate"][grp])  # fmt: skip
        mask = g == grp
        assert _close(got[("roc_auc", (grp,), None, None)],
                      skm.roc_auc_score(yt[mask], score[mask], sample_weight=w[mask]))  # fmt: skip
    assert _close(got[("equalized_odds_difference", None, "between_groups", "mean")], eo_mean)
    assert ("equalized_odds_difference", None, "between_groups", None) in got
    assert ("average_odds_difference", None, "to_overall", None) in got


# ------------------------------------------------------------------- the scale path
def _weighted_log(seed: int, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.5, 0.3, 0.18, 0.02])
    band = rng.choice([1, 2, 3], n, p=[0.45, 0.45, 0.10])
    y = (rng.random(n) < 0.3 + 0.15 * (region == "south")).astype(int)
    score = np.clip(0.45 * y + 0.55 * rng.random(n), 0.0, 1.0)
    w = _weights(rng, n, seed % 3)
    w[0] = 1.0
    return pd.DataFrame({
        "region": region, "band": band, "label": y, "decision": (score >= 0.5).astype(int),
        "score": score, "w": w,
    })  # fmt: skip


def _scale_engines(tmp_path: Any) -> dict[str, Any]:
    duckdb = pytest.importorskip("duckdb")
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")

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
def test_weighted_reduction_equals_the_rows(tmp_path: Any, seed: int) -> None:
    from auditkit.scale import reduce_predictions

    df = _weighted_log(seed)
    ref = group_metrics(
        df.label, df.decision, df[["region", "band"]], y_score=df.score, sample_weight=df.w
    )
    for name, make in _scale_engines(tmp_path).items():
        for y_score in ("score", None):
            table = reduce_predictions(
                make(df), y_true="label", y_pred="decision", y_score=y_score,
                sensitive_features=["region", "band"], sample_weight="w",
            )  # fmt: skip
            assert table.has_weights and table.columns["sample_weight"] == "w"
            gm = from_count_table(dict(table.groups), sensitive_features=["region", "band"])
            want = ref if y_score else group_metrics(
                df.label, df.decision, df[["region", "band"]], sample_weight=df.w
            )  # fmt: skip
            assert gm.values.keys() == want.values.keys(), name
            for key, v in want.values.items():
                assert _close(gm.values[key], v, 1e-10), (name, key)


def test_weighted_reduced_audit_equals_the_row_audit(tmp_path: Any) -> None:
    """The fairness section of a reduced weighted log equals that of the weighted rows."""
    from auditkit import audit_predictions
    from auditkit.inputs.context import AuditConfig, AuditContext, Predictions
    from auditkit.sections.fairness import FairnessSection

    df = _weighted_log(7)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    reduced = audit_predictions(
        "label", "decision", y_score="score", data=str(p), reduce=True,
        sensitive_features=["region", "band"], sections=["fairness"], n_boot=50,
        random_state=3, min_group_size=30, strict=True, options={"mitigation": False},
        sample_weight="w",
    )  # fmt: skip
    sec = next(s for s in reduced.sections if s.name == "fairness")
    preds = Predictions(
        y_true=df.label.to_numpy(np.int64), y_pred=df.decision.to_numpy(np.int64),
        y_proba=np.column_stack([1 - df.score, df.score]), classes=("0", "1"), pos_label=1,
        sample_weight=df.w.to_numpy(),
    )  # fmt: skip
    cfg = AuditConfig(sections=("fairness",), n_boot=50, random_state=3, min_group_size=30,
                      options={"mitigation": False})  # fmt: skip
    sens = pd.DataFrame({"region": df.region, "band": df.band.astype(str)})
    rows = FairnessSection().run(AuditContext(config=cfg, predictions=preds, sensitive=sens))

    def records(s: Any) -> dict[Any, Any]:
        return {
            (m.name, m.feature, m.group, m.method, m.agg, m.label): (m.value, m.ci)
            for m in s.metrics
        }

    a, b = records(sec), records(rows)
    assert {k[0] for k in b.keys() - a.keys()} <= {"roc_auc", "roc_auc_difference",
                                                    "roc_auc_ratio"}  # fmt: skip
    assert a.keys() <= b.keys()
    for key, (value, ci) in a.items():
        assert _close(value if value is not None else np.nan,
                      b[key][0] if b[key][0] is not None else np.nan, 1e-10), key  # fmt: skip
        assert (ci is None) == (b[key][1] is None), key
        if ci is not None:
            assert _close(ci, b[key][1], 1e-10), key


def test_bad_weight_columns_are_refused(tmp_path: Any) -> None:
    from auditkit.scale import reduce_predictions

    df = _weighted_log(1, 300)
    for bad in (-1.0, np.nan, np.inf):
        d = df.copy()
        d.loc[5, "w"] = bad
        for make in _scale_engines(tmp_path).values():
            with pytest.raises(DataValidationError, match="sample_weight column 'w'"):
                reduce_predictions(make(d), y_true="label", y_pred="decision",
                                   sensitive_features="region", sample_weight="w")  # fmt: skip
    with pytest.raises(DataValidationError, match="'weights'"):
        reduce_predictions(df, y_true="label", y_pred="decision", sensitive_features="region",
                           sample_weight="weights")  # fmt: skip


# ------------------------------------------------------------------- the group ceiling
def test_max_groups_refuses_before_the_group_by(tmp_path: Any) -> None:
    import re

    from auditkit.scale import reduce_predictions

    rng = np.random.default_rng(0)
    n = 20_000
    df = pd.DataFrame({
        "id": [f"person-{i}" for i in range(n)], "g": rng.choice(["a", "b"], n),
        "y": rng.integers(0, 2, n), "d": rng.integers(0, 2, n),
    })  # fmt: skip
    for name, make in _scale_engines(tmp_path).items():
        with pytest.raises(DataValidationError) as err:
            reduce_predictions(make(df), y_true="y", y_pred="d", sensitive_features=["g", "id"])
        text = str(err.value)
        assert "'id'" in text and "1,000" in text and "max_groups=" in text, (name, text)
        count = int(re.search(r"has (?:about )?([\d,]+) distinct", text).group(1).replace(",", ""))
        assert abs(count - n) < 0.15 * n, text  # the (approximate) count
        with pytest.raises(DataValidationError, match="ceiling of 10 groups"):
            reduce_predictions(make(df), y_true="y", y_pred="d", sensitive_features="id",
                               max_groups=10)  # fmt: skip
        table = reduce_predictions(make(df), y_true="y", y_pred="d", sensitive_features="g",
                                   max_groups=2)  # fmt: skip
        assert table.n_rows == n
    table = reduce_predictions(df, y_true="y", y_pred="d", sensitive_features=["g", "id"],
                               max_groups=30_000)  # fmt: skip
    assert table.n_rows == n


def test_ten_million_groups_out_of_core_end_in_a_clear_error(tmp_path: Any) -> None:
    import time

    duckdb = pytest.importorskip("duckdb")
    from auditkit.scale import reduce_predictions

    path = tmp_path / "big.parquet"
    duckdb.sql(
        "SELECT 'id-' || CAST(i AS VARCHAR) AS id, i % 2 AS y, (i // 2) % 2 AS d "
        "FROM range(10000000) t(i)"
    ).write_parquet(str(path))
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError, match="'id' has about 10,"):
        reduce_predictions(str(path), y_true="y", y_pred="d", sensitive_features="id")
    assert time.perf_counter() - t0 < 10.0


@pytest.mark.spark
@pytest.mark.slow
def test_weighted_spark_reduction_equals_the_rows(spark: Any) -> None:
    from pyspark.sql import types as T

    from auditkit.scale import reduce_predictions

    df = _weighted_log(4, 1500)
    schema = T.StructType([
        T.StructField("region", T.StringType()), T.StructField("band", T.LongType()),
        T.StructField("label", T.LongType()), T.StructField("decision", T.LongType()),
        T.StructField("score", T.DoubleType()), T.StructField("w", T.DoubleType()),
    ])  # fmt: skip
    rows = [tuple(r) for r in df.astype(object).itertuples(index=False)]
    sdf = spark.createDataFrame(rows, schema=schema)
    table = reduce_predictions(
        sdf, y_true="label", y_pred="decision", y_score="score",
        sensitive_features=["region", "band"], sample_weight="w",
    )  # fmt: skip
    gm = from_count_table(dict(table.groups), sensitive_features=["region", "band"])
    ref = group_metrics(
        df.label, df.decision, df[["region", "band"]], y_score=df.score, sample_weight=df.w
    )
    assert gm.values.keys() == ref.values.keys()
    for key, v in ref.values.items():
        assert _close(gm.values[key], v, 1e-10), key
    bad = spark.createDataFrame([(*r[:5], -1.0) for r in rows[:50]], schema=schema)
    with pytest.raises(DataValidationError, match="sample_weight column 'w'"):
        reduce_predictions(bad, y_true="label", y_pred="decision", sensitive_features="region",
                           sample_weight="w")  # fmt: skip
    with pytest.raises(DataValidationError, match="'region' has about 4 distinct"):
        reduce_predictions(sdf, y_true="label", y_pred="decision", sensitive_features="region",
                           max_groups=3)  # fmt: skip


@pytest.mark.parametrize("seed", range(15))
def test_multiclass_weighted_accuracy_and_balanced_accuracy_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(900 + seed)
    n = int(rng.choice([20, 150]))
    k = int(rng.integers(3, 5))
    names = np.asarray([f"c{i}" for i in range(k)], dtype=object)
    yt = names[rng.integers(0, k, n)]
    yp = np.where(rng.random(n) < 0.4, names[rng.integers(0, k, n)], yt)
    sf = rng.choice(["x", "y", "z"], n)
    w = _weights(rng, n, seed % 3)
    for grp in ("x", "y", "z"):
        first = np.flatnonzero(sf == grp)
        if first.size:
            w[first[0]] = max(w[first[0]], 0.5)
    gm = group_metrics(yt, yp, {"s": sf}, sample_weight=w)
    fns = {"accuracy": skm.accuracy_score, "balanced_accuracy": skm.balanced_accuracy_score}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(metrics=fns, y_true=yt, y_pred=yp, sensitive_features=sf,
                         sample_params={m: {"sample_weight": w} for m in fns})  # fmt: skip
        for name in fns:
            assert _close(gm.by_group(name, "s").to_numpy(), mf.by_group[name].to_numpy())
            assert _close(gm.overall(name), mf.overall[name])
            assert _close(gm.difference(name, "s"), mf.difference()[name])
            assert _close(gm.ratio(name, "s", "to_overall"), mf.ratio(method="to_overall")[name])
        for c in names:  # one-vs-rest rates, weighted
            ybt, ybp = (yt == c).astype(int), (yp == c).astype(int)
            mfc = MetricFrame(
                metrics=flm.true_positive_rate,
                y_true=ybt,
                y_pred=ybp,
                sensitive_features=sf,
                sample_params={"sample_weight": w},
            )
            assert _close(gm.by_group("true_positive_rate", "s", label=c).to_numpy(),
                          mfc.by_group.to_numpy())  # fmt: skip
