"""Reduction in DuckDB: Parquet and CSV files (and globs of them), and DuckDB relations.

Files are read by DuckDB out of core: the two group-bys of :mod:`._table` stream over the
rows, and only their results (a few thousand rows) come back. With DuckDB 2 both run in one
statement over one scan (:func:`combined_query`: a CTE that DuckDB streams into both
group-bys); older versions run them one after the other. ``memory_limit`` is DuckDB's memory
budget (``SET memory_limit``); the progress bar comes from ``query_progress()``.

Cost on 2 cores, per 1e8 rows (``benchmarks/bench_scale.py``, RESULTS.md "scale"): the count
table of the fairness engine is DuckDB's own GROUP BY; the ROC histogram in the same scan (a
hash table of ~33,000 cells: a count, the smallest and the largest score each) adds about
0.6 of it, and the exact log loss (``log_loss=True``: two logarithms per row, summed in the
count table) about 0.75 more. The expressions avoid ``LEAST``/``GREATEST``, which are
several times slower than ``CASE`` in DuckDB.
"""

from __future__ import annotations

import glob as _glob
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._core.io import check_regular_file
from .._core.progress import progress_bar
from .._core.validation import check_columns
from ..exceptions import DataValidationError, ParameterError
from ._table import (  # fmt: skip
    EPS,
    GROUP_SUMS,
    LOG_LOSS_SUMS,
    ONE_MINUS_EPS,
    SCORE_SUMS,
    SCORE_WEIGHT_SUMS,
    WEIGHT_LOG_LOSS_SUMS,
    WEIGHT_SUMS,
    CountTable,
    check_group_counts,
    check_names,
    feature_alias,
    from_arrow,
)

__all__ = ["reduce_paths", "reduce_relation", "read_rows", "resolve_paths"]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
_GLOB_CHARS = set("*?[")


def require_duckdb() -> Any:
    """Import duckdb, or say which extra installs it."""
    try:
        import duckdb
    except ImportError as exc:
        raise ParameterError(
            "Reading prediction logs from files needs DuckDB, which is not installed; install "
            "it with `pip install 'auditkit[scale]'` (or `pip install duckdb`)."
        ) from exc
    return duckdb


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _double(x: float) -> str:
    return f"CAST({_literal(repr(float(x)))} AS DOUBLE)"


def _format(name: str) -> str:
    low = name.lower()
    if low.endswith(_PARQUET):
        return "parquet"
    if low.endswith(_CSV):
        return "csv"
    raise DataValidationError(
        f"Cannot read {name!r}: the file name must end in .parquet, .pq, .csv or .csv.gz."
    )


def resolve_paths(data: Any) -> tuple[list[str], str, str]:
    """Return ``(paths or globs, format, description)`` of a path, a glob or a list of them.

    Raises
    ------
    DataValidationError
        A file that does not exist, a glob that matches nothing, a folder, an unknown suffix,
        or Parquet and CSV mixed.
    """
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    if not items:
        raise DataValidationError("The list of prediction files is empty.")
    paths: list[str] = []
    formats = set()
    n_files = 0
    for item in items:
        text = os.fspath(item)
        if not isinstance(text, str):
            raise ParameterError(f"A prediction file must be a path; got {item!r}.")
        if _GLOB_CHARS & set(text):
            matched = sorted(_glob.glob(text, recursive=True))
            if not matched:
                raise DataValidationError(f"No file matches {text!r}.")
            n_files += len(matched)
            for m in matched:
                check_regular_file(m, "Predictions file")  # no FIFO or device: it would hang
                formats.add(_format(m))
        else:
            p = Path(text)
            if not p.exists():
                raise DataValidationError(f"Predictions file {text!r} does not exist.")
            if p.is_dir():
                raise DataValidationError(
                    f"Predictions path {text!r} is a folder; give a file or a glob such as "
                    f"'{text.rstrip('/')}/*.parquet'."
                )
            check_regular_file(p, "Predictions file")
            n_files += 1
            formats.add(_format(p.name))
        paths.append(text)
    if len(formats) > 1:
        raise DataValidationError(
            "The prediction files mix Parquet and CSV; give files of one format."
        )
    names = [Path(p).name for p in paths]
    desc = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    if n_files > len(paths):
        desc += f" ({n_files} files)"
    return paths, formats.pop(), desc


