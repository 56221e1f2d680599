"""Audit a 1e8-row Parquet prediction log out of core, against DuckDB's own GROUP BY.

The log (decisions, labels, scores and two sensitive columns: region with 5 levels, one of
them 0.5% of the rows, and sex with 3) is generated once by DuckDB's ``range()`` into
``benchmarks/_data/`` (gitignored), with a 1e7-row prefix for the in-memory comparisons.
Every case runs in its own process, which imports its modules, then reports the wall time of
the work and its peak resident memory (``ru_maxrss``; for Spark also the JVM's ``VmHWM``):

* ``duckdb group by`` (the baseline): the count table of the fairness engine written by hand
  in plain DuckDB SQL (groups x labels x decisions x 10 score bins: count, sum and sum of
  squares of the score), fetched as Arrow: DuckDB's own GROUP BY. The score bin is a ``CASE``
  around ``floor(score * 10)``, the fastest form found (``LEAST(...)``, which the first version
  of this script used, is slower and made the baseline easier to beat).
* ``duckdb count``: the bare ``GROUP BY region, sex, label, decision`` with ``COUNT(*)``, the
  least work any group-by of these columns can do (a stricter yardstick, reported beside).
* ``duckdb same stats``: the one statement auditkit sends by default (both group-bys over one
  scan: the count table above, plus the 16,384-bin ROC histogram of the performance section
  with each bin's extremes), run by hand.
* ``duckdb same stats + log loss``: the statement with ``log_loss=True`` (two logarithms per
  row and their squares, summed in the count table), run by hand.
* ``auditkit``: ``audit_predictions(data=path, ...)`` end to end with its defaults
  (performance and fairness with 1000 bootstrap resamples each; the other sections skipped;
  the log loss of a reduced log is on request), plus ``to_json``.
* ``auditkit + log loss``: the same with ``options={"log_loss": True}``.
* at 1e7 rows: the same audit from the Parquet file, from a Polars LazyFrame, from pandas row
  by row (``pd.read_parquet`` then the row path, n_boot=100 and no mitigation what-if for both
  sides of that comparison, since row resampling at 1e7 rows costs 1e7 x n_boot), and from
  Spark in local mode (``local[2]``, reading the same Parquet file).

Targets: peak memory of the 1e8 audit below 2 GB, its time at most 2x DuckDB's GROUP BY.

Usage::

    python benchmarks/bench_scale.py                     # full run, writes RESULTS.md
    python benchmarks/bench_scale.py --rows 1e6 --no-write --no-spark   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

DATA = Path(__file__).resolve().parent / "_data"
KW: dict[str, Any] = {
    "y_true": "label", "y_pred": "decision", "y_score": "score",
    "sensitive_features": ["region", "sex"],
}  # fmt: skip
REF_SQL = (
    "SELECT region, sex, label, decision, CASE WHEN score >= 0 AND score < 1 THEN "
    "CAST(FLOOR(score * 10) AS INTEGER) WHEN score = 1 THEN 9 ELSE -1 END AS score_bin, "
    "COUNT(*) AS count, SUM(score) AS score_sum, SUM(score * score) AS score_sq_sum "
    "FROM read_parquet('{path}') GROUP BY ALL"
)
COUNT_SQL = (
    "SELECT region, sex, label, decision, COUNT(*) AS count FROM read_parquet('{path}') "
    "GROUP BY ALL"
)


# ----------------------------------------------------------------------------- the data
def generate(path: Path, n: int) -> float:
    """Write ``n`` rows with DuckDB's range(); deterministic (hashes of the row number)."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    u = "(hash(i * 8 + {k}) % 4503599627370496)::DOUBLE / 4503599627370496"
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"""
    COPY (
      WITH r AS (SELECT i, {u.format(k=1)} AS u1, {u.format(k=2)} AS u2, {u.format(k=3)} AS u3,
                        {u.format(k=4)} AS u4 FROM range({n}) t(i)),
      g AS (SELECT *,
          CASE WHEN u1 < 0.45 THEN 'a' WHEN u1 < 0.8 THEN 'b' WHEN u1 < 0.95 THEN 'c'
               WHEN u1 < 0.995 THEN 'd' ELSE 'e' END AS region,
          CASE WHEN u2 < 0.5 THEN 'female' WHEN u2 < 0.98 THEN 'male' ELSE 'other' END AS sex
        FROM r),
      y AS (SELECT *, (u3 < 0.3 + 0.1 * (region = 'b')::INT)::INT AS label FROM g),
      s AS (SELECT *, 1 / (1 + exp(-(2.2 * (2 * label - 1)
                + 1.5 * ln(u4 / (1 - u4 + 1e-12) + 1e-12) / 1.7
                - 0.3 * (sex = 'female')::INT))) AS score FROM y)
      SELECT region, sex, label, (score >= 0.5)::INT AS decision, score FROM s ORDER BY i
    ) TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """)
    con.close()
    os.replace(tmp, path)
    return time.perf_counter() - t0


