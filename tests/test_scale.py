"""Audits of logs reduced inside their engine equal the row-by-row audit.

The same random logs (intersections, small and empty groups, int/str/bool labels) are audited
row by row from pandas and reduced in pandas, Polars (eager and lazy), PyArrow, DuckDB
relations and DuckDB over Parquet/CSV files and globs; every performance and fairness value
agrees to 1e-12 (ROC AUC: exactly when no fine score bin mixes different scores of both
classes, and within the bound the audit states otherwise).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import auditkit
from auditkit.cli import main
from auditkit.exceptions import DataValidationError, ParameterError
from auditkit.scale import AUC_BINS, CountTable, reduce_predictions

duckdb = pytest.importorskip("duckdb")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

SECTIONS = ["performance", "fairness"]
TOL = 1e-12


# ----------------------------------------------------------------------------- the data
def make_log(
    seed: int, n: int = 1500, *, labels: str = "int", quantized: bool = True
) -> pd.DataFrame:
    """A log with two sensitive columns, a rare group and an empty intersection."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.5, 0.3, 0.18, 0.02])
    band = rng.choice([1, 2, 3], n, p=[0.45, 0.45, 0.10])
    band[region == "west"] = 1  # west x {2, 3} never occurs
    y = (rng.random(n) < 0.3 + 0.15 * (region == "south")).astype(int)
    score = np.clip(0.45 * y + 0.55 * rng.random(n) - 0.05 * (band == 3), 0.0, 1.0)
    if quantized:
        score = np.round(score, 3)
    score[:3] = [0.0, 1.0, 0.5]  # bin edges
    decision = (score >= 0.5).astype(int)
    if labels == "str":
        yt, yp = (
            np.where(y == 1, "approved", "denied"),
            np.where(decision == 1, "approved", "denied"),
        )
    elif labels == "bool":
        yt, yp = y.astype(bool), decision.astype(bool)
    else:
        yt, yp = y, decision
    return pd.DataFrame(
        {"region": region, "band": band, "label": yt, "decision": yp, "score": score}
    )


KW: dict[str, Any] = {
    "y_true": "label", "y_pred": "decision", "y_score": "score",
    "sensitive_features": ["region", "band"], "sections": SECTIONS,
    # the exact log loss of a reduced log is on request; rows always have it
    "options": {"log_loss": True},
}  # fmt: skip


def engines(tmp_path: Path) -> dict[str, Callable[[pd.DataFrame], Any]]:
    def parquet(df: pd.DataFrame) -> str:
        p = tmp_path / "log.parquet"
        df.to_parquet(p)
        return str(p)

    def parquet_glob(df: pd.DataFrame) -> str:
        parts = np.array_split(np.arange(len(df)), 3)
        for i, idx in enumerate(parts):
            df.iloc[idx].to_parquet(tmp_path / f"part-{i}.parquet")
        return str(tmp_path / "part-*.parquet")

    def csv(df: pd.DataFrame) -> str:
        p = tmp_path / "log.csv"
        df.to_csv(p, index=False)
        return str(p)

    return {
        "pandas": lambda df: df,
        "polars": lambda df: pl.from_pandas(df),
        "polars-lazy": lambda df: pl.from_pandas(df).lazy(),
        "pyarrow": lambda df: pa.Table.from_pandas(df, preserve_index=False),
        "duckdb-relation": lambda df: duckdb.from_arrow(pa.Table.from_pandas(df)),
        "parquet": parquet,
        "parquet-glob": parquet_glob,
        "csv": csv,
    }


def values(result: auditkit.AuditResult) -> dict[tuple[Any, ...], float | None]:
    out = {}
    for name in SECTIONS:
        sec = result.section(name)
        if sec is None:
            continue
        assert sec.status == "ok", sec.reason
        for m in sec.metrics:
            if m.name.startswith(("mitigation_", "tradeoff_")):
                continue
            if name == "fairness" and m.name.startswith("roc_auc"):
                continue  # ROC AUC by group needs the rows' ranks: row audits only
            out[(name, m.name, m.feature, m.group, m.label, m.method, m.agg)] = m.value
    return out


