"""A regression log reduced in DuckDB, Polars, PyArrow, pandas or Spark: the row path's tables.

``auditkit.scale.reduce_regression`` against the regression engine's own reduction of the rows
(``regression_count_table``) and its values (``regression_metrics``), on random logs with
weights, int, bool and unicode group columns, and against its errors.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditkit.exceptions import DataValidationError, ParameterError
from auditkit.inputs.context import RegressionCounts
from auditkit.inputs.counts import regression_counts
from auditkit.metrics import regression_table as rt
from auditkit.metrics.regression import (
    regression_count_table,
    regression_from_count_table,
    regression_metrics,
)
from auditkit.scale import RegressionCountTable, reduce_regression
from auditkit.scale import _regression as sr

duckdb = pytest.importorskip("duckdb")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

SUM_METRICS = (
    "count", "mean_prediction", "mean_target", "mean_absolute_error", "mean_squared_error",
    "root_mean_squared_error", "r2_score", "mean_error",
)  # fmt: skip
ORDER_METRICS = ("median_absolute_error", "prediction_ks_gap", "prediction_wasserstein_gap")
FLOATS = (*sr.SUM_COLUMNS[1:], "y_shift", "bin_low", "bin_high", "weight_sq_sum")


def make_log(seed: int, n: int = 600, *, kinds: str = "str") -> pd.DataFrame:
    """A random regression log: a target, a prediction, a weight and two group columns."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-2, 5)
    g1 = rng.choice(["Frau", "Mann", "divers ☃"], n, p=[0.45, 0.45, 0.1])
    g2 = {
        "str": rng.choice(["a", "b", "c"], n),
        "int": rng.choice([3, 7, 11, 20], n),
        "bool": rng.choice([True, False], n),
    }[kinds]
    y = rng.normal(5.0, 2.0, n) * scale + 100 * scale
    pred = y + rng.normal(0.3, 1.0, n) * scale + (g1 == "Frau") * 0.5 * scale
    if seed % 3 == 0:
        pred = np.round(pred / scale, 1) * scale  # ties in the histograms and medians
    w = rng.exponential(1.0, n)
    w[rng.random(n) < 0.05] = 0.0
    return pd.DataFrame({"y": y, "yhat": pred, "w": w, "sex": g1, "grp": g2, "id": np.arange(n)})


def rows_tables(df: pd.DataFrame, weighted: bool, **kw: Any) -> tuple[dict, dict]:
    return regression_count_table(
        df["y"], df["yhat"], df[["sex", "grp"]], sample_weight=df["w"] if weighted else None,
        as_frame=False, **kw,
    )  # fmt: skip


def reduce(data: Any, weighted: bool, **kw: Any) -> RegressionCountTable:
    return reduce_regression(
        data, y_true="y", y_pred="yhat", sensitive_features=["sex", "grp"],
        sample_weight="w" if weighted else None, **kw,
    )  # fmt: skip


def same_columns(got: dict, want: dict, *, skip: tuple[str, ...] = ()) -> None:
    assert list(got) == list(want)
    for k in want:
        if k in skip:
            continue
        a, b = np.asarray(got[k]), np.asarray(want[k])
        assert len(a) == len(b), k
        if k in FLOATS or k.endswith("_sum"):
            a, b = a.astype(float), b.astype(float)
            # y_dev_sq_sum is around y_shift, a mean that engines round differently: its
            # cells agree to the rounding of the largest
            atol = 1e-10 * np.abs(b).max() if k == "y_dev_sq_sum" and b.size else 0.0
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=atol, err_msg=k)
        else:
            assert [str(x) for x in a] == [str(x) for x in b], k


def group_totals(sums: dict, feats: tuple[str, ...] = ("sex", "grp")) -> pd.DataFrame:
    """The sums table added up over the blocks (independent of the block assignment)."""
    df = pd.DataFrame({k: v for k, v in sums.items() if k not in ("block", "y_shift")})
    df[list(feats)] = df[list(feats)].astype(str)
    return df.groupby(list(feats), sort=True).sum().reset_index()