def data_file(n: int) -> Path:
    return DATA / f"log_{n:.0e}.parquet".replace("+", "")


# ------------------------------------------------------------------- one case, one process
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _children_hwm_mb() -> float:
    """Largest VmHWM of this process's child processes (the Spark JVM)."""
    me, best = os.getpid(), 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            for line in (d / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) / 1024.0)
        except (OSError, ValueError, IndexError):
            continue
    return best


def run_case(case: str, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if case in ("duckdb_groupby", "duckdb_count"):
        import duckdb

        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        sql = (REF_SQL if case == "duckdb_groupby" else COUNT_SQL).format(path=path)
        t0 = time.perf_counter()
        tab = con.sql(sql).to_arrow_table()
        out["seconds"] = time.perf_counter() - t0
        out["result_rows"] = tab.num_rows
    elif case in ("duckdb_same_stats", "duckdb_same_stats_ll"):
        from auditkit.scale import _duckdb

        con, tmp = _duckdb.connect()
        sql = _duckdb.combined_query(
            f"read_parquet('{path}')", features=["region", "sex"], y_true="label",
            y_pred="decision", y_score="score", n_bins=10, auc_bins=16384,
            log_loss=case == "duckdb_same_stats_ll",
        )  # fmt: skip
        t0 = time.perf_counter()
        tab = con.sql(sql).to_arrow_table()
        out["seconds"] = time.perf_counter() - t0
        out["result_rows"] = tab.num_rows
        con.close()
        tmp.cleanup()
    elif case in (
        "auditkit", "auditkit_log_loss", "auditkit_fairness", "auditkit_nb100", "polars_lazy"
    ):  # fmt: skip
        # modules are imported before the clock starts, as duckdb is for the baseline: a
        # process pays them once, whatever the number of audits
        import duckdb  # noqa: F401
        import jsonschema  # noqa: F401  (to_json validates against the schema)
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401

        import auditkit

        kw: dict[str, Any] = dict(KW)
        if case == "auditkit_nb100":
            kw.update(n_boot=100, options={"mitigation": False})
        if case == "auditkit_fairness":
            kw.update(sections=["fairness"])
        if case in ("auditkit_log_loss", "polars_lazy"):
            kw.update(options={"log_loss": True})
        data: Any = path
        if case == "polars_lazy":
            import polars as pl

            data = pl.scan_parquet(path)
        t0 = time.perf_counter()
        res = auditkit.audit_predictions(data=data, **kw)
        text = auditkit.to_json(res)
        out["seconds"] = time.perf_counter() - t0
        out.update(_summary(res, text))
    elif case == "pandas_rows":
        import pandas as pd

        import auditkit

        t0 = time.perf_counter()
        df = pd.read_parquet(path)
        res = auditkit.audit_predictions(
            data=df, sections=["performance", "fairness"], n_boot=100,
            options={"mitigation": False}, **KW,
        )  # fmt: skip
        text = auditkit.to_json(res)
        out["seconds"] = time.perf_counter() - t0
        out.update(_summary(res, text))
    elif case == "spark":
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        import auditkit

        t0 = time.perf_counter()
        spark = (
            SparkSession.builder.master("local[2]").appName("bench-scale")
            .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
            .config("spark.driver.memory", "2g").config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )  # fmt: skip
        spark.sparkContext.setLogLevel("ERROR")
        out["session_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = auditkit.audit_predictions(
            data=spark.read.parquet(path), options={"log_loss": True}, **KW
        )
        text = auditkit.to_json(res)
        out["seconds"] = time.perf_counter() - t0
        out.update(_summary(res, text))
        out["jvm_peak_mb"] = _children_hwm_mb()
        spark.stop()
    else:
        raise SystemExit(f"unknown case {case!r}")
    out["peak_mb"] = _peak_mb()
    return out


def _summary(res: Any, text: str) -> dict[str, Any]:
    sec = res.section("performance")
    perf = {m.name: m.value for m in (sec.metrics if sec else ()) if m.label is None}
    fair = res.section("fairness")
    dpr = next(
        m.value for m in fair.metrics
        if m.name == "demographic_parity_ratio" and m.feature == ("region", "sex")
        and m.method == "between_groups"
    )  # fmt: skip
    return {
        "n_rows": res.data["n_rows"],
        "accuracy": perf.get("accuracy"),
        "roc_auc": perf.get("roc_auc"),
        "log_loss": perf.get("log_loss"),
        "dpr_intersection": dpr,
        "auc_bound": sec.info.get("roc_auc_max_error") if sec else None,
        "json_bytes": len(text),
    }


def in_subprocess(case: str, path: Path, timeout: float = 3000) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--case", case, "--path", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f}"


# -------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case")
    ap.add_argument("--path")
    ap.add_argument("--rows", type=float, default=1e8)
    ap.add_argument("--small", type=float, default=1e7, help="rows of the in-memory comparisons")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per case (best kept)")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--no-pandas", action="store_true", help="skip the row-by-row pandas case")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.path)))
        return
    big, small = int(args.rows), int(args.small)
    gen: dict[int, float] = {}
    for n in sorted({big, small}):
        if not data_file(n).exists():
            print(f"generating {n:.0e} rows ...", flush=True)
            gen[n] = generate(data_file(n), n)
    loads = [load()]
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}

    def once(case: str, n: int) -> None:
        r = in_subprocess(case, data_file(n))
        runs.setdefault((case, n), []).append(r)
        print(f"  {case} {n:.0e}: {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB", flush=True)

    big_cases = (
        "duckdb_groupby", "duckdb_count", "duckdb_same_stats", "duckdb_same_stats_ll",
        "auditkit", "auditkit_log_loss", "auditkit_fairness",
    )  # fmt: skip
    for _ in range(args.repeat):  # interleaved, so that the load of others hits them alike
        for case in big_cases:
            once(case, big)
    loads.append(load())
    small_cases = [
        "duckdb_groupby", "duckdb_count", "auditkit", "auditkit_log_loss", "auditkit_fairness"
    ]
    small_cases += ["polars_lazy", "auditkit_nb100"] + ([] if args.no_pandas else ["pandas_rows"])
    for case in small_cases:
        once(case, small)
    if not args.no_spark:
        once("spark", small)
    loads.append(load())
    results = {
        key: {
            **min(rs, key=lambda r: r["seconds"]),
            "all_seconds": [r["seconds"] for r in rs],
            "peak_mb": max(r["peak_mb"] for r in rs),
        }
        for key, rs in runs.items()
    }
    text = report(results, big, small, gen, loads)
    print(text)
    if not args.no_write:
        from _results import write_section

        write_section("scale", text)


