"""The regression reduction through narwhals: pandas, Polars (eager and lazy) and PyArrow.

The first pass and the group-bys of :mod:`._regression`, written once in narwhals, run in the
frame's own engine. An in-memory frame gets the row path's own bootstrap blocks
(:func:`._regression.row_blocks`, or a hash of ``row_id``); a Polars LazyFrame gets Polars'
hash of the row index (or of ``row_id``) and runs each plan on the streaming engine, so a
``scan_parquet`` larger than memory works too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataValidationError, ParameterError
from ._regression import (
    HIST_KINDS,
    STATS,
    Binning,
    Plan,
    RegressionCountTable,
    Spec,
    check_distinct,
    finish,
    plan_from_stats,
    row_blocks,
)
from ._table import check_names, feature_alias

__all__ = ["reduce_frame"]

_BLOCK = "__auditkit_block"
_ROW = "__auditkit_row"
#: Seed of Polars' hash for the blocks of a LazyFrame (fixed: the table does not vary by run).
_POLARS_SEED = 20_260_101


def _engine_name(frame: Any) -> str:
    from ._narwhals import _engine_name as name

    return name(frame)


def _numeric(frame: Any, spec: Spec, where: str) -> None:
    """Refuse a target, prediction or weight column that does not hold numbers."""
    schema = frame.collect_schema()
    for what, col in (("y_true", spec.y_true), ("y_pred", spec.y_pred),
                      ("sample_weight", spec.sample_weight)):  # fmt: skip
        if col is None:
            continue
        dtype = schema[col]
        if not dtype.is_numeric():
            raise DataValidationError(
                f"{what} column {col!r} must hold numbers for a regression audit; it holds "
                f"{dtype} in {where}."
            )


def _with_blocks(data: Any, frame: Any, spec: Spec, *, lazy: bool, engine: str) -> tuple[Any, str]:
    """Return the frame with a block column, and how the blocks were made."""
    import narwhals as nw

    nb = spec.n_blocks
    if lazy and engine == "polars":
        import polars as pl

        if spec.row_id is not None:
            key = pl.col(spec.row_id)
            how = f"Polars hash({spec.row_id!r}) % {nb}"
        else:
            data = data.with_row_index(_ROW)
            key = pl.col(_ROW)
            how = f"Polars hash(row index) % {nb}"
        data = data.with_columns((key.hash(seed=_POLARS_SEED) % nb).cast(pl.Int64).alias(_BLOCK))
        return nw.from_native(data), how
    if lazy:  # another lazy engine: its rows are brought into memory (stated in the docs)
        frame = frame.collect()
    n = len(frame)
    if spec.row_id is not None:
        import pandas as pd

        values = frame.get_column(spec.row_id).to_numpy()
        hashed = pd.util.hash_array(np.asarray(values, dtype=object))
        blocks = (hashed % np.uint64(nb)).astype(np.int64)
        how = f"pandas hash_array({spec.row_id!r}) % {nb}"
    else:
        blocks = row_blocks(n, nb)
        how = "row path"
    col = nw.new_series(_BLOCK, blocks, nw.Int64, backend=frame.implementation)
    return frame.with_columns(col), how


def _stats_exprs(spec: Spec) -> list[Any]:
    import narwhals as nw

    y, p = nw.col("y"), nw.col("p")

    def bad(x: Any) -> Any:
        return (~x.is_finite()).fill_null(True).cast(nw.Int64).sum()

    out = {
        "n": nw.len(), "bad_y": bad(y), "bad_p": bad(p), "y_min": y.min(), "y_max": y.max(),
        "p_min": p.min(), "p_max": p.max(), "a_max": (p - y).abs().max(), "wy_sum": y.sum(),
    }  # fmt: skip
    if spec.weighted:
        w = nw.col("w")
        ok = (w.is_finite() & (w >= 0)).fill_null(False)
        out["bad_w"] = (~ok).cast(nw.Int64).sum()
        out["w_sum"] = w.sum()
        out["wy_sum"] = (w * y).sum()
    return [e.alias(k) for k, e in out.items()]


def _bin_expr(x: Any, b: Binning) -> tuple[Any, Any]:
    """Return the truncated bin and its correction (:class:`._regression.Binning`), as narwhals."""
    import narwhals as nw

    top = b.n - 1
    k0 = ((x - b.e0) * b.factor).clip(0.0, float(top)).floor().cast(nw.Int64)

    def fix(k: Any) -> Any:
        down = (k > 0) & (x < k.cast(nw.Float64) * b.step + b.e0)
        up = (k < top) & (x >= (k + 1).cast(nw.Float64) * b.step + b.e0)
        return k - nw.when(down).then(1).otherwise(0) + nw.when(up).then(1).otherwise(0)

    return k0, fix


def reduce_frame(data: Any, spec: Spec) -> RegressionCountTable:
    """Reduce a narwhals-supported frame with its own group-by."""
    import narwhals as nw

    try:
        frame = nw.from_native(data)
    except TypeError as exc:
        raise ParameterError(
            "The 'data' parameter of reduce_regression must be a data frame (pandas, Polars, "
            "PyArrow, DuckDB, Spark) or a path or glob of Parquet/CSV files. Got "
            f"{type(data).__name__!r} instead."
        ) from exc
    engine = _engine_name(frame)
    lazy = isinstance(frame, nw.LazyFrame)
    where = f"the {type(data).__name__}"
    avail = [str(c) for c in frame.collect_schema().names()]
    check_names(spec.features, spec.y_true, spec.y_pred, None, avail, where, spec.sample_weight)
    if spec.row_id is not None:
        check_names((), spec.row_id, spec.row_id, None, avail, where)
    _numeric(frame, spec, where)
    from ._narwhals import _distinct

    counts, exact = _distinct(data, frame, spec.features, lazy=lazy, engine=engine)
    check_distinct(counts, spec, exact=exact)
    frame, how = _with_blocks(data, frame, spec, lazy=lazy, engine=engine)
    lazy = isinstance(frame, nw.LazyFrame)
    sel = [nw.col(f).alias(feature_alias(i)) for i, f in enumerate(spec.features)]
    sel += [nw.col(spec.y_true).cast(nw.Float64).alias("y"),
            nw.col(spec.y_pred).cast(nw.Float64).alias("p")]  # fmt: skip
    if spec.sample_weight is not None:
        sel.append(nw.col(spec.sample_weight).cast(nw.Float64).alias("w"))
    sel.append(nw.col(_BLOCK).alias("block"))
    base = frame.select(*sel)
    (row,) = _collect([base.select(*_stats_exprs(spec))], lazy=lazy, engine=engine)[0].to_pylist()
    row.setdefault("bad_w", 0)
    row.setdefault("w_sum", None)
    plan = plan_from_stats({k: row[k] for k in STATS}, spec, where)
    plans = _group_plans(base, spec, plan)
    tables = _collect(plans, lazy=lazy, engine=engine)
    return finish(
        tables[0], tables[1:], plan, spec, engine=engine, source=type(data).__name__, blocks=how
    )


def _group_plans(base: Any, spec: Spec, plan: Plan) -> list[Any]:
    """Return the sums group-by and one histogram group-by per kind (every summand a column)."""
    import narwhals as nw

    y, p = nw.col("y"), nw.col("p")
    c = plan.y_shift
    terms = {
        "y_sum": y, "pred_sum": p, "residual_sum": p - y, "residual_sq_sum": (p - y) * (p - y),
        "abs_residual_sum": (p - y).abs(), "y_dev_sq_sum": (y - c) * (y - c),
    }  # fmt: skip
    if spec.weighted:
        w = nw.col("w")
        terms = {k: w * v for k, v in terms.items()}
    cols = [v.alias(f"_{k}") for k, v in terms.items()]
    e = p - y
    xs = (p, e.abs(), y)
    bins = []
    for j, (x, b) in enumerate(zip(xs, plan.bins, strict=True)):
        k0, fix = _bin_expr(x, b)
        bins.append((k0.alias(f"k{j}"), fix, x))
    rows = base.with_columns(*cols, *(k for k, _, _ in bins))
    rows = rows.with_columns(*(fix(nw.col(f"k{j}")).alias(f"bin{j}") for j, (_, fix, _) in
                               enumerate(bins)))  # fmt: skip
    if spec.weighted:
        rows = rows.with_columns((nw.col("w") * nw.col("w")).alias("_ww"))
    keys = [feature_alias(i) for i in range(len(spec.features))]
    aggs = [nw.len().alias("count")]
    if spec.weighted:
        aggs.append(nw.col("w").sum().alias("weight_sum"))
    aggs += [nw.col(f"_{k}").sum().alias(k) for k in terms]
    plans = [rows.group_by(*keys, "block", drop_null_keys=False).agg(*aggs)]
    h = [nw.len().alias("count")]
    if spec.weighted:
        h += [nw.col("w").sum().alias("weight_sum"), nw.col("_ww").sum().alias("weight_sq_sum")]
    h.append(nw.col("_residual_sum").sum().alias("residual_sum"))
    h.append(nw.col("_residual_sq_sum").sum().alias("residual_sq_sum"))
    for j, kind in enumerate(HIST_KINDS):
        hj = h if kind == "target" else h[:-1]  # residual_sq_sum: read for true-value bins only
        g = rows.group_by(*keys, f"bin{j}", drop_null_keys=False).agg(*hj)
        plans.append(g.rename({f"bin{j}": "bin"}))
    return plans


def _collect(plans: list[Any], *, lazy: bool, engine: str) -> list[Any]:
    """Each plan's result as a pyarrow table (a Polars LazyFrame on the streaming engine)."""
    out = []
    for plan in plans:
        if lazy and engine == "polars":
            native = plan.to_native()
            try:
                res = native.collect(engine="streaming")
            except TypeError:  # pragma: no cover - older Polars without engine=
                res = native.collect()
            out.append(res.to_arrow())
        elif lazy:  # pragma: no cover - other lazy engines were collected before
            out.append(plan.collect().to_arrow())
        else:
            out.append(plan.to_arrow())
    return out