def same_values(
    table: RegressionCountTable, df: pd.DataFrame, weighted: bool, n_bins: int = 256
) -> None:
    """The table's metrics equal the row path's (sums exactly, order statistics in bounds)."""
    got = regression_from_count_table(
        table.sums, table.histogram, sensitive_features=list(table.features)
    )
    w = df["w"] if weighted else None
    rows = regression_metrics(df["y"], df["yhat"], df[["sex", "grp"]], sample_weight=w)
    hist = regression_metrics(
        df["y"], df["yhat"], df[["sex", "grp"]], sample_weight=w, order_statistics="histogram",
        n_bins=n_bins,
    )  # fmt: skip
    for feats in ("sex", "grp", ("sex", "grp")):
        for m in SUM_METRICS:
            a = got.by_group(m, feats).to_numpy(dtype=float)
            b = rows.by_group(m, feats).to_numpy(dtype=float)
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=m)
            if m != "count":
                d1, d2 = got.difference(m, feats), rows.difference(m, feats)
                np.testing.assert_allclose(d1, d2, rtol=1e-8, atol=1e-9, err_msg=m)
        for m in ORDER_METRICS:
            a = got.by_group(m, feats).to_numpy(dtype=float)
            # the row path's histogram values (its histograms; weights summed in another order)
            b = hist.by_group(m, feats).to_numpy(dtype=float)
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, equal_nan=True, err_msg=m)
            exact = rows.by_group(m, feats).to_numpy(dtype=float)
            bound = got.bound(m, feats).to_numpy(dtype=float)
            ok = np.isnan(exact) | (np.abs(a - exact) <= bound + 1e-9 * (1 + np.abs(exact)))
            assert ok.all(), (m, feats)
    for m in (*SUM_METRICS[1:], "median_absolute_error"):
        np.testing.assert_allclose(got.overall(m), rows.overall(m) if m != ORDER_METRICS[0]
                                   else hist.overall(m), rtol=1e-9)  # fmt: skip


# ------------------------------------------------------------------ the contract's helpers
def test_the_copies_of_the_engine_constants_agree() -> None:
    assert sr.SUM_COLUMNS == rt.SUM_COLUMNS and sr.HIST_KINDS == rt.HIST_KINDS
    assert (sr.DEFAULT_HIST_BINS, sr.DEFAULT_N_BLOCKS) == (rt.DEFAULT_HIST_BINS,
                                                           rt.DEFAULT_N_BLOCKS)  # fmt: skip
    np.testing.assert_array_equal(sr.row_blocks(5000, 512), rt.row_blocks(5000, 512))
    for lo, hi in ((0.0, 1.0), (3.5, 3.5), (-1e6, 7.25)):
        np.testing.assert_array_equal(sr.hist_edges(lo, hi, 33), rt.hist_edges(lo, hi, 33))


def test_the_bin_arithmetic_is_the_row_paths() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        lo, hi = np.sort(rng.normal(0, 10.0 ** rng.integers(-3, 8), 2))
        b = int(rng.integers(1, 600))
        binning = sr.Binning(sr.hist_edges(lo, hi, b), b)
        k = np.arange(b)
        np.testing.assert_array_equal(k * binning.step + binning.e0, binning.edges[:-1])


# ------------------------------------------------------------------ in-memory frames: same tables
FRAMES = {
    "pandas": lambda df: df,
    "polars": lambda df: pl.from_pandas(df),
    "pyarrow": lambda df: pa.Table.from_pandas(df, preserve_index=False),
}


@pytest.mark.parametrize("engine", list(FRAMES))
@pytest.mark.parametrize(("seed", "kinds"), [(0, "str"), (1, "int"), (2, "bool"), (3, "str")])
@pytest.mark.parametrize("weighted", [False, True])
def test_in_memory_frames_give_the_row_tables(
    engine: str, seed: int, kinds: str, weighted: bool
) -> None:
    """pandas, Polars and PyArrow: the very tables of the row path (blocks included)."""
    df = make_log(seed, kinds=kinds)
    table = reduce(FRAMES[engine](df), weighted)
    assert (table.engine, table.n_rows, table.blocks) == (engine, len(df), "row path")
    want_s, want_h = rows_tables(df, weighted)
    same_columns(dict(table.sums), want_s)
    same_columns(dict(table.histogram), want_h)
    same_values(table, df, weighted)


