"""The count-table engine against Fairlearn, value for value, on many random cases.

Fairlearn is the oracle: ``MetricFrame`` (``overall``, ``by_group``, ``difference()`` and
``ratio()`` with both methods) and the module functions (demographic parity, equalized odds,
equal opportunity). Cases mix label types (int, bool, str, {-1, 1}), group types (str, int,
bool), one to three features (intersections with empty combinations), tiny groups, groups with
a single class and groups where a rate is 0/0.

Documented deviation (tested below): for an intersection that never occurs, Fairlearn's
``by_group`` shows ``count`` as NaN; the engine reports 0 rows (the other metrics are NaN in
both).
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

from auditkit.metrics.engine import group_metrics

TOL = 1e-12
RATES = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_negative_rate",
    "accuracy",
    "precision",
)
N_CASES = 60


def _fl_metrics(pos: Any) -> dict[str, Any]:
    return {
        "selection_rate": functools.partial(flm.selection_rate, pos_label=pos),
        "true_positive_rate": functools.partial(flm.true_positive_rate, pos_label=pos),
        "false_positive_rate": functools.partial(flm.false_positive_rate, pos_label=pos),
        "false_negative_rate": functools.partial(flm.false_negative_rate, pos_label=pos),
        "true_negative_rate": functools.partial(flm.true_negative_rate, pos_label=pos),
        "accuracy": skm.accuracy_score,
        # zero_division=0 is the value of scikit-learn's default "warn", without the warning
        "precision": functools.partial(skm.precision_score, pos_label=pos, zero_division=0),
        "count": flm.count,
    }


def _labels(rng: np.random.Generator, kind: str, n: int, p1: float) -> tuple[np.ndarray, Any]:
    z = rng.random(n) < p1
    if kind == "int01":
        return z.astype(np.int64), 1
    if kind == "bool":
        return z, True
    if kind == "pm1":
        return np.where(z, 1, -1), 1
    return np.where(z, "yes", "no").astype(object), "yes"


def _feature(rng: np.random.Generator, kind: str, n: int, n_levels: int) -> np.ndarray:
    # skewed group sizes so some groups are tiny
    p = rng.dirichlet(np.full(n_levels, 0.7))
    idx = rng.choice(n_levels, size=n, p=p)
    if kind == "str":
        return np.asarray([f"g{i}" for i in idx], dtype=object)
    if kind == "int":
        return idx.astype(np.int64) * 3 - 2
    return idx % 2 == 1


def _case(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = int(rng.choice([8, 20, 60, 300]))
    label_kind = ["int01", "bool", "str", "pm1"][seed % 4]
    n_feat = [1, 2, 2, 3][(seed // 4) % 4]
    base = rng.uniform(0.05, 0.95)
    y_true, pos = _labels(rng, label_kind, n, base)
    flip = rng.random(n) < rng.uniform(0.0, 0.5)
    y_pred = np.where(flip, _labels(rng, label_kind, n, 0.5)[0], y_true)
    if label_kind == "str":
        y_pred = y_pred.astype(object)
    feats = {}
    for j in range(n_feat):
        kind = ["str", "int", "bool"][(seed + j) % 3]
        levels = 2 if kind == "bool" else int(rng.integers(2, 5))
        feats[f"f{j}"] = _feature(rng, kind, n, levels)
    return {"y_true": y_true, "y_pred": y_pred, "pos": pos, "sf": pd.DataFrame(feats)}


def _close(a: Any, b: Any) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return bool(np.all((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= TOL)))


def _groupings(sf: pd.DataFrame) -> list[tuple[str, ...]]:
    cols = tuple(sf.columns)
    out = [(c,) for c in cols]
    if len(cols) > 1:
        out.append(cols)
    return out


def _frame(case: dict[str, Any], feats: tuple[str, ...]) -> MetricFrame:
    sf = case["sf"][list(feats)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MetricFrame(
            metrics=_fl_metrics(case["pos"]),
            y_true=case["y_true"],
            y_pred=case["y_pred"],
            sensitive_features=sf if len(feats) > 1 else sf[feats[0]],
        )


@pytest.mark.parametrize("seed", range(N_CASES))
def test_metricframe_equal(seed: int) -> None:
    case = _case(seed)
    gm = group_metrics(case["y_true"], case["y_pred"], case["sf"], pos_label=case["pos"])
    assert gm.groupings == _groupings(case["sf"])
    for feats in gm.groupings:
        mf = _frame(case, feats)
        by_group = mf.by_group
        for name in RATES:
            ours = gm.by_group(name, feats)
            theirs = by_group[name]
            assert list(ours.index) == list(theirs.index), (name, feats)
            assert _close(ours.to_numpy(), theirs.to_numpy()), (name, feats, ours, theirs)
            assert _close(gm.overall(name), mf.overall[name]), name
            for method in ("between_groups", "to_overall"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    d = mf.difference(method=method)[name]
                    r = mf.ratio(method=method)[name]
                assert _close(gm.difference(name, feats, method), d), (name, feats, method)
                assert _close(gm.ratio(name, feats, method), r), (name, feats, method)
        # count: equal where the group occurs; an absent intersection is 0 here, NaN there
        ours_n = gm.by_group("count", feats).to_numpy()
        theirs_n = by_group["count"].to_numpy(dtype=np.float64)
        assert np.array_equal(ours_n, np.nan_to_num(theirs_n, nan=0.0))
        assert gm.overall("count") == len(case["y_true"])


DISPARITIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
)


@pytest.mark.parametrize("seed", range(0, N_CASES, 2))
def test_module_functions_equal(seed: int) -> None:
    case = _case(seed)
    # Fairlearn's module functions take the default pos_label (1): give them 0/1 labels.
    yt = (np.asarray(case["y_true"]) == case["pos"]).astype(np.int64)
    yp = (np.asarray(case["y_pred"]) == case["pos"]).astype(np.int64)
    gm = group_metrics(case["y_true"], case["y_pred"], case["sf"], pos_label=case["pos"])
    for feats in gm.groupings:
        sf = case["sf"][list(feats)]
        for name in DISPARITIES:
            fn = getattr(flm, name)
            for method in ("between_groups", "to_overall"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    theirs = fn(yt, yp, sensitive_features=sf, method=method)
                ours = gm.disparity(name, feats, method)
                assert _close(ours, theirs), (name, feats, method, ours, theirs)


@pytest.mark.parametrize("seed", range(12))
def test_multiclass_one_vs_rest_equal(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.choice([30, 200]))
    k = int(rng.integers(3, 5))
    names = np.asarray([f"c{i}" for i in range(k)], dtype=object)
    yt = names[rng.integers(0, k, n)]
    yp = np.where(rng.random(n) < 0.4, names[rng.integers(0, k, n)], yt)
    sf = pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.integers(0, 2, n)})
    gm = group_metrics(yt, yp, sf)
    assert not gm.is_binary
    for feats in gm.groupings:
        sfx = sf[list(feats)] if len(feats) > 1 else sf[feats[0]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mf = MetricFrame(metrics=skm.accuracy_score, y_true=yt, y_pred=yp,
                             sensitive_features=sfx)  # fmt: skip
        assert _close(gm.by_group("accuracy", feats).to_numpy(), mf.by_group.to_numpy())
        assert _close(gm.difference("accuracy", feats), mf.difference())
        assert _close(gm.ratio("accuracy", feats, "to_overall"), mf.ratio(method="to_overall"))
        for c in names:
            ybt, ybp = (yt == c).astype(int), (yp == c).astype(int)
            fns = {
                "selection_rate": flm.selection_rate,
                "true_positive_rate": flm.true_positive_rate,
                "false_positive_rate": flm.false_positive_rate,
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mfc = MetricFrame(metrics=fns, y_true=ybt, y_pred=ybp, sensitive_features=sfx)
            for name in fns:
                ours = gm.by_group(name, feats, label=c).to_numpy()
                assert _close(ours, mfc.by_group[name].to_numpy()), (c, name)
                assert _close(gm.overall(name, label=c), mfc.overall[name])
                for method in ("between_groups", "to_overall"):
                    assert _close(gm.difference(name, feats, method, label=c),
                                  mfc.difference(method=method)[name])  # fmt: skip
                    assert _close(gm.ratio(name, feats, method, label=c),
                                  mfc.ratio(method=method)[name])  # fmt: skip


def test_undefined_rate_matches_fairlearn_zero_convention() -> None:
    # group "b" has no positive labels: Fairlearn's TPR is 0 there, and so is ours
    yt = np.array([1, 1, 0, 0, 0, 0])
    yp = np.array([1, 0, 1, 0, 1, 0])
    sf = np.array(["a", "a", "a", "b", "b", "b"])
    gm = group_metrics(yt, yp, sf)
    mf = MetricFrame(metrics=flm.true_positive_rate, y_true=yt, y_pred=yp, sensitive_features=sf)
    assert _close(gm.by_group("true_positive_rate", "sensitive_feature_0").to_numpy(),
                  mf.by_group.to_numpy())  # fmt: skip
    assert gm.by_group("true_positive_rate", "sensitive_feature_0").tolist() == [0.5, 0.0]
    assert gm.denominator("true_positive_rate", "sensitive_feature_0").tolist() == [2, 0]
    assert _close(gm.difference("true_positive_rate", "sensitive_feature_0"), mf.difference())


def test_undefined_nan_deviation_drops_the_group() -> None:
    # the documented alternative: 0/0 is NaN and the group leaves the disparity
    yt = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    yp = np.array([1, 0, 1, 1, 1, 0, 1, 0])
    sf = np.array(["a", "a", "a", "c", "c", "b", "b", "b"])
    gm = group_metrics(yt, yp, sf, undefined="nan")
    mf = MetricFrame(metrics=flm.true_positive_rate, y_true=yt, y_pred=yp, sensitive_features=sf)
    expected = mf.by_group.copy()
    expected.loc["b"] = np.nan  # no positives in b
    ours = gm.by_group("true_positive_rate", "sensitive_feature_0")
    assert _close(ours.to_numpy(), expected.to_numpy())
    assert _close(gm.difference("true_positive_rate", "sensitive_feature_0"),
                  expected.max() - expected.min())  # fmt: skip
    assert _close(gm.ratio("true_positive_rate", "sensitive_feature_0"),
                  expected.min() / expected.max())  # fmt: skip


def test_sensitive_feature_forms_like_fairlearn() -> None:
    rng = np.random.default_rng(3)
    yt, yp = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    a = rng.choice(["u", "v"], 50)
    ref = group_metrics(yt, yp, pd.Series(a, name="s"))
    for sf in (a, list(a), {"s": a}, pd.DataFrame({"s": a}), a.reshape(-1, 1)):
        gm = group_metrics(yt, yp, sf)
        feat = gm.features[0]
        assert gm.by_group("accuracy", feat).tolist() == ref.by_group("accuracy", "s").tolist()
    mf = MetricFrame(metrics=skm.accuracy_score, y_true=yt, y_pred=yp, sensitive_features=a)
    assert group_metrics(yt, yp, a).features == tuple(mf.by_group.index.names)


@pytest.mark.parametrize("seed", range(0, N_CASES, 2))
def test_public_audit_predictions_equal(seed: int) -> None:
    """The public path (label and group encoding included) equals MetricFrame, by value."""
    import auditkit

    case = _case(seed)
    res = auditkit.audit_predictions(
        case["y_true"], case["y_pred"], sensitive_features=case["sf"], pos_label=case["pos"],
        sections=["fairness"], n_boot=0,
    )  # fmt: skip
    sec = next(s for s in res.sections if s.name == "fairness")
    ours: dict[tuple[Any, ...], float] = {}
    for m in sec.metrics:
        d = m.to_dict()
        if d.get("label") is not None or d.get("agg") is not None:
            continue
        key = (d["name"], tuple(d.get("feature") or ()), tuple(d.get("group") or ()),
               d.get("method"))  # fmt: skip
        ours.setdefault(key, d["value"])
    for f in case["sf"].columns:
        mf = _frame(case, (f,))
        for name in RATES:
            for g, v in mf.by_group[name].items():
                got = ours[(name, (f,), (str(g),), None)]
                assert _close(got, v), (name, f, g, got, v)
            assert _close(ours[(name, (), (), None)], mf.overall[name]), name
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = mf.difference(method="between_groups")[name]
            got = ours.get((f"{name}_difference", (f,), (), "between_groups"))
            if got is not None:
                assert _close(got, d), (name, f, got, d)