def section(result: auditkit.AuditResult, name: str) -> Any:
    sec = result.section(name)
    assert sec is not None, name
    return sec


def intervals(result: auditkit.AuditResult) -> dict[tuple[Any, ...], Any]:
    return {
        (s.name, m.name, m.feature, m.group, m.label, m.method, m.agg): m.ci
        for s in result.sections if s.status == "ok" for m in s.metrics
    }  # fmt: skip


def assert_close(a: float | None, b: float | None, key: Any, tol: float = TOL) -> None:
    if a is None or b is None or (math.isnan(a) and math.isnan(b)):
        assert (a is None) == (b is None), key
        return
    assert abs(a - b) <= tol * max(1.0, abs(a)), (key, a, b)


def compare(rows: dict[Any, Any], other: dict[Any, Any], *, auc_tol: float = TOL) -> None:
    assert set(rows) == set(other), set(rows) ^ set(other)
    for key, a in rows.items():
        assert_close(a, other[key], key, auc_tol if key[1] == "roc_auc" else TOL)


# ------------------------------------------------------------------------ equal values
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_engine_equals_the_row_audit(tmp_path: Path, seed: int) -> None:
    df = make_log(seed, labels=["int", "str", "bool", "int"][seed])
    pos = {"str": "approved"}.get(["int", "str", "bool", "int"][seed])
    rows = auditkit.audit_predictions(data=df, pos_label=pos, n_boot=0, **KW)
    assert rows.data.get("engine") is None  # pandas: row by row
    base = values(rows)
    assert any(k[1] == "roc_auc" for k in base)
    for name, make in engines(tmp_path).items():
        res = auditkit.audit_predictions(
            data=make(df), pos_label=pos, n_boot=0, reduce=True if name == "pandas" else None,
            **KW,
        )  # fmt: skip
        assert res.data["n_rows"] == len(df), name
        assert res.data["classes"] == rows.data["classes"], name
        assert res.data["positive_class"] == rows.data["positive_class"], name
        compare(base, values(res))
        perf = section(res, "performance")
        auc = next(m for m in perf.metrics if m.name == "roc_auc")
        assert auc.flags == () and perf.info["roc_auc_max_error"] == 0


def test_random_logs_equal_the_row_audit_with_either_positive_class() -> None:
    """Many small random logs (exact 0 and 1 scores, tiny groups, either label positive):
    Brier score, calibration and log loss from the count table equal the rows to 1e-12."""
    rng = np.random.default_rng(2024)
    for seed in range(12):
        n = int(rng.integers(40, 400))
        df = make_log(100 + seed, n=n, labels=["int", "str", "bool"][seed % 3],
                      quantized=bool(seed % 2))  # fmt: skip
        df.loc[rng.choice(n, 5, replace=False), "score"] = rng.choice([0.0, 1.0], 5)
        labels = sorted(df["label"].unique().tolist())
        pos = labels[int(rng.integers(0, len(labels)))]
        rows = auditkit.audit_predictions(data=df, pos_label=pos, n_boot=0, **KW)
        red = auditkit.audit_predictions(data=pl.from_pandas(df), pos_label=pos, n_boot=0, **KW)
        bound = section(red, "performance").info["roc_auc_max_error"]
        compare(values(rows), values(red), auc_tol=bound + TOL)


@pytest.mark.parametrize("seed", [4, 5])
def test_continuous_scores_auc_within_the_stated_bound(tmp_path: Path, seed: int) -> None:
    df = make_log(seed, n=4000, quantized=False)
    rows = values(auditkit.audit_predictions(data=df, n_boot=0, **KW))
    results = {
        name: auditkit.audit_predictions(
            data=make(df), n_boot=0, reduce=True if name == "pandas" else None, **KW
        )
        for name, make in engines(tmp_path).items()
    }
    first = values(next(iter(results.values())))
    for res in results.values():
        perf = section(res, "performance")
        bound = perf.info["roc_auc_max_error"]
        assert 0 < bound < 1e-3
        compare(rows, values(res), auc_tol=bound + TOL)
        compare(first, values(res))  # the engines agree with each other exactly
        auc = next(m for m in perf.metrics if m.name == "roc_auc")
        assert auc.flags == ("approximate",) and f"{AUC_BINS:,}" in (auc.reason or "")