def test_in_memory_blocks_give_the_row_paths_intervals() -> None:
    df = make_log(4, n=800)
    table = reduce(df, True)
    got = regression_from_count_table(table.sums, table.histogram, sensitive_features=["sex"])
    rows = regression_metrics(df["y"], df["yhat"], df[["sex"]], sample_weight=df["w"])
    a = got.bootstrap(60, np.random.default_rng(3))
    b = rows.bootstrap(60, np.random.default_rng(3))
    from auditkit.metrics.table import Key

    for m in ("mean_error", "mean_absolute_error", "r2_score"):
        key = Key(f"{m}_difference", ("sex",), None, "between_groups")
        np.testing.assert_allclose(a.get(key), b.get(key), rtol=1e-9)


# ------------------------------------------------------------------ DuckDB and Polars lazy
def _paths(tmp_path: Path, df: pd.DataFrame, fmt: str) -> Any:
    if fmt == "parquet":
        df.to_parquet(tmp_path / "log.parquet")
        return str(tmp_path / "log.parquet")
    if fmt == "csv":
        df.to_csv(tmp_path / "log.csv", index=False)
        return str(tmp_path / "log.csv")
    half = len(df) // 2  # a glob over two files, and the same as a list
    df.iloc[:half].to_parquet(tmp_path / "a.parquet")
    df.iloc[half:].to_parquet(tmp_path / "b.parquet")
    return str(tmp_path / "*.parquet") if fmt == "glob" else [
        str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")
    ]  # fmt: skip


@pytest.mark.parametrize("source", ["parquet", "csv", "glob", "list", "relation", "lazy"])
@pytest.mark.parametrize(("seed", "kinds", "weighted"), [(5, "str", True), (6, "int", False),
                                                         (7, "bool", True)])  # fmt: skip
def test_out_of_core_engines_give_the_row_values(
    tmp_path: Path, source: str, seed: int, kinds: str, weighted: bool
) -> None:
    """Files, relations, LazyFrames: same histograms and group sums; values equal."""
    df = make_log(seed, kinds=kinds)
    if source == "relation":
        data: Any = duckdb.from_df(df)
    elif source == "lazy":
        data = pl.from_pandas(df).lazy()
    else:
        data = _paths(tmp_path, df, source)
    table = reduce(data, weighted)
    assert table.engine == ("polars" if source == "lazy" else "duckdb")
    assert table.n_rows == len(df) and table.blocks != "row path"
    want_s, want_h = rows_tables(df, weighted)
    same_columns(dict(table.histogram), want_h)
    got, want = group_totals(dict(table.sums)), group_totals(want_s)
    same_columns(got.to_dict("list"), want.to_dict("list"))
    blocks = np.asarray(table.sums["block"])
    assert (
        blocks.min() >= 0 and blocks.max() < 512 and len(np.unique(blocks)) > 300
    )  # 600 rows: about 354 expected
    same_values(table, df, weighted)