def _source_sql(paths: Sequence[str], fmt: str, con: Any = None) -> str:
    """Return the table function that reads ``paths``.

    A single CSV file is sniffed once (``sniff_csv``) and read with the options found, so the
    audit's few statements do not each sniff it again (seconds on a file of long fields).
    """
    files = "[" + ", ".join(_literal(p) for p in paths) + "]"
    if fmt == "parquet":
        return f"read_parquet({files})"
    auto = f"read_csv({files}, auto_detect = true, header = true)"
    if con is None or len(paths) != 1:
        return auto
    try:
        sniffed = con.sql(f"SELECT Prompt FROM sniff_csv({_literal(paths[0])})").fetchall()
        prompt = str(sniffed[0][0])
        body = prompt.strip().rstrip(";").rstrip()
        opts = body[body.index("auto_detect=false") : body.rindex(")")]
    except Exception:  # noqa: BLE001 - the auto-detecting reader reports any real problem
        return auto
    return f"read_csv({files}, {opts})"


def connect(
    memory_limit: str | None = None, threads: int | None = None, *, progress: bool = False
) -> tuple[Any, Any]:
    """Open an in-memory DuckDB connection that spills to a private temporary folder."""
    duckdb = require_duckdb()
    tmp = tempfile.TemporaryDirectory(prefix="auditkit-duckdb-")
    config: dict[str, Any] = {"temp_directory": tmp.name, "preserve_insertion_order": False}
    if memory_limit is not None:
        config["memory_limit"] = str(memory_limit)
    if threads is not None:
        config["threads"] = int(threads)
    try:
        con = duckdb.connect(config=config)
    except duckdb.Error as exc:
        tmp.cleanup()
        raise ParameterError(
            f"DuckDB refused the settings memory_limit={memory_limit!r}, threads={threads!r}: "
            f"{_first_line(exc)}"
        ) from exc
    # with progress, DuckDB tracks it (for query_progress()) but never prints it itself
    con.execute(f"SET enable_progress_bar = {'true' if progress else 'false'}")
    con.execute("SET enable_progress_bar_print = false")
    return con, tmp


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _bin_sql(n: int) -> str:
    """``min(floor(s * n), n - 1)`` for a score in [0, 1], ``-1`` otherwise (also NaN, NULL).

    Written without ``LEAST``/``GREATEST`` (several times slower than ``CASE`` in DuckDB):
    ``floor(s * n)`` is at most ``n - 1`` for every double ``s < 1``, so only ``s = 1`` needs
    the clamp. A NaN fails ``s < 1`` and ``s = 1`` and gets ``-1``, like a missing score.
    """
    return (
        f"CASE WHEN s >= 0 AND s < 1 THEN CAST(FLOOR(s * {int(n)}) AS BIGINT) "
        f"WHEN s = 1 THEN {int(n) - 1} ELSE -1 END"
    )


def _nll_sql(p: str) -> str:
    """``-log(clip(p, eps, 1 - eps))`` (scikit-learn's clip), with ``CASE`` for the clip."""
    lo, hi = _double(EPS), _double(ONE_MINUS_EPS)
    return f"-LN(CASE WHEN {p} < {lo} THEN {lo} WHEN {p} > {hi} THEN {hi} ELSE {p} END)"


def _weight_sql(name: str) -> str:
    """Return the weight as a DOUBLE: NaN when missing, NaN, infinite or negative (refused)."""
    w = f"CAST({_ident(name)} AS DOUBLE)"
    return (
        f"CASE WHEN {w} >= 0 AND {w} < CAST('inf' AS DOUBLE) THEN {w} "
        "ELSE CAST('NaN' AS DOUBLE) END"
    )


def distinct_query(src: str, features: Sequence[str]) -> str:
    """Approximate distinct counts (HyperLogLog) of the sensitive columns, in one scan.

    It reads the sensitive columns alone (a Parquet file's other columns are not decoded) in
    constant memory, so a column of 10,000,000 distinct values is refused in about a second
    instead of a group-by that would build 10,000,000 cells.
    """
    cols = ", ".join(
        f"approx_count_distinct({_ident(f)}) AS {feature_alias(i)}" for i, f in enumerate(features)
    )
    return f"SELECT {cols} FROM {src}"


def check_distinct(table: Any, features: Sequence[str], max_groups: int) -> None:
    """Refuse a sensitive column over the ceiling, from :func:`distinct_query`'s result."""
    row = table.to_pylist()[0]
    counts = {f: int(row[feature_alias(i)] or 0) for i, f in enumerate(features)}
    check_group_counts(counts, max_groups, exact=False)