def test_multiclass_without_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 900
    y = rng.choice(["cat", "dog", "eel"], n, p=[0.5, 0.4, 0.1])
    p = np.where(rng.random(n) < 0.7, y, rng.choice(["cat", "dog", "eel"], n))
    df = pd.DataFrame({"label": y, "decision": p, "g": rng.choice(["a", "b", "c"], n)})
    kw: dict[str, Any] = {"y_true": "label", "y_pred": "decision", "sensitive_features": "g",
                          "n_boot": 0, "sections": SECTIONS}  # fmt: skip
    rows = values(auditkit.audit_predictions(data=df, **kw))
    for name in ("polars", "parquet", "csv", "duckdb-relation"):
        res = auditkit.audit_predictions(data=engines(tmp_path)[name](df), **kw)
        assert res.data["task"] == "multiclass"
        compare(rows, values(res))


def test_one_observed_label_is_completed_as_on_the_row_path() -> None:
    df = make_log(0, n=200)
    df["label"] = 1
    rows = auditkit.audit_predictions(data=df, n_boot=0, **KW)
    red = auditkit.audit_predictions(data=pl.from_pandas(df), n_boot=0, **KW)
    assert red.data["classes"] == rows.data["classes"]
    compare(values(rows), values(red))


def test_intervals_are_the_same_from_every_engine(tmp_path: Path) -> None:
    df = make_log(3, n=1200)
    runs = [
        auditkit.audit_predictions(data=make(df), n_boot=60, random_state=5, **KW)
        for name, make in engines(tmp_path).items()
        if name != "pandas"
    ]
    first = intervals(runs[0])
    assert sum(ci is not None for ci in first.values()) > 50
    for res in runs[1:]:
        other = intervals(res)
        assert set(other) == set(first)
        for key, ci in first.items():
            if ci is None:
                assert other[key] is None, key
            else:
                assert np.allclose(ci, other[key], rtol=1e-9, atol=1e-12), key


def test_intervals_of_a_reduced_log_are_as_wide_as_the_row_bootstrap() -> None:
    """The count-table bootstrap (cells + normal within-cell sums) matches row resampling."""
    df = make_log(11, n=20_000, quantized=False)
    rows = auditkit.audit_predictions(data=df, n_boot=300, **KW)
    red = auditkit.audit_predictions(data=pl.from_pandas(df), n_boot=300, **KW)
    for name in ("roc_auc", "log_loss", "brier_score", "expected_calibration_error"):
        a = next(m for m in section(rows, "performance").metrics if m.name == name)
        b = next(m for m in section(red, "performance").metrics if m.name == name)
        assert a.ci is not None and b.ci is not None
        assert b.ci[0] < b.value < b.ci[1], name
        ratio = (b.ci[1] - b.ci[0]) / (a.ci[1] - a.ci[0])
        assert 0.75 < ratio < 1.33, (name, ratio)


def test_a_count_table_reduced_earlier_audits_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # created_at would differ across a second
    df = make_log(1)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    table = reduce_predictions(
        str(p), y_true="label", y_pred="decision", y_score="score",
        sensitive_features=["region", "band"], log_loss=True,
    )  # fmt: skip
    assert isinstance(table, CountTable) and table.engine == "duckdb"
    assert table.n_rows == len(df) and table.has_scores and table.has_log_loss
    assert len(table.to_frame()) == len(table.groups["count"]) < len(df)
    assert set(table.to_frame().columns) >= {"score_bin", "nll_pos", "nll_neg", "nll_pos_sq"}
    assert set(table.to_frame("scores").columns) == {
        "y_true", "fine_bin", "count", "score_min", "score_max"
    }
    direct = auditkit.audit_predictions(data=str(p), n_boot=30, **KW)
    again = auditkit.audit_predictions(
        data=table, n_boot=30, sections=SECTIONS, y_true=None, y_pred=None
    )
    assert auditkit.to_json(direct) == auditkit.to_json(again)


