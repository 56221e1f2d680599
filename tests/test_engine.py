"""The count-table engine: the table contract, calibration by group, bootstrap and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from auditkit.exceptions import AuditkitError, DataValidationError, ParameterError
from auditkit.metrics.engine import (
    GroupMetrics,
    Key,
    count_table,
    from_count_table,
    group_metrics,
    score_bins,
)
from auditkit.metrics.stats import (
    flag_small,
    multinomial_counts,
    percentile_interval,
    row_weight_chunks,
    wilson_interval,
)


def _data(seed: int = 0, n: int = 400) -> dict:
    rng = np.random.default_rng(seed)
    score = rng.beta(2, 3, n)
    y_true = (rng.random(n) < score).astype(int)
    y_pred = (score > 0.45).astype(int)
    sf = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "race": rng.choice(["a", "b", "c"], n)})
    return {"y_true": y_true, "y_pred": y_pred, "score": score, "sf": sf}


def _same(a: GroupMetrics, b: GroupMetrics) -> None:
    assert a.values.keys() == b.values.keys()
    for key, v in a.values.items():
        np.testing.assert_allclose(v, b.values[key], rtol=0, atol=1e-12, equal_nan=True)


def test_count_table_layout() -> None:
    d = _data()
    tab = count_table(d["y_true"], d["y_pred"], d["sf"], y_score=d["score"])
    assert list(tab.columns) == ["sex", "race", "y_true", "y_pred", "score_bin", "count",
                                 "score_sum", "score_sq_sum"]  # fmt: skip
    assert tab["count"].sum() == 400 and (tab["count"] > 0).all()
    assert not tab.duplicated(["sex", "race", "y_true", "y_pred", "score_bin"]).any()
    np.testing.assert_allclose(tab["score_sum"].sum(), d["score"].sum())
    assert tab["score_bin"].between(0, 9).all()


def test_external_group_by_gives_the_same_result() -> None:
    # what DuckDB / Polars / Spark would compute with GROUP BY, here with pandas
    d = _data(1)
    df = d["sf"].assign(y_true=d["y_true"], y_pred=d["y_pred"], score=d["score"])
    df["score_bin"] = np.minimum(np.floor(df["score"] * 10), 9).astype(int)
    df["score_sq"] = df["score"] ** 2
    grouped = (
        df.groupby(["sex", "race", "y_true", "y_pred", "score_bin"], as_index=False)
        .agg(count=("score", "size"), score_sum=("score", "sum"), score_sq_sum=("score_sq", "sum"))
    )  # fmt: skip
    ext = from_count_table(grouped, sensitive_features=["sex", "race"])
    ref = group_metrics(d["y_true"], d["y_pred"], d["sf"], y_score=d["score"])
    _same(ext, ref)
    # partial aggregates may simply be concatenated (repeated keys add up)
    half = len(df) // 2
    parts = [
        count_table(d["y_true"][s], d["y_pred"][s], d["sf"].iloc[s], y_score=d["score"][s])
        for s in (slice(0, half), slice(half, None))
    ]
    _same(from_count_table(pd.concat(parts), sensitive_features=["sex", "race"]), ref)
    # a mapping of numpy columns works as well as a DataFrame
    as_dict = {c: grouped[c].to_numpy() for c in grouped.columns}
    _same(from_count_table(as_dict, sensitive_features=["sex", "race"]), ref)


def test_calibration_by_group_matches_direct_computation() -> None:
    d = _data(2, 600)
    gm = group_metrics(d["y_true"], d["y_pred"], d["sf"], y_score=d["score"])
    df = d["sf"].assign(y=d["y_true"], s=d["score"], b=score_bins(d["score"]))
    for feat in ("sex", "race"):
        mean_score = df.groupby(feat)["s"].mean()
        base = df.groupby(feat)["y"].mean()
        np.testing.assert_allclose(gm.by_group("mean_score", feat), mean_score, atol=1e-12)
        np.testing.assert_allclose(gm.by_group("base_rate", feat), base, atol=1e-12)
        ece = []
        for _, g in df.groupby(feat):
            per_bin = g.groupby("b").agg(n=("y", "size"), y=("y", "mean"), s=("s", "mean"))
            ece.append(float((per_bin["n"] * (per_bin["s"] - per_bin["y"]).abs()).sum() / len(g)))
        np.testing.assert_allclose(gm.by_group("expected_calibration_error", feat), ece,
                                   atol=1e-12)  # fmt: skip
        assert gm.difference("expected_calibration_error", feat) == pytest.approx(
            max(ece) - min(ece), abs=1e-12
        )


def test_impact_ratio_is_selection_rate_over_the_highest() -> None:
    d = _data(3)
    gm = group_metrics(d["y_true"], d["y_pred"], d["sf"])
    sr = gm.by_group("selection_rate", "race")
    np.testing.assert_allclose(gm.by_group("impact_ratio", "race"), sr / sr.max())
    assert gm.ratio("selection_rate", "race") == pytest.approx(float((sr / sr.max()).min()))


def test_bootstrap_is_seeded_and_covers_the_estimate() -> None:
    d = _data(4, 2000)
    gm = group_metrics(d["y_true"], d["y_pred"], d["sf"], y_score=d["score"])
    a = gm.bootstrap(300, np.random.default_rng(7))
    b = gm.bootstrap(300, np.random.default_rng(7))
    c = gm.bootstrap(300, np.random.default_rng(8))
    key = Key("selection_rate_ratio", ("race",), None, "between_groups")
    assert a.get(key) == b.get(key)
    assert a.get(key) != c.get(key)
    assert set(a.low) == set(gm.values)
    inside = 0
    total = 0
    for k, v in gm.values.items():
        lo, hi = a.low[k], a.high[k]
        ok = ~np.isnan(lo)
        inside += int(np.sum((lo[ok] <= np.asarray(v)[ok] + 1e-12)
                             & (np.asarray(v)[ok] <= hi[ok] + 1e-12)))  # fmt: skip
        total += int(np.sum(ok))
    assert inside / total > 0.95


def test_cell_resampling_matches_row_resampling_in_distribution() -> None:
    # The multinomial over cells is the distribution of cell counts under row resampling:
    # the bootstrap mean and spread of a disparity agree with an explicit row bootstrap.
    d = _data(5, 1500)
    gm = group_metrics(d["y_true"], d["y_pred"], d["sf"])
    key = Key("true_positive_rate_difference", ("race",), None, "between_groups")
    cells = gm.bootstrap_samples(2000, np.random.default_rng(0))[key]
    rng = np.random.default_rng(1)
    rows = []
    n = len(d["y_true"])
    for _ in range(400):
        i = rng.integers(0, n, n)
        g = group_metrics(d["y_true"][i], d["y_pred"][i], d["sf"].iloc[i])
        rows.append(g.values[key])
    rows_arr = np.asarray(rows)
    assert abs(cells.mean() - rows_arr.mean()) < 4 * rows_arr.std() / np.sqrt(400)
    assert 0.8 < cells.std() / rows_arr.std() < 1.25


def test_multinomial_counts_sum_and_shape() -> None:
    counts = np.array([[5, 0], [3, 12]])
    draws = multinomial_counts(counts, 50, np.random.default_rng(0))
    assert draws.shape == (50, 2, 2)
    assert (draws.sum(axis=(1, 2)) == 20).all()
    assert (draws[:, 0, 1] == 0).all()


def test_row_weights_are_bootstrap_counts() -> None:
    chunks = list(row_weight_chunks(1000, 25, np.random.default_rng(0), max_elements=10_000))
    w = np.concatenate(chunks)
    assert w.shape == (25, 1000) and len(chunks) == 3
    assert (w.sum(axis=1) == 1000).all()
    assert abs(w.mean() - 1) < 1e-12 and 0.9 < w.var() < 1.1


def test_percentile_interval_equals_numpy_and_skips_nan() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(999, 3))
    lo, hi = percentile_interval(x, 0.9)
    np.testing.assert_allclose(lo, np.quantile(x, 0.05, axis=0))
    np.testing.assert_allclose(hi, np.quantile(x, 0.95, axis=0))
    x[:100, 0] = np.nan
    x[:600, 1] = np.nan
    lo, hi = percentile_interval(x, 0.9)
    assert lo[0] == pytest.approx(np.quantile(x[100:, 0], 0.05))
    assert np.isnan(lo[1]) and np.isnan(hi[1])  # too few defined resamples


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (37, 120), (1, 1)])
def test_wilson_equals_scipy(k: int, n: int) -> None:
    lo, hi = wilson_interval(k, n, 0.95)
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert float(lo) == pytest.approx(ci.low, abs=1e-12)
    assert float(hi) == pytest.approx(ci.high, abs=1e-12)


def test_flag_small_reasons() -> None:
    reasons = flag_small(np.array([0, 5, 50, 50]), 30, denominator=np.array([0, 2, 0, 10]),
                         what="positive labels")  # fmt: skip
    assert reasons[0] == "no rows in this group"
    assert "fewer than min_group_size=30" in str(reasons[1])
    assert "no positive labels" in str(reasons[2])
    assert reasons[3] is None


# ------------------------------------------------------------------------------ bad input
def test_string_labels_need_pos_label() -> None:
    with pytest.raises(ParameterError, match="pos_label"):
        group_metrics(["no", "yes"], ["yes", "yes"], ["a", "b"])
    gm = group_metrics(["no", "yes"], ["yes", "yes"], ["a", "b"], pos_label="yes")
    assert gm.overall("selection_rate") == 1.0


def test_binary_metric_on_multiclass_labels_names_the_values() -> None:
    with pytest.raises(DataValidationError, match="3 classes"):
        group_metrics([0, 1, 2], [0, 1, 2], ["a", "a", "b"], pos_label=1)
    gm = group_metrics([0, 1, 2], [0, 1, 2], ["a", "a", "b"])
    with pytest.raises(DataValidationError, match="needs binary labels"):
        gm.disparity("demographic_parity_difference", "sensitive_feature_0")


def test_bad_input_errors_name_the_value() -> None:
    with pytest.raises(DataValidationError, match="missing value"):
        group_metrics([0, 1, 1], [0, 1, 0], np.array(["a", None, "b"], dtype=object))
    with pytest.raises(DataValidationError, match="differ in length"):
        group_metrics([0, 1, 1], [0, 1], ["a", "b", "b"])
    with pytest.raises(DataValidationError, match="'sex' has 2 rows"):
        group_metrics([0, 1, 1], [0, 1, 0], {"sex": ["a", "b"]})
    with pytest.raises(DataValidationError, match="Label 7"):
        group_metrics([0, 1, 7], [0, 1, 0], ["a", "b", "b"], labels=[0, 1])
    with pytest.raises(DataValidationError, match="1.5"):
        group_metrics([0, 1, 1], [0, 1, 0], ["a", "b", "b"], y_score=[0.1, 1.5, 0.2])
    with pytest.raises(DataValidationError, match="'race' not found"):
        from_count_table(pd.DataFrame({"sex": ["a"], "y_true": [1], "y_pred": [0], "count": [3]}),
                         sensitive_features=["race"])  # fmt: skip
    with pytest.raises(DataValidationError, match="negative count -2"):
        from_count_table({"s": ["a"], "y_true": [1], "y_pred": [0], "count": [-2]},
                         sensitive_features="s")  # fmt: skip
    bad_bin = {"s": ["a"], "y_true": [1], "y_pred": [0], "count": [2], "score_bin": [12],
               "score_sum": [1.0]}  # fmt: skip
    with pytest.raises(DataValidationError, match="score_bin 12"):
        from_count_table(bad_bin, sensitive_features="s")
    with pytest.raises(AuditkitError, match="pos_label='maybe'"):
        group_metrics(["no", "yes"], ["yes", "no"], ["a", "b"], pos_label="maybe")


def test_single_observed_label_is_completed() -> None:
    gm = group_metrics([1, 1, 1], [1, 0, 1], ["a", "b", "b"])
    assert gm.classes.tolist() == [0, 1]
    assert gm.by_group("false_positive_rate", "sensitive_feature_0").tolist() == [0.0, 0.0]
    assert gm.denominator("false_positive_rate", "sensitive_feature_0").tolist() == [0, 0]


def test_large_intersections_keep_only_observed_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("auditkit.metrics.table.MAX_PRODUCT_GROUPS", 4)
    rng = np.random.default_rng(0)
    sf = {"a": rng.integers(0, 3, 30), "b": rng.integers(0, 3, 30)}
    gm = group_metrics(rng.integers(0, 2, 30), rng.integers(0, 2, 30), sf)
    assert not gm.complete
    assert (gm.counts(("a", "b")) > 0).all()
    assert gm.counts(("a", "b")).sum() == 30


def test_extra_groupings_are_marginals_of_the_finest_table() -> None:
    rng = np.random.default_rng(11)
    n = 300
    sf = pd.DataFrame({"a": rng.choice(["x", "y"], n), "b": rng.choice(["p", "q", "r"], n),
                       "c": rng.integers(0, 3, n)})  # fmt: skip
    yt, yp = rng.integers(0, 2, n), rng.integers(0, 2, n)
    gm = group_metrics(yt, yp, sf, groupings=["a", ("a", "b"), ("a", "b", "c")])
    ref = group_metrics(yt, yp, sf[["a", "b"]])
    assert gm.groupings == [("a",), ("a", "b"), ("a", "b", "c")]
    assert gm.groups(("a", "b")) == ref.groups(("a", "b"))
    for name in ("selection_rate", "true_positive_rate", "accuracy"):
        ab = ("a", "b")
        np.testing.assert_array_equal(gm.by_group(name, ab), ref.by_group(name, ab))
        assert gm.ratio(name, ("a", "b")) == ref.ratio(name, ("a", "b"))
    with pytest.raises(ParameterError, match="distinct sensitive features"):
        group_metrics(yt, yp, sf, groupings=[("a", "zz")])