def test_rows_of_several_files_get_independent_blocks(tmp_path: Path) -> None:
    """Row i of two files never shares its block by position, whatever the file names.

    ``hash(file_row_number, filename)`` did in about 1 run in 250 (the two files' blocks equal
    row by row), so the block bootstrap resampled such row pairs together.
    """
    from auditkit.scale._regression_duckdb import _block_sql, _parquet_source

    spec = sr.Spec(("g",), "y", "p", None, None, 64, 512, 100)
    df = pd.DataFrame({"x": np.arange(400)})
    same, counts = 0, []
    for i in range(300):  # 300 folder names: the old key fails here with probability ~0.7
        d = tmp_path / f"run_{i}"
        d.mkdir()
        df.iloc[:200].to_parquet(d / "a.parquet")
        df.iloc[200:].to_parquet(d / "b.parquet")
        src, position = _parquet_source([str(d / "a.parquet"), str(d / "b.parquet")])
        block = _block_sql(spec, position)
        rows = duckdb.sql(
            f"SELECT __auditkit_file AS f, file_row_number AS r, {block} AS b FROM {src} "
            "ORDER BY f, r"
        ).fetchall()
        blocks = np.array([r[2] for r in rows]).reshape(2, 200)
        same += int((blocks[0] == blocks[1]).all())
        counts.append(len(np.unique(blocks)))
    assert same == 0
    # 400 independent rows in 512 blocks: 512 * (1 - (1 - 1/512) ** 400) distinct (278.5),
    # sd about 6 per folder, so the mean of 300 folders is within 3 of it
    expected = spec.n_blocks * (1 - (1 - 1 / spec.n_blocks) ** 400)
    assert min(counts) > expected - 40 and abs(np.mean(counts) - expected) < 3


def test_many_random_cases_against_the_row_path(tmp_path: Path) -> None:
    """30 random logs (sizes, scales, ties, weights) through DuckDB and pandas."""
    rng = np.random.default_rng(11)
    for i in range(30):
        n = int(rng.integers(30, 400))
        df = make_log(100 + i, n=n, kinds=("str", "int", "bool")[i % 3])
        weighted = bool(i % 2)
        nb, bins = int(rng.integers(1, 64)), int(rng.integers(1, 40))
        rel = reduce(duckdb.from_df(df), weighted, n_bins=bins, n_blocks=nb)
        frame = reduce(df, weighted, n_bins=bins, n_blocks=nb)
        want_s, want_h = rows_tables(df, weighted, n_bins=bins, n_blocks=nb)
        same_columns(dict(frame.sums), want_s)
        same_columns(dict(frame.histogram), want_h)
        same_columns(dict(rel.histogram), want_h)
        same_columns(group_totals(dict(rel.sums)).to_dict("list"),
                     group_totals(want_s).to_dict("list"))  # fmt: skip
        same_values(rel, df, weighted, n_bins=bins)


def test_row_id_makes_the_table_independent_of_the_row_order(tmp_path: Path) -> None:
    df = make_log(8)
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    tables = []
    for data in (duckdb.from_df(df), duckdb.from_df(shuffled)):
        tables.append(reduce(data, True, row_id="id"))
    same_columns(dict(tables[0].sums), dict(tables[1].sums))
    a, b = reduce(df, True, row_id="id"), reduce(shuffled, True, row_id="id")
    same_columns(dict(a.sums), dict(b.sums))
    c, d = (
        reduce(pl.from_pandas(df).lazy(), True, row_id="id"),
        reduce(pl.from_pandas(shuffled).lazy(), True, row_id="id"),
    )
    same_columns(dict(c.sums), dict(d.sums))
    assert "id" in tables[0].blocks and tables[0].columns["row_id"] == "id"


def test_constant_predictions_and_one_block(tmp_path: Path) -> None:
    df = make_log(9, n=200)
    df["yhat"] = 3.0  # one prediction: the histogram is one bin of width 1 around it
    table = reduce(duckdb.from_df(df), False, n_blocks=1, n_bins=8)
    want_s, want_h = rows_tables(df, False, n_blocks=1, n_bins=8)
    same_columns(dict(table.sums), want_s)
    same_columns(dict(table.histogram), want_h)