def test_log_loss_of_a_reduced_log_is_on_request(tmp_path: Path) -> None:
    """Without log_loss the reduction computes no logarithm; the metric says how to ask."""
    df = make_log(8, n=2000, quantized=False)
    kw = {**KW, "options": {}}
    rows = values(auditkit.audit_predictions(data=df, n_boot=0, **kw))
    for name in ("polars", "parquet", "duckdb-relation"):
        res = auditkit.audit_predictions(data=engines(tmp_path)[name](df), n_boot=40, **kw)
        perf = section(res, "performance")
        loss = next(m for m in perf.metrics if m.name == "log_loss")
        assert loss.value is None and loss.ci is None
        assert "options={'log_loss': True}" in (loss.reason or "")
        assert "log_loss" in perf.info and "--log-loss" in perf.info["log_loss"]
        got = values(res)
        bound = perf.info["roc_auc_max_error"]
        for key, a in rows.items():  # everything else is there and equal
            if key[1] != "log_loss":
                assert_close(a, got[key], key, bound + TOL if key[1] == "roc_auc" else TOL)
        brier = next(m for m in perf.metrics if m.name == "brier_score")
        assert brier.ci is not None and brier.ci[0] < brier.value < brier.ci[1]
    table = reduce_predictions(engines(tmp_path)["parquet"](df), **{
        k: v for k, v in KW.items() if k in ("y_true", "y_pred", "y_score", "sensitive_features")
    })  # fmt: skip
    assert not table.has_log_loss and "nll_pos" not in table.to_frame().columns
    with pytest.raises(ParameterError, match=r"reduce_predictions\(\.\.\., log_loss=True\)"):
        auditkit.audit_predictions(data=table, options={"log_loss": True})
    with pytest.raises(ParameterError, match="'log_loss' parameter"):
        reduce_predictions(df, y_true="label", y_pred="decision", sensitive_features="region",
                           log_loss="yes")  # fmt: skip
    with pytest.raises(ParameterError, match=r"option 'log_loss' of audit_predictions"):
        auditkit.audit_predictions(data=pl.from_pandas(df), **{**KW, "options": {"log_loss": 1}})


def test_sections_that_need_rows_are_skipped_with_the_reason(tmp_path: Path) -> None:
    df = make_log(2, n=300)
    res = auditkit.audit_predictions(data=pl.from_pandas(df), n_boot=0, **{**KW, "sections": None})
    status = {s.name: (s.status, s.reason or "") for s in res.sections}
    assert status["performance"][0] == status["fairness"][0] == "ok"
    assert status["stability"][0] == "skipped" and "reduce=False" in status["stability"][1]
    assert section(res, "fairness").info["mitigation"]["status"] == "skipped"
    assert res.data["engine"] == "polars" and res.data["reduction"]["score_cells"] > 0
    rows = auditkit.audit_predictions(data=pl.from_pandas(df), n_boot=0, reduce=False, **KW)
    assert section(rows, "fairness").info["mitigation"]["status"] == "ok"
    assert "engine" not in rows.data


def test_a_fairness_audit_skips_the_score_cells(tmp_path: Path) -> None:
    df = make_log(6)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    kw = {**KW, "sections": ["fairness"]}
    fair = auditkit.audit_predictions(data=str(p), n_boot=0, **kw)
    assert fair.data["reduction"]["score_cells"] is None
    rows = auditkit.audit_predictions(data=df, n_boot=0, **kw)
    got, ref = values(fair), values(rows)
    assert set(got) == set(ref) and any(k[1] == "expected_calibration_error" for k in got)
    for key, a in ref.items():
        assert_close(a, got[key], key)
    bad = df.copy()
    bad.loc[4, "score"] = 2.0
    bad.to_parquet(p)
    with pytest.raises(DataValidationError, match="1 value"):
        auditkit.audit_predictions(data=str(p), **kw)


def test_reduce_false_reads_files_into_memory(tmp_path: Path) -> None:
    df = make_log(0, n=400)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    a = auditkit.audit_predictions(data=str(p), n_boot=20, reduce=False, **KW)
    b = auditkit.audit_predictions(data=df, n_boot=20, **KW)
    assert "engine" not in a.data
    assert values(a) == values(b) and intervals(a) == intervals(b)