def queries(
    src: str, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, log_loss: bool = False, sample_weight: str | None = None,
) -> tuple[str, str | None]:  # fmt: skip
    """Write the two group-bys of :mod:`._table` in DuckDB SQL over the table ``src``.

    Each reads ``src`` by itself; :func:`combined_query` runs both over one scan.
    """
    rows, g, f = _parts(
        src, features=features, y_true=y_true, y_pred=y_pred, y_score=y_score, n_bins=n_bins,
        auc_bins=auc_bins, log_loss=log_loss, sample_weight=sample_weight,
    )  # fmt: skip
    g_sql = f"SELECT {g} FROM ({rows}) GROUP BY ALL"
    return g_sql, (None if f is None else f"SELECT {f} FROM ({rows}) GROUP BY ALL")


def _parts(
    src: str, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, log_loss: bool = False, sample_weight: str | None = None,
) -> tuple[str, str, str | None]:  # fmt: skip
    """Return the row projection and the select lists of the two group-bys over it."""
    cols = [f"{_ident(f)} AS {feature_alias(i)}" for i, f in enumerate(features)]
    cols += [f"{_ident(y_true)} AS y_true", f"{_ident(y_pred)} AS y_pred"]
    keys = [feature_alias(i) for i in range(len(features))] + ["y_true", "y_pred"]
    w_sums = ""
    if sample_weight is not None:
        cols.append(f"{_weight_sql(sample_weight)} AS w")
        w_sums = ", SUM(w) AS weight_sum, SUM(w * w) AS weight_sq_sum"
    if y_score is None:
        rows = f"SELECT {', '.join(cols)} FROM {src}"
        return rows, f"{', '.join(keys)}, COUNT(*) AS count{w_sums}", None
    if sample_weight is not None:
        w_sums += ", SUM(w * s) AS weight_score_sum, SUM(w * s * s) AS weight_score_sq_sum"
    score = f"CAST({_ident(y_score)} AS DOUBLE)"
    inner = f"SELECT {', '.join(cols)}, {score} AS s FROM {src}"
    extra = [f"{_bin_sql(n_bins)} AS score_bin", f"{_bin_sql(auc_bins)} AS fine_bin"]
    g = (
        f"{', '.join(keys)}, score_bin, COUNT(*) AS count, SUM(s) AS score_sum, "
        f"SUM(s * s) AS score_sq_sum{w_sums}"
    )
    if log_loss:
        extra += [f"{_nll_sql('s')} AS l_pos", f"{_nll_sql('(1 - s)')} AS l_neg"]
        g += (
            ", SUM(l_pos) AS nll_pos, SUM(l_neg) AS nll_neg, SUM(l_pos * l_pos) AS nll_pos_sq, "
            "SUM(l_neg * l_neg) AS nll_neg_sq"
        )
        if sample_weight is not None:
            g += (
                ", SUM(w * l_pos) AS weight_nll_pos, SUM(w * l_neg) AS weight_nll_neg, "
                "SUM(w * l_pos * l_pos) AS weight_nll_pos_sq, "
                "SUM(w * l_neg * l_neg) AS weight_nll_neg_sq"
            )
    rows = f"SELECT *, {', '.join(extra)} FROM ({inner})"
    f = "y_true, fine_bin, COUNT(*) AS count, MIN(s) AS score_min, MAX(s) AS score_max"
    if sample_weight is not None:
        f += ", SUM(w) AS weight_sum, SUM(w * w) AS weight_sq_sum"
    return rows, g, f


def combined_query(
    src: str, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str,
    n_bins: int, auc_bins: int, log_loss: bool = False, sample_weight: str | None = None,
) -> str:  # fmt: skip
    """Both group-bys over ONE scan of ``src``, stacked with a ``part`` column (0, 1).

    The rows are a CTE read by both group-bys; DuckDB 2 streams each chunk of the scan into
    both (a streaming fan-out: nothing is stored), so the file is read and decoded once.
    """
    rows, g, f = _parts(
        src, features=features, y_true=y_true, y_pred=y_pred, y_score=y_score, n_bins=n_bins,
        auc_bins=auc_bins, log_loss=log_loss, sample_weight=sample_weight,
    )  # fmt: skip
    cte = "__auditkit_rows"
    return (
        f"WITH {cte} AS ({rows}) (SELECT 0 AS part, {g} FROM {cte} GROUP BY ALL) "
        f"UNION ALL BY NAME (SELECT 1 AS part, {f} FROM {cte} GROUP BY ALL)"
    )