def test_memory_limit_and_threads_reach_duckdb(tmp_path: Path) -> None:
    df = make_log(10)
    path = _paths(tmp_path, df, "parquet")
    table = reduce_regression(path, y_true="y", y_pred="yhat", sensitive_features="sex",
                              memory_limit="200MB", threads=1)  # fmt: skip
    assert table.features == ("sex",) and table.source == "log.parquet"
    with pytest.raises(ParameterError, match="memory_limit"):
        reduce_regression(path, y_true="y", y_pred="yhat", sensitive_features="sex",
                          memory_limit="lots")  # fmt: skip


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("engine", ["parquet", "relation", "pandas", "polars", "lazy", "pyarrow"])
@pytest.mark.parametrize("column", ["y", "yhat"])
def test_missing_or_infinite_values_are_counted(tmp_path: Path, engine: str, column: str) -> None:
    df = make_log(12, n=100)
    df.loc[[3, 50], column] = np.nan
    df.loc[7, column] = np.inf
    data = _frame(tmp_path, df, engine)
    what = "y_true" if column == "y" else "y_pred"
    with pytest.raises(DataValidationError, match=rf"{what} column '{column}'.*3 of 100 row"):
        reduce(data, False)


def _frame(tmp_path: Path, df: pd.DataFrame, engine: str) -> Any:
    if engine == "parquet":
        return _paths(tmp_path, df, "parquet")
    if engine == "relation":
        return duckdb.from_df(df)
    if engine == "lazy":
        return pl.from_pandas(df, nan_to_null=False).lazy()
    return FRAMES[engine](df)


@pytest.mark.parametrize("engine", ["parquet", "relation", "pandas", "lazy"])
def test_missing_columns_and_bad_weights(tmp_path: Path, engine: str) -> None:
    df = make_log(13, n=100)
    df.loc[[1, 2], "w"] = -1.0
    data = _frame(tmp_path, df, engine)
    with pytest.raises(DataValidationError, match=r"'target' not found.*available: .*yhat"):
        reduce_regression(data, y_true="target", y_pred="yhat", sensitive_features="sex")
    with pytest.raises(DataValidationError, match=r"Sensitive column 'race' not found"):
        reduce_regression(data, y_true="y", y_pred="yhat", sensitive_features="race")
    with pytest.raises(DataValidationError, match=r"sample_weight column 'w'.*2 of 100 row"):
        reduce(data, True)


@pytest.mark.parametrize("engine", ["parquet", "relation", "pandas", "polars", "lazy"])
def test_missing_group_values_are_refused(tmp_path: Path, engine: str) -> None:
    df = make_log(14, n=100)
    df["sex"] = df["sex"].astype(object)
    df.loc[[4, 9, 10], "sex"] = None
    with pytest.raises(DataValidationError, match=r"Sensitive column 'sex' has 3 missing"):
        reduce(_frame(tmp_path, df, engine), False)


def test_text_targets_and_other_bad_input(tmp_path: Path) -> None:
    df = make_log(15, n=50)
    df["y"] = df["y"].astype(str)
    df.loc[0, "y"] = "n/a"
    with pytest.raises(DataValidationError, match=r"y_true column 'y' must hold numbers"):
        reduce(df, False)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    # DuckDB's CSV reader converts the column itself (its sample said numbers)
    with pytest.raises(
        DataValidationError, match=r"converting column \"y\"\. Could not convert string \"n/a\""
    ):
        reduce(str(path), False)
    with pytest.raises(ParameterError, match="y_pred"):
        reduce_regression(df, y_true="y", y_pred=3, sensitive_features="sex")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="count-table column"):
        reduce_regression(df, y_true="y", y_pred="yhat", sensitive_features="block")
    with pytest.raises(ParameterError, match="n_bins"):
        reduce_regression(df, y_true="y", y_pred="yhat", sensitive_features="sex", n_bins=0)
    with pytest.raises(DataValidationError, match="does not exist"):
        reduce(str(tmp_path / "nope.parquet"), False)
    empty = make_log(15, n=20).iloc[:0]
    with pytest.raises(DataValidationError, match="no rows"):
        reduce(duckdb.from_df(empty), False)


def test_too_many_groups_are_refused_before_the_group_by() -> None:
    df = make_log(16, n=400)
    df["sex"] = np.arange(400).astype(str)
    for data in (df, duckdb.from_df(df)):
        with pytest.raises(DataValidationError, match="distinct values"):
            reduce(data, False, max_groups=50)