def test_same_json_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    df = make_log(5, quantized=False)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    a = auditkit.to_json(auditkit.audit_predictions(data=str(p), n_boot=50, **KW))
    b = auditkit.to_json(auditkit.audit_predictions(data=str(p), n_boot=50, **KW))
    assert a == b


def test_memory_limit_and_threads(tmp_path: Path) -> None:
    df = make_log(0, n=500)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    small = reduce_predictions(
        str(p), y_true="label", y_pred="decision", sensitive_features="region",
        memory_limit="64MB", threads=1,
    )  # fmt: skip
    assert small.n_rows == 500
    with pytest.raises(ParameterError, match="memory_limit='lots'"):
        reduce_predictions(
            str(p), y_true="label", y_pred="decision", sensitive_features="region",
            memory_limit="lots",
        )  # fmt: skip


def test_progress_bar_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = make_log(0, n=50_000, quantized=False)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    table = reduce_predictions(
        str(p), y_true="label", y_pred="decision", y_score="score",
        sensitive_features=["region", "band"], show_progress=True,
    )  # fmt: skip
    captured = capsys.readouterr()
    assert table.n_rows == 50_000
    assert "reducing log.parquet" in captured.err and captured.out == ""


@pytest.mark.parametrize("fanout", [True, False])
def test_one_scan_and_two_scans_give_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fanout: bool
) -> None:
    """The one-statement reduction (a CTE read by both group-bys) equals two group-bys."""
    from auditkit.scale import _duckdb

    df = make_log(7, n=3000, quantized=False)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    kw: dict[str, Any] = {
        "y_true": "label", "y_pred": "decision", "y_score": "score",
        "sensitive_features": ["region", "band"], "log_loss": True,
    }  # fmt: skip
    monkeypatch.setattr(_duckdb, "fans_out", lambda: fanout)
    calls: list[str] = []
    run = _duckdb._run

    def counting_run(con: Any, sql: str, **k: Any) -> Any:
        calls.append(sql)
        return run(con, sql, **k)

    monkeypatch.setattr(_duckdb, "_run", counting_run)
    table = reduce_predictions(str(p), **kw)
    assert len(calls) == (1 if fanout else 2)
    assert ("UNION ALL BY NAME" in calls[0]) is fanout
    ref = reduce_predictions(pl.from_pandas(df), **kw)  # Polars' group-by, the other engine
    for which, keys in (
        ("groups", ["region", "band", "y_true", "y_pred", "score_bin"]),
        ("scores", ["y_true", "fine_bin"]),
    ):
        a = table.to_frame(which)
        b = ref.to_frame(which)
        a = a.sort_values(keys).reset_index(drop=True)
        b = b[a.columns].sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-12, atol=0)


def test_score_bins_follow_the_definition_at_the_edges() -> None:
    """DuckDB's bins equal ``min(floor(s * n), n - 1)``, also at bin edges and next to 1."""
    from auditkit.scale._duckdb import _bin_sql

    rng = np.random.default_rng(3)
    edges = [k / n for n in (10, 16384) for k in range(n + 1)][::7] + [0.1, 0.3, 0.7, 0.9]
    s = np.r_[
        rng.random(20_000), edges, np.nextafter(np.array(edges), 0.0),
        np.nextafter(np.array(edges), 1.0), 0.0, 1.0, np.nextafter(1.0, 0.0), 5e-324,
    ].clip(0.0, 1.0)  # fmt: skip
    con = duckdb.connect()
    con.register("tab", pa.table({"s": s}))
    for n in (10, 16384, 7, 1000):
        got = con.sql(f"SELECT {_bin_sql(n)} AS b FROM tab").fetchnumpy()["b"]
        np.testing.assert_array_equal(got, np.minimum(np.floor(s * n), n - 1).astype(np.int64))
    bad = [np.nan, -0.0, -1e-300, 1 + 2**-52, np.inf, -np.inf, None]
    con.register("bad", pa.table({"s": bad}))
    got = con.sql(f"SELECT {_bin_sql(10)} AS b FROM bad").fetchnumpy()["b"]
    assert got.tolist() == [-1, 0, -1, -1, -1, -1, -1]