def fans_out() -> bool:
    """Whether this DuckDB streams a CTE read twice into both readers (DuckDB >= 2).

    Older versions may materialize such a CTE, which would hold every row; they get two
    group-bys that each read the data instead.
    """
    duckdb = require_duckdb()
    try:
        return int(str(duckdb.__version__).split(".")[0]) >= 2
    except ValueError:  # pragma: no cover - unusual version string
        return False


_G_SUMS = ("y_true", "y_pred", "score_bin", "count", *GROUP_SUMS)
_F_COLS = ("y_true", "fine_bin", "count", *SCORE_SUMS)


def split_parts(table: Any, n_features: int) -> tuple[Any, Any]:
    """Split the stacked result of :func:`combined_query` into the two tables."""
    import pyarrow.compute as pc

    part = table.column("part")
    g_cols = [feature_alias(i) for i in range(n_features)] + list(_G_SUMS)
    if "nll_pos" in table.column_names:
        g_cols += list(LOG_LOSS_SUMS)
    g_cols += [c for c in WEIGHT_SUMS + WEIGHT_LOG_LOSS_SUMS if c in table.column_names]
    f_cols = list(_F_COLS) + [c for c in SCORE_WEIGHT_SUMS if c in table.column_names]
    g = table.filter(pc.equal(part, 0)).select(g_cols)
    f = table.filter(pc.equal(part, 1)).select(f_cols)
    return g, f


#: DuckDB's ``query_progress()`` averages over the query's pipelines, and only the scan's
#: pipeline takes time here: it ends near 100 / (pipelines) percent (measured with DuckDB 2.0:
#: a group-by has 2 pipelines, the fan-out statement 5). The bar divides by this share.
_SCAN_SHARE = {"single": 0.5, "fanout": 0.2}


def _run(
    con: Any, sql: str, *, desc: str, show_progress: bool, share: float = _SCAN_SHARE["single"]
) -> Any:
    """Run ``sql`` to a pyarrow Table, with a percentage bar from ``query_progress()``.

    The bar shows the share of the scan done (DuckDB's percentage divided by ``share``, kept
    below 100 until the query ends, then 100), polled every 0.2 s from a second thread.
    """
    if not show_progress or not hasattr(con, "query_progress"):
        return con.sql(sql).to_arrow_table()
    bar = progress_bar(enabled=True, desc=desc, total=100)
    done = threading.Event()
    shown = 0

    def poll() -> None:
        nonlocal shown
        while not done.wait(0.2):
            try:
                pct = float(con.query_progress())
            except Exception:  # noqa: BLE001 - progress is best effort
                return
            now = min(99, int(pct / share)) if pct > 0 else 0
            if now > shown:
                bar.update(now - shown)
                shown = now

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    ok = False
    try:
        out = con.sql(sql).to_arrow_table()
        ok = True
        return out
    finally:
        done.set()
        watcher.join()
        if ok:
            bar.update(100 - shown)
            bar.refresh()  # tqdm skips drawing updates closer than 0.1 s to the last one
        bar.close()


def _reduce(
    run: Callable[[str, str], Any], src: str, *, features: Sequence[str], y_true: str,
    y_pred: str, y_score: str | None, n_bins: int, auc_bins: int, score_cells: bool,
    log_loss: bool = False, sample_weight: str | None = None,
) -> tuple[Any, Any]:  # fmt: skip
    """Run the reduction through ``run(sql, kind)`` (to a pyarrow Table), in one scan if it can.

    ``kind`` is ``"fanout"`` for the statement that feeds both group-bys from one scan, and
    ``"single"`` for one group-by.
    """
    kw: dict[str, Any] = {
        "features": features, "y_true": y_true, "y_pred": y_pred, "n_bins": n_bins,
        "auc_bins": auc_bins, "log_loss": log_loss and y_score is not None,
        "sample_weight": sample_weight,
    }  # fmt: skip
    if y_score is not None and score_cells and fans_out():
        table = run(combined_query(src, y_score=y_score, **kw), "fanout")
        return split_parts(table, len(features))
    g_sql, f_sql = queries(src, y_score=y_score, **kw)
    g = run(g_sql, "single")
    return g, (run(f_sql, "single") if f_sql is not None and score_cells else None)


def _columns(con: Any, src: str, where: str) -> list[str]:
    duckdb = require_duckdb()
    try:
        return [str(c) for c in con.sql(f"SELECT * FROM {src} LIMIT 0").columns]
    except duckdb.Error as exc:
        raise DataValidationError(f"Cannot read {where}: {_first_line(exc)}") from exc