def report(
    results: dict[tuple[str, int], dict[str, Any]], big: int, small: int,
    gen: dict[int, float], loads: list[str],
) -> str:  # fmt: skip
    from _results import machine

    size = data_file(big).stat().st_size / 2**20
    lines = [
        f"## scale: a {big:.0e}-row Parquet log out of core",
        "",
        f"Machine: {machine()}. Load average (1/5/15 min) at the start, after the {big:.0e} "
        f"cases and at the end: {', '.join(loads)} (other jobs shared the 2 cores).",
        f"Log: {big:,} rows, {size:,.0f} MiB of Parquet (`benchmarks/_data/`, generated by DuckDB"
        + (f" in {gen[big]:.0f} s" if big in gen else "")
        + "); each case in its own process; times are the best of the runs listed.",
        "",
        "| case | rows | seconds (runs) | peak RSS MB | notes |",
        "| --- | ---: | ---: | ---: | --- |",
    ]

    def row(case: str, n: int, label: str, note: str = "") -> None:
        r = results.get((case, n))
        if r is None:
            return
        runs = ", ".join(f"{s:.2f}" for s in r["all_seconds"])
        peak = f"{r['peak_mb']:,.0f}"
        if "jvm_peak_mb" in r:
            peak += f" (+ JVM {r['jvm_peak_mb']:,.0f})"
            note = (note + "; " if note else "") + f"session start {r['session_seconds']:.1f} s"
        lines.append(f"| {label} | {n:,} | {r['seconds']:.2f} ({runs}) | {peak} | {note} |")

    for case, n, label, note in (
        ("duckdb_groupby", big, "DuckDB's own GROUP BY (count table)", "**the baseline**"),
        ("duckdb_count", big, "DuckDB, bare `COUNT(*)` by groups x label x decision",
         "the least work of any group-by"),
        ("duckdb_same_stats", big, "DuckDB, auditkit's statement by hand",
         "count table + ROC histogram, one scan"),
        ("duckdb_same_stats_ll", big, "the same with the log-loss sums",
         "`log_loss=True`: + two logarithms per row"),
        ("auditkit", big, "auditkit `audit_predictions(data=path)`",
         "**defaults**: n_boot=1000, performance + fairness"),
        ("auditkit_log_loss", big, 'auditkit, `options={"log_loss": True}`',
         "n_boot=1000, performance (with log loss) + fairness"),
        ("auditkit_fairness", big, 'auditkit, `sections=["fairness"]`',
         "n_boot=1000; one group-by"),
        ("duckdb_groupby", small, "DuckDB's own GROUP BY (count table)", "the baseline"),
        ("duckdb_count", small, "DuckDB, bare `COUNT(*)`", ""),
        ("auditkit", small, "auditkit from Parquet (DuckDB)", "n_boot=1000"),
        ("auditkit_log_loss", small, "auditkit from Parquet, with log loss", "n_boot=1000"),
        ("auditkit_fairness", small, 'auditkit, `sections=["fairness"]`', "n_boot=1000"),
        ("polars_lazy", small, "auditkit from `pl.scan_parquet` (Polars streaming)",
         "n_boot=1000, with log loss"),
        ("spark", small, "auditkit from Spark `local[2]` (`spark.read.parquet`)",
         "n_boot=1000, with log loss"),
        ("auditkit_nb100", small, "auditkit from Parquet (DuckDB)", "n_boot=100, no mitigation"),
        ("pandas_rows", small, "pandas row by row (`read_parquet` + row path)",
         "n_boot=100, no mitigation"),
    ):  # fmt: skip
        row(case, n, label, note)

    def sec(case: str, n: int) -> float:
        return float(results[(case, n)]["seconds"])

    ref, cnt = sec("duckdb_groupby", big), sec("duckdb_count", big)
    full, fair = sec("auditkit", big), sec("auditkit_fairness", big)
    full_ll = sec("auditkit_log_loss", big)
    same, same_ll = sec("duckdb_same_stats", big), sec("duckdb_same_stats_ll", big)
    aud = results[("auditkit", big)]
    verdict = "met" if full / ref <= 2 else "NOT met"
    lines += [
        "",
        "The baseline is `" + REF_SQL.format(path="log.parquet") + "`: the count table the "
        "fairness audit needs, written by hand in DuckDB in its fastest form.",
        "",
        f"* **Peak memory of the 1e8 audit: {aud['peak_mb']:,.0f} MB** (target < 2,048 MB: "
        f"{'met' if aud['peak_mb'] < 2048 else 'NOT met'}; with log loss "
        f"{results[('auditkit_log_loss', big)]['peak_mb']:,.0f} MB).",
        f"* **Full audit (performance + fairness), defaults: {full / ref:.2f}x the baseline** "
        f"(target <= 2x: {verdict}; {full / cnt:.2f}x the bare count). Where the time goes, "
        f"as fractions of the baseline: the ROC histogram in the same scan "
        f"+{(same - ref) / ref:.2f}, auditkit's own work (label encoding, metrics, 2 x 1000 "
        f"bootstrap resamples, JSON) +{(full - same) / ref:.2f}.",
        f'* **With the exact log loss** (`options={{"log_loss": True}}`, `--log-loss`): '
        f"{full_ll / ref:.2f}x the baseline; the two logarithms per row cost "
        f"+{(same_ll - same) / ref:.2f}. This is why a reduced log sums log losses only on "
        "request (rows always have it); the card says so where the value would be.",
        f"* **Fairness audit: {fair / ref:.2f}x the baseline** ({fair / cnt:.2f}x the bare "
        "count).",
    ]
    if small_ref := results.get(("duckdb_groupby", small)):
        s_full = sec("auditkit", small) / float(small_ref["seconds"])
        s_fair = sec("auditkit_fairness", small) / float(small_ref["seconds"])
        lines.append(
            f"* At {small:.0e} rows: full audit {s_full:.2f}x, fairness audit {s_fair:.2f}x "
            f"the baseline (auditkit's own work, {full - same:.2f} s at {big:.0e} rows, does "
            "not shrink with the log and weighs more there)."
        )
    lines.append(
        "* Measured and dropped (2026-11-24 sessions), slower: `GROUPING SETS` (DuckDB computes "
        "every aggregate for both sets), one group-by with the fine score bin as an extra key "
        "(hundreds of thousands of cells; at 1,024 bins it is cheaper but the AUC bound grows "
        "16x, and aggregates in that larger table cost more), Polars' streaming group-by, "
        "score bins uniform in the logit (the AUC bound grows: mixed classes sit mid-range), "
        "one logarithm per row chosen by the label (the `CASE` costs about what the second "
        "logarithm does), `FILTER` clauses (slower still)."
    )
    lines.append(
        f"* Same numbers from every engine at {small:.0e}: accuracy, ROC AUC, log loss and "
        "the intersectional demographic-parity ratio below."
    )
    lines += [
        "",
        f"| engine ({small:.0e} rows) | accuracy | ROC AUC | AUC max error | log loss | DPR |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case, label in (
        ("auditkit_log_loss", "DuckDB (Parquet)"), ("polars_lazy", "Polars lazy"),
        ("spark", "Spark"),
        ("pandas_rows", "pandas rows (exact AUC)"),
    ):  # fmt: skip
        r = results.get((case, small))
        if r is None:
            continue
        lines.append(
            f"| {label} | {r['accuracy']:.12f} | {r['roc_auc']:.12f} | "
            f"{(r['auc_bound'] or 0):.1e} | {r['log_loss']:.12f} | {r['dpr_intersection']:.12f} |"
        )
    big_r = results[("auditkit_log_loss", big)]
    lines += [
        "",
        f"At 1e8: accuracy {big_r['accuracy']:.12f}, ROC AUC {big_r['roc_auc']:.12f} (at most "
        f"{big_r['auc_bound']:.1e} from the exact value), log loss {big_r['log_loss']:.12f}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