def test_progress_bar_reaches_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = make_log(1, n=20_000, quantized=False)
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    for cells in (True, False):
        reduce_predictions(
            str(p), y_true="label", y_pred="decision", y_score="score",
            sensitive_features="region", show_progress=True, score_cells=cells,
        )  # fmt: skip
        err = capsys.readouterr().err
        assert "100/100" in err and "reducing log.parquet" in err


# ------------------------------------------------------------------------------- errors
def test_bad_columns_name_the_column_and_what_is_there(tmp_path: Path) -> None:
    df = make_log(0, n=100)
    for data in (pl.from_pandas(df), duckdb.from_df(df)):
        with pytest.raises(DataValidationError, match="did you mean 'region'"):
            auditkit.audit_predictions(data=data, **{**KW, "sensitive_features": ["regoin"]})
        with pytest.raises(DataValidationError, match="'labl' not found"):
            auditkit.audit_predictions(data=data, **{**KW, "y_true": "labl"})
    p = tmp_path / "log.parquet"
    df.to_parquet(p)
    with pytest.raises(DataValidationError, match="log.parquet.*did you mean 'score'"):
        auditkit.audit_predictions(data=str(p), **{**KW, "y_score": "scor"})
    with pytest.raises(ParameterError, match="'y_true' parameter"):
        auditkit.audit_predictions(data=pl.from_pandas(df), **{**KW, "y_true": df["label"]})


@pytest.mark.parametrize("kind", ["polars", "parquet", "csv"])
def test_missing_values_and_bad_scores(tmp_path: Path, kind: str) -> None:
    make = engines(tmp_path)[kind]
    df = make_log(0, n=200)
    bad = df.copy()
    bad.loc[[3, 9], "region"] = None
    with pytest.raises(DataValidationError, match="'region' has 2 missing value"):
        auditkit.audit_predictions(data=make(bad), **KW)
    bad = df.astype({"label": float})
    bad.loc[5, "label"] = np.nan
    with pytest.raises(DataValidationError, match="y_true column 'label' has 1 missing"):
        auditkit.audit_predictions(data=make(bad), **KW)
    bad = df.copy()
    bad.loc[7, "score"] = 1.7
    with pytest.raises(DataValidationError, match=r"probabilities in \[0, 1\].*1\.7"):
        auditkit.audit_predictions(data=make(bad), **KW)
    bad.loc[7, "score"] = np.nan
    with pytest.raises(DataValidationError, match="'score' must hold probabilities"):
        auditkit.audit_predictions(data=make(bad), **KW)


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="nope.parquet' does not exist"):
        auditkit.audit_predictions(data=str(tmp_path / "nope.parquet"), **KW)
    with pytest.raises(DataValidationError, match="No file matches"):
        auditkit.audit_predictions(data=str(tmp_path / "*.parquet"), **KW)
    (tmp_path / "a.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataValidationError, match="a.parquet"):
        auditkit.audit_predictions(data=str(tmp_path / "a.parquet"), **KW)
    (tmp_path / "b.txt.bz2").write_text("x")
    with pytest.raises(DataValidationError, match="must end in .parquet"):
        auditkit.audit_predictions(data=str(tmp_path / "b.txt.bz2"), **KW)
    make_log(0, n=50).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(DataValidationError, match="mix Parquet and CSV"):
        auditkit.audit_predictions(data=[str(tmp_path / "a.parquet"), str(tmp_path / "c.csv")],
                                   **KW)  # fmt: skip
    with pytest.raises(DataValidationError, match="is a folder"):
        auditkit.audit_predictions(data=str(tmp_path), **KW)


def test_options_that_need_rows_or_a_binary_task_are_refused() -> None:
    df = make_log(0, n=100)
    with pytest.raises(ParameterError, match="custom_metrics.*reduce=False"):
        auditkit.audit_predictions(
            data=pl.from_pandas(df), custom_metrics={"m": lambda t, p: 0.0}, **KW
        )
    with pytest.raises(ParameterError, match="name of a count-table column"):
        auditkit.audit_predictions(
            data=pl.from_pandas(df.rename(columns={"band": "count"})),
            **{**KW, "sensitive_features": ["region", "count"]},
        )
    mc = df.assign(label=np.arange(len(df)) % 3)
    with pytest.raises(DataValidationError, match="1-d y_score .* 3 classes"):
        auditkit.audit_predictions(data=pl.from_pandas(mc), **KW)
    with pytest.raises(ParameterError, match="'reduce' parameter"):
        auditkit.audit_predictions(data=df, reduce="yes", **KW)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="must be a data frame"):
        auditkit.audit_predictions(data={"label": [1]}, **KW)