def reduce_paths(
    data: Any, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, score_cells: bool = True, log_loss: bool = False,
    memory_limit: str | None = None, threads: int | None = None, show_progress: bool = False,
    sample_weight: str | None = None, max_groups: int | None = None,
) -> CountTable:  # fmt: skip
    """Reduce Parquet/CSV files (paths, globs or a list of them) with DuckDB, out of core."""
    duckdb = require_duckdb()
    paths, fmt, desc = resolve_paths(data)
    con, tmp = connect(memory_limit, threads, progress=show_progress)
    try:
        src = _source_sql(paths, fmt, con)
        avail = _columns(con, src, desc)
        check_names(features, y_true, y_pred, y_score, avail, desc, sample_weight)
        try:
            if max_groups is not None:  # a cheap first scan of the sensitive columns alone
                check_distinct(
                    con.sql(distinct_query(src, features)).to_arrow_table(), features, max_groups
                )
            g, f = _reduce(
                lambda sql, kind: _run(
                    con, sql, desc=f"reducing {desc}", show_progress=show_progress,
                    share=_SCAN_SHARE[kind],
                ),
                src, features=features, y_true=y_true, y_pred=y_pred, y_score=y_score,
                n_bins=n_bins, auc_bins=auc_bins, score_cells=score_cells, log_loss=log_loss,
                sample_weight=sample_weight,
            )  # fmt: skip
        except duckdb.OutOfMemoryException as exc:
            raise DataValidationError(
                f"DuckDB ran out of memory reducing {desc} (memory_limit={memory_limit!r}): "
                f"{_first_line(exc)}"
            ) from exc
        except duckdb.Error as exc:
            raise DataValidationError(f"Cannot read {desc}: {_first_line(exc)}") from exc
    finally:
        con.close()
        tmp.cleanup()
    return from_arrow(
        g, f, features=tuple(features),
        columns={"y_true": y_true, "y_pred": y_pred, "y_score": y_score,
                 "sample_weight": sample_weight},
        n_bins=n_bins, auc_bins=auc_bins, engine="duckdb", source=desc,
    )  # fmt: skip


def reduce_relation(
    rel: Any, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, score_cells: bool = True, log_loss: bool = False,
    sample_weight: str | None = None, max_groups: int | None = None,
) -> CountTable:  # fmt: skip
    """Reduce a DuckDB relation inside its own connection."""
    duckdb = require_duckdb()
    avail = [str(c) for c in rel.columns]
    check_names(features, y_true, y_pred, y_score, avail, "the DuckDB relation", sample_weight)
    name = "__auditkit_relation"
    try:
        if max_groups is not None:
            check_distinct(
                rel.query(name, distinct_query(name, features)).to_arrow_table(), features,
                max_groups,
            )  # fmt: skip
        g, f = _reduce(
            lambda sql, kind: rel.query(name, sql).to_arrow_table(), name, features=features,
            y_true=y_true, y_pred=y_pred, y_score=y_score, n_bins=n_bins, auc_bins=auc_bins,
            score_cells=score_cells, log_loss=log_loss, sample_weight=sample_weight,
        )  # fmt: skip
    except duckdb.Error as exc:
        raise DataValidationError(f"DuckDB failed on the relation: {_first_line(exc)}") from exc
    return from_arrow(
        g, f, features=tuple(features),
        columns={"y_true": y_true, "y_pred": y_pred, "y_score": y_score,
                 "sample_weight": sample_weight},
        n_bins=n_bins, auc_bins=auc_bins, engine="duckdb", source="DuckDB relation",
    )  # fmt: skip


def read_rows(data: Any, columns: Sequence[str]) -> tuple[Any, str]:
    """Read the named columns of files (paths or globs) into pandas with DuckDB."""
    duckdb = require_duckdb()
    paths, fmt, desc = resolve_paths(data)
    con, tmp = connect()
    try:
        src = _source_sql(paths, fmt)
        avail = _columns(con, src, desc)
        check_columns(list(columns), avail, where=desc)
        sql = f"SELECT {', '.join(_ident(c) for c in dict.fromkeys(columns))} FROM {src}"
        try:
            return con.sql(sql).df(), desc
        except duckdb.Error as exc:
            raise DataValidationError(f"Cannot read {desc}: {_first_line(exc)}") from exc
    finally:
        con.close()
        tmp.cleanup()