# ------------------------------------------------------------------ the context's counts
def test_regression_counts_writes_groups_as_strings() -> None:
    df = make_log(17, kinds="bool")
    table = reduce(duckdb.from_df(df), True)
    rc = regression_counts(table)
    assert isinstance(rc, RegressionCounts) and rc.n_rows == len(df)
    assert rc.features == ("sex", "grp") and rc.engine == "duckdb"
    assert rc.histogram is not None
    assert set(rc.sums["grp"]) == {"True", "False"} and set(rc.histogram["grp"]) == {
        "True", "False"
    }  # fmt: skip
    a = regression_from_count_table(rc.sums, rc.histogram, sensitive_features=rc.features)
    b = regression_from_count_table(table.sums, table.histogram, sensitive_features=["sex", "grp"])
    for m in (*SUM_METRICS, *ORDER_METRICS):
        np.testing.assert_array_equal(a.by_group(m, "grp").to_numpy(dtype=float),
                                      b.by_group(m, "grp").to_numpy(dtype=float))  # fmt: skip
    with pytest.raises(ParameterError, match="RegressionCountTable"):
        regression_counts(df)
    with pytest.raises(ParameterError, match="already a count table"):
        reduce(table, False)


# ------------------------------------------------------------------ Spark
@pytest.mark.spark
@pytest.mark.parametrize("weighted", [False, True])
def test_spark_gives_the_row_values(spark: Any, weighted: bool) -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    from test_spark import to_spark  # plain rows: PySpark warns on pandas 3 frames

    df = make_log(18, kinds="int")
    table = reduce(to_spark(spark, df), weighted)
    assert table.engine == "spark" and table.n_rows == len(df)
    want_s, want_h = rows_tables(df, weighted)
    same_columns(dict(table.histogram), want_h)
    same_columns(group_totals(dict(table.sums)).to_dict("list"),
                 group_totals(want_s).to_dict("list"))  # fmt: skip
    same_values(table, df, weighted)
    bad = df.copy()
    bad.loc[[0, 1], "yhat"] = np.nan
    with pytest.raises(DataValidationError, match=r"y_pred column 'yhat'.*2 of 600 row"):
        reduce(to_spark(spark, bad), False)


def test_hashed_blocks_give_intervals_like_the_row_paths(tmp_path: Path) -> None:
    """DuckDB's hash of the row position: the row path's interval widths, even on a sorted log.

    The claim of the module docstring (values identical, intervals slightly different): on a
    log sorted by the target, where blocks of consecutive rows would make the bootstrap far
    too narrow, the hashed blocks' interval widths stay within 20% of the row path's.
    """
    from auditkit.metrics.table import Key

    rng = np.random.default_rng(21)
    n = 6000
    g = rng.choice(["a", "b"], n)
    y = rng.gamma(3.0, 10.0, n)
    df = pd.DataFrame({"y": y, "yhat": y + rng.normal(0, 5, n) + (g == "a"), "sex": g})
    df = df.sort_values("y").reset_index(drop=True)
    df.to_parquet(tmp_path / "sorted.parquet")
    table = reduce_regression(str(tmp_path / "sorted.parquet"), y_true="y", y_pred="yhat",
                              sensitive_features="sex")  # fmt: skip
    got = regression_from_count_table(table.sums, table.histogram, sensitive_features="sex")
    rows = regression_metrics(df["y"], df["yhat"], df[["sex"]])
    a = got.bootstrap(400, np.random.default_rng(1))
    b = rows.bootstrap(400, np.random.default_rng(1))
    for m in ("mean_error", "mean_absolute_error", "root_mean_squared_error", "r2_score"):
        key = Key(f"{m}_difference", ("sex",), None, "between_groups")
        wa, wb = np.diff(a.get(key))[0], np.diff(b.get(key))[0]
        assert 0.8 < wa / wb < 1.25, (m, wa, wb)
    counts = np.bincount(np.asarray(table.sums["block"]), weights=table.sums["count"],
                         minlength=512)  # fmt: skip
    assert counts.min() > 0 and counts.std() / counts.mean() < 0.3  # uniform over blocks