def test_duckdb_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = tmp_path / "log.parquet"
    make_log(0, n=50).to_parquet(p)
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(ParameterError, match=r"auditkit\[scale\]"):
        auditkit.audit_predictions(data=str(p), **KW)


# ---------------------------------------------------------------------------------- CLI
def cli_args(log: str, out: Path, *extra: str) -> list[str]:
    return [
        "audit", "--predictions", log, "--y-true", "label", "--y-pred", "decision",
        "--y-score", "score", "--sensitive", "region,band", "--out", str(out),
        "--n-boot", "20", *extra,
    ]  # fmt: skip


def test_cli_reads_a_glob_out_of_core(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = make_log(1)
    for i, idx in enumerate(np.array_split(np.arange(len(df)), 4)):
        df.iloc[idx].to_parquet(tmp_path / f"day-{i}.parquet")
    out = tmp_path / "out"
    argv = cli_args(str(tmp_path / "day-*.parquet"), out, "--memory-limit", "256MB", "--log-loss")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # the reduction shows its progress on stderr (the CLI turns progress on)
    assert "reducing day-*.parquet" in err and "100/100" in err
    data = json.loads((out / "audit.json").read_text())
    assert data["data"]["engine"] == "duckdb" and data["data"]["n_rows"] == len(df)
    assert [f["name"] for f in data["data"]["files"]] == [f"day-{i}.parquet" for i in range(4)]
    status = {s["name"]: s["status"] for s in data["sections"]}
    assert status["performance"] == status["fairness"] == "ok"
    assert status["stability"] == "skipped"
    ref = auditkit.audit_predictions(data=df, n_boot=20, **{**KW, "sections": None})
    got = {
        (m["section"], m["name"], tuple(m.get("feature") or ()), tuple(m.get("group") or ()),
         m.get("label"), m.get("method"), m.get("agg")): m["value"]
        for m in data["metrics"]
    }  # fmt: skip
    n_checked = 0
    for m in ref.metrics:
        if m.section not in SECTIONS or m.name.startswith(("mitigation_", "tradeoff_")):
            continue
        if m.section == "fairness" and m.name.startswith("roc_auc"):
            continue  # ROC AUC by group needs the rows' ranks: row audits only
        key = (m.section, m.name, tuple(m.feature or ()), tuple(m.group or ()), m.label, m.method,
               m.agg)  # fmt: skip
        assert_close(m.value, got[key], key, 1e-9)  # the JSON keeps 10 significant digits
        n_checked += 1
    assert n_checked > 100


def test_cli_in_memory_and_out_of_core_switches(tmp_path: Path) -> None:
    df = make_log(2, n=300)
    p = tmp_path / "log.csv"
    df.to_csv(p, index=False)
    assert main(cli_args(str(p), tmp_path / "a", "--no-progress")) == 0  # small: in memory
    a = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert "engine" not in a["data"] and a["data"]["file"] == "log.csv"
    assert main(cli_args(str(p), tmp_path / "b", "--no-progress", "--out-of-core")) == 0
    b = json.loads((tmp_path / "b" / "audit.json").read_text())
    assert b["data"]["engine"] == "duckdb" and b["data"]["file"] == "log.csv"
    assert b["data"]["file_sha256"] == a["data"]["file_sha256"]
    assert main(cli_args(str(p), tmp_path / "c", "--memory-limit", "1GB")) == 2
    # --log-loss changes nothing for a log read into memory (it always has its log loss)
    assert main(cli_args(str(p), tmp_path / "d", "--no-progress", "--log-loss")) == 0
    d = json.loads((tmp_path / "d" / "audit.json").read_text())
    assert d["metrics"] == a["metrics"]
