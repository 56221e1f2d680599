"""Reduction in DuckDB: Parquet and CSV files (and globs of them), and DuckDB relations.

Files are read by DuckDB out of core: the two group-bys of :mod:`._table` stream over the
rows, and only their results (a few thousand rows) come back. ``memory_limit`` is DuckDB's
memory budget (``SET memory_limit``); progress comes from ``query_progress()``.
"""

from __future__ import annotations

import glob as _glob
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._progress import progress_bar
from .._validation import check_columns
from ..exceptions import DataValidationError, ParameterError
from ._table import EPS, ONE_MINUS_EPS, CountTable, check_names, feature_alias, from_arrow

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


def _source_sql(paths: Sequence[str], fmt: str) -> str:
    files = "[" + ", ".join(_literal(p) for p in paths) + "]"
    if fmt == "parquet":
        return f"read_parquet({files})"
    return f"read_csv({files}, auto_detect = true, header = true)"


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


def queries(
    src: str, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int,
) -> tuple[str, str | None]:  # fmt: skip
    """Write the two group-bys of :mod:`._table` in DuckDB SQL over the table ``src``."""
    cols = [f"{_ident(f)} AS {feature_alias(i)}" for i, f in enumerate(features)]
    cols += [f"{_ident(y_true)} AS y_true", f"{_ident(y_pred)} AS y_pred"]
    keys = [feature_alias(i) for i in range(len(features))] + ["y_true", "y_pred"]
    if y_score is None:
        inner = f"SELECT {', '.join(cols)} FROM {src}"
        g = f"SELECT {', '.join(keys)}, COUNT(*) AS count FROM ({inner}) GROUP BY ALL"
        return g, None
    valid = "s >= 0 AND s <= 1"
    cols.append(f"CAST({_ident(y_score)} AS DOUBLE) AS s")
    inner = f"SELECT {', '.join(cols)} FROM {src}"
    binned = (
        f"SELECT *, CASE WHEN {valid} THEN LEAST(CAST(FLOOR(s * {int(n_bins)}) AS BIGINT), "
        f"{int(n_bins) - 1}) ELSE -1 END AS score_bin, CASE WHEN {valid} THEN "
        f"LEAST(CAST(FLOOR(s * {int(auc_bins)}) AS BIGINT), {int(auc_bins) - 1}) ELSE -1 END "
        f"AS fine_bin FROM ({inner})"
    )
    g = (
        f"SELECT {', '.join(keys)}, score_bin, COUNT(*) AS count, SUM(s) AS score_sum, "
        f"SUM(s * s) AS score_sq_sum FROM ({binned}) GROUP BY ALL"
    )
    lo, hi = _double(EPS), _double(ONE_MINUS_EPS)
    f = (
        "SELECT y_true, score_bin, fine_bin, COUNT(*) AS count, SUM(s) AS score_sum, "
        f"SUM(-LN(GREATEST(LEAST(s, {hi}), {lo}))) AS nll_pos, "
        f"SUM(-LN(GREATEST(LEAST(1 - s, {hi}), {lo}))) AS nll_neg, "
        "SUM((1 - s) * (1 - s)) AS sq_pos, SUM(s * s) AS sq_neg, "
        f"MIN(s) AS score_min, MAX(s) AS score_max FROM ({binned}) GROUP BY ALL"
    )
    return g, f


def _run(con: Any, sql: str, *, desc: str, show_progress: bool) -> Any:
    """Run ``sql`` to a pyarrow Table, with a percentage bar from ``query_progress()``."""
    if not show_progress or not hasattr(con, "query_progress"):
        return con.sql(sql).to_arrow_table()
    bar = progress_bar(enabled=True, desc=desc, total=100)
    done = threading.Event()

    def poll() -> None:
        shown = 0
        while not done.wait(0.2):
            try:
                pct = float(con.query_progress())
            except Exception:  # noqa: BLE001 - progress is best effort
                return
            if int(pct) > shown:
                bar.update(int(pct) - shown)
                shown = int(pct)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        done.set()
        watcher.join()
        bar.close()


def _columns(con: Any, src: str, where: str) -> list[str]:
    duckdb = require_duckdb()
    try:
        return [str(c) for c in con.sql(f"SELECT * FROM {src} LIMIT 0").columns]
    except duckdb.Error as exc:
        raise DataValidationError(f"Cannot read {where}: {_first_line(exc)}") from exc


def reduce_paths(
    data: Any, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, score_cells: bool = True, memory_limit: str | None = None,
    threads: int | None = None, show_progress: bool = False,
) -> CountTable:  # fmt: skip
    """Reduce Parquet/CSV files (paths, globs or a list of them) with DuckDB, out of core."""
    duckdb = require_duckdb()
    paths, fmt, desc = resolve_paths(data)
    con, tmp = connect(memory_limit, threads, progress=show_progress)
    try:
        src = _source_sql(paths, fmt)
        avail = _columns(con, src, desc)
        check_names(features, y_true, y_pred, y_score, avail, desc)
        g_sql, f_sql = queries(
            src, features=features, y_true=y_true, y_pred=y_pred, y_score=y_score,
            n_bins=n_bins, auc_bins=auc_bins,
        )  # fmt: skip
        try:
            g = _run(con, g_sql, desc=f"reducing {desc} (groups)", show_progress=show_progress)
            f = None
            if f_sql is not None and score_cells:
                f = _run(con, f_sql, desc=f"reducing {desc} (scores)", show_progress=show_progress)
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
        columns={"y_true": y_true, "y_pred": y_pred, "y_score": y_score}, n_bins=n_bins,
        auc_bins=auc_bins, engine="duckdb", source=desc,
    )  # fmt: skip


def reduce_relation(
    rel: Any, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, score_cells: bool = True,
) -> CountTable:  # fmt: skip
    """Reduce a DuckDB relation inside its own connection."""
    duckdb = require_duckdb()
    avail = [str(c) for c in rel.columns]
    check_names(features, y_true, y_pred, y_score, avail, "the DuckDB relation")
    name = "__auditkit_rows"
    g_sql, f_sql = queries(
        name, features=features, y_true=y_true, y_pred=y_pred, y_score=y_score, n_bins=n_bins,
        auc_bins=auc_bins,
    )  # fmt: skip
    try:
        g = rel.query(name, g_sql).to_arrow_table()
        f = None if f_sql is None or not score_cells else rel.query(name, f_sql).to_arrow_table()
    except duckdb.Error as exc:
        raise DataValidationError(f"DuckDB failed on the relation: {_first_line(exc)}") from exc
    return from_arrow(
        g, f, features=tuple(features),
        columns={"y_true": y_true, "y_pred": y_pred, "y_score": y_score}, n_bins=n_bins,
        auc_bins=auc_bins, engine="duckdb", source="DuckDB relation",
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
